//! A read's timing turned into results: each parameter row's medians and
//! speed-up, the plans the timed statement ran with (the files written as
//! the server gave them), whether the plan depends on the parameter, and
//! the catalogue's plan assertions.
//!
//! Parameter values are a team's data: on a database the tool did not
//! seed, a value (a customer's e-mail address, say) never reaches
//! `results.json` or the pages unless shown on purpose; each is a short
//! stable hash with its type and length instead, in the parameter list and
//! wherever a custom plan printed it in a condition. The raw plan files
//! keep the server's text.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::timed::{QueryCapture, StateCapture};
use crate::error::{Context, Result};
use crate::explain::{check, representative, Plan, PlanSummary, Violation};
use crate::queries::Query;
use crate::results::{ParamResult, ParamTiming, PlanRef, QueryResult};
use crate::schema::{IndexState, Migration};
use crate::stats::{median, ratio_interval, Verdict, MIN_PER_SIDE};

/// How parameter values may appear in results and pages.
pub struct Shown<'a> {
    /// Show values as they are (a database the tool seeded, or
    /// `--show-parameters`).
    pub values: bool,
    /// Each parameter's type, from the sample's columns.
    pub types: &'a [String],
}

/// What one read's timing leaves in the results.
pub struct Recorded {
    pub plans: Vec<PlanRef>,
    pub params: Vec<ParamResult>,
    pub violations: Vec<Violation>,
    pub plan_depends_on_parameter: bool,
}

/// Writes the plans of `c` into `dir/plans/` and records them with each
/// row's medians; `m` gives the plan assertions' indexes.
pub fn record(
    c: &QueryCapture,
    q: &Query,
    m: &Migration,
    dir: &Path,
    shown: &Shown,
) -> Result<Recorded> {
    let masks: Vec<Vec<String>> = c.rows.iter().map(|r| shown.show(&r.values)).collect();
    let main = representative(&c.rows).label;
    let mut plans = Vec::new();
    let mut violations = Vec::new();
    let all: Vec<String> = m.indexes().iter().map(|i| i.name.clone()).collect();
    for s in &c.states {
        // The representative row's plan first: it stands for the query.
        let mut order: Vec<usize> = (0..c.rows.len()).collect();
        order.sort_by_key(|&i| c.rows[i].label != main);
        for i in order {
            let plan = &s.plans[i];
            let file = plan_file(&c.query, &s.state, m, c.rows[i].label, main);
            let path = dir.join("plans").join(&file);
            std::fs::create_dir_all(dir.join("plans")).context(dir.display())?;
            std::fs::write(&path, &plan.json).context(path.display())?;
            let mut summary = PlanSummary::of(&Plan::from_json(&plan.json)?);
            if !shown.values {
                mask_details(&mut summary, &c.rows[i].values, &masks[i]);
            }
            if c.rows[i].label == main {
                violations.extend(check(&q.name, &s.state, &q.expect_index, &all, &summary));
            }
            plans.push(PlanRef {
                state: s.state.clone(),
                file: format!("plans/{file}"),
                summary,
                param: Some(c.rows[i].label.to_string()),
                kind: Some(plan.kind),
            });
        }
    }
    let varies = c.states.iter().any(|s| {
        let paths: Vec<Vec<String>> = plans
            .iter()
            .filter(|p| p.state == s.state)
            .map(|p| p.summary.access_paths())
            .collect();
        paths.windows(2).any(|w| w[0] != w[1])
    });
    Ok(Recorded {
        params: params(c, &masks),
        plans,
        violations,
        plan_depends_on_parameter: varies,
    })
}

/// Set when the query's median moved past the noise threshold between the
/// two states although its plan there did not change: the same nodes on
/// the same tables and indexes, the same rows, and shared buffers within a
/// tenth of each other. Nothing the indexes did explains such a change.
pub fn unexplained(q: &QueryResult) -> Option<String> {
    let moved = q.speedup_ci?.verdict() != Verdict::WithinNoise;
    let (a, b) = (q.plan(&IndexState::Without)?, q.plan(&IndexState::With)?);
    let same = same_work(&a.summary, &b.summary);
    (moved && same).then(|| {
        "changed without a plan change: likely noise (the same plan, rows and buffers in both states); rerun to confirm".to_string()
    })
}

/// The same nodes on the same relations and indexes, the same actual rows,
/// and shared buffers within 10% of each other.
fn same_work(a: &PlanSummary, b: &PlanSummary) -> bool {
    let shape = |s: &PlanSummary| -> Vec<(String, Option<String>, Option<String>, u64)> {
        s.nodes
            .iter()
            .map(|n| {
                let rows = n.actual_rows.round() as u64;
                (
                    n.node_type.clone(),
                    n.relation.clone(),
                    n.index.clone(),
                    rows,
                )
            })
            .collect()
    };
    let buffers = |s: &PlanSummary| {
        s.nodes
            .first()
            .map_or(0.0, |n| (n.shared_hit + n.shared_read) as f64)
    };
    let (x, y) = (buffers(a), buffers(b));
    shape(a) == shape(b) && (x - y).abs() <= 0.1 * x.max(y)
}

/// Each row's medians per state and, with both states, its speed-up: only
/// when each side has at least [`MIN_PER_SIDE`] iterations of the row, since
/// a bootstrap over fewer gives an interval too narrow to trust (a slow
/// row in the slow state may run only a handful of times).
fn params(c: &QueryCapture, masks: &[Vec<String>]) -> Vec<ParamResult> {
    let of = |s: &IndexState| c.states.iter().find(|x| &x.state == s);
    c.rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let speedup = match (of(&IndexState::Without), of(&IndexState::With)) {
                (Some(a), Some(b))
                    if a.samples[i].len() >= MIN_PER_SIDE && b.samples[i].len() >= MIN_PER_SIDE =>
                {
                    Some(ratio_interval(&a.samples[i], &b.samples[i]))
                }
                _ => None,
            };
            ParamResult {
                label: r.label.to_string(),
                values: masks[i].clone(),
                estimated_rows: r.estimated_rows,
                timings: c.states.iter().map(|s| timing(s, i)).collect(),
                speedup,
            }
        })
        .collect()
}

fn timing(s: &StateCapture, row: usize) -> ParamTiming {
    ParamTiming {
        state: s.state.clone(),
        median_ms: median(&s.samples[row]),
        iterations: s.samples[row].len(),
    }
}

/// `<query>.<state>.json` for the row that stands for the query,
/// `<query>.<state>.<label>.json` for the others.
fn plan_file(query: &str, state: &IndexState, m: &Migration, label: &str, main: &str) -> String {
    match label == main {
        true => format!("{query}.{}.json", state.id(m)),
        false => format!("{query}.{}.{}.json", state.id(m), label.replace(' ', "-")),
    }
}

impl Shown<'_> {
    /// The values of one row as the page may show them.
    pub fn show(&self, values: &[Option<String>]) -> Vec<String> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| match (v, self.values) {
                (None, _) => "NULL".into(),
                (Some(v), true) => v.clone(),
                (Some(v), false) => mask(v, self.types.get(i).map_or("text", String::as_str)),
            })
            .collect()
    }
}

/// A value as a short stable hash with its type and length, e.g.
/// `text(23)#4f9a1c`: the same value always reads the same, so rows can be
/// told apart and matched across runs, but the value cannot be read back.
pub fn mask(value: &str, ty: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest[..3].iter().map(|b| format!("{b:02x}")).collect();
    format!("{ty}({})#{hex}", value.chars().count())
}

/// Replaces each value a custom plan printed in its conditions with its
/// mask: as a quoted literal always, and bare (numbers, identifiers) when
/// it is long enough not to be mistaken for other text.
fn mask_details(summary: &mut PlanSummary, values: &[Option<String>], masks: &[String]) {
    for node in &mut summary.nodes {
        for (_, text) in &mut node.detail {
            for (v, m) in values.iter().zip(masks) {
                let Some(v) = v.as_deref().filter(|v| !v.is_empty()) else {
                    continue;
                };
                *text = text.replace(&crate::sql::quote_literal(v), m);
                if v.chars().count() >= 4 {
                    *text = text.replace(v, m);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEQ: &str = r#"[{"Plan": {"Node Type": "Seq Scan", "Relation Name": "Message",
        "Plan Rows": 100, "Actual Rows": 90, "Actual Loops": 1, "Actual Total Time": 5.0,
        "Shared Hit Blocks": 100, "Shared Read Blocks": 0}, "Execution Time": 5.0}]"#;

    fn query(with_json: &str, ci: (f64, f64, f64)) -> QueryResult {
        let plan = |state, json: &str| PlanRef {
            state,
            file: String::new(),
            summary: PlanSummary::of(&Plan::from_json(json).unwrap()),
            param: None,
            kind: None,
        };
        QueryResult {
            name: "q".into(),
            screen: String::new(),
            sql: String::new(),
            expect_index: vec![],
            timings: vec![],
            speedup: Some(ci.0),
            speedup_ci: Some(crate::stats::Interval {
                point: ci.0,
                low: ci.1,
                high: ci.2,
            }),
            plans: vec![
                plan(IndexState::Without, SEQ),
                plan(IndexState::With, with_json),
            ],
            miss: None,
            missing_stats: vec![],
            params: vec![],
            plan_depends_on_parameter: false,
            unexplained: None,
        }
    }

    #[test]
    fn a_change_without_a_plan_change_is_called_likely_noise() {
        let moved = query(SEQ, (0.54, 0.48, 0.60));
        let note = unexplained(&moved).expect("the same plan, rows and buffers");
        assert!(
            note.starts_with("changed without a plan change: likely noise"),
            "{note}"
        );
        assert_eq!(
            unexplained(&query(SEQ, (1.02, 0.95, 1.08))),
            None,
            "within noise"
        );
        let index = SEQ.replace("Seq Scan", "Index Scan").replace(
            "\"Relation Name\"",
            "\"Index Name\": \"m_idx\", \"Relation Name\"",
        );
        assert_eq!(
            unexplained(&query(&index, (3.0, 2.5, 3.5))),
            None,
            "the plan changed"
        );
        let more_buffers = SEQ.replace("\"Shared Hit Blocks\": 100", "\"Shared Hit Blocks\": 180");
        assert_eq!(
            unexplained(&query(&more_buffers, (0.54, 0.48, 0.60))),
            None,
            "more work"
        );
    }

    #[test]
    fn a_row_timed_fewer_times_than_the_minimum_has_no_speed_up() {
        use crate::explain::ParamRow;
        let row = |label| ParamRow {
            label,
            values: vec![],
            estimated_rows: None,
        };
        let state = |state, n: usize| StateCapture {
            state,
            samples: vec![vec![2.0; 40], vec![9.0; n]],
            plans: vec![],
            load: (None, None),
        };
        let c = QueryCapture {
            query: "q".into(),
            rows: vec![row("smallest"), row("largest")],
            miss: None,
            states: vec![
                state(IndexState::Without, MIN_PER_SIDE - 1),
                state(IndexState::With, 40),
            ],
        };
        let p = params(&c, &[vec![], vec![]]);
        assert!(p[0].speedup.is_some());
        assert!(p[1].speedup.is_none(), "{:?}", p[1].speedup);
        let mut enough = c.clone();
        enough.states[0] = state(IndexState::Without, MIN_PER_SIDE);
        assert!(params(&enough, &[vec![], vec![]])[1].speedup.is_some());
    }

    #[test]
    fn a_mask_keeps_type_and_length_and_is_stable() {
        let m = mask("jane.doe@example.com", "text");
        assert!(m.starts_with("text(20)#"), "{m}");
        assert_eq!(m.len(), "text(20)#".len() + 6);
        assert_eq!(m, mask("jane.doe@example.com", "text"));
        assert_ne!(m, mask("john.doe@example.com", "text"));
        let shown = Shown {
            values: false,
            types: &["uuid".to_string()],
        };
        assert_eq!(shown.show(&[None]), ["NULL"]);
        assert!(shown.show(&[Some("abc".into())])[0].starts_with("uuid(3)#"));
    }
}
