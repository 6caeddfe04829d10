//! Readable, unique query names from what a statement reads: its table,
//! the columns it filters by and the order it returns rows in
//! (`conversations_by_account_status_order_last_activity`), within
//! criterion's limits ([`MAX_NAME_LEN`], ASCII letters, digits and `_`).

use std::sync::LazyLock;

use regex::Regex;

use crate::advise::scans::{Compared, Scan};
use crate::queries::{Kind, MAX_NAME_LEN};

/// A name for a statement, not among `taken`.
pub fn name(
    sql: &str,
    kind: Kind,
    scans: &[Scan],
    compared: &[Compared],
    taken: &[String],
) -> String {
    let base = match kind {
        Kind::Write => write_name(sql),
        Kind::Read => read_name(scans, compared),
    };
    unique(&base, taken)
}

fn read_name(scans: &[Scan], compared: &[Compared]) -> String {
    let Some(first) = scans.first() else {
        return "select".into();
    };
    let mut filters: Vec<String> = Vec::new();
    for c in compared.iter().map(|c| &c.column).chain(
        scans
            .iter()
            .filter(|s| s.table == first.table)
            .flat_map(|s| s.equals.iter().map(|e| &e.0)),
    ) {
        let w = snake(c);
        if !filters.contains(&w) {
            filters.push(w);
        }
    }
    let mut name = snake(&first.table);
    if !filters.is_empty() {
        name = format!("{name}_by_{}", filters.join("_"));
    }
    let order: Vec<String> = first.order.iter().map(|k| snake(&k.column)).collect();
    if !order.is_empty() {
        name = format!("{name}_order_{}", order.join("_"));
    }
    name
}

fn write_name(sql: &str) -> String {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?i)\b(insert\s+into|update|delete\s+from)\s+((?:"(?:[^"]|"")+"|[\w.]+))"#)
            .expect("static regex")
    });
    match RE.captures(sql) {
        Some(c) => {
            let verb = c[1]
                .split_whitespace()
                .next()
                .unwrap_or("write")
                .to_lowercase();
            format!("{verb}_{}", snake(&crate::sql::unquote(&c[2])))
        }
        None => "write".into(),
    }
}

/// `assignedTo` -> `assigned_to`; anything but ASCII letters and digits
/// becomes `_`.
pub fn snake(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for ch in s.chars() {
        if ch.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let t = out.trim_matches('_');
    if t.is_empty() {
        "q".into()
    } else {
        t.to_string()
    }
}

/// `base`, cut to fit with room for a `_N` suffix, made unique.
fn unique(base: &str, taken: &[String]) -> String {
    let cut: String = base.chars().take(MAX_NAME_LEN - 3).collect();
    let cut = cut.trim_end_matches('_').to_string();
    if !taken.contains(&cut) {
        return cut;
    }
    (2..)
        .map(|n| format!("{cut}_{n}"))
        .find(|c| !taken.contains(c))
        .expect("an unused suffix")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::scans::Key;

    #[test]
    fn names_say_table_filters_and_order_and_stay_unique() {
        let scan = Scan {
            table: "Conversation".into(),
            equals: vec![("status".into(), None)],
            order: vec![Key {
                column: "lastActivity".into(),
                desc: true,
            }],
            output: vec![],
        };
        let cmp = [Compared {
            param: 1,
            table: "Conversation".into(),
            column: "accountId".into(),
        }];
        let n = name("", Kind::Read, std::slice::from_ref(&scan), &cmp, &[]);
        assert_eq!(n, "conversation_by_account_id_status_order_last_activity");
        let again = name("", Kind::Read, &[scan], &cmp, std::slice::from_ref(&n));
        assert_eq!(again, format!("{n}_2"));
        assert_eq!(
            name(r#"UPDATE "Message" SET a = $1"#, Kind::Write, &[], &[], &[]),
            "update_message"
        );
        let long = "x".repeat(100);
        assert!(unique(&long, &[]).len() <= MAX_NAME_LEN);
    }
}
