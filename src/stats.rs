//! Uncertainty for every compared number: medians and ratios of medians
//! with 95% bootstrap intervals, and the rule that turns an interval into a
//! verdict. A difference whose interval reaches past neither bound is
//! "within noise" and is never headlined.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// Bootstrap resamples; 2,000 keep the 2.5% and 97.5% quantiles stable to
/// a few tenths of a percent.
const RESAMPLES: usize = 2_000;
/// Fixed, so the same samples always give the same interval.
const SEED: u64 = 0x6865_6c70_6465_736b;
/// A ratio counts as a change only when its interval's near bound is past
/// this factor (or under its inverse).
pub const SIGNIFICANT: f64 = 1.10;

/// A point estimate with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub point: f64,
    pub low: f64,
    pub high: f64,
}

/// What a ratio's interval says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole interval is above [`SIGNIFICANT`].
    Higher,
    /// The whole interval is below 1 / [`SIGNIFICANT`].
    Lower,
    /// Anything else: the interval holds 1.0, or a change too small to
    /// headline.
    WithinNoise,
}

impl Interval {
    /// The verdict of a ratio with this interval.
    pub fn verdict(&self) -> Verdict {
        if self.low > SIGNIFICANT {
            Verdict::Higher
        } else if self.high < 1.0 / SIGNIFICANT {
            Verdict::Lower
        } else {
            Verdict::WithinNoise
        }
    }

    /// True when the interval holds 1.0: no difference can be told.
    pub fn holds_one(&self) -> bool {
        self.low <= 1.0 && 1.0 <= self.high
    }
}

/// The median of `xs` (0 for none).
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median of `xs` with its 95% bootstrap interval.
pub fn median_interval(xs: &[f64]) -> Interval {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let stats: Vec<f64> = (0..RESAMPLES)
        .map(|_| median(&resample(xs, &mut rng)))
        .collect();
    interval(median(xs), stats)
}

/// `median(num) / median(den)` with its 95% bootstrap interval, each side
/// resampled on its own.
pub fn ratio_interval(num: &[f64], den: &[f64]) -> Interval {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let ratio = |a: f64, b: f64| a / b.max(1e-12);
    let stats: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            ratio(
                median(&resample(num, &mut rng)),
                median(&resample(den, &mut rng)),
            )
        })
        .collect();
    interval(ratio(median(num), median(den)), stats)
}

/// The geometric mean over `pairs` of `median(num) / median(den)`, with
/// its 95% bootstrap interval (every pair's sides resampled on their own).
pub fn geomean_ratio_interval(pairs: &[(&[f64], &[f64])]) -> Interval {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let geo = |ratios: Vec<f64>| {
        let n = ratios.len().max(1) as f64;
        (ratios.iter().map(|r| r.max(1e-12).ln()).sum::<f64>() / n).exp()
    };
    let point = geo(pairs
        .iter()
        .map(|(a, b)| median(a) / median(b).max(1e-12))
        .collect());
    let stats: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            geo(pairs
                .iter()
                .map(|(a, b)| {
                    median(&resample(a, &mut rng)) / median(&resample(b, &mut rng)).max(1e-12)
                })
                .collect())
        })
        .collect();
    interval(point, stats)
}

fn resample(xs: &[f64], rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
    if xs.is_empty() {
        return Vec::new();
    }
    (0..xs.len())
        .map(|_| xs[rng.gen_range(0..xs.len())])
        .collect()
}

/// The 2.5% and 97.5% quantiles of the bootstrap statistics.
fn interval(point: f64, mut stats: Vec<f64>) -> Interval {
    stats.sort_by(f64::total_cmp);
    let at = |q: f64| stats[((stats.len() - 1) as f64 * q).round() as usize];
    Interval {
        point,
        low: at(0.025),
        high: at(0.975),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_difference_is_significant_and_noise_is_not() {
        let fast: Vec<f64> = (0..30).map(|i| 1.0 + (i % 5) as f64 * 0.01).collect();
        let slow: Vec<f64> = fast.iter().map(|x| x * 3.0).collect();
        let r = ratio_interval(&slow, &fast);
        assert!((r.point - 3.0).abs() < 1e-9);
        assert!(r.low > 2.8 && r.high < 3.2, "{r:?}");
        assert_eq!(r.verdict(), Verdict::Higher);
        assert_eq!(ratio_interval(&fast, &slow).verdict(), Verdict::Lower);

        let noisy: Vec<f64> = (0..30)
            .map(|i| 1.0 + ((i * 7) % 11) as f64 * 0.05)
            .collect();
        let other: Vec<f64> = (0..30)
            .map(|i| 1.0 + ((i * 5) % 11) as f64 * 0.05)
            .collect();
        let n = ratio_interval(&noisy, &other);
        assert!(n.holds_one(), "{n:?}");
        assert_eq!(n.verdict(), Verdict::WithinNoise);
    }

    #[test]
    fn a_small_but_real_change_is_not_headlined() {
        let a: Vec<f64> = (0..40).map(|i| 1.0 + (i % 4) as f64 * 0.001).collect();
        let b: Vec<f64> = a.iter().map(|x| x * 1.05).collect();
        let r = ratio_interval(&b, &a);
        assert!(!r.holds_one(), "{r:?}");
        assert_eq!(r.verdict(), Verdict::WithinNoise, "5% is below the 10% bar");
    }

    #[test]
    fn medians_and_their_intervals() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let i = median_interval(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(i.point, 5.0);
        assert!(i.low <= 5.0 && i.high >= 5.0 && i.low >= 1.0 && i.high <= 9.0);
        assert_eq!(median_interval(&[2.0, 2.0, 2.0]).low, 2.0);
    }
}
