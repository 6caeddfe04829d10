//! The verdict of a before/after comparison, recomputed from both runs'
//! samples: criterion keeps its change estimates on disk but not its
//! verdict. The ratio of medians (after over before) is bootstrapped with a
//! fixed seed, so the same samples always give the same interval.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::results::Verdict;

/// Resamples per comparison: enough for a stable 95% interval; criterion's
/// own 100k would cost ten times more for no visible difference.
pub const RESAMPLES: usize = 10_000;

/// Fixed seed: a report is reproducible from its samples.
pub const SEED: u64 = 0x5eed_0012;

/// A ratio (after / before) with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub point: f64,
    pub low: f64,
    pub high: f64,
}

/// Bootstraps the ratio of the medians of `after` over `before` (each a
/// list of per-iteration times). `None` when either is empty.
pub fn ratio_of_medians(before: &[f64], after: &[f64], resamples: usize) -> Option<Ratio> {
    if before.is_empty() || after.is_empty() || resamples == 0 {
        return None;
    }
    let point = median(&mut after.to_vec()) / median(&mut before.to_vec()).max(f64::MIN_POSITIVE);
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let (mut b, mut a) = (vec![0.0; before.len()], vec![0.0; after.len()]);
    let mut ratios: Vec<f64> = (0..resamples)
        .map(|_| {
            resample(&mut rng, before, &mut b);
            resample(&mut rng, after, &mut a);
            median(&mut a) / median(&mut b).max(f64::MIN_POSITIVE)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize];
    Some(Ratio {
        point,
        low: at(0.025),
        high: at(0.975),
    })
}

/// Improved when the whole interval is below `1 - noise`, regressed when it
/// is above `1 + noise`, else within noise (criterion's rule, applied to
/// the ratio of medians).
pub fn verdict(r: &Ratio, noise: f64) -> Verdict {
    if r.high < 1.0 - noise {
        Verdict::Improved
    } else if r.low > 1.0 + noise {
        Verdict::Regressed
    } else {
        Verdict::WithinNoise
    }
}

fn resample(rng: &mut ChaCha8Rng, from: &[f64], into: &mut [f64]) {
    for x in into.iter_mut() {
        *x = from[rng.gen_range(0..from.len())];
    }
}

fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    v.sort_unstable_by(f64::total_cmp);
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 samples around `centre` with ±2% spread, like a quiet query.
    fn samples(centre: f64) -> Vec<f64> {
        (0..20)
            .map(|i| centre * (1.0 + ((i * 7 % 20) as f64 - 9.5) / 475.0))
            .collect()
    }

    #[test]
    fn twice_as_fast_is_improved_with_the_ratio_inside_its_interval() {
        let r = ratio_of_medians(&samples(10.0), &samples(5.0), RESAMPLES).unwrap();
        assert!((r.point - 0.5).abs() < 1e-9, "{r:?}");
        assert!(r.low <= r.point && r.point <= r.high, "{r:?}");
        assert!(r.high < 0.52, "{r:?}");
        assert_eq!(verdict(&r, 0.01), Verdict::Improved);
    }

    #[test]
    fn slower_is_regressed_and_same_is_within_noise() {
        let r = ratio_of_medians(&samples(10.0), &samples(13.0), RESAMPLES).unwrap();
        assert_eq!(verdict(&r, 0.01), Verdict::Regressed);
        let r = ratio_of_medians(&samples(10.0), &samples(10.0), RESAMPLES).unwrap();
        assert!((r.point - 1.0).abs() < 1e-9);
        assert_eq!(verdict(&r, 0.01), Verdict::WithinNoise);
    }

    #[test]
    fn overlapping_noisy_samples_are_within_noise() {
        let before = [10.0, 30.0, 11.0, 29.0, 12.0, 28.0, 10.5, 31.0];
        let after = [11.0, 27.0, 10.0, 30.0, 12.5, 29.5, 9.5, 28.0];
        let r = ratio_of_medians(&before, &after, RESAMPLES).unwrap();
        assert!(r.low < 1.0 && r.high > 1.0, "{r:?}");
        assert_eq!(verdict(&r, 0.01), Verdict::WithinNoise);
    }

    #[test]
    fn fixed_seed_gives_the_same_interval_and_empty_gives_none() {
        let (b, a) = (samples(3.0), samples(3.3));
        assert_eq!(
            ratio_of_medians(&b, &a, 2_000),
            ratio_of_medians(&b, &a, 2_000)
        );
        assert_eq!(ratio_of_medians(&[], &a, 100), None);
    }
}
