//! Where the embedded cluster keeps its files: a per-user runtime directory
//! for running clusters, and a cache directory for initdb'd templates and
//! seeded data directories.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::user::ServerUser;
use crate::error::{Context, Result};

/// Overrides the parent of the running clusters' directories.
pub const TMPDIR_ENV: &str = "HELPDESK_BENCH_TMPDIR";
/// Overrides the cache directory.
pub const CACHE_ENV: &str = "HELPDESK_BENCH_CACHE_DIR";

/// The longest unix-socket path the kernel accepts (`sun_path` is 108 bytes).
pub const MAX_SOCKET_PATH: usize = 107;

/// Shared memory, preferred for running clusters: creating the ~1,000 files of
/// a data directory there takes milliseconds, against up to a second on a
/// journalled disk.
const SHM: &str = "/dev/shm";

/// Parent of every running cluster's directory, private to this user:
/// `HELPDESK_BENCH_TMPDIR`, else `/dev/shm` when the server can reach it,
/// else the system temp directory.
pub fn runtime_base() -> Result<PathBuf> {
    let root = std::env::var_os(TMPDIR_ENV)
        .map(PathBuf::from)
        .or_else(|| shm_usable().then(|| PathBuf::from(SHM)))
        .unwrap_or_else(std::env::temp_dir);
    let base = root.join(format!("helpdesk-bench-{}", nix::unistd::geteuid()));
    std::fs::create_dir_all(&base).context(base.display())?;
    // Traversable, not listable, so an unprivileged server user can reach its own directory.
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o711))
        .context(base.display())?;
    Ok(base)
}

/// True when `/dev/shm` is writable by us and reachable by the server user.
fn shm_usable() -> bool {
    let shm = Path::new(SHM);
    if nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK).is_err() {
        return false;
    }
    match ServerUser::pick() {
        Ok(ServerUser::Switch { .. }) => std::fs::metadata(shm)
            .map(|m| m.permissions().mode() & 0o001 != 0)
            .unwrap_or(false),
        Ok(_) => true,
        Err(_) => false,
    }
}

/// The cache directory: `HELPDESK_BENCH_CACHE_DIR`, else `$XDG_CACHE_HOME` or
/// `~/.cache`, under `helpdesk-bench`.
pub fn cache_dir() -> Result<PathBuf> {
    let dir = if let Some(d) = std::env::var_os(CACHE_ENV) {
        PathBuf::from(d)
    } else if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        PathBuf::from(d).join("helpdesk-bench")
    } else if let Some(h) = std::env::var_os("HOME") {
        PathBuf::from(h).join(".cache").join("helpdesk-bench")
    } else {
        std::env::temp_dir().join(format!("helpdesk-bench-cache-{}", nix::unistd::geteuid()))
    };
    std::fs::create_dir_all(&dir).context(dir.display())?;
    Ok(dir)
}

/// Total size in bytes of the files under a directory.
pub fn tree_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
