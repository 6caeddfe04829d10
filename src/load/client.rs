//! One load client: a connection of its own, sending the mix's requests
//! until the point's deadline, closed loop (the next request when the last
//! answers) or open loop (on a fixed schedule, latency counted from each
//! request's intended start whenever the client is behind it, so a server
//! that stalls shows in the latency instead of slowing the schedule down:
//! no coordinated omission).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tokio::time::Instant;
use tokio_postgres::Client;

use super::mix::Mix;
use super::record::Recorded;
use crate::cluster::Registration;
use crate::error::{chain, Error, Result};
use crate::queries::Prepared;

/// The longest one statement may run under load (the sessions'
/// `statement_timeout`).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// The client's own bound on one request, past the server's: a request
/// that gets no answer at all (a network that drops packets) ends the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);

/// When a client sends its requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Each request as soon as the previous one answered.
    Closed,
    /// Request k is due at `start + offset + k * interval`.
    Open {
        interval: Duration,
        offset: Duration,
    },
}

/// One client, ready to run: its connection, the mix's queries prepared on
/// it (in the mix's order), and its own random stream.
pub struct LoadClient {
    pub client: Client,
    pub cancel: Registration,
    pub prepared: Vec<Prepared>,
    pub seed: u64,
}

impl LoadClient {
    /// Sends requests from `start` until `deadline`; returns each query's
    /// recording, in the mix's order, each latency in the time window
    /// (`window` long, from `start`) its request was due in. Returns early
    /// once `stop` is raised. A lost connection, a request with no
    /// answer, or a read that turns out to write ends the run with an error;
    /// any other failed request is counted and the client goes on.
    pub async fn run(
        self,
        mix: Arc<Mix>,
        pacing: Pacing,
        start: Instant,
        deadline: Instant,
        window: Duration,
        stop: Arc<AtomicBool>,
    ) -> Result<Vec<Recorded>> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let mut rec = vec![Recorded::default(); self.prepared.len()];
        tokio::time::sleep_until(start).await;
        for k in 0u64.. {
            let due = match pacing {
                Pacing::Closed => Instant::now(),
                Pacing::Open { interval, offset } => start + offset + interval.mul_f64(k as f64),
            };
            if due >= deadline || Instant::now() >= deadline || stop.load(Ordering::Relaxed) {
                break;
            }
            // A client behind its schedule sends at once, and the request's
            // latency counts from when it was due (the wait behind the
            // server is latency). A client ahead of it sleeps until then,
            // and the latency counts from when it woke: tokio's timer ticks
            // in milliseconds and wakes up to one late, which is the tool's
            // lateness, not the server's. (A closed-loop client is never
            // ahead, so it never touches the timer.)
            let counted_from = if due > Instant::now() {
                tokio::time::sleep_until(due).await;
                Instant::now()
            } else {
                due
            };
            let slot = (due.saturating_duration_since(start).as_nanos() / window.as_nanos().max(1))
                as usize;
            let i = mix.pick(&mut rng);
            let p = &self.prepared[i];
            let row = &p.pool.rows[rng.gen_range(0..p.pool.rows.len())];
            match tokio::time::timeout(REQUEST_TIMEOUT, p.run_counted(&self.client, row)).await {
                Ok(Ok(_)) => rec[i].latency(slot, counted_from.elapsed()),
                Ok(Err(e @ Error::UndeclaredWrite { .. })) => return Err(e),
                Ok(Err(e)) if self.client.is_closed() => return Err(e),
                Ok(Err(e)) => rec[i].error(chain(&e)),
                Err(_) => {
                    return Err(Error::NoAnswer {
                        query: p.query.name.clone(),
                        seconds: REQUEST_TIMEOUT.as_secs(),
                    })
                }
            }
        }
        drop(self.cancel);
        Ok(rec)
    }
}
