//! A measuring session: one connection on which index states are entered
//! and left, and reads run read-only.
//!
//! On a database the tool made itself (the embedded cluster), a state is
//! built for real and committed, then ANALYZEd, and the reads run in a
//! `READ ONLY` transaction. On any other database, a user's, every state
//! lives inside one transaction that is always rolled back:
//! `BEGIN; DROP INDEX …; SET TRANSACTION READ ONLY; measure; ROLLBACK` (with a
//! `CREATE INDEX` for an index the migration drops, before it). The
//! server undoes the changes whatever happens to the tool (an error, Ctrl-C,
//! SIGKILL, a lost connection), so the indexes come back exactly as they
//! were, with their definitions, options, validity and tablespace, and no
//! index that was absent is ever left behind. No ANALYZE runs there: even
//! rolled back, it would change `pg_class.reltuples`.
//!
//! The session bounds every wait: `lock_timeout` for DDL, a generous
//! `statement_timeout`, `client_connection_check_interval` so a backend
//! queued behind a lock dies with its client, and
//! `idle_in_transaction_session_timeout` off, because criterion's analysis
//! leaves the session idle inside the state's transaction.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::indexes::{present_indexes, set_state, IndexState};
use super::migration::{IndexDef, Migration};
use crate::cluster::{Endpoint, Registration};
use crate::error::{Context, Error, Result, Wrap};

/// How long a state change waits for another session's lock.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one statement may run on a user's database.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// How a session changes index states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// A database the tool made: changes are committed and ANALYZEd.
    Commit,
    /// A user's database: each state is a transaction that is rolled back.
    RollBack,
    /// A user's database whose owner let the tool switch states for real
    /// (`load --allow-index-changes`: its clients, on connections of their
    /// own, must all see the state): changes are committed, after the
    /// in-use check, without ANALYZE; the caller puts the indexes back as
    /// found ([`super::FoundIndexes`]).
    CommitOnUserDb,
}

/// What the state's transaction allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Catalogue reads, EXPLAIN ANALYZE and samples.
    ReadOnly,
    /// Write workloads (which nest their transactions as savepoints when a
    /// state transaction is open).
    ReadWrite,
}

/// One connection measuring index states of one migration.
pub struct Session<'m> {
    client: Client,
    _cancel: Registration,
    m: &'m Migration,
    policy: Policy,
    /// Switch states even while other sessions use the tables.
    force: bool,
    in_transaction: bool,
}

impl<'m> Session<'m> {
    /// Connects and sets the session's timeouts. `force` lets states be
    /// switched while other sessions use the migration's tables.
    pub async fn open(db: &Endpoint, m: &'m Migration, force: bool) -> Result<Session<'m>> {
        let policy = if db.is_embedded() {
            Policy::Commit
        } else {
            Policy::RollBack
        };
        Session::open_with(db, m, force, policy).await
    }

    /// A session whose states are committed even on a user's database
    /// ([`Policy::CommitOnUserDb`]); on the embedded one, as [`Session::open`].
    pub async fn open_committing(
        db: &Endpoint,
        m: &'m Migration,
        force: bool,
    ) -> Result<Session<'m>> {
        let policy = if db.is_embedded() {
            Policy::Commit
        } else {
            Policy::CommitOnUserDb
        };
        Session::open_with(db, m, force, policy).await
    }

    async fn open_with(
        db: &Endpoint,
        m: &'m Migration,
        force: bool,
        policy: Policy,
    ) -> Result<Session<'m>> {
        let (client, cancel) = db.connect_cancellable().await?;
        let version: i32 = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .context("reading the server version")?
            .get(0);
        let mut settings = format!(
            "SET lock_timeout = '{}ms'; SET statement_timeout = '{}ms'; \
             SET idle_in_transaction_session_timeout = 0;",
            LOCK_TIMEOUT.as_millis(),
            STATEMENT_TIMEOUT.as_millis()
        );
        if version >= 140_000 {
            settings.push_str(" SET client_connection_check_interval = '1s';");
        }
        client
            .batch_execute(&settings)
            .await
            .context("setting the session's timeouts")?;
        Ok(Session {
            client,
            _cancel: cancel,
            m,
            policy,
            force,
            in_transaction: false,
        })
    }

    /// The connection, for running queries in the current state.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// How this session changes states.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// True while a state's transaction is open: writes must then nest as
    /// savepoints.
    pub fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// Leaves the current state and enters `state`. Returns the build times
    /// of indexes built for real (only under [`Policy::Commit`]).
    pub async fn enter(
        &mut self,
        state: &IndexState,
        access: Access,
    ) -> Result<Vec<(String, Duration)>> {
        self.leave().await?;
        let builds = match self.policy {
            Policy::Commit => set_state(&self.client, self.m, state).await?,
            Policy::RollBack => {
                self.switch_in_transaction(state).await?;
                Vec::new()
            }
            Policy::CommitOnUserDb => self.switch_committed(state).await?,
        };
        if access == Access::ReadOnly {
            let sql = if self.in_transaction {
                "SET TRANSACTION READ ONLY"
            } else {
                "BEGIN READ ONLY"
            };
            self.exec(sql, "opening a read-only transaction").await?;
            self.in_transaction = true;
        }
        Ok(builds)
    }

    /// Rolls back the current state's transaction, if one is open.
    pub async fn leave(&mut self) -> Result<()> {
        if self.in_transaction {
            self.in_transaction = false;
            self.exec("ROLLBACK", "rolling back the index state")
                .await?;
        }
        Ok(())
    }

    /// `BEGIN`, then the drops and builds the state needs, uncommitted.
    async fn switch_in_transaction(&mut self, state: &IndexState) -> Result<()> {
        let changes = changes(&self.client, self.m, state).await?;
        if !changes.is_empty() && !self.force {
            refuse_if_in_use(&self.client, &changes).await?;
        }
        self.exec("BEGIN", "starting the index state's transaction")
            .await?;
        self.in_transaction = true;
        for (ix, create) in &changes {
            let sql = if *create {
                ix.create_sql(false)
            } else {
                ix.drop_sql()
            };
            if let Err(e) = self.client.batch_execute(&sql).await {
                self.leave().await?;
                return Err(self.ddl_error(ix, state, e).await);
            }
        }
        Ok(())
    }

    /// The drops, then the builds, the state needs, each committed on its
    /// own, no ANALYZE; refused while other sessions use the tables unless
    /// forced. Returns the build times.
    async fn switch_committed(&mut self, state: &IndexState) -> Result<Vec<(String, Duration)>> {
        let mut changes = changes(&self.client, self.m, state).await?;
        if !changes.is_empty() && !self.force {
            refuse_if_in_use(&self.client, &changes).await?;
        }
        changes.sort_by_key(|(_, create)| *create);
        let mut builds = Vec::new();
        for (ix, create) in changes {
            let t = Instant::now();
            let sql = if create {
                ix.create_sql(false)
            } else {
                ix.drop_sql()
            };
            if let Err(e) = self.client.batch_execute(&sql).await {
                return Err(self.ddl_error(ix, state, e).await);
            }
            if create {
                builds.push((ix.name.clone(), t.elapsed()));
            }
        }
        Ok(builds)
    }

    /// A failed state change, naming the sessions that held the lock when
    /// it was a lock timeout.
    async fn ddl_error(
        &self,
        ix: &IndexDef,
        state: &IndexState,
        e: tokio_postgres::Error,
    ) -> Error {
        if e.code() != Some(&SqlState::LOCK_NOT_AVAILABLE) {
            return e.wrap(format!("switching to {state} ({})", ix.name));
        }
        let holders = lock_holders(
            &self.client,
            std::slice::from_ref(&ix.table),
            Autovacuum::Counts,
        )
        .await
        .unwrap_or_default();
        Error::LockTimeout {
            table: ix.table.clone(),
            waited: format!("{} s", LOCK_TIMEOUT.as_secs()),
            holders: if holders.is_empty() {
                "a session that has since finished".into()
            } else {
                holders.join("; ")
            },
        }
    }

    async fn exec(&self, sql: &str, doing: &str) -> Result<()> {
        self.client.batch_execute(sql).await.context(doing)
    }
}

/// The indexes to create (`true`) or drop (`false`) to reach `state` from
/// what exists now: the migration's own, and, before it, those it drops.
async fn changes<'a>(
    client: &Client,
    m: &'a Migration,
    state: &IndexState,
) -> Result<Vec<(&'a IndexDef, bool)>> {
    let Some(wanted) = state.wanted(m) else {
        return Ok(Vec::new());
    };
    let present = present_indexes(client, m).await?;
    Ok(m.index_changes()
        .filter(|ix| wanted.contains(&ix.name) != present.contains(&ix.name))
        .map(|ix| (ix, wanted.contains(&ix.name)))
        .collect())
}

/// Refuses to take ACCESS EXCLUSIVE locks on tables other sessions are
/// using: they would wait behind it for the whole measurement.
async fn refuse_if_in_use(client: &Client, changes: &[(&IndexDef, bool)]) -> Result<()> {
    let tables: BTreeSet<String> = changes.iter().map(|(ix, _)| ix.table.clone()).collect();
    let tables: Vec<String> = tables.into_iter().collect();
    let holders = lock_holders(client, &tables, Autovacuum::Yields).await?;
    if holders.is_empty() {
        return Ok(());
    }
    Err(Error::TablesInUse {
        tables: tables
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", "),
        sessions: holders.join("; "),
    })
}

/// Whether an autovacuum worker on the tables counts as a session in the way.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Autovacuum {
    /// Left out: the server cancels an autovacuum that blocks a lock request
    /// once the request has waited `deadlock_timeout` (1 s by default), so
    /// left out while that is under [`LOCK_TIMEOUT`] and the worker does not
    /// run to prevent wraparound (which is never cancelled).
    Yields,
    /// Named like any other session: after a lock timeout, to say who held it.
    Counts,
}

/// Other sessions holding or awaiting a lock on any of `tables`, described
/// as `pid N (application, state: query)`.
async fn lock_holders(
    client: &Client,
    tables: &[String],
    autovacuum: Autovacuum,
) -> Result<Vec<String>> {
    let started = Instant::now();
    let rows = client
        .query(
            "SELECT DISTINCT a.pid, coalesce(nullif(a.application_name, ''), 'no application name'), \
                    coalesce(a.state, 'state hidden'), \
                    coalesce(left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80), '') \
             FROM pg_locks l \
             JOIN pg_class c ON c.oid = l.relation \
             JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'relation' AND l.pid <> pg_backend_pid() \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND c.relname = ANY($1) \
               AND NOT ($2 AND a.backend_type = 'autovacuum worker' \
                        AND current_setting('deadlock_timeout')::interval < $3::text::interval \
                        AND coalesce(a.query, '') NOT LIKE '%to prevent wraparound%') \
             ORDER BY a.pid",
            &[
                &tables,
                &(autovacuum == Autovacuum::Yields),
                &format!("{} ms", LOCK_TIMEOUT.as_millis()),
            ],
        )
        .await
        .context("looking for sessions using the tables")?;
    tracing::debug!("lock holders read in {:?}", started.elapsed());
    Ok(rows
        .iter()
        .map(|r| {
            let query: String = r.get(3);
            format!(
                "pid {} ({}, {}{})",
                r.get::<_, i32>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
                if query.is_empty() || query.starts_with("<insufficient") {
                    String::new()
                } else {
                    format!(": {query}")
                }
            )
        })
        .collect())
}
