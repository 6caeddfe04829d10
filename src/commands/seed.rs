//! `helpdesk-bench seed`: fill a database (or an embedded one) with
//! synthetic help-desk data and print pgbench-style figures.

use std::process::ExitCode;

use crate::cli::SeedArgs;
use crate::cluster::Endpoint;
use crate::error::{Error, Result};
use crate::seed::{self, Counts, Reporter, SeedConfig, SeedReport, Shape};

/// The database the embedded seed fills.
const EMBEDDED_DB: &str = "helpdesk";

pub async fn run(args: SeedArgs, quiet: bool) -> Result<ExitCode> {
    if args.like.is_some() {
        return super::like::run(args, quiet).await;
    }
    if args.scale_factor.is_some() || !args.redact.is_empty() {
        return Err(Error::BadInput(
            "--scale-factor and --redact shape a copy made with --like SOURCE_URL; add --like or drop them".into(),
        ));
    }
    let cfg = config(&args)?;
    cfg.validate()?;
    let progress = Reporter::auto(quiet);
    match &args.conn.url {
        Some(url) => {
            super::embedded::refuse_with_url(args.keep, args.measure_ceiling)?;
            let db = Endpoint::from_url(url)?;
            let report = seed::run(&db, &cfg, &progress).await?;
            print_report(&report, &db, quiet);
        }
        None => {
            let target = super::embedded::Embedded::create(EMBEDDED_DB, args.keep).await?;
            let report = seed::run(&target.db, &cfg, &progress).await?;
            print_report(&report, &target.db, quiet);
            if args.measure_ceiling {
                let rows = seed::measure_ceiling(&target.db, &report, &target.run_dir()?, cfg.jobs)
                    .await?;
                seed::ceiling_lines(&rows).iter().for_each(|l| out!("{l}"));
            }
            target.print_kept();
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The counts and options the flags ask for.
fn config(args: &SeedArgs) -> Result<SeedConfig> {
    let preset = args.scale.counts();
    let users = args.users.unwrap_or(preset.users);
    let staff = args.staff.unwrap_or_else(|| {
        if args.users.is_some() {
            (users * preset.staff / preset.users).max(1)
        } else {
            preset.staff
        }
    });
    let counts = Counts {
        users,
        staff,
        conversations: args.conversations.unwrap_or(preset.conversations),
        messages: args.messages.unwrap_or(preset.messages),
    };
    let mut cfg = SeedConfig::new(counts);
    cfg.seed = args.seed;
    if let Some(j) = args.jobs {
        cfg.jobs = j as usize;
    }
    cfg.shape = args.schema;
    cfg.truncate = args.truncate;
    if args.schema != Some(Shape::Base) {
        cfg.migrations = args.migration.chain()?.all().cloned().collect();
    }
    Ok(cfg)
}

/// The result: what was seeded, each phase once (the per-phase table only
/// when no progress lines were shown), and the total.
fn print_report(r: &SeedReport, db: &Endpoint, quiet: bool) {
    out!(
        "seeded {} ({} schema, seed {}): {} users ({} staff), {} conversations, {} messages",
        db.describe(),
        r.shape,
        r.seed,
        r.counts.users,
        r.counts.staff,
        r.counts.conversations,
        r.counts.messages
    );
    for p in r.phases.iter().filter(|_| quiet) {
        match (p.rows, p.bytes) {
            (Some(rows), Some(bytes)) => {
                let s = p.duration.as_secs_f64().max(1e-9);
                out!(
                    "  {:<13} {:>11} rows in {:>7.2} s  {:>10.0} rows/s  {:>7.1} MB/s",
                    p.name,
                    rows,
                    s,
                    rows as f64 / s,
                    bytes as f64 / s / 1e6
                );
            }
            _ => out!("  {:<13} {:>24.2} s", p.name, p.duration.as_secs_f64()),
        }
    }
    out!("{r}");
}
