//! The foreign-key-consistent sample behind `--sample FRACTION`: which rows
//! of each table the copy keeps, as a `WHERE` condition run on the source.
//! A table no foreign key leads out of keeps the rows whose hash falls
//! under the fraction (the same rows every time); a table with foreign keys
//! keeps the rows whose parents were kept (or whose key is NULL), checked
//! with `EXISTS` against the parents' own conditions, so parents come first
//! in effect and no child points at a row left behind. A child of two
//! sampled parents keeps about fraction² of its rows. Foreign-key cycles
//! (a table referencing itself included) cannot be sampled this way and are
//! refused.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::recreate::catalog::{ForeignKey, Table};

/// Hash buckets: a root row is kept when its bucket is under the fraction.
const BUCKETS: u32 = 1 << 20;

/// The condition on alias `t0` of each table, by OID, for a sample of
/// `fraction`; refused when foreign keys form a cycle.
pub fn filters(
    tables: &[Table],
    fks: &[ForeignKey],
    fraction: f64,
) -> Result<BTreeMap<u32, String>> {
    let names: BTreeMap<u32, &str> = tables.iter().map(|t| (t.oid, t.name.as_str())).collect();
    let fks: Vec<&ForeignKey> = fks
        .iter()
        .filter(|k| names.contains_key(&k.child) && names.contains_key(&k.parent))
        .collect();
    if let Some(cycle) = cycle(tables, &fks) {
        let path: Vec<&str> = cycle.iter().map(|o| names[o]).collect();
        return Err(Error::BadInput(format!(
            "--sample cannot keep foreign keys consistent around the cycle {}; copy in full (leave out --sample)",
            path.join(" -> ")
        )));
    }
    let threshold = (fraction.clamp(0.0, 1.0) * f64::from(BUCKETS)).round() as u64;
    let mut out = BTreeMap::new();
    for t in tables {
        out.insert(t.oid, condition(t.oid, 0, &names, &fks, threshold));
    }
    Ok(out)
}

/// The condition on alias `t{depth}` of table `oid`.
fn condition(
    oid: u32,
    depth: usize,
    names: &BTreeMap<u32, &str>,
    fks: &[&ForeignKey],
    threshold: u64,
) -> String {
    let me = format!("t{depth}");
    let parents: Vec<&&ForeignKey> = fks.iter().filter(|k| k.child == oid).collect();
    if parents.is_empty() {
        return format!(
            "(pg_catalog.hashtext({me}::text) & {}) < {threshold}",
            BUCKETS - 1
        );
    }
    let up = format!("t{}", depth + 1);
    let terms: Vec<String> = parents
        .iter()
        .map(|k| {
            let nulls: Vec<String> = k
                .columns
                .iter()
                .map(|c| format!("{me}.{c} IS NULL"))
                .collect();
            let joins: Vec<String> = k
                .columns
                .iter()
                .zip(&k.parent_columns)
                .map(|(c, p)| format!("{up}.{p} = {me}.{c}"))
                .collect();
            format!(
                "({} OR EXISTS (SELECT 1 FROM {} {up} WHERE {} AND {}))",
                nulls.join(" OR "),
                names[&k.parent],
                joins.join(" AND "),
                condition(k.parent, depth + 1, names, fks, threshold)
            )
        })
        .collect();
    terms.join(" AND ")
}

/// A foreign-key cycle, as the tables around it, when there is one.
fn cycle(tables: &[Table], fks: &[&ForeignKey]) -> Option<Vec<u32>> {
    fn visit(
        oid: u32,
        fks: &[&ForeignKey],
        path: &mut Vec<u32>,
        done: &mut BTreeSet<u32>,
    ) -> Option<Vec<u32>> {
        if let Some(at) = path.iter().position(|&o| o == oid) {
            let mut c = path[at..].to_vec();
            c.push(oid);
            return Some(c);
        }
        if !done.insert(oid) {
            return None;
        }
        path.push(oid);
        for k in fks.iter().filter(|k| k.child == oid) {
            if let Some(c) = visit(k.parent, fks, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    tables
        .iter()
        .find_map(|t| visit(t.oid, fks, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(oid: u32, name: &str) -> Table {
        Table {
            oid,
            name: name.into(),
            columns: vec!["id".into()],
            binary: true,
            bytes: 0,
        }
    }

    fn fk(child: u32, col: &str, parent: u32) -> ForeignKey {
        ForeignKey {
            child,
            columns: vec![col.into()],
            parent,
            parent_columns: vec!["id".into()],
        }
    }

    #[test]
    fn children_keep_rows_whose_parents_are_kept() {
        let tables = [table(1, "app.a"), table(2, "app.b")];
        let f = filters(&tables, &[fk(2, "a_id", 1)], 0.5).unwrap();
        assert_eq!(f[&1], "(pg_catalog.hashtext(t0::text) & 1048575) < 524288");
        assert_eq!(
            f[&2],
            "(t0.a_id IS NULL OR EXISTS (SELECT 1 FROM app.a t1 WHERE t1.id = t0.a_id AND (pg_catalog.hashtext(t1::text) & 1048575) < 524288))"
        );
    }

    #[test]
    fn a_cycle_is_refused_naming_its_tables() {
        let tables = [table(1, "app.a"), table(2, "app.b")];
        let e = filters(&tables, &[fk(2, "a_id", 1), fk(1, "b_id", 2)], 0.5).unwrap_err();
        assert!(e.to_string().contains("app.a -> app.b -> app.a"), "{e}");
        let e = filters(&tables, &[fk(1, "parent_id", 1)], 0.5).unwrap_err();
        assert!(e.to_string().contains("app.a -> app.a"), "{e}");
    }
}
