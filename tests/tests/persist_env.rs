//! Configuration layers: environment variables override the file, code overrides both.
//! Alone in its test binary, and setting the environment before any runtime thread exists.

use std::time::Duration;

#[allow(unsafe_code)]
fn set_env(key: &str, value: impl AsRef<std::ffi::OsStr>) {
    // SAFETY: this binary has a single test; it sets variables before starting any runtime, so
    // no other thread reads or writes the environment at the same time.
    unsafe { std::env::set_var(key, value) }
}

/// A value that is not UTF-8.
fn non_utf8() -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    std::ffi::OsString::from_vec(vec![b'x', 0xff, 0xfe])
}

/// Starts a node on `dir` in a fresh runtime; it must fail, and this is its message.
fn start_error(dir: &std::path::Path) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let err = rt.block_on(async {
        rats_tests::local_builder()
            .data_dir(dir)
            .start()
            .await
            .expect_err("refused")
    });
    err.to_string()
}

#[test]
fn env_overrides_file_and_code_overrides_both() {
    let dir = std::env::temp_dir().join(format!("rats-persist-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("config.json"),
        r#"{"max_peers": 5, "idle_timeout": 11000, "event_capacity": 100, "agent": "from-file"}"#,
    )
    .expect("write");
    set_env("RATS_MAX_PEERS", "7");
    set_env("RATS_IDLE_TIMEOUT", "22000");
    set_env("RATS_AGENT", "from-env");
    // Looks like a number, is text.
    set_env("RATS_PROTOCOL_VERSION", "2.0");
    // Not UTF-8, and not ours: ignored (std::env::vars() panicked on it while loading the
    // configuration; seen while writing the `config` fuzz target).
    set_env("SOME_OTHER_PROGRAMS_VARIABLE", non_utf8());
    set_env("RATS_NOT_UTF8", non_utf8());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let node = rats_tests::local_builder()
            .data_dir(&dir)
            .configure(|c| c.idle_timeout = Duration::from_secs(33))
            .start()
            .await
            .expect("start");
        let c = node.node().config();
        assert_eq!(c.event_capacity, 100, "file over defaults");
        assert_eq!(c.max_peers, 7, "environment over file");
        assert_eq!(c.agent, "from-env", "environment over file");
        assert_eq!(c.protocol_version, "2.0");
        assert_eq!(
            c.idle_timeout,
            Duration::from_secs(33),
            "code over environment and file"
        );
        node.shutdown().await;
    });
    drop(rt);
    // A wrong type in the environment is an error naming the key.
    set_env("RATS_MAX_PEERS", "lots");
    let msg = start_error(&dir);
    assert!(
        msg.contains("max_peers: invalid type")
            && msg.contains("environment variable RATS_MAX_PEERS"),
        "{msg}"
    );
    // A bad value in a plugin's section names its key and its variable too.
    set_env("RATS_MAX_PEERS", "7");
    set_env("RATS_TRANSFER__WINDOW", "abc");
    let msg = start_error(&dir);
    assert!(
        msg.contains("at transfer.window")
            && msg.contains("(from environment variable RATS_TRANSFER__WINDOW)"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
