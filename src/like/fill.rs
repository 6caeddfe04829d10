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

/// Rows per generated chunk.
const CHUNK: u64 = 8192;

/// One table's rows, chunk by chunk.
struct Rows {
    plan: Arc<TablePlan>,
    seed: u64,
}

impl ChunkSource for Rows {
    fn chunks(&self) -> usize {
        self.plan.rows.div_ceil(CHUNK) as usize
    }

    fn encode(&self, k: usize, enc: &mut Encoder) -> u64 {
        let (from, n) = (k as u64 * CHUNK, self.plan.rows);
        let to = (from + CHUNK).min(n);
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
