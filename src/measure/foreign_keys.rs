//! Foreign keys and the indexes that serve them. Deleting (or re-keying) a
//! referenced row makes PostgreSQL look up the referencing rows by the key
//! columns; without an index that leads with them, every such delete scans
//! the referencing table. This reads the keys from `pg_constraint` (the base
//! schema's and the migration's alike), lists the indexes leading with
//! their columns, and measures what deleting a referenced row costs with
//! and without the migration's index when it is the only one.

use std::time::Instant;

use tokio_postgres::Client;

use crate::cluster::{transaction, Begin, End};
use crate::error::{Context, Result};
use crate::results::{DeleteCost, ForeignKey, KeySql};
use crate::schema::{IndexState, Migration};
use crate::sql::quote_ident;
use crate::stats::{median_interval, ratio_interval};

/// Deletes timed per state, each in a transaction that is rolled back.
const DELETES: usize = 15;

/// Every foreign key in the user's schemas, with the indexes leading with
/// its columns. Names outside `public` carry their schema.
pub async fn foreign_keys(client: &Client) -> Result<Vec<ForeignKey>> {
    let rows = client
        .query(
            "SELECT c.conname::text, \
                    CASE WHEN cn.nspname = 'public' THEN ct.relname::text \
                         ELSE cn.nspname || '.' || ct.relname END, \
                    CASE WHEN rn.nspname = 'public' THEN rt.relname::text \
                         ELSE rn.nspname || '.' || rt.relname END, \
                    array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) \
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n \
                          ORDER BY k.o), \
                    c.confdeltype::text, c.confupdtype::text, \
                    array(SELECT ic.relname::text FROM pg_index i \
                          JOIN pg_class ic ON ic.oid = i.indexrelid \
                          WHERE i.indrelid = c.conrelid \
                            AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey \
                          ORDER BY 1), \
                    format('%I.%I', cn.nspname, ct.relname), \
                    format('%I.%I', rn.nspname, rt.relname), \
                    array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o) \
                          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n \
                          ORDER BY k.o), \
                    array(SELECT format_type(a.atttypid, a.atttypmod) \
                          FROM unnest(c.confkey) WITH ORDINALITY k(n, o) \
                          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n \
                          ORDER BY k.o) \
             FROM pg_constraint c \
             JOIN pg_class ct ON ct.oid = c.conrelid JOIN pg_namespace cn ON cn.oid = ct.relnamespace \
             JOIN pg_class rt ON rt.oid = c.confrelid JOIN pg_namespace rn ON rn.oid = rt.relnamespace \
             WHERE c.contype = 'f' \
               AND cn.nspname NOT IN ('pg_catalog', 'information_schema') \
             ORDER BY 1",
            &[],
        )
        .await
        .context("reading the foreign keys")?;
    let action = |c: String| {
        match c.as_str() {
            "c" => "CASCADE",
            "n" => "SET NULL",
            "d" => "SET DEFAULT",
            "r" => "RESTRICT",
            _ => "NO ACTION",
        }
        .to_string()
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let columns: Vec<String> = r.get(3);
            ForeignKey {
                name: r.get(0),
                table: r.get(1),
                references: r.get(2),
                on_delete: action(r.get(4)),
                on_update: action(r.get(5)),
                served_by: r.get(6),
                delete: None,
                sql: Some(KeySql {
                    table: r.get(7),
                    columns: columns.iter().map(|c| quote_ident(c)).collect(),
                    references: r.get(8),
                    referenced: r
                        .get::<_, Vec<String>>(9)
                        .iter()
                        .map(|c| quote_ident(c))
                        .collect(),
                    types: r.get(10),
                }),
                columns,
            }
        })
        .collect())
}

/// For each key served by exactly one index, that index one of `m`'s:
/// deleting a referenced row that has referencing rows, with the index and
/// without it. Runs on a scratch database, every delete rolled back.
pub async fn measure_deletes(client: &Client, m: &Migration, fks: &mut [ForeignKey]) -> Result<()> {
    crate::schema::set_state(client, m, &IndexState::With).await?;
    for fk in fks.iter_mut() {
        let [only] = &fk.served_by[..] else { continue };
        let (Some(ix), Some(key)) = (m.index(only), fk.sql.clone()) else {
            continue;
        };
        let parents = parents_with_children(client, &fk.name, &key).await?;
        if parents.is_empty() {
            continue;
        }
        let with = time_deletes(client, &fk.name, &key, &parents, None).await?;
        let drop = ix.name_sql();
        let without = time_deletes(client, &fk.name, &key, &parents, Some(&drop)).await?;
        fk.delete = Some(DeleteCost {
            index: only.clone(),
            with_ms: median_interval(&with),
            without_ms: median_interval(&without),
            slowdown: ratio_interval(&without, &with),
            deletes: with.len(),
        });
    }
    Ok(())
}

/// Referenced rows that have referencing rows, the least referenced first
/// (each as its key's values in text): a typical delete, where finding the
/// referencing rows is the work (a parent with thousands of children
/// measures the cascade, not the lookup).
async fn parents_with_children(
    client: &Client,
    name: &str,
    key: &KeySql,
) -> Result<Vec<Vec<String>>> {
    let texts: Vec<String> = key.columns.iter().map(|c| format!("{c}::text")).collect();
    let not_null: Vec<String> = key
        .columns
        .iter()
        .map(|c| format!("{c} IS NOT NULL"))
        .collect();
    let sql = format!(
        "SELECT {texts} FROM {table} WHERE {not_null} \
         GROUP BY {cols} ORDER BY count(*), {cols} LIMIT {DELETES}",
        texts = texts.join(", "),
        table = key.table,
        not_null = not_null.join(" AND "),
        cols = key.columns.join(", "),
    );
    let rows = client
        .query(&sql, &[])
        .await
        .context(format!("sampling rows referenced by {name}"))?;
    Ok(rows
        .iter()
        .map(|r| (0..key.columns.len()).map(|i| r.get(i)).collect())
        .collect())
}

/// The delete of one referenced row by its key, whatever the key's types
/// and names: each value is passed as text and cast to its column's type.
fn delete_sql(key: &KeySql) -> String {
    let conditions: Vec<String> = (key.referenced.iter().zip(&key.types))
        .enumerate()
        .map(|(i, (col, ty))| format!("{col} = CAST(${}::text AS {ty})", i + 1))
        .collect();
    format!(
        "DELETE FROM {} WHERE {}",
        key.references,
        conditions.join(" AND ")
    )
}

/// Times deleting each parent, each in its own rolled-back transaction,
/// with the index `drop` (as SQL) dropped inside it first when given.
async fn time_deletes(
    client: &Client,
    name: &str,
    key: &KeySql,
    parents: &[Vec<String>],
    drop: Option<&String>,
) -> Result<Vec<f64>> {
    let delete = delete_sql(key);
    let doing = || format!("timing deletes through {name}");
    let mut out = Vec::new();
    for values in parents {
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let took = transaction(
            client,
            Begin::Plain,
            End::RollBack,
            &doing(),
            async |client| {
                if let Some(ix) = drop {
                    client
                        .batch_execute(&format!("DROP INDEX {ix}"))
                        .await
                        .context(doing())?;
                }
                let t = Instant::now();
                client.execute(&delete, &params).await.context(doing())?;
                Ok(t.elapsed().as_secs_f64() * 1e3)
            },
        )
        .await?;
        out.push(took);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delete_casts_each_key_value_to_its_column_type() {
        let key = KeySql {
            table: "shop.order_items".into(),
            columns: vec!["order_id".into(), "\"Region\"".into()],
            references: "shop.orders".into(),
            referenced: vec!["id".into(), "\"Region\"".into()],
            types: vec!["uuid".into(), "character varying(8)".into()],
        };
        assert_eq!(
            delete_sql(&key),
            "DELETE FROM shop.orders WHERE id = CAST($1::text AS uuid) \
             AND \"Region\" = CAST($2::text AS character varying(8))"
        );
    }
}
