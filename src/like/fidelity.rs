//! How closely the target's statistics, after `ANALYZE`, match the
//! source's, column by column, against what the source's imply under the
//! scale factor `F`: `null_frac` within [`NULL_FRAC`]; distinct values
//! within a factor of [`DISTINCT_RATIO`] of what the target's `ANALYZE` is
//! expected to estimate (a key's times `F`; a foreign key's as
//! [`super::stats::Stats::parents_referenced`] has it; any other column's
//! from the tail of values behind the source's estimate, grown with `F` or
//! kept, [`super::estimate::Tail`]); most-common-value frequencies within L1
//! [`MCV_L1`] (for generated values, the sorted frequency profile; for a
//! foreign key, over the ranks the target's list holds, then the rest); the
//! histograms of ordered types within Kolmogorov–Smirnov [`KS`]; and
//! `correlation` within [`CORRELATION`]. A small table's statistics are
//! each a handful of rows, so every tolerance widens to the sampling error
//! of the target's row count `n` where that is larger ([`Tolerances`]):
//! one row's share (`1/n`) for `null_frac`, ±1 value for distinct counts,
//! `√(k/n)` for `k` most common values, the 5% critical value `1.36/√n`
//! for KS, and two standard errors `2/√n` for `correlation`.

use std::collections::BTreeMap;
use std::fmt;

use super::estimate::Tail;
use super::joint;
use super::stats::{table_scale, target_rows, ColumnStats, Joint, TableStats};

pub const NULL_FRAC: f64 = 0.02;
pub const DISTINCT_RATIO: f64 = 1.5;
pub const MCV_L1: f64 = 0.1;
pub const KS: f64 = 0.1;
pub const CORRELATION: f64 = 0.2;

/// The tolerances for a target table of `rows` rows.
#[derive(Debug, Clone, Copy)]
pub struct Tolerances {
    pub null_frac: f64,
    pub correlation: f64,
    pub ks: f64,
    /// Rows, for the most-common-value L1's `√(k/n)`.
    rows: f64,
}

impl Tolerances {
    pub fn for_rows(rows: f64) -> Tolerances {
        let n = rows.max(1.0);
        Tolerances {
            null_frac: NULL_FRAC.max(1.0 / n),
            correlation: CORRELATION.max(2.0 / n.sqrt()),
            ks: KS.max(1.36 / n.sqrt()),
            rows: n,
        }
    }

    /// The L1 tolerance for `k` most common values.
    pub fn mcv_l1(&self, k: usize) -> f64 {
        MCV_L1.max((k as f64 / self.rows).sqrt())
    }
}

/// One column's comparison; `None` where a measure does not apply.
#[derive(Debug, Clone)]
pub struct ColumnFit {
    pub column: String,
    /// The target table's rows, which set the [`Tolerances`].
    pub rows: f64,
    /// Most common values compared (the larger list of the two).
    pub mcv_count: usize,
    pub null_frac: (f64, f64),
    /// Expected distinct values, and the target's.
    pub distinct: (f64, f64),
    pub mcv_l1: Option<f64>,
    pub ks: Option<f64>,
    pub correlation: Option<(f64, f64)>,
}

impl ColumnFit {
    /// The measures out of tolerance, by name.
    pub fn misses(&self) -> Vec<&'static str> {
        let tol = Tolerances::for_rows(self.rows);
        let mut out = Vec::new();
        if (self.null_frac.0 - self.null_frac.1).abs() > tol.null_frac {
            out.push("null_frac");
        }
        let (e, t) = self.distinct;
        let ratio_ok = t / e <= DISTINCT_RATIO && e / t.max(1e-9) <= DISTINCT_RATIO;
        if e >= 1.0 && !ratio_ok && (t - e).abs() > 1.0 {
            out.push("n_distinct");
        }
        if self.mcv_l1.is_some_and(|d| d > tol.mcv_l1(self.mcv_count)) {
            out.push("mcv");
        }
        if self.ks.is_some_and(|d| d > tol.ks) {
            out.push("histogram");
        }
        if self
            .correlation
            .is_some_and(|(s, t)| (s - t).abs() > tol.correlation)
        {
            out.push("correlation");
        }
        out
    }
}

/// One extended statistics object's most-common-values list compared.
#[derive(Debug, Clone)]
pub struct JointFit {
    /// `name (a, b)`.
    pub object: String,
    pub rows: f64,
    pub combos: usize,
    /// L1 between the source's and the target's combinations (value by
    /// value, or by frequency profile where a member was generated).
    pub l1: f64,
    /// The L1 that drawing the columns independently would give
    /// ([`joint::independent_l1`]): what honouring the list is worth.
    pub independent: f64,
}

impl JointFit {
    pub fn within(&self) -> bool {
        self.l1 <= Tolerances::for_rows(self.rows).mcv_l1(self.combos)
    }
}

/// Every column compared, and every extended statistics object.
#[derive(Debug, Clone, Default)]
pub struct Fidelity {
    pub columns: Vec<ColumnFit>,
    pub joint: Vec<JointFit>,
}

impl Fidelity {
    /// Columns within every tolerance, and all compared.
    pub fn within(&self) -> (usize, usize) {
        let ok = self
            .columns
            .iter()
            .filter(|c| c.misses().is_empty())
            .count();
        (ok, self.columns.len())
    }
}

/// Compares `source` and `target` (the same tables, in any order) under
/// scale factor `scale`; `generated` names the `table.column`s whose values
/// were generated (their most common values compare by frequency profile).
pub fn compare(
    source: &[TableStats],
    target: &[TableStats],
    scale: f64,
    generated: &dyn Fn(&str, &str) -> bool,
) -> Fidelity {
    let by_name: BTreeMap<(&str, &str), &TableStats> = target
        .iter()
        .map(|t| ((t.schema.as_str(), t.table.as_str()), t))
        .collect();
    let mut columns = Vec::new();
    let mut joint = Vec::new();
    let rows = target_rows(source, scale);
    for s in source {
        // A table of parents kept whole is bigger than F times the source's.
        let scale = table_scale(&rows, s, scale);
        let Some(t) = by_name.get(&(s.schema.as_str(), s.table.as_str())) else {
            continue;
        };
        for sj in &s.joint {
            let by_profile = sj.columns.iter().any(|c| generated(&s.table, c));
            joint.push(joint_fit(s, t, sj, by_profile));
        }
        for (name, sc) in &s.columns {
            let Some(tc) = t.columns.get(name) else {
                continue;
            };
            let compare = if s.parents.contains_key(name) {
                Compare::Parent
            } else if generated(&s.table, name) {
                Compare::Profile
            } else {
                Compare::Values
            };
            let unique = s.unique.contains(name);
            if let Some(fit) = column(s, t, (sc, tc), scale, unique, compare) {
                columns.push(ColumnFit {
                    column: format!("{}.{name}", s.table),
                    ..fit
                });
            }
        }
    }
    Fidelity { columns, joint }
}

/// The target's list of the same object against the source's `sj` (an
/// empty one where ANALYZE kept none).
fn joint_fit(s: &TableStats, t: &TableStats, sj: &Joint, by_profile: bool) -> JointFit {
    let empty = Vec::new();
    let tc = t
        .joint
        .iter()
        .find(|j| j.name == sj.name)
        .map_or(&empty, |j| &j.combos);
    let key = |v: &[Option<String>]| {
        v.iter()
            .map(|x| x.as_deref().unwrap_or("\u{0}NULL"))
            .collect::<Vec<_>>()
            .join("\u{1f}")
    };
    let shares = |c: &[(Vec<Option<String>>, f64)]| -> (Vec<String>, Vec<f64>) {
        c.iter().map(|(v, f)| (key(v), *f)).unzip()
    };
    let ((sv, sf), (tv, tf)) = (shares(&sj.combos), shares(tc));
    JointFit {
        object: format!("{} ({})", sj.name, sj.columns.join(", ")),
        rows: t.reltuples,
        combos: sf.len().max(tf.len()),
        l1: if by_profile {
            profile_l1(&sf, &tf)
        } else {
            value_l1(&sv, &sf, &tv, &tf)
        },
        independent: joint::independent_l1(s, sj),
    }
}

/// How a column's most common values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Kept values: value by value.
    Values,
    /// Generated values: the sorted frequency profiles, rank by rank.
    Profile,
    /// A foreign key: the source's profile against the target's, over the
    /// ranks `ANALYZE` kept in the target's list and then the mass of all
    /// the others (a key's list is often cut short by `ANALYZE`).
    Parent,
}

fn column(
    s: &TableStats,
    t: &TableStats,
    (sc, tc): (&ColumnStats, &ColumnStats),
    scale: f64,
    unique: bool,
    compare: Compare,
) -> Option<ColumnFit> {
    let (ss, ts) = (sc.stats.as_ref()?, tc.stats.as_ref()?);
    let src = ss.distinct(s.reltuples);
    let expected = match compare {
        Compare::Parent => ss.parents_referenced(s.reltuples, scale),
        _ if unique => src * scale,
        _ => Tail::of(sc, s.reltuples, s.reltuples * scale).map_or(src, |t| t.expected),
    }
    .min(t.reltuples * (1.0 - ss.null_frac));
    let mcv_l1 = (!ss.mcf.is_empty() || !ts.mcf.is_empty()).then(|| match compare {
        Compare::Parent => {
            head_and_tail_l1((&ss.mcf, 1.0 - ss.null_frac), (&ts.mcf, 1.0 - ts.null_frac))
        }
        Compare::Profile => profile_l1(&ss.mcf, &ts.mcf),
        Compare::Values if sc.kind.ordered() && ss.mcv_num.is_empty() => {
            profile_l1(&ss.mcf, &ts.mcf)
        }
        Compare::Values => value_l1(&ss.mcv, &ss.mcf, &ts.mcv, &ts.mcf),
    });
    let ks =
        (ss.hist_num.len() >= 2 && ts.hist_num.len() >= 2).then(|| ks(&ss.hist_num, &ts.hist_num));
    Some(ColumnFit {
        column: String::new(),
        rows: t.reltuples,
        mcv_count: ss.mcf.len().max(ts.mcf.len()),
        null_frac: (ss.null_frac, ts.null_frac),
        distinct: (expected, ts.distinct(t.reltuples)),
        mcv_l1,
        ks,
        correlation: ss.correlation.zip(ts.correlation),
    })
}

/// L1 distance between two most-common-value lists, value by value.
fn value_l1(sv: &[String], sf: &[f64], tv: &[String], tf: &[f64]) -> f64 {
    let mut m: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (v, f) in sv.iter().zip(sf) {
        m.entry(v).or_default().0 = *f;
    }
    for (v, f) in tv.iter().zip(tf) {
        m.entry(v).or_default().1 = *f;
    }
    m.values().map(|(a, b)| (a - b).abs()).sum()
}

/// L1 distance between two sorted frequency profiles, rank by rank.
fn profile_l1(sf: &[f64], tf: &[f64]) -> f64 {
    let (mut a, mut b) = (sf.to_vec(), tf.to_vec());
    a.sort_by(|x, y| y.total_cmp(x));
    b.sort_by(|x, y| y.total_cmp(x));
    (0..a.len().max(b.len()))
        .map(|i| (a.get(i).unwrap_or(&0.0) - b.get(i).unwrap_or(&0.0)).abs())
        .sum()
}

/// L1 distance between an expected frequency profile and the target's,
/// each with its non-null share: rank by rank over the ranks the target's
/// list holds (how long it is is `ANALYZE`'s choice: values not clearly
/// more common than the rest are left out), then between the shares of
/// all the other values.
fn head_and_tail_l1((e, e_all): (&[f64], f64), (t, t_all): (&[f64], f64)) -> f64 {
    let (mut e, mut t) = (e.to_vec(), t.to_vec());
    e.sort_by(|x, y| y.total_cmp(x));
    t.sort_by(|x, y| y.total_cmp(x));
    let head: f64 = t
        .iter()
        .enumerate()
        .map(|(i, f)| (e.get(i).unwrap_or(&0.0) - f).abs())
        .sum();
    let e_rest = e_all - e.iter().take(t.len()).sum::<f64>();
    let t_rest = t_all - t.iter().sum::<f64>();
    head + (e_rest - t_rest).abs()
}

/// The CDF at `x` of an equi-depth histogram, linear between bounds.
fn cdf(h: &[f64], x: f64) -> f64 {
    let n = h.len() - 1;
    if x <= h[0] {
        return 0.0;
    }
    if x >= h[n] {
        return 1.0;
    }
    let b = h.partition_point(|v| *v <= x) - 1;
    let w = h[b + 1] - h[b];
    let frac = if w > 0.0 { (x - h[b]) / w } else { 1.0 };
    (b as f64 + frac) / n as f64
}

/// Kolmogorov–Smirnov distance between two histograms.
pub fn ks(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .chain(b)
        .map(|x| (cdf(a, *x) - cdf(b, *x)).abs())
        .fold(0.0, f64::max)
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into())
}

impl fmt::Display for Fidelity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  {:<32} {:>13} {:>21} {:>7} {:>7} {:>15}  within",
            "column", "null_frac s/t", "distinct expected/t", "mcv L1", "KS", "correlation s/t"
        )?;
        for c in &self.columns {
            let misses = c.misses();
            let corr = c
                .correlation
                .map(|(s, t)| format!("{s:.2}/{t:.2}"))
                .unwrap_or_else(|| "-".into());
            writeln!(
                f,
                "  {:<32} {:>6.3}/{:<6.3} {:>10.0}/{:<10.0} {:>7} {:>7} {:>15}  {}",
                c.column,
                c.null_frac.0,
                c.null_frac.1,
                c.distinct.0,
                c.distinct.1,
                opt(c.mcv_l1),
                opt(c.ks),
                corr,
                if misses.is_empty() {
                    "yes".to_string()
                } else {
                    format!("no: {}", misses.join(", "))
                }
            )?;
        }
        for j in &self.joint {
            writeln!(
                f,
                "  statistics {}: {} combinations, MCV L1 {:.3} (drawn independently: {:.3})  {}",
                j.object,
                j.combos,
                j.l1,
                j.independent,
                if j.within() { "yes" } else { "no: mcv" }
            )?;
        }
        let (ok, all) = self.within();
        write!(
            f,
            "{:.0}% of columns within tolerance ({ok} of {all}; null_frac ±{NULL_FRAC}, distinct ×{DISTINCT_RATIO}, MCV L1 {MCV_L1}, KS {KS}, correlation ±{CORRELATION}, each widened for a table of n rows to 1/n, ±1, √(k/n), 1.36/√n and 2/√n where larger; target statistics from ANALYZE's sample, so each carries its sampling error)",
            ok as f64 * 100.0 / all.max(1) as f64
        )?;
        if !self.joint.is_empty() {
            let ok = self.joint.iter().filter(|j| j.within()).count();
            write!(
                f,
                "\n{ok} of {} extended statistics' combinations within tolerance (the same MCV L1)",
                self.joint.len()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_tables_tolerances_are_its_sampling_error_a_large_ones_the_issues() {
        let fit = |rows: f64, correlation: (f64, f64), ks: f64| ColumnFit {
            column: "t.c".into(),
            rows,
            mcv_count: 3,
            null_frac: (0.0, 0.0),
            distinct: (3.0, 2.0),
            mcv_l1: Some(0.3),
            ks: Some(ks),
            correlation: Some(correlation),
        };
        // 11 rows: one row moves a share by 0.09, a KS step is 0.09.
        assert!(fit(11.0, (0.6, 0.2), 0.3).misses().is_empty());
        // 100,000 rows: the issue's tolerances.
        assert_eq!(
            fit(1e5, (0.6, 0.2), 0.3).misses(),
            ["mcv", "histogram", "correlation"]
        );
        let t = Tolerances::for_rows(1e5);
        assert_eq!(
            (t.null_frac, t.ks, t.correlation),
            (NULL_FRAC, KS, CORRELATION)
        );
    }

    #[test]
    fn a_foreign_keys_profile_is_compared_over_the_ranks_analyze_kept_then_the_rest() {
        // Expected 0.3, 0.2, 0.1, 0.1 (and 0.3 over values outside the
        // list); the target's list stops after two ranks.
        let e = [0.3, 0.2, 0.1, 0.1];
        assert!((head_and_tail_l1((&e, 1.0), (&[0.3, 0.2], 1.0))).abs() < 1e-12);
        // A wrong head, and a tail that holds what the head lacks.
        let d = head_and_tail_l1((&e, 1.0), (&[0.25, 0.2], 1.0));
        assert!((d - 0.1).abs() < 1e-12, "{d}");
    }

    #[test]
    fn ks_of_equal_histograms_is_zero_and_of_shifted_ones_is_the_shift() {
        let a = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(ks(&a, &a), 0.0);
        let b = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!((ks(&a, &b) - 0.25).abs() < 1e-9);
        assert!((profile_l1(&[0.5, 0.2], &[0.25, 0.45]) - 0.1).abs() < 1e-9);
    }
}
