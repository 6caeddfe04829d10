//! What the migration's indexes cost: size, builds, inserts, HOT updates,
//! leave-one-out, foreign-key deletes, the scale sweep and the migration's
//! own cost.

use serde::{Deserialize, Serialize};

use super::Interval;
use crate::schema::{IndexState, StatementTiming};

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
    #[serde(default)]
    pub hot_ratio_with: Option<f64>,
    #[serde(default)]
    pub hot_ratio_without: Option<f64>,
    /// Time per insert with every index over time per insert with this one
    /// dropped, over alternating rounds: 1.05 means 5% slower with it.
    #[serde(default)]
    pub insert_time_ratio: Option<Interval>,
    /// WAL bytes per insert with it, over the rounds.
    #[serde(default)]
    pub wal_with: Option<Interval>,
    /// WAL bytes per insert without it, over the rounds.
    #[serde(default)]
    pub wal_without: Option<Interval>,
    /// HOT share of the update workload with only this index of the
    /// migration's (the base schema's stay), over the rounds; for indexes
    /// on the updated table.
    #[serde(default)]
    pub hot_alone: Option<Interval>,
    /// Plain and concurrent build times over repeated builds (ms).
    #[serde(default)]
    pub build: Option<Interval>,
    #[serde(default)]
    pub build_concurrently: Option<Interval>,
    /// Rows in the table it indexes when it was built.
    #[serde(default)]
    pub table_rows: u64,
}

/// n_tup_hot_upd / n_tup_upd of the status/assignment workload.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HotUpdates {
    pub with_all: f64,
    pub without_all: f64,
    pub updates: u64,
    /// The same over rounds, with intervals.
    #[serde(default)]
    pub with_all_ci: Option<Interval>,
    #[serde(default)]
    pub without_all_ci: Option<Interval>,
    /// How the pages were given room for HOT updates, e.g. `fillfactor 90
    /// and VACUUM FULL`.
    #[serde(default)]
    pub pages: String,
    /// Rounds per state.
    #[serde(default)]
    pub rounds: usize,
}

/// A foreign key, as `pg_constraint` has it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    /// The referencing table and its key columns.
    pub table: String,
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    pub on_delete: String,
    pub on_update: String,
    /// Indexes on `table` whose leading columns are `columns`.
    pub served_by: Vec<String>,
    /// Deleting a referenced row with and without the only serving index,
    /// when that index is the migration's.
    #[serde(default)]
    pub delete: Option<DeleteCost>,
    /// The key as SQL, read with it from the catalog, for measuring deletes
    /// through it; not kept in the results.
    #[serde(skip)]
    pub sql: Option<KeySql>,
}

/// A foreign key's tables and columns as SQL (quoted, schema-qualified),
/// with the referenced columns' types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySql {
    pub table: String,
    pub columns: Vec<String>,
    pub references: String,
    pub referenced: Vec<String>,
    pub types: Vec<String>,
}

/// What a delete of a referenced row costs with and without an index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteCost {
    pub index: String,
    pub with_ms: Interval,
    pub without_ms: Interval,
    /// `without / with`, with its interval.
    pub slowdown: Interval,
    pub deletes: usize,
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
    /// The slowdown's 95% bootstrap interval (absent in older runs).
    #[serde(default)]
    pub slowdown_ci: Option<Interval>,
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
    pub state: IndexState,
    pub median_ms: f64,
    pub top_node: String,
}

/// What applying the migration cost on the seeded database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigrationCost {
    pub wall_ms: f64,
    #[serde(default)]
    pub statements: Vec<StatementTiming>,
    /// Each lock the migration takes is held until its COMMIT.
    pub lock_held_ms: f64,
}
