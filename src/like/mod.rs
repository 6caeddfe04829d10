//! `seed --like`: production-shaped data without production rows. The
//! source is read in one read-only transaction: its schema from the
//! catalog ([`crate::recreate::catalog`]), its row estimates and per-column
//! statistics from `pg_class`, `pg_stats` and `pg_stats_ext` ([`stats`]);
//! never a row of its tables, and never `ANALYZE`. Tables never analysed
//! are refused. From the statistics, one generator per column ([`plan`],
//! [`model`], [`values`]), columns of an extended statistics object drawn
//! together ([`joint`]), under the privacy rule ([`privacy`]) fills an empty target
//! in one transaction ([`fill`]); B-tree indexes are rebuilt to the
//! source's pages per row ([`indexes`]); the target is analysed and
//! compared with the source ([`fidelity`]).

pub mod estimate;
pub mod fidelity;
pub mod fill;
pub mod indexes;
pub mod joint;
pub mod model;
pub mod order;
pub mod plan;
pub mod plans;
pub mod privacy;
pub mod stats;
pub mod values;

use std::collections::BTreeMap;
use std::time::Instant;

use crate::cluster::Endpoint;
use crate::error::{Context, Error, Result};
use crate::recreate::{catalog, refusals};
use crate::seed::Reporter;

pub use fidelity::Fidelity;
pub use fill::Filled;
pub use plans::Agreement;

/// What `seed --like` is asked.
#[derive(Debug, Clone)]
pub struct LikeOptions {
    /// Target rows per table: this times the source's.
    pub scale: f64,
    pub seed: u64,
    pub jobs: usize,
    /// `table.column` or `schema.table.column` whose values are always generated.
    pub redact: Vec<String>,
}

impl LikeOptions {
    /// `scale` times the source's rows from `seed`, on every core, nothing
    /// redacted beyond the privacy rule.
    pub fn new(scale: f64, seed: u64) -> LikeOptions {
        LikeOptions {
            scale,
            seed,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            redact: Vec::new(),
        }
    }
}

/// What was filled, and how faithfully.
#[derive(Debug)]
pub struct LikeReport {
    pub tables: usize,
    pub filled: Filled,
    pub fidelity: Fidelity,
    /// Seconds reading the source.
    pub read_secs: f64,
    /// Target stand-ins of the source's most common values ([`plan::stand_ins`]).
    pub stand_ins: BTreeMap<String, String>,
    /// References the schema does not declare, inferred from column names
    /// ([`stats::infer_parents`]): `table.column -> table.column`.
    pub inferred: Vec<String>,
    /// Columns hidden from the user reading the source (no `SELECT`
    /// privilege, row-level security), generated from stand-in statistics:
    /// `table.column (why)`.
    pub hidden: Vec<String>,
    /// Target indexes rebuilt to the source's pages per row.
    pub resized: Vec<indexes::Resized>,
}

/// Everything read from the source and planned, before anything is
/// created: what cannot be generated has been refused by now. Cloned to
/// fill several targets from one read.
#[derive(Clone)]
pub struct Prepared {
    schema: catalog::SchemaCopy,
    source_stats: Vec<stats::TableStats>,
    plans: Vec<plan::TablePlan>,
    /// `(table, column)` generated in the source's format, not kept.
    generated: Vec<(String, String)>,
    stand_ins: BTreeMap<String, String>,
    inferred: Vec<String>,
    hidden: Vec<String>,
    index_sizes: Vec<indexes::IndexSize>,
    read_secs: f64,
}

/// Fills the empty `target` with data shaped like `source`'s.
pub async fn run(
    source: &Endpoint,
    target: &Endpoint,
    opts: &LikeOptions,
    progress: &Reporter,
) -> Result<LikeReport> {
    let prepared = prepare(source, opts).await?;
    fill_target(prepared, target, opts, progress).await
}

/// Reads the source's schema and statistics and plans every column's
/// generator; refuses, in one line, what cannot be generated.
pub async fn prepare(source: &Endpoint, opts: &LikeOptions) -> Result<Prepared> {
    if !(opts.scale > 0.0 && opts.scale.is_finite()) {
        return Err(Error::BadInput(format!(
            "--scale-factor {} is not a positive number; pass one such as 0.1, 1 or 3",
            opts.scale
        )));
    }
    let t0 = Instant::now();
    let (schema, source_stats, inferred, index_sizes) = read_source(source).await?;
    let read_secs = t0.elapsed().as_secs_f64();
    let plans = plan::plan(
        &schema.tables,
        &source_stats,
        opts.scale,
        opts.seed,
        &opts.redact,
    )?;
    let generated: Vec<(String, String)> = plans
        .iter()
        .zip(&schema.tables)
        .flat_map(|(p, t)| {
            let table = source_stats
                .iter()
                .find(|s| s.oid == t.oid)
                .map(|s| s.table.clone())
                .unwrap_or_default();
            p.generated.iter().map(move |c| (table.clone(), c.clone()))
        })
        .collect();
    let plan_stats: Vec<stats::TableStats> = schema
        .tables
        .iter()
        .filter_map(|t| source_stats.iter().find(|s| s.oid == t.oid).cloned())
        .collect();
    let stand_ins = plan::stand_ins(&plans, &plan_stats);
    let hidden = hidden_columns(&plan_stats);
    Ok(Prepared {
        schema,
        source_stats,
        plans,
        generated,
        stand_ins,
        inferred,
        hidden,
        index_sizes,
        read_secs,
    })
}

/// The columns whose statistics the user may not see, as `table.column
/// (why)`, in table order.
fn hidden_columns(stats: &[stats::TableStats]) -> Vec<String> {
    stats
        .iter()
        .flat_map(|t| {
            let columns = t.columns.values().filter_map(move |c| {
                c.hidden
                    .map(|h| format!("{}.{} ({})", t.table, c.name, h.describe()))
            });
            let joint = t.joint_hidden.iter().map(move |s| {
                format!(
                    "statistics {s} on {} (pg_stats_ext shows the table's owner only: its columns drawn independently)",
                    t.table
                )
            });
            columns.chain(joint)
        })
        .collect()
}

/// Fills the empty `target` as `prepared` planned, then analyzes it and
/// compares its statistics with the source's.
pub async fn fill_target(
    prepared: Prepared,
    target: &Endpoint,
    opts: &LikeOptions,
    progress: &Reporter,
) -> Result<LikeReport> {
    let Prepared {
        schema,
        source_stats,
        plans,
        generated,
        stand_ins,
        inferred,
        hidden,
        index_sizes,
        read_secs,
    } = prepared;
    let filled = fill::fill(target, &schema, plans, opts.seed, opts.jobs, progress).await?;
    let client = target.connect().await?;
    let names: Vec<String> = schema.tables.iter().map(|t| t.name.clone()).collect();
    let oids: Vec<u32> = client
        .query_one(
            "SELECT ARRAY(SELECT pg_catalog.to_regclass(n)::oid FROM pg_catalog.unnest($1::text[]) n)",
            &[&names],
        )
        .await
        .context("finding the target's tables")?
        .get(0);
    let resized = indexes::match_sizes(&client, &oids, &index_sizes).await?;
    let target_stats = stats::read(&client, &oids, false).await?;
    let is_generated = |t: &str, c: &str| generated.iter().any(|(a, b)| a == t && b == c);
    let fidelity = fidelity::compare(&source_stats, &target_stats, opts.scale, &is_generated);
    Ok(LikeReport {
        tables: schema.tables.len(),
        filled,
        fidelity,
        read_secs,
        stand_ins,
        inferred,
        hidden,
        resized,
    })
}

/// What is read from the source: its schema, statistics, the foreign
/// keys inferred from names ([`stats::infer_parents`]) and its B-tree
/// indexes' sizes.
type Read = (
    catalog::SchemaCopy,
    Vec<stats::TableStats>,
    Vec<String>,
    Vec<indexes::IndexSize>,
);

/// The source's schema and statistics, in one read-only transaction.
async fn read_source(source: &Endpoint) -> Result<Read> {
    let client = source.connect().await?;
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .context("starting a read-only transaction on the source")?;
    let refused = refusals::find(&client, refusals::Rows::Generated).await?;
    if let Some(first) = refused.first() {
        return Err(Error::BadInput(format!(
            "cannot recreate {}'s schema: {first}; nothing was created",
            source.dbname()
        )));
    }
    let schema = catalog::read(&client).await?;
    let oids: Vec<u32> = schema.tables.iter().map(|t| t.oid).collect();
    let mut stats = stats::read(&client, &oids, true).await?;
    let inferred = stats::infer_parents(&mut stats);
    let sizes = indexes::read(&client, &oids).await?;
    client
        .batch_execute("COMMIT")
        .await
        .context("ending the source's read-only transaction")?;
    Ok((schema, stats, inferred, sizes))
}
