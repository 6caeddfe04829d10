//! A seeded database ready to measure. Embedded: a cluster started from a
//! cached, seeded data directory, so only the first run seeds. The cache is
//! keyed by scale, seed and [`cache_key`]: a hash of everything else the
//! data depends on (the data model's parameters, the fixtures' text, the
//! migrations applied, this tool's version and the server's major version).
//! The cached cluster also holds a copy before the migration under test,
//! for timing the migration itself. With a URL: the user's
//! database, as it is.

use sha2::{Digest, Sha256};

use crate::cluster::{self, Cluster, Endpoint, PgBin, StartOptions};
use crate::error::Result;
use crate::like::{self, LikeOptions};
use crate::permission;
use crate::schema::{fixtures, IndexState, MigrationChain};
use crate::scratch::options::CopyOptions;
use crate::scratch::stage::{self, Stage};
use crate::seed::{self, Counts, Reporter, Scale, SeedConfig, Shape};

/// Environment variable that lets benches change indexes on `DATABASE_URL`.
pub const ALLOW_INDEX_CHANGES_ENV: &str = permission::INDEX_CHANGES.env;
/// Environment variable that lets benches switch index states while other
/// sessions use the tables.
pub const FORCE_ENV: &str = permission::FORCE.env;
/// Environment variable choosing the bench scale.
pub const SCALE_ENV: &str = "HELPDESK_BENCH_SCALE";
/// Environment variable: build the embedded lab like this database
/// (`--like`).
pub const LIKE_ENV: &str = "HELPDESK_BENCH_LIKE";

/// The database inside the embedded cluster.
const DB: &str = "helpdesk";
/// Its copy as it was before the migration under test, for timing the
/// migration itself.
const BEFORE_DB: &str = "helpdesk_before";

/// Refuses, before anything is seeded, a chain that alters tables the
/// embedded help-desk lab lacks; `next` says what to do instead.
pub fn lab_holds(chain: &MigrationChain, next: &str) -> Result<()> {
    match chain.foreign_tables_listed() {
        None => Ok(()),
        Some(missing) => Err(crate::error::Error::LabLacksTables {
            name: chain.under_test.name.clone(),
            missing,
            next: next.into(),
        }),
    }
}

/// Where measurements run.
pub struct Workspace {
    /// The embedded cluster, when there is no URL.
    pub cluster: Option<Cluster>,
    pub db: Endpoint,
    /// Embedded only: the same rows with the chain's earlier migrations
    /// applied and the one under test not, to time applying it.
    pub before_db: Option<Endpoint>,
    pub scale: Scale,
    pub seed: u64,
    /// True when the seeded data came from the cache.
    pub reused: bool,
    /// True when the tool may drop and build the migration's indexes.
    pub may_change_indexes: bool,
    /// True when states may be switched while other sessions use the tables.
    pub force: bool,
    /// How much of a user's database its scratch copies take (when the
    /// chain is not the help-desk one), and whether they copy its rows or
    /// generate them from its statistics: from the environment, or a
    /// command's `--data`, `--sample` and `--copy-limit-mb`.
    pub copy: CopyOptions,
    /// Embedded only: the team's database the lab is shaped like (`--like`),
    /// its schema and rows generated from its statistics.
    pub like: Option<Endpoint>,
}

impl<'a> From<&'a Workspace> for crate::scratch::Origin<'a> {
    fn from(ws: &'a Workspace) -> Self {
        crate::scratch::Origin {
            db: &ws.db,
            before_db: ws.before_db.as_ref(),
            embedded: ws.cluster.is_some(),
            copy: &ws.copy,
            scale: ws.scale,
            seed: ws.seed,
        }
    }
}

impl Workspace {
    /// The user's database when `url` is given, else a seeded embedded one
    /// with every migration of `chain` applied.
    pub async fn open(
        url: Option<&str>,
        scale: Scale,
        seed: u64,
        chain: &MigrationChain,
        progress: &Reporter,
    ) -> Result<Workspace> {
        if let Some(url) = url {
            return Ok(Workspace {
                cluster: None,
                db: Endpoint::from_url(url)?,
                before_db: None,
                scale,
                seed,
                reused: true,
                may_change_indexes: permission::INDEX_CHANGES.granted(false)?,
                force: permission::FORCE.granted(false)?,
                copy: CopyOptions {
                    seed,
                    ..CopyOptions::from_env()?
                },
                like: None,
            });
        }
        lab_holds(
            chain,
            "run it against a database that holds them (--url, or DATABASE_URL for cargo bench)",
        )?;
        let key = cache_key(&PgBin::discover()?.major(), &chain.text());
        let dir = cluster::cache_dir()?.join(format!("seeded-{}-{seed}-{key}", scale.name()));
        let reused = dir.join("PG_VERSION").is_file();
        if !reused {
            let fresh = Cluster::start()?;
            let admin = Endpoint::embedded(fresh.config("postgres"))?;
            let mut cfg = SeedConfig::new(scale.counts());
            cfg.seed = seed;
            cfg.migrations = chain.all().cloned().collect();
            let db = cluster::create_database(&admin, DB, None).await?;
            seed::run(&db, &cfg, progress).await?;
            cfg.shape = Some(Shape::before(&chain.under_test)?);
            cfg.migrations = chain.earlier.clone();
            let before = cluster::create_database(&admin, BEFORE_DB, None).await?;
            seed::run(&before, &cfg, progress).await?;
            fresh.save_data_to(&dir)?;
        }
        let c = Cluster::start_with(StartOptions {
            data_from: Some(dir),
            ..Default::default()
        })?;
        let db = Endpoint::embedded(c.config(DB))?;
        let before_db = Some(Endpoint::embedded(c.config(BEFORE_DB))?);
        Ok(Workspace {
            cluster: Some(c),
            db,
            before_db,
            scale,
            seed,
            reused,
            may_change_indexes: true,
            force: false,
            copy: CopyOptions::default(),
            like: None,
        })
    }

    /// [`Workspace::open`], or [`Workspace::open_like`] when `like` names a
    /// team's database; both at once are refused.
    pub async fn open_for(
        url: Option<&str>,
        like: Option<&str>,
        scale: Scale,
        seed: u64,
        chain: &MigrationChain,
        progress: &Reporter,
    ) -> Result<Workspace> {
        match (url, like) {
            (Some(_), Some(_)) => Err(crate::error::Error::BadInput(format!(
                "--like ({LIKE_ENV}) builds an embedded lab shaped like a database, and --url (DATABASE_URL) measures a database itself; drop one of them"
            ))),
            (None, Some(source)) => Workspace::open_like(source, seed, chain, progress).await,
            _ => Workspace::open(url, scale, seed, chain, progress).await,
        }
    }

    /// An embedded lab shaped like the team's database `source` (`--like`):
    /// its schema and rows generated from its statistics by `seed --like`
    /// (no row of it is read), then brought to each state as scratch copies
    /// are ([`stage`]): the migration under test applied in the lab's
    /// database when `source` lacks it, rolled back in the before-database
    /// when `source` has it. Not cached: generating takes seconds.
    pub async fn open_like(
        source: &str,
        seed: u64,
        chain: &MigrationChain,
        progress: &Reporter,
    ) -> Result<Workspace> {
        let source = Endpoint::from_url(source)?;
        let m = &chain.under_test;
        let after = stage::plan(&source, m, Stage::After).await?;
        let before = stage::plan(&source, m, Stage::Before).await?;
        let like = LikeOptions::new(1.0, seed);
        // Read once: both databases are filled from the same statistics.
        let prepared = like::prepare(&source, &like).await?;
        let c = Cluster::start()?;
        let admin = Endpoint::embedded(c.config("postgres"))?;
        for (name, step) in [(DB, after), (BEFORE_DB, before)] {
            let db = cluster::create_database(&admin, name, None).await?;
            like::fill_target(prepared.clone(), &db, &like, progress).await?;
            stage::take(&db, m, step).await?;
        }
        Ok(Workspace {
            db: Endpoint::embedded(c.config(DB))?,
            before_db: Some(Endpoint::embedded(c.config(BEFORE_DB))?),
            cluster: Some(c),
            scale: Scale::Small,
            seed,
            reused: false,
            may_change_indexes: true,
            force: false,
            copy: CopyOptions::default(),
            like: Some(source),
        })
    }

    /// The help-desk seed's row counts, when the data measured is that
    /// seed: the embedded lab (not one shaped `--like` a team's database),
    /// or, for `scratch` measurements, a user's server whose chain's
    /// scratch copies the tool seeds from the lab's model.
    pub fn seeded_counts(&self, chain: &MigrationChain, scratch: bool) -> Option<Counts> {
        let lab = self.cluster.is_some() && self.like.is_none();
        let seeded = scratch && self.cluster.is_none() && chain.fits_lab();
        (lab || seeded).then(|| self.scale.counts())
    }

    /// The team's database the measured data was generated from: the
    /// `--like` source, or for `scratch` measurements on a user's server
    /// in synth mode, that server's database.
    pub fn data_like(&self, chain: &MigrationChain, scratch: bool) -> Option<String> {
        if let Some(source) = &self.like {
            return Some(source.describe());
        }
        let synth = scratch
            && self.cluster.is_none()
            && !chain.fits_lab()
            && self.copy.data == crate::scratch::options::Data::Synth;
        synth.then(|| self.db.describe())
    }

    /// The scale from `HELPDESK_BENCH_SCALE`, default small.
    pub fn scale_from_env() -> Result<Scale> {
        match std::env::var(SCALE_ENV) {
            Ok(s) => s.parse(),
            Err(_) => Ok(Scale::Small),
        }
    }

    /// A bench file's scale: `HELPDESK_BENCH_SCALE`, else small, except in
    /// criterion's test mode (`cargo test`), which checks the pipeline at tiny.
    pub fn bench_scale(bench_mode: bool) -> Result<Scale> {
        match (bench_mode, std::env::var_os(SCALE_ENV)) {
            (false, None) => Ok(Scale::Tiny),
            _ => Workspace::scale_from_env(),
        }
    }

    /// The index states a benchmark compares: without and with the
    /// migration's indexes when the tool may change them; otherwise the
    /// database as found, whose criterion id (`current_schema`) stays the
    /// same across a migration so criterion baselines line up.
    pub fn bench_states(&self) -> Vec<IndexState> {
        if self.may_change_indexes {
            vec![IndexState::Without, IndexState::With]
        } else {
            vec![IndexState::AsFound]
        }
    }
}

/// A hash of everything besides scale and seed that shapes a seeded data
/// directory: the data model's parameters, the fixtures' text, the
/// migrations applied (`chain_text`, [`MigrationChain::text`]), this tool's
/// version (which covers the generators' code), and the server's major
/// version (`server_major`, whose data directories are not interchangeable).
pub fn cache_key(server_major: &str, chain_text: &str) -> String {
    let mut h = Sha256::new();
    let parts = [
        seed::model::parameters(),
        fixtures::all().concat(),
        chain_text.to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
        server_major.to_string(),
    ];
    for part in parts {
        // Length-prefixed, so no two different lists hash the same bytes.
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_key_follows_the_server_major_version() {
        assert_eq!(cache_key("15", "012"), cache_key("15", "012"));
        assert_ne!(cache_key("15", "012"), cache_key("16", "012"));
        assert_ne!(cache_key("16", "012"), cache_key("16", "012 013"));
        assert_eq!(cache_key("16", "").len(), 12);
    }
}
