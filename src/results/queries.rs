//! Each query's timings per index state, its change against a baseline,
//! and its plans.

use serde::{Deserialize, Serialize};

use super::Interval;
use crate::explain::PlanSummary;
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

    /// The plan in one state.
    pub fn plan(&self, state: &IndexState) -> Option<&PlanRef> {
        self.plans.iter().find(|p| &p.state == state)
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
}
