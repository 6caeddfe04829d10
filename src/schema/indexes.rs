//! The migration's indexes as a switch: drop them all, build them all, or
//! drop one and keep the rest (leave-one-out). ANALYZE follows every change,
//! so plans see fresh statistics.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::migration::Migration;
use crate::cluster::sql_error;
use crate::error::Result;
use crate::sql::quote_ident;

/// Which of the migration's indexes exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    /// None of them (the migration's columns stay).
    Without,
    /// All of them.
    With,
    /// All but this one.
    LeaveOut(String),
    /// Exactly these (used to put a database back as it was found).
    Exactly(BTreeSet<String>),
}

impl IndexState {
    /// The id used in benchmark names and file names, e.g. `with_012_indexes`.
    pub fn id(&self, m: &Migration) -> String {
        let tag = m.name.split('_').next().unwrap_or(&m.name);
        match self {
            IndexState::Without => format!("without_{tag}_indexes"),
            IndexState::With => format!("with_{tag}_indexes"),
            IndexState::LeaveOut(name) => format!("without_{name}"),
            IndexState::Exactly(_) => "as_found".to_string(),
        }
    }

    /// Leave-one-out states for every index of the migration.
    pub fn ablation(m: &Migration) -> Vec<IndexState> {
        m.indexes()
            .iter()
            .map(|i| IndexState::LeaveOut(i.name.clone()))
            .collect()
    }

    fn wants(&self, index: &str) -> bool {
        match self {
            IndexState::Without => false,
            IndexState::With => true,
            IndexState::LeaveOut(name) => name != index,
            IndexState::Exactly(set) => set.contains(index),
        }
    }
}

/// Which of the migration's indexes exist now.
pub async fn present_indexes(client: &Client, m: &Migration) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for ix in m.indexes() {
        let row = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&quote_ident(&ix.name)],
            )
            .await
            .map_err(|e| sql_error("reading the catalog", e))?;
        if row.get::<_, bool>(0) {
            out.insert(ix.name.clone());
        }
    }
    Ok(out)
}

/// Drops and builds indexes until the state holds, then ANALYZEs the tables
/// that changed. Returns how long each build took.
pub async fn set_state(
    client: &Client,
    m: &Migration,
    state: &IndexState,
) -> Result<Vec<(String, Duration)>> {
    let present = present_indexes(client, m).await?;
    let mut touched = BTreeSet::new();
    let mut builds = Vec::new();
    for ix in m.indexes() {
        let want = state.wants(&ix.name);
        let have = present.contains(&ix.name);
        if want == have {
            continue;
        }
        let t = Instant::now();
        let sql = if want {
            ix.create_sql(false)
        } else {
            ix.drop_sql()
        };
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| sql_error(format!("switching to {}", state.id(m)), e))?;
        if want {
            builds.push((ix.name.clone(), t.elapsed()));
        }
        touched.insert(ix.table.clone());
    }
    for table in touched {
        client
            .batch_execute(&format!("ANALYZE {}", quote_ident(&table)))
            .await
            .map_err(|e| sql_error(format!("analyzing {table}"), e))?;
    }
    Ok(builds)
}

/// The state the database is in, if it is one of the named ones.
pub async fn current_state(client: &Client, m: &Migration) -> Result<Option<IndexState>> {
    let present = present_indexes(client, m).await?;
    Ok(if present.len() == m.indexes().len() {
        Some(IndexState::With)
    } else if present.is_empty() {
        Some(IndexState::Without)
    } else if present.len() + 1 == m.indexes().len() {
        m.indexes()
            .iter()
            .find(|i| !present.contains(&i.name))
            .map(|i| IndexState::LeaveOut(i.name.clone()))
    } else {
        None
    })
}
