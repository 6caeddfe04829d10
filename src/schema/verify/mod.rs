//! Proving a migration correct. Every migration with a rollback file gets
//! the generic round trip ([`roundtrip`]): it applies atomically, refuses to
//! run twice, and its rollback gives back an identical catalog with every
//! pre-existing row unchanged. Migration 012 also gets its spec's checks
//! ([`spec012`]): roles, statuses, help-desk fields, indexes and comments.

mod roundtrip;
mod spec012;

use std::fmt;

use tokio_postgres::Client;

use super::chain::MigrationChain;
use super::fixtures;
use super::migrate::{self, State};
use super::migration::Migration;
use crate::error::Result;

/// One named check and its outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    fn new(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            passed,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.passed { "PASS" } else { "FAIL" };
        write!(f, "{mark}  {}", self.name)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// True when `m` is migration 012, whose spec checks [`fresh`] and
/// [`read_only`] add to the generic ones.
pub fn has_spec_checks(m: &Migration) -> bool {
    m.name == fixtures::MIGRATION_012_NAME || m.forward.text == fixtures::MIGRATION_012
}

/// The full proof, in an empty database: base schema, pre-existing rows,
/// the migration (and 012's spec checks), then the rollback round trip.
/// Fails before changing anything when the migration has no rollback file.
/// The chain's earlier migrations are applied after the base schema, before
/// the round trip of the one under test.
pub async fn fresh(client: &mut Client, chain: &MigrationChain) -> Result<Vec<Check>> {
    let m = &chain.under_test;
    let mut trip = roundtrip::RoundTrip::apply(client, m, &chain.earlier).await?;
    if has_spec_checks(m) && !trip.halted {
        trip.checks.extend(spec012::applied(client, m).await?);
    }
    trip.roll_back(client, m).await
}

/// The checks that only read, for a database the tool must not change:
/// that the migration is applied, then 012's spec checks.
/// Every migration of the chain is checked to be applied.
pub async fn read_only(client: &mut Client, chain: &MigrationChain) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    for (i, e) in chain.earlier.iter().enumerate() {
        let later: Vec<Migration> = chain.all().skip(i + 1).cloned().collect();
        let status = migrate::status_before(client, e, &later).await?;
        checks.push(Check::new(
            format!("{} is applied", e.name),
            status.state == State::Applied,
            status.to_string().replace('\n', ";"),
        ));
    }
    let m = &chain.under_test;
    let status = migrate::status(client, m).await?;
    checks.push(Check::new(
        format!("{} is applied", m.name),
        status.state == State::Applied,
        status.to_string().replace('\n', ";"),
    ));
    if status.state == State::Applied && has_spec_checks(m) {
        checks.extend(spec012::read_only(client, m).await?);
    }
    Ok(checks)
}

/// The migration's number, its name up to the first `_` (e.g. `012`).
fn short_name(m: &Migration) -> &str {
    m.name.split('_').next().unwrap_or(&m.name)
}
