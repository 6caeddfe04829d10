//! Which catalogue queries can run on a database as it is: each query (and
//! its `sample`) is prepared, never executed. A query that names a column,
//! table or type the database lacks (a "before" database without the
//! migration's columns) is set aside with the server's own reason, and the
//! rest go on. Decided by the server, not by a hand-kept list.

use serde::{Deserialize, Serialize};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::catalogue::Query;
use crate::error::{Result, Wrap};

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

/// Splits `queries` into those the database can prepare and those it
/// cannot. Errors other than a missing object (a lost connection, a
/// syntax error in the catalogue) fail the whole check.
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
/// missing column, table, type or function.
async fn missing_object(client: &Client, q: &Query) -> Result<Option<String>> {
    let types = vec![Type::TEXT; q.params];
    let sample = q.sample.iter().map(|s| (s.as_str(), &[][..]));
    let statements = q.statements.iter().map(|s| (s.as_str(), &types[..]));
    for (sql, types) in statements.chain(sample) {
        if let Err(e) = client.prepare_typed(sql, types).await {
            let missing = e.as_db_error().filter(|db| is_missing(db.code().code()));
            match missing {
                Some(db) => return Ok(Some(db.message().to_string())),
                None => return Err(e.wrap(format!("preparing query {}", q.name))),
            }
        }
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
