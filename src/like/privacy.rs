//! Which of the source's values may cross into the target. `pg_stats`
//! holds real values (the most common e-mail addresses, names, message
//! fragments), so a column's most common values and histogram bounds are
//! kept only when the column is low-cardinality and not personal-looking:
//! at most [`KEEP_MAX_DISTINCT`] distinct values and a distinct count that
//! does not grow with the table (`n_distinct` >= 0), not a key nor a foreign
//! key, not uuid or jsonb, no text column named like [`PERSONAL`], no value holding
//! an `@`, and not named by `--redact`. Enum and boolean columns always
//! keep theirs: their labels are in the schema already. Every other column's values are
//! generated with the same length and format class ([`Format`]).

use super::stats::{ColumnStats, Kind};

/// The most distinct values a column may have for its values to be kept:
/// statuses, priorities, roles, a few dozen site names.
pub const KEEP_MAX_DISTINCT: f64 = 100.0;

/// Column names (lower case, substrings) whose values are never kept.
pub const PERSONAL: [&str; 16] = [
    "email", "mail", "name", "phone", "address", "street", "password", "hash", "token", "secret",
    "content", "body", "message", "title", "comment", "note",
];

/// Whether a real value of `column` may be written where others read
/// it (a captured catalogue's pinned literal): not when the column is
/// named like [`PERSONAL`] or the value holds an `@`.
pub fn may_show(column: &str, value: &str) -> bool {
    let lower = column.to_lowercase();
    !PERSONAL.iter().any(|p| lower.contains(p)) && !value.contains('@')
}

/// The shape generated values take, read from the column's name and the
/// statistics' sample of values (never copied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `local@domain.tld`.
    Email,
    /// `8-4-4-4-12` hex, in a text column.
    UuidText,
    /// Lower-case letters and digits, one token (cuid-like identifiers).
    Token,
    /// Words separated by spaces (names, titles, message bodies).
    Words,
}

/// Whether a column's values cross over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Low-cardinality: the most common values and histogram bounds are used as they are.
    Keep,
    /// Generated in this format (for text; other types ignore it).
    Generate(Format),
}

/// The rule for `col` of a table of `rows` rows; `key` when it is a key or
/// foreign key, `redacted` when `--redact` names it.
pub fn rule(col: &ColumnStats, rows: f64, key: bool, redacted: bool) -> Rule {
    let format = format(col);
    if matches!(col.kind, Kind::Enum | Kind::Bool) {
        // Their values are the schema's (enum labels), not the data's.
        return Rule::Keep;
    }
    let Some(s) = &col.stats else {
        return Rule::Generate(format);
    };
    let lower = col.name.to_lowercase();
    let personal = col.kind == Kind::Text && PERSONAL.iter().any(|p| lower.contains(p));
    let at = s.mcv.iter().chain(&s.hist).any(|v| v.contains('@'));
    let kept_type = !matches!(col.kind, Kind::Uuid | Kind::Jsonb | Kind::Unsupported);
    let grows = s.n_distinct < 0.0;
    if key
        || redacted
        || personal
        || at
        || !kept_type
        || grows
        || s.distinct(rows) > KEEP_MAX_DISTINCT
    {
        Rule::Generate(format)
    } else {
        Rule::Keep
    }
}

/// Whether `col` holds e-mail addresses: each one someone's, so their
/// number grows with the table, as a foreign key's parents would (a desk
/// ten times smaller has ten times fewer customers, not fewer
/// conversations each), whatever the sign of `n_distinct`.
pub fn identifies(col: &ColumnStats) -> bool {
    col.kind == Kind::Text && format(col) == Format::Email
}

/// The format class of a column's values.
fn format(col: &ColumnStats) -> Format {
    let lower = col.name.to_lowercase();
    let sample: Vec<&String> = col
        .stats
        .iter()
        .flat_map(|s| s.mcv.iter().chain(&s.hist))
        .collect();
    let share = |f: &dyn Fn(&str) -> bool| {
        let n = sample.iter().filter(|v| f(v)).count();
        !sample.is_empty() && n * 2 > sample.len()
    };
    if lower.contains("mail") || share(&|v| v.contains('@')) {
        Format::Email
    } else if share(&|v| v.len() == 36 && v.chars().filter(|c| *c == '-').count() == 4) {
        Format::UuidText
    } else if share(&|v| v.contains(' ')) || sample.is_empty() && lower.contains("name") {
        Format::Words
    } else {
        Format::Token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_personal_looking_column_or_value_is_never_shown() {
        assert!(may_show("status", "open"));
        assert!(!may_show("customerEmail", "ops"));
        assert!(!may_show("source", "ann@example.com"));
        assert!(!may_show("display_name", "Ann"));
    }
    use crate::like::stats::Stats;

    fn col(name: &str, mcv: &[&str], n_distinct: f64) -> ColumnStats {
        ColumnStats {
            name: name.into(),
            kind: Kind::Text,
            type_name: "text".into(),
            not_null: true,
            scale: None,
            labels: Vec::new(),
            stats: Some(Stats {
                n_distinct,
                mcv: mcv.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            }),
            hidden: None,
        }
    }

    #[test]
    fn low_cardinality_statuses_are_kept_and_personal_columns_are_not() {
        assert_eq!(
            rule(&col("status", &["open", "closed"], 3.0), 1e4, false, false),
            Rule::Keep
        );
        assert_eq!(
            rule(&col("status", &["open"], 3.0), 1e4, false, true),
            Rule::Generate(Format::Token)
        );
        assert_eq!(
            rule(
                &col("contact", &["a@b.io", "c@d.io"], 3.0),
                1e4,
                false,
                false
            ),
            Rule::Generate(Format::Email)
        );
        assert_eq!(
            rule(&col("name", &["Ann Lee"], 50.0), 1e4, false, false),
            Rule::Generate(Format::Words)
        );
        assert_eq!(
            rule(&col("code", &["x1"], -0.5), 1e4, false, false),
            Rule::Generate(Format::Token)
        );
    }
}
