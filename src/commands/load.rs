//! `helpdesk-bench load`: the catalogue's mix from concurrent clients, in
//! each index state, into a run folder under `reports/` (`results.json`,
//! `index.html`, `summary.md`).

use std::process::ExitCode;

use crate::cli::LoadArgs;
use crate::error::{Error, Result};
use crate::load::{self, LoadOptions, Mix, Restored};
use crate::measure::{environment, migration_info};
use crate::permission::{refuse_retired, COMMIT_WRITES};
use crate::queries::{split_runnable, Catalogue, NotRunnable};
use crate::report;
use crate::results;
use crate::results::{Environment, LoadPoint, LoadRun, Results, Tool};
use crate::schema::{FoundDatabase, IndexState, Migration};
use crate::seed::Reporter;
use crate::workspace::Workspace;

pub async fn run(args: LoadArgs, quiet: bool) -> Result<ExitCode> {
    let chain = args.migration.chain()?;
    args.gate.policies(&[]).judged_by("load", &["regression"])?;
    let m = &chain.under_test;
    let catalogue = Catalogue::load(args.catalogue.as_deref(), &chain)?;
    let embedded = args.conn.url.is_none();
    refuse_retired("load's writes", &COMMIT_WRITES)?;
    let writes = embedded || COMMIT_WRITES.granted(args.commit_writes)?;
    let (chosen, left_out) = load::select(&catalogue, args.query.as_deref(), writes)?;
    let note = |line: String| {
        if !quiet {
            eprintln!("load: {line}");
        }
    };
    if !left_out.is_empty() {
        note(format!(
            "writes left out of the mix ({}); pass {} to run them on your database (they are committed into your tables)",
            left_out.join(", "),
            COMMIT_WRITES.how()
        ));
    }
    let ws = Workspace::open(
        args.conn.url.as_deref(),
        args.scale,
        args.seed,
        &chain,
        &Reporter::auto(quiet),
    )
    .await?;
    let switch = embedded || ws.may_change_indexes || args.allow_index_changes;
    let states = match switch {
        true => vec![IndexState::Without, IndexState::With],
        false => vec![IndexState::AsFound],
    };
    if switch && !embedded {
        note("the migration's indexes are CHANGED FOR REAL (dropped and built, committed) on your database while load runs, so that every client sees the state; they are put back exactly as found at the end, even if the tool is killed".into());
    }
    let found = inspect(&ws, m, chosen, &note).await?;
    let (id, dir) = results::new_run_dir(&args.reports)?;
    note(plan(&args, states.len()));
    print_header();
    let run = load::run(&LoadOptions {
        db: &ws.db,
        migration: m,
        mix: found.mix,
        states: states.clone(),
        clients: args.clients.clone(),
        duration: args.duration,
        rate: args.rate,
        writes,
        seed: args.seed,
        switch_states: switch,
        force: args.force || ws.force,
        run_dir: &dir,
        on_point: &|p: &LoadPoint| print_point(p, m),
        on_restored: &|r: &Restored| {
            note(match (&r.by_guard, r.rebuilt.as_slice()) {
                (Some(why), _) => {
                    format!("putting the indexes back failed ({why}); the guard put them back")
                }
                (None, []) => "the indexes are as found; nothing to put back".into(),
                (None, names) => format!("put back as found: {}", names.join(", ")),
            });
            note(r.verified.clone());
        },
    })
    .await?;
    print_errors(&run, m);
    if run.points.iter().all(|p| p.requests == 0) {
        return Err(Error::NothingMeasured {
            what: "load".into(),
            why: "no request was answered in any point (the lines above give the errors); check the queries on this database, or lengthen --duration".into(),
        });
    }
    let results = Results {
        schema_version: results::SCHEMA_VERSION,
        run_id: id,
        created_at: chrono::Utc::now().to_rfc3339(),
        tool: Tool {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: results::git_commit(),
        },
        environment: found.env,
        scale: ws.scale.name().to_string(),
        seed: ws.seed,
        counts: ws.seeded_counts(&chain, false),
        data_like: ws.data_like(&chain, false),
        migration: migration_info(m),
        states,
        not_runnable: found.not_runnable,
        database: found.database,
        load: Some(run),
        ..Default::default()
    };
    save(&results, &dir, &args.reports)?;
    let evidence = crate::gate::checks::Evidence::of_results("load", &results);
    super::gate(&args.gate.policies(&[]), &evidence, &dir)
}

/// Writes results.json and the report into the run folder, moves
/// `latest` to it, and prints both paths.
fn save(results: &Results, dir: &std::path::Path, reports: &std::path::Path) -> Result<()> {
    let file = dir.join("results.json");
    results.write(&file)?;
    report::render(results, dir)?;
    results::point_latest(reports, dir)?;
    out!("{}", dir.join("index.html").display());
    out!("{}", file.display());
    Ok(())
}

/// What the database can run, and what it is.
struct Found {
    mix: Mix,
    not_runnable: Vec<NotRunnable>,
    env: Environment,
    database: Option<FoundDatabase>,
}

/// The mix of the chosen queries the database can run (the others are
/// noted), the environment, and on a user's database its state as found.
async fn inspect(
    ws: &Workspace,
    m: &Migration,
    chosen: Vec<&crate::queries::Query>,
    note: &dyn Fn(String),
) -> Result<Found> {
    let client = ws.db.connect().await?;
    let (runnable, not_runnable) = split_runnable(&client, chosen).await?;
    for n in &not_runnable {
        note(n.to_string());
    }
    if runnable.is_empty() {
        return Err(Error::BadInput(
            "no query of the load mix can run on this database (see the lines above); apply the migration, or pick another with --query".into(),
        ));
    }
    let env = environment(&client, &ws.db).await?;
    let database = match ws.cluster {
        Some(_) => None,
        None => Some(crate::schema::found(&client, m).await?),
    };
    Ok(Found {
        mix: Mix::new(runnable.into_iter().cloned().collect())?,
        not_runnable,
        env,
        database,
    })
}

/// `1,4,16 clients × 2 states × 10s each, closed loop`.
fn plan(args: &LoadArgs, states: usize) -> String {
    let plural = |n: usize, word: &str| match n {
        1 => word.to_string(),
        _ => format!("{word}s"),
    };
    format!(
        "{} {} × {states} {} × {:?} each, {}",
        args.clients
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(","),
        plural(args.clients.iter().copied().max().unwrap_or(0), "client"),
        plural(states, "state"),
        args.duration,
        match args.rate {
            Some(r) => format!("open loop at {r} requests/s"),
            None => "closed loop".into(),
        }
    )
}

fn print_header() {
    out!(
        "{:<24} {:<22} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6}",
        "query",
        "state",
        "clients",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors"
    );
}

fn print_point(p: &LoadPoint, m: &Migration) {
    out!(
        "{:<24} {:<22} {:>7} {:>9.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>6}",
        p.query,
        p.state.id(m),
        p.clients,
        p.throughput_per_s,
        p.p50_ms,
        p.p95_ms,
        p.p99_ms,
        p.p999_ms,
        p.max_ms,
        p.errors
    );
}

/// The first error of each point that had errors.
fn print_errors(run: &LoadRun, m: &Migration) {
    for p in run.points.iter().filter(|p| p.errors > 0) {
        if let Some(e) = &p.first_error {
            out!(
                "{} ({}, {} clients): {} errors, the first: {e}",
                p.query,
                p.state.id(m),
                p.clients,
                p.errors
            );
        }
    }
}
