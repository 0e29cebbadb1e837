//! The bounded queue between rats' handlers (many producers, on runtime threads) and a
//! client's callback thread (one consumer). The consumer takes everything queued in one lock
//! round trip, and a producer wakes it only when it sleeps, so a busy stream of small
//! messages costs a short uncontended lock per message rather than a wake-up. Small binary
//! messages are copied into one shared byte arena (handed over with the events) as records
//! (peer id, length, bytes), and consecutive ones of a run become a single event
//! ([`Ev::BinaryRun`]): no allocation and no queue slot per message, and the callback thread
//! reads them in order from one buffer.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use rats_engine::PeerId;

use super::Ev;

/// Events waiting for the callback thread at most (then the connection that delivers more
/// waits: backpressure to that peer).
pub(crate) const CAPACITY: usize = 1024;

/// Binary messages up to this size go into the arena.
pub(crate) const ARENA_MESSAGE: usize = 4096;

/// The arena's bytes at most (then producers wait, as for a full queue).
const ARENA_BYTES: usize = 4 * 1024 * 1024;

/// Bytes that queued events (other than arena records) carry at most; one event passes an
/// empty queue whatever its size.
const EVENT_BYTES: usize = 16 * 1024 * 1024;

/// A record's head in the arena: the peer id, then the length (u32, little-endian).
const RECORD_HEAD: usize = 32 + 4;

#[derive(Default)]
struct State {
    items: VecDeque<Ev>,
    /// The records of the queued [`Ev::BinaryRun`]s.
    arena: Vec<u8>,
    /// What the queued events carry besides the arena ([`Ev::heap_bytes`]).
    bytes: usize,
    /// The consumer sleeps on `ready`.
    consumer_waiting: bool,
    /// Producers sleeping on `space`.
    producers_waiting: usize,
    /// The consumer is gone: pushes are dropped.
    closed: bool,
    /// How many times the consumer took the queue's contents (a producer that found the
    /// queue full waits until this changes).
    takes: u64,
}

/// See the module docs.
#[derive(Default)]
pub(crate) struct EventQueue {
    state: Mutex<State>,
    ready: Condvar,
    space: Condvar,
}

/// Why a push did not queue its event.
pub(crate) enum PushError {
    /// The queue is full: the event is handed back, with the value to pass to
    /// [`EventQueue::wait_for_space`].
    Full(Ev, u64),
    /// The consumer is gone; the event was dropped.
    Closed,
}

impl EventQueue {
    /// Queues `ev` unless the queue is full.
    pub fn try_push(&self, ev: Ev) -> Result<(), PushError> {
        let mut s = self.state.lock();
        if s.closed {
            return Err(PushError::Closed);
        }
        if let Ev::Binary { epoch, peer, data } = &ev
            && data.len() <= ARENA_MESSAGE
        {
            let (epoch, len) = (*epoch, data.len());
            let extends =
                matches!(s.items.back(), Some(Ev::BinaryRun { epoch: e, .. }) if *e == epoch);
            if s.arena.len() + RECORD_HEAD + len > ARENA_BYTES
                || (!extends && s.items.len() >= CAPACITY)
            {
                return Err(PushError::Full(ev, s.takes));
            }
            let start = s.arena.len();
            s.arena.extend_from_slice(peer.as_bytes());
            s.arena
                .extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
            s.arena.extend_from_slice(data);
            match s.items.back_mut() {
                Some(Ev::BinaryRun { count, .. }) if extends => *count += 1,
                _ => {
                    let run = Ev::BinaryRun {
                        epoch,
                        start,
                        count: 1,
                    };
                    self.push_locked(&mut s, run);
                    return Ok(());
                }
            }
            if s.consumer_waiting {
                s.consumer_waiting = false;
                self.ready.notify_one();
            }
            return Ok(());
        }
        let size = ev.heap_bytes();
        if s.items.len() >= CAPACITY || (s.bytes > 0 && s.bytes + size > EVENT_BYTES) {
            return Err(PushError::Full(ev, s.takes));
        }
        s.bytes += size;
        self.push_locked(&mut s, ev);
        Ok(())
    }

    /// Queues `ev` even when the queue is full (the few control events, such as `Quit`, that
    /// must not wait behind the bound).
    pub fn push_unbounded(&self, ev: Ev) {
        let mut s = self.state.lock();
        if !s.closed {
            self.push_locked(&mut s, ev);
        }
    }

    fn push_locked(&self, s: &mut State, ev: Ev) {
        s.items.push_back(ev);
        if s.consumer_waiting {
            s.consumer_waiting = false;
            self.ready.notify_one();
        }
    }

    /// Waits up to `limit` for the consumer to empty the queue, unless it did since a push
    /// found it full (`takes` from [`PushError::Full`]); the caller retries its push after.
    pub fn wait_for_space(&self, takes: u64, limit: Duration) {
        let mut s = self.state.lock();
        if s.closed || s.takes != takes {
            return;
        }
        s.producers_waiting += 1;
        let _ = self.space.wait_for(&mut s, limit);
        s.producers_waiting -= 1;
    }

    /// Moves everything queued into `out` and its arena into `arena` (both empty on entry),
    /// waiting until there is something.
    pub fn take_all(&self, out: &mut VecDeque<Ev>, arena: &mut Vec<u8>) {
        let mut s = self.state.lock();
        while s.items.is_empty() {
            s.consumer_waiting = true;
            self.ready.wait(&mut s);
        }
        std::mem::swap(&mut s.items, out);
        std::mem::swap(&mut s.arena, arena);
        s.bytes = 0;
        s.takes = s.takes.wrapping_add(1);
        if s.producers_waiting > 0 {
            self.space.notify_all();
        }
    }

    /// The consumer is gone: later pushes are dropped, and what is queued is dropped now.
    pub fn close(&self) {
        let dropped = {
            let mut s = self.state.lock();
            s.closed = true;
            self.space.notify_all();
            s.arena = Vec::new();
            s.bytes = 0;
            std::mem::take(&mut s.items)
        };
        drop(dropped);
    }
}

/// The `count` records of a run starting at `start` in `arena`: (raw peer id, bytes). Stops
/// early at a record that does not fit (never the case for records the queue wrote).
pub(crate) fn records(
    arena: &[u8],
    start: usize,
    count: usize,
) -> impl Iterator<Item = (&[u8; 32], &[u8])> {
    let mut at = start;
    (0..count).map_while(move |_| {
        let head = arena.get(at..at.checked_add(RECORD_HEAD)?)?;
        let (peer, len) = head.split_at(32);
        let peer: &[u8; 32] = peer.try_into().ok()?;
        let len = usize::try_from(u32::from_le_bytes(len.try_into().ok()?)).ok()?;
        let body_at = at + RECORD_HEAD;
        let data = arena.get(body_at..body_at.checked_add(len)?)?;
        at = body_at + len;
        Some((peer, data))
    })
}

/// The raw bytes a record keeps of a peer id.
pub(crate) fn peer_key(peer: &PeerId) -> &[u8; 32] {
    peer.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// A distinct, valid peer id.
    fn peer() -> PeerId {
        rats_engine::Identity::generate().peer_id()
    }

    fn binary(epoch: u64, peer: PeerId, data: &[u8]) -> Ev {
        Ev::Binary {
            epoch,
            peer,
            data: Bytes::copy_from_slice(data),
        }
    }

    fn take(q: &EventQueue) -> (VecDeque<Ev>, Vec<u8>) {
        let (mut items, mut arena) = (VecDeque::new(), Vec::new());
        q.take_all(&mut items, &mut arena);
        (items, arena)
    }

    #[test]
    fn small_binaries_of_one_run_share_one_event_and_keep_order() {
        let q = EventQueue::default();
        let (a, b) = (peer(), peer());
        for (i, p) in [a, b, a].into_iter().enumerate() {
            assert!(q.try_push(binary(7, p, &[i as u8; 3])).is_ok());
        }
        let (items, arena) = take(&q);
        assert_eq!(items.len(), 1);
        let Some(Ev::BinaryRun {
            epoch: 7,
            start: 0,
            count: 3,
        }) = items.front()
        else {
            panic!("expected one run of three");
        };
        let got: Vec<_> = records(&arena, 0, 3).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (a.as_bytes(), &[0u8; 3][..]));
        assert_eq!(got[1], (b.as_bytes(), &[1u8; 3][..]));
        assert_eq!(got[2], (a.as_bytes(), &[2u8; 3][..]));
    }

    #[test]
    fn other_events_and_epochs_split_runs_and_large_messages_stay_whole() {
        let q = EventQueue::default();
        let p = peer();
        assert!(q.try_push(binary(1, p, b"x")).is_ok());
        assert!(
            q.try_push(Ev::Connected {
                epoch: 1,
                peer: "c".into()
            })
            .is_ok()
        );
        assert!(q.try_push(binary(1, p, b"y")).is_ok());
        assert!(q.try_push(binary(2, p, b"z")).is_ok());
        let big = vec![9u8; ARENA_MESSAGE + 1];
        assert!(q.try_push(binary(2, p, &big)).is_ok());
        let (items, arena) = take(&q);
        let kinds: Vec<_> = items
            .iter()
            .map(|e| match e {
                Ev::BinaryRun { epoch, count, .. } => format!("run{epoch}x{count}"),
                Ev::Connected { .. } => "connected".into(),
                Ev::Binary { data, .. } => format!("binary{}", data.len()),
                _ => "other".into(),
            })
            .collect();
        assert_eq!(
            kinds,
            ["run1x1", "connected", "run1x1", "run2x1", "binary4097"]
        );
        if let Some(Ev::BinaryRun { start, count, .. }) = items.get(3) {
            let got: Vec<_> = records(&arena, *start, *count).collect();
            assert_eq!(got, [(p.as_bytes(), &b"z"[..])]);
        }
    }

    #[test]
    fn the_bounds_hand_events_back_until_the_consumer_takes() {
        let q = EventQueue::default();
        let p = peer();
        // Arena bytes: records of 4096 bytes until the arena is full.
        let msg = vec![1u8; ARENA_MESSAGE];
        let fit = ARENA_BYTES / (RECORD_HEAD + ARENA_MESSAGE);
        for _ in 0..fit {
            assert!(q.try_push(binary(1, p, &msg)).is_ok());
        }
        let Err(PushError::Full(ev, takes)) = q.try_push(binary(1, p, &msg)) else {
            panic!("the arena bound was not applied");
        };
        // Nothing taken since: waiting is bounded by the limit.
        q.wait_for_space(takes, Duration::from_millis(1));
        let (items, _) = take(&q);
        assert_eq!(items.len(), 1);
        assert!(q.try_push(ev).is_ok());
        // Taken since the push found it full: no wait at all.
        q.wait_for_space(takes, Duration::from_secs(3600));

        // Event count: CAPACITY events, then full.
        let q = EventQueue::default();
        for _ in 0..CAPACITY {
            assert!(q.try_push(Ev::Quit).is_ok());
        }
        assert!(matches!(q.try_push(Ev::Quit), Err(PushError::Full(..))));
        q.push_unbounded(Ev::Quit);
        assert_eq!(take(&q).0.len(), CAPACITY + 1);

        // Event bytes: one large event passes an empty queue, a second waits.
        let q = EventQueue::default();
        let huge = vec![0u8; EVENT_BYTES + 1];
        assert!(q.try_push(binary(1, p, &huge)).is_ok());
        assert!(matches!(
            q.try_push(binary(1, p, &vec![0u8; ARENA_MESSAGE + 1])),
            Err(PushError::Full(..))
        ));
    }

    #[test]
    fn a_closed_queue_drops_pushes() {
        let q = EventQueue::default();
        q.close();
        assert!(matches!(q.try_push(Ev::Quit), Err(PushError::Closed)));
        q.push_unbounded(Ev::Quit);
        assert!(q.state.lock().items.is_empty());
    }

    #[test]
    fn records_stop_at_a_record_that_does_not_fit() {
        let mut arena = vec![0u8; 32];
        arena.extend_from_slice(&100u32.to_le_bytes());
        arena.extend_from_slice(&[1, 2, 3]);
        assert_eq!(records(&arena, 0, 1).count(), 0);
        assert_eq!(records(&arena, usize::MAX, 1).count(), 0);
    }
}
