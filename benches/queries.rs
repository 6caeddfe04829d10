//! The help-desk queries of `fixtures/queries.toml`, timed with and without
//! the migration's indexes: one criterion group per query, with ids
//! `without_012_indexes` and `with_012_indexes`, parameters rotating on every
//! iteration. After criterion, a full run (plans, index costs, ablation,
//! findings) is written to `reports/<run-id>/`, and the last line printed is
//! the path of its `index.html`.
//!
//! Embedded by default, at `HELPDESK_BENCH_SCALE` (default small; tiny in
//! `cargo test`'s test mode), with the
//! seeded database cached between runs. With `DATABASE_URL`, the database is
//! benched as it is (id `current_schema`) unless
//! `HELPDESK_BENCH_ALLOW_INDEX_CHANGES=1`, and then each state is a
//! transaction that is rolled back, so the database ends as found.

// Public, as in tests/common: what only the other bench uses is not dead here.
pub mod common;

use helpdesk_bench::explain::PlanCacheMode;
use helpdesk_bench::gate::checks::Evidence;
use helpdesk_bench::gate::{judge, Policies};
use helpdesk_bench::measure::CriterionRun;
use helpdesk_bench::measure::{parse_production_rows, write_run, RunInput, PRODUCTION_ROWS_ENV};
use helpdesk_bench::permission::{env_flag, SHOW_PARAMETERS_ENV};
use helpdesk_bench::queries::Catalogue;
use helpdesk_bench::results::Results;
use helpdesk_bench::schema::MigrationChain;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => common::exit(Err(e)),
    }
}

/// The exit status: 0, or 1 when the `HELPDESK_BENCH_FAIL_ON` gate failed.
fn run() -> anyhow::Result<u8> {
    let bench_mode = common::bench_mode();
    // Read first, so a typo fails before the benchmarks, not after.
    let policies = Policies::from_env()?;
    let production_rows = match std::env::var(PRODUCTION_ROWS_ENV) {
        Ok(text) => parse_production_rows(&text)?,
        Err(_) => Vec::new(),
    };
    // Before criterion runs: the baseline's samples as they are now.
    let crit = CriterionRun::start();
    let mut c = common::criterion(&crit)?;
    let rt = common::runtime()?;
    // HELPDESK_BENCH_MIGRATION and HELPDESK_BENCH_CATALOGUE, else 012 and
    // the repository's catalogue.
    let chain = MigrationChain::from_env()?;
    let ws = common::workspace(&rt, bench_mode, &chain)?;
    if let Some(source) = &ws.like {
        eprintln!(
            "queries: a lab shaped like {} (rows generated from its statistics)",
            source.describe()
        );
    } else if ws.cluster.is_some() {
        eprintln!(
            "queries: scale {} ({})",
            ws.scale.name(),
            if ws.reused {
                "cached seeded database reused, seeding skipped"
            } else {
                "seeded and cached"
            }
        );
    }
    let catalogue = Catalogue::from_env(&chain)?;
    let migration = chain.under_test.clone();
    let states = ws.bench_states();
    let plan_cache = PlanCacheMode::from_env()?;
    let show_parameters = env_flag(SHOW_PARAMETERS_ENV)?;
    let captures = common::reads::bench_reads(
        &mut c, &rt, &ws, &catalogue, &migration, &states, plan_cache,
    )?;
    c.final_summary();
    if bench_mode {
        let dir = rt.block_on(write_run(&RunInput {
            ws: &ws,
            catalogue: &catalogue,
            chain: &chain,
            states,
            reports_dir: common::reports_dir(),
            costs: ws.cluster.is_some(),
            production_rows,
            criterion: &crit,
            captures: &captures,
            plan_cache,
            show_parameters,
        }))?;
        let Some(dir) = dir else {
            eprintln!("queries: criterion's filter matched no read query: no run folder written");
            return Ok(0);
        };
        eprintln!(
            "\n{}",
            helpdesk_bench::report::console_verdict(&dir)?.trim_end()
        );
        eprintln!(
            "queries: report written to {}{}",
            dir.join("index.html").display(),
            if crit.args.filter.is_some() {
                " (filtered run: only the benchmarks it ran; reports/latest is left as it was unless every benchmark ran)"
            } else {
                ""
            }
        );
        if !policies.is_empty() {
            let results = Results::read(&dir.join("results.json"))?;
            let evidence = Evidence::of_results("cargo bench", &results);
            let outcome = judge(&policies, &evidence, &dir)?;
            for line in outcome.lines(evidence.what) {
                eprintln!("{line}");
            }
            eprintln!("{}", dir.join("junit.xml").display());
            return Ok(outcome.exit_code());
        }
    }
    Ok(0)
}
