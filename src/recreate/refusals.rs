//! What a scratch copy of a team's database cannot hold, found before any
//! database is created: row-level security and partitioned tables (where
//! real rows are copied), hash partitioning (where rows are generated),
//! inherited tables, foreign tables, rules, types and operators of the team's own
//! making other than enums and domains, aggregates, event triggers, and
//! extensions this server lacks. Each is one line naming the object and
//! what would make the copy possible.

use tokio_postgres::Client;

use super::catalog::{not_ext, USER_NS};
use crate::error::{Context, Result};

/// One query per kind of refusal: each row is the object, then why and
/// what to do.
fn checks(rows: Rows) -> Vec<String> {
    let class = not_ext("pg_class", "c.oid");
    let rel = "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace";
    let mut out = match rows {
        Rows::Copied => vec![
            "SELECT 'row-level security policy ' || pg_catalog.quote_ident(p.polname) || ' on ' || p.polrelid::pg_catalog.regclass::text,
                'policies are not copied, and a copy without them would answer queries its users cannot run; measure on a database without policies (a restored backup with them dropped)'
             FROM pg_catalog.pg_policy p".into(),
            format!("SELECT 'row-level security on table ' || c.oid::pg_catalog.regclass::text,
                'a copy would read rows the policies hide; measure on a database without row-level security (ALTER TABLE … DISABLE ROW LEVEL SECURITY on a restored backup)'
             {rel} WHERE c.relrowsecurity AND {USER_NS} AND {class}"),
            format!("SELECT 'partitioned table ' || c.oid::pg_catalog.regclass::text,
                'copying partitioned tables is not supported yet; use --data synth, which generates them, or a database without partitioning'
             {rel} WHERE c.relkind = 'p' AND {USER_NS} AND {class}"),
        ],
        Rows::Generated => vec![format!("SELECT 'hash-partitioned table ' || c.oid::pg_catalog.regclass::text,
                'rows generated from a partition''s statistics would not hash to that partition; use a database without hash partitioning'
             {rel} JOIN pg_catalog.pg_partitioned_table p ON p.partrelid = c.oid
             WHERE p.partstrat = 'h' AND {USER_NS} AND {class}")],
    };
    out.extend([
        format!("SELECT 'table ' || c.oid::pg_catalog.regclass::text || ' (inherits from ' || i.inhparent::pg_catalog.regclass::text || ')',
            'copying table inheritance is not supported; use a database without inherited tables'
         {rel} JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid
         WHERE c.relkind = 'r' AND NOT c.relispartition AND {USER_NS} AND {class}"),
        format!("SELECT 'foreign table ' || c.oid::pg_catalog.regclass::text,
            'its rows live on another server; use a database without foreign tables'
         {rel} WHERE c.relkind = 'f' AND {USER_NS} AND {class}"),
        format!("SELECT 'rule ' || pg_catalog.quote_ident(r.rulename) || ' on ' || c.oid::pg_catalog.regclass::text,
            'rules are not copied; drop the rule on a restored backup and measure there'
         FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE r.rulename <> '_RETURN' AND {USER_NS} AND {class}"),
        format!("SELECT CASE t.typtype WHEN 'r' THEN 'range type ' WHEN 'b' THEN 'base type ' ELSE 'composite type ' END
                || pg_catalog.format_type(t.oid, NULL),
            'only enum types and domains are copied; create the type by an extension, or measure on a database without it'
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
         WHERE {USER_NS} AND {} AND (t.typtype IN ('r', 'b')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)
            OR t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c'))",
            not_ext("pg_type", "t.oid")),
        format!("SELECT 'aggregate ' || p.oid::pg_catalog.regprocedure::text,
            'aggregates are not copied; create it by an extension, or measure on a database without it'
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prokind IN ('a', 'w') AND {USER_NS} AND {}", not_ext("pg_proc", "p.oid")),
        format!("SELECT 'operator ' || o.oid::pg_catalog.regoperator::text,
            'operators are not copied; create it by an extension, or measure on a database without it'
         FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
         WHERE {USER_NS} AND {}", not_ext("pg_operator", "o.oid")),
        format!("SELECT 'collation ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(o.collname),
            'collations of your own are not copied (the built-in and ICU ones are); use a built-in collation, or measure on a database without it'
         FROM pg_catalog.pg_collation o JOIN pg_catalog.pg_namespace n ON n.oid = o.collnamespace
         WHERE {USER_NS} AND {}", not_ext("pg_collation", "o.oid")),
        format!("SELECT 'text search configuration ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(o.cfgname),
            'text search configurations are not copied; measure on a database without it'
         FROM pg_catalog.pg_ts_config o JOIN pg_catalog.pg_namespace n ON n.oid = o.cfgnamespace
         WHERE {USER_NS} AND {}", not_ext("pg_ts_config", "o.oid")),
        format!("SELECT 'event trigger ' || pg_catalog.quote_ident(g.evtname),
            'event triggers are not copied; measure on a database without it'
         FROM pg_catalog.pg_event_trigger g WHERE {}", not_ext("pg_event_trigger", "g.oid")),
        "SELECT 'extension ' || e.extname || ' ' || e.extversion,
            'this server has no such version to create in the scratch copy; install that version of the extension on the server'
         FROM pg_catalog.pg_extension e
         WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_available_extension_versions v
                           WHERE v.name = e.extname AND v.version = e.extversion)".into(),
    ]);
    out
}

/// Where the new database's rows come from, which decides what it must
/// refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// The source's own rows: row-level security is refused, as a copy
    /// would hold rows its policies hide.
    Copied,
    /// Generated from statistics: no row of the source is read, so
    /// row-level security hides nothing from it. It is not recreated (the
    /// tool's own sessions would bypass it), and the columns it hides
    /// from the reading user are generated without statistics. Range and
    /// list partitions are generated from their own statistics, inside
    /// their bounds; hash partitioning is refused.
    Generated,
}

/// Every object the new database would have to leave out, as `object: why`.
pub async fn find(client: &Client, rows: Rows) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for sql in checks(rows) {
        let rows = client
            .query(&sql, &[])
            .await
            .context("reading the source's catalog for what a scratch copy cannot hold")?;
        for r in rows {
            found.push(format!(
                "{}: {}",
                r.get::<_, String>(0),
                r.get::<_, String>(1)
            ));
        }
    }
    Ok(found)
}
