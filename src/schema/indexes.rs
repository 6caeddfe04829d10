//! The migration's index changes as a switch: as before it (the indexes it
//! creates absent, those it drops present), as after it, or after it with
//! one created index left out (leave-one-out). ANALYZE follows every
//! change, so plans see fresh statistics.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::migration::{IndexDef, Migration};
use crate::error::{Context, Result};

/// A measured state of the migration's indexes. Results, plans and the
/// report carry this type; only criterion's benchmark ids and plan file
/// names need it as text ([`IndexState::id`]). A state says which indexes
/// exist, nothing else: client counts and the like belong to whatever
/// measurement carries the state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexState {
    /// None of them (the migration's columns stay).
    Without,
    /// All of them.
    With,
    /// All but this one (leave-one-out).
    LeaveOut(String),
    /// The database as it was found, not switched: a user's database without
    /// the index-changes flag.
    AsFound,
}

impl IndexState {
    /// The id used in criterion's benchmark names and in file names, e.g.
    /// `with_012_indexes`. On a user's database it is `current_schema`,
    /// which stays the same across a migration so criterion baselines line up.
    pub fn id(&self, m: &Migration) -> String {
        let tag = m.name.split('_').next().unwrap_or(&m.name);
        match self {
            IndexState::Without => format!("without_{tag}_indexes"),
            IndexState::With => format!("with_{tag}_indexes"),
            IndexState::LeaveOut(name) => format!("without_{name}"),
            IndexState::AsFound => "current_schema".to_string(),
        }
    }

    /// The state a v1 `results.json` id stands for (ids were the only form
    /// then): the inverse of [`IndexState::id`] without the migration.
    pub fn from_v1_id(id: &str) -> IndexState {
        let tagged = |prefix: &str| {
            id.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix("_indexes"))
                .is_some_and(|tag| !tag.is_empty() && tag.chars().all(|c| c.is_ascii_digit()))
        };
        if tagged("with_") {
            IndexState::With
        } else if tagged("without_") {
            IndexState::Without
        } else if let Some(name) = id.strip_prefix("without_") {
            IndexState::LeaveOut(name.to_string())
        } else {
            IndexState::AsFound
        }
    }

    /// Leave-one-out states for every index of the migration.
    pub fn ablation(m: &Migration) -> Vec<IndexState> {
        m.indexes()
            .iter()
            .map(|i| IndexState::LeaveOut(i.name.clone()))
            .collect()
    }

    /// Which of the indexes the migration changes
    /// ([`Migration::index_changes`]) this state has, or `None` for
    /// [`IndexState::AsFound`], which is whatever is there. Without: the
    /// ones it drops (as before it ran). With: the ones it creates.
    /// Leave-one-out: the ones it creates but one.
    pub(crate) fn wanted(&self, m: &Migration) -> Option<BTreeSet<String>> {
        let created = m.indexes().iter().map(|i| i.name.clone());
        match self {
            IndexState::Without => Some(m.dropped.iter().map(|i| i.name.clone()).collect()),
            IndexState::With => Some(created.collect()),
            IndexState::LeaveOut(left) => Some(created.filter(|n| n != left).collect()),
            IndexState::AsFound => None,
        }
    }
}

/// A short label for pages and consoles.
impl std::fmt::Display for IndexState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            IndexState::Without => "without the indexes".to_string(),
            IndexState::With => "with the indexes".to_string(),
            IndexState::LeaveOut(name) => format!("without {name}"),
            IndexState::AsFound => "as found".to_string(),
        };
        f.pad(&text)
    }
}

/// Which of the indexes the migration creates or drops exist now.
pub async fn present_indexes(client: &Client, m: &Migration) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for ix in m.index_changes() {
        let row = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&ix.name_sql()])
            .await
            .context("reading the catalog")?;
        if row.get::<_, bool>(0) {
            out.insert(ix.name.clone());
        }
    }
    Ok(out)
}

/// Drops and builds indexes until the state holds, then ANALYZEs the tables
/// that changed. Returns how long each build took. [`IndexState::AsFound`]
/// changes nothing.
pub async fn set_state(
    client: &Client,
    m: &Migration,
    state: &IndexState,
) -> Result<Vec<(String, Duration)>> {
    match state.wanted(m) {
        Some(wanted) => set_present(client, m, &wanted, &state.id(m)).await,
        None => Ok(Vec::new()),
    }
}

/// Puts back exactly the set of the migration's indexes found earlier with
/// [`present_indexes`].
pub async fn restore_present(
    client: &Client,
    m: &Migration,
    found: &BTreeSet<String>,
) -> Result<()> {
    set_present(client, m, found, "the indexes as found")
        .await
        .map(drop)
}

async fn set_present(
    client: &Client,
    m: &Migration,
    wanted: &BTreeSet<String>,
    what: &str,
) -> Result<Vec<(String, Duration)>> {
    let present = present_indexes(client, m).await?;
    let mut touched = BTreeSet::new();
    let mut builds = Vec::new();
    // Drops first, so a state never holds two indexes it need not.
    let mut order: Vec<&IndexDef> = m.index_changes().collect();
    order.sort_by_key(|ix| wanted.contains(&ix.name));
    for ix in order {
        let want = wanted.contains(&ix.name);
        if want == present.contains(&ix.name) {
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
            .context(format!("switching to {what}"))?;
        if want {
            builds.push((ix.name.clone(), t.elapsed()));
        }
        touched.insert(ix.table_sql());
    }
    for table in touched {
        client
            .batch_execute(&format!("ANALYZE {table}"))
            .await
            .context(format!("analyzing {table}"))?;
    }
    Ok(builds)
}
