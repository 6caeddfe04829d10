//! The cache of initdb'd data directories, keyed by `postgres --version`, so
//! that starting a cluster is a directory copy plus a launch.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::binaries::PgBin;
use super::dirs;
use super::user::ServerUser;
use crate::error::{Context, Error, Result};
use crate::fsutil;

/// The name the embedded cluster gives its superuser.
pub const SUPERUSER: &str = "postgres";

/// Returns the cached template data directory for these binaries, running
/// `initdb` once to make it when the cache holds none.
pub fn ensure(bin: &PgBin, user: &ServerUser) -> Result<PathBuf> {
    let cache = dirs::cache_dir()?;
    let key = cache_key(bin);
    let dir = cache.join(format!("template-{key}"));
    if dir.join("PG_VERSION").is_file() {
        return Ok(dir);
    }
    let scratch = scratch_dir(user)?;
    let result = initdb_into(bin, user, &scratch).and_then(|data| {
        let staging = cache.join(format!("template-{key}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        fsutil::copy_tree(&data, &staging, None)?;
        // Another process may have won the race; its copy is as good as ours.
        fsutil::publish_dir(&staging, &dir)
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    Ok(dir)
}

/// `initdb`'s options for a major version, the same cluster on each: no
/// instructions printed (an option of 14 and later), and no data checksums
/// (on by default from 18; off before).
fn initdb_flags(major: u32) -> Vec<&'static str> {
    let mut flags = vec![
        "-U",
        SUPERUSER,
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ];
    if major >= 14 {
        flags.push("--no-instructions");
    }
    if major >= 18 {
        flags.push("--no-data-checksums");
    }
    flags
}

/// A short stable key for a server build: its version line, location and
/// the initdb options used.
pub fn cache_key(bin: &PgBin) -> String {
    let mut h = Sha256::new();
    h.update(bin.version.as_bytes());
    h.update(bin.dir.to_string_lossy().as_bytes());
    h.update(initdb_flags(bin.major_num()).join(" ").as_bytes());
    let digest = h.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn scratch_dir(user: &ServerUser) -> Result<PathBuf> {
    let base = dirs::runtime_base()?;
    let dir = base.join(format!("initdb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).context(dir.display())?;
    fsutil::set_owner(&dir, user.owner())?;
    Ok(dir)
}

fn initdb_into(bin: &PgBin, user: &ServerUser, scratch: &Path) -> Result<PathBuf> {
    let data = scratch.join("data");
    let log = scratch.join("initdb.log");
    let log_file = std::fs::File::create(&log).context(log.display())?;
    let err_file = log_file.try_clone().context(log.display())?;
    let mut cmd = Command::new(bin.tool("initdb"));
    cmd.arg("-D")
        .arg(&data)
        .args(initdb_flags(bin.major_num()))
        .current_dir(scratch)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(err_file);
    user.apply(&mut cmd);
    let status = cmd.status().context(bin.tool("initdb").display())?;
    if !status.success() {
        let detail = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(Error::ClusterStart {
            what: "initdb",
            log,
            detail: last_lines(&detail, 3),
        });
    }
    Ok(data)
}

/// The last `n` non-empty lines of a log, joined into one line.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initdb_options_follow_the_major_version() {
        assert!(!initdb_flags(13).contains(&"--no-instructions"));
        assert!(initdb_flags(14).contains(&"--no-instructions"));
        assert!(!initdb_flags(17).contains(&"--no-data-checksums"));
        assert!(initdb_flags(18).contains(&"--no-data-checksums"));
    }
}
