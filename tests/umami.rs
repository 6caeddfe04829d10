//! A real application's schema, one helpdesk-bench was not designed
//! around: Umami v2.9.0 (web analytics, MIT; `tests/fixtures/umami/`), its
//! schema before Prisma migration `03_metric_performance_index` (17 plain
//! `CREATE INDEX`, kept as written), seeded by its plain-SQL `seed.sql`
//! (power-law websites, bounce-heavy sessions), and a catalogue of its real
//! queries. A database of the embedded cluster, reached by URL so the tool
//! takes it for a team's own, goes through the README's workflow on a
//! foreign schema: the before bench with `--save-baseline`, the migration applied
//! without psql (as the team's deploy would), the after bench with
//! `--baseline`, `explain --strict` and `load`; `migrate` and `verify` on
//! its database; and `advise` and `rehearse` on a scratch copy of it, in
//! copy mode and in synth mode. The workflow runs once; each test checks
//! one thing a user reads off it.

#[path = "../benches/common/mod.rs"]
pub mod bench;
pub mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use common::{stderr, stdout, TempDir, TestDb};
use criterion::Criterion;
use helpdesk_bench::cluster::Endpoint;
use helpdesk_bench::explain::PlanCacheMode;
use helpdesk_bench::measure::{write_run, CriterionArgs, CriterionRun, RunInput};
use helpdesk_bench::queries::Catalogue;
use helpdesk_bench::results::{Advice, Rehearsal, Results};
use helpdesk_bench::schema::{table_checksum, table_columns, IndexState, MigrationChain};
use helpdesk_bench::seed::Scale;
use helpdesk_bench::workspace::Workspace;

const BASELINE: &str = "before-03";
/// `seed.sql`'s size: 20,000 sessions, about 75,000 events (a few seconds).
const SEED_SIZE: &str = "tiny";
/// The index the catalogue's url filters were built for.
const URL_PATH_INDEX: &str = "website_event_website_id_created_at_url_path_idx";
/// Umami's tables with their keys, for row checksums.
const TABLES: [(&str, &str); 10] = [
    ("user", "user_id"),
    ("website", "website_id"),
    ("session", "session_id"),
    ("website_event", "event_id"),
    ("event_data", "event_data_id"),
    ("session_data", "session_data_id"),
    ("team", "team_id"),
    ("team_user", "team_user_id"),
    ("team_website", "team_website_id"),
    ("report", "report_id"),
];

/// A file of `tests/fixtures/umami/`.
fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/umami")
        .join(rel)
}

fn migration_dir() -> PathBuf {
    fixture("migrations/03_metric_performance_index")
}

fn catalogue_file() -> PathBuf {
    fixture("queries.toml")
}

fn chain() -> MigrationChain {
    MigrationChain::load(&[migration_dir()]).unwrap_or_else(|e| panic!("{e}"))
}

fn catalogue(chain: &MigrationChain) -> Catalogue {
    Catalogue::load(Some(&catalogue_file()), chain).unwrap_or_else(|e| panic!("{e}"))
}

/// A new database holding Umami's schema before migration 03 and its
/// seeded rows, loaded through the driver (no psql), vacuumed and
/// analysed as on a long-running server.
async fn umami_db(prefix: &str) -> TestDb {
    let db = TestDb::new(prefix).await;
    let c = db
        .endpoint
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let read = |f: &str| std::fs::read_to_string(fixture(f)).unwrap();
    c.batch_execute(&read("before.sql")).await.unwrap();
    c.batch_execute(&format!("SET umami_seed.size = '{SEED_SIZE}'"))
        .await
        .unwrap();
    c.batch_execute(&read("seed.sql")).await.unwrap();
    // Statistics from every row, not a random sample of them: the same
    // each run, so the plans asserted below cannot flip between runs.
    // (Two statements: VACUUM refuses the implicit transaction of one
    // multi-statement string.)
    c.batch_execute("SET default_statistics_target = 10000")
        .await
        .unwrap();
    c.batch_execute("VACUUM (ANALYZE)").await.unwrap();
    db
}

/// Row count and content checksum of every Umami table, over all columns.
async fn rows(db: &Endpoint) -> Vec<(i64, String)> {
    let c = db.connect().await.unwrap();
    let mut out = Vec::new();
    for (table, key) in TABLES {
        let cols = table_columns(&c, table).await.unwrap();
        out.push(table_checksum(&c, table, &cols, key).await.unwrap());
    }
    out
}

/// The names of every index in `public`.
async fn indexes(db: &Endpoint) -> BTreeSet<String> {
    let c = db.connect().await.unwrap();
    c.query(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// One run of the bench as `cargo bench --bench queries -- ARGS` makes it.
struct Run {
    results: Results,
    page: String,
    summary: String,
}

/// What the workflow left behind.
struct Workflow {
    /// Kept so the database outlives the runs.
    _db: TestDb,
    /// Holds `criterion/`, `reports/` and explain's output.
    home: TempDir,
    before: Run,
    after: Run,
    explain: Output,
    plans: serde_json::Value,
    load: Output,
    load_results: Results,
    rows_before: Vec<(i64, String)>,
    rows_after: Vec<(i64, String)>,
    indexes_before: BTreeSet<String>,
    indexes_after: BTreeSet<String>,
    /// `migrate status`, `migrate up`, `migrate status`, in that order.
    migrate: [Output; 3],
    /// `verify --url` after the migration.
    verify: Output,
}

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
    let home = TempDir::new("umami");
    // SAFETY: registering a plain `extern "C" fn` with no captured state.
    unsafe {
        nix::libc::atexit(remove_home);
    }
    let db = rt.block_on(umami_db("umami"));
    let url = db.url();
    let rows_before = rt.block_on(rows(&db.endpoint));
    let indexes_before = rt.block_on(indexes(&db.endpoint));

    let status_before = tool(&url, &["migrate", "status"]);
    let before = bench_run(&rt, &url, &home, &["--bench", "--save-baseline", BASELINE]);
    let up = tool(&url, &["migrate", "up"]);
    assert!(up.status.success(), "migrate up: {}", stderr(&up));
    let status_after = tool(&url, &["migrate", "status"]);
    let after = bench_run(&rt, &url, &home, &["--bench", "--baseline", BASELINE]);
    let verify = tool(&url, &["verify"]);
    let explain_dir = home.join("explain");
    let explain = tool(&url, &["explain", "--strict", "--out", path(&explain_dir)]);
    let plans = std::fs::read_to_string(explain_dir.join("plans.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let load_dir = home.join("load");
    let load = tool(
        &url,
        &[
            "load",
            "--clients",
            "2",
            "--duration",
            "1s",
            "--reports",
            path(&load_dir),
        ],
    );
    let load_results = Results::read(&load_dir.join("latest/results.json"))
        .unwrap_or_else(|e| panic!("{e}\n{}", stderr(&load)));
    Workflow {
        rows_after: rt.block_on(rows(&db.endpoint)),
        indexes_after: rt.block_on(indexes(&db.endpoint)),
        _db: db,
        home,
        before,
        after,
        explain,
        plans,
        load,
        load_results,
        rows_before,
        indexes_before,
        migrate: [status_before, up, status_after],
        verify,
    }
}

/// `helpdesk-bench ARGS --url URL` with Umami's migration (and catalogue,
/// for the commands that run queries), and no permission from the
/// environment.
fn tool(url: &str, args: &[&str]) -> Output {
    tool_on(Some(url), args)
}

/// [`tool`] on `url`, or on the embedded cluster when `None`.
fn tool_on(url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(common::bin());
    cmd.args(args);
    if let Some(url) = url {
        cmd.args(["--url", url]);
    }
    cmd.arg("--migration").arg(migration_dir());
    // `migrate` and `verify` run no queries and take no catalogue.
    if !matches!(args.first(), Some(&"migrate" | &"verify")) {
        cmd.arg("--catalogue").arg(catalogue_file());
    }
    for p in [
        &helpdesk_bench::permission::INDEX_CHANGES,
        &helpdesk_bench::permission::COMMIT_WRITES,
        &helpdesk_bench::permission::SCRATCH,
        &helpdesk_bench::permission::FORCE,
    ] {
        cmd.env_remove(p.env);
    }
    cmd.env_remove(helpdesk_bench::cluster::URL_ENV)
        .env_remove(helpdesk_bench::scratch::DATA_ENV)
        .env_remove(helpdesk_bench::scratch::SAMPLE_ENV)
        .env_remove(helpdesk_bench::workspace::LIKE_ENV)
        .output()
        .expect("run helpdesk-bench")
}

/// A path as a command-line argument.
fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// `DATABASE_URL=url HELPDESK_BENCH_MIGRATION=… HELPDESK_BENCH_CATALOGUE=…
/// cargo bench --bench queries -- ARGS`, with criterion's output in
/// `home/criterion` and the run folder in `home/reports`.
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
    let chain = chain();
    let catalogue = catalogue(&chain);
    let states = ws.bench_states();
    let captures = bench::reads::bench_reads(
        &mut c,
        rt,
        &ws,
        &catalogue,
        &chain.under_test,
        &states,
        PlanCacheMode::Auto,
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
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
        .unwrap_or_else(|e| panic!("{e:#}"))
        .expect("a run folder");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    Run {
        results: Results::read(&dir.join("results.json")).unwrap(),
        page: read("index.html"),
        summary: read("summary.md"),
    }
}

/// The indexes a run's captured plans of `query` use, one set per plan.
fn run_plan_indexes(run: &Run, query: &str) -> Vec<BTreeSet<String>> {
    let q = run
        .results
        .queries
        .iter()
        .find(|q| q.name == query)
        .unwrap_or_else(|| panic!("{query} not measured"));
    q.plans
        .iter()
        .map(|p| {
            p.summary
                .nodes
                .iter()
                .filter_map(|n| n.index.clone())
                .collect()
        })
        .collect()
}

#[test]
fn the_catalogue_holds_umamis_queries_each_naming_its_source() {
    let chain = chain();
    let c = catalogue(&chain);
    assert_eq!(c.reads().count(), 31);
    let writes: Vec<&str> = c.writes().map(|q| q.name.as_str()).collect();
    assert_eq!(
        writes,
        [
            "insert_session",
            "insert_website_event",
            "insert_event_data"
        ]
    );
    let traffic: Vec<&str> = c.traffic().map(|q| q.name.as_str()).collect();
    assert_eq!(
        traffic,
        [
            "website_by_id",
            "session_by_id",
            "team_website_access",
            "track_pageview"
        ]
    );
    assert_eq!(chain.under_test.indexes().len(), 17);
    // Every entry's comment names its file in Umami's repository.
    let text = std::fs::read_to_string(catalogue_file()).unwrap();
    for block in text.split("[[query]]").skip(1) {
        let source = block.lines().find(|l| l.starts_with("# src/"));
        assert!(
            source.is_some_and(|l| l.contains(".ts: ")),
            "no source comment in {block}"
        );
    }
}

#[test]
fn before_run_saves_the_baseline_and_measures_every_read() {
    let r = &workflow().before.results;
    assert_eq!(r.states, vec![IndexState::AsFound]);
    assert_eq!(r.saved_baseline.as_deref(), Some(BASELINE));
    assert!(r.not_runnable.is_empty(), "{:?}", r.not_runnable);
    assert_eq!(r.queries.len(), 31);
    for q in &r.queries {
        let t = &q.timings[0];
        assert!(t.median_ms > 0.0, "{}", q.name);
        assert!(t.ci_low_ms <= t.median_ms && t.median_ms <= t.ci_high_ms);
    }
}

#[test]
fn after_run_compares_every_read_with_the_baseline_with_its_uncertainty() {
    let r = &workflow().after.results;
    assert_eq!(
        r.compared_with.as_ref().map(|b| b.name.as_str()),
        Some(BASELINE)
    );
    assert_eq!(r.queries.len(), 31);
    for q in &r.queries {
        let t = &q.timings[0];
        assert!(!t.no_baseline, "{} had a baseline", q.name);
        let c = t.change.as_ref().unwrap_or_else(|| panic!("{}", q.name));
        assert_eq!(c.against.as_deref(), Some(BASELINE));
        let m = c.median.as_ref().unwrap_or_else(|| panic!("{}", q.name));
        assert!(m.low <= m.point && m.point <= m.high, "{}: {m:?}", q.name);
    }
}

/// The url filter and the funnel compare `url_path` within one website's
/// time range: the migration's url_path index is built for exactly that.
/// The plans captured before it (there is no such index) and after it.
#[test]
fn the_url_path_index_serves_the_url_filter_and_the_funnel() {
    let w = workflow();
    for query in ["website_stats_url_filter", "report_funnel"] {
        let before = run_plan_indexes(&w.before, query);
        let after = run_plan_indexes(&w.after, query);
        assert!(!before.is_empty() && !after.is_empty(), "{query}");
        assert!(before.iter().all(|s| !s.contains(URL_PATH_INDEX)));
        assert!(
            after.iter().all(|s| s.contains(URL_PATH_INDEX)),
            "{query}: {after:?}"
        );
    }
}

#[test]
fn explain_strict_holds_the_catalogues_plan_assertions() {
    let w = workflow();
    assert!(w.explain.status.success(), "{}", stderr(&w.explain));
    assert!(
        stdout(&w.explain).contains("0 assertion violation(s)")
            || stderr(&w.explain).contains("0 assertion violation(s)"),
        "{}",
        stderr(&w.explain)
    );
    let plans = w.plans["plans"].as_array().expect("plans.json lists plans");
    let funnel: Vec<&serde_json::Value> = plans
        .iter()
        .filter(|p| p["query"] == "report_funnel")
        .collect();
    assert!(!funnel.is_empty());
    for p in funnel {
        let nodes = p["summary"]["nodes"].as_array().unwrap();
        assert!(nodes.iter().any(|n| n["index"] == URL_PATH_INDEX), "{p}");
    }
}

#[test]
fn load_runs_umamis_reads_on_the_database_as_found() {
    let w = workflow();
    assert!(w.load.status.success(), "{}", stderr(&w.load));
    let load = w.load_results.load.as_ref().expect("a load section");
    assert!(!load.writes && !load.indexes_changed);
    let names: BTreeSet<&str> = load.points.iter().map(|p| p.query.as_str()).collect();
    for q in ["active_visitors", "website_by_id", "session_by_id"] {
        assert!(names.contains(q), "{q} not in the mix: {names:?}");
    }
    assert!(load
        .points
        .iter()
        .all(|p| p.state == IndexState::AsFound && p.errors == 0));
    assert!(load.points.iter().map(|p| p.requests).sum::<u64>() > 0);
}

#[test]
fn the_teams_rows_are_unchanged_and_only_the_migrations_indexes_were_added() {
    let w = workflow();
    assert_eq!(w.rows_before.len(), TABLES.len());
    assert!(w.rows_before[3].0 > 50_000, "website_event seeded");
    assert_eq!(w.rows_after, w.rows_before);
    let added: BTreeSet<String> = w
        .indexes_after
        .difference(&w.indexes_before)
        .cloned()
        .collect();
    let migration: BTreeSet<String> = chain()
        .under_test
        .indexes()
        .iter()
        .map(|i| i.name.clone())
        .collect();
    assert_eq!(added, migration);
    assert!(w.indexes_before.is_subset(&w.indexes_after));
}

#[test]
fn the_pages_name_umamis_tables_and_queries() {
    let w = workflow();
    for run in [&w.before, &w.after] {
        for needle in ["website_event", "session_metrics_browser", "report_funnel"] {
            assert!(run.page.contains(needle), "{needle} not on the page");
            assert!(run.summary.contains(needle) || needle == "website_event");
        }
    }
    assert!(w.after.page.contains(URL_PATH_INDEX));
}

/// `migrate status` reads the migration's own objects on Umami's database,
/// `migrate up` applies it there, and `verify --url` checks it, without a
/// word of the help desk's base schema.
#[test]
fn migrate_and_verify_work_on_umamis_database() {
    let w = workflow();
    let [before, up, after] = &w.migrate;
    for o in [before, up, after, &w.verify] {
        let text = format!("{}{}", stdout(o), stderr(o));
        assert!(
            !text.contains("base.sql")
                && !text.contains("Conversation")
                && !text.contains("partial"),
            "{text}"
        );
    }
    assert_eq!(
        stdout(before).trim(),
        "base (none of 03_metric_performance_index's 17 objects present)"
    );
    assert!(up.status.success(), "{}", stderr(up));
    assert!(stdout(up).contains("applied "), "{}", stdout(up));
    assert_eq!(stdout(after).trim(), "03 (all 17 objects present)");
    let verify = stdout(&w.verify);
    assert!(w.verify.status.success(), "{verify}{}", stderr(&w.verify));
    assert!(
        verify.contains("PASS  03_metric_performance_index is applied"),
        "{verify}"
    );
    assert!(verify.contains("(17 indexes valid and ready)"), "{verify}");
}

/// The page's title names Umami's largest tables, not the help desk's, and
/// no scale the tool did not seed.
#[test]
fn the_title_speaks_of_umamis_tables() {
    let w = workflow();
    let title = w
        .after
        .page
        .split("<title>helpdesk-bench: ")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .unwrap_or_default()
        .to_string();
    assert!(
        title.starts_with("03_metric_performance_index on your database (migrated): "),
        "{title}"
    );
    assert!(title.contains("website_event"), "{title}");
    assert!(!w.after.page.contains("conversations") && !w.after.page.contains("scale tiny"));
}

/// `advise` and `rehearse` on a team's own database,
/// in copy mode: the scratch database holds Umami's schema and rows, the
/// advice names Umami's tables, the rehearsal Umami's blocked time, no
/// scratch database is left and the team's rows are unchanged.
#[test]
fn advise_and_rehearse_run_on_a_copy_of_umamis_database() {
    let rt = bench::runtime().unwrap();
    let home = TempDir::new("umami-scratch");
    let db = rt.block_on(umami_db("umami_scratch"));
    let url = db.url();
    // Before `migrate up`, as a review runs them: advise's copy has the
    // migration applied in it, rehearse's starts without it.
    let rows_before = rt.block_on(rows(&db.endpoint));
    let _alone = SCRATCH_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(rt.block_on(scratch_databases(&db.endpoint)).is_empty());

    let umami = SCRATCH_TABLES;
    let (rehearse, rehearsal, _, advice) = rehearse_then_advise(&url, &home, &[]);
    // Umami's migration builds its indexes without CONCURRENTLY: each
    // build holds ShareLock on its table, which the sampler times whether
    // or not a write of the traffic arrived meanwhile.
    let held = &rehearsal.as_written.held;
    assert!(
        held.iter().any(|h| umami.contains(&h.table.as_str())
            && h.mode == "ShareLock"
            && h.held_ms > 0.0
            && h.taken_by
                .as_deref()
                .is_some_and(|s| s.starts_with("CREATE INDEX"))),
        "{}\n{held:#?}",
        stdout(&rehearse)
    );

    assert!(
        advice
            .candidates
            .iter()
            .any(|c| umami.contains(&c.table.as_str())),
        "{:?}",
        advice
            .candidates
            .iter()
            .map(|c| &c.table)
            .collect::<Vec<_>>()
    );

    let left = rt.block_on(scratch_databases(&db.endpoint));
    assert!(left.is_empty(), "scratch databases left: {left:?}");
    assert_eq!(rt.block_on(rows(&db.endpoint)), rows_before);
}

/// `advise` and `rehearse` in synth mode: the scratch copy holds Umami's
/// schema with rows generated from its statistics, so no row of the
/// team's tables is read (their scan counters do not move), and the advice
/// and the rehearsal still speak of Umami's tables; nothing is left behind.
#[test]
fn advise_and_rehearse_run_on_synthetic_data_shaped_like_umamis() {
    let rt = bench::runtime().unwrap();
    let home = TempDir::new("umami-synth");
    let db = rt.block_on(umami_db("umami_synth"));
    let url = db.url();
    let rows_before = rt.block_on(rows(&db.endpoint));
    let _alone = SCRATCH_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(rt.block_on(scratch_databases(&db.endpoint)).is_empty());
    // The checksums' own reads reach the counters when their session ends.
    std::thread::sleep(Duration::from_millis(700));
    let read_before = rt.block_on(tuples_read(&db.endpoint));

    let umami = SCRATCH_TABLES;
    let (rehearse, rehearsal, advise, advice) =
        rehearse_then_advise(&url, &home, &["--data", "synth"]);
    assert!(
        rehearsal
            .as_written
            .held
            .iter()
            .any(|h| umami.contains(&h.table.as_str()) && h.mode == "ShareLock" && h.held_ms > 0.0),
        "{}\n{:#?}",
        stdout(&rehearse),
        rehearsal.as_written.held
    );
    assert!(
        advice
            .candidates
            .iter()
            .any(|c| umami.contains(&c.table.as_str())),
        "{}",
        stdout(&advise)
    );

    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        rt.block_on(tuples_read(&db.endpoint)),
        read_before,
        "synth mode read rows of Umami's tables"
    );
    let left = rt.block_on(scratch_databases(&db.endpoint));
    assert!(left.is_empty(), "scratch databases left: {left:?}");
    assert_eq!(rt.block_on(rows(&db.endpoint)), rows_before);
}

/// `rehearse --like`: without --url, the embedded lab is built like
/// Umami's database (its schema, rows generated from its statistics) in
/// place of the help-desk lab; none of Umami's rows is read, the
/// rehearsal times Umami's tables, and the page says where the data came
/// from. `verify --like` proves the migration's round trip in such a lab.
#[test]
fn rehearse_and_verify_run_on_an_embedded_lab_shaped_like_umamis_database() {
    let rt = bench::runtime().unwrap();
    let home = TempDir::new("umami-like");
    let db = rt.block_on(umami_db("umami_like"));
    let url = db.url();
    let rows_before = rt.block_on(rows(&db.endpoint));
    std::thread::sleep(Duration::from_millis(700));
    let read_before = rt.block_on(tuples_read(&db.endpoint));

    let reports = home.join("reports");
    let out = tool_on(
        None,
        &["rehearse", "--like", &url, "--reports", path(&reports)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let results = Results::read(&home.join("reports/latest/results.json")).unwrap();
    assert!(
        results
            .data_like
            .as_deref()
            .is_some_and(|d| d.contains(db.endpoint.dbname().as_str())),
        "{:?}",
        results.data_like
    );
    assert!(results.counts.is_none(), "no help-desk row counts");
    let held = &results.rehearsal.expect("rehearsal").as_written.held;
    assert!(
        held.iter()
            .any(|h| h.table == "website_event" && h.mode == "ShareLock"),
        "{held:#?}"
    );
    let page = std::fs::read_to_string(home.join("reports/latest/index.html")).unwrap();
    assert!(
        page.contains("on a lab shaped like"),
        "the title names the lab's origin"
    );
    assert!(!page.contains("at scale small"));

    // verify --like: the round trip in a database built like Umami's,
    // every table checksummed (Umami's migration has no guard: a second
    // run fails on its first CREATE INDEX, inside its transaction).
    let verify = tool_on(None, &["verify", "--like", &url]);
    let text = stdout(&verify);
    assert!(verify.status.success(), "{text}{}", stderr(&verify));
    for line in [
        "PASS  the database starts before 03_metric_performance_index",
        "PASS  03_metric_performance_index applies",
        "PASS  03_metric_performance_index refuses to run twice (relation \"event_data_website_id_created_at_idx\" already exists)",
        "PASS  pre-existing rows unchanged after 03",
        "PASS  rollback restores the pre-03 catalog",
        "PASS  pre-existing rows unchanged after rollback",
        "PASS  rollback refuses to run when 03 is not applied",
    ] {
        assert!(text.contains(line), "missing {line:?} in {text}");
    }
    assert!(text.ends_with("verify: 7 passed, 0 failed\n"), "{text}");
    // Without --like, refused in one line before any database is made.
    let bare = tool_on(None, &["verify"]);
    assert_eq!(bare.status.code(), Some(2), "{}", stderr(&bare));
    assert!(stdout(&bare).is_empty(), "{}", stdout(&bare));
    assert!(
        stderr(&bare).contains("add --like URL") && stderr(&bare).lines().count() == 1,
        "{}",
        stderr(&bare)
    );

    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(rt.block_on(tuples_read(&db.endpoint)), read_before);
    assert_eq!(rt.block_on(rows(&db.endpoint)), rows_before);
    // Beside --url, --like is refused in one line.
    let both = tool(&url, &["rehearse", "--allow-scratch", "--like", &url]);
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    assert!(
        stderr(&both).contains("drop one of them"),
        "{}",
        stderr(&both)
    );
}

/// Rows read from the team's tables, by their scan counters.
async fn tuples_read(db: &Endpoint) -> i64 {
    let c = db.connect().await.unwrap();
    let sql = "SELECT (coalesce(sum(seq_tup_read), 0) + coalesce(sum(idx_tup_fetch), 0))::bigint FROM pg_stat_user_tables";
    c.query_one(sql, &[]).await.unwrap().get(0)
}

/// Umami's tables the scratch tests look for in the holds and the advice.
const SCRATCH_TABLES: [&str; 3] = ["website_event", "session", "event_data"];

/// `rehearse`, then `advise`, on `url` with `--allow-scratch` and `data`
/// (the scratch copy's flags), reports under `home`: each command's output
/// and what it wrote. Two candidates keep `advise`'s time in bounds; the
/// selection, whole-set measurement and swaps run all the same.
fn rehearse_then_advise(
    url: &str,
    home: &Path,
    data: &[&str],
) -> (Output, Rehearsal, Output, Advice) {
    let reports = home.join("reports");
    let reports = path(&reports);
    let latest = home.join("reports/latest/results.json");
    let with =
        |args: &[&'static str]| -> Vec<&str> { [args, data, &["--reports", reports]].concat() };
    let rehearse = tool(url, &with(&["rehearse", "--allow-scratch"]));
    assert!(rehearse.status.success(), "{}", stderr(&rehearse));
    let rehearsal = Results::read(&latest)
        .unwrap()
        .rehearsal
        .expect("rehearsal");
    let advise = tool(
        url,
        &with(&["advise", "--allow-scratch", "--max-candidates", "2"]),
    );
    assert!(advise.status.success(), "{}", stderr(&advise));
    let advice = Results::read(&latest).unwrap().advice.expect("advice");
    (rehearse, rehearsal, advise, advice)
}

/// The tests that make scratch databases run one at a time: each checks
/// that none is left on the server the tests share.
static SCRATCH_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The server's scratch databases: none may be left behind.
async fn scratch_databases(db: &Endpoint) -> BTreeSet<String> {
    let c = db.connect().await.unwrap();
    let sql = format!(
        "SELECT datname::text FROM pg_database WHERE starts_with(datname, '{}')",
        helpdesk_bench::scratch::PREFIX
    );
    c.query(&sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}
