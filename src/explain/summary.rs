//! A plan reduced to what a reviewer reads first: node types, relations and
//! indexes, estimated against actual rows (misestimates flagged), time per
//! node, buffers, planning and execution time. Also the plan assertions of
//! the catalogue.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::plan::Plan;
use crate::schema::IndexState;

/// An estimate off by more than this factor either way is flagged.
pub const MISESTIMATE_FACTOR: f64 = 10.0;

/// One plan node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeSummary {
    pub depth: usize,
    pub node_type: String,
    pub relation: Option<String>,
    pub index: Option<String>,
    pub estimated_rows: f64,
    /// Actual rows over all loops.
    pub actual_rows: f64,
    pub loops: f64,
    /// Actual total time of the node over all loops, in ms (includes
    /// children); under a Gather, the per-worker time, since workers run at once.
    pub actual_ms: f64,
    pub shared_hit: u64,
    pub shared_read: u64,
    /// True when the estimate is off by more than [`MISESTIMATE_FACTOR`].
    pub misestimated: bool,
}

/// One plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanSummary {
    pub top_node: String,
    pub nodes: Vec<NodeSummary>,
    pub relations: Vec<String>,
    pub indexes_used: Vec<String>,
    pub planning_ms: f64,
    pub execution_ms: f64,
    pub shared_hit: u64,
    pub shared_read: u64,
}

impl PlanSummary {
    /// Summarises an `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` plan.
    pub fn of(plan: &Plan) -> PlanSummary {
        let f = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let u = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        // Under a Gather, "Actual Loops" counts parallel workers running at the
        // same time, so a node's wall time is its per-loop time, not the sum.
        let mut gather: Option<usize> = None;
        let nodes: Vec<NodeSummary> = plan
            .nodes()
            .into_iter()
            .map(|(depth, n)| {
                if gather.is_some_and(|g| depth <= g) {
                    gather = None;
                }
                let parallel = gather.is_some();
                if s(n, "Node Type").is_some_and(|t| t.starts_with("Gather")) {
                    gather = Some(depth);
                }
                let loops = f(n, "Actual Loops").max(1.0);
                let time_loops = if parallel { 1.0 } else { loops };
                let estimated = f(n, "Plan Rows") * loops;
                let actual = f(n, "Actual Rows") * loops;
                let ratio = (actual.max(1.0)) / (estimated.max(1.0));
                NodeSummary {
                    depth,
                    node_type: s(n, "Node Type").unwrap_or_default(),
                    relation: s(n, "Relation Name"),
                    index: s(n, "Index Name"),
                    estimated_rows: estimated,
                    actual_rows: actual,
                    loops,
                    actual_ms: f(n, "Actual Total Time") * time_loops,
                    shared_hit: u(n, "Shared Hit Blocks"),
                    shared_read: u(n, "Shared Read Blocks"),
                    misestimated: !(1.0 / MISESTIMATE_FACTOR..=MISESTIMATE_FACTOR).contains(&ratio),
                }
            })
            .collect();
        let top = plan.raw.get(0);
        let root = plan.root();
        let mut relations: Vec<String> = Vec::new();
        for r in nodes.iter().filter_map(|n| n.relation.clone()) {
            if !relations.contains(&r) {
                relations.push(r);
            }
        }
        PlanSummary {
            top_node: nodes
                .first()
                .map(|n| n.node_type.clone())
                .unwrap_or_default(),
            relations,
            indexes_used: plan.indexes_used(),
            planning_ms: top.map(|t| f(t, "Planning Time")).unwrap_or(0.0),
            execution_ms: top.map(|t| f(t, "Execution Time")).unwrap_or(0.0),
            shared_hit: root.map(|r| u(r, "Shared Hit Blocks")).unwrap_or(0),
            shared_read: root.map(|r| u(r, "Shared Read Blocks")).unwrap_or(0),
            nodes,
        }
    }
}

/// A plan that breaks the catalogue's expectation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Violation {
    pub query: String,
    pub state: IndexState,
    pub message: String,
}

/// Checks one plan: with the migration's indexes, the plan must use one of
/// `expected` (when any is given); without them, it must use none of `all`.
/// Other states (leave-one-out, as found) have no expectation.
pub fn check(
    query: &str,
    state: &IndexState,
    expected: &[String],
    all: &[String],
    summary: &PlanSummary,
) -> Option<Violation> {
    let used = &summary.indexes_used;
    let with_indexes = match state {
        IndexState::With => true,
        IndexState::Without => false,
        IndexState::LeaveOut(_) | IndexState::AsFound => return None,
    };
    let message =
        if with_indexes && !expected.is_empty() && !used.iter().any(|u| expected.contains(u)) {
            format!(
                "expected {} but the plan used {}",
                expected.join(" or "),
                if used.is_empty() {
                    "no index".to_string()
                } else {
                    used.join(", ")
                }
            )
        } else if !with_indexes {
            let stray: Vec<&String> = used.iter().filter(|u| all.contains(u)).collect();
            if stray.is_empty() {
                return None;
            }
            format!(
                "uses {:?} although the migration's indexes are dropped",
                stray
            )
        } else {
            return None;
        };
    Some(Violation {
        query: query.to_string(),
        state: state.clone(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"[{"Plan": {"Node Type": "Limit", "Plan Rows": 50, "Actual Rows": 50,
        "Actual Loops": 1, "Actual Total Time": 0.5, "Shared Hit Blocks": 12, "Shared Read Blocks": 3,
        "Plans": [{"Node Type": "Index Scan", "Relation Name": "Conversation",
                   "Index Name": "Conversation_status_idx", "Plan Rows": 5000, "Actual Rows": 50,
                   "Actual Loops": 1, "Actual Total Time": 0.4}]},
        "Planning Time": 0.2, "Execution Time": 0.6}]"#;

    #[test]
    fn summarises_nodes_and_flags_misestimates() {
        let s = PlanSummary::of(&Plan::from_json(PLAN).unwrap());
        assert_eq!(s.top_node, "Limit");
        assert_eq!(s.indexes_used, ["Conversation_status_idx"]);
        assert_eq!(s.relations, ["Conversation"]);
        assert_eq!((s.shared_hit, s.shared_read), (12, 3));
        assert_eq!(s.execution_ms, 0.6);
        assert!(!s.nodes[0].misestimated);
        assert!(s.nodes[1].misestimated, "5000 estimated vs 50 actual");
    }

    #[test]
    fn parallel_workers_do_not_add_up_time() {
        let plan = Plan::from_json(
            r#"[{"Plan": {"Node Type": "Gather Merge", "Actual Loops": 1, "Actual Total Time": 100.0,
                "Plans": [{"Node Type": "Sort", "Actual Loops": 3, "Actual Total Time": 95.0,
                  "Plans": [{"Node Type": "Seq Scan", "Actual Loops": 3, "Actual Total Time": 90.0}]}]}}]"#,
        )
        .unwrap();
        let s = PlanSummary::of(&plan);
        assert_eq!(s.nodes[1].actual_ms, 95.0);
        assert_eq!(s.nodes[2].actual_ms, 90.0);
        let nested = Plan::from_json(
            r#"[{"Plan": {"Node Type": "Nested Loop", "Actual Loops": 1, "Actual Total Time": 5.0,
                "Plans": [{"Node Type": "Index Scan", "Actual Loops": 10, "Actual Total Time": 0.4}]}}]"#,
        )
        .unwrap();
        assert_eq!(PlanSummary::of(&nested).nodes[1].actual_ms, 4.0);
    }

    #[test]
    fn assertions() {
        let s = PlanSummary::of(&Plan::from_json(PLAN).unwrap());
        let all = vec!["Conversation_status_idx".to_string()];
        assert!(check("q", &IndexState::With, &all, &all, &s).is_none());
        let other = vec!["Message_role_idx".to_string()];
        let v = check("q", &IndexState::With, &other, &all, &s).unwrap();
        assert!(v.message.contains("expected Message_role_idx"));
        assert!(check("q", &IndexState::Without, &other, &all, &s).is_some());
    }
}
