//! `helpdesk-bench seed --like SOURCE_URL`: fill a target (embedded by
//! default, or `--url`) with rows shaped by the source's statistics, then
//! print the fidelity table.

use std::process::ExitCode;

use crate::cli::SeedArgs;
use crate::cluster::Endpoint;
use crate::error::{Error, Result};
use crate::like::{self, LikeOptions, LikeReport};
use crate::queries::Catalogue;
use crate::seed::{self, Reporter};

/// The database the embedded target is.
const EMBEDDED_DB: &str = "helpdesk_like";

pub async fn run(args: SeedArgs, quiet: bool) -> Result<ExitCode> {
    let source = Endpoint::from_url(args.like.as_deref().unwrap_or_default())?;
    let defaults = LikeOptions::new(args.scale_factor.unwrap_or(1.0), args.seed);
    let opts = LikeOptions {
        jobs: args.jobs.map_or(defaults.jobs, |j| j as usize),
        redact: args.redact.clone(),
        ..defaults
    };
    let progress = Reporter::auto(quiet);
    // Read before any work: a catalogue that does not parse stops nothing
    // half-done.
    let catalogue = Catalogue::load(args.catalogue.as_deref(), &args.migration.chain()?)?;
    if let Some(url) = &args.conn.url {
        super::embedded::refuse_with_url(args.keep, args.measure_ceiling)?;
        let target = Endpoint::from_url(url)?;
        refuse_unless_empty(&target).await?;
        let report = like::run(&source, &target, &opts, &progress).await?;
        print_report(&report, &source, &target, &opts);
        print_plans(&catalogue, &source, &target, &report).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let embedded = super::embedded::Embedded::create(EMBEDDED_DB, args.keep).await?;
    let target = &embedded.db;
    let report = like::run(&source, target, &opts, &progress).await?;
    print_report(&report, &source, target, &opts);
    if args.measure_ceiling {
        let loaded = report.filled.tables.iter().map(|t| t.loaded()).collect();
        let rows =
            seed::measure_ceiling_of(target, loaded, &embedded.run_dir()?, opts.jobs).await?;
        seed::ceiling_lines(&rows).iter().for_each(|l| out!("{l}"));
    }
    print_plans(&catalogue, &source, target, &report).await?;
    embedded.print_kept();
    Ok(ExitCode::SUCCESS)
}

/// `seed --like` fills an empty database: one holding tables (the source
/// itself, when DATABASE_URL names it) is refused before anything is read.
async fn refuse_unless_empty(target: &Endpoint) -> Result<()> {
    let client = target.connect().await?;
    let (names, n) = crate::schema::user_objects(&client, 3).await?;
    if n == 0 {
        return Ok(());
    }
    Err(Error::BadInput(format!(
        "seed --like fills an empty database, and {} holds {n} tables and types ({}{}); point --url (or DATABASE_URL) at an empty database, or leave both out for an embedded one",
        target.describe(),
        names.join(", "),
        if n > names.len() { ", …" } else { "" }
    )))
}

fn print_report(r: &LikeReport, source: &Endpoint, target: &Endpoint, opts: &LikeOptions) {
    let f = &r.filled;
    let copy = f.copy.as_secs_f64().max(1e-9);
    out!(
        "seeded {} like {} (scale factor {}, seed {}): {} rows in {} tables; statistics read in {:.2} s, rows copied in {:.2} s ({:.0} rows/s, {:.1} MB/s), {:.2} s in all with keys, indexes and ANALYZE",
        target.describe(),
        source.describe(),
        opts.scale,
        opts.seed,
        f.rows,
        r.tables,
        r.read_secs,
        copy,
        f.rows as f64 / copy,
        f.bytes as f64 / copy / 1e6,
        f.total.as_secs_f64()
    );
    if !r.inferred.is_empty() {
        out!(
            "references inferred from column names (no foreign key declares them): {}",
            r.inferred.join(", ")
        );
    }
    if !r.hidden.is_empty() {
        out!(
            "hidden from this user (a hidden column is generated without statistics: no NULLs, every value distinct, nothing kept): {}",
            r.hidden.join(", ")
        );
    }
    if !r.resized.is_empty() {
        let each: Vec<String> = r
            .resized
            .iter()
            .map(|x| {
                format!(
                    "{} at fillfactor {} ({:.2} pages per 1,000 rows as built, {:.2} rebuilt, {:.2} in the source)",
                    x.name,
                    x.fill,
                    x.built * 1e3,
                    x.rebuilt * 1e3,
                    x.source * 1e3
                )
            })
            .collect();
        out!(
            "indexes rebuilt to the source's pages per row (the planner weighs an index by its pages; the source's have grown past a fresh build's): {}",
            each.join(", ")
        );
    }
    if f.sequences > 0 {
        out!("sequences moved past the generated keys: {}", f.sequences);
    }
    if !f.not_valid.is_empty() {
        out!(
            "check constraints the generated rows break (their columns are drawn independently), created NOT VALID: {}",
            f.not_valid.join(", ")
        );
    }
    out!("fidelity: the target's statistics after ANALYZE against the source's, expected under the scale factor");
    out!("{}", r.fidelity);
}

/// Plan agreement over the query catalogue's reads (those that can be
/// planned on the source).
async fn print_plans(
    catalogue: &Catalogue,
    source: &Endpoint,
    target: &Endpoint,
    report: &LikeReport,
) -> Result<()> {
    let agreement = like::plans::compare(source, target, catalogue, &report.stand_ins).await?;
    out!("plans: each catalogue read explained (no ANALYZE) on the source and the target");
    out!("{agreement}");
    Ok(())
}
