//! Tests of the subscriber stack, each with its own scoped subscriber and temp directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use tracing::{Dispatch, dispatcher};

use super::*;
use crate::writer::rotated_path;

/// A directory under the system temp dir, unique per test and process, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rats-log-test-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn log(&self) -> PathBuf {
        self.0.join("rats.log")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn file_config(path: &Path) -> LogConfig {
    LogConfig {
        stderr: false,
        file: Some(path.to_path_buf()),
        ..LogConfig::default()
    }
}

/// A subscriber whose console output is captured into the returned buffer.
fn captured(config: &LogConfig) -> (Dispatch, LogHandle, Arc<Mutex<Vec<u8>>>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let (stack, handle) = build(config, Console::Capture(Arc::clone(&buf))).unwrap();
    (Dispatch::new(stack), handle, buf)
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

fn console_text(buf: &Mutex<Vec<u8>>) -> String {
    String::from_utf8(buf.lock().clone()).unwrap()
}

#[test]
fn rotation_keeps_retention_count_files_each_within_the_limit() {
    let dir = TempDir::new("rotation");
    let limit = 4096;
    let config = LogConfig {
        rotation_size: limit,
        retention_count: 3,
        ..file_config(&dir.log())
    };
    let (sub, _log) = subscriber(&config).unwrap();
    let lines = 2_000;
    tracing::subscriber::with_default(sub, || {
        for i in 0..lines {
            tracing::info!(i, "a line of about a hundred bytes, padded with some words");
        }
    });

    let mut longest = 0;
    let mut numbers = Vec::new();
    // Oldest first: rats.log.3, .2, .1, then rats.log.
    for path in (1..=3)
        .rev()
        .map(|n| rotated_path(&dir.log(), n))
        .chain([dir.log()])
    {
        let text = read(&path);
        assert!(!text.is_empty(), "{} is missing or empty", path.display());
        assert!(
            text.ends_with('\n'),
            "{} ends inside a line",
            path.display()
        );
        assert!(
            text.len() as u64 <= limit,
            "{} has {} bytes, more than the limit {limit}",
            path.display(),
            text.len()
        );
        for line in text.lines() {
            longest = longest.max(line.len() + 1);
            let n: usize = line
                .split("i=")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("torn line {line:?}"));
            numbers.push(n);
        }
    }
    assert!(longest < 200);
    assert!(
        !rotated_path(&dir.log(), 4).exists(),
        "more files than retention_count"
    );
    // The kept lines are the newest ones, in order, without gaps.
    let first = numbers[0];
    assert_eq!(numbers, (first..lines).collect::<Vec<_>>());
    assert!(first > 0, "old files were not deleted");
}

#[test]
fn rotation_is_safe_from_many_threads() {
    let dir = TempDir::new("threads");
    let limit = 8192;
    let config = LogConfig {
        rotation_size: limit,
        retention_count: 4,
        ..file_config(&dir.log())
    };
    let (sub, _log) = subscriber(&config).unwrap();
    let dispatch = Dispatch::new(sub);
    let (threads, per_thread) = (4, 1_000);
    std::thread::scope(|s| {
        for t in 0..threads {
            let dispatch = &dispatch;
            s.spawn(move || {
                dispatcher::with_default(dispatch, || {
                    for i in 0..per_thread {
                        tracing::info!(t, i, "concurrent line end");
                    }
                })
            });
        }
    });
    let mut count = 0;
    for path in (1..=4)
        .map(|n| rotated_path(&dir.log(), n))
        .chain([dir.log()])
    {
        let text = read(&path);
        // At most the limit plus one line (here every line is shorter than the slack).
        assert!(
            text.len() as u64 <= limit,
            "{}: {} bytes",
            path.display(),
            text.len()
        );
        for line in text.lines() {
            let last = line.split_whitespace().last().unwrap_or_default();
            assert!(
                line.contains("concurrent line end t=") && last.starts_with("i="),
                "{line:?}"
            );
            assert_eq!(
                line.matches("concurrent").count(),
                1,
                "interleaved: {line:?}"
            );
            count += 1;
        }
    }
    assert!(!rotated_path(&dir.log(), 5).exists());
    assert!(count > 0 && count <= threads * per_thread);
}

#[test]
fn an_event_larger_than_the_limit_gets_a_file_of_its_own() {
    let dir = TempDir::new("big");
    let config = LogConfig {
        rotation_size: 100,
        retention_count: 2,
        timestamps: false,
        ..file_config(&dir.log())
    };
    let (sub, _log) = subscriber(&config).unwrap();
    let big = "x".repeat(300);
    tracing::subscriber::with_default(sub, || {
        tracing::info!("small 1");
        tracing::info!("{big}");
        tracing::info!("small 2");
    });
    assert!(read(&rotated_path(&dir.log(), 2)).contains("small 1"));
    assert!(read(&rotated_path(&dir.log(), 1)).contains(&big));
    assert!(read(&dir.log()).contains("small 2"));
}

#[test]
fn rotation_size_zero_never_rotates_and_retention_zero_keeps_nothing() {
    let dir = TempDir::new("zero");
    let (sub, _log) = subscriber(&LogConfig {
        rotation_size: 0,
        ..file_config(&dir.log())
    })
    .unwrap();
    tracing::subscriber::with_default(sub, || {
        for i in 0..200 {
            tracing::info!(i, "never rotated");
        }
    });
    assert_eq!(read(&dir.log()).lines().count(), 200);
    assert!(!rotated_path(&dir.log(), 1).exists());

    let dir = TempDir::new("zero-retention");
    let (sub, _log) = subscriber(&LogConfig {
        rotation_size: 500,
        retention_count: 0,
        ..file_config(&dir.log())
    })
    .unwrap();
    tracing::subscriber::with_default(sub, || {
        for i in 0..200 {
            tracing::info!(i, "rotated away");
        }
    });
    assert!(read(&dir.log()).len() <= 500);
    assert!(read(&dir.log()).contains("i=199"));
    assert!(!rotated_path(&dir.log(), 1).exists());
}

#[test]
fn lowering_retention_deletes_the_files_beyond_it() {
    let dir = TempDir::new("lower");
    for n in 1..=6 {
        fs::write(rotated_path(&dir.log(), n), format!("old {n}\n")).unwrap();
    }
    let (sub, _log) = subscriber(&LogConfig {
        rotation_size: 300,
        retention_count: 2,
        ..file_config(&dir.log())
    })
    .unwrap();
    tracing::subscriber::with_default(sub, || {
        for i in 0..10 {
            tracing::info!(i, "line");
        }
    });
    assert!(rotated_path(&dir.log(), 2).exists());
    for n in 3..=6 {
        assert!(!rotated_path(&dir.log(), n).exists(), "rats.log.{n} left");
    }
}

#[test]
fn level_change_at_runtime_takes_effect_on_the_next_line() {
    let dir = TempDir::new("level");
    let (sub, log) = subscriber(&LogConfig {
        level: LogLevel::Warn,
        ..file_config(&dir.log())
    })
    .unwrap();
    tracing::subscriber::with_default(sub, || {
        // The same callsite before and after, so a cached interest would show.
        for round in 0..2 {
            tracing::info!(round, "info line");
            tracing::warn!(round, "warn line");
            if round == 0 {
                assert!(!read(&dir.log()).contains("info line"));
                log.set_level(LogLevel::Info);
            }
        }
        log.set_level("ERROR".parse().unwrap());
        tracing::warn!("warn after error level");
    });
    let text = read(&dir.log());
    assert!(!text.contains("info line round=0"), "{text}");
    assert!(text.contains("info line round=1"), "{text}");
    assert!(text.contains("warn line round=0") && text.contains("warn line round=1"));
    assert!(!text.contains("warn after error level"));
    assert_eq!(log.level(), LogLevel::Error);
}

#[test]
fn disabled_writes_nothing_until_enabled() {
    let dir = TempDir::new("disabled");
    let config = LogConfig {
        enabled: false,
        ..file_config(&dir.log())
    };
    let (sub, log, console) = captured(&LogConfig {
        stderr: true,
        ..config
    });
    dispatcher::with_default(&sub, || {
        tracing::error!("while disabled");
        let _span = tracing::error_span!("peer", peer = "p1").entered();
        tracing::error!("still disabled");
    });
    assert_eq!(read(&dir.log()), "");
    assert!(console.lock().is_empty());
    assert!(!log.is_enabled());

    log.set_enabled(true);
    dispatcher::with_default(&sub, || tracing::info!("enabled again"));
    assert!(read(&dir.log()).contains("enabled again"));
    assert!(console_text(&console).contains("enabled again"));
}

#[test]
fn clear_log_file_truncates_and_logging_goes_on() {
    let dir = TempDir::new("clear");
    let (sub, log) = subscriber(&file_config(&dir.log())).unwrap();
    tracing::subscriber::with_default(sub, || {
        tracing::info!("before clear");
        assert!(read(&dir.log()).contains("before clear"));
        log.clear_log_file().unwrap();
        assert_eq!(fs::metadata(dir.log()).unwrap().len(), 0);
        tracing::info!("after clear");
    });
    let text = read(&dir.log());
    assert!(!text.contains("before clear"));
    assert!(text.starts_with(|c: char| c.is_ascii_digit()) && text.contains("after clear"));
    assert_eq!(text.lines().count(), 1);
}

#[test]
fn clear_log_file_resets_the_rotation_count() {
    let dir = TempDir::new("clear-rotation");
    let (sub, log) = subscriber(&LogConfig {
        rotation_size: 1000,
        ..file_config(&dir.log())
    })
    .unwrap();
    tracing::subscriber::with_default(sub, || {
        for i in 0..8 {
            tracing::info!(i, "filling");
        }
        log.clear_log_file().unwrap();
        for i in 0..8 {
            tracing::info!(i, "filling");
        }
    });
    // 8 lines fit in 1000 bytes: the cleared bytes must not count.
    assert!(!rotated_path(&dir.log(), 1).exists());
}

#[test]
fn bad_level_string_gives_a_clear_error() {
    let err = "loud".parse::<LogLevel>().unwrap_err();
    assert!(matches!(&err, LogError::InvalidLevel { given } if given == "loud"));
    assert_eq!(
        err.to_string(),
        "invalid log level \"loud\": expected one of trace, debug, info, warn, error"
    );
    let err = serde_json::from_str::<LogConfig>(r#"{"level": "verbose"}"#).unwrap_err();
    assert!(
        err.to_string().contains("invalid log level \"verbose\""),
        "{err}"
    );

    for (s, l) in [
        ("trace", LogLevel::Trace),
        ("DEBUG", LogLevel::Debug),
        (" Info ", LogLevel::Info),
        ("WARNING", LogLevel::Warn),
        ("warn", LogLevel::Warn),
        ("Error", LogLevel::Error),
    ] {
        assert_eq!(s.parse::<LogLevel>().unwrap(), l);
    }
}

#[test]
fn bad_filter_gives_a_clear_error_and_changes_nothing() {
    let bad = LogConfig {
        filter: Some("rats_core=loud".into()),
        stderr: false,
        ..LogConfig::default()
    };
    let err = subscriber(&bad).err().expect("bad filter accepted");
    assert!(
        matches!(&err, LogError::InvalidFilter { directives, .. } if directives == "rats_core=loud")
    );
    assert!(
        err.to_string()
            .starts_with("invalid log filter \"rats_core=loud\""),
        "{err}"
    );

    let (_sub, log) = subscriber(&LogConfig {
        stderr: false,
        ..LogConfig::default()
    })
    .unwrap();
    assert!(log.reconfigure(&bad).is_err());
    assert_eq!(log.config().filter, None);
}

#[test]
fn filter_directives_add_to_the_level() {
    let dir = TempDir::new("filter");
    let (sub, _log) = subscriber(&LogConfig {
        level: LogLevel::Warn,
        filter: Some("chatty=debug".into()),
        ..file_config(&dir.log())
    })
    .unwrap();
    tracing::subscriber::with_default(sub, || {
        tracing::debug!(target: "chatty", "chatty debug");
        tracing::info!(target: "quiet", "quiet info");
    });
    let text = read(&dir.log());
    assert!(
        text.contains("chatty debug") && !text.contains("quiet info"),
        "{text}"
    );
}

#[test]
fn filter_can_trace_one_peer() {
    let dir = TempDir::new("one-peer");
    let (sub, _log) = subscriber(&LogConfig {
        filter: Some("[peer{peer=5f3a9c}]=trace".into()),
        ..file_config(&dir.log())
    })
    .unwrap();
    tracing::subscriber::with_default(sub, || {
        for p in ["5f3a9c", "0000aa"] {
            let _p = tracing::info_span!("peer", peer = %p).entered();
            tracing::trace!("frame detail");
            tracing::info!("connected");
        }
    });
    let text = read(&dir.log());
    assert_eq!(text.matches("frame detail").count(), 1, "{text}");
    assert!(
        text.contains("peer{peer=5f3a9c}: rats_log::tests: frame detail"),
        "{text}"
    );
    assert_eq!(text.matches("connected").count(), 2, "{text}");
}

#[test]
fn timestamps_off_produce_lines_without_a_timestamp() {
    let dir = TempDir::new("timestamps");
    let (sub, log) = subscriber(&LogConfig {
        timestamps: false,
        ..file_config(&dir.log())
    })
    .unwrap();
    let sub = Dispatch::new(sub);
    dispatcher::with_default(&sub, || tracing::info!("no time"));
    let text = read(&dir.log());
    assert!(text.trim_start().starts_with("INFO "), "{text:?}");
    assert!(!text.contains(char::is_numeric), "{text:?}");

    log.reconfigure(&LogConfig {
        timestamps: true,
        ..log.config()
    })
    .unwrap();
    log.clear_log_file().unwrap();
    dispatcher::with_default(&sub, || tracing::info!("with time"));
    let text = read(&dir.log());
    // 2025-01-31T12:00:00.123456Z  INFO ...
    let stamp = text.split_whitespace().next().unwrap();
    assert!(
        stamp.len() >= 20
            && stamp.as_bytes()[4] == b'-'
            && stamp.contains('T')
            && stamp.ends_with('Z'),
        "{text:?}"
    );
}

#[test]
fn colours_never_reach_the_file_and_can_be_switched_off() {
    let dir = TempDir::new("colours");
    let config = LogConfig {
        stderr: true,
        colors: Some(true),
        ..file_config(&dir.log())
    };
    let (sub, log, console) = captured(&config);
    dispatcher::with_default(&sub, || {
        let _peer = tracing::info_span!("peer", peer = "ab12", conn = 7).entered();
        tracing::info!(bytes = 42, "coloured on the console");
    });
    let file = read(&dir.log());
    assert!(file.contains("coloured on the console"));
    assert!(!file.contains('\x1b'), "ANSI in the file: {file:?}");
    assert!(file.contains("peer{peer=\"ab12\" conn=7}") || file.contains("peer{peer=ab12 conn=7}"));
    assert!(
        console_text(&console).contains('\x1b'),
        "colours on the console"
    );

    console.lock().clear();
    log.reconfigure(&LogConfig {
        colors: Some(false),
        ..config
    })
    .unwrap();
    dispatcher::with_default(&sub, || {
        let _peer = tracing::info_span!("peer", peer = "cd34").entered();
        tracing::info!("plain on the console");
    });
    let text = console_text(&console);
    assert!(
        text.contains("plain on the console") && !text.contains('\x1b'),
        "{text:?}"
    );
    assert!(!read(&dir.log()).contains('\x1b'));
}

#[test]
fn span_fields_appear_in_log_lines() {
    let dir = TempDir::new("spans");
    let (sub, log) = subscriber(&LogConfig {
        timestamps: false,
        ..file_config(&dir.log())
    })
    .unwrap();
    let sub = Dispatch::new(sub);
    dispatcher::with_default(&sub, || {
        let peer = tracing::info_span!("peer", peer = %"5f3a9c", conn = 3);
        let _p = peer.enter();
        let _t = tracing::info_span!("transfer", id = 12).entered();
        tracing::info!("chunk sent");
    });
    let text = read(&dir.log());
    assert!(
        text.contains("peer{peer=5f3a9c conn=3}:transfer{id=12}: "),
        "{text}"
    );

    // A span is filtered by its level like an event: a debug span gives no context at info.
    // That is why context spans (peer, transfer) must be info_span! or higher.
    log.clear_log_file().unwrap();
    dispatcher::with_default(&sub, || {
        let _p = tracing::debug_span!("peer", peer = "hidden").entered();
        tracing::info!("no context");
    });
    let text = read(&dir.log());
    assert!(
        text.contains("no context") && !text.contains("hidden"),
        "{text}"
    );
    log.set_level(LogLevel::Debug);
    dispatcher::with_default(&sub, || {
        let _p = tracing::debug_span!("peer", peer = "shown").entered();
        tracing::info!("with context");
    });
    assert!(read(&dir.log()).contains("peer{peer=\"shown\"}: rats_log::tests: with context"));
}

#[test]
fn escape_sequences_in_values_are_neutralised() {
    let dir = TempDir::new("sanitise");
    let (sub, _log, console) = captured(&LogConfig {
        stderr: true,
        colors: Some(false),
        ..file_config(&dir.log())
    });
    dispatcher::with_default(&sub, || {
        let hostile = "evil\x1b[2J\x1b]0;owned\x07name";
        tracing::info!(agent = hostile, "hello from {hostile}");
    });
    assert!(!read(&dir.log()).contains('\x1b'));
    assert!(!console_text(&console).contains('\x1b'));
}

#[test]
fn file_directory_is_created_and_reconfigure_moves_the_file() {
    let dir = TempDir::new("dirs");
    let first = dir.0.join("a/b/rats.log");
    let (sub, log) = subscriber(&file_config(&first)).unwrap();
    let sub = Dispatch::new(sub);
    dispatcher::with_default(&sub, || tracing::info!("in first"));
    assert!(read(&first).contains("in first"));
    assert_eq!(log.file_path(), Some(first.clone()));

    let second = dir.0.join("c/other.log");
    log.reconfigure(&file_config(&second)).unwrap();
    dispatcher::with_default(&sub, || tracing::info!("in second"));
    assert!(!read(&first).contains("in second"));
    assert!(read(&second).contains("in second"));
    assert_eq!(log.file_path(), Some(second));

    // A file that cannot be opened is an error, and the old one stays.
    fs::write(dir.0.join("blocker"), "").unwrap();
    let err = log
        .reconfigure(&file_config(&dir.0.join("blocker/x.log")))
        .unwrap_err();
    assert!(matches!(err, LogError::File { .. }), "{err}");
    assert!(err.to_string().contains("blocker"));
    dispatcher::with_default(&sub, || tracing::info!("still second"));
    assert!(read(&dir.0.join("c/other.log")).contains("still second"));
}

#[test]
fn io_errors_do_not_stop_logging() {
    let dir = TempDir::new("ioerr");
    let log_dir = dir.0.join("logs");
    let path = log_dir.join("rats.log");
    let (sub, log) = subscriber(&LogConfig {
        rotation_size: 200,
        retention_count: 2,
        ..file_config(&path)
    })
    .unwrap();
    let sub = Dispatch::new(sub);
    dispatcher::with_default(&sub, || tracing::info!("first"));
    // Take the directory away: rotation and reopening fail, logging must not panic.
    fs::remove_dir_all(&log_dir).unwrap();
    dispatcher::with_default(&sub, || {
        for i in 0..50 {
            tracing::info!(i, "into the void");
        }
    });
    log.flush();
    assert!(log.clear_log_file().is_err());
    // Back again: the file is reopened (at most once a second) and logging resumes.
    fs::create_dir_all(&log_dir).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    dispatcher::with_default(&sub, || tracing::info!("back"));
    assert!(read(&path).contains("back"));
}

#[test]
fn no_output_or_dropped_subscriber_is_harmless() {
    let (sub, log) = subscriber(&LogConfig {
        stderr: false,
        ..LogConfig::default()
    })
    .unwrap();
    tracing::subscriber::with_default(sub, || tracing::info!("nowhere"));
    // The subscriber is gone; the handle still works on its stored config.
    log.set_level(LogLevel::Debug);
    log.set_enabled(false);
    log.flush();
    log.clear_log_file().unwrap();
    assert_eq!(log.level(), LogLevel::Debug);
    assert_eq!(log.file_path(), None);
}

#[test]
fn config_round_trips_through_json_with_defaults() {
    let c: LogConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(c, LogConfig::default());
    assert_eq!(c.rotation_size, 10 * 1024 * 1024);
    assert_eq!(c.retention_count, 5);
    let c = LogConfig {
        level: LogLevel::Trace,
        file: Some("x/rats.log".into()),
        colors: Some(false),
        filter: Some("a=debug".into()),
        ..LogConfig::default()
    };
    let json = serde_json::to_string(&c).unwrap();
    assert!(json.contains("\"level\":\"trace\""), "{json}");
    assert_eq!(serde_json::from_str::<LogConfig>(&json).unwrap(), c);
}

#[test]
fn init_installs_once_and_reconfigures_after() {
    let dir = TempDir::new("init");
    let log = init(&LogConfig {
        level: LogLevel::Warn,
        ..file_config(&dir.log())
    })
    .unwrap();
    // Other tests run scoped subscribers on their own threads; this thread has none.
    tracing::info!("global info hidden");
    tracing::warn!("global warn shown");
    let again = init(&LogConfig {
        level: LogLevel::Info,
        ..file_config(&dir.log())
    })
    .unwrap();
    assert_eq!(log.level(), LogLevel::Info, "same handle, reconfigured");
    tracing::info!("global info shown");
    tracing_log::log::info!("from the log crate");
    let text = read(&dir.log());
    assert!(!text.contains("global info hidden"));
    assert!(text.contains("global warn shown") && text.contains("global info shown"));
    assert!(text.contains("from the log crate"), "{text}");
    assert!(global().is_some());
    again.set_enabled(false);
    // Stop writing into the directory that is about to be removed.
    again
        .reconfigure(&LogConfig {
            enabled: false,
            stderr: false,
            ..LogConfig::default()
        })
        .unwrap();
}
