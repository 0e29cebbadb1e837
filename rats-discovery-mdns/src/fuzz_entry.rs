//! Entry point for the fuzz target in `fuzz/` (cargo-fuzz): the parts of an mDNS answer that
//! rats itself interprets (the DNS packet is parsed by `mdns-sd`). Reached as
//! `rats_discovery_mdns::__fuzz`; not public API (no stability promise).

use crate::names::{NodeTxt, clean_instance, service_type};

/// TXT records as `key=value` lines, and the same bytes as an instance and protocol name: a
/// node's TXT that parses publishes properties that parse the same; instance names are
/// cleaned once for good; service types are valid DNS-SD names.
pub fn txt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let pairs: Vec<(&str, &str)> = text
        .lines()
        .map(|l| l.split_once('=').unwrap_or((l, "")))
        .collect();
    // Like mdns-sd: the first record of a key counts.
    let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|p| p.1);
    if let Some(node) = NodeTxt::parse(get) {
        let props = node.properties();
        let again =
            NodeTxt::parse(|k| props.iter().find(|(key, _)| key == k).map(|p| p.1.as_str()));
        assert_eq!(again, Some(node));
    }
    let instance = clean_instance(&text);
    assert!(instance.len() <= 63 && !instance.chars().any(char::is_control));
    assert_eq!(clean_instance(&instance), instance);
    let service = service_type(&text);
    let label = service
        .strip_prefix('_')
        .and_then(|s| s.strip_suffix("._tcp.local."));
    let Some(label) = label else {
        panic!("bad service type {service:?}");
    };
    assert!((1..=15).contains(&label.len()), "{service:?}");
    assert!(
        label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    );
    assert!(
        !label.starts_with('-') && !label.ends_with('-'),
        "{service:?}"
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_point_accepts_valid_and_garbage_input() {
        let peer = rats_core::Identity::generate().peer_id();
        super::txt(format!("id={peer}\nv=1\nport=7878").as_bytes());
        for garbage in [&b""[..], b"=", b"\xff\n\x00", b"port=0"] {
            super::txt(garbage);
        }
    }
}
