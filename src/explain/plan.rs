//! Reading PostgreSQL's `EXPLAIN (FORMAT JSON)` output: walking the node tree
//! and pulling out what a reviewer asks first, such as which indexes a plan uses.

use serde_json::Value;

use crate::error::{Context, Result};

/// One plan as the server returned it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The server's JSON, unchanged.
    pub raw: Value,
}

impl Plan {
    /// Parses the text of one `EXPLAIN (FORMAT JSON)` result.
    pub fn from_json(text: &str) -> Result<Plan> {
        let raw: Value = serde_json::from_str(text).context("parsing EXPLAIN output")?;
        Ok(Plan { raw })
    }

    /// The statement's `Query Identifier` (with VERBOSE, from PostgreSQL 14
    /// on, when `compute_query_id` is on): a signed 64-bit number, as in
    /// `pg_stat_statements.queryid`, read exactly.
    pub fn query_id(&self) -> Option<i64> {
        self.raw.get(0)?.get("Query Identifier")?.as_i64()
    }

    /// The top plan node.
    pub fn root(&self) -> Option<&Value> {
        self.raw.get(0)?.get("Plan")
    }

    /// Every node, depth first, with its depth.
    pub fn nodes(&self) -> Vec<(usize, &Value)> {
        let mut out = Vec::new();
        if let Some(root) = self.root() {
            walk(root, 0, &mut out);
        }
        out
    }

    /// The rows the planner expects the query to produce before any `LIMIT`
    /// stops it: the estimate of the first node below the Limit nodes on
    /// top (the whole result when there are none). This is how selective a
    /// parameter is: a tenant with a million rows against one with ten.
    pub fn result_estimate(&self) -> Option<f64> {
        let mut node = self.root()?;
        while node.get("Node Type").and_then(Value::as_str) == Some("Limit") {
            match node
                .get("Plans")
                .and_then(Value::as_array)
                .and_then(|c| c.first())
            {
                Some(child) => node = child,
                None => break,
            }
        }
        node.get("Plan Rows").and_then(Value::as_f64)
    }

    /// The distinct index names the plan touches, in plan order.
    pub fn indexes_used(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (_, node) in self.nodes() {
            if let Some(n) = node.get("Index Name").and_then(Value::as_str) {
                if !names.iter().any(|x| x == n) {
                    names.push(n.to_string());
                }
            }
        }
        names
    }
}

fn walk<'a>(node: &'a Value, depth: usize, out: &mut Vec<(usize, &'a Value)>) {
    out.push((depth, node));
    if let Some(children) = node.get("Plans").and_then(Value::as_array) {
        for c in children {
            walk(c, depth + 1, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_index_names() {
        let plan = Plan::from_json(
            r#"[{"Plan": {"Node Type": "Limit", "Plans": [
                {"Node Type": "Index Scan", "Index Name": "a_idx", "Relation Name": "A"},
                {"Node Type": "Bitmap Heap Scan", "Plans": [
                    {"Node Type": "Bitmap Index Scan", "Index Name": "b_idx"}]}]}}]"#,
        )
        .unwrap();
        assert_eq!(plan.indexes_used(), ["a_idx", "b_idx"]);
        assert_eq!(plan.nodes().len(), 4);
        assert_eq!(plan.nodes()[3].0, 2);
    }

    #[test]
    fn the_result_estimate_is_read_below_the_limit() {
        let plan = Plan::from_json(
            r#"[{"Plan": {"Node Type": "Limit", "Plan Rows": 50, "Plans": [
                {"Node Type": "Index Scan", "Plan Rows": 41234.0}]}}]"#,
        )
        .unwrap();
        assert_eq!(plan.result_estimate(), Some(41234.0));
        let agg =
            Plan::from_json(r#"[{"Plan": {"Node Type": "Aggregate", "Plan Rows": 3}}]"#).unwrap();
        assert_eq!(agg.result_estimate(), Some(3.0));
    }
}
