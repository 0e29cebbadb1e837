//! The IO side of the router: the running [`Router`] with the node it acts on. It reads the
//! clock, hands the router the node's facts (the [`Host`]), and carries out the actions the
//! router decided, reporting each send's outcome back.

use std::time::Instant;

use rats_core::{Event, PeerId};
use rats_core::{Outgoing, SendError, ServiceContext};

use crate::router::{Action, Host, Router, SendOutcome};

/// The router of a started service and the context it sends through.
pub(crate) struct Shell {
    router: Router,
    ctx: ServiceContext,
}

impl Shell {
    pub(crate) fn new(router: Router, ctx: ServiceContext) -> Self {
        Shell { router, ctx }
    }

    /// Runs `f` on the router at the current time, then carries out what it decided (still
    /// under the caller's lock, so the sends of two calls never interleave).
    pub(crate) fn run<T>(&mut self, f: impl FnOnce(&mut Router, Instant, &dyn Host) -> T) -> T {
        let out = f(&mut self.router, Instant::now(), &self.ctx);
        self.execute();
        out
    }

    /// Reads the router without acting.
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    fn execute(&mut self) {
        for action in self.router.take_actions() {
            match action {
                Action::Send {
                    peer,
                    bytes,
                    purpose,
                } => {
                    let outcome = match self.ctx.try_send(&peer, Outgoing::shared(bytes)) {
                        Ok(()) => SendOutcome::Sent,
                        Err(SendError::QueueFull(_)) => SendOutcome::QueueFull,
                        Err(_) => SendOutcome::Failed,
                    };
                    self.router.on_send_result(peer, purpose, outcome);
                }
                Action::Emit(event) => self.ctx.emit(Event::Service {
                    service: crate::SERVICE_NAME,
                    event: std::sync::Arc::new(event),
                }),
                Action::Dial { peer, addrs } => self.ctx.add_candidate(peer, addrs),
                Action::DisconnectSlow(peer) => {
                    self.ctx.disconnect_slow_peer(&peer);
                }
            }
        }
    }
}

impl Host for ServiceContext {
    fn queue_load(&self, peer: &PeerId) -> Option<f32> {
        ServiceContext::queue_load(self, peer)
    }

    fn listen_addrs(&self, peer: &PeerId) -> Vec<String> {
        self.peer_info(peer)
            .map(|info| info.listen_addrs.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], SendError> {
        ServiceContext::sign(self, message)
    }
}
