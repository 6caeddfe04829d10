//! Proving a migration correct. Every migration with a rollback file gets
//! the generic round trip ([`roundtrip`]), in the help-desk base schema or
//! in a database built like a team's: it applies atomically, refuses to
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
use crate::error::{Context, Result};

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
    fits_lab(chain)?;
    let start = roundtrip::Start::HelpDesk {
        earlier: &chain.earlier,
    };
    let mut trip = roundtrip::RoundTrip::apply(client, m, start).await?;
    if has_spec_checks(m) && !trip.halted {
        trip.checks.extend(spec012::applied(client, m).await?);
    }
    trip.roll_back(client, m).await
}

/// Refuses, before any database is made, a chain that changes tables the
/// help-desk base schema lacks: [`fresh`] cannot build them.
pub fn fits_lab(chain: &MigrationChain) -> Result<()> {
    match chain.foreign_tables_listed() {
        None => Ok(()),
        Some(missing) => Err(crate::error::Error::VerifyNeedsSchema {
            name: chain.under_test.name.clone(),
            missing,
        }),
    }
}

/// Refuses a migration without a rollback file, before any work: the
/// round trip needs it.
pub fn needs_rollback(m: &Migration) -> Result<()> {
    match m.rollback {
        Some(_) => Ok(()),
        None => Err(roundtrip::no_rollback(m)),
    }
}

/// The round trip in a database already at `m`'s starting point, built
/// like a team's database (`verify --like`): every table's rows are the
/// pre-existing rows, checksummed whole, and the catalog compared.
pub async fn built(client: &mut Client, m: &Migration) -> Result<Vec<Check>> {
    let trip = roundtrip::RoundTrip::apply(client, m, roundtrip::Start::Built).await?;
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
    if status.state == State::Applied {
        checks.push(indexes_valid(client, chain).await?);
    }
    if status.state == State::Applied && has_spec_checks(m) {
        checks.extend(spec012::read_only(client, m).await?);
    }
    Ok(checks)
}

/// Every index the chain creates (and no later one drops) is valid and
/// ready: a `CREATE INDEX CONCURRENTLY` that failed leaves its index behind,
/// present but never used.
async fn indexes_valid(client: &Client, chain: &MigrationChain) -> Result<Check> {
    let dropped: Vec<&crate::sql::QualName> = chain
        .all()
        .flat_map(|m| m.objects.dropped_indexes.iter())
        .collect();
    let mut bad = Vec::new();
    let mut n = 0;
    for i in chain.created_indexes() {
        if dropped.iter().any(|d| d.name == i.name) {
            continue;
        }
        n += 1;
        let ok: Option<bool> = client
            .query_opt(
                "SELECT indisvalid AND indisready FROM pg_index WHERE indexrelid = to_regclass($1)",
                &[&i.name_sql()],
            )
            .await
            .context("reading the indexes' validity")?
            .map(|r| r.get(0));
        if ok != Some(true) {
            bad.push(i.name.clone());
        }
    }
    let detail = match bad.is_empty() {
        true => format!("{n} indexes valid and ready"),
        false => format!(
            "not valid: {}; drop and build them again (DROP INDEX CONCURRENTLY, then CREATE INDEX CONCURRENTLY)",
            bad.join(", ")
        ),
    };
    Ok(Check::new(
        "the chain's indexes are valid",
        bad.is_empty(),
        detail,
    ))
}

/// The migration's number, its name up to the first `_` (e.g. `012`).
fn short_name(m: &Migration) -> &str {
    m.name.split('_').next().unwrap_or(&m.name)
}
