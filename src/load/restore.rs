//! Putting a user's indexes back after `load` switched index states for
//! real on their database (`--allow-index-changes`). Before the first
//! change, the migration's indexes are read as found and a
//! [`SqlGuard`] is started holding the SQL that restores them, so they come
//! back even if the tool is killed (SIGKILL included); Ctrl-C, SIGTERM and
//! errors drop the guard, which runs it too. At the end the tool restores
//! them itself, rebuilding only what differs, and dismisses the guard.

use crate::cluster::{Endpoint, SqlGuard};
use crate::error::{Error, Result};
use crate::schema::{FoundIndexes, Migration, Session};

/// The indexes as found, and the guard that restores them.
pub struct Restore {
    found: FoundIndexes,
    guard: SqlGuard,
}

impl Restore {
    /// Reads the migration's indexes as found and arms the guard.
    pub async fn begin(db: &Endpoint, m: &Migration) -> Result<Restore> {
        let client = db.connect().await?;
        let found = FoundIndexes::read(&client, m).await?;
        let guard = SqlGuard::spawn(db, &found.restore_sql())?;
        Ok(Restore { found, guard })
    }

    /// Puts back what differs from what was found, through a session with
    /// the usual lock timeout; returns the names rebuilt or dropped. Should
    /// that fail (a lost connection, a lock held elsewhere), the guard runs
    /// the restoring SQL through `psql` now, waiting for locks, and the
    /// error says so.
    pub async fn finish(self, db: &Endpoint, m: &Migration, force: bool) -> Result<Vec<String>> {
        let done = async {
            let s = Session::open_committing(db, m, force).await?;
            self.found.restore(s.client()).await
        }
        .await;
        match done {
            Ok(names) => {
                self.guard.dismiss();
                Ok(names)
            }
            Err(e) => {
                self.guard.fire();
                Err(Error::BadInput(format!(
                    "putting the indexes back as found: {}; the restoring SQL was then run through psql; check them with `helpdesk-bench migrate status --url ...`",
                    crate::error::chain(&e)
                )))
            }
        }
    }
}
