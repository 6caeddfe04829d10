//! Makes the browser test self-sufficient on a fresh machine: installs
//! Debian's `chromium` (and Node.js if absent) with apt
//! ([`crate::common::apt`]), and the
//! `playwright-core` driver pinned in `tests/browser/package-lock.json` with
//! `npm ci`, each only when missing and under one file lock, so parallel test
//! binaries never run apt or npm twice at once.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::fcntl::{Flock, FlockArg};

/// Where the lock lives: shared by every checkout on the machine, because
/// apt's own lock is machine-wide too.
const LOCK: &str = "/tmp/helpdesk-bench-browser-setup.lock";

/// What the browser test runs with.
pub struct Browser {
    /// The Chromium binary (`CHROMIUM`, else `/usr/bin/chromium`).
    pub chromium: PathBuf,
    /// `tests/browser`, holding `check.mjs` and its `node_modules`.
    pub dir: PathBuf,
}

/// Installs whatever is missing and returns the paths. Panics with the
/// failing command's output when an install fails.
pub fn ensure() -> Browser {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into()));
    let lock = File::create(LOCK).unwrap_or_else(|e| panic!("opening {LOCK}: {e}"));
    let _held = Flock::lock(lock, FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("locking {LOCK}: {e}"));
    let mut debs = Vec::new();
    if !chromium.is_file() {
        debs.push("chromium");
    }
    if !on_path("node") || !on_path("npm") {
        debs.extend(["nodejs", "npm"]);
    }
    crate::common::apt::ensure("the browser test", &debs, || {
        chromium.is_file() && on_path("node") && on_path("npm")
    });
    assert!(
        chromium.is_file(),
        "no Chromium at {} after installing Debian's `chromium`; set CHROMIUM to its path",
        chromium.display()
    );
    if !dir.join("node_modules/playwright-core").is_dir() {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir);
        crate::common::apt::run("npm ci (playwright-core, the browser driver)", &mut npm);
    }
    Browser { chromium, dir }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}
