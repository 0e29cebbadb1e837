//! The per-minute table, the summary, and the verdict: which bounds the run broke.

use std::fmt::Write;

use crate::reconnect::{RECONNECT_TIMEOUT, quantile};
use crate::resources::{FD_FIT_MIN_SPAN, FD_FIT_SKIP, RSS_FIT_MIN_SPAN, RSS_FIT_SKIP, own_rss_mib};
use crate::soak::Soak;

/// Limits whose breach fails the run.
#[derive(Clone, Debug)]
pub struct Bounds {
    /// Largest RSS of any node, MiB.
    pub max_rss_mib: f64,
    /// Steepest RSS growth of a life fitted over at least [`RSS_FIT_MIN_SPAN`], MiB/min.
    pub max_rss_slope: f64,
    /// Most open descriptors of any node.
    pub max_fds: f64,
    /// Steepest descriptor growth, per min.
    pub max_fd_slope: f64,
}

/// One row of the table: the figures so far (counters are cumulative).
pub struct Row {
    text: String,
}

/// min / median / max of `v`.
fn spread(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some((v[0], v[v.len() / 2], v[v.len() - 1]))
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// The column heads.
pub fn header() -> String {
    format!(
        "{:>5} {:>5} {:>5} | {:>15} {:>7} | {:>11} {:>6} | {:>23} {:>7} | {:>17} {:>6} | {:>22} | {:>11} {:>4} | {:>7} | {:>5}",
        "t s",
        "up",
        "kills",
        "RSS MiB min/med/max",
        "MiB/min",
        "fds mn/md/mx",
        "fd/min",
        "chat sent/deliv/acked",
        "lost",
        "gossip got/expect",
        "ratio",
        "xfer go/ok/res/fail/bad",
        "reconn p50/max",
        "t/o",
        "panic/E",
        "soak",
    )
}

impl Row {
    /// The figures of `soak` at `secs` into the run.
    pub fn now(soak: &Soak, secs: f64) -> Row {
        let cur = soak.resources.current();
        let rss = spread(cur.iter().map(|s| s.rss_mib).collect());
        let fds = spread(cur.iter().map(|s| f64::from(s.fds)).collect());
        let res = &soak.resources;
        let (cur_rss, cur_fd) = res.current_slopes();
        let worst = |cur: Option<f64>, done: f64, fitted: u64| match cur {
            Some(c) => opt(Some(c.max(done)), 2),
            None if fitted > 0 => opt(Some(done), 2),
            None => "-".to_string(),
        };
        let worst_rss = worst(cur_rss, res.rss_slope.value, res.rss_fitted);
        let worst_fd = worst(cur_fd, res.fd_slope.value, res.fd_fitted);
        let c = &soak.chat.counts;
        let g = &soak.gossip.counts;
        let t = &soak.transfers.counts;
        let r = &soak.reconnects;
        let mut text = String::new();
        let _ = write!(
            text,
            "{:>5.0} {:>2}/{:<2} {:>5} | {:>15} {:>7} | {:>11} {:>6} | {:>23} {:>7} | {:>17} {:>6} | {:>22} | {:>11} {:>4} | {:>7} | {:>5.0}",
            secs,
            soak.fleet.up_count(),
            soak.fleet.nodes.len(),
            soak.counts.kills,
            rss.map_or("-".into(), |(a, b, c)| format!("{a:.0}/{b:.0}/{c:.0}")),
            worst_rss,
            fds.map_or("-".into(), |(a, b, c)| format!("{a:.0}/{b:.0}/{c:.0}")),
            worst_fd,
            format!("{}/{}/{}", c.sent, c.delivered, c.acked),
            c.lost_unacked,
            format!("{}/{}", g.got, g.expected),
            format!("{:.4}", soak.gossip.ratio()),
            format!(
                "{}/{}/{}/{}/{}",
                t.started, t.completed, t.resumed, t.failed, t.corrupt
            ),
            format!(
                "{}/{}",
                opt(quantile(&r.full, 0.5), 2),
                opt(quantile(&r.full, 1.0), 2)
            ),
            r.timeouts,
            format!("{}/{}", soak.logs.panics, soak.logs.errors),
            own_rss_mib(),
        );
        Row { text }
    }

    /// The row as printed.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// What the column heads mean.
pub const LEGEND: &str = "\
columns: t s = seconds since all nodes were up; up = nodes up / nodes; RSS and fds = the nodes
up now (min/median/max); MiB/min and fd/min = steepest least-squares slope of any node life
judged so far (RSS: from 120 s after the life's start, over at least 180 s; fds: from 45 s, over
at least 90 s; '-' before a life is long enough); chat = messages sent/delivered/acknowledged (cumulative), lost = confirmed by the
sender's tool, never delivered (allowed around a kill); gossip = deliveries to subscribers up for
the whole window / expected; xfer = transfers handed to a sender / completed with the right
SHA-256 / of those resumed after a kill / failed / corrupt; reconn = seconds from a restart to
as many peers as before the kill (p50/max), t/o = not back within 60 s; panic/E = log lines with
'panic' / ERROR; soak = the soak's own RSS (MiB).";

/// The summary after the run, and the reasons it failed (empty: passed).
pub fn summary(soak: &Soak, bounds: &Bounds, stuck: &[String]) -> (String, Vec<String>) {
    let mut s = String::new();
    let mut fail = Vec::new();
    let c = &soak.chat.counts;
    let g = &soak.gossip.counts;
    let t = &soak.transfers.counts;
    let r = &soak.reconnects;
    let k = &soak.counts;
    let res = &soak.resources;
    let _ = writeln!(
        s,
        "nodes: {} kills ({} aimed at a running transfer), {} restarts, {} crashes, {} identities lost, {} spawn failures, \
         {} commands dropped, {} lag notices, {} other command errors",
        k.kills,
        k.aimed_kills,
        k.restarts,
        k.crashes,
        k.identity_lost,
        k.spawn_failures,
        k.dropped_commands,
        k.lag_notices,
        k.command_errors
    );
    let _ = writeln!(
        s,
        "chat: {} sent, {} confirmed by the sender's tool, {} refused (peer gone), {} delivered, \
         {} acknowledged; acknowledged but lost/duplicated/corrupt: {}; duplicates {}, corrupt {}, \
         bad acks {}; unacknowledged: {} delivered (ack lost), {} lost around a kill, {} lost with \
         no kill near, {} unconfirmed (sender killed first), {} late",
        c.sent,
        c.confirmed,
        c.refused,
        c.delivered,
        c.acked,
        c.acked_broken,
        c.duplicates,
        c.corrupt,
        c.bad_acks,
        c.delivered_unacked,
        c.lost_unacked - c.lost_no_kill,
        c.lost_no_kill,
        c.unconfirmed,
        c.late
    );
    let _ = writeln!(
        s,
        "gossip: {} published, {} counted ({} left out: publisher killed right after), \
         {}/{} expected deliveries = {:.4}, {} to restarted subscribers, {} duplicates in one \
         life, {} printed again after a restart, {} corrupt, {} late",
        g.published,
        g.counted,
        g.left_out,
        g.got,
        g.expected,
        soak.gossip.ratio(),
        g.extra,
        g.duplicates,
        g.again_after_restart,
        g.corrupt,
        g.late
    );
    let _ = writeln!(
        s,
        "transfers: {} started, {} not created (sender refused or killed first), {} completed \
         with the right SHA-256 ({} of them resumed after a kill; \
         {} found in place though the killed receiver never reported them), \
         {} failed, {} corrupt, {} kills hit a running transfer, {} still open at the end",
        t.started,
        t.not_created,
        t.completed,
        t.resumed,
        t.unreported,
        t.failed,
        t.corrupt,
        t.interruptions,
        soak.transfers.open()
    );
    let _ = writeln!(
        s,
        "reconnect after restart: first peer p50 {} s, max {} s; back to the peers before the \
         kill p50 {} s, p90 {} s, max {} s ({} restarts measured, {} not back within {} s, {} \
         killed again first)",
        opt(quantile(&r.first, 0.5), 2),
        opt(quantile(&r.first, 1.0), 2),
        opt(quantile(&r.full, 0.5), 2),
        opt(quantile(&r.full, 0.9), 2),
        opt(quantile(&r.full, 1.0), 2),
        r.full.len(),
        r.timeouts,
        RECONNECT_TIMEOUT.as_secs(),
        r.cut_short
    );
    let _ = writeln!(
        s,
        "resources: max RSS {:.1} MiB (node {}), max fds {:.0} (node {}); steepest RSS slope \
         {:.2} MiB/min (node {}) over {} lives judged (from {} s after start, spanning at \
         least {} s), steepest fd slope {:.2}/min (node {}) over {} lives (from {} s, at least \
         {} s); bounds: RSS {} MiB, {} MiB/min, fds {}, {}/min",
        res.max_rss.value,
        res.max_rss.node,
        res.max_fds.value,
        res.max_fds.node,
        res.rss_slope.value,
        res.rss_slope.node,
        res.rss_fitted,
        RSS_FIT_SKIP.as_secs(),
        RSS_FIT_MIN_SPAN.as_secs(),
        res.fd_slope.value,
        res.fd_slope.node,
        res.fd_fitted,
        FD_FIT_SKIP.as_secs(),
        FD_FIT_MIN_SPAN.as_secs(),
        bounds.max_rss_mib,
        bounds.max_rss_slope,
        bounds.max_fds,
        bounds.max_fd_slope
    );
    let _ = writeln!(
        s,
        "logs: {} panic lines, {} ERROR lines, {} WARN lines, {} other lines",
        soak.logs.panics, soak.logs.errors, soak.logs.warnings, soak.logs.other
    );
    for l in &soak.logs.first {
        let _ = writeln!(s, "  {l}");
    }
    if soak.logs.first.is_empty() && !soak.logs.first_warnings.is_empty() {
        let _ = writeln!(s, "first warnings:");
        for l in &soak.logs.first_warnings {
            let _ = writeln!(s, "  {l}");
        }
    }
    let problems: Vec<&String> = soak
        .problems
        .iter()
        .chain(&soak.chat.problems)
        .chain(&soak.transfers.problems)
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(s, "first problems seen:");
        for p in problems {
            let _ = writeln!(s, "  {p}");
        }
    }

    let mut check = |bad: bool, what: String| {
        if bad {
            fail.push(what);
        }
    };
    check(
        soak.logs.panics > 0,
        format!("{} panic line(s) in the logs", soak.logs.panics),
    );
    check(
        k.crashes > 0,
        format!("{} node process(es) ended without being killed", k.crashes),
    );
    check(
        k.identity_lost > 0,
        format!("{} restart(s) lost the node's identity", k.identity_lost),
    );
    check(
        c.acked_broken > 0,
        format!(
            "{} acknowledged message(s) lost, duplicated or corrupt",
            c.acked_broken
        ),
    );
    check(
        c.corrupt + c.bad_acks > 0,
        format!(
            "{} corrupt chat message(s), {} bad acknowledgment(s)",
            c.corrupt, c.bad_acks
        ),
    );
    check(
        g.corrupt > 0,
        format!("{} corrupt publication(s)", g.corrupt),
    );
    check(t.corrupt > 0, format!("{} corrupt file(s)", t.corrupt));
    check(
        t.failed > 0,
        format!(
            "{} transfer(s) failed or were cancelled instead of resuming",
            t.failed
        ),
    );
    check(
        !stuck.is_empty(),
        format!(
            "{} transfer(s) never completed though both nodes were up long enough: {}",
            stuck.len(),
            stuck.join("; ")
        ),
    );
    check(
        res.max_rss.value > bounds.max_rss_mib,
        format!(
            "RSS {:.1} MiB (node {}) over the bound {} MiB",
            res.max_rss.value, res.max_rss.node, bounds.max_rss_mib
        ),
    );
    check(
        res.rss_slope.value > bounds.max_rss_slope,
        format!(
            "RSS grew {:.2} MiB/min (node {}), over the bound {} MiB/min",
            res.rss_slope.value, res.rss_slope.node, bounds.max_rss_slope
        ),
    );
    check(
        res.max_fds.value > bounds.max_fds,
        format!(
            "{:.0} open descriptors (node {}), over the bound {}",
            res.max_fds.value, res.max_fds.node, bounds.max_fds
        ),
    );
    check(
        res.fd_slope.value > bounds.max_fd_slope,
        format!(
            "descriptors grew {:.1}/min (node {}), over the bound {}/min",
            res.fd_slope.value, res.fd_slope.node, bounds.max_fd_slope
        ),
    );
    (s, fail)
}
