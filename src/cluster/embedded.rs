//! A throwaway PostgreSQL cluster: copied from the template cache, listening
//! only on a unix socket in a private directory, with fsync off, and stopped
//! and removed when dropped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::binaries::PgBin;
use super::dirs;
use super::template::{self, last_lines, SUPERUSER};
use super::user::ServerUser;
use super::watchdog;
use crate::error::{Context, Error, Result};
use crate::fsutil;

/// The port number; with a private socket directory it only names the socket file.
pub const PORT: u16 = 5432;

/// Server settings for a disposable benchmarking cluster. Durability is off;
/// the report says so next to every number measured here.
const SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", ""),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("wal_level", "minimal"),
    ("max_wal_senders", "0"),
    ("max_wal_size", "4GB"),
    ("checkpoint_timeout", "30min"),
    ("logging_collector", "off"),
];

/// How long to wait for readiness before giving up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a cluster's data comes from.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Copy this data directory instead of the initdb template (a seeded cache).
    pub data_from: Option<PathBuf>,
    /// Leave the server running when this handle is dropped (`seed --keep`).
    pub detach: bool,
    /// Libraries for `shared_preload_libraries` (e.g. `pg_stat_statements`
    /// for `catalogue --from`). Empty by default: a preloaded
    /// `pg_stat_statements` hashes and counts every statement, a cost the
    /// tool's timings should not carry unless asked for.
    pub preload: Vec<String>,
}

/// A running embedded cluster.
#[derive(Debug)]
pub struct Cluster {
    bin: PgBin,
    run_dir: PathBuf,
    user: ServerUser,
    postmaster: Mutex<Option<Child>>,
    watchdog: Mutex<Option<Child>>,
    detach: bool,
    preload: Vec<String>,
}

impl Cluster {
    /// Starts a cluster from the initdb template.
    pub fn start() -> Result<Cluster> {
        Cluster::start_with(StartOptions::default())
    }

    /// Starts a cluster with the given options.
    pub fn start_with(opts: StartOptions) -> Result<Cluster> {
        let bin = PgBin::discover()?;
        bin.check_supported()?;
        let user = ServerUser::pick()?;
        watchdog::sweep_orphans();
        let source = match &opts.data_from {
            Some(dir) => dir.clone(),
            None => template::ensure(&bin, &user)?,
        };
        let run_dir = new_run_dir()?;
        let cluster = Cluster {
            bin,
            run_dir,
            user,
            postmaster: Mutex::new(None),
            watchdog: Mutex::new(None),
            detach: opts.detach,
            preload: opts.preload.clone(),
        };
        cluster.launch(&source)?;
        Ok(cluster)
    }

    fn launch(&self, source: &Path) -> Result<()> {
        let sock = self.socket_dir();
        let sock_file = sock.join(format!(".s.PGSQL.{PORT}"));
        if sock_file.as_os_str().len() > dirs::MAX_SOCKET_PATH {
            return Err(Error::BadInput(format!(
                "socket path {} is longer than {} bytes; set {} to a shorter directory",
                sock_file.display(),
                dirs::MAX_SOCKET_PATH,
                dirs::TMPDIR_ENV
            )));
        }
        // The watchdog exists before the first file is copied, so a SIGKILL
        // during the copy leaves no half-copied run directory behind.
        *lock(&self.watchdog) = Some(watchdog::spawn(&self.run_dir)?);
        std::fs::create_dir(&sock).context(sock.display())?;
        fsutil::set_owner(&sock, self.user.owner())?;
        fsutil::copy_tree(source, &self.data_dir(), self.user.owner())?;
        // A copied postmaster.pid (from a seeded cache) would confuse readiness.
        let _ = std::fs::remove_file(self.data_dir().join("postmaster.pid"));
        if self.detach {
            // From here on the watchdog leaves the cluster running.
            std::fs::write(self.run_dir.join(watchdog::DETACHED_MARK), b"")
                .context(self.run_dir.display())?;
        }
        let log = self.log_path();
        let log_file = std::fs::File::create(&log).context(log.display())?;
        let mut cmd = Command::new(self.bin.tool("postgres"));
        cmd.arg("-D").arg(self.data_dir()).arg("-k").arg(&sock);
        cmd.arg("-p").arg(PORT.to_string());
        for (k, v) in SETTINGS {
            cmd.arg("-c").arg(format!("{k}={v}"));
        }
        if !self.preload.is_empty() {
            cmd.arg("-c").arg(format!(
                "shared_preload_libraries={}",
                self.preload.join(",")
            ));
        }
        cmd.current_dir(&self.run_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            // Own process group: a terminal's Ctrl-C reaches the tool, which
            // then stops the server in order.
            .process_group(0);
        self.user.apply(&mut cmd);
        let child = cmd.spawn().context(self.bin.tool("postgres").display())?;
        *lock(&self.postmaster) = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&self) -> Result<()> {
        let pid_file = self.data_dir().join("postmaster.pid");
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&pid_file) {
                if text.lines().nth(7).map(str::trim) == Some("ready") {
                    return Ok(());
                }
            }
            let exited = lock(&self.postmaster)
                .as_mut()
                .map(|c| matches!(c.try_wait(), Ok(Some(_))))
                .unwrap_or(true);
            if exited || started.elapsed() > START_TIMEOUT {
                let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                return Err(Error::ClusterStart {
                    what: "starting the embedded PostgreSQL server",
                    log: self.log_path(),
                    detail: if exited {
                        last_lines(&log, 3)
                    } else {
                        format!("not ready after {}s", START_TIMEOUT.as_secs())
                    },
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The cluster's private directory (data, socket, log).
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.run_dir.join("data")
    }

    /// The directory holding the unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.run_dir.join("sock")
    }

    /// The server log.
    pub fn log_path(&self) -> PathBuf {
        self.run_dir.join("postgres.log")
    }

    /// The binaries this cluster runs.
    pub fn bin(&self) -> &PgBin {
        &self.bin
    }

    /// Connection settings for one database of this cluster.
    pub fn config(&self, dbname: &str) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host_path(self.socket_dir())
            .port(PORT)
            .user(SUPERUSER)
            .dbname(dbname)
            .application_name("helpdesk-bench");
        c
    }

    /// A libpq connection string for psql and friends.
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgresql:///{dbname}?host={}&port={PORT}&user={SUPERUSER}",
            self.socket_dir().display()
        )
    }

    /// Stops the server cleanly, copies its data directory to `dest` (via a
    /// temporary name, so a half-written copy is never used), and removes
    /// the cluster. Publishing is a rename that never replaces a published
    /// copy: when another process published first, its copy is as good as
    /// ours, so ours is thrown away and a reader of `dest` never sees it
    /// pulled from under it.
    pub fn save_data_to(self, dest: &Path) -> Result<()> {
        if let Some(mut child) = lock(&self.postmaster).take() {
            stop_child(&mut child);
        }
        let staging = dest.with_extension(format!("tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        fsutil::copy_tree(&self.data_dir(), &staging, None)?;
        fsutil::publish_dir(&staging, dest)
    }

    /// Stops the server and removes its directory, unless detached. Safe to
    /// call more than once.
    pub fn shutdown(&self) {
        if self.detach {
            return;
        }
        if let Some(mut child) = lock(&self.postmaster).take() {
            stop_child(&mut child);
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
        // Closing the watchdog's stdin tells it the directory is already gone.
        if let Some(mut wd) = lock(&self.watchdog).take() {
            drop(wd.stdin.take());
            let _ = wd.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Stops a postmaster this process started, then reaps it.
fn stop_child(child: &mut Child) {
    watchdog::stop_postmaster(child.id() as i32, || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let _ = child.wait();
}

fn new_run_dir() -> Result<PathBuf> {
    let base = dirs::runtime_base()?;
    let pid = std::process::id();
    for n in 0..1000 {
        let dir = base.join(format!("run-{pid}-{n}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                std::fs::write(dir.join(watchdog::OWNER_FILE), pid.to_string())
                    .context(dir.display())?;
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        }
    }
    Err(Error::io(
        &base,
        std::io::Error::other("too many cluster directories; remove stale run-* directories"),
    ))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use crate::fsutil::publish_dir as publish;

    /// Two processes seeding the same cache key: the second to publish
    /// keeps the first one's copy (which a reader may be copying) and
    /// throws its own away.
    #[test]
    fn the_loser_of_a_publish_uses_the_winners_copy() {
        let root = std::env::temp_dir().join(format!("hb-publish-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (winner, loser, dest) = (root.join("a"), root.join("b"), root.join("seeded"));
        for (dir, tag) in [(&winner, "winner"), (&loser, "loser")] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("PG_VERSION"), "15").unwrap();
            std::fs::write(dir.join("who"), tag).unwrap();
        }
        publish(&winner, &dest).unwrap();
        let inode = |p: &std::path::Path| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(p).unwrap().ino()
        };
        let published = inode(&dest);
        publish(&loser, &dest).unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("who")).unwrap(), "winner");
        assert_eq!(
            inode(&dest),
            published,
            "the published copy was not replaced"
        );
        assert!(!loser.exists(), "the loser's copy is removed");
        // A broken leftover (no PG_VERSION) is replaced.
        std::fs::remove_file(dest.join("PG_VERSION")).unwrap();
        std::fs::create_dir_all(&loser).unwrap();
        std::fs::write(loser.join("PG_VERSION"), "15").unwrap();
        publish(&loser, &dest).unwrap();
        assert!(dest.join("PG_VERSION").is_file());
        let _ = std::fs::remove_dir_all(&root);
    }
}
