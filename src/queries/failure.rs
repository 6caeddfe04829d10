//! What a failed catalogue statement means: a read that tried to write
//! (refused by its read-only transaction) is the catalogue's mistake, named
//! as such; anything else is the server's error.

use tokio_postgres::error::SqlState;

use crate::error::{Error, Wrap};

/// A failed read: a write refused by the read-only transaction becomes
/// [`Error::UndeclaredWrite`], anything else a server error.
pub fn read_error(query: &str, doing: String, e: tokio_postgres::Error) -> Error {
    if e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION) {
        return Error::UndeclaredWrite {
            query: query.to_string(),
            detail: e
                .as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string()),
        };
    }
    e.wrap(doing)
}
