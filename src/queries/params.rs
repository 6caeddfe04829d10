//! Parameters for catalogue queries: a pool of rows sampled from the seeded
//! data once, then handed out in rotation, one row per execution. A read
//! whose sample finds nothing (a column the migration just added is still
//! empty) is timed with parameters that match nothing, and says so.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

use regex::Regex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::catalogue::{Kind, Query};
use super::failure::read_error;
use crate::cluster::{transaction, Begin, End};
use crate::error::{Error, Result};

/// Sampled parameter rows, as text (NULL as `None`).
#[derive(Debug, Default)]
pub struct ParamPool {
    pub rows: Vec<Vec<Option<String>>>,
    /// Set when the sample found no rows and the query is timed with
    /// parameters that match nothing: says so, for consoles and reports.
    pub miss: Option<String>,
    next: AtomicUsize,
}

impl Clone for ParamPool {
    fn clone(&self) -> Self {
        ParamPool {
            rows: self.rows.clone(),
            miss: self.miss.clone(),
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
            return Ok(ParamPool::from_rows(vec![vec![]]));
        };
        if crate::schema::split(sql).len() != 1 {
            return Err(Error::BadInput(format!(
                "query {}: its sample must be one SQL statement; remove the extra statements",
                q.name
            )));
        }
        let doing = format!("sampling parameters for {}", q.name);
        let msgs = transaction(client, Begin::ReadOnly, End::RollBack, &doing, async |c| {
            c.simple_query(sql)
                .await
                .map_err(|e| read_error(&q.name, doing.clone(), e))
        })
        .await?;
        let rows: Vec<Vec<Option<String>>> = msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect();
        if rows.is_empty() && q.kind == Kind::Read {
            return Ok(ParamPool {
                miss: Some(miss_note(sql)),
                ..ParamPool::from_rows(vec![q.miss_row()])
            });
        }
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
        Ok(ParamPool::from_rows(rows))
    }

    /// A pool of given rows.
    pub fn from_rows(rows: Vec<Vec<Option<String>>>) -> ParamPool {
        ParamPool {
            rows,
            miss: None,
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

/// What a miss-timed query is marked with: `no rows have "assignedTo" yet:
/// timed as a miss`, naming the sample's first column when it is a plain one.
fn miss_note(sample: &str) -> String {
    static FIRST_COLUMN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?is)^\s*select\s+(?:distinct\s+)?("[^"]+"|[a-z_][a-z0-9_]*)\s*(?:,|from\b)"#)
            .expect("valid regex")
    });
    match FIRST_COLUMN.captures(sample) {
        Some(c) => format!("no rows have {} yet: timed as a miss", &c[1]),
        None => "its sample found no rows yet: timed as a miss".into(),
    }
}

/// Parameter values as tokio-postgres wants them, truncated to `n`.
pub fn as_sql(row: &[Option<String>], n: usize) -> Vec<&(dyn ToSql + Sync)> {
    row.iter()
        .take(n)
        .map(|v| v as &(dyn ToSql + Sync))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::miss_note;

    #[test]
    fn a_miss_names_the_column_the_sample_reads() {
        assert_eq!(
            miss_note(
                "SELECT \"assignedTo\" FROM \"Conversation\" WHERE \"assignedTo\" IS NOT NULL"
            ),
            "no rows have \"assignedTo\" yet: timed as a miss"
        );
        assert_eq!(
            miss_note("\n select distinct email, 1 from x"),
            "no rows have email yet: timed as a miss"
        );
        assert_eq!(
            miss_note("SELECT lower(x) FROM t"),
            "its sample found no rows yet: timed as a miss"
        );
    }
}
