//! The before/after section of a run compared with a named criterion
//! baseline (`--baseline NAME`): each query's median before and after side
//! by side, the change with its 95% interval and verdict, and the baseline
//! run's plans beside this run's. A query the baseline does not have is
//! new in this migration.

use serde::Serialize;

use super::plans::{tree, Tree};
use super::words::{anchor, change_pct, verdict_text};
use crate::format::ms;
use crate::results::{QueryResult, Results, Timing};

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
