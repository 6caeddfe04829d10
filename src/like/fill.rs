//! Fills the target in one transaction, as `seed` and the scratch copy do:
//! the schema's tables created, every table loaded by binary
//! `COPY … FREEZE` (legal because the table was created in the same
//! transaction) from generator threads, then keys, constraints, indexes,
//! foreign keys and triggers (a check constraint the rows break created
//! `NOT VALID`), sequences moved past the generated keys, then COMMIT and
//! `ANALYZE`. A stop before
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

/// Rows per generated chunk, once a table's stream is under way.
const CHUNK: u64 = 8192;
/// Rows of a table's first chunk. Chunks double from here up to [`CHUNK`],
/// so the server starts on a table while its generators are still on the
/// first few thousand rows: with whole chunks from the start, a table of
/// tens of thousands of rows waited for a full chunk before the server had
/// anything to do, and at `--scale-factor 0.1` that wait was a large share
/// of each table's load.
const FIRST: u64 = 512;
/// Doublings from [`FIRST`] to [`CHUNK`].
const RAMP: u32 = (CHUNK / FIRST).trailing_zeros();
/// Rows in the ramp's chunks.
const RAMPED: u64 = FIRST * ((1 << RAMP) - 1);

/// The first row of chunk `k`: the ramp's chunks, then whole ones. Each
/// row's values depend on its number only, so where chunks begin changes
/// nothing in the table.
fn chunk_start(k: u64) -> u64 {
    if k <= RAMP as u64 {
        FIRST * ((1 << k) - 1)
    } else {
        RAMPED + (k - RAMP as u64) * CHUNK
    }
}

/// How many chunks hold `rows` rows.
fn chunk_count(rows: u64) -> u64 {
    if rows > RAMPED {
        RAMP as u64 + (rows - RAMPED).div_ceil(CHUNK)
    } else {
        (0..=RAMP as u64)
            .find(|&k| chunk_start(k) >= rows)
            .unwrap_or(RAMP as u64)
    }
}

/// One table's rows, chunk by chunk.
struct Rows {
    plan: Arc<TablePlan>,
    seed: u64,
}

impl ChunkSource for Rows {
    fn chunks(&self) -> usize {
        chunk_count(self.plan.rows) as usize
    }

    fn encode(&self, k: usize, enc: &mut Encoder) -> u64 {
        let n = self.plan.rows;
        let (from, to) = (chunk_start(k as u64), chunk_start(k as u64 + 1).min(n));
        let plan = &self.plan;
        let mut picks = vec![None; plan.groups.len()];
        for i in from..to {
            for (p, g) in picks.iter_mut().zip(&plan.groups) {
                *p = g.pick(i);
            }
            enc.row(plan.gens.len() as i16);
            for (c, g) in plan.gens.iter().enumerate() {
                match plan.joint_value(c, &picks) {
                    Some(v) => values::encode(enc, g.kind, g.scale, v),
                    None => values::encode(enc, g.kind, g.scale, &g.value(self.seed, i, n)),
                }
            }
        }
        to - from
    }
}

/// One table filled: its plan (the same rows can be generated again, for
/// the ingest ceiling) and how long its COPY took.
#[derive(Debug, Clone)]
pub struct Copied {
    plan: Arc<TablePlan>,
    seed: u64,
    pub rows: u64,
    pub copy: Duration,
}

impl Copied {
    /// The table as the ingest ceiling loads it again
    /// ([`seed::measure_ceiling_of`]).
    pub fn loaded(&self) -> seed::Loaded {
        seed::Loaded {
            table: self.plan.name.clone(),
            columns: self.plan.columns.join(", "),
            source: Arc::new(Rows {
                plan: self.plan.clone(),
                seed: self.seed,
            }),
            rows: self.rows,
            seed: self.copy,
        }
    }
}

/// What filling took.
#[derive(Debug, Clone, Default)]
pub struct Filled {
    /// Each table, in load order.
    pub tables: Vec<Copied>,
    pub rows: u64,
    pub bytes: u64,
    /// The COPY phase only.
    pub copy: Duration,
    pub total: Duration,
    /// Check constraints the generated rows break, created `NOT VALID`
    /// (`name on table`).
    pub not_valid: Vec<String>,
    /// Sequences moved past their column's largest generated value.
    pub sequences: usize,
}

/// The statements that move each ascending sequence a table's integer
/// column owns (`serial`, identity) to the column's largest value, so the
/// next `INSERT` takes a free key, as on the source.
const ADVANCE: &str = "SELECT pg_catalog.format('SELECT pg_catalog.setval(%L, max(%I)) FROM %s HAVING max(%I) >= %s',
        d.objid::pg_catalog.regclass::text, a.attname, d.refobjid::pg_catalog.regclass::text, a.attname, q.seqmin)
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_sequence q ON q.seqrelid = d.objid
    JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
     AND d.deptype IN ('a', 'i') AND q.seqincrement > 0
     AND a.atttypid IN ('pg_catalog.int2'::pg_catalog.regtype, 'pg_catalog.int4'::pg_catalog.regtype,
                        'pg_catalog.int8'::pg_catalog.regtype)";

/// Runs [`ADVANCE`]'s statements; returns how many sequences moved.
async fn advance_sequences(client: &tokio_postgres::Client) -> Result<usize> {
    let statements = client
        .query(ADVANCE, &[])
        .await
        .context("finding the target's sequences")?;
    let mut moved = 0;
    for r in statements {
        let sql: String = r.get(0);
        moved += client
            .query(&sql, &[])
            .await
            .context("advancing a sequence past the generated keys")?
            .len();
    }
    Ok(moved)
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
        let plan = Arc::new(plan);
        let rows = Arc::new(Rows {
            plan: plan.clone(),
            seed,
        });
        let stats = seed::copy_in(&client, target, &sql, &name, rows, jobs, |_| {}).await?;
        progress.phase(
            &format!("like: {name}"),
            t0.elapsed(),
            &format!("{} rows", stats.rows),
        );
        filled.tables.push(Copied {
            plan,
            seed,
            rows: stats.rows,
            copy: t0.elapsed(),
        });
        filled.rows += stats.rows;
        filled.bytes += stats.bytes;
    }
    filled.copy = copy_started.elapsed();
    let t0 = Instant::now();
    filled.not_valid = build::run_in_transaction(&client, &schema.finish).await?;
    filled.sequences = advance_sequences(&client).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_ramp_up_and_cover_every_row_once() {
        assert_eq!(
            (0..6).map(chunk_start).collect::<Vec<_>>(),
            [0, 512, 1536, 3584, 7680, 15872]
        );
        for rows in [0, 1, 511, 512, 513, 7680, 7681, 15872, 100_000, 1_000_003] {
            let k = chunk_count(rows);
            assert!(chunk_start(k) >= rows, "{rows} rows: {k} chunks too few");
            assert!(
                k == 0 || chunk_start(k - 1) < rows,
                "{rows} rows: chunk {k} empty"
            );
        }
    }
}
