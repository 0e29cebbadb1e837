//! `rats_send_binary`'s fast path: each thread remembers the last client and peer it sent a
//! binary message to, with a sender bound to that peer's connection, so a loop sending to one
//! peer skips the handle table, the peer id's hex parse and the peer lookup. The entry is used
//! only while the client's run that made it is still on (its callback gate open at the same
//! epoch: not stopped, restarted or destroyed) and for the very same peer id string; anything
//! else, and any send through it that does not simply queue, goes the full way.

use std::cell::RefCell;
use std::ffi::c_char;
use std::sync::Arc;

use rats_engine::core::messaging::BinarySender;

use crate::dispatch::Shared;
use crate::engine::{self, SenderOutcome};

/// A peer id as C passes it: 64 hex characters.
const HEX_LEN: usize = 64;

struct Entry {
    handle: usize,
    /// The peer id string exactly as the caller passed it.
    peer_hex: [u8; HEX_LEN],
    shared: Arc<Shared>,
    epoch: u64,
    tx: BinarySender,
}

thread_local! {
    static LAST: RefCell<Option<Entry>> = const { RefCell::new(None) };
}

/// Sends `data` through this thread's cached sender if it is for (`handle`, `peer_id`) and
/// still valid; `true` when the message was queued. `false`: nothing was sent, take the full
/// path (the entry is dropped if it failed).
///
/// # Safety
/// `peer_id` is a non-NULL NUL-terminated string.
pub(crate) unsafe fn try_send(handle: usize, peer_id: *const c_char, data: &[u8]) -> bool {
    LAST.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return false;
        };
        let Some(e) = slot.as_ref() else {
            return false;
        };
        // SAFETY: the contract above.
        if e.handle != handle
            || !unsafe { same_string(&e.peer_hex, peer_id) }
            || !e.shared.gate.is_open(e.epoch)
        {
            return false;
        }
        match engine::send_with(&e.tx, data) {
            SenderOutcome::Sent => true,
            SenderOutcome::Stale | SenderOutcome::Failed => {
                *slot = None;
                false
            }
        }
    })
}

/// Remembers `tx` for (`handle`, `peer_id`) on this thread (unless `peer_id` is not exactly
/// 64 bytes long, which the full path accepts with surrounding spaces).
///
/// # Safety
/// `peer_id` is a non-NULL NUL-terminated string.
pub(crate) unsafe fn remember(
    handle: usize,
    peer_id: *const c_char,
    shared: Arc<Shared>,
    epoch: u64,
    tx: BinarySender,
) {
    // SAFETY: the contract above.
    let bytes = unsafe { std::ffi::CStr::from_ptr(peer_id) }.to_bytes();
    let Ok(peer_hex) = <[u8; HEX_LEN]>::try_from(bytes) else {
        return;
    };
    LAST.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = Some(Entry {
                handle,
                peer_hex,
                shared,
                epoch,
                tx,
            });
        }
    });
}

/// Whether the C string `s` is exactly `want`, reading no further than its NUL.
///
/// # Safety
/// `s` is a non-NULL NUL-terminated string.
unsafe fn same_string(want: &[u8; HEX_LEN], s: *const c_char) -> bool {
    for (i, &w) in want.iter().enumerate() {
        // SAFETY: bytes 0..i were equal to `want` and so not NUL: byte i is within the string
        // (at most its terminator).
        if unsafe { *s.add(i) }.cast_unsigned() != w {
            return false;
        }
    }
    // SAFETY: bytes 0..64 were not NUL, so byte 64 is within the string.
    unsafe { *s.add(HEX_LEN) == 0 }
}
