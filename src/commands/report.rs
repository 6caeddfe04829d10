//! `helpdesk-bench report`: re-render a run, or compare two.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::ReportArgs;
use crate::error::Result;
use crate::report::{render_compare, render_run};
use crate::results::Results;

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    match args.compare.as_deref() {
        Some([a, b]) => {
            let out = args.out.unwrap_or_else(|| PathBuf::from("reports/compare"));
            let (ra, rb) = (
                Results::read(&a.join("results.json"))?,
                Results::read(&b.join("results.json"))?,
            );
            render_compare(&ra, &rb, &out)?;
            out!("report: {}", out.join("compare.html").display());
            out!("report: {}", out.join("compare.md").display());
        }
        _ => {
            if let Some(rows) = &args.production_rows {
                advise(&args.run, rows)?;
            }
            render_run(&args.run, args.out.as_deref())?;
            let out = args.out.unwrap_or(args.run);
            out!("report: {}", out.join("index.html").display());
            out!("report: {}", out.join("summary.md").display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Recomputes a run's deploy advice for other production row counts.
fn advise(run: &std::path::Path, rows: &str) -> Result<()> {
    let rows = crate::measure::parse_production_rows(rows)?;
    let path = run.join("results.json");
    let mut r = Results::read(&path)?;
    r.deploy = crate::measure::deploy_advice(&r, &rows, "--production-rows");
    if r.deploy.is_none() {
        return Err(crate::error::Error::BadInput(format!(
            "{}: the migration's own cost was not measured in this run (it is, on the embedded database); nothing to project",
            path.display()
        )));
    }
    r.write(&path)
}
