//! `helpdesk-bench migrate up|down|status|base`, for a chain of migrations:
//! `up` applies those not applied yet, `down` rolls back the last one.

use std::process::ExitCode;

use crate::cli::{ConnArgs, MigrateAction, MigrationArgs};
use crate::cluster::Endpoint;
use crate::error::{Error, Result};
use crate::schema::{self, Applied, Migration};

pub async fn run(action: MigrateAction, conn: ConnArgs, m: MigrationArgs) -> Result<ExitCode> {
    let url = conn.url.ok_or(Error::NeedsUrl { command: "migrate" })?;
    let db = Endpoint::from_url(&url)?;
    let chain = m.chain()?;
    let migration = &chain.under_test;
    let mut client = db.connect().await?;
    match action {
        MigrateAction::Status => {
            for (i, m) in chain.earlier.iter().enumerate() {
                let later: Vec<Migration> = chain.all().skip(i + 1).cloned().collect();
                out!(
                    "{}: {}",
                    m.name,
                    schema::status_before(&client, m, &later).await?
                );
            }
            let prefix = if chain.earlier.is_empty() {
                String::new()
            } else {
                format!("{}: ", migration.name)
            };
            out!("{prefix}{}", schema::status(&client, migration).await?);
        }
        MigrateAction::Up => {
            for (name, applied) in schema::up_chain(&mut client, &chain).await? {
                match applied {
                    Some(a) => print_applied(&a),
                    None => out!("{name} is already applied; skipped"),
                }
            }
        }
        MigrateAction::Down => print_applied(&schema::down(&mut client, migration).await?),
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
