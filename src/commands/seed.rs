//! `helpdesk-bench seed`: fill a database (or an embedded one) with
//! synthetic help-desk data and print pgbench-style figures.

use std::process::ExitCode;

use crate::cli::SeedArgs;
use crate::cluster::{self, Cluster, Endpoint, StartOptions};
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
            if args.keep || args.measure_ceiling {
                return Err(Error::BadInput(
                    "--keep and --measure-ceiling work on the embedded cluster only; drop --url"
                        .into(),
                ));
            }
            let db = Endpoint::from_url(url)?;
            let report = seed::run(&db, &cfg, &progress).await?;
            print_report(&report, &db, quiet);
        }
        None => {
            let kept = if args.keep {
                Some(Cluster::start_with(StartOptions {
                    detach: true,
                    ..Default::default()
                })?)
            } else {
                None
            };
            let admin = match &kept {
                Some(c) => Endpoint::embedded(c.config("postgres"))?,
                None => cluster::resolve(None)?,
            };
            let db = cluster::create_database(&admin, EMBEDDED_DB, None).await?;
            let report = seed::run(&db, &cfg, &progress).await?;
            print_report(&report, &db, quiet);
            if args.measure_ceiling {
                let dir = match &kept {
                    Some(c) => c.run_dir().to_path_buf(),
                    None => cluster::shared()?.run_dir().to_path_buf(),
                };
                let rows = seed::measure_ceiling(&db, &report, &dir, cfg.jobs).await?;
                seed::ceiling_lines(&rows).iter().for_each(|l| out!("{l}"));
            }
            if let Some(c) = kept {
                out!("cluster kept running in {}", c.run_dir().display());
                out!("connect: psql '{}'", c.url(EMBEDDED_DB));
                out!(
                    "stop:    helpdesk-bench server stop {}",
                    c.run_dir().display()
                );
            }
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
