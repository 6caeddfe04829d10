//! Transactions that end however their work ends: the one way the tool
//! opens a transaction on a shared connection. The work runs between
//! `BEGIN` (or `SAVEPOINT`) and its end, and an error anywhere in it, a `?`
//! included, rolls the transaction back before the error is returned, so
//! no transaction outlives an error on a connection that goes on being
//! used (tokio-postgres's own `Transaction` does the same on drop, but
//! needs the connection by `&mut`, which the measuring code shares).
//!
//! A future dropped half-way (a Ctrl-C) leaves the transaction to the
//! connection's end: the tool closes its connections as it exits, and the
//! server rolls back whatever was open.

use tokio_postgres::Client;

use crate::error::{Context, Result};

/// How a transaction begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// `BEGIN`, the session's defaults.
    Plain,
    /// `BEGIN READ ONLY`: reads, EXPLAIN ANALYZE, samples.
    ReadOnly,
    /// `BEGIN READ WRITE`, for a write on a session whose default is
    /// read-only.
    ReadWrite,
    /// `SAVEPOINT`, inside a transaction already open.
    Savepoint,
}

/// How a transaction whose work succeeded ends (a failed one always rolls
/// back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Commit,
    /// Measured and undone: index drops inside it, timed deletes.
    RollBack,
}

/// The savepoint [`Begin::Savepoint`] names.
const SAVEPOINT: &str = "helpdesk_bench";

impl Begin {
    fn sql(self) -> String {
        match self {
            Begin::Plain => "BEGIN".into(),
            Begin::ReadOnly => "BEGIN READ ONLY".into(),
            Begin::ReadWrite => "BEGIN READ WRITE".into(),
            Begin::Savepoint => format!("SAVEPOINT {SAVEPOINT}"),
        }
    }

    fn end(self, end: End) -> String {
        match (self, end) {
            (Begin::Savepoint, End::Commit) => format!("RELEASE SAVEPOINT {SAVEPOINT}"),
            (Begin::Savepoint, End::RollBack) => {
                format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}")
            }
            (_, End::Commit) => "COMMIT".into(),
            (_, End::RollBack) => "ROLLBACK".into(),
        }
    }
}

/// Runs `work` in a transaction on `client` that begins as `begin` says
/// and, when the work succeeds, ends as `end` says; when it fails, the
/// transaction is rolled back and the work's error returned. `doing` names
/// the work in the errors of `BEGIN` and its end.
pub async fn transaction<T>(
    client: &Client,
    begin: Begin,
    end: End,
    doing: &str,
    work: impl AsyncFnOnce(&Client) -> Result<T>,
) -> Result<T> {
    client.batch_execute(&begin.sql()).await.context(doing)?;
    match work(client).await {
        Ok(value) => {
            client.batch_execute(&begin.end(end)).await.context(doing)?;
            Ok(value)
        }
        Err(e) => {
            // The work's error is the one to report; a failed rollback
            // (a lost connection) ends the transaction on the server anyway.
            let _ = client.batch_execute(&begin.end(End::RollBack)).await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_begin_has_its_end() {
        assert_eq!(Begin::ReadOnly.sql(), "BEGIN READ ONLY");
        assert_eq!(Begin::Plain.end(End::Commit), "COMMIT");
        assert_eq!(Begin::ReadWrite.end(End::RollBack), "ROLLBACK");
        assert_eq!(
            Begin::Savepoint.end(End::RollBack),
            "ROLLBACK TO SAVEPOINT helpdesk_bench; RELEASE SAVEPOINT helpdesk_bench"
        );
    }
}
