//! Where the data lives: the user's server (`--url` / `DATABASE_URL`) or a
//! throwaway embedded cluster started from the server binaries on this
//! machine. One embedded cluster serves a whole process; tests and benches
//! each clone their own database from a template database inside it.

mod binaries;
mod cancel;
mod dirs;
mod embedded;
mod endpoint;
mod template;
mod txn;
mod user;
mod version;
mod watchdog;

use std::sync::{Mutex, OnceLock};

pub use binaries::{PgBin, PG_BIN_ENV};
pub use cancel::{cancel_all, Registration};
pub use dirs::{cache_dir, tree_size, CACHE_ENV, TMPDIR_ENV};
pub use embedded::{Cluster, StartOptions, PORT};
pub use endpoint::Endpoint;
pub use txn::{transaction, Begin, End};
pub use version::{ServerVersion, MAX_TESTED_MAJOR, MIN_MAJOR};
pub use watchdog::{postmaster_pid, stop_pid};

use crate::error::{Context, Result};

/// The environment variable naming the user's database.
pub const URL_ENV: &str = "DATABASE_URL";

static SHARED: OnceLock<Cluster> = OnceLock::new();
static STARTING: Mutex<()> = Mutex::new(());

/// The process's embedded cluster, started on first use and stopped when the
/// process exits normally (the watchdog covers abnormal exits).
pub fn shared() -> Result<&'static Cluster> {
    if let Some(c) = SHARED.get() {
        return Ok(c);
    }
    let _guard = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = SHARED.get() {
        return Ok(c);
    }
    let cluster = Cluster::start()?;
    let cluster = SHARED.get_or_init(move || cluster);
    // SAFETY: registering a plain `extern "C" fn` with no captured state.
    unsafe {
        nix::libc::atexit(stop_shared);
    }
    Ok(cluster)
}

/// Stops the shared cluster now, if one was started. Idempotent.
pub fn stop_shared_cluster() {
    if let Some(c) = SHARED.get() {
        c.shutdown();
    }
}

extern "C" fn stop_shared() {
    stop_shared_cluster();
}

/// The user's database when a URL is given, else the embedded cluster's
/// `postgres` database.
pub fn resolve(url: Option<&str>) -> Result<Endpoint> {
    match url {
        Some(u) => Endpoint::from_url(u),
        None => Endpoint::embedded(shared()?.config("postgres")),
    }
}

/// Creates a new, uniquely named database in the embedded cluster, optionally
/// cloned from a template database, and returns an endpoint for it.
pub async fn scratch_database(prefix: &str) -> Result<Endpoint> {
    scratch_from(prefix, None).await
}

/// Like [`scratch_database`], cloning `template`.
pub async fn scratch_from(prefix: &str, template: Option<&str>) -> Result<Endpoint> {
    create_database(&resolve(None)?, &unique_name(prefix), template).await
}

/// A database name no other call in any running process returns:
/// `<prefix>_<pid>_<n>`.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates database `name` on `admin`'s server, optionally cloned from
/// `template` (which must have no open connections), and returns an
/// endpoint for it.
pub async fn create_database(
    admin: &Endpoint,
    name: &str,
    template: Option<&str>,
) -> Result<Endpoint> {
    let quote = crate::sql::quote_ident;
    let sql = match template {
        Some(t) => format!("CREATE DATABASE {} TEMPLATE {}", quote(name), quote(t)),
        None => format!("CREATE DATABASE {}", quote(name)),
    };
    admin
        .connect()
        .await?
        .batch_execute(&sql)
        .await
        .context(format!("creating database {name}"))?;
    Ok(admin.with_dbname(name))
}

/// Stops a cluster left running by `seed --keep` and removes its directory.
/// Refuses any directory this tool did not create that way.
pub fn stop_detached(dir: &std::path::Path) -> Result<()> {
    let base = dirs::runtime_base()?;
    let dir = dir.canonicalize().context(dir.display())?;
    let ours = dir.parent() == Some(base.canonicalize().unwrap_or(base.clone()).as_path())
        && dir.join(watchdog::DETACHED_MARK).is_file();
    if !ours {
        return Err(crate::error::Error::BadInput(format!(
            "{} is not a cluster left running by `seed --keep` (expected a run-* directory under {})",
            dir.display(),
            base.display()
        )));
    }
    if let Some(pid) = postmaster_pid(&dir) {
        stop_pid(pid);
    }
    std::fs::remove_dir_all(&dir).context(dir.display())
}
