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
use crate::results::{DeleteCost, ForeignKey};
use crate::schema::{IndexState, Migration};
use crate::sql::quote_ident;
use crate::stats::{median_interval, ratio_interval};

/// Deletes timed per state, each in a transaction that is rolled back.
const DELETES: usize = 15;

/// Every foreign key in `public`, with the indexes leading with its columns.
pub async fn foreign_keys(client: &Client) -> Result<Vec<ForeignKey>> {
    let rows = client
        .query(
            "SELECT c.conname::text, c.conrelid::regclass::text, c.confrelid::regclass::text, \
                    array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) \
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n \
                          ORDER BY k.o), \
                    c.confdeltype::text, c.confupdtype::text, \
                    array(SELECT i.indexrelid::regclass::text FROM pg_index i \
                          WHERE i.indrelid = c.conrelid \
                            AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey \
                          ORDER BY 1) \
             FROM pg_constraint c \
             WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace \
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
    let unquote = |s: String| s.trim_matches('"').to_string();
    Ok(rows
        .into_iter()
        .map(|r| ForeignKey {
            name: r.get(0),
            table: unquote(r.get(1)),
            references: unquote(r.get(2)),
            columns: r.get(3),
            on_delete: action(r.get(4)),
            on_update: action(r.get(5)),
            served_by: r
                .get::<_, Vec<String>>(6)
                .into_iter()
                .map(unquote)
                .collect(),
            delete: None,
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
        if m.index(only).is_none() || fk.columns.len() != 1 {
            continue;
        }
        let parents = parents_with_children(client, fk).await?;
        if parents.is_empty() {
            continue;
        }
        let with = time_deletes(client, fk, &parents, None).await?;
        let without = time_deletes(client, fk, &parents, Some(only)).await?;
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

/// Referenced rows that have referencing rows, the least referenced first:
/// a typical delete, where finding the referencing rows is the work (a
/// parent with thousands of children measures the cascade, not the lookup).
async fn parents_with_children(client: &Client, fk: &ForeignKey) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT {col}::text FROM {table} WHERE {col} IS NOT NULL \
         GROUP BY 1 ORDER BY count(*), 1 LIMIT {DELETES}",
        col = quote_ident(&fk.columns[0]),
        table = quote_ident(&fk.table)
    );
    let rows = client
        .query(&sql, &[])
        .await
        .context(format!("sampling rows referenced by {}", fk.name))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Times deleting each parent, each in its own rolled-back transaction,
/// with `drop` dropped inside it first when given.
async fn time_deletes(
    client: &Client,
    fk: &ForeignKey,
    parents: &[String],
    drop: Option<&String>,
) -> Result<Vec<f64>> {
    let delete = format!("DELETE FROM {} WHERE id = $1", quote_ident(&fk.references));
    let doing = || format!("timing deletes through {}", fk.name);
    let mut out = Vec::new();
    for id in parents {
        let took = transaction(
            client,
            Begin::Plain,
            End::RollBack,
            &doing(),
            async |client| {
                if let Some(ix) = drop {
                    client
                        .batch_execute(&format!("DROP INDEX {}", quote_ident(ix)))
                        .await
                        .context(doing())?;
                }
                let t = Instant::now();
                client.execute(&delete, &[id]).await.context(doing())?;
                Ok(t.elapsed().as_secs_f64() * 1e3)
            },
        )
        .await?;
        out.push(took);
    }
    Ok(out)
}
