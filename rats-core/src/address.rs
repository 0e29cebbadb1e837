//! Transport addresses: `scheme:body`, for example `tcp:127.0.0.1:7878`, `tcp:[::1]:7878`,
//! `mem:12`. A bare `host:port` parses as TCP, so users can type what they know.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// Longest address we accept from a peer or a user, in bytes.
pub const MAX_ADDRESS_LEN: usize = 256;
/// Longest scheme, in bytes: short enough that any socket address put in the body
/// ([`Address::with_socket_addr`]) keeps the address within [`MAX_ADDRESS_LEN`].
pub const MAX_SCHEME_LEN: usize = 32;

/// An address one transport understands. The scheme picks the transport.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    text: String,
    colon: usize,
}

/// A malformed address.
#[derive(Debug, thiserror::Error)]
#[error("invalid address {text:?}: {why}")]
pub struct AddressError {
    /// What was given.
    pub text: String,
    /// Why it is not an address.
    pub why: &'static str,
}

impl Address {
    /// Builds an address from a scheme (`tcp`, `quic`, `mem`, ...) and a scheme-specific body.
    pub fn new(scheme: &str, body: &str) -> Result<Self, AddressError> {
        format!("{scheme}:{body}").parse()
    }

    /// A TCP address.
    pub fn tcp(addr: SocketAddr) -> Self {
        Self::from_parts_unchecked("tcp", &addr.to_string())
    }

    fn from_parts_unchecked(scheme: &str, body: &str) -> Self {
        Address {
            text: format!("{scheme}:{body}"),
            colon: scheme.len(),
        }
    }

    /// The scheme, e.g. `tcp`.
    pub fn scheme(&self) -> &str {
        &self.text[..self.colon]
    }

    /// Everything after the scheme, e.g. `127.0.0.1:7878`.
    pub fn body(&self) -> &str {
        &self.text[self.colon + 1..]
    }

    /// The body as a socket address, when it is one (no name resolution).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.body().parse().ok()
    }

    /// The same address with another socket address in the body (same scheme).
    pub fn with_socket_addr(&self, addr: SocketAddr) -> Self {
        Self::from_parts_unchecked(self.scheme(), &addr.to_string())
    }

    /// The whole text form.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for loopback socket addresses.
    pub fn is_loopback(&self) -> bool {
        self.socket_addr().is_some_and(|a| a.ip().is_loopback())
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| AddressError {
            text: s.chars().take(80).collect(),
            why,
        };
        let s = s.trim();
        if s.is_empty() {
            return Err(err("empty"));
        }
        if s.len() > MAX_ADDRESS_LEN {
            return Err(err("too long"));
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(err("contains spaces or control characters"));
        }
        // `host:port` and `[v6]:port` without a scheme mean TCP. The `tcp:` put in front
        // counts towards the limit too, or the address would not parse back from its text.
        let bare_tcp = |s: &str| {
            if s.len() + "tcp:".len() > MAX_ADDRESS_LEN {
                return Err(err("too long"));
            }
            Ok(Self::from_parts_unchecked("tcp", s))
        };
        if s.starts_with('[') || s.parse::<SocketAddr>().is_ok() {
            return bare_tcp(s);
        }
        let colon = s.find(':').ok_or_else(|| err("missing ':'"))?;
        let scheme = &s[..colon];
        let body = &s[colon + 1..];
        let scheme_ok = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !scheme_ok {
            return Err(err("bad scheme"));
        }
        if body.is_empty() {
            return Err(err("empty body"));
        }
        if body.parse::<u16>().is_ok() && !matches!(scheme, "mem") {
            // `localhost:7878`: a host name and a port, meaning TCP.
            return bare_tcp(s);
        }
        if scheme.len() > MAX_SCHEME_LEN {
            return Err(err("scheme too long"));
        }
        Ok(Address {
            text: s.to_string(),
            colon,
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.text)
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Anything that names an address: an [`Address`], a [`SocketAddr`] (TCP), or text
/// (`tcp:1.2.3.4:7878`, `quic:[::1]:7878`, or a bare `host:port` for TCP). What
/// `connect` takes, so callers need no conversion.
pub trait ToAddress {
    /// The address, or why the text is not one.
    fn to_address(&self) -> Result<Address, AddressError>;
}

impl ToAddress for Address {
    fn to_address(&self) -> Result<Address, AddressError> {
        Ok(self.clone())
    }
}

impl ToAddress for SocketAddr {
    fn to_address(&self) -> Result<Address, AddressError> {
        Ok(Address::tcp(*self))
    }
}

impl ToAddress for str {
    fn to_address(&self) -> Result<Address, AddressError> {
        self.parse()
    }
}

impl ToAddress for String {
    fn to_address(&self) -> Result<Address, AddressError> {
        self.parse()
    }
}

impl<T: ToAddress + ?Sized> ToAddress for &T {
    fn to_address(&self) -> Result<Address, AddressError> {
        (**self).to_address()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schemes_and_bare_socket_addrs() {
        let a: Address = "127.0.0.1:80".parse().expect("v4");
        assert_eq!(a.scheme(), "tcp");
        assert_eq!(a.socket_addr(), Some("127.0.0.1:80".parse().expect("sa")));
        let b: Address = "[::1]:80".parse().expect("v6");
        assert_eq!(b.as_str(), "tcp:[::1]:80");
        let c: Address = "tcp:[::1]:80".parse().expect("tcp v6");
        assert_eq!(b, c);
        let m: Address = "mem:7".parse().expect("mem");
        assert_eq!((m.scheme(), m.body()), ("mem", "7"));
        let h: Address = "localhost:7878".parse().expect("host");
        assert_eq!(h.as_str(), "tcp:localhost:7878");
        assert!("".parse::<Address>().is_err());
        assert!("noport".parse::<Address>().is_err());
        assert!("a b:1".parse::<Address>().is_err());
        assert!("x".repeat(300).parse::<Address>().is_err());
    }
}
