//! Runs the DDL [`super::catalog`] read on the new database. The
//! catalog gives no dependency order between functions, types, tables and
//! views, so a statement that fails for want of an object not made yet (a
//! function returning a table's row type, a view over a later view) waits
//! and is tried again once the others ran, until nothing more succeeds.

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

/// Runs `ddl`, retrying what waits for another statement.
pub async fn run(client: &Client, ddl: &[Ddl]) -> Result<()> {
    run_with(client, ddl, false).await
}

/// [`run`] inside an open transaction: each statement under a savepoint, so
/// one that waits for another does not abort the transaction.
pub async fn run_in_transaction(client: &Client, ddl: &[Ddl]) -> Result<()> {
    run_with(client, ddl, true).await
}

async fn run_with(client: &Client, ddl: &[Ddl], savepoints: bool) -> Result<()> {
    let mut pending: Vec<&Ddl> = ddl.iter().collect();
    loop {
        let before = pending.len();
        let mut waiting: Vec<(&Ddl, tokio_postgres::Error)> = Vec::new();
        for d in pending {
            match execute(client, &d.sql, savepoints).await {
                Ok(()) => {}
                Err(e) if waits_for_another(e.code()) => waiting.push((d, e)),
                Err(e) => {
                    return Err(e).context(format!("creating {} in the new database", d.what))
                }
            }
        }
        if waiting.is_empty() {
            return Ok(());
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
