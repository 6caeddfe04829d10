//! A read timed the way criterion times it, with every iteration's time
//! also kept by the parameter row it ran with: iterations go to the rows of
//! the stratified set ([`crate::explain::stratify`]) once each per round,
//! in an order shuffled afresh each round ([`rotation`]), so each row's
//! latency can be told apart (the largest tenant's inbox from a small
//! one's) while criterion still sees the whole loop. In a fixed order one
//! row would always follow the heaviest, and pay for the caches it left,
//! as no application's requests do. An iteration is the
//! request and its answer read to the end, the rows counted by the
//! server's command tag rather than decoded into values
//! ([`Prepared::run_counted`]): the server's work and the wire, as pgbench
//! times them, less the client library's building of the rows in memory
//! (libpq's result, which pgbench also times: about 0.1 µs a row, so a
//! 670-row answer runs some 15% faster here than under pgbench), which
//! is the application's, the same with or without an index. After the timed loop,
//! the plan each row's next execution of the same prepared statement gets
//! is captured on the same connection: the plan shown is the plan timed.
//!
//! Also the machine's load average at the start and end of each state, so
//! a run whose neighbours got busy half-way says so.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::error::Result;
use crate::explain::{explain_prepared, ExecutedPlan, ParamRow};
use crate::queries::{ParamPool, Prepared, Query};
use crate::schema::IndexState;

/// The most iterations kept per row: a 20 µs query timed for seconds runs
/// a hundred thousand times, and its median needs far fewer.
const KEEP: usize = 100_000;
/// Rounds of the rows in one shuffled rotation, before it repeats.
const ROUNDS: usize = 64;

/// The order iterations take the rows `0..n` in: [`ROUNDS`] rounds, each
/// every row once in a shuffled order, the same for every run.
pub fn rotation(n: usize) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(n as u64);
    let mut order = Vec::with_capacity(n * ROUNDS);
    for _ in 0..ROUNDS {
        let mut round: Vec<usize> = (0..n).collect();
        round.shuffle(&mut rng);
        order.extend(round);
    }
    order
}

/// One read prepared on one connection, timed row by row.
pub struct TimedQuery {
    pub rows: Vec<ParamRow>,
    prepared: Prepared,
    /// Milliseconds per iteration, by row.
    samples: Mutex<Vec<Vec<f64>>>,
    /// The rows' order ([`rotation`]) and the next place in it.
    order: Vec<usize>,
    next: AtomicUsize,
}

impl TimedQuery {
    /// Prepares `q` on `client` for the rows `rows`.
    pub async fn prepare(client: &Client, q: &Query, rows: &[ParamRow]) -> Result<TimedQuery> {
        let pool = ParamPool::from_rows(rows.iter().map(|r| r.values.clone()).collect());
        Ok(TimedQuery {
            prepared: Prepared::new(client, q, pool).await?,
            samples: Mutex::new(vec![Vec::new(); rows.len()]),
            rows: rows.to_vec(),
            order: rotation(rows.len()),
            next: AtomicUsize::new(0),
        })
    }

    /// One untimed run of every row, so a failing query stops here with
    /// its error rather than inside criterion.
    pub async fn check(&self, client: &Client) -> Result<()> {
        for r in &self.rows {
            self.prepared.run_with(client, &r.values).await?;
        }
        Ok(())
    }

    /// Runs `iters` iterations, each with the next row of the rotation, keeping
    /// each one's time by row; returns their total, for criterion's
    /// `iter_custom`.
    pub async fn iterations(&self, client: &Client, iters: u64) -> Result<Duration> {
        let mut total = Duration::ZERO;
        let mut times = Vec::with_capacity(iters.min(KEEP as u64) as usize);
        for _ in 0..iters {
            let i = self.order[self.next.fetch_add(1, Ordering::Relaxed) % self.order.len()];
            let t = Instant::now();
            self.prepared
                .run_counted(client, &self.rows[i].values)
                .await?;
            let took = t.elapsed();
            total += took;
            times.push((i, took.as_secs_f64() * 1e3));
        }
        let mut kept = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        for (i, ms) in times {
            if kept[i].len() < KEEP {
                kept[i].push(ms);
            }
        }
        Ok(total)
    }

    /// Each row's iteration times so far, in milliseconds.
    pub fn samples(&self) -> Vec<Vec<f64>> {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The plan each row's next execution of the timed statement gets,
    /// with ANALYZE, in row order.
    pub async fn capture(&self, client: &Client) -> Result<Vec<ExecutedPlan>> {
        let q = &self.prepared.query;
        let mut out = Vec::with_capacity(self.rows.len());
        for r in &self.rows {
            out.push(explain_prepared(client, &q.name, &q.statements[0], &r.values).await?);
        }
        Ok(out)
    }
}

/// What one state's timing of one read left: each row's times, the plan
/// each row got after the loop, and the load average around it.
#[derive(Debug, Clone)]
pub struct StateCapture {
    pub state: IndexState,
    /// Milliseconds per iteration, by row.
    pub samples: Vec<Vec<f64>>,
    /// By row.
    pub plans: Vec<ExecutedPlan>,
    /// The 1-minute load average when the state started and ended.
    pub load: (Option<f64>, Option<f64>),
}

/// One read's rows and what each state's timing left.
#[derive(Debug, Clone)]
pub struct QueryCapture {
    pub query: String,
    pub rows: Vec<ParamRow>,
    /// Set when the sample found no rows and the query was timed with
    /// parameters that match nothing (see `ParamPool::miss`).
    pub miss: Option<String>,
    pub states: Vec<StateCapture>,
}

/// The machine's 1-minute load average (`/proc/loadavg`), where there is
/// one.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_round_takes_every_row_once_in_a_new_order() {
        let order = rotation(5);
        assert_eq!(order, rotation(5), "the same for every run");
        assert_eq!(order.len(), 5 * ROUNDS);
        let rounds: Vec<&[usize]> = order.chunks(5).collect();
        for r in &rounds {
            let mut sorted = r.to_vec();
            sorted.sort();
            assert_eq!(sorted, [0, 1, 2, 3, 4]);
        }
        // The row after the first is not always the same one.
        let after_zero: std::collections::BTreeSet<usize> = order
            .windows(2)
            .filter(|w| w[0] == 0)
            .map(|w| w[1])
            .collect();
        assert!(after_zero.len() >= 3, "{after_zero:?}");
    }
}
