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
//!
//! Under a scale factor the same inverse gives the tail behind the source's
//! estimate ([`Tail::of`]): a tail that grows with the table is that many
//! values times the factor, a fixed domain the same values, and what the
//! target's `ANALYZE` is expected to estimate is this estimate of it, not
//! the source's figure times the factor: the sample stays 30,000 rows, so
//! a long tail three times as big is seen no better than the source's was.

use super::privacy;
use super::stats::{ColumnStats, Stats};

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
    /// `s`'s shape in a table of `rows` rows.
    pub fn of(s: &Stats, rows: f64) -> Shape {
        let nonnull = (1.0 - s.null_frac).max(1e-9);
        Shape {
            rows,
            nonnull,
            m: s.mcf.len() as f64,
            in_mcv: (s.mcf.iter().sum::<f64>() / nonnull).min(1.0),
        }
    }

    /// Rows not NULL and outside the most common values.
    pub fn tail_rows(&self) -> f64 {
        self.rows * self.nonnull * (1.0 - self.in_mcv)
    }

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

/// A column's values outside its most common ones, in a target table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tail {
    /// Tail values to generate.
    pub values: f64,
    /// The distinct count the target's `ANALYZE` is expected to give.
    pub expected: f64,
}

impl Tail {
    /// The tail of `col`, analysed in a source of `source_rows` rows, for a
    /// target of `rows`. It grows with the table when `n_distinct` is a
    /// ratio, and for an e-mail column ([`privacy::identifies`]); otherwise
    /// its domain stays. An ordered column with a ratio keeps the ratio
    /// without the inverse (its values, drawn between histogram bounds,
    /// come out as distinct as asked, so correcting overshoots).
    pub fn of(col: &ColumnStats, source_rows: f64, rows: f64) -> Option<Tail> {
        let s = col.stats.as_ref()?;
        let scale = rows / source_rows.max(1.0);
        let m = s.mcf.len() as f64;
        if s.n_distinct < 0.0 && col.kind.ordered() {
            return Some(Tail {
                values: (s.distinct(rows) - m).max(1.0),
                expected: s.distinct(source_rows) * scale,
            });
        }
        let (source, target) = (Shape::of(s, source_rows), Shape::of(s, rows));
        let behind = source.tail_for(s.distinct(source_rows), source.tail_rows());
        let grows = s.n_distinct < 0.0 || privacy::identifies(col);
        let values = if grows { behind * scale } else { behind }
            .min(target.tail_rows())
            .max(1.0);
        Some(Tail {
            values,
            expected: target.estimate(values),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::like::stats::Kind;

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

    fn column(name: &str, kind: Kind, stats: Stats) -> ColumnStats {
        ColumnStats {
            name: name.into(),
            kind,
            type_name: String::new(),
            not_null: false,
            scale: None,
            labels: Vec::new(),
            stats: Some(stats),
            hidden: None,
        }
    }

    #[test]
    fn a_tail_scales_with_its_table_or_keeps_its_domain_and_is_expected_as_sampled() {
        // Umami's event_data.string_value: 82k rows, 39 values on 71%,
        // n_distinct -0.106 (8,690, from a 30,000-row sample).
        let tail = Stats {
            n_distinct: -0.106,
            mcf: vec![0.714 / 39.0; 39],
            ..Stats::default()
        };
        let col = column("string_value", Kind::Text, tail.clone());
        let rows = 82_000.0;
        // At 1, as many tail values as it takes (here one per tail row,
        // the most there can be) for the estimate to come out the same.
        let at1 = Tail::of(&col, rows, rows).unwrap();
        assert!((at1.expected / (0.106 * rows) - 1.0).abs() < 0.1, "{at1:?}");
        // Three times the rows: three times the tail values, but the same
        // sample sees it no better, so far less than 3 x 8,690 is expected.
        let at3 = Tail::of(&col, rows, 3.0 * rows).unwrap();
        assert!((at3.values - 3.0 * at1.values).abs() < 1.0, "{at3:?}");
        assert!(
            at3.expected > at1.expected && at3.expected < 2.0 * at1.expected,
            "{at3:?}"
        );
        // A count is a fixed domain: the same values at any scale factor,
        // unless they are e-mail addresses, whose number grows.
        let count = Stats {
            n_distinct: 9_800.0,
            null_frac: 0.09,
            mcf: vec![0.003; 100],
            ..Stats::default()
        };
        let domain = column("label", Kind::Text, count.clone());
        let email = column("customerEmail", Kind::Text, count);
        let (d1, d10) = (
            Tail::of(&domain, 100_000.0, 100_000.0).unwrap(),
            Tail::of(&domain, 100_000.0, 10_000.0).unwrap(),
        );
        assert!((d1.expected - 9_800.0).abs() < 1.0, "{d1:?}");
        assert!(
            d10.values >= (d1.values).min(10_000.0 * 0.91 * 0.67),
            "{d10:?}"
        );
        let e10 = Tail::of(&email, 100_000.0, 10_000.0).unwrap();
        assert!((e10.values - d1.values / 10.0).abs() < 1.0, "{e10:?}");
        // An ordered ratio keeps it without the inverse.
        let times = column("at", Kind::Timestamp, tail);
        let t3 = Tail::of(&times, rows, 3.0 * rows).unwrap();
        assert!((t3.expected - 3.0 * 0.106 * rows).abs() < 1.0, "{t3:?}");
    }
}
