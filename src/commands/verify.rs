//! `helpdesk-bench verify`: the full proof in a fresh embedded database
//! (the help-desk base schema, or with `--like` one built like a team's
//! database), or the read-only checks against `--url`. Migrations other
//! than 012 get the generic checks only, and the output says so.

use std::process::ExitCode;

use crate::cli::{ConnArgs, MigrationArgs};
use crate::cluster::{self, Endpoint};
use crate::error::{Error, Result};
use crate::like::{self, LikeOptions};
use crate::schema::verify::{self, Check};
use crate::schema::{self, MigrationChain};
use crate::scratch::stage;
use crate::scratch::Stage;
use crate::seed::Reporter;

pub async fn run(
    conn: ConnArgs,
    m: MigrationArgs,
    like: Option<String>,
    seed: u64,
    quiet: bool,
) -> Result<ExitCode> {
    let chain = m.chain()?;
    let migration = &chain.under_test;
    if conn.url.is_some() && like.is_some() {
        return Err(Error::BadInput(
            "verify --like builds an embedded database shaped like a team's, and --url (DATABASE_URL) checks a database itself; drop one of them".into(),
        ));
    }
    if conn.url.is_none() && like.is_none() {
        verify::fits_lab(&chain)?;
    }
    let (on_url, built) = (conn.url.is_some(), like.is_some());
    let checks = match (conn.url, like) {
        (Some(url), _) => {
            let db = Endpoint::from_url(&url)?;
            out!("verify: read-only checks against {}", db.describe());
            let mut client = db.connect().await?;
            verify::read_only(&mut client, &chain).await?
        }
        (None, Some(source)) => built_like(&chain, &source, seed, quiet).await?,
        (None, None) => {
            let db = cluster::scratch_database("verify").await?;
            out!("verify: fresh embedded database {}", db.describe());
            let mut client = db.connect().await?;
            verify::fresh(&mut client, &chain).await?
        }
    };
    if !verify::has_spec_checks(migration) || built {
        let generic = match on_url {
            true => "each migration applied, its indexes valid and ready",
            false => "atomic apply, refusal to run twice, rollback round trip",
        };
        let why = match verify::has_spec_checks(migration) {
            true => "--like builds no help-desk rows".to_string(),
            false => format!("{} is not 012", migration.name),
        };
        out!(
            "verify: {why}, so only the generic checks run ({generic}); 012's spec checks are skipped"
        );
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    for c in &checks {
        out!("{c}");
    }
    out!("verify: {} passed, {failed} failed", checks.len() - failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::error::exit::GATE_FAILED)
    })
}

/// The round trip in a fresh embedded database built like `source`: its
/// schema and rows generated from its statistics (none of its rows read),
/// brought to the state before the migration under test (rolled back there
/// when `source` has it applied). Everything that can refuse does so
/// before the database is made.
async fn built_like(
    chain: &MigrationChain,
    source: &str,
    seed: u64,
    quiet: bool,
) -> Result<Vec<Check>> {
    let m = &chain.under_test;
    verify::needs_rollback(m)?;
    let source = Endpoint::from_url(source)?;
    let status = schema::status(&source.connect().await?, m).await?;
    if !status.base_missing.is_empty() {
        return Err(Error::BadInput(format!(
            "verify --like: {} has no {}, which {} changes; name a database that holds them",
            source.describe(),
            status.base_missing.join(", "),
            m.name
        )));
    }
    let step = stage::plan(&source, m, Stage::Before).await?;
    let opts = LikeOptions::new(1.0, seed);
    let prepared = like::prepare(&source, &opts).await?;
    let db = cluster::scratch_database("verify").await?;
    out!(
        "verify: fresh embedded database {} shaped like {}",
        db.describe(),
        source.describe()
    );
    like::fill_target(prepared, &db, &opts, &Reporter::auto(quiet)).await?;
    stage::take(&db, m, step).await?;
    let mut client = db.connect().await?;
    verify::built(&mut client, m).await
}
