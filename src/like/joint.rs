//! Columns drawn together: the multi-column most common values of the
//! source's extended statistics ([`Joint`], `CREATE STATISTICS … (mcv)`).
//! A share of rows equal to the combinations' total takes one combination
//! whole, picked by its frequency from a stream of its own; each member
//! column's own generator covers the other rows with what the combinations
//! leave of its NULLs and most common values ([`residual`]), so after
//! `ANALYZE` both the columns' own statistics and the joint ones come back.
//!
//! Only combinations whose every value is in its column's own
//! most-common list are honoured (the rest are left to the independent
//! draws), and a generated column's value in a combination is its stand-in
//! for that value, so nothing personal crosses over. Keys and foreign keys
//! are never members, and a column is a member of one object at most (the
//! first by name). Columns no object covers are drawn independently.

use std::collections::BTreeSet;

use super::stats::{Joint, Stats, TableStats};
use super::values::{Value, Weyl};

/// A [`Joint`] list mapped onto its columns' own most common values.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub name: String,
    pub columns: Vec<String>,
    /// Per combination: each member's place in its column's `pg_stats`
    /// list (`None`: NULL), and the combination's share of all rows.
    pub combos: Vec<(Vec<Option<usize>>, f64)>,
}

impl Mapped {
    /// The place of `column` among the members, if it is one.
    pub fn member(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }
}

/// The joint lists of `t` that can be honoured: every member a column for
/// which `drawn` holds (drawn from its own values: no key, no foreign key,
/// statistics visible), each column in one object at most.
pub fn mapped(t: &TableStats, drawn: &dyn Fn(&str) -> bool) -> Vec<Mapped> {
    let mut taken = BTreeSet::new();
    let mut out = Vec::new();
    for j in &t.joint {
        if j.columns.iter().any(|c| !drawn(c) || taken.contains(c)) {
            continue;
        }
        let Some(lists) = j
            .columns
            .iter()
            .map(|c| t.columns.get(c).and_then(|c| c.stats.as_ref()))
            .collect::<Option<Vec<&Stats>>>()
        else {
            continue;
        };
        let combos: Vec<(Vec<Option<usize>>, f64)> = j
            .combos
            .iter()
            .filter_map(|(values, f)| Some((places(values, &lists)?, *f)))
            .collect();
        if combos.is_empty() {
            continue;
        }
        taken.extend(j.columns.iter().cloned());
        out.push(Mapped {
            name: j.name.clone(),
            columns: j.columns.clone(),
            combos,
        });
    }
    out
}

/// Each value's place in its column's most common values (`Some(None)`
/// for NULL); `None` when one is not among them.
fn places(values: &[Option<String>], lists: &[&Stats]) -> Option<Vec<Option<usize>>> {
    values
        .iter()
        .zip(lists)
        .map(|(v, s)| match v {
            None => Some(None),
            Some(v) => place(s, v).map(Some),
        })
        .collect()
}

/// The place of `value` in `s`'s most common values.
fn place(s: &Stats, value: &str) -> Option<usize> {
    s.mcv.iter().position(|m| m == value)
}

/// Member `member`'s statistics over the rows the combinations leave: its
/// NULLs and most common values less the combinations' shares, over what
/// is left. The histogram's share of all rows stays what it was.
pub fn residual(s: &Stats, m: &Mapped, member: usize) -> Stats {
    let mut nulls = s.null_frac;
    let mut mcf = s.mcf.clone();
    let mut taken = 0.0;
    for (places, f) in &m.combos {
        taken += f;
        match places[member] {
            None => nulls -= f,
            Some(k) => mcf[k] -= f,
        }
    }
    let rest = (1.0 - taken).max(1e-9);
    Stats {
        null_frac: (nulls.max(0.0) / rest).min(1.0),
        mcf: mcf.iter().map(|f| (f.max(0.0) / rest).min(1.0)).collect(),
        ..s.clone()
    }
}

/// The generator of one object's combinations.
#[derive(Debug, Clone)]
pub struct Group {
    /// Each combination's values, as its members' generators write them.
    pub combos: Vec<Vec<Value>>,
    /// The combinations' cumulative shares of all rows.
    cum: Vec<f64>,
    stream: Weyl,
}

impl Group {
    /// `written[i]` holds what member `i`'s generator writes for each of
    /// its most common values, in `pg_stats`' order.
    pub fn new(m: &Mapped, written: &[Vec<Value>], salt: u64) -> Group {
        let combos = m
            .combos
            .iter()
            .map(|(places, _)| {
                places
                    .iter()
                    .zip(written)
                    .map(|(k, w)| k.and_then(|k| w.get(k).cloned()).unwrap_or(Value::Null))
                    .collect()
            })
            .collect();
        let cum = m
            .combos
            .iter()
            .scan(0.0, |acc, (_, f)| {
                *acc += f;
                Some(*acc)
            })
            .collect();
        Group {
            combos,
            cum,
            stream: Weyl::new(salt),
        }
    }

    /// The combination row `i` takes whole, if any.
    pub fn pick(&self, i: u64) -> Option<usize> {
        let u = self.stream.at(i);
        self.cum.iter().position(|c| u < *c)
    }
}

/// What each list's combinations would come to if its columns were drawn
/// independently: the L1 distance between the combinations' shares and
/// the products of their values' own shares.
pub fn independent_l1(t: &TableStats, j: &Joint) -> f64 {
    j.combos
        .iter()
        .map(|(values, f)| {
            let product: f64 = values
                .iter()
                .zip(&j.columns)
                .map(|(v, c)| {
                    let Some(s) = t.columns.get(c).and_then(|c| c.stats.as_ref()) else {
                        return 0.0;
                    };
                    match v {
                        None => s.null_frac,
                        Some(v) => place(s, v).map_or(0.0, |k| s.mcf[k]),
                    }
                })
                .product();
            (f - product).abs()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(mcv: &[&str], mcf: &[f64], null_frac: f64) -> Stats {
        Stats {
            null_frac,
            n_distinct: mcv.len() as f64,
            mcv: mcv.iter().map(|s| s.to_string()).collect(),
            mcf: mcf.to_vec(),
            ..Stats::default()
        }
    }

    #[test]
    fn the_residual_keeps_each_columns_own_shares_over_all_rows() {
        // city: Paris 0.5, Berlin 0.4, NULL 0.1; two combinations hold 0.6.
        let city = stats(&["Paris", "Berlin"], &[0.5, 0.4], 0.1);
        let m = Mapped {
            name: "s".into(),
            columns: vec!["city".into(), "country".into()],
            combos: vec![(vec![Some(0), Some(0)], 0.45), (vec![None, Some(1)], 0.15)],
        };
        let r = residual(&city, &m, 0);
        // Over the 0.4 left: Paris 0.05, Berlin 0.4, NULL 0.1 less 0.15 → 0.
        assert!((r.mcf[0] - 0.05 / 0.4).abs() < 1e-12);
        assert!((r.mcf[1] - 1.0).abs() < 1e-12);
        assert_eq!(r.null_frac, 0.0);
        // Combined with the combinations: Paris 0.45 + 0.4·0.125 = 0.5.
        assert!((0.45 + 0.4 * r.mcf[0] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_group_picks_each_combination_at_its_share() {
        let m = Mapped {
            name: "s".into(),
            columns: vec!["a".into(), "b".into()],
            combos: vec![(vec![Some(0), Some(1)], 0.3), (vec![Some(1), None], 0.2)],
        };
        let written = vec![
            vec![Value::Text("x".into()), Value::Text("y".into())],
            vec![Value::Num(1.0), Value::Num(2.0)],
        ];
        let g = Group::new(&m, &written, 7);
        assert_eq!(g.combos[0], vec![Value::Text("x".into()), Value::Num(2.0)]);
        assert_eq!(g.combos[1], vec![Value::Text("y".into()), Value::Null]);
        let n = 100_000;
        let mut counts = [0usize; 3];
        for i in 0..n {
            counts[g.pick(i).unwrap_or(2)] += 1;
        }
        let share = |c: usize| c as f64 / n as f64;
        assert!((share(counts[0]) - 0.3).abs() < 0.001, "{counts:?}");
        assert!((share(counts[1]) - 0.2).abs() < 0.001, "{counts:?}");
    }
}
