//! Candidate indexes, from what the catalogue's generic plans say
//! ([`super::scans`]) without the migration's indexes:
//!
//! - a B-tree with the equality columns first, then the ORDER BY (or GROUP
//!   BY) columns in their direction;
//! - a partial index for each equality on a constant that selects at most
//!   [`PARTIAL_MAX_SHARE`] of the table (the share is counted, not
//!   estimated), keyed by the rest;
//! - the same with `INCLUDE` of the columns the query returns besides, when
//!   they are narrow ([`INCLUDE_MAX_WIDTH`]), so it can be an index-only scan;
//! - every index the migration creates, under its own name;
//! - an index on a foreign key's columns when nothing else leads with them.

use std::collections::BTreeMap;

use tokio_postgres::Client;

pub use super::scans::{Key, Scan};
use crate::error::{Context, Result};
use crate::results::{CandidateKind, ForeignKey};
use crate::schema::{IndexDef, Migration};
use crate::sql::{quote_ident, unquote};

/// A constant equality becomes a partial index when it selects at most
/// this share of the table's rows.
pub const PARTIAL_MAX_SHARE: f64 = 0.25;
/// Columns wider than this on average (bytes, `pg_stats.avg_width`) are not
/// copied into an index with `INCLUDE`.
pub const INCLUDE_MAX_WIDTH: i32 = 48;
/// At most this many `INCLUDE` columns.
const INCLUDE_MAX_COLUMNS: usize = 4;
/// PostgreSQL's identifier limit.
const NAME_MAX: usize = 63;

/// A candidate index, ready to build.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub def: IndexDef,
    pub keys: Vec<Key>,
    pub kind: CandidateKind,
    /// The catalogue queries it was derived from (empty for the migration's own).
    pub queries: Vec<String>,
    /// For a partial index: the share of the table its predicate selects.
    pub share: Option<f64>,
    /// Why it is a candidate, in a sentence.
    pub reason: String,
}

impl Candidate {
    /// The first key column, which a foreign key's lookups need leading.
    pub fn leads_with(&self, columns: &[String]) -> bool {
        self.def.predicate.is_none()
            && self.keys.len() >= columns.len()
            && self.keys.iter().zip(columns).all(|(k, c)| &k.column == c)
    }

    /// Same table, keys, `INCLUDE` and predicate: the same index. Keys
    /// all in the opposite direction are the same too: a B-tree is read
    /// backwards as fast as forwards.
    fn same_as(&self, o: &Candidate) -> bool {
        let flipped = self.keys.len() == o.keys.len()
            && self
                .keys
                .iter()
                .zip(&o.keys)
                .all(|(a, b)| a.column == b.column && a.desc != b.desc);
        self.def.table == o.def.table
            && (self.keys == o.keys || flipped)
            && self.def.include == o.def.include
            && self.def.predicate == o.def.predicate
    }
}

/// What the database says about a table, for deciding candidates.
#[derive(Debug, Clone, Default)]
pub struct TableFacts {
    /// Share of rows each constant equality (`column`, `constant`) selects.
    pub shares: BTreeMap<(String, String), f64>,
    /// Average width per column, from `pg_stats`.
    pub widths: BTreeMap<String, i32>,
}

/// The candidates one scan suggests, for `query`.
pub fn from_scan(scan: &Scan, query: &str, facts: &TableFacts) -> Vec<Candidate> {
    let mut out = Vec::new();
    let eq_keys: Vec<Key> = scan
        .equals
        .iter()
        .map(|(c, _)| Key {
            column: c.clone(),
            desc: false,
        })
        .collect();
    let keys = with_order(eq_keys.clone(), &scan.order);
    if !keys.is_empty() {
        let reason = "equality columns first, then the order, as the query filters and sorts";
        out.push(build(
            &scan.table,
            keys.clone(),
            vec![],
            None,
            query,
            reason,
        ));
        push_covering(&mut out, scan, facts, query);
    }
    for (col, value) in &scan.equals {
        let Some(value) = value else { continue };
        let share = facts.shares.get(&(col.clone(), value.clone())).copied();
        let Some(share) = share.filter(|s| *s <= PARTIAL_MAX_SHARE) else {
            continue;
        };
        let rest: Vec<Key> = eq_keys
            .iter()
            .filter(|k| &k.column != col)
            .cloned()
            .collect();
        let keys = with_order(rest, &scan.order);
        if keys.is_empty() {
            continue;
        }
        let predicate = format!("{} = {value}", quote_ident(col));
        let reason = format!(
            "{predicate} selects {:.1}% of \"{}\": a partial index holds only those rows",
            share * 100.0,
            scan.table
        );
        let mut c = build(&scan.table, keys, vec![], Some(predicate), query, &reason);
        c.share = Some(share);
        out.push(c.clone());
        push_covering(&mut out, scan, facts, query);
    }
    out
}

/// The keys, then the order's columns not among them.
fn with_order(mut keys: Vec<Key>, order: &[Key]) -> Vec<Key> {
    for k in order {
        if !keys.iter().any(|x| x.column == k.column) {
            keys.push(k.clone());
        }
    }
    keys
}

/// A copy of the last candidate with `INCLUDE` of the narrow columns the
/// scan returns that it lacks, so the query can be an index-only scan.
fn push_covering(out: &mut Vec<Candidate>, scan: &Scan, facts: &TableFacts, query: &str) {
    let Some(last) = out.last() else { return };
    let predicate_col = last
        .def
        .predicate
        .as_deref()
        .map(|p| unquote(p.split(" = ").next().unwrap_or("")));
    let missing: Vec<String> = scan
        .output
        .iter()
        .filter(|c| !last.keys.iter().any(|k| &k.column == *c))
        .filter(|c| predicate_col.as_ref() != Some(*c))
        .cloned()
        .collect();
    let narrow = missing
        .iter()
        .all(|c| facts.widths.get(c).is_some_and(|w| *w <= INCLUDE_MAX_WIDTH));
    if missing.is_empty() || missing.len() > INCLUDE_MAX_COLUMNS || !narrow {
        return;
    }
    let reason = format!(
        "{}; INCLUDE ({}) so the query reads the index alone",
        last.reason.trim_end_matches('.'),
        missing.join(", ")
    );
    let mut c = build(
        &scan.table,
        last.keys.clone(),
        missing,
        last.def.predicate.clone(),
        query,
        &reason,
    );
    c.share = last.share;
    c.kind = CandidateKind::Covering;
    out.push(c);
}

/// A candidate with a Prisma-style name: `Table_col1_col2_idx`, with the
/// predicate's value and `covering` added when it has them.
fn build(
    table: &str,
    keys: Vec<Key>,
    include: Vec<String>,
    predicate: Option<String>,
    query: &str,
    reason: &str,
) -> Candidate {
    let mut parts: Vec<String> = vec![table.to_string()];
    parts.extend(keys.iter().map(|k| k.column.clone()));
    if let Some(p) = &predicate {
        let value: String = p
            .split('\'')
            .nth(1)
            .unwrap_or("where")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        parts.push(value.to_lowercase());
    }
    if !include.is_empty() {
        parts.push("covering".into());
    }
    parts.push("idx".into());
    let name = shorten(&parts.join("_"));
    let cols: Vec<String> = keys
        .iter()
        .map(|k| {
            format!(
                "{}{}",
                quote_ident(&k.column),
                if k.desc { " DESC" } else { "" }
            )
        })
        .collect();
    let mut sql = format!(
        "CREATE INDEX {} ON {} ({})",
        quote_ident(&name),
        quote_ident(table),
        cols.join(", ")
    );
    if !include.is_empty() {
        let inc: Vec<String> = include.iter().map(|c| quote_ident(c)).collect();
        sql.push_str(&format!(" INCLUDE ({})", inc.join(", ")));
    }
    if let Some(p) = &predicate {
        sql.push_str(&format!(" WHERE {p}"));
    }
    let kind = if predicate.is_some() {
        CandidateKind::Partial
    } else {
        CandidateKind::Btree
    };
    Candidate {
        def: IndexDef {
            name,
            table: table.to_string(),
            schema: None,
            columns: cols,
            include,
            predicate,
            unique: false,
            sql,
        },
        keys,
        kind,
        queries: vec![query.to_string()],
        share: None,
        reason: reason.to_string(),
    }
}

/// A name within PostgreSQL's 63 bytes: long ones keep their start and a hash.
fn shorten(name: &str) -> String {
    if name.len() <= NAME_MAX {
        return name.to_string();
    }
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(name.as_bytes());
    let tag: String = h[..4].iter().map(|b| format!("{b:02x}")).collect();
    let mut cut = NAME_MAX - tag.len() - 1;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{tag}", &name[..cut])
}

/// The migration's own index as a candidate, under its own name.
pub fn from_migration(ix: &IndexDef) -> Candidate {
    let keys = ix
        .columns
        .iter()
        .map(|c| {
            let t = c.trim();
            let desc = t.to_ascii_uppercase().ends_with(" DESC");
            let col = if desc { &t[..t.len() - 5] } else { t };
            // Already unquoted by the migration parser: a column named
            // in quotes keeps its case.
            let col = col.trim();
            Key {
                column: if col.starts_with('"') {
                    unquote(col)
                } else {
                    col.to_string()
                },
                desc,
            }
        })
        .collect();
    Candidate {
        def: ix.clone(),
        keys,
        kind: CandidateKind::Migration,
        queries: Vec::new(),
        share: None,
        reason: "the migration's own index".into(),
    }
}

/// An index on a foreign key's columns, for a key nothing else serves.
pub fn for_foreign_key(fk: &ForeignKey) -> Candidate {
    let keys: Vec<Key> = fk
        .columns
        .iter()
        .map(|c| Key {
            column: c.clone(),
            desc: false,
        })
        .collect();
    let reason = format!(
        "foreign key {}: deleting a referenced row looks up its columns",
        fk.name
    );
    let mut c = build(&fk.table, keys, vec![], None, "", &reason);
    c.queries.clear();
    c
}

/// Adds `c` unless an equal index is there already, in which case that one
/// also serves `c`'s queries.
pub fn add(list: &mut Vec<Candidate>, c: Candidate) {
    if let Some(same) = list.iter_mut().find(|x| x.same_as(&c)) {
        for q in c.queries {
            if !q.is_empty() && !same.queries.contains(&q) {
                same.queries.push(q);
            }
        }
        return;
    }
    let mut c = c;
    let first = c.def.name.clone();
    let mut n = 2;
    while list.iter().any(|x| x.def.name == c.def.name) {
        let name = shorten(&format!("{}_{n}_idx", first.trim_end_matches("_idx")));
        c.def.sql = c
            .def
            .sql
            .replacen(&quote_ident(&c.def.name), &quote_ident(&name), 1);
        c.def.name = name;
        n += 1;
    }
    list.push(c);
}

/// Counts the share of `table`'s rows each constant equality selects, and
/// reads the columns' average widths.
pub async fn facts(client: &Client, table: &str, scans: &[&Scan]) -> Result<TableFacts> {
    let mut f = TableFacts::default();
    for s in scans.iter().filter(|s| s.table == table) {
        for (col, value) in &s.equals {
            let Some(value) = value else { continue };
            let key = (col.clone(), value.clone());
            if f.shares.contains_key(&key) {
                continue;
            }
            let sql = format!(
                "SELECT (count(*) FILTER (WHERE {} = {value}))::float8 / greatest(count(*), 1) FROM {}",
                quote_ident(col),
                quote_ident(table)
            );
            let share: f64 = client
                .query_one(&sql, &[])
                .await
                .context(format!(
                    "counting the share of {table} where {col} = {value}"
                ))?
                .get(0);
            f.shares.insert(key, share);
        }
    }
    let rows = client
        .query(
            "SELECT attname::text, avg_width FROM pg_stats WHERE schemaname = 'public' AND tablename = $1",
            &[&table],
        )
        .await
        .context(format!("reading column widths of {table}"))?;
    for r in rows {
        f.widths.insert(r.get(0), r.get(1));
    }
    Ok(f)
}

/// Every candidate: the migration's own indexes first (so an equal derived
/// one keeps the migration's name), then those the plans suggest, then one
/// per foreign key no index or candidate leads with; at most `max`, the
/// migration's and the foreign keys' always kept.
pub fn collect(
    m: &Migration,
    derived: Vec<Candidate>,
    unserved_fks: &[ForeignKey],
    max: usize,
) -> Vec<Candidate> {
    let mut list = Vec::new();
    for ix in m.indexes() {
        add(&mut list, from_migration(ix));
    }
    let own = list.len();
    for c in derived {
        add(&mut list, c);
    }
    for fk in unserved_fks {
        if !list
            .iter()
            .any(|c| c.leads_with(&fk.columns) && c.def.table == fk.table)
        {
            add(&mut list, for_foreign_key(fk));
        }
    }
    let keep = max.max(own);
    if list.len() > keep {
        let (head, tail) = list.split_at(own);
        let mut kept: Vec<Candidate> = head.to_vec();
        let fk_ones: Vec<Candidate> = tail
            .iter()
            .filter(|c| c.queries.is_empty())
            .cloned()
            .collect();
        let room = keep.saturating_sub(own + fk_ones.len());
        kept.extend(
            tail.iter()
                .filter(|c| !c.queries.is_empty())
                .take(room)
                .cloned(),
        );
        kept.extend(fk_ones);
        return kept;
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::scans::scans;
    use crate::advise::scans::tests::{plan, AGENT};

    #[test]
    fn a_rare_constant_gives_a_partial_index_and_a_wide_column_no_include() {
        let s = &scans(&plan(AGENT))[0];
        let mut facts = TableFacts::default();
        facts
            .shares
            .insert(("role".into(), "'agent'::text".into()), 0.02);
        for (c, w) in [
            ("id", 26),
            ("conversationId", 26),
            ("content", 300),
            ("createdAt", 8),
        ] {
            facts.widths.insert(c.into(), w);
        }
        let c = from_scan(s, "recent_agent_messages", &facts);
        let sql: Vec<&str> = c.iter().map(|c| c.def.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                "CREATE INDEX \"Message_role_createdAt_idx\" ON \"Message\" (\"role\", \"createdAt\" DESC)",
                "CREATE INDEX \"Message_createdAt_agent_idx\" ON \"Message\" (\"createdAt\" DESC) WHERE \"role\" = 'agent'::text",
            ]
        );
        assert_eq!(c[1].share, Some(0.02));
        facts
            .shares
            .insert(("role".into(), "'agent'::text".into()), 0.5);
        assert_eq!(
            from_scan(s, "q", &facts).len(),
            1,
            "a common value: no partial index"
        );
    }

    #[test]
    fn narrow_outputs_are_included_and_names_stay_within_63_bytes() {
        let s = Scan {
            table: "Conversation".into(),
            equals: vec![("customerEmail".into(), None)],
            order: vec![Key {
                column: "createdAt".into(),
                desc: true,
            }],
            output: vec!["id".into(), "status".into(), "createdAt".into()],
        };
        let mut facts = TableFacts::default();
        facts.widths.insert("id".into(), 26);
        facts.widths.insert("status".into(), 4);
        let c = from_scan(&s, "customer_lookup", &facts);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].def.include, ["id", "status"]);
        assert_eq!(c[1].kind, CandidateKind::Covering);
        assert!(shorten(&"x".repeat(100)).len() <= NAME_MAX);
    }

    #[test]
    fn an_equal_candidate_keeps_the_first_name_and_adds_its_query() {
        let m = Migration::builtin().unwrap();
        let own = from_migration(m.index("Message_conversationId_idx").unwrap());
        let mut list = vec![own];
        let s = Scan {
            table: "Message".into(),
            equals: vec![("conversationId".into(), None)],
            ..Default::default()
        };
        for c in from_scan(&s, "transcript", &TableFacts::default()) {
            add(&mut list, c);
        }
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].queries, ["transcript"]);
        let newest = Scan {
            table: "Message".into(),
            order: vec![Key {
                column: "createdAt".into(),
                desc: true,
            }],
            ..Default::default()
        };
        add(
            &mut list,
            from_migration(m.index("Message_createdAt_idx").unwrap()),
        );
        for c in from_scan(&newest, "newest_messages", &TableFacts::default()) {
            add(&mut list, c);
        }
        assert_eq!(
            list.len(),
            2,
            "(createdAt DESC) is (createdAt) read backwards"
        );
        assert_eq!(list[1].queries, ["newest_messages"]);
        assert!(list[0].leads_with(&["conversationId".to_string()]));
    }
}
