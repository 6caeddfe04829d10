//! Parameters for catalogue queries: a pool of rows sampled from the seeded
//! data once, then handed out in rotation, one row per execution.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::catalogue::Query;
use super::runner::read_error;
use crate::error::{Context, Error, Result};

/// Sampled parameter rows, as text (NULL as `None`).
#[derive(Debug, Default)]
pub struct ParamPool {
    pub rows: Vec<Vec<Option<String>>>,
    next: AtomicUsize,
}

impl Clone for ParamPool {
    fn clone(&self) -> Self {
        ParamPool {
            rows: self.rows.clone(),
            next: AtomicUsize::new(0),
        }
    }
}

impl ParamPool {
    /// Runs the query's `sample` SQL (if any) and keeps its rows. The
    /// sample is one statement, run in its own `READ ONLY` transaction, so
    /// call this outside any open transaction.
    pub async fn sample(client: &Client, q: &Query) -> Result<ParamPool> {
        let Some(sql) = &q.sample else {
            return Ok(ParamPool {
                rows: vec![vec![]],
                next: AtomicUsize::new(0),
            });
        };
        if crate::schema::split(sql).len() != 1 {
            return Err(Error::BadInput(format!(
                "query {}: its sample must be one SQL statement; remove the extra statements",
                q.name
            )));
        }
        let doing = || format!("sampling parameters for {}", q.name);
        client
            .batch_execute("BEGIN READ ONLY")
            .await
            .context(doing())?;
        let msgs = client.simple_query(sql).await;
        let ended = client.batch_execute("ROLLBACK").await;
        let msgs = msgs.map_err(|e| read_error(&q.name, doing(), e))?;
        ended.context(doing())?;
        let rows: Vec<Vec<Option<String>>> = msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect();
        if rows.is_empty() {
            return Err(Error::BadInput(format!(
                "query {}: its sample returned no rows; seed the database first, or fix the sample SQL",
                q.name
            )));
        }
        if rows[0].len() < q.params {
            return Err(Error::BadInput(format!(
                "query {}: its sample returns {} columns but the SQL takes {} parameters",
                q.name,
                rows[0].len(),
                q.params
            )));
        }
        Ok(ParamPool {
            rows,
            next: AtomicUsize::new(0),
        })
    }

    /// A pool of given rows.
    pub fn from_rows(rows: Vec<Vec<Option<String>>>) -> ParamPool {
        ParamPool {
            rows,
            next: AtomicUsize::new(0),
        }
    }

    /// The next row in rotation.
    pub fn next(&self) -> &[Option<String>] {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.rows.len();
        &self.rows[i]
    }

    /// A representative row: the first.
    pub fn first(&self) -> &[Option<String>] {
        &self.rows[0]
    }
}

/// Parameter values as tokio-postgres wants them, truncated to `n`.
pub fn as_sql(row: &[Option<String>], n: usize) -> Vec<&(dyn ToSql + Sync)> {
    row.iter()
        .take(n)
        .map(|v| v as &(dyn ToSql + Sync))
        .collect()
}
