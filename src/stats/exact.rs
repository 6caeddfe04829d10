//! The bootstrap distribution of a sample median, computed exactly rather
//! than resampled: the limit that resampling approaches as the resamples
//! grow without bound (the "ideal bootstrap"), with no Monte Carlo error.
//!
//! Resampling `n` values with replacement from the sorted sample `x₁ ≤ … ≤
//! xₙ`, the number of draws at or below `xᵢ` is binomial, `Bin(n, i/n)`, so
//! the resample's `k`-th smallest value is at or below `xᵢ` exactly when
//! that count reaches `k` (Maritz and Jarrett, 1978). An odd `n`'s median is
//! one order statistic; an even `n`'s is the mean of the two middle ones,
//! whose joint law follows from the same counts: given that the lower one
//! is `xᵢ` and exactly `n/2` draws are at or below `xᵢ`, the other `n/2`
//! draws are uniform above `i`, and the upper one is their minimum.
//!
//! A ratio of two medians resampled on their own has as law the ratio of
//! two independent such distributions; its quantiles are found by
//! bisection on its distribution function.

/// Atoms below this probability are dropped: all of them together weigh
/// less than `n²` times it, far below the 2.5% a quantile is read at.
const NEGLIGIBLE: f64 = 1e-18;

/// A discrete distribution: values ascending, each with the probability of
/// it and every value below (the last is 1 up to rounding).
#[derive(Debug, Clone)]
pub(super) struct Distribution {
    values: Vec<f64>,
    cumulative: Vec<f64>,
}

impl Distribution {
    /// The bootstrap distribution of the median of `sorted` (ascending).
    pub(super) fn of_median(sorted: &[f64]) -> Distribution {
        let n = sorted.len();
        if n == 0 {
            return Distribution::from_atoms(vec![(0.0, 1.0)]);
        }
        let b = Binomial::new(n);
        let x = |i: usize| sorted[i - 1];
        let mut atoms = Vec::new();
        if n % 2 == 1 {
            let tail = b.tails(n.div_ceil(2));
            for i in 1..=n {
                atoms.push((x(i), tail[i] - tail[i - 1]));
            }
        } else {
            let m = n / 2;
            let rest = (n - m) as i32;
            let tail = b.tails(m);
            for i in 1..=n {
                // The lower middle value is xᵢ, and exactly m draws are at
                // or below it (so the upper one is above it).
                let split = b.pmf(i, m) * (1.0 - ((i - 1) as f64 / i as f64).powi(m as i32));
                let lower_here = tail[i] - tail[i - 1];
                atoms.push((x(i), (lower_here - split).max(0.0)));
                if split < NEGLIGIBLE {
                    continue;
                }
                // The upper one: the smallest of n − m draws uniform on i+1..n.
                let above = (n - i) as f64;
                for j in i + 1..=n {
                    let q = ((n - j + 1) as f64 / above).powi(rest)
                        - ((n - j) as f64 / above).powi(rest);
                    atoms.push(((x(i) + x(j)) / 2.0, split * q));
                    if q < NEGLIGIBLE {
                        break;
                    }
                }
            }
        }
        Distribution::from_atoms(atoms)
    }

    pub(super) fn from_atoms(mut atoms: Vec<(f64, f64)>) -> Distribution {
        atoms.retain(|a| a.1 >= NEGLIGIBLE);
        atoms.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut values: Vec<f64> = Vec::with_capacity(atoms.len());
        let mut cumulative: Vec<f64> = Vec::with_capacity(atoms.len());
        let mut total = 0.0;
        for (v, p) in atoms {
            total += p;
            if values.last() == Some(&v) {
                *cumulative.last_mut().expect("a value has its sum") = total;
            } else {
                values.push(v);
                cumulative.push(total);
            }
        }
        Distribution { values, cumulative }
    }

    /// P(X ≤ x).
    fn cdf(&self, x: f64) -> f64 {
        match self.values.partition_point(|v| *v <= x) {
            0 => 0.0,
            k => self.cumulative[k - 1],
        }
    }

    /// The smallest value whose distribution function reaches `q`.
    pub(super) fn quantile(&self, q: f64) -> f64 {
        let k = self.cumulative.partition_point(|c| *c < q);
        self.values[k.min(self.values.len() - 1)]
    }

    /// One draw from the distribution (by its inverse distribution
    /// function).
    pub(super) fn draw(&self, rng: &mut impl rand::Rng) -> f64 {
        let u: f64 = rng.gen::<f64>() * self.cumulative[self.cumulative.len() - 1];
        let k = self.cumulative.partition_point(|c| *c <= u);
        self.values[k.min(self.values.len() - 1)]
    }

    /// The probability of each value (the steps of the distribution
    /// function), with the value.
    #[cfg(test)]
    pub(super) fn atoms(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let before = std::iter::once(0.0).chain(self.cumulative.iter().copied());
        self.values
            .iter()
            .zip(self.cumulative.iter().zip(before))
            .map(|(v, (c, b))| (*v, c - b))
    }
}

/// The `q`-quantile of `A / max(B, 1e-12)` for independent `A` and `B`:
/// the smallest `r` with `P(A / B ≤ r) ≥ q`, by bisection (the answer is
/// one of the finitely many ratios of their values, found to a relative
/// 1e-13).
pub(super) fn ratio_quantile(a: &Distribution, b: &Distribution, q: f64) -> f64 {
    let den: Vec<(f64, f64)> = {
        let before = std::iter::once(0.0).chain(b.cumulative.iter().copied());
        b.values
            .iter()
            .zip(b.cumulative.iter().zip(before))
            .map(|(v, (c, p))| (v.max(1e-12), c - p))
            .collect()
    };
    // P(A / B ≤ r) = Σ P(B = b) P(A ≤ r b).
    let cdf = |r: f64| den.iter().map(|(v, p)| p * a.cdf(r * v)).sum::<f64>();
    let lowest = a.values[0] / den.last().map_or(1.0, |d| d.0);
    let highest = a.values[a.values.len() - 1] / den[0].0;
    if cdf(lowest) >= q {
        return lowest;
    }
    let (mut lo, mut hi) = (lowest, highest);
    for _ in 0..400 {
        if hi - lo <= 1e-13 * hi.abs() {
            break;
        }
        let mid = lo + (hi - lo) / 2.0;
        if cdf(mid) >= q {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// `Bin(n, i/n)` for every `i`, from a table of log-factorials.
struct Binomial {
    n: usize,
    ln_factorial: Vec<f64>,
}

impl Binomial {
    fn new(n: usize) -> Binomial {
        let mut ln_factorial = vec![0.0; n + 1];
        for k in 1..=n {
            ln_factorial[k] = ln_factorial[k - 1] + (k as f64).ln();
        }
        Binomial { n, ln_factorial }
    }

    /// P(Bin(n, i/n) = k).
    fn pmf(&self, i: usize, k: usize) -> f64 {
        let n = self.n;
        match (i, k) {
            (0, 0) => 1.0,
            (0, _) => 0.0,
            _ if i == n => f64::from(u8::from(k == n)),
            _ => {
                let p = i as f64 / n as f64;
                (self.ln_factorial[n] - self.ln_factorial[k] - self.ln_factorial[n - k]
                    + k as f64 * p.ln()
                    + (n - k) as f64 * (-p).ln_1p())
                .exp()
            }
        }
    }

    /// P(Bin(n, i/n) ≥ k), summed from `k` away from the mode (so the terms
    /// only shrink, each from the last, and the sum stops once they are
    /// negligible).
    fn tail(&self, i: usize, k: usize) -> f64 {
        let n = self.n;
        if k == 0 || i == n {
            return 1.0;
        }
        if i == 0 {
            return 0.0;
        }
        let odds = i as f64 / (n - i) as f64;
        let mut term = self.pmf(i, k.min(n));
        if k > (n + 1) * i / n {
            // Upward from k: P(j + 1) = P(j) (n − j) / (j + 1) · p / (1 − p).
            let mut sum = term;
            for j in k..n {
                term *= (n - j) as f64 / (j + 1) as f64 * odds;
                sum += term;
                if term < NEGLIGIBLE * sum {
                    break;
                }
            }
            sum
        } else {
            // Downward from k − 1, and the complement.
            term *= k as f64 / (n - k + 1) as f64 / odds;
            let mut sum = term;
            for j in (1..k).rev() {
                term *= j as f64 / (n - j + 1) as f64 / odds;
                sum += term;
                if term < NEGLIGIBLE * sum {
                    break;
                }
            }
            1.0 - sum
        }
    }

    /// [`Binomial::tail`] at `k` for every `i` from 0 to n.
    fn tails(&self, k: usize) -> Vec<f64> {
        (0..=self.n).map(|i| self.tail(i, k)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every resample of a small sample, enumerated: the distribution the
    /// closed form must give.
    fn enumerated(x: &[f64]) -> Vec<(f64, f64)> {
        let n = x.len();
        let total = n.pow(n as u32);
        let mut atoms = Vec::new();
        for code in 0..total {
            let mut c = code;
            let mut r: Vec<f64> = (0..n)
                .map(|_| {
                    let i = c % n;
                    c /= n;
                    x[i]
                })
                .collect();
            r.sort_by(f64::total_cmp);
            atoms.push((super::super::median(&r), 1.0 / total as f64));
        }
        Distribution::from_atoms(atoms).atoms().collect()
    }

    #[test]
    fn the_closed_form_is_every_resample_counted() {
        for x in [
            vec![1.0, 2.0, 3.0],
            vec![1.0, 2.0, 3.0, 4.0],
            vec![1.0, 1.5, 2.0, 7.0, 9.0],
            vec![0.5, 1.0, 2.0, 3.0, 5.0, 8.0],
            vec![1.0, 1.0, 2.0, 2.0, 2.0, 4.0],
        ] {
            let exact: Vec<(f64, f64)> = Distribution::of_median(&x).atoms().collect();
            let counted = enumerated(&x);
            assert_eq!(
                exact.len(),
                counted.len(),
                "{x:?}: {exact:?} vs {counted:?}"
            );
            for ((v, p), (w, q)) in exact.iter().zip(&counted) {
                assert!(
                    v == w && (p - q).abs() < 1e-12,
                    "{x:?}: {exact:?} vs {counted:?}"
                );
            }
        }
    }

    #[test]
    fn a_ratio_quantile_is_a_ratio_of_values() {
        let a = Distribution::from_atoms(vec![(2.0, 0.5), (4.0, 0.5)]);
        let b = Distribution::from_atoms(vec![(1.0, 0.5), (2.0, 0.5)]);
        // A/B: 1 (¼), 2 (½), 4 (¼).
        assert!((ratio_quantile(&a, &b, 0.2) - 1.0).abs() < 1e-12);
        assert!((ratio_quantile(&a, &b, 0.5) - 2.0).abs() < 1e-12);
        assert!((ratio_quantile(&a, &b, 0.8) - 4.0).abs() < 1e-12);
        assert_eq!(a.quantile(0.5), 2.0);
        assert_eq!(a.quantile(0.51), 4.0);
    }
}
