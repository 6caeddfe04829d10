//! In-process latency samples for the measurements that run outside
//! criterion (ablation, sweep, write costs): warm up, then time each run of
//! a prepared query and keep the samples.

use std::time::Instant;

use tokio_postgres::Client;

use crate::error::Result;
use crate::queries::Prepared;

/// Latency samples of one query, in milliseconds, sorted.
#[derive(Debug, Clone)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    /// Runs `q` `warmup` times untimed, then `runs` times timed.
    pub async fn take(
        client: &Client,
        q: &Prepared,
        warmup: usize,
        runs: usize,
    ) -> Result<Samples> {
        for _ in 0..warmup {
            q.run_next(client).await?;
        }
        let mut v = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            q.run_next(client).await?;
            v.push(t.elapsed().as_secs_f64() * 1e3);
        }
        v.sort_by(f64::total_cmp);
        Ok(Samples(v))
    }

    /// Runs `q` once on each of `rows`, in order, timing each run, after
    /// running the first `warmup` of them untimed: the same parameter rows
    /// for both sides of a paired comparison.
    pub async fn take_rows(
        client: &Client,
        q: &Prepared,
        warmup: usize,
        rows: &[Vec<Option<String>>],
    ) -> Result<Samples> {
        for row in rows.iter().take(warmup) {
            q.run_with(client, row).await?;
        }
        let mut v = Vec::with_capacity(rows.len());
        for row in rows {
            let t = Instant::now();
            q.run_with(client, row).await?;
            v.push(t.elapsed().as_secs_f64() * 1e3);
        }
        v.sort_by(f64::total_cmp);
        Ok(Samples(v))
    }

    /// Like [`Samples::take`], but stops once `budget` has passed (after at
    /// least 3 runs), so slow points of a sweep don't take minutes each.
    pub async fn take_within(
        client: &Client,
        q: &Prepared,
        warmup: usize,
        runs: usize,
        budget: std::time::Duration,
    ) -> Result<Samples> {
        for _ in 0..warmup {
            q.run_next(client).await?;
        }
        let started = Instant::now();
        let mut v = Vec::with_capacity(runs);
        while v.len() < runs && (v.len() < 3 || started.elapsed() < budget) {
            let t = Instant::now();
            q.run_next(client).await?;
            v.push(t.elapsed().as_secs_f64() * 1e3);
        }
        v.sort_by(f64::total_cmp);
        Ok(Samples(v))
    }

    /// The p-th quantile (0.5 = median) by nearest rank.
    pub fn quantile(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let i = ((self.0.len() - 1) as f64 * p).round() as usize;
        self.0[i]
    }

    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    /// Interquartile range relative to the median: the noise of these samples.
    pub fn spread(&self) -> f64 {
        (self.quantile(0.75) - self.quantile(0.25)) / self.median().max(1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let s = Samples(vec![1.0, 2.0, 3.0, 4.0, 100.0]);
        assert_eq!(s.median(), 3.0);
        assert_eq!(s.quantile(0.0), 1.0);
        assert!((s.spread() - 2.0 / 3.0).abs() < 1e-9);
    }
}
