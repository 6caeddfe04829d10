//! Applying and undoing migrations, and telling which state a database is
//! in. Every apply runs the file's statements one by one inside the file's
//! own transaction, timing each, and rolls back on the first failure.

use std::fmt;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::fixtures;
use super::migration::{Migration, Objects, SqlFile};
use super::sql::split;
use crate::cluster::sql_error;
use crate::error::{Error, Result};

/// Which schema a database holds, as read from its catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum State {
    /// The base schema, none of the migration's objects.
    Base,
    /// The base schema and every object of the migration.
    Applied,
    /// Anything else: some objects present, or no base schema.
    Partial,
}

/// The state plus the detail behind it.
#[derive(Debug, Clone)]
pub struct Status {
    pub state: State,
    pub migration: String,
    /// Base-schema tables that are missing.
    pub base_missing: Vec<String>,
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
                        "\n  base tables missing: {}",
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

/// The outcome of a successful apply.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub file: String,
    pub statements: Vec<StatementTiming>,
    #[serde(with = "crate::duration::millis")]
    pub total: Duration,
}

/// The base schema's tables, parsed from the fixture.
pub fn base_objects() -> Objects {
    Objects::parse(&split(fixtures::BASE))
}

/// Reads which state the database is in with respect to `m`.
pub async fn status(client: &Client, m: &Migration) -> Result<Status> {
    let mut base_missing = Vec::new();
    for t in &base_objects().tables {
        if !exists(client, "SELECT to_regclass($1) IS NOT NULL", &quoted(t)).await? {
            base_missing.push(format!("table {t}"));
        }
    }
    let mut present = Vec::new();
    let mut missing = Vec::new();
    for (label, found) in object_checks(client, &m.objects).await? {
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
        present,
        missing,
    })
}

/// Each object of a migration with whether it exists now.
async fn object_checks(client: &Client, o: &Objects) -> Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for t in &o.types {
        let found = exists(
            client,
            "SELECT to_regtype($1) IS NOT NULL",
            &quoted(&t.name),
        )
        .await?;
        out.push((format!("type {}", t.name), found));
    }
    for c in &o.columns {
        let found = client
            .query_opt(
                "SELECT 1 FROM pg_attribute
                  WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped",
                &[&quoted(&c.table), &c.column],
            )
            .await
            .map_err(|e| sql_error("reading the catalog", e))?
            .is_some();
        out.push((format!("column {}.{}", c.table, c.column), found));
    }
    for i in &o.indexes {
        let found = exists(
            client,
            "SELECT to_regclass($1) IS NOT NULL",
            &quoted(&i.name),
        )
        .await?;
        out.push((format!("index {}", i.name), found));
    }
    for k in &o.constraints {
        let found = client
            .query_opt(
                "SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2",
                &[&quoted(&k.table), &k.name],
            )
            .await
            .map_err(|e| sql_error("reading the catalog", e))?
            .is_some();
        out.push((format!("constraint {}", k.name), found));
    }
    for c in &o.comments {
        let now = column_comment(client, &c.table, &c.column).await?;
        out.push((
            format!("comment on {}.{}", c.table, c.column),
            now.as_deref() == Some(c.text.as_str()),
        ));
    }
    Ok(out)
}

/// The comment on a column, if any.
pub async fn column_comment(client: &Client, table: &str, column: &str) -> Result<Option<String>> {
    let row = client
        .query_opt(
            "SELECT col_description(a.attrelid, a.attnum) FROM pg_attribute a
              WHERE a.attrelid = to_regclass($1) AND a.attname = $2",
            &[&quoted(table), &column],
        )
        .await
        .map_err(|e| sql_error("reading a column comment", e))?;
    Ok(row.and_then(|r| r.get(0)))
}

async fn exists(client: &Client, sql: &str, arg: &str) -> Result<bool> {
    let row = client
        .query_one(sql, &[&arg])
        .await
        .map_err(|e| sql_error("reading the catalog", e))?;
    Ok(row.get(0))
}

fn quoted(name: &str) -> String {
    crate::sql::quote_ident(name)
}

/// Applies the forward migration; refuses when it is applied or partial, or
/// when the base schema is missing.
pub async fn up(client: &mut Client, m: &Migration) -> Result<Applied> {
    require(&status(client, m).await?, State::Base, m)?;
    apply(client, &m.name, &m.forward).await
}

/// Applies the rollback; refuses unless the migration is fully applied.
pub async fn down(client: &mut Client, m: &Migration) -> Result<Applied> {
    let rollback = m.rollback.as_ref().ok_or_else(|| Error::BadFixture {
        file: m.forward.label.clone(),
        reason: "no rollback file beside it (expected NAME_rollback.sql)".into(),
    })?;
    require(&status(client, m).await?, State::Applied, m)?;
    apply(client, &format!("{}_rollback", m.name), rollback).await
}

/// The error for a database that is not in the state an apply starts from.
fn require(s: &Status, wanted: State, m: &Migration) -> Result<()> {
    let name = m.name.clone();
    match s.state {
        state if state == wanted => Ok(()),
        State::Applied => Err(Error::AlreadyApplied { name }),
        State::Base => Err(Error::NotApplied { name }),
        State::Partial if !s.base_missing.is_empty() => Err(Error::NoBaseSchema {
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
        if exists(client, "SELECT to_regclass($1) IS NOT NULL", &quoted(t)).await? {
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

/// Runs a file's statements in one transaction, timing each. The file's own
/// `BEGIN`/`COMMIT` are honoured; a file without them is wrapped in one.
pub async fn apply(client: &mut Client, name: &str, file: &SqlFile) -> Result<Applied> {
    let started = Instant::now();
    let wrapped = file
        .statements
        .first()
        .is_some_and(|s| s.is_transaction_control());
    if !wrapped {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| sql_error("starting a transaction", e))?;
    }
    let mut timings = Vec::with_capacity(file.statements.len());
    for (i, st) in file.statements.iter().enumerate() {
        let t = Instant::now();
        if let Err(e) = client.batch_execute(&st.sql).await {
            let _ = client.batch_execute("ROLLBACK").await;
            let detail = match e.as_db_error() {
                Some(db) => db.message().to_string(),
                None => e.to_string(),
            };
            return Err(Error::MigrationFailed {
                name: name.to_string(),
                index: i + 1,
                statement: format!("line {}: {}", st.line, st.summary()),
                detail,
            });
        }
        timings.push(StatementTiming {
            line: st.line,
            statement: st.summary(),
            duration: t.elapsed(),
        });
    }
    if !wrapped {
        client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| sql_error("committing", e))?;
    }
    Ok(Applied {
        file: file.label.clone(),
        statements: timings,
        total: started.elapsed(),
    })
}
