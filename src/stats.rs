//! Uncertainty for every compared number: medians and ratios of medians
//! with 95% bootstrap intervals, and the one rule that turns an interval
//! into a verdict ([`SIGNIFICANT`], through [`Interval::verdict`]). A
//! difference whose interval reaches past neither bound is "within noise"
//! and is never headlined.
//!
//! The intervals are percentile-bootstrap intervals. Where the bootstrap
//! distribution can be computed, it is, rather than resampled: a median's
//! and a ratio of two medians' (`exact`), and a ratio over ten or fewer
//! paired rounds (`rounds`). Those intervals have no Monte Carlo error,
//! so the digits the report prints do not depend on a seed. Resampling (a
//! fixed seed, [`RESAMPLES`] draws) is left for the geometric mean over
//! queries and for more than ten rounds.

mod exact;
mod rounds;

use exact::Distribution;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rounds::Rounds;
use serde::{Deserialize, Serialize};

/// The one noise threshold of the tool. A ratio counts as a change only
/// when its 95% interval's near bound is past this factor (or under its
/// inverse): every verdict (a query's speed-up, a change against a
/// baseline, a leave-one-out cell, `load`'s verdicts) goes through
/// [`Interval::verdict`].
pub const SIGNIFICANT: f64 = 1.10;

/// Fewest values on either side of a [`ratio_interval`] (`load`'s time
/// windows) for its 95% interval to be one. Simulated with no true change
/// (both sides drawn from one skewed distribution, 4,000 trials per size;
/// exponential, lognormal σ 0.5 and σ 1.5), the interval excluded 1 in
/// 10–13% of trials with 3 values a side, 7–9% with 4, and 3–5% with 5 or
/// more (4.1–4.5% with 5 against 30, the worst case of unequal sides): the
/// percentile bootstrap of a median is too narrow until then. For an odd
/// count the rate is the same for every continuous distribution (it
/// depends only on how the values rank). The unit test
/// `fewer_values_than_the_minimum_give_intervals_that_miss` checks it.
pub const MIN_PER_SIDE: usize = 5;

/// Resamples where the bootstrap is resampled rather than computed (the
/// geometric mean; more than ten paired rounds). On realistic samples (the
/// test `resampled_ends_are_stable_to_the_printed_digits`) ten seeds give
/// the same printed ends with 10,000, where 2,000 moved the last digit.
/// The geometric mean of nine queries' speed-ups costs about 13 ms.
pub const RESAMPLES: usize = 10_000;
/// Fixed, so the same samples always give the same interval.
pub(crate) const SEED: u64 = 0x6865_6c70_6465_736b;
/// The draws every public interval uses.
const DRAWS: Draws = Draws {
    seed: SEED,
    resamples: RESAMPLES,
};
/// The quantiles a 95% interval's ends are read at.
const LOW: f64 = 0.025;
const HIGH: f64 = 0.975;

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
    /// An interval of no width: a point measured without one (older runs),
    /// judged by the same rule as if its interval were that point.
    pub fn exact(point: f64) -> Interval {
        Interval {
            point,
            low: point,
            high: point,
        }
    }

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
    median_of_sorted(&sorted(xs))
}

/// The median of `xs` with its 95% bootstrap interval, from the exact
/// bootstrap distribution ([`exact`]): no resampling, no Monte Carlo error.
pub fn median_interval(xs: &[f64]) -> Interval {
    let xs = sorted(xs);
    let d = Distribution::of_median(&xs);
    Interval {
        point: median_of_sorted(&xs),
        low: d.quantile(LOW),
        high: d.quantile(HIGH),
    }
}

/// `median(num) / median(den)` with its 95% bootstrap interval, each side
/// resampled on its own, from the exact bootstrap distributions of the two
/// medians (`exact`): no resampling, no Monte Carlo error.
pub fn ratio_interval(num: &[f64], den: &[f64]) -> Interval {
    let (num, den) = (sorted(num), sorted(den));
    let (a, b) = (Distribution::of_median(&num), Distribution::of_median(&den));
    Interval {
        point: ratio(median_of_sorted(&num), median_of_sorted(&den)),
        low: exact::ratio_quantile(&a, &b, LOW),
        high: exact::ratio_quantile(&a, &b, HIGH),
    }
}

/// `median(num) / median(den)` over samples taken in paired rounds:
/// `num[k]` and `den[k]` were measured in round `k`, one right after the
/// other, on the same parameter rows. The point is the ratio of the medians
/// of all samples; the 95% interval resamples whole rounds, each with both
/// its sides, so what a round shares (a busy moment of the machine, its
/// parameter rows) moves both sides of the ratio together and cancels.
pub fn paired_ratio_interval(num: &[Vec<f64>], den: &[Vec<f64>]) -> Interval {
    paired_ratio_interval_with(num, den, DRAWS)
}

fn paired_ratio_interval_with(num: &[Vec<f64>], den: &[Vec<f64>], d: Draws) -> Interval {
    let n = num.len().min(den.len());
    let (num, den) = (Rounds::new(&num[..n]), Rounds::new(&den[..n]));
    let point = ratio(num.median(), den.median());
    match rounds::enumerated(&num, &den, n) {
        Some(dist) => Interval {
            point,
            low: dist.quantile(LOW),
            high: dist.quantile(HIGH),
        },
        None => interval(point, rounds::resampled(&num, &den, n, d)),
    }
}

/// The geometric mean over `pairs` of `median(num) / median(den)`, with
/// its 95% bootstrap interval (every pair's sides resampled on their own).
pub fn geomean_ratio_interval(pairs: &[(&[f64], &[f64])]) -> Interval {
    geomean_with(pairs, DRAWS)
}

fn geomean_with(pairs: &[(&[f64], &[f64])], d: Draws) -> Interval {
    let pairs: Vec<(Vec<f64>, Vec<f64>)> =
        pairs.iter().map(|(a, b)| (sorted(a), sorted(b))).collect();
    let point = geometric_mean(
        pairs
            .iter()
            .map(|(a, b)| ratio(median_of_sorted(a), median_of_sorted(b))),
    );
    // Each side's resampled median drawn from its exact distribution: the
    // same law as resampling the side, at a binary search a draw.
    let laws: Vec<(Distribution, Distribution)> = pairs
        .iter()
        .map(|(a, b)| (Distribution::of_median(a), Distribution::of_median(b)))
        .collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(d.seed);
    let stats = (0..d.resamples)
        .map(|_| {
            geometric_mean(
                laws.iter()
                    .map(|(a, b)| ratio(a.draw(&mut rng), b.draw(&mut rng))),
            )
        })
        .collect();
    interval(point, stats)
}

fn geometric_mean(ratios: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for r in ratios {
        sum += r.max(1e-12).ln();
        n += 1;
    }
    (sum / n.max(1) as f64).exp()
}

fn ratio(a: f64, b: f64) -> f64 {
    a / b.max(1e-12)
}

fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

fn median_of_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// How many resamples, drawn from which seed.
#[derive(Debug, Clone, Copy)]
struct Draws {
    seed: u64,
    resamples: usize,
}

/// The median of `sorted` (ascending) with value `i` counted `weight(i)`
/// times, `total` times in all: the mean of the values at the two middle
/// ranks (one rank when `total` is odd).
fn weighted_median(sorted: &[f64], weight: impl Fn(usize) -> u32, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let (lo, hi) = ((total - 1) / 2, total / 2);
    let mut seen = 0u64;
    let mut low = None;
    for (i, x) in sorted.iter().enumerate() {
        seen += u64::from(weight(i));
        if low.is_none() && seen > lo {
            low = Some(*x);
        }
        if seen > hi {
            return (low.unwrap_or(*x) + x) / 2.0;
        }
    }
    0.0
}

/// The 2.5% and 97.5% quantiles of the bootstrap statistics.
fn interval(point: f64, mut stats: Vec<f64>) -> Interval {
    stats.sort_by(f64::total_cmp);
    let at = |q: f64| stats[((stats.len() - 1) as f64 * q).round() as usize];
    Interval {
        point,
        low: at(LOW),
        high: at(HIGH),
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
        assert_eq!(median(&[]), 0.0);
        let i = median_interval(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(i.point, 5.0);
        assert!(i.low <= 5.0 && i.high >= 5.0 && i.low >= 1.0 && i.high <= 9.0);
        assert_eq!(median_interval(&[2.0, 2.0, 2.0]).low, 2.0);
    }

    #[test]
    fn a_weighted_median_counts_each_value_its_weight() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(weighted_median(&v, |_| 1, 4), 2.5);
        // 1, 1, 1, 4: the middle ranks are both 1.
        assert_eq!(weighted_median(&v, |i| [3, 0, 0, 1][i], 4), 1.0);
        // 2, 3, 3: odd.
        assert_eq!(weighted_median(&v, |i| [0, 1, 2, 0][i], 3), 3.0);
        // 1, 4: even, the two middle ranks differ.
        assert_eq!(weighted_median(&v, |i| [1, 0, 0, 1][i], 2), 2.5);
    }

    /// Criterion-like samples of a query (20, with 5% noise) and skewed
    /// ones (lognormal, σ 0.3, as on a busy machine), for `speedup`.
    fn samples(seed: u64, speedup: f64, skewed: bool) -> (Vec<f64>, Vec<f64>) {
        use rand_distr::{Distribution as _, LogNormal, Normal};
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let (noise, skew) = (
            Normal::new(1.0, 0.05).unwrap(),
            LogNormal::new(0.0, 0.3).unwrap(),
        );
        let mut draw = |x: f64| match skewed {
            true => x * skew.sample(&mut rng),
            false => x * noise.sample(&mut rng),
        };
        let without = (0..20).map(|_| draw(speedup)).collect();
        let with = (0..20).map(|_| draw(1.0)).collect();
        (without, with)
    }

    /// The ratio interval by resampling, as it was computed before.
    fn resampled_ratio(num: &[f64], den: &[f64], seed: u64, resamples: usize) -> Interval {
        use rand::Rng;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut resample = |xs: &[f64]| {
            let r: Vec<f64> = (0..xs.len())
                .map(|_| xs[rng.gen_range(0..xs.len())])
                .collect();
            median(&r)
        };
        let stats = (0..resamples)
            .map(|_| ratio(resample(num), resample(den)))
            .collect();
        interval(ratio(median(num), median(den)), stats)
    }

    #[test]
    fn computed_ends_are_the_limit_of_resampling() {
        for (seed, speedup, skewed) in [(1, 2.44, false), (2, 0.95, false), (3, 2.44, true)] {
            let (a, b) = samples(seed, speedup, skewed);
            let exact = ratio_interval(&a, &b);
            let many = resampled_ratio(&a, &b, 7, 40_000);
            assert_eq!(exact.point, many.point);
            for (e, m) in [(exact.low, many.low), (exact.high, many.high)] {
                assert!((e / m - 1.0).abs() < 0.01, "{exact:?} against {many:?}");
            }
        }
        let rounds = |shift: f64| -> Vec<Vec<f64>> {
            (0..8)
                .map(|k| {
                    (0..3)
                        .map(|i| shift * (1.0 + ((k * 7 + i * 3) % 11) as f64 * 0.03))
                        .collect()
                })
                .collect()
        };
        let (num, den) = (rounds(1.3), rounds(1.0));
        let exact = paired_ratio_interval(&num, &den);
        let (n, d) = (Rounds::new(&num), Rounds::new(&den));
        let many = interval(
            exact.point,
            rounds::resampled(
                &n,
                &d,
                8,
                Draws {
                    seed: 7,
                    resamples: 40_000,
                },
            ),
        );
        for (e, m) in [(exact.low, many.low), (exact.high, many.high)] {
            assert!((e / m - 1.0).abs() < 0.01, "{exact:?} against {many:?}");
        }
    }

    #[test]
    fn resampled_ends_are_stable_to_the_printed_digits() {
        // Nine queries, as the catalogue has: some unchanged, some faster
        // by factors up to a thousand; every third one skewed.
        let speedups = [1.0, 1.02, 0.97, 2.4, 4.8, 98.0, 121.0, 1072.0, 304.0];
        let sides: Vec<(Vec<f64>, Vec<f64>)> = speedups
            .iter()
            .enumerate()
            .map(|(k, s)| samples(10 + k as u64, *s, k % 3 == 0))
            .collect();
        let pairs: Vec<(&[f64], &[f64])> = sides.iter().map(|(a, b)| (&a[..], &b[..])).collect();
        let printed = |resamples: usize| {
            let mut seen: Vec<String> = (0..10)
                .map(|seed| {
                    let i = geomean_with(&pairs, Draws { seed, resamples });
                    crate::format::factor_range(i.point, i.low, i.high)
                })
                .collect();
            seen.sort();
            seen.dedup();
            seen
        };
        assert_eq!(printed(RESAMPLES).len(), 1, "{:?}", printed(RESAMPLES));
        assert!(printed(2_000).len() > 1, "2,000 resamples were not enough");
    }

    #[test]
    fn fewer_values_than_the_minimum_give_intervals_that_miss() {
        use rand_distr::{Distribution as _, Exp};
        // No true change: both sides from one skewed distribution, the
        // other side with 30 values, as a rare query beside a common one.
        let missed = |n: usize| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(n as u64);
            let exp = Exp::new(1.0).unwrap();
            let trials = 1_500;
            let misses = (0..trials)
                .filter(|_| {
                    let a: Vec<f64> = (0..n).map(|_| exp.sample(&mut rng)).collect();
                    let b: Vec<f64> = (0..29).map(|_| exp.sample(&mut rng)).collect();
                    !ratio_interval(&a, &b).holds_one()
                })
                .count();
            misses as f64 / trials as f64
        };
        let (below, at) = (missed(MIN_PER_SIDE - 1), missed(MIN_PER_SIDE));
        assert!(below > 0.065, "{below}: the minimum could be lower");
        assert!(at <= 0.055, "{at}: the minimum is too low");
        assert!(missed(3) > 0.09, "three windows miss twice as often");
    }
}
