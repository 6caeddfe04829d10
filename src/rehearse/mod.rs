//! `helpdesk-bench rehearse`: the migration applied under the
//! application's traffic, on a scratch copy of the seeded data as it was
//! before the migration, three times, each on a fresh copy: as written;
//! online (`schema::online_sql`); and online again beside an idle session
//! holding an open snapshot, as real applications have. For each, the
//! traffic's latency before and during the migration, the longest lock
//! wait per table and operation with the lock mode and statement behind
//! it, the sessions the migration waited for, and its wall time.
//!
//! One scratch copy exists at a time (medium fits in memory), and each is
//! dropped before the next is made; on a user's server the copies are
//! databases the tool creates and seeds itself (see [`crate::scratch`]).

mod apply;
mod blocked;
mod projection;
mod sampler;
mod traffic;

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

pub use apply::{LongTransaction, LONG_TRANSACTION_APP, MIGRATION_APP};
pub use blocked::{operation, request_target, strongest, waited_on, worst_blocked, Detail};
pub use sampler::{Blocker, Hold, Sampled, Sampler, Wait, SAMPLER_APP, SAMPLE_EVERY};
pub use traffic::TRAFFIC_APP;

use crate::error::{chain, Context, Result};
use crate::load::Mix;
use crate::queries::{split_runnable, NotRunnable, ParamPool, Query};
use crate::results::{
    HeldLock, Rehearsal, RehearsalRun, RehearsalVariant, RehearsedQuery, WaitStart,
};
use crate::schema::{MigrationChain, StatementTiming, ROW_ESTIMATE};
use crate::scratch::{Scratch, Stage};
use crate::seed::Reporter;
use crate::workspace::Workspace;

/// Traffic runs this long before anything is recorded, so connections,
/// caches and plans settle.
pub const SETTLE: Duration = Duration::from_secs(2);
/// Then this long is recorded as "before the migration".
pub const BEFORE: Duration = Duration::from_secs(3);
/// Traffic goes on this long after the migration ends.
const TAIL: Duration = Duration::from_millis(500);
/// How long the long transaction stays open, from the migration's start.
pub const LONG_TRANSACTION: Duration = Duration::from_secs(3);

/// What to rehearse.
pub struct Options<'a> {
    pub ws: &'a Workspace,
    pub chain: &'a MigrationChain,
    /// Candidate traffic; those that do not prepare on the schema before
    /// the migration are set aside.
    pub queries: Vec<Query>,
    pub rate: f64,
    /// Traffic clients per query.
    pub clients: usize,
    pub seed: u64,
    /// Production rows per table, for the projection (empty: none).
    pub production: Vec<(String, u64)>,
    pub production_source: String,
    pub progress: &'a Reporter,
    /// The run folder, where each scratch copy's guard writes its account.
    pub run_dir: &'a std::path::Path,
    /// One line of progress.
    pub note: &'a (dyn Fn(String) + Sync),
}

/// Rehearses the three variants; returns them and the queries set aside.
pub async fn run(opts: &Options<'_>) -> Result<(Rehearsal, Vec<NotRunnable>)> {
    let mut runs = BTreeMap::new();
    let mut mix = None;
    let mut set_aside = Vec::new();
    let mut wait_start = WaitStart::Server;
    for variant in [
        RehearsalVariant::AsWritten,
        RehearsalVariant::Online,
        RehearsalVariant::OnlineLongTransaction,
    ] {
        (opts.note)(format!("{}: making a scratch copy", label(variant)));
        let scratch = Scratch::create(
            opts.ws,
            opts.chain,
            Stage::Before,
            opts.progress,
            opts.run_dir,
        )
        .await?;
        let outcome = async {
            if mix.is_none() {
                let (m, not) = traffic_mix(&scratch, &opts.queries).await?;
                if !m.left_out.is_empty() {
                    (opts.note)(format!(
                        "left out of the traffic, weight 0: {}",
                        m.left_out.join(", ")
                    ));
                }
                mix = Some(m);
                set_aside = not;
            }
            let mix = mix.as_ref().expect("mix chosen above");
            one(opts, &scratch, mix, variant).await
        }
        .await;
        // Dropped whether the variant worked or not; its guard covers a
        // stop before this line.
        scratch.drop_now().await?;
        let (run, from) = outcome?;
        wait_start = from;
        (opts.note)(format!(
            "{}: {:.0} ms, worst wait {}",
            label(variant),
            run.wall_ms,
            run.blocked
                .iter()
                .map(|b| b.worst_blocked_ms)
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
                .map_or("none".into(), |w| format!("{w:.0} ms"))
        ));
        runs.insert(variant as u8, run);
    }
    let mut take = |v: RehearsalVariant| runs.remove(&(v as u8)).expect("each variant ran");
    let mix = mix.expect("chosen with the first copy");
    Ok((
        Rehearsal {
            rate_per_s: opts.rate,
            clients: opts.clients * mix.queries.len(),
            mix: mix.entries(),
            sample_interval_ms: SAMPLE_EVERY.as_secs_f64() * 1e3,
            wait_start,
            long_transaction_ms: LONG_TRANSACTION.as_secs_f64() * 1e3,
            as_written: take(RehearsalVariant::AsWritten),
            online: take(RehearsalVariant::Online),
            online_long_transaction: take(RehearsalVariant::OnlineLongTransaction),
            production_rows: opts.production.clone(),
            production_source: opts.production_source.clone(),
            online_file: crate::measure::ONLINE_FILE.to_string(),
        },
        set_aside,
    ))
}

/// How a variant is named in progress lines.
pub fn label(v: RehearsalVariant) -> &'static str {
    match v {
        RehearsalVariant::AsWritten => "as written",
        RehearsalVariant::Online => "online",
        RehearsalVariant::OnlineLongTransaction => "online, with a long transaction",
    }
}

/// The candidates that prepare on the copy before the migration.
async fn traffic_mix(scratch: &Scratch, queries: &[Query]) -> Result<(Mix, Vec<NotRunnable>)> {
    let client = scratch.db.connect().await?;
    let (ok, not) = split_runnable(&client, queries).await?;
    if ok.is_empty() {
        return Err(crate::error::Error::BadInput(
            "no traffic query prepares on the schema before the migration; mark some `traffic = true` in the catalogue".into(),
        ));
    }
    Ok((Mix::new(ok.into_iter().cloned().collect())?, not))
}

/// What one variant's run recorded, before it is summarised.
struct Recording {
    variant: RehearsalVariant,
    sent: Vec<traffic::Sent>,
    sampled: Sampled,
    before_from: Instant,
    migration_from: Instant,
    migration_to: Instant,
    /// The migration's statements, and the server's clock at its start.
    statements: Vec<StatementTiming>,
    t0: f64,
    t1: f64,
    failed: Option<String>,
    /// Rows per table of the copy.
    rows: BTreeMap<String, f64>,
}

/// One variant on one scratch copy, and where its waits' start times came
/// from.
async fn one(
    opts: &Options<'_>,
    scratch: &Scratch,
    mix: &Mix,
    variant: RehearsalVariant,
) -> Result<(RehearsalRun, WaitStart)> {
    let db = &scratch.db;
    let client = db.connect().await?;
    let mut pools = Vec::new();
    for q in &mix.queries {
        pools.push(ParamPool::sample(&client, q).await?);
    }
    let rows = measured_rows(&client).await?;
    drop(client);
    let sampler = Sampler::start(db, MIGRATION_APP).await?;
    let wait_start = sampler.wait_start();
    let traffic =
        traffic::Traffic::start(db, mix, &pools, opts.clients, opts.rate, opts.seed).await?;
    tokio::time::sleep(SETTLE).await;
    let before_from = Instant::now();
    tokio::time::sleep(BEFORE).await;
    let long = match variant {
        RehearsalVariant::OnlineLongTransaction => {
            Some(LongTransaction::open(db, LONG_TRANSACTION).await?)
        }
        _ => None,
    };
    (opts.note)(format!("{}: applying under traffic", label(variant)));
    let migration_from = Instant::now();
    let applied = apply::apply(db, &opts.chain.under_test, variant).await;
    let migration_to = Instant::now();
    let (statements, (t0, t1), failed) = match applied {
        Ok((a, t0, t1)) => (a.statements, (t0, t1), None),
        Err(e) => {
            // Their times are unknown; they still tell which took a lock.
            let ran = apply::ran_until_failure(&opts.chain.under_test, variant, &e);
            let e = chain(&e);
            (opts.note)(format!("{}: the migration failed: {e}", label(variant)));
            (ran.unwrap_or_default(), (0.0, 0.0), Some(e))
        }
    };
    if let Some(l) = long {
        l.ended().await?;
    }
    tokio::time::sleep(TAIL).await;
    let sent = traffic.stop().await?;
    let sampled = sampler.stop().await?;
    let run = summarise(
        opts,
        mix,
        Recording {
            variant,
            sent,
            sampled,
            before_from,
            migration_from,
            migration_to,
            statements,
            t0,
            t1,
            failed,
            rows,
        },
    );
    Ok((run, wait_start))
}

/// The run as `results.json` keeps it: latencies per query, the worst
/// waits with what blocked them and their projection, the sessions the
/// migration waited for.
fn summarise(opts: &Options<'_>, mix: &Mix, r: Recording) -> RehearsalRun {
    let factor = |table: &str| {
        let prod = opts.production.iter().find(|(t, _)| t == table)?.1 as f64;
        let have = *r.rows.get(table)?;
        (have > 0.0).then_some(prod / have)
    };
    let windows = projection::windows(r.t0, r.t1, &r.statements, factor);
    // A failed migration's statements are unknown: nothing to scale.
    let project = |from: f64, to: f64| {
        (!opts.production.is_empty() && r.failed.is_none())
            .then(|| projection::project(from, to, &windows))
    };
    let detail = |w: &Wait| Detail {
        taken_by: w
            .blocker
            .as_ref()
            .filter(|b| b.app == MIGRATION_APP)
            .zip(w.rel.as_deref())
            .and_then(|(_, rel)| projection::taken_by(w.waitstart, rel, &r.statements, &windows)),
        projected_ms: project(w.waitstart, w.waitstart + w.blocked_ms() / 1e3),
    };
    let blocked = worst_blocked(&r.sampled.waits, TRAFFIC_APP, detail);
    let held = longest_holds(&r.sampled.holds, |h| HeldLock {
        table: h.rel.clone(),
        mode: h.mode.clone(),
        held_ms: h.held_ms(),
        // Asked at the first sample that saw it: held then for certain,
        // where its estimated start may fall a little before it was taken.
        taken_by: projection::taken_by(h.first_seen, &h.rel, &r.statements, &windows),
        projected_ms: project(h.start(), h.end()),
    });
    RehearsalRun {
        variant: r.variant,
        wall_ms: (r.migration_to - r.migration_from).as_secs_f64() * 1e3,
        queries: latencies(mix, &r),
        migration_waits: waited_on(&r.sampled.waits, MIGRATION_APP),
        // A failed run's statements carry no times: left out.
        statements: if r.failed.is_some() {
            Vec::new()
        } else {
            r.statements
        },
        blocked,
        held,
        failed: r.failed,
    }
}

/// Per table, the longest of its holds, as `to` records it; by table name.
fn longest_holds(holds: &[Hold], to: impl Fn(&Hold) -> HeldLock) -> Vec<HeldLock> {
    let mut longest: BTreeMap<&str, &Hold> = BTreeMap::new();
    for h in holds {
        let e = longest.entry(h.rel.as_str()).or_insert(h);
        if h.held_ms() > e.held_ms() {
            *e = h;
        }
    }
    longest.into_values().map(to).collect()
}

/// Each traffic query's latency before and during the migration.
fn latencies(mix: &Mix, r: &Recording) -> Vec<RehearsedQuery> {
    let n = mix.queries.len();
    let before = traffic::record(&r.sent, n, r.before_from, r.migration_from);
    let during = traffic::record(&r.sent, n, r.migration_from, r.migration_to);
    mix.queries
        .iter()
        .zip(before.iter().zip(&during))
        .map(|(q, (b, d))| RehearsedQuery {
            query: q.name.clone(),
            before_requests: b.histogram.len(),
            before_p99_ms: b.quantile_ms(0.99),
            before_max_ms: b.max_ms(),
            during_requests: d.histogram.len(),
            during_p99_ms: d.quantile_ms(0.99),
            during_max_ms: d.max_ms(),
            errors: b.errors + d.errors,
            first_error: b.first_error.clone().or_else(|| d.first_error.clone()),
        })
        .collect()
}

/// Rows per table of the copy, from the planner's statistics; a table
/// without an estimate is left out (not scaled).
async fn measured_rows(client: &tokio_postgres::Client) -> Result<BTreeMap<String, f64>> {
    let rows = client
        .query(
            &format!(
                "SELECT relname, {ROW_ESTIMATE} FROM pg_class
                  WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            ),
            &[],
        )
        .await
        .context("reading the copy's row counts")?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((r.get(0), r.get::<_, Option<f64>>(1)?)))
        .collect())
}
