//! The columns an `INSERT … (columns) VALUES (…)` writes its parameters
//! to. Its generic plan compares no parameter with a column, so each `$n`
//! standing alone in the `VALUES` list (a cast allowed) is matched with the
//! column at its place in the column list; [`super::params`] then draws it
//! from that column's existing values, or writes a new key for a unique one.

use std::sync::LazyLock;

use regex::Regex;

use crate::sql::{quote_ident, split_top_level, unquote, QualName};

/// An `INSERT`'s table and the column each of its parameters fills.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    /// Unquoted, without its schema (found through `search_path`).
    pub table: String,
    /// `(n, column)`: `$n` fills `column` (unquoted).
    pub columns: Vec<(usize, String)>,
}

impl Insert {
    /// The column `$i` fills.
    pub fn column(&self, i: usize) -> Option<&str> {
        self.columns
            .iter()
            .find(|(n, _)| *n == i)
            .map(|(_, c)| c.as_str())
    }
}

/// The targets of `sql`'s parameters when it is an `INSERT` of one row
/// with a column list; `None` otherwise (`INSERT … SELECT`, no list,
/// several rows).
pub fn targets(sql: &str) -> Option<Insert> {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r#"(?is)^\s*insert\s+into\s+((?:(?:"(?:[^"]|"")+"|\w+)\s*\.\s*)?(?:"(?:[^"]|"")+"|\w+))\s*\(([^()]*)\)\s*values\s*\((.*)\)\s*(?:returning\b.*|on\s+conflict\b.*)?;?\s*$"#,
        )
        .expect("static regex")
    });
    static PARAM: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\$(\d+)(?:\s*::\s*[\w\s.\[\]()]+)?$").expect("static regex")
    });
    let c = RE.captures(sql)?;
    let table = QualName::parse(&c[1]).name;
    let columns = split_top_level(&c[2]);
    let values = split_top_level(&c[3]);
    if columns.len() != values.len() {
        return None;
    }
    let columns = columns
        .iter()
        .zip(&values)
        .filter_map(|(col, v)| {
            let n = PARAM.captures(v.trim())?[1].parse().ok()?;
            Some((n, unquote(col.trim())))
        })
        .collect();
    Some(Insert { table, columns })
}

/// An expression giving a new value of type `ty` for a unique column, one
/// per sampled row: so the rows a catalogue entry writes do not collide
/// with the table's keys. `None` for a type it cannot make one of.
pub fn new_key(ty: &str, table: &str, column: &str) -> Option<String> {
    let max = format!(
        "(SELECT coalesce(max({}), 0) FROM {})",
        quote_ident(column),
        quote_ident(table)
    );
    Some(match ty {
        "smallint" | "integer" | "bigint" => {
            format!("{max} + 1 + floor(random() * 1000000)::bigint")
        }
        "uuid" => "gen_random_uuid()".into(),
        "text" | "character varying" => "'hb' || substr(md5(random()::text), 1, 22)".into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_lone_parameter_of_the_values_list_fills_the_column_at_its_place() {
        let sql = r#"INSERT INTO "public"."Message" ("id","conversationId",role,"createdAt","tokenCount") VALUES ($1,$2::text,$3,now(),coalesce($4, $5)) RETURNING "id""#;
        let t = targets(sql).unwrap();
        assert_eq!(t.table, "Message");
        assert_eq!(
            t.columns,
            [
                (1, "id".to_string()),
                (2, "conversationId".to_string()),
                (3, "role".to_string())
            ]
        );
        assert_eq!(t.column(2), Some("conversationId"));
        assert_eq!(t.column(4), None);
        assert!(targets("INSERT INTO t SELECT $1").is_none());
        assert!(targets("INSERT INTO t (a, b) VALUES ($1)").is_none());
        assert_eq!(
            targets("insert into Events (a) values ($1)").unwrap().table,
            "events"
        );
    }
}
