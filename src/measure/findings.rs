//! Conclusions drawn from a run's measurements that are not about one index,
//! each with the numbers that back it: the migration's lock time, queries
//! that still grow with the table, and plan-assertion violations. What each
//! index deserves is its recommendation (`recommend.rs`), one line each.

use crate::results::{Finding, FindingKind, Results};
use crate::schema::{IndexState, Migration};

/// Derives the findings that are not about one index (those are the
/// recommendations, one line each): the migration's locks, queries that
/// still grow with the table, and plan-assertion violations.
pub fn findings(r: &Results, m: &Migration) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(mc) = &r.migration_cost {
        let slowest = mc
            .statements
            .iter()
            .max_by(|a, b| a.duration.cmp(&b.duration));
        out.push(Finding {
            kind: FindingKind::Lock,
            index: None,
            message: format!(
                "applying {} holds its locks for {:.0} ms {}: ALTER TABLE takes ACCESS EXCLUSIVE on the altered tables and every CREATE INDEX a SHARE lock, all kept until COMMIT",
                m.name, mc.lock_held_ms, r.where_measured()
            ),
            evidence: format!(
                "wall time {:.0} ms; slowest statement {:.0} ms: {}",
                mc.wall_ms,
                slowest.map(|s| s.duration.as_secs_f64() * 1e3).unwrap_or(0.0),
                slowest.map(|s| s.statement.as_str()).unwrap_or("")
            ),
        });
    }
    out.extend(scaling(r));
    for v in &r.violations {
        out.push(Finding {
            kind: FindingKind::Violation,
            index: None,
            message: format!("plan assertion broken: {} {}", v.query, v.state),
            evidence: v.message.clone(),
        });
    }
    out
}

/// Queries whose latency with the indexes still grows faster than the square
/// root of the row count across the sweep: the indexes find the rows but do
/// not serve the query's order or limit, so it degrades as the table grows.
fn scaling(r: &Results) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut names: Vec<&str> = r.sweep.iter().map(|p| p.query.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for q in names {
        let mut pts: Vec<_> = r
            .sweep
            .iter()
            .filter(|p| p.query == q && p.state == IndexState::With && p.rows > 0)
            .collect();
        pts.sort_by_key(|p| p.rows);
        let (Some(lo), Some(hi)) = (pts.first(), pts.last()) else {
            continue;
        };
        if hi.rows <= lo.rows * 10 {
            continue;
        }
        let rows = hi.rows as f64 / lo.rows as f64;
        let time = hi.median_ms / lo.median_ms.max(1e-9);
        if time > rows.sqrt() {
            out.push(Finding {
                kind: FindingKind::ScalesWithTable,
                index: None,
                message: format!(
                    "{q} still grows with the table with the indexes: {:.0}x the rows cost {:.0}x the time",
                    rows, time
                ),
                evidence: format!(
                    "{} at {} rows ({}) against {} at {} rows ({}); unless it must read every row, an index matching both its filter and its ORDER BY would keep it flat",
                    crate::format::ms(lo.median_ms),
                    lo.rows,
                    lo.scale,
                    crate::format::ms(hi.median_ms),
                    hi.rows,
                    hi.scale
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::SweepPoint;

    fn point(query: &str, scale: &str, rows: u64, ms: f64) -> SweepPoint {
        SweepPoint {
            scale: scale.into(),
            rows,
            query: query.into(),
            state: IndexState::With,
            median_ms: ms,
            top_node: "Index Scan".into(),
        }
    }

    #[test]
    fn flags_queries_that_grow_with_the_table_despite_the_indexes() {
        let mut r =
            Results::parse(include_str!("../../tests/data/run/results.json"), "test").unwrap();
        r.sweep = vec![
            point("flat", "tiny", 2_000, 0.1),
            point("flat", "medium", 1_000_000, 0.12),
            point("linear", "tiny", 2_000, 0.2),
            point("linear", "medium", 1_000_000, 120.0),
        ];
        let m = Migration::builtin().unwrap();
        let f = scaling(&r);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.starts_with("linear still grows"));
        assert!(findings(&r, &m)
            .iter()
            .any(|x| x.kind == FindingKind::ScalesWithTable));
    }
}
