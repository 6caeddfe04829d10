//! Recording latencies under load: one HDR histogram per query (in
//! microseconds, three significant digits), with the error count, merged
//! across clients, summarised as percentiles, and saved in HdrHistogram's
//! V2 format so histograms of several runs can be added together.

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
}

impl Default for Recorded {
    fn default() -> Self {
        Recorded {
            histogram: Histogram::new_with_bounds(1, MAX_US, SIGFIG)
                .expect("valid histogram bounds"),
            errors: 0,
            first_error: None,
        }
    }
}

impl Recorded {
    /// Records one answered request.
    pub fn latency(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(MAX_US);
        self.histogram.saturating_record(us.clamp(1, MAX_US));
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

/// Writes a histogram to `path` in HdrHistogram's V2 format.
pub fn save(h: &Histogram<u64>, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).context(dir.display())?;
    }
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| Error::BadInput(format!("encoding {}: {e:?}", path.display())))?;
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
            a.latency(Duration::from_millis(ms));
        }
        for ms in 51..=100 {
            b.latency(Duration::from_millis(ms));
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
        let dir = std::env::temp_dir().join(format!("hb-hdr-{}", std::process::id()));
        let file = dir.join("q.hdr");
        save(&a.histogram, &file).unwrap();
        let back = load(&file).unwrap();
        assert_eq!(back, a.histogram);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
