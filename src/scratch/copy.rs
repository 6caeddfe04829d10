//! A scratch copy of a team's own database: planned on the source before
//! anything is created (what cannot be copied is refused here, in one line,
//! as is a copy above the size limit), then filled: the schema from the
//! catalog, the rows streamed through the tool, the foreign keys, indexes
//! and triggers once the rows are in, and `ANALYZE`.
//!
//! The size limit: copy mode copies at most [`DEFAULT_LIMIT_MB`] MB of
//! table data (`pg_table_size`, TOAST included, indexes not: those are
//! rebuilt), fraction included, unless `HELPDESK_BENCH_COPY_LIMIT_MB` says
//! otherwise. Above it the copy is refused before any work, naming the
//! size and the `--sample` fraction that fits. A scratch copy doubles that
//! much of the server's disk while it lives; on this project's 2 shared
//! cores, 224 MB of one table copied in 40 to 49 s (`docs/measured.md`), so 1 GB takes
//! some 3 to 4 minutes per copy.

use std::collections::BTreeMap;
use std::time::Instant;

use super::catalog::{self, SchemaCopy};
use super::{build, data, refusals, sample};
use crate::cluster::Endpoint;
use crate::error::{Context, Error, Result};
use crate::seed::Reporter;

/// The default most table data a copy takes, in MB.
pub const DEFAULT_LIMIT_MB: u64 = 1024;
/// Environment variable: the fraction of rows to copy (`--sample`).
pub const SAMPLE_ENV: &str = "HELPDESK_BENCH_SAMPLE";
/// Environment variable: the most table data to copy, in MB.
pub const LIMIT_ENV: &str = "HELPDESK_BENCH_COPY_LIMIT_MB";

/// How much of the team's data a scratch copy takes.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyOptions {
    /// A foreign-key-consistent sample of about this fraction of the rows;
    /// `None`: every row.
    pub sample: Option<f64>,
    /// The most table data to copy, in bytes.
    pub limit_bytes: u64,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            sample: None,
            limit_bytes: DEFAULT_LIMIT_MB * 1_000_000,
        }
    }
}

impl CopyOptions {
    /// A sample of `fraction` (checked to be in (0, 1]) under `limit_mb`.
    pub fn new(sample: Option<f64>, limit_mb: Option<u64>) -> Result<CopyOptions> {
        if let Some(f) = sample.filter(|f| !(*f > 0.0 && *f <= 1.0)) {
            return Err(Error::BadInput(format!(
                "--sample {f} is not a fraction of the rows; pass a number above 0 and at most 1, such as 0.1"
            )));
        }
        Ok(CopyOptions {
            sample,
            limit_bytes: limit_mb.unwrap_or(DEFAULT_LIMIT_MB) * 1_000_000,
        })
    }

    /// From `HELPDESK_BENCH_SAMPLE` and `HELPDESK_BENCH_COPY_LIMIT_MB`.
    pub fn from_env() -> Result<CopyOptions> {
        fn var<T: std::str::FromStr>(name: &str, what: &str) -> Result<Option<T>> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => v.trim().parse().map(Some).map_err(|_| {
                    Error::BadInput(format!("{name}={v} is not {what}; fix or unset it"))
                }),
                _ => Ok(None),
            }
        }
        CopyOptions::new(
            var(SAMPLE_ENV, "a fraction such as 0.1")?,
            var(LIMIT_ENV, "a whole number of MB")?,
        )
    }
}

/// Everything a copy needs, read before any database is created.
pub struct Plan {
    pub schema: SchemaCopy,
    pub filters: Option<BTreeMap<u32, String>>,
}

/// Reads and checks the source: refused objects, size, sample.
pub async fn plan(source: &Endpoint, opts: &CopyOptions) -> Result<Plan> {
    let client = source.connect().await?;
    let db = source.dbname();
    let refused = refusals::find(&client).await?;
    if let Some(first) = refused.first() {
        let more = match refused.len() {
            1 => String::new(),
            n => format!(" ({} more objects refused too)", n - 1),
        };
        return Err(Error::BadInput(format!(
            "cannot make a scratch copy of {db}: {first}{more}; nothing was created"
        )));
    }
    let schema = catalog::read(&client).await?;
    let bytes: i64 = schema.tables.iter().map(|t| t.bytes).sum();
    let wanted = bytes as f64 * opts.sample.unwrap_or(1.0);
    if wanted > opts.limit_bytes as f64 {
        let fits = (opts.limit_bytes as f64 / bytes as f64 * 100.0).floor() / 100.0;
        return Err(Error::BadInput(format!(
            "a scratch copy of {db} would copy {:.0} MB of table data, above the {} MB limit; pass --sample {fits} (about that fraction of the rows, keeping foreign keys consistent), or raise the limit with {LIMIT_ENV}; nothing was created",
            wanted / 1e6,
            opts.limit_bytes / 1_000_000
        )));
    }
    let filters = match opts.sample {
        Some(f) => Some(sample::filters(&schema.tables, &schema.foreign_keys, f)?),
        None => None,
    };
    Ok(Plan { schema, filters })
}

/// Builds the planned copy in `scratch`: schema, rows, the rest, ANALYZE.
pub async fn fill(
    source: &Endpoint,
    scratch: &Endpoint,
    plan: &Plan,
    progress: &Reporter,
) -> Result<data::Copied> {
    let mut from = source.connect().await?;
    let to = scratch.connect().await?;
    build::prepare(&to).await?;
    let started = Instant::now();
    build::run(&to, &plan.schema.setup).await?;
    progress.phase("copy: schema", started.elapsed(), "");
    let started = Instant::now();
    let s = &plan.schema;
    let copied = data::copy(
        &mut from,
        &to,
        &s.tables,
        plan.filters.as_ref(),
        &s.sequences,
    )
    .await?;
    let detail = format!(
        "{} rows of {} tables, {:.1} MB streamed",
        copied.rows,
        copied.tables,
        copied.bytes as f64 / 1e6
    );
    progress.phase("copy: rows", started.elapsed(), &detail);
    let started = Instant::now();
    build::run(&to, &s.finish).await?;
    to.batch_execute("ANALYZE")
        .await
        .context("analyzing the scratch copy")?;
    progress.phase("copy: keys, indexes, ANALYZE", started.elapsed(), "");
    Ok(copied)
}
