//! Two runs side by side: typically a baseline taken before the migration
//! and a run after it, on the user's own database. Each query's median in
//! each run (its first state), and the ratio.

use serde::Serialize;

use super::format::{factor, ms};
use super::results::{QueryResult, Results};
use crate::schema::IndexState;

#[derive(Debug, Serialize)]
pub struct ComparePage {
    pub a: String,
    pub b: String,
    pub rows: Vec<CompareRow>,
    pub findings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CompareRow {
    pub query: String,
    pub a: String,
    pub a_state: String,
    pub b: String,
    pub b_state: String,
    pub ratio: String,
    pub faster: bool,
    pub index_a: String,
    pub index_b: String,
}

/// The comparison of run `a` (before) and run `b` (after).
pub fn page(a: &Results, b: &Results) -> ComparePage {
    let label = |r: &Results| format!("{} ({}, {})", r.run_id, r.scale, r.environment.database);
    let rows = a
        .queries
        .iter()
        .filter_map(|qa| {
            let qb = b.queries.iter().find(|q| q.name == qa.name)?;
            let (ta, sa) = last_timing(qa)?;
            let (tb, sb) = last_timing(qb)?;
            let ratio = ta / tb.max(1e-9);
            Some(CompareRow {
                query: qa.name.clone(),
                a: ms(ta),
                a_state: sa.to_string(),
                b: ms(tb),
                b_state: sb.to_string(),
                ratio: factor(ratio),
                faster: ratio > 1.0,
                index_a: indexes(qa, &sa),
                index_b: indexes(qb, &sb),
            })
        })
        .collect();
    ComparePage {
        a: label(a),
        b: label(b),
        rows,
        findings: b
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.kind.as_str(), f.message))
            .collect(),
    }
}

/// A run's timing in its last state (its only one, on a user database).
fn last_timing(q: &QueryResult) -> Option<(f64, IndexState)> {
    q.timings.last().map(|t| (t.median_ms, t.state.clone()))
}

fn indexes(q: &QueryResult, state: &IndexState) -> String {
    q.plan(state)
        .map(|p| {
            if p.summary.indexes_used.is_empty() {
                "none".into()
            } else {
                p.summary.indexes_used.join(", ")
            }
        })
        .unwrap_or_default()
}
