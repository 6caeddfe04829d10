//! Scratch databases: a seeded copy the tool may change at will, for
//! `rehearse` and `advise`. Embedded, it is a `TEMPLATE` clone of the
//! workspace's seeded database. On a user's server it is a new database the
//! tool creates and seeds itself: it is never copied from the user's
//! database (`CREATE DATABASE … TEMPLATE` fails while anyone is connected to
//! the source, and the user's rows are theirs).
//!
//! A scratch database is dropped by [`Scratch::drop_now`], which reads
//! `pg_database` back to prove it gone. Should the tool stop without doing
//! so (an error, Ctrl-C, even SIGKILL), its [`Guard`] (a process of the
//! tool's own binary) runs `DROP DATABASE … WITH (FORCE)` and reads it back
//! too, writing its account to `guard-<database>.log` in the folder the
//! caller names: the run folder for `rehearse`, the reports folder for
//! `advise` (which moves it into its run folder once it has one).

use std::path::{Path, PathBuf};

use crate::cluster::{self, Endpoint};
use crate::error::{Error, Result};
use crate::guard::{self, Guard, Undo};
use crate::schema::MigrationChain;
use crate::seed::{self, Reporter, SeedConfig, Shape};
use crate::sql::quote_ident;
use crate::workspace::Workspace;

/// Prefix of every scratch database's name.
pub const PREFIX: &str = "helpdesk_bench_scratch";

/// Which schema a scratch copy starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The chain's earlier migrations applied, not the one under test: the
    /// schema a migration rehearsal starts from.
    Before,
    /// Every migration of the chain applied.
    After,
}

/// One scratch database, dropped by [`Scratch::drop_now`] or, failing
/// that, by its guard.
pub struct Scratch {
    /// The scratch database.
    pub db: Endpoint,
    /// A database on the same server to issue `DROP DATABASE` from.
    admin: Endpoint,
    name: String,
    guard: Option<Guard>,
    /// The guard's account file, when there is a guard.
    account: Option<PathBuf>,
}

impl Scratch {
    /// Creates a scratch copy at `stage` on the workspace's server: a clone
    /// of the seeded embedded database, or on a user's server a new database
    /// seeded at the workspace's scale and seed, whose guard writes its
    /// account into folder `accounts`.
    pub async fn create(
        ws: &Workspace,
        chain: &MigrationChain,
        stage: Stage,
        progress: &Reporter,
        accounts: &Path,
    ) -> Result<Scratch> {
        let name = cluster::unique_name(PREFIX);
        let admin = ws.db.clone();
        if ws.cluster.is_some() {
            let source = match stage {
                Stage::Before => ws.before_db.as_ref().unwrap_or(&ws.db),
                Stage::After => &ws.db,
            };
            let db = cluster::create_database(&admin, &name, Some(&source.dbname())).await?;
            return Ok(Scratch {
                db,
                admin,
                name,
                guard: None,
                account: None,
            });
        }
        // The guard first: a stop while CREATE DATABASE runs still drops
        // what it made (the CREATE itself is cancelled on Ctrl-C).
        let account = guard::scratch_account(accounts, &name);
        let undo = Undo::DropDatabase { name: name.clone() };
        let guard = Guard::spawn(&admin, undo, &account).await?;
        let db = match create_on_user_server(&admin, &name).await {
            Ok(db) => db,
            Err(e @ Error::BadInput(_)) => {
                // Refused (no CREATEDB): there is nothing to drop.
                guard.dismiss("CREATE DATABASE was refused").await;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let scratch = Scratch {
            db,
            admin,
            name,
            guard: Some(guard),
            account: Some(account),
        };
        let mut cfg = SeedConfig::new(ws.scale.counts());
        cfg.seed = ws.seed;
        match stage {
            Stage::After => cfg.migrations = chain.all().cloned().collect(),
            Stage::Before => {
                cfg.shape = Some(Shape::before(&chain.under_test)?);
                cfg.migrations = chain.earlier.clone();
            }
        }
        seed::run(&scratch.db, &cfg, progress).await?;
        Ok(scratch)
    }

    /// The scratch database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The guard's account file, when there is a guard (on a user's server).
    pub fn account(&self) -> Option<&Path> {
        self.account.as_deref()
    }

    /// Drops the database now (ending any session still in it), reads
    /// `pg_database` back, and dismisses the guard. Should that fail, the
    /// guard drops it now and its verdict decides: an error holding the SQL
    /// still to run when the database is still there.
    pub async fn drop_now(mut self) -> Result<()> {
        let undo = Undo::DropDatabase {
            name: self.name.clone(),
        };
        let client = self.admin.connect().await;
        let Some(guard) = self.guard.take() else {
            // Embedded: the copy would go with the cluster anyway.
            return undo.apply(&client?).await.map(|_| ());
        };
        let own = async {
            let client = client?;
            undo.apply(&client).await?;
            undo.verify(&client).await
        }
        .await;
        let why = match own {
            Ok(v) if v.verified => {
                guard.dismiss(&v.summary).await;
                return Ok(());
            }
            Ok(v) => v.summary,
            Err(e) => crate::error::chain(&e),
        };
        guard.fire(&why).await.into_result().map(|_| ())
    }
}

async fn create_on_user_server(admin: &Endpoint, name: &str) -> Result<Endpoint> {
    let (client, _cancel) = admin.connect_cancellable().await?;
    let sql = format!("CREATE DATABASE {}", quote_ident(name));
    client.batch_execute(&sql).await.map_err(|e| {
        let code = e.code().map(|c| c.code().to_string());
        if code.as_deref() == Some("42501") {
            Error::BadInput(format!(
                "{} may not create databases, which this command needs for its scratch copy; grant it CREATEDB or run without --url",
                admin.user()
            ))
        } else {
            admin.query_error(format!("creating scratch database {name}"), e)
        }
    })?;
    Ok(admin.with_dbname(name))
}
