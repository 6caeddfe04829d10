//! The parameter rows a query is timed and explained with: a small set
//! drawn from its sample pool, stratified by the result size the planner
//! expects for each row (`EXPLAIN` without ANALYZE, before any `LIMIT`).
//! Real data is skewed: the largest tenant's inbox and a small one's can
//! take different plans and gain differently from an index, and a median
//! over a rotating pool hides both. So every query is timed and explained
//! at the smallest, the quartiles, the median and the largest expected
//! result, each row timed on its own.

use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::plan::Plan;
use crate::cluster::{transaction, Begin, End};
use crate::error::Result;
use crate::queries::{as_sql, read_error, ParamPool, Query};

/// Where the strata sit among the pool's rows ordered by expected result
/// size, and what each is called; in the order they are claimed when
/// rows are few, so the extremes and the median come first.
const STRATA: [(f64, &str); 5] = [
    (0.0, "smallest"),
    (1.0, "largest"),
    (0.5, "median"),
    (0.25, "lower quartile"),
    (0.75, "upper quartile"),
];

/// The label of the one row of a query without parameters, or of one
/// timed as a miss.
pub const ONLY: &str = "only";

/// The label of the middle stratum, whose plan stands for the query.
pub const MEDIAN: &str = "median";

/// One parameter row of the stratified set.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRow {
    /// Its stratum: `smallest`, `lower quartile`, `median`, `upper
    /// quartile`, `largest`; [`ONLY`] when there is one row.
    pub label: &'static str,
    pub values: Vec<Option<String>>,
    /// The rows the planner expects before any `LIMIT`.
    pub estimated_rows: Option<f64>,
}

/// The stratified rows of `q`'s pool, smallest expected result first; one
/// row for a query without parameters or timed as a miss.
pub async fn stratify(client: &Client, q: &Query, pool: &ParamPool) -> Result<Vec<ParamRow>> {
    if q.params == 0 || pool.miss.is_some() {
        return Ok(vec![ParamRow {
            label: ONLY,
            values: pool.first().to_vec(),
            estimated_rows: None,
        }]);
    }
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    for r in &pool.rows {
        if !rows.contains(r) {
            rows.push(r.clone());
        }
    }
    let doing = format!("estimating the result of {} per parameter row", q.name);
    let estimates = transaction(client, Begin::ReadOnly, End::RollBack, &doing, async |c| {
        let sql = format!("EXPLAIN (FORMAT JSON) {}", q.statements[0]);
        let st = c
            .prepare_typed(&sql, &vec![Type::TEXT; q.params])
            .await
            .map_err(|e| read_error(&q.name, doing.clone(), e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let row = c
                .query_one(&st, &as_sql(r, q.params))
                .await
                .map_err(|e| read_error(&q.name, doing.clone(), e))?;
            let text = row.get::<_, super::JsonText>(0).0;
            out.push(Plan::from_json(&text)?.result_estimate());
        }
        Ok(out)
    })
    .await?;
    Ok(pick(rows, estimates))
}

/// The rows at each stratum of the rows ordered by estimate (ties keep
/// the pool's order), each row once.
fn pick(rows: Vec<Vec<Option<String>>>, estimates: Vec<Option<f64>>) -> Vec<ParamRow> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (estimates[a].unwrap_or(0.0), estimates[b].unwrap_or(0.0));
        x.total_cmp(&y)
    });
    let last = order.len().saturating_sub(1);
    let mut out: Vec<(usize, &'static str)> = Vec::new();
    for (q, label) in STRATA {
        let at = (q * last as f64).round() as usize;
        if !out.iter().any(|(j, _)| *j == at) {
            out.push((at, label));
        }
    }
    out.sort_by_key(|(at, _)| *at);
    if out.len() == 1 {
        out[0].1 = ONLY;
    }
    out.into_iter()
        .map(|(at, label)| ParamRow {
            label,
            values: rows[order[at]].clone(),
            estimated_rows: estimates[order[at]],
        })
        .collect()
}

/// The row whose plan stands for the query: the median stratum, else the
/// middle one.
pub fn representative(rows: &[ParamRow]) -> &ParamRow {
    rows.iter()
        .find(|r| r.label == MEDIAN || r.label == ONLY)
        .unwrap_or(&rows[rows.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(s: &str) -> Vec<Option<String>> {
        vec![Some(s.to_string())]
    }

    #[test]
    fn strata_go_from_the_smallest_expected_result_to_the_largest() {
        let rows: Vec<_> = (0..9).map(|i| row(&format!("t{i}"))).collect();
        let est = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0]
            .map(Some)
            .to_vec();
        let picked = pick(rows, est);
        let got: Vec<(&str, f64)> = picked
            .iter()
            .map(|r| (r.label, r.estimated_rows.unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("smallest", 1.0),
                ("lower quartile", 3.0),
                ("median", 5.0),
                ("upper quartile", 7.0),
                ("largest", 9.0)
            ]
        );
        assert_eq!(representative(&picked).label, MEDIAN);
    }

    #[test]
    fn few_rows_are_each_taken_once() {
        let picked = pick(vec![row("a"), row("b")], vec![Some(10.0), Some(1.0)]);
        let labels: Vec<&str> = picked.iter().map(|r| r.label).collect();
        assert_eq!(labels, ["smallest", "largest"]);
        let one = pick(vec![row("a")], vec![Some(3.0)]);
        assert_eq!(one[0].label, ONLY);
        assert_eq!(representative(&one).values, row("a"));
    }
}
