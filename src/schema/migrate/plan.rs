//! How a migration file runs, decided from its statements before any of them
//! runs: as one atomic transaction, or as the units its own transaction
//! control makes (each `BEGIN` ... `COMMIT` block, and each statement outside
//! a block on its own). Also the wording of what a stopped run left applied.

use crate::schema::sql::{Statement, TxnControl, TxnNeeds};

/// How a file's statements run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// One transaction; all or nothing. `wrapped` when the file's own first
    /// `BEGIN` and last `COMMIT` are that transaction.
    Atomic { wrapped: bool },
    /// Unit by unit, each committing (or rolling back) as the file says.
    Units(Vec<Unit>),
}

/// Statements `first..=last` (0-based) that run together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    pub kind: UnitKind,
    pub first: usize,
    pub last: usize,
}

/// What a unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// A `BEGIN` ... `COMMIT` block, kept as written.
    Commits,
    /// A `BEGIN` ... `ROLLBACK` block: it runs and leaves nothing.
    RollsBack,
    /// One statement outside any block, committed on its own.
    Single,
}

impl Unit {
    /// True when a successful run of this unit stays applied.
    pub fn commits(&self) -> bool {
        self.kind != UnitKind::RollsBack
    }

    /// The 0-based statement indices of this unit.
    pub fn indices(&self) -> std::ops::RangeInclusive<usize> {
        self.first..=self.last
    }
}

/// Decides how `statements` run; the error is the reason the file can't run
/// as written, with the fix.
pub fn plan(statements: &[Statement]) -> Result<Plan, String> {
    let needs: Vec<TxnNeeds> = statements.iter().map(Statement::txn_needs).collect();
    let controls = needs
        .iter()
        .filter(|n| matches!(n, TxnNeeds::Control(_)))
        .count();
    if !needs.contains(&TxnNeeds::OutsideTransaction) {
        if controls == 0 {
            return Ok(Plan::Atomic { wrapped: false });
        }
        let begins = needs.first() == Some(&TxnNeeds::Control(TxnControl::Begin));
        let commits = needs.last() == Some(&TxnNeeds::Control(TxnControl::Commit));
        if controls == 2 && begins && commits {
            return Ok(Plan::Atomic { wrapped: true });
        }
    }
    units(statements, &needs).map(Plan::Units)
}

/// Splits into blocks and single statements, refusing a statement that can't
/// run inside the block it sits in, and a block that never ends.
fn units(statements: &[Statement], needs: &[TxnNeeds]) -> Result<Vec<Unit>, String> {
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    for (i, n) in needs.iter().enumerate() {
        match (open, n) {
            (None, TxnNeeds::Control(TxnControl::Begin)) => open = Some(i),
            (None, _) => out.push(Unit {
                kind: UnitKind::Single,
                first: i,
                last: i,
            }),
            (Some(first), TxnNeeds::Control(c @ (TxnControl::Commit | TxnControl::Rollback))) => {
                let kind = match c {
                    TxnControl::Rollback => UnitKind::RollsBack,
                    _ => UnitKind::Commits,
                };
                out.push(Unit {
                    kind,
                    first,
                    last: i,
                });
                open = None;
            }
            (Some(first), TxnNeeds::OutsideTransaction) => {
                return Err(format!(
                    "statement {} ({}) cannot run inside a transaction block, but it sits in the one opened by BEGIN at line {}; move it after that block's COMMIT",
                    i + 1,
                    label(&statements[i]),
                    statements[first].line
                ))
            }
            (Some(_), _) => {}
        }
    }
    match open {
        Some(first) => Err(format!(
            "the transaction opened by BEGIN at line {} is never committed; end it with COMMIT",
            statements[first].line
        )),
        None => Ok(out),
    }
}

/// `line N: first words`, as messages cite a statement.
pub fn label(st: &Statement) -> String {
    format!("line {}: {}", st.line, st.summary())
}

/// What a run that stopped at statement `failed` (0-based) inside `units`
/// left behind, as one clause list for the error message. `left_behind`
/// names what the failed statement itself left (an invalid index).
pub fn stopped_outcome(
    statements: &[Statement],
    units: &[Unit],
    failed: usize,
    left_behind: Option<String>,
) -> String {
    let done: Vec<&Unit> = units.iter().filter(|u| u.last < failed).collect();
    let committed: Vec<usize> = done
        .iter()
        .filter(|u| u.commits())
        .flat_map(|u| u.indices())
        .collect();
    let mut parts = Vec::new();
    if committed.is_empty() && left_behind.is_none() {
        parts.push("no statement was committed, the database is as it was".to_string());
    } else if committed.is_empty() {
        parts.push("no statement was committed".to_string());
    } else {
        let stay = if committed.len() == 1 {
            "stays"
        } else {
            "stay"
        };
        parts.push(clause(
            statements,
            &committed,
            &format!("committed and {stay} applied"),
        ));
    }
    let undone: Vec<usize> = done
        .iter()
        .filter(|u| !u.commits())
        .flat_map(|u| u.indices())
        .collect();
    if !undone.is_empty() {
        parts.push(clause(statements, &undone, "rolled back as the file says"));
    }
    let block = units
        .iter()
        .find(|u| u.indices().contains(&failed) && u.kind != UnitKind::Single);
    if let Some(u) = block.filter(|u| u.first < failed) {
        let lost: Vec<usize> = (u.first..failed).collect();
        parts.push(clause(
            statements,
            &lost,
            "rolled back with the failed transaction",
        ));
    }
    parts.extend(left_behind);
    let rest: Vec<usize> = (failed + 1..statements.len()).collect();
    if !rest.is_empty() {
        parts.push(clause(statements, &rest, "not run"));
    }
    parts.join("; ")
}

/// `statement 3 (line 7) was WHAT` or `statements 1–4, 8 (lines 1–20, 31)
/// were WHAT`, for the 0-based indices `idx` (ascending).
fn clause(statements: &[Statement], idx: &[usize], what: &str) -> String {
    let was = if idx.len() == 1 { "was" } else { "were" };
    format!("{} {was} {what}", cite(statements, idx))
}

/// `statement 3 (line 7)` or `statements 1–4, 8 (lines 1–20, 31)`.
fn cite(statements: &[Statement], idx: &[usize]) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &i in idx {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == i => *end = i,
            _ => runs.push((i, i)),
        }
    }
    let span = |a: usize, b: usize| {
        if a == b {
            a.to_string()
        } else {
            format!("{a}–{b}")
        }
    };
    let nums: Vec<String> = runs.iter().map(|&(a, b)| span(a + 1, b + 1)).collect();
    let lines: Vec<String> = runs
        .iter()
        .map(|&(a, b)| span(statements[a].line, statements[b].line))
        .collect();
    if idx.len() == 1 {
        format!("statement {} (line {})", nums[0], lines[0])
    } else {
        format!(
            "statements {} (lines {})",
            nums.join(", "),
            lines.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::sql::split;

    fn plan_of(sql: &str) -> Result<Plan, String> {
        plan(&split(sql))
    }

    fn unit(kind: UnitKind, first: usize, last: usize) -> Unit {
        Unit { kind, first, last }
    }

    #[test]
    fn a_plain_file_is_one_transaction() {
        let p = plan_of("CREATE TABLE a (x int); -- COMMIT;\nCOMMENT ON TABLE a IS 'COMMIT';");
        assert_eq!(p, Ok(Plan::Atomic { wrapped: false }));
    }

    #[test]
    fn a_file_wrapped_in_begin_commit_is_one_transaction() {
        let p = plan_of("BEGIN;\nSAVEPOINT s;\nCREATE TABLE a (x int);\nRELEASE s;\nEND;");
        assert_eq!(p, Ok(Plan::Atomic { wrapped: true }));
    }

    #[test]
    fn a_commit_mid_file_splits_it_into_units() {
        let p = plan_of("BEGIN; CREATE TABLE a (x int); COMMIT; CREATE TABLE b (x int); SELECT 1");
        assert_eq!(
            p,
            Ok(Plan::Units(vec![
                unit(UnitKind::Commits, 0, 2),
                unit(UnitKind::Single, 3, 3),
                unit(UnitKind::Single, 4, 4),
            ]))
        );
    }

    #[test]
    fn concurrently_runs_on_its_own_after_the_block() {
        let p = plan_of(
            "BEGIN; SET LOCAL lock_timeout = '5s'; ALTER TABLE t ADD COLUMN c int; COMMIT;\n\
             CREATE INDEX CONCURRENTLY i ON t (c); BEGIN; DROP TABLE x; ROLLBACK; VACUUM t",
        );
        assert_eq!(
            p,
            Ok(Plan::Units(vec![
                unit(UnitKind::Commits, 0, 3),
                unit(UnitKind::Single, 4, 4),
                unit(UnitKind::RollsBack, 5, 7),
                unit(UnitKind::Single, 8, 8),
            ]))
        );
    }

    #[test]
    fn concurrently_inside_a_block_is_refused_before_running() {
        let err = plan_of("BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (c);\nCOMMIT;").unwrap_err();
        assert!(
            err.contains("statement 2 (line 2: CREATE INDEX CONCURRENTLY"),
            "{err}"
        );
        assert!(err.contains("BEGIN at line 1"), "{err}");
        assert!(err.contains("move it after"), "{err}");
    }

    #[test]
    fn a_block_without_commit_is_refused() {
        let err = plan_of("CREATE INDEX CONCURRENTLY i ON t (c);\nBEGIN;\nSELECT 1;").unwrap_err();
        assert!(err.contains("BEGIN at line 2 is never committed"), "{err}");
    }

    #[test]
    fn the_outcome_names_committed_rolled_back_and_unrun_statements() {
        let sql = "BEGIN;\nCREATE TABLE a (x int);\nCOMMIT;\nCREATE TABLE b (x int);\n\
                   BEGIN;\nCREATE TABLE c (x int);\nSELECT 1/0;\nCOMMIT;\nSELECT 2;\nSELECT 3;";
        let st = split(sql);
        let Ok(Plan::Units(units)) = plan(&st) else {
            panic!("not units")
        };
        assert_eq!(
            stopped_outcome(&st, &units, 6, None),
            "statements 1–4 (lines 1–4) were committed and stay applied; \
             statements 5–6 (lines 5–6) were rolled back with the failed transaction; \
             statements 8–10 (lines 8–10) were not run"
        );
        assert_eq!(
            stopped_outcome(&st, &units, 1, None),
            "no statement was committed, the database is as it was; \
             statement 1 (line 1) was rolled back with the failed transaction; \
             statements 3–10 (lines 3–10) were not run"
        );
    }
}
