//! `helpdesk-bench rehearse`: the migration applied under traffic on
//! scratch copies, as written and online, into a run folder under
//! `reports/` with the online variant's SQL beside `results.json`.

use std::process::ExitCode;

use crate::cli::RehearseArgs;
use crate::error::{Context, Error, Result};
use crate::measure::{environment, migration_info, parse_production_rows, ONLINE_FILE};
use crate::queries::{Catalogue, Query};
use crate::rehearse::{self, Options};
use crate::report;
use crate::results;
use crate::results::{Blocked, Rehearsal, RehearsalRun, Results, Tool};
use crate::schema::{online_sql, ROW_ESTIMATE};
use crate::scratch;
use crate::seed::Reporter;
use crate::workspace::Workspace;

pub async fn run(args: RehearseArgs, quiet: bool) -> Result<ExitCode> {
    let chain = args.migration.chain()?;
    args.gate
        .policies(&[])
        .judged_by("rehearse", &["blocking-deploy"])?;
    let m = &chain.under_test;
    let catalogue = Catalogue::load(args.catalogue.as_deref(), &chain)?;
    let on_user_server = args.conn.url.is_some();
    if on_user_server && !args.scratch.scratch_allowed("rehearse")? {
        return Err(Error::BadInput(
            "rehearse creates, seeds and drops scratch databases on the server; add --allow-scratch (your own database is not touched)".into(),
        ));
    }
    let queries = candidates(&catalogue, args.with_catalogue_queries)?;
    if let Some(run) = &args.into {
        // Checked before the rehearsal, not after minutes of it.
        same_migration(run, m)?;
    }
    let note = |line: String| {
        if !quiet {
            eprintln!("rehearse: {line}");
        }
    };
    let copy = args.scratch.copy_options()?;
    scratch::check_options(&copy, args.conn.url.is_some(), &chain)?;
    let mut ws = Workspace::open_for(
        args.conn.url.as_deref(),
        args.scratch.like.as_deref(),
        args.scratch.scale,
        args.scratch.seed,
        &chain,
        &Reporter::auto(quiet),
    )
    .await?;
    ws.copy = copy;
    let client = ws.db.connect().await?;
    let env = environment(&client, &ws.db).await?;
    let (production, source) = production_rows(&args, &client, on_user_server).await?;
    drop(client);
    let (id, dir) = results::new_run_dir(&args.reports)?;
    let online = dir.join(ONLINE_FILE);
    std::fs::write(&online, online_sql(m)).context(online.display())?;
    let (rehearsal, not_runnable) = rehearse::run(&Options {
        ws: &ws,
        chain: &chain,
        queries,
        rate: args.rate,
        clients: args.clients,
        seed: args.scratch.seed,
        production,
        production_source: source,
        progress: &Reporter::auto(quiet),
        run_dir: &dir,
        note: &note,
    })
    .await?;
    for n in &not_runnable {
        note(format!("left out of the traffic: {n}"));
    }
    print(&rehearsal);
    let results = Results {
        run_id: id,
        environment: env,
        scale: ws.scale.name().to_string(),
        seed: ws.seed,
        counts: ws.seeded_counts(&chain, true),
        data_like: ws.data_like(&chain, true),
        migration: migration_info(m),
        not_runnable,
        rehearsal: Some(rehearsal),
        ..stamped()
    };
    let file = dir.join("results.json");
    results.write(&file)?;
    report::render(&results, &dir)?;
    results::point_latest(&args.reports, &dir)?;
    out!("{}", online.display());
    out!("{}", dir.join("index.html").display());
    let evidence = crate::gate::checks::Evidence::of_results("rehearse", &results);
    let code = super::gate(&args.gate.policies(&[]), &evidence, &dir)?;
    if let Some(run) = &args.into {
        add_into(run, results.rehearsal, m)?;
    }
    Ok(code)
}

/// A results file's version, time and tool, the rest to be filled.
fn stamped() -> Results {
    Results {
        schema_version: results::SCHEMA_VERSION,
        created_at: chrono::Utc::now().to_rfc3339(),
        tool: Tool {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: results::git_commit(),
        },
        ..Default::default()
    }
}

/// Adds the rehearsal to another run's results and report, with the online
/// variant beside it.
fn add_into(
    run: &std::path::Path,
    rehearsal: Option<Rehearsal>,
    m: &crate::schema::Migration,
) -> Result<()> {
    let path = run.join("results.json");
    let mut r = same_migration(run, m)?;
    let online = run.join(ONLINE_FILE);
    if !online.is_file() {
        std::fs::write(&online, online_sql(m)).context(online.display())?;
    }
    r.rehearsal = rehearsal;
    r.write(&path)?;
    report::render(&r, run)?;
    out!("rehearse: added to {}", path.display());
    Ok(())
}

/// The catalogue's traffic queries, and with `all` its other weighted ones.
fn candidates(catalogue: &Catalogue, all: bool) -> Result<Vec<Query>> {
    let chosen: Vec<Query> = catalogue
        .queries
        .iter()
        .filter(|q| q.traffic || (all && q.weight > 0.0))
        .cloned()
        .collect();
    if chosen.is_empty() {
        return Err(Error::BadInput(format!(
            "{} has no query marked `traffic = true`; mark the queries the application runs before the migration",
            catalogue.source
        )));
    }
    Ok(chosen)
}

/// The results of run folder `run`, which must have measured `m`.
fn same_migration(run: &std::path::Path, m: &crate::schema::Migration) -> Result<Results> {
    let r = Results::read(&run.join("results.json"))?;
    if r.migration.name != m.name {
        return Err(Error::BadInput(format!(
            "{} measured migration {}, not {}; pass --into a run of the same migration",
            run.display(),
            r.migration.name,
            m.name
        )));
    }
    Ok(r)
}

/// `--production-rows`, else on a user's server its tables'
/// `pg_class.reltuples` (read only), else none.
async fn production_rows(
    args: &RehearseArgs,
    client: &tokio_postgres::Client,
    on_user_server: bool,
) -> Result<(Vec<(String, u64)>, String)> {
    if let Some(text) = &args.production_rows {
        return Ok((parse_production_rows(text)?, "--production-rows".into()));
    }
    if !on_user_server {
        return Ok((Vec::new(), String::new()));
    }
    let found = client
        .query(
            &format!(
                "SELECT relname, {ROW_ESTIMATE}::int8 FROM pg_class
                  WHERE relkind = 'r' AND relname = ANY($1) ORDER BY relname"
            ),
            &[&vec!["User", "Conversation", "Message"]],
        )
        .await
        .context("reading your tables' row estimates")?;
    let mut rows = Vec::new();
    let mut unknown = Vec::new();
    for r in &found {
        let table: String = r.get(0);
        match r.get::<_, Option<i64>>(1) {
            Some(n) => rows.push((table, n.max(0) as u64)),
            None => unknown.push(format!("\"{table}\"")),
        }
    }
    let mut source = "pg_class.reltuples of your database".to_string();
    if !unknown.is_empty() {
        source.push_str(&format!(
            " ({} never analyzed, so not projected: ANALYZE it or pass --production-rows)",
            unknown.join(", ")
        ));
    }
    Ok((rows, source))
}

/// The side-by-side table on stdout.
fn print(r: &Rehearsal) {
    let runs: [&RehearsalRun; 3] = [&r.as_written, &r.online, &r.online_long_transaction];
    out!(
        "{:<14} {:<6} {:>14} {:>14} {:>18}",
        "table",
        "op",
        "as written ms",
        "online ms",
        "online+long tx ms"
    );
    let mut keys: Vec<(String, results::Operation)> = runs
        .iter()
        .flat_map(|run| run.blocked.iter().map(|b| (b.table.clone(), b.operation)))
        .collect();
    keys.sort();
    keys.dedup();
    let cell = |run: &RehearsalRun, k: &(String, results::Operation)| {
        find(&run.blocked, k).map_or("-".to_string(), |b| format!("{:.0}", b.worst_blocked_ms))
    };
    for k in &keys {
        out!(
            "{:<14} {:<6} {:>14} {:>14} {:>18}",
            k.0,
            format!("{:?}", k.1).to_lowercase(),
            cell(runs[0], k),
            cell(runs[1], k),
            cell(runs[2], k)
        );
    }
    print_held(&runs);
    out!(
        "{:<21} {:>14.0} {:>14.0} {:>18.0}",
        "wall time ms",
        runs[0].wall_ms,
        runs[1].wall_ms,
        runs[2].wall_ms
    );
    for run in runs.iter() {
        if let Some(e) = &run.failed {
            out!(
                "{}: the migration failed under traffic: {e}",
                rehearse::label(run.variant)
            );
        }
    }
    for w in &r.online_long_transaction.migration_waits {
        out!(
            "online waited {:.0} ms on pid {} ({}, {}, transaction since {}) for {}",
            w.waited_ms,
            w.pid,
            w.application_name,
            w.state,
            w.xact_start,
            w.lock
        );
    }
}

/// The migration's own write-blocking locks per table: what a write
/// arriving as one was taken would wait.
fn print_held(runs: &[&RehearsalRun; 3]) {
    let held_ms = |run: &RehearsalRun, t: &str| {
        run.held_on(t)
            .map_or("-".to_string(), |h| format!("{:.0}", h.held_ms))
    };
    for t in results::held_tables(runs) {
        out!(
            "{:<14} {:<6} {:>14} {:>14} {:>18}",
            t,
            "held",
            held_ms(runs[0], t),
            held_ms(runs[1], t),
            held_ms(runs[2], t)
        );
    }
}

fn find<'a>(rows: &'a [Blocked], k: &(String, results::Operation)) -> Option<&'a Blocked> {
    rows.iter().find(|b| b.table == k.0 && b.operation == k.1)
}
