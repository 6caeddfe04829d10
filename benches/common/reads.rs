//! The read benchmarks of `benches/queries.rs`: one criterion group per
//! read query the database can run, each index state a benchmark id. Each
//! query is timed at a few parameter rows stratified by the result size the
//! planner expects (smallest to largest), the iterations going to the rows
//! once each per round in a shuffled order and each iteration's time kept
//! by row; after each state's loop,
//! the plan every row's next execution of the timed statement gets is
//! captured on the same connection, before the state is left. Kept apart
//! from `main` so that `tests/workflow.rs` runs the very same code with its
//! own criterion.

use criterion::{Criterion, SamplingMode};
use helpdesk_bench::explain::{stratify, ParamRow, PlanCacheMode};
use helpdesk_bench::measure::{load_average, QueryCapture, StateCapture, TimedQuery};
use helpdesk_bench::queries::{split_runnable, Catalogue, ParamPool, Query};
use helpdesk_bench::schema::{set_state, Access, IndexState, Migration, Policy, Session};
use helpdesk_bench::workspace::Workspace;
use tokio::runtime::Runtime;

/// Times every runnable read of `catalogue` in each of `states` on the
/// workspace's database, under `plan_cache`, and returns what each
/// timing left (its rows' times and plans). Queries the database can't run
/// as found (a "before" database lacks the migration's columns) are listed
/// on stderr and left out; `measure::write_run` records them with their
/// reason.
pub fn bench_reads(
    c: &mut Criterion,
    rt: &Runtime,
    ws: &Workspace,
    catalogue: &Catalogue,
    migration: &Migration,
    states: &[IndexState],
    plan_cache: PlanCacheMode,
) -> anyhow::Result<Vec<QueryCapture>> {
    let mut session = rt.block_on(Session::open(&ws.db, migration, ws.force))?;
    rt.block_on(session.client().batch_execute(plan_cache.set_sql()))?;
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
    let strata = rt.block_on(strata_of(session.client(), &reads))?;
    let mut captures = Vec::new();
    for (i, (q, (rows, miss))) in reads.iter().zip(strata).enumerate() {
        let mut g = c.benchmark_group(&q.name);
        // Flat sampling: a 200 ms sequential scan runs 20 times, not 210.
        g.sampling_mode(SamplingMode::Flat);
        // Alternate the order so each group switches index state once.
        let mut order: Vec<&IndexState> = states.iter().collect();
        if i % 2 == 1 {
            order.reverse();
        }
        let mut capture = QueryCapture {
            query: q.name.clone(),
            rows: rows.clone(),
            miss,
            states: Vec::new(),
        };
        for state in order {
            // Each state is one read-only transaction; on a user's
            // database it is rolled back, indexes and all.
            rt.block_on(session.enter(state, Access::ReadOnly))?;
            let client = session.client();
            let start = load_average();
            let timed = rt.block_on(TimedQuery::prepare(client, q, &rows))?;
            rt.block_on(timed.check(client))?;
            g.bench_function(state.id(migration), |b| {
                b.to_async(rt).iter_custom(|iters| {
                    let timed = &timed;
                    async move { timed.iterations(client, iters).await.expect("query failed") }
                })
            });
            let samples = timed.samples();
            // Filtered out by criterion: nothing was timed, so no plan.
            if samples.iter().all(Vec::is_empty) {
                continue;
            }
            let plans = rt.block_on(timed.capture(client))?;
            capture.states.push(StateCapture {
                state: state.clone(),
                samples,
                plans,
                load: (start, load_average()),
            });
        }
        g.finish();
        captures.push(capture);
    }
    rt.block_on(session.leave())?;
    if session.policy() == Policy::Commit && ws.may_change_indexes {
        rt.block_on(set_state(session.client(), migration, &IndexState::With))?;
    }
    Ok(captures)
}

/// Each read's parameter rows, stratified by expected result size, and
/// its miss note; sampled outside any state's transaction.
async fn strata_of(
    client: &tokio_postgres::Client,
    reads: &[&Query],
) -> helpdesk_bench::Result<Vec<(Vec<ParamRow>, Option<String>)>> {
    let mut out = Vec::new();
    for q in reads {
        let pool = ParamPool::sample(client, q).await?;
        if let Some(note) = &pool.miss {
            eprintln!("queries: {}: {note}", q.name);
        }
        out.push((stratify(client, q, &pool).await?, pool.miss.clone()));
    }
    Ok(out)
}
