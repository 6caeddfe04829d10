//! Helpers for integration tests, one of each: test databases (empty,
//! seeded, or cloned from a once-seeded template), row checksums, temp
//! directories, a schema dump that reads the same on every PostgreSQL
//! version, and ways to run the built binary and `psql`.
//!
//! Test files include this with `pub mod common;`: a public module is part
//! of each test crate's surface, so a helper that only some files use is not
//! dead code in the others, and no `allow(dead_code)` is needed.

pub mod apt;
mod db;
mod schema;
mod tmp;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use helpdesk_bench::cluster;

pub use db::{
    checksums, checksums_of, columns, fingerprint, scalar, seed_config, seeded, seeded_tiny,
    Fingerprint, TestDb, SEED,
};
pub use schema::{schema_dump, schema_of, SchemaDump};
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

/// A `psql` for running SQL files: the server binaries' own when their
/// directory has one (Debian's packages do), else the newest on this
/// machine (`PATH`, then `/usr/lib/postgresql/*/bin`, `/usr/pgsql-*/bin`).
/// psql runs plain SQL and `\gexec` against servers of other majors (Debian's
/// 15 against 13 to 18), so the matrix's npm packages, which ship no client,
/// work too.
pub fn psql() -> PathBuf {
    let server = cluster::PgBin::discover().ok().map(|b| b.tool("psql"));
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("psql"))
        .find(|p| p.is_file());
    server
        .filter(|p| p.is_file())
        .or(on_path)
        .or_else(packaged_psql)
        .unwrap_or_else(|| {
            panic!("no psql on this machine; install PostgreSQL's client (Debian: `apt-get install postgresql-client`)")
        })
}

/// The newest `psql` in the usual package directories.
fn packaged_psql() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = ["/usr/lib/postgresql", "/usr"]
        .iter()
        .filter_map(|root| std::fs::read_dir(root).ok())
        .flat_map(|dir| dir.flatten())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let major = name.trim_start_matches("pgsql-").parse().ok()?;
            let psql = e.path().join("bin/psql");
            psql.is_file().then_some((major, psql))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// `psql -v ON_ERROR_STOP=1 -d URL -f FILE` (or without ON_ERROR_STOP).
pub fn psql_file(url: &str, file: &Path, stop_on_error: bool) -> Output {
    let mut cmd = Command::new(psql());
    cmd.arg("-X").arg("-q");
    if stop_on_error {
        cmd.args(["-v", "ON_ERROR_STOP=1"]);
    }
    cmd.arg("-d").arg(url).arg("-f").arg(file);
    cmd.output().expect("run psql")
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

/// Runs `f` once for every test of a file that shares its outcome: a panic
/// is kept as its message and reported by each test, not run again.
pub fn once<T: Sync + Send>(
    cell: &'static std::sync::OnceLock<Result<T, String>>,
    f: fn() -> T,
) -> &'static T {
    let outcome = cell.get_or_init(|| {
        std::panic::catch_unwind(f).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
    });
    match outcome {
        Ok(w) => w,
        Err(e) => panic!("the workflow failed: {e}"),
    }
}
