//! The report's view model: `results.json` turned into the rows, trees,
//! cells and chart lines the templates print, with every number already
//! formatted with its unit. Templates only lay it out.

use serde::Serialize;

use super::before_after::{before_after, change_pct, verdict_text, BeforeAfter};
use super::format::{bytes, factor, ms, pct, rate};
use super::results::{PlanRef, QueryResult, Results, NOISE};
use crate::explain::PlanSummary;
use crate::schema::IndexState;

/// A query counts as faster when its speed-up is above this.
pub const FASTER: f64 = 1.1;

#[derive(Debug, Serialize)]
pub struct Page {
    pub title: String,
    pub verdict: Verdict,
    pub rows: Vec<Row>,
    pub writes: Vec<Row>,
    pub plans: Vec<PlanPair>,
    pub costs: Vec<CostRow>,
    pub hot: Option<String>,
    pub heatmap: Option<Heatmap>,
    pub chart: Option<super::chart::Chart>,
    pub env: Vec<(String, String)>,
    pub settings: Vec<(String, String)>,
    pub durability_note: Option<String>,
    pub migration_name: String,
    pub migration_file: String,
    pub migration_sql: String,
    pub migration_cost: Option<MigrationView>,
    pub criterion: Vec<Link>,
    pub with_state: String,
    pub without_state: String,
    /// Set for a filtered run: what it holds and what it left out.
    pub partial: Option<String>,
    /// Set for a run compared with a named baseline.
    pub before_after: Option<BeforeAfter>,
    /// Catalogue queries the database could not run as found, with the
    /// server's reason; they were not measured.
    pub not_runnable: Vec<crate::queries::NotRunnable>,
    /// A user's database: the migration's state as found (`base`,
    /// `migrated`, ...).
    pub database_state: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Verdict {
    pub faster: usize,
    pub total: usize,
    pub geomean: String,
    pub index_size: String,
    pub worst_write: String,
    pub findings: Vec<FindingView>,
}

#[derive(Debug, Serialize)]
pub struct FindingView {
    pub kind: String,
    pub message: String,
    pub evidence: String,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub name: String,
    pub anchor: String,
    pub screen: String,
    pub without: String,
    pub without_ci: String,
    pub with: String,
    pub with_ci: String,
    pub speedup: String,
    pub speedup_value: f64,
    pub change: String,
    pub index_used: String,
    pub top_before: String,
    pub top_after: String,
    /// Filter columns without statistics, and what that means.
    pub stats_note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PlanPair {
    pub name: String,
    pub anchor: String,
    pub sql: String,
    pub before: Option<Tree>,
    pub after: Option<Tree>,
}

#[derive(Debug, Serialize)]
pub struct Tree {
    pub state: String,
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
    pub time: String,
    pub share: String,
    pub buffers: String,
    /// Not in the other plan (by type, relation and index).
    pub changed: bool,
}

#[derive(Debug, Serialize)]
pub struct CostRow {
    pub name: String,
    pub table: String,
    pub size: String,
    pub build: String,
    pub build_concurrently: String,
    pub inserts: String,
    pub insert_overhead: String,
    pub wal: String,
    pub hot: String,
}

#[derive(Debug, Serialize)]
pub struct Heatmap {
    pub indexes: Vec<String>,
    pub rows: Vec<HeatRow>,
}

#[derive(Debug, Serialize)]
pub struct HeatRow {
    pub query: String,
    pub cells: Vec<HeatCell>,
}

#[derive(Debug, Serialize)]
pub struct HeatCell {
    pub text: String,
    /// `none`, `low`, `mid`, `high`: the colour, backed by the text.
    pub level: String,
    pub title: String,
}

#[derive(Debug, Serialize)]
pub struct MigrationView {
    pub wall: String,
    pub lock_held: String,
    pub statements: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
pub struct Link {
    pub label: String,
    pub href: String,
}

/// Builds the page for one run; `baseline` is the run that saved the
/// baseline it was compared with, when there is one.
pub fn page(r: &Results, baseline: Option<&Results>) -> Page {
    let with_state = measured(r, IndexState::With);
    let without_state = measured(r, IndexState::Without);
    let mut rows: Vec<Row> = r
        .queries
        .iter()
        .map(|q| row(q, &with_state, &without_state))
        .collect();
    rows.sort_by(|a, b| b.speedup_value.total_cmp(&a.speedup_value));
    // For writes the question is how much longer they take with the indexes.
    let writes = r
        .writes
        .iter()
        .map(|q| {
            let mut w = row(q, &with_state, &without_state);
            w.speedup = q
                .speedup
                .map(|s| factor(1.0 / s.max(1e-9)))
                .unwrap_or_else(|| "n/a".into());
            w
        })
        .collect();
    let speedups: Vec<f64> = r
        .queries
        .iter()
        .filter_map(|q| q.speedup)
        .filter(|s| *s > 0.0)
        .collect();
    let geomean = if speedups.is_empty() {
        "n/a (one index state only)".to_string()
    } else {
        factor((speedups.iter().map(|s| s.ln()).sum::<f64>() / speedups.len() as f64).exp())
    };
    let index_size: u64 = r.index_costs.iter().map(|c| c.size_bytes).sum();
    Page {
        title: format!("{} at scale {}", r.migration.name, r.scale),
        verdict: Verdict {
            faster: speedups.iter().filter(|s| **s > FASTER).count(),
            total: r.queries.len(),
            geomean,
            index_size: if r.index_costs.is_empty() {
                "not measured".into()
            } else {
                bytes(index_size as f64)
            },
            worst_write: worst_write(r),
            findings: r
                .findings
                .iter()
                .map(|f| FindingView {
                    kind: f.kind.as_str().to_string(),
                    message: f.message.clone(),
                    evidence: f.evidence.clone(),
                })
                .collect(),
        },
        rows,
        writes,
        plans: r
            .queries
            .iter()
            .map(|q| PlanPair {
                name: q.name.clone(),
                anchor: anchor(&q.name),
                sql: q.sql.clone(),
                before: q.plan(&without_state).map(|p| tree(p, q.plan(&with_state))),
                after: q.plan(&with_state).map(|p| tree(p, q.plan(&without_state))),
            })
            .collect(),
        costs:
            r.index_costs
                .iter()
                .map(|c| CostRow {
                    name: c.name.clone(),
                    table: c.table.clone(),
                    size: bytes(c.size_bytes as f64),
                    build: ms(c.build_ms),
                    build_concurrently: ms(c.build_concurrently_ms),
                    inserts: format!(
                        "{} with, {} without",
                        rate(c.inserts_per_s_with),
                        rate(c.inserts_per_s_without)
                    ),
                    insert_overhead: pct(
                        1.0 - c.inserts_per_s_with / c.inserts_per_s_without.max(1e-9)
                    ),
                    wal: format!(
                        "{} B with, {} B without",
                        super::format::thousands(c.wal_bytes_per_insert_with.round() as u64),
                        super::format::thousands(c.wal_bytes_per_insert_without.round() as u64)
                    ),
                    hot: match (c.hot_ratio_with, c.hot_ratio_without) {
                        (Some(a), Some(b)) => format!("{} with, {} without", pct(a), pct(b)),
                        _ => "n/a (not an updated table)".into(),
                    },
                })
                .collect(),
        hot: r.hot_updates.as_ref().map(|h| {
            format!(
                concat!(
                    "HOT updates in the status/assignment workload ({} updates each): ",
                    "{} with every index, {} with none"
                ),
                h.updates,
                pct(h.with_all),
                pct(h.without_all)
            )
        }),
        heatmap: heatmap(r),
        chart: super::chart::chart(&r.sweep),
        env: environment(r),
        settings: r
            .environment
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        durability_note: (r.environment.embedded || r.environment.durability_off).then(|| {
            format!(
                concat!(
                    "These numbers come from {} with fsync {}: durability is off, so writes ",
                    "are cheaper than on a production server. Compare states with each other, ",
                    "not with production latencies."
                ),
                if r.environment.embedded {
                    "the tool's embedded PostgreSQL"
                } else {
                    "a server"
                },
                r.environment
                    .settings
                    .get("fsync")
                    .map(String::as_str)
                    .unwrap_or("off")
            )
        }),
        migration_name: r.migration.name.clone(),
        migration_file: r.migration.file.clone(),
        migration_sql: r.migration.sql.clone(),
        migration_cost: r.migration_cost.as_ref().map(|m| MigrationView {
            wall: ms(m.wall_ms),
            lock_held: ms(m.lock_held_ms),
            statements: m
                .statements
                .iter()
                .filter(|s| s.duration.as_secs_f64() * 1e3 >= 1.0)
                .map(|s| (ms(s.duration.as_secs_f64() * 1e3), s.statement.clone()))
                .collect(),
        }),
        criterion: r
            .queries
            .iter()
            .chain(&r.writes)
            .flat_map(|q| {
                q.timings.iter().filter_map(move |t| {
                    t.criterion_page.as_ref().map(|href| Link {
                        label: format!("{} / {}", q.name, t.state),
                        href: href.clone(),
                    })
                })
            })
            .collect(),
        with_state: with_state.to_string(),
        without_state: without_state.to_string(),
        partial: r.partial.then(|| partial_note(r)),
        before_after: before_after(r, baseline),
        not_runnable: r.not_runnable.clone(),
        database_state: r.database.as_ref().map(|d| d.state.to_string()),
    }
}

fn partial_note(r: &Results) -> String {
    format!(
        concat!(
            "Partial run{}: it holds only the {} queries criterion measured in it, ",
            "and reports/latest was not moved to it."
        ),
        r.filter
            .as_ref()
            .map(|f| format!(" (filter `{f}`)"))
            .unwrap_or_default(),
        r.queries.len()
    )
}

/// `state` if the run measured it, else the run's first state (a user's
/// database measured as found has only that one).
fn measured(r: &Results, state: IndexState) -> IndexState {
    if r.states.contains(&state) {
        state
    } else {
        r.states.first().cloned().unwrap_or(state)
    }
}

pub(super) fn anchor(name: &str) -> String {
    format!(
        "plan-{}",
        name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    )
}

fn row(q: &QueryResult, with: &IndexState, without: &IndexState) -> Row {
    let t = |s: &IndexState| q.timing(s);
    let ci = |s: &IndexState| {
        t(s).map(|t| format!("{} – {}", ms(t.ci_low_ms), ms(t.ci_high_ms)))
            .unwrap_or_default()
    };
    let changes: Vec<String> = q
        .timings
        .iter()
        .filter(|t| t.change.is_some() || t.no_baseline)
        .map(|t| {
            let pct = t.change.as_ref().map(change_pct).unwrap_or_default();
            format!("{}: {} {pct}", t.state, verdict_text(t))
        })
        .collect();
    let top = |s: &IndexState| {
        q.plan(s)
            .map(|p| p.summary.top_node.clone())
            .unwrap_or_default()
    };
    Row {
        name: q.name.clone(),
        anchor: anchor(&q.name),
        screen: q.screen.clone(),
        without: t(without)
            .map(|t| ms(t.median_ms))
            .unwrap_or_else(|| "n/a".into()),
        without_ci: ci(without),
        with: t(with)
            .map(|t| ms(t.median_ms))
            .unwrap_or_else(|| "n/a".into()),
        with_ci: ci(with),
        speedup: q.speedup.map(factor).unwrap_or_else(|| "n/a".into()),
        speedup_value: q.speedup.unwrap_or(0.0),
        change: if changes.is_empty() {
            "no baseline".into()
        } else {
            changes.join("; ")
        },
        index_used: q
            .plan(with)
            .map(|p| {
                if p.summary.indexes_used.is_empty() {
                    "none".to_string()
                } else {
                    p.summary.indexes_used.join(", ")
                }
            })
            .unwrap_or_default(),
        top_before: top(without),
        top_after: top(with),
        stats_note: (!q.missing_stats.is_empty()).then(|| {
            format!(
                "no statistics for {} (not analyzed since the migration?): the planner guesses, and plans may change after ANALYZE",
                q.missing_stats.join(", ")
            )
        }),
    }
}

fn key(n: &crate::explain::NodeSummary) -> (String, Option<String>, Option<String>) {
    (n.node_type.clone(), n.relation.clone(), n.index.clone())
}

pub(super) fn tree(p: &PlanRef, other: Option<&PlanRef>) -> Tree {
    let s: &PlanSummary = &p.summary;
    let total = s
        .nodes
        .first()
        .map(|n| n.actual_ms)
        .unwrap_or(0.0)
        .max(1e-9);
    let others: Vec<_> = other
        .map(|o| o.summary.nodes.iter().map(key).collect())
        .unwrap_or_default();
    Tree {
        state: p.state.to_string(),
        file: p.file.clone(),
        execution: format!(
            "planning {}, execution {}",
            ms(s.planning_ms),
            ms(s.execution_ms)
        ),
        nodes: s
            .nodes
            .iter()
            .map(|n| {
                let ratio = n.actual_rows.max(1.0) / n.estimated_rows.max(1.0);
                NodeView {
                    indent: n.depth,
                    node_type: n.node_type.clone(),
                    relation: n.relation.clone().unwrap_or_default(),
                    index: n.index.clone().unwrap_or_default(),
                    rows: format!(
                        "est {:.0} / actual {:.0} rows",
                        n.estimated_rows, n.actual_rows
                    ),
                    misestimate: n.misestimated.then(|| {
                        if ratio > 1.0 {
                            format!("underestimated {}", factor(ratio))
                        } else {
                            format!("overestimated {}", factor(1.0 / ratio))
                        }
                    }),
                    time: ms(n.actual_ms),
                    share: pct(n.actual_ms / total),
                    buffers: format!("hit {} / read {}", n.shared_hit, n.shared_read),
                    changed: other.is_some() && !others.contains(&key(n)),
                }
            })
            .collect(),
    }
}

fn worst_write(r: &Results) -> String {
    let from_writes = r
        .writes
        .iter()
        .filter_map(|w| w.speedup.map(|s| (w.name.clone(), 1.0 / s.max(1e-9))))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let from_inserts = r
        .index_costs
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                1.0 - c.inserts_per_s_with / c.inserts_per_s_without.max(1e-9),
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1));
    match (from_writes, from_inserts) {
        (Some((name, slow)), inserts) => format!(
            "{name} takes {} the time with the indexes{}",
            factor(slow),
            inserts
                .map(|(i, o)| format!(
                    "; costliest single index for inserts: {i} ({} fewer inserts/s)",
                    pct(o)
                ))
                .unwrap_or_default()
        ),
        (None, Some((i, o))) => format!(
            "costliest single index for inserts: {i} ({} fewer inserts/s)",
            pct(o)
        ),
        (None, None) => "not measured".into(),
    }
}

fn heatmap(r: &Results) -> Option<Heatmap> {
    if r.ablation.is_empty() {
        return None;
    }
    let mut indexes: Vec<String> = Vec::new();
    let mut queries: Vec<String> = Vec::new();
    for c in &r.ablation {
        if !indexes.contains(&c.dropped) {
            indexes.push(c.dropped.clone());
        }
        if !queries.contains(&c.query) {
            queries.push(c.query.clone());
        }
    }
    let rows = queries
        .iter()
        .map(|q| HeatRow {
            query: q.clone(),
            cells: indexes
                .iter()
                .map(
                    |i| match r.ablation.iter().find(|c| &c.query == q && &c.dropped == i) {
                        Some(c) if c.used => HeatCell {
                            text: factor(c.slowdown),
                            level: if c.slowdown < 1.0 + NOISE {
                                "low"
                            } else if c.slowdown < 2.0 {
                                "mid"
                            } else {
                                "high"
                            }
                            .into(),
                            title: format!(
                                "{} without {}: {} (all indexes {}){}",
                                q,
                                i,
                                ms(c.median_ms),
                                ms(c.with_all_ms),
                                if c.plan_changed { ", plan changed" } else { "" }
                            ),
                        },
                        _ => HeatCell {
                            text: "–".into(),
                            level: "none".into(),
                            title: format!("{q} does not use {i}"),
                        },
                    },
                )
                .collect(),
        })
        .collect();
    Some(Heatmap { indexes, rows })
}

fn environment(r: &Results) -> Vec<(String, String)> {
    let e = &r.environment;
    let mut v = vec![
        ("PostgreSQL".to_string(), e.postgres_version.clone()),
        ("database".to_string(), e.database.clone()),
        (
            "machine".to_string(),
            format!("{} cores, {} memory", e.cores, bytes(e.memory_bytes as f64)),
        ),
        ("scale".to_string(), r.scale.clone()),
        ("seed".to_string(), r.seed.to_string()),
        (
            "tool".to_string(),
            format!(
                "helpdesk-bench {}{}",
                r.tool.version,
                r.tool
                    .git_commit
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
        ),
        (
            "run".to_string(),
            format!("{} at {}", r.run_id, r.created_at),
        ),
    ];
    if let Some(c) = &r.counts {
        v.push((
            "rows".to_string(),
            format!(
                "{} users ({} staff), {} conversations, {} messages",
                c.users, c.staff, c.conversations, c.messages
            ),
        ));
    }
    v
}
