//! What one ICE agent tells the other: credentials and candidates.

use serde::{Deserialize, Serialize};

/// Candidates one offer may carry at most.
pub const MAX_CANDIDATES: usize = 32;
/// Longest candidate line accepted.
const MAX_CANDIDATE_LEN: usize = 512;

/// An ICE offer or answer: the sender's username fragment and password (RFC 8445 §5.3) and
/// its candidates in SDP form (`foundation component transport priority address port typ
/// type ...`, with or without a leading `candidate:`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IceOffer {
    /// Username fragment.
    pub ufrag: String,
    /// Password.
    pub pwd: String,
    /// Candidates.
    pub candidates: Vec<String>,
}

impl IceOffer {
    /// Checks an offer from the other side against the limits and RFC 8445's credential
    /// lengths (ufrag at least 4 characters, password at least 22, both at most 256).
    pub fn validate(&self) -> Result<(), String> {
        let ok = |s: &str, min: usize| {
            (min..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
        };
        if !ok(&self.ufrag, 4) || !ok(&self.pwd, 22) {
            return Err("bad ICE credentials".into());
        }
        if self.candidates.len() > MAX_CANDIDATES {
            return Err(format!("more than {MAX_CANDIDATES} candidates"));
        }
        if self.candidates.iter().any(|c| c.len() > MAX_CANDIDATE_LEN) {
            return Err("candidate line too long".into());
        }
        Ok(())
    }
}

/// A candidate line without its optional `a=`/`candidate:` prefix.
pub(crate) fn strip_prefix(c: &str) -> &str {
    let c = c.trim();
    let c = c.strip_prefix("a=").unwrap_or(c);
    c.strip_prefix("candidate:").unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_and_prefixes() {
        let good = IceOffer {
            ufrag: "abcd".into(),
            pwd: "0123456789012345678901".into(),
            candidates: vec!["1 1 udp 2130706431 10.0.0.1 5000 typ host".into()],
        };
        assert!(good.validate().is_ok());
        let short = IceOffer {
            pwd: "short".into(),
            ..good.clone()
        };
        assert!(short.validate().is_err());
        let many = IceOffer {
            candidates: vec![good.candidates[0].clone(); MAX_CANDIDATES + 1],
            ..good.clone()
        };
        assert!(many.validate().is_err());
        assert_eq!(strip_prefix("a=candidate:1 1 udp"), "1 1 udp");
        assert_eq!(strip_prefix("candidate:1 1 udp"), "1 1 udp");
        assert_eq!(strip_prefix("1 1 udp"), "1 1 udp");
    }
}
