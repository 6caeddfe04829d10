//! Applying and undoing migrations, and telling which state a database is
//! in. Every apply runs the file's statements one by one, timing each.
//!
//! A plain file (no `BEGIN`/`COMMIT`/`ROLLBACK` of its own, nothing that
//! PostgreSQL refuses inside a transaction block), or one whose only
//! transaction control is a first `BEGIN` and a last `COMMIT`, runs as one
//! transaction: the first failure rolls it all back, and the error says
//! nothing was changed. Any other file (a `COMMIT` mid-file, several blocks,
//! `CREATE INDEX CONCURRENTLY`, `VACUUM`, ...) runs as written: each
//! `BEGIN` ... `COMMIT` block as its own transaction and each statement
//! outside a block on its own. A failure there names the statements that
//! were committed and stay applied, those rolled back, and those not run.
//! A query ended by psql's `\gexec` runs outside a block too, then each
//! statement its result holds, as psql runs them (`migrate/exec.rs`).
//! Whether a file can run as written (no `CONCURRENTLY` inside a block, no
//! block left open) is decided before its first statement runs.

use std::fmt;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::chain::MigrationChain;
use super::fixtures;
use super::migration::{base_objects, Migration, Objects, SqlFile, PRISMA_FILE, PRISMA_ROLLBACK};
use super::sql::{Statement, TxnNeeds};
use crate::error::{Context, Error, Result};
use plan::{Plan, Unit, UnitKind};

mod exec;
mod plan;

/// Which schema a database holds, as read from its catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum State {
    /// The tables the migration changes, none of its objects: the state it
    /// applies to.
    Base,
    /// Every object of the migration.
    Applied,
    /// Anything else: some objects present, or a table it changes missing.
    Partial,
}

/// The state plus the detail behind it.
#[derive(Debug, Clone)]
pub struct Status {
    pub state: State,
    pub migration: String,
    /// Tables the migration changes (without creating them) that are
    /// missing: its prerequisites.
    pub base_missing: Vec<String>,
    /// Whether those tables are all the help-desk lab's base schema, so
    /// that `migrate base` is the way to create them.
    pub lab_tables: bool,
    /// The migration's objects that exist.
    pub present: Vec<String>,
    /// The migration's objects that do not.
    pub missing: Vec<String>,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.present.len() + self.missing.len();
        match self.state {
            State::Base => write!(
                f,
                "base (none of {}'s {total} objects present)",
                self.migration
            ),
            State::Applied => write!(
                f,
                "{} (all {total} objects present)",
                self.migration.split('_').next().unwrap_or(&self.migration)
            ),
            State::Partial => {
                write!(f, "partial/unknown")?;
                if !self.base_missing.is_empty() {
                    write!(
                        f,
                        "\n  tables it changes, missing: {}",
                        self.base_missing.join(", ")
                    )?;
                }
                if !self.present.is_empty() {
                    write!(f, "\n  present: {}", self.present.join(", "))?;
                }
                if !self.missing.is_empty() && !self.present.is_empty() {
                    write!(f, "\n  missing: {}", self.missing.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// How long one statement of an apply took.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StatementTiming {
    pub line: usize,
    pub statement: String,
    #[serde(with = "crate::duration::millis")]
    pub duration: Duration,
}

/// How an apply's statements ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunsAs {
    /// All in one transaction.
    OneTransaction,
    /// As the file's own transaction blocks and single statements.
    Units { transactions: usize, single: usize },
}

impl fmt::Display for RunsAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |n: usize| if n == 1 { "" } else { "s" };
        match *self {
            RunsAs::OneTransaction => write!(f, "one transaction"),
            RunsAs::Units {
                transactions: t,
                single: n,
            } => write!(
                f,
                "{t} transaction{} and {n} statement{} on {} own, as the file says",
                s(t),
                s(n),
                if n == 1 { "its" } else { "their" }
            ),
        }
    }
}

/// The outcome of a successful apply.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub file: String,
    pub statements: Vec<StatementTiming>,
    pub runs_as: RunsAs,
    #[serde(with = "crate::duration::millis")]
    pub total: Duration,
}

/// Reads which state the database is in with respect to `m`.
pub async fn status(client: &Client, m: &Migration) -> Result<Status> {
    status_before(client, m, &[]).await
}

/// Like [`status`], for a migration that `later` migrations follow: an index
/// of `m` that one of them drops is not looked for.
pub async fn status_before(client: &Client, m: &Migration, later: &[Migration]) -> Result<Status> {
    let dropped_later: Vec<String> = later
        .iter()
        .flat_map(|l| l.objects.dropped_indexes.iter())
        .map(|name| format!("index {name}"))
        .collect();
    let required = m.objects.referenced_tables();
    let lab = base_objects().tables;
    let mut base_missing = Vec::new();
    for t in &required {
        if !exists(client, "SELECT to_regclass($1) IS NOT NULL", &t.sql()).await? {
            base_missing.push(format!("table {t}"));
        }
    }
    // `migrate base` is advice only for the lab's own tables, and only on a
    // database holding none of its own (never another product's tables).
    let lab_tables = required.iter().all(|t| lab.contains(t))
        && !base_missing.is_empty()
        && super::catalog::user_objects(client, 1).await?.1 == 0;
    let mut present = Vec::new();
    let mut missing = Vec::new();
    for (label, found) in object_checks(client, &m.objects).await? {
        if dropped_later.contains(&label) {
            continue;
        }
        if found {
            present.push(label);
        } else {
            missing.push(label);
        }
    }
    let state = if !base_missing.is_empty() {
        State::Partial
    } else if present.is_empty() {
        State::Base
    } else if missing.is_empty() {
        State::Applied
    } else {
        State::Partial
    };
    Ok(Status {
        state,
        migration: m.name.clone(),
        base_missing,
        lab_tables,
        present,
        missing,
    })
}

/// Each object of a migration with whether it exists now.
async fn object_checks(client: &Client, o: &Objects) -> Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for t in &o.types {
        let name = crate::sql::qualified(t.schema.as_deref(), &t.name);
        let found = exists(client, "SELECT to_regtype($1) IS NOT NULL", &name).await?;
        out.push((format!("type {}", label(&t.schema, &t.name)), found));
    }
    for c in &o.columns {
        let found = client
            .query_opt(
                "SELECT 1 FROM pg_attribute
                  WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped",
                &[
                    &crate::sql::qualified(c.schema.as_deref(), &c.table),
                    &c.column,
                ],
            )
            .await
            .context("reading the catalog")?
            .is_some();
        let table = label(&c.schema, &c.table);
        out.push((format!("column {table}.{}", c.column), found));
    }
    for i in &o.indexes {
        let found = exists(client, "SELECT to_regclass($1) IS NOT NULL", &i.name_sql()).await?;
        out.push((format!("index {}", label(&i.schema, &i.name)), found));
    }
    for name in &o.dropped_indexes {
        let gone = !exists(client, "SELECT to_regclass($1) IS NOT NULL", &name.sql()).await?;
        out.push((format!("drop of index {name}"), gone));
    }
    for k in &o.constraints {
        let found = client
            .query_opt(
                "SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2",
                &[
                    &crate::sql::qualified(k.schema.as_deref(), &k.table),
                    &k.name,
                ],
            )
            .await
            .context("reading the catalog")?
            .is_some();
        out.push((format!("constraint {}", k.name), found));
    }
    for c in &o.comments {
        let table = crate::sql::qualified(c.schema.as_deref(), &c.table);
        let now = column_comment(client, &table, &c.column).await?;
        out.push((
            format!("comment on {}.{}", label(&c.schema, &c.table), c.column),
            now.as_deref() == Some(c.text.as_str()),
        ));
    }
    Ok(out)
}

/// An object's name as status lines print it: `schema.name`, or the bare
/// name when the migration gives no schema.
fn label(schema: &Option<String>, name: &str) -> String {
    match schema {
        Some(s) => format!("{s}.{name}"),
        None => name.to_string(),
    }
}

/// The comment on a column of `table` (as SQL, quoted and maybe
/// qualified), if any.
pub async fn column_comment(client: &Client, table: &str, column: &str) -> Result<Option<String>> {
    let row = client
        .query_opt(
            "SELECT col_description(a.attrelid, a.attnum) FROM pg_attribute a
              WHERE a.attrelid = to_regclass($1) AND a.attname = $2",
            &[&table, &column],
        )
        .await
        .context("reading a column comment")?;
    Ok(row.and_then(|r| r.get(0)))
}

async fn exists(client: &Client, sql: &str, arg: &str) -> Result<bool> {
    let row = client
        .query_one(sql, &[&arg])
        .await
        .context("reading the catalog")?;
    Ok(row.get(0))
}

/// Applies the forward migration; refuses when it is applied or partial, or
/// when the base schema is missing.
pub async fn up(client: &mut Client, m: &Migration) -> Result<Applied> {
    require(&status(client, m).await?, State::Base, m)?;
    apply(client, &m.name, &m.forward).await
}

/// Applies the earlier migrations of the chain that are not applied yet,
/// then the one under test. Returns each migration's name with what was
/// applied, or `None` when it was already there. Refuses, before changing
/// anything, a partly applied earlier migration.
pub async fn up_chain(
    client: &mut Client,
    chain: &MigrationChain,
) -> Result<Vec<(String, Option<Applied>)>> {
    let mut out = Vec::new();
    for (i, m) in chain.earlier.iter().enumerate() {
        let later: Vec<Migration> = chain.all().skip(i + 1).cloned().collect();
        let s = status_before(client, m, &later).await?;
        if s.state == State::Applied {
            out.push((m.name.clone(), None));
            continue;
        }
        require(&s, State::Base, m)?;
        out.push((
            m.name.clone(),
            Some(apply(client, &m.name, &m.forward).await?),
        ));
    }
    let m = &chain.under_test;
    out.push((m.name.clone(), Some(up(client, m).await?)));
    Ok(out)
}

/// Applies the rollback; refuses unless the migration is fully applied, and
/// refuses a migration without a rollback file.
pub async fn down(client: &mut Client, m: &Migration) -> Result<Applied> {
    let rollback = m.rollback.as_ref().ok_or_else(|| Error::NoRollback {
        name: m.name.clone(),
        expected: expected_rollback(m),
    })?;
    require(&status(client, m).await?, State::Applied, m)?;
    apply(client, &format!("{}_rollback", m.name), rollback).await
}

/// Where `m`'s rollback file would be.
fn expected_rollback(m: &Migration) -> String {
    let forward = std::path::Path::new(&m.forward.label);
    let name = if forward.file_name().and_then(|n| n.to_str()) == Some(PRISMA_FILE) {
        PRISMA_ROLLBACK.to_string()
    } else {
        format!("{}_rollback.sql", m.name)
    };
    forward.with_file_name(name).display().to_string()
}

/// The error for a database that is not in the state an apply starts from.
fn require(s: &Status, wanted: State, m: &Migration) -> Result<()> {
    let name = m.name.clone();
    match s.state {
        state if state == wanted => Ok(()),
        State::Applied => Err(Error::AlreadyApplied { name }),
        State::Base => Err(Error::NotApplied { name }),
        State::Partial if !s.base_missing.is_empty() && s.lab_tables => Err(Error::NoBaseSchema {
            missing: s.base_missing.join(", "),
        }),
        State::Partial if !s.base_missing.is_empty() => Err(Error::MissingTables {
            name,
            missing: s.base_missing.join(", "),
        }),
        State::Partial => Err(Error::PartlyApplied {
            name,
            detail: format!(
                "present: {}; missing: {}",
                s.present.join(", "),
                s.missing.join(", ")
            ),
        }),
    }
}

/// Creates the base schema; refuses if any of its tables already exists.
pub async fn create_base(client: &mut Client) -> Result<Applied> {
    let mut found = Vec::new();
    for t in &base_objects().tables {
        if exists(client, "SELECT to_regclass($1) IS NOT NULL", &t.sql()).await? {
            found.push(format!("table {t}"));
        }
    }
    if !found.is_empty() {
        return Err(Error::NotEmpty {
            found: found.join(", "),
        });
    }
    apply(
        client,
        "base schema",
        &SqlFile::new(fixtures::BASE_PATH, fixtures::BASE),
    )
    .await
}

/// Runs a file's statements, timing each, the way its transaction control
/// says (see the module doc). The plan is made before anything runs, so a
/// file that can't run as written changes nothing.
pub async fn apply(client: &mut Client, name: &str, file: &SqlFile) -> Result<Applied> {
    let plan = plan::plan(&file.statements).map_err(|reason| Error::BadFixture {
        file: file.label.clone(),
        reason,
    })?;
    let started = Instant::now();
    let (statements, runs_as) = match &plan {
        Plan::Atomic { wrapped } => (
            apply_atomic(client, name, file, *wrapped).await?,
            RunsAs::OneTransaction,
        ),
        Plan::Units(units) => (
            apply_units(client, name, file, units).await?,
            RunsAs::Units {
                transactions: units.iter().filter(|u| u.kind != UnitKind::Single).count(),
                single: units.iter().filter(|u| u.kind == UnitKind::Single).count(),
            },
        ),
    };
    Ok(Applied {
        file: file.label.clone(),
        statements,
        runs_as,
        total: started.elapsed(),
    })
}

/// Runs every statement in one transaction (the file's own when `wrapped`)
/// and rolls it all back on the first failure.
async fn apply_atomic(
    client: &mut Client,
    name: &str,
    file: &SqlFile,
    wrapped: bool,
) -> Result<Vec<StatementTiming>> {
    if !wrapped {
        client
            .batch_execute("BEGIN")
            .await
            .context("starting a transaction")?;
    }
    let mut timings = Vec::with_capacity(file.statements.len());
    for (i, st) in file.statements.iter().enumerate() {
        let t = Instant::now();
        if let Err(e) = client.batch_execute(&st.sql).await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(Error::MigrationFailed {
                name: name.to_string(),
                index: i + 1,
                statement: plan::label(st),
                detail: server_message(&e),
            });
        }
        timings.push(timing(st, t));
    }
    if !wrapped {
        client.batch_execute("COMMIT").await.context("committing")?;
    }
    Ok(timings)
}

/// Runs unit by unit: each block as the transaction the file wrote, each
/// statement outside a block on its own. On a failure, says exactly what
/// stays applied.
async fn apply_units(
    client: &mut Client,
    name: &str,
    file: &SqlFile,
    units: &[Unit],
) -> Result<Vec<StatementTiming>> {
    let mut timings = Vec::with_capacity(file.statements.len());
    for u in units {
        for i in u.indices() {
            let st = &file.statements[i];
            let t = Instant::now();
            if let Err(e) = exec::run(client, st).await {
                if u.kind != UnitKind::Single {
                    let _ = client.batch_execute("ROLLBACK").await;
                }
                let left = invalid_index_left(client, st).await;
                let outcome = plan::stopped_outcome(&file.statements, units, i, left);
                let next = if units.iter().any(|d| d.last < i && d.commits()) {
                    "see what exists with `helpdesk-bench migrate status`, then run the rest by hand or undo the committed part"
                } else {
                    "fix that statement and run the file again"
                };
                return Err(Error::MigrationStopped {
                    name: name.to_string(),
                    index: i + 1,
                    statement: plan::label(st),
                    detail: failure_detail(&e),
                    outcome: format!("{outcome}; {next}"),
                });
            }
            timings.push(timing(st, t));
        }
    }
    Ok(timings)
}

/// When a failed `CREATE INDEX CONCURRENTLY` left its index behind marked
/// invalid (PostgreSQL does not drop it), says so and how to remove it.
async fn invalid_index_left(client: &Client, st: &Statement) -> Option<String> {
    if st.txn_needs() != TxnNeeds::OutsideTransaction {
        return None;
    }
    let index = Objects::parse(std::slice::from_ref(st)).indexes.pop()?;
    let invalid = client
        .query_opt(
            "SELECT 1 FROM pg_index WHERE indexrelid = to_regclass($1) AND NOT indisvalid",
            &[&index.name_sql()],
        )
        .await
        .ok()?
        .is_some();
    invalid.then(|| {
        format!(
            "it left index {} behind marked INVALID (remove it with DROP INDEX CONCURRENTLY {})",
            index.name,
            index.name_sql()
        )
    })
}

fn timing(st: &Statement, started: Instant) -> StatementTiming {
    StatementTiming {
        line: st.line,
        statement: st.summary(),
        duration: started.elapsed(),
    }
}

/// The server's message for a failed statement, naming the statement from
/// a `\gexec` result that raised it.
fn failure_detail(f: &exec::Failure) -> String {
    match &f.generated {
        Some(sql) => format!("{sql} (run by \\gexec): {}", server_message(&f.error)),
        None => server_message(&f.error),
    }
}

/// The server's message for a failed statement, without the driver's prefix.
fn server_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    }
}
