//! Conclusions drawn from a run's measurements, each with the numbers that
//! back it: prefix-redundant indexes, indexes no catalogue plan uses, indexes
//! whose removal slows nothing, the migration's lock time, and plan-assertion
//! violations.

use crate::report::{Finding, Results};
use crate::schema::{IndexDef, Migration};

/// A leave-one-out slowdown below this is noise. Criterion calls changes under
/// 1% noise and also demands significance; 40 in-process samples are noisier,
/// so the bar here is 5%.
pub const NOISE: f64 = 0.05;

/// Derives every finding from the measured results.
pub fn findings(r: &Results, m: &Migration, with_state: &str) -> Vec<Finding> {
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
                kind: "prefix-redundant".into(),
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
                    kind: "unused".into(),
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
                kind: "no-slowdown-when-dropped".into(),
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
                    kind: "no-slowdown-when-dropped".into(),
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
            kind: "lock".into(),
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
    for v in &r.violations {
        out.push(Finding {
            kind: "violation".into(),
            index: None,
            message: format!("plan assertion broken: {} in {}", v.query, v.state),
            evidence: v.message.clone(),
        });
    }
    out
}

fn cols(ix: &IndexDef) -> String {
    ix.columns.join(", ")
}
