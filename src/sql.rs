//! SQL identifiers and literals: quoting a name or a string for a
//! statement, and unquoting a name read from a file. A leaf module, so
//! every layer from `cluster` up can use it.

/// Quotes an identifier for SQL, doubling any `"` inside it.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Quotes a string literal for SQL, doubling any `'` inside it.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Removes the double quotes around an identifier, undoing doubled `"`;
/// a bare name is folded to lower case, as PostgreSQL folds it. Anything
/// else (an expression, `"a" DESC`) is returned trimmed and unchanged.
pub fn unquote(s: &str) -> String {
    let s = s.trim();
    let bare = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1].replace("\"\"", "\"")
    } else if bare {
        s.to_ascii_lowercase()
    } else {
        s.to_string()
    }
}

/// A name as SQL text writes it, maybe qualified by its schema
/// (`app.orders`, `"App"."Orders"`, `orders`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct QualName {
    /// The schema, when the SQL names one.
    pub schema: Option<String>,
    pub name: String,
}

impl QualName {
    /// Reads `schema.name` or `name`, each part bare or double-quoted.
    pub fn parse(text: &str) -> QualName {
        let parts = split_dotted(text.trim());
        match parts.as_slice() {
            [schema, name] => QualName {
                schema: Some(unquote(schema)),
                name: unquote(name),
            },
            _ => QualName {
                schema: None,
                name: unquote(text),
            },
        }
    }

    /// A bare name, unqualified.
    pub fn bare(name: &str) -> QualName {
        QualName {
            schema: None,
            name: name.to_string(),
        }
    }

    /// The name as a statement or `to_regclass` reads it, quoted.
    pub fn sql(&self) -> String {
        qualified(self.schema.as_deref(), &self.name)
    }
}

impl std::fmt::Display for QualName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// `"schema"."name"`, or `"name"` without a schema.
pub fn qualified(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(s) => format!("{}.{}", quote_ident(s), quote_ident(name)),
        None => quote_ident(name),
    }
}

/// Splits at dots outside double quotes.
fn split_dotted(s: &str) -> Vec<&str> {
    let (mut parts, mut start, mut quoted) = (Vec::new(), 0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Each character of `s` outside single and double quotes, with its byte
/// offset and the parenthesis depth after it (a `(` at the top level is at
/// depth 1, its `)` back at 0).
pub fn unquoted(s: &str) -> impl Iterator<Item = (usize, char, i32)> + '_ {
    let (mut depth, mut quote) = (0i32, None);
    s.char_indices().filter_map(move |(i, ch)| {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, c) => {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                return Some((i, c, depth));
            }
        }
        None
    })
}

/// Splits at commas outside parentheses and quotes.
pub fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, _, _) in unquoted(s).filter(|&(_, c, depth)| c == ',' && depth == 0) {
        parts.push(&s[start..i]);
        start = i + 1;
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_and_parentheses_inside_quotes_do_not_count() {
        let s = r#"a, f(b, c), 'x,(y', "q,)" , d"#;
        assert_eq!(
            split_top_level(s),
            ["a", " f(b, c)", r#" 'x,(y'"#, r#" "q,)" "#, " d"]
        );
        let closes: Vec<usize> = unquoted("(a ')' (b)) c")
            .filter(|&(_, c, depth)| c == ')' && depth == 0)
            .map(|(i, _, _)| i)
            .collect();
        assert_eq!(closes, [10]);
    }

    #[test]
    fn quoting_round_trips_names_with_quotes_and_case() {
        for name in ["Conversation", "assignedTo", "we\"ird", "with space"] {
            assert_eq!(unquote(&quote_ident(name)), name);
        }
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(unquote("  plain "), "plain");
        assert_eq!(unquote("Orders"), "orders", "a bare name folds");
    }

    #[test]
    fn qualified_names_read_each_part() {
        let q = QualName::parse("app.\"Orders\"");
        assert_eq!(
            (q.schema.as_deref(), q.name.as_str()),
            (Some("app"), "Orders")
        );
        assert_eq!(q.sql(), "\"app\".\"Orders\"");
        assert_eq!(q.to_string(), "app.Orders");
        let dotted = QualName::parse("\"a.b\"");
        assert_eq!((dotted.schema, dotted.name.as_str()), (None, "a.b"));
        assert_eq!(QualName::parse("Plain").sql(), "\"plain\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
