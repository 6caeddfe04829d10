//! The write workloads `advise` weighs candidates with, from the catalogue
//! ([`Catalogue::workload_for`]): the first write inserting into a table
//! the migration indexes (required: without it no index's insert cost can
//! be measured, and the command refuses before any work), and the first
//! write updating one (optional: without it no HOT figures are measured,
//! as on an insert-only table).

use crate::error::{Error, Result};
use crate::queries::{Catalogue, Query, Writes};
use crate::schema::Migration;
use crate::sql::QualName;

/// The workloads of one advice.
pub struct Workloads<'a> {
    pub insert: &'a Query,
    /// The update workload, with its table as SQL and as candidates name it.
    pub update: Option<Updated<'a>>,
}

/// An update workload and the table it updates.
pub struct Updated<'a> {
    pub query: &'a Query,
    /// The table as SQL (quoted, maybe qualified).
    pub table_sql: String,
    /// The table's bare name, as candidates' definitions name it.
    pub table: String,
}

/// Finds the workloads, or refuses in one line naming what to add.
pub fn workloads<'a>(catalogue: &'a Catalogue, m: &Migration) -> Result<Workloads<'a>> {
    let tables: Vec<(QualName, String)> = m
        .indexes()
        .iter()
        .map(|ix| {
            let t = QualName {
                schema: ix.schema.clone(),
                name: ix.table.clone(),
            };
            (t, ix.table_sql())
        })
        .collect();
    let insert = tables
        .iter()
        .find_map(|(t, _)| catalogue.workload_for(t, Writes::Inserts))
        .ok_or_else(|| {
            let names: Vec<String> = tables.iter().map(|(t, _)| t.to_string()).collect();
            Error::BadInput(format!(
                "advise weighs each index's insert cost with a catalogue write inserting into a table the migration indexes ({}), and {} has none; add one with kind = \"write\"",
                names.join(", "),
                catalogue.source
            ))
        })?;
    let update = tables.iter().find_map(|(t, sql)| {
        Some(Updated {
            query: catalogue.workload_for(t, Writes::Updates)?,
            table_sql: sql.clone(),
            table: t.name.clone(),
        })
    });
    Ok(Workloads { insert, update })
}
