//! `results.json`'s `advice`: what `helpdesk-bench advise` built and
//! measured on a scratch copy, the index set it chose, and that set
//! measured as a whole against the migration's own. Kept beside
//! `results.rs` (which holds [`super::Results::advice`]) so the run's main
//! layout stays readable; every field follows its rules: times in ms,
//! sizes in bytes, ratios as plain numbers with their intervals.

use serde::{Deserialize, Serialize};

use super::{ForeignKey, HotUpdates, IndexCost};
use crate::stats::{Interval, Verdict};

/// Where a candidate index came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateKind {
    /// One of the migration's own indexes.
    #[default]
    Migration,
    /// Equality columns, then the order, from a query's plan.
    Btree,
    /// A partial index on a rare constant.
    Partial,
    /// With `INCLUDE` columns, for an index-only scan.
    Covering,
}

/// Everything `advise` found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Advice {
    /// The size budget the selection kept within (bytes), and where it came from.
    pub budget_bytes: u64,
    pub budget_source: String,
    /// How candidates were found, in a sentence.
    pub method: String,
    /// Each read query without any candidate: the state every candidate is
    /// measured on top of (the migration's columns, none of its indexes).
    pub baseline: Vec<AdviceQuery>,
    pub candidates: Vec<AdviceCandidate>,
    /// The HOT share of the update workload with no candidate, over rounds.
    #[serde(default)]
    pub hot_without: Option<Interval>,
    /// Names of the chosen candidates: the suggested set, after any swaps.
    pub chosen: Vec<String>,
    /// What the selection chose, before the whole-set measurement swapped
    /// anything (empty in runs written before swaps existed).
    #[serde(default)]
    pub selected: Vec<String>,
    /// The selection's modelled net saving per hour of the selected set
    /// (ms: reads saved minus writes added), every saving at its
    /// interval's ends for the range.
    #[serde(default)]
    pub modelled_ms_per_hour: Option<Interval>,
    /// Other sets whose modelled saving the measurements cannot tell from
    /// the selected one's (the difference's interval holds 0): the
    /// selection took the smallest of them, and names the rest.
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
    /// How many sets in all are within noise of the best by point value,
    /// the selected one included (the alternatives name the smallest).
    #[serde(default)]
    pub sets_within_noise: usize,
    /// Each swap made after measuring the set whole, in order.
    #[serde(default)]
    pub swaps: Vec<Swap>,
    /// Reads still slower than with the migration's set past the threshold
    /// that no swap could fix, each with why.
    #[serde(default)]
    pub unresolved: Vec<String>,
    /// The migration's indexes the suggestion drops, and the statements it runs.
    pub drop: Vec<String>,
    pub create: Vec<String>,
    /// The foreign keys and the index of the suggested set that leads with
    /// each one's columns.
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    /// The migration's own set and the suggested set, each measured whole.
    pub migration_set: SetMeasure,
    pub suggested_set: SetMeasure,
    /// One row per read query: the two sets side by side.
    pub rows: Vec<AdviceRow>,
    /// Geometric mean over the read queries of (migration's median /
    /// suggested median), with its bootstrap interval.
    #[serde(default)]
    pub geomean_speedup: Option<Interval>,
    /// The targets, each with the measured figure and whether it is met.
    pub targets: Vec<Target>,
    /// Warnings for whoever applies the suggestion (e.g. Prisma and partial indexes).
    pub warnings: Vec<String>,
    /// The files written into the run folder.
    pub files: Vec<String>,
    /// Wall time of the whole command, in seconds.
    pub wall_s: f64,
}

/// One read query in one state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdviceQuery {
    pub query: String,
    /// Executions per hour (the catalogue's `weight`).
    pub weight: f64,
    pub median: Interval,
    /// The plan's top node and access paths, e.g. `Limit · Index Scan using x on Message`.
    pub plan: String,
    pub indexes_used: Vec<String>,
    /// The planner's total cost of the plan with the first parameters.
    pub estimated_cost: f64,
    /// The parameters the plan was captured with.
    #[serde(default)]
    pub params: Vec<Option<String>>,
}

/// One candidate, built and measured alone on top of the baseline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AdviceCandidate {
    pub name: String,
    pub table: String,
    pub sql: String,
    pub kind: CandidateKind,
    pub reason: String,
    /// Queries whose plans suggested it.
    pub queries: Vec<String>,
    /// A partial index's share of the table.
    #[serde(default)]
    pub share: Option<f64>,
    /// Size, build times, insert cost and HOT share, measured as the
    /// index-costs table measures the migration's indexes.
    pub cost: IndexCost,
    /// Median time per insert and per update transaction it adds (ms).
    pub insert_added_ms: f64,
    pub update_added_ms: f64,
    /// Each read query with it.
    pub effects: Vec<Effect>,
    /// Read time saved per hour of traffic (ms, weights × medians), and the
    /// write time it adds per hour.
    pub saved_ms_per_hour: f64,
    pub write_ms_per_hour: f64,
    pub chosen: bool,
}

/// One read query with one candidate built.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Effect {
    pub query: String,
    /// True when the plan with the candidate uses it.
    pub uses: bool,
    /// The planner's cost with it, against the baseline's.
    pub estimated_cost: f64,
    /// Timed only when the plan uses it at a lower estimated cost.
    #[serde(default)]
    pub median: Option<Interval>,
    /// Baseline median over this one's (above 1: faster with it), timed
    /// paired: alternating rounds with and without it, on the same
    /// parameter rows, the interval from resampling the pairs.
    #[serde(default)]
    pub speedup: Option<Interval>,
    /// How many pairs (with, without) were timed; 0 when not timed, or in a
    /// run written before the timings were paired.
    #[serde(default)]
    pub pairs: usize,
    pub plan: String,
}

/// A whole index set, measured together.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetMeasure {
    pub label: String,
    pub indexes: Vec<String>,
    pub size_bytes: u64,
    /// Time per insert with the set over without it (the baseline).
    #[serde(default)]
    pub insert_ratio: Option<Interval>,
    /// HOT share of the update workload with the set, and without it.
    #[serde(default)]
    pub hot: Option<HotUpdates>,
    pub queries: Vec<AdviceQuery>,
}

/// A set the selection could not tell from the one it chose.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alternative {
    /// Its indexes.
    pub indexes: Vec<String>,
    /// What it has that the selected set lacks, and the reverse.
    pub adds: Vec<String>,
    pub lacks: Vec<String>,
    /// Its modelled net saving minus the selected set's, ms per hour, with
    /// the interval of that difference (it holds 0).
    pub difference_ms_per_hour: Interval,
    pub size_bytes: u64,
}

/// One change to the suggested set after measuring it whole: a read was
/// slower than with the migration's set past the threshold, and the index
/// its plan points at was put back or taken out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Swap {
    /// The read that was slower.
    pub query: String,
    /// Its speed-up before the swap (migration's set's median over the
    /// suggested set's, paired): below 1 / 1.10.
    pub before: Interval,
    /// The indexes the read's plan used with each set.
    pub migration_used: Vec<String>,
    pub suggested_used: Vec<String>,
    /// Put into the set, and taken out of it.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Why these, in a sentence.
    pub reason: String,
    /// The same read once the swapped set was measured whole again.
    #[serde(default)]
    pub after: Option<Interval>,
}

/// One read query: the migration's set against the suggested set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdviceRow {
    pub query: String,
    pub weight: f64,
    pub migration: Interval,
    pub suggested: Interval,
    /// Migration's median over the suggestion's: above 1, the suggestion is
    /// faster. Paired: alternating rounds on the same parameter rows, the
    /// interval from resampling the pairs.
    pub speedup: Interval,
    pub verdict: Verdict,
    pub migration_plan: String,
    pub suggested_plan: String,
}

/// One of the targets, as measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    pub what: String,
    pub measured: String,
    pub met: bool,
}
