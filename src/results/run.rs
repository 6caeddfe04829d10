//! Who made a run, where, and of which migration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A named criterion baseline and the run folder that saved it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineRef {
    pub name: String,
    /// The run id of the run that saved it, when that run is still in
    /// `reports/` (see `reports/baselines/`).
    #[serde(default)]
    pub run_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tool {
    pub version: String,
    #[serde(default)]
    pub git_commit: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MigrationInfo {
    pub name: String,
    pub file: String,
    /// The forward migration, in full.
    pub sql: String,
    #[serde(default)]
    pub indexes: Vec<IndexInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexInfo {
    pub name: String,
    pub table: String,
    #[serde(default)]
    pub columns: Vec<String>,
}

/// The machine's 1-minute load average around one query's timing in one
/// state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadSample {
    pub query: String,
    pub state: crate::schema::IndexState,
    pub start: Option<f64>,
    pub end: Option<f64>,
}
