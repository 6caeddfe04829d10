//! The two cleanup layers beyond `Drop`: a watchdog process that stops the
//! server when the tool dies without cleaning up (even by SIGKILL), and a
//! start-up sweep that removes what earlier crashes left behind.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::dirs;
use crate::error::{Context, Result};

/// File in a run directory holding the pid of the process that owns it.
pub const OWNER_FILE: &str = "owner";
/// File in a run directory marking a cluster left running on purpose.
pub const DETACHED_MARK: &str = "detached";

/// The watchdog: blocks reading stdin, a pipe only the tool holds open. When
/// the tool exits or is killed, the read returns; if the run directory still
/// exists the tool did not clean up, so the watchdog stops the postmaster
/// (fast, immediate, then kill) and removes the directory, unless the
/// directory is marked as left running on purpose ([`DETACHED_MARK`]).
const SCRIPT: &str = r#"
trap '' INT TERM HUP
read _unused
dir="$1"
[ -d "$dir" ] || exit 0
[ -e "$dir/detached" ] && exit 0
pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && grep -qF "$dir" "/proc/$pid/cmdline" 2>/dev/null; then
  for sig in INT QUIT KILL; do
    kill -s "$sig" "$pid" 2>/dev/null || break
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  done
fi
rm -rf "$dir"
"#;

/// Starts the watchdog for one run directory.
pub fn spawn(run_dir: &Path) -> Result<Child> {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("helpdesk-bench-watchdog")
        .arg(run_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("/bin/sh")
}

use std::os::unix::process::CommandExt;

/// Removes run directories whose owner is gone and which were not left
/// running on purpose, stopping any server still running in them. Errors are
/// ignored: the sweep is a courtesy and must never stop a start.
pub fn sweep_orphans() {
    let Ok(base) = dirs::runtime_base() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(&base) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("run-") && is_orphan(&dir) {
            if let Some(pid) = postmaster_pid(&dir) {
                stop_pid(pid);
            }
            let _ = std::fs::remove_dir_all(&dir);
        } else if name.starts_with("initdb-") && !owner_alive_in_name(&name) {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// True when nobody will clean this run directory up.
fn is_orphan(dir: &Path) -> bool {
    if dir.join(DETACHED_MARK).exists() {
        return postmaster_pid(dir).is_none();
    }
    match read_pid(&dir.join(OWNER_FILE)) {
        Some(owner) => !alive(owner),
        // The owner file is written right after the directory; a missing one
        // means a start was cut short, unless it is happening right now.
        None => std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .map(|t| t.elapsed().map(|e| e.as_secs() > 60).unwrap_or(false))
            .unwrap_or(false),
    }
}

/// The live postmaster serving this run directory, if any.
pub fn postmaster_pid(dir: &Path) -> Option<i32> {
    let data = dir.join("data");
    let pid = read_pid(&data.join("postmaster.pid"))?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let needle = data.to_string_lossy();
    String::from_utf8_lossy(&cmdline)
        .contains(needle.as_ref())
        .then_some(pid)
}

/// Stops a postmaster by pid: fast, then immediate, then kill.
pub fn stop_pid(pid: i32) {
    stop_postmaster(pid, || kill(Pid::from_raw(pid), None).is_err());
}

/// Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL, each
/// followed by a grace period that ends early once `exited` says the
/// postmaster is gone. The one stopping sequence for a postmaster we started
/// (whose exit `Child::try_wait` sees) and one found by pid.
pub(super) fn stop_postmaster(pid: i32, mut exited: impl FnMut() -> bool) {
    let pid = Pid::from_raw(pid);
    for (signal, grace) in [
        (Signal::SIGINT, Duration::from_secs(10)),
        (Signal::SIGQUIT, Duration::from_secs(3)),
        (Signal::SIGKILL, Duration::from_secs(5)),
    ] {
        if kill(pid, signal).is_err() {
            return;
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

fn alive(pid: i32) -> bool {
    // EPERM still means the process exists.
    !matches!(
        kill(Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

fn owner_alive_in_name(name: &str) -> bool {
    name.trim_start_matches("initdb-")
        .parse::<i32>()
        .map(alive)
        .unwrap_or(false)
}
