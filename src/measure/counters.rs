//! This session's update counters (`n_tup_upd`, `n_tup_hot_upd`) as the
//! cumulative statistics hold them, with every write this session made
//! counted. PostgreSQL 15 and later flush on request
//! (`pg_stat_force_next_flush()`); 13 and 14 send a backend's counts to the
//! statistics collector at most every 500 ms, when the backend goes idle,
//! and a reader may be given a statistics file up to 500 ms old, so there
//! the counts are sent by idling past that interval and read from a
//! snapshot the collector wrote after they were sent.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::cluster::ServerVersion;
use crate::error::{Context, Error, Result};

/// A statement longer than the collector's send interval (500 ms on 13 and
/// 14), so this session's counts go out when it ends.
const SEND_COUNTS: &str = "SELECT pg_sleep(0.55)";
/// How long to wait for a statistics snapshot taken after the send: the
/// file a reader may be given is at most 500 ms old.
const FRESH_WITHIN: Duration = Duration::from_secs(5);
/// Between two reads of a snapshot still too old.
const RETRY_EVERY: Duration = Duration::from_millis(50);

/// `n_tup_upd` and `n_tup_hot_upd` of `table` (named as SQL: quoted,
/// maybe schema-qualified), counting every write this session has made to
/// it.
pub(crate) async fn update_counts(client: &Client, table: &str) -> Result<(i64, i64)> {
    if ServerVersion::of(client).await?.has_stats_flush() {
        client
            .batch_execute("SELECT pg_stat_force_next_flush(); SELECT pg_stat_clear_snapshot()")
            .await
            .context("flushing statistics")?;
        let row = client
            .query_one(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = to_regclass($1)",
                &[&table],
            )
            .await
            .context("reading update statistics")?;
        return Ok((row.get(0), row.get(1)));
    }
    collector_counts(client, table).await
}

/// 13 and 14: send this session's counts, then read them from a snapshot
/// the collector wrote after the send. Each read is its own transaction, so
/// each gets a fresh snapshot.
async fn collector_counts(client: &Client, table: &str) -> Result<(i64, i64)> {
    client
        .batch_execute(SEND_COUNTS)
        .await
        .context("sending this session's statistics")?;
    let sent: f64 = client
        .query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[])
        .await
        .context("reading the server's clock")?
        .get(0);
    let read = client
        .prepare(
            "SELECT extract(epoch FROM pg_stat_get_snapshot_timestamp())::float8, n_tup_upd, n_tup_hot_upd
               FROM pg_stat_user_tables WHERE relid = to_regclass($1)",
        )
        .await
        .context("reading update statistics")?;
    let started = Instant::now();
    loop {
        let row = client
            .query_one(&read, &[&table])
            .await
            .context("reading update statistics")?;
        if row.get::<_, f64>(0) > sent {
            return Ok((row.get(1), row.get(2)));
        }
        if started.elapsed() > FRESH_WITHIN {
            return Err(Error::StaleStatistics {
                table: table.to_string(),
                seconds: FRESH_WITHIN.as_secs(),
            });
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}
