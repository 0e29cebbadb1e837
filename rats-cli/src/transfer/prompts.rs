//! Offers waiting for the user's `y` / `n`: at most [`MAX_PROMPTS`], answered by id prefix
//! or oldest first.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use rats::rats_transfer::TransferId;
use tokio::sync::oneshot;

/// Most offers waiting for an answer at once; more are rejected.
pub const MAX_PROMPTS: usize = 16;

/// The user's answer to an offer.
#[derive(Debug)]
pub enum Answer {
    /// Take it.
    Accept,
    /// Refuse it, with this reason for the peer.
    Reject(String),
}

struct Waiting {
    id: TransferId,
    tx: oneshot::Sender<Answer>,
}

/// The offers waiting for an answer, oldest first.
#[derive(Default)]
pub struct Prompts {
    waiting: Mutex<VecDeque<Waiting>>,
}

impl Prompts {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Waiting>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a prompt for offer `id`; `None` when [`MAX_PROMPTS`] are open.
    pub fn open(&self, id: TransferId) -> Option<oneshot::Receiver<Answer>> {
        let mut waiting = self.lock();
        if waiting.len() >= MAX_PROMPTS {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        waiting.push_back(Waiting { id, tx });
        Some(rx)
    }

    /// Closes the prompt of `id` (answered, expired or withdrawn).
    pub fn close(&self, id: TransferId) {
        self.lock().retain(|w| w.id != id);
    }

    /// Whether `prefix` (lowercase hex) picks exactly one open prompt.
    pub fn matches(&self, prefix: &str) -> bool {
        let prefix = prefix.to_ascii_lowercase();
        self.lock()
            .iter()
            .filter(|w| w.id.to_hex().starts_with(&prefix))
            .count()
            == 1
    }

    /// Answers the prompt whose id starts with `prefix`, or the oldest one; returns its id.
    pub fn answer(&self, prefix: Option<&str>, answer: Answer) -> Result<TransferId, String> {
        let mut waiting = self.lock();
        let index = match prefix {
            None => {
                if waiting.is_empty() {
                    return Err("no offer is waiting for an answer".into());
                }
                0
            }
            Some(p) => {
                let p = p.to_ascii_lowercase();
                let found: Vec<usize> = waiting
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| w.id.to_hex().starts_with(&p))
                    .map(|(i, _)| i)
                    .collect();
                match found.as_slice() {
                    [one] => *one,
                    [] => return Err(format!("no offer waiting with id {p:?}")),
                    _ => return Err(format!("{p:?} matches several offers; type more of the id")),
                }
            }
        };
        let Some(w) = waiting.remove(index) else {
            return Err("no offer is waiting for an answer".into());
        };
        // A closed receiver means the offer expired just now.
        w.tx.send(answer)
            .map_err(|_| format!("offer {} is no longer waiting", w.id.short()))?;
        Ok(w.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_go_to_the_oldest_or_the_named_offer_and_the_map_is_bounded() {
        let p = Prompts::default();
        let ids: Vec<TransferId> = (0..MAX_PROMPTS as u8)
            .map(|i| TransferId([i; 16]))
            .collect();
        let mut rxs: Vec<_> = ids.iter().map(|id| p.open(*id).expect("room")).collect();
        assert!(p.open(TransferId([0xff; 16])).is_none(), "bounded");
        assert_eq!(p.answer(Some("0202"), Answer::Accept), Ok(ids[2]));
        assert!(matches!(rxs[2].try_recv(), Ok(Answer::Accept)));
        assert_eq!(p.answer(None, Answer::Reject("no".into())), Ok(ids[0]));
        assert!(matches!(rxs[0].try_recv(), Ok(Answer::Reject(r)) if r == "no"));
        assert!(p.answer(Some("zz"), Answer::Accept).is_err());
        p.close(ids[1]);
        assert_eq!(p.answer(None, Answer::Accept), Ok(ids[3]));
    }
}
