//! announce_peer tokens: a keyed hash of the requester's IP under a secret that rotates every
//! five minutes; a token is valid for the current and the previous secret (5 to 10 minutes),
//! as BEP 5 suggests. Unpredictable to anyone who does not know the secret.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::RngCore;
use ring::digest;

/// How often the secret rotates.
pub const ROTATE_EVERY: Duration = Duration::from_secs(5 * 60);
/// Token length on the wire.
const TOKEN_LEN: usize = 8;

/// Issues and checks tokens.
#[derive(Debug)]
pub struct TokenIssuer {
    current: [u8; 16],
    previous: [u8; 16],
    rotated: Instant,
}

impl TokenIssuer {
    /// Fresh random secrets.
    pub fn new(now: Instant) -> Self {
        let mut t = TokenIssuer {
            current: [0; 16],
            previous: [0; 16],
            rotated: now,
        };
        rand::thread_rng().fill_bytes(&mut t.current);
        rand::thread_rng().fill_bytes(&mut t.previous);
        t
    }

    /// Rotates the secret when due.
    pub fn maybe_rotate(&mut self, now: Instant) {
        if now.duration_since(self.rotated) >= ROTATE_EVERY {
            self.previous = self.current;
            rand::thread_rng().fill_bytes(&mut self.current);
            self.rotated = now;
        }
    }

    /// The token for `ip`.
    pub fn issue(&self, ip: IpAddr) -> [u8; TOKEN_LEN] {
        token(&self.current, ip)
    }

    /// Whether `t` is a token we gave `ip` recently.
    pub fn check(&self, ip: IpAddr, t: &[u8]) -> bool {
        t.len() == TOKEN_LEN
            && (constant_eq(&token(&self.current, ip), t)
                || constant_eq(&token(&self.previous, ip), t))
    }
}

fn token(secret: &[u8; 16], ip: IpAddr) -> [u8; TOKEN_LEN] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(secret);
    match ip {
        IpAddr::V4(v4) => ctx.update(&v4.octets()),
        IpAddr::V6(v6) => ctx.update(&v6.octets()),
    }
    let d = ctx.finish();
    let mut out = [0u8; TOKEN_LEN];
    out.copy_from_slice(&d.as_ref()[..TOKEN_LEN]);
    out
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_to_ip_and_expire_after_two_rotations() {
        let start = Instant::now();
        let mut t = TokenIssuer::new(start);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        let tok = t.issue(a);
        assert!(t.check(a, &tok));
        assert!(!t.check(b, &tok));
        assert!(!t.check(a, &tok[..4]));
        t.maybe_rotate(start + ROTATE_EVERY);
        assert!(t.check(a, &tok));
        t.maybe_rotate(start + ROTATE_EVERY * 2);
        assert!(!t.check(a, &tok));
    }
}
