//! The embedded cluster's cleanup layers: Ctrl-C, SIGKILL of the tool (the
//! watchdog), and the start-up sweep of orphans.

pub mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TempDir;
use helpdesk_bench::cluster::{self, TMPDIR_ENV};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Starts `helpdesk-bench server` and returns it with its run directory. The
/// child's stdout stays open in a reader thread, as a terminal would keep it.
fn start_server(tmp: &Path) -> (Child, PathBuf) {
    let mut child = Command::new(common::bin())
        .arg("server")
        .env(TMPDIR_ENV, tmp)
        .env_remove(cluster::URL_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    reader.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let dir = line
        .split(" running in ")
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .trim();
    (child, PathBuf::from(dir))
}

/// Waits until `done` holds, up to a generous limit.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

/// Every process whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn nothing_survives_sigkill_of_the_tool() {
    let tmp = TempDir::new("sigkill");
    let (mut child, run_dir) = start_server(&tmp);
    let postmaster = cluster::postmaster_pid(&run_dir).expect("postmaster running");
    assert!(alive(postmaster));
    assert!(run_dir.starts_with(&tmp));

    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();

    eventually("postmaster stopped", || !alive(postmaster));
    let needle = run_dir.to_string_lossy().to_string();
    eventually("no process mentions the run directory", || {
        processes_mentioning(&needle).is_empty()
    });
    eventually("run directory removed", || !run_dir.exists());
}

/// SIGKILL while the data directory is still being copied, before the
/// server exists: the watchdog is already there and removes the half copy.
#[test]
fn sigkill_during_the_data_copy_leaves_nothing() {
    let tmp = TempDir::new("sigkill-copy");
    let base = tmp.join(format!("helpdesk-bench-{}", nix::unistd::geteuid()));
    let mut child = Command::new(common::bin())
        .arg("server")
        .env(TMPDIR_ENV, tmp.path())
        .env_remove(cluster::URL_ENV)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run_dir = base.join(format!("run-{}-0", child.id()));
    let data = run_dir.join("data");
    let start = Instant::now();
    // Kill as soon as the copy begins: its folder exists (a file of it
    // may land last, the copy going in directory order).
    while !data.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no data copy seen"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    assert!(
        !data.join("postmaster.pid").exists(),
        "the server had already started: the kill missed the copy"
    );
    eventually("half-copied run directory removed", || !run_dir.exists());
}

#[test]
fn ctrl_c_stops_the_server_and_removes_its_directory() {
    let tmp = TempDir::new("sigint");
    let (mut child, run_dir) = start_server(&tmp);
    let postmaster = cluster::postmaster_pid(&run_dir).expect("postmaster running");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    // Drop runs before exit, so there is nothing left to wait for.
    assert!(!alive(postmaster), "postmaster outlived the tool");
    assert!(!run_dir.exists(), "run directory outlived the tool");
}

#[test]
fn start_sweeps_orphans_of_earlier_crashes() {
    let tmp = TempDir::new("sweep");
    // A run directory whose owner has exited, as a crash would leave it.
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let base = tmp.join(format!("helpdesk-bench-{}", nix::unistd::geteuid()));
    let orphan = base.join(format!("run-{dead_pid}-0"));
    std::fs::create_dir_all(orphan.join("data")).unwrap();
    std::fs::write(orphan.join("owner"), dead_pid.to_string()).unwrap();
    // And one that is left running on purpose (`seed --keep`) with no server: also stale.
    let kept = base.join("run-1-0");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(kept.join("detached"), "").unwrap();

    let (mut child, run_dir) = start_server(&tmp);
    assert!(run_dir.exists());
    assert!(!orphan.exists(), "orphan not swept");
    assert!(!kept.exists(), "dead detached cluster not swept");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn one_cluster_per_process_with_a_database_per_test() {
    let a = cluster::shared().unwrap() as *const _;
    let b = cluster::shared().unwrap() as *const _;
    assert_eq!(a, b);
    let one = cluster::scratch_database("t").await.unwrap();
    let two = cluster::scratch_database("t").await.unwrap();
    assert_ne!(one.dbname(), two.dbname());
    let c = one.connect().await.unwrap();
    let row = c.query_one("SELECT current_database()", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), one.dbname());
}
