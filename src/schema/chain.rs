//! The migrations a run works with: earlier ones applied first, on top of
//! the base schema, and the last one, under test. Loaded in one place, from
//! `--migration` (repeatable) or `HELPDESK_BENCH_MIGRATION` (comma-separated).
//! Loading resolves what the migration under test drops to the definitions
//! the base schema or an earlier migration gave those indexes, so the state
//! before it can build them again.

use std::path::{Path, PathBuf};

use super::migration::{base_objects, unnamed_index, IndexDef, Migration};
use crate::error::{Error, Result};
use crate::sql::QualName;

/// Environment variable naming the chain for `cargo bench`, comma-separated.
pub const MIGRATION_ENV: &str = "HELPDESK_BENCH_MIGRATION";

/// Earlier migrations, applied first in order, and the one under test.
#[derive(Debug, Clone)]
pub struct MigrationChain {
    pub earlier: Vec<Migration>,
    pub under_test: Migration,
}

impl MigrationChain {
    /// Built-in 012 alone.
    pub fn builtin() -> Result<MigrationChain> {
        MigrationChain::new(Vec::new(), Migration::builtin()?)
    }

    /// The chain of `paths` (files or Prisma folders), the last under test;
    /// built-in 012 when there are none.
    pub fn load(paths: &[PathBuf]) -> Result<MigrationChain> {
        let Some((last, earlier)) = paths.split_last() else {
            return MigrationChain::builtin();
        };
        let earlier = earlier
            .iter()
            .map(|p| Migration::from_path(p))
            .collect::<Result<Vec<_>>>()?;
        MigrationChain::new(earlier, Migration::from_path(last)?)
    }

    /// The chain `HELPDESK_BENCH_MIGRATION` names (paths separated by
    /// commas), or built-in 012 when it is unset or empty.
    pub fn from_env() -> Result<MigrationChain> {
        let value = std::env::var(MIGRATION_ENV).unwrap_or_default();
        let paths: Vec<PathBuf> = value
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect();
        MigrationChain::load(&paths)
    }

    /// Checks the migration under test changes an index, and resolves the
    /// indexes it drops.
    pub fn new(earlier: Vec<Migration>, mut under_test: Migration) -> Result<MigrationChain> {
        for m in earlier.iter().chain([&under_test]) {
            if let Some(line) = unnamed_index(&m.forward) {
                return Err(Error::BadFixture {
                    file: format!("{}:{line}", m.forward.label),
                    reason: "CREATE INDEX without an index name; name it (CREATE INDEX name ON …): the tool finds, drops and rebuilds indexes by name, and a second run of an unnamed one builds a duplicate".into(),
                });
            }
        }
        let o = &under_test.objects;
        if o.indexes.is_empty() && o.dropped_indexes.is_empty() {
            return Err(Error::BadFixture {
                file: under_test.forward.label.clone(),
                reason: concat!(
                    "no CREATE INDEX statement found (nor DROP INDEX); ",
                    "the migration under test (the last --migration) must create or drop an index"
                )
                .into(),
            });
        }
        under_test.dropped = o
            .dropped_indexes
            .iter()
            .map(|name| resolve(&name.name, &earlier, &under_test))
            .collect::<Result<_>>()?;
        Ok(MigrationChain {
            earlier,
            under_test,
        })
    }

    /// Every migration in the order they apply.
    pub fn all(&self) -> impl Iterator<Item = &Migration> {
        self.earlier.iter().chain(std::iter::once(&self.under_test))
    }

    /// Every migration's SQL, for cache keys that must change with any of them.
    pub fn text(&self) -> String {
        self.all()
            .map(|m| format!("{}\n{}", m.name, m.forward.text))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every table, column and type some migration of the chain creates.
    pub fn created(&self) -> impl Iterator<Item = super::migration::Created> + '_ {
        self.all().flat_map(|m| m.objects.created())
    }

    /// True when the chain changes only the help-desk lab's tables (and
    /// those it creates itself): the lab, and scratch copies seeded from
    /// its model, can stand in for the database it targets.
    pub fn fits_lab(&self) -> bool {
        self.foreign_tables().is_empty()
    }

    /// [`MigrationChain::foreign_tables`] as a message lists them
    /// (`table a, table b`), or `None` when the lab holds every one.
    pub fn foreign_tables_listed(&self) -> Option<String> {
        let foreign = self.foreign_tables();
        (!foreign.is_empty()).then(|| {
            foreign
                .iter()
                .map(|t| format!("table {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// The tables the chain changes that neither the help-desk lab's base
    /// schema nor one of its own migrations creates: a chain written for a
    /// team's own schema, which the embedded lab cannot stand in for.
    pub fn foreign_tables(&self) -> Vec<QualName> {
        let lab = base_objects().tables;
        let mut created: Vec<QualName> = Vec::new();
        let mut out: Vec<QualName> = Vec::new();
        for m in self.all() {
            for t in m.objects.referenced_tables() {
                if !lab.contains(&t) && !created.contains(&t) && !out.contains(&t) {
                    out.push(t);
                }
            }
            created.extend(m.objects.tables.iter().cloned());
        }
        out
    }

    /// Every index some migration of the chain creates.
    pub fn created_indexes(&self) -> impl Iterator<Item = &IndexDef> {
        self.all().flat_map(|m| m.indexes())
    }
}

/// The definition of an index `m` drops: from the newest earlier migration
/// that creates it, else from the base schema.
fn resolve(name: &str, earlier: &[Migration], m: &Migration) -> Result<IndexDef> {
    earlier
        .iter()
        .rev()
        .find_map(|e| e.index(name).cloned())
        .or_else(|| base_objects().indexes.into_iter().find(|i| i.name == name))
        .ok_or_else(|| Error::BadFixture {
            file: m.forward.label.clone(),
            reason: format!(
                "it drops index {name:?}, which neither the base schema nor an earlier migration creates; \
                 pass the migration that creates it first (--migration EARLIER --migration {})",
                display(&m.forward.label)
            ),
        })
}

fn display(label: &str) -> String {
    Path::new(label).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::migration::SqlFile;

    fn drop_status() -> Migration {
        Migration::from_sql(
            "013_x",
            SqlFile::new(
                "013_x.sql",
                concat!(
                    "CREATE INDEX \"C_sc_idx\" ON \"Conversation\"(\"status\", \"createdAt\");\n",
                    "DROP INDEX \"Conversation_status_idx\";"
                ),
            ),
            None,
        )
    }

    #[test]
    fn a_drop_takes_its_definition_from_an_earlier_migration() {
        let chain =
            MigrationChain::new(vec![Migration::builtin().unwrap()], drop_status()).unwrap();
        let changes: Vec<&str> = chain
            .under_test
            .index_changes()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(changes, ["C_sc_idx", "Conversation_status_idx"]);
        assert_eq!(chain.under_test.dropped[0].columns, ["status"]);
    }

    #[test]
    fn tables_outside_the_lab_are_named_unless_the_chain_creates_them() {
        let m = |name: &str, sql: &str| Migration::from_sql(name, SqlFile::new("x.sql", sql), None);
        let create = m(
            "001",
            "CREATE TABLE app.orders (id int); CREATE INDEX o_idx ON app.orders (id);",
        );
        let index = m(
            "002",
            "CREATE INDEX i_idx ON app.orders (id); CREATE INDEX j_idx ON app.items (id); \
             CREATE INDEX k_idx ON \"Message\" (id);",
        );
        let alone = MigrationChain::new(Vec::new(), index.clone()).unwrap();
        let names: Vec<String> = alone
            .foreign_tables()
            .iter()
            .map(|t| t.to_string())
            .collect();
        assert_eq!(names, ["app.orders", "app.items"]);
        let chained = MigrationChain::new(vec![create], index).unwrap();
        let names: Vec<String> = chained
            .foreign_tables()
            .iter()
            .map(|t| t.to_string())
            .collect();
        assert_eq!(names, ["app.items"]);
        assert!(MigrationChain::builtin()
            .unwrap()
            .foreign_tables()
            .is_empty());
    }

    #[test]
    fn a_drop_nothing_creates_is_refused() {
        let err = MigrationChain::new(Vec::new(), drop_status()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("drops index \"Conversation_status_idx\", which neither"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn a_migration_under_test_without_index_changes_is_refused() {
        let m = Migration::from_sql(
            "x",
            SqlFile::new("x.sql", "ALTER TABLE \"User\" ADD COLUMN a int;"),
            None,
        );
        let err = MigrationChain::new(Vec::new(), m).unwrap_err();
        assert!(err.to_string().contains("no CREATE INDEX"), "{err}");
    }
}
