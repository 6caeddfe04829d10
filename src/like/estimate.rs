//! ANALYZE's estimate of a column's distinct values and its inverse.
//! `analyze.c` estimates them from its sample with Haas and Stokes' Duj1,
//! `n·d / (n − f1 + f1·n/N)` (`n` sampled non-null rows, `N` non-null rows,
//! `d` distinct values in the sample, `f1` of them seen once). For a column
//! with a long tail of rare values the estimate falls far below the truth,
//! and the source's `n_distinct` is that estimate. Generating exactly that
//! many values, each with many rows, gives the target's `ANALYZE` fewer
//! singletons and a lower estimate still; so for a column whose
//! `n_distinct` is a count, the generator makes as many tail values as it
//! takes for the target's expected estimate to be the source's.

/// Rows `ANALYZE` samples at the default statistics target (300 × 100).
pub const SAMPLE_ROWS: f64 = 30_000.0;

/// A column's shape for the estimate: `rows` in the table, the share of
/// them not NULL, `m` most common values holding `in_mcv` of the non-null
/// rows (each seen in any sample), the rest spread evenly over tail values.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub rows: f64,
    pub nonnull: f64,
    pub m: f64,
    pub in_mcv: f64,
}

impl Shape {
    /// The estimate `ANALYZE` is expected to make with `k` tail values.
    pub fn estimate(&self, k: f64) -> f64 {
        let big_n = self.rows * self.nonnull;
        let n = SAMPLE_ROWS.min(self.rows) * self.nonnull;
        if n >= big_n - 0.5 {
            // The whole table is the sample: the count is exact.
            return self.m + k;
        }
        let lambda = n * (1.0 - self.in_mcv) / k.max(1e-9);
        let seen = k * (1.0 - (-lambda).exp());
        let f1 = k * lambda * (-lambda).exp();
        let d = self.m + seen;
        (n * d / ((n - f1) + f1 * n / big_n)).clamp(d, big_n)
    }

    /// The tail values to generate for an estimate of `target` in all:
    /// from `target − m` (what a whole-table sample counts) up to one per
    /// tail row (`tail_rows`), found by bisection (the estimate grows with
    /// the tail).
    pub fn tail_for(&self, target: f64, tail_rows: f64) -> f64 {
        let lo = (target - self.m).max(1.0);
        let hi = tail_rows.max(lo);
        if self.estimate(lo) >= target {
            return lo;
        }
        if self.estimate(hi) < target {
            return hi;
        }
        let (mut lo, mut hi) = (lo, hi);
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if self.estimate(mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sampled_tail_needs_more_values_than_its_estimate_and_a_whole_table_exactly_its_count() {
        // Umami's website_event.url_query: 1.03 M rows, 8.6% not NULL, 15
        // most common values holding 75% of those, n_distinct 611.
        let s = Shape {
            rows: 1_030_000.0,
            nonnull: 0.086,
            m: 15.0,
            in_mcv: 0.75,
        };
        let tail_rows = s.rows * s.nonnull * (1.0 - s.in_mcv);
        // 596 values evenly: about 420 estimated (the target's ANALYZE gave 396).
        assert!(
            (s.estimate(596.0) - 420.0).abs() < 40.0,
            "{}",
            s.estimate(596.0)
        );
        let k = s.tail_for(611.0, tail_rows);
        assert!(k > 596.0 * 1.5, "{k}");
        assert!((s.estimate(k) - 611.0).abs() < 0.5);
        // A table ANALYZE reads whole: the count itself.
        let small = Shape {
            rows: 20_000.0,
            ..s
        };
        assert_eq!(small.tail_for(611.0, 20_000.0), 596.0);
    }
}
