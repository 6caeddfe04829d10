//! One seed, start to finish: inspect the target, then in a single
//! transaction create (or truncate) the tables, COPY every table with
//! FREEZE, build keys, indexes and foreign keys, and commit; then ANALYZE
//! the tables in parallel over the pool. Any failure or interruption rolls
//! the whole transaction back, so no half-filled table is ever left.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use tokio_postgres::Client;

use super::copy::{self, copy_in, ChunkSource, CopyStats};
use super::progress::Reporter;
use super::{conversations, messages, users, Context, Counts, SeedConfig, Shape};
use crate::cluster::{transaction, Begin, End, Endpoint};
use crate::error::{Context as _, Error, Result};
use crate::schema::{self, fixtures, Migration, State, Statement, StatementKind};
use crate::sql::quote_ident;

/// The tables, in load order (each references only earlier ones).
pub const TABLES: [&str; 3] = ["User", "Conversation", "Message"];

/// How long one phase took, and what it moved.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhaseTime {
    pub name: String,
    #[serde(with = "crate::duration::millis")]
    pub duration: Duration,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
}

/// What a seed did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedReport {
    pub shape: Shape,
    pub counts: Counts,
    pub seed: u64,
    /// True when the tool created the schema (and so built keys after loading).
    pub created_schema: bool,
    /// True when COPY could use FREEZE.
    pub froze: bool,
    pub phases: Vec<PhaseTime>,
    #[serde(with = "crate::duration::millis")]
    pub total: Duration,
}

impl SeedReport {
    /// The COPY phase of one table.
    pub fn copy_phase(&self, table: &str) -> Option<&PhaseTime> {
        self.phases.iter().find(|p| p.name == table)
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "done in {:.2} s", self.total.as_secs_f64())
    }
}

/// One table's generator, columns and row count.
pub struct TableSpec {
    pub table: &'static str,
    pub columns: &'static str,
    pub source: Arc<dyn ChunkSource>,
    pub rows: u64,
}

/// The three tables in load order, for a prepared context.
pub fn tables(ctx: &Arc<Context>) -> [TableSpec; 3] {
    [
        TableSpec {
            table: TABLES[0],
            columns: users::columns(ctx.shape),
            source: Arc::new(users::Users(ctx.clone())),
            rows: ctx.counts.users,
        },
        TableSpec {
            table: TABLES[1],
            columns: conversations::columns(ctx.shape),
            source: Arc::new(conversations::Conversations(ctx.clone())),
            rows: ctx.counts.conversations,
        },
        TableSpec {
            table: TABLES[2],
            columns: messages::COLUMNS,
            source: Arc::new(messages::Messages(ctx.clone())),
            rows: ctx.counts.messages,
        },
    ]
}

/// Where a statement of the schema files belongs in a pgbench-style load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Structure,
    PrimaryKeys,
    Indexes,
    ForeignKeys,
    Skip,
}

/// The step a statement runs in, from what the schema parser says it creates:
/// unique indexes and constraints are built with the primary keys.
fn step_of(st: &Statement) -> Step {
    match StatementKind::of(st) {
        StatementKind::TransactionControl => Step::Skip,
        StatementKind::AddPrimaryKey
        | StatementKind::AddUnique
        | StatementKind::CreateIndex { unique: true } => Step::PrimaryKeys,
        StatementKind::CreateIndex { unique: false } => Step::Indexes,
        StatementKind::AddForeignKey => Step::ForeignKeys,
        StatementKind::CreateTable
        | StatementKind::CreateType
        | StatementKind::AddColumns
        | StatementKind::CommentOnColumn
        | StatementKind::Other => Step::Structure,
    }
}

/// Seeds `db` as `cfg` says, reporting progress to `progress`.
pub async fn run(db: &Endpoint, cfg: &SeedConfig, progress: &Reporter) -> Result<SeedReport> {
    cfg.validate()?;
    let started = Instant::now();
    let pool = db.pool(TABLES.len()).await?;
    let client = db.checkout(&pool).await?;
    let migration = Migration::builtin()?;
    let target = inspect(&client, &migration, cfg).await?;
    let shape = target.shape;
    let ctx = Arc::new(Context::new(cfg.seed, cfg.counts, shape));

    let plan = LoadPlan {
        db,
        client: &client,
        migration: &migration,
        target: &target,
        ctx: &ctx,
        cfg,
        progress,
    };
    // One transaction: a failure or Ctrl-C leaves no table half-filled.
    let mut phases = transaction(&client, Begin::Plain, End::Commit, "seeding", async |_| {
        plan.load().await
    })
    .await?;
    drop(client);

    let t = Instant::now();
    try_join_all(TABLES.iter().map(|table| {
        let pool = pool.clone();
        async move {
            let c = db.checkout(&pool).await?;
            c.batch_execute(&format!("ANALYZE {}", quote_ident(table)))
                .await
                .map_err(|e| db.query_error(format!("analyzing {table}"), e))
        }
    }))
    .await?;
    push_phase(progress, &mut phases, "analyze", t.elapsed(), None);

    Ok(SeedReport {
        shape,
        counts: cfg.counts,
        seed: cfg.seed,
        created_schema: target.create,
        froze: target.create || target.truncate,
        phases,
        total: started.elapsed(),
    })
}

/// What the target database holds and what the seed will do to it.
struct Target {
    shape: Shape,
    /// The database is empty: create the schema.
    create: bool,
    /// The tables hold rows and `--truncate` was given.
    truncate: bool,
}

async fn inspect(client: &Client, m: &Migration, cfg: &SeedConfig) -> Result<Target> {
    let status = schema::status_before(client, m, &cfg.migrations).await?;
    let empty = status.base_missing.len() == TABLES.len() && status.present.is_empty();
    if empty {
        refuse_foreign_objects(client).await?;
        return Ok(Target {
            shape: cfg.shape.unwrap_or(Shape::Migrated),
            create: true,
            truncate: false,
        });
    }
    let shape = match status.state {
        State::Base => Shape::Base,
        State::Applied => Shape::Migrated,
        State::Partial => {
            return Err(Error::BadInput(format!(
                "the database holds neither the base nor the 012 schema ({}); seed an empty database, or repair it with `helpdesk-bench migrate status`",
                status.to_string().replace('\n', ";")
            )))
        }
    };
    if let Some(asked) = cfg.shape.filter(|s| *s != shape) {
        return Err(Error::BadInput(format!(
            "the database holds the {shape} schema but --schema {asked} was given; {}",
            if asked == Shape::Migrated {
                "run `helpdesk-bench migrate up` first, or drop --schema"
            } else {
                "use an empty database, or drop --schema"
            }
        )));
    }
    let mut filled = Vec::new();
    for t in TABLES {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quote_ident(t));
        let row = client
            .query_one(&sql, &[])
            .await
            .context(format!("checking whether {t} holds rows"))?;
        if row.get::<_, bool>(0) {
            filled.push(format!("\"{t}\""));
        }
    }
    if !filled.is_empty() && !cfg.truncate {
        return Err(Error::BadInput(format!(
            "tables {} already hold rows; pass --truncate to replace them, or seed another database",
            filled.join(", ")
        )));
    }
    Ok(Target {
        shape,
        create: false,
        truncate: !filled.is_empty(),
    })
}

/// Refuses a database without the help-desk tables that holds tables or
/// types of its own: the seed creates its tables only in an empty one.
async fn refuse_foreign_objects(client: &Client) -> Result<()> {
    let (found, total) = schema::user_objects(client, 5).await?;
    if total == 0 {
        return Ok(());
    }
    let more = match total - found.len() {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Err(Error::BadInput(format!(
        "the database holds other tables or types ({}{more}) but not the help-desk ones; seed creates its tables only in an empty database, so create one (createdb) and point --url at it",
        found.join(", ")
    )))
}

/// Everything the seed transaction needs: where to write, what to create,
/// and how to generate and report.
struct LoadPlan<'a> {
    db: &'a Endpoint,
    /// The connection holding the open seed transaction.
    client: &'a Client,
    migration: &'a Migration,
    target: &'a Target,
    ctx: &'a Arc<Context>,
    cfg: &'a SeedConfig,
    progress: &'a Reporter,
}

impl LoadPlan<'_> {
    /// Everything inside the seed transaction: tables created (or
    /// truncated), every table copied, then keys, indexes and foreign keys.
    /// Returns the phases, timed.
    async fn load(&self) -> Result<Vec<PhaseTime>> {
        let mut phases = Vec::new();
        let t = Instant::now();
        if self.target.create {
            self.run_step(Step::Structure).await?;
            push_phase(
                self.progress,
                &mut phases,
                "create tables",
                t.elapsed(),
                None,
            );
        } else if self.target.truncate {
            let list: Vec<String> = TABLES.iter().map(|t| quote_ident(t)).collect();
            self.client
                .batch_execute(&format!("TRUNCATE {}", list.join(", ")))
                .await
                .map_err(|e| self.db.query_error("truncating the tables", e))?;
            push_phase(self.progress, &mut phases, "truncate", t.elapsed(), None);
        }
        self.copy_tables(&mut phases).await?;
        if self.target.create {
            for (step, name) in [
                (Step::PrimaryKeys, "primary keys"),
                (Step::Indexes, "indexes"),
                (Step::ForeignKeys, "foreign keys"),
            ] {
                let t = Instant::now();
                self.run_step(step).await?;
                push_phase(self.progress, &mut phases, name, t.elapsed(), None);
            }
        }
        self.apply_migrations(&mut phases).await?;
        Ok(phases)
    }

    /// Applies the configured migrations not applied yet, statement by
    /// statement inside the seed transaction (their own transaction control
    /// left out), each as one phase.
    async fn apply_migrations(&self, phases: &mut Vec<PhaseTime>) -> Result<()> {
        let all = &self.cfg.migrations;
        for (i, m) in all.iter().enumerate() {
            let status = schema::status_before(self.client, m, &all[i + 1..]).await?;
            match status.state {
                State::Applied => continue,
                State::Base => {}
                State::Partial => {
                    return Err(Error::BadInput(format!(
                        "seed: migration {} cannot be applied after the load ({}); check the order of --migration",
                        m.name,
                        status.to_string().replace('\n', ";")
                    )))
                }
            }
            let t = Instant::now();
            for st in m.forward.statements.iter() {
                if st.is_transaction_control() {
                    continue;
                }
                self.client.batch_execute(&st.sql).await.map_err(|e| {
                    self.db
                        .query_error(format!("seed: {}: {}", m.name, st.summary()), e)
                })?;
            }
            let name = format!("migration {}", m.name);
            push_phase(self.progress, phases, &name, t.elapsed(), None);
        }
        Ok(())
    }

    /// COPYs every table, with FREEZE when the transaction created or
    /// truncated them.
    async fn copy_tables(&self, phases: &mut Vec<PhaseTime>) -> Result<()> {
        let freeze = self.target.create || self.target.truncate;
        for spec in tables(self.ctx) {
            let sql = copy::statement(&quote_ident(spec.table), spec.columns, "STDIN", freeze);
            let bar = self.progress.table(spec.table, spec.rows);
            let (client, db, jobs) = (self.client, self.db, self.cfg.jobs);
            let stats = copy_in(client, db, &sql, spec.table, spec.source, jobs, |n| {
                bar.inc(n)
            })
            .await?;
            bar.finish();
            push_phase(
                self.progress,
                phases,
                spec.table,
                stats.duration,
                Some(stats),
            );
        }
        Ok(())
    }

    /// Runs the statements of the base schema, and of the migration when the
    /// shape is migrated, that belong to `step`, in file order.
    async fn run_step(&self, step: Step) -> Result<()> {
        let base = schema::split(fixtures::BASE);
        let mut files: Vec<&[Statement]> = vec![&base];
        if self.target.shape == Shape::Migrated {
            files.push(&self.migration.forward.statements);
        }
        let statements = files.iter().flat_map(|f| f.iter());
        for s in statements.filter(|s| step_of(s) == step) {
            self.client
                .batch_execute(&s.sql)
                .await
                .map_err(|e| self.db.query_error(format!("seed: {}", s.summary()), e))?;
        }
        Ok(())
    }
}

fn push_phase(
    progress: &Reporter,
    phases: &mut Vec<PhaseTime>,
    name: &str,
    took: Duration,
    stats: Option<CopyStats>,
) {
    let detail = match stats {
        Some(s) => {
            let secs = took.as_secs_f64().max(1e-9);
            format!(
                "{} rows, {:.0} rows/s, {:.1} MB/s",
                s.rows,
                s.rows as f64 / secs,
                s.bytes as f64 / secs / 1e6
            )
        }
        None => String::new(),
    };
    progress.phase(name, took, &detail);
    phases.push(PhaseTime {
        name: name.to_string(),
        duration: took,
        rows: stats.map(|s| s.rows),
        bytes: stats.map(|s| s.bytes),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_statements_load_in_pg_dump_order() {
        let steps = |text: &str| -> Vec<Step> { schema::split(text).iter().map(step_of).collect() };
        use Step::*;
        assert_eq!(
            steps(fixtures::BASE),
            [
                Skip,
                Structure,
                Structure,
                Structure,
                Structure,
                PrimaryKeys,
                PrimaryKeys,
                PrimaryKeys,
                PrimaryKeys,
                Indexes,
                ForeignKeys,
                ForeignKeys,
                Skip,
            ]
        );
        let m = steps(fixtures::MIGRATION_012);
        assert_eq!(m.iter().filter(|s| **s == Indexes).count(), 7);
        assert_eq!(m.iter().filter(|s| **s == ForeignKeys).count(), 1);
        assert_eq!(m.iter().filter(|s| **s == PrimaryKeys).count(), 0);
        // The guard, two enums, two ALTER ... ADD COLUMN and the comment.
        assert_eq!(m.iter().filter(|s| **s == Structure).count(), 6);
    }
}
