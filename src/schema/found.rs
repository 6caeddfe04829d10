//! What a user's database was found to be: which of the migration's objects
//! it holds (so the report names its state, `base`, `migrated`, `migrated
//! without its indexes` or `partial`, instead of an index state it was never
//! switched to), and how big it is, from the planner's own row estimates.

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::migrate::{status, State};
use super::migration::Migration;
use crate::error::{Context, Result};

/// `pg_class.reltuples` as a row estimate, NULL where the planner has none:
/// a table never vacuumed or analyzed has −1 from PostgreSQL 14 on, and 0
/// on 13, where that 0 cannot be told from an analyzed empty table. Use it
/// wherever a row count is read from `pg_class` (unaliased).
pub const ROW_ESTIMATE: &str = "(CASE WHEN reltuples > 0 \
     OR (reltuples = 0 AND current_setting('server_version_num')::int >= 140000) \
     THEN reltuples::float8 END)";

/// The state of the migration on a database, as its catalog shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundState {
    /// None of the migration's objects.
    Base,
    /// All of them.
    Migrated,
    /// Every object but the indexes.
    MigratedWithoutIndexes,
    /// Anything else.
    Partial,
}

impl std::fmt::Display for FoundState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            FoundState::Base => "base",
            FoundState::Migrated => "migrated",
            FoundState::MigratedWithoutIndexes => "migrated without its indexes",
            FoundState::Partial => "partial",
        })
    }
}

/// A user's database as found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoundDatabase {
    pub state: FoundState,
    /// The migration's objects that exist, e.g. `column Conversation.status`.
    pub present: Vec<String>,
    /// The migration's objects that do not.
    pub missing: Vec<String>,
    /// `pg_class.reltuples` of each table that has an estimate
    /// ([`ROW_ESTIMATE`]), by name (`schema.name` outside `public`).
    pub rows: Vec<(String, u64)>,
}

impl FoundDatabase {
    /// The `n` largest tables by the planner's estimate, largest first.
    pub fn largest(&self, n: usize) -> Vec<(&str, u64)> {
        let mut all: Vec<(&str, u64)> = self.rows.iter().map(|(t, r)| (t.as_str(), *r)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        all.truncate(n);
        all
    }

    /// The planner's row estimate for `table`, if it has one.
    pub fn rows_of(&self, table: &str) -> Option<u64> {
        self.rows.iter().find(|(t, _)| t == table).map(|(_, n)| *n)
    }
}

/// Reads the migration's state and the table sizes.
pub async fn found(client: &Client, m: &Migration) -> Result<FoundDatabase> {
    let s = status(client, m).await?;
    let is_index = |o: &String| o.starts_with("index ");
    let state = match s.state {
        State::Base => FoundState::Base,
        State::Applied => FoundState::Migrated,
        State::Partial
            if s.base_missing.is_empty()
                && !s.present.is_empty()
                && s.missing.iter().all(is_index) =>
        {
            FoundState::MigratedWithoutIndexes
        }
        State::Partial => FoundState::Partial,
    };
    let rows = client
        .query(
            &format!(
                "SELECT CASE WHEN n.nspname = 'public' THEN c.relname::text \
                        ELSE n.nspname || '.' || c.relname END, {ROW_ESTIMATE}::bigint \
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                  WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
                    AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' \
                  ORDER BY 1"
            ),
            &[],
        )
        .await
        .context("reading table sizes")?
        .iter()
        .filter_map(|r| Some((r.get::<_, String>(0), r.get::<_, Option<i64>>(1)? as u64)))
        .collect();
    Ok(FoundDatabase {
        state,
        present: s.present,
        missing: s.missing,
        rows,
    })
}
