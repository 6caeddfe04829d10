//! Debian packages a test needs, installed with apt when missing, under
//! one machine-wide file lock (apt's own lock is machine-wide too), so
//! parallel test binaries never run apt twice at once.

use std::fs::File;
use std::process::Command;

use nix::fcntl::{Flock, FlockArg};

const LOCK: &str = "/tmp/helpdesk-bench-apt.lock";

/// Installs `debs` unless `present()` says they are there (checked again
/// under the lock). `what` names the test's need in the messages. Panics
/// with apt's output when an install fails, or when not root.
pub fn ensure(what: &str, debs: &[&str], present: impl Fn() -> bool) {
    if present() {
        return;
    }
    let lock = File::create(LOCK).unwrap_or_else(|e| panic!("opening {LOCK}: {e}"));
    let _held = Flock::lock(lock, FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("locking {LOCK}: {e}"));
    if present() {
        return;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "{what} needs Debian packages {debs:?}; install them as root (`apt-get install {}`) or run the tests as root",
        debs.join(" ")
    );
    eprintln!("{what}: installing {} with apt-get", debs.join(" "));
    run(
        "apt-get update",
        Command::new("apt-get").args(["update", "-qq"]),
    );
    run(
        "apt-get install",
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq"])
            .args(debs),
    );
    assert!(present(), "{what}: {debs:?} installed, but still not found");
}

/// Runs `cmd`, panicking with its output when it fails.
pub fn run(what: &str, cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
