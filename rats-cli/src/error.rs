//! The tool's errors: the library's, or a command-line value it cannot use.

use rats::RatsError;

/// What stops the tool.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The library refused (starting, connecting, a plugin...).
    #[error(transparent)]
    Rats(#[from] RatsError),
    /// The data directory cannot be used.
    #[error(transparent)]
    DataDir(#[from] rats::DataDirError),
    /// A command-line value the tool cannot use (the message names the option).
    #[error("{0}")]
    Usage(String),
}
