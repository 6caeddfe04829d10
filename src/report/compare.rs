//! Two runs side by side: typically a baseline taken before the migration
//! and a run after it, on the user's own database. Rows are the queries
//! both runs measured, each with its median and 95% interval in each run
//! (its last state: the only one on a user's database), the ratio, and the
//! index each plan used; queries only one run measured are listed apart,
//! those only in the later run as new in this migration.

use serde::Serialize;

use super::view::NEW_IN_MIGRATION;
use crate::format::{factor, ms};
use crate::results::{QueryResult, Results, Timing};

#[derive(Debug, Serialize)]
pub struct ComparePage {
    pub a: String,
    pub b: String,
    /// Notes on either run being partial.
    pub notes: Vec<String>,
    pub rows: Vec<CompareRow>,
    /// Measured in A only (dropped, renamed, or filtered out of B).
    pub only_a: Vec<String>,
    /// Measured in B only: new in this migration (or filtered out of A).
    pub only_b: Vec<String>,
    pub new_label: &'static str,
    pub findings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CompareRow {
    pub query: String,
    pub a: String,
    pub a_ci: String,
    pub a_state: String,
    pub b: String,
    pub b_ci: String,
    pub b_state: String,
    pub ratio: String,
    pub faster: bool,
    /// The medians' intervals do not overlap.
    pub clear: bool,
    pub index_a: String,
    pub index_b: String,
}

/// The comparison of run `a` (before) and run `b` (after).
pub fn page(a: &Results, b: &Results) -> ComparePage {
    let label = |r: &Results| {
        let scale = match r.database {
            Some(_) => "your database",
            None => r.scale.as_str(),
        };
        format!(
            "{} ({scale}, {}){}",
            r.run_id,
            r.environment.database,
            if r.partial { ", partial" } else { "" }
        )
    };
    let rows = a
        .queries
        .iter()
        .filter_map(|qa| {
            let qb = b.queries.iter().find(|q| q.name == qa.name)?;
            Some(row(qa, qa.timings.last()?, qb, qb.timings.last()?))
        })
        .collect::<Vec<_>>();
    let only = |x: &Results, y: &Results| -> Vec<String> {
        measured(x)
            .filter(|n| !measured(y).any(|m| m == *n))
            .map(str::to_string)
            .collect()
    };
    let notes = [("A", a), ("B", b)]
        .iter()
        .filter(|(_, r)| r.partial)
        .map(|(side, r)| {
            format!(
                "{side} is a partial run{}: it holds only the queries it measured.",
                r.filter
                    .as_ref()
                    .map(|f| format!(" (filter `{f}`)"))
                    .unwrap_or_default()
            )
        })
        .collect();
    ComparePage {
        a: label(a),
        b: label(b),
        notes,
        rows,
        only_a: only(a, b),
        only_b: only(b, a),
        new_label: NEW_IN_MIGRATION,
        findings: b
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.kind.as_str(), f.message))
            .collect(),
    }
}

/// Names of the queries a run has timings for.
fn measured(r: &Results) -> impl Iterator<Item = &str> {
    r.queries
        .iter()
        .filter(|q| !q.timings.is_empty())
        .map(|q| q.name.as_str())
}

fn row(qa: &QueryResult, ta: &Timing, qb: &QueryResult, tb: &Timing) -> CompareRow {
    let ratio = ta.median_ms / tb.median_ms.max(1e-9);
    let ci = |t: &Timing| format!("{} – {}", ms(t.ci_low_ms), ms(t.ci_high_ms));
    CompareRow {
        query: qa.name.clone(),
        a: ms(ta.median_ms),
        a_ci: ci(ta),
        a_state: ta.state.to_string(),
        b: ms(tb.median_ms),
        b_ci: ci(tb),
        b_state: tb.state.to_string(),
        ratio: factor(ratio),
        faster: ratio > 1.0,
        clear: ta.ci_high_ms < tb.ci_low_ms || tb.ci_high_ms < ta.ci_low_ms,
        index_a: indexes(qa, ta),
        index_b: indexes(qb, tb),
    }
}

fn indexes(q: &QueryResult, t: &Timing) -> String {
    q.plan(&t.state)
        .map(|p| {
            if p.summary.indexes_used.is_empty() {
                "none".into()
            } else {
                p.summary.indexes_used.join(", ")
            }
        })
        .unwrap_or_default()
}
