//! Recording latencies under load: one HDR histogram per query (in
//! microseconds, three significant digits), with the error count, merged
//! across clients, summarised as percentiles, and saved in HdrHistogram's
//! V2 format so histograms of several runs can be added together. Each
//! latency is also kept in its time window (by the request's intended
//! start), so a point's p99 and throughput can be read per window: the
//! spread over windows is what the report's intervals are bootstrapped from.

use std::path::Path;
use std::time::Duration;

use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;

use crate::error::{Context, Error, Result};

/// The longest latency a histogram holds exactly: an hour, in microseconds.
/// Anything longer is recorded as an hour.
const MAX_US: u64 = 3_600_000_000;
/// Significant digits kept: a 0.1% error in any recorded value.
const SIGFIG: u8 = 3;

/// One query's latencies and errors.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub histogram: Histogram<u64>,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Latencies in microseconds, per time window of the point.
    pub windows: Vec<Vec<u32>>,
}

impl Default for Recorded {
    fn default() -> Self {
        Recorded {
            histogram: Histogram::new_with_bounds(1, MAX_US, SIGFIG)
                .expect("valid histogram bounds"),
            errors: 0,
            first_error: None,
            windows: Vec::new(),
        }
    }
}

impl Recorded {
    /// Records one answered request, due in time window `window`.
    pub fn latency(&mut self, window: usize, d: Duration) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(MAX_US)
            .clamp(1, MAX_US);
        self.histogram.saturating_record(us);
        if self.windows.len() <= window {
            self.windows.resize_with(window + 1, Vec::new);
        }
        self.windows[window].push(u32::try_from(us).unwrap_or(u32::MAX));
    }

    /// Records one failed request.
    pub fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }

    /// Adds another client's recording of the same query.
    pub fn merge(&mut self, other: &Recorded) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms of the same bounds add");
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        if self.windows.len() < other.windows.len() {
            self.windows.resize_with(other.windows.len(), Vec::new);
        }
        for (mine, theirs) in self.windows.iter_mut().zip(&other.windows) {
            mine.extend_from_slice(theirs);
        }
    }

    /// Each of the first `n` windows' p99 in milliseconds (`None` for a
    /// window without an answered request) and throughput per second, for
    /// windows `window` long.
    pub fn per_window(&self, n: usize, window: Duration) -> (Vec<Option<f64>>, Vec<f64>) {
        let empty = Vec::new();
        (0..n)
            .map(|i| {
                let w = self.windows.get(i).unwrap_or(&empty);
                let rate = w.len() as f64 / window.as_secs_f64().max(1e-9);
                (p99_of(w), rate)
            })
            .unzip()
    }

    /// The latency at quantile `q` (0.5 for the median), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        ms(self.histogram.value_at_quantile(q))
    }

    /// The longest latency, in milliseconds.
    pub fn max_ms(&self) -> f64 {
        ms(self.histogram.max())
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1e3
}

/// The 99th percentile of `us` in milliseconds, by the nearest rank (as
/// the histogram reads it), or `None` for no values.
fn p99_of(us: &[u32]) -> Option<f64> {
    if us.is_empty() {
        return None;
    }
    let mut v = us.to_vec();
    v.sort_unstable();
    let rank = ((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1] as f64 / 1e3)
}

/// Writes a histogram to `path` in HdrHistogram's V2 format.
pub fn save(h: &Histogram<u64>, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).context(dir.display())?;
    }
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| Error::Unexpected {
            doing: format!("encoding {}", path.display()),
            detail: format!("{e:?}"),
        })?;
    std::fs::write(path, bytes).context(path.display())
}

/// Reads a histogram written by [`save`] (or any V2 histogram file).
pub fn load(path: &Path) -> Result<Histogram<u64>> {
    let bytes = std::fs::read(path).context(path.display())?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| Error::BadFixture {
            file: path.display().to_string(),
            reason: format!("not an HdrHistogram V2 file: {e:?}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_every_client_and_survive_a_round_trip() {
        let mut a = Recorded::default();
        let mut b = Recorded::default();
        for ms in 1..=50 {
            a.latency(0, Duration::from_millis(ms));
        }
        for ms in 51..=100 {
            b.latency((ms as usize - 51) / 25, Duration::from_millis(ms));
        }
        b.error("statement timeout".into());
        a.merge(&b);
        assert_eq!(a.histogram.len(), 100);
        assert_eq!(a.errors, 1);
        assert!(
            (a.quantile_ms(0.5) - 50.0).abs() < 0.1,
            "{}",
            a.quantile_ms(0.5)
        );
        assert!((a.max_ms() - 100.0).abs() < 0.1);
        // Window 0: 1..=50 and 51..=75 ms; window 1: 76..=100 ms; window 2: none.
        let (p99, rate) = a.per_window(3, Duration::from_millis(500));
        assert_eq!(p99, [Some(75.0), Some(100.0), None]);
        assert_eq!(rate, [150.0, 50.0, 0.0]);
        let dir = std::env::temp_dir().join(format!("hb-hdr-{}", std::process::id()));
        let file = dir.join("q.hdr");
        save(&a.histogram, &file).unwrap();
        let back = load(&file).unwrap();
        assert_eq!(back, a.histogram);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
