//! The source database's schema, read from its own catalog into the DDL
//! that recreates it (no `pg_dump`, no `TEMPLATE`): schemas, extensions,
//! enum types, domains, sequences, functions, tables with their columns,
//! constraints and foreign keys, indexes, extended statistics, views and
//! triggers. Read on a session whose `search_path` is empty, so every name the server's own
//! deparsers (`format_type`, `pg_get_expr`, `pg_get_constraintdef`,
//! `pg_get_indexdef`, `pg_get_functiondef`) print comes schema-qualified.
//! What it cannot recreate is listed in [`super::refusals`].

use tokio_postgres::Client;

use crate::error::{Context, Result};

/// Schemas that belong to the server, not to the team.
pub(super) const USER_NS: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'";

/// A `WHERE` condition: the object `oid` of catalog `cat` is not an
/// extension's member (the extension makes it).
pub(super) fn not_ext(cat: &str, oid: &str) -> String {
    format!("NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.{cat}'::pg_catalog.regclass AND e.objid = {oid} AND e.deptype = 'e')")
}

/// One statement to run on the new database, and what it makes.
#[derive(Debug, Clone)]
pub struct Ddl {
    pub what: String,
    pub sql: String,
}

/// A table whose rows are copied.
#[derive(Debug, Clone)]
pub struct Table {
    pub oid: u32,
    /// Schema-qualified and quoted.
    pub name: String,
    /// The columns a `COPY` writes (generated ones left out), quoted.
    pub columns: Vec<String>,
    /// False when a column's binary form carries type OIDs the new
    /// database does not share (arrays of the team's own types,
    /// composites): such a table is copied in text format.
    pub binary: bool,
    pub bytes: i64,
}

/// A foreign key, for the sample's filter.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKey {
    pub child: u32,
    pub columns: Vec<String>,
    pub parent: u32,
    pub parent_columns: Vec<String>,
}

/// Everything read: the DDL in the order it runs, and the data to copy.
#[derive(Debug, Clone, Default)]
pub struct SchemaCopy {
    /// Schemas, extensions, types, sequences, functions, tables (no
    /// constraints but NOT NULL): run before the rows are copied.
    pub setup: Vec<Ddl>,
    /// Constraints, views, indexes, foreign keys, triggers, sequence
    /// ownership: run after the rows are copied.
    pub finish: Vec<Ddl>,
    pub tables: Vec<Table>,
    pub foreign_keys: Vec<ForeignKey>,
    /// Every sequence (identity ones too), whose value is carried over.
    pub sequences: Vec<String>,
}

/// Reads the source's schema; `client`'s `search_path` is emptied first.
pub async fn read(client: &Client) -> Result<SchemaCopy> {
    client
        .batch_execute("SET search_path = ''")
        .await
        .context("emptying search_path on the source")?;
    let mut s = SchemaCopy::default();
    schemas(client, &mut s).await?;
    extensions(client, &mut s).await?;
    types(client, &mut s).await?;
    sequences(client, &mut s).await?;
    functions(client, &mut s).await?;
    tables(client, &mut s).await?;
    constraints(client, &mut s).await?;
    views(client, &mut s).await?;
    indexes(client, &mut s).await?;
    statistics(client, &mut s).await?;
    foreign_keys(client, &mut s).await?;
    triggers(client, &mut s).await?;
    Ok(s)
}

async fn rows(client: &Client, sql: &str, what: &str) -> Result<Vec<tokio_postgres::Row>> {
    client
        .query(sql, &[])
        .await
        .context(format!("reading the source's {what}"))
}

async fn schemas(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let sql = format!(
        "SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_namespace n WHERE {USER_NS} AND {} ORDER BY 1",
        not_ext("pg_namespace", "n.oid")
    );
    for r in rows(client, &sql, "schemas").await? {
        let name: String = r.get(0);
        s.setup.push(Ddl {
            what: format!("schema {name}"),
            sql: format!("CREATE SCHEMA IF NOT EXISTS {name}"),
        });
    }
    Ok(())
}

async fn extensions(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let sql = "SELECT pg_catalog.quote_ident(e.extname), pg_catalog.quote_ident(n.nspname), pg_catalog.quote_literal(e.extversion)
        FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname <> 'plpgsql' ORDER BY e.oid";
    for r in rows(client, sql, "extensions").await? {
        let (name, schema, version): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        s.setup.push(Ddl {
            what: format!("extension {name}"),
            sql: format!(
                "CREATE EXTENSION IF NOT EXISTS {name} WITH SCHEMA {schema} VERSION {version}"
            ),
        });
    }
    Ok(())
}

/// Enum types and domains (with their constraints), in creation order.
async fn types(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let sql = format!(
        "SELECT pg_catalog.format_type(t.oid, NULL), t.typtype::text,
            ARRAY(SELECT pg_catalog.quote_literal(l.enumlabel) FROM pg_catalog.pg_enum l
                  WHERE l.enumtypid = t.oid ORDER BY l.enumsortorder),
            pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
            ARRAY(SELECT 'CONSTRAINT ' || pg_catalog.quote_ident(k.conname) || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
                  FROM pg_catalog.pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c' ORDER BY k.oid)
        FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
        WHERE {USER_NS} AND {} AND t.typtype IN ('e', 'd') ORDER BY t.oid",
        not_ext("pg_type", "t.oid")
    );
    for r in rows(client, &sql, "types").await? {
        let (name, kind): (String, String) = (r.get(0), r.get(1));
        let sql = if kind == "e" {
            let labels: Vec<String> = r.get(2);
            format!("CREATE TYPE {name} AS ENUM ({})", labels.join(", "))
        } else {
            let (base, not_null, default): (String, bool, Option<String>) =
                (r.get(3), r.get(4), r.get(5));
            let checks: Vec<String> = r.get(6);
            let mut sql = format!("CREATE DOMAIN {name} AS {base}");
            if let Some(d) = default {
                sql.push_str(&format!(" DEFAULT {d}"));
            }
            if not_null {
                sql.push_str(" NOT NULL");
            }
            for c in checks {
                sql.push(' ');
                sql.push_str(&c);
            }
            sql
        };
        let what = if kind == "e" { "enum type" } else { "domain" };
        s.setup.push(Ddl {
            what: format!("{what} {name}"),
            sql,
        });
    }
    Ok(())
}

/// Sequences not made by an identity column (those come with their
/// table); every sequence's value is carried over.
async fn sequences(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let sql = format!(
        "SELECT c.oid::pg_catalog.regclass::text, pg_catalog.format_type(q.seqtypid, NULL),
            q.seqincrement, q.seqmin, q.seqmax, q.seqstart, q.seqcache, q.seqcycle,
            (SELECT d.refobjid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(a.attname)
             FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'a' LIMIT 1),
            EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'i')
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_sequence q ON q.seqrelid = c.oid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND {USER_NS} AND {} ORDER BY c.oid",
        not_ext("pg_class", "c.oid")
    );
    for r in rows(client, &sql, "sequences").await? {
        let name: String = r.get(0);
        s.sequences.push(name.clone());
        if r.get::<_, bool>(9) {
            continue;
        }
        let (ty, inc, min, max, start, cache, cycle): (String, i64, i64, i64, i64, i64, bool) = (
            r.get(1),
            r.get(2),
            r.get(3),
            r.get(4),
            r.get(5),
            r.get(6),
            r.get(7),
        );
        let cycle = if cycle { "CYCLE" } else { "NO CYCLE" };
        s.setup.push(Ddl {
            what: format!("sequence {name}"),
            sql: format!("CREATE SEQUENCE {name} AS {ty} INCREMENT BY {inc} MINVALUE {min} MAXVALUE {max} START WITH {start} CACHE {cache} {cycle}"),
        });
        if let Some(owner) = r.get::<_, Option<String>>(8) {
            s.finish.push(Ddl {
                what: format!("sequence {name}'s owner"),
                sql: format!("ALTER SEQUENCE {name} OWNED BY {owner}"),
            });
        }
    }
    Ok(())
}

/// Every function and procedure of the team's schemas, with
/// `pg_get_functiondef` (whatever uses them: defaults, checks, triggers,
/// generated columns, indexes).
async fn functions(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let sql = format!(
        "SELECT p.oid::pg_catalog.regprocedure::text, pg_catalog.pg_get_functiondef(p.oid)
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE {USER_NS} AND {} AND p.prokind IN ('f', 'p') ORDER BY p.oid",
        not_ext("pg_proc", "p.oid")
    );
    for r in rows(client, &sql, "functions").await? {
        s.setup.push(Ddl {
            what: format!("function {}", r.get::<_, String>(0)),
            sql: r.get(1),
        });
    }
    Ok(())
}

/// Tables: `CREATE TABLE` with columns, defaults, identity, generated
/// columns, collations and NOT NULL; the rest comes after the rows. A
/// partitioned table gets its `PARTITION BY` and no rows; a partition is
/// created `PARTITION OF` its parent with its bounds (its columns are the
/// parent's), and its rows are loaded into it.
async fn tables(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let sql = format!(
        "SELECT c.oid, c.oid::pg_catalog.regclass::text, c.relpersistence = 'u',
            pg_catalog.array_to_string(c.reloptions, ', '), pg_catalog.pg_table_size(c.oid),
            CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END,
            CASE WHEN c.relispartition THEN
                (SELECT i.inhparent::pg_catalog.regclass::text FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid)
                || ' ' || pg_catalog.pg_get_expr(c.relpartbound, c.oid) END
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {USER_NS} AND {} ORDER BY c.oid",
        not_ext("pg_class", "c.oid")
    );
    for r in rows(client, &sql, "tables").await? {
        let (oid, name, unlogged): (u32, String, bool) = (r.get(0), r.get(1), r.get(2));
        let options: Option<String> = r.get(3);
        let (partition_by, partition_of): (Option<String>, Option<String>) = (r.get(5), r.get(6));
        let (defs, table) = columns(client, oid, &name, r.get(4)).await?;
        let unlogged = if unlogged { "UNLOGGED " } else { "" };
        let mut sql = match partition_of {
            Some(of) => format!("CREATE {unlogged}TABLE {name} PARTITION OF {of}"),
            None => format!(
                "CREATE {unlogged}TABLE {name} (\n    {}\n)",
                defs.join(",\n    ")
            ),
        };
        if let Some(by) = &partition_by {
            sql.push_str(&format!(" PARTITION BY {by}"));
        }
        if let Some(o) = options.filter(|o| !o.is_empty()) {
            sql.push_str(&format!(" WITH ({o})"));
        }
        s.setup.push(Ddl {
            what: format!("table {name}"),
            sql,
        });
        if partition_by.is_none() {
            s.tables.push(table);
        }
    }
    Ok(())
}

const COLUMNS: &str = "SELECT pg_catalog.quote_ident(a.attname), pg_catalog.format_type(a.atttypid, a.atttypmod),
    a.attnotnull, a.attidentity::text, a.attgenerated::text, pg_catalog.pg_get_expr(d.adbin, d.adrelid),
    CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
         THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END,
    (t.typcategory = 'A' AND t.typelem >= 16384) OR t.typtype = 'c',
    'SEQUENCE NAME ' || q.seqrelid::pg_catalog.regclass::text || ' INCREMENT BY ' || q.seqincrement
        || ' MINVALUE ' || q.seqmin || ' MAXVALUE ' || q.seqmax || ' START WITH ' || q.seqstart
        || ' CACHE ' || q.seqcache || CASE WHEN q.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_catalog.pg_depend sd ON a.attidentity <> '' AND sd.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
    AND sd.refobjid = a.attrelid AND sd.refobjsubid = a.attnum AND sd.deptype = 'i'
LEFT JOIN pg_catalog.pg_sequence q ON q.seqrelid = sd.objid
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

/// A table's column definitions, and what its rows' copy needs.
async fn columns(
    client: &Client,
    oid: u32,
    name: &str,
    bytes: i64,
) -> Result<(Vec<String>, Table)> {
    let rows = client
        .query(COLUMNS, &[&oid])
        .await
        .context(format!("reading the columns of {name} on the source"))?;
    let mut table = Table {
        oid,
        name: name.to_string(),
        columns: Vec::new(),
        binary: true,
        bytes,
    };
    let mut defs = Vec::new();
    for r in rows {
        let (col, ty, not_null): (String, String, bool) = (r.get(0), r.get(1), r.get(2));
        let (identity, generated): (String, String) = (r.get(3), r.get(4));
        let (expr, collation): (Option<String>, Option<String>) = (r.get(5), r.get(6));
        let mut def = format!("{col} {ty}");
        if let Some(c) = collation {
            def.push_str(&format!(" COLLATE {c}"));
        }
        match (generated.as_str(), identity.as_str(), expr) {
            ("s", _, Some(e)) => def.push_str(&format!(" GENERATED ALWAYS AS ({e}) STORED")),
            ("v", _, Some(e)) => def.push_str(&format!(" GENERATED ALWAYS AS ({e}) VIRTUAL")),
            (_, "a" | "d", _) => {
                let how = if identity == "a" {
                    "ALWAYS"
                } else {
                    "BY DEFAULT"
                };
                let opts: Option<String> = r.get(8);
                let opts = opts.map(|o| format!(" ({o})")).unwrap_or_default();
                def.push_str(&format!(" GENERATED {how} AS IDENTITY{opts}"));
            }
            (_, _, Some(e)) => def.push_str(&format!(" DEFAULT {e}")),
            _ => {}
        }
        if not_null {
            def.push_str(" NOT NULL");
        }
        defs.push(def);
        if generated.is_empty() {
            table.columns.push(col);
            table.binary &= !r.get::<_, bool>(7);
        }
    }
    Ok((defs, table))
}

/// Primary keys, unique, exclusion and check constraints, after the rows;
/// on a partitioned table only (its partitions inherit them).
async fn constraints(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let sql = format!(
        "SELECT k.conrelid::pg_catalog.regclass::text, pg_catalog.quote_ident(k.conname), pg_catalog.pg_get_constraintdef(k.oid)
        FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND k.contype IN ('p', 'u', 'x', 'c') AND {USER_NS} AND {}
          AND k.conparentid = 0 AND (k.contype <> 'c' OR k.conislocal)
        ORDER BY k.contype = 'c', k.oid",
        not_ext("pg_class", "c.oid")
    );
    for r in rows(client, &sql, "constraints").await? {
        let (table, name, def): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        s.finish.push(Ddl {
            what: format!("constraint {name} on {table}"),
            sql: format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"),
        });
    }
    Ok(())
}

/// Views, and materialized views (filled from the copied rows).
async fn views(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let sql = format!(
        "SELECT c.oid::pg_catalog.regclass::text, c.relkind = 'm', pg_catalog.pg_get_viewdef(c.oid),
            pg_catalog.array_to_string(c.reloptions, ', ')
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND {USER_NS} AND {} ORDER BY c.oid",
        not_ext("pg_class", "c.oid")
    );
    for r in rows(client, &sql, "views").await? {
        let (name, mat, def): (String, bool, String) = (r.get(0), r.get(1), r.get(2));
        let opts = r
            .get::<_, Option<String>>(3)
            .filter(|o| !o.is_empty())
            .map(|o| format!(" WITH ({o})"))
            .unwrap_or_default();
        let def = def.trim().trim_end_matches(';');
        let kind = if mat { "MATERIALIZED VIEW" } else { "VIEW" };
        s.finish.push(Ddl {
            what: format!("{} {name}", kind.to_lowercase()),
            sql: format!("CREATE {kind} {name}{opts} AS {def}"),
        });
    }
    Ok(())
}

/// Indexes that no constraint owns, with `pg_get_indexdef`: a partitioned
/// table's on the whole table (not `ON ONLY`), which makes its partitions'
/// own; those are not read.
async fn indexes(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let sql = format!(
        "SELECT i.indexrelid::pg_catalog.regclass::text,
            pg_catalog.replace(pg_catalog.pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ')
        FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm', 'p') AND {USER_NS} AND {}
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                          WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid)
        ORDER BY i.indexrelid",
        not_ext("pg_class", "c.oid")
    );
    for r in rows(client, &sql, "indexes").await? {
        s.finish.push(Ddl {
            what: format!("index {}", r.get::<_, String>(0)),
            sql: r.get(1),
        });
    }
    Ok(())
}

/// Extended statistics objects (`CREATE STATISTICS`), with
/// `pg_get_statisticsobjdef`: the next `ANALYZE` gathers them, so the
/// planner sees the same correlations between columns as on the source.
async fn statistics(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let sql = format!(
        "SELECT pg_catalog.quote_ident(xn.nspname) || '.' || pg_catalog.quote_ident(x.stxname),
            pg_catalog.pg_get_statisticsobjdef(x.oid)
        FROM pg_catalog.pg_statistic_ext x JOIN pg_catalog.pg_class c ON c.oid = x.stxrelid
        JOIN pg_catalog.pg_namespace xn ON xn.oid = x.stxnamespace
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_NS} AND {} AND {} ORDER BY x.oid",
        not_ext("pg_class", "c.oid"),
        not_ext("pg_statistic_ext", "x.oid")
    );
    for r in rows(client, &sql, "extended statistics").await? {
        s.finish.push(Ddl {
            what: format!("statistics {}", r.get::<_, String>(0)),
            sql: r.get(1),
        });
    }
    Ok(())
}

/// Foreign keys: added last, once the rows (whole or sampled) are in.
async fn foreign_keys(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let cols = |rel: &str, keys: &str| {
        format!(
            "ARRAY(SELECT pg_catalog.quote_ident(a.attname) FROM pg_catalog.unnest(k.{keys}) WITH ORDINALITY u(num, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = k.{rel} AND a.attnum = u.num ORDER BY u.ord)"
        )
    };
    let sql = format!(
        "SELECT k.conrelid::pg_catalog.regclass::text, pg_catalog.quote_ident(k.conname), pg_catalog.pg_get_constraintdef(k.oid),
            k.conrelid, k.confrelid, {}, {}
        FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND k.contype = 'f' AND k.conparentid = 0 AND {USER_NS} AND {}
        ORDER BY k.oid",
        cols("conrelid", "conkey"),
        cols("confrelid", "confkey"),
        not_ext("pg_class", "c.oid")
    );
    for r in rows(client, &sql, "foreign keys").await? {
        let (table, name, def): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        s.finish.push(Ddl {
            what: format!("foreign key {name} on {table}"),
            sql: format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"),
        });
        s.foreign_keys.push(ForeignKey {
            child: r.get(3),
            parent: r.get(4),
            columns: r.get(5),
            parent_columns: r.get(6),
        });
    }
    Ok(())
}

/// Triggers (not the server's internal ones), created after the rows so
/// the copy does not fire them.
async fn triggers(client: &Client, s: &mut SchemaCopy) -> Result<()> {
    let sql = format!(
        "SELECT pg_catalog.quote_ident(g.tgname) || ' on ' || c.oid::pg_catalog.regclass::text, pg_catalog.pg_get_triggerdef(g.oid)
        FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT g.tgisinternal AND g.tgparentid = 0 AND {USER_NS} AND {} ORDER BY g.oid",
        not_ext("pg_class", "c.oid")
    );
    for r in rows(client, &sql, "triggers").await? {
        s.finish.push(Ddl {
            what: format!("trigger {}", r.get::<_, String>(0)),
            sql: r.get(1),
        });
    }
    Ok(())
}
