//! What one ICE agent tells the other: credentials and candidates.

use serde::{Deserialize, Serialize};

/// Candidates one offer may carry at most.
pub const MAX_CANDIDATES: usize = 32;
/// Longest candidate line accepted.
pub const MAX_CANDIDATE_LEN: usize = 512;
/// Shortest username fragment (RFC 8445 §5.3: at least 24 bits, 4 characters).
pub const MIN_UFRAG_LEN: usize = 4;
/// Shortest password (RFC 8445 §5.3: at least 128 bits, 22 characters).
pub const MIN_PWD_LEN: usize = 22;
/// Longest username fragment or password (RFC 8445 §5.3).
pub const MAX_CREDENTIAL_LEN: usize = 256;

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
    /// lengths (ufrag at least 4 characters, password at least 22, both at most 256, printable
    /// ASCII); the error names the broken rule.
    pub fn validate(&self) -> Result<(), OfferError> {
        let ok = |s: &str, min: usize| {
            (min..=MAX_CREDENTIAL_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
        };
        if !ok(&self.ufrag, MIN_UFRAG_LEN) {
            return Err(OfferError::BadUfrag);
        }
        if !ok(&self.pwd, MIN_PWD_LEN) {
            return Err(OfferError::BadPassword);
        }
        if self.candidates.len() > MAX_CANDIDATES {
            return Err(OfferError::TooManyCandidates(self.candidates.len()));
        }
        if let Some(index) = self
            .candidates
            .iter()
            .position(|c| c.len() > MAX_CANDIDATE_LEN)
        {
            return Err(OfferError::CandidateTooLong { index });
        }
        Ok(())
    }
}

/// An offer from the other side that breaks a rule ([`IceOffer::validate`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferError {
    /// The username fragment is not [`MIN_UFRAG_LEN`] to [`MAX_CREDENTIAL_LEN`] printable
    /// ASCII characters.
    #[error(
        "bad ICE username fragment: {MIN_UFRAG_LEN} to {MAX_CREDENTIAL_LEN} printable ASCII characters expected"
    )]
    BadUfrag,
    /// The password is not [`MIN_PWD_LEN`] to [`MAX_CREDENTIAL_LEN`] printable ASCII characters.
    #[error(
        "bad ICE password: {MIN_PWD_LEN} to {MAX_CREDENTIAL_LEN} printable ASCII characters expected"
    )]
    BadPassword,
    /// More than [`MAX_CANDIDATES`] candidates (the number given).
    #[error("{0} candidates, more than {MAX_CANDIDATES}")]
    TooManyCandidates(usize),
    /// A candidate line (at `index`) is longer than [`MAX_CANDIDATE_LEN`].
    #[error("candidate {index} is longer than {MAX_CANDIDATE_LEN} bytes")]
    CandidateTooLong {
        /// Its position in the offer's candidates.
        index: usize,
    },
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
        assert_eq!(good.validate(), Ok(()));
        let short = IceOffer {
            pwd: "short".into(),
            ..good.clone()
        };
        assert_eq!(short.validate(), Err(OfferError::BadPassword));
        let spaced = IceOffer {
            ufrag: "ab d".into(),
            ..good.clone()
        };
        assert_eq!(spaced.validate(), Err(OfferError::BadUfrag));
        let many = IceOffer {
            candidates: vec![good.candidates[0].clone(); MAX_CANDIDATES + 1],
            ..good.clone()
        };
        assert_eq!(
            many.validate(),
            Err(OfferError::TooManyCandidates(MAX_CANDIDATES + 1))
        );
        let long = IceOffer {
            candidates: vec![
                good.candidates[0].clone(),
                "x".repeat(MAX_CANDIDATE_LEN + 1),
            ],
            ..good.clone()
        };
        assert_eq!(
            long.validate(),
            Err(OfferError::CandidateTooLong { index: 1 })
        );
        assert_eq!(strip_prefix("a=candidate:1 1 udp"), "1 1 udp");
        assert_eq!(strip_prefix("candidate:1 1 udp"), "1 1 udp");
        assert_eq!(strip_prefix("1 1 udp"), "1 1 udp");
    }
}
