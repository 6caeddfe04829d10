//! Helpers for integration tests, one of each: test databases (empty,
//! seeded, or cloned from a once-seeded template), row checksums, temp
//! directories, and ways to run the built binary and PostgreSQL's tools.
//!
//! Test files include this with `pub mod common;`: a public module is part
//! of each test crate's surface, so a helper that only some files use is not
//! dead code in the others, and no `allow(dead_code)` is needed.

mod db;
mod tmp;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use helpdesk_bench::cluster;

pub use db::{
    checksums, checksums_of, columns, fingerprint, scalar, seed_config, seeded, seeded_tiny,
    Fingerprint, TestDb, SEED,
};
pub use tmp::TempDir;

/// The built `helpdesk-bench` binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_helpdesk-bench"))
}

/// Runs the binary with arguments and no DATABASE_URL from the environment.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove(cluster::URL_ENV)
        .output()
        .expect("run helpdesk-bench")
}

/// Runs a PostgreSQL client tool from the embedded cluster's binaries.
pub fn pg_tool(name: &str) -> PathBuf {
    let c = cluster::shared().unwrap_or_else(|e| panic!("{e}"));
    c.bin().tool(name)
}

/// `psql -v ON_ERROR_STOP=1 -d URL -f FILE` (or without ON_ERROR_STOP).
pub fn psql_file(url: &str, file: &Path, stop_on_error: bool) -> Output {
    let mut cmd = Command::new(pg_tool("psql"));
    cmd.arg("-X").arg("-q");
    if stop_on_error {
        cmd.args(["-v", "ON_ERROR_STOP=1"]);
    }
    cmd.arg("-d").arg(url).arg("-f").arg(file);
    cmd.output().expect("run psql")
}

/// `pg_dump --schema-only` of a database.
pub fn schema_dump(url: &str) -> String {
    let out = Command::new(pg_tool("pg_dump"))
        .args(["--schema-only", "--no-owner", "-d", url])
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // pg_dump 15.14+ brackets its output with a random \restrict key.
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fixture file in the repository.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Waits for the tool to exit, failing the test after `limit`.
pub fn finish(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("helpdesk-bench still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}
