//! `helpdesk-bench load`: the catalogue's reads and writes as a weighted mix
//! from N concurrent clients, each with a connection of its own, in each
//! index state, closed loop or at a fixed rate; latency per query recorded
//! in HDR histograms.
//!
//! On a database the tool made (the embedded cluster) each state is
//! entered for real and committed, so every client sees it. On a user's
//! database a state the tool enters would be one session's rolled-back
//! transaction, which other connections cannot see, so only the database
//! as found is measured there.

mod client;
mod mix;
mod record;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use client::{Pacing, STATEMENT_TIMEOUT};
pub use mix::{select, Mix};
pub use record::{load as load_histogram, save as save_histogram, Recorded};

use crate::cluster::Endpoint;
use crate::error::{Context, Error, Result};
use crate::queries::{ParamPool, Prepared, Query};
use crate::report::{LoadPoint, LoadRun};
use crate::schema::{Access, IndexState, Migration, Session};
use client::LoadClient;

/// How long a client waits for a row lock before its write fails (counted
/// as an error).
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// Clients start together this long after the last one is ready.
const START_DELAY: Duration = Duration::from_millis(50);

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
    /// Set when the states are switched (embedded): states are committed.
    pub switch_states: bool,
    /// The run folder; histograms go under `load/`.
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
    let mix = Arc::new(opts.mix.clone());
    let mut points = Vec::new();
    for state in &opts.states {
        if opts.switch_states {
            let mut s = Session::open(opts.db, opts.migration, false).await?;
            s.enter(state, Access::ReadWrite).await?;
            s.leave().await?;
        }
        for &n in &opts.clients {
            let recorded = run_point(opts, &mix, &pools, n).await?;
            for (q, (rec, elapsed)) in opts.mix.queries.iter().zip(recorded) {
                let p = point(opts, q, state, n, &rec, elapsed)?;
                (opts.on_point)(&p);
                points.push(p);
            }
        }
    }
    Ok(LoadRun {
        duration_s: opts.duration.as_secs_f64(),
        mode: match opts.rate {
            Some(_) => crate::report::LoadMode::OpenLoop,
            None => crate::report::LoadMode::ClosedLoop,
        },
        rate_per_s: opts.rate,
        clients: opts.clients.clone(),
        mix: opts.mix.entries(),
        seed: opts.seed,
        writes: opts.writes,
        points,
    })
}

/// `n` clients for one duration: each query's merged recording and the
/// wall time the clients ran.
async fn run_point(
    opts: &LoadOptions<'_>,
    mix: &Arc<Mix>,
    pools: &[ParamPool],
    n: usize,
) -> Result<Vec<(Recorded, Duration)>> {
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        clients.push(connect(opts, pools, n, i).await?);
    }
    let start = tokio::time::Instant::now() + START_DELAY;
    let deadline = start + opts.duration;
    let mut tasks = Vec::with_capacity(n);
    for (i, c) in clients.into_iter().enumerate() {
        let pacing = match opts.rate {
            None => Pacing::Closed,
            Some(rate) => {
                let interval = Duration::from_secs_f64(n as f64 / rate);
                // Clients take turns, so the whole rate is evenly spaced.
                Pacing::Open {
                    interval,
                    offset: interval.mul_f64(i as f64 / n as f64),
                }
            }
        };
        tasks.push(tokio::spawn(c.run(mix.clone(), pacing, start, deadline)));
    }
    let mut merged = vec![Recorded::default(); mix.queries.len()];
    for t in tasks {
        let rec = t
            .await
            .map_err(|e| Error::BadInput(format!("a load client stopped: {e}")))??;
        for (m, r) in merged.iter_mut().zip(&rec) {
            m.merge(r);
        }
    }
    let elapsed = start.elapsed();
    Ok(merged.into_iter().map(|r| (r, elapsed)).collect())
}

/// Client `i` of `n`: connected, its timeouts set, read-only but for the
/// writes' own transactions, and every query of the mix prepared.
async fn connect(
    opts: &LoadOptions<'_>,
    pools: &[ParamPool],
    n: usize,
    i: usize,
) -> Result<LoadClient> {
    let (client, cancel) = opts.db.connect_cancellable().await?;
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
    for (q, pool) in opts.mix.queries.iter().zip(pools) {
        prepared.push(Prepared::new(&client, q, pool.clone()).await?);
    }
    Ok(LoadClient {
        client,
        cancel,
        prepared,
        seed: opts.seed ^ (n as u64) << 32 ^ i as u64,
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
    })
}

/// `load/<state>/<clients>-clients/<query>.hdr`, relative to the run folder.
fn histogram_file(state: &str, clients: usize, query: &str) -> PathBuf {
    Path::new("load")
        .join(state)
        .join(format!("{clients}-clients"))
        .join(format!("{query}.hdr"))
}
