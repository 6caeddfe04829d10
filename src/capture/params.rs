//! Parameters of a captured statement, read the way the server reads them:
//! `PREPARE` without types under `force_generic_plan`, the types the
//! server inferred (`pg_prepared_statements.parameter_types`), and the
//! column each `$n` is compared with in the generic plan
//! ([`crate::advise::scans::compared`]). From these: `$n::type` casts in
//! the SQL, and a `sample` query drawing real values from the data. An
//! `INSERT`'s parameters are drawn from the columns they fill
//! ([`super::insert`]). Where the server runs `pg_qualstats`, a
//! parameter that stands for a hard-coded literal is drawn from the
//! constants it recorded ([`super::qualstats`]).

use std::sync::LazyLock;

use regex::Regex;
use tokio_postgres::Client;

use super::insert;
use super::qualstats::{self, Recorded};
use crate::advise::scans::{self, Compared, Scan};
use crate::cluster::{transaction, Begin, End};
use crate::error::{Context, Result};
use crate::sql::{quote_ident, quote_literal};

/// The name the statement is prepared under while it is read.
const STATEMENT: &str = "helpdesk_bench_capture";
/// The constant written for `LIMIT $n`.
pub const TYPICAL_LIMIT: &str = "50";
/// The constant written for `OFFSET $n`.
pub const TYPICAL_OFFSET: &str = "0";
/// A column with at most this many distinct values (per `pg_stats`) holds
/// literals the application hard-codes, more likely than user input.
pub const LOW_CARDINALITY: f64 = 10.0;
/// Opens every sample this writes: pg_stat_statements keeps comments, so
/// a later capture knows these statements for the tool's own.
pub const SAMPLE_MARK: &str = "/* helpdesk-bench sample */";
/// How many parameter rows a sample draws.
const SAMPLE_ROWS: usize = 200;
/// A single constant `pg_qualstats` recorded in at least this many
/// executions is a literal, even on a column with many values.
const LITERAL_SEEN: i64 = 5;

/// Where one parameter's values come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A column of a table, sampled.
    Column { table: String, column: String },
    /// A constant: a typical LIMIT/OFFSET, or a low-cardinality column's
    /// most common value.
    Constant { value: String, why: String },
    /// The constants `pg_qualstats` recorded, as SQL, with their
    /// executions: drawn at their shares.
    Recorded {
        values: Vec<(String, i64)>,
        why: String,
    },
    /// Nothing found: NULL, with the reason.
    Unresolved(String),
}

/// A statement made runnable as a catalogue entry.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// The SQL with `$n::type` casts.
    pub sql: String,
    pub sample: Option<String>,
    /// Comments for the catalogue file, one per line.
    pub comments: Vec<String>,
    /// Parameters pinned to a most common value: the command says so.
    pub pinned: Vec<String>,
    /// Parameters left unresolved.
    pub unresolved: usize,
    /// The plan's scans (tables, filters, order), for the name.
    pub scans: Vec<Scan>,
    /// Columns compared with parameters, for the name.
    pub compared: Vec<Compared>,
}

/// A statement as `pg_stat_statements` gave it, with what `pg_qualstats`
/// recorded of the whole workload.
pub struct Counted<'a> {
    pub queryid: i64,
    pub sql: &'a str,
    pub recorded: &'a Recorded,
}

/// Reads a statement's parameters from the server (inside the caller's
/// read-only transaction) and writes its casts and sample.
pub async fn resolve(client: &Client, counted: &Counted<'_>) -> Result<Resolved> {
    let sql = counted.sql;
    let (sql, prepared) = prepare(client, typed_literals(sql)).await?;
    let sql = &sql;
    let n = max_param(sql);
    let mut r = Resolved {
        sql: sql.to_string(),
        ..Default::default()
    };
    if let Err(e) = prepared {
        let why = e
            .as_db_error()
            .map_or(e.to_string(), |d| d.message().to_string());
        r.comments
            .push(format!("the server could not prepare it: {why}"));
        r.unresolved = n;
        r.sample = (n > 0).then(|| sample_sql(&vec![Source::Unresolved(why); n]));
        return Ok(r);
    }
    // In a savepoint: a plan this user may not read (no SELECT on a
    // table) leaves the transaction usable for the DEALLOCATE.
    let read = transaction(
        client,
        Begin::Savepoint,
        End::RollBack,
        "reading a plan",
        async |c| read_prepared(c, n).await,
    )
    .await;
    scans::deallocate(client, STATEMENT)
        .await
        .context("dropping the captured statement's prepared copy")?;
    let (types, plan) = match read {
        Ok(read) => read,
        Err(e) => {
            let why = crate::error::chain(&e);
            r.comments
                .push(format!("the server would not plan it: {why}"));
            r.unresolved = n;
            r.sample = (n > 0).then(|| sample_sql(&vec![Source::Unresolved(why); n]));
            return Ok(r);
        }
    };
    r.scans = scans::scans(&plan);
    r.compared = scans::compared(&plan);
    r.sql = with_casts(sql, &types);
    let uses = scans::param_use(&plan);
    let mut sources = Vec::new();
    let inserted = insert::targets(sql);
    for i in 1..=n {
        let found = source_of(client, counted, sql, i, &r.compared).await?;
        let target = inserted
            .as_ref()
            .and_then(|t| Some((&t.table, t.column(i)?)));
        sources.push(match (found, target) {
            // A write's values are the rows it writes: a constant stand-in
            // would write one key again and again.
            (found @ Source::Unresolved(_), _) if !writes(sql) => {
                stand_in(i, &types, &uses).unwrap_or(found)
            }
            (found @ Source::Unresolved(_), Some((table, column))) => {
                let ty = types.get(i - 1).map_or("", String::as_str);
                written(client, table, column, ty).await?.unwrap_or(found)
            }
            (found, _) => found,
        });
    }
    for (i, s) in sources.iter().enumerate() {
        match s {
            Source::Constant { value, why } => {
                r.comments.push(format!("${} = {value}: {why}", i + 1));
                if why.starts_with("most common") {
                    r.pinned.push(format!("${} = {value}", i + 1));
                }
            }
            Source::Unresolved(why) => {
                r.comments.push(format!(
                    "${} is unresolved ({why}): its sample is NULL; write one",
                    i + 1
                ));
                r.unresolved += 1;
            }
            Source::Recorded { why, .. } => r.comments.push(format!("${}: {why}", i + 1)),
            Source::Column { .. } => {}
        }
    }
    if n > 0 {
        r.sample = Some(sample_sql(&sources));
    }
    Ok(r)
}

/// The inferred parameter types and the generic plan of the prepared copy.
async fn read_prepared(client: &Client, n: usize) -> Result<(Vec<String>, crate::explain::Plan)> {
    let types = client
        .query(
            "SELECT t::text FROM pg_prepared_statements, \
                    unnest(parameter_types) WITH ORDINALITY AS p(t, i) \
              WHERE name = $1 ORDER BY i",
            &[&STATEMENT],
        )
        .await
        .context("reading the captured statement's parameter types")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = scans::explain_prepared(client, STATEMENT, n, "planning it generically").await?;
    Ok((types, plan))
}

/// Where `$i`'s values come from: LIMIT/OFFSET, a compared column (the
/// constants `pg_qualstats` recorded when they look like literals, else
/// its most common value when it has few), or nothing.
async fn source_of(
    client: &Client,
    counted: &Counted<'_>,
    sql: &str,
    i: usize,
    compared: &[Compared],
) -> Result<Source> {
    if clause_param(sql, "LIMIT", i) {
        return Ok(Source::Constant {
            value: TYPICAL_LIMIT.into(),
            why: "a typical LIMIT; use the application's page size".into(),
        });
    }
    if clause_param(sql, "OFFSET", i) {
        return Ok(Source::Constant {
            value: TYPICAL_OFFSET.into(),
            why: "a typical OFFSET (the first page)".into(),
        });
    }
    if let Some(constant) = role(sql, i) {
        return Ok(constant);
    }
    let Some(c) = compared.iter().find(|c| c.param == i) else {
        return Ok(Source::Unresolved(
            "the generic plan compares it with no single column".into(),
        ));
    };
    let stats = client
        .query_opt(
            "SELECT n_distinct::float8, (most_common_vals::text::text[])[1] FROM pg_stats \
              WHERE tablename = $1 AND attname = $2 AND schemaname = ANY (current_schemas(false)) \
              LIMIT 1",
            &[&c.table, &c.column],
        )
        .await
        .context("reading pg_stats")?;
    // Without statistics (never analysed) the column counts as one of many
    // values: only a single recorded constant is taken for a literal.
    let (distinct, common): (f64, Option<String>) =
        stats.map_or((0.0, None), |row| (row.get(0), row.get(1)));
    let alone = compared
        .iter()
        .filter(|x| x.table == c.table && x.column == c.column)
        .count()
        == 1;
    let recorded = counted
        .recorded
        .constants(counted.queryid, &c.table, &c.column)
        .filter(|_| alone);
    if let Some(source) = recorded.and_then(|v| from_recorded(c, v, distinct)) {
        return Ok(source);
    }
    // A real value lands in the catalogue file, which is shared: never
    // one of a personal-looking column, nor an e-mail address.
    let common = common.filter(|v| crate::like::privacy::may_show(&c.column, v));
    if let (true, Some(value)) = (distinct > 0.0 && distinct <= LOW_CARDINALITY, common) {
        return Ok(Source::Constant {
            value: quote_literal(&value),
            why: format!(
                "most common value of {}.{} ({distinct} distinct values): likely a literal the application hard-codes; pin the one it uses",
                c.table, c.column
            ),
        });
    }
    Ok(Source::Column {
        table: c.table.clone(),
        column: c.column.clone(),
    })
}

/// The constants `pg_qualstats` recorded for `c`, when they look like
/// literals the application writes: a column with few distinct values, or
/// one constant in every recorded execution (at least [`LITERAL_SEEN`]).
/// `None` when any cannot be written (cut short, personal-looking): the
/// column is sampled at run time instead.
fn from_recorded(c: &Compared, values: &[(String, i64)], distinct: f64) -> Option<Source> {
    let few = distinct > 0.0 && distinct <= LOW_CARDINALITY;
    let literal = values.len() == 1 && values[0].1 >= LITERAL_SEEN;
    let writable = values
        .iter()
        .all(|(v, _)| qualstats::writable(&c.column, v));
    if !(few || literal) || !writable || values.len() > LOW_CARDINALITY as usize {
        return None;
    }
    let total: i64 = values.iter().map(|v| v.1).sum();
    if let [(value, seen)] = values {
        return Some(Source::Constant {
            value: value.clone(),
            why: format!(
                "the one constant pg_qualstats recorded for {}.{} ({seen} executions): a literal the application writes",
                c.table, c.column
            ),
        });
    }
    let shares: Vec<String> = values
        .iter()
        .map(|(v, n)| format!("{v} {:.0}%", 100.0 * *n as f64 / total as f64))
        .collect();
    Some(Source::Recorded {
        values: values.to_vec(),
        why: format!(
            "drawn from the constants pg_qualstats recorded for {}.{} at their shares ({total} executions): {}",
            c.table,
            c.column,
            shares.join(", ")
        ),
    })
}

/// Where the values an `INSERT` writes to `table.column` come from: a new
/// key when the column is unique on its own (a sampled one would collide),
/// else the column's own values, drawn as they are spread. `None` for a
/// unique column of a type no new key is made for.
async fn written(client: &Client, table: &str, column: &str, ty: &str) -> Result<Option<Source>> {
    let unique: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i \
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
              WHERE i.indrelid = pg_catalog.to_regclass(pg_catalog.quote_ident($1)) \
                AND i.indisunique AND i.indnatts = 1 AND a.attname = $2)",
            &[&table, &column],
        )
        .await
        .context("reading the unique indexes of an INSERT's table")?
        .get(0);
    if !unique {
        return Ok(Some(Source::Column {
            table: table.to_string(),
            column: column.to_string(),
        }));
    }
    Ok(insert::new_key(ty, table, column).map(|value| Source::Constant {
        value,
        why: format!(
            "a new key for each row written: {table}.{column} is unique, so a sampled value would collide"
        ),
    }))
}

/// Prepares `sql` generically, under a savepoint. When the server finds no
/// function for a parameter it took for text (`sum(CASE … THEN $2 ELSE $3
/// END)`: pg_stat_statements wrote the application's `1` and `0` as bare
/// parameters), it tries again with the CASE branches' parameters as
/// numbers. Returns the SQL prepared (or tried) and the outcome.
async fn prepare(
    client: &Client,
    sql: String,
) -> Result<(String, std::result::Result<(), tokio_postgres::Error>)> {
    let doing = "preparing a captured statement";
    client
        .batch_execute("SAVEPOINT capture_prepare")
        .await
        .context(doing)?;
    let Err(e) = scans::prepare_generic(client, STATEMENT, &sql, None).await else {
        return Ok((sql, Ok(())));
    };
    client
        .batch_execute("ROLLBACK TO SAVEPOINT capture_prepare")
        .await
        .context(doing)?;
    let retry = match e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_FUNCTION) {
        true => numeric_case_branches(&sql),
        false => None,
    };
    if let Some(retry) = retry {
        if scans::prepare_generic(client, STATEMENT, &retry, None)
            .await
            .is_ok()
        {
            return Ok((retry, Ok(())));
        }
    }
    Ok((sql, Err(e)))
}

/// `sql` with each bare parameter after `THEN` or `ELSE` cast to
/// `numeric`, or `None` when there is none.
fn numeric_case_branches(sql: &str) -> Option<String> {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\b(?:then|else)\s+\$\d+(::)?").expect("static regex"));
    let mut changed = false;
    let out = RE.replace_all(sql, |c: &regex::Captures| match c.get(1) {
        Some(_) => c[0].to_string(),
        None => {
            changed = true;
            format!("{}::numeric", &c[0])
        }
    });
    changed.then(|| out.into_owned())
}

/// Whether `sql` writes rows (`INSERT`, `UPDATE`, `DELETE`, `MERGE`).
fn writes(sql: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\s*(?:insert|update|delete|merge)\b").expect("static regex")
    });
    RE.is_match(sql)
}

/// `TYPE $n`, a typed literal whose string pg_stat_statements replaced
/// (`interval '1 hour'` becomes `interval $4`), which no server prepares:
/// written `$n::TYPE`. Likewise `extract($n FROM x)`, whose field must be
/// a word: written `date_part($n, x)`, the same function.
pub fn typed_literals(sql: &str) -> String {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)\b(interval|timestamptz|timestamp|date|time|numeric|uuid|jsonb|json)\s+\$(\d+)\b",
        )
        .expect("static regex")
    });
    static EXTRACT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\bextract\s*\(\s*\$(\d+)\s+from\s+").expect("static regex")
    });
    let typed = RE.replace_all(sql, "$$$2::$1");
    EXTRACT.replace_all(&typed, "date_part($$$1, ").into_owned()
}

/// A unit, field, format or time zone the application writes as a
/// constant, by the call `$i` is an argument of: a typical value, said to
/// be one. pg_stat_statements keeps none of them.
fn role(sql: &str, i: usize) -> Option<Source> {
    let re = Regex::new(&format!(r"\${i}(?:\D|$)")).expect("built regex");
    let zone =
        Regex::new(&format!(r"(?i)at\s+time\s+zone\s+\(?\s*\${i}(?:\D|$)")).expect("built regex");
    let typical = |value: &str, what: &str| Source::Constant {
        value: quote_literal(value),
        why: format!(
            "a typical {what}; pg_stat_statements keeps no constant, write the application's"
        ),
    };
    if zone.is_match(sql) {
        return Some(typical("UTC", "time zone"));
    }
    let found = re.find_iter(sql).find_map(|m| {
        let (name, arg) = enclosing_call(&sql[..m.start()])?;
        match (name.to_ascii_lowercase().as_str(), arg) {
            ("date_trunc", 0) => Some(typical("day", "date_trunc unit")),
            ("date_part", 0) => Some(typical("epoch", "date_part field")),
            ("to_char", 1) => Some(typical("YYYY-MM-DD", "to_char format")),
            ("timezone", 0) => Some(typical("UTC", "time zone")),
            _ => None,
        }
    });
    found
}

/// The function whose argument list `before` (a statement's text up to a
/// point) ends inside, and which argument: the name before the nearest
/// unclosed `(`, and the commas at that depth since.
fn enclosing_call(before: &str) -> Option<(&str, usize)> {
    let (mut depth, mut commas) = (0usize, 0usize);
    for (at, ch) in before.char_indices().rev() {
        match ch {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let head = before[..at].trim_end();
                let start = head
                    .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(0, |p| p + 1);
                return Some((&head[start..], commas));
            }
            ',' if depth == 0 => commas += 1,
            _ => {}
        }
    }
    None
}

/// For a parameter the plan does not compare with a column: a stand-in of
/// its type when its value picks no rows (it is in no condition of the
/// plan: the select list, a GROUP or ORDER key), or when the plan compares
/// it only with another parameter (an ORM's `1 = 1`, where both get the
/// same value). `None` when it filters rows some other way.
fn stand_in(i: usize, types: &[String], uses: &scans::ParamUse) -> Option<Source> {
    let ty = types.get(i.checked_sub(1)?)?;
    if ty == "interval" {
        // A window or a step (`created_at + $6`): no column holds it.
        return Some(Source::Constant {
            value: "'1 hour'".into(),
            why:
                "a typical interval; pg_stat_statements keeps no constant, write the application's"
                    .into(),
        });
    }
    let pair = uses
        .with_each_other
        .iter()
        .find(|&&(a, b)| a == i || b == i)
        .map(|&(a, b)| a.min(b));
    // Text stand-ins differ by parameter (`select $15 as level … union
    // select $16`), except a pair's, which must be equal.
    let text = format!("'{}'", pair.unwrap_or(i));
    let value = match ty.as_str() {
        "smallint" | "integer" | "bigint" | "numeric" | "real" | "double precision" => "1",
        "text" | "character varying" | "character" | "name" => text.as_str(),
        "boolean" => "true",
        "timestamp with time zone" | "timestamp without time zone" | "date" => "'now'",
        "uuid" => "'00000000-0000-0000-0000-000000000000'",
        _ => return None,
    };
    let why = if pair.is_some() {
        "compared only with another parameter (an ORM's 1 = 1): both get the same stand-in"
    } else if !uses.in_conditions.contains(&i) {
        "in no condition of the plan (the select list, a GROUP or ORDER key), so its value picks no rows; a stand-in for the application's literal"
    } else {
        return None;
    };
    Some(Source::Constant {
        value: value.into(),
        why: why.into(),
    })
}

/// Whether `$i` is the argument of `LIMIT` or `OFFSET` in `sql`.
fn clause_param(sql: &str, clause: &str, i: usize) -> bool {
    let re = Regex::new(&format!(r"(?i)\b{clause}\s+\(?\s*\${i}\b")).expect("built regex");
    re.is_match(sql)
}

/// One query returning rows of parameters, `$1` first: the values of one
/// table's columns from the same rows, drawn in random order so that
/// frequent values stay frequent; tables are drawn independently, side by
/// side. A column two parameters compare with (`BETWEEN $2 AND $3`) is a
/// range: from the values of two rows drawn independently, the smaller
/// for the first parameter and the larger for the second.
pub fn sample_sql(sources: &[Source]) -> String {
    // A draw is (table, occurrence): the k-th parameter on one column of
    // a table comes from the table's k-th independent draw.
    let mut draws: Vec<(&str, usize, Vec<&str>)> = Vec::new();
    let mut recorded: Vec<String> = Vec::new();
    let mut select: Vec<String> = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let (table, column) = match s {
            Source::Column { table, column } => (table.as_str(), column.as_str()),
            Source::Constant { value, .. } => {
                select.push(value.clone());
                continue;
            }
            Source::Unresolved(_) => {
                select.push("NULL".into());
                continue;
            }
            Source::Recorded { values, .. } => {
                select.push(format!("r{}.v", recorded.len()));
                recorded.push(recorded_draw(recorded.len(), values));
                continue;
            }
        };
        let same = |x: &Source| matches!(x, Source::Column { table: t, column: c } if t == table && c == column);
        let k = sources[..i].iter().filter(|x| same(x)).count();
        let uses = sources.iter().filter(|x| same(x)).count();
        let mut alias = |k: usize| {
            let d = match draws.iter().position(|d| d.0 == table && d.1 == k) {
                Some(d) => d,
                None => {
                    draws.push((table, k, Vec::new()));
                    draws.len() - 1
                }
            };
            if !draws[d].2.contains(&column) {
                draws[d].2.push(column);
            }
            format!("t{d}.{}", quote_ident(column))
        };
        select.push(match (uses, k) {
            (2, 0) => format!("least({}, {})", alias(0), alias(1)),
            (2, _) => format!("greatest({}, {})", alias(0), alias(1)),
            _ => alias(k),
        });
    }
    let from: Vec<String> = draws
        .iter()
        .enumerate()
        .map(|(d, (table, _, cols))| draw_sql(d, table, cols))
        .chain(recorded)
        .collect();
    let mut sql = format!("{SAMPLE_MARK} SELECT {}", select.join(", "));
    if let Some((first, rest)) = from.split_first() {
        sql.push_str(&format!("\n  FROM {first}"));
        for f in rest {
            sql.push_str(&format!("\n  JOIN {f} USING (n)"));
        }
    }
    sql
}

/// Recorded constants as rows `r{k}.v`, numbered `n`: each repeated in
/// proportion to its executions, in random order.
fn recorded_draw(k: usize, values: &[(String, i64)]) -> String {
    let total: i64 = values.iter().map(|v| v.1).sum::<i64>().max(1);
    let rows: Vec<String> = values
        .iter()
        .map(|(v, n)| {
            let times = ((SAMPLE_ROWS as i64 * n) as f64 / total as f64)
                .round()
                .max(1.0);
            format!("({v}, {times})")
        })
        .collect();
    format!(
        "(SELECT v, row_number() OVER () AS n FROM (SELECT v FROM (VALUES {}) c(v, w), generate_series(1, w) ORDER BY random() LIMIT {SAMPLE_ROWS}) s) r{k}",
        rows.join(", ")
    )
}

/// One independent draw of `cols` of `table`, numbered `n` by row.
fn draw_sql(d: usize, table: &str, cols: &[&str]) -> String {
    let cols: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
    let not_null: Vec<String> = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect();
    format!(
        "(SELECT {}, row_number() OVER () AS n FROM (SELECT {} FROM {} WHERE {} ORDER BY random() LIMIT {SAMPLE_ROWS}) s) t{d}",
        cols.join(", "),
        cols.join(", "),
        quote_ident(table),
        not_null.join(" AND ")
    )
}

/// `sql` with each `$n` not already cast written `$n::type`.
pub fn with_casts(sql: &str, types: &[String]) -> String {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\$(\d+)(::)?").expect("static regex"));
    let mut out = String::new();
    let mut last = 0;
    let mut quoted = false;
    for m in RE.captures_iter(sql) {
        let whole = m.get(0).expect("match");
        quoted ^= sql[last..whole.start()].matches('\'').count() % 2 == 1;
        out.push_str(&sql[last..whole.end()]);
        last = whole.end();
        let n: usize = m[1].parse().unwrap_or(0);
        if quoted || m.get(2).is_some() {
            continue;
        }
        if let Some(t) = n.checked_sub(1).and_then(|i| types.get(i)) {
            if t != "unknown" {
                out.push_str(&format!("::{t}"));
            }
        }
    }
    out.push_str(&sql[last..]);
    out
}

/// The highest `$n` in a statement.
pub fn max_param(sql: &str) -> usize {
    static RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\$(\d+)").expect("static regex"));
    RE.captures_iter(sql)
        .filter_map(|c| c[1].parse().ok())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_go_on_bare_parameters_only() {
        let t = vec!["integer".to_string(), "\"ConversationStatus\"".into()];
        assert_eq!(
            with_casts("SELECT '$1' WHERE a = $1 AND b = $2 AND c = $1::int", &t),
            "SELECT '$1' WHERE a = $1::integer AND b = $2::\"ConversationStatus\" AND c = $1::int"
        );
    }

    #[test]
    fn a_sample_draws_one_tables_parameters_from_the_same_rows() {
        let col = |t: &str, c: &str| Source::Column {
            table: t.into(),
            column: c.into(),
        };
        let s = sample_sql(&[
            col("Conversation", "assignedTo"),
            Source::Constant {
                value: "50".into(),
                why: String::new(),
            },
            col("Conversation", "source"),
        ]);
        assert_eq!(
            s,
            "/* helpdesk-bench sample */ SELECT t0.\"assignedTo\", 50, t0.\"source\"\n  FROM (SELECT \"assignedTo\", \"source\", row_number() OVER () AS n FROM (SELECT \"assignedTo\", \"source\" FROM \"Conversation\" WHERE \"assignedTo\" IS NOT NULL AND \"source\" IS NOT NULL ORDER BY random() LIMIT 200) s) t0"
        );
        let range = sample_sql(&[
            col("website_event", "created_at"),
            col("website_event", "created_at"),
        ]);
        assert_eq!(
            range,
            "/* helpdesk-bench sample */ SELECT least(t0.\"created_at\", t1.\"created_at\"), greatest(t0.\"created_at\", t1.\"created_at\")\n  FROM (SELECT \"created_at\", row_number() OVER () AS n FROM (SELECT \"created_at\" FROM \"website_event\" WHERE \"created_at\" IS NOT NULL ORDER BY random() LIMIT 200) s) t0\n  JOIN (SELECT \"created_at\", row_number() OVER () AS n FROM (SELECT \"created_at\" FROM \"website_event\" WHERE \"created_at\" IS NOT NULL ORDER BY random() LIMIT 200) s) t1 USING (n)"
        );
        assert!(clause_param("SELECT 1 LIMIT $3 OFFSET $4", "LIMIT", 3));
        assert!(!clause_param("SELECT 1 LIMIT $3 OFFSET $4", "LIMIT", 4));
    }

    #[test]
    fn constants_the_application_writes_are_read_from_their_call() {
        let sql = "select to_char(date_trunc($1, created_at at time zone $2), $3), \
                   extract($4 from t.max_time - t.min_time), t.min_time + interval $5, \
                   date_part($6, now()), to_char(now(), 'x') = $7, coalesce($8, 1)";
        let sql = typed_literals(sql);
        assert!(sql.contains("t.min_time + $5::interval,"), "{sql}");
        assert!(
            sql.contains("date_part($4, t.max_time - t.min_time)"),
            "{sql}"
        );
        let value = |i| match role(&sql, i) {
            Some(Source::Constant { value, .. }) => Some(value),
            _ => None,
        };
        assert_eq!(value(1).as_deref(), Some("'day'"));
        assert_eq!(value(2).as_deref(), Some("'UTC'"));
        assert_eq!(value(3).as_deref(), Some("'YYYY-MM-DD'"));
        assert_eq!(value(4).as_deref(), Some("'epoch'"));
        assert_eq!(value(5), None, "an interval is the plan's, or a stand-in");
        assert_eq!(value(6).as_deref(), Some("'epoch'"));
        assert_eq!(value(7), None);
        assert_eq!(value(8), None);
    }

    #[test]
    fn case_branches_become_numbers_only_where_bare() {
        assert_eq!(
            numeric_case_branches("sum(case when c = $1 then $2 else $3::int end)").as_deref(),
            Some("sum(case when c = $1 then $2::numeric else $3::int end)")
        );
        assert_eq!(numeric_case_branches("case when a then $1::int end"), None);
    }

    #[test]
    fn a_stand_in_only_where_the_value_picks_no_rows() {
        let types: Vec<String> = ["integer", "text", "text", "integer", "point"]
            .map(String::from)
            .to_vec();
        let uses = scans::ParamUse {
            in_conditions: [2, 3, 4].into(),
            with_each_other: vec![(2, 3)],
        };
        let value = |i| match stand_in(i, &types, &uses) {
            Some(Source::Constant { value, .. }) => Some(value),
            _ => None,
        };
        assert_eq!(value(1).as_deref(), Some("1"), "select list");
        assert_eq!(value(2).as_deref(), Some("'2'"), "1 = 1");
        assert_eq!(value(3).as_deref(), Some("'2'"), "1 = 1");
        assert_eq!(value(4), None, "a filter on an expression");
        assert_eq!(value(5), None, "no stand-in of its type");
        assert!(writes("  INSERT INTO t VALUES ($1)") && !writes("SELECT $1"));
        assert!(!clause_param("SELECT 1 LIMIT $3 OFFSET $4", "LIMIT", 4));
    }

    #[test]
    fn recorded_constants_are_used_only_where_they_look_like_literals() {
        let c = Compared {
            param: 1,
            table: "t".into(),
            column: "state".into(),
        };
        let two = [("'a'::text".to_string(), 30), ("'b'::text".to_string(), 10)];
        // A column of few values: drawn at the recorded shares.
        let Some(Source::Recorded { why, .. }) = from_recorded(&c, &two, 3.0) else {
            panic!("few values are drawn from the recorded constants");
        };
        assert!(why.contains("'a'::text 75%, 'b'::text 25%"), "{why}");
        // Many values, several constants: user input, sampled instead.
        assert_eq!(from_recorded(&c, &two, -0.5), None);
        // Many values, one constant seen often: a literal.
        let one = [("7::integer".to_string(), LITERAL_SEEN)];
        assert!(
            matches!(from_recorded(&c, &one, -0.5), Some(Source::Constant { value, .. }) if value == "7::integer")
        );
        let rare = [("7::integer".to_string(), LITERAL_SEEN - 1)];
        assert_eq!(from_recorded(&c, &rare, -0.5), None);
        // A value pg_qualstats may have cut short is never written.
        let long = [(format!("'{}'::text", "x".repeat(80)), 50)];
        assert_eq!(from_recorded(&c, &long, 3.0), None);
        let sql = sample_sql(&[
            Source::Recorded {
                values: two.to_vec(),
                why: String::new(),
            },
            Source::Constant {
                value: "50".into(),
                why: String::new(),
            },
        ]);
        assert!(
            sql.contains("SELECT r0.v, 50") && sql.contains("('a'::text, 150), ('b'::text, 50)"),
            "{sql}"
        );
    }
}
