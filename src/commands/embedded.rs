//! The embedded database `seed` and `seed --like` fill when no `--url` is
//! given: in the shared cluster, or with `--keep` in one of its own left
//! running, whose address is printed at the end. `--keep` and
//! `--measure-ceiling` only make sense there.

use std::path::PathBuf;

use crate::cluster::{self, Cluster, Endpoint, StartOptions};
use crate::error::{Error, Result};

/// Refuses `--keep` and `--measure-ceiling` with `--url`.
pub fn refuse_with_url(keep: bool, measure_ceiling: bool) -> Result<()> {
    if keep || measure_ceiling {
        return Err(Error::BadInput(
            "--keep and --measure-ceiling work on the embedded cluster only; drop --url".into(),
        ));
    }
    Ok(())
}

/// An embedded database, created empty.
pub struct Embedded {
    /// The cluster `--keep` started and leaves running.
    kept: Option<Cluster>,
    name: &'static str,
    pub db: Endpoint,
}

impl Embedded {
    /// Creates database `name` (dropping one left from before) in the
    /// shared cluster, or with `keep` in a new cluster left running.
    pub async fn create(name: &'static str, keep: bool) -> Result<Embedded> {
        let kept = match keep {
            true => Some(Cluster::start_with(StartOptions {
                detach: true,
                ..Default::default()
            })?),
            false => None,
        };
        let admin = match &kept {
            Some(c) => Endpoint::embedded(c.config("postgres"))?,
            None => cluster::resolve(None)?,
        };
        let db = cluster::create_database(&admin, name, None).await?;
        Ok(Embedded { kept, name, db })
    }

    /// The cluster's directory, which its server can read (the ingest
    /// ceiling's files go there).
    pub fn run_dir(&self) -> Result<PathBuf> {
        Ok(match &self.kept {
            Some(c) => c.run_dir().to_path_buf(),
            None => cluster::shared()?.run_dir().to_path_buf(),
        })
    }

    /// With `--keep`: where the cluster runs, how to connect and stop it.
    pub fn print_kept(&self) {
        if let Some(c) = &self.kept {
            out!("cluster kept running in {}", c.run_dir().display());
            out!("connect: psql '{}'", c.url(self.name));
            out!(
                "stop:    helpdesk-bench server stop {}",
                c.run_dir().display()
            );
        }
    }
}
