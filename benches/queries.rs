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

use std::path::PathBuf;

use criterion::SamplingMode;
mod common;

use helpdesk_bench::measure::{parse_production_rows, write_run, RunInput, PRODUCTION_ROWS_ENV};
use helpdesk_bench::queries::{split_runnable, Catalogue, ParamPool, Prepared};
use helpdesk_bench::report::CriterionRun;
use helpdesk_bench::schema::{set_state, Access, IndexState, MigrationChain, Policy, Session};

fn main() -> anyhow::Result<()> {
    let bench_mode = common::bench_mode();
    // Read first, so a typo fails before the benchmarks, not after.
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
    if ws.cluster.is_some() {
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
    {
        let mut session = rt.block_on(Session::open(&ws.db, &migration, ws.force))?;
        // Queries the database can't run as found (a "before" database
        // lacks the migration's columns) are listed, and the rest go on.
        let (reads, not_runnable) =
            rt.block_on(split_runnable(session.client(), catalogue.reads()))?;
        for n in &not_runnable {
            eprintln!("queries: {n}");
        }
        let pools = rt.block_on(async {
            let mut v = Vec::new();
            for q in &reads {
                let pool = ParamPool::sample(session.client(), q).await?;
                if let Some(note) = &pool.miss {
                    eprintln!("queries: {}: {note}", q.name);
                }
                v.push(pool);
            }
            Ok::<_, helpdesk_bench::Error>(v)
        })?;
        for (i, (q, pool)) in reads.iter().zip(pools).enumerate() {
            let mut g = c.benchmark_group(&q.name);
            // Flat sampling: a 200 ms sequential scan runs 20 times, not 210.
            g.sampling_mode(SamplingMode::Flat);
            // Alternate the order so each group switches index state once.
            let mut order: Vec<&IndexState> = states.iter().collect();
            if i % 2 == 1 {
                order.reverse();
            }
            for state in order {
                // Each state is one read-only transaction; on a user's
                // database it is rolled back, indexes and all.
                rt.block_on(session.enter(state, Access::ReadOnly))?;
                let client = session.client();
                let prepared = rt.block_on(Prepared::new(client, q, pool.clone()))?;
                // One run outside the timing, so a failing query stops here
                // with its error rather than a panic inside criterion.
                rt.block_on(prepared.run_with(client, prepared.pool.first()))?;
                g.bench_function(state.id(&migration), |b| {
                    b.to_async(&rt)
                        .iter(|| async { prepared.run_next(client).await.expect("query failed") })
                });
            }
            g.finish();
        }
        rt.block_on(session.leave())?;
        if session.policy() == Policy::Commit && ws.may_change_indexes {
            rt.block_on(set_state(session.client(), &migration, &IndexState::With))?;
        }
    }
    c.final_summary();
    if bench_mode {
        let dir = rt.block_on(write_run(&RunInput {
            ws: &ws,
            catalogue: &catalogue,
            migration: &migration,
            states,
            reports_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reports"),
            costs: ws.cluster.is_some(),
            production_rows,
            criterion: &crit,
        }))?;
        eprintln!(
            "queries: report written to {}{}",
            dir.join("index.html").display(),
            if crit.args.filter.is_some() {
                " (filtered run: only the benchmarks it ran; reports/latest is left as it was unless every benchmark ran)"
            } else {
                ""
            }
        );
    }
    Ok(())
}
