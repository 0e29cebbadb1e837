//! STUN (RFC 8489): the message codec and Binding transactions, the NAT behaviour tests of
//! RFC 5780, and the `stun` plugin with its configuration section.

pub mod behaviour;
pub mod client;
mod config;
pub mod message;
mod plugin;

pub use config::{PUBLIC_STUN_SERVERS, StunConfig};
pub use plugin::{NatStatus, StunPlugin};

pub use client::{BindingResponse, ChangeRequest, Retransmit, StunError, binding, binding_tcp};
pub use message::{Class, Message, MessageBuilder, StunParseError};
