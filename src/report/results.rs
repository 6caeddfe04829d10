//! `results.json`: everything one run measured, in one machine-readable
//! file. The report pages are rendered from it, and it is the documented
//! interface for anyone who wants the numbers (see `reports/README.md`).
//!
//! Times are milliseconds, sizes bytes, rates per second, ratios plain
//! numbers (`speedup` 12.5 means 12.5 times faster with the indexes).
//!
//! The format is versioned: every change to it bumps [`SCHEMA_VERSION`].
//! Files of an older version are upgraded when read (see [`upgrade`]), and
//! every field added after version 1 has a serde default, so a run written
//! by an older tool still renders; a newer version is refused.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Context, Error, Result};
use crate::explain::{PlanSummary, Violation};
use crate::queries::NotRunnable;
use crate::schema::{FoundDatabase, IndexState, StatementTiming};
use crate::seed::Counts;
pub use crate::stats::Interval;

/// A leave-one-out slowdown below this is noise. Criterion calls changes under
/// 1% noise and also demands significance; 40 in-process samples are noisier,
/// so the bar here is 5%.
pub const NOISE: f64 = 0.05;

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
pub const SCHEMA_VERSION: u32 = 6;

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
    /// HOT share of the status/assignment updates with every index and with none.
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
    pub advice: Option<super::advice::Advice>,
    /// `helpdesk-bench rehearse`: the migration applied under traffic, as
    /// written and online.
    #[serde(default)]
    pub rehearsal: Option<Rehearsal>,
}

/// What `helpdesk-bench rehearse` ran, and what each variant did to the
/// traffic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rehearsal {
    /// Open-loop requests per second over all traffic clients.
    pub rate_per_s: f64,
    pub clients: usize,
    /// The traffic's queries and their catalogue weights.
    pub mix: Vec<MixEntry>,
    /// How often the lock sampler looked at pg_locks, in milliseconds.
    pub sample_interval_ms: f64,
    /// Where each wait's start time came from (version 6; older runs: the
    /// server's).
    #[serde(default)]
    pub wait_start: WaitStart,
    /// How long the long transaction stayed open, in milliseconds.
    pub long_transaction_ms: f64,
    pub as_written: RehearsalRun,
    pub online: RehearsalRun,
    /// The online variant again, with one idle session holding a snapshot.
    pub online_long_transaction: RehearsalRun,
    /// Rows per table the projection scales to, and where they came from.
    #[serde(default)]
    pub production_rows: Vec<(String, u64)>,
    #[serde(default)]
    pub production_source: String,
    /// The online variant's SQL, beside results.json.
    pub online_file: String,
}

/// Where the lock sampler took a wait's start time from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitStart {
    /// The server's own `pg_locks.waitstart` (PostgreSQL 14 and later): a
    /// wait is known to half a sampling interval, at its end.
    #[default]
    Server,
    /// PostgreSQL 13 has no `waitstart`: halfway between the last sample
    /// that did not see the wait and the first that did, so a wait is known
    /// to half an interval at each end.
    Sampled,
}

impl Rehearsal {
    /// How far a measured wait may be off, in milliseconds.
    pub fn resolution_ms(&self) -> f64 {
        match self.wait_start {
            WaitStart::Server => self.sample_interval_ms / 2.0,
            WaitStart::Sampled => self.sample_interval_ms,
        }
    }
}

/// One variant applied under traffic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RehearsalRun {
    pub variant: RehearsalVariant,
    /// The migration's wall time.
    pub wall_ms: f64,
    pub statements: Vec<StatementTiming>,
    /// Per table and operation of the traffic, its longest lock wait.
    pub blocked: Vec<Blocked>,
    /// Per traffic query, its latency before and during the migration.
    pub queries: Vec<RehearsedQuery>,
    /// Sessions the migration itself waited for (an old snapshot).
    #[serde(default)]
    pub migration_waits: Vec<SessionWait>,
    /// Set when the migration failed under traffic (a deadlock with it, a
    /// lock timeout), with the server's error; it was rolled back as far
    /// as its transactions allow.
    #[serde(default)]
    pub failed: Option<String>,
}

/// Which SQL a rehearsal applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RehearsalVariant {
    /// The migration file as written.
    AsWritten,
    /// `schema::online_sql`'s variant.
    Online,
    /// The online variant beside one idle transaction holding a snapshot.
    OnlineLongTransaction,
}

/// A request's kind, as the lock it waited for shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Read,
    Write,
}

/// The longest time traffic requests of one kind waited for a lock on one
/// table, and what held it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Blocked {
    pub table: String,
    pub operation: Operation,
    pub worst_blocked_ms: f64,
    /// Lock waits seen (each a request that waited at least one sample).
    pub waits: u64,
    /// The table (or index, or lock type) the worst wait was for: a write
    /// to "Message" waits for "Conversation" in its foreign-key check.
    #[serde(default)]
    pub lock_on: String,
    /// The lock mode the request asked for.
    pub wanted_mode: String,
    /// The lock mode the blocking session held (or queued for) there.
    pub blocking_mode: String,
    /// The statement that took the lock (the migration's, when it was
    /// the blocker), else what the blocking session was running.
    pub blocking_statement: String,
    /// What the blocking session was running when last seen.
    #[serde(default)]
    pub blocker_running: String,
    /// The worst wait projected to production rows (labelled a projection).
    #[serde(default)]
    pub projected_ms: Option<f64>,
}

/// Latency of one traffic query before and during the migration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RehearsedQuery {
    pub query: String,
    pub before_requests: u64,
    pub before_p99_ms: f64,
    pub before_max_ms: f64,
    pub during_requests: u64,
    pub during_p99_ms: f64,
    pub during_max_ms: f64,
    pub errors: u64,
    #[serde(default)]
    pub first_error: Option<String>,
}

/// A session that the migration waited on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionWait {
    pub pid: i32,
    pub application_name: String,
    pub state: String,
    pub xact_start: String,
    /// What the session last ran.
    pub query: String,
    /// The lock the migration waited for (`virtualxid` for a snapshot).
    pub lock: String,
    pub waited_ms: f64,
    /// The migration's statement that waited.
    pub statement: String,
}

/// What `helpdesk-bench load` ran, and what it measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadRun {
    /// How long each point (one state, one client count) ran, in seconds.
    pub duration_s: f64,
    pub mode: LoadMode,
    /// Open loop only: requests per second, over all clients.
    #[serde(default)]
    pub rate_per_s: Option<f64>,
    /// The client counts, in the order they ran.
    pub clients: Vec<usize>,
    /// Each query in the mix and its catalogue weight (executions per hour).
    pub mix: Vec<MixEntry>,
    /// Seed of the clients' random choice of query and parameters.
    pub seed: u64,
    /// True when the writes in the mix ran (and were committed).
    pub writes: bool,
    /// Length of the time windows each point's `window_p99_ms` and
    /// `window_throughput_per_s` are cut into, in seconds (0: not recorded).
    #[serde(default)]
    pub window_s: f64,
    /// True when the index states were switched, committed, on a user's
    /// database (`--allow-index-changes`), and put back as found at the end.
    #[serde(default)]
    pub indexes_changed: bool,
    pub points: Vec<LoadPoint>,
}

/// Closed loop (each client sends its next request when the last one
/// answers) or open loop (requests on a fixed schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// As fast as each client can go; latency from each request's send.
    ClosedLoop,
    /// A fixed rate; latency from each request's intended start, so a
    /// stalled server shows in the latency (no coordinated omission).
    OpenLoop,
}

/// A query's weight in the mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixEntry {
    pub query: String,
    pub weight: f64,
}

/// One query under load, in one index state, with one client count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadPoint {
    pub query: String,
    pub state: IndexState,
    pub clients: usize,
    /// Requests that answered without an error.
    pub requests: u64,
    pub throughput_per_s: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    /// The first error's message, when there were errors.
    #[serde(default)]
    pub first_error: Option<String>,
    /// The HDR histogram of latencies in microseconds (V2 format, binary),
    /// relative to the run folder; histograms of the same query and state
    /// from several runs can be added together.
    pub histogram: String,
    /// The p99 of each time window (`LoadRun::window_s` long) by the
    /// requests due in it, in ms; `null` for a window without an answered
    /// request. The report bootstraps its p99 intervals from these.
    #[serde(default)]
    pub window_p99_ms: Vec<Option<f64>>,
    /// Answered requests per second in each time window.
    #[serde(default)]
    pub window_throughput_per_s: Vec<f64>,
}

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

/// What to do with one of the migration's indexes, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recommendation {
    pub index: String,
    pub action: Action,
    /// The wider index that covers it, for [`Action::ReplaceWith`].
    #[serde(default)]
    pub replace_with: Option<String>,
    /// The deciding evidence, with its uncertainty, in one sentence.
    pub evidence: String,
    /// The rule that decided, as stated on the page.
    pub rule: String,
}

/// The action a [`Recommendation`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Keep,
    Drop,
    /// Drop it: a wider index of the migration serves everything it does.
    ReplaceWith,
    /// Keep it even if no catalogue query needs it: it is the only index
    /// leading with a foreign key's column.
    KeepForForeignKey,
}

impl Action {
    /// How the page and `summary.md` print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::ReplaceWith => "replace with",
            Action::KeepForForeignKey => "keep for the foreign key",
        }
    }
}

/// How to deploy the migration, from its measured cost, scaled to
/// production.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployAdvice {
    /// Each lock the migration as written takes, and how long it is held at
    /// the measured scale.
    pub locks: Vec<LockHeld>,
    /// Row counts the projection scales to, by table, and where they came
    /// from (`--production-rows`, or the database's `reltuples`).
    pub production_rows: Vec<(String, u64)>,
    pub production_source: String,
    /// Each index's build, measured and projected.
    pub builds: Vec<BuildProjection>,
    /// Projected time the migration as written holds its locks in
    /// production, in seconds.
    pub projected_lock_s: f64,
    /// What the projection rests on, and why it may understate production.
    pub basis: String,
    /// The online variant, relative to the run folder.
    pub online_file: String,
    /// The advice in one sentence.
    pub advice: String,
}

/// A lock the migration holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockHeld {
    pub table: String,
    pub mode: String,
    /// What it blocks, e.g. `all reads and writes`.
    pub blocks: String,
    pub held_ms: f64,
}

/// One index build at the measured scale and projected to production.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildProjection {
    pub index: String,
    pub table: String,
    pub measured_rows: u64,
    pub plain_ms: Interval,
    pub concurrently_ms: Interval,
    pub production_rows: u64,
    pub projected_plain_s: f64,
    pub projected_concurrently_s: f64,
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

/// What a finding is about. Serialised (and used as a CSS class) in
/// kebab case, e.g. `prefix-redundant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// An index whose columns lead a wider index of the migration.
    PrefixRedundant,
    /// No catalogue plan uses the index at the measured scale.
    Unused,
    /// Leaving the index out slows no catalogue query beyond noise.
    NoSlowdownWhenDropped,
    /// The locks the migration holds while it runs.
    Lock,
    /// A query whose latency with the indexes still grows with the table.
    ScalesWithTable,
    /// A plan that breaks the catalogue's `expect_index`.
    Violation,
}

impl FindingKind {
    /// The kebab-case name, as in `results.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::PrefixRedundant => "prefix-redundant",
            FindingKind::Unused => "unused",
            FindingKind::NoSlowdownWhenDropped => "no-slowdown-when-dropped",
            FindingKind::Lock => "lock",
            FindingKind::ScalesWithTable => "scales-with-table",
            FindingKind::Violation => "violation",
        }
    }
}

/// A conclusion, with the measurement behind it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    #[serde(default)]
    pub index: Option<String>,
    pub message: String,
    pub evidence: String,
}

impl Results {
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
