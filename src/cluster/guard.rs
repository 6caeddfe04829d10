//! A SQL guard: a watchdog process that runs one SQL text on a server
//! should the tool stop without dismissing it (an error, Ctrl-C, even
//! SIGKILL). It waits on a pipe only the tool holds open; when the pipe
//! closes without the word `done`, it runs the SQL through `psql`, retrying
//! for a few seconds while the server refuses. Scratch databases use it to
//! be dropped; a committed index switch on a user's database uses it to be
//! undone. Connection settings reach `psql` through libpq's environment
//! variables, so a password is never on a command line.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use tokio_postgres::config::{Host, SslMode};

use super::Endpoint;
use crate::error::{Context, Result};

const SCRIPT: &str = r#"
trap '' INT TERM HUP
read word
[ "$word" = done ] && exit 0
for i in 1 2 3 4 5 6 7 8 9 10; do
  psql -X -q -v ON_ERROR_STOP=1 -c "$1" >/dev/null 2>&1 && exit 0
  sleep 1
done
"#;

/// Runs its SQL unless dismissed.
pub struct SqlGuard {
    child: Option<Child>,
}

impl SqlGuard {
    /// Starts a guard that runs `sql` on `db` unless [`SqlGuard::dismiss`]
    /// is called first.
    pub fn spawn(db: &Endpoint, sql: &str) -> Result<SqlGuard> {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg("helpdesk-bench-guard")
            .arg(sql)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        libpq_env(&mut cmd, db);
        let child = cmd.spawn().context("/bin/sh (SQL guard)")?;
        Ok(SqlGuard { child: Some(child) })
    }

    /// The work is done or undone already: the guard exits without running
    /// its SQL.
    pub fn dismiss(mut self) {
        if let Some(mut c) = self.child.take() {
            if let Some(mut stdin) = c.stdin.take() {
                let _ = stdin.write_all(b"done\n");
            }
            let _ = c.wait();
        }
    }

    /// Runs the SQL now (through the guard) and waits for it.
    pub fn fire(mut self) {
        self.close();
    }

    fn close(&mut self) {
        if let Some(mut c) = self.child.take() {
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }
}

impl Drop for SqlGuard {
    /// Neither dismissed nor fired: closing the pipe makes the guard run
    /// its SQL.
    fn drop(&mut self) {
        self.close();
    }
}

/// Points `psql` at `db` through libpq's environment variables.
fn libpq_env(cmd: &mut Command, db: &Endpoint) {
    let cfg = db.config();
    for k in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSSLMODE",
        "PGSERVICE",
    ] {
        cmd.env_remove(k);
    }
    if let Some(h) = cfg.get_hosts().first() {
        let h = match h {
            Host::Tcp(h) => h.clone(),
            Host::Unix(p) => p.display().to_string(),
        };
        cmd.env("PGHOST", h);
    }
    if let Some(p) = cfg.get_ports().first() {
        cmd.env("PGPORT", p.to_string());
    }
    cmd.env("PGUSER", db.user());
    cmd.env("PGDATABASE", db.dbname());
    if let Some(pw) = cfg.get_password() {
        cmd.env("PGPASSWORD", String::from_utf8_lossy(pw).into_owned());
    }
    let ssl = match cfg.get_ssl_mode() {
        SslMode::Disable => "disable",
        SslMode::Require => "require",
        _ => "prefer",
    };
    cmd.env("PGSSLMODE", ssl);
    cmd.env("PGCONNECT_TIMEOUT", "10");
    cmd.env("PGAPPNAME", "helpdesk-bench-guard");
}
