//! Memory (VmRSS) and open file descriptors of each node process, read from /proc, with a
//! least-squares slope per life, leaving out its start (see [`RSS_FIT_SKIP`]).

use std::time::{Duration, Instant};

/// The first part of each life left out of the RSS slope: a fresh node grows from ~12 to
/// ~30 MiB over its first minutes as it meets the group and takes its first transfers (glibc
/// arenas of new threads), which is not a leak.
pub const RSS_FIT_SKIP: Duration = Duration::from_secs(120);

/// An RSS slope is judged only over at least this much of a life.
pub const RSS_FIT_MIN_SPAN: Duration = Duration::from_secs(180);

/// Descriptors settle once the node has met the group.
pub const FD_FIT_SKIP: Duration = Duration::from_secs(45);

/// A descriptor slope is judged only over at least this much of a life.
pub const FD_FIT_MIN_SPAN: Duration = Duration::from_secs(90);

/// One reading.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub rss_mib: f64,
    pub fds: u32,
}

/// Reads process `pid`'s RSS and descriptor count (None if it is gone).
pub fn sample(pid: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u32;
    Some(Sample {
        rss_mib: kib / 1024.0,
        fds,
    })
}

/// Online least-squares fit of y over t (minutes), from `skip` after a life's start.
#[derive(Clone, Copy, Debug)]
struct Fit {
    skip: Duration,
    min_span: Duration,
    from: Option<Instant>,
    last: Option<Instant>,
    n: f64,
    st: f64,
    sy: f64,
    stt: f64,
    sty: f64,
}

impl Fit {
    fn new(skip: Duration, min_span: Duration) -> Self {
        Fit {
            skip,
            min_span,
            from: None,
            last: None,
            n: 0.0,
            st: 0.0,
            sy: 0.0,
            stt: 0.0,
            sty: 0.0,
        }
    }

    fn add(&mut self, started: Instant, now: Instant, y: f64) {
        if now - started < self.skip {
            return;
        }
        let from = *self.from.get_or_insert(now);
        self.last = Some(now);
        let t = (now - from).as_secs_f64() / 60.0;
        self.n += 1.0;
        self.st += t;
        self.sy += y;
        self.stt += t * t;
        self.sty += t * y;
    }

    /// Slope in y per minute, once the fit spans `min_span`.
    fn slope(&self) -> Option<f64> {
        let (from, last) = (self.from?, self.last?);
        if last - from < self.min_span {
            return None;
        }
        let d = self.n * self.stt - self.st * self.st;
        (self.n >= 3.0 && d > 0.0).then(|| (self.n * self.sty - self.st * self.sy) / d)
    }
}

/// One life of one node.
#[derive(Debug)]
struct Life {
    started: Instant,
    rss: Fit,
    fds: Fit,
    last: Option<Sample>,
}

/// The worst figure seen and where.
#[derive(Clone, Copy, Debug, Default)]
pub struct Worst {
    pub value: f64,
    pub node: usize,
}

impl Worst {
    fn see(&mut self, value: f64, node: usize) {
        if value > self.value {
            *self = Worst { value, node };
        }
    }
}

/// Readings of all nodes.
#[derive(Debug)]
pub struct Resources {
    lives: Vec<Option<Life>>,
    /// Steepest RSS slope (MiB/min) of any life spanning enough.
    pub rss_slope: Worst,
    /// Steepest descriptor slope (per min), likewise.
    pub fd_slope: Worst,
    /// Largest RSS (MiB) seen.
    pub max_rss: Worst,
    /// Most descriptors seen.
    pub max_fds: Worst,
    /// Lives whose RSS slope was judged.
    pub rss_fitted: u64,
    /// Lives whose descriptor slope was judged.
    pub fd_fitted: u64,
}

impl Resources {
    /// For `nodes` nodes.
    pub fn new(nodes: usize) -> Self {
        Resources {
            lives: (0..nodes).map(|_| None).collect(),
            rss_slope: Worst::default(),
            fd_slope: Worst::default(),
            max_rss: Worst::default(),
            max_fds: Worst::default(),
            rss_fitted: 0,
            fd_fitted: 0,
        }
    }

    /// Node `n` started a life at `at`.
    pub fn started(&mut self, n: usize, at: Instant) {
        self.ended(n);
        self.lives[n] = Some(Life {
            started: at,
            rss: Fit::new(RSS_FIT_SKIP, RSS_FIT_MIN_SPAN),
            fds: Fit::new(FD_FIT_SKIP, FD_FIT_MIN_SPAN),
            last: None,
        });
    }

    /// Node `n`'s life ended: its slopes count.
    pub fn ended(&mut self, n: usize) {
        let Some(life) = self.lives[n].take() else {
            return;
        };
        if let Some(rss) = life.rss.slope() {
            self.rss_fitted += 1;
            self.rss_slope.see(rss, n);
        }
        if let Some(fds) = life.fds.slope() {
            self.fd_fitted += 1;
            self.fd_slope.see(fds, n);
        }
    }

    /// Records a reading of node `n` at `now`.
    pub fn record(&mut self, n: usize, s: Sample, now: Instant) {
        self.max_rss.see(s.rss_mib, n);
        self.max_fds.see(f64::from(s.fds), n);
        let Some(life) = &mut self.lives[n] else {
            return;
        };
        life.last = Some(s);
        life.rss.add(life.started, now, s.rss_mib);
        life.fds.add(life.started, now, f64::from(s.fds));
    }

    /// The last readings of the nodes up.
    pub fn current(&self) -> Vec<Sample> {
        self.lives.iter().flatten().filter_map(|l| l.last).collect()
    }

    /// Steepest slopes (RSS MiB/min, fds/min) of the current lives that span enough.
    pub fn current_slopes(&self) -> (Option<f64>, Option<f64>) {
        let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.lives.iter().flatten().fold((None, None), |(r, f), l| {
            (max(r, l.rss.slope()), max(f, l.fds.slope()))
        })
    }

    /// Judges the lives still running (at the end of the run).
    pub fn finish(&mut self) {
        for n in 0..self.lives.len() {
            self.ended(n);
        }
    }
}

/// The soak's own RSS in MiB.
pub fn own_rss_mib() -> f64 {
    sample(std::process::id()).map_or(0.0, |s| s.rss_mib)
}
