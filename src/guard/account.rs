//! A guard's account of itself: a plain-text file in the run folder that
//! the guard appends to as it goes, one line per event, each stamped with
//! the UTC time, so a run killed with SIGKILL still leaves a record of what
//! its guard did. A line holds what the guard was for and whom it served,
//! whether it was dismissed or ran, each try and its error, and the
//! verification; SQL still to run follows its line verbatim, ready to paste.
//! Failures also go to stderr. Nothing written holds a password: the
//! database is named `user@host:port/db`.
//!
//! ```text
//! 2026-05-01T10:00:00Z guard (pid 4242) for alice@db:5432/app: put the migration's indexes back as found (a, b) should the tool (pid 4241) stop without dismissing it
//! 2026-05-01T10:00:09Z the tool's pipe closed without `done` (it stopped or was killed): undoing now
//! 2026-05-01T10:00:14Z try 1 of 4 failed: putting the indexes back as found: canceling statement due to lock timeout
//! 2026-05-01T10:00:15Z try 2 of 4: changed a, b
//! 2026-05-01T10:00:15Z verified: indexes verified as found: a, b
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};

/// An account file open for appending.
pub struct Account {
    file: File,
    path: PathBuf,
}

impl Account {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<Account> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .context(path.display())?;
        Ok(Account {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one stamped line. A failing write goes to stderr: the
    /// account is a record, and must not stop the undoing.
    pub fn line(&mut self, text: &str) {
        let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
        let line = format!("{stamp} {}\n", text.replace('\n', " "));
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            say_on_stderr(&format!("writing {}: {e}", self.path.display()));
        }
    }

    /// Appends a stamped line, and says it on stderr too.
    pub fn failure(&mut self, text: &str) {
        say_on_stderr(text);
        self.line(text);
    }

    /// Appends a block as it is (SQL to paste), after a stamped heading.
    pub fn block(&mut self, heading: &str, block: &str) {
        self.line(heading);
        let mut text = block.trim_end().to_string();
        text.push('\n');
        if let Err(e) = self.file.write_all(text.as_bytes()) {
            say_on_stderr(&format!("writing {}: {e}", self.path.display()));
        }
    }
}

/// Writes `helpdesk-bench guard: <text>` to stderr, ignoring a stderr
/// that is closed (`eprintln!` would panic, killing the guard mid-way,
/// when whoever read the tool's stderr has gone).
pub fn say_on_stderr(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "helpdesk-bench guard: {text}");
}
