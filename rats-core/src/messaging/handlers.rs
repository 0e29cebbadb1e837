//! Registered message handlers: by JSON type, plus text and binary handlers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;

use crate::identity::PeerId;

/// Identifies a registered handler (for [`off_handler`](crate::MessageExchange::off_handler)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HandlerId(u64);

/// A typed-JSON handler: gets the authenticated sender and the data.
pub type JsonHandler = Arc<dyn Fn(PeerId, &serde_json::Value) + Send + Sync>;
/// A text handler.
pub type TextHandler = Arc<dyn Fn(PeerId, &str) + Send + Sync>;
/// A binary handler.
pub type BinaryHandler = Arc<dyn Fn(PeerId, Bytes) + Send + Sync>;

struct Entry<H> {
    id: HandlerId,
    handler: H,
    /// For `once` handlers: set when fired, so concurrent deliveries fire it only once.
    once: Option<Arc<AtomicBool>>,
}

#[derive(Default)]
struct Table {
    json: HashMap<String, Vec<Entry<JsonHandler>>>,
    text: Vec<Entry<TextHandler>>,
    binary: Vec<Entry<BinaryHandler>>,
}

/// The handler registry.
#[derive(Default)]
pub(crate) struct Handlers {
    table: RwLock<Table>,
    next: AtomicU64,
}

impl Handlers {
    fn id(&self) -> HandlerId {
        HandlerId(self.next.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn add_json(&self, kind: &str, handler: JsonHandler, once: bool) -> HandlerId {
        let id = self.id();
        let once = once.then(|| Arc::new(AtomicBool::new(false)));
        self.table
            .write()
            .json
            .entry(kind.to_string())
            .or_default()
            .push(Entry { id, handler, once });
        id
    }

    pub(crate) fn add_text(&self, handler: TextHandler) -> HandlerId {
        let id = self.id();
        self.table.write().text.push(Entry {
            id,
            handler,
            once: None,
        });
        id
    }

    pub(crate) fn add_binary(&self, handler: BinaryHandler) -> HandlerId {
        let id = self.id();
        self.table.write().binary.push(Entry {
            id,
            handler,
            once: None,
        });
        id
    }

    /// Removes every handler of a JSON type; returns how many.
    pub(crate) fn remove_type(&self, kind: &str) -> usize {
        self.table.write().json.remove(kind).map_or(0, |v| v.len())
    }

    /// Removes one handler.
    pub(crate) fn remove(&self, id: HandlerId) -> bool {
        let mut t = self.table.write();
        let before = t.text.len() + t.binary.len() + t.json.values().map(Vec::len).sum::<usize>();
        t.text.retain(|e| e.id != id);
        t.binary.retain(|e| e.id != id);
        t.json.values_mut().for_each(|v| v.retain(|e| e.id != id));
        t.json.retain(|_, v| !v.is_empty());
        let after = t.text.len() + t.binary.len() + t.json.values().map(Vec::len).sum::<usize>();
        before != after
    }

    /// Whether any handler is registered for a JSON type.
    pub(crate) fn has_json(&self, kind: &str) -> bool {
        self.table.read().json.contains_key(kind)
    }

    pub(crate) fn dispatch_json(&self, peer: PeerId, kind: &str, data: &serde_json::Value) {
        let mut fired_once = Vec::new();
        let handlers: Vec<(HandlerId, JsonHandler)> = {
            let t = self.table.read();
            let Some(list) = t.json.get(kind) else {
                return;
            };
            list.iter()
                .filter(|e| match &e.once {
                    Some(flag) => {
                        let first = !flag.swap(true, Ordering::AcqRel);
                        if first {
                            fired_once.push(e.id);
                        }
                        first
                    }
                    None => true,
                })
                .map(|e| (e.id, e.handler.clone()))
                .collect()
        };
        if !fired_once.is_empty() {
            let mut t = self.table.write();
            if let Some(list) = t.json.get_mut(kind) {
                list.retain(|e| !fired_once.contains(&e.id));
                if list.is_empty() {
                    t.json.remove(kind);
                }
            }
        }
        // Handlers run without the lock held, so they may register or remove handlers.
        for (_, h) in handlers {
            h(peer, data);
        }
    }

    pub(crate) fn dispatch_text(&self, peer: PeerId, text: &str) {
        let handlers: Vec<TextHandler> = self
            .table
            .read()
            .text
            .iter()
            .map(|e| e.handler.clone())
            .collect();
        for h in handlers {
            h(peer, text);
        }
    }

    pub(crate) fn dispatch_binary(&self, peer: PeerId, data: Bytes) {
        let t = self.table.read();
        match t.binary.as_slice() {
            [] => {}
            // The common case, without cloning the handler list per message.
            [one] => {
                let h = one.handler.clone();
                drop(t);
                h(peer, data);
            }
            many => {
                let hs: Vec<BinaryHandler> = many.iter().map(|e| e.handler.clone()).collect();
                drop(t);
                for h in hs {
                    h(peer, data.clone());
                }
            }
        }
    }
}
