//! A copy of the user's database (a scratch copy, or an embedded lab shaped
//! like it) brought to the [`Stage`] a measurement
//! starts from: the migration under test rolled back in the copy for
//! `Before` when the user's database has it applied (as after `migrate
//! up`), or applied in the copy for `After` when it has not. Whether it is
//! applied is read from the catalog: the indexes it creates present and
//! those it drops absent. Decided on the source before anything is copied,
//! so a missing rollback file is refused before any work.

use tokio_postgres::Client;

use crate::cluster::Endpoint;
use crate::error::{Context, Error, Result};
use crate::schema::{self, Migration};
use crate::sql::qualified;

/// Which schema a scratch copy starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The chain's earlier migrations applied, not the one under test: the
    /// schema a migration rehearsal starts from.
    Before,
    /// Every migration of the chain applied.
    After,
}

/// What the copy needs once made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Nothing,
    RollBack,
    Apply,
}

/// True when `m`'s indexes are as it leaves them: created ones present,
/// dropped ones absent.
async fn applied(client: &Client, m: &Migration) -> Result<bool> {
    let exists = |name: String| async move {
        client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
            .await
            .context(format!("looking for index {name}"))
            .map(|r| r.get::<_, bool>(0))
    };
    for i in &m.objects.indexes {
        if !exists(qualified(i.schema.as_deref(), &i.name)).await? {
            return Ok(false);
        }
    }
    for d in &m.objects.dropped_indexes {
        if exists(d.sql()).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The step the copy of `source` needs for `stage`; refuses a roll-back
/// without a rollback file.
pub async fn plan(source: &Endpoint, m: &Migration, stage: Stage) -> Result<Step> {
    let client = source.connect().await?;
    let step = match (stage, applied(&client, m).await?) {
        (Stage::Before, true) => Step::RollBack,
        (Stage::After, false) => Step::Apply,
        _ => Step::Nothing,
    };
    if step == Step::RollBack && m.rollback.is_none() {
        return Err(Error::BadInput(format!(
            "{} is applied on {}, and this measurement starts from the database before it, but it has no rollback file to undo it in the scratch copy; write {}_rollback.sql beside it, or run this before `migrate up`",
            m.name,
            source.dbname(),
            m.name
        )));
    }
    Ok(step)
}

/// Takes `step` in the copy `db`.
pub async fn take(db: &Endpoint, m: &Migration, step: Step) -> Result<()> {
    let mut client = db.connect().await?;
    match (step, &m.rollback) {
        (Step::RollBack, Some(rb)) => {
            schema::apply(&mut client, &format!("{}_rollback", m.name), rb).await?;
        }
        (Step::Apply, _) => {
            schema::apply(&mut client, &m.name, &m.forward).await?;
        }
        _ => {}
    }
    Ok(())
}
