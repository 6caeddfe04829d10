//! `helpdesk-bench migrate up|down|status|base`.

use std::process::ExitCode;

use crate::cli::{ConnArgs, MigrateAction, MigrationArgs};
use crate::cluster::Endpoint;
use crate::error::{Error, Result};
use crate::schema::{self, Applied, Migration};

pub async fn run(action: MigrateAction, conn: ConnArgs, m: MigrationArgs) -> Result<ExitCode> {
    let url = conn.url.ok_or(Error::NeedsUrl { command: "migrate" })?;
    let db = Endpoint::from_url(&url)?;
    let migration = Migration::load(m.migration.as_deref())?;
    let mut client = db.connect().await?;
    match action {
        MigrateAction::Status => {
            out!("{}", schema::status(&client, &migration).await?);
        }
        MigrateAction::Up => print_applied(&schema::up(&mut client, &migration).await?),
        MigrateAction::Down => print_applied(&schema::down(&mut client, &migration).await?),
        MigrateAction::Base => print_applied(&schema::create_base(&mut client).await?),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_applied(a: &Applied) {
    for s in &a.statements {
        out!(
            "{:>10.3} ms  line {:>3}: {}",
            s.duration.as_secs_f64() * 1e3,
            s.line,
            s.statement
        );
    }
    out!(
        "applied {} in {:.1} ms ({} statements, {})",
        a.file,
        a.total.as_secs_f64() * 1e3,
        a.statements.len(),
        a.runs_as
    );
}
