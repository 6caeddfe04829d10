//! Temporary directories for tests: one per test and name, empty at the
//! start, and removed when the test ends, whether it passes or fails
//! (kept, for reading what a run wrote, when `HELPDESK_BENCH_KEEP_TEST_DIRS`
//! is set).

use std::path::{Path, PathBuf};

/// A fresh directory `hb-NAME-PID` under the system temp directory.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates the directory, removing what an earlier run left there.
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("hb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The directory as a command-line argument.
    pub fn arg(&self) -> &str {
        self.0.to_str().expect("temp dir path is UTF-8")
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("HELPDESK_BENCH_KEEP_TEST_DIRS").is_some() {
            eprintln!("kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
