//! What `helpdesk-bench rehearse` measured: the migration applied under
//! traffic, as written and online, and what each variant blocked.

use serde::{Deserialize, Serialize};

use super::MixEntry;
use crate::schema::StatementTiming;

/// How a rehearsal's waits are projected to production rows, shown beside
/// every projection.
pub const PROJECTION_BASIS: &str = "projection: each wait split over the migration's statements as they ran; time under an index build or a foreign-key check scaled linearly by its table's production rows over the rows measured, the rest kept as measured; builds that sort on disk take longer, so read it as a lower bound";

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

/// The tables any of `runs` held a write-blocking lock on, sorted, once
/// each: the rows of the console's and the page's held-lock tables.
pub fn held_tables<'a>(runs: &[&'a RehearsalRun]) -> Vec<&'a str> {
    let mut tables: Vec<&str> = runs
        .iter()
        .flat_map(|run| run.held.iter().map(|h| h.table.as_str()))
        .collect();
    tables.sort();
    tables.dedup();
    tables
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
    /// Per table, the longest the migration held a lock that blocks
    /// writes (`ShareLock` or stronger): what a write arriving as it was
    /// taken waits, whether or not the traffic sent one then.
    #[serde(default)]
    pub held: Vec<HeldLock>,
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

/// The longest stretch the migration held write-blocking locks on one
/// table, as the sampler saw it (to about one sampling interval).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldLock {
    pub table: String,
    /// The strongest mode held.
    pub mode: String,
    pub held_ms: f64,
    /// The migration's statement that took it.
    pub taken_by: Option<String>,
    /// The hold projected to production rows (labelled a projection).
    pub projected_ms: Option<f64>,
}

impl RehearsalRun {
    /// Its longest write-blocking hold on `table`, if it held one.
    pub fn held_on(&self, table: &str) -> Option<&HeldLock> {
        self.held.iter().find(|h| h.table == table)
    }
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
