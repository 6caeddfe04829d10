//! Splitting a SQL file into statements the way psql does: semicolons end
//! statements except inside quotes, dollar-quoted bodies and comments, and
//! psql's `\gexec` ends one whose result holds statements to run. Each
//! statement can also say what it needs from the transaction around it.

/// One statement of a SQL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement text without comments or the closing semicolon.
    pub sql: String,
    /// 1-based line where the statement starts.
    pub line: usize,
    /// Ended by psql's `\gexec` rather than `;`: a query whose result's
    /// cells are statements, run in turn, each on its own.
    pub gexec: bool,
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

    /// True for `BEGIN`, `COMMIT`, `ROLLBACK` and their synonyms, such as
    /// the pair that wraps a whole file.
    pub fn is_transaction_control(&self) -> bool {
        matches!(self.txn_needs(), TxnNeeds::Control(_))
    }

    /// What this statement needs from the transaction around it, read from
    /// its keywords (never from the text inside quotes or comments).
    pub fn txn_needs(&self) -> TxnNeeds {
        if self.gexec {
            // What it runs is only known when it runs: as psql does outside
            // a block, each statement it returns commits on its own.
            return TxnNeeds::OutsideTransaction;
        }
        let top = words(&self.sql, false);
        let w = |i: usize| top.get(i).map(String::as_str).unwrap_or("");
        let rollback_to = w(1) == "TO" || (matches!(w(1), "WORK" | "TRANSACTION") && w(2) == "TO");
        match (w(0), w(1)) {
            ("BEGIN", _) | ("START", "TRANSACTION") => TxnNeeds::Control(TxnControl::Begin),
            ("COMMIT" | "ROLLBACK", "PREPARED") => TxnNeeds::OutsideTransaction,
            ("ROLLBACK", _) if rollback_to => TxnNeeds::InTransaction,
            ("COMMIT" | "END", _) => TxnNeeds::Control(TxnControl::Commit),
            ("ROLLBACK" | "ABORT", _) => TxnNeeds::Control(TxnControl::Rollback),
            _ if self.refuses_transaction_block(&top) => TxnNeeds::OutsideTransaction,
            _ => TxnNeeds::InTransaction,
        }
    }

    /// Statements PostgreSQL refuses to run inside a transaction block.
    fn refuses_transaction_block(&self, top: &[String]) -> bool {
        let w = |i: usize| top.get(i).map(String::as_str).unwrap_or("");
        match (w(0), w(1)) {
            ("VACUUM", _) | ("ALTER", "SYSTEM") => true,
            ("CREATE" | "DROP", "DATABASE" | "TABLESPACE") => true,
            ("CREATE", "INDEX") | ("DROP", "INDEX") => w(2) == "CONCURRENTLY",
            ("CREATE", "UNIQUE") => w(2) == "INDEX" && w(3) == "CONCURRENTLY",
            ("REINDEX", "SCHEMA" | "DATABASE" | "SYSTEM") => true,
            // The option list `REINDEX (CONCURRENTLY) ...` is inside parentheses.
            ("REINDEX", _) => words(&self.sql, true).iter().any(|x| x == "CONCURRENTLY"),
            ("ALTER", "TABLE") => {
                top.iter().any(|x| x == "DETACH") && top.last().is_some_and(|x| x == "CONCURRENTLY")
            }
            ("CLUSTER", _) => top.len() == 1 || (top.len() == 2 && w(1) == "VERBOSE"),
            _ => false,
        }
    }
}

/// What a statement needs from the transaction around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnNeeds {
    /// Runs inside a transaction block: most DDL and DML, and `SAVEPOINT`,
    /// `RELEASE`, `ROLLBACK TO`.
    InTransaction,
    /// Refused inside a transaction block: `CREATE INDEX CONCURRENTLY`,
    /// `VACUUM`, `CREATE DATABASE`, `ALTER SYSTEM` and the like; and a
    /// query ended by `\gexec`, whose statements run on their own.
    OutsideTransaction,
    /// Starts or ends a transaction block itself.
    Control(TxnControl),
}

/// A statement that starts or ends a transaction block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnControl {
    /// `BEGIN`, `START TRANSACTION`.
    Begin,
    /// `COMMIT`, `END`.
    Commit,
    /// `ROLLBACK`, `ABORT` (not `ROLLBACK TO SAVEPOINT`).
    Rollback,
}

/// The bare words of a statement, upper-cased, skipping quoted identifiers,
/// string literals and dollar-quoted bodies; with `nested` false, also the
/// words inside parentheses.
fn words(sql: &str, nested: bool) -> Vec<String> {
    let b = sql.as_bytes();
    let (mut out, mut depth, mut i) = (Vec::new(), 0i32, 0);
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => i = closing_quote(b, i, c),
            b'$' => {
                i = dollar_tag(sql, i).map_or(i + 1, |tag| {
                    sql[i + tag.len()..]
                        .find(tag)
                        .map_or(b.len(), |p| i + tag.len() + p + tag.len())
                })
            }
            b'(' | b')' => {
                depth += if c == b'(' { 1 } else { -1 };
                i += 1;
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'$')) {
                    i += 1;
                }
                if depth == 0 || nested {
                    out.push(sql[start..i].to_ascii_uppercase());
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// The identifiers a statement names, skipping string literals,
/// dollar-quoted bodies and comments: a quoted identifier as written
/// inside its quotes, a bare word folded to lower case as PostgreSQL folds
/// it. Keywords come out too; callers match against names they know.
pub fn identifiers(sql: &str) -> std::collections::BTreeSet<String> {
    let b = sql.as_bytes();
    let mut out = std::collections::BTreeSet::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(b.len(), |p| i + p);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 2);
            }
            b'\'' => i = closing_quote(b, i, c),
            b'"' => {
                let end = closing_quote(b, i, c);
                out.insert(crate::sql::unquote(&sql[i..end]));
                i = end;
            }
            b'$' => {
                i = dollar_tag(sql, i).map_or(i + 1, |tag| {
                    sql[i + tag.len()..]
                        .find(tag)
                        .map_or(b.len(), |p| i + tag.len() + p + tag.len())
                })
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'$')) {
                    i += 1;
                }
                out.insert(sql[start..i].to_ascii_lowercase());
            }
            _ => i += 1,
        }
    }
    out
}

/// Splits SQL text into statements, dropping comments. A `\gexec` outside
/// quotes ends the statement before it, as psql reads it; the rest of its
/// line is its arguments, ignored. Other psql meta-commands stay in the
/// text, for the server to refuse.
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
        if c == b'\\' && is_meta(text, i, "gexec") {
            push(&mut out, &mut cur, start_line, true);
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b';' {
            push(&mut out, &mut cur, start_line, false);
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
    push(&mut out, &mut cur, start_line, false);
    out
}

fn push(out: &mut Vec<Statement>, cur: &mut String, line: usize, gexec: bool) {
    let sql = cur.trim();
    if !sql.is_empty() {
        out.push(Statement {
            sql: sql.to_string(),
            line,
            gexec,
        });
    }
    cur.clear();
}

/// True when the backslash at `i` starts the psql meta-command `name`.
fn is_meta(text: &str, i: usize, name: &str) -> bool {
    let word: String = text[i + 1..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    word == name
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
    fn identifiers_skip_literals_and_comments_and_fold_bare_words() {
        let ids = identifiers(
            "SELECT \"assignedTo\", Status FROM app.\"Conversation\" -- \"nope\"\n\
             WHERE x = 'status_in_a_string' AND y = $t$\"body\"$t$ /* \"gone\" */",
        );
        for want in [
            "assignedTo",
            "status",
            "app",
            "Conversation",
            "x",
            "y",
            "select",
        ] {
            assert!(ids.contains(want), "{want} in {ids:?}");
        }
        for gone in ["nope", "status_in_a_string", "body", "gone", "Status"] {
            assert!(!ids.contains(gone), "{gone} not in {ids:?}");
        }
    }

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

    fn needs(sql: &str) -> Vec<TxnNeeds> {
        split(sql).iter().map(Statement::txn_needs).collect()
    }

    #[test]
    fn transaction_control_in_its_spellings() {
        use TxnControl::*;
        let got = needs(
            "begin; BEGIN ISOLATION LEVEL SERIALIZABLE; start transaction read write;\n\
             COMMIT; commit work; END; ROLLBACK; abort transaction",
        );
        let want = [
            Begin, Begin, Begin, Commit, Commit, Commit, Rollback, Rollback,
        ];
        assert_eq!(got, want.map(TxnNeeds::Control));
    }

    #[test]
    fn savepoints_stay_inside_the_transaction() {
        let got = needs("SAVEPOINT a; ROLLBACK TO SAVEPOINT a; rollback work to a; RELEASE a");
        assert_eq!(got, [TxnNeeds::InTransaction; 4]);
    }

    #[test]
    fn statements_postgres_refuses_in_a_transaction_block() {
        let sql = "CREATE INDEX CONCURRENTLY i ON t (a);\n\
                   create unique index concurrently if not exists \"u\" on t (b);\n\
                   DROP INDEX CONCURRENTLY i; REINDEX TABLE CONCURRENTLY t;\n\
                   REINDEX (VERBOSE, CONCURRENTLY) INDEX i; REINDEX (VERBOSE) SCHEMA public;\n\
                   VACUUM (ANALYZE) t; vacuum; CREATE DATABASE x; DROP DATABASE x;\n\
                   ALTER SYSTEM SET work_mem = '8MB';\n\
                   ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY; COMMIT PREPARED 'x'";
        assert_eq!(needs(sql), [TxnNeeds::OutsideTransaction; 13]);
    }

    #[test]
    fn ordinary_statements_run_in_a_transaction() {
        let sql = "CREATE INDEX i ON t (a); DROP INDEX i; REINDEX TABLE t;\n\
                   CREATE INDEX \"CONCURRENTLY\" ON t (a);\n\
                   ALTER TYPE e ADD VALUE 'x'; ANALYZE t; CLUSTER t USING i;\n\
                   ALTER TABLE p DETACH PARTITION p1";
        assert_eq!(needs(sql), [TxnNeeds::InTransaction; 8]);
    }

    #[test]
    fn the_word_commit_in_strings_comments_and_bodies_is_not_control() {
        let sql = "-- COMMIT;\n/* ROLLBACK; */ SELECT 'COMMIT';\n\
                   COMMENT ON TABLE t IS 'BEGIN; COMMIT';\n\
                   DO $$ BEGIN PERFORM 1; COMMIT; END $$;\n\
                   CREATE PROCEDURE p() LANGUAGE plpgsql AS $b$ BEGIN COMMIT; END $b$;\n\
                   SELECT \"commit\" FROM t; SELECT 'x' \"VACUUM\"";
        let st = split(sql);
        assert_eq!(st.len(), 6, "{st:#?}");
        assert!(st.iter().all(|s| s.txn_needs() == TxnNeeds::InTransaction));
        assert!(!st.iter().any(Statement::is_transaction_control));
    }

    #[test]
    fn gexec_ends_a_query_whose_result_runs() {
        let sql = "BEGIN;\nCOMMIT;\nSELECT format('DROP INDEX %I', 'a;b')\n  FROM x\n\\gexec\n\
                   SELECT '\\gexec' \\gexec -- same line\nCREATE INDEX CONCURRENTLY i ON t (a);";
        let st = split(sql);
        assert_eq!(st.len(), 5, "{st:#?}");
        assert_eq!(st[2].sql, "SELECT format('DROP INDEX %I', 'a;b')\n  FROM x");
        assert_eq!(st[2].line, 3);
        assert!(st[2].gexec && st[3].gexec && !st[4].gexec && !st[1].gexec);
        assert_eq!(st[3].sql, "SELECT '\\gexec'");
        assert_eq!(st[2].txn_needs(), TxnNeeds::OutsideTransaction);
        assert_eq!(st[4].line, 7);
    }

    #[test]
    fn positional_parameters_are_not_dollar_quotes() {
        let st = split("SELECT $1, $2; SELECT 2");
        assert_eq!(st.len(), 2);
        assert_eq!(st[0].sql, "SELECT $1, $2");
    }
}
