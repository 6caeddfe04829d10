//! The default `cargo bench` run on the embedded database, end to end
//! through the code the bench runs (`benches/common/reads.rs`,
//! `measure::write_run` with costs): both index states, index costs with
//! intervals, foreign-key delete costs, the migration's own cost,
//! recommendations, deploy advice projected to production rows, the online
//! variant, and the page that shows them. At scale tiny, with short
//! criterion timings and a private criterion folder and `reports/`.

#[path = "../benches/common/mod.rs"]
pub mod bench;
pub mod common;

use std::time::Duration;

use common::TempDir;
use criterion::Criterion;
use helpdesk_bench::explain::PlanCacheMode;
use helpdesk_bench::gate::checks::Evidence;
use helpdesk_bench::gate::{judge, Policies};
use helpdesk_bench::measure::{write_run, RunInput};
use helpdesk_bench::measure::{CriterionArgs, CriterionRun};
use helpdesk_bench::queries::{Catalogue, BUILTIN};
use helpdesk_bench::results::{Action, Results};
use helpdesk_bench::schema::{IndexState, MigrationChain};
use helpdesk_bench::seed::{Reporter, Scale};
use helpdesk_bench::workspace::Workspace;

#[test]
fn the_default_run_measures_costs_recommends_and_advises_deploy() {
    let rt = bench::runtime().unwrap();
    let home = TempDir::new("default-run");
    let chain = MigrationChain::builtin().unwrap();
    let ws = rt
        .block_on(Workspace::open(
            None,
            Scale::Tiny,
            1,
            &chain,
            &Reporter::quiet(),
        ))
        .unwrap();
    let root = home.join("criterion");
    let crit = CriterionRun::at(CriterionArgs::parse(["--bench"]), root.clone());
    let mut c = Criterion::default()
        .output_directory(&root)
        .warm_up_time(Duration::from_millis(50))
        .measurement_time(Duration::from_millis(150))
        .sample_size(10)
        .nresamples(1_000)
        .without_plots();
    let catalogue = Catalogue::parse("queries.toml", BUILTIN, &chain).unwrap();
    let m = &chain.under_test;
    let states = ws.bench_states();
    assert_eq!(states, [IndexState::Without, IndexState::With]);
    let captures = bench::reads::bench_reads(
        &mut c,
        &rt,
        &ws,
        &catalogue,
        m,
        &states,
        PlanCacheMode::Auto,
    )
    .unwrap();
    let dir = rt
        .block_on(write_run(&RunInput {
            ws: &ws,
            catalogue: &catalogue,
            chain: &chain,
            states,
            reports_dir: home.join("reports"),
            costs: true,
            production_rows: vec![
                ("Message".into(), 50_000_000),
                ("Conversation".into(), 5_000_000),
            ],
            criterion: &crit,
            captures: &captures,
            plan_cache: PlanCacheMode::Auto,
            show_parameters: false,
        }))
        .unwrap()
        .expect("a run folder");
    let r = Results::read(&dir.join("results.json")).unwrap();

    // Both states, each speed-up with its bootstrap interval.
    assert!(!r.partial);
    assert_eq!(r.queries.len(), 9);
    for q in &r.queries {
        let ci = q
            .speedup_ci
            .unwrap_or_else(|| panic!("{} has no interval", q.name));
        assert!(
            ci.low <= ci.point && ci.point <= ci.high,
            "{}: {ci:?}",
            q.name
        );
    }
    // The geometric mean carries its interval, on the page too.
    let g = r
        .geomean_speedup
        .expect("a geometric mean over both states");
    assert!(
        g.low <= g.point && g.point <= g.high && g.low > 0.0,
        "{g:?}"
    );
    assert!(g.high > g.low, "an interval, not a point: {g:?}");
    // One recommendation per index; the cascading key's only index is kept for it.
    assert_eq!(r.recommendations.len(), 7);
    let rec = |n: &str| r.recommendations.iter().find(|x| x.index == n).unwrap();
    assert_eq!(
        rec("Message_conversationId_idx").action,
        Action::KeepForForeignKey
    );
    let fk = r
        .foreign_keys
        .iter()
        .find(|f| f.name == "Message_conversationId_fkey")
        .unwrap();
    let delete = fk.delete.as_ref().expect("delete cost measured");
    assert!(delete.slowdown.point > 1.0, "{delete:?}");
    // Costs carry intervals; HOT was measured on pages with room.
    for cost in &r.index_costs {
        let (ratio, build) = (cost.insert_time_ratio.unwrap(), cost.build.unwrap());
        assert!(
            ratio.low <= ratio.point && ratio.point <= ratio.high,
            "{cost:?}"
        );
        assert!(build.low > 0.0 && build.low <= build.high, "{cost:?}");
        assert!(cost.table_rows > 0, "{cost:?}");
    }
    assert!(r
        .hot_updates
        .as_ref()
        .unwrap()
        .pages
        .contains("fillfactor 90"));
    // The migration's cost, its locks and the projection to production.
    assert!(r.migration_cost.is_some());
    let d = r.deploy.as_ref().expect("deploy advice");
    assert!(d
        .locks
        .iter()
        .any(|l| l.table == "Conversation" && l.mode == "ACCESS EXCLUSIVE"));
    assert_eq!(d.builds.len(), 7);
    assert!(d.projected_lock_s > 0.0);
    assert!(d.basis.starts_with("projection"));
    let online = std::fs::read_to_string(dir.join("online_migration.sql")).unwrap();
    assert_eq!(online.matches("CREATE INDEX CONCURRENTLY").count(), 7);
    // The page shows it; reports/latest moved to this complete run.
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(
        page.contains("keep for the foreign key"),
        "recommendation missing"
    );
    assert!(page.contains("online_migration.sql"));
    let shown = helpdesk_bench::format::factor_range(g.point, g.low, g.high);
    assert!(
        page.contains(&shown),
        "the page lacks the geometric mean {shown}"
    );
    assert!(
        page.contains("id=\"deploy-verdict\""),
        "the verdict says how to deploy"
    );
    assert!(
        page.contains("id=\"hot-verdict\""),
        "the verdict gives the HOT loss"
    );
    // The console ends with the verdict in a few lines: the counts and the
    // mean with its interval, a line per index, the deploy advice.
    let console = helpdesk_bench::report::console_verdict(&dir).unwrap();
    let lines: Vec<&str> = console.lines().collect();
    assert!(
        lines[0].contains(" of 9 queries faster with the indexes")
            && lines[0].contains(&format!("geometric mean speed-up {shown}")),
        "{console}"
    );
    assert_eq!(lines.len(), 1 + 7 + 1, "{console}");
    assert!(lines[8].starts_with("Deploy: "), "{console}");
    assert!(
        !console.contains("{{") && !console.contains("{%"),
        "{console}"
    );
    // The gate `cargo bench` holds a run to (HELPDESK_BENCH_FAIL_ON): a
    // check per read, per index, and the deploy, in junit.xml too.
    let evidence = Evidence::of_results("cargo bench", &r);
    let lenient = Policies::parse("regression,plan,unused-index,blocking-deploy=1h").unwrap();
    let outcome = judge(&lenient, &evidence, &dir).unwrap();
    let count = |p: &str| outcome.checks.iter().filter(|c| c.policy == p).count();
    assert_eq!(
        (
            count("regression"),
            count("plan"),
            count("unused-index"),
            count("blocking-deploy")
        ),
        (9, 9, 7, 1),
        "{:#?}",
        outcome.checks
    );
    assert!(outcome
        .checks
        .iter()
        .filter(|c| c.policy == "blocking-deploy")
        .all(|c| !c.failed));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testsuite name=\"unused-index\" tests=\"7\""),
        "{junit}"
    );
    let strict = Policies::parse("blocking-deploy=1ms").unwrap();
    let outcome = judge(&strict, &evidence, &dir).unwrap();
    assert_eq!(outcome.exit_code(), 1);
    assert!(
        outcome.lines("cargo bench")[0].starts_with(
            "GATE FAILED  blocking-deploy: the migration as written: locks blocking writes held"
        ),
        "{:?}",
        outcome.lines("cargo bench")
    );
    let latest = std::fs::canonicalize(home.join("reports/latest")).unwrap();
    assert_eq!(latest, std::fs::canonicalize(&dir).unwrap());
    // The default `cargo bench` has no production row counts: its text
    // says what it measured and how to get a projection, with no seam of
    // a template, and never a zero or negative projection.
    let mut plain = r.clone();
    plain.deploy = helpdesk_bench::measure::deploy_advice(&plain, &[], "--production-rows");
    let out = home.join("plain");
    helpdesk_bench::report::render(&plain, &out).unwrap();
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    for text in [&summary, &page] {
        for seam in [
            "for give",
            "-0.0",
            "0.0 s in production",
            "{{",
            "{%",
            "  .",
            " ,",
            "for  ",
        ] {
            assert!(!text.contains(seam), "template seam {seam:?} in:\n{text}");
        }
        assert!(text.contains("here at the measured scale; give production row counts"));
        assert!(!text.contains("Projection: locks held for"));
    }
}
