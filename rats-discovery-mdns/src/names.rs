//! DNS-SD names and TXT records for rats nodes.
//!
//! Service type: `_<protocol name>._tcp.local.`, the name made a valid DNS-SD service name
//! (RFC 6335: letters, digits and hyphens, at most 15, starting with a letter). TXT keys:
//! `id` (peer id, hex), `v` (protocol version), `port` (TCP listen port), `proto` (protocol
//! name, unabridged).

use rats_core::PeerId;

/// Longest service name (RFC 6335 §5.1).
const MAX_SERVICE_NAME: usize = 15;
/// Longest instance name label (RFC 6763 §4.1.1).
const MAX_INSTANCE: usize = 63;
/// Longest `v` / `proto` value written and compared (a TXT string holds 255 bytes).
const MAX_TXT_VALUE: usize = 64;

/// `s` cut to [`MAX_TXT_VALUE`] bytes at a character boundary: what goes into (and is compared
/// from) a TXT record.
pub fn clip(s: &str) -> String {
    let mut end = s.len().min(MAX_TXT_VALUE);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The DNS-SD service type for an application protocol name, e.g. `_rats._tcp.local.`.
pub fn service_type(protocol_name: &str) -> String {
    let mut name: String = protocol_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let mut name = name.trim_matches('-').to_string();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "r-");
    }
    name.truncate(MAX_SERVICE_NAME);
    let name = name.trim_end_matches('-');
    format!("_{name}._tcp.local.")
}

/// Our default instance name: `rats-` and 16 hex digits of our peer id.
pub fn default_instance(peer: &PeerId) -> String {
    let hex = peer.to_string();
    format!("rats-{}", &hex[..hex.len().min(16)])
}

/// An instance name as given by a user, made a valid label.
pub fn clean_instance(name: &str) -> String {
    let mut s: String = name
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string();
    while s.len() > MAX_INSTANCE {
        s.pop();
    }
    // Cutting can expose spaces that were inside the name: a label does not end in them.
    s.truncate(s.trim_end().len());
    s
}

/// What a rats node's TXT record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTxt {
    /// The peer id.
    pub peer: PeerId,
    /// Protocol version.
    pub version: String,
    /// Application protocol name.
    pub protocol: String,
    /// TCP listen port.
    pub port: u16,
}

impl NodeTxt {
    /// Reads `id`, `v`, `proto` and `port` through `get`; `None` unless `id` is a peer id and
    /// `port` a port.
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<NodeTxt> {
        Some(NodeTxt {
            peer: get("id")?.parse().ok()?,
            version: clip(get("v").unwrap_or_default()),
            protocol: clip(get("proto").unwrap_or_default()),
            port: get("port")?.parse().ok().filter(|p| *p != 0)?,
        })
    }

    /// The TXT properties.
    pub fn properties(&self) -> Vec<(String, String)> {
        vec![
            ("id".into(), self.peer.to_string()),
            ("v".into(), clip(&self.version)),
            ("proto".into(), clip(&self.protocol)),
            ("port".into(), self.port.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_types_are_valid_names() {
        assert_eq!(service_type("rats"), "_rats._tcp.local.");
        assert_eq!(service_type("My App!"), "_my-app._tcp.local.");
        assert_eq!(service_type("2fast"), "_r-2fast._tcp.local.");
        assert_eq!(
            service_type("a-very-long-application-name"),
            "_a-very-long-app._tcp.local."
        );
        assert_eq!(service_type("--"), "_r._tcp.local.");
        assert_eq!(
            service_type("abcdefghijklmn-x"),
            "_abcdefghijklmn._tcp.local."
        );
    }

    /// Found by the `mdns_txt` fuzz target: a long name cut at 63 bytes right after a space
    /// kept the space, and cleaning it again gave another name.
    #[test]
    fn a_name_cut_after_a_space_ends_without_it() {
        let name = format!("{}{}", "a".repeat(62), " bcd");
        let clean = clean_instance(&name);
        assert_eq!(clean, "a".repeat(62));
        assert_eq!(clean_instance(&clean), clean);
    }

    #[test]
    fn long_values_are_clipped_alike_on_both_sides() {
        let long = "é".repeat(100);
        let c = clip(&long);
        assert!(c.len() <= MAX_TXT_VALUE && long.starts_with(&c));
        assert_eq!(clip(&c), c);
    }

    #[test]
    fn txt_round_trip_and_rejects() {
        let peer = rats_core::Identity::generate().peer_id();
        let txt = NodeTxt {
            peer,
            version: "1.0".into(),
            protocol: "rats".into(),
            port: 7878,
        };
        let props = txt.properties();
        let get = |k: &str| {
            props
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(NodeTxt::parse(get), Some(txt));
        assert_eq!(NodeTxt::parse(|k| (k == "id").then_some("zz")), None);
        let id = peer.to_string();
        assert_eq!(
            NodeTxt::parse(|k| match k {
                "id" => Some(id.as_str()),
                "port" => Some("0"),
                _ => None,
            }),
            None
        );
    }
}
