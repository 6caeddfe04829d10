//! `--fail-on`: each command holds its run to the policies it can judge,
//! exits 1 naming every failed check, writes them all to junit.xml, and
//! refuses up front, in one line with exit 2, a policy it measures
//! nothing for. Against the embedded lab at scale tiny.

pub mod common;

use common::{run, stderr, stdout, TempDir};
use helpdesk_bench::gate::checks::Evidence;
use helpdesk_bench::gate::{judge, Policies};
use helpdesk_bench::results::Results;

/// The built-in catalogue with `newest_messages` asserting an index its
/// plan can never use.
fn catalogue_with_a_broken_assertion(dir: &TempDir) -> String {
    let text = helpdesk_bench::queries::BUILTIN.replace(
        "expect_index = \"Message_createdAt_idx\"",
        "expect_index = \"Conversation_customerEmail_idx\"",
    );
    assert_ne!(text, helpdesk_bench::queries::BUILTIN, "the scenario");
    let path = dir.path().join("queries.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn explain_fails_the_gate_on_a_broken_plan_assertion_and_an_unused_index() {
    let dir = TempDir::new("gate-explain");
    let catalogue = catalogue_with_a_broken_assertion(&dir);
    let out_dir = dir.path().join("explain");
    let out = run(&[
        "explain",
        "--scale",
        "tiny",
        "--quiet",
        "--catalogue",
        &catalogue,
        "--out",
        out_dir.to_str().unwrap(),
        "--fail-on",
        "plan",
        "--fail-on",
        "unused-index",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let failed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("GATE FAILED"))
        .collect();
    assert!(
        failed
            .iter()
            .any(|l| l.starts_with("GATE FAILED  plan: newest_messages: ")),
        "{text}"
    );
    assert!(
        failed
            .iter()
            .all(|l| l.starts_with("GATE FAILED  plan: newest_messages")
                || l.starts_with("GATE FAILED  unused-index: ")),
        "{text}"
    );
    assert!(
        text.contains(&format!("explain: gate failed ({} of", failed.len())),
        "{text}"
    );
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains(&format!("failures=\"{}\"", failed.len())),
        "{junit}"
    );
    assert!(
        junit.contains("<testsuite name=\"plan\" tests=\"9\""),
        "{junit}"
    );

    // The built-in catalogue keeps its assertions: the plan gate passes.
    let out = run(&[
        "explain",
        "--scale",
        "tiny",
        "--quiet",
        "--out",
        out_dir.to_str().unwrap(),
        "--fail-on",
        "plan",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("explain: gate passed (0 of 9 checks failed)"));
}

#[test]
fn rehearse_fails_the_gate_when_the_migration_blocks_writes_too_long() {
    let dir = TempDir::new("gate-rehearse");
    let reports = dir.path().join("reports");
    let out = run(&[
        "rehearse",
        "--scale",
        "tiny",
        "--quiet",
        "--reports",
        reports.to_str().unwrap(),
        "--fail-on",
        "blocking-deploy=1ms",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.lines().any(
            |l| l.starts_with("GATE FAILED  blocking-deploy: ") && l.contains("writes blocked")
        ),
        "{text}"
    );
    let run_dir = std::fs::canonicalize(reports.join("latest")).unwrap();
    assert!(run_dir.join("junit.xml").is_file());
    // The same rehearsal under a day's limit passes.
    let r = Results::read(&run_dir.join("results.json")).unwrap();
    let day = Policies::parse("blocking-deploy=24h").unwrap();
    let outcome = judge(&day, &Evidence::of_results("rehearse", &r), &run_dir).unwrap();
    assert_eq!(outcome.exit_code(), 0, "{:#?}", outcome.checks);
    assert!(!outcome.checks.is_empty());
}

#[test]
fn load_judges_p99_and_throughput_with_the_indexes_against_without() {
    let dir = TempDir::new("gate-load");
    let reports = dir.path().join("reports");
    let out = run(&[
        "load",
        "--scale",
        "tiny",
        "--quiet",
        "--query",
        "newest_messages",
        "--clients",
        "1",
        "--duration",
        "3s",
        "--reports",
        reports.to_str().unwrap(),
        "--fail-on",
        "regression",
    ]);
    let text = stdout(&out);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{text}{}",
        stderr(&out)
    );
    let run_dir = std::fs::canonicalize(reports.join("latest")).unwrap();
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testcase name=\"newest_messages p99 at 1 clients\"")
            && junit.contains("<testcase name=\"throughput at 1 clients\""),
        "{junit}"
    );
    // A failed check is a p99 whose whole interval is past the threshold.
    let r = Results::read(&run_dir.join("results.json")).unwrap();
    let load = r.load.as_ref().unwrap();
    let p99 = load.p99_changes(1)[0].1.unwrap();
    assert_eq!(
        text.contains("GATE FAILED  regression: newest_messages p99"),
        p99.verdict() == helpdesk_bench::stats::Verdict::Higher,
        "{text} {p99:?}"
    );
}

#[test]
fn a_policy_the_command_does_not_measure_is_refused_in_one_line() {
    for (args, want) in [
        (
            vec!["explain", "--fail-on", "regression"],
            "--fail-on regression: explain does not measure it",
        ),
        (
            vec!["load", "--fail-on", "plan"],
            "--fail-on plan: load does not measure it",
        ),
        (
            vec!["rehearse", "--fail-on", "unused-index"],
            "--fail-on unused-index: rehearse does not measure it",
        ),
        (
            vec!["explain", "--fail-on", "blocking-deploy"],
            "blocking-deploy=DURATION",
        ),
    ] {
        let out = run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
