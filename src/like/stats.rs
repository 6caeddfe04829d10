//! The source's per-column statistics, read from `pg_class`, `pg_stats`
//! and `pg_stats_ext` only (never a row of a table) into typed
//! [`ColumnStats`] and [`Joint`] lists; the same
//! reader gives the target's, for [`super::fidelity`]. Values of ordered
//! types (numbers, timestamps, dates) also come as `float8` (epoch seconds
//! for times), converted by the server from the statistics' own arrays.

use std::collections::{BTreeMap, BTreeSet};

use tokio_postgres::Client;

use crate::error::{Context, Error, Result};

/// How a column's values are written and generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Enum,
    Uuid,
    Timestamp,
    Date,
    Jsonb,
    Unsupported,
}

impl Kind {
    /// From the base type's name (`pg_type.typname`) and `typtype`.
    fn of(typname: &str, typtype: &str) -> Kind {
        match (typname, typtype) {
            (_, "e") => Kind::Enum,
            ("bool", _) => Kind::Bool,
            ("int2", _) => Kind::Int2,
            ("int4", _) => Kind::Int4,
            ("int8", _) => Kind::Int8,
            ("float4", _) => Kind::Float4,
            ("float8", _) => Kind::Float8,
            ("numeric", _) => Kind::Numeric,
            ("text" | "varchar" | "bpchar" | "citext", _) => Kind::Text,
            ("uuid", _) => Kind::Uuid,
            ("timestamp" | "timestamptz", _) => Kind::Timestamp,
            ("date", _) => Kind::Date,
            ("jsonb", _) => Kind::Jsonb,
            _ => Kind::Unsupported,
        }
    }

    /// True for types whose histogram is a range of numbers.
    pub fn ordered(self) -> bool {
        matches!(
            self,
            Kind::Int2
                | Kind::Int4
                | Kind::Int8
                | Kind::Float4
                | Kind::Float8
                | Kind::Numeric
                | Kind::Timestamp
                | Kind::Date
        )
    }
}

/// One column of a table, and its statistics when `pg_stats` has them.
#[derive(Debug, Clone)]
pub struct ColumnStats {
    /// Unquoted, as in `pg_stats.attname`.
    pub name: String,
    pub kind: Kind,
    /// `format_type` of the column, for messages.
    pub type_name: String,
    pub not_null: bool,
    /// Digits after the point of a `numeric(p, s)`, or of a timestamp's
    /// seconds (`timestamp(3)`; 6 when unconstrained).
    pub scale: Option<i32>,
    /// An enum's labels in their sort order.
    pub labels: Vec<String>,
    pub stats: Option<Stats>,
    /// Why `pg_stats` shows this user nothing for the column, when it is
    /// hidden rather than never analysed.
    pub hidden: Option<Hidden>,
}

/// The width a hidden text column's values are generated at, in bytes.
pub const HIDDEN_WIDTH: i32 = 24;

/// Why a column's statistics are hidden from the user reading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// No `SELECT` privilege on the column (`pg_stats` shows only columns
    /// the user may read).
    Privilege,
    /// Row-level security applies to the user on its table (`pg_stats`
    /// shows nothing of such a table).
    RowSecurity,
}

impl Hidden {
    pub fn describe(self) -> &'static str {
        match self {
            Hidden::Privilege => "no SELECT privilege",
            Hidden::RowSecurity => "row-level security",
        }
    }
}

impl ColumnStats {
    /// The statistics a hidden column is generated from: no NULLs, every
    /// value distinct, text about [`HIDDEN_WIDTH`] bytes wide, no most
    /// common values or histogram, so its values follow the type's
    /// generator alone. `None` for a visible column.
    pub fn stand_in_stats(&self) -> Option<Stats> {
        self.hidden.map(|_| Stats {
            n_distinct: -1.0,
            avg_width: HIDDEN_WIDTH,
            ..Stats::default()
        })
    }
}

/// The `pg_stats` row of a column.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub null_frac: f64,
    pub n_distinct: f64,
    pub avg_width: i32,
    pub correlation: Option<f64>,
    pub mcv: Vec<String>,
    pub mcf: Vec<f64>,
    pub hist: Vec<String>,
    /// `mcv` as numbers, for ordered types.
    pub mcv_num: Vec<f64>,
    /// `hist` as numbers, for ordered types.
    pub hist_num: Vec<f64>,
}

impl Stats {
    /// Distinct non-null values for a table of `rows` rows.
    pub fn distinct(&self, rows: f64) -> f64 {
        if self.n_distinct < 0.0 {
            -self.n_distinct * rows
        } else {
            self.n_distinct
        }
    }

    /// The list of most common values holds every value `ANALYZE` counted:
    /// as many as its distinct count, or shares that cover every non-null
    /// row (a table small enough to be read whole, where `n_distinct` is a
    /// ratio: Umami's 10 owners of 51 websites, -0.196).
    pub fn lists_every_value(&self) -> bool {
        let listed = self.mcf.iter().sum::<f64>();
        !self.mcf.is_empty()
            && (self.n_distinct > 0.0 && self.mcf.len() as f64 >= self.n_distinct.round()
                || 1.0 - self.null_frac - listed < 1e-3)
    }

    /// Parents a foreign key column references, in a table `scale` times
    /// the source's `rows`: the count grows with the table, as children
    /// per parent stay (messages per conversation), unless the source's
    /// list of most common values holds every parent it references (a
    /// few parents each on many rows: tenants, websites, agents); then
    /// the same parents keep their shares of the rows, and each one's
    /// rows grow. Every filter on such a parent then selects the same
    /// share of the table as on the source, so its plans can agree. A
    /// count that grows is held to the listed parents and one per row
    /// left to the others (a small table's few such rows can reference
    /// no more parents than that).
    pub fn parents_referenced(&self, rows: f64, scale: f64) -> f64 {
        let distinct = self.distinct(rows);
        if self.lists_every_value() {
            return distinct;
        }
        let listed = self.mcf.len() as f64;
        let others = (1.0 - self.null_frac - self.mcf.iter().sum::<f64>()).max(0.0);
        (distinct * scale).min(listed + (others * rows * scale).round())
    }
}

/// One table's row estimate and columns.
#[derive(Debug, Clone)]
pub struct TableStats {
    pub oid: u32,
    /// Schema and table, unquoted, as `pg_stats` names them.
    pub schema: String,
    pub table: String,
    pub reltuples: f64,
    pub columns: BTreeMap<String, ColumnStats>,
    /// Columns that are a primary or unique key on their own.
    pub unique: BTreeSet<String>,
    /// Single-column foreign keys: column, then the parent table's oid and column.
    pub parents: BTreeMap<String, (u32, String)>,
    /// Foreign keys of several columns, as the server prints them: not
    /// generated (a column is drawn on its own), so refused.
    pub composite_parents: Vec<String>,
    /// Multi-column most common values of extended statistics objects.
    pub joint: Vec<Joint>,
    /// Extended statistics objects with a most-common-values list that
    /// `pg_stats_ext` hides from this user (it shows only the owner's
    /// tables' on 14 and later), schema-qualified.
    pub joint_hidden: Vec<String>,
}

/// The most-common-values list of one extended statistics object
/// (`CREATE STATISTICS … (mcv)`, read from `pg_stats_ext`): value
/// combinations of its columns and their shares of all rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Joint {
    /// Schema-qualified, as `pg_stats_ext` names it (unquoted).
    pub name: String,
    /// Its columns, unquoted, in the object's order.
    pub columns: Vec<String>,
    /// Each combination (`None`: NULL) and its share of the table's rows.
    pub combos: Vec<(Vec<Option<String>>, f64)>,
}

/// Multi-column MCV lists on plain columns (objects on expressions are
/// left out); on 15 and later, the table's own rather than its inheritance
/// tree's (`to_jsonb` reads columns a server may not have).
const JOINT: &str =
    "SELECT e.statistics_schemaname::text || '.' || e.statistics_name::text, e.attnames::text[],
        pg_catalog.array_to_json(e.most_common_vals)::text, e.most_common_freqs::float8[]
    FROM pg_catalog.pg_stats_ext e
    WHERE e.schemaname = $1 AND e.tablename = $2 AND e.most_common_vals IS NOT NULL
      AND coalesce(pg_catalog.to_jsonb(e) -> 'inherited', 'false'::jsonb) = 'false'::jsonb
      AND coalesce(pg_catalog.to_jsonb(e) -> 'exprs', 'null'::jsonb) = 'null'::jsonb
    ORDER BY 1";

/// Objects with an MCV list that `pg_stats_ext` does not show this user.
const JOINT_HIDDEN: &str = "SELECT n.nspname::text || '.' || x.stxname::text
    FROM pg_catalog.pg_statistic_ext x JOIN pg_catalog.pg_namespace n ON n.oid = x.stxnamespace
    WHERE x.stxrelid = $1 AND 'm' = ANY(x.stxkind)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stats_ext e
                      WHERE e.statistics_schemaname = n.nspname AND e.statistics_name = x.stxname)
    ORDER BY 1";

/// The [`Joint`] lists of `schema.table` (oid `oid`), and the names of
/// those hidden from this user.
async fn joint(
    client: &Client,
    oid: u32,
    schema: &str,
    table: &str,
) -> Result<(Vec<Joint>, Vec<String>)> {
    let doing = format!("reading the extended statistics of {schema}.{table}");
    let mut lists = Vec::new();
    for r in client
        .query(JOINT, &[&schema, &table])
        .await
        .context(&doing)?
    {
        let values: Vec<Vec<Option<String>>> =
            serde_json::from_str(&r.get::<_, String>(2)).map_err(|e| {
                Error::BadInput(format!(
                    "{doing}: a most-common-values list did not parse ({e}); this is a bug in helpdesk-bench, please report it"
                ))
            })?;
        let freqs: Vec<f64> = r.get(3);
        lists.push(Joint {
            name: r.get(0),
            columns: r.get(1),
            combos: values.into_iter().zip(freqs).collect(),
        });
    }
    let hidden = client.query(JOINT_HIDDEN, &[&oid]).await.context(&doing)?;
    Ok((lists, hidden.iter().map(|r| r.get(0)).collect()))
}

impl TableStats {
    /// Makes a unique key of several columns unique in the generated rows:
    /// unless one of `members` is unique already, the most distinct member
    /// that is no foreign key (a time only when nothing else is left) is
    /// generated as a key of its own (so every combination is unique). With only foreign keys as members, nothing
    /// changes, and the key's constraint may fail after the rows.
    fn key_one_of(&mut self, members: &[String]) {
        if members.iter().any(|m| self.unique.contains(m)) {
            return;
        }
        let distinct = |m: &String| {
            self.columns
                .get(m)
                .and_then(|c| c.stats.as_ref())
                .map_or(0.0, |s| s.distinct(self.reltuples))
        };
        // A time is the last choice: generated as a key it leaves its
        // histogram, and with it a range partition's bounds. On a tie, the
        // key's first column.
        let time = |m: &String| {
            self.columns
                .get(m)
                .is_some_and(|c| matches!(c.kind, Kind::Timestamp | Kind::Date))
        };
        let best = members
            .iter()
            .filter(|m| !self.parents.contains_key(*m))
            .rev()
            .max_by(|a, b| {
                (!time(a), distinct(a))
                    .partial_cmp(&(!time(b), distinct(b)))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        if let Some(m) = best.cloned() {
            self.unique.insert(m);
        }
    }
}

/// Foreign keys the schema does not declare (an application that keeps its
/// relations in code, as Prisma's `relationMode = "prisma"` does): a column
/// of one table named like an id (`website_id`, `sessionId`) is taken to
/// reference the one other table whose single-column key has the same name
/// and type. Only the generator reads it, so joins on such columns find
/// rows in the generated data; no constraint is made. Returns each inferred
/// reference as `table.column -> table.column`.
pub fn infer_parents(tables: &mut [TableStats]) -> Vec<String> {
    let keys: Vec<(u32, String, String, Kind)> = tables
        .iter()
        .flat_map(|t| {
            t.unique.iter().filter_map(|c| {
                let kind = t.columns.get(c)?.kind;
                Some((t.oid, t.table.clone(), c.clone(), kind))
            })
        })
        .collect();
    let mut inferred = Vec::new();
    for t in tables.iter_mut() {
        for (name, c) in &t.columns {
            let lower = name.to_ascii_lowercase();
            let id_like = lower.len() > 2 && lower.ends_with("id");
            if !id_like || t.unique.contains(name) || t.parents.contains_key(name) {
                continue;
            }
            let mut matches = keys
                .iter()
                .filter(|(oid, _, key, kind)| *oid != t.oid && key == name && *kind == c.kind);
            if let (Some((oid, table, key, _)), None) = (matches.next(), matches.next()) {
                inferred.push(format!("{}.{name} -> {table}.{key}", t.table));
                t.parents.insert(name.clone(), (*oid, key.clone()));
            }
        }
    }
    inferred
}

/// Per table: its row estimate; whether `pg_stats` shows any of it; whether
/// row-level security hides it from this user, or every column is
/// unreadable; whether it was ever analysed by the activity statistics'
/// account (what tells "never analysed" on 13, where `reltuples` is 0, not
/// -1, before the first `ANALYZE`); and whether the server is 14 or later.
const TABLES: &str = "SELECT c.oid, n.nspname::text, c.relname::text, c.reltuples::float8,
    EXISTS (SELECT 1 FROM pg_catalog.pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname),
    c.relrowsecurity AND pg_catalog.row_security_active(c.oid),
    NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                  AND NOT a.attisdropped AND pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT')),
    pg_catalog.pg_stat_get_last_analyze_time(c.oid) IS NOT NULL
        OR pg_catalog.pg_stat_get_last_autoanalyze_time(c.oid) IS NOT NULL,
    pg_catalog.current_setting('server_version_num')::int >= 140000
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = ANY($1)";

const UNIQUE: &str = "SELECT a.attname::text FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = $1 AND i.indisunique AND i.indnatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL";

/// Unique keys of several columns (key columns only, no expression, no
/// predicate), each as its member columns.
const COMPOSITE_UNIQUE: &str = "SELECT ARRAY(SELECT a.attname::text
    FROM pg_catalog.unnest((i.indkey::pg_catalog.int2[])[0:i.indnkeyatts - 1]) k
    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k)
FROM pg_catalog.pg_index i
WHERE i.indrelid = $1 AND i.indisunique AND i.indnkeyatts > 1 AND i.indpred IS NULL AND i.indexprs IS NULL";

/// Foreign keys of several columns, as the server prints them.
const COMPOSITE_PARENTS: &str = "SELECT pg_catalog.pg_get_constraintdef(k.oid) FROM pg_catalog.pg_constraint k
WHERE k.conrelid = $1 AND k.contype = 'f' AND pg_catalog.array_length(k.conkey, 1) > 1 ORDER BY k.conname";

const PARENTS: &str =
    "SELECT a.attname::text, k.confrelid, p.attname::text FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
JOIN pg_catalog.pg_attribute p ON p.attrelid = k.confrelid AND p.attnum = k.confkey[1]
WHERE k.conrelid = $1 AND k.contype = 'f' AND pg_catalog.array_length(k.conkey, 1) = 1";

const COLUMNS: &str = "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
    b.typname::text, b.typtype::text,
    CASE WHEN b.typname = 'numeric' AND coalesce(NULLIF(t.typtypmod, -1), a.atttypmod) > 4
         THEN (coalesce(NULLIF(t.typtypmod, -1), a.atttypmod) - 4) & 65535
         WHEN b.typname IN ('timestamp', 'timestamptz')
         THEN coalesce(NULLIF(coalesce(NULLIF(t.typtypmod, -1), a.atttypmod), -1), 6) END,
    ARRAY(SELECT l.enumlabel::text FROM pg_catalog.pg_enum l WHERE l.enumtypid = b.oid ORDER BY l.enumsortorder),
    NOT pg_catalog.has_column_privilege(a.attrelid, a.attnum, 'SELECT')
FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum";

/// The `float8` of `v`, a value of base type `typname`, in SQL.
fn as_number(typname: &str) -> Option<&'static str> {
    match typname {
        "int2" | "int4" | "int8" | "float4" | "float8" | "numeric" => Some("v::float8"),
        "timestamp" | "timestamptz" | "date" => Some("extract(epoch FROM v)::float8"),
        _ => None,
    }
}

/// Reads the statistics of the tables `oids` on `client`. With
/// `require_analyzed`, refuses, naming them, tables never analysed
/// (`reltuples` of -1 on 14 and later; on 13 a `reltuples` of 0 with no
/// analysis on record; or no `pg_stats` row at all while the table has
/// rows). A table or column hidden from the user (row-level security, no
/// `SELECT` privilege) is not "never analysed": it is marked
/// [`ColumnStats::hidden`].
pub async fn read(
    client: &Client,
    oids: &[u32],
    require_analyzed: bool,
) -> Result<Vec<TableStats>> {
    let rows = client
        .query(TABLES, &[&oids])
        .await
        .context("reading the tables' row estimates (pg_class)")?;
    let mut out = Vec::new();
    let mut never_analysed = Vec::new();
    for r in rows {
        let (oid, schema, table, reltuples, has_stats): (u32, String, String, f64, bool) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        let (rls, unreadable, analysed, v14): (bool, bool, bool, bool) =
            (r.get(5), r.get(6), r.get(7), r.get(8));
        let hidden = (rls || unreadable) && !has_stats;
        let never = reltuples < 0.0
            || (!hidden && reltuples > 0.0 && !has_stats)
            || (!v14 && !hidden && reltuples == 0.0 && !has_stats && !analysed);
        if never {
            never_analysed.push(format!("{schema}.{table}"));
            continue;
        }
        let mut columns = columns(client, oid, &schema, &table).await?;
        if rls && !has_stats {
            for c in columns.values_mut() {
                c.hidden = Some(Hidden::RowSecurity);
            }
        }
        let doing = format!("reading the keys of {schema}.{table}");
        let unique = client.query(UNIQUE, &[&oid]).await.context(&doing)?;
        let composite = client
            .query(COMPOSITE_UNIQUE, &[&oid])
            .await
            .context(&doing)?;
        let parents = client.query(PARENTS, &[&oid]).await.context(&doing)?;
        let composite_parents = client
            .query(COMPOSITE_PARENTS, &[&oid])
            .await
            .context(&doing)?;
        let (joint, joint_hidden) = joint(client, oid, &schema, &table).await?;
        let mut t = TableStats {
            joint,
            joint_hidden,
            oid,
            schema,
            table,
            reltuples: reltuples.max(0.0),
            columns,
            unique: unique.iter().map(|r| r.get(0)).collect(),
            parents: parents
                .iter()
                .map(|r| (r.get(0), (r.get(1), r.get(2))))
                .collect(),
            composite_parents: composite_parents.iter().map(|r| r.get(0)).collect(),
        };
        for members in composite.iter().map(|r| r.get::<_, Vec<String>>(0)) {
            t.key_one_of(&members);
        }
        out.push(t);
    }
    if require_analyzed && !never_analysed.is_empty() {
        return Err(Error::BadInput(format!(
            "{} never analysed on the source, so it has no statistics to copy the shape of; run ANALYZE on {} there (this command never does), then run it again",
            never_analysed.join(", "),
            if never_analysed.len() == 1 { "it" } else { "them" }
        )));
    }
    out.sort_by_key(|t| oids.iter().position(|o| *o == t.oid));
    Ok(out)
}

async fn columns(
    client: &Client,
    oid: u32,
    schema: &str,
    table: &str,
) -> Result<BTreeMap<String, ColumnStats>> {
    let rows = client
        .query(COLUMNS, &[&oid])
        .await
        .context(format!("reading the columns of {schema}.{table}"))?;
    let mut out = BTreeMap::new();
    for r in rows {
        let (name, type_name, not_null, typname, typtype): (String, String, bool, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        let stats = column_stats(client, schema, table, &name, &typname).await?;
        let col = ColumnStats {
            kind: Kind::of(&typname, &typtype),
            scale: r.get(5),
            labels: r.get(6),
            hidden: r.get::<_, bool>(7).then_some(Hidden::Privilege),
            name: name.clone(),
            type_name,
            not_null,
            stats,
        };
        out.insert(name, col);
    }
    Ok(out)
}

/// The `pg_stats` row of one column (not the inheritance tree's).
async fn column_stats(
    client: &Client,
    schema: &str,
    table: &str,
    column: &str,
    typname: &str,
) -> Result<Option<Stats>> {
    let numbers = |arr: &str| match as_number(typname) {
        Some(e) => format!(
            "ARRAY(SELECT {e} FROM pg_catalog.unnest(({arr}::text)::pg_catalog.{typname}[]) v)"
        ),
        None => "ARRAY[]::float8[]".into(),
    };
    let sql = format!(
        "SELECT s.null_frac::float8, s.n_distinct::float8, s.avg_width, s.correlation::float8,
            (s.most_common_vals::text)::text[], s.most_common_freqs::float8[],
            (s.histogram_bounds::text)::text[], {}, {}
        FROM pg_catalog.pg_stats s
        WHERE s.schemaname = $1 AND s.tablename = $2 AND s.attname = $3 AND NOT s.inherited",
        numbers("s.most_common_vals"),
        numbers("s.histogram_bounds")
    );
    let row = client
        .query_opt(&sql, &[&schema, &table, &column])
        .await
        .context(format!("reading pg_stats of {schema}.{table}.{column}"))?;
    Ok(row.map(|r| Stats {
        null_frac: r.get(0),
        n_distinct: r.get(1),
        avg_width: r.get(2),
        correlation: r.get(3),
        mcv: r.get::<_, Option<Vec<String>>>(4).unwrap_or_default(),
        mcf: r.get::<_, Option<Vec<f64>>>(5).unwrap_or_default(),
        hist: r.get::<_, Option<Vec<String>>>(6).unwrap_or_default(),
        mcv_num: r.get::<_, Option<Vec<f64>>>(7).unwrap_or_default(),
        hist_num: r.get::<_, Option<Vec<f64>>>(8).unwrap_or_default(),
    }))
}

/// Each table's rows in the target: `F ×` the source's, except that the
/// parents a foreign key keeps at any `F` ([`Stats::parents_referenced`]:
/// a column listing every parent it references) stay as they are and
/// only the table's other rows scale. Umami's 50 websites with events,
/// of 51, stay 50 at `F = 0.1` (not 5) and make 53 at 3 (not 153, 103 of
/// them without an event); the help desk's 100 agents of 5,000 users
/// stay 100 while its customers scale.
pub fn target_rows(stats: &[TableStats], scale: f64) -> BTreeMap<u32, u64> {
    let mut kept: BTreeMap<u32, f64> = BTreeMap::new();
    for t in stats {
        for (col, (parent, _)) in &t.parents {
            let Some(s) = t.columns.get(col).and_then(|c| c.stats.as_ref()) else {
                continue;
            };
            if s.lists_every_value() {
                let k = kept.entry(*parent).or_default();
                *k = k.max(s.distinct(t.reltuples).round());
            }
        }
    }
    stats
        .iter()
        .map(|t| {
            let whole = kept.get(&t.oid).copied().unwrap_or(0.0).min(t.reltuples);
            let rows = whole + (t.reltuples - whole) * scale;
            (t.oid, rows.round().max(0.0) as u64)
        })
        .collect()
}

/// Table `t`'s own factor: `scale`, or for a table [`target_rows`] made
/// bigger, its target rows over the source's.
pub fn table_scale(rows: &BTreeMap<u32, u64>, t: &TableStats, scale: f64) -> f64 {
    match rows.get(&t.oid) {
        Some(&r) if t.reltuples > 0.0 && r as f64 != (t.reltuples * scale).round() => {
            r as f64 / t.reltuples
        }
        _ => scale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_parents_kept_whole_keeps_as_many_rows() {
        let mut site = table(1, "site", &[("id", Kind::Int4)], &["id"]);
        site.reltuples = 51.0;
        let mut event = table(2, "event", &[("site_id", Kind::Int4)], &[]);
        event.reltuples = 100_000.0;
        event.parents.insert("site_id".into(), (1, "id".into()));
        // 50 sites, all listed among the most common values.
        event.columns.get_mut("site_id").unwrap().stats = Some(Stats {
            n_distinct: 50.0,
            mcf: vec![0.02; 50],
            ..Stats::default()
        });
        let stats = [site, event];
        let rows = target_rows(&stats, 0.1);
        assert_eq!((rows[&1], rows[&2]), (50, 10_000));
        assert!((table_scale(&rows, &stats[0], 0.1) - 50.0 / 51.0).abs() < 1e-12);
        assert_eq!(table_scale(&rows, &stats[1], 0.1), 0.1);
        // At 3 times, the 50 and three times the one other: 53, not 153.
        assert_eq!(target_rows(&stats, 3.0)[&1], 53);
        // Listed by shares that cover every row, as ANALYZE keeps a small
        // table's values (10 owners of 51 sites, n_distinct -0.196).
        let owners = Stats {
            n_distinct: -10.0 / 51.0,
            mcf: vec![0.1; 10],
            ..Stats::default()
        };
        assert!(owners.lists_every_value());
        let tail = Stats {
            n_distinct: -0.5,
            mcf: vec![0.1; 5],
            ..Stats::default()
        };
        assert!(!tail.lists_every_value());
    }

    #[test]
    fn listed_parents_stay_and_others_grow_as_far_as_their_rows_reach() {
        let of = |n_distinct: f64, mcf: Vec<f64>| Stats {
            n_distinct,
            mcf,
            ..Stats::default()
        };
        // Five tenants, all listed: the same five at any scale factor.
        let tenants = of(5.0, vec![0.4, 0.3, 0.15, 0.1, 0.05]);
        assert_eq!(tenants.parents_referenced(1000.0, 3.0), 5.0);
        assert_eq!(tenants.parents_referenced(1000.0, 0.1), 5.0);
        // A tenth of the rows per parent, ten listed: grows with the table.
        let conversations = of(-0.1, vec![0.001; 10]);
        assert_eq!(conversations.parents_referenced(10_000.0, 3.0), 3000.0);
        assert_eq!(conversations.parents_referenced(10_000.0, 0.1), 100.0);
        // Ten parents, eight listed on 96% of 50 rows: at 3x, 6 rows are
        // left to the others, so 8 + 6 parents at most, not 30.
        let small = of(10.0, vec![0.12; 8]);
        assert_eq!(small.parents_referenced(50.0, 3.0), 14.0);
    }

    fn table(oid: u32, name: &str, cols: &[(&str, Kind)], unique: &[&str]) -> TableStats {
        TableStats {
            oid,
            schema: "public".into(),
            table: name.into(),
            reltuples: 100.0,
            columns: cols
                .iter()
                .map(|(c, kind)| {
                    let col = ColumnStats {
                        name: c.to_string(),
                        kind: *kind,
                        type_name: String::new(),
                        not_null: true,
                        scale: None,
                        labels: Vec::new(),
                        stats: None,
                        hidden: None,
                    };
                    (c.to_string(), col)
                })
                .collect(),
            unique: unique.iter().map(|c| c.to_string()).collect(),
            parents: BTreeMap::new(),
            composite_parents: Vec::new(),
            joint: Vec::new(),
            joint_hidden: Vec::new(),
        }
    }

    #[test]
    fn an_id_named_like_another_tables_key_of_its_type_is_taken_to_reference_it() {
        let mut t = vec![
            table(1, "website", &[("website_id", Kind::Uuid)], &["website_id"]),
            table(
                2,
                "session",
                &[("session_id", Kind::Uuid), ("website_id", Kind::Uuid)],
                &["session_id"],
            ),
            table(
                3,
                "website_event",
                &[
                    ("event_id", Kind::Uuid),
                    ("website_id", Kind::Uuid),
                    ("session_id", Kind::Text),
                    ("visit_id", Kind::Uuid),
                ],
                &["event_id"],
            ),
        ];
        let inferred = infer_parents(&mut t);
        assert_eq!(
            inferred,
            [
                "session.website_id -> website.website_id",
                "website_event.website_id -> website.website_id"
            ]
        );
        // Another type (text against uuid) or no such key: no reference.
        assert!(!t[2].parents.contains_key("session_id"));
        assert!(!t[2].parents.contains_key("visit_id"));
        assert_eq!(t[1].parents["website_id"], (1, "website_id".to_string()));
    }
}
