//! Synth mode: a scratch copy filled from the source's statistics by the
//! generator of `seed --like` ([`crate::like`]) instead of its rows. The
//! source is read in one read-only transaction (catalog, `pg_class`,
//! `pg_stats`); no row of its tables is read, so the copy holds no e-mail,
//! name or free text of the team's (the privacy rule of
//! [`crate::like::privacy`]). Rows: the source's estimate times the
//! `--sample` fraction. Planned before the scratch database is created, so
//! a column that cannot be generated is refused before any work.

use std::time::Instant;

use super::options::CopyOptions;
use crate::cluster::Endpoint;
use crate::error::{Error, Result};
use crate::like::{self, LikeOptions};
use crate::seed::Reporter;

/// A synth fill, planned and ready to run.
pub struct Planned {
    prepared: like::Prepared,
    opts: LikeOptions,
}

/// Reads the source's statistics and plans the generators.
pub async fn plan(source: &Endpoint, opts: &CopyOptions) -> Result<Planned> {
    let like = LikeOptions::new(opts.sample.unwrap_or(1.0), opts.seed);
    let prepared = like::prepare(source, &like).await.map_err(|e| match e {
        Error::BadInput(m) => Error::BadInput(format!(
            "synth mode cannot fill a scratch copy of {}: {m}; or use --data copy",
            source.dbname()
        )),
        e => e,
    })?;
    Ok(Planned {
        prepared,
        opts: like,
    })
}

/// Fills the empty `scratch` as planned.
pub async fn fill(planned: Planned, scratch: &Endpoint, progress: &Reporter) -> Result<()> {
    let started = Instant::now();
    let report = like::fill_target(planned.prepared, scratch, &planned.opts, progress).await?;
    let (ok, all) = report.fidelity.within();
    let inferred = match report.inferred.len() {
        0 => String::new(),
        n => format!("; {n} references inferred from column names"),
    };
    let not_valid = match report.filled.not_valid.as_slice() {
        [] => String::new(),
        names => format!(
            "; created NOT VALID, as the generated rows break them: {}",
            names.join(", ")
        ),
    };
    let detail = format!(
        "{} rows of {} tables generated from the source's statistics; {ok} of {all} columns within tolerance{inferred}{not_valid}",
        report.filled.rows, report.tables
    );
    progress.phase("synth: rows", started.elapsed(), &detail);
    Ok(())
}
