//! An installed binary works from any directory: nothing it reads at run
//! time is found through a path of the machine it was built on: its code
//! names no build-time path, and run from an empty directory outside the
//! checkout (no `fixtures/`, no cargo) it explains the default catalogue on
//! the embedded lab.

pub mod common;

use std::process::Command;

use common::{bin, TempDir};

/// The tool's own code (not its tests or benches, which run in the
/// checkout) never reads a path fixed at build time: `CARGO_MANIFEST_DIR`
/// would name the build machine's checkout, which an installed binary does
/// not have.
#[test]
fn the_tool_reads_no_path_of_the_build_machine() {
    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    rust_files(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 50, "{} files", files.len());
    let offenders: Vec<_> = files
        .iter()
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains(concat!("env!(\"CARGO_", "MANIFEST_DIR\")"))
        })
        .collect();
    assert!(offenders.is_empty(), "{offenders:?}");
}

#[test]
fn run_from_another_directory_it_uses_its_built_in_catalogue() {
    let dir = TempDir::new("installable");
    let out = Command::new(bin())
        .args([
            "explain",
            "--scale",
            "tiny",
            "--quiet",
            "--query",
            "transcript",
        ])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("CARGO")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("HELPDESK_BENCH_CATALOGUE")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("transcript"), "{text}");
    assert!(
        dir.path().join("reports/explain/plans.json").is_file(),
        "explain writes under the working directory"
    );
}
