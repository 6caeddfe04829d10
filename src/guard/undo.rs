//! What a guard undoes, and how the undoing is proved: one code path for
//! the tool and the guard process alike. Putting a user's indexes back is
//! proved by reading each one's definition (with its storage options),
//! validity and tablespace back from the catalog; dropping a scratch
//! database by reading `pg_database`. Either way the [`Verdict`] says so,
//! or holds the exact SQL still to run.

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use crate::error::{chain, Context, Error, Result};
use crate::schema::FoundIndexes;
use crate::sql::quote_ident;

/// A change to undo.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Undo {
    /// Put the migration's indexes back as they were found.
    Indexes(FoundIndexes),
    /// Drop a scratch database (from another database on its server).
    DropDatabase { name: String },
}

/// What reading the catalog back found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// True when the catalog shows the change undone.
    pub verified: bool,
    /// One line: `indexes verified as found: a, b`, or what differs.
    pub summary: String,
    /// The SQL still to run, when not verified.
    pub sql: Option<String>,
}

impl Undo {
    /// What the guard is for, in one line.
    pub fn describe(&self) -> String {
        match self {
            Undo::Indexes(f) => format!(
                "put the migration's indexes back as found ({})",
                f.names().join(", ")
            ),
            Undo::DropDatabase { name } => format!("drop scratch database {name}"),
        }
    }

    /// The SQL undoing the whole change, whatever is there now: what is
    /// still to run when the catalog cannot even be read back.
    pub fn full_sql(&self) -> String {
        match self {
            Undo::Indexes(f) => f.restore_sql(),
            Undo::DropDatabase { name } => format!("{};\n", drop_database_sql(name)),
        }
    }

    /// Undoes what still differs; returns the names of what it changed.
    pub async fn apply(&self, client: &Client) -> Result<Vec<String>> {
        match self {
            Undo::Indexes(f) => f.restore(client).await,
            Undo::DropDatabase { name } => {
                client
                    .batch_execute(&drop_database_sql(name))
                    .await
                    .context(format!("dropping scratch database {name}"))?;
                Ok(vec![name.clone()])
            }
        }
    }

    /// Reads the catalog back.
    pub async fn verify(&self, client: &Client) -> Result<Verdict> {
        match self {
            Undo::Indexes(f) => {
                let differ = f.differences(client).await?;
                if differ.is_empty() {
                    return Ok(Verdict::verified(match f.names().as_slice() {
                        [] => "no indexes to put back".into(),
                        names => format!("indexes verified as found: {}", names.join(", ")),
                    }));
                }
                let names: Vec<String> = differ.iter().map(|d| d.name.clone()).collect();
                Ok(Verdict {
                    verified: false,
                    summary: format!(
                        "the migration's indexes are not as found: {}",
                        differ
                            .iter()
                            .map(|d| format!("{} {}", d.name, d.how))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    sql: Some(f.restore_sql_for(&names)),
                })
            }
            Undo::DropDatabase { name } => {
                let present: bool = client
                    .query_one(
                        "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)",
                        &[name],
                    )
                    .await
                    .context("reading pg_database back")?
                    .get(0);
                Ok(match present {
                    false => Verdict::verified(format!(
                        "scratch database {name} verified gone from pg_database"
                    )),
                    true => Verdict {
                        verified: false,
                        summary: format!("scratch database {name} still exists"),
                        sql: Some(self.full_sql()),
                    },
                })
            }
        }
    }

    /// The verdict when the catalog could not be read back: nothing is
    /// proved, so all of the undoing SQL is still to run.
    pub fn unread(&self, e: &Error) -> Verdict {
        Verdict {
            verified: false,
            summary: format!("could not read the catalog back ({})", chain(e)),
            sql: Some(self.full_sql()),
        }
    }
}

impl Verdict {
    fn verified(summary: String) -> Verdict {
        Verdict {
            verified: true,
            summary,
            sql: None,
        }
    }
}

/// Drops a scratch database, ending any session still in it.
pub fn drop_database_sql(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))
}
