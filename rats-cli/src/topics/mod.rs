//! Publish/subscribe in the tool: the `sub`, `unsub`, `pub` and `topics` commands and the
//! lines printed for topic events.

pub mod commands;
mod print;

use std::sync::Arc;

use rats::rats_gossipsub::{self, GossipEvent, GossipsubService};
use rats::{Event, RatsClient};

use crate::output::Output;

/// The publish/subscribe side of the tool, shared by the input loop and the event printer.
pub struct Ui {
    /// The node's gossipsub service.
    pub service: Arc<GossipsubService>,
    /// Where lines go.
    pub out: Output,
}

impl Ui {
    /// Publish/subscribe for `client`; `None` when the service is switched off.
    pub fn install(client: &RatsClient, out: Output) -> Option<Arc<Ui>> {
        let service = client.gossip()?;
        Some(Arc::new(Ui { service, out }))
    }

    /// Handles `e` if it is a gossipsub event; false for every other event.
    pub fn on_event(&self, e: &Event) -> bool {
        let Event::Service { service, event } = e else {
            return false;
        };
        if *service != rats_gossipsub::SERVICE_NAME {
            return false;
        }
        let Some(event) = event.downcast_ref::<GossipEvent>() else {
            return false;
        };
        match event {
            GossipEvent::Message {
                topic,
                origin,
                via,
                id,
                data,
            } => self.out.topic_message(topic, origin, via, id, data),
            GossipEvent::PeerJoined { peer, topic } => {
                let ours = self.service.is_subscribed(topic);
                self.out.topic_peer(peer, topic, true, ours);
            }
            GossipEvent::PeerLeft { peer, topic } => {
                let ours = self.service.is_subscribed(topic);
                self.out.topic_peer(peer, topic, false, ours);
            }
            // Kinds added later are not shown.
            _ => return false,
        }
        true
    }
}
