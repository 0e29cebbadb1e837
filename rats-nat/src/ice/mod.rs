//! ICE (RFC 8445) for applications that bring their own signalling, on the ICE agent of
//! webrtc-rs (`webrtc-ice`).
//!
//! Each side makes an [`IceSession`] (host, server-reflexive and relay candidates from the
//! configured STUN and TURN servers), sends its [`IceOffer`] (credentials and candidates, as
//! JSON, say) to the other by whatever means it has, optionally trickles later candidates
//! ([`IceSession::on_candidate`], [`IceSession::add_remote_candidate`]), and calls
//! [`IceSession::connect`] with the other's offer. The controlling side nominates a pair; the
//! result is an [`IceConnection`] that moves datagrams over the nominated pair. A rats
//! connection runs on it through QUIC (`RatsClient::connect_with_ice` in `rats`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), rats_nat::ice::IceError> {
//! use rats_nat::ice::{IceConfig, IceSession};
//! let config = IceConfig { stun: vec!["198.51.100.10:3478".into()], ..IceConfig::default() };
//! let session = IceSession::new(&config, true).await?;
//! let offer = session.gather().await?;
//! println!("{}", serde_json::to_string(&offer).unwrap_or_default());
//! # let answer = offer.clone();
//! // ... send `offer`, receive the other side's `answer` ...
//! let conn = session.connect(&answer).await?;
//! conn.send(b"hello").await?;
//! # Ok(()) }
//! ```

mod config;
pub(crate) mod offer;
mod session;
mod stream;

pub use config::{IceConfig, IceTurnServer};
pub use offer::{
    IceOffer, MAX_CANDIDATE_LEN, MAX_CANDIDATES, MAX_CREDENTIAL_LEN, MIN_PWD_LEN, MIN_UFRAG_LEN,
    OfferError,
};
pub use session::{IceConnection, IceError, IceSession};
pub use stream::stream_over;
