//! One timer per node, not per connection or message: every tick it advances the coarse clock
//! and checks all connections for keepalive pings, idle and write timeouts, and the end of
//! retirement and drain periods.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::event::DisconnectReason;
use crate::node::control::Control;
use crate::node::shared::NodeShared;
use crate::outbound::CloseMode;

/// A retired (duplicate) connection is closed this long after it lost.
const RETIRE_GRACE_MS: u64 = 3_000;
/// A gracefully closing connection is cut this long after the close began.
const DRAIN_MS: u64 = 5_000;
/// A retired connection (replaced by a better one, e.g. a relay by a punched path) still
/// flushing what was queued on it is given longer, while its writes make progress...
const RETIRED_STALL_MS: u64 = 2_000;
/// ...up to this long.
const RETIRED_DRAIN_MAX_MS: u64 = 120_000;

/// The tick: a quarter of the shortest timeout, between 50 ms and 1 s.
pub(crate) fn tick_interval(shared: &NodeShared) -> Duration {
    let c = &shared.config;
    let shortest = c
        .keepalive_interval
        .min(c.idle_timeout)
        .min(c.write_timeout);
    (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

pub(crate) async fn run(shared: Arc<NodeShared>) {
    let mut interval = tokio::time::interval(tick_interval(&shared));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.cancel.cancelled() => return,
            _ = interval.tick() => {}
        }
        sweep(&shared);
    }
}

fn sweep(shared: &NodeShared) {
    let now = shared.clock.tick();
    let c = &shared.config;
    let keepalive = c.keepalive_interval.as_millis() as u64;
    let idle = c.idle_timeout.as_millis() as u64;
    let write = c.write_timeout.as_millis() as u64;
    for entry in shared.connections.iter() {
        let conn = entry.value();
        let closing = conn.closing_since.load(Ordering::Acquire);
        if closing != 0 {
            let age = now.saturating_sub(closing);
            if conn.queue.is_closed() {
                // Data on a replaced connection is still delivered both ways: a slow relay's
                // backlog must not be cut (and lost) while it keeps moving, out or in.
                let sending = (conn.queue.queued_bytes() > 0
                    || conn.write_since.load(Ordering::Relaxed) != 0)
                    && now.saturating_sub(conn.last_written.load(Ordering::Relaxed))
                        < RETIRED_STALL_MS;
                let receiving =
                    now.saturating_sub(conn.last_recv.load(Ordering::Relaxed)) < RETIRED_STALL_MS;
                let still_flushing = conn.retired.load(Ordering::Acquire)
                    && (sending || receiving)
                    && age < RETIRED_DRAIN_MAX_MS;
                if age >= DRAIN_MS && !still_flushing {
                    conn.cancel.cancel();
                }
            } else if conn.retired.load(Ordering::Acquire) && age >= RETIRE_GRACE_MS {
                conn.close(DisconnectReason::Duplicate, CloseMode::Graceful, now);
            }
        }
        let write_since = conn.write_since.load(Ordering::Relaxed);
        if write_since != 0 && now.saturating_sub(write_since) >= write {
            conn.close(DisconnectReason::SlowPeer, CloseMode::Abort, now);
            continue;
        }
        if now.saturating_sub(conn.last_recv.load(Ordering::Relaxed)) >= idle {
            conn.close(DisconnectReason::IdleTimeout, CloseMode::Abort, now);
            continue;
        }
        if now.saturating_sub(conn.last_send.load(Ordering::Relaxed)) >= keepalive {
            let nonce = shared.clock.micros().max(1);
            conn.ping_nonce.store(nonce, Ordering::Release);
            conn.send_control(&Control::Ping(nonce));
            // Count the ping as sent now so one slow write does not queue a ping per tick.
            conn.last_send.store(now, Ordering::Relaxed);
        }
    }
}
