//! `helpdesk-bench verify`: the full proof in a fresh embedded database, or
//! the read-only checks against `--url`. Migrations other than 012 get the
//! generic checks only, and the output says so.

use std::process::ExitCode;

use crate::cli::{ConnArgs, MigrationArgs};
use crate::cluster::{self, Endpoint};
use crate::error::Result;
use crate::schema::verify;

pub async fn run(conn: ConnArgs, m: MigrationArgs) -> Result<ExitCode> {
    let chain = m.chain()?;
    let migration = &chain.under_test;
    if !verify::has_spec_checks(migration) {
        let generic = match conn.url {
            Some(_) => "each migration applied, its indexes valid and ready",
            None => "atomic apply, refusal to run twice, rollback round trip",
        };
        out!(
            "verify: {} is not 012, so only the generic checks run ({generic}); 012's spec checks are skipped",
            migration.name
        );
    }
    let checks = match conn.url {
        Some(url) => {
            let db = Endpoint::from_url(&url)?;
            out!("verify: read-only checks against {}", db.describe());
            let mut client = db.connect().await?;
            verify::read_only(&mut client, &chain).await?
        }
        None => {
            let db = cluster::scratch_database("verify").await?;
            out!("verify: fresh embedded database {}", db.describe());
            let mut client = db.connect().await?;
            verify::fresh(&mut client, &chain).await?
        }
    };
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
