//! A schema dump that reads the same from every PostgreSQL version: in
//! place of `pg_dump --schema-only`, whose client must be at least the
//! server's major (Debian's pg_dump 15 refuses 16 and later, and the npm
//! server packages of `tests/pg_matrix.rs` ship no client at all). It is the
//! tool's own catalog snapshot (`schema::Catalog`: relations, columns in
//! order with types, defaults and comments, constraints, indexes, types with
//! enum labels, table comments, functions, triggers) plus what pg_dump
//! would also show of the `public` schema: storage options, tablespaces,
//! index validity, sequences with their owners, identity and generated
//! columns, collations and storage, view, function and statistics
//! definitions, comments on every object, privileges, row security and
//! policies, rules, partitioning, inheritance and extensions. Ownership is
//! left out, as with `pg_dump --no-owner`.
//!
//! Every query reads catalog columns that PostgreSQL 13 to 18 all have.

use std::collections::BTreeSet;

use helpdesk_bench::cluster::Endpoint;
use helpdesk_bench::schema::Catalog;

/// One text line per object or property; two dumps compare equal when the
/// schemas are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaDump {
    pub lines: BTreeSet<String>,
}

impl SchemaDump {
    /// The dump as text, one line per object, sorted.
    pub fn text(&self) -> String {
        self.lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Lines only in `self` (`- `) and only in `other` (`+ `).
    pub fn diff(&self, other: &SchemaDump) -> Vec<String> {
        let gone = self
            .lines
            .difference(&other.lines)
            .map(|l| format!("- {l}"));
        let new = other
            .lines
            .difference(&self.lines)
            .map(|l| format!("+ {l}"));
        gone.chain(new).collect()
    }
}

/// In `public`, for relations `c`.
const PUBLIC_REL: &str = "c.relnamespace = 'public'::regnamespace";

/// What [`Catalog::snapshot`] leaves out, one line per row.
const EXTRA: &[&str] = &[
    // Storage options and tablespaces of tables and indexes.
    "SELECT format('options %I %s', c.relname, c.reloptions::text)
       FROM pg_class c WHERE $PUBLIC AND c.reloptions IS NOT NULL",
    "SELECT format('tablespace %I %I', c.relname, t.spcname)
       FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace WHERE $PUBLIC",
    // Index state: pg_dump drops an invalid index; here it shows.
    "SELECT format('index-state %I valid=%s ready=%s clustered=%s replident=%s',
                   c.relname, i.indisvalid, i.indisready, i.indisclustered, i.indisreplident)
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE $PUBLIC",
    // Sequences with their parameters and the column that owns them.
    "SELECT format('sequence %I %s start=%s increment=%s min=%s max=%s cache=%s cycle=%s owned_by=%s',
                   c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
                   s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                   coalesce((SELECT format('%I.%I', t.relname, a.attname)
                               FROM pg_depend d
                               JOIN pg_class t ON t.oid = d.refobjid
                               JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), '-'))
       FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE $PUBLIC",
    // Column properties beyond type, default and nullability.
    "SELECT format('column-extra %I.%I identity=%s generated=%s collation=%s storage=%s',
                   c.relname, a.attname, a.attidentity, a.attgenerated,
                   coalesce((SELECT quote_ident(l.collname) FROM pg_collation l
                              WHERE l.oid = a.attcollation AND a.attcollation <> t.typcollation), '-'),
                   CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text ELSE '-' END)
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_type t ON t.oid = a.atttypid
      WHERE $PUBLIC AND a.attnum > 0 AND NOT a.attisdropped
        AND (a.attidentity <> '' OR a.attgenerated <> '' OR a.attstorage <> t.typstorage
             OR a.attcollation <> t.typcollation)",
    // Definitions.
    "SELECT format('view %I %s', c.relname, pg_get_viewdef(c.oid))
       FROM pg_class c WHERE $PUBLIC AND c.relkind IN ('v', 'm')",
    "SELECT format('function-def %s', pg_get_functiondef(p.oid))
       FROM pg_proc p
      WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p')",
    "SELECT format('statistics %s', pg_get_statisticsobjdef(s.oid))
       FROM pg_statistic_ext s WHERE s.stxnamespace = 'public'::regnamespace",
    "SELECT format('rule %s', r.definition) FROM pg_rules r WHERE r.schemaname = 'public'",
    // Comments on any object of the schema (indexes, constraints, types...).
    "SELECT format('comment on %s %s: %s', o.type, o.identity, quote_literal(d.description))
       FROM pg_description d
       CROSS JOIN LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o
      WHERE o.schema = 'public'",
    // Privileges and row security.
    "SELECT format('grant %I %s', c.relname, c.relacl::text)
       FROM pg_class c WHERE $PUBLIC AND c.relacl IS NOT NULL",
    "SELECT format('row-security %I enabled=%s forced=%s', c.relname, c.relrowsecurity, c.relforcerowsecurity)
       FROM pg_class c WHERE $PUBLIC AND (c.relrowsecurity OR c.relforcerowsecurity)",
    "SELECT format('policy %I.%I %s %s %s using=%s check=%s', p.tablename, p.policyname,
                   p.permissive, p.cmd, p.roles::text, coalesce(p.qual, '-'), coalesce(p.with_check, '-'))
       FROM pg_policies p WHERE p.schemaname = 'public'",
    // Partitioning and inheritance.
    "SELECT format('partitioned %I %s', c.relname, pg_get_partkeydef(c.oid))
       FROM pg_class c WHERE $PUBLIC AND c.relkind = 'p'",
    "SELECT format('partition %I %s', c.relname, pg_get_expr(c.relpartbound, c.oid))
       FROM pg_class c WHERE $PUBLIC AND c.relispartition",
    "SELECT format('inherits %I %I #%s', c.relname, p.relname, i.inhseqno)
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent
      WHERE $PUBLIC",
    // Extensions, by name (pg_dump --schema-only lists them too).
    "SELECT format('extension %I', e.extname) FROM pg_extension e",
];

/// The dump of `db`'s `public` schema now.
pub async fn schema_of(db: &Endpoint) -> SchemaDump {
    let c = db.connect().await.unwrap_or_else(|e| panic!("{e}"));
    let mut lines = Catalog::snapshot(&c)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .lines;
    for q in EXTRA {
        let sql = q.replace("$PUBLIC", PUBLIC_REL);
        let rows = c
            .query(&sql, &[])
            .await
            .unwrap_or_else(|e| panic!("dumping the schema ({sql}): {e}"));
        lines.extend(rows.iter().map(|r| r.get::<_, String>(0)));
    }
    SchemaDump { lines }
}

/// The dump of the database at a libpq URL, as text: a drop-in for what
/// `pg_dump --schema-only` gave, from any synchronous test code.
pub fn schema_dump(url: &str) -> String {
    let db = Endpoint::from_url(url).unwrap_or_else(|e| panic!("{e}"));
    // Its own runtime on its own thread: callers may be inside one.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(schema_of(&db))
            .text()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}
