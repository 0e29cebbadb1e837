//! The nodes' standard error (their log at the tool's default level, warn, and any panic
//! message): panics and ERROR lines are counted and the first few kept.

/// Lines kept for the report.
const KEPT: usize = 10;

/// Log line counts.
#[derive(Debug, Default)]
pub struct LogScan {
    /// Lines mentioning a panic.
    pub panics: u64,
    /// ERROR-level lines.
    pub errors: u64,
    /// WARN-level lines (shown, not judged).
    pub warnings: u64,
    /// Other lines that are not log lines (not JSON on stdout, ...).
    pub other: u64,
    /// The first panic and error lines, with their node.
    pub first: Vec<String>,
    /// The first warnings, with their node.
    pub first_warnings: Vec<String>,
}

impl LogScan {
    /// Looks at one line of node `node`.
    pub fn line(&mut self, node: usize, line: &str) {
        let bad = if line.to_ascii_lowercase().contains("panic") {
            self.panics += 1;
            true
        } else if line.contains(" ERROR ") || line.starts_with("ERROR ") {
            self.errors += 1;
            true
        } else if line.contains(" WARN ") || line.starts_with("WARN ") {
            self.warnings += 1;
            if self.first_warnings.len() < KEPT {
                self.first_warnings.push(format!("node {node}: {line}"));
            }
            false
        } else {
            self.other += 1;
            false
        };
        if bad && self.first.len() < KEPT {
            self.first.push(format!("node {node}: {line}"));
        }
    }
}
