//! The command line: subcommands and their flags (clap derive). Each flag's
//! doc comment is its `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::Result;
use crate::gate::{Policies, Policy, FAIL_ON_ENV};
use crate::queries::CATALOGUE_ENV;
use crate::schema::{MigrationChain, MIGRATION_ENV};
use crate::seed::{Scale, Shape};

/// Measures what a schema migration's indexes do for a PostgreSQL database.
#[derive(Debug, Parser)]
#[command(name = "helpdesk-bench", version, about, max_term_width = 100)]
pub struct Cli {
    /// Print results and errors only, no progress.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The gate a pull request's run must pass. Shared by `explain`, `load`
/// and `rehearse` (`cargo bench` reads the same variable).
#[derive(Debug, Clone, Default, Args)]
pub struct GateArgs {
    /// Exit with status 1 when a policy fails, naming each failed check, and
    /// write every check to junit.xml beside the results: regression (a
    /// read slower past the verdict threshold), plan (a plan breaking a
    /// catalogue assertion), unused-index (an index of the migration no
    /// plan uses), blocking-deploy=DURATION (the migration as written
    /// blocks writes longer). Comma-separated or repeated.
    #[arg(long = "fail-on", value_name = "POLICIES", value_parser = Policies::parse, env = FAIL_ON_ENV)]
    pub fail_on: Vec<Policies>,
}

impl GateArgs {
    /// Every policy asked for, `extra` added.
    pub fn policies(&self, extra: &[Policy]) -> Policies {
        self.fail_on
            .iter()
            .fold(Policies::default(), |all, p| all.with(&p.0))
            .with(extra)
    }
}

/// Where to connect. Shared by every subcommand that talks to a database.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Database to use, as a libpq URL (postgres://user@host/db?sslmode=require)
    /// or key=value string (host=/run/postgresql dbname=app). Without it, a
    /// throwaway embedded PostgreSQL is started from this machine's server binaries.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "URL",
        global = true
    )]
    pub url: Option<String>,
}

/// Which migrations to work with.
#[derive(Debug, Clone, Args)]
pub struct MigrationArgs {
    /// Migration to use instead of the built-in 012: a forward SQL file (its
    /// rollback, needed only by `migrate down` and `verify`, is
    /// NAME_rollback.sql beside it) or a Prisma migration folder holding
    /// migration.sql. Repeat it for a chain: the earlier ones are applied
    /// first, the last is under test. Env: comma-separated.
    #[arg(
        long,
        value_name = "FILE|DIR",
        global = true,
        env = MIGRATION_ENV,
        value_delimiter = ','
    )]
    pub migration: Vec<PathBuf>,
}

impl MigrationArgs {
    /// The chain the flags name (built-in 012 when none).
    pub fn chain(&self) -> Result<MigrationChain> {
        MigrationChain::load(&self.migration)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply, roll back or inspect the migration on a database.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        migration: MigrationArgs,
    },
    /// Prove a migration correct. Without a URL: build the base schema in a
    /// fresh embedded database (or, with --like, a team's schema), insert
    /// rows, apply the migration atomically, run 012's spec checks (012
    /// only), roll back and compare. With a URL: run the read-only checks
    /// there.
    Verify {
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        migration: MigrationArgs,
        /// Without --url: prove the round trip in an embedded database
        /// built like this one (its schema, and rows generated from its
        /// statistics as seed --like does, none of its rows read), for a
        /// migration of tables the help-desk lab lacks.
        #[arg(long, value_name = "SOURCE_URL")]
        like: Option<String>,
        /// With --like: seed of the generated rows.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Fill the help-desk schema with synthetic users, conversations and
    /// messages. In an empty database it creates the schema first.
    Seed(SeedArgs),
    /// Capture EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON) of every
    /// catalogue query with and without the migration's indexes, summarise
    /// the plans, and check the catalogue's plan assertions.
    Explain(ExplainArgs),
    /// Render a run's report (index.html and summary.md) from its
    /// results.json, or two runs side by side with --compare.
    Report(ReportArgs),
    /// Latency against row count: every read query with and without the
    /// migration's indexes at several embedded scales.
    Sweep(SweepArgs),
    /// Concurrent clients running the catalogue's queries as a weighted mix,
    /// in each index state: throughput and latency percentiles per query,
    /// from HDR histograms, written to a run folder under reports/.
    Load(LoadArgs),
    /// What the indexes should be instead: candidates from the catalogue's
    /// plans, each built and measured on a scratch copy of the seeded data,
    /// the best set within a size budget measured against the migration's
    /// own, and suggested_migration.sql in a run folder under reports/.
    Advise(AdviseArgs),
    /// Apply the migration under the application's traffic on a scratch
    /// copy, as written, online, and online beside a long transaction: how
    /// long each blocks reads and writes per table, and its wall time.
    Rehearse(RehearseArgs),
    /// Write a query catalogue from the workload a server really runs: the
    /// top statements of pg_stat_statements, weighted by executions per
    /// hour, with parameter casts and samples read from the server's own
    /// generic plans. Read-only.
    Catalogue(CatalogueArgs),
    /// Start a throwaway embedded PostgreSQL, print how to connect, and keep
    /// it running until Ctrl-C; then stop it and remove its files.
    Server {
        #[command(subcommand)]
        action: Option<ServerAction>,
        /// Libraries to preload (shared_preload_libraries), e.g.
        /// pg_stat_statements for a lab to try `catalogue --from` on.
        #[arg(long, value_name = "LIBRARY", value_delimiter = ',')]
        preload: Vec<String>,
    },
    /// Started by the tool itself: a guard that puts a user's database back
    /// should the tool stop without doing it. Its orders come on stdin.
    #[command(name = crate::guard::COMMAND, hide = true)]
    Guard {
        /// What it guards, shown by `ps` only.
        about: Vec<String>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum ServerAction {
    /// Stop an embedded cluster left running by `seed --keep`, and remove it.
    Stop {
        /// The cluster directory `seed --keep` printed.
        dir: PathBuf,
    },
}

/// Flags of `seed`.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// In the 012 shape, the migrations after 012 are applied once the rows
    /// are loaded (those already applied are skipped).
    #[command(flatten)]
    pub migration: MigrationArgs,
    /// Preset row counts: tiny (20k messages), small (1M), medium (10M), large (100M).
    #[arg(long, value_enum, default_value = "small")]
    pub scale: Scale,
    /// Users, overriding the preset.
    #[arg(long, value_name = "N", value_parser = positive, allow_hyphen_values = true)]
    pub users: Option<u64>,
    /// Staff and admin users among them (default: the preset's share).
    #[arg(long, value_name = "N", value_parser = positive, allow_hyphen_values = true)]
    pub staff: Option<u64>,
    /// Conversations, overriding the preset.
    #[arg(long, value_name = "N", value_parser = positive, allow_hyphen_values = true)]
    pub conversations: Option<u64>,
    /// Messages, overriding the preset; at least one per conversation.
    #[arg(long, value_name = "N", value_parser = positive, allow_hyphen_values = true)]
    pub messages: Option<u64>,
    /// Random seed: the same seed and counts give the same rows.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Generator threads (default: one per core). Does not change the rows.
    #[arg(long, value_name = "N", value_parser = positive, allow_hyphen_values = true)]
    pub jobs: Option<u64>,
    /// Schema to create in an empty database: base (before 012) or 012.
    #[arg(long, value_enum, value_name = "SHAPE")]
    pub schema: Option<Shape>,
    /// Replace rows already in the tables (they are kept otherwise, and the seed refuses).
    #[arg(long)]
    pub truncate: bool,
    /// Embedded only: leave the cluster running afterwards and print how to reach and stop it.
    #[arg(long)]
    pub keep: bool,
    /// Embedded only: also time the server's own COPY FROM a file of the same
    /// rows, 3 to 9 times (the median is the ceiling), and print the ratio.
    #[arg(long)]
    pub measure_ceiling: bool,
    /// Production-shaped data without production rows: fill the target with
    /// rows generated from this database's schema and statistics (pg_stats,
    /// pg_class; never its rows). Low-cardinality values are kept, the rest generated.
    #[arg(long, value_name = "SOURCE_URL")]
    pub like: Option<String>,
    /// With --like: rows per table, as a multiple of the source's (default 1).
    #[arg(long, value_name = "F")]
    pub scale_factor: Option<f64>,
    /// With --like: always generate this column's values (TABLE.COLUMN or
    /// SCHEMA.TABLE.COLUMN), even when low-cardinality. Repeatable.
    #[arg(long, value_name = "TABLE.COLUMN")]
    pub redact: Vec<String>,
    /// With --like: the catalogue whose reads are explained on the source
    /// and the target to compare plans (default: fixtures/queries.toml).
    #[arg(long, value_name = "FILE", env = CATALOGUE_ENV)]
    pub catalogue: Option<PathBuf>,
}

/// Flags of `catalogue`.
#[derive(Debug, Clone, Args)]
pub struct CatalogueArgs {
    /// The database whose pg_stat_statements to read (libpq URL or
    /// key=value string); only read, in read-only transactions.
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub from: String,
    /// How many statements to keep.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub top: u32,
    /// Rank statements by total execution time or by calls.
    #[arg(long, value_enum, default_value = "total_time")]
    pub by: crate::capture::By,
    /// Weights from two reads this far apart (e.g. 60s, 10m) instead of
    /// from the calls since pg_stat_statements' last reset; the only way on
    /// PostgreSQL 13.
    #[arg(long, value_parser = duration)]
    pub window: Option<std::time::Duration>,
    /// Write the catalogue here (default: stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Update this catalogue: recognised queries (same SQL, constants
    /// apart) get the captured weight and keep their names, samples and
    /// expect_index; new statements are added.
    #[arg(long, value_name = "FILE")]
    pub merge: Option<PathBuf>,
    /// Also write INSERT, UPDATE and DELETE statements, as kind = "write".
    #[arg(long)]
    pub include_writes: bool,
}

/// Flags of `explain`.
#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub migration: MigrationArgs,
    /// Embedded only: the seeded scale to explain (seeded once, then cached).
    #[arg(long, value_enum, default_value = "small")]
    pub scale: Scale,
    /// Embedded only: the seed of the data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory for the plans (`<query>.<state>.json`) and `plans.json`.
    #[arg(long, value_name = "DIR", default_value = "reports/explain")]
    pub out: PathBuf,
    /// Also explain with each index dropped alone (leave-one-out).
    #[arg(long)]
    pub ablation: bool,
    /// Exit with status 1 when a plan breaks a catalogue assertion (the
    /// same as --fail-on plan).
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Explain only this query (repeatable).
    #[arg(long = "query", value_name = "NAME")]
    pub queries: Vec<String>,
    /// Query catalogue to use (default: fixtures/queries.toml).
    #[arg(long, value_name = "FILE", env = CATALOGUE_ENV)]
    pub catalogue: Option<PathBuf>,
    /// With --url: allow dropping and building the migration's indexes to
    /// compare states; they are put back as found afterwards. Same as
    /// HELPDESK_BENCH_ALLOW_INDEX_CHANGES=1.
    #[arg(long)]
    pub allow_index_changes: bool,
    /// With --allow-index-changes: switch states even while other sessions
    /// use the migration's tables (they wait behind the tool's locks). Same
    /// as HELPDESK_BENCH_FORCE=1.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub plan_cache: PlanCacheArgs,
}

/// How prepared statements are planned, as the application's driver has
/// them planned.
#[derive(Debug, Clone, Args)]
pub struct PlanCacheArgs {
    /// auto (the server's default: custom plans for five executions, then
    /// the generic plan when it costs no more; drivers that prepare once
    /// and reuse, such as JDBC, Rails, pgx, psycopg 3 and Prisma's engine,
    /// run like this), custom (planned afresh each time, as unnamed
    /// statements of node-postgres or Prisma with pgbouncer=true are), or
    /// generic.
    #[arg(long = "plan-cache", value_name = "MODE", default_value = "auto", value_parser = plan_cache_mode, env = crate::explain::PLAN_CACHE_ENV)]
    pub mode: crate::explain::PlanCacheMode,
}

/// Flags of `report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The run folder to render (holding results.json).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "reports/latest",
        conflicts_with = "compare"
    )]
    pub run: PathBuf,
    /// Where to write the pages (default: the run folder; for --compare,
    /// reports/compare).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Render two run folders side by side: a baseline (before) and a run after.
    #[arg(long, num_args = 2, value_names = ["RUN_A", "RUN_B"])]
    pub compare: Option<Vec<PathBuf>>,
    /// Project the deploy advice to these row counts, e.g.
    /// `Message=50000000,Conversation=5000000` (saved into the run's
    /// results.json). Same as HELPDESK_BENCH_PRODUCTION_ROWS for `cargo bench`.
    #[arg(long, value_name = "TABLE=ROWS,...", conflicts_with = "compare")]
    pub production_rows: Option<String>,
}

/// Flags of `sweep`.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub migration: MigrationArgs,
    /// Scales to measure, smallest first (each is seeded once, then cached).
    #[arg(long, value_delimiter = ',', default_value = "tiny,small,medium")]
    pub scales: Vec<Scale>,
    /// Directory to write sweep.json to.
    #[arg(long, value_name = "DIR", default_value = "reports/sweep")]
    pub out: PathBuf,
    /// Also add the sweep to this run folder's results.json (e.g. reports/latest).
    #[arg(long, value_name = "RUN")]
    pub into: Option<PathBuf>,
    /// Query catalogue to use (default: fixtures/queries.toml).
    #[arg(long, value_name = "FILE", env = CATALOGUE_ENV)]
    pub catalogue: Option<PathBuf>,
}

/// Flags of `load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub migration: MigrationArgs,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Embedded only: the seeded scale to load (seeded once, then cached).
    #[arg(long, value_enum, default_value = "small")]
    pub scale: Scale,
    /// Embedded only: the seed of the data. Also seeds the clients' choice
    /// of queries and parameters.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Client counts to run, each a point of its own (one connection per client).
    #[arg(long, value_delimiter = ',', default_value = "1,4,16", value_parser = positive_usize, allow_hyphen_values = true)]
    pub clients: Vec<usize>,
    /// How long each point runs: 10s, 500ms, 2m.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub duration: std::time::Duration,
    /// Open loop: this many requests per second over all clients, on a fixed
    /// schedule, latency counted from each request's intended start. Without
    /// it, closed loop: each client as fast as the server answers.
    #[arg(long, value_name = "TOTAL_PER_S", value_parser = positive_rate, allow_hyphen_values = true)]
    pub rate: Option<f64>,
    /// Run only this query (whatever its weight) instead of the weighted mix.
    #[arg(long, value_name = "NAME")]
    pub query: Option<String>,
    /// Query catalogue to use (default: fixtures/queries.toml).
    #[arg(long, value_name = "FILE", env = CATALOGUE_ENV)]
    pub catalogue: Option<PathBuf>,
    /// Folder the run folder is written into; `latest` there points at it.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
    /// With --url: measure both index states by dropping and building the
    /// migration's indexes for real (committed, so every client sees them),
    /// putting them back exactly as found at the end, even if the tool is
    /// killed. Same as HELPDESK_BENCH_ALLOW_INDEX_CHANGES=1.
    #[arg(long)]
    pub allow_index_changes: bool,
    /// With --allow-index-changes: switch states even while other sessions
    /// use the migration's tables. Same as HELPDESK_BENCH_FORCE=1.
    #[arg(long)]
    pub force: bool,
    /// With --url: also run the catalogue's writes, COMMITTED into your
    /// tables (rows are inserted and updated for real; run it on a copy).
    /// Without it, only reads run there. Same as
    /// HELPDESK_BENCH_COMMIT_WRITES=1.
    #[arg(long)]
    pub commit_writes: bool,
}

/// Flags of the commands that work on scratch copies (`advise`, `rehearse`).
#[derive(Debug, Clone, Args)]
pub struct ScratchArgs {
    /// With --url: let the tool create, seed, change and drop scratch
    /// databases of its own on that server (never copied from yours; your
    /// tables are not touched). Needs CREATEDB. Same as
    /// HELPDESK_BENCH_ALLOW_SCRATCH=1.
    #[arg(long)]
    pub allow_scratch: bool,
    /// Retired: it meant two things. Use --allow-scratch.
    #[arg(long, hide = true)]
    pub allow_writes: bool,
    /// Scale of the scratch copies (embedded: seeded once, then cached).
    #[arg(long, value_enum, default_value = "small")]
    pub scale: Scale,
    /// Seed of the data (and of rehearse's choice of queries).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Without --url: build the embedded lab like this database (its schema,
    /// and rows generated from its statistics as seed --like does, none of
    /// its rows read) instead of the help-desk lab, for a migration of your
    /// own.
    #[arg(long, value_name = "SOURCE_URL", env = crate::workspace::LIKE_ENV)]
    pub like: Option<String>,
    /// With --url and a migration of your own: where the scratch copy's
    /// rows come from. copy: your rows, streamed through the tool and held
    /// in memory only; synth: rows generated from your tables' statistics
    /// (pg_stats), as seed --like does, so no row of yours is read.
    #[arg(long, value_enum, default_value = "copy", env = crate::scratch::DATA_ENV)]
    pub data: crate::scratch::Data,
    /// With --url and a migration of your own: copy about this fraction of
    /// your rows into the scratch copy (0 < FRACTION <= 1), keeping foreign
    /// keys consistent (parents first, then the children that reference
    /// them); in synth mode, generate this fraction of your row counts.
    /// Default: every row.
    #[arg(long, value_name = "FRACTION", env = crate::scratch::SAMPLE_ENV)]
    pub sample: Option<f64>,
    /// With --url and a migration of your own: the most table data a
    /// scratch copy may take, in MB (default 1024); above it the command
    /// refuses before any work and names the --sample that fits.
    #[arg(long, value_name = "MB", env = crate::scratch::LIMIT_ENV)]
    pub copy_limit_mb: Option<u64>,
}

impl ScratchArgs {
    /// How scratch copies of the user's database are made.
    pub fn copy_options(&self) -> Result<crate::scratch::CopyOptions> {
        let opts = crate::scratch::CopyOptions::new(self.data, self.sample, self.copy_limit_mb)?;
        Ok(crate::scratch::CopyOptions {
            seed: self.seed,
            ..opts
        })
    }

    /// True when --allow-scratch or HELPDESK_BENCH_ALLOW_SCRATCH was given;
    /// the retired --allow-writes and HELPDESK_BENCH_ALLOW_WRITES are
    /// refused, naming the new permission.
    pub fn scratch_allowed(&self, command: &str) -> Result<bool> {
        use crate::permission::{refuse_retired, SCRATCH};
        if self.allow_writes {
            return Err(crate::error::Error::BadInput(format!(
                "--allow-writes is retired, because it meant two things; for {command}, pass {} instead",
                SCRATCH.flag
            )));
        }
        refuse_retired(command, &SCRATCH)?;
        SCRATCH.granted(self.allow_scratch)
    }
}

/// Flags of `advise`.
#[derive(Debug, Clone, Args)]
pub struct AdviseArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub migration: MigrationArgs,
    #[command(flatten)]
    pub scratch: ScratchArgs,
    /// Query catalogue to use (default: fixtures/queries.toml).
    #[arg(long, value_name = "FILE", env = CATALOGUE_ENV)]
    pub catalogue: Option<PathBuf>,
    /// Total size the suggested indexes may take, in MB (default: the
    /// migration's own indexes' total, as built on the scratch copy).
    #[arg(long, value_name = "MB", value_parser = positive_rate, allow_hyphen_values = true)]
    pub size_budget: Option<f64>,
    /// At most this many candidates besides the migration's own indexes.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = positive_usize, allow_hyphen_values = true)]
    pub max_candidates: usize,
    /// Folder the run folder is written into; `latest` there points at it.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
}

/// Flags of `rehearse`.
#[derive(Debug, Clone, Args)]
pub struct RehearseArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub migration: MigrationArgs,
    #[command(flatten)]
    pub gate: GateArgs,
    #[command(flatten)]
    pub scratch: ScratchArgs,
    /// Traffic: requests per second over all clients, open loop.
    #[arg(long, value_name = "TOTAL_PER_S", default_value = "50", value_parser = positive_rate, allow_hyphen_values = true)]
    pub rate: f64,
    /// Traffic clients per query, one connection each: each query's
    /// requests go over their own clients, so one stuck behind a lock holds
    /// up only its own query.
    #[arg(long, default_value = "2", value_parser = positive_usize, allow_hyphen_values = true)]
    pub clients: usize,
    /// Also send the catalogue's other weighted queries that run before the
    /// migration (before it, some scan all of "Message" on every request).
    #[arg(long)]
    pub with_catalogue_queries: bool,
    /// Production rows per table for the projection, e.g.
    /// Message=50000000,Conversation=5000000 (with --url: your tables'
    /// pg_class.reltuples when not given).
    #[arg(long, value_name = "TABLE=ROWS,...", env = crate::measure::PRODUCTION_ROWS_ENV)]
    pub production_rows: Option<String>,
    /// Query catalogue to use (default: fixtures/queries.toml).
    #[arg(long, value_name = "FILE", env = CATALOGUE_ENV)]
    pub catalogue: Option<PathBuf>,
    /// Folder the run folder is written into; `latest` there points at it.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
    /// Also add the rehearsal to this run folder's results.json and report
    /// (e.g. reports/latest after `cargo bench`), beside its deploy advice.
    #[arg(long, value_name = "RUN")]
    pub into: Option<PathBuf>,
}

pub use crate::duration::parse as duration;

fn plan_cache_mode(s: &str) -> Result<crate::explain::PlanCacheMode, String> {
    crate::explain::PlanCacheMode::parse(s).map_err(|e| e.to_string())
}

fn positive_usize(s: &str) -> Result<usize, String> {
    positive(s).map(|n| n as usize)
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        Ok(r) => Err(format!("must be above 0 (got {r})")),
        Err(_) => Err(format!("{s:?} is not a number of requests per second")),
    }
}

/// A whole number of at least 1.
fn positive(s: &str) -> Result<u64, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n as u64),
        Ok(n) => Err(format!("must be at least 1 (got {n})")),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply the forward migration in one transaction, timing each statement.
    Up,
    /// Apply the rollback in one transaction.
    Down,
    /// Say whether the database holds the base schema, the migration, or
    /// something else, and what differs.
    Status,
    /// Create the pre-migration base schema in an empty database.
    Base,
}

#[cfg(test)]
mod tests {
    use super::duration;
    use std::time::Duration;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(duration("10").unwrap_err().contains("no unit"));
        assert!(duration("0s").unwrap_err().contains("more than 0"));
        assert!(duration("fast").unwrap_err().contains("not a duration"));
    }
}
