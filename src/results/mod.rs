//! The results model: everything one run measured, written as
//! `results.json` into the run's folder. Every measuring module writes into
//! it; the report only reads it and renders pages. It is the documented
//! interface for anyone who wants the numbers (see `reports/README.md`),
//! and this module is a leaf of the data flow: it depends on the types of
//! the layers below (plans, schema states), never on a measuring module or
//! the report.
//!
//! Times are milliseconds, sizes bytes, rates per second, ratios plain
//! numbers (`speedup` 12.5 means 12.5 times faster with the indexes).
//!
//! The format is versioned: every change to it bumps [`SCHEMA_VERSION`].
//! Files of an older version are upgraded when read (see [`upgrade`]), and
//! every field added after version 1 has a serde default, so a run written
//! by an older tool still renders; a newer version is refused.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Context, Error, Result};
use crate::explain::{PlanCacheMode, Violation};
use crate::queries::NotRunnable;
use crate::schema::{FoundDatabase, IndexState};
use crate::seed::Counts;
pub use crate::stats::Interval;

mod advice;
mod costs;
mod deploy;
mod folder;
mod load;
mod queries;
mod rehearsal;
mod run;

pub use advice::*;
pub use costs::*;
pub use deploy::*;
pub use folder::{baseline_run, git_commit, new_run_dir, point_latest, record_baseline};
pub use load::*;
pub use queries::*;
pub use rehearsal::*;
pub use run::*;

/// Version of this file's layout; bumped on every change to it.
///
/// - 1: index states as criterion ids (`without_012_indexes`), finding kinds
///   as free strings.
/// - 2: index states as [`IndexState`] (`"with"`, `{"leave_out": "ix"}`),
///   finding kinds as [`FindingKind`].
/// - 3: criterion change verdicts as `improved` / `regressed` /
///   `within_noise` (version 2's `no change` is read as `within_noise`);
///   added, all with defaults: partial runs and their filter, baselines
///   saved and compared with, queries not runnable here, timed-as-a-miss
///   notes, missing statistics, foreign keys and their delete costs,
///   leave-one-out intervals, the database as found, node details.
/// - 4: added `load` (with a default): `helpdesk-bench load`'s settings and
///   its points per query, index state and client count, with latency
///   percentiles from HDR histograms stored beside `results.json`.
/// - 5: added `advice` and `rehearsal` (with defaults): `helpdesk-bench
///   advise`'s measured index advice, and `helpdesk-bench rehearse`'s
///   migration as written, online, and online beside a long transaction,
///   each with its wall time, the worst blocked time per table and
///   operation (`worst_blocked_ms`), the blocking lock mode and statement;
///   added to `load`, with defaults: `window_s`, `indexes_changed`, and per
///   point `window_p99_ms` and `window_throughput_per_s`.
/// - 6: added to `rehearsal`, with a default: `wait_start`, where the lock
///   waits' start times came from (`server`, or `sampled` on PostgreSQL 13).
/// - 7: added, all with defaults: per query its `params` (the stratified
///   parameter rows it was timed with, each with its medians and speed-up),
///   `plan_depends_on_parameter` and `unexplained`; per plan its `param`
///   and `kind` (generic or custom); the run's `plan_cache`,
///   `parameters_shown` and `machine_load`.
/// - 8: added to `advice`, all with defaults: `selected` (before swaps),
///   `modelled_ms_per_hour`, `alternatives` and `sets_within_noise` (the
///   sets the selection could not tell apart), `swaps` and `unresolved`
///   (the whole-set measurement's corrections); per effect its `pairs`.
///   Effects' and rows' speed-ups are now paired ratios. Per leave-one-out
///   cell its `rounds` (10 when timed paired with its own baseline, whose
///   median is its `with_all_ms`; 0 for an untimed cell or an older run);
///   per index cost its `insert_workload` (the catalogue write that timed
///   it, none when no write inserts into its table), and `hot_updates` is
///   absent when no write updates a table whose indexes change.
/// - 9: added, with a default: `geomean_speedup`, the geometric mean of
///   the read queries' speed-ups with its bootstrap interval.
/// - 10: added, with a default: each rehearsal run's `held`, the longest
///   write-blocking lock the migration held per table.
/// - 11: added, with a default: `data_like`, the team's database whose
///   statistics the measured data was generated from (`--like`, or
///   `--data synth` for scratch copies).
pub const SCHEMA_VERSION: u32 = 11;

/// The whole run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Results {
    pub schema_version: u32,
    pub run_id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub tool: Tool,
    pub environment: Environment,
    pub scale: String,
    pub seed: u64,
    #[serde(default)]
    pub counts: Option<Counts>,
    /// Set when the data measured was generated from a team's database's
    /// statistics rather than seeded by the help-desk model or copied: that
    /// database, described without secrets (version 11).
    #[serde(default)]
    pub data_like: Option<String>,
    pub migration: MigrationInfo,
    /// Index states the queries ran in.
    #[serde(default)]
    pub states: Vec<IndexState>,
    #[serde(default)]
    pub queries: Vec<QueryResult>,
    #[serde(default)]
    pub writes: Vec<QueryResult>,
    #[serde(default)]
    pub index_costs: Vec<IndexCost>,
    /// HOT share of the catalogue's update workload with every index and with none.
    #[serde(default)]
    pub hot_updates: Option<HotUpdates>,
    #[serde(default)]
    pub ablation: Vec<AblationCell>,
    #[serde(default)]
    pub sweep: Vec<SweepPoint>,
    #[serde(default)]
    pub migration_cost: Option<MigrationCost>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub violations: Vec<Violation>,
    /// Catalogue queries the database could not run as found, with the
    /// server's reason (a "before" database lacks the migration's columns).
    #[serde(default)]
    pub not_runnable: Vec<NotRunnable>,
    /// Every foreign key, the indexes serving it, and what deleting a
    /// referenced row costs without the only one.
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    /// One line per index of the migration: keep, drop, replace or keep for
    /// the foreign key, with the evidence.
    #[serde(default)]
    pub recommendations: Vec<Recommendation>,
    /// The geometric mean over the read queries measured in both states
    /// (those whose change is likely noise left out) of without's median
    /// over with's, with its 95% bootstrap interval; none in a one-state
    /// run.
    #[serde(default)]
    pub geomean_speedup: Option<Interval>,
    /// Locks, build times projected to production, and the online variant.
    #[serde(default)]
    pub deploy: Option<DeployAdvice>,
    /// A user's database as found: the migration's state and table sizes.
    /// `None` for the embedded database, which `scale` and `counts` describe.
    #[serde(default)]
    pub database: Option<FoundDatabase>,
    /// True when criterion's filter left out some query or state: the run
    /// holds only what it measured, and `reports/latest` did not move.
    #[serde(default)]
    pub partial: bool,
    /// Criterion's filter, when one was given.
    #[serde(default)]
    pub filter: Option<String>,
    /// The baseline this run saved (`--save-baseline NAME`).
    #[serde(default)]
    pub saved_baseline: Option<String>,
    /// How the server chose between custom and generic plans for the
    /// timed prepared statements (`plan_cache_mode`).
    #[serde(default)]
    pub plan_cache: PlanCacheMode,
    /// True when parameter values appear as they are: the tool seeded the
    /// database, or `--show-parameters` was given. Otherwise each is a
    /// short hash with its type and length.
    #[serde(default)]
    pub parameters_shown: bool,
    /// The machine's 1-minute load average at the start and end of each
    /// query's timing in each state.
    #[serde(default)]
    pub machine_load: Vec<LoadSample>,
    /// The baseline this run was compared with (`--baseline NAME`).
    #[serde(default)]
    pub compared_with: Option<BaselineRef>,
    /// `helpdesk-bench load`: concurrent clients running the catalogue's
    /// mix, per query, state and client count.
    #[serde(default)]
    pub load: Option<LoadRun>,
    /// `helpdesk-bench advise`: candidates built and measured on a scratch
    /// copy, the set chosen, and that set against the migration's own.
    #[serde(default)]
    pub advice: Option<Advice>,
    /// `helpdesk-bench rehearse`: the migration applied under traffic, as
    /// written and online.
    #[serde(default)]
    pub rehearsal: Option<Rehearsal>,
}

impl Results {
    /// Where the figures were measured, as a sentence ends: `at scale
    /// small` on data the tool generated, `on this database` on a user's.
    pub fn where_measured(&self) -> String {
        match self.database {
            Some(_) => "on this database".to_string(),
            None => format!("at scale {}", self.scale),
        }
    }

    /// Reads a results file of this version or an older one.
    pub fn read(path: &Path) -> Result<Results> {
        let text = std::fs::read_to_string(path).context(path.display())?;
        Results::parse(&text, &path.display().to_string())
    }

    /// Parses `results.json` text (`origin` names it in errors), upgrading
    /// an older version and refusing a newer one.
    pub fn parse(text: &str, origin: &str) -> Result<Results> {
        let bad = |reason: String| Error::BadFixture {
            file: origin.to_string(),
            reason,
        };
        let mut v: Value = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "not JSON: {e}; point at a run folder's results.json"
            ))
        })?;
        let version = v
            .get("schema_version")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                bad("no schema_version; this is not a helpdesk-bench results.json".into())
            })?;
        if version > u64::from(SCHEMA_VERSION) {
            return Err(Error::NewerResults {
                file: origin.to_string(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        upgrade(&mut v, version);
        serde_json::from_value(v).map_err(|e| {
            bad(format!(
                "not a valid version {version} results.json: {e}; re-run the benchmark to write a new one"
            ))
        })
    }

    /// Writes the results as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).context("serialising results")?;
        std::fs::write(path, text).context(path.display())
    }

    /// A query by name, reads first.
    pub fn query(&self, name: &str) -> Option<&QueryResult> {
        self.queries
            .iter()
            .chain(&self.writes)
            .find(|q| q.name == name)
    }
}

/// Brings an older file's JSON up to [`SCHEMA_VERSION`], one version at a
/// time.
pub fn upgrade(v: &mut Value, from: u64) {
    if from < 2 {
        upgrade_v1_states(v);
    }
    v["schema_version"] = Value::from(SCHEMA_VERSION);
}

/// Version 1 stored index states as criterion ids; version 2 as
/// [`IndexState`]. Finding kinds kept their kebab-case names.
fn upgrade_v1_states(v: &mut Value) {
    fn convert(s: &mut Value) {
        if let Some(id) = s.as_str() {
            *s = serde_json::to_value(IndexState::from_v1_id(id)).unwrap_or(Value::Null);
        }
    }
    fn convert_state(o: &mut Value) {
        if let Some(s) = o.get_mut("state") {
            convert(s);
        }
    }
    fn each<'a>(v: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
        v.get_mut(key)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
    }
    each(v, "states").for_each(convert);
    for list in ["queries", "writes"] {
        for q in each(v, list) {
            each(q, "timings").for_each(convert_state);
            each(q, "plans").for_each(convert_state);
        }
    }
    for key in ["sweep", "violations"] {
        each(v, key).for_each(convert_state);
    }
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// Every number a run writes reads back exactly, so a page
        /// re-rendered from `results.json` (`helpdesk-bench report`) is the
        /// page the run wrote, to the last digit of an SVG coordinate:
        /// serde_json's default float parser can be one unit in the last
        /// place off; its `float_roundtrip` feature is exact.
        #[test]
        fn numbers_read_back_exactly(bits in proptest::num::u64::ANY) {
            let x = f64::from_bits(bits);
            proptest::prop_assume!(x.is_finite());
            let text = serde_json::to_string(&x).unwrap();
            let back: f64 = serde_json::from_str(&text).unwrap();
            proptest::prop_assert_eq!(back.to_bits(), x.to_bits(), "{}", text);
        }
    }
}
