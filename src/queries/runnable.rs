//! Which catalogue queries can run on a database as it is: each query (and
//! its `sample`) is prepared, never executed. A query that names a column,
//! table or type the database lacks (a "before" database without the
//! migration's columns) is set aside with the server's own reason, and the
//! rest go on. Decided by the server, not by a hand-kept list.

use serde::{Deserialize, Serialize};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::catalogue::Query;
use crate::error::{Error, Result, Wrap};

/// A query the database cannot run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotRunnable {
    pub query: String,
    /// The server's reason, e.g. `column "status" does not exist`.
    pub reason: String,
}

impl std::fmt::Display for NotRunnable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: not runnable here: {}", self.query, self.reason)
    }
}

/// Splits `queries` into those the database can prepare and those it can
/// run only after the migration: a query that fails for a missing object
/// the migration chain creates ([`Query::needs`]) is set aside. A missing
/// object nothing creates (a typo) is the catalogue's error
/// ([`Error::BrokenQuery`]), and so is anything else (a syntax error, a
/// lost connection): they fail the whole check.
pub async fn split_runnable<'a>(
    client: &Client,
    queries: impl IntoIterator<Item = &'a Query>,
) -> Result<(Vec<&'a Query>, Vec<NotRunnable>)> {
    let mut ok = Vec::new();
    let mut not = Vec::new();
    for q in queries {
        match missing_object(client, q).await? {
            None => ok.push(q),
            Some(reason) => not.push(NotRunnable {
                query: q.name.clone(),
                reason,
            }),
        }
    }
    Ok((ok, not))
}

/// The server's reason when preparing the query or its sample fails for a
/// missing column, table, type or function that the migration chain
/// creates and the database lacks.
async fn missing_object(client: &Client, q: &Query) -> Result<Option<String>> {
    let types = vec![Type::TEXT; q.params];
    let sample = q.sample.iter().map(|s| (s.as_str(), &[][..]));
    let statements = q.statements.iter().map(|s| (s.as_str(), &types[..]));
    for (sql, types) in statements.chain(sample) {
        let Err(e) = client.prepare_typed(sql, types).await else {
            continue;
        };
        let Some(db) = e.as_db_error().filter(|db| is_missing(db.code().code())) else {
            return Err(e.wrap(format!("preparing query {}", q.name)));
        };
        let reason = db.message().to_string();
        for needed in &q.needs {
            if !needed.exists(client).await? {
                return Ok(Some(reason));
            }
        }
        return Err(Error::BrokenQuery {
            query: q.name.clone(),
            reason,
        });
    }
    Ok(None)
}

/// SQLSTATEs for an object the database does not have: undefined column,
/// table, object (type) and function (an operator on a missing enum).
fn is_missing(code: &str) -> bool {
    matches!(code, "42703" | "42P01" | "42704" | "42883")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_objects_make_a_query_unrunnable() {
        assert!(is_missing("42703"));
        assert!(is_missing("42P01"));
        assert!(
            !is_missing("42601"),
            "a syntax error is the catalogue's fault"
        );
        assert!(
            !is_missing("57P01"),
            "a lost connection is not a missing object"
        );
    }

    #[test]
    fn the_reason_reads_as_one_line() {
        let n = NotRunnable {
            query: "human_queue".into(),
            reason: "column \"status\" does not exist".into(),
        };
        assert_eq!(
            n.to_string(),
            "human_queue: not runnable here: column \"status\" does not exist"
        );
    }
}
