//! The migration's indexes exactly as found on a user's database, so that a
//! committed switch of index states (`load --allow-index-changes`, whose
//! clients on their own connections must all see the state) can be put
//! back: each index's full definition as the server prints it
//! (`pg_get_indexdef`, with its storage options), its tablespace, and
//! which of them were absent. [`FoundIndexes::restore_sql`] is one
//! transaction that puts every one back whatever happened in between (for
//! a [`crate::cluster::SqlGuard`] to run should the tool die);
//! [`FoundIndexes::restore`] rebuilds only those that differ now.

use tokio_postgres::Client;

use super::migration::Migration;
use crate::error::{Context, Error, Result};
use crate::sql::quote_ident;

/// One index as found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FoundIndex {
    /// `CREATE INDEX ... WITH (...)` as `pg_get_indexdef` prints it.
    def: String,
    /// `None` for the database's default tablespace.
    tablespace: Option<String>,
}

/// The migration's indexes (those it creates or drops) as found.
#[derive(Debug, Clone)]
pub struct FoundIndexes {
    /// Each index name with what was there, `None` when it was absent.
    found: Vec<(String, Option<FoundIndex>)>,
}

impl FoundIndexes {
    /// Reads the indexes now. Refuses an invalid index (a failed
    /// `CREATE INDEX CONCURRENTLY`): it could not be put back as it is.
    pub async fn read(client: &Client, m: &Migration) -> Result<FoundIndexes> {
        let mut found = Vec::new();
        for ix in m.index_changes() {
            let now = read_one(client, &ix.name).await?;
            if let Some((_, false)) = &now {
                return Err(Error::BadInput(format!(
                    "index {} is invalid (a failed CREATE INDEX CONCURRENTLY?); rebuild or drop it (REINDEX INDEX \"{}\") before letting load switch index states",
                    ix.name, ix.name
                )));
            }
            found.push((ix.name.clone(), now.map(|(f, _)| f)));
        }
        Ok(FoundIndexes { found })
    }

    /// One transaction putting every index back as found, whatever exists
    /// now: each is dropped if present and, if it was there, created again
    /// from its definition and moved to its tablespace.
    pub fn restore_sql(&self) -> String {
        let all: Vec<&(String, Option<FoundIndex>)> = self.found.iter().collect();
        sql_for(&all)
    }

    /// Puts back the indexes that differ from what was found, in one
    /// transaction on `client`; returns their names.
    pub async fn restore(&self, client: &Client) -> Result<Vec<String>> {
        let mut differ = Vec::new();
        for entry in &self.found {
            let now = read_one(client, &entry.0).await?.map(|(f, _)| f);
            if now != entry.1 {
                differ.push(entry);
            }
        }
        if !differ.is_empty() {
            client
                .batch_execute(&sql_for(&differ))
                .await
                .context("putting the indexes back as found")?;
        }
        Ok(differ.into_iter().map(|(n, _)| n.clone()).collect())
    }
}

/// `BEGIN; DROP INDEX IF EXISTS ...; CREATE INDEX ...; COMMIT` for these.
fn sql_for(indexes: &[&(String, Option<FoundIndex>)]) -> String {
    let mut sql = String::from("BEGIN;\n");
    for (name, _) in indexes {
        sql.push_str(&format!("DROP INDEX IF EXISTS {};\n", quote_ident(name)));
    }
    for (name, found) in indexes {
        let Some(f) = found else { continue };
        sql.push_str(&f.def);
        sql.push_str(";\n");
        if let Some(ts) = &f.tablespace {
            sql.push_str(&format!(
                "ALTER INDEX {} SET TABLESPACE {};\n",
                quote_ident(name),
                quote_ident(ts)
            ));
        }
    }
    sql.push_str("COMMIT;\n");
    sql
}

/// An index's definition, tablespace and validity, or `None` when absent.
async fn read_one(client: &Client, name: &str) -> Result<Option<(FoundIndex, bool)>> {
    let row = client
        .query_opt(
            "SELECT pg_get_indexdef(i.indexrelid), t.spcname, i.indisvalid \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace \
             WHERE i.indexrelid = to_regclass($1)",
            &[&quote_ident(name)],
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
