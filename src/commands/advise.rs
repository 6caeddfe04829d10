//! `helpdesk-bench advise`: candidate indexes built and measured on a
//! scratch copy (a clone of the embedded seeded database, or on a user's
//! server, with `--allow-scratch`, a database this command creates, seeds
//! and drops), the best set, and a run folder under `reports/` with
//! `results.json`, the report, and `suggested_migration.sql` with its
//! rollback.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use crate::advise::{self, output, Options, Outcome};
use crate::cli::AdviseArgs;
use crate::error::{Context, Error, Result};
use crate::format::ms as format_ms;
use crate::measure::{environment, migration_info};
use crate::queries::Catalogue;
use crate::report;
use crate::results;
use crate::results::{Advice, Results, Tool};
use crate::schema::Migration;
use crate::scratch::{self, Scratch, Stage};
use crate::seed::Reporter;
use crate::workspace::Workspace;

pub async fn run(args: AdviseArgs, quiet: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let url = args.conn.url.as_deref();
    let allowed = args.scratch.scratch_allowed("advise")?;
    if url.is_some() && !allowed {
        return Err(Error::BadInput(
            "advise builds indexes and writes rows in a scratch database it creates, seeds and drops on your server (never in your tables); pass --allow-scratch to let it, or leave out --url to use the embedded database".into(),
        ));
    }
    let chain = args.migration.chain()?;
    let catalogue = Catalogue::load(args.catalogue.as_deref(), &chain)?;
    let note = |line: String| {
        if !quiet {
            eprintln!("advise: {line}");
        }
    };
    // What cannot run refuses before any database is created or copied.
    advise::workloads(&catalogue, &chain.under_test)?;
    let copy = args.scratch.copy_options()?;
    scratch::check_options(&copy, url.is_some(), &chain)?;
    let progress = Reporter::auto(quiet);
    let mut ws = Workspace::open_for(
        url,
        args.scratch.like.as_deref(),
        args.scratch.scale,
        args.scratch.seed,
        &chain,
        &progress,
    )
    .await?;
    ws.copy = copy;
    // No run folder yet: the scratch guard's account goes into the reports
    // folder, and moves into the run folder once there is one.
    if url.is_some() {
        std::fs::create_dir_all(&args.reports).context(args.reports.display())?;
    }
    let scratch = Scratch::create(&ws, &chain, Stage::After, &progress, &args.reports).await?;
    let account = scratch.account().map(Path::to_path_buf);
    let data = match ws.data_like(&chain, true) {
        Some(source) => format!("with rows shaped like {source}"),
        None if ws.seeded_counts(&chain, true).is_some() => {
            format!("at scale {}", ws.scale.name())
        }
        None => "with your rows".to_string(),
    };
    note(format!("scratch copy {} {data}", scratch.name()));
    let opts = Options {
        size_budget: args.size_budget.map(|mb| (mb * 1e6) as u64),
        max_candidates: args.max_candidates,
        ..Default::default()
    };
    let measured = measure(&scratch, &chain, &catalogue, &opts, &note).await;
    // Dropped whatever happened; its guard would drop it otherwise.
    let dropped = scratch.drop_now().await;
    let (mut outcome, env) = measured?;
    dropped?;
    outcome.advice.wall_s = started.elapsed().as_secs_f64();
    let m = &chain.under_test;
    let (id, dir) = results::new_run_dir(&args.reports)?;
    if let Some(from) = account.filter(|a| a.is_file()) {
        let to = dir.join(from.file_name().unwrap_or_default());
        std::fs::rename(&from, &to).context(to.display())?;
    }
    write_sql(&dir, m, &outcome, &id)?;
    print_table(m, &outcome.advice);
    let results = Results {
        schema_version: results::SCHEMA_VERSION,
        run_id: id,
        created_at: chrono::Utc::now().to_rfc3339(),
        tool: Tool {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: results::git_commit(),
        },
        environment: env,
        scale: ws.scale.name().to_string(),
        seed: ws.seed,
        counts: ws.seeded_counts(&chain, true),
        data_like: ws.data_like(&chain, true),
        migration: migration_info(m),
        not_runnable: outcome.not_runnable,
        advice: Some(outcome.advice),
        ..Default::default()
    };
    results.write(&dir.join("results.json"))?;
    report::render(&results, &dir)?;
    results::point_latest(&args.reports, &dir)?;
    out!("{}", dir.join(output::SUGGESTED_FILE).display());
    out!("{}", dir.join("index.html").display());
    Ok(ExitCode::SUCCESS)
}

/// The advice, and the server's environment, read on the scratch copy.
async fn measure(
    scratch: &Scratch,
    chain: &crate::schema::MigrationChain,
    catalogue: &Catalogue,
    opts: &Options,
    note: &dyn Fn(String),
) -> Result<(Outcome, crate::results::Environment)> {
    let env = {
        let client = scratch.db.connect().await?;
        environment(&client, &scratch.db).await?
    };
    let outcome = advise::advise(&scratch.db, chain, catalogue, opts, note).await?;
    Ok((outcome, env))
}

fn write_sql(dir: &Path, m: &Migration, o: &Outcome, id: &str) -> Result<()> {
    for (file, text) in [
        (
            output::SUGGESTED_FILE,
            output::forward_sql(m, &o.change, id),
        ),
        (
            output::ROLLBACK_FILE,
            output::rollback_sql(m, &o.change, id),
        ),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, text).context(path.display())?;
    }
    Ok(())
}

fn print_table(m: &Migration, a: &Advice) {
    out!("suggested set: {}", a.chosen.join(", "));
    out!(
        "drops: {}",
        if a.drop.is_empty() {
            "none".into()
        } else {
            a.drop.join(", ")
        }
    );
    for c in &a.create {
        out!("creates: {c}");
    }
    let own = format!("{} median", m.name.split('_').next().unwrap_or(&m.name));
    out!(
        "{:<24} {:>22} {:>22} {:>26}  plan (suggested)",
        "query",
        own,
        "suggested median",
        "speed-up"
    );
    for r in &a.rows {
        out!(
            "{:<24} {:>22} {:>22} {:>26}  {}",
            r.query,
            interval_ms(&r.migration),
            interval_ms(&r.suggested),
            format!(
                "{} [{}–{}] {}",
                crate::format::factor(r.speedup.point),
                crate::format::factor(r.speedup.low),
                crate::format::factor(r.speedup.high),
                match r.verdict {
                    crate::stats::Verdict::Higher => "faster",
                    crate::stats::Verdict::Lower => "slower",
                    crate::stats::Verdict::WithinNoise => "noise",
                }
            ),
            r.suggested_plan
        );
    }
    for t in &a.targets {
        out!(
            "target {}: {} — {}",
            if t.met { "met" } else { "NOT met" },
            t.what,
            t.measured
        );
    }
    for w in &a.warnings {
        out!("warning: {w}");
    }
    out!("wall time: {:.1} s", a.wall_s);
}

fn interval_ms(i: &crate::stats::Interval) -> String {
    format!(
        "{} [{}–{}]",
        format_ms(i.point),
        format_ms(i.low),
        format_ms(i.high)
    )
}
