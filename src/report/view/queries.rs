//! The queries table: each query's client median without and with the
//! indexes (95% intervals), the server's execution time beside it, the
//! speed-up with its range and verdict, the one-line plan diff, and the
//! write workloads; plus the chart of every query's medians.

use serde::Serialize;

use super::plans::plan_diff;
use super::words::{anchor, mixed_text, query_verdict, spread_text, verdict_class, verdict_word};
use super::words::{change_pct, criterion_group_page, inverse, speedup_interval, verdict_text};
use super::Ctx;
use crate::format::{factor, TimeUnit};
use crate::report::chart::{medians, Medians};
use crate::results::QueryResult;
use crate::schema::IndexState;

#[derive(Debug, Serialize)]
pub struct QueriesSection {
    /// Only one index state was measured (a user's database as found):
    /// one column of times, no speed-up.
    pub single_state: bool,
    pub without_state: String,
    pub with_state: String,
    /// Column units, e.g. `ms`, `µs`.
    pub units: Units,
    pub rows: Vec<Row>,
    pub write_units: Units,
    pub writes: Vec<Row>,
    pub chart: Option<Medians>,
}

/// One unit per column, chosen by the column's largest value.
#[derive(Debug, Serialize)]
pub struct Units {
    pub without: &'static str,
    pub without_server: &'static str,
    pub with: &'static str,
    pub with_server: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub name: String,
    pub anchor: String,
    pub screen: String,
    pub without: Cell,
    pub with: Cell,
    /// The point ratio, e.g. `2.44×`; for writes, time with over without.
    pub speedup: String,
    /// Its range from the medians' 95% intervals, e.g. `[2.26×–2.61×]`.
    pub speedup_ci: String,
    /// `faster`, `slower` or `within noise`.
    pub verdict: String,
    pub verdict_class: String,
    pub change: String,
    pub index_used: String,
    /// e.g. `Seq Scan on Message → Index Scan using … on Message`.
    pub plan_diff: String,
    /// Criterion's comparison page for the query's group.
    pub criterion: Option<String>,
    /// Filter columns without statistics, and what that means.
    pub stats_note: Option<String>,
    /// `no rows have "assignedTo" yet: timed as a miss`, when it was.
    pub miss: Option<String>,
    /// The speed-up across the parameter rows it was timed with.
    pub spread: Option<String>,
    /// `faster for …; slower for …`, when the rows disagree.
    pub mixed: Option<String>,
    /// Why its change is not counted, when the plan did not change.
    pub unexplained: Option<String>,
    /// `generic plan` or `custom plan`, as the timed statement ran with
    /// the indexes; `plan depends on the parameter` when the rows' plans differ.
    pub plan_note: Option<String>,
}

/// One state's client median, its interval, and the server's execution
/// time of the captured plan.
#[derive(Debug, Serialize)]
pub struct Cell {
    pub median: String,
    pub ci: String,
    pub server: String,
}

/// The columns' units and the cell formatters of one table.
struct Columns {
    without: TimeUnit,
    without_server: TimeUnit,
    with: TimeUnit,
    with_server: TimeUnit,
}

impl Columns {
    fn of(qs: &[QueryResult], with: &IndexState, without: &IndexState) -> Columns {
        let medians = |s: &IndexState| {
            TimeUnit::for_column(
                qs.iter()
                    .filter_map(|q| q.timing(s))
                    .flat_map(|t| [t.median_ms, t.ci_high_ms]),
            )
        };
        let server = |s: &IndexState| {
            TimeUnit::for_column(
                qs.iter()
                    .filter_map(|q| Some(q.plan(s)?.summary.execution_ms)),
            )
        };
        Columns {
            without: medians(without),
            without_server: server(without),
            with: medians(with),
            with_server: server(with),
        }
    }

    fn units(&self) -> Units {
        Units {
            without: self.without.symbol(),
            without_server: self.without_server.symbol(),
            with: self.with.symbol(),
            with_server: self.with_server.symbol(),
        }
    }
}

pub(super) fn build(cx: &Ctx) -> QueriesSection {
    let r = cx.r;
    let cols = Columns::of(&r.queries, &cx.with, &cx.without);
    let mut rows: Vec<(f64, Row)> = r
        .queries
        .iter()
        .map(|q| (q.speedup.unwrap_or(0.0), row(cx, q, &cols, false)))
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let write_cols = Columns::of(&r.writes, &cx.with, &cx.without);
    let pairs: Vec<(String, f64, f64)> = r
        .queries
        .iter()
        .filter_map(|q| {
            Some((
                q.name.clone(),
                q.timing(&cx.without)?.median_ms,
                q.timing(&cx.with)?.median_ms,
            ))
        })
        .collect();
    QueriesSection {
        single_state: cx.with == cx.without,
        without_state: cx.without.to_string(),
        with_state: cx.with.to_string(),
        units: cols.units(),
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        write_units: write_cols.units(),
        writes: r
            .writes
            .iter()
            .map(|q| row(cx, q, &write_cols, true))
            .collect(),
        chart: (cx.with != cx.without)
            .then(|| medians(&pairs, &cx.without.to_string(), &cx.with.to_string()))
            .flatten(),
    }
}

fn row(cx: &Ctx, q: &QueryResult, cols: &Columns, write: bool) -> Row {
    let cell = |s: &IndexState, unit: TimeUnit, server: TimeUnit| Cell {
        median: q
            .timing(s)
            .map(|t| unit.fmt(t.median_ms))
            .unwrap_or_else(|| "n/a".into()),
        ci: q
            .timing(s)
            .map(|t| unit.range(t.ci_low_ms, t.ci_high_ms))
            .unwrap_or_default(),
        server: q
            .plan(s)
            .map(|p| server.fmt(p.summary.execution_ms))
            .unwrap_or_else(|| "–".into()),
    };
    let interval =
        speedup_interval(q, &cx.with, &cx.without).map(|i| if write { inverse(i) } else { i });
    let verdict = match &interval {
        Some(i) if write => verdict_word(i, "slower", "faster"),
        _ => query_verdict(q, &cx.with, &cx.without),
    };
    Row {
        name: q.name.clone(),
        anchor: anchor(&q.name),
        screen: q.screen.clone(),
        without: cell(&cx.without, cols.without, cols.without_server),
        with: cell(&cx.with, cols.with, cols.with_server),
        speedup: interval
            .map(|i| factor(i.point))
            .unwrap_or_else(|| "n/a".into()),
        speedup_ci: interval
            .map(|i| format!("[{}–{}]", factor(i.low), factor(i.high)))
            .unwrap_or_default(),
        verdict: verdict.to_string(),
        verdict_class: verdict_class(verdict),
        change: changes(q),
        index_used: index_used(q, &cx.with),
        plan_diff: match cx.before_plan(q) {
            Some(b) => plan_diff(Some(&b), q.plan(&cx.with)),
            None if cx.with == cx.without => plan_diff(q.plan(&cx.with), None),
            None => plan_diff(None, q.plan(&cx.with)),
        },
        criterion: criterion_group_page(q),
        miss: q.miss.clone(),
        spread: spread_text(q),
        mixed: mixed_text(q),
        unexplained: q.unexplained.clone(),
        plan_note: plan_note(q, &cx.with),
        stats_note: (!q.missing_stats.is_empty()).then(|| {
            format!(
                "no statistics for {} (not analyzed since the migration?): the planner guesses, and plans may change after ANALYZE",
                q.missing_stats.join(", ")
            )
        }),
    }
}

/// How the timed statement was planned: generic or custom, and whether the
/// rows' plans differ.
fn plan_note(q: &QueryResult, with: &IndexState) -> Option<String> {
    let kind = q.plan(with).and_then(|p| p.kind).map(|k| k.as_str());
    match (kind, q.plan_depends_on_parameter) {
        (Some(k), true) => Some(format!("{k}; plan depends on the parameter")),
        (Some(k), false) => Some(k.to_string()),
        (None, true) => Some("plan depends on the parameter".into()),
        (None, false) => None,
    }
}

fn changes(q: &QueryResult) -> String {
    let v: Vec<String> = q
        .timings
        .iter()
        .filter(|t| t.change.is_some() || t.no_baseline)
        .map(|t| {
            let pct = t.change.as_ref().map(change_pct).unwrap_or_default();
            format!("{}: {} {pct}", t.state, verdict_text(t))
        })
        .collect();
    if v.is_empty() {
        "no baseline".into()
    } else {
        v.join("; ")
    }
}

fn index_used(q: &QueryResult, with: &IndexState) -> String {
    q.plan(with)
        .map(|p| {
            if p.summary.indexes_used.is_empty() {
                "none".to_string()
            } else {
                p.summary.indexes_used.join(", ")
            }
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Timing;

    fn timing(state: IndexState, median: f64, low: f64, high: f64) -> Timing {
        Timing {
            state,
            median_ms: median,
            ci_low_ms: low,
            ci_high_ms: high,
            mean_ms: median,
            change: None,
            no_baseline: false,
            criterion_page: Some(format!("criterion/q_1/{}/report/index.html", "x")),
        }
    }

    fn query(without: (f64, f64, f64), with: (f64, f64, f64)) -> QueryResult {
        let timings = vec![
            timing(IndexState::Without, without.0, without.1, without.2),
            timing(IndexState::With, with.0, with.1, with.2),
        ];
        QueryResult {
            name: "q_1".into(),
            screen: String::new(),
            sql: String::new(),
            expect_index: vec![],
            speedup: QueryResult::speedup_of(&timings),
            speedup_ci: None,
            timings,
            plans: vec![],
            miss: None,
            missing_stats: vec![],
            params: vec![],
            plan_depends_on_parameter: false,
            unexplained: None,
        }
    }

    #[test]
    fn a_speed_up_is_headlined_only_past_the_bar() {
        let (w, wo) = (IndexState::With, IndexState::Without);
        let clear =
            speedup_interval(&query((10.0, 9.8, 10.2), (1.0, 0.99, 1.01)), &w, &wo).unwrap();
        assert_eq!(verdict_word(&clear, "faster", "slower"), "faster");
        // 1.15× but the intervals overlap enough to hold 1.10.
        let near =
            speedup_interval(&query((1.15, 1.05, 1.25), (1.0, 0.95, 1.05)), &w, &wo).unwrap();
        assert!(near.point > FASTER_FOR_TEST && near.low < 1.1);
        assert_eq!(verdict_word(&near, "faster", "slower"), "within noise");
        let slower = speedup_interval(&query((1.0, 0.99, 1.01), (2.0, 1.9, 2.1)), &w, &wo).unwrap();
        assert_eq!(verdict_word(&slower, "faster", "slower"), "slower");
        assert_eq!(
            verdict_word(&inverse(slower), "slower", "faster"),
            "slower",
            "a write twice as slow with the indexes"
        );
    }

    const FASTER_FOR_TEST: f64 = 1.1;

    #[test]
    fn criterion_links_go_to_the_groups_comparison_page() {
        let q = query((1.0, 1.0, 1.0), (1.0, 1.0, 1.0));
        assert_eq!(
            criterion_group_page(&q).as_deref(),
            Some("criterion/q_1/report/index.html")
        );
    }
}
