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
            b' ' if !quote && depth == 0 && s[i..].starts_with(" AND ") => {
                out.push(s[start..i].to_string());
                start = i + 5;
                i += 4;
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
    let types = vec!["text"; q.params].join(", ");
    let args = vec!["NULL"; q.params].join(", ");
    let (decl, exec) = if q.params == 0 {
        (String::new(), String::new())
    } else {
        (format!("({types})"), format!("({args})"))
    };
    client
        .batch_execute(&format!(
            "SET plan_cache_mode = force_generic_plan; \
             PREPARE helpdesk_bench_advise{decl} AS {}",
            q.statements[0]
        ))
        .await
        .context(&doing)?;
    let row = client
        .query_one(
            &format!("EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE helpdesk_bench_advise{exec}"),
            &[],
        )
        .await;
    client
        .batch_execute("DEALLOCATE helpdesk_bench_advise; RESET plan_cache_mode")
        .await
        .context(&doing)?;
    let json: crate::explain::JsonText = row.context(&doing)?.get(0);
    Plan::from_json(&json.0)
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
