//! Applying one variant of the migration under traffic: the file as
//! written (`schema::up`, which also checks the copy is in the state before
//! it), or the online variant from `schema::online_sql`, the one generator
//! of it, run the way its own transaction control says. Also the long
//! transaction a real application has open: an idle session holding a
//! snapshot, which every concurrent index build must wait for.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::cluster::Endpoint;
use crate::error::{Context, Error, Result};
use crate::measure::ONLINE_FILE;
use crate::results::RehearsalVariant;
use crate::schema::{self, online_sql, Applied, Migration, SqlFile, StatementTiming};

/// The migration session's `application_name`.
pub const MIGRATION_APP: &str = "helpdesk-bench rehearse migration";
/// The long transaction's `application_name`.
pub const LONG_TRANSACTION_APP: &str = "helpdesk-bench rehearse long transaction";

/// Applies `variant` of `m` on `db`; returns what ran and the server's
/// clock (epoch seconds) just before and just after it.
pub async fn apply(
    db: &Endpoint,
    m: &Migration,
    variant: RehearsalVariant,
) -> Result<(Applied, f64, f64)> {
    let (mut client, _cancel) = db.connect_cancellable().await?;
    client
        .batch_execute(&format!("SET application_name = '{MIGRATION_APP}'"))
        .await
        .context("setting up the migration session")?;
    let t0 = server_clock(&client).await?;
    let applied = match variant {
        RehearsalVariant::AsWritten => schema::up(&mut client, m).await?,
        RehearsalVariant::Online | RehearsalVariant::OnlineLongTransaction => {
            let file = SqlFile::new(ONLINE_FILE, online_sql(m));
            schema::apply(&mut client, &format!("{} (online)", m.name), &file).await?
        }
    };
    let t1 = server_clock(&client).await?;
    Ok((applied, t0, t1))
}

/// The server's clock, epoch seconds.
async fn server_clock(client: &tokio_postgres::Client) -> Result<f64> {
    Ok(client
        .query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[])
        .await
        .context("reading the server's clock")?
        .get(0))
}

/// The statements of the variant's SQL that ran before and up to the one
/// a failure `e` names (its 1-based index), for telling which of them took
/// a lock; `None` when `e` is not a failed statement.
pub fn ran_until_failure(
    m: &Migration,
    variant: RehearsalVariant,
    e: &Error,
) -> Option<Vec<StatementTiming>> {
    let (Error::MigrationFailed { index, .. } | Error::MigrationStopped { index, .. }) = e else {
        return None;
    };
    let statements = match variant {
        RehearsalVariant::AsWritten => m.forward.statements.clone(),
        _ => schema::split(&online_sql(m)),
    };
    Some(
        statements
            .into_iter()
            .take(*index)
            .map(|st| StatementTiming {
                line: st.line,
                statement: st.sql,
                duration: Duration::ZERO,
            })
            .collect(),
    )
}

/// An idle session with an open snapshot, ended after a while.
pub struct LongTransaction {
    task: JoinHandle<Result<()>>,
}

impl LongTransaction {
    /// Opens `BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1` on `db`,
    /// stays idle in it for `hold`, then rolls back and disconnects.
    pub async fn open(db: &Endpoint, hold: Duration) -> Result<LongTransaction> {
        let (client, cancel) = db.connect_cancellable().await?;
        client
            .batch_execute(&format!(
                "SET application_name = '{LONG_TRANSACTION_APP}'; \
                 SET idle_in_transaction_session_timeout = 0; \
                 BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1"
            ))
            .await
            .context("opening the long transaction")?;
        let task = tokio::spawn(async move {
            tokio::time::sleep(hold).await;
            client
                .batch_execute("ROLLBACK")
                .await
                .context("ending the long transaction")?;
            drop(cancel);
            Ok(())
        });
        Ok(LongTransaction { task })
    }

    /// Waits until the transaction has ended.
    pub async fn ended(self) -> Result<()> {
        self.task.await.map_err(|e| Error::Stopped {
            what: "the long transaction's session".into(),
            detail: e.to_string(),
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rehearse::projection::{taken_by, windows};

    #[test]
    fn a_deadlocked_migration_still_names_the_statement_that_took_the_lock() {
        let m = Migration::builtin().unwrap();
        // 012 as written, stopped by a deadlock at its first index on "Message".
        let index = m
            .forward
            .statements
            .iter()
            .position(|s| s.sql.contains("\"Message_conversationId_idx\""))
            .unwrap()
            + 1;
        let e = Error::MigrationFailed {
            name: m.name.clone(),
            index,
            statement: String::new(),
            detail: "deadlock detected".into(),
        };
        let ran = ran_until_failure(&m, RehearsalVariant::AsWritten, &e).unwrap();
        assert_eq!(ran.len(), index);
        let ws = windows(0.0, 0.0, &ran, |_| None);
        let user = taken_by(1.7e9, "User", &ran, &ws).unwrap();
        assert!(
            user.starts_with("ALTER TABLE \"User\" ADD COLUMN"),
            "{user}"
        );
        assert!(ran_until_failure(&m, RehearsalVariant::Online, &Error::Interrupted).is_none());
    }
}
