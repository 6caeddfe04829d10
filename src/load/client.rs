//! One load client: a connection of its own, sending the mix's requests
//! until the point's deadline, closed loop (the next request when the last
//! answers) or open loop (on a fixed schedule, latency counted from each
//! request's intended start whenever the client is behind it, so a server
//! that stalls shows in the latency instead of slowing the schedule down:
//! no coordinated omission).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tokio::time::{Instant, Sleep};
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
    ///
    /// Per request the clock is read twice in the closed loop (before and
    /// after) and one timer, armed once, is pushed forward: a timer made
    /// and dropped per request cost the driver's lock twice.
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
        let mut no_answer = std::pin::pin!(tokio::time::sleep_until(start + REQUEST_TIMEOUT));
        tokio::time::sleep_until(start).await;
        for k in 0u64.. {
            let now = Instant::now();
            let due = match pacing {
                Pacing::Closed => now,
                Pacing::Open { interval, offset } => start + offset + interval.mul_f64(k as f64),
            };
            if due >= deadline || now >= deadline || stop.load(Ordering::Relaxed) {
                break;
            }
            // A client behind its schedule sends at once, and the request's
            // latency counts from when it was due (the wait behind the
            // server is latency). A client ahead of it sleeps until then,
            // and the latency counts from when it woke: tokio's timer ticks
            // in milliseconds and wakes up to one late, which is the tool's
            // lateness, not the server's. (A closed-loop client is never
            // ahead, so it never sleeps.)
            let (sent, counted_from) = match due > now {
                true => {
                    tokio::time::sleep_until(due).await;
                    let woke = Instant::now();
                    (woke, woke)
                }
                false => (now, due),
            };
            let slot = (due.saturating_duration_since(start).as_nanos() / window.as_nanos().max(1))
                as usize;
            let i = mix.pick(&mut rng);
            let p = &self.prepared[i];
            let row = &p.pool.rows[rng.gen_range(0..p.pool.rows.len())];
            no_answer.as_mut().reset(sent + REQUEST_TIMEOUT);
            match self.send(p, row, no_answer.as_mut()).await? {
                None => rec[i].latency(slot, counted_from.elapsed()),
                Some(error) => rec[i].error(error),
            }
        }
        drop(self.cancel);
        Ok(rec)
    }

    /// Sends one request of `p` with `row` and waits for its answer until
    /// `no_answer` (the client's one timer, [`REQUEST_TIMEOUT`] after the
    /// request was sent) goes off: `Ok(None)` once it answered,
    /// `Ok(Some(error))` when it failed and the client goes on, `Err` when
    /// the run ends (no answer, a lost connection, a read that writes).
    async fn send(
        &self,
        p: &Prepared,
        row: &[Option<String>],
        no_answer: Pin<&mut Sleep>,
    ) -> Result<Option<String>> {
        let answer = tokio::select! {
            biased;
            answer = p.run_counted(&self.client, row) => answer,
            () = no_answer => {
                return Err(Error::NoAnswer {
                    query: p.query.name.clone(),
                    seconds: REQUEST_TIMEOUT.as_secs(),
                })
            }
        };
        match answer {
            Ok(_) => Ok(None),
            Err(e @ Error::UndeclaredWrite { .. }) => Err(e),
            Err(e) if self.client.is_closed() => Err(e),
            Err(e) => Ok(Some(chain(&e))),
        }
    }
}
