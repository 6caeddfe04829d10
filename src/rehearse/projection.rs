//! Blocked time projected to production row counts. A wait is laid over
//! the migration's statements as they ran (each statement's window on the
//! server's clock); the part of the wait spent under a statement that
//! scans its table (an index build, a foreign key's check, a `VALIDATE
//! CONSTRAINT`) grows with that table's rows, linearly, and the rest
//! (catalog-only `ALTER TABLE`s, commits, waits for other sessions) stays
//! as measured. It is a projection and is labelled so: builds that sort
//! on disk in production take longer than linear, so it is a lower bound.
//!
//! The same windows tell which of the migration's statements took the lock
//! a wait was for: the first statement of the transaction running at the
//! wait's start that works on the table waited for.

use crate::measure::statement_table;
use crate::schema::{split, StatementKind, StatementTiming};

/// One statement's run, on the server's clock, with how its time scales.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub start: f64,
    pub end: f64,
    pub factor: f64,
}

/// The statements' windows between `t0` and `t1` (server epoch seconds,
/// read just before and after the migration): each statement's own time,
/// with the time between them (round trips) shared out evenly, so the
/// windows line up with the server's clock. Each statement's time is
/// scaled by `rows_factor(table)` when it scans its table, else by 1.
pub fn windows(
    t0: f64,
    t1: f64,
    statements: &[StatementTiming],
    rows_factor: impl Fn(&str) -> Option<f64>,
) -> Vec<Window> {
    let own: f64 = statements.iter().map(|s| s.duration.as_secs_f64()).sum();
    let gap = ((t1 - t0) - own).max(0.0) / (statements.len() as f64 + 1.0);
    let mut t = t0 + gap;
    statements
        .iter()
        .map(|s| {
            let start = t;
            t += s.duration.as_secs_f64();
            let end = t;
            t += gap;
            let factor = match (scans(&s.statement), statement_table(&s.statement)) {
                (true, Some(table)) => rows_factor(&table).unwrap_or(1.0),
                _ => 1.0,
            };
            Window { start, end, factor }
        })
        .collect()
}

/// True for a statement whose time grows with its table's rows.
fn scans(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    if upper.contains("VALIDATE CONSTRAINT") {
        return true;
    }
    split(sql).first().is_some_and(|st| {
        matches!(
            StatementKind::of(st),
            StatementKind::CreateIndex { .. } | StatementKind::AddForeignKey
        ) && !upper.contains("NOT VALID")
    })
}

/// The statement that took the lock on `table` that a wait starting at
/// `at` (server epoch seconds) found held: within the transaction running
/// then (from its `BEGIN` to its `COMMIT`; the whole file when it has no
/// transaction control and nothing that refuses a transaction block, as
/// `schema::apply` then wraps it; else the statement alone), the first
/// statement on `table`. The whole transaction is searched, not only up to
/// `at`: the windows are reconstructed, and a time that falls a little
/// early must still find the statement.
pub fn taken_by(
    at: f64,
    table: &str,
    statements: &[StatementTiming],
    windows: &[Window],
) -> Option<String> {
    let i = windows
        .iter()
        .position(|w| at < w.end)
        .unwrap_or(windows.len().checked_sub(1)?);
    let is = |k: usize, word: &str| {
        statements[k]
            .statement
            .trim()
            .to_ascii_uppercase()
            .starts_with(word)
    };
    let wrapped = !(0..statements.len()).any(|k| is(k, "BEGIN") || is(k, "COMMIT"))
        && !statements
            .iter()
            .any(|s| s.statement.to_ascii_uppercase().contains("CONCURRENTLY"));
    let (begin, end) = if wrapped {
        (0, statements.len() - 1)
    } else {
        match (0..=i)
            .rev()
            .take_while(|&k| k == i || !is(k, "COMMIT"))
            .find(|&k| is(k, "BEGIN"))
        {
            Some(b) => (
                b,
                (i..statements.len())
                    .find(|&k| is(k, "COMMIT"))
                    .unwrap_or(statements.len() - 1),
            ),
            None => (i, i),
        }
    };
    statements[begin..=end]
        .iter()
        .find(|s| statement_table(&s.statement).as_deref() == Some(table))
        .map(|s| s.statement.clone())
}

/// The wait `from..to` (server epoch seconds) projected, in milliseconds.
pub fn project(from: f64, to: f64, windows: &[Window]) -> f64 {
    let mut covered = 0.0;
    let mut projected = 0.0;
    for w in windows {
        let overlap = (to.min(w.end) - from.max(w.start)).max(0.0);
        covered += overlap;
        projected += overlap * w.factor;
    }
    let rest = ((to - from) - covered).max(0.0);
    (projected + rest) * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn st(sql: &str, ms: u64) -> StatementTiming {
        StatementTiming {
            line: 1,
            statement: sql.into(),
            duration: Duration::from_millis(ms),
        }
    }

    #[test]
    fn only_time_under_a_scan_grows_with_the_rows() {
        let ws = windows(
            100.0,
            101.31,
            &[
                st(r#"ALTER TABLE "User" ADD COLUMN "role" text"#, 100),
                st(
                    r#"CREATE INDEX "Message_role_idx" ON "Message"("role")"#,
                    1000,
                ),
                st(
                    r#"CREATE INDEX CONCURRENTLY "c" ON "Conversation"("x")"#,
                    200,
                ),
                st("COMMIT", 10),
            ],
            |t| (t == "Message").then_some(10.0),
        );
        assert_eq!(ws[0].factor, 1.0);
        assert_eq!(ws[1].factor, 10.0);
        assert_eq!(ws[2].factor, 1.0, "no production rows for Conversation");
        // Waited from the ALTER to COMMIT: 100 + 10 × 1000 + 200 + 10 ms.
        let p = project(100.0, 101.31, &ws);
        assert!((p - 10_310.0).abs() < 1e-6, "{p}");
        // A wait past the statements keeps its measured tail.
        let p = project(101.3, 101.5, &ws);
        assert!((p - 200.0).abs() < 1e-6, "{p}");
    }

    #[test]
    fn the_lock_is_taken_by_the_first_statement_of_the_transaction_on_the_table() {
        let sts = [
            st("BEGIN", 1),
            st(r#"ALTER TABLE "User" ADD COLUMN "role" text"#, 10),
            st(r#"CREATE INDEX "m" ON "Message"("role")"#, 1000),
            st("COMMIT", 1),
            st(
                r#"CREATE INDEX CONCURRENTLY "c" ON "Conversation"("x")"#,
                100,
            ),
        ];
        let ws = windows(0.0, 1.112, &sts, |_| None);
        assert_eq!(
            taken_by(0.5, "User", &sts, &ws).as_deref(),
            Some(r#"ALTER TABLE "User" ADD COLUMN "role" text"#)
        );
        assert_eq!(taken_by(1.05, "User", &sts, &ws), None, "outside the block");
        assert!(taken_by(1.05, "Conversation", &sts, &ws)
            .unwrap()
            .contains("CONCURRENTLY"));
    }

    #[test]
    fn a_file_without_transaction_control_is_one_transaction_and_an_early_time_still_finds_it() {
        let sts = [
            st(r#"CREATE INDEX "a" ON "Message"("x")"#, 100),
            st(r#"CREATE INDEX "b" ON "Session"("y")"#, 100),
        ];
        let ws = windows(0.0, 0.2, &sts, |_| None);
        // Held on "Message" while "Session"'s index builds: one transaction.
        assert_eq!(
            taken_by(0.15, "Message", &sts, &ws).as_deref(),
            Some(r#"CREATE INDEX "a" ON "Message"("x")"#)
        );
        // A time estimated before "Session"'s statement began.
        assert_eq!(
            taken_by(0.05, "Session", &sts, &ws).as_deref(),
            Some(r#"CREATE INDEX "b" ON "Session"("y")"#)
        );
    }

    #[test]
    fn the_time_between_statements_is_shared_out_so_windows_meet_the_server_clock() {
        // Two statements of 100 ms over 230 ms: 10 ms before, between, after.
        let ws = windows(0.0, 0.23, &[st("COMMIT", 100), st("COMMIT", 100)], |_| None);
        assert!((ws[0].start - 0.01).abs() < 1e-9 && (ws[0].end - 0.11).abs() < 1e-9);
        assert!((ws[1].start - 0.12).abs() < 1e-9 && (ws[1].end - 0.22).abs() < 1e-9);
    }

    #[test]
    fn a_foreign_key_added_not_valid_does_not_scan() {
        assert!(!scans(
            r#"ALTER TABLE "C" ADD CONSTRAINT "f" FOREIGN KEY ("a") REFERENCES "U"("id") NOT VALID"#
        ));
        assert!(scans(r#"ALTER TABLE "C" VALIDATE CONSTRAINT "f""#));
        assert!(scans(
            r#"ALTER TABLE "C" ADD CONSTRAINT "f" FOREIGN KEY ("a") REFERENCES "U"("id")"#
        ));
    }
}
