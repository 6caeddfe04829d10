//! docs/benchmarks.md's "Before and after a migration, on your own database", end to
//! end: a database of the embedded cluster, reached by URL so the tool
//! treats it as the user's, seeded at the base schema; the before run with
//! `--save-baseline before-012`; `helpdesk-bench migrate up --url`; the after
//! run with `--baseline before-012`; the report.
//!
//! Each run is what `benches/queries.rs` does, through the same code
//! (`benches/common/reads.rs`, `measure::write_run`), with a real criterion
//! configured from an explicit argument list, short timings, and a private
//! criterion folder and `reports/`. The workflow runs once; each test checks
//! one thing a user reads off it.

#[path = "../benches/common/mod.rs"]
pub mod bench;
pub mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use common::{checksums_of, columns, seed_config, seeded, stderr, stdout, TempDir, TestDb};
use criterion::Criterion;
use helpdesk_bench::cluster::Endpoint;
use helpdesk_bench::explain::PlanCacheMode;
use helpdesk_bench::measure::{write_run, RunInput};
use helpdesk_bench::measure::{CriterionArgs, CriterionRun};
use helpdesk_bench::queries::{Catalogue, BUILTIN};
use helpdesk_bench::report::NEW_IN_MIGRATION;
use helpdesk_bench::results::{Results, Verdict};
use helpdesk_bench::schema::{FoundState, IndexState, MigrationChain};
use helpdesk_bench::seed::{Scale, Shape};
use helpdesk_bench::workspace::Workspace;

const BASELINE: &str = "before-012";
/// The catalogue's queries on `"Message"`, which the base schema can run.
const MESSAGE_QUERIES: [&str; 3] = ["transcript", "recent_agent_messages", "newest_messages"];
/// Those on 012's `"Conversation"` columns, which it can't.
const CONVERSATION_QUERIES: [&str; 6] = [
    "human_queue",
    "agent_conversations",
    "agent_open_queue",
    "customer_lookup_hit",
    "customer_lookup_miss",
    "status_dashboard",
];

/// One run of the bench as `cargo bench --bench queries -- ARGS` makes it.
struct Run {
    dir: PathBuf,
    results: Results,
    page: String,
    summary: String,
}

/// What the workflow left behind.
struct Workflow {
    /// Kept so the user's database outlives the runs.
    _db: TestDb,
    /// Holds `criterion/` and `reports/`.
    home: TempDir,
    before: Run,
    migrate: Output,
    after: Run,
    /// Row checksums over the columns that existed before the migration.
    rows_before: Vec<(i64, String)>,
    rows_after: Vec<(i64, String)>,
}

/// The workflow's outcome; a failure is kept as its message.
static WORKFLOW: OnceLock<Result<Workflow, String>> = OnceLock::new();

/// The workflow, run once for every test of this file; a failure is
/// reported by each test rather than run again.
fn workflow() -> &'static Workflow {
    common::once(&WORKFLOW, run_workflow)
}

/// Statics are never dropped: the workflow's folder goes at exit.
extern "C" fn remove_home() {
    if let Some(Ok(w)) = WORKFLOW.get() {
        let _ = std::fs::remove_dir_all(w.home.path());
    }
}

fn run_workflow() -> Workflow {
    let rt = bench::runtime().unwrap();
    let home = TempDir::new("workflow");
    // SAFETY: registering a plain `extern "C" fn` with no captured state.
    unsafe {
        nix::libc::atexit(remove_home);
    }
    let mut cfg = seed_config(Scale::Tiny.counts(), 2);
    cfg.shape = Some(Shape::Base);
    let db = rt.block_on(seeded("workflow", &cfg));
    let url = db.url();
    let base_columns = rt.block_on(columns(&db.endpoint));
    let rows_before = rt.block_on(checksums_of(&db.endpoint, &base_columns));

    let before = bench_run(&rt, &url, &home, &["--bench", "--save-baseline", BASELINE]);
    let migrate = common::run(&["migrate", "up", "--url", &url]);
    let after = bench_run(&rt, &url, &home, &["--bench", "--baseline", BASELINE]);
    let rows_after = rt.block_on(checksums_of(&db.endpoint, &base_columns));
    Workflow {
        _db: db,
        home,
        before,
        migrate,
        after,
        rows_before,
        rows_after,
    }
}

/// `DATABASE_URL=url cargo bench --bench queries -- ARGS`, with criterion's
/// output in `home/criterion` and the run folder in `home/reports`.
fn bench_run(rt: &tokio::runtime::Runtime, url: &str, home: &Path, args: &[&str]) -> Run {
    let root = home.join("criterion");
    let crit = CriterionRun::at(CriterionArgs::parse(args.iter().copied()), root.clone());
    let c = Criterion::default()
        .output_directory(&root)
        .warm_up_time(Duration::from_millis(50))
        .measurement_time(Duration::from_millis(200))
        .sample_size(10)
        .nresamples(1_000)
        .without_plots();
    let mut c = bench::with_baseline(c, &crit).unwrap();
    // As the bench opens DATABASE_URL, without the index-changes flag
    // whatever this test's environment holds.
    let ws = Workspace {
        cluster: None,
        db: Endpoint::from_url(url).unwrap(),
        before_db: None,
        scale: Scale::Tiny,
        seed: common::SEED,
        reused: true,
        may_change_indexes: false,
        force: false,
        copy: Default::default(),
        like: None,
    };
    assert!(!ws.db.is_embedded(), "the tool must take it for the user's");
    let chain = MigrationChain::builtin().unwrap();
    let catalogue = Catalogue::parse("queries.toml", BUILTIN, &chain).unwrap();
    let migration = &chain.under_test;
    let states = ws.bench_states();
    let captures = bench::reads::bench_reads(
        &mut c,
        rt,
        &ws,
        &catalogue,
        migration,
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
            costs: false,
            production_rows: Vec::new(),
            criterion: &crit,
            captures: &captures,
            plan_cache: PlanCacheMode::Auto,
            show_parameters: false,
        }))
        .unwrap()
        .expect("a run folder");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    Run {
        results: Results::read(&dir.join("results.json")).unwrap(),
        page: read("index.html"),
        summary: read("summary.md"),
        dir,
    }
}

/// Every link target of a page, as a browser reads it (minijinja escapes
/// `/` in attributes).
fn hrefs(page: &str) -> Vec<String> {
    page.split(r#"href=""#)
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|h| h.replace("&#x2f;", "/").replace("&amp;", "&"))
        .collect()
}

/// The row of the page's before/after table for `query`.
fn before_after_row<'a>(page: &'a str, query: &str) -> &'a str {
    let table = page
        .split(r#"<table id="before-after-table">"#)
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("the page has a before/after table");
    table
        .split("<tr>")
        .find(|r| r.contains(&format!(">{query}</a>")))
        .unwrap_or_else(|| panic!("no before/after row for {query}"))
}

#[test]
fn before_run_saves_the_baseline_on_the_base_schema() {
    let w = workflow();
    let r = &w.before.results;
    assert_eq!(r.database.as_ref().unwrap().state, FoundState::Base);
    assert_eq!(r.states, vec![IndexState::AsFound]);
    assert_eq!(r.saved_baseline.as_deref(), Some(BASELINE));
    assert!(
        !r.partial,
        "a before run that skips unrunnable queries is complete"
    );
    let measured: Vec<&str> = r.queries.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(measured, MESSAGE_QUERIES);
    // reports/baselines/before-012 leads to this run.
    let link = w.home.join("reports/baselines").join(BASELINE);
    assert_eq!(
        std::fs::canonicalize(link).unwrap(),
        std::fs::canonicalize(&w.before.dir).unwrap()
    );
}

#[test]
fn before_run_lists_the_conversation_queries_as_not_runnable_with_the_servers_reason() {
    let r = &workflow().before.results;
    let names: Vec<&str> = r.not_runnable.iter().map(|n| n.query.as_str()).collect();
    assert_eq!(names, CONVERSATION_QUERIES);
    for n in &r.not_runnable {
        assert!(
            n.reason.contains("does not exist"),
            "{}: {}",
            n.query,
            n.reason
        );
    }
    // The server names the first missing column it meets.
    let human = &r.not_runnable[0];
    assert_eq!(human.reason, r#"column "customerEmail" does not exist"#);
    // The page and summary.md list them with the server's reason.
    let page = &workflow().before.page;
    let list = page
        .split(r#"<ul id="not-runnable-list">"#)
        .nth(1)
        .and_then(|l| l.split("</ul>").next())
        .expect("the page lists the queries not runnable here");
    assert!(list.contains(
        r#"<span class="mono">human_queue</span>: column &quot;customerEmail&quot; does not exist"#
    ));
    assert_eq!(list.matches("<li>").count(), CONVERSATION_QUERIES.len());
    let summary = &workflow().before.summary;
    assert!(summary.contains("database as found: base"), "{summary}");
    assert!(
        summary.contains(r#"- human_queue: column "customerEmail" does not exist"#),
        "{summary}"
    );
}

#[test]
fn migrate_up_applies_012_to_the_users_database() {
    let w = workflow();
    assert!(
        w.migrate.status.success(),
        "{}{}",
        stdout(&w.migrate),
        stderr(&w.migrate)
    );
    let after = w.after.results.database.as_ref().unwrap();
    assert_eq!(after.state, FoundState::Migrated);
    assert!(w.after.results.not_runnable.is_empty());
}

#[test]
fn after_run_shows_before_and_after_with_a_change_for_the_message_queries() {
    let w = workflow();
    let r = &w.after.results;
    let b = r.compared_with.as_ref().unwrap();
    assert_eq!(b.name, BASELINE);
    assert_eq!(
        b.run_id.as_deref(),
        w.before.dir.file_name().and_then(|f| f.to_str())
    );
    for name in MESSAGE_QUERIES {
        let q = r.queries.iter().find(|q| q.name == name).unwrap();
        let t = &q.timings[0];
        assert!(!t.no_baseline, "{name} had a baseline");
        let c = t
            .change
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no change"));
        assert_eq!(c.against.as_deref(), Some(BASELINE));
        let ratio = c.bootstrap.expect("both runs' samples were there");
        assert!(ratio.low <= ratio.point && ratio.point <= ratio.high);
        // Before 012 each scans all of "Message" (20,000 rows at tiny);
        // after, an index reads a page or two: at least twice as fast, far
        // past noise, on any machine.
        assert_eq!(c.verdict, Verdict::Improved, "{name}: {c:?}");
        assert!(ratio.high < -50.0, "{name}: median change {ratio:?} %");
        let row = before_after_row(&w.after.page, name);
        assert!(!row.contains(NEW_IN_MIGRATION), "{name}: {row}");
        assert!(
            row.contains(" faster [") || row.contains(" slower [") || row.contains("% ["),
            "{name}: {row}"
        );
        assert!(row.contains(c.verdict.as_str()), "{name}: {row}");
    }
}

#[test]
fn after_run_marks_the_conversation_queries_new_in_this_migration() {
    let w = workflow();
    for name in CONVERSATION_QUERIES {
        let q = w
            .after
            .results
            .queries
            .iter()
            .find(|q| q.name == name)
            .unwrap();
        assert!(q.timings[0].no_baseline, "{name}");
        assert!(q.timings[0].change.is_none(), "{name}");
        let row = before_after_row(&w.after.page, name);
        assert!(row.contains(NEW_IN_MIGRATION), "{name}: {row}");
    }
}

/// Right after `migrate up` nobody is assigned yet: the agent queries are
/// timed with a parameter that matches nothing, and say so.
#[test]
fn after_run_times_queries_on_empty_new_columns_as_a_miss() {
    let w = workflow();
    let q = w.after.results.query("agent_conversations").unwrap();
    let miss = q.miss.as_deref().expect("timed as a miss");
    assert_eq!(miss, "no rows have \"assignedTo\" yet: timed as a miss");
    assert!(
        w.after.page.contains(miss.replace('"', "&quot;").as_str()) || w.after.page.contains(miss)
    );
    assert!(w.after.summary.contains("timed as a miss"));
}

#[test]
fn plans_exist_in_every_measured_state_and_are_linked() {
    let w = workflow();
    for run in [&w.before, &w.after] {
        for q in &run.results.queries {
            // One plan per parameter row it was timed with, the one that
            // stands for the query first, each written and linked.
            assert_eq!(q.plans.len(), q.params.len(), "{}", q.name);
            for p in &q.plans {
                assert_eq!(p.state, IndexState::AsFound);
                assert!(run.dir.join(&p.file).is_file(), "{}", p.file);
                assert!(hrefs(&run.page).contains(&p.file), "{}", p.file);
            }
        }
    }
    // The after page shows the baseline run's plan beside its own.
    let before_id = w.before.dir.file_name().unwrap().to_str().unwrap();
    for name in MESSAGE_QUERIES {
        let href = format!("../{before_id}/plans/{name}.current_schema.json");
        assert!(hrefs(&w.after.page).contains(&href), "{href}");
        assert!(w.after.dir.join(&href).is_file(), "{href}");
    }
}

#[test]
fn the_database_holds_the_rows_it_held_before_apart_from_the_migration() {
    let w = workflow();
    assert_eq!(w.rows_before.len(), 3);
    assert!(w.rows_before.iter().all(|(n, _)| *n > 0));
    assert_eq!(w.rows_after, w.rows_before);
}

/// On the user's database, the after page's plan change reads across the
/// two runs: the baseline run's plan before, this run's after, as their
/// run folders hold them; and the recommendation sees the queries that
/// switched to an index.
#[test]
fn the_after_page_diffs_plans_across_the_two_runs() {
    let w = workflow();
    for name in MESSAGE_QUERIES {
        let paths = |r: &Results| {
            let q = r.query(name).unwrap();
            let file = &q.plans[0].file;
            let dir = if std::ptr::eq(r, &w.before.results) {
                &w.before.dir
            } else {
                &w.after.dir
            };
            assert!(dir.join(file).is_file(), "{file}");
            q.plans[0].summary.access_paths().join(", ")
        };
        let (before, after) = (paths(&w.before.results), paths(&w.after.results));
        assert_ne!(before, after, "{name}: the index changes the plan");
        let at = w
            .after
            .page
            .find(&format!(
                "<section class=\"plan\" id=\"plan-{}\">",
                name.replace('_', "-")
            ))
            .unwrap_or_else(|| panic!("{name} has a plan section"));
        let section = &w.after.page[at..];
        let line = section
            .lines()
            .find(|l| l.contains("Plan change:"))
            .unwrap();
        let want = format!("{before} → {after}");
        assert!(line.contains(&want), "{name}: {line} lacks {want}");
        assert!(!section[..section.find("</section>").unwrap()].contains("No plan captured"));
    }
    // Before the migration its indexes do not exist: nothing to drop or keep.
    assert!(
        w.before.results.recommendations.is_empty(),
        "{:#?}",
        w.before.results.recommendations
    );
    let rec = w
        .after
        .results
        .recommendations
        .iter()
        .find(|r| r.index == "Message_createdAt_idx")
        .unwrap();
    assert!(
        rec.evidence
            .contains("used by newest_messages (before: Seq Scan on Message)"),
        "{}",
        rec.evidence
    );
}

/// Parameter values are the team's data: on a database the tool did not
/// seed, none reaches the page or summary.md (nor results.json) unless
/// shown on purpose; the raw plan files keep them.
#[test]
fn no_parameter_value_from_the_users_rows_reaches_the_pages() {
    let w = workflow();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = rt.block_on(w._db.endpoint.connect()).unwrap();
    let ids: Vec<String> = rt
        .block_on(c.query(r#"SELECT id FROM "Conversation""#, &[]))
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(ids.len() > 100);
    for run in [&w.before, &w.after] {
        let json = std::fs::read_to_string(run.dir.join("results.json")).unwrap();
        for id in &ids {
            assert!(!run.page.contains(id.as_str()), "{id} on the page");
            assert!(!run.summary.contains(id.as_str()), "{id} in summary.md");
            assert!(!json.contains(id.as_str()), "{id} in results.json");
        }
        let t = run.results.query("transcript").unwrap();
        assert!(t.params.len() > 1, "timed at several rows");
        assert!(
            t.params.iter().all(|p| p.values[0].starts_with("text(")),
            "{:?}",
            t.params
        );
        assert!(!run.results.parameters_shown);
    }
    // The raw plan file of a custom plan holds the value, as the server wrote it.
    let raw = w.after.results.query("transcript").unwrap().plans[0]
        .file
        .clone();
    let text = std::fs::read_to_string(w.after.dir.join(raw)).unwrap();
    assert!(ids.iter().any(|id| text.contains(id.as_str())) || text.contains("$1"));
}
