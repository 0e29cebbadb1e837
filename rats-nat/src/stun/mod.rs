//! STUN (RFC 8489): the message codec and Binding transactions.

pub mod client;
pub mod message;

pub use client::{BindingResponse, ChangeRequest, Retransmit, StunError, binding, binding_tcp};
pub use message::{Class, Message, MessageBuilder, StunParseError};
