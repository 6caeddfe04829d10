//! Fills the target in one transaction, as `seed` and the scratch copy do:
//! the schema's tables created, every table loaded by binary
//! `COPY … FREEZE` (legal because the table was created in the same
//! transaction) from generator threads, then keys, constraints, indexes,
//! foreign keys and triggers, then COMMIT and `ANALYZE`. A stop before
//! COMMIT leaves nothing half-filled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::plan::TablePlan;
use super::values;
use crate::cluster::Endpoint;
use crate::error::{Context, Result};
use crate::recreate::build;
use crate::recreate::catalog::SchemaCopy;
use crate::seed::{self, ChunkSource, Encoder, Reporter};

/// Rows per generated chunk.
const CHUNK: u64 = 8192;

/// One table's rows, chunk by chunk.
struct Rows {
    plan: TablePlan,
    seed: u64,
}

impl ChunkSource for Rows {
    fn chunks(&self) -> usize {
        self.plan.rows.div_ceil(CHUNK) as usize
    }

    fn encode(&self, k: usize, enc: &mut Encoder) -> u64 {
        let (from, n) = (k as u64 * CHUNK, self.plan.rows);
        let to = (from + CHUNK).min(n);
        for i in from..to {
            enc.row(self.plan.gens.len() as i16);
            for g in &self.plan.gens {
                values::encode(enc, g.kind, g.scale, &g.value(self.seed, i, n));
            }
        }
        to - from
    }
}

/// What filling took.
#[derive(Debug, Clone, Default)]
pub struct Filled {
    pub rows: u64,
    pub bytes: u64,
    /// The COPY phase only.
    pub copy: Duration,
    pub total: Duration,
}

/// Builds `schema` in the empty `target` and fills it per `plans`.
pub async fn fill(
    target: &Endpoint,
    schema: &SchemaCopy,
    plans: Vec<TablePlan>,
    seed: u64,
    jobs: usize,
    progress: &Reporter,
) -> Result<Filled> {
    let started = Instant::now();
    let client = target.connect().await?;
    build::prepare(&client).await?;
    client
        .batch_execute("BEGIN")
        .await
        .context("starting the target's transaction")?;
    build::run_in_transaction(&client, &schema.setup).await?;
    let mut filled = Filled::default();
    let copy_started = Instant::now();
    for plan in plans {
        let t0 = Instant::now();
        let (name, columns) = (plan.name.clone(), plan.columns.join(", "));
        let sql = seed::copy_statement(&name, &columns, "STDIN", true);
        let rows = Arc::new(Rows { plan, seed });
        let stats = seed::copy_in(&client, target, &sql, &name, rows, jobs, |_| {}).await?;
        progress.phase(
            &format!("like: {name}"),
            t0.elapsed(),
            &format!("{} rows", stats.rows),
        );
        filled.rows += stats.rows;
        filled.bytes += stats.bytes;
    }
    filled.copy = copy_started.elapsed();
    let t0 = Instant::now();
    build::run_in_transaction(&client, &schema.finish).await?;
    client
        .batch_execute("COMMIT")
        .await
        .context("committing the target's rows")?;
    client
        .batch_execute("ANALYZE")
        .await
        .context("analyzing the target")?;
    progress.phase("like: keys, indexes, ANALYZE", t0.elapsed(), "");
    filled.total = started.elapsed();
    Ok(filled)
}
