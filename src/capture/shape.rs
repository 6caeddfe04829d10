//! A statement's shape: its SQL with constants, parameters and their
//! casts folded, so that a hand-written query, the server's normalised
//! text of it, and two entries pg_stat_statements keeps apart (other casts,
//! other users) read the same.

use std::sync::LazyLock;

use regex::Regex;

/// SQL reduced to its shape: `$n` casts, constants and parameters become
/// `?`, whitespace and case are folded. A hand-written query and the
/// server's normalised text of it read the same, `EXTRACT`'s field
/// included (the server keeps it as a constant: `extract($5 from t)`).
pub fn normalised(sql: &str) -> String {
    static CONST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"'(?:[^']|'')*'|\$\d+|\b\d+(?:\.\d+)?\b").expect("static regex")
    });
    static CAST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"\?(?:::(?:"(?:[^"]|"")+"|\w+(?:\s+(?:without|with)\s+time\s+zone|\s+varying|\s+precision)?)(?:\[\])?)+"#)
            .expect("static regex")
    });
    static FIELD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\bextract\s*\(\s*[A-Za-z_]\w*\s+from\b").expect("static regex")
    });
    // What the capture rewrites to prepare it reads as what it was:
    // `$n::interval` as `interval '…'`, `date_part($n, x)` as `extract(…
    // from x)` ([`super::params::typed_literals`]).
    static TYPED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)\b(?:interval|timestamptz|timestamp|date|time|numeric|uuid|jsonb|json)\s+\?",
        )
        .expect("static regex")
    });
    static DATE_PART: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\bdate_part\s*\(\s*\?\s*,\s*").expect("static regex"));
    let s = FIELD.replace_all(sql, "extract(? from");
    let s = CONST.replace_all(&s, "?");
    let s = CAST.replace_all(&s, "?");
    let s = TYPED.replace_all(&s, "?");
    let s = DATE_PART.replace_all(&s, "extract(? from ");
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .trim_end_matches(';')
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_capture_rewrites_reads_as_what_the_application_wrote() {
        assert_eq!(
            normalised("SELECT extract(epoch FROM b - a) WHERE b < a + interval '1 hour'"),
            normalised("SELECT date_part($1::text, b - a) WHERE b < a + $2::interval"),
        );
    }

    #[test]
    fn hand_written_and_normalised_sql_read_the_same() {
        assert_eq!(
            normalised(
                "SELECT id FROM \"Conversation\"\n WHERE status = 'AWAITING_HUMAN_RESPONSE' AND \"assignedTo\" = $1\n LIMIT 50"
            ),
            normalised(
                "SELECT id FROM \"Conversation\" WHERE status = $2 AND \"assignedTo\" = $1::text LIMIT $3"
            )
        );
        assert_ne!(normalised("SELECT a FROM t"), normalised("SELECT b FROM t"));
        assert_eq!(
            normalised("select floor(extract(epoch from t.x)) + interval '1 hour'"),
            normalised("select floor(extract($5 from t.x)) + interval $4")
        );
    }
}
