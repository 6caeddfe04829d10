//! The migration's indexes exactly as found on a user's database, so that a
//! committed switch of index states (`load --allow-index-changes`, whose
//! clients on their own connections must all see the state) can be put
//! back: each index's full definition as the server prints it
//! (`pg_get_indexdef`, with its storage options), its tablespace, and
//! which of them were absent. [`FoundIndexes::restore_sql`] is one
//! transaction that puts every one back whatever happened in between;
//! [`FoundIndexes::restore`] rebuilds only those that differ now, and
//! [`FoundIndexes::differences`] reads the catalog back to say which still
//! differ (definition with storage options, validity, tablespace). The
//! record is serializable, so the guard process (`crate::guard`) gets the
//! same record and runs the same code as the tool.

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::migration::Migration;
use crate::error::{Context, Error, Result};
use crate::sql::{quote_ident, QualName};

/// One index as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FoundIndex {
    /// `CREATE INDEX ... WITH (...)` as `pg_get_indexdef` prints it.
    def: String,
    /// `None` for the database's default tablespace.
    tablespace: Option<String>,
}

/// The migration's indexes (those it creates or drops) as found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoundIndexes {
    /// Each index (with its table's schema when the migration names one)
    /// with what was there, `None` when it was absent.
    found: Vec<(QualName, Option<FoundIndex>)>,
}

impl FoundIndexes {
    /// Reads the indexes now. Refuses an invalid index (a failed
    /// `CREATE INDEX CONCURRENTLY`): it could not be put back as it is.
    pub async fn read(client: &Client, m: &Migration) -> Result<FoundIndexes> {
        let mut found = Vec::new();
        for ix in m.index_changes() {
            let name = QualName {
                schema: ix.schema.clone(),
                name: ix.name.clone(),
            };
            let now = read_one(client, &name).await?;
            if let Some((_, false)) = &now {
                return Err(Error::BadInput(format!(
                    "index {name} is invalid (a failed CREATE INDEX CONCURRENTLY?); rebuild or drop it (REINDEX INDEX {}) before letting load switch index states",
                    name.sql()
                )));
            }
            found.push((name, now.map(|(f, _)| f)));
        }
        Ok(FoundIndexes { found })
    }

    /// One transaction putting every index back as found, whatever exists
    /// now: each is dropped if present and, if it was there, created again
    /// from its definition and moved to its tablespace.
    pub fn restore_sql(&self) -> String {
        let all: Vec<&(QualName, Option<FoundIndex>)> = self.found.iter().collect();
        sql_for(&all)
    }

    /// Puts back the indexes that differ from what was found, in one
    /// transaction on `client`; returns their names.
    pub async fn restore(&self, client: &Client) -> Result<Vec<String>> {
        let names: Vec<String> = self
            .differences(client)
            .await?
            .into_iter()
            .map(|d| d.name)
            .collect();
        if !names.is_empty() {
            client
                .batch_execute(&self.restore_sql_for(&names))
                .await
                .context("putting the indexes back as found")?;
        }
        Ok(names)
    }

    /// The recorded index names (`schema.name` where the migration gives
    /// a schema), in the migration's order.
    pub fn names(&self) -> Vec<String> {
        self.found.iter().map(|(n, _)| n.to_string()).collect()
    }

    /// Reads the catalog back: each index whose definition (with its
    /// storage options), validity or tablespace is not as recorded, or
    /// that is present but was absent, or absent but was present.
    pub async fn differences(&self, client: &Client) -> Result<Vec<IndexDifference>> {
        let mut out = Vec::new();
        for (name, was) in &self.found {
            let now = read_one(client, name).await?;
            if let Some(how) = difference(was.as_ref(), now.as_ref()) {
                out.push(IndexDifference {
                    name: name.to_string(),
                    how,
                });
            }
        }
        Ok(out)
    }

    /// One transaction putting back the named indexes as found.
    pub fn restore_sql_for(&self, names: &[String]) -> String {
        let some: Vec<&(QualName, Option<FoundIndex>)> = self
            .found
            .iter()
            .filter(|(n, _)| names.contains(&n.to_string()))
            .collect();
        sql_for(&some)
    }
}

/// An index that is not as found, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDifference {
    pub name: String,
    /// e.g. `missing`, `invalid`, `definition now CREATE INDEX ...`.
    pub how: String,
}

/// How an index now differs from what was found, or `None` when it is the
/// same: same definition, valid, same tablespace, or absent both times.
fn difference(was: Option<&FoundIndex>, now: Option<&(FoundIndex, bool)>) -> Option<String> {
    match (was, now) {
        (None, None) => None,
        (Some(_), None) => Some("missing".into()),
        (None, Some(_)) => Some("present, but was absent".into()),
        (Some(_), Some((_, false))) => Some("invalid".into()),
        (Some(w), Some((n, true))) if w.def != n.def => {
            Some(format!("definition now {}, was {}", n.def, w.def))
        }
        (Some(w), Some((n, true))) if w.tablespace != n.tablespace => Some(format!(
            "tablespace now {}, was {}",
            n.tablespace.as_deref().unwrap_or("the default"),
            w.tablespace.as_deref().unwrap_or("the default")
        )),
        _ => None,
    }
}

/// `BEGIN; DROP INDEX IF EXISTS ...; CREATE INDEX ...; COMMIT` for these.
fn sql_for(indexes: &[&(QualName, Option<FoundIndex>)]) -> String {
    let mut sql = String::from("BEGIN;\n");
    for (name, _) in indexes {
        sql.push_str(&format!("DROP INDEX IF EXISTS {};\n", name.sql()));
    }
    for (name, found) in indexes {
        let Some(f) = found else { continue };
        sql.push_str(&f.def);
        sql.push_str(";\n");
        if let Some(ts) = &f.tablespace {
            sql.push_str(&format!(
                "ALTER INDEX {} SET TABLESPACE {};\n",
                name.sql(),
                quote_ident(ts)
            ));
        }
    }
    sql.push_str("COMMIT;\n");
    sql
}

/// An index's definition, tablespace and validity, or `None` when absent.
async fn read_one(client: &Client, name: &QualName) -> Result<Option<(FoundIndex, bool)>> {
    let row = client
        .query_opt(
            "SELECT pg_get_indexdef(i.indexrelid), t.spcname, i.indisvalid \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace \
             WHERE i.indexrelid = to_regclass($1)",
            &[&name.sql()],
        )
        .await
        .context(format!("reading index {name}"))?;
    Ok(row.map(|r| {
        (
            FoundIndex {
                def: r.get(0),
                tablespace: r.get(1),
            },
            r.get(2),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ix(def: &str, ts: Option<&str>) -> FoundIndex {
        FoundIndex {
            def: def.into(),
            tablespace: ts.map(str::to_string),
        }
    }

    #[test]
    fn an_index_differs_by_presence_validity_definition_or_tablespace() {
        let a = ix("CREATE INDEX a ON t (x) WITH (fillfactor='70')", None);
        assert_eq!(difference(None, None), None);
        assert_eq!(difference(Some(&a), Some(&(a.clone(), true))), None);
        assert_eq!(difference(Some(&a), None).as_deref(), Some("missing"));
        assert_eq!(
            difference(None, Some(&(a.clone(), true))).as_deref(),
            Some("present, but was absent")
        );
        assert_eq!(
            difference(Some(&a), Some(&(a.clone(), false))).as_deref(),
            Some("invalid")
        );
        let plain = ix("CREATE INDEX a ON t (x)", None);
        assert!(difference(Some(&a), Some(&(plain, true)))
            .unwrap()
            .starts_with("definition now CREATE INDEX a ON t (x), was"));
        let moved = ix(&a.def, Some("fast"));
        assert_eq!(
            difference(Some(&a), Some(&(moved, true))).as_deref(),
            Some("tablespace now fast, was the default")
        );
    }

    #[test]
    fn the_sql_for_some_indexes_drops_and_builds_only_those() {
        let found = FoundIndexes {
            found: vec![
                (
                    QualName::bare("a"),
                    Some(ix("CREATE INDEX a ON t (x)", Some("fast"))),
                ),
                (QualName::bare("b"), None),
                (
                    QualName::bare("c"),
                    Some(ix("CREATE INDEX c ON t (y)", None)),
                ),
            ],
        };
        let sql = found.restore_sql_for(&["a".into(), "b".into()]);
        assert_eq!(
            sql,
            "BEGIN;\nDROP INDEX IF EXISTS \"a\";\nDROP INDEX IF EXISTS \"b\";\n\
             CREATE INDEX a ON t (x);\nALTER INDEX \"a\" SET TABLESPACE \"fast\";\nCOMMIT;\n"
        );
        assert_eq!(found.names(), ["a", "b", "c"]);
    }
}
