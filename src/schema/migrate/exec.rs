//! Running one statement of a file the way psql does: a statement as one
//! query; a query ended by psql's `\gexec`, then each cell of its result
//! (row by row, left to right, NULLs skipped) as a statement of its own,
//! in order. Outside a transaction block, as `apply`'s plan puts it, each
//! of those commits on its own, as in psql.

use tokio_postgres::{Client, SimpleQueryMessage};

use crate::schema::sql::Statement;

/// A statement that failed: the server's error, and for `\gexec` the
/// statement from its result that raised it (`None` when the query itself
/// failed).
pub struct Failure {
    pub error: tokio_postgres::Error,
    pub generated: Option<String>,
}

/// Runs `st`, with the statements its result holds when it ends in `\gexec`.
pub async fn run(client: &Client, st: &Statement) -> Result<(), Failure> {
    let failed = |error, generated| Failure { error, generated };
    if !st.gexec {
        return client
            .batch_execute(&st.sql)
            .await
            .map_err(|e| failed(e, None));
    }
    let messages = client
        .simple_query(&st.sql)
        .await
        .map_err(|e| failed(e, None))?;
    for cell in cells(&messages) {
        client
            .batch_execute(cell)
            .await
            .map_err(|e| failed(e, Some(cell.to_string())))?;
    }
    Ok(())
}

/// The non-NULL cells of a result, row by row, left to right.
fn cells(messages: &[SimpleQueryMessage]) -> Vec<&str> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .flat_map(|r| (0..r.len()).filter_map(|i| r.get(i)))
        .collect()
}
