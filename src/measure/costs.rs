//! What each index costs: its size, how long it takes to build (plain and
//! `CONCURRENTLY`), how much it slows the insert workload and how much WAL
//! each insert writes with and without it, and what it does to the share of
//! HOT updates in the status/assignment workload.
//!
//! These measurements write: run them only on a database the tool owns.

use std::time::Instant;

use tokio_postgres::Client;

use super::timing::Samples;
use crate::error::{Context, Result};
use crate::queries::{Catalogue, ParamPool, Prepared};
use crate::report::{HotUpdates, IndexCost};
use crate::schema::{set_state, IndexDef, IndexState, Migration};
use crate::sql::quote_ident;

/// The catalogue's insert workload.
pub const INSERT_WORKLOAD: &str = "new_conversation";
/// The catalogue's status/assignment update workload.
pub const UPDATE_WORKLOAD: &str = "handover_assign_resolve";

/// How many transactions each write measurement runs.
#[derive(Debug, Clone, Copy)]
pub struct CostOptions {
    pub inserts: usize,
    pub updates: usize,
}

impl Default for CostOptions {
    fn default() -> Self {
        CostOptions {
            inserts: 800,
            updates: 150,
        }
    }
}

/// Measures every index of the migration, and the HOT share of updates with
/// every index against none. Leaves all of them in place.
pub async fn index_costs(
    client: &Client,
    m: &Migration,
    catalogue: &Catalogue,
    o: CostOptions,
) -> Result<(Vec<IndexCost>, HotUpdates)> {
    set_state(client, m, &IndexState::With).await?;
    let insert_q = catalogue.get(INSERT_WORKLOAD)?;
    let update_q = catalogue.get(UPDATE_WORKLOAD)?;
    let inserts =
        Prepared::new(client, insert_q, ParamPool::sample(client, insert_q).await?).await?;
    let update_pool = ParamPool::sample(client, update_q).await?;
    // Each HOT measurement needs conversations nobody updated yet: two per
    // index on the updated table, plus every-index and no-index. Small data
    // sets get an even share of what there is.
    let measurements = 2 * m
        .indexes()
        .iter()
        .filter(|i| i.table == UPDATED_TABLE)
        .count()
        + 2;
    let per = o.updates.min(update_pool.rows.len() / measurements).max(1);
    let mut update_rows = update_pool.rows.into_iter();

    let mut out = Vec::new();
    for ix in m.indexes() {
        let mut cost = IndexCost {
            name: ix.name.clone(),
            table: ix.table.clone(),
            ..Default::default()
        };
        cost.size_bytes = relation_size(client, &ix.name).await?;
        // With and without, back to back, so drift on a noisy machine hits both.
        (cost.inserts_per_s_with, cost.wal_bytes_per_insert_with) =
            insert_rate(client, &inserts, o.inserts).await?;
        if ix.table == UPDATED_TABLE {
            let rows: Vec<_> = update_rows.by_ref().take(per).collect();
            cost.hot_ratio_with = Some(hot_ratio(client, update_q, rows).await?);
        }
        drop_index(client, ix).await?;
        (
            cost.inserts_per_s_without,
            cost.wal_bytes_per_insert_without,
        ) = insert_rate(client, &inserts, o.inserts).await?;
        if ix.table == UPDATED_TABLE {
            let rows: Vec<_> = update_rows.by_ref().take(per).collect();
            cost.hot_ratio_without = Some(hot_ratio(client, update_q, rows).await?);
        }
        cost.build_ms = timed(client, &ix.create_sql(false)).await?;
        drop_index(client, ix).await?;
        cost.build_concurrently_ms = timed(client, &ix.create_sql(true)).await?;
        out.push(cost);
    }
    // Leave-one-out keeps `status` covered by another index, so also compare
    // every index against none.
    let rows: Vec<_> = update_rows.by_ref().take(per).collect();
    let with_all = hot_ratio(client, update_q, rows).await?;
    set_state(client, m, &IndexState::Without).await?;
    let rows: Vec<_> = update_rows.by_ref().take(per).collect();
    let without_all = hot_ratio(client, update_q, rows).await?;
    set_state(client, m, &IndexState::With).await?;
    Ok((
        out,
        HotUpdates {
            with_all,
            without_all,
            updates: per as u64 * 3,
            ..Default::default()
        },
    ))
}

/// The table the update workload changes.
const UPDATED_TABLE: &str = "Conversation";

async fn drop_index(client: &Client, ix: &IndexDef) -> Result<()> {
    client
        .batch_execute(&ix.drop_sql())
        .await
        .context(format!("dropping {}", ix.name))
}

async fn timed(client: &Client, sql: &str) -> Result<f64> {
    let t = Instant::now();
    client
        .batch_execute(sql)
        .await
        .context("building an index")?;
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// Size of a relation in bytes.
pub async fn relation_size(client: &Client, name: &str) -> Result<u64> {
    let row = client
        .query_one(
            "SELECT pg_relation_size(to_regclass($1))",
            &[&quote_ident(name)],
        )
        .await
        .context(format!("sizing {name}"))?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Insert transactions per second (from the median latency) and WAL bytes
/// per transaction.
async fn insert_rate(client: &Client, q: &Prepared, n: usize) -> Result<(f64, f64)> {
    let before = wal_lsn(client).await?;
    let s = Samples::take(client, q, 0, n).await?;
    let after = wal_lsn(client).await?;
    let wal = client
        .query_one(
            "SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn)::float8",
            &[&after, &before],
        )
        .await
        .context("measuring WAL")?
        .get::<_, f64>(0);
    Ok((1e3 / s.median().max(1e-9), wal / n as f64))
}

async fn wal_lsn(client: &Client) -> Result<String> {
    Ok(client
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await
        .context("reading the WAL position")?
        .get(0))
}

/// Runs the update workload over `rows` and returns HOT updates / updates.
async fn hot_ratio(
    client: &Client,
    q: &crate::queries::Query,
    rows: Vec<Vec<Option<String>>>,
) -> Result<f64> {
    let table = UPDATED_TABLE;
    let n = rows.len();
    if n == 0 {
        return Err(crate::error::Error::BadInput(format!(
            "the {} sample ran out of conversations to update; seed a larger scale",
            q.name
        )));
    }
    let pool = ParamPool::from_rows(rows);
    let p = Prepared::new(client, q, pool).await?;
    let (upd0, hot0) = update_counts(client, table).await?;
    for _ in 0..n {
        p.run_next(client).await?;
    }
    let (upd1, hot1) = update_counts(client, table).await?;
    let upd = (upd1 - upd0).max(0) as f64;
    Ok(if upd > 0.0 {
        (hot1 - hot0) as f64 / upd
    } else {
        0.0
    })
}

/// `n_tup_upd` and `n_tup_hot_upd` of a table, flushed first.
async fn update_counts(client: &Client, table: &str) -> Result<(i64, i64)> {
    client
        .batch_execute("SELECT pg_stat_force_next_flush()")
        .await
        .context("flushing statistics")?;
    client
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .context("flushing statistics")?;
    let row = client
        .query_one(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = to_regclass($1)",
            &[&quote_ident(table)],
        )
        .await
        .context("reading update statistics")?;
    Ok((row.get(0), row.get(1)))
}
