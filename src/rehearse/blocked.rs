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
use std::sync::LazyLock;

use regex::Regex;

use super::sampler::Wait;
use crate::queries::{table_label, TABLE_NAME};
use crate::results::{Blocked, Operation, SessionWait};

static WRITE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?is)\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:ONLY\s+)?{TABLE_NAME}"#
    ))
    .expect("valid regex")
});
static READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r#"(?is)\bFROM\s+(?:ONLY\s+)?{TABLE_NAME}"#)).expect("valid regex")
});

/// The lock modes, weakest first.
const MODES: [&str; 8] = [
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
];

/// The strongest mode of a list like `AccessShareLock, ShareLock`: the one
/// that conflicts with the most.
pub fn strongest(modes: &str) -> String {
    let suffix = modes.find(" (").map_or("", |i| &modes[i..]);
    let list = modes.strip_suffix(suffix).unwrap_or(modes);
    list.split(", ")
        .max_by_key(|m| MODES.iter().position(|x| x == m))
        .map_or(String::new(), |m| format!("{m}{suffix}"))
}

/// The table a request works on and whether it writes, from its SQL: the
/// target of an `INSERT`, `UPDATE` or `DELETE`, else the first `FROM`.
pub fn request_target(sql: &str) -> Option<(String, Operation)> {
    if let Some(c) = WRITE.captures(sql) {
        return Some((table_label(&c[1]), Operation::Write));
    }
    READ.captures(sql)
        .map(|c| (table_label(&c[1]), Operation::Read))
}

/// A wait's operation when its SQL names no table: a read asks for
/// `AccessShareLock`; anything stronger is part of a write.
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

/// How a wait is described beyond its length: the statement that took
/// the lock it waited for (when known) and its projection.
pub struct Detail {
    pub taken_by: Option<String>,
    pub projected_ms: Option<f64>,
}

/// The worst wait per table and operation of the request (from its SQL)
/// among the waits of sessions named `app`; `detail` describes a wait.
pub fn worst_blocked(waits: &[Wait], app: &str, detail: impl Fn(&Wait) -> Detail) -> Vec<Blocked> {
    let mut by: BTreeMap<(String, Operation), Blocked> = BTreeMap::new();
    for w in waits.iter().filter(|w| w.app == app) {
        let key = request_target(&w.query).unwrap_or_else(|| (object(w), operation(&w.mode)));
        let ms = w.blocked_ms();
        let d = detail(w);
        let b = by.entry(key.clone()).or_insert_with(|| Blocked {
            table: key.0.clone(),
            operation: key.1,
            worst_blocked_ms: -1.0,
            waits: 0,
            lock_on: String::new(),
            wanted_mode: String::new(),
            blocking_mode: String::new(),
            blocking_statement: String::new(),
            blocker_running: String::new(),
            projected_ms: None,
        });
        b.waits += 1;
        if let (Some(p), q) = (d.projected_ms, b.projected_ms) {
            b.projected_ms = Some(q.map_or(p, |q| q.max(p)));
        }
        if ms > b.worst_blocked_ms {
            let running = w
                .blocker
                .as_ref()
                .map(|b| one_line(&b.query))
                .unwrap_or_default();
            b.worst_blocked_ms = ms;
            b.lock_on = object(w);
            b.wanted_mode = w.mode.clone();
            b.blocking_mode = w
                .blocker
                .as_ref()
                .map(|b| strongest(&b.mode()))
                .unwrap_or_default();
            b.blocking_statement = d
                .taken_by
                .map(|s| one_line(&s))
                .unwrap_or_else(|| running.clone());
            b.blocker_running = running;
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
            query: match mode {
                "AccessShareLock" => format!("SELECT 1 FROM \"{rel}\""),
                _ => format!("INSERT INTO \"{rel}\" VALUES (1)"),
            },
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
        let b = worst_blocked(&waits, "t", |_| Detail {
            taken_by: None,
            projected_ms: None,
        });
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].table.as_str(), b[0].operation),
            ("Message", Operation::Write)
        );
        assert!((b[0].worst_blocked_ms - 500.0).abs() < 1e-6);
        assert_eq!(b[0].waits, 2);
        assert_eq!(b[0].blocking_mode, "ShareLock");
        assert_eq!(b[0].lock_on, "Message");
        assert_eq!(
            b[0].blocking_statement,
            "CREATE INDEX \"x\" ON \"Message\"(\"role\")"
        );
        assert_eq!(b[1].operation, Operation::Read);
        assert_eq!(
            strongest("AccessExclusiveLock, AccessShareLock, ShareLock"),
            "AccessExclusiveLock"
        );
        assert_eq!(
            strongest("RowShareLock, ShareLock (queued ahead)"),
            "ShareLock (queued ahead)"
        );
        assert_eq!(
            request_target("INSERT INTO \"Message\" (id) SELECT id FROM \"Conversation\""),
            Some(("Message".into(), Operation::Write))
        );
        assert_eq!(
            request_target("SELECT id FROM \"User\" WHERE email = $1"),
            Some(("User".into(), Operation::Read))
        );
        assert_eq!(
            request_target("insert into \"public\".\"website_event\" (x) values ($1)"),
            Some(("website_event".into(), Operation::Write))
        );
        assert_eq!(
            request_target("SELECT 1 FROM app.orders o WHERE o.id = $1"),
            Some(("app.orders".into(), Operation::Read))
        );
        let on = waited_on(&waits, "m");
        assert_eq!(on.len(), 1);
        assert_eq!(on[0].pid, 9);
    }
}
