//! `init` in a process of its own: a bad config installs nothing, and a foreign global
//! subscriber is reported, not replaced.

use rats_log::{LogConfig, LogError};

#[test]
fn init_errors_install_nothing_and_a_foreign_subscriber_is_reported() {
    let bad = LogConfig {
        stderr: false,
        filter: Some("=nonsense=".into()),
        ..LogConfig::default()
    };
    assert!(matches!(
        rats_log::init(&bad),
        Err(LogError::InvalidFilter { .. })
    ));
    assert!(rats_log::global().is_none());

    tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default()).unwrap();
    let err = rats_log::init(&LogConfig {
        stderr: false,
        ..LogConfig::default()
    })
    .unwrap_err();
    assert!(matches!(err, LogError::AlreadyInstalled), "{err}");
    assert_eq!(
        err.to_string(),
        "another global tracing subscriber is already installed"
    );
    assert!(rats_log::global().is_none());
}
