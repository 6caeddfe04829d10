//! `results.json`: everything one run measured, in one machine-readable
//! file. The report pages are rendered from it, and it is the documented
//! interface for anyone who wants the numbers (see `reports/README.md`).
//!
//! Times are milliseconds, sizes bytes, rates per second, ratios plain
//! numbers (`speedup` 12.5 means 12.5 times faster with the indexes).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::explain::{PlanSummary, Violation};
use crate::schema::StatementTiming;
use crate::seed::Counts;

/// Version of this file's layout; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub schema_version: u32,
    pub run_id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub tool: Tool,
    pub environment: Environment,
    pub scale: String,
    pub seed: u64,
    pub counts: Option<Counts>,
    pub migration: MigrationInfo,
    /// Index states the queries ran in, e.g. `without_012_indexes`.
    pub states: Vec<String>,
    pub queries: Vec<QueryResult>,
    pub writes: Vec<QueryResult>,
    pub index_costs: Vec<IndexCost>,
    /// HOT share of the status/assignment updates with every index and with none.
    pub hot_updates: Option<HotUpdates>,
    pub ablation: Vec<AblationCell>,
    pub sweep: Vec<SweepPoint>,
    pub migration_cost: Option<MigrationCost>,
    pub findings: Vec<Finding>,
    pub violations: Vec<Violation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub version: String,
    pub git_commit: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    pub postgres_version: String,
    /// The settings that matter for the numbers (shared_buffers, work_mem, ...).
    pub settings: BTreeMap<String, String>,
    pub cores: usize,
    pub memory_bytes: u64,
    /// True when the numbers come from the embedded cluster.
    pub embedded: bool,
    /// True when fsync is off (the embedded cluster's default).
    pub durability_off: bool,
    pub database: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigrationInfo {
    pub name: String,
    pub file: String,
    /// The forward migration, in full.
    pub sql: String,
    pub indexes: Vec<IndexInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexInfo {
    pub name: String,
    pub table: String,
    pub columns: Vec<String>,
}

/// One query's timings per state, and its plans.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryResult {
    pub name: String,
    pub screen: String,
    pub sql: String,
    pub expect_index: Vec<String>,
    pub timings: Vec<Timing>,
    /// Median without the indexes over median with them.
    pub speedup: Option<f64>,
    pub plans: Vec<PlanRef>,
}

impl QueryResult {
    /// The timing in one state.
    pub fn timing(&self, state: &str) -> Option<&Timing> {
        self.timings.iter().find(|t| t.state == state)
    }

    /// The plan in one state.
    pub fn plan(&self, state: &str) -> Option<&PlanRef> {
        self.plans.iter().find(|p| p.state == state)
    }
}

/// Criterion's estimate for one benchmark.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    pub state: String,
    pub median_ms: f64,
    /// 95% confidence interval of the median.
    pub ci_low_ms: f64,
    pub ci_high_ms: f64,
    pub mean_ms: f64,
    /// Criterion's verdict against the previous run or a baseline, when there was one.
    pub change: Option<Change>,
    /// Criterion's own page for this benchmark, relative to the run folder.
    pub criterion_page: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    /// Change of the mean, in percent, with its 95% interval.
    pub mean_pct: f64,
    pub ci_low_pct: f64,
    pub ci_high_pct: f64,
    /// `improved`, `regressed` or `no change`, as criterion decides it.
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanRef {
    pub state: String,
    /// The server's JSON plan, relative to the run folder.
    pub file: String,
    pub summary: PlanSummary,
}

/// What one index costs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexCost {
    pub name: String,
    pub table: String,
    pub size_bytes: u64,
    pub build_ms: f64,
    pub build_concurrently_ms: f64,
    /// Inserts per second of the insert workload with every index, and with this one dropped.
    pub inserts_per_s_with: f64,
    pub inserts_per_s_without: f64,
    /// WAL bytes per insert transaction, with and without this index.
    pub wal_bytes_per_insert_with: f64,
    pub wal_bytes_per_insert_without: f64,
    /// n_tup_hot_upd / n_tup_upd of the status/assignment updates, with and without it.
    pub hot_ratio_with: Option<f64>,
    pub hot_ratio_without: Option<f64>,
}

/// n_tup_hot_upd / n_tup_upd of the status/assignment workload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HotUpdates {
    pub with_all: f64,
    pub without_all: f64,
    pub updates: u64,
}

/// One query's median with one index left out, against all indexes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AblationCell {
    pub query: String,
    pub dropped: String,
    pub median_ms: f64,
    pub with_all_ms: f64,
    /// `median_ms / with_all_ms`; 1.0 means no change.
    pub slowdown: f64,
    /// Whether the query's plan with every index used the dropped one (only
    /// those queries are re-timed; the others cannot change).
    pub used: bool,
    /// Whether the plan changed at all when the index was dropped.
    pub plan_changed: bool,
}

/// Latency at one scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepPoint {
    pub scale: String,
    /// Rows in the table the query reads most.
    pub rows: u64,
    pub query: String,
    pub state: String,
    pub median_ms: f64,
    pub top_node: String,
}

/// What applying the migration cost on the seeded database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigrationCost {
    pub wall_ms: f64,
    pub statements: Vec<StatementTiming>,
    /// Each lock the migration takes is held until its COMMIT.
    pub lock_held_ms: f64,
}

/// A conclusion, with the measurement behind it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// `prefix-redundant`, `unused`, `no-slowdown-when-dropped`, `lock`, `violation`.
    pub kind: String,
    pub index: Option<String>,
    pub message: String,
    pub evidence: String,
}

impl Results {
    /// Reads a results file.
    pub fn read(path: &Path) -> Result<Results> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::BadFixture {
            file: path.display().to_string(),
            reason: format!("not a results.json this version understands: {e}"),
        })
    }

    /// Writes the results as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::BadInput(format!("serialising results: {e}")))?;
        std::fs::write(path, text).map_err(|e| Error::io(path, e))
    }

    /// A query by name, reads first.
    pub fn query(&self, name: &str) -> Option<&QueryResult> {
        self.queries
            .iter()
            .chain(&self.writes)
            .find(|q| q.name == name)
    }
}
