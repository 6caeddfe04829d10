//! Columns a query filters or groups on that have no planner statistics.
//! Right after `migrate up` the new columns have no row in `pg_stats` until
//! ANALYZE runs, so the planner guesses their selectivity and the plans
//! measured now may change after ANALYZE (or autovacuum's).

use std::sync::LazyLock;

use regex::Regex;
use tokio_postgres::Client;

use crate::error::{Context, Result};

/// Clause keywords: a clause whose columns decide selectivity (`WHERE`,
/// `ON`, `GROUP BY`) runs from its keyword to the next keyword.
static KEYWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(where|on|group\s+by|order\s+by|limit|offset|having|window|union|select|from|join|returning)\b",
    )
    .expect("valid keyword pattern")
});

/// An identifier: `"Quoted"` as written, or bare, which PostgreSQL folds to
/// lower case.
static IDENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""((?:[^"]|"")+)"|\b([A-Za-z_][A-Za-z0-9_$]*)\b"#)
        .expect("valid identifier pattern")
});

/// String literals, dropped before looking for identifiers.
static LITERAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"'(?:[^']|'')*'").expect("valid literal pattern"));

/// The identifiers named in `sql`'s `WHERE`, `ON` and `GROUP BY` clauses,
/// without duplicates: candidates, matched against real columns later.
pub fn filter_identifiers(sql: &str) -> Vec<String> {
    let sql = LITERAL.replace_all(sql, "''");
    let keywords: Vec<_> = KEYWORD.find_iter(&sql).collect();
    let clauses = keywords.iter().enumerate().filter_map(|(i, k)| {
        let word = k.as_str().to_lowercase();
        let filters = word == "where" || word == "on" || word.starts_with("group");
        let end = keywords.get(i + 1).map_or(sql.len(), |n| n.start());
        filters.then(|| &sql[k.end()..end])
    });
    let mut out: Vec<String> = Vec::new();
    for clause in clauses {
        for id in IDENT.captures_iter(clause) {
            let name = match (id.get(1), id.get(2)) {
                (Some(q), _) => q.as_str().replace("\"\"", "\""),
                (None, Some(b)) => b.as_str().to_lowercase(),
                _ => continue,
            };
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// The columns of `relations` named in `sql`'s filters that have no row in
/// `pg_stats`, as `"Table"."column"`. Reads the catalog only.
pub async fn missing_stats(
    client: &Client,
    sql: &str,
    relations: &[String],
) -> Result<Vec<String>> {
    let names = filter_identifiers(sql);
    if names.is_empty() || relations.is_empty() {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "SELECT format('%I.%I', c.relname, a.attname)
               FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid
              WHERE c.relname = ANY($1) AND a.attname = ANY($2)
                AND a.attnum > 0 AND NOT a.attisdropped
                AND c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)
                AND NOT EXISTS (SELECT 1 FROM pg_stats s
                                 WHERE s.schemaname = n.nspname
                                   AND s.tablename = c.relname
                                   AND s.attname = a.attname)
              ORDER BY c.relname, a.attnum",
            &[&relations, &names],
        )
        .await
        .context("reading pg_stats for the query's filter columns")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_and_group_by_columns_not_select_list_or_literals() {
        let sql = r#"SELECT id, "customerEmail", source FROM "Conversation"
 WHERE status = 'AWAITING_HUMAN_RESPONSE' AND "assignedTo" = $1
 ORDER BY "createdAt" DESC LIMIT 50"#;
        assert_eq!(filter_identifiers(sql), ["status", "and", "assignedTo"]);
        let sql = r#"SELECT status, count(*) FROM "Conversation" GROUP BY status ORDER BY status"#;
        assert_eq!(filter_identifiers(sql), ["status"]);
        let sql = r#"SELECT 1 FROM "Message" m JOIN "Conversation" c ON c.id = m."conversationId" WHERE m.role = 'agent'"#;
        assert_eq!(
            filter_identifiers(sql),
            ["c", "id", "m", "conversationId", "role"]
        );
    }

    #[test]
    fn no_filter_no_candidates() {
        let sql = r#"SELECT id FROM "Message" ORDER BY "createdAt" DESC LIMIT 50"#;
        assert!(filter_identifiers(sql).is_empty());
    }
}
