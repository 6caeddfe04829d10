//! Which of the catalogue's writes exercise a table: the insert workload
//! whose index overhead is timed, and the update workload whose HOT share is
//! measured, for the tables whose indexes a migration changes. Read from
//! each write's own SQL (`INSERT INTO t`, `UPDATE t ... SET`), so any
//! catalogue on any schema supplies its own workloads.

use std::sync::LazyLock;

use regex::Regex;

use super::catalogue::{Catalogue, Query};
use crate::sql::QualName;

/// A table name as SQL writes it: bare or quoted, maybe schema-qualified.
pub const TABLE_NAME: &str = NAME;
const NAME: &str = r#"((?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*))?)"#;

static INSERT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"(?i)\bINSERT\s+INTO\s+{NAME}")).expect("valid regex"));
static UPDATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\bUPDATE\s+(?:ONLY\s+)?{NAME}(?:\s+(?:AS\s+)?\w+)?\s+SET\b"
    ))
    .expect("valid regex")
});

/// A name matched by a pattern built on [`TABLE_NAME`], as a report names
/// a table: `schema.name`, or the bare name in `public` or unqualified.
pub fn table_label(matched: &str) -> String {
    let t = QualName::parse(&matched.replace(char::is_whitespace, ""));
    match t.schema.as_deref() {
        None | Some("public") => t.name,
        Some(_) => t.to_string(),
    }
}

/// How a write changes a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    Inserts,
    Updates,
}

/// The tables one statement text inserts into or updates.
pub fn written_tables(sql: &str, how: Writes) -> Vec<QualName> {
    let re = match how {
        Writes::Inserts => &*INSERT,
        Writes::Updates => &*UPDATE,
    };
    re.captures_iter(sql)
        .map(|c| QualName::parse(&c[1].replace(char::is_whitespace, "")))
        .collect()
}

/// Whether `a`, as a write names it, is the table `b` (a name without a
/// schema matches any schema: the search path decides).
fn same_table(a: &QualName, b: &QualName) -> bool {
    a.name == b.name && (a.schema.is_none() || b.schema.is_none() || a.schema == b.schema)
}

impl Catalogue {
    /// The first write of the catalogue (in file order) that changes
    /// `table` as `how` says.
    pub fn workload_for(&self, table: &QualName, how: Writes) -> Option<&Query> {
        self.writes().find(|q| {
            written_tables(&q.sql, how)
                .iter()
                .any(|t| same_table(t, table))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str, how: Writes) -> Vec<String> {
        written_tables(sql, how)
            .iter()
            .map(|t| t.to_string())
            .collect()
    }

    #[test]
    fn inserts_and_updates_name_their_tables_in_any_spelling() {
        let sql = r#"INSERT INTO "Conversation" (id) VALUES ($1);
            insert into app.website_event (x) select 1;
            UPDATE "Conversation" SET status = 'HUMAN_ACTIVE' WHERE id = $1;
            update only shop.orders o set state = 'paid';
            INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET x = 2;"#;
        assert_eq!(
            names(sql, Writes::Inserts),
            ["Conversation", "app.website_event", "t"]
        );
        assert_eq!(names(sql, Writes::Updates), ["Conversation", "shop.orders"]);
    }

    #[test]
    fn the_builtin_catalogue_supplies_the_lab_workloads() {
        let c = Catalogue::repository().unwrap();
        let conv = QualName::bare("Conversation");
        let msg = QualName::bare("Message");
        assert_eq!(
            c.workload_for(&conv, Writes::Inserts)
                .map(|q| q.name.as_str()),
            Some("new_conversation")
        );
        assert_eq!(
            c.workload_for(&msg, Writes::Inserts)
                .map(|q| q.name.as_str()),
            Some("new_conversation")
        );
        assert_eq!(
            c.workload_for(&conv, Writes::Updates)
                .map(|q| q.name.as_str()),
            Some("handover_assign_resolve")
        );
        assert!(c
            .workload_for(&QualName::bare("orders"), Writes::Inserts)
            .is_none());
    }
}
