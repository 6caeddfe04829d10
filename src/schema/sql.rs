//! Splitting a SQL file into statements the way psql does: semicolons end
//! statements except inside quotes, dollar-quoted bodies and comments.

/// One statement of a SQL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement text without comments or the closing semicolon.
    pub sql: String,
    /// 1-based line where the statement starts.
    pub line: usize,
}

impl Statement {
    /// The first words of the statement, for messages and timings.
    pub fn summary(&self) -> String {
        let flat = self.sql.split_whitespace().collect::<Vec<_>>().join(" ");
        match flat.char_indices().nth(72) {
            Some((i, _)) => format!("{}...", &flat[..i]),
            None => flat,
        }
    }

    /// The statement's leading keywords, upper-cased (e.g. `CREATE INDEX`).
    pub fn starts_with(&self, words: &str) -> bool {
        let head: Vec<String> = self
            .sql
            .split_whitespace()
            .take(words.split_whitespace().count())
            .map(|w| w.to_ascii_uppercase())
            .collect();
        head.join(" ") == words
    }

    /// True for the `BEGIN` and `COMMIT` that wrap a whole file.
    pub fn is_transaction_control(&self) -> bool {
        ["BEGIN", "COMMIT", "START TRANSACTION", "END", "ROLLBACK"]
            .iter()
            .any(|w| self.sql.trim().eq_ignore_ascii_case(w))
    }
}

/// Splits SQL text into statements, dropping comments.
pub fn split(text: &str) -> Vec<Statement> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start_line = 1;
    let mut line = 1;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let end = text[i + 2..]
                .find("*/")
                .map(|p| i + 2 + p + 2)
                .unwrap_or(b.len());
            line += text[i..end].matches('\n').count();
            cur.push(' ');
            i = end;
            continue;
        }
        let quoted_end = match c {
            b'\'' | b'"' => Some(closing_quote(b, i, c)),
            b'$' => dollar_tag(text, i).map(|tag| {
                text[i + tag.len()..]
                    .find(tag)
                    .map(|p| i + tag.len() + p + tag.len())
                    .unwrap_or(b.len())
            }),
            _ => None,
        };
        if let Some(end) = quoted_end {
            if cur.trim().is_empty() {
                start_line = line;
            }
            cur.push_str(&text[i..end]);
            line += text[i..end].matches('\n').count();
            i = end;
            continue;
        }
        if c == b';' {
            push(&mut out, &mut cur, start_line);
        } else {
            if cur.trim().is_empty() && !c.is_ascii_whitespace() {
                start_line = line;
            }
            let ch = text[i..].chars().next().unwrap_or(' ');
            cur.push(ch);
            if c == b'\n' {
                line += 1;
            }
            i += ch.len_utf8();
            continue;
        }
        i += 1;
    }
    push(&mut out, &mut cur, start_line);
    out
}

fn push(out: &mut Vec<Statement>, cur: &mut String, line: usize) {
    let sql = cur.trim();
    if !sql.is_empty() {
        out.push(Statement {
            sql: sql.to_string(),
            line,
        });
    }
    cur.clear();
}

/// Index just past the quote that closes the one at `start` (doubled quotes escape).
fn closing_quote(b: &[u8], start: usize, q: u8) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// The dollar-quote tag (`$$` or `$name$`) starting at `i`, if any.
fn dollar_tag(text: &str, i: usize) -> Option<&str> {
    let rest = &text[i + 1..];
    let end = rest.find('$')?;
    let name = &rest[..end];
    let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    valid.then(|| &text[i..i + end + 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_around_quotes_and_dollar_bodies() {
        let sql = "-- head; comment\nBEGIN;\nDO $g$ BEGIN RAISE 'a;b'; END $g$;\n\
                   COMMENT ON COLUMN \"M\".\"role\" IS 'user; ''x''';\n/* c; */ SELECT 1";
        let st = split(sql);
        assert_eq!(st.len(), 4, "{st:#?}");
        assert_eq!(st[0].sql, "BEGIN");
        assert_eq!(st[0].line, 2);
        assert!(st[1].sql.starts_with("DO $g$") && st[1].sql.ends_with("$g$"));
        assert_eq!(st[1].line, 3);
        assert!(st[2].sql.ends_with("'user; ''x'''"));
        assert_eq!(st[3].sql, "SELECT 1");
        assert!(st[0].is_transaction_control());
        assert!(st[2].starts_with("COMMENT ON"));
    }

    #[test]
    fn positional_parameters_are_not_dollar_quotes() {
        let st = split("SELECT $1, $2; SELECT 2");
        assert_eq!(st.len(), 2);
        assert_eq!(st[0].sql, "SELECT $1, $2");
    }
}
