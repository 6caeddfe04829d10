//! The plans section, read as pev2 shows a plan: per node its own time
//! (children excluded) and share of the whole, the hot node marked, the
//! estimate against actual rows with misestimates flagged only where they
//! mean something, conditions, filters, sort method and memory, heap
//! fetches, buffers; nodes found in only one of the two plans tagged; one
//! line of access-path diff per query, and the parameters it ran with.

use std::path::Path;

use serde::Serialize;

use super::words::anchor;
use super::Ctx;
use crate::explain::{NodeSummary, Plan, PlanSummary};
use crate::format::{factor, pct, thousands, TimeUnit};
use crate::results::{PlanRef, QueryResult, Results};
use crate::schema::IndexState;

/// Printed on a node the other plan does not have.
pub const ONLY_HERE: &str = "only in this plan";

#[derive(Debug, Serialize)]
pub struct PlansSection {
    pub pairs: Vec<PlanPair>,
    pub only_here: &'static str,
}

#[derive(Debug, Serialize)]
pub struct PlanPair {
    pub name: String,
    pub anchor: String,
    pub sql: String,
    /// `$1 = 'clr27…'` (or its hash), the row the trees were captured with.
    pub params: Vec<String>,
    /// Which row that is: `median`, `only`, ...
    pub param_label: String,
    pub diff: String,
    pub before: Option<Tree>,
    pub after: Option<Tree>,
    /// Set when the rows' plans read the tables differently.
    pub depends_on_parameter: bool,
    /// One line per parameter row: its values and each state's access path.
    pub by_param: Vec<ParamPlans>,
}

/// One parameter row's plans, one per state.
#[derive(Debug, Serialize)]
pub struct ParamPlans {
    pub label: String,
    pub values: String,
    pub estimated_rows: String,
    /// `(state, access path, generic or custom, raw file)`.
    pub plans: Vec<(String, String, String, String)>,
}

#[derive(Debug, Serialize)]
pub struct Tree {
    pub state: String,
    /// `generic plan` or `custom plan`, when known.
    pub kind: String,
    pub file: String,
    pub execution: String,
    pub nodes: Vec<NodeView>,
}

#[derive(Debug, Serialize)]
pub struct NodeView {
    pub indent: usize,
    pub node_type: String,
    pub relation: String,
    pub index: String,
    pub rows: String,
    pub misestimate: Option<String>,
    /// Time in the node itself, children excluded, and its share of the
    /// whole plan.
    pub exclusive: String,
    pub share: String,
    /// Time with its children.
    pub total: String,
    pub buffers: String,
    pub detail: Vec<(String, String)>,
    /// The node with the most time of its own.
    pub hot: bool,
    /// Not in the other plan (by type, relation and index).
    pub only_here: bool,
}

pub(super) fn build(cx: &Ctx) -> PlansSection {
    PlansSection {
        pairs: cx.r.queries.iter().map(|q| pair(cx, q)).collect(),
        only_here: ONLY_HERE,
    }
}

/// One query's plans: the trees of the row that stands for it, in each
/// state, and one line per parameter row.
fn pair(cx: &Ctx, q: &QueryResult) -> PlanPair {
    let before_plan = cx.before_plan(q);
    // One state and no baseline: its one plan, alone.
    let (before, after) = match (cx.with == cx.without, before_plan.as_ref()) {
        (true, None) => (q.plan(&cx.with), None),
        (_, b) => (b, q.plan(&cx.with)),
    };
    let shown = after.or(before);
    let label = shown.and_then(|p| p.param.clone()).unwrap_or_default();
    let values = q.params.iter().find(|p| p.label == label);
    PlanPair {
        name: q.name.clone(),
        anchor: anchor(&q.name),
        sql: q.sql.clone(),
        params: values
            .map(|p| {
                p.values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| format!("${} = {v}", i + 1))
                    .collect()
            })
            .unwrap_or_default(),
        param_label: label,
        diff: plan_diff(before, after),
        before: before.map(|p| tree(p, after)),
        after: after.map(|p| tree(p, before)),
        depends_on_parameter: q.plan_depends_on_parameter,
        by_param: by_param(cx, q),
    }
}

/// Each parameter row with its plan's access path in each state, when
/// there is more than one row.
fn by_param(cx: &Ctx, q: &QueryResult) -> Vec<ParamPlans> {
    if q.params.len() < 2 {
        return Vec::new();
    }
    let states: Vec<&IndexState> = match cx.with == cx.without {
        true => vec![&cx.with],
        false => vec![&cx.without, &cx.with],
    };
    q.params
        .iter()
        .map(|p| ParamPlans {
            label: p.label.clone(),
            values: p.values.join(", "),
            estimated_rows: p
                .estimated_rows
                .map(|r| thousands(r.round().max(0.0) as u64))
                .unwrap_or_default(),
            plans: states
                .iter()
                .filter_map(|s| {
                    let plan = q
                        .plans_in(s)
                        .find(|x| x.param.as_deref() == Some(&p.label))?;
                    Some((
                        s.to_string(),
                        paths(plan),
                        plan.kind
                            .map(|k| k.as_str().to_string())
                            .unwrap_or_default(),
                        plan.file.clone(),
                    ))
                })
                .collect(),
        })
        .collect()
}

/// One line of access-path diff: `Seq Scan on Message → Index Scan using
/// Message_conversationId_idx on Message`.
pub(super) fn plan_diff(before: Option<&PlanRef>, after: Option<&PlanRef>) -> String {
    match (before, after) {
        (Some(b), Some(a)) if paths(b) == paths(a) => format!("unchanged: {}", paths(a)),
        (Some(b), Some(a)) => format!("{} → {}", paths(b), paths(a)),
        (Some(p), None) | (None, Some(p)) => paths(p),
        (None, None) => "no plan captured".into(),
    }
}

/// A plan's access paths on one line.
fn paths(p: &PlanRef) -> String {
    let v = p.summary.access_paths();
    if v.is_empty() {
        "no table scan".to_string()
    } else {
        v.join(", ")
    }
}

fn key(n: &NodeSummary) -> (&str, Option<&str>, Option<&str>) {
    (&n.node_type, n.relation.as_deref(), n.index.as_deref())
}

/// The tree of `p`; nodes `other` lacks are tagged [`ONLY_HERE`].
pub fn tree(p: &PlanRef, other: Option<&PlanRef>) -> Tree {
    let s: &PlanSummary = &p.summary;
    let total = s.nodes.first().map_or(0.0, |n| n.actual_ms).max(1e-9);
    let unit = TimeUnit::for_column([total]);
    let hot = s.hot_node();
    let others: Vec<_> = other
        .map(|o| o.summary.nodes.iter().map(key).collect())
        .unwrap_or_default();
    Tree {
        state: p.state.to_string(),
        kind: p.kind.map(|k| k.as_str().to_string()).unwrap_or_default(),
        file: p.file.clone(),
        execution: format!(
            "planning {}, execution {} (server)",
            unit.fmt(s.planning_ms),
            unit.fmt(s.execution_ms)
        ),
        nodes: (0..s.nodes.len())
            .map(|i| {
                let n = &s.nodes[i];
                NodeView {
                    indent: n.depth,
                    node_type: n.node_type.clone(),
                    relation: n.relation.clone().unwrap_or_default(),
                    index: n.index.clone().unwrap_or_default(),
                    rows: rows_text(n),
                    misestimate: s.misestimate(i).map(misestimate_text),
                    exclusive: unit.fmt(s.exclusive_ms(i)),
                    share: pct(s.exclusive_ms(i) / total),
                    total: unit.fmt(n.actual_ms),
                    buffers: format!(
                        "buffers hit {} / read {}",
                        thousands(n.shared_hit),
                        thousands(n.shared_read)
                    ),
                    detail: n.detail.clone(),
                    hot: hot == Some(i) && s.nodes.len() > 1,
                    only_here: other.is_some() && !others.contains(&key(n)),
                }
            })
            .collect(),
    }
}

fn rows_text(n: &NodeSummary) -> String {
    let r = |x: f64| thousands(x.max(0.0).round() as u64);
    let loops = if n.loops > 1.0 {
        format!(" over {} loops", r(n.loops))
    } else {
        String::new()
    };
    format!(
        "rows: estimated {}, actual {}{loops}",
        r(n.estimated_rows),
        r(n.actual_rows)
    )
}

fn misestimate_text(ratio: f64) -> String {
    if ratio > 1.0 {
        format!("{} more rows than estimated", factor(ratio))
    } else {
        format!("{} fewer rows than estimated", factor(1.0 / ratio))
    }
}

/// `r` with each plan summarised again from the server's raw JSON in the
/// run folder, where it is there: older runs stored no node details, and
/// the raw plan is the source of truth.
pub(super) fn with_raw_plans(r: &Results, dir: &Path) -> Results {
    let mut r = r.clone();
    let shown = r.parameters_shown;
    for q in r.queries.iter_mut().chain(r.writes.iter_mut()) {
        // A summary stored with node details stays: its parameter values
        // may be masked, and the raw file holds them as they are.
        let masked = !shown && !q.params.is_empty();
        for p in &mut q.plans {
            if masked || p.summary.nodes.iter().any(|n| !n.detail.is_empty()) {
                continue;
            }
            let raw = std::fs::read_to_string(dir.join(&p.file)).ok();
            if let Some(plan) = raw.and_then(|t| Plan::from_json(&t).ok()) {
                if plan.root().is_some() {
                    p.summary = PlanSummary::of(&plan);
                }
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::IndexState;

    fn plan_ref(state: IndexState, json: &str) -> PlanRef {
        PlanRef {
            state,
            file: "plans/q.json".into(),
            summary: PlanSummary::of(&Plan::from_json(json).unwrap()),
            param: None,
            kind: None,
        }
    }

    const SEQ: &str = r#"[{"Plan": {"Node Type": "Limit", "Plan Rows": 50, "Actual Rows": 50,
        "Actual Loops": 1, "Actual Total Time": 30.0,
        "Plans": [{"Node Type": "Sort", "Plan Rows": 5000, "Actual Rows": 50, "Actual Loops": 1,
          "Actual Total Time": 29.0, "Sort Method": "top-N heapsort", "Sort Space Used": 40,
          "Sort Space Type": "Memory",
          "Plans": [{"Node Type": "Seq Scan", "Relation Name": "Message", "Plan Rows": 5000,
            "Actual Rows": 100, "Actual Loops": 1, "Actual Total Time": 20.0,
            "Filter": "(role = 'agent')", "Rows Removed by Filter": 4900}]}]}}]"#;
    const IDX: &str = r#"[{"Plan": {"Node Type": "Limit", "Plan Rows": 50, "Actual Rows": 50,
        "Actual Loops": 1, "Actual Total Time": 0.2,
        "Plans": [{"Node Type": "Index Scan", "Relation Name": "Message",
          "Index Name": "Message_conversationId_idx", "Plan Rows": 5000, "Actual Rows": 50,
          "Actual Loops": 1, "Actual Total Time": 0.15, "Index Cond": "(\"conversationId\" = $1)"}]}}]"#;

    #[test]
    fn nodes_show_their_own_time_the_hot_node_and_details() {
        let before = plan_ref(IndexState::Without, SEQ);
        let after = plan_ref(IndexState::With, IDX);
        let t = tree(&before, Some(&after));
        assert_eq!(t.nodes[2].exclusive, "20.00 ms");
        assert_eq!(t.nodes[1].exclusive, "9.000 ms");
        assert_eq!(t.nodes[2].share, "66.7%");
        assert!(t.nodes[2].hot && !t.nodes[1].hot);
        assert!(t.nodes[2].only_here && !t.nodes[0].only_here);
        assert_eq!(
            t.nodes[2].misestimate.as_deref(),
            Some("50.0× fewer rows than estimated")
        );
        assert_eq!(t.nodes[1].misestimate, None, "stopped early by the Limit");
        assert!(t.nodes[2]
            .detail
            .contains(&("rows removed by filter".into(), "4900".into())));
        let a = tree(&after, Some(&before));
        assert_eq!(
            a.nodes[1].exclusive, "150.0 µs",
            "µs: the plan took under 1 ms"
        );
        assert_eq!(a.nodes[1].misestimate, None, "the Limit stopped the scan");
        assert_eq!(
            plan_diff(Some(&before), Some(&after)),
            "Seq Scan on Message → Index Scan using Message_conversationId_idx on Message"
        );
        assert_eq!(
            plan_diff(Some(&after), Some(&after)),
            "unchanged: Index Scan using Message_conversationId_idx on Message"
        );
    }
}
