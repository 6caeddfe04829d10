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
/// a bare name is returned trimmed and unchanged.
pub fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1].replace("\"\"", "\"")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips_names_with_quotes_and_case() {
        for name in ["Conversation", "assignedTo", "we\"ird", "with space"] {
            assert_eq!(unquote(&quote_ident(name)), name);
        }
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(unquote("  plain "), "plain");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
