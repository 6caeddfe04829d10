//! Capturing `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON)` for a
//! catalogue query with given parameters, keeping the server's JSON text
//! exactly as it came.

use std::error::Error as StdError;

use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Client;

use crate::error::{Context, Error, Result};
use crate::queries::{as_sql, read_error, Kind, Query};

/// A `json` value read as its text, byte for byte.
pub(crate) struct JsonText(pub String);

impl<'a> FromSql<'a> for JsonText {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(JsonText(std::str::from_utf8(raw)?.to_string()))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON
    }
}

/// The options every captured plan uses.
pub const OPTIONS: &str = "ANALYZE, BUFFERS, SETTINGS, FORMAT JSON";

/// Runs the query under EXPLAIN ANALYZE with `params` and returns the JSON.
pub async fn capture(client: &Client, q: &Query, params: &[Option<String>]) -> Result<String> {
    if q.kind != Kind::Read {
        return Err(Error::BadInput(format!(
            "query {} writes data; only read queries are explained",
            q.name
        )));
    }
    let sql = format!("EXPLAIN ({OPTIONS}) {}", q.statements[0]);
    let stmt = client
        .prepare_typed(&sql, &vec![Type::TEXT; q.params])
        .await
        .context(format!("preparing EXPLAIN of {}", q.name))?;
    let row = client
        .query_one(&stmt, &as_sql(params, q.params))
        .await
        .map_err(|e| read_error(&q.name, format!("explaining {}", q.name), e))?;
    Ok(row.get::<_, JsonText>(0).0)
}
