//! Putting a user's indexes back after `load` switched index states for
//! real on their database (`--allow-index-changes`). Before the first
//! change, the migration's indexes are read as found and a [`Guard`] is
//! started holding that record, so they come back even if the tool is
//! killed (SIGKILL included); on Ctrl-C, SIGTERM and errors the guard is
//! dropped and puts them back too, and the tool awaits its verdict on the
//! way out. At the end the tool restores them itself, rebuilding only what
//! differs, reads the catalog back, and dismisses the guard; should that
//! fail, the guard tries, and its verdict decides.

use std::path::Path;

use crate::cluster::Endpoint;
use crate::error::{chain, Result};
use crate::guard::{Guard, Undo};
use crate::schema::{FoundIndexes, Migration, Session};

/// The indexes as found, and the guard that restores them.
pub struct Restore {
    undo: Undo,
    guard: Guard,
}

/// How the indexes were put back, each time read back from the catalog.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The indexes the tool rebuilt or dropped (empty when the guard did it).
    pub rebuilt: Vec<String>,
    /// What reading the catalog back found: `indexes verified as found: …`.
    pub verified: String,
    /// Set when the tool's own attempt failed and the guard put them back:
    /// why the tool's attempt failed.
    pub by_guard: Option<String>,
}

impl Restore {
    /// Reads the migration's indexes as found and arms the guard, whose
    /// account goes to `account`.
    pub async fn begin(db: &Endpoint, m: &Migration, account: &Path) -> Result<Restore> {
        let client = db.connect().await?;
        let undo = Undo::Indexes(FoundIndexes::read(&client, m).await?);
        let guard = Guard::spawn(db, undo.clone(), account).await?;
        Ok(Restore { undo, guard })
    }

    /// Puts back what differs from what was found, through a session with
    /// the usual lock timeout, and reads the catalog back. Should that fail
    /// (a lost connection, a lock held elsewhere, a catalog not as found),
    /// the guard tries now, with its own lock timeout and retries, and its
    /// verdict decides: an error holding the SQL still to run when the
    /// indexes are still not as found.
    pub async fn finish(self, db: &Endpoint, m: &Migration, force: bool) -> Result<Restored> {
        let own = async {
            let s = Session::open_committing(db, m, force).await?;
            let rebuilt = self.undo.apply(s.client()).await?;
            let verdict = self.undo.verify(s.client()).await?;
            Ok::<_, crate::Error>((rebuilt, verdict))
        }
        .await;
        let why = match own {
            Ok((rebuilt, v)) if v.verified => {
                self.guard.dismiss(&v.summary).await;
                return Ok(Restored {
                    rebuilt,
                    verified: v.summary,
                    by_guard: None,
                });
            }
            Ok((_, v)) => v.summary,
            Err(e) => chain(&e),
        };
        let verified = self.guard.fire(&why).await.into_result()?;
        Ok(Restored {
            rebuilt: Vec::new(),
            verified,
            by_guard: Some(why),
        })
    }
}
