//! The rehearsal, side by side, for "Deploying the migration": per table
//! and operation, the traffic's longest lock wait as written, online, and
//! online beside a long transaction, with the lock mode and statement that
//! blocked it and its projection (labelled so); each variant's wall time;
//! the sessions the online build waited for; and each traffic query's
//! latency before and during the migration.

use serde::Serialize;

use crate::format::TimeUnit;
use crate::results::{Blocked, Operation, Rehearsal, RehearsalRun, WaitStart};

#[derive(Debug, Serialize)]
pub struct RehearsalView {
    pub rows: Vec<BlockedRow>,
    /// Per table, the longest write-blocking lock the migration held.
    pub held: Vec<HeldRow>,
    /// Wall time per variant: as written, online, online + long transaction.
    pub wall: [String; 3],
    /// One line per variant whose migration failed, with the error.
    pub failures: Vec<String>,
    /// One sentence comparing the worst waits.
    pub headline: String,
    pub resolution: String,
    pub waits: Vec<String>,
    pub queries: Vec<QueryRow>,
    pub traffic: String,
    pub projected: bool,
    pub production_source: String,
    pub basis: String,
    pub online_file: String,
}

#[derive(Debug, Serialize)]
pub struct BlockedRow {
    pub table: String,
    pub operation: &'static str,
    /// One cell per variant.
    pub cells: Vec<Cell>,
    /// What blocked the longest of the row's waits.
    pub by: String,
}

#[derive(Debug, Serialize)]
pub struct HeldRow {
    pub table: String,
    /// One cell per variant: how long, and the mode.
    pub cells: Vec<Cell>,
    /// The statement that took the longest of the row's holds.
    pub by: String,
}

#[derive(Debug, Serialize)]
pub struct Cell {
    pub blocked: String,
    pub projected: String,
}

#[derive(Debug, Serialize)]
pub struct QueryRow {
    pub query: String,
    /// `p99 / max` before, then during, per variant.
    pub before: String,
    pub during: Vec<String>,
}

/// Each variant's wall time (", then failed" when it failed), and one line
/// per failed variant with its error.
fn walls(runs: &[&RehearsalRun; 3]) -> ([String; 3], Vec<String>) {
    let wall = runs.map(|run| {
        let t = TimeUnit::for_column([run.wall_ms]).fmt(run.wall_ms);
        match &run.failed {
            Some(_) => format!("{t}, then failed"),
            None => t,
        }
    });
    let names = ["as written", "online", "online, beside a long transaction"];
    let failures = runs
        .iter()
        .zip(names)
        .filter_map(|(run, name)| run.failed.as_ref().map(|e| format!("{name}: {e}")))
        .collect();
    (wall, failures)
}

pub(super) fn build(r: &Rehearsal) -> RehearsalView {
    let runs = [&r.as_written, &r.online, &r.online_long_transaction];
    let mut keys: Vec<(String, Operation)> = runs
        .iter()
        .flat_map(|run| run.blocked.iter().map(|b| (b.table.clone(), b.operation)))
        .collect();
    keys.sort();
    keys.dedup();
    let unit = TimeUnit::for_column(
        runs.iter()
            .flat_map(|run| run.blocked.iter().map(|b| b.worst_blocked_ms)),
    );
    let rows = keys
        .iter()
        .map(|k| BlockedRow {
            table: k.0.clone(),
            operation: match k.1 {
                Operation::Read => "read",
                Operation::Write => "write",
            },
            cells: runs.iter().map(|run| cell(run, k, unit)).collect(),
            by: runs
                .iter()
                .filter_map(|run| find(run, k))
                .max_by(|a, b| a.worst_blocked_ms.total_cmp(&b.worst_blocked_ms))
                .map(by)
                .unwrap_or_default(),
        })
        .collect();
    let (wall, failures) = walls(&runs);
    RehearsalView {
        rows,
        held: held(&runs),
        wall,
        failures,
        headline: headline(r),
        resolution: format!(
            "Lock waits sampled every {:.0} ms from pg_locks and pg_stat_activity; each is known to ±{:.1} ms{}. A dash: no request waited for a lock long enough to be seen.",
            r.sample_interval_ms,
            r.resolution_ms(),
            match r.wait_start {
                WaitStart::Server => "",
                WaitStart::Sampled => " (PostgreSQL 13 has no pg_locks.waitstart: a wait starts halfway between the last sample that did not see it and the first that did)",
            }
        ),
        waits: r
            .online_long_transaction
            .migration_waits
            .iter()
            .map(|w| {
                format!(
                    "{} waited {} for {} held by pid {} ({}, {}, transaction open since {}): {}",
                    w.statement,
                    TimeUnit::for_column([w.waited_ms]).fmt(w.waited_ms),
                    w.lock,
                    w.pid,
                    w.application_name,
                    w.state,
                    w.xact_start,
                    w.query
                )
            })
            .collect(),
        queries: queries(&runs),
        traffic: format!(
            "{} requests/s open loop from {} clients: {}",
            r.rate_per_s,
            r.clients,
            r.mix
                .iter()
                .map(|m| format!("{} ({}/h)", m.query, m.weight))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        projected: !r.production_rows.is_empty(),
        production_source: r.production_source.clone(),
        basis: crate::results::PROJECTION_BASIS.to_string(),
        online_file: r.online_file.clone(),
    }
}

fn find<'a>(run: &'a RehearsalRun, k: &(String, Operation)) -> Option<&'a Blocked> {
    run.blocked
        .iter()
        .find(|b| b.table == k.0 && b.operation == k.1)
}

fn cell(run: &RehearsalRun, k: &(String, Operation), unit: TimeUnit) -> Cell {
    match find(run, k) {
        None => Cell {
            blocked: "–".into(),
            projected: String::new(),
        },
        Some(b) => Cell {
            blocked: unit.fmt(b.worst_blocked_ms),
            projected: b.projected_ms.map(projected).unwrap_or_default(),
        },
    }
}

/// Per table, each variant's longest write-blocking hold and its mode.
fn held(runs: &[&RehearsalRun; 3]) -> Vec<HeldRow> {
    let tables = crate::results::held_tables(runs);
    let unit = TimeUnit::for_column(
        runs.iter()
            .flat_map(|run| run.held.iter().map(|h| h.held_ms)),
    );
    let find = |run: &'_ RehearsalRun, t: &str| run.held_on(t).cloned();
    tables
        .iter()
        .map(|&t| HeldRow {
            table: t.to_string(),
            cells: runs
                .iter()
                .map(|run| match find(run, t) {
                    None => Cell {
                        blocked: "–".into(),
                        projected: String::new(),
                    },
                    Some(h) => Cell {
                        blocked: format!("{} {}", unit.fmt(h.held_ms), h.mode),
                        projected: h.projected_ms.map(projected).unwrap_or_default(),
                    },
                })
                .collect(),
            by: runs
                .iter()
                .filter_map(|run| find(run, t))
                .max_by(|a, b| a.held_ms.total_cmp(&b.held_ms))
                .and_then(|h| h.taken_by)
                .unwrap_or_default(),
        })
        .collect()
}

/// What blocked a wait: the lock, where, and the statement holding it.
fn by(b: &Blocked) -> String {
    format!(
        "waited for {} on {}, held by {}",
        b.blocking_mode, b.lock_on, b.blocking_statement
    )
}

/// A projection: seconds once it reaches one, which projections often do.
fn projected(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", crate::format::thousands((ms / 1e3).round() as u64))
    } else {
        TimeUnit::for_column([ms]).fmt(ms)
    }
}

/// The worst wait of a run, 0 when nothing waited.
fn worst(run: &RehearsalRun) -> f64 {
    run.blocked
        .iter()
        .map(|b| b.worst_blocked_ms)
        .fold(0.0, f64::max)
}

fn headline(r: &Rehearsal) -> String {
    let (w, o) = (worst(&r.as_written), worst(&r.online));
    let resolution = r.resolution_ms();
    let fmt = |x: f64| TimeUnit::for_column([x]).fmt(x);
    if w <= resolution && o <= resolution {
        return format!(
            "Neither variant blocked the traffic measurably (both within the sampler's ±{resolution:.1} ms)."
        );
    }
    let online = if o <= resolution {
        format!("online, no request waited long enough to be seen (under {resolution:.1} ms)")
    } else {
        let share = o / w.max(o) * 100.0;
        let share = if share < 1.0 {
            "under 1%".to_string()
        } else {
            format!("{share:.0}%")
        };
        format!("online, for up to {}, {share} of it", fmt(o))
    };
    format!(
        "As written, the migration blocked the traffic for up to {}; {online}.",
        fmt(w)
    )
}

fn queries(runs: &[&RehearsalRun; 3]) -> Vec<QueryRow> {
    let ms = |p99: f64, max: f64, n: u64| {
        if n == 0 {
            "no requests".to_string()
        } else {
            let u = TimeUnit::for_column([p99, max]);
            format!("{} / {}", u.fmt(p99), u.fmt(max))
        }
    };
    runs[0]
        .queries
        .iter()
        .map(|q| QueryRow {
            query: q.query.clone(),
            before: ms(q.before_p99_ms, q.before_max_ms, q.before_requests),
            during: runs
                .iter()
                .map(|run| {
                    run.queries
                        .iter()
                        .find(|x| x.query == q.query)
                        .map_or(String::new(), |x| {
                            let cell = ms(x.during_p99_ms, x.during_max_ms, x.during_requests);
                            // One run each: the spread before is the noise.
                            if x.during_requests > 0 && x.during_max_ms <= x.before_max_ms {
                                format!("{cell} (within the spread before)")
                            } else {
                                cell
                            }
                        })
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{MixEntry, RehearsalVariant};

    fn run(
        variant: RehearsalVariant,
        wall: f64,
        blocked: &[(&str, Operation, f64)],
    ) -> RehearsalRun {
        RehearsalRun {
            variant,
            wall_ms: wall,
            statements: vec![],
            blocked: blocked
                .iter()
                .map(|(t, op, ms)| Blocked {
                    table: t.to_string(),
                    operation: *op,
                    worst_blocked_ms: *ms,
                    waits: 1,
                    lock_on: t.to_string(),
                    blocker_running: String::new(),
                    wanted_mode: "AccessShareLock".into(),
                    blocking_mode: "AccessExclusiveLock".into(),
                    blocking_statement: "CREATE INDEX \"x\"".into(),
                    projected_ms: Some(ms * 10.0),
                })
                .collect(),
            held: vec![],
            queries: vec![],
            migration_waits: vec![],
            failed: None,
        }
    }

    #[test]
    fn variants_sit_side_by_side_per_table_and_operation() {
        let r = Rehearsal {
            rate_per_s: 50.0,
            clients: 8,
            mix: vec![MixEntry {
                query: "user_by_email".into(),
                weight: 6000.0,
            }],
            sample_interval_ms: 5.0,
            wait_start: WaitStart::Server,
            long_transaction_ms: 3000.0,
            as_written: run(
                RehearsalVariant::AsWritten,
                2000.0,
                &[
                    ("User", Operation::Read, 1900.0),
                    ("Message", Operation::Write, 800.0),
                ],
            ),
            online: run(
                RehearsalVariant::Online,
                2500.0,
                &[("User", Operation::Read, 19.0)],
            ),
            online_long_transaction: run(RehearsalVariant::OnlineLongTransaction, 5500.0, &[]),
            production_rows: vec![("Message".into(), 10)],
            production_source: "--production-rows".into(),
            online_file: "online_migration.sql".into(),
        };
        let v = build(&r);
        assert_eq!(v.rows.len(), 2);
        assert_eq!(
            (v.rows[0].table.as_str(), v.rows[0].operation),
            ("Message", "write")
        );
        assert_eq!(v.rows[0].cells[1].blocked, "–");
        assert_eq!(v.rows[1].cells[0].blocked, "1,900 ms");
        assert_eq!(v.rows[1].cells[1].blocked, "19.00 ms");
        assert_eq!(
            v.rows[1].by,
            "waited for AccessExclusiveLock on User, held by CREATE INDEX \"x\""
        );
        assert_eq!(
            v.headline,
            "As written, the migration blocked the traffic for up to 1,900 ms; online, for up to 19.00 ms, 1% of it."
        );
        assert!(v.projected);
        assert_eq!(v.rows[1].cells[0].projected, "19 s");
        assert_eq!(projected(181_645.0), "182 s");
        assert!(v.resolution.contains("±2.5 ms."), "{}", v.resolution);
        // PostgreSQL 13: the start is sampled too, and the page says so.
        let v13 = build(&Rehearsal {
            wait_start: WaitStart::Sampled,
            ..r
        });
        assert!(v13
            .resolution
            .contains("±5.0 ms (PostgreSQL 13 has no pg_locks.waitstart"));
    }
}
