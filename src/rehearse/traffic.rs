//! The application's traffic during a rehearsal: open-loop clients, each
//! with a connection of its own, sending requests on a fixed schedule until
//! told to stop. Each query of the mix has its own lane of clients, at its
//! share of the rate (its catalogue weight): a request stuck behind a lock
//! then holds up only its own query's lane, so a read of "User" stuck
//! behind an `ALTER TABLE` does not keep the writes to "Message" from
//! meeting the index builds. Latency counts from each request's intended
//! start (as `load`'s open loop does), so requests queued behind a stuck
//! one show the whole wait. Every request is kept with its due time, so
//! the rehearsal can split them into before and during the migration.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cluster::{Endpoint, Registration};
use crate::error::{chain, Context, Error, Result};
use crate::load::{Mix, Pacing, Recorded};
use crate::queries::{ParamPool, Prepared};

/// The traffic's `application_name`, by which the sampler knows it.
pub const TRAFFIC_APP: &str = "helpdesk-bench rehearse traffic";
/// The longest a traffic request may wait for the migration: far past any
/// lock the rehearsal expects, so waits are measured, not cut short.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(600);
/// The client's own bound on one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(620);

/// One request: which query, when it was due, and how it went.
#[derive(Debug, Clone)]
pub struct Sent {
    pub query: usize,
    pub due: Instant,
    pub latency: Duration,
    pub error: Option<String>,
}

/// Running traffic; [`Traffic::stop`] returns every request sent.
pub struct Traffic {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<Vec<Sent>>>>,
}

impl Traffic {
    /// Connects `per_query` clients for each query of `mix`, prepares its
    /// query on each, and starts `rate` requests per second over all of
    /// them, each query at its weight's share.
    pub async fn start(
        db: &Endpoint,
        mix: &Mix,
        pools: &[ParamPool],
        per_query: usize,
        rate: f64,
        seed: u64,
    ) -> Result<Traffic> {
        let (stop, rx) = watch::channel(false);
        let total: f64 = mix.weights.iter().sum();
        let mut ready = Vec::new();
        for (i, (q, pool)) in mix.queries.iter().zip(pools).enumerate() {
            let share = rate * mix.weights[i] / total;
            for k in 0..per_query {
                let (client, cancel) = connect(db).await?;
                let prepared = Prepared::new(&client, q, pool.clone()).await?;
                let interval = Duration::from_secs_f64(per_query as f64 / share);
                let pacing = Pacing::Open {
                    interval,
                    offset: interval.mul_f64(k as f64 / per_query as f64),
                };
                let lane = Client {
                    client,
                    _cancel: cancel,
                    prepared,
                    query: i,
                    rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ ((i as u64) << 32) ^ k as u64),
                };
                ready.push((lane, pacing));
            }
        }
        let start = Instant::now() + Duration::from_millis(20);
        let tasks = ready
            .into_iter()
            .map(|(lane, pacing)| tokio::spawn(lane.run(pacing, start, rx.clone())))
            .collect();
        Ok(Traffic { stop, tasks })
    }

    /// Stops sending, waits for the requests in flight, and returns every
    /// request of every client.
    pub async fn stop(mut self) -> Result<Vec<Sent>> {
        let _ = self.stop.send(true);
        let mut all = Vec::new();
        for t in std::mem::take(&mut self.tasks) {
            let sent = t.await.map_err(|e| Error::Stopped {
                what: "a traffic client".into(),
                detail: e.to_string(),
            })??;
            all.extend(sent);
        }
        all.sort_by_key(|s| s.due);
        Ok(all)
    }
}

impl Drop for Traffic {
    /// Not stopped (an error elsewhere): the clients stop at once.
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Each query's recording over the requests due in `from..to`.
pub fn record(sent: &[Sent], queries: usize, from: Instant, to: Instant) -> Vec<Recorded> {
    let mut rec = vec![Recorded::default(); queries];
    for s in sent.iter().filter(|s| s.due >= from && s.due < to) {
        match &s.error {
            None => rec[s.query].latency(0, s.latency),
            Some(e) => rec[s.query].error(e.clone()),
        }
    }
    rec
}

/// One client's connection, with its timeouts and name.
async fn connect(db: &Endpoint) -> Result<(tokio_postgres::Client, Registration)> {
    let (client, cancel) = db.connect_cancellable().await?;
    client
        .batch_execute(&format!(
            "SET statement_timeout = '{}ms'; SET application_name = '{TRAFFIC_APP}'",
            STATEMENT_TIMEOUT.as_millis()
        ))
        .await
        .context("setting up a traffic client")?;
    Ok((client, cancel))
}

/// One client of one query's lane.
struct Client {
    client: tokio_postgres::Client,
    _cancel: Registration,
    prepared: Prepared,
    /// The query's index in the mix.
    query: usize,
    rng: Xoshiro256PlusPlus,
}

impl Client {
    /// Sends requests on the schedule until `stop` turns true.
    async fn run(
        mut self,
        pacing: Pacing,
        start: Instant,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<Sent>> {
        let Pacing::Open { interval, offset } = pacing else {
            return Err(Error::Unexpected {
                doing: "pacing rehearsal traffic".into(),
                detail: "its lanes are open loop".into(),
            });
        };
        let mut sent = Vec::new();
        for k in 0u64.. {
            let due = start + offset + interval.mul_f64(k as f64);
            let mut stopped = stop.clone();
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
            if *stop.borrow() {
                break;
            }
            let p = &self.prepared;
            let row = &p.pool.rows[self.rng.gen_range(0..p.pool.rows.len())];
            let outcome =
                tokio::time::timeout(REQUEST_TIMEOUT, p.run_with(&self.client, row)).await;
            let error = match outcome {
                Ok(Ok(_)) => None,
                Ok(Err(e)) if self.client.is_closed() => return Err(e),
                Ok(Err(e)) => Some(chain(&e)),
                Err(_) => {
                    return Err(Error::NoAnswer {
                        query: p.query.name.clone(),
                        seconds: REQUEST_TIMEOUT.as_secs(),
                    })
                }
            };
            sent.push(Sent {
                query: self.query,
                due,
                latency: due.elapsed(),
                error,
            });
        }
        Ok(sent)
    }
}
