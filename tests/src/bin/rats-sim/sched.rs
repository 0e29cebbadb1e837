//! The discrete-event scheduler: events in simulated time, taken in (time, insertion) order,
//! so that a run is the same every time for one seed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Simulated time in microseconds since the start of the run.
pub type Micros = u64;

/// A queue of events of type `E` in simulated time.
pub struct Scheduler<E> {
    heap: BinaryHeap<Reverse<(Micros, u64, Slot<E>)>>,
    next_seq: u64,
    now: Micros,
}

/// An event, compared by its key only (the heap orders by time, then sequence).
struct Slot<E>(E);

impl<E> PartialEq for Slot<E> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<E> Eq for Slot<E> {}
impl<E> PartialOrd for Slot<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Slot<E> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl<E> Scheduler<E> {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        Scheduler {
            heap: BinaryHeap::new(),
            next_seq: 0,
            now: 0,
        }
    }

    /// The time of the event taken last.
    pub fn now(&self) -> Micros {
        self.now
    }

    /// Schedules `event` at `at` (never before now).
    pub fn at(&mut self, at: Micros, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap
            .push(Reverse((at.max(self.now), seq, Slot(event))));
    }

    /// The next event up to `until`, advancing the clock to it.
    pub fn next_until(&mut self, until: Micros) -> Option<E> {
        let Reverse((at, _, _)) = self.heap.peek()?;
        if *at > until {
            return None;
        }
        let Reverse((at, _, Slot(event))) = self.heap.pop()?;
        self.now = at;
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::Scheduler;

    #[test]
    fn events_come_in_time_then_insertion_order() {
        let mut s = Scheduler::new();
        s.at(20, "c");
        s.at(10, "a");
        s.at(10, "b");
        s.at(30, "d");
        let mut got = Vec::new();
        while let Some(e) = s.next_until(25) {
            got.push((s.now(), e));
        }
        assert_eq!(got, vec![(10, "a"), (10, "b"), (20, "c")]);
        assert_eq!(s.next_until(u64::MAX), Some("d"));
    }
}
