//! From the sampler's waits to what the report shows: per table and
//! operation, the traffic's longest lock wait and what held the lock; and
//! the sessions the migration itself waited for.
//!
//! Blocked time comes from the sampler, not from the traffic's latencies:
//! a request's latency minus its usual latency also counts the CPU the
//! index builds take from it (two cores, shared), which is no lock; the
//! sampler sees only real lock waits, times them from the server's own
//! `waitstart`, and names the lock mode and the statement that blocked.

use std::collections::BTreeMap;

use super::sampler::Wait;
use crate::report::{Blocked, Operation, SessionWait};

/// A wait's operation: a read asks for `AccessShareLock`; anything
/// stronger (a row lock, a foreign key's check) is part of a write.
pub fn operation(mode: &str) -> Operation {
    match mode {
        "AccessShareLock" => Operation::Read,
        _ => Operation::Write,
    }
}

/// What a wait was for: its table (or index), else its lock type.
pub fn object(w: &Wait) -> String {
    match &w.rel {
        Some(r) => r.clone(),
        None => format!("({})", w.locktype),
    }
}

/// The worst wait per table and operation among the waits of sessions
/// named `app`, with `project` giving each wait's projection.
pub fn worst_blocked(
    waits: &[Wait],
    app: &str,
    project: impl Fn(&Wait) -> Option<f64>,
) -> Vec<Blocked> {
    let mut by: BTreeMap<(String, Operation), Blocked> = BTreeMap::new();
    for w in waits.iter().filter(|w| w.app == app) {
        let key = (object(w), operation(&w.mode));
        let ms = w.blocked_ms();
        let projected = project(w);
        let b = by.entry(key.clone()).or_insert_with(|| Blocked {
            table: key.0.clone(),
            operation: key.1,
            worst_blocked_ms: -1.0,
            waits: 0,
            wanted_mode: String::new(),
            blocking_mode: String::new(),
            blocking_statement: String::new(),
            projected_ms: None,
        });
        b.waits += 1;
        if let (Some(p), q) = (projected, b.projected_ms) {
            b.projected_ms = Some(q.map_or(p, |q| q.max(p)));
        }
        if ms > b.worst_blocked_ms {
            b.worst_blocked_ms = ms;
            b.wanted_mode = w.mode.clone();
            b.blocking_mode = w.blocker.as_ref().map(|b| b.mode()).unwrap_or_default();
            b.blocking_statement = w
                .blocker
                .as_ref()
                .map(|b| one_line(&b.query))
                .unwrap_or_default();
        }
    }
    by.into_values().collect()
}

/// The sessions that sessions named `app` (the migration) waited for.
pub fn waited_on(waits: &[Wait], app: &str) -> Vec<SessionWait> {
    waits
        .iter()
        .filter(|w| w.app == app)
        .filter_map(|w| {
            let b = w.blocker.as_ref()?;
            Some(SessionWait {
                pid: b.pid,
                application_name: b.app.clone(),
                state: b.state.clone(),
                xact_start: b.xact_start.clone(),
                query: one_line(&b.query),
                lock: format!("{} {}", w.locktype, w.mode),
                waited_ms: w.blocked_ms(),
                statement: one_line(&w.query),
            })
        })
        .collect()
}

/// A statement on one line, whitespace collapsed.
fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rehearse::sampler::Blocker;

    fn wait(app: &str, rel: &str, mode: &str, start: f64, end: f64) -> Wait {
        Wait {
            pid: 7,
            app: app.into(),
            locktype: "relation".into(),
            mode: mode.into(),
            rel: Some(rel.into()),
            waitstart: start,
            last_seen: end,
            gone_at: Some(end),
            query: "SELECT 1".into(),
            blocker: Some(Blocker {
                pid: 9,
                app: "m".into(),
                state: "active".into(),
                xact_start: "t".into(),
                query: "CREATE INDEX \"x\"\n  ON \"Message\"(\"role\")".into(),
                held: Some("ShareLock".into()),
                queued: None,
            }),
        }
    }

    #[test]
    fn the_worst_wait_per_table_and_operation_names_its_blocker() {
        let waits = [
            wait("t", "Message", "RowExclusiveLock", 1.0, 1.2),
            wait("t", "Message", "RowExclusiveLock", 2.0, 2.5),
            wait("t", "User", "AccessShareLock", 1.0, 1.1),
            wait("m", "User", "AccessShareLock", 1.0, 9.0),
        ];
        let b = worst_blocked(&waits, "t", |_| None);
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].table.as_str(), b[0].operation),
            ("Message", Operation::Write)
        );
        assert!((b[0].worst_blocked_ms - 500.0).abs() < 1e-6);
        assert_eq!(b[0].waits, 2);
        assert_eq!(b[0].blocking_mode, "ShareLock");
        assert_eq!(
            b[0].blocking_statement,
            "CREATE INDEX \"x\" ON \"Message\"(\"role\")"
        );
        assert_eq!(b[1].operation, Operation::Read);
        let on = waited_on(&waits, "m");
        assert_eq!(on.len(), 1);
        assert_eq!(on[0].pid, 9);
    }
}
