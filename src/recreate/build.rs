//! Runs the DDL [`super::catalog`] read on the new database. The
//! catalog gives no dependency order between functions, types, tables and
//! views, so a statement that fails for want of an object not made yet (a
//! function returning a table's row type, a view over a later view) waits
//! and is tried again once the others ran, until nothing more succeeds.
//! A check constraint the rows break (generated rows draw columns
//! independently, so `ends >= starts` can fail) is created `NOT VALID`:
//! new rows are checked, the loaded ones are not, and the caller is told.

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::catalog::Ddl;
use crate::error::{Context, Result};

/// SQLSTATEs that mean "something this needs does not exist yet".
fn waits_for_another(code: Option<&SqlState>) -> bool {
    [
        SqlState::UNDEFINED_OBJECT,
        SqlState::UNDEFINED_TABLE,
        SqlState::UNDEFINED_FUNCTION,
        SqlState::INVALID_SCHEMA_NAME,
    ]
    .iter()
    .any(|c| code == Some(c))
}

/// Prepares the session: names resolve as the source printed them
/// (qualified), and function bodies are not checked against objects that
/// do not exist yet.
pub async fn prepare(client: &Client) -> Result<()> {
    client
        .batch_execute("SET search_path = ''; SET check_function_bodies = off")
        .await
        .context("preparing the new database's session")
}

/// What a check constraint the rows break becomes.
const NOT_VALID: &str = " NOT VALID";

/// The statement `d` as a `NOT VALID` check constraint, when it adds a
/// validated check constraint.
fn not_valid(d: &Ddl) -> Option<String> {
    let check = d.what.starts_with("constraint ") && d.sql.contains(" CHECK (");
    (check && !d.sql.ends_with(NOT_VALID)).then(|| format!("{}{NOT_VALID}", d.sql))
}

/// Runs `ddl`, retrying what waits for another statement. Returns the
/// check constraints created `NOT VALID` because the rows break them.
pub async fn run(client: &Client, ddl: &[Ddl]) -> Result<Vec<String>> {
    run_with(client, ddl, false).await
}

/// [`run`] inside an open transaction: each statement under a savepoint, so
/// one that waits for another does not abort the transaction.
pub async fn run_in_transaction(client: &Client, ddl: &[Ddl]) -> Result<Vec<String>> {
    run_with(client, ddl, true).await
}

async fn run_with(client: &Client, ddl: &[Ddl], savepoints: bool) -> Result<Vec<String>> {
    let mut pending: Vec<&Ddl> = ddl.iter().collect();
    let mut relaxed = Vec::new();
    loop {
        let before = pending.len();
        let mut waiting: Vec<(&Ddl, tokio_postgres::Error)> = Vec::new();
        for d in pending {
            let outcome = match execute(client, &d.sql, savepoints).await {
                Err(e) if e.code() == Some(&SqlState::CHECK_VIOLATION) => match not_valid(d) {
                    Some(sql) => {
                        relaxed.push(d.what.trim_start_matches("constraint ").to_string());
                        execute(client, &sql, savepoints).await
                    }
                    None => Err(e),
                },
                other => other,
            };
            match outcome {
                Ok(()) => {}
                Err(e) if waits_for_another(e.code()) => waiting.push((d, e)),
                Err(e) => {
                    return Err(e).context(format!("creating {} in the new database", d.what))
                }
            }
        }
        if waiting.is_empty() {
            return Ok(relaxed);
        }
        if waiting.len() == before {
            let (d, e) = waiting.swap_remove(0);
            return Err(e).context(format!("creating {} in the new database", d.what));
        }
        pending = waiting.into_iter().map(|(d, _)| d).collect();
    }
}

async fn execute(client: &Client, sql: &str, savepoint: bool) -> Result<(), tokio_postgres::Error> {
    if !savepoint {
        return client.batch_execute(sql).await;
    }
    client.batch_execute("SAVEPOINT ddl").await?;
    match client.batch_execute(sql).await {
        Ok(()) => client.batch_execute("RELEASE SAVEPOINT ddl").await,
        Err(e) => {
            client.batch_execute("ROLLBACK TO SAVEPOINT ddl").await?;
            Err(e)
        }
    }
}
