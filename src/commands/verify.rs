//! `helpdesk-bench verify`: the full proof in a fresh embedded database, or
//! the read-only checks against `--url`.

use std::process::ExitCode;

use crate::cli::ConnArgs;
use crate::cluster::{self, Endpoint};
use crate::error::Result;
use crate::schema::{verify, Migration};

pub async fn run(conn: ConnArgs) -> Result<ExitCode> {
    let migration = Migration::builtin()?;
    let checks = match conn.url {
        Some(url) => {
            let db = Endpoint::from_url(&url)?;
            out!("verify: read-only checks against {}", db.describe());
            let mut client = db.connect().await?;
            verify::read_only(&mut client, &migration).await?
        }
        None => {
            let db = cluster::scratch_database("verify").await?;
            out!("verify: fresh embedded database {}", db.describe());
            let mut client = db.connect().await?;
            verify::fresh(&mut client, &migration).await?
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
        ExitCode::FAILURE
    })
}
