//! Arguments of the transfer commands: words with quotes, local paths, transfer ids.

use std::path::PathBuf;

use rats::rats_transfer::TransferInfo;

/// Splits at whitespace; `"double"` or `'single'` quotes keep spaces inside one argument.
pub fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("missing closing {q}"));
    }
    if in_word {
        args.push(cur);
    }
    Ok(args)
}

/// A local path as typed: `~/` means the home directory.
pub fn local_path(text: &str) -> PathBuf {
    match (text.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if text == "~" => dirs::home_dir().unwrap_or_else(|| PathBuf::from(text)),
        _ => PathBuf::from(text),
    }
}

/// Finds a transfer by full hex id or unique prefix (such as the 8-character short id).
pub fn find_transfer<'a>(list: &'a [TransferInfo], text: &str) -> Result<&'a TransferInfo, String> {
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty() {
        return Err("missing transfer id".into());
    }
    if !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{text:?} is not a transfer id (hex digits)"));
    }
    let found: Vec<&TransferInfo> = list
        .iter()
        .filter(|i| i.id.to_hex().starts_with(&text))
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no transfer matches {text:?}")),
        _ => Err(format!(
            "{text:?} matches several transfers; type more of the id"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_keep_spaces_and_must_be_closed() {
        assert_eq!(
            split_args(r#"ab12 "my file.txt"  'x y' z"#),
            Ok(vec![
                "ab12".into(),
                "my file.txt".into(),
                "x y".into(),
                "z".into()
            ])
        );
        assert_eq!(split_args(r#"a """#), Ok(vec!["a".into(), String::new()]));
        assert!(split_args("a 'b").is_err());
        assert_eq!(split_args("  "), Ok(vec![]));
    }
}
