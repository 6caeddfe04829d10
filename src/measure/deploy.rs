//! Deploy advice: which locks the migration as written takes, on which
//! tables, for how long at the measured scale, and that time projected to
//! production row counts from the measured per-row build rates. The safer
//! way to deploy is the online variant (`schema::online_sql`), written
//! beside the report as `online_migration.sql`.
//!
//! The projection is labelled as one. It is linear in rows from the
//! embedded builds, which run with fsync off, in memory, with a 64 MB
//! `maintenance_work_mem`: production builds that sort on disk are slower,
//! so it understates production, and says so beside the number.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};
use crate::results::{BuildProjection, DeployAdvice, LockHeld, Results};
use crate::schema::{split, Statement, StatementKind};
use crate::stats::Interval;

/// The file the online variant is written to, in the run folder.
pub const ONLINE_FILE: &str = "online_migration.sql";
/// `--production-rows` for `cargo bench`.
pub const PRODUCTION_ROWS_ENV: &str = "HELPDESK_BENCH_PRODUCTION_ROWS";

const BASIS: &str = "projection: linear in rows from the build rates measured here, on the embedded cluster (fsync off, data in memory, maintenance_work_mem 64 MB); production builds that sort on disk take longer, so read it as a lower bound";

static TABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)^\s*(?:ALTER\s+TABLE|CREATE\s+(?:UNIQUE\s+)?INDEX\s+.*?\s+ON)\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?("(?:[^"]|"")+"|[\w.]+)"#)
        .expect("valid regex")
});
static REFERENCES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)REFERENCES\s+("(?:[^"]|"")+"|[\w.]+)"#).expect("valid regex")
});

/// The table an `ALTER TABLE` or `CREATE INDEX` statement works on.
pub fn statement_table(sql: &str) -> Option<String> {
    TABLE.captures(sql).map(|c| crate::sql::unquote(&c[1]))
}

/// Parses `Message=50000000,Conversation=5000000`.
pub fn parse_production_rows(text: &str) -> Result<Vec<(String, u64)>> {
    let bad = || {
        Error::BadInput(format!(
            "--production-rows {text:?}: give TABLE=ROWS pairs separated by commas, e.g. Message=50000000,Conversation=5000000"
        ))
    };
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (t, n) = p.split_once('=').ok_or_else(bad)?;
            let n = n
                .trim()
                .replace('_', "")
                .parse::<u64>()
                .map_err(|_| bad())?;
            Ok((t.trim().trim_matches('"').to_string(), n))
        })
        .collect()
}

/// The advice for `r`, projected to `production` rows (`source` says where
/// they came from); `None` when the migration's cost was not measured.
/// The migration's statements are read from `r` itself, so a saved run can
/// be advised again with other row counts (`report --production-rows`).
pub fn deploy_advice(
    r: &Results,
    production: &[(String, u64)],
    source: &str,
) -> Option<DeployAdvice> {
    let mc = r.migration_cost.as_ref()?;
    let statements = split(&r.migration.sql);
    let in_one_transaction = statements
        .first()
        .is_some_and(Statement::is_transaction_control);
    let ms_at_line: BTreeMap<usize, f64> = mc
        .statements
        .iter()
        .map(|t| (t.line, t.duration.as_secs_f64() * 1e3))
        .collect();
    let locks = locks(&statements, &ms_at_line, in_one_transaction);
    let rows_for = |table: &str| production.iter().find(|(t, _)| t == table).map(|(_, n)| *n);
    let builds: Vec<BuildProjection> = r
        .index_costs
        .iter()
        .filter_map(|c| {
            // Runs older than format 3 did not record the table's rows.
            let measured = Some(c.table_rows).filter(|&n| n > 0)?;
            let prod = rows_for(&c.table)?;
            let scale = prod as f64 / measured as f64 / 1e3;
            let fallback = |v: f64| Interval {
                point: v,
                low: v,
                high: v,
            };
            let plain = c.build.unwrap_or(fallback(c.build_ms));
            let conc = c
                .build_concurrently
                .unwrap_or(fallback(c.build_concurrently_ms));
            Some(BuildProjection {
                index: c.name.clone(),
                table: c.table.clone(),
                measured_rows: c.table_rows,
                plain_ms: plain,
                concurrently_ms: conc,
                production_rows: prod,
                projected_plain_s: plain.point * scale,
                projected_concurrently_s: conc.point * scale,
            })
        })
        .collect();
    // As written, every lock is held across every build until COMMIT.
    let projected_lock_s: f64 = builds.iter().map(|b| b.projected_plain_s).sum();
    let advice = advice(&locks, &builds, projected_lock_s, in_one_transaction);
    Some(DeployAdvice {
        locks,
        production_rows: production.to_vec(),
        production_source: source.to_string(),
        builds,
        projected_lock_s,
        basis: BASIS.to_string(),
        online_file: ONLINE_FILE.to_string(),
        advice,
    })
}

/// Each table's strongest lock, and how long it is held at the measured
/// scale: from its statement until COMMIT in a one-transaction file, else
/// for the statement alone.
fn locks(
    statements: &[Statement],
    ms_at_line: &BTreeMap<usize, f64>,
    one_tx: bool,
) -> Vec<LockHeld> {
    let mut out: Vec<LockHeld> = Vec::new();
    for (i, st) in statements.iter().enumerate() {
        let held: f64 = if one_tx {
            statements[i..]
                .iter()
                .filter_map(|s| ms_at_line.get(&s.line))
                .sum()
        } else {
            ms_at_line.get(&st.line).copied().unwrap_or(0.0)
        };
        for (table, mode, blocks) in takes(st) {
            let stronger = |l: &LockHeld| rank(&l.mode) >= rank(mode);
            match out.iter_mut().find(|l| l.table == table) {
                Some(l) if stronger(l) => {
                    l.held_ms = l.held_ms.max(if l.mode == mode { held } else { l.held_ms })
                }
                Some(l) => {
                    *l = LockHeld {
                        table,
                        mode: mode.into(),
                        blocks: blocks.into(),
                        held_ms: held,
                    }
                }
                None => out.push(LockHeld {
                    table,
                    mode: mode.into(),
                    blocks: blocks.into(),
                    held_ms: held,
                }),
            }
        }
    }
    out
}

/// The table locks one statement takes: (table, mode, what it blocks).
fn takes(st: &Statement) -> Vec<(String, &'static str, &'static str)> {
    let Some(table) = TABLE.captures(&st.sql).map(|c| crate::sql::unquote(&c[1])) else {
        return Vec::new();
    };
    let concurrently = st.sql.to_ascii_uppercase().contains(" CONCURRENTLY ");
    match StatementKind::of(st) {
        StatementKind::CreateIndex { .. } if concurrently => {
            vec![(table, "SHARE UPDATE EXCLUSIVE", "other DDL and VACUUM only")]
        }
        StatementKind::CreateIndex { .. } => vec![(table, "SHARE", "all writes")],
        StatementKind::AddForeignKey => {
            let mut v = vec![(table, "ACCESS EXCLUSIVE", "all reads and writes")];
            if let Some(c) = REFERENCES.captures(&st.sql) {
                v.push((
                    crate::sql::unquote(&c[1]),
                    "SHARE ROW EXCLUSIVE",
                    "all writes",
                ));
            }
            v
        }
        StatementKind::TransactionControl | StatementKind::CommentOnColumn => Vec::new(),
        _ => vec![(table, "ACCESS EXCLUSIVE", "all reads and writes")],
    }
}

fn rank(mode: &str) -> u8 {
    match mode {
        "ACCESS EXCLUSIVE" => 4,
        "SHARE ROW EXCLUSIVE" => 3,
        "SHARE" => 2,
        _ => 1,
    }
}

fn advice(locks: &[LockHeld], builds: &[BuildProjection], lock_s: f64, one_tx: bool) -> String {
    let exclusive: Vec<&str> = locks
        .iter()
        .filter(|l| l.mode == "ACCESS EXCLUSIVE")
        .map(|l| l.table.as_str())
        .collect();
    let measured_ms = locks
        .iter()
        .filter(|l| l.mode == "ACCESS EXCLUSIVE")
        .map(|l| l.held_ms)
        .fold(0.0, f64::max);
    let held = if builds.is_empty() || lock_s <= 0.0 {
        format!(
            "{} here at the measured scale; give production row counts (--production-rows TABLE=ROWS,..., HELPDESK_BENCH_PRODUCTION_ROWS for cargo bench, or run it on your database) to project how long in production",
            crate::format::ms(measured_ms)
        )
    } else {
        format!("about {lock_s:.0} s in production (projection, a lower bound)")
    };
    let concurrently: f64 = builds.iter().map(|b| b.projected_concurrently_s).sum();
    format!(
        "Deploy with {ONLINE_FILE}: as written the migration {} ACCESS EXCLUSIVE on {} {}, blocking every read and write of them for {held}; the online variant holds it only for its first short transaction and builds each index CONCURRENTLY without blocking writes{}",
        if one_tx { "holds, until its COMMIT," } else { "takes" },
        if exclusive.is_empty() { "no table".to_string() } else { exclusive.join(", ") },
        if one_tx { "across every index build" } else { "" },
        if builds.is_empty() { String::new() } else { format!(" (about {concurrently:.0} s of builds in total, projected)") }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_rows_parse_and_refuse_nonsense() {
        assert_eq!(
            parse_production_rows("Message=50_000_000, Conversation=5000000").unwrap(),
            [
                ("Message".to_string(), 50_000_000),
                ("Conversation".to_string(), 5_000_000)
            ]
        );
        let e = parse_production_rows("Message:5").unwrap_err().to_string();
        assert!(e.contains("TABLE=ROWS"), "{e}");
    }

    #[test]
    fn locks_of_012_as_written() {
        let m = crate::schema::Migration::builtin().unwrap();
        let ms: BTreeMap<usize, f64> = m
            .forward
            .statements
            .iter()
            .map(|s| (s.line, 10.0))
            .collect();
        let locks = locks(&m.forward.statements, &ms, true);
        let of = |t: &str| locks.iter().find(|l| l.table == t).unwrap();
        assert_eq!(of("User").mode, "ACCESS EXCLUSIVE");
        assert_eq!(of("Conversation").mode, "ACCESS EXCLUSIVE");
        assert_eq!(of("Message").mode, "SHARE");
        assert!(
            of("User").held_ms > of("Message").held_ms,
            "User is locked first and held to COMMIT"
        );
    }
}
