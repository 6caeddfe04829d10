//! The bootstrap of a ratio of medians over paired rounds: whole rounds are
//! resampled, each with both of its sides. With few rounds every distinct
//! resample is enumerated with its multinomial probability, so the
//! interval is exact (no Monte Carlo error); with many, resampled.

use rand::Rng;

use super::exact::Distribution;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{median_of_sorted, ratio, Draws};

/// Up to this many distinct resamples of the rounds (10 rounds: 92,378)
/// the bootstrap distribution is enumerated.
const MAX_ENUMERATED: u64 = 100_000;

/// One side's samples over rounds, sorted together, each remembering its
/// round, so a resample of rounds is a weighting of the sorted samples.
pub(super) struct Rounds {
    values: Vec<f64>,
    round: Vec<usize>,
    per_round: Vec<u64>,
}

impl Rounds {
    pub(super) fn new(rounds: &[Vec<f64>]) -> Rounds {
        let mut all: Vec<(f64, usize)> = rounds
            .iter()
            .enumerate()
            .flat_map(|(k, xs)| xs.iter().map(move |x| (*x, k)))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        Rounds {
            values: all.iter().map(|a| a.0).collect(),
            round: all.iter().map(|a| a.1).collect(),
            per_round: rounds.iter().map(|r| r.len() as u64).collect(),
        }
    }

    pub(super) fn median(&self) -> f64 {
        median_of_sorted(&self.values)
    }

    /// The median of the samples of the rounds drawn, round `k` counted
    /// `drawn[k]` times.
    fn median_drawn(&self, drawn: &[u32]) -> f64 {
        let total = drawn
            .iter()
            .zip(&self.per_round)
            .map(|(d, n)| u64::from(*d) * n)
            .sum();
        super::weighted_median(&self.values, |i| drawn[self.round[i]], total)
    }
}

/// The bootstrap distribution of `median(num) / median(den)` when rounds
/// are resampled: enumerated when the rounds are few, else `None`.
pub(super) fn enumerated(num: &Rounds, den: &Rounds, rounds: usize) -> Option<Distribution> {
    if rounds == 0 || multisets(rounds) > MAX_ENUMERATED {
        return None;
    }
    let ln_factorial: Vec<f64> = (0..=rounds)
        .scan(0.0, |s, k| {
            if k > 0 {
                *s += (k as f64).ln();
            }
            Some(*s)
        })
        .collect();
    let mut atoms = Vec::new();
    let mut drawn = vec![0u32; rounds];
    // Every way to draw `rounds` rounds with replacement, as counts per
    // round; its probability is multinomial: r! / Π cₖ! / rʳ.
    let mut visit = |drawn: &[u32]| {
        let ln_p = ln_factorial[rounds]
            - drawn.iter().map(|c| ln_factorial[*c as usize]).sum::<f64>()
            - rounds as f64 * (rounds as f64).ln();
        atoms.push((
            ratio(num.median_drawn(drawn), den.median_drawn(drawn)),
            ln_p.exp(),
        ));
    };
    compositions(&mut drawn, 0, rounds as u32, &mut visit);
    Some(Distribution::from_atoms(atoms))
}

/// Calls `visit` with every `drawn` whose entries from `at` on sum to `left`.
fn compositions(drawn: &mut [u32], at: usize, left: u32, visit: &mut dyn FnMut(&[u32])) {
    if at == drawn.len() - 1 {
        drawn[at] = left;
        visit(drawn);
        return;
    }
    for c in 0..=left {
        drawn[at] = c;
        compositions(drawn, at + 1, left - c, visit);
    }
}

/// Distinct resamples of `r` rounds: C(2r − 1, r).
fn multisets(r: usize) -> u64 {
    let (n, k) = (2 * r as u64 - 1, r as u64);
    let mut c: u64 = 1;
    for i in 0..k {
        c = c.saturating_mul(n - i) / (i + 1);
    }
    c
}

/// The same distribution's ratios, resampled `d.resamples` times.
pub(super) fn resampled(num: &Rounds, den: &Rounds, rounds: usize, d: Draws) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(d.seed);
    let mut drawn = vec![0u32; rounds];
    (0..d.resamples)
        .map(|_| {
            drawn.iter_mut().for_each(|c| *c = 0);
            for _ in 0..rounds {
                drawn[rng.gen_range(0..rounds)] += 1;
            }
            ratio(num.median_drawn(&drawn), den.median_drawn(&drawn))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resample_of_the_rounds_is_counted_once() {
        assert_eq!(multisets(1), 1);
        assert_eq!(multisets(3), 10);
        assert_eq!(multisets(10), 92_378);
        let mut n = 0;
        compositions(&mut [0; 4], 0, 4, &mut |_| n += 1);
        assert_eq!(n, multisets(4));
        let num = Rounds::new(&[vec![2.0], vec![4.0], vec![8.0]]);
        let den = Rounds::new(&[vec![1.0], vec![1.0], vec![1.0]]);
        let d = enumerated(&num, &den, 3).unwrap();
        let total: f64 = d.atoms().map(|a| a.1).sum();
        assert!((total - 1.0).abs() < 1e-12);
        // The median of three draws of {2, 4, 8} is 2 when two or three
        // draws are the first round: 7/27.
        let (v, p) = d.atoms().next().unwrap();
        assert_eq!(v, 2.0);
        assert!((p - 7.0 / 27.0).abs() < 1e-12, "{p}");
    }
}
