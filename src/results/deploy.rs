//! What the run concludes: one recommendation per index, the deploy
//! advice, and findings.

use serde::{Deserialize, Serialize};

use super::Interval;

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
