//! The write workloads of `fixtures/queries.toml` (a new conversation with
//! its first messages; handover, assignment and resolution), timed with and
//! without the migration's indexes, in groups `write_<name>`. Their timings
//! are added to the newest run's `results.json` (`reports/latest`).
//!
//! Embedded by default. Against `DATABASE_URL` they run only with
//! `HELPDESK_BENCH_ALLOW_ROLLED_BACK_WRITES=1`: each index state is a
//! transaction that is rolled back and each write a savepoint inside it, so
//! no row is kept, but the sequences the inserts draw ids from advance
//! (PostgreSQL never rolls back `nextval`).

use criterion::SamplingMode;
// Public, as in tests/common: what only the other bench uses is not dead here.
pub mod common;

use helpdesk_bench::cluster::URL_ENV;
use helpdesk_bench::measure::{criterion as crit, CriterionRun};
use helpdesk_bench::permission::{refuse_retired, ROLLED_BACK_WRITES};
use helpdesk_bench::queries::{split_runnable, Catalogue, ParamPool, Prepared};
use helpdesk_bench::results::{QueryResult, Results};
use helpdesk_bench::schema::{Access, IndexState, Migration, MigrationChain, Session};

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> anyhow::Result<()> {
    let bench_mode = common::bench_mode();
    let url = std::env::var(URL_ENV).ok();
    if url.is_some() {
        refuse_retired("benches/writes.rs", &ROLLED_BACK_WRITES)?;
        if !ROLLED_BACK_WRITES.granted(false)? {
            eprintln!("writes: not run: the write workloads insert and update rows in DATABASE_URL (rolled back, but their sequences advance); set {}=1 to run them there", ROLLED_BACK_WRITES.env);
            return Ok(());
        }
    }
    let crit = CriterionRun::start();
    let mut c = common::criterion(&crit)?;
    let rt = common::runtime()?;
    // HELPDESK_BENCH_MIGRATION and HELPDESK_BENCH_CATALOGUE, else 012 and
    // the repository's catalogue.
    let chain = MigrationChain::from_env()?;
    let ws = common::workspace(&rt, bench_mode, &chain)?;
    let catalogue = Catalogue::from_env(&chain)?;
    let migration = chain.under_test.clone();
    let states = ws.bench_states();
    let mut session = rt.block_on(Session::open(&ws.db, &migration, ws.force))?;
    let (writes, not_runnable) =
        rt.block_on(split_runnable(session.client(), catalogue.writes()))?;
    for n in &not_runnable {
        eprintln!("writes: {n}");
    }
    for q in writes {
        let pool = rt.block_on(ParamPool::sample(session.client(), q))?;
        let mut g = c.benchmark_group(format!("write_{}", q.name));
        g.sampling_mode(SamplingMode::Flat);
        for state in &states {
            rt.block_on(session.enter(state, Access::ReadWrite))?;
            let client = session.client();
            let prepared = rt
                .block_on(Prepared::new(client, q, pool.clone()))?
                .nested(session.in_transaction());
            rt.block_on(prepared.run_with(client, prepared.pool.first()))?;
            g.bench_function(state.id(&migration), |b| {
                b.to_async(&rt)
                    .iter(|| async { prepared.run_next(client).await.expect("write failed") })
            });
        }
        g.finish();
    }
    rt.block_on(session.leave())?;
    c.final_summary();
    if bench_mode {
        merge_into_latest(&crit, &catalogue, &migration, &states)?;
    }
    Ok(())
}

/// Adds the write timings this process measured to the newest complete
/// run's results.json, if there is one.
fn merge_into_latest(
    crit: &CriterionRun,
    catalogue: &Catalogue,
    migration: &Migration,
    states: &[IndexState],
) -> anyhow::Result<()> {
    let latest = common::reports_dir().join("latest");
    let path = latest.join("results.json");
    if !path.is_file() {
        return Ok(());
    }
    let mut r = Results::read(&path)?;
    for q in catalogue.writes() {
        let group = format!("write_{}", q.name);
        let timings = crit.timings(&group, states, migration);
        if timings.is_empty() {
            continue;
        }
        crit::copy_pages(&crit.root, &group, &latest)?;
        if let Some(w) = r.writes.iter_mut().find(|w| w.name == q.name) {
            w.speedup = QueryResult::speedup_of(&timings);
            w.timings = timings;
        }
    }
    r.write(&path)?;
    helpdesk_bench::report::render(&r, &latest)?;
    // cargo bench runs this file last, after pages of criterion's lines: it
    // ends with the run's verdict again, then the page's path.
    let verdict = helpdesk_bench::report::console_verdict(&latest)?;
    let page = latest.canonicalize().unwrap_or(latest).join("index.html");
    eprintln!(
        "\n{}\nwrites: timings added; report written to {}",
        verdict.trim_end(),
        page.display()
    );
    Ok(())
}
