//! The example GitHub Actions workflow's steps (`docs/ci/gate.sh`, which
//! `docs/ci/github-actions.yml` runs) against a database of the embedded
//! cluster reached by URL, as the workflow runs them against its service
//! container: seed, `migrate up`, the bench with both index states paired
//! under `HELPDESK_BENCH_FAIL_ON`, and the rehearsal under `--fail-on
//! blocking-deploy`. The bench runs through cargo, as in the workflow
//! (dev profile and short timings, to keep the test short).

pub mod common;

use std::process::Command;

use common::{bin, TempDir, TestDb};

#[tokio::test(flavor = "multi_thread")]
async fn the_example_workflow_runs_its_steps_and_leaves_what_it_uploads() {
    let db = TestDb::new("ci_gate").await;
    let home = TempDir::new("ci-gate");
    let reports = home.path().join("reports");
    let repo = env!("CARGO_MANIFEST_DIR");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = tokio::task::spawn_blocking({
        let (url, reports, home) = (db.url(), reports.clone(), home.path().to_path_buf());
        move || {
            Command::new("bash")
                .arg(format!("{repo}/docs/ci/gate.sh"))
                .current_dir(repo)
                .env("DATABASE_URL", url)
                .env("HELPDESK_BENCH", bin())
                .env("CARGO_BENCH", format!("{cargo} bench --profile dev"))
                .env(
                    "CRITERION_ARGS",
                    "--warm-up-time 0.05 --measurement-time 0.2 --sample-size 10",
                )
                .env("SCALE", "tiny")
                .env("DEPLOY_LIMIT", "1h")
                .env("HELPDESK_BENCH_REPORTS", &reports)
                .env("CRITERION_HOME", home.join("criterion"))
                .env_remove("HELPDESK_BENCH_FAIL_ON")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The gate judged; a regression past noise at tiny would exit 1 and
    // name it, but the steps must all have run.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{text}");
    assert!(text.contains("cargo bench: gate "), "{text}");
    assert!(text.contains("rehearse: gate passed"), "{text}");
    let latest = std::fs::canonicalize(reports.join("latest")).unwrap();
    for f in [
        "index.html",
        "summary.md",
        "comment.md",
        "junit.xml",
        "results.json",
    ] {
        assert!(
            latest.join(f).is_file(),
            "{f} missing in {}",
            latest.display()
        );
    }
    let r = helpdesk_bench::results::Results::read(&latest.join("results.json")).unwrap();
    assert!(
        r.rehearsal.is_some(),
        "the rehearsal is added beside the bench"
    );
    // Every read timed with and without the indexes in the one run, each a
    // regression check.
    assert!(
        r.queries.iter().all(|q| q.speedup_ci.is_some()),
        "both states paired in one run"
    );
    let junit = std::fs::read_to_string(latest.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testsuite name=\"regression\" tests=\"9\""),
        "{junit}"
    );
    assert!(junit.contains("<testsuite name=\"plan\""), "{junit}");
    assert!(std::fs::canonicalize(reports.join("rehearsal/latest"))
        .unwrap()
        .join("junit.xml")
        .is_file());
}
