//! What each index costs, with the uncertainty of every figure: its size;
//! its build time, plain and `CONCURRENTLY`, over repeated builds; how much
//! longer each insert of the insert workload takes with it, and how much WAL
//! it writes, over rounds in alternating order; and which indexes cost HOT
//! updates, the catalogue's update workload run with each index alone
//! against none.
//!
//! HOT needs room on the page. The seeder's COPY FREEZE fills every page,
//! so the first update of a row could never be HOT whatever the indexes.
//! The HOT rounds therefore run after `fillfactor = 90` and `VACUUM FULL`,
//! the free space a table with some churn has, and the report says so.
//!
//! These measurements write: run them only on a scratch database.

use std::time::Instant;

use tokio_postgres::Client;

use super::counters::update_counts;
use crate::cluster::{transaction, Begin, End};
use crate::error::{Context, Result};
use crate::queries::{Catalogue, ParamPool, Prepared, Query, Writes};
use crate::results::{HotUpdates, IndexCost};
use crate::schema::{set_state, IndexDef, IndexState, Migration};
use crate::sql::{quote_ident, QualName};
use crate::stats::{median, median_interval, ratio_interval};

/// How the HOT rounds give `table`'s (as SQL) pages room.
pub(crate) fn hot_pages(table: &str) -> String {
    format!("fillfactor 90 and VACUUM FULL on {table} (10% free space per page, as a table with some churn has)")
}

/// How much each write measurement runs.
#[derive(Debug, Clone, Copy)]
pub struct CostOptions {
    /// Insert transactions per round and state.
    pub inserts: usize,
    /// Update transactions per round and state (each a fresh row).
    pub updates: usize,
    /// Rounds per state, in alternating order.
    pub rounds: usize,
    /// Builds per index and method.
    pub builds: usize,
}

impl Default for CostOptions {
    fn default() -> Self {
        CostOptions {
            inserts: 200,
            updates: 50,
            rounds: 5,
            builds: 3,
        }
    }
}

/// Measures every index the migration creates, and the HOT share of
/// updates per index. Leaves them all in place. The workloads are the
/// catalogue's writes ([`Catalogue::workload_for`]): each index's insert
/// overhead is timed with the first write inserting into its table, and the
/// HOT share with the first write updating a table whose indexes change.
/// An index whose table no write inserts into gets no insert figures, and
/// no update workload means no HOT figures; the page says which.
pub async fn index_costs(
    client: &Client,
    m: &Migration,
    catalogue: &Catalogue,
    o: CostOptions,
) -> Result<(Vec<IndexCost>, Option<HotUpdates>)> {
    set_state(client, m, &IndexState::With).await?;
    let mut prepared: Vec<(String, Prepared)> = Vec::new();
    let mut out = Vec::new();
    for ix in m.indexes() {
        let table = QualName {
            schema: ix.schema.clone(),
            name: ix.table.clone(),
        };
        let mut cost = IndexCost {
            name: ix.name.clone(),
            table: table.to_string(),
            size_bytes: relation_size_of(client, &ix.name_sql()).await?,
            table_rows: table_rows_of(client, &ix.table_sql()).await?,
            ..Default::default()
        };
        if let Some(q) = catalogue.workload_for(&table, Writes::Inserts) {
            if !prepared.iter().any(|(n, _)| n == &q.name) {
                let pool = ParamPool::sample(client, q).await?;
                let p = Prepared::new(client, q, pool).await?.nested(true);
                prepared.push((q.name.clone(), p));
            }
            let (_, inserts) = prepared
                .iter()
                .find(|(n, _)| n == &q.name)
                .expect("prepared above");
            insert_rounds(client, inserts, &[ix], o, &mut cost).await?;
            cost.insert_workload = Some(q.name.clone());
        }
        build_rounds(client, ix, o.builds, &mut cost).await?;
        out.push(cost);
    }
    let updated = m.indexes().iter().find_map(|ix| {
        let table = QualName {
            schema: ix.schema.clone(),
            name: ix.table.clone(),
        };
        let q = catalogue.workload_for(&table, Writes::Updates)?;
        Some((ix.table_sql(), q))
    });
    let hot = match updated {
        Some((sql, q)) => Some(hot_rounds(client, m, q, &sql, o, &mut out).await?),
        None => None,
    };
    set_state(client, m, &IndexState::With).await?;
    Ok((out, hot))
}

/// Insert timings and WAL with and without the indexes of `set`, each
/// round in a transaction that is rolled back (the drops too, so nothing is
/// rebuilt), alternating which state goes first. `advise` passes a whole
/// index set.
pub(crate) async fn insert_rounds(
    client: &Client,
    q: &Prepared,
    set: &[&IndexDef],
    o: CostOptions,
    cost: &mut IndexCost,
) -> Result<()> {
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let (mut wal_with, mut wal_without) = (Vec::new(), Vec::new());
    for round in 0..o.rounds {
        for drop in [round % 2 == 1, round % 2 == 0] {
            let dropped = if drop { set } else { &[] };
            let (times, wal) = insert_round(client, q, dropped, o.inserts).await?;
            if drop {
                without.extend(times);
                wal_without.push(wal);
            } else {
                with.extend(times);
                wal_with.push(wal);
            }
        }
    }
    cost.inserts_per_s_with = 1e3 / median(&with).max(1e-9);
    cost.inserts_per_s_without = 1e3 / median(&without).max(1e-9);
    cost.insert_time_ratio = Some(ratio_interval(&with, &without));
    cost.wal_bytes_per_insert_with = median(&wal_with);
    cost.wal_bytes_per_insert_without = median(&wal_without);
    cost.wal_with = Some(median_interval(&wal_with));
    cost.wal_without = Some(median_interval(&wal_without));
    Ok(())
}

/// One round: `n` insert transactions (as savepoints) with `drop` dropped
/// first, all rolled back. Returns each insert's time (ms) and the WAL
/// bytes per insert.
async fn insert_round(
    client: &Client,
    q: &Prepared,
    drop: &[&IndexDef],
    n: usize,
) -> Result<(Vec<f64>, f64)> {
    rolled_back_without(client, drop, "insert round", async |client| {
        let before = wal_lsn(client).await?;
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            q.run_next(client).await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let wal = wal_since(client, &before).await? / n.max(1) as f64;
        Ok((times, wal))
    })
    .await
}

/// Runs `work` in a transaction with the indexes of `drop` dropped first,
/// and rolls it all back, the drops too, so nothing is rebuilt and the
/// table's statistics stay as they were. Both sides of a comparison run
/// through here (one with nothing dropped), so they differ only by the
/// drop. The drop locks the table until the rollback: scratch databases
/// only.
pub(crate) async fn rolled_back_without<T>(
    client: &Client,
    drop: &[&IndexDef],
    doing: &str,
    work: impl AsyncFnOnce(&Client) -> Result<T>,
) -> Result<T> {
    transaction(client, Begin::Plain, End::RollBack, doing, async |client| {
        for ix in drop {
            client
                .batch_execute(&ix.drop_sql())
                .await
                .context(format!("dropping {}", ix.name))?;
        }
        work(client).await
    })
    .await
}

/// Plain and concurrent builds, `n` of each; the index is left built.
pub(crate) async fn build_rounds(
    client: &Client,
    ix: &IndexDef,
    n: usize,
    cost: &mut IndexCost,
) -> Result<()> {
    let (mut plain, mut concurrent) = (Vec::new(), Vec::new());
    for _ in 0..n.max(1) {
        drop_index(client, ix).await?;
        plain.push(timed(client, &ix.create_sql(false)).await?);
        drop_index(client, ix).await?;
        concurrent.push(timed(client, &ix.create_sql(true)).await?);
    }
    cost.build_ms = median(&plain);
    cost.build_concurrently_ms = median(&concurrent);
    cost.build = Some(median_interval(&plain));
    cost.build_concurrently = Some(median_interval(&concurrent));
    Ok(())
}

/// HOT share of the update workload with none of the migration's indexes,
/// with each of its indexes on the updated table alone, and with all, over
/// rounds in alternating order, on pages given room first.
async fn hot_rounds(
    client: &Client,
    m: &Migration,
    q: &Query,
    table_sql: &str,
    o: CostOptions,
    costs: &mut [IndexCost],
) -> Result<HotUpdates> {
    let mut rows = ParamPool::sample(client, q).await?.rows.into_iter();
    make_room_on(client, table_sql).await?;
    let alone: Vec<&IndexDef> = m
        .indexes()
        .iter()
        .filter(|i| i.table_sql() == table_sql)
        .collect();
    let mut states: Vec<Option<&IndexDef>> = vec![None];
    states.extend(alone.iter().map(|&i| Some(i)));
    let per = o
        .updates
        .min(rows.len() / (o.rounds * (states.len() + 1)).max(1))
        .max(1);
    // shares[k]: state k (none, each alone); the last, every index.
    let mut shares = vec![Vec::new(); states.len() + 1];
    for round in 0..o.rounds {
        let mut order: Vec<usize> = (0..shares.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for k in order {
            let only: Vec<&IndexDef> = match states.get(k) {
                Some(Some(ix)) => vec![ix],
                Some(None) => vec![],
                None => m.indexes().iter().collect(),
            };
            keep_only(client, m, &only).await?;
            let batch: Vec<_> = rows.by_ref().take(per).collect();
            shares[k].push(hot_ratio(client, q, table_sql, batch).await?);
        }
    }
    for (k, state) in states.iter().enumerate() {
        if let Some(ix) = state {
            if let Some(c) = costs.iter_mut().find(|c| c.name == ix.name) {
                c.hot_alone = Some(median_interval(&shares[k]));
                c.hot_ratio_with = Some(median(&shares[k]));
                c.hot_ratio_without = Some(median(&shares[0]));
            }
        }
    }
    let all = shares.last().cloned().unwrap_or_default();
    Ok(HotUpdates {
        with_all: median(&all),
        without_all: median(&shares[0]),
        updates: (per * o.rounds) as u64,
        with_all_ci: Some(median_interval(&all)),
        without_all_ci: Some(median_interval(&shares[0])),
        pages: hot_pages(table_sql),
        rounds: o.rounds,
    })
}

/// Gives `t`'s (as SQL) pages free space, so HOT is possible.
pub(crate) async fn make_room_on(client: &Client, t: &str) -> Result<()> {
    let doing = "giving the updated table's pages room for HOT updates";
    client
        .batch_execute(&format!("ALTER TABLE {t} SET (fillfactor = 90)"))
        .await
        .context(doing)?;
    // On its own: VACUUM cannot run in the implicit transaction of a batch.
    client
        .batch_execute(&format!("VACUUM FULL {t}"))
        .await
        .context(doing)
}

/// Builds or drops the migration's indexes so exactly `only` exist.
async fn keep_only(client: &Client, m: &Migration, only: &[&IndexDef]) -> Result<()> {
    let wanted: Vec<&str> = only.iter().map(|i| i.name.as_str()).collect();
    let present = crate::schema::present_indexes(client, m).await?;
    for ix in m.indexes() {
        let want = wanted.contains(&ix.name.as_str());
        if want && !present.contains(&ix.name) {
            timed(client, &ix.create_sql(false)).await?;
        } else if !want && present.contains(&ix.name) {
            drop_index(client, ix).await?;
        }
    }
    Ok(())
}

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

/// Size of a relation in bytes, by its bare name; an error naming it when
/// the search path does not find it.
pub async fn relation_size(client: &Client, name: &str) -> Result<u64> {
    relation_size_of(client, &quote_ident(name)).await
}

/// Size of a relation named as SQL (quoted, maybe qualified) in bytes.
pub(crate) async fn relation_size_of(client: &Client, name: &str) -> Result<u64> {
    let size: Option<i64> = client
        .query_one("SELECT pg_relation_size(to_regclass($1))", &[&name])
        .await
        .context(format!("sizing {name}"))?
        .get(0);
    size.map(|s| s as u64).ok_or_else(|| not_found(name))
}

/// The planner's row count of a table by its bare name (0 before its first
/// ANALYZE, which PostgreSQL 14 and later show as −1).
pub(crate) async fn table_rows(client: &Client, table: &str) -> Result<u64> {
    table_rows_of(client, &quote_ident(table)).await
}

/// [`table_rows`] of a table named as SQL (quoted, maybe qualified).
pub(crate) async fn table_rows_of(client: &Client, table: &str) -> Result<u64> {
    let rows: Option<i64> = client
        .query_opt(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass($1)",
            &[&table],
        )
        .await
        .context(format!("counting rows of {table}"))?
        .map(|r| r.get(0));
    rows.map(|n| n as u64).ok_or_else(|| not_found(table))
}

/// A relation (named as SQL) the search path does not find.
fn not_found(name: &str) -> crate::error::Error {
    crate::error::Error::BadInput(format!(
        "relation {name} was not found on the search path (current_schemas()); create it, or put its schema on the role's search_path"
    ))
}

async fn wal_lsn(client: &Client) -> Result<String> {
    Ok(client
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await
        .context("reading the WAL position")?
        .get(0))
}

/// WAL bytes written since `before`.
async fn wal_since(client: &Client, before: &str) -> Result<f64> {
    Ok(client
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::text::pg_lsn)::float8",
            &[&before],
        )
        .await
        .context("measuring WAL")?
        .get(0))
}

/// Runs the update workload over `rows` and returns HOT updates / updates.
async fn hot_ratio(
    client: &Client,
    q: &Query,
    table: &str,
    rows: Vec<Vec<Option<String>>>,
) -> Result<f64> {
    if rows.is_empty() {
        return Err(crate::error::Error::BadInput(format!(
            "the {} sample ran out of rows to update; seed a larger scale",
            q.name
        )));
    }
    let n = rows.len();
    let p = Prepared::new(client, q, ParamPool::from_rows(rows)).await?;
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
