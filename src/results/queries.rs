//! Each query's timings per index state, its change against a baseline,
//! and its plans.

use serde::{Deserialize, Serialize};

use super::Interval;
use crate::explain::{PlanKind, PlanSummary};
use crate::schema::IndexState;

/// One query's timings per state, and its plans.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryResult {
    pub name: String,
    pub screen: String,
    pub sql: String,
    #[serde(default)]
    pub expect_index: Vec<String>,
    #[serde(default)]
    pub timings: Vec<Timing>,
    /// Median without the indexes over median with them.
    #[serde(default)]
    pub speedup: Option<f64>,
    /// The speed-up's 95% interval: the ratio of medians bootstrapped from
    /// both states' criterion samples.
    #[serde(default)]
    pub speedup_ci: Option<Interval>,
    #[serde(default)]
    pub plans: Vec<PlanRef>,
    /// Set when the query was timed with parameters that match nothing,
    /// because its sample found no rows: e.g. `no rows have "assignedTo"
    /// yet: timed as a miss`.
    #[serde(default)]
    pub miss: Option<String>,
    /// Columns the query filters on that have no statistics (`pg_stats`),
    /// as `"Table"."column"`: the planner guesses, and plans may change
    /// after ANALYZE.
    #[serde(default)]
    pub missing_stats: Vec<String>,
    /// The parameter rows it was timed with, stratified by the result size
    /// the planner expected, each with its own medians and speed-up
    /// (version 7).
    #[serde(default)]
    pub params: Vec<ParamResult>,
    /// True when its parameter rows got plans that read the tables
    /// differently (another scan or index) in the same state.
    #[serde(default)]
    pub plan_depends_on_parameter: bool,
    /// Set when its median moved past the noise threshold although its
    /// plan, rows and buffers were the same in both states: nothing the
    /// indexes did explains it. Such a query stays out of the verdict's
    /// counts and the geometric mean.
    #[serde(default)]
    pub unexplained: Option<String>,
}

/// One parameter row a query was timed with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParamResult {
    /// Its stratum by the result size the planner expected: `smallest`,
    /// `lower quartile`, `median`, `upper quartile`, `largest`, or `only`.
    pub label: String,
    /// Its values as the page may show them: the real values on a database
    /// the tool seeded (or with `--show-parameters`), else each as a short
    /// stable hash with its type and length, e.g. `text(23)#4f9a1c`.
    pub values: Vec<String>,
    /// The rows the planner expected before any `LIMIT`.
    #[serde(default)]
    pub estimated_rows: Option<f64>,
    /// The median of this row's iterations in each state.
    pub timings: Vec<ParamTiming>,
    /// Without over with, bootstrapped from this row's iterations, when
    /// both states were timed.
    #[serde(default)]
    pub speedup: Option<Interval>,
}

/// One parameter row's iterations in one state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParamTiming {
    pub state: IndexState,
    pub median_ms: f64,
    pub iterations: usize,
}

impl QueryResult {
    /// Median without the indexes over median with them, when both states
    /// were timed: the one place a speed-up is computed.
    pub fn speedup_of(timings: &[Timing]) -> Option<f64> {
        let median = |s: IndexState| timings.iter().find(|t| t.state == s).map(|t| t.median_ms);
        Some(median(IndexState::Without)? / median(IndexState::With)?.max(1e-9))
    }

    /// The timing in one state.
    pub fn timing(&self, state: &IndexState) -> Option<&Timing> {
        self.timings.iter().find(|t| &t.state == state)
    }

    /// The plan in one state that stands for the query: the median
    /// parameter row's (the first captured in that state).
    pub fn plan(&self, state: &IndexState) -> Option<&PlanRef> {
        self.plans.iter().find(|p| &p.state == state)
    }

    /// Every plan captured in one state, one per parameter row.
    pub fn plans_in<'a>(&'a self, state: &'a IndexState) -> impl Iterator<Item = &'a PlanRef> {
        self.plans.iter().filter(move |p| &p.state == state)
    }

    /// The parameter rows whose own speed-up is past the noise threshold
    /// in `verdict`'s direction (`Higher`: faster with the indexes).
    pub fn rows_with(&self, verdict: crate::stats::Verdict) -> Vec<&ParamResult> {
        self.params
            .iter()
            .filter(|p| p.speedup.is_some_and(|i| i.verdict() == verdict))
            .collect()
    }
}

/// Criterion's estimate for one benchmark.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    pub state: IndexState,
    pub median_ms: f64,
    /// 95% confidence interval of the median.
    pub ci_low_ms: f64,
    pub ci_high_ms: f64,
    pub mean_ms: f64,
    /// The change against the previous run or a baseline, when there was one.
    #[serde(default)]
    pub change: Option<Change>,
    /// Compared with a named baseline that this benchmark does not have:
    /// new in this migration.
    #[serde(default)]
    pub no_baseline: bool,
    /// Criterion's own page for this benchmark, relative to the run folder.
    #[serde(default)]
    pub criterion_page: Option<String>,
}

/// The change of one benchmark against the run or baseline before it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    /// Change of the mean, in percent, with its 95% interval (criterion's
    /// `change/estimates.json`).
    pub mean_pct: f64,
    pub ci_low_pct: f64,
    pub ci_high_pct: f64,
    /// Change of the median, in percent, with its 95% interval (criterion's).
    #[serde(default)]
    pub median: Option<Interval>,
    /// Change of the median recomputed from both runs' samples (bootstrap of
    /// the ratio of medians), in percent: what the verdict rests on.
    #[serde(default)]
    pub bootstrap: Option<Interval>,
    pub verdict: Verdict,
    /// The baseline compared with (`base` is criterion's previous run).
    #[serde(default)]
    pub against: Option<String>,
}

/// What a change amounts to, beyond noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Improved,
    Regressed,
    /// Written `no change` before this enum existed.
    #[serde(alias = "no change")]
    WithinNoise,
}

impl Verdict {
    /// How the report prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "regressed",
            Verdict::WithinNoise => "within noise",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanRef {
    pub state: IndexState,
    /// The server's JSON plan, relative to the run folder.
    pub file: String,
    pub summary: PlanSummary,
    /// The parameter row it was captured with ([`ParamResult::label`]).
    #[serde(default)]
    pub param: Option<String>,
    /// Whether the timed statement's execution used a generic or a custom
    /// plan; `None` for plans captured before version 7.
    #[serde(default)]
    pub kind: Option<PlanKind>,
}
