//! What applying the migration costs on a seeded database: in a scratch
//! copy of the data as it was before the migration (earlier migrations of
//! the chain applied, this one not), time `migrate up` statement by
//! statement. No rollback file is needed. Every lock
//! a statement takes is held until COMMIT, so the time from the first
//! `ALTER TABLE` to the end is how long writers (and, for `ALTER TABLE`,
//! readers) of those tables wait.

use crate::cluster::Endpoint;
use crate::error::{Context, Result};
use crate::results::MigrationCost;
use crate::schema::{self, Migration};

/// Times the migration on `db`, a copy the tool may change, in the state
/// before the migration.
pub async fn migration_cost(db: &Endpoint, m: &Migration) -> Result<MigrationCost> {
    let mut client = db.connect().await?;
    client
        .batch_execute("VACUUM ANALYZE")
        .await
        .context("vacuuming before the migration")?;
    let applied = schema::up(&mut client, m).await?;
    let first_lock = applied
        .statements
        .iter()
        .position(|s| s.statement.to_ascii_uppercase().starts_with("ALTER TABLE"))
        .unwrap_or(0);
    let lock_held_ms = applied.statements[first_lock..]
        .iter()
        .map(|s| s.duration.as_secs_f64() * 1e3)
        .sum();
    Ok(MigrationCost {
        wall_ms: applied.total.as_secs_f64() * 1e3,
        statements: applied.statements,
        lock_held_ms,
    })
}
