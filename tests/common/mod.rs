//! Helpers for integration tests: a fresh database per test, on the embedded
//! cluster or, when `DATABASE_URL` is set, on that server (created and dropped
//! by the test), and a way to run the built binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use helpdesk_bench::cluster::{self, Endpoint};

/// A database that exists for one test.
pub struct TestDb {
    pub endpoint: Endpoint,
    /// Set when the database lives on the user's server and must be dropped.
    cleanup: Option<(Endpoint, String)>,
}

impl TestDb {
    /// A new empty database.
    pub async fn new(prefix: &str) -> TestDb {
        match std::env::var(cluster::URL_ENV) {
            Ok(url) => {
                static N: AtomicUsize = AtomicUsize::new(0);
                let admin = Endpoint::from_url(&url).expect("DATABASE_URL");
                let name = format!(
                    "helpdesk_bench_test_{prefix}_{}_{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                );
                let c = admin.connect().await.expect("connect to DATABASE_URL");
                c.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                TestDb {
                    endpoint: admin.with_dbname(&name),
                    cleanup: Some((admin, name)),
                }
            }
            Err(_) => TestDb {
                endpoint: cluster::scratch_database(prefix)
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
                cleanup: None,
            },
        }
    }

    /// A libpq URL for psql and the binary.
    pub fn url(&self) -> String {
        match std::env::var(cluster::URL_ENV) {
            Ok(_) => {
                let c = self.endpoint.config();
                let host = match c.get_hosts().first() {
                    Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
                    Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
                    None => "localhost".into(),
                };
                let mut s = format!(
                    "host={host} port={} user={} dbname={}",
                    c.get_ports().first().copied().unwrap_or(5432),
                    self.endpoint.user(),
                    self.endpoint.dbname()
                );
                if let Some(pw) = c.get_password() {
                    s.push_str(&format!(" password={}", String::from_utf8_lossy(pw)));
                }
                s
            }
            Err(_) => cluster::shared().unwrap().url(&self.endpoint.dbname()),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.cleanup.take() {
            std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(async {
                    if let Ok(c) = admin.connect().await {
                        let _ = c
                            .batch_execute(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                    }
                });
            })
            .join()
            .ok();
        }
    }
}

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
