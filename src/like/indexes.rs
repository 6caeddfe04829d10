//! Index sizes as in the source. A B-tree index that has lived through
//! inserts out of key order (page splits) and deletes holds fewer rows per page
//! than a fresh build, and the planner weighs an index by its pages: on a
//! source whose `(website_id, created_at)` index had grown to 1.4 times
//! the pages of a newer `(website_id, created_at, event_name)`, the source
//! scanned the newer one, a freshly built target the older. So after the
//! load, each target B-tree index with fewer pages per row than the
//! source's (by more than [`SLACK`]) is rebuilt with a lower `fillfactor`,
//! in proportion, to the source's pages per row, and the fillfactor put
//! back as the source has it (the schema stays the source's; only the
//! pages differ). Only `pg_class` is read
//! on the source (`relpages`, `reltuples`, kept by `VACUUM` and `ANALYZE`).

use tokio_postgres::Client;

use crate::error::{Context, Result};

/// Pages per row within this ratio of the source's are left as built.
pub const SLACK: f64 = 1.15;
/// Indexes of fewer source pages are left as built: too small to sway a plan.
const MIN_PAGES: f64 = 64.0;
/// B-tree's default and lowest fillfactor.
const DEFAULT_FILL: f64 = 90.0;
const LOWEST_FILL: f64 = 10.0;

/// One B-tree index's size, as `pg_class` has it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSize {
    /// Schema-qualified and quoted.
    pub name: String,
    pub pages: f64,
    pub rows: f64,
    /// Its `fillfactor` reloption, if set.
    pub fill: Option<f64>,
}

impl IndexSize {
    fn pages_per_row(&self) -> Option<f64> {
        (self.rows > 0.0 && self.pages > 0.0).then(|| self.pages / self.rows)
    }
}

/// One target index rebuilt: its pages per row before and after, and the
/// source's.
#[derive(Debug, Clone)]
pub struct Resized {
    pub name: String,
    pub fill: u32,
    pub source: f64,
    pub built: f64,
    pub rebuilt: f64,
}

/// The B-tree indexes on the tables `oids`, with their sizes.
pub async fn read(client: &Client, oids: &[u32]) -> Result<Vec<IndexSize>> {
    let rows = client
        .query(
            "SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),
                    c.relpages::float8, c.reltuples::float8,
                    (SELECT o.option_value::float8 FROM pg_catalog.pg_options_to_table(c.reloptions) o
                      WHERE o.option_name = 'fillfactor')
               FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_catalog.pg_am a ON a.oid = c.relam
              WHERE a.amname = 'btree' AND i.indrelid = ANY($1::oid[])
              ORDER BY 1",
            &[&oids],
        )
        .await
        .context("reading the indexes' sizes")?;
    Ok(rows
        .iter()
        .map(|r| IndexSize {
            name: r.get(0),
            pages: r.get(1),
            rows: r.get(2),
            fill: r.get(3),
        })
        .collect())
}

/// The fillfactor that takes an index built at `fill` from `built` pages
/// per row to `source`'s, or `None` when it is within [`SLACK`] already.
pub fn refill(fill: f64, built: f64, source: f64) -> Option<u32> {
    (source > built * SLACK)
        .then(|| (fill * built / source).clamp(LOWEST_FILL, 100.0).round() as u32)
}

/// Rebuilds each of `target`'s B-tree indexes on `oids` whose pages per
/// row fall short of its namesake's in `source`, each in a transaction
/// of its own (the new fillfactor and the rebuild together); returns what
/// was rebuilt. The target must have been analysed.
pub async fn match_sizes(
    target: &Client,
    oids: &[u32],
    source: &[IndexSize],
) -> Result<Vec<Resized>> {
    let mut out = Vec::new();
    for built in read(target, oids).await? {
        let Some(src) = source.iter().find(|s| s.name == built.name) else {
            continue;
        };
        let (Some(s), Some(b)) = (src.pages_per_row(), built.pages_per_row()) else {
            continue;
        };
        let fill = built.fill.unwrap_or(DEFAULT_FILL);
        let Some(new) = refill(fill, b, s).filter(|_| src.pages >= MIN_PAGES) else {
            continue;
        };
        // The fillfactor is put back once the index is built, so the
        // target's schema stays the source's: only the pages differ.
        let back = match built.fill {
            Some(f) => format!("SET (fillfactor = {f})"),
            None => "RESET (fillfactor)".to_string(),
        };
        let sql = format!(
            "BEGIN; ALTER INDEX {0} SET (fillfactor = {new}); REINDEX INDEX {0}; ALTER INDEX {0} {back}; COMMIT",
            built.name
        );
        target.batch_execute(&sql).await.context(format!(
            "rebuilding index {} at fillfactor {new}",
            built.name
        ))?;
        let rebuilt = target
            .query_one(
                "SELECT pg_catalog.pg_relation_size($1::text::regclass)::float8 / current_setting('block_size')::float8",
                &[&built.name],
            )
            .await
            .context("reading a rebuilt index's size")?
            .get::<_, f64>(0)
            / built.rows;
        out.push(Resized {
            name: built.name,
            fill: new,
            source: s,
            built: b,
            rebuilt,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_refilled_in_proportion_only_when_the_source_is_bigger_per_row() {
        assert_eq!(refill(90.0, 0.005, 0.009), Some(50));
        assert_eq!(refill(90.0, 0.005, 0.0055), None);
        assert_eq!(refill(90.0, 0.005, 0.004), None);
        assert_eq!(refill(90.0, 0.001, 0.1), Some(10));
    }
}
