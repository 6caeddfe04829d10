//! The read benchmarks of `benches/queries.rs`: one criterion group per
//! read query the database can run, each index state a benchmark id,
//! parameters rotating on every iteration. Kept apart from `main` so that
//! `tests/workflow.rs` runs the very same code with its own criterion.

use criterion::{Criterion, SamplingMode};
use helpdesk_bench::queries::{split_runnable, Catalogue, ParamPool, Prepared};
use helpdesk_bench::schema::{set_state, Access, IndexState, Migration, Policy, Session};
use helpdesk_bench::workspace::Workspace;
use tokio::runtime::Runtime;

/// Times every runnable read of `catalogue` in each of `states` on the
/// workspace's database. Queries the database can't run as found (a
/// "before" database lacks the migration's columns) are listed on stderr
/// and left out; `measure::write_run` records them with their reason.
pub fn bench_reads(
    c: &mut Criterion,
    rt: &Runtime,
    ws: &Workspace,
    catalogue: &Catalogue,
    migration: &Migration,
    states: &[IndexState],
) -> anyhow::Result<()> {
    let mut session = rt.block_on(Session::open(&ws.db, migration, ws.force))?;
    let (reads, not_runnable) = rt.block_on(split_runnable(session.client(), catalogue.reads()))?;
    for n in &not_runnable {
        eprintln!("queries: {n}");
    }
    if reads.is_empty() {
        return Err(helpdesk_bench::Error::NothingMeasured {
            what: "the query benchmarks".into(),
            why: "no read query of the catalogue runs on this database (the lines above say why); apply the migration, or check HELPDESK_BENCH_CATALOGUE".into(),
        }
        .into());
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
            g.bench_function(state.id(migration), |b| {
                b.to_async(rt)
                    .iter(|| async { prepared.run_next(client).await.expect("query failed") })
            });
        }
        g.finish();
    }
    rt.block_on(session.leave())?;
    if session.policy() == Policy::Commit && ws.may_change_indexes {
        rt.block_on(set_state(session.client(), migration, &IndexState::With))?;
    }
    Ok(())
}
