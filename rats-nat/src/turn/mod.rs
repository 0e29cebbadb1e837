//! TURN (RFC 8656) with TCP relaying (RFC 6062): the client and the `turn` transport.

pub mod client;
pub mod inbound;
pub mod transport;

pub use client::{ConnectionAttempt, Credentials, TurnClient, TurnError};
pub use transport::{TurnConfig, TurnTransport};
