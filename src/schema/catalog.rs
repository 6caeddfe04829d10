//! Reading the catalog: a sorted, diffable snapshot of everything in the
//! user's schemas (tables, columns, defaults, constraints, indexes, enums,
//! comments, functions, triggers; names outside `public` carry their
//! schema), and content checksums of table rows.

use std::collections::BTreeSet;

use tokio_postgres::GenericClient;

use crate::error::{Context, Result};
use crate::sql::quote_ident;

/// One line per catalog object, so two snapshots can be compared and their
/// differences printed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    pub lines: BTreeSet<String>,
}

/// The schemas a snapshot reads, for `n` a `pg_namespace` row: all but the
/// system's (extensions' objects in them are read too, as they can change).
const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// An object's schema as its line names it: nothing for `public`.
const SCHEMA_PREFIX: &str =
    "CASE WHEN n.nspname = 'public' THEN '' ELSE quote_ident(n.nspname) || '.' END";

/// Each query returns one text column describing one object per row.
const QUERIES: &[&str] = &[
    // Relations, with kind.
    "SELECT format('relation %s %s%I', c.relkind, {Q}, c.relname)
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE {USER}",
    // Columns in order, with type, nullability, default and comment.
    "SELECT format('column %s%I.%I #%s %s%s%s%s', {Q}, c.relname, a.attname,
                   row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
                   format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                   coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''),
                   coalesce(' COMMENT ' || quote_literal(col_description(c.oid, a.attnum)), ''))
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE {USER} AND c.relkind IN ('r', 'p', 'v', 'm')
        AND a.attnum > 0 AND NOT a.attisdropped",
    // Constraints.
    "SELECT format('constraint %s%I.%I %s', {Q}, c.relname, k.conname, pg_get_constraintdef(k.oid))
       FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE {USER}",
    // Indexes.
    "SELECT format('index %s', pg_get_indexdef(i.indexrelid))
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE {USER}",
    // Types other than the row types of relations, with enum labels in order.
    "SELECT format('type %s%I %s %s', {Q}, t.typname, t.typtype,
                   coalesce((SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder)
                               FROM pg_enum e WHERE e.enumtypid = t.oid), ''))
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE {USER} AND t.typtype IN ('e', 'd', 'c', 'r')
        AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')",
    // Table comments.
    "SELECT format('comment %s%I %s', {Q}, c.relname, quote_literal(d.description))
       FROM pg_description d
       JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE {USER}",
    // Functions and triggers.
    "SELECT format('function %s', p.oid::regprocedure)
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE {USER}",
    "SELECT format('trigger %s', pg_get_triggerdef(t.oid))
       FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE {USER} AND NOT t.tgisinternal",
];

impl Catalog {
    /// Reads the current catalog of the user's schemas.
    pub async fn snapshot(client: &impl GenericClient) -> Result<Catalog> {
        let mut lines = BTreeSet::new();
        for q in QUERIES {
            let q = q
                .replace("{USER}", USER_SCHEMAS)
                .replace("{Q}", SCHEMA_PREFIX);
            let rows = client.query(&q, &[]).await.context("reading the catalog")?;
            lines.extend(rows.iter().map(|r| r.get::<_, String>(0)));
        }
        Ok(Catalog { lines })
    }

    /// Lines only in `self` (prefixed `-`) and only in `other` (prefixed `+`).
    pub fn diff(&self, other: &Catalog) -> Vec<String> {
        let gone = self
            .lines
            .difference(&other.lines)
            .map(|l| format!("- {l}"));
        let new = other
            .lines
            .difference(&self.lines)
            .map(|l| format!("+ {l}"));
        gone.chain(new).collect()
    }
}

/// The row count and an order-independent content checksum of the given
/// columns of a table (rows ordered by `key`).
pub async fn table_checksum(
    client: &impl GenericClient,
    table: &str,
    columns: &[String],
    key: &str,
) -> Result<(i64, String)> {
    relation_checksum(client, &quote_ident(table), columns, Some(key)).await
}

/// The row count and content checksum of the given columns of relation
/// `rel` (an SQL name, schema-qualified where needed), rows ordered by
/// `key`, or for a table with no known key by their own digest, so the
/// checksum is of the rows as a multiset.
pub async fn relation_checksum(
    client: &impl GenericClient,
    rel: &str,
    columns: &[String],
    key: Option<&str>,
) -> Result<(i64, String)> {
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let row = format!("md5(ROW({})::text)", cols.join(", "));
    let order = key.map_or_else(|| row.clone(), quote_ident);
    let sql = format!(
        "SELECT count(*), coalesce(md5(string_agg({row}, '' ORDER BY {order})), '') FROM {rel}"
    );
    let row = client
        .query_one(&sql, &[])
        .await
        .context(format!("checksumming table {rel}"))?;
    Ok((row.get(0), row.get(1)))
}

/// The columns of a table in order, as the catalog has them now.
pub async fn table_columns(client: &impl GenericClient, table: &str) -> Result<Vec<String>> {
    relation_columns(client, &quote_ident(table)).await
}

/// The columns of relation `rel` (an SQL name) in order.
pub async fn relation_columns(client: &impl GenericClient, rel: &str) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT a.attname::text FROM pg_attribute a
              WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum",
            &[&rel],
        )
        .await
        .context(format!("listing the columns of {rel}"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The user's ordinary tables (partitions included, partitioned parents
/// not, so no row counts twice), as SQL names qualified where not in
/// `public`, in name order.
pub async fn user_tables(client: &impl GenericClient) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT {SCHEMA_PREFIX} || quote_ident(c.relname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE {USER_SCHEMAS} AND c.relkind = 'r'
            AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass
                               AND d.deptype = 'e')
          ORDER BY 1"
    );
    let rows = client
        .query(&sql, &[])
        .await
        .context("listing the tables")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The user's own relations and types in any schema (not the system's,
/// nor those an extension owns), as `schema.name`, at most `limit` of them,
/// and how many there are in all: what makes a database not empty.
pub async fn user_objects(
    client: &impl GenericClient,
    limit: usize,
) -> Result<(Vec<String>, usize)> {
    let rows = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
                AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                AND d.objid = c.oid AND d.deptype = 'e')
             UNION ALL
             SELECT format('%I.%I', n.nspname, t.typname)
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
              WHERE t.typtype IN ('e', 'd', 'c') AND (t.typtype <> 'c' OR EXISTS (
                      SELECT FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                                AND d.objid = t.oid AND d.deptype = 'e')
             ORDER BY 1",
            &[],
        )
        .await
        .context("listing the database's own tables and types")?;
    let total = rows.len();
    Ok((rows.iter().take(limit).map(|r| r.get(0)).collect(), total))
}
