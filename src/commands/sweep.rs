//! `helpdesk-bench sweep`: latency against row count across scales.

use std::process::ExitCode;

use crate::cli::SweepArgs;
use crate::error::{Context, Result};
use crate::measure::sweep;
use crate::queries::Catalogue;
use crate::results::Results;
use crate::seed::Reporter;

pub async fn run(args: SweepArgs, quiet: bool) -> Result<ExitCode> {
    let chain = args.migration.chain()?;
    let migration = &chain.under_test;
    crate::workspace::lab_holds(
        &chain,
        "sweep seeds only that lab; time your migration on your own database with `cargo bench` and DATABASE_URL",
    )?;
    let catalogue = Catalogue::load(args.catalogue.as_deref(), &chain)?;
    let points = sweep(&args.scales, &catalogue, &chain, &Reporter::auto(quiet)).await?;
    if points.is_empty() {
        return Err(crate::error::Error::NothingMeasured {
            what: "sweep".into(),
            why: "the catalogue has no read query to time; check --catalogue".into(),
        });
    }
    out!(
        "{:<24} {:<22} {:<8} {:>11} {:>11}  scan",
        "query",
        "state",
        "scale",
        "rows",
        "median ms"
    );
    for p in &points {
        out!(
            "{:<24} {:<22} {:<8} {:>11} {:>11.3}  {}",
            p.query,
            p.state.id(migration),
            p.scale,
            p.rows,
            p.median_ms,
            p.top_node
        );
    }
    std::fs::create_dir_all(&args.out).context(args.out.display())?;
    let file = args.out.join("sweep.json");
    let text = serde_json::to_string_pretty(&points).context("serialising the sweep")?;
    std::fs::write(&file, text).context(file.display())?;
    out!("sweep: {} points in {}", points.len(), file.display());
    if let Some(run) = &args.into {
        let path = run.join("results.json");
        let mut r = Results::read(&path)?;
        r.sweep = points;
        r.findings = crate::measure::findings(&r, migration);
        r.write(&path)?;
        crate::report::render(&r, run)?;
        out!("sweep: added to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
