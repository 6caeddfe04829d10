//! The constants the application really sent, where the server runs
//! `pg_qualstats`: for each statement (`queryid`, shared with
//! `pg_stat_statements`) and column, the constants it was compared with
//! (`=`) and how often. `pg_stat_statements` turns a literal the
//! application hard-codes (`status = 'open'`) into a `$n` like any bind
//! parameter; these counts tell which values it stood for, so the sample
//! replays them at their shares instead of guessing from the data.

use std::collections::HashMap;

use tokio_postgres::Client;

use crate::cluster::{transaction, Begin, End};
use crate::error::{Context, Result};

/// `pg_qualstats` truncates a constant's text to this many bytes less one:
/// a value this long may be cut, so it is never written.
const CONSTANT_SIZE: usize = 80;

/// What the server's `pg_qualstats` holds, or why nothing is read.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// (queryid, table, column) → (constant as SQL, executions), most
    /// frequent first.
    constants: HashMap<(i64, String, String), Vec<(String, i64)>>,
    /// Why nothing was read (not installed, not preloaded), for the
    /// command's output; `None` when read.
    pub missing: Option<String>,
}

impl Recorded {
    /// The constants statement `queryid` compared `table.column` with.
    pub fn constants(&self, queryid: i64, table: &str, column: &str) -> Option<&[(String, i64)]> {
        self.constants
            .get(&(queryid, table.to_string(), column.to_string()))
            .map(Vec::as_slice)
    }
}

/// Reads `pg_qualstats()` of this database, inside the caller's
/// read-only transaction (in a savepoint: a library that is not preloaded
/// makes the function fail).
pub async fn read(client: &Client) -> Result<Recorded> {
    let doing = "reading pg_qualstats";
    let schema = super::statements::extension_schema(client, "pg_qualstats")
        .await
        .context(doing)?;
    let Some(schema) = schema else {
        return Ok(missing("not installed in this database"));
    };
    let sql = format!(
        "SELECT q.queryid, c.relname::text, a.attname::text, q.constvalue::text, sum(q.occurences)::int8 \
           FROM {}.pg_qualstats() q \
           JOIN pg_catalog.pg_class c ON c.oid = q.lrelid \
           JOIN pg_catalog.pg_attribute a ON a.attrelid = q.lrelid AND a.attnum = q.lattnum \
           JOIN pg_catalog.pg_operator o ON o.oid = q.opno \
          WHERE q.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) \
            AND q.rrelid IS NULL AND q.queryid IS NOT NULL AND o.oprname = '=' \
            AND q.constvalue IS NOT NULL AND q.constvalue <> '' \
          GROUP BY 1, 2, 3, 4",
        crate::sql::quote_ident(&schema)
    );
    let rows = transaction(client, Begin::Savepoint, End::RollBack, doing, async |c| {
        c.query(&sql, &[]).await.context(doing)
    })
    .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            let why = crate::error::chain(&e);
            return Ok(missing(&format!(
                "installed but unreadable ({why}); it must be in shared_preload_libraries"
            )));
        }
    };
    let mut constants: HashMap<_, Vec<(String, i64)>> = HashMap::new();
    for r in rows {
        let key = (r.get::<_, i64>(0), r.get(1), r.get(2));
        constants.entry(key).or_default().push((r.get(3), r.get(4)));
    }
    for v in constants.values_mut() {
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    Ok(Recorded {
        constants,
        missing: None,
    })
}

fn missing(why: &str) -> Recorded {
    Recorded {
        constants: HashMap::new(),
        missing: Some(format!("pg_qualstats is {why}")),
    }
}

/// Whether a recorded constant may be written: not cut short by
/// `pg_qualstats`, and not a personal-looking value of `column`.
pub fn writable(column: &str, constant: &str) -> bool {
    constant.len() < CONSTANT_SIZE - 1 && crate::like::privacy::may_show(column, constant)
}
