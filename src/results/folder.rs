//! Run folders: `reports/<run-id>/`, with `reports/latest` pointing at the
//! newest complete one, and `reports/baselines/<name>` at the run that saved
//! each criterion baseline.

use std::path::{Path, PathBuf};

use crate::error::{Context, Result};

/// A sortable id for a run started now, to the millisecond, e.g.
/// `2026-11-25T02-30-00.123Z`.
fn run_id() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H-%M-%S%.3fZ")
        .to_string()
}

/// Creates a run folder `reports_dir/<run-id>/` that no other run has,
/// and returns its id and path. The folder is created exclusively, so two
/// runs started in the same millisecond (two processes, or one process
/// twice) still get folders of their own: the second gets a suffix.
pub fn new_run_dir(reports_dir: &Path) -> Result<(String, PathBuf)> {
    std::fs::create_dir_all(reports_dir).context(reports_dir.display())?;
    let base = run_id();
    for n in 0..1000 {
        let id = match n {
            0 => base.clone(),
            n => format!("{base}-{n:03}"),
        };
        let dir = reports_dir.join(&id);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(crate::error::Error::io(dir, e)),
        }
    }
    Err(crate::error::Error::BadInput(format!(
        "{} holds a thousand run folders started in the same millisecond; remove some",
        reports_dir.display()
    )))
}

/// Points `reports_dir/latest` at `run_dir` (a relative symlink).
pub fn point_latest(reports_dir: &Path, run_dir: &Path) -> Result<()> {
    let link = reports_dir.join("latest");
    let _ = std::fs::remove_file(&link);
    let target = run_dir.file_name().map(PathBuf::from).unwrap_or_default();
    std::os::unix::fs::symlink(&target, &link).context(link.display())
}

/// The current commit of the repository the tool runs in (the working
/// directory's), if git can tell.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Records that the run in `run_dir` saved criterion baseline `name`:
/// `reports_dir/baselines/<name>` becomes a relative symlink to it, so a
/// later `--baseline NAME` run finds that run's plans.
pub fn record_baseline(reports_dir: &Path, name: &str, run_dir: &Path) -> Result<()> {
    let dir = reports_dir.join("baselines");
    std::fs::create_dir_all(&dir).context(dir.display())?;
    let link = dir.join(baseline_file_name(name));
    let _ = std::fs::remove_file(&link);
    let target = Path::new("..").join(run_dir.file_name().unwrap_or_default());
    std::os::unix::fs::symlink(&target, &link).context(link.display())
}

/// The run folder that saved baseline `name`, if it is still there.
pub fn baseline_run(reports_dir: &Path, name: &str) -> Option<PathBuf> {
    let link = reports_dir.join("baselines").join(baseline_file_name(name));
    let dir = std::fs::canonicalize(link).ok()?;
    dir.join("results.json").is_file().then_some(dir)
}

/// A baseline name as a file name (criterion allows any string).
fn baseline_file_name(name: &str) -> String {
    name.replace(['/', '\\', '\0'], "_")
}
