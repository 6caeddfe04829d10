//! Reading `pg_stat_statements`: refusing a server that cannot answer
//! (extension not preloaded, not created, texts hidden by a missing
//! privilege), keeping the application's statements of this database, and
//! turning their calls into executions per hour.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use tokio_postgres::Client;

use super::shape::normalised;
use crate::cluster::{transaction, Begin, End};
use crate::error::{Context, Error, Result};
use crate::queries::Kind;

/// What ranks the statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// Total execution time.
    #[value(name = "total_time")]
    TotalTime,
    /// Number of calls.
    Calls,
}

/// How the weights were computed, written in the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightSource {
    /// Calls since `pg_stat_statements_info.stats_reset`.
    SinceReset {
        reset: String,
        hours: f64,
        /// Entries evicted since the reset (`dealloc`): a re-added entry
        /// counts from its return only.
        dealloc: i64,
        /// Each entry's own `stats_since` was used (17 and later).
        per_entry: bool,
    },
    /// The difference of two reads `window` apart.
    Window(Duration),
}

impl std::fmt::Display for WeightSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WeightSource::SinceReset {
                reset,
                hours,
                dealloc,
                per_entry,
            } => {
                write!(
                    f,
                    "calls since pg_stat_statements_info.stats_reset ({reset}, {hours:.3} h ago)"
                )?;
                if *per_entry {
                    write!(f, ", or since each entry's stats_since when later")?;
                }
                if *dealloc > 0 {
                    write!(f, "; {dealloc} entries were evicted since, so a re-added entry's weight is low: raise pg_stat_statements.max or use --window")?;
                }
                Ok(())
            }
            WeightSource::Window(d) => write!(
                f,
                "calls between two reads {:.1} s apart (--window)",
                d.as_secs_f64()
            ),
        }
    }
}

/// One statement of the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub queryid: i64,
    /// The normalised text, `$n` for every constant and parameter.
    pub sql: String,
    pub kind: Kind,
    pub calls: f64,
    pub total_ms: f64,
    /// Executions per hour.
    pub per_hour: f64,
}

/// A raw row: queryid, text, calls, total time, age of the entry in seconds.
type Row = (i64, String, f64, f64, Option<f64>);

/// Reads the top `top` statements ranked `by`, with weights from the reset
/// time or from two reads `window` apart.
pub async fn read(
    client: &Client,
    top: usize,
    by: By,
    window: Option<Duration>,
    include_writes: bool,
) -> Result<(Vec<Statement>, WeightSource)> {
    let schema = check_extension(client).await?;
    let major = server_major(client).await?;
    let (rows, source) = match window {
        Some(w) => {
            let first = read_rows(client, &schema, major).await?;
            tokio::time::sleep(w).await;
            let second = read_rows(client, &schema, major).await?;
            (difference(&first, &second, w), WeightSource::Window(w))
        }
        None => {
            let source = since_reset(client, &schema, major).await?;
            let rows = read_rows(client, &schema, major).await?;
            let WeightSource::SinceReset { hours, .. } = source else {
                unreachable!("since_reset returns SinceReset")
            };
            let rows = rows
                .into_iter()
                .map(|(id, q, calls, ms, age)| {
                    let h = age.map_or(hours, |a| (a / 3600.0).min(hours));
                    (id, q, calls, ms, Some(calls / h.max(1e-9)))
                })
                .collect();
            (rows, source)
        }
    };
    Ok((select(rows, top, by, include_writes)?, source))
}

/// Keeps the application's statements, ranks them and keeps the top `top`.
/// The fifth field of each row is executions per hour by now.
fn select(rows: Vec<Row>, top: usize, by: By, include_writes: bool) -> Result<Vec<Statement>> {
    if rows.iter().any(|r| r.1 == "<insufficient privilege>") {
        return Err(Error::BadInput(
            "pg_stat_statements hides other users' query texts from this user (<insufficient privilege>); \
             connect as a user granted pg_read_all_stats (`GRANT pg_read_all_stats TO <user>`)"
                .into(),
        ));
    }
    let kept: Vec<Statement> = rows
        .into_iter()
        .filter(|r| r.2 > 0.0 && !is_introspection(&r.1))
        .filter_map(|(queryid, sql, calls, total_ms, per_hour)| {
            let kind = classify(&sql)?;
            (kind == Kind::Read || include_writes).then_some(Statement {
                queryid,
                sql,
                kind,
                calls,
                total_ms,
                per_hour: per_hour.unwrap_or(0.0),
            })
        })
        .collect();
    let mut kept = fold_shapes(kept);
    let key = |s: &Statement| match by {
        By::TotalTime => s.total_ms,
        By::Calls => s.calls,
    };
    kept.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.queryid.cmp(&b.queryid)));
    kept.truncate(top);
    Ok(kept)
}

/// Entries of one [`normalised`] shape (the same statement with other
/// casts, or run by other users) become one, their calls, time and
/// executions per hour added; the busiest entry's text is kept.
fn fold_shapes(mut all: Vec<Statement>) -> Vec<Statement> {
    all.sort_by(|a, b| b.calls.total_cmp(&a.calls).then(a.queryid.cmp(&b.queryid)));
    let mut out: Vec<(String, Statement)> = Vec::new();
    for s in all {
        let shape = normalised(&s.sql);
        match out.iter_mut().find(|(k, _)| *k == shape) {
            Some((_, kept)) => {
                kept.calls += s.calls;
                kept.total_ms += s.total_ms;
                kept.per_hour += s.per_hour;
            }
            None => out.push((shape, s)),
        }
    }
    out.into_iter().map(|(_, s)| s).collect()
}

/// Read for SELECT (and WITH without a data-changing verb), write for
/// INSERT, UPDATE and DELETE; `None` for utility statements, transaction
/// control and `SET`.
pub fn classify(sql: &str) -> Option<Kind> {
    let first = sql
        .trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()?
        .to_ascii_lowercase();
    match first.as_str() {
        "select" | "table" | "values" => Some(Kind::Read),
        "insert" | "update" | "delete" => Some(Kind::Write),
        "with" if writing_cte().is_match(sql) => Some(Kind::Write),
        "with" => Some(Kind::Read),
        _ => None,
    }
}

fn writing_cte() -> &'static Regex {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(insert\s+into|update\s+\S+\s+set|delete\s+from)\b")
            .expect("static regex")
    });
    &RE
}

/// Statements that read the server's catalogs or statistics: introspection
/// (helpdesk-bench's own, a driver's, a monitoring tool's), not the
/// application's workload; and the samples a captured catalogue draws
/// parameters with. `pg_stat_statements` records no application
/// name, so the text is all there is to go by.
pub fn is_introspection(sql: &str) -> bool {
    if sql.contains(super::params::SAMPLE_MARK) {
        return true;
    }
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)\b(pg_catalog|information_schema|pg_stat_\w+|pg_statio_\w+|pg_prepared_statements|pg_stats|pg_class|pg_namespace|pg_index|pg_attribute|pg_constraint|pg_type|pg_proc|pg_database|pg_extension|pg_settings|pg_locks|pg_roles|pg_tables|pg_indexes|pg_am|pg_inherits|pg_depend|pg_trigger|pg_description|pg_backend_pid|pg_is_in_recovery|current_setting|set_config|pg_advisory\w*|pg_relation_size|pg_total_relation_size|pg_get_\w+|txid_current|version|current_database|current_schemas?|current_user|session_user|inet_server_\w+|to_reg\w+|format_type|has_\w+_privilege|pg_has_role)\s*(\(|\b)",
        )
        .expect("static regex")
    });
    RE.is_match(sql)
}

/// The schema extension `name` is created in, in this database.
pub(super) async fn extension_schema(
    client: &Client,
    name: &str,
) -> std::result::Result<Option<String>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT n.nspname::text FROM pg_catalog.pg_extension e \
               JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
              WHERE e.extname = $1",
            &[&name],
        )
        .await?
        .map(|r| r.get(0)))
}

/// The extension's schema, or a one-line refusal saying how to enable it.
async fn check_extension(client: &Client) -> Result<String> {
    let doing = "checking for pg_stat_statements";
    // pg_settings hides the setting from a user without
    // pg_read_all_settings: then the probe below tells.
    let preload: Option<String> = client
        .query_opt(
            "SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'",
            &[],
        )
        .await
        .context(doing)?
        .map(|r| r.get(0));
    let db: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .context(doing)?
        .get(0);
    if let Some(p) = preload.filter(|p| !p.split(',').any(|l| l.trim() == "pg_stat_statements")) {
        return Err(not_preloaded(&format!("it is {p:?}"), &db));
    }
    let schema = extension_schema(client, "pg_stat_statements")
        .await
        .context(doing)?;
    let Some(schema) = schema else {
        return Err(Error::BadInput(format!(
            "pg_stat_statements is not created in database {db}; run `CREATE EXTENSION pg_stat_statements` there \
             (it counts from then on; the server must also preload it)"
        )));
    };
    let schema = crate::sql::quote_ident(&schema);
    let probe = format!("SELECT 1 FROM {schema}.pg_stat_statements LIMIT 1");
    match client.query_opt(&probe, &[]).await {
        Err(e) if e.to_string().contains("shared_preload_libraries") => Err(not_preloaded(
            "the extension is created but not loaded",
            &db,
        )),
        other => other.map(|_| schema).context(doing),
    }
}

fn not_preloaded(found: &str, db: &str) -> Error {
    Error::BadInput(format!(
        "pg_stat_statements is not in shared_preload_libraries ({found}), so the server counts nothing; \
         add it (shared_preload_libraries = 'pg_stat_statements' in postgresql.conf, or your provider's parameter group), \
         restart the server, run `CREATE EXTENSION pg_stat_statements` in {db}, and capture after some traffic"
    ))
}

async fn server_major(client: &Client) -> Result<u32> {
    let v: String = client
        .query_one("SELECT current_setting('server_version_num')", &[])
        .await
        .context("reading the server version")?
        .get(0);
    Ok(v.parse::<u32>().unwrap_or(0) / 10000)
}

/// The reset time and how long ago it was, from `pg_stat_statements_info`
/// (14 and later); on 13, a refusal naming `--window`.
async fn since_reset(client: &Client, schema: &str, major: u32) -> Result<WeightSource> {
    if major < 14 {
        return Err(Error::BadInput(
            "PostgreSQL 13's pg_stat_statements records no reset time, so calls cannot become executions per hour; \
             pass --window 10m (two reads that far apart)"
                .into(),
        ));
    }
    let sql = format!(
        "SELECT stats_reset::text, extract(epoch FROM now() - stats_reset)::float8, dealloc \
         FROM {schema}.pg_stat_statements_info"
    );
    let row = transaction(
        client,
        Begin::ReadOnly,
        End::RollBack,
        "reading pg_stat_statements_info",
        async |c| {
            c.query_one(&sql, &[])
                .await
                .context("reading pg_stat_statements_info")
        },
    )
    .await?;
    Ok(WeightSource::SinceReset {
        reset: row.get(0),
        hours: row.get::<_, f64>(1) / 3600.0,
        dealloc: row.get(2),
        per_entry: major >= 17,
    })
}

/// This database's entries, one per statement (summed over users), in a
/// read-only transaction.
async fn read_rows(client: &Client, schema: &str, major: u32) -> Result<Vec<Row>> {
    let age = if major >= 17 {
        "min(extract(epoch FROM now() - stats_since))::float8"
    } else {
        "NULL::float8"
    };
    let sql = format!(
        "SELECT queryid, min(query), sum(calls)::float8, sum(total_exec_time)::float8, {age} \
           FROM {schema}.pg_stat_statements \
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
          GROUP BY queryid"
    );
    let doing = "reading pg_stat_statements";
    let rows = transaction(client, Begin::ReadOnly, End::RollBack, doing, async |c| {
        c.query(&sql, &[]).await.context(doing)
    })
    .await?;
    Ok(rows
        .iter()
        // Another user's entries have no queryid for a user without
        // pg_read_all_stats (and their text is `<insufficient privilege>`).
        .map(|r| {
            let id: Option<i64> = r.get(0);
            (id.unwrap_or(0), r.get(1), r.get(2), r.get(3), r.get(4))
        })
        .collect())
}

/// Calls and time between two reads, with executions per hour over the
/// window; a statement absent from the first read counts from zero.
fn difference(first: &[Row], second: &[Row], window: Duration) -> Vec<Row> {
    let hours = window.as_secs_f64() / 3600.0;
    second
        .iter()
        .map(|(id, q, calls, ms, _)| {
            let before = first.iter().find(|r| r.0 == *id);
            let (c0, m0) = before.map_or((0.0, 0.0), |r| (r.2, r.3));
            // A reset between the reads leaves fewer calls: count from zero.
            let (dc, dm) = if *calls >= c0 {
                (calls - c0, ms - m0)
            } else {
                (*calls, *ms)
            };
            (*id, q.clone(), dc, dm, Some(dc / hours))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_sorted_into_reads_writes_and_the_rest() {
        assert_eq!(classify("SELECT 1"), Some(Kind::Read));
        assert_eq!(
            classify("  with x as (select 1) select * from x"),
            Some(Kind::Read)
        );
        assert_eq!(
            classify("WITH x AS (DELETE FROM t RETURNING id) SELECT * FROM x"),
            Some(Kind::Write)
        );
        assert_eq!(classify("UPDATE t SET a = $1"), Some(Kind::Write));
        for other in [
            "BEGIN",
            "COMMIT",
            "SET search_path = $1",
            "VACUUM t",
            "CREATE TABLE t ()",
        ] {
            assert_eq!(classify(other), None, "{other}");
        }
    }

    #[test]
    fn entries_of_one_shape_become_one() {
        let st = |id: i64, sql: &str, calls: f64| Statement {
            queryid: id,
            sql: sql.into(),
            kind: Kind::Read,
            calls,
            total_ms: calls,
            per_hour: calls * 10.0,
        };
        let folded = fold_shapes(vec![
            st(1, "SELECT a FROM t WHERE b = $1::text", 5.0),
            st(2, "SELECT a FROM t WHERE b = $1", 20.0),
            st(3, "SELECT c FROM t", 1.0),
        ]);
        assert_eq!(folded.len(), 2);
        assert_eq!(folded[0].queryid, 2);
        assert_eq!((folded[0].calls, folded[0].per_hour), (25.0, 250.0));
    }

    #[test]
    fn catalog_reads_are_introspection_and_table_reads_are_not() {
        assert!(is_introspection(
            "SELECT relname FROM pg_class WHERE oid = $1"
        ));
        assert!(is_introspection("select current_setting($1)"));
        assert!(is_introspection("SELECT current_database()"));
        assert!(is_introspection(&super::super::params::sample_sql(&[])));
        assert!(is_introspection("SELECT to_regclass($1::text) IS NOT NULL"));
        assert!(!is_introspection(
            r#"SELECT id FROM "Conversation" WHERE "assignedTo" = $1"#
        ));
        assert!(!is_introspection("SELECT version_id FROM releases"));
    }
}
