//! `helpdesk-bench load`: the catalogue's reads and writes as a weighted mix
//! from N concurrent clients, each with a connection of its own, in each
//! index state, closed loop or at a fixed rate; latency per query recorded
//! in HDR histograms.
//!
//! Each state is entered for real and committed, so every client sees it:
//! on a database the tool made (the embedded cluster) freely; on a user's
//! database only with the index-changes permission, after the in-use
//! check, without ANALYZE, and with the indexes put back exactly as found
//! at the end and read back from the catalog ([`restore`]), by a guard
//! process should the tool die. Without the
//! permission only the database as found is measured there.

mod client;
mod mix;
mod record;
mod restore;
pub mod wire;
mod workers;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use client::{Pacing, STATEMENT_TIMEOUT};
pub use mix::{select, Mix};
pub use record::{load as load_histogram, save as save_histogram, Recorded};
pub use restore::Restored;

use crate::cluster::Endpoint;
use crate::error::{Context, Result};
use crate::queries::{ParamPool, Prepared, Query};
use crate::results::{LoadPoint, LoadRun};
use crate::schema::{Access, IndexState, Migration, Session};
use client::LoadClient;
use restore::Restore;

/// How long a client waits for a row lock before its write fails (counted
/// as an error).
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// Clients start together this long after the last one is ready.
const START_DELAY: Duration = Duration::from_millis(50);
/// A point is cut into about this many time windows (at most a second
/// each), whose p99s and throughputs the report's intervals are
/// bootstrapped from.
const WINDOWS: u32 = 10;
const MAX_WINDOW: Duration = Duration::from_secs(1);

/// The time window of a point `duration` long: a tenth of it, at most a
/// second, so a 10 s point has ten windows and a 20 s point twenty.
pub fn window_of(duration: Duration) -> Duration {
    (duration / WINDOWS).clamp(Duration::from_millis(1), MAX_WINDOW)
}

/// How many whole windows a point `duration` long holds.
fn window_count(duration: Duration) -> usize {
    (duration.as_nanos() / window_of(duration).as_nanos()).max(1) as usize
}

/// What to run.
pub struct LoadOptions<'a> {
    pub db: &'a Endpoint,
    pub migration: &'a Migration,
    pub mix: Mix,
    pub states: Vec<IndexState>,
    pub clients: Vec<usize>,
    pub duration: Duration,
    /// Requests per second over all clients; `None` for closed loop.
    pub rate: Option<f64>,
    /// True when the mix may write (recorded in the results; the mix was
    /// chosen with it).
    pub writes: bool,
    pub seed: u64,
    /// Set when the states are switched: they are committed (on a user's
    /// database, then put back as found).
    pub switch_states: bool,
    /// Switch states on a user's database even while other sessions use
    /// the tables.
    pub force: bool,
    /// Called at the end with how the indexes were put back as found on a
    /// user's database.
    pub on_restored: &'a (dyn Fn(&Restored) + Sync),
    /// The run folder; histograms go under `load/`, the guard's account in
    /// [`crate::guard::ACCOUNT_FILE`].
    pub run_dir: &'a Path,
    /// Called with each point as it is measured, for progress.
    pub on_point: &'a (dyn Fn(&LoadPoint) + Sync),
}

/// Runs every state and client count; returns the points, with their
/// histograms written under `run_dir/load/`.
pub async fn run(opts: &LoadOptions<'_>) -> Result<LoadRun> {
    let sampler = opts.db.connect().await?;
    let mut pools = Vec::new();
    for q in &opts.mix.queries {
        pools.push(ParamPool::sample(&sampler, q).await?);
    }
    drop(sampler);
    let restore = match opts.switch_states && !opts.db.is_embedded() {
        true => {
            let account = opts.run_dir.join(crate::guard::ACCOUNT_FILE);
            Some(Restore::begin(opts.db, opts.migration, &account).await?)
        }
        false => None,
    };
    let measured = measure(opts, &pools).await;
    if let Some(r) = restore {
        let put_back = r.finish(opts.db, opts.migration, opts.force).await;
        (opts.on_restored)(&put_back?);
    }
    let points = measured?;
    Ok(LoadRun {
        duration_s: opts.duration.as_secs_f64(),
        mode: match opts.rate {
            Some(_) => crate::results::LoadMode::OpenLoop,
            None => crate::results::LoadMode::ClosedLoop,
        },
        rate_per_s: opts.rate,
        clients: opts.clients.clone(),
        mix: opts.mix.entries(),
        seed: opts.seed,
        writes: opts.writes,
        window_s: window_of(opts.duration).as_secs_f64(),
        indexes_changed: opts.switch_states && !opts.db.is_embedded(),
        points,
    })
}

/// Every state and client count, in order.
async fn measure(opts: &LoadOptions<'_>, pools: &[ParamPool]) -> Result<Vec<LoadPoint>> {
    let mix = Arc::new(opts.mix.clone());
    let mut points = Vec::new();
    for state in &opts.states {
        if opts.switch_states {
            let mut s = Session::open_committing(opts.db, opts.migration, opts.force).await?;
            s.enter(state, Access::ReadWrite).await?;
            s.leave().await?;
        }
        for &n in &opts.clients {
            let recorded = run_point(opts, &mix, pools, n).await?;
            for (q, (rec, elapsed)) in opts.mix.queries.iter().zip(recorded) {
                let p = point(opts, q, state, n, &rec, elapsed)?;
                (opts.on_point)(&p);
                points.push(p);
            }
        }
    }
    Ok(points)
}

/// `n` clients for one duration, on threads of their own
/// ([`workers`]): each query's merged recording and the wall time the
/// clients ran.
async fn run_point(
    opts: &LoadOptions<'_>,
    mix: &Arc<Mix>,
    pools: &[ParamPool],
    n: usize,
) -> Result<Vec<(Recorded, Duration)>> {
    let pacing = (0..n)
        .map(|i| match opts.rate {
            None => Pacing::Closed,
            Some(rate) => {
                let interval = Duration::from_secs_f64(n as f64 / rate);
                // Clients take turns, so the whole rate is evenly spaced.
                Pacing::Open {
                    interval,
                    offset: interval.mul_f64(i as f64 / n as f64),
                }
            }
        })
        .collect();
    let setup = Arc::new(Setup {
        db: opts.db.clone(),
        queries: opts.mix.queries.clone(),
        pools: pools.to_vec(),
        seed: opts.seed,
        clients: n,
    });
    let connect: workers::Connect = Arc::new(move |i| Box::pin(connect(setup.clone(), i)));
    let point = workers::Point {
        clients: n,
        pacing,
        duration: opts.duration,
        window: window_of(opts.duration),
        start_delay: START_DELAY,
    };
    let (recorded, elapsed) = workers::run(point, mix.clone(), connect).await?;
    let mut merged = vec![Recorded::default(); mix.queries.len()];
    for rec in recorded {
        for (m, r) in merged.iter_mut().zip(&rec) {
            m.merge(r);
        }
    }
    Ok(merged.into_iter().map(|r| (r, elapsed)).collect())
}

/// What a client thread needs to connect its clients.
struct Setup {
    db: Endpoint,
    queries: Vec<Query>,
    pools: Vec<ParamPool>,
    seed: u64,
    clients: usize,
}

/// Client `i` of the point: connected, its timeouts set, read-only but
/// for the writes' own transactions, every query of the mix prepared, and
/// from then on its answers' rows dropped unread where the socket allows
/// ([`wire`]): requests are counted by their command tags.
async fn connect(s: Arc<Setup>, i: usize) -> Result<LoadClient> {
    let (client, cancel, rows) = wire::connect(&s.db).await?;
    // Read-only by default, so every read is, writes or not: a write opens
    // its own `BEGIN READ WRITE`.
    let settings = format!(
        "SET statement_timeout = '{}ms'; SET lock_timeout = '{}ms'; \
         SET default_transaction_read_only = on; SET application_name = 'helpdesk-bench load';",
        STATEMENT_TIMEOUT.as_millis(),
        LOCK_TIMEOUT.as_millis()
    );
    client
        .batch_execute(&settings)
        .await
        .context("setting the load client's timeouts")?;
    let mut prepared = Vec::new();
    for (q, pool) in s.queries.iter().zip(&s.pools) {
        prepared.push(Prepared::new(&client, q, pool.clone()).await?);
    }
    rows.skip_rows();
    Ok(LoadClient {
        client,
        cancel,
        prepared,
        seed: s.seed ^ (s.clients as u64) << 32 ^ i as u64,
    })
}

/// One query's point: throughput and percentiles, with its histogram saved.
fn point(
    opts: &LoadOptions<'_>,
    q: &Query,
    state: &IndexState,
    clients: usize,
    rec: &Recorded,
    elapsed: Duration,
) -> Result<LoadPoint> {
    let rel = histogram_file(&state.id(opts.migration), clients, &q.name);
    save_histogram(&rec.histogram, &opts.run_dir.join(&rel))?;
    let requests = rec.histogram.len();
    let (window_p99_ms, window_throughput_per_s) =
        rec.per_window(window_count(opts.duration), window_of(opts.duration));
    Ok(LoadPoint {
        query: q.name.clone(),
        state: state.clone(),
        clients,
        requests,
        throughput_per_s: requests as f64 / elapsed.as_secs_f64().max(1e-9),
        p50_ms: rec.quantile_ms(0.5),
        p95_ms: rec.quantile_ms(0.95),
        p99_ms: rec.quantile_ms(0.99),
        p999_ms: rec.quantile_ms(0.999),
        max_ms: rec.max_ms(),
        errors: rec.errors,
        first_error: rec.first_error.clone(),
        histogram: rel.display().to_string(),
        window_p99_ms,
        window_throughput_per_s,
    })
}

/// `load/<state>/<clients>-clients/<query>.hdr`, relative to the run folder.
fn histogram_file(state: &str, clients: usize, query: &str) -> PathBuf {
    Path::new("load")
        .join(state)
        .join(format!("{clients}-clients"))
        .join(format!("{query}.hdr"))
}
