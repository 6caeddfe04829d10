//! The rows of a scratch copy: each table streamed from the source with
//! `COPY (SELECT …) TO STDOUT (FORMAT binary)` straight into `COPY … FROM
//! STDIN (FORMAT binary)` on the scratch database, one chunk at a time,
//! never written to disk; all tables and sequence values read in one
//! repeatable-read snapshot of the source. A table whose binary form would
//! carry type OIDs the copy does not share (arrays of the team's own types,
//! composites) goes in text format instead.

use std::collections::BTreeMap;

use futures_util::{pin_mut, SinkExt, StreamExt};
use tokio_postgres::{Client, IsolationLevel};

use crate::error::{Context, Result};
use crate::recreate::catalog::Table;

/// What was copied.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Copied {
    pub tables: usize,
    pub rows: u64,
    pub bytes: u64,
}

/// Copies every table's rows (those `filters` keep, when sampling) and
/// every sequence's value from `source` into `scratch`.
pub async fn copy(
    source: &mut Client,
    scratch: &Client,
    tables: &[Table],
    filters: Option<&BTreeMap<u32, String>>,
    sequences: &[String],
) -> Result<Copied> {
    let tx = source
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .context("starting a read-only snapshot of the source")?;
    let mut copied = Copied::default();
    for t in tables {
        let filter = filters.and_then(|f| f.get(&t.oid)).map(String::as_str);
        let (rows, bytes) = copy_table(&tx, scratch, t, filter).await?;
        copied.tables += 1;
        copied.rows += rows;
        copied.bytes += bytes;
    }
    for s in sequences {
        carry_sequence(&tx, scratch, s).await?;
    }
    tx.commit().await.context("ending the source's snapshot")?;
    Ok(copied)
}

/// Streams one table; returns its rows and the bytes that went through.
async fn copy_table(
    source: &tokio_postgres::Transaction<'_>,
    scratch: &Client,
    t: &Table,
    filter: Option<&str>,
) -> Result<(u64, u64)> {
    if t.columns.is_empty() {
        return Ok((0, 0));
    }
    let format = if t.binary { "binary" } else { "text" };
    let selected: Vec<String> = t.columns.iter().map(|c| format!("t0.{c}")).collect();
    let filter = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
    let out = format!(
        "COPY (SELECT {} FROM {} t0{filter}) TO STDOUT (FORMAT {format})",
        selected.join(", "),
        t.name
    );
    let into = format!(
        "COPY {} ({}) FROM STDIN (FORMAT {format})",
        t.name,
        t.columns.join(", ")
    );
    let doing = format!("copying the rows of {}", t.name);
    let stream = source.copy_out(&out).await.context(&doing)?;
    let sink = scratch.copy_in(&into).await.context(&doing)?;
    pin_mut!(stream, sink);
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context(&doing)?;
        bytes += chunk.len() as u64;
        sink.send(chunk).await.context(&doing)?;
    }
    let rows = sink.finish().await.context(&doing)?;
    Ok((rows, bytes))
}

/// Sets the scratch copy's sequence to the source's value.
async fn carry_sequence(
    source: &tokio_postgres::Transaction<'_>,
    scratch: &Client,
    name: &str,
) -> Result<()> {
    let doing = format!("carrying the value of sequence {name}");
    let row = source
        .query_one(&format!("SELECT last_value, is_called FROM {name}"), &[])
        .await
        .context(&doing)?;
    let (value, called): (i64, bool) = (row.get(0), row.get(1));
    scratch
        .execute(
            "SELECT pg_catalog.setval($1::text::pg_catalog.regclass, $2, $3)",
            &[&name, &value, &called],
        )
        .await
        .context(&doing)?;
    Ok(())
}
