//! The before/after section of a run compared with a named criterion
//! baseline (`--baseline NAME`): each query's median before and after side
//! by side, the change with its 95% interval and verdict, and the baseline
//! run's plans beside this run's. A query the baseline does not have is
//! new in this migration.

use serde::Serialize;

use super::format::{factor, ms};
use super::results::{Change, Interval, QueryResult, Results, Timing};
use super::view::{anchor, tree, Tree};

/// Printed for a benchmark that the compared baseline does not have.
pub const NEW_IN_MIGRATION: &str = "new in this migration";

#[derive(Debug, Serialize)]
pub struct BeforeAfter {
    pub baseline: String,
    /// The baseline's run folder, relative to this one; empty when unknown.
    pub baseline_run: String,
    /// Why the baseline's plans are missing, when they are.
    pub note: Option<String>,
    pub rows: Vec<BeforeAfterRow>,
}

#[derive(Debug, Serialize)]
pub struct BeforeAfterRow {
    pub query: String,
    pub anchor: String,
    pub before: String,
    pub before_ci: String,
    pub after: String,
    pub after_ci: String,
    pub change: String,
    pub verdict: String,
    pub new_in_migration: bool,
    pub index_before: String,
    pub index_after: String,
    pub plan_before: Option<Tree>,
    pub plan_after: Option<Tree>,
}

/// The section for `r`, when it was compared with a named baseline;
/// `baseline` is the run that saved it, if it could be found.
pub fn before_after(r: &Results, baseline: Option<&Results>) -> Option<BeforeAfter> {
    let b = r.compared_with.as_ref()?;
    let prefix = b
        .run_id
        .as_ref()
        .filter(|_| baseline.is_some())
        .map(|id| format!("../{id}/"));
    let note = match (&b.run_id, baseline) {
        (_, Some(_)) => None,
        (Some(id), None) => Some(format!("The baseline's run folder {id} is gone from reports/; its medians come from criterion, its plans are not shown.")),
        (None, None) => Some(format!("No run folder recorded saving baseline '{}' (reports/baselines/); its medians come from criterion, its plans are not shown.", b.name)),
    };
    let rows = r
        .queries
        .iter()
        .filter_map(|q| {
            let t = q.timings.last()?;
            let before_q = baseline.and_then(|br| br.queries.iter().find(|x| x.name == q.name));
            Some(row(q, t, before_q, prefix.as_deref()))
        })
        .collect();
    Some(BeforeAfter {
        baseline: b.name.clone(),
        baseline_run: prefix.unwrap_or_default(),
        note,
        rows,
    })
}

fn row(
    q: &QueryResult,
    t: &Timing,
    before: Option<&QueryResult>,
    prefix: Option<&str>,
) -> BeforeAfterRow {
    // The baseline's timing in the same state, else its last (its only one
    // on a user's database).
    let bt = before.and_then(|b| b.timing(&t.state).or(b.timings.last()));
    let before_median = match (&t.change, bt) {
        (_, Some(bt)) => ms(bt.median_ms),
        (Some(c), None) => c
            .median
            .map(|m| ms(t.median_ms / (1.0 + m.point / 100.0)))
            .unwrap_or_else(|| "n/a".into()),
        (None, None) => "–".into(),
    };
    let plan_before = before.and_then(|b| {
        let p = bt.and_then(|bt| b.plan(&bt.state)).or(b.plans.last())?;
        let mut tr = tree(p, q.plan(&t.state));
        tr.file = format!("{}{}", prefix.unwrap_or_default(), tr.file);
        Some(tr)
    });
    let plan_after = q
        .plan(&t.state)
        .map(|p| tree(p, before.and_then(|b| b.plans.last())));
    BeforeAfterRow {
        query: q.name.clone(),
        anchor: anchor(&q.name),
        before: before_median,
        before_ci: bt.map(ci).unwrap_or_default(),
        after: ms(t.median_ms),
        after_ci: ci(t),
        change: t.change.as_ref().map(change_pct).unwrap_or_default(),
        verdict: verdict_text(t),
        new_in_migration: t.no_baseline,
        index_before: plan_before.as_ref().map(indexes_of).unwrap_or_default(),
        index_after: plan_after.as_ref().map(indexes_of).unwrap_or_default(),
        plan_before,
        plan_after,
    }
}

fn ci(t: &Timing) -> String {
    format!("{} – {}", ms(t.ci_low_ms), ms(t.ci_high_ms))
}

fn indexes_of(t: &Tree) -> String {
    let v: Vec<&str> = t
        .nodes
        .iter()
        .filter(|n| !n.index.is_empty())
        .map(|n| n.index.as_str())
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The change of the median in percent with its 95% interval: the
/// recomputed one when both samples were there, else criterion's. A change
/// past tenfold reads as a factor (`2917× faster [2759×, 3085×]`), where
/// percentages would all round to -100.0%.
pub fn change_pct(c: &Change) -> String {
    let i = c.bootstrap.or(c.median);
    match i {
        Some(i) if i.point <= -90.0 || i.point >= 900.0 => factor_text(i),
        Some(i) => format!("{:+.1}% [{:+.1}%, {:+.1}%]", i.point, i.low, i.high),
        None => format!(
            "mean {:+.1}% [{:+.1}%, {:+.1}%]",
            c.mean_pct, c.ci_low_pct, c.ci_high_pct
        ),
    }
}

/// A change in percent as `N× faster [low, high]` or `N× slower [..]`.
fn factor_text(i: Interval) -> String {
    let ratio = |pct: f64| 1.0 + pct / 100.0;
    let (point, low, high) = (ratio(i.point), ratio(i.low), ratio(i.high));
    if point < 1.0 {
        // Faster by before/after: the interval's ends swap.
        let f = |r: f64| factor(1.0 / r.max(1e-12));
        format!("{} faster [{}, {}]", f(point), f(high), f(low))
    } else {
        format!(
            "{} slower [{}, {}]",
            factor(point),
            factor(low),
            factor(high)
        )
    }
}

/// "improved", "regressed", "within noise", "new in this migration", or
/// "no baseline".
pub fn verdict_text(t: &Timing) -> String {
    match (&t.change, t.no_baseline) {
        (_, true) => NEW_IN_MIGRATION.into(),
        (Some(c), false) => c.verdict.as_str().into(),
        (None, false) => "no baseline".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn change(point: f64, low: f64, high: f64) -> Change {
        Change {
            mean_pct: point,
            ci_low_pct: low,
            ci_high_pct: high,
            median: None,
            bootstrap: Some(Interval { point, low, high }),
            verdict: Verdict::Improved,
            against: None,
        }
    }

    #[test]
    fn changes_past_tenfold_read_as_factors_not_minus_100_percent() {
        assert_eq!(
            change_pct(&change(-42.5, -47.0, -38.0)),
            "-42.5% [-47.0%, -38.0%]"
        );
        // 135 ms before, 45 µs after.
        let c = change(-99.9667, -99.97, -99.96);
        assert_eq!(change_pct(&c), "3003× faster [2500×, 3333×]");
        assert_eq!(
            change_pct(&change(1900.0, 1800.0, 2000.0)),
            "20.0× slower [19.0×, 21.0×]"
        );
    }
}
