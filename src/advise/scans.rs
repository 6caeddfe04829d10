//! What a generic plan says a query needs from an index. Each catalogue
//! read is planned generically (`PREPARE` under `plan_cache_mode =
//! force_generic_plan`, then `EXPLAIN (VERBOSE, FORMAT JSON)`), so a
//! parameter shows as `$1` and a constant as itself: the server, not a
//! hand-written SQL parser, says which table each scan reads, which
//! equality conditions it filters by (`Filter`), how the rows are ordered
//! (`Sort Key`) or grouped (`Group Key`), and which columns it returns
//! (`Output`).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;
use tokio_postgres::Client;

use crate::error::{Context, Result};
use crate::explain::Plan;
use crate::queries::Query;
use crate::sql::unquote;

/// One key column of a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub column: String,
    pub desc: bool,
}

/// What one scan of a generic plan needs from an index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    pub table: String,
    /// Equality conditions: column, and `None` for a parameter or the
    /// constant as the plan prints it (`'agent'::text`).
    pub equals: Vec<(String, Option<String>)>,
    /// ORDER BY, else GROUP BY, columns of this table.
    pub order: Vec<Key>,
    /// Columns the scan returns.
    pub output: Vec<String>,
}

fn conjunct() -> &'static Regex {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^\(*(?:"?[\w ]+"?\.)?("(?:[^"]|"")+"|\w+) = (\$\d+|'(?:[^']|'')*'(?:::[\w" ]+)?)\)*$"#)
            .expect("static regex")
    });
    &RE
}

fn sort_key() -> &'static Regex {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^(?:("?[\w ]+"?)\.)?("(?:[^"]|"")+"|\w+)( DESC)?(?: NULLS (?:FIRST|LAST))?$"#)
            .expect("static regex")
    });
    &RE
}

/// The scans of a generic `EXPLAIN (VERBOSE, FORMAT JSON)` plan, each with
/// the sort or group keys of the nodes above it that name its table.
pub fn scans(plan: &Plan) -> Vec<Scan> {
    let mut out = Vec::new();
    if let Some(root) = plan.root() {
        walk(root, &[], &mut out);
    }
    out
}

fn walk(node: &Value, keys_above: &[String], out: &mut Vec<Scan>) {
    let mut keys: Vec<String> = keys_above.to_vec();
    for field in ["Sort Key", "Presorted Key", "Group Key"] {
        if keys.is_empty() {
            keys.extend(strings(node, field));
        }
    }
    if let Some(table) = node.get("Relation Name").and_then(Value::as_str) {
        let alias = node.get("Alias").and_then(Value::as_str).unwrap_or(table);
        out.push(scan_of(node, table, alias, &keys));
    }
    if let Some(children) = node.get("Plans").and_then(Value::as_array) {
        for c in children {
            walk(c, &keys, out);
        }
    }
}

fn strings(node: &Value, field: &str) -> Vec<String> {
    node.get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn scan_of(node: &Value, table: &str, alias: &str, keys: &[String]) -> Scan {
    let filter = node.get("Filter").and_then(Value::as_str).unwrap_or("");
    let equals = split_and(filter)
        .iter()
        .filter_map(|c| conjunct().captures(c.trim()))
        .map(|c| {
            let value = &c[2];
            (
                unquote(&c[1]),
                (!value.starts_with('$')).then(|| value.to_string()),
            )
        })
        .collect();
    let order = keys
        .iter()
        .filter_map(|k| sort_key().captures(k.trim()))
        .filter(|c| c.get(1).is_none_or(|q| unquote(q.as_str()) == alias))
        .map(|c| Key {
            column: unquote(&c[2]),
            desc: c.get(3).is_some(),
        })
        .collect();
    let output = strings(node, "Output")
        .iter()
        .map(|o| unquote(o.rsplit('.').next().unwrap_or(o)))
        .collect();
    Scan {
        table: table.to_string(),
        equals,
        order,
        output,
    }
}

/// A filter's top-level `AND` conjuncts, outer parentheses removed.
fn split_and(filter: &str) -> Vec<String> {
    split_top(filter, " AND ")
}

/// A filter's top-level parts between `sep` (` AND `, ` OR `), outer
/// parentheses removed.
fn split_top(filter: &str, sep: &str) -> Vec<String> {
    let mut s = filter.trim();
    while s.starts_with('(') && s.ends_with(')') && balanced(&s[1..s.len() - 1]) {
        s = &s[1..s.len() - 1];
    }
    let (mut out, mut depth, mut quote, mut start) = (Vec::new(), 0i32, false, 0);
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => quote = !quote,
            b'(' if !quote => depth += 1,
            b')' if !quote => depth -= 1,
            b' ' if !quote && depth == 0 && s[i..].starts_with(sep) => {
                out.push(s[start..i].to_string());
                start = i + sep.len();
                i += sep.len() - 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(s[start..].to_string());
    out
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

/// The generic plan of a read query, `$n` left as parameters.
pub async fn generic_plan(client: &Client, q: &Query) -> Result<Plan> {
    let doing = format!("planning {} generically", q.name);
    let types = vec!["text"; q.params];
    prepare_generic(client, ADVISE_STATEMENT, &q.statements[0], Some(&types))
        .await
        .context(&doing)?;
    let planned = explain_prepared(client, ADVISE_STATEMENT, q.params, &doing).await;
    deallocate(client, ADVISE_STATEMENT).await.context(&doing)?;
    planned
}

/// The prepared statement's name while advise plans a query.
const ADVISE_STATEMENT: &str = "helpdesk_bench_advise";

/// `PREPARE name[(types)] AS sql` under `plan_cache_mode =
/// force_generic_plan`; without `types` the server infers each `$n`'s
/// type, as `pg_prepared_statements.parameter_types` then shows.
pub async fn prepare_generic(
    client: &Client,
    name: &str,
    sql: &str,
    types: Option<&[&str]>,
) -> std::result::Result<(), tokio_postgres::Error> {
    let decl = match types {
        Some(t) if !t.is_empty() => format!("({})", t.join(", ")),
        _ => String::new(),
    };
    client
        .batch_execute(&format!(
            "SET plan_cache_mode = force_generic_plan; PREPARE {name}{decl} AS {sql}"
        ))
        .await
}

/// `EXPLAIN (VERBOSE, FORMAT JSON)` of a statement [`prepare_generic`]
/// prepared, executed with `params` NULLs; `doing` names it in errors.
pub async fn explain_prepared(
    client: &Client,
    name: &str,
    params: usize,
    doing: &str,
) -> Result<Plan> {
    let args = match params {
        0 => String::new(),
        n => format!("({})", vec!["NULL"; n].join(", ")),
    };
    let row = client
        .query_one(
            &format!("EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE {name}{args}"),
            &[],
        )
        .await
        .context(doing)?;
    let json: crate::explain::JsonText = row.get(0);
    Plan::from_json(&json.0)
}

/// Drops what [`prepare_generic`] prepared and resets the plan cache mode.
pub async fn deallocate(
    client: &Client,
    name: &str,
) -> std::result::Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!("DEALLOCATE {name}; RESET plan_cache_mode"))
        .await
}

/// One `$n` of a generic plan and the column a condition compares it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compared {
    /// The parameter's number (`$1` is 1).
    pub param: usize,
    pub table: String,
    pub column: String,
}

/// A condition comparing one qualified column with one parameter, once
/// casts and parentheses are gone: `t.col OP $n`, `t.col = ANY $n` or
/// `$n OP t.col`.
fn column_vs_param() -> &'static Regex {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        let col = r#"("(?:[^"]|"")+"|[A-Za-z_]\w*)\.("(?:[^"]|"")+"|[A-Za-z_]\w*)"#;
        let op = r"(?:=|<>|!=|<=|>=|<|>|~~\*?|!~~\*?)";
        Regex::new(&format!(
            r"^(?:{col}\s*{op}\s*(?:ANY\s*)?\$(\d+)|\$(\d+)\s*{op}\s*{col})$"
        ))
        .expect("static regex")
    });
    &RE
}

/// `::type` casts, as EXPLAIN prints them.
fn cast() -> &'static Regex {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"::(?:"(?:[^"]|"")+"|[a-z_]\w*(?: (?:with|without) time zone| varying| precision)?)(?:\[\])?"#)
            .expect("static regex")
    });
    &RE
}

/// Each `$n` that a condition of the plan (filter, index or join
/// condition) compares with a column of a scanned table, and nothing
/// else: `t.col = $1`, `t.col >= $2`, `t.col = ANY ($3)`, casts aside. A
/// parameter inside an expression (`date_trunc($1, t.col)`) is not one.
/// `EXPLAIN (VERBOSE)` prints every column qualified by its table's alias.
pub fn compared(plan: &Plan) -> Vec<Compared> {
    let mut aliases = Vec::new();
    let mut conditions = Vec::new();
    if let Some(root) = plan.root() {
        collect(root, &mut aliases, &mut conditions);
    }
    let mut out: Vec<Compared> = Vec::new();
    // `(a <> $1) OR (a IS NULL)` compares `a` with `$1` too.
    let parts = conditions
        .iter()
        .flat_map(|c| split_and(c))
        .flat_map(|p| split_top(&p, " OR "));
    for part in parts {
        let bare = cast().replace_all(&part, "").replace(['(', ')'], "");
        let Some(c) = column_vs_param().captures(bare.trim()) else {
            continue;
        };
        let (alias, column, param) = match (c.get(1), c.get(3)) {
            (Some(a), Some(p)) => (a.as_str(), &c[2], p.as_str()),
            _ => (&c[5], &c[6], &c[4]),
        };
        let Some(table) = aliases.iter().find(|(a, _)| *a == unquote(alias)) else {
            continue;
        };
        let param = param.parse().unwrap_or(0);
        if param > 0 && !out.iter().any(|c| c.param == param) {
            out.push(Compared {
                param,
                table: table.1.clone(),
                column: unquote(column),
            });
        }
    }
    out.sort_by_key(|c| c.param);
    out
}

/// What the plan's conditions (filters, index, join and one-time
/// conditions) do with parameters: every `$n` they mention, and the pairs
/// of parameters compared with each other (`$2 = $3`, an ORM's `1 = 1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamUse {
    pub in_conditions: std::collections::BTreeSet<usize>,
    pub with_each_other: Vec<(usize, usize)>,
}

/// [`ParamUse`] of a generic plan.
pub fn param_use(plan: &Plan) -> ParamUse {
    static PARAM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\$(\d+)").expect("static regex"));
    static PAIR: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\$(\d+)\s*(?:=|<>|!=)\s*\$(\d+)$").expect("static regex"));
    let mut aliases = Vec::new();
    let mut conditions = Vec::new();
    if let Some(root) = plan.root() {
        collect(root, &mut aliases, &mut conditions);
    }
    let mut out = ParamUse::default();
    for cond in &conditions {
        out.in_conditions.extend(
            PARAM
                .captures_iter(cond)
                .filter_map(|c| c[1].parse::<usize>().ok()),
        );
        for part in split_and(cond) {
            let bare = cast().replace_all(&part, "").replace(['(', ')'], "");
            if let Some(c) = PAIR.captures(bare.trim()) {
                if let (Ok(a), Ok(b)) = (c[1].parse(), c[2].parse()) {
                    out.with_each_other.push((a, b));
                }
            }
        }
    }
    out
}

const CONDITIONS: &[&str] = &[
    "One-Time Filter",
    "Filter",
    "Index Cond",
    "Recheck Cond",
    "Join Filter",
    "Hash Cond",
    "Merge Cond",
    "TID Cond",
];

fn collect(node: &Value, aliases: &mut Vec<(String, String)>, conds: &mut Vec<String>) {
    if let Some(table) = node.get("Relation Name").and_then(Value::as_str) {
        let alias = node.get("Alias").and_then(Value::as_str).unwrap_or(table);
        aliases.push((alias.to_string(), table.to_string()));
    }
    for field in CONDITIONS {
        if let Some(c) = node.get(*field).and_then(Value::as_str) {
            conds.push(c.to_string());
        }
    }
    if let Some(children) = node.get("Plans").and_then(Value::as_array) {
        for c in children {
            collect(c, aliases, conds);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn plan(json: &str) -> Plan {
        Plan::from_json(json).unwrap()
    }

    /// A generic plan of the agents' recent messages: a sequential scan
    /// filtered on a constant, sorted, limited.
    pub(crate) const AGENT: &str = r#"[{"Plan": {"Node Type": "Limit", "Output": ["id"], "Plans": [
        {"Node Type": "Sort", "Sort Key": ["\"Message\".\"createdAt\" DESC"], "Plans": [
          {"Node Type": "Seq Scan", "Relation Name": "Message", "Alias": "Message",
           "Output": ["id", "\"conversationId\"", "content", "\"createdAt\""],
           "Filter": "(\"Message\".role = 'agent'::text)"}]}]}}]"#;

    #[test]
    fn reads_filters_sort_keys_and_outputs_from_a_generic_plan() {
        let s = scans(&plan(AGENT));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].table, "Message");
        assert_eq!(s[0].equals, [("role".into(), Some("'agent'::text".into()))]);
        assert_eq!(
            s[0].order,
            [Key {
                column: "createdAt".into(),
                desc: true
            }]
        );
        assert_eq!(
            s[0].output,
            ["id", "conversationId", "content", "createdAt"]
        );

        let two = r#"[{"Plan": {"Node Type": "Seq Scan", "Relation Name": "Conversation",
            "Alias": "Conversation", "Output": ["id"],
            "Filter": "((\"Conversation\".status = 'AWAITING_HUMAN_RESPONSE'::\"ConversationStatus\") AND (\"Conversation\".\"assignedTo\" = $1))"}}]"#;
        let s = scans(&plan(two));
        let range = r#"[{"Plan": {"Node Type": "Index Scan", "Relation Name": "website_event",
            "Alias": "w", "Output": ["id"],
            "Index Cond": "((w.website_id = $1) AND (w.created_at >= $2) AND (w.created_at <= $3))",
            "Filter": "(((to_char(date_trunc($4, (w.created_at AT TIME ZONE $5)), $6))::date - 1) <= $7) AND ((w.url_path)::text = ANY (($8)::text[]))"}}]"#;
        let cmp: Vec<(usize, String)> = compared(&plan(range))
            .into_iter()
            .map(|c| (c.param, c.column))
            .collect();
        assert_eq!(
            cmp,
            [
                (1, "website_id".into()),
                (2, "created_at".into()),
                (3, "created_at".into()),
                (8, "url_path".into())
            ]
        );
        assert_eq!(
            compared(&plan(two)),
            [Compared {
                param: 1,
                table: "Conversation".into(),
                column: "assignedTo".into()
            }]
        );
        assert_eq!(
            s[0].equals,
            [
                (
                    "status".into(),
                    Some("'AWAITING_HUMAN_RESPONSE'::\"ConversationStatus\"".into())
                ),
                ("assignedTo".into(), None)
            ]
        );
    }
}
