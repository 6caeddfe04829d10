//! From the source's schema and statistics to one generator per column
//! ([`super::model`]): row counts at `F ×` the source's, keys, foreign keys
//! and the privacy rule decided per column, and the one-line refusal of a
//! NOT NULL column of a type this cannot generate.

use std::collections::{BTreeMap, BTreeSet};

use super::joint::{self, Group, Mapped};
use super::model::{self, Column, KeySpace, Parent, Source};
use super::order;
use super::privacy::{self, Format, Rule};
use super::stats::{table_scale, target_rows, ColumnStats, Kind, TableStats};
use super::values::Value;
use crate::error::{Error, Result};
use crate::recreate::catalog::Table;

/// What one table is filled with.
#[derive(Debug, Clone)]
pub struct TablePlan {
    /// Schema-qualified and quoted.
    pub name: String,
    /// The COPY column list, quoted.
    pub columns: Vec<String>,
    pub gens: Vec<Column>,
    pub rows: u64,
    /// Columns whose values were generated rather than kept.
    pub generated: BTreeSet<String>,
    /// Columns drawn together, from the source's extended statistics.
    pub groups: Vec<Group>,
    /// Per generator: its group and its place among the group's members.
    pub member_of: Vec<Option<(usize, usize)>>,
}

impl TablePlan {
    /// The value generator `c` takes from its group's combination, when
    /// `picks` (each group's combination for this row) gives it one.
    pub fn joint_value(&self, c: usize, picks: &[Option<usize>]) -> Option<&Value> {
        let (g, at) = self.member_of[c]?;
        Some(&self.groups[g].combos[picks[g]?][at])
    }
}

/// `"a""b"` → `a"b`: an identifier as `quote_ident` printed it, unquoted.
pub fn unquote(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => ident.to_string(),
    }
}

/// The plans of `tables`, with `stats` read for them, for `seed`; `redact` holds
/// `table.column` names (unqualified table or `schema.table`).
pub fn plan(
    tables: &[Table],
    stats: &[TableStats],
    scale: f64,
    seed: u64,
    redact: &[String],
) -> Result<Vec<TablePlan>> {
    let by_oid: BTreeMap<u32, &TableStats> = stats.iter().map(|t| (t.oid, t)).collect();
    let counts = target_rows(stats, scale);
    let rows = |t: &TableStats| counts.get(&t.oid).copied().unwrap_or(0);
    let key_space =
        |oid: u32, column: &str| key_space(&by_oid, oid, column, rows(by_oid.get(&oid)?));
    let bases = parent_regions(stats, scale, &counts);
    let mut out = Vec::new();
    for table in tables {
        let Some(t) = by_oid.get(&table.oid) else {
            continue;
        };
        if let Some(fk) = t.composite_parents.first() {
            return Err(Error::BadInput(format!(
                "cannot generate {}.{}'s foreign key {fk}: only single-column foreign keys are generated from statistics; use a source without it",
                t.schema, t.table
            )));
        }
        let n = rows(t);
        let mut gens = Vec::new();
        let mut generated = BTreeSet::new();
        let joint = joint::mapped(t, &|c| drawn_alone(t, table, c));
        let mut rules = BTreeMap::new();
        for quoted in &table.columns {
            let name = unquote(quoted);
            let own = t.columns.get(&name).ok_or_else(|| missing(t, &name))?;
            let c = &generated_from(own, &name, &joint);
            let redacted = c.hidden.is_some() || redacted(t, &name, redact);
            let parent = t.parents.get(&name);
            let unique = t.unique.contains(&name);
            let rule = privacy::rule(c, t.reltuples, unique || parent.is_some(), redacted);
            if matches!(rule, Rule::Generate(_)) {
                generated.insert(name.clone());
            }
            rules.insert(name.clone(), rule);
            let source = if c.kind == Kind::Unsupported {
                Source::Null
            } else if let (Some((poid, pcol)), Some(s)) = (parent, &c.stats) {
                match key_space(*poid, pcol) {
                    Some(keys) => Source::Parent(Parent {
                        distinct: s
                            .parents_referenced(t.reltuples, table_scale(&counts, t, scale))
                            .round()
                            .max(1.0) as u64,
                        mcf: s.mcf.clone(),
                        base: bases.get(&(t.oid, name.clone())).copied(),
                        keys,
                    }),
                    None => Source::Null,
                }
            } else if unique {
                Source::Key(key_space(t.oid, &name).ok_or_else(|| missing(t, &name))?)
            } else {
                model::drawn(c, rule, n as f64, t.reltuples)
            };
            if matches!(source, Source::Null) && c.not_null && n > 0 {
                return Err(cannot_generate(t, c));
            }
            gens.push(column(t, c, source, seed));
        }
        let (groups, member_of) = groups(t, &joint, &gens, &rules, seed);
        out.push(TablePlan {
            name: table.name.clone(),
            columns: table.columns.clone(),
            gens,
            rows: n,
            generated,
            groups,
            member_of,
        });
    }
    Ok(out)
}

/// The statistics column `name` is generated from: stand-ins for a column
/// hidden from the user (never kept), what a joint list's combinations
/// leave for one of its members (drawn on its own for the other rows),
/// else its own.
fn generated_from(c: &ColumnStats, name: &str, joint: &[Mapped]) -> ColumnStats {
    let stats = c.stand_in_stats().or_else(|| {
        let s = c.stats.as_ref()?;
        joint
            .iter()
            .find_map(|m| Some(joint::residual(s, m, m.member(name)?)))
    });
    match stats {
        Some(s) => ColumnStats {
            stats: Some(s),
            ..c.clone()
        },
        None => c.clone(),
    }
}

/// Whether `--redact` names `t`'s column `name` (`table.column` or
/// `schema.table.column`).
fn redacted(t: &TableStats, name: &str, redact: &[String]) -> bool {
    redact.iter().any(|r| {
        *r == format!("{}.{name}", t.table) || *r == format!("{}.{}.{name}", t.schema, t.table)
    })
}

/// True when `column` of `t` is drawn from its own values: written by the
/// copy, no key, no foreign key, statistics visible, a supported type.
fn drawn_alone(t: &TableStats, table: &Table, column: &str) -> bool {
    let written = table.columns.iter().any(|q| unquote(q) == column);
    let plain = !t.unique.contains(column) && !t.parents.contains_key(column);
    written
        && plain
        && t.columns
            .get(column)
            .is_some_and(|c| c.stats.is_some() && c.hidden.is_none() && c.kind != Kind::Unsupported)
}

/// The groups of `joint`'s lists over the generators `gens` (their values
/// as the members' generators write them under `rules`), and each
/// generator's group and place in it.
fn groups(
    t: &TableStats,
    joint: &[Mapped],
    gens: &[Column],
    rules: &BTreeMap<String, Rule>,
    seed: u64,
) -> (Vec<Group>, Vec<Option<(usize, usize)>>) {
    let mut groups = Vec::new();
    let mut member_of = vec![None; gens.len()];
    for m in joint {
        let written: Vec<Vec<Value>> = m
            .columns
            .iter()
            .map(|c| match (t.columns.get(c), rules.get(c)) {
                (Some(col), Some(rule)) => model::most_common_written(col, *rule),
                _ => Vec::new(),
            })
            .collect();
        let salt = seed ^ model::salt(&t.schema, &t.table, &m.name);
        groups.push(Group::new(m, &written, salt));
        for (at, c) in m.columns.iter().enumerate() {
            if let Some(ix) = gens.iter().position(|g| g.name == *c) {
                member_of[ix] = Some((groups.len() - 1, at));
            }
        }
    }
    (groups, member_of)
}

/// The key space of `oid`'s unique `column` at `scale`.
fn key_space(
    by_oid: &BTreeMap<u32, &TableStats>,
    oid: u32,
    column: &str,
    rows: u64,
) -> Option<KeySpace> {
    let t = by_oid.get(&oid)?;
    let c = t.columns.get(column)?;
    let format = match privacy::rule(c, t.reltuples, true, true) {
        Rule::Generate(f) => f,
        Rule::Keep => Format::Token,
    };
    Some(KeySpace {
        kind: c.kind,
        format,
        width: model::text_width(c.stats.as_ref()),
        salt: model::salt(&t.schema, &t.table, column),
        rows,
        order: match c.stats.as_ref().and_then(|s| s.correlation) {
            Some(r) if r > 0.5 => 1,
            Some(r) if r < -0.5 => -1,
            _ => 0,
        },
    })
}

/// The generator of column `c` of `t` from `source`: its nulls, its
/// physical order and its streams for `seed`.
fn column(t: &TableStats, c: &ColumnStats, source: Source, seed: u64) -> Column {
    let null_frac = c.stats.as_ref().map(|s| s.null_frac).unwrap_or(0.0);
    let correlation = c.stats.as_ref().and_then(|s| s.correlation).unwrap_or(0.0);
    let positional = source
        .classes(null_frac)
        .map(|shares| order::positional_share(&shares, correlation))
        .unwrap_or(0.0);
    let salt = model::salt(&t.schema, &t.table, &c.name);
    Column {
        name: c.name.clone(),
        kind: c.kind,
        scale: c.scale,
        null_frac,
        positional,
        salt,
        streams: model::streams(seed, salt),
        source,
    }
    .with_slot_cache()
}

/// The refusal of a NOT NULL column that would be NULL.
fn cannot_generate(t: &TableStats, c: &ColumnStats) -> Error {
    let why = if c.kind == Kind::Unsupported {
        "its type is not supported"
    } else {
        "it has no statistics (hidden from this user, or never analysed)"
    };
    Error::BadInput(format!(
        "cannot generate {}.{}.{} ({}, NOT NULL): {why}; pass a source where it is analysed and of a supported type (integers, numeric, floats, text, uuid, timestamps, date, boolean, enums, jsonb)",
        t.schema, t.table, c.name, c.type_name
    ))
}

fn missing(t: &TableStats, name: &str) -> Error {
    Error::BadInput(format!(
        "no column {name} in {}.{}'s statistics; this is a bug in helpdesk-bench, please report it",
        t.schema, t.table
    ))
}

/// The target's stand-ins for the source's most common values of generated
/// columns (foreign keys and generated text), as text, mapped to the
/// source's values: so a parameter sampled from the target can be explained
/// on the source as the value of the same rank. Only ever sent back to the
/// source, never written to the target.
pub fn stand_ins(plans: &[TablePlan], stats: &[TableStats]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (plan, t) in plans.iter().zip(stats) {
        for g in &plan.gens {
            let Some(source) = t.columns.get(&g.name).and_then(|c| c.stats.as_ref()) else {
                continue;
            };
            let targets: Vec<Value> = match &g.source {
                Source::Parent(p) => (0..p.mcf.len() as u64)
                    .map(|k| p.keys.value(p.parent_of(k)))
                    .collect(),
                Source::Values(d) if plan.generated.contains(&g.name) && !g.kind.ordered() => {
                    d.mcv.clone()
                }
                _ => continue,
            };
            for (v, s) in targets.iter().zip(&source.mcv) {
                if let Some(text) = v.as_text() {
                    out.entry(text).or_insert_with(|| s.clone());
                }
            }
        }
    }
    out
}

/// A column: its table's oid and its name.
type ColumnKey = (u32, String);

/// Where each foreign key column's referenced parents start, when the
/// columns referencing one parent table fit side by side in it: the
/// parents an agent column references are then not those a customer column
/// references, as in the source where they are different users.
fn parent_regions(
    stats: &[TableStats],
    scale: f64,
    rows: &BTreeMap<u32, u64>,
) -> BTreeMap<ColumnKey, u64> {
    let mut children: BTreeMap<u32, Vec<(ColumnKey, u64)>> = BTreeMap::new();
    for t in stats {
        for (col, (parent, _)) in &t.parents {
            let Some(s) = t.columns.get(col).and_then(|c| c.stats.as_ref()) else {
                continue;
            };
            let scale = table_scale(rows, t, scale);
            let distinct = s.parents_referenced(t.reltuples, scale).round().max(1.0) as u64;
            children
                .entry(*parent)
                .or_default()
                .push(((t.oid, col.clone()), distinct));
        }
    }
    let mut out = BTreeMap::new();
    for (parent, cols) in children {
        let room = rows.get(&parent).copied().unwrap_or(0);
        if cols.len() < 2 || cols.iter().map(|c| c.1).sum::<u64>() > room {
            continue;
        }
        let mut base = 0;
        for (key, distinct) in cols {
            out.insert(key, base);
            base += distinct;
        }
    }
    out
}
