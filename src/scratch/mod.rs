//! Scratch databases: a copy the tool may change at will, for `rehearse`,
//! `advise` and the index cost measurements. Embedded, it is a `TEMPLATE`
//! clone of the workspace's seeded database. On a user's server, for the
//! built-in help-desk chain, it is a new database the tool creates and
//! seeds itself; for any other chain it is a copy of the user's database
//! ([`Scratch::copy_of`]): the schema recreated from the catalog
//! ([`crate::recreate`]) and the rows streamed through the tool ([`data`])
//! or, in synth mode, generated from its statistics ([`synth`]), since
//! `CREATE DATABASE … TEMPLATE` fails while anyone is connected to the
//! source. What cannot be copied is refused before anything is created
//! ([`crate::recreate::refusals`]).
//!
//! A scratch database is dropped by [`Scratch::drop_now`], which reads
//! `pg_database` back to prove it gone. Should the tool stop without doing
//! so (an error, Ctrl-C, even SIGKILL), its [`Guard`] (a process of the
//! tool's own binary) runs `DROP DATABASE … WITH (FORCE)` and reads it back
//! too, writing its account to `guard-<database>.log` in the folder the
//! caller names: the run folder for `rehearse`, the reports folder for
//! `advise` (which moves it into its run folder once it has one).

mod copy;
pub mod data;
pub mod options;
pub mod sample;
pub(crate) mod stage;
mod synth;

use std::path::{Path, PathBuf};

use crate::cluster::{self, Endpoint};
use crate::error::{Error, Result};
use crate::guard::{self, Guard, Undo};
use crate::schema::MigrationChain;
use crate::seed::{self, Reporter, Scale, SeedConfig, Shape};
use crate::sql::quote_ident;

pub use options::{CopyOptions, Data, DATA_ENV, DEFAULT_LIMIT_MB, LIMIT_ENV, SAMPLE_ENV};
pub use stage::Stage;

/// Prefix of every scratch database's name.
pub const PREFIX: &str = "helpdesk_bench_scratch";

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

/// What a scratch copy is made from: the workspace's database, the copy
/// of it before the migration (embedded), and how to seed or copy.
pub struct Origin<'a> {
    pub db: &'a Endpoint,
    pub before_db: Option<&'a Endpoint>,
    /// The workspace's own embedded cluster (not a user's server).
    pub embedded: bool,
    pub copy: &'a CopyOptions,
    pub scale: Scale,
    pub seed: u64,
}

impl Scratch {
    /// Creates a scratch copy at `stage` on the workspace's server: a clone
    /// of the seeded embedded database; on a user's server, for the
    /// help-desk chain, a new database seeded at the workspace's scale and
    /// seed, and for any other chain a copy of the user's database
    /// ([`Scratch::copy_of`]) with the migration under test rolled back or
    /// applied in the copy to match `stage`; on a user's server the guard
    /// writes its account into folder `accounts`.
    pub async fn create<'a>(
        origin: impl Into<Origin<'a>>,
        chain: &MigrationChain,
        stage: Stage,
        progress: &Reporter,
        accounts: &Path,
    ) -> Result<Scratch> {
        let ws: Origin<'a> = origin.into();
        let name = cluster::unique_name(PREFIX);
        let admin = ws.db.clone();
        if ws.embedded {
            let source = match stage {
                Stage::Before => ws.before_db.unwrap_or(ws.db),
                Stage::After => ws.db,
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
        if !seeds_help_desk(chain) {
            let step = stage::plan(ws.db, &chain.under_test, stage).await?;
            let scratch = Scratch::copy_of(ws.db, ws.copy, progress, accounts).await?;
            return match stage::take(&scratch.db, &chain.under_test, step).await {
                Ok(()) => Ok(scratch),
                Err(e) => {
                    let _ = scratch.drop_now().await;
                    Err(e)
                }
            };
        }
        let scratch = Scratch::create_guarded(&admin, name, accounts).await?;
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

    /// A copy of the user's database `source` on its own server: refused
    /// before anything is created when it holds what cannot be copied
    /// ([`crate::recreate::refusals`]) or more data than `opts` allows;
    /// else a new database with the source's schema and, in copy mode, its
    /// rows (all, or the sample `opts` asks for) streamed through this
    /// process and held in memory only, or in synth mode rows generated
    /// from its statistics ([`synth`]); then analyzed. Dropped again should
    /// filling it fail.
    pub async fn copy_of(
        source: &Endpoint,
        opts: &CopyOptions,
        progress: &Reporter,
        accounts: &Path,
    ) -> Result<Scratch> {
        let plan = copy::plan(source, opts).await?;
        let synth = match opts.data {
            Data::Synth => Some(synth::plan(source, opts).await?),
            Data::Copy => None,
        };
        let name = cluster::unique_name(PREFIX);
        let scratch = Scratch::create_guarded(source, name, accounts).await?;
        let filled = match synth {
            None => copy::fill(source, &scratch.db, &plan, progress)
                .await
                .map(|_| ()),
            Some(planned) => synth::fill(planned, &scratch.db, progress).await,
        };
        match filled {
            Ok(()) => Ok(scratch),
            Err(e) => {
                // The copy's own error first; a failed drop is the guard's.
                let _ = scratch.drop_now().await;
                Err(e)
            }
        }
    }

    /// An empty database `name` on `admin`'s server, with its guard (whose
    /// account goes into `accounts`) started first: a stop while `CREATE
    /// DATABASE` runs still drops what it made (the CREATE itself is
    /// cancelled on Ctrl-C).
    async fn create_guarded(admin: &Endpoint, name: String, accounts: &Path) -> Result<Scratch> {
        let account = guard::scratch_account(accounts, &name);
        let undo = Undo::DropDatabase { name: name.clone() };
        let guard = Guard::spawn(admin, undo, &account).await?;
        let db = match create_on_user_server(admin, &name).await {
            Ok(db) => db,
            Err(e @ Error::BadInput(_)) => {
                // Refused (no CREATEDB): there is nothing to drop.
                guard.dismiss("CREATE DATABASE was refused").await;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        Ok(Scratch {
            db,
            admin: admin.clone(),
            name,
            guard: Some(guard),
            account: Some(account),
        })
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

/// Refuses `--data synth` or `--sample` where scratch copies are not copies
/// of the user's database: embedded (a clone of the seeded lab), or the
/// help-desk chain on a user's server (seeded by the tool).
pub fn check_options(
    opts: &CopyOptions,
    on_user_server: bool,
    chain: &MigrationChain,
) -> Result<()> {
    let asked = match (opts.data, opts.sample) {
        (Data::Synth, _) => "--data synth",
        (_, Some(_)) => "--sample",
        _ => return Ok(()),
    };
    if on_user_server && !seeds_help_desk(chain) {
        return Ok(());
    }
    Err(Error::BadInput(format!(
        "{asked} shapes a scratch copy of your own database, made only with --url and a migration of your own; {} seeds its own data, so drop {asked}",
        if on_user_server { "the help-desk chain" } else { "the embedded lab" }
    )))
}

/// Whether the chain's scratch copies are seeded from the help-desk lab's
/// model ([`MigrationChain::fits_lab`]). Any other chain's scratch copies
/// are copies of the user's database.
fn seeds_help_desk(chain: &MigrationChain) -> bool {
    chain.fits_lab()
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
