//! Per-column generators built from the source's statistics: nulls at
//! `null_frac`; keys unique; foreign keys drawn from the parent's keys with
//! the child's skew; the most common values at their frequencies, then the
//! rest from the histogram (piecewise uniform between bounds for ordered
//! types, uniform over the bounds otherwise) spread over as many distinct
//! values as `n_distinct` says; physical order following `correlation`.
//!
//! Each row's place in its column's distribution is a quantile `u`: for a
//! share of rows its position in the table (the share for which `ANALYZE`
//! finds the source's correlation, [`super::order`]), for the others the column's own
//! low-discrepancy sequence ([`values::Weyl`]), which gives every share
//! exactly rather than by chance. The distribution runs in value order:
//! the most common values sorted, then the rest. Every value is a pure
//! function of the seed, the column and the row number, so the rows are
//! the same whatever the number of threads.

use std::sync::Arc;

use super::estimate;
use super::order;
use super::privacy::{Format, Rule};
use super::stats::{ColumnStats, Kind, Stats};
use super::values::{self, Value};

/// Which parent rows a foreign key column points at.
#[derive(Debug, Clone)]
pub struct Parent {
    pub keys: KeySpace,
    /// Frequencies of the most referenced parents, as shares of all rows.
    pub mcf: Vec<f64>,
    /// Parents referenced at all.
    pub distinct: u64,
    /// The first of a run of `distinct` parents of its own, when the
    /// columns referencing the same table fit side by side; else spread.
    pub base: Option<u64>,
}

/// The values of a unique column: row `i`'s is `value(i)`.
#[derive(Debug, Clone)]
pub struct KeySpace {
    pub kind: Kind,
    pub format: Format,
    pub width: usize,
    pub salt: u64,
    pub rows: u64,
    /// Keys ascending with the row number (1), descending (-1), or spread (0).
    pub order: i8,
}

impl KeySpace {
    /// The key of row `i`.
    pub fn value(&self, i: u64) -> Value {
        let rows = self.rows.max(1);
        let k = match self.order {
            1 => i,
            -1 => rows - 1 - i.min(rows - 1),
            _ => values::spread(i, rows),
        };
        match self.kind {
            Kind::Int2 | Kind::Int4 | Kind::Int8 | Kind::Numeric | Kind::Float4 | Kind::Float8 => {
                Value::Num((k + 1) as f64)
            }
            Kind::Uuid => Value::Uuid(values::uuid(self.salt, k, true)),
            Kind::Timestamp | Kind::Date => Value::Num(1_577_836_800.0 + k as f64 * 86_400.0),
            _ => Value::Text(values::unique_text(self.format, self.width, self.salt, k)),
        }
    }
}

/// Where a column's non-null values come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Always NULL: an unsupported type in a nullable column, or no statistics.
    Null,
    Key(KeySpace),
    Parent(Parent),
    Values(Drawn),
}

/// Values drawn from the most common values, then the histogram.
#[derive(Debug, Clone)]
pub struct Drawn {
    /// The most common values (kept, or generated stand-ins), in value order.
    pub mcv: Vec<Value>,
    /// Their cumulative shares among non-null rows, in the same order.
    pub cum: Vec<f64>,
    /// Ordered types: histogram bounds as numbers.
    pub hist_num: Vec<f64>,
    /// Kept unordered values: the histogram's bounds.
    pub hist_text: Vec<String>,
    /// Generated text or uuids: the format and width.
    pub generated: Option<(Format, usize)>,
    /// Distinct values outside the most common ones; `None`: all distinct.
    pub slots: Option<u64>,
    /// Each slot's generated value, made once ([`Column::with_slot_cache`]),
    /// when the slots are few enough: a message body drawn from 16,470
    /// values is then copied rather than spelled out a million times.
    pub cache: Option<Arc<[Value]>>,
}

/// The most bytes of generated text a column's slot cache holds.
const CACHE_BYTES: usize = 16 << 20;

/// One column's generator.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    pub scale: Option<i32>,
    pub null_frac: f64,
    /// The signed share of rows placed by position ([`super::order`]).
    pub positional: f64,
    pub salt: u64,
    /// Which rows are NULL, which are placed by position, and the others' quantiles.
    pub streams: [values::Weyl; 3],
    pub source: Source,
}

/// A column's three low-discrepancy streams for `seed`: the one that
/// picks the rows placed by position, and the quantiles of the others are
/// chosen with no small integer relation between their steps, so the rows
/// one picks are spread evenly over the other's values.
pub fn streams(seed: u64, salt: u64) -> [values::Weyl; 3] {
    let s = seed ^ salt;
    let placed = values::Weyl::new(s ^ 0x706f_7369);
    let mut k = 0u64;
    let quantile = loop {
        let q = values::Weyl::new(s.wrapping_add(k));
        if !q.related(&placed) || k > 1000 {
            break q;
        }
        k += 1;
    };
    [values::Weyl::new(s ^ 0x6e75_6c6c), placed, quantile]
}

/// A stable salt for a column, from its qualified name.
pub fn salt(schema: &str, table: &str, column: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in schema
        .bytes()
        .chain([0])
        .chain(table.bytes())
        .chain([0])
        .chain(column.bytes())
    {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The width of generated text from `avg_width` (a short varlena's header is one byte).
pub fn text_width(s: Option<&Stats>) -> usize {
    let w = s.map(|s| s.avg_width).unwrap_or(12).max(2) as usize;
    if w < 127 {
        w - 1
    } else {
        w - 4
    }
}

/// The most common values of `col` under `rule`, each with its place in
/// `pg_stats`' list and its share among non-null rows, in value order. A
/// high-cardinality ordered column's are stand-ins: evenly spaced between
/// its smallest and largest, by rank.
fn most_common(col: &ColumnStats, s: &Stats, rule: Rule, width: usize) -> Vec<(usize, Value, f64)> {
    let nonnull = (1.0 - s.null_frac).max(1e-9);
    let ordered = col.kind.ordered() && s.mcv_num.len() == s.mcf.len();
    let mut order: Vec<usize> = (0..s.mcf.len()).collect();
    if ordered {
        order.sort_by(|a, b| s.mcv_num[*a].total_cmp(&s.mcv_num[*b]));
    } else if col.kind == Kind::Enum {
        order.sort_by_key(|k| col.labels.iter().position(|l| Some(l) == s.mcv.get(*k)));
    } else if rule == Rule::Keep {
        order.sort_by(|a, b| s.mcv.get(*a).cmp(&s.mcv.get(*b)));
    }
    let (lo, hi) = s
        .mcv_num
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    let n = order.len();
    let format = match rule {
        Rule::Generate(f) => f,
        Rule::Keep => Format::Token,
    };
    order
        .iter()
        .enumerate()
        .map(|(rank, &k)| {
            let v = match (rule, ordered) {
                (Rule::Keep, true) => Value::Num(s.mcv_num[k]),
                (Rule::Keep, false) => Value::Text(s.mcv.get(k).cloned().unwrap_or_default()),
                (Rule::Generate(_), true) if n > 1 => {
                    Value::Num(lo + (hi - lo) * rank as f64 / (n - 1) as f64)
                }
                (Rule::Generate(_), true) => Value::Num(lo),
                (Rule::Generate(_), false) => {
                    values::generated(col.kind, format, width, salt_mcv(k), k as u64)
                }
            };
            (k, v, s.mcf[k] / nonnull)
        })
        .collect()
}

/// What `col`'s generator writes for each of its most common values, in
/// `pg_stats`' order: the value itself where kept, else its stand-in.
pub fn most_common_written(col: &ColumnStats, rule: Rule) -> Vec<Value> {
    let Some(s) = &col.stats else {
        return Vec::new();
    };
    let mut out = vec![Value::Null; s.mcf.len()];
    for (k, v, _) in most_common(col, s, rule, text_width(Some(s))) {
        out[k] = v;
    }
    out
}

/// The generator of a column that is neither a key nor a foreign key, for
/// a target of `rows` rows, analysed in a source of `source_rows`; its
/// values outside the most common as [`estimate::Tail`] has them.
pub fn drawn(col: &ColumnStats, rule: Rule, rows: f64, source_rows: f64) -> Source {
    let Some(s) = &col.stats else {
        return Source::Null;
    };
    let keep = rule == Rule::Keep;
    let format = match rule {
        Rule::Generate(f) => f,
        Rule::Keep => Format::Token,
    };
    let width = text_width(Some(s));
    let ordered = col.kind.ordered();
    let (mcv, shares): (Vec<Value>, Vec<f64>) = most_common(col, s, rule, width)
        .into_iter()
        .map(|(_, v, f)| (v, f))
        .unzip();
    let cum: Vec<f64> = shares
        .iter()
        .scan(0.0, |acc, f| {
            *acc += f;
            Some(acc.min(1.0))
        })
        .collect();
    let in_mcv = cum.last().copied().unwrap_or(0.0);
    let rest_rows = rows * (1.0 - s.null_frac) * (1.0 - in_mcv);
    let rest = estimate::Tail::of(col, source_rows, rows).map_or(1.0, |t| t.values);
    Source::Values(Drawn {
        mcv,
        cum,
        hist_num: if ordered {
            s.hist_num.clone()
        } else {
            Vec::new()
        },
        hist_text: if keep && !ordered {
            s.hist.clone()
        } else {
            Vec::new()
        },
        generated: (!keep && !ordered).then_some((format, width)),
        slots: (rest < rest_rows * 0.9).then_some(rest.round().max(1.0) as u64),
        cache: None,
    })
}

/// A salt that tells the stand-in of most common value `k` from other values.
fn salt_mcv(k: usize) -> u64 {
    0x9e37_79b9_7f4a_7c15u64.wrapping_mul(k as u64 + 1)
}

impl Column {
    /// The value of row `i` of `n` for `seed`.
    pub fn value(&self, seed: u64, i: u64, n: u64) -> Value {
        let [nulls, placed, quantile] = &self.streams;
        let (nf, c) = (self.null_frac, self.positional);
        // Rows placed by position take their nulls from a stream of their
        // own; the others share one stream for nulls and quantiles, so both
        // shares come out exact.
        let u = if placed.at(i) < c.abs() {
            if nulls.at(i) < nf {
                return Value::Null;
            }
            let p = (i as f64 + 0.5) / n.max(1) as f64;
            if c < 0.0 {
                1.0 - p
            } else {
                p
            }
        } else {
            let q = quantile.at(i);
            if q < nf {
                return Value::Null;
            }
            (q - nf) / (1.0 - nf).max(1e-9)
        };
        match &self.source {
            Source::Null => Value::Null,
            Source::Key(k) => k.value(i),
            Source::Parent(p) => p.keys.value(p.pick(u, self.null_frac)),
            Source::Values(d) => {
                let mut r = values::Rng::new(seed ^ self.salt, i);
                d.value(u, self, &mut r)
            }
        }
    }
}

impl Parent {
    /// The parent row at quantile `u`: the most referenced parents at their
    /// shares first, then the others referenced, evenly; parents in key
    /// order, so a child clustered by parent stays clustered.
    fn pick(&self, u: f64, null_frac: f64) -> u64 {
        let rows = self.keys.rows.max(1);
        let distinct = self.distinct.clamp(1, rows);
        let nonnull = (1.0 - null_frac).max(1e-9);
        let m = (self.mcf.len() as u64).min(distinct - 1);
        // Shares of all rows, against `u` of the non-null ones (one
        // multiplication per row, not a division per value).
        let (mut acc, scaled) = (0.0, u * nonnull);
        let mut slot = None;
        for (k, f) in self.mcf.iter().take(m as usize).enumerate() {
            acc += f;
            if scaled < acc {
                slot = Some(k as u64);
                break;
            }
        }
        let acc = acc / nonnull;
        let slot = slot.unwrap_or_else(|| {
            let q = ((u - acc) / (1.0 - acc).max(1e-9)).clamp(0.0, 1.0);
            m + ((q * (distinct - m) as f64) as u64).min(distinct - m - 1)
        });
        self.parent_of(slot)
    }

    /// The parent row of slot `slot` (slots `0..m` are the most referenced).
    pub fn parent_of(&self, slot: u64) -> u64 {
        let rows = self.keys.rows.max(1);
        let distinct = self.distinct.clamp(1, rows);
        match self.base {
            Some(b) => (b + slot).min(rows - 1),
            None => ((slot as u128 * rows as u128) / distinct as u128) as u64,
        }
    }
}

impl Column {
    /// This column with its generated values' slots made once, when they
    /// fit in [`CACHE_BYTES`]; the values are the same either way.
    pub fn with_slot_cache(mut self) -> Column {
        let Source::Values(d) = &self.source else {
            return self;
        };
        let (Some(shape), Some(slots)) = (d.generated, d.slots) else {
            return self;
        };
        if slots as usize * (shape.1 + 24) > CACHE_BYTES {
            return self;
        }
        // Each slot's value as Drawn::value makes it: at the slot's middle.
        let cache: Arc<[Value]> = (0..slots)
            .map(|k| d.ranked(&self, shape, k, (k as f64 + 0.5) / slots as f64))
            .collect();
        if let Source::Values(d) = &mut self.source {
            d.cache = Some(cache);
        }
        self
    }
}

impl Drawn {
    /// The generated value of tail slot `slot`, at quantile `q` of the tail.
    fn ranked(&self, col: &Column, (format, width): (Format, usize), slot: u64, q: f64) -> Value {
        let in_mcv = self.cum.last().copied().unwrap_or(0.0);
        let at = in_mcv + q * (1.0 - in_mcv);
        values::ranked(col.kind, format, width, col.salt, slot, at)
    }

    fn value(&self, u: f64, col: &Column, r: &mut values::Rng) -> Value {
        if let Some(k) = self.cum.iter().position(|c| u < *c) {
            return self.mcv[k].clone();
        }
        let in_mcv = self.cum.last().copied().unwrap_or(0.0);
        let q = ((u - in_mcv) / (1.0 - in_mcv).max(1e-9)).clamp(0.0, 1.0 - 1e-12);
        let (slot, q) = match self.slots {
            Some(s) => {
                let k = ((q * s as f64) as u64).min(s - 1);
                (k, (k as f64 + 0.5) / s as f64)
            }
            None => (r.bits(), q),
        };
        if let Some(cache) = &self.cache {
            return cache[slot as usize].clone();
        }
        if !self.hist_num.is_empty() {
            return Value::Num(values::inverse(&self.hist_num, q));
        }
        if !self.hist_text.is_empty() {
            let at = ((q * self.hist_text.len() as f64) as usize).min(self.hist_text.len() - 1);
            return Value::Text(self.hist_text[at].clone());
        }
        match (self.generated, self.mcv.len() as u64) {
            (Some(shape), _) => self.ranked(col, shape, slot, q),
            (None, 0) if col.kind.ordered() => Value::Num((slot % 1000) as f64),
            (None, 0) => values::generated(col.kind, Format::Token, 8, col.salt, slot),
            (None, m) => self.mcv[(slot % m) as usize].clone(),
        }
    }
}

impl Source {
    /// The shares of its classes in value order, for [`super::order`];
    /// `None` for keys, whose order is their own.
    pub fn classes(&self, null_frac: f64) -> Option<Vec<f64>> {
        let nonnull = (1.0 - null_frac).max(1e-9);
        match self {
            Source::Parent(p) => {
                let mcf: Vec<f64> = p.mcf.iter().map(|f| f / nonnull).collect();
                Some(order::classes(
                    &mcf,
                    p.distinct.saturating_sub(mcf.len() as u64),
                ))
            }
            Source::Values(d) => {
                let shares: Vec<f64> = d
                    .cum
                    .iter()
                    .scan(0.0, |prev, c| {
                        let s = c - *prev;
                        *prev = *c;
                        Some(s)
                    })
                    .collect();
                let rest = d.slots.unwrap_or(1000).max(d.hist_text.len() as u64);
                Some(order::classes(&shares, rest))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::like::privacy::Format;

    #[test]
    fn a_columns_slot_cache_gives_the_values_it_would_generate() {
        let col = ColumnStats {
            name: "body".into(),
            kind: Kind::Text,
            type_name: "text".into(),
            not_null: false,
            scale: None,
            labels: Vec::new(),
            stats: Some(Stats {
                null_frac: 0.1,
                n_distinct: 500.0,
                avg_width: 40,
                mcf: vec![0.2, 0.1],
                mcv: vec!["a".into(), "b".into()],
                ..Stats::default()
            }),
            hidden: None,
        };
        let source = drawn(&col, Rule::Generate(Format::Words), 10_000.0, 10_000.0);
        let salt = salt("public", "note", "body");
        let plain = Column {
            name: col.name.clone(),
            kind: col.kind,
            scale: None,
            null_frac: 0.1,
            positional: 0.3,
            salt,
            streams: streams(1, salt),
            source,
        };
        let cached = plain.clone().with_slot_cache();
        let Source::Values(d) = &cached.source else {
            panic!("a drawn column");
        };
        let slots = d.slots.expect("fewer values than rows") as usize;
        assert_eq!(d.cache.as_ref().map(|c| c.len()), Some(slots));
        for i in 0..10_000 {
            assert_eq!(
                plain.value(1, i, 10_000),
                cached.value(1, i, 10_000),
                "row {i}"
            );
        }
    }
}
