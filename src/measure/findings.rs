//! Conclusions drawn from a run's measurements, each with the numbers that
//! back it: prefix-redundant indexes, indexes no catalogue plan uses, indexes
//! whose removal slows nothing, the migration's lock time, and plan-assertion
//! violations.

use crate::report::{Finding, FindingKind, Results, NOISE};
use crate::schema::{IndexDef, IndexState, Migration};

/// Derives every finding from the measured results.
pub fn findings(r: &Results, m: &Migration) -> Vec<Finding> {
    let with_state = &IndexState::With;
    let mut out = Vec::new();
    let mb = |name: &str| {
        r.index_costs
            .iter()
            .find(|c| c.name == name)
            .map(|c| format!("{:.1} MB", c.size_bytes as f64 / 1e6))
            .unwrap_or_else(|| "size not measured".into())
    };
    let users_of = |name: &str| -> Vec<String> {
        r.queries
            .iter()
            .filter(|q| {
                q.plan(with_state)
                    .is_some_and(|p| p.summary.indexes_used.iter().any(|i| i == name))
            })
            .map(|q| q.name.clone())
            .collect()
    };
    // The worst slowdown among the queries whose plan used the index.
    let worst = |name: &str| {
        r.ablation
            .iter()
            .filter(|c| c.dropped == name && c.used)
            .max_by(|a, b| a.slowdown.total_cmp(&b.slowdown))
    };
    let ablated = |name: &str| r.ablation.iter().any(|c| c.dropped == name);
    for a in m.indexes() {
        for b in m.indexes().iter().filter(|b| a.is_prefix_of(b)) {
            let used = users_of(&a.name);
            out.push(Finding {
                kind: FindingKind::PrefixRedundant,
                index: Some(a.name.clone()),
                message: format!(
                    "{} ({}) is a prefix of {} ({}): every lookup it serves, the wider index serves too",
                    a.name,
                    cols(a),
                    b.name,
                    cols(b)
                ),
                evidence: format!(
                    "sizes {} vs {}; catalogue plans using {}: {}{}",
                    mb(&a.name),
                    mb(&b.name),
                    a.name,
                    if used.is_empty() { "none".into() } else { used.join(", ") },
                    worst(&a.name)
                        .map(|c| format!("; dropping it slows {} by {:.2}x", c.query, c.slowdown))
                        .unwrap_or_default()
                ),
            });
        }
    }
    if r.queries.iter().any(|q| q.plan(with_state).is_some()) {
        for ix in m.indexes() {
            if users_of(&ix.name).is_empty() {
                let cost = r.index_costs.iter().find(|c| c.name == ix.name);
                out.push(Finding {
                    kind: FindingKind::Unused,
                    index: Some(ix.name.clone()),
                    message: format!("no catalogue plan uses {} at scale {}", ix.name, r.scale),
                    evidence: match cost {
                        Some(c) => format!(
                            "{} plans checked with all indexes; it costs {} and {:.0} inserts/s with it against {:.0} without",
                            r.queries.len(),
                            mb(&ix.name),
                            c.inserts_per_s_with,
                            c.inserts_per_s_without
                        ),
                        None => format!("{} plans checked with all indexes", r.queries.len()),
                    },
                });
            }
        }
    }
    for ix in m.indexes() {
        if ablated(&ix.name) && worst(&ix.name).is_none() {
            out.push(Finding {
                kind: FindingKind::NoSlowdownWhenDropped,
                index: Some(ix.name.clone()),
                message: format!(
                    "dropping {} alone (keeping the other indexes) slows no catalogue query",
                    ix.name
                ),
                evidence: "no catalogue plan used it, so no plan can change without it".into(),
            });
        }
        if let Some(c) = worst(&ix.name) {
            if c.slowdown <= 1.0 + NOISE {
                out.push(Finding {
                    kind: FindingKind::NoSlowdownWhenDropped,
                    index: Some(ix.name.clone()),
                    message: format!(
                        "dropping {} alone (keeping the other indexes) slows no catalogue query beyond {:.0}%",
                        ix.name,
                        NOISE * 100.0
                    ),
                    evidence: format!(
                        "worst: {} at {:.3} ms against {:.3} ms with every index ({:.2}x){}",
                        c.query,
                        c.median_ms,
                        c.with_all_ms,
                        c.slowdown,
                        if c.plan_changed { ", plan changed" } else { ", same plan" }
                    ),
                });
            }
        }
    }
    if let Some(mc) = &r.migration_cost {
        let slowest = mc
            .statements
            .iter()
            .max_by(|a, b| a.duration.cmp(&b.duration));
        out.push(Finding {
            kind: FindingKind::Lock,
            index: None,
            message: format!(
                "applying {} holds its locks for {:.0} ms at scale {}: ALTER TABLE takes ACCESS EXCLUSIVE on the altered tables and every CREATE INDEX a SHARE lock, all kept until COMMIT",
                m.name, mc.lock_held_ms, r.scale
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
                    crate::report::format_ms(lo.median_ms),
                    lo.rows,
                    lo.scale,
                    crate::report::format_ms(hi.median_ms),
                    hi.rows,
                    hi.scale
                ),
            });
        }
    }
    out
}

fn cols(ix: &IndexDef) -> String {
    ix.columns.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::SweepPoint;

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
