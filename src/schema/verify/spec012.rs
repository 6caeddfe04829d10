//! Migration 012's own spec checks (fixtures' `help-desk-schema-012.md`,
//! "Testing"): existing users and conversations got their defaults, new
//! conversations take the help-desk fields, the indexes exist and the
//! planner can use them, role-based queries work, and the column comment is
//! updated; plus the read-only variants for a database the tool must not
//! change.

use serde_json::Value;
use tokio_postgres::Client;

use super::Check;
use crate::error::{Context, Error, Result};
use crate::schema::migrate::column_comment;
use crate::schema::migration::{IndexDef, Migration};
use crate::sql::{quote_ident, unquote};

/// The spec checks on a fresh database with 012 just applied, in the order
/// `verify` prints them.
pub(super) async fn applied(client: &mut Client, m: &Migration) -> Result<Vec<Check>> {
    let mut checks = vec![
        existing_have_default(client, "User", "role", "user").await?,
        existing_have_default(client, "Conversation", "status", "AI_HANDLING").await?,
        new_conversation(client).await?,
    ];
    checks.extend(index_checks(client, m).await?);
    checks.push(role_queries(client).await?);
    checks.push(comment_check(client, m).await?);
    Ok(checks)
}

/// The spec checks that only read, on a database where 012 is applied.
pub(super) async fn read_only(client: &mut Client, m: &Migration) -> Result<Vec<Check>> {
    let mut checks = vec![
        every_row_has(client, "User", "role").await?,
        every_row_has(client, "Conversation", "status").await?,
        defaults(client, m).await?,
    ];
    checks.extend(index_checks(client, m).await?);
    checks.push(comment_check(client, m).await?);
    Ok(checks)
}

/// Spec checks 1 and 2: existing rows got the column's default.
async fn existing_have_default(
    client: &Client,
    table: &str,
    column: &str,
    value: &str,
) -> Result<Check> {
    let sql = format!(
        "SELECT count(*), count(*) FILTER (WHERE {c}::text = $1) FROM {t}",
        c = quote_ident(column),
        t = quote_ident(table)
    );
    let row = client
        .query_one(&sql, &[&value])
        .await
        .context(format!("counting {table}.{column}"))?;
    let (all, matching): (i64, i64) = (row.get(0), row.get(1));
    Ok(Check::new(
        format!("existing {table} rows have {column} '{value}'"),
        all > 0 && all == matching,
        format!("{matching} of {all}"),
    ))
}

/// Spec check 3: a conversation with every help-desk field can be created,
/// and defaults fill what is left out. Rolled back afterwards.
async fn new_conversation(client: &mut Client) -> Result<Check> {
    let tx = client
        .transaction()
        .await
        .context("starting a transaction")?;
    let sql = r#"
        INSERT INTO "User" (id, email, "updatedAt", role)
             VALUES ('verify-agent', 'agent@verify.test', now(), 'staff');
        INSERT INTO "User" (id, email, "updatedAt")
             VALUES ('verify-plain', 'plain@verify.test', now());
        INSERT INTO "Conversation" (id, "updatedAt", status, "customerEmail", source, "assignedTo")
             VALUES ('verify-conv', now(), 'AWAITING_HUMAN_RESPONSE', 'visitor@verify.test',
                     'docs-widget', 'verify-agent');
        INSERT INTO "Conversation" (id, "updatedAt") VALUES ('verify-default', now());
        INSERT INTO "Message" (id, "conversationId", role, content)
             VALUES ('verify-msg', 'verify-conv', 'agent', 'A human agent here.');
    "#;
    let outcome = match tx.batch_execute(sql).await {
        Err(e) => Check::new(
            "new conversations can be created with help-desk fields",
            false,
            e.as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string()),
        ),
        Ok(()) => {
            let row = tx
                .query_one(
                    r#"SELECT (SELECT status::text || '/' || "customerEmail" || '/' || source || '/' || "assignedTo"
                                 FROM "Conversation" WHERE id = 'verify-conv'),
                              (SELECT status::text FROM "Conversation" WHERE id = 'verify-default'),
                              (SELECT role::text FROM "User" WHERE id = 'verify-plain'),
                              (SELECT count(*) FROM "Message" WHERE id = 'verify-msg' AND role = 'agent')"#,
                    &[],
                )
                .await
                .context("reading back the new conversation")?;
            let (full, default_status, default_role, agent): (String, String, String, i64) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            let ok = full == "AWAITING_HUMAN_RESPONSE/visitor@verify.test/docs-widget/verify-agent"
                && default_status == "AI_HANDLING"
                && default_role == "user"
                && agent == 1;
            Check::new(
                "new conversations can be created with help-desk fields",
                ok,
                format!(
                    "stored {full}; defaults status={default_status} role={default_role}; agent messages={agent}"
                ),
            )
        }
    };
    tx.rollback().await.context("rolling back the test rows")?;
    Ok(outcome)
}

/// Spec check 4: each index exists, is valid, has the migration's columns,
/// and the planner can use it. That the indexes make queries faster is what
/// the benchmarks measure.
async fn index_checks(client: &mut Client, m: &Migration) -> Result<Vec<Check>> {
    Ok(vec![
        index_definitions(client, m).await?,
        planner_check(client, m).await?,
    ])
}

/// Each index exists, is valid, and has the migration's key columns.
async fn index_definitions(client: &Client, m: &Migration) -> Result<Check> {
    let mut defs = Vec::new();
    let mut bad = Vec::new();
    for ix in m.indexes() {
        let row = client
            .query_opt(
                "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid),
                        (SELECT array_agg(pg_get_indexdef(i.indexrelid, k, true) ORDER BY k)
                           FROM generate_series(1, i.indnkeyatts) AS k)
                   FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
                &[&quote_ident(&ix.name)],
            )
            .await
            .context("reading index definitions")?;
        let Some(r) = row else {
            bad.push(format!("{} missing", ix.name));
            continue;
        };
        let valid: bool = r.get(0);
        let cols: Vec<String> = r.get(2);
        let cols: Vec<String> = cols.iter().map(|c| unquote(c)).collect();
        if !valid {
            bad.push(format!("{} invalid", ix.name));
        } else if cols != ix.columns {
            bad.push(format!(
                "{} on ({}), expected ({})",
                ix.name,
                cols.join(", "),
                ix.columns.join(", ")
            ));
        } else {
            defs.push(ix.name.clone());
        }
    }
    Ok(Check::new(
        format!(
            "{} indexes exist with the migration's names and columns",
            m.indexes().len()
        ),
        bad.is_empty(),
        if bad.is_empty() {
            defs.join(", ")
        } else {
            bad.join("; ")
        },
    ))
}

/// The planner picks each index for an `ORDER BY` of its own columns.
async fn planner_check(client: &mut Client, m: &Migration) -> Result<Check> {
    let mut unused = Vec::new();
    let mut notes = Vec::new();
    for ix in m.indexes() {
        let used = planner_uses(client, ix).await?;
        if used.iter().any(|u| u == &ix.name) {
            continue;
        }
        // An index whose columns lead a wider one may lose to it; that is
        // prefix redundancy, which the benchmarks report, not a broken index.
        match used
            .iter()
            .find_map(|u| m.index(u).filter(|w| ix.is_prefix_of(w)))
        {
            Some(wider) => notes.push(format!(
                "{} lost to {} (prefix-redundant)",
                ix.name, wider.name
            )),
            None => unused.push(format!("{} (plan used: {})", ix.name, used.join(", "))),
        }
    }
    let detail = if !unused.is_empty() {
        unused.join("; ")
    } else if notes.is_empty() {
        "EXPLAIN with sequential and bitmap scans disabled".to_string()
    } else {
        format!(
            "EXPLAIN with sequential and bitmap scans disabled; {}",
            notes.join("; ")
        )
    };
    Ok(Check::new(
        "the planner uses each index for its own columns",
        unused.is_empty(),
        detail,
    ))
}

/// The indexes the planner picks for `ORDER BY` the index's columns, with
/// sequential and bitmap scans disabled, in a read-only transaction.
async fn planner_uses(client: &mut Client, ix: &IndexDef) -> Result<Vec<String>> {
    let cols: Vec<String> = ix.columns.iter().map(|c| quote_ident(c)).collect();
    let sql = format!(
        "EXPLAIN (FORMAT JSON) SELECT {cols} FROM {t} ORDER BY {cols} LIMIT 1",
        cols = cols.join(", "),
        t = quote_ident(&ix.table)
    );
    let tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .context("starting a read-only transaction")?;
    tx.batch_execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        .await
        .context("setting planner options")?;
    let text = explain_text(&tx, &sql).await?;
    tx.rollback()
        .await
        .context("ending a read-only transaction")?;
    let plan: Value = serde_json::from_str(&text).context("parsing EXPLAIN output")?;
    let mut names = Vec::new();
    index_names(&plan, &mut names);
    Ok(names)
}

/// The distinct `"Index Name"`s anywhere in EXPLAIN JSON, in plan order.
/// (The `explain` layer reads plans in full; this check needs only the names.)
fn index_names(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(fields) => {
            if let Some(name) = fields.get("Index Name").and_then(Value::as_str) {
                if !out.iter().any(|n| n == name) {
                    out.push(name.to_string());
                }
            }
            for key in ["Plan", "Plans"] {
                if let Some(child) = fields.get(key) {
                    index_names(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| index_names(i, out)),
        _ => {}
    }
}

/// Runs an EXPLAIN and returns its single text result.
async fn explain_text(client: &impl tokio_postgres::GenericClient, sql: &str) -> Result<String> {
    let rows = client.simple_query(sql).await.context("running EXPLAIN")?;
    rows.iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .ok_or_else(|| Error::Unexpected {
            doing: "explaining a query".into(),
            detail: "EXPLAIN returned no plan".into(),
        })
}

/// Spec check 5: role-based queries see the roles, and the enum rejects
/// unknown values. Rolled back afterwards.
async fn role_queries(client: &mut Client) -> Result<Check> {
    let tx = client
        .transaction()
        .await
        .context("starting a transaction")?;
    tx.batch_execute(
        r#"INSERT INTO "User" (id, email, "updatedAt", role) VALUES
             ('verify-staff', 'staff@verify.test', now(), 'staff'),
             ('verify-admin', 'admin@verify.test', now(), 'admin')"#,
    )
    .await
    .context("inserting staff and admin users")?;
    let row = tx
        .query_one(
            r#"SELECT count(*) FILTER (WHERE role IN ('staff', 'admin')),
                      count(*) FILTER (WHERE role = 'admin'),
                      count(*) FILTER (WHERE role = 'user')
                 FROM "User""#,
            &[],
        )
        .await
        .context("counting users by role")?;
    let (helpdesk, admins, users): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    let rejected = tx
        .batch_execute("SAVEPOINT bad; SELECT 'superuser'::\"UserRole\"")
        .await
        .is_err();
    tx.rollback().await.context("rolling back the test rows")?;
    Ok(Check::new(
        "role-based queries work",
        helpdesk == 2 && admins == 1 && users > 0 && rejected,
        format!(
            "staff+admin={helpdesk}, admin={admins}, user={users}, unknown role {}",
            if rejected { "rejected" } else { "accepted" }
        ),
    ))
}

/// The column comments the migration sets are in place.
async fn comment_check(client: &Client, m: &Migration) -> Result<Check> {
    let mut found = Vec::new();
    let mut ok = !m.objects.comments.is_empty();
    for c in &m.objects.comments {
        let table = crate::sql::qualified(c.schema.as_deref(), &c.table);
        let now = column_comment(client, &table, &c.column).await?;
        ok &= now.as_deref() == Some(c.text.as_str());
        found.push(format!(
            "{}.{}: {:?}",
            c.table,
            c.column,
            now.unwrap_or_default()
        ));
    }
    Ok(Check::new("column comment updated", ok, found.join("; ")))
}

/// Read-only: no row lacks the column.
async fn every_row_has(client: &Client, table: &str, column: &str) -> Result<Check> {
    let sql = format!(
        "SELECT {c}::text, count(*) FROM {t} GROUP BY 1 ORDER BY 1",
        c = quote_ident(column),
        t = quote_ident(table)
    );
    let rows = client
        .query(&sql, &[])
        .await
        .context(format!("counting {table}.{column}"))?;
    let mut parts = Vec::new();
    let mut ok = true;
    for r in rows {
        let v: Option<String> = r.get(0);
        let n: i64 = r.get(1);
        ok &= v.is_some();
        parts.push(format!("{}={n}", v.unwrap_or_else(|| "NULL".into())));
    }
    Ok(Check::new(
        format!("every {table} row has a {column}"),
        ok,
        parts.join(", "),
    ))
}

/// Read-only: the added columns' defaults are the migration's.
async fn defaults(client: &Client, m: &Migration) -> Result<Check> {
    let mut ok = true;
    let mut parts = Vec::new();
    for c in &m.objects.columns {
        let Some(want) = default_literal(&c.definition) else {
            continue;
        };
        let row = client
            .query_opt(
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
                   JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                  WHERE d.adrelid = to_regclass($1) AND a.attname = $2",
                &[&quote_ident(&c.table), &c.column],
            )
            .await
            .context("reading column defaults")?;
        let have: String = row.map(|r| r.get(0)).unwrap_or_default();
        ok &= have.starts_with(&format!("'{want}'"));
        parts.push(format!("{}.{} = {have}", c.table, c.column));
    }
    Ok(Check::new(
        "column defaults as the migration sets them",
        ok,
        parts.join(", "),
    ))
}

/// The quoted literal after `DEFAULT` in a column definition.
fn default_literal(def: &str) -> Option<String> {
    let upper = def.to_ascii_uppercase();
    let at = upper.find("DEFAULT '")? + "DEFAULT '".len();
    let rest = &def[at..];
    Some(rest[..rest.find('\'')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_come_from_every_level_of_the_plan_in_order() {
        let plan: Value = serde_json::from_str(
            r#"[{"Plan": {"Node Type": "Limit", "Plans": [
                {"Node Type": "Index Scan", "Index Name": "a_idx"},
                {"Node Type": "Bitmap Heap Scan", "Plans": [
                    {"Node Type": "Bitmap Index Scan", "Index Name": "b_idx"},
                    {"Node Type": "Bitmap Index Scan", "Index Name": "a_idx"}]}]}}]"#,
        )
        .unwrap();
        let mut names = Vec::new();
        index_names(&plan, &mut names);
        assert_eq!(names, ["a_idx", "b_idx"]);
    }

    #[test]
    fn default_literal_reads_the_quoted_default() {
        assert_eq!(
            default_literal(r#""UserRole" NOT NULL DEFAULT 'user'"#).as_deref(),
            Some("user")
        );
        assert_eq!(default_literal("TEXT"), None);
    }
}
