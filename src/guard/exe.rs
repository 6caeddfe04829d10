//! Finding the `helpdesk-bench` binary to run a guard with. In the tool
//! itself that is the running binary, which `main` marks as such
//! ([`mark_tool_binary`]). A test or bench binary using the library is not
//! the tool, so then, in order: `HELPDESK_BENCH_EXE`; the binary Cargo
//! builds beside it (`target/<profile>/deps/<test>` sits beside
//! `target/<profile>/helpdesk-bench`, which Cargo builds for integration
//! tests and benches); the first `helpdesk-bench` on `PATH`. None found is
//! an error naming where it looked, before anything is changed.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// Names the `helpdesk-bench` binary to run guards with, when the caller is
/// not the tool itself.
pub const EXE_ENV: &str = "HELPDESK_BENCH_EXE";
/// The tool's binary name.
const NAME: &str = "helpdesk-bench";

static IS_TOOL: AtomicBool = AtomicBool::new(false);

/// Says that the running binary is `helpdesk-bench` itself, so guards run
/// it again. Called first thing by `main`.
pub fn mark_tool_binary() {
    IS_TOOL.store(true, Ordering::Relaxed);
}

/// The binary to run a guard with.
pub fn locate() -> Result<PathBuf> {
    let current = std::env::current_exe().ok();
    locate_from(
        IS_TOOL.load(Ordering::Relaxed),
        std::env::var_os(EXE_ENV),
        current.as_deref(),
        std::env::var_os("PATH"),
    )
}

/// [`locate`] with its inputs given.
fn locate_from(
    is_tool: bool,
    env: Option<OsString>,
    current: Option<&Path>,
    path: Option<OsString>,
) -> Result<PathBuf> {
    if let (true, Some(c)) = (is_tool, current) {
        return Ok(c.to_path_buf());
    }
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return match executable(&p) {
            true => Ok(p),
            false => Err(Error::NoGuardBinary {
                looked: format!("{EXE_ENV}={}, which is not an executable file", p.display()),
            }),
        };
    }
    let mut looked = Vec::new();
    let beside = current.and_then(Path::parent).map(|dir| {
        // deps/ for tests and benches, examples/ for examples.
        match dir.file_name().and_then(|n| n.to_str()) {
            Some("deps" | "examples") => dir.parent().unwrap_or(dir).join(NAME),
            _ => dir.join(NAME),
        }
    });
    let on_path = path
        .iter()
        .flat_map(std::env::split_paths)
        // An empty or relative entry would mean the working directory.
        .filter(|d| d.is_absolute())
        .map(|d| d.join(NAME));
    for candidate in beside.into_iter().chain(on_path) {
        if executable(&candidate) {
            return Ok(candidate);
        }
        looked.push(candidate.display().to_string());
    }
    looked.push(format!("{EXE_ENV} (not set)"));
    Err(Error::NoGuardBinary {
        looked: looked.join(", "),
    })
}

/// A regular file someone may execute.
fn executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temp directory holding `target/debug/{helpdesk-bench,deps/t}` and
    /// `bin/helpdesk-bench`, each an executable file.
    fn layout(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("hb-exe-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for f in [
            "target/debug/helpdesk-bench",
            "target/debug/deps/t",
            "bin/helpdesk-bench",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        root
    }

    #[test]
    fn the_tool_runs_itself_a_test_binary_finds_the_tool_beside_it() {
        let root = layout("found");
        let test = root.join("target/debug/deps/t");
        let path = Some(OsString::from(root.join("bin")));
        // The tool: itself, whatever else is around.
        assert_eq!(locate_from(true, None, Some(&test), None).unwrap(), test);
        // A test binary: the cargo sibling before PATH.
        assert_eq!(
            locate_from(false, None, Some(&test), path.clone()).unwrap(),
            root.join("target/debug/helpdesk-bench")
        );
        // Elsewhere: PATH.
        let elsewhere = root.join("bin/other");
        assert_eq!(
            locate_from(false, None, Some(&elsewhere), path.clone()).unwrap(),
            root.join("bin/helpdesk-bench")
        );
        // The variable wins over both.
        let named = root.join("bin/helpdesk-bench");
        assert_eq!(
            locate_from(false, Some(named.clone().into()), Some(&test), None).unwrap(),
            named
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn none_found_names_where_it_looked_and_the_fix() {
        let root = layout("none");
        let e = locate_from(false, None, Some(&root.join("x/y")), Some("".into())).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&root.join("x/helpdesk-bench").display().to_string()),
            "{text}"
        );
        assert!(text.contains("set HELPDESK_BENCH_EXE"), "{text}");
        let bad = root.join("target/debug");
        let e = locate_from(false, Some(bad.clone().into()), None, None).unwrap_err();
        assert!(e.to_string().contains("not an executable file"), "{e}");
        std::fs::remove_dir_all(root).unwrap();
    }
}
