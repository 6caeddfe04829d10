//! A scratch copy of a team's own database: planned on the source before
//! anything is created (what cannot be copied is refused here, in one line,
//! as is a copy above the size limit), then filled: the schema from the
//! catalog, the rows streamed through the tool, the foreign keys, indexes
//! and triggers once the rows are in, and `ANALYZE`.
//!
//! The size limit: a copy takes at most [`super::DEFAULT_LIMIT_MB`] MB of
//! table data (`pg_table_size`, TOAST included, indexes not: those are
//! rebuilt), fraction included (in synth mode, the generated rows'
//! estimate, the same), unless `HELPDESK_BENCH_COPY_LIMIT_MB` says
//! otherwise. Above it the copy is refused before any work, naming the
//! size and the `--sample` fraction that fits. A scratch copy doubles that
//! much of the server's disk while it lives; on this project's 2 shared
//! cores, 224 MB of one table copied in 40 to 49 s (`docs/measured.md`), so 1 GB takes
//! some 3 to 4 minutes per copy.

use std::collections::BTreeMap;
use std::time::Instant;

use super::options::{CopyOptions, Data, LIMIT_ENV};
use super::{data, sample};
use crate::cluster::Endpoint;
use crate::error::{Context, Error, Result};
use crate::recreate::catalog::{self, SchemaCopy};
use crate::recreate::{build, refusals};
use crate::seed::Reporter;

/// Everything a copy needs, read before any database is created.
pub struct Plan {
    pub schema: SchemaCopy,
    pub filters: Option<BTreeMap<u32, String>>,
}

/// Reads and checks the source: refused objects, size, sample.
pub async fn plan(source: &Endpoint, opts: &CopyOptions) -> Result<Plan> {
    let client = source.connect().await?;
    let db = source.dbname();
    let refused = refusals::find(&client, refusals::Rows::Copied).await?;
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
    let filters = match (opts.data, opts.sample) {
        (Data::Copy, Some(f)) => Some(sample::filters(&schema.tables, &schema.foreign_keys, f)?),
        _ => None,
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
