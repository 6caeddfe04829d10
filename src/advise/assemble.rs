//! Assembling the advice from the measurements: each candidate as the
//! selection sees it (savings and write cost per hour, the foreign keys it
//! leads with), the two sets side by side, the foreign keys served, and the
//! issue's targets as measured.

use super::candidates::Candidate;
use super::paired::Pair;
use super::select;
use crate::results::{AdviceRow, Alternative, ForeignKey, SetMeasure, Target};
use crate::schema::IndexDef;
use crate::stats::{Interval, Verdict};

/// The selection's view of each candidate: savings per hour per query, write
/// cost per hour, and the foreign keys it leads with; fills the candidate's
/// own per-hour figures as it goes.
pub(super) fn items(
    cands: &[Candidate],
    ms: &mut super::Measured,
    reqs: &[&ForeignKey],
    w_ins: f64,
    w_upd: f64,
) -> Vec<select::Item> {
    let mut out = Vec::new();
    for (c, a) in cands.iter().zip(ms.candidates.iter_mut()) {
        // Savings from the paired ratio and the one baseline median per
        // read: every candidate of a read is scaled by the same median, so
        // their order comes from the paired ratios alone, never from a
        // baseline timed at a busier moment. A ratio counts only when its
        // interval clears the noise threshold.
        let (mut saving, mut saving_low, mut saving_high) = (Vec::new(), Vec::new(), Vec::new());
        for (e, b) in a.effects.iter().zip(&ms.baseline) {
            let per_hour = |s: f64| b.row.weight * b.row.median.point * (1.0 - 1.0 / s.max(1e-12));
            let (p, l, h) = match e.speedup {
                Some(s) if s.verdict() != Verdict::WithinNoise => {
                    (per_hour(s.point), per_hour(s.low), per_hour(s.high))
                }
                _ => (0.0, 0.0, 0.0),
            };
            saving.push(p);
            saving_low.push(l);
            saving_high.push(h);
        }
        let write = w_ins * a.insert_added_ms.max(0.0) + w_upd * a.update_added_ms.max(0.0);
        a.saved_ms_per_hour = saving.iter().filter(|s| **s > 0.0).sum();
        a.write_ms_per_hour = write;
        let serves = reqs
            .iter()
            .enumerate()
            .filter(|(_, f)| f.table == c.def.table && c.leads_with(&f.columns))
            .map(|(i, _)| i)
            .collect();
        let group = cands
            .iter()
            .position(|o| {
                o.def.table == c.def.table && o.keys == c.keys && o.def.predicate == c.def.predicate
            })
            .unwrap_or(out.len());
        // A set never holds an index whose keys lead another's in it: the
        // longer one serves every query the shorter one does, and the
        // planner's pick between them is a coin toss on near-equal costs.
        let covered_by = cands
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o.def.table == c.def.table
                    && o.def.predicate == c.def.predicate
                    && o.keys.len() > c.keys.len()
                    && o.keys.starts_with(&c.keys)
            })
            .map(|(j, _)| j)
            .collect();
        out.push(select::Item {
            size: a.cost.size_bytes,
            saving,
            saving_low,
            saving_high,
            write,
            serves,
            group,
            covered_by,
        });
    }
    out
}

/// Each foreign key with the indexes that lead with its columns once the
/// suggestion is applied (the base schema's and the chosen ones).
pub(super) fn served(
    fks: &[ForeignKey],
    chosen: &[IndexDef],
    cands: &[Candidate],
) -> Vec<ForeignKey> {
    fks.iter()
        .map(|f| {
            let mut f = f.clone();
            for d in chosen {
                let leads = cands.iter().any(|c| {
                    c.def.name == d.name && c.def.table == f.table && c.leads_with(&f.columns)
                });
                if leads {
                    f.served_by.push(d.name.clone());
                }
            }
            f
        })
        .collect()
}

/// The sets the selection could not tell from its choice, by name, with
/// what each adds to it and lacks.
pub(super) fn alternatives(choice: &select::Choice, cands: &[Candidate]) -> Vec<Alternative> {
    let name = |i: &usize| cands[*i].def.name.clone();
    choice
        .alternatives
        .iter()
        .map(|a| {
            let (p, low, high) = a.difference;
            Alternative {
                indexes: a.set.chosen.iter().map(name).collect(),
                adds: a
                    .set
                    .chosen
                    .iter()
                    .filter(|i| !choice.chosen.contains(i))
                    .map(name)
                    .collect(),
                lacks: choice
                    .chosen
                    .iter()
                    .filter(|i| !a.set.chosen.contains(i))
                    .map(name)
                    .collect(),
                difference_ms_per_hour: Interval {
                    point: p,
                    low,
                    high,
                },
                size_bytes: a.set.size,
            }
        })
        .collect()
}

/// One row per read: the migration's set (each pair's `b`) against the
/// suggestion (`a`), with the paired speed-up.
pub(super) fn side_by_side(pairs: &[Pair]) -> Vec<AdviceRow> {
    pairs
        .iter()
        .map(|p| AdviceRow {
            query: p.b.row.query.clone(),
            weight: p.b.row.weight,
            migration: p.b.row.median,
            suggested: p.a.row.median,
            speedup: p.speedup,
            verdict: p.speedup.verdict(),
            migration_plan: p.b.row.plan.clone(),
            suggested_plan: p.a.row.plan.clone(),
        })
        .collect()
}

/// The three targets, as measured.
pub(super) fn targets(
    name: &str,
    geomean: Option<Interval>,
    rows: &[AdviceRow],
    own: &SetMeasure,
    sug: &SetMeasure,
) -> Vec<Target> {
    let f = crate::format::factor;
    let mut out = Vec::new();
    if let Some(g) = geomean {
        out.push(Target {
            what: format!(
                "≥ 1.20× faster than {name}'s set on the geometric mean of the read medians"
            ),
            measured: format!("{} [{}–{}]", f(g.point), f(g.low), f(g.high)),
            met: g.point >= 1.2,
        });
    }
    if let Some(worst) = rows
        .iter()
        .min_by(|a, b| a.speedup.point.total_cmp(&b.speedup.point))
    {
        let slow = 1.0 / worst.speedup.point.max(1e-12);
        let measured = if slow > 1.0 {
            format!(
                "slowest: {} at {} slower [{}–{}]",
                worst.query,
                f(slow),
                f(1.0 / worst.speedup.high.max(1e-12)),
                f(1.0 / worst.speedup.low.max(1e-12))
            )
        } else {
            format!(
                "none slower; the least gain: {} at {} faster",
                worst.query,
                f(worst.speedup.point)
            )
        };
        out.push(Target {
            what: "no query more than 1.15× slower".into(),
            measured,
            met: slow <= 1.15,
        });
    }
    let ratio = sug.size_bytes as f64 / (own.size_bytes as f64).max(1.0);
    out.push(Target {
        what: format!("no larger than 1.05× {name}'s total index size"),
        measured: format!(
            "{} against {} ({})",
            crate::format::bytes(sug.size_bytes as f64),
            crate::format::bytes(own.size_bytes as f64),
            f(ratio)
        ),
        met: ratio <= 1.05,
    });
    out
}
