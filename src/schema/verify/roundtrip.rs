//! The generic round trip, for any migration with a rollback file: in an
//! empty database with the base schema and pre-existing rows, or in a
//! database built like a team's (its schema, synthetic rows), the migration
//! applies atomically (a forced failure after its last statement leaves
//! nothing behind), refuses to run twice, and its rollback gives back an
//! identical catalog with every pre-existing row unchanged, then refuses to
//! run again itself.

use tokio_postgres::Client;

use super::{fixtures, short_name, Check};
use crate::error::{Context, Error, Result};
use crate::schema::catalog::{relation_checksum, relation_columns, user_tables, Catalog};
use crate::schema::migrate::{self, apply};
use crate::schema::migration::base_objects;
use crate::schema::migration::{Migration, SqlFile};
use crate::schema::sql::Statement;
use crate::sql::quote_ident;

/// Added to a trial run of the forward file after its last statement.
const FORCED_FAILURE: &str = "DO $$ BEGIN RAISE EXCEPTION \
    'helpdesk-bench verify: forced failure after the last statement'; END $$";

/// One table's rows before the migration: its SQL name, the columns it had
/// then, the key its rows are ordered by (none: by their digest), the row
/// count and the checksum.
struct TableSum {
    rel: String,
    columns: Vec<String>,
    key: Option<&'static str>,
    rows: i64,
    sum: String,
}

/// Row counts and content checksums of every pre-existing table.
type RowSums = Vec<TableSum>;

/// What the round trip starts from.
#[derive(Clone, Copy)]
pub(super) enum Start<'a> {
    /// An empty database: the help-desk base schema is built, its
    /// pre-existing rows inserted, and the chain's `earlier` migrations
    /// applied.
    HelpDesk { earlier: &'a [Migration] },
    /// A database already at the migration's starting point (built like a
    /// team's database): every table's rows are pre-existing rows.
    Built,
}

/// A round trip under way: the migration is applied, and what the database
/// held before it is remembered for the rollback's comparison.
pub(super) struct RoundTrip {
    /// The checks so far, in order.
    pub checks: Vec<Check>,
    /// The trial run was not atomic and left the database changed, so the
    /// proof cannot go on.
    pub halted: bool,
    before: Catalog,
    rows_before: RowSums,
}

impl RoundTrip {
    /// Brings the database to the migration's starting point (`start`),
    /// remembers its catalog and rows, proves the forward file atomic with
    /// a trial run, then applies it.
    pub async fn apply(client: &mut Client, m: &Migration, start: Start<'_>) -> Result<RoundTrip> {
        if m.rollback.is_none() {
            return Err(no_rollback(m));
        }
        let mut checks = Vec::new();
        if let Start::HelpDesk { earlier } = start {
            help_desk_start(client, earlier, &mut checks).await?;
        }
        let before = Catalog::snapshot(client).await?;
        let rows_before = row_checksums(client, start).await?;
        if let Start::Built = start {
            // The stage was taken from the source's catalog; this reads the
            // built database's own, which a failed roll-back would betray.
            let status = migrate::status(client, m).await?;
            let rows: i64 = rows_before.iter().map(|t| t.rows).sum();
            let detail = status.to_string().replace('\n', ";");
            checks.push(Check::new(
                format!("the database starts before {}", m.name),
                status.state == migrate::State::Base,
                format!("{rows} rows in {} tables; {detail}", rows_before.len()),
            ));
        }

        let label = format!("{} applies", m.name);
        let proof = match atomic_trial(client, m, &before, &rows_before).await? {
            Ok(proof) => proof,
            Err(why) => {
                checks.push(Check::new(label, false, why));
                return Ok(RoundTrip {
                    checks,
                    halted: true,
                    before,
                    rows_before,
                });
            }
        };
        let applied = migrate::up(client, m).await?;
        let took = format!(
            "{} statements in {:.0?}",
            applied.statements.len(),
            applied.total
        );
        checks.push(Check::new(label, true, format!("{took}; {proof}")));
        Ok(RoundTrip {
            checks,
            halted: false,
            before,
            rows_before,
        })
    }

    /// Checks the migration refuses a second run, rolls it back, and
    /// compares the catalog and rows with what they were before it.
    pub async fn roll_back(mut self, client: &mut Client, m: &Migration) -> Result<Vec<Check>> {
        if self.halted {
            return Ok(self.checks);
        }
        let short = short_name(m);
        let rows_before = &self.rows_before;
        self.checks.push(refused_twice(client, m, true).await?);
        let when = format!("after {short}");
        self.checks
            .push(rows_unchanged(client, rows_before, &when).await?);

        migrate::down(client, m).await?;
        let after = Catalog::snapshot(client).await?;
        let diff = self.before.diff(&after);
        self.checks.push(Check::new(
            format!("rollback restores the pre-{short} catalog"),
            diff.is_empty(),
            if diff.is_empty() {
                format!("{} catalog entries identical", self.before.lines.len())
            } else {
                diff.join("; ")
            },
        ));
        let after_rollback = rows_unchanged(client, rows_before, "after rollback").await?;
        self.checks.push(after_rollback);
        self.checks.push(refused_twice(client, m, false).await?);
        Ok(self.checks)
    }
}

/// Runs the forward file with a statement that fails after its last one
/// (before its closing `COMMIT`), and checks the catalog and rows are as they were: proof that
/// every statement of the file is inside one transaction. `Ok` carries the
/// proof's description, `Err` what went wrong.
async fn atomic_trial(
    client: &mut Client,
    m: &Migration,
    before: &Catalog,
    rows_before: &RowSums,
) -> Result<std::result::Result<String, String>> {
    let mut statements = m.forward.statements.clone();
    let own_transaction = statements
        .first()
        .is_some_and(Statement::is_transaction_control);
    // The failure goes just before a closing COMMIT, which stays, so the
    // trial file keeps the transaction structure of the real one.
    let at = if own_transaction
        && statements
            .last()
            .is_some_and(Statement::is_transaction_control)
    {
        statements.len() - 1
    } else {
        statements.len()
    };
    let line = statements[..at].last().map_or(1, |s| s.line);
    statements.insert(
        at,
        Statement {
            sql: FORCED_FAILURE.to_string(),
            line,
            gexec: false,
        },
    );
    let forced = at + 1;
    let trial = SqlFile {
        label: format!("{} (trial)", m.forward.label),
        text: String::new(),
        statements,
    };
    let outcome = apply(client, &m.name, &trial).await;
    let diff = before.diff(&Catalog::snapshot(client).await?);
    let rows = rows_unchanged(client, rows_before, "").await?;
    Ok(match outcome {
        Err(Error::MigrationFailed { index, .. } | Error::MigrationStopped { index, .. })
            if index == forced =>
        {
            if !diff.is_empty() {
                Err(format!("a failure at its end left: {}", diff.join("; ")))
            } else if !rows.passed {
                Err(format!(
                    "a failure at its end changed rows: {}",
                    rows.detail
                ))
            } else if own_transaction {
                Ok("atomic: a failure at its end changed nothing".into())
            } else {
                Ok(
                    "atomic through `migrate up`: a failure at its end changed nothing; \
                    the file has no BEGIN/COMMIT of its own, so psql would apply it part-way"
                        .into(),
                )
            }
        }
        Err(e) => Err(format!("the trial run failed before its end: {e}")),
        Ok(_) => Err("the forced failure did not stop the trial run".into()),
    })
}

/// The refusal of a migration without a rollback file.
pub(super) fn no_rollback(m: &Migration) -> Error {
    Error::BadFixture {
        file: m.forward.label.clone(),
        reason: "no rollback file beside it (expected NAME_rollback.sql); \
                 verify needs one to prove the round trip"
            .into(),
    }
}

/// Builds the base schema in an empty database, inserts the pre-existing
/// rows and applies the `earlier` migrations, each a check.
async fn help_desk_start(
    client: &mut Client,
    earlier: &[Migration],
    checks: &mut Vec<Check>,
) -> Result<()> {
    let base = migrate::create_base(client).await?;
    checks.push(Check::new(
        "base schema loads",
        true,
        format!("{} statements", base.statements.len()),
    ));
    client
        .batch_execute(fixtures::PREEXISTING)
        .await
        .context("inserting the pre-existing rows")?;
    for e in earlier {
        let applied = migrate::up(client, e).await?;
        checks.push(Check::new(
            format!("earlier migration {} applies", e.name),
            true,
            format!("{} statements", applied.statements.len()),
        ));
    }
    Ok(())
}

/// The help-desk base tables by their `id`, or every table of a built
/// database by its rows' digest.
async fn row_checksums(client: &Client, start: Start<'_>) -> Result<RowSums> {
    let tables: Vec<(String, Option<&'static str>)> = match start {
        Start::HelpDesk { .. } => base_objects()
            .tables
            .into_iter()
            .map(|t| (quote_ident(&t.name), Some("id")))
            .collect(),
        Start::Built => user_tables(client)
            .await?
            .into_iter()
            .map(|t| (t, None))
            .collect(),
    };
    let mut out = Vec::new();
    for (rel, key) in tables {
        let columns = relation_columns(client, &rel).await?;
        let (rows, sum) = relation_checksum(client, &rel, &columns, key).await?;
        out.push(TableSum {
            rel,
            columns,
            key,
            rows,
            sum,
        });
    }
    Ok(out)
}

async fn rows_unchanged(client: &Client, before: &RowSums, when: &str) -> Result<Check> {
    let mut bad = Vec::new();
    let mut total = 0;
    for t in before {
        let (n2, sum2) = relation_checksum(client, &t.rel, &t.columns, t.key).await?;
        total += t.rows;
        if (n2, &sum2) != (t.rows, &t.sum) {
            bad.push(format!(
                "{}: {} rows -> {n2}, checksum changed",
                t.rel, t.rows
            ));
        }
    }
    Ok(Check::new(
        format!("pre-existing rows unchanged {when}"),
        bad.is_empty(),
        if bad.is_empty() {
            format!("{total} rows in {} tables", before.len())
        } else {
            bad.join("; ")
        },
    ))
}

/// Running the file a second time (the rollback: when the migration is not
/// applied) changes nothing: it is refused, by its own guard or by its
/// first statement failing (`CREATE INDEX` of an index that exists), inside
/// its transaction; or it runs again as a no-op (`IF NOT EXISTS`). The
/// catalog read before and after is the proof, not the error's text.
async fn refused_twice(client: &mut Client, m: &Migration, forward: bool) -> Result<Check> {
    let (file, label, idle) = match (forward, &m.rollback) {
        (true, _) => (
            &m.forward,
            format!("{} refuses to run twice", m.name),
            format!("{} run twice changes nothing", m.name),
        ),
        (false, Some(r)) => {
            let short = short_name(m);
            (
                r,
                format!("rollback refuses to run when {short} is not applied"),
                format!("rollback run when {short} is not applied changes nothing"),
            )
        }
        (false, None) => return Ok(Check::new("rollback file present", false, "none")),
    };
    let before = Catalog::snapshot(client).await?;
    let outcome = apply(client, &m.name, file).await;
    let diff = before.diff(&Catalog::snapshot(client).await?);
    let changed = || format!("it changed: {}", diff.join("; "));
    Ok(match outcome {
        Err(Error::MigrationFailed { detail, .. }) if diff.is_empty() => {
            Check::new(label, true, detail)
        }
        Err(Error::MigrationFailed { .. }) => Check::new(label, false, changed()),
        Err(e) => Check::new(label, false, format!("failed differently: {e}")),
        Ok(_) if diff.is_empty() => Check::new(idle, true, "it ran again as a no-op"),
        Ok(_) => Check::new(label, false, format!("it ran again; {}", changed())),
    })
}
