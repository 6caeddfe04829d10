//! The lock sampler: every [`SAMPLE_EVERY`] it reads `pg_locks` and
//! `pg_stat_activity` for every backend of the database that waits for a
//! lock, with the session blocking it (`pg_blocking_pids`), what that
//! session runs and which lock mode it holds. Each wait is followed from
//! its `waitstart` (the server's own timestamp of when the backend began
//! waiting) until the first sample that no longer sees it; it ended
//! between the last sample that saw it and that one, so its length is
//! known to half a sampling interval. PostgreSQL 13 has no `waitstart`:
//! there a wait starts halfway between the last sample that did not see it
//! and the first that did, and its length is known to a whole interval
//! ([`WaitStart::Sampled`]).
//!
//! Each sample also reads the write-blocking table locks (`ShareLock` and
//! stronger) the migration's own session holds, on the tables that existed
//! when sampling began: a write arriving just after one was taken waits
//! for as long as it is held, whether or not the traffic happened to send
//! one then. Each hold is followed like a wait, from halfway between the
//! last sample without it and the first with it, to halfway between the
//! last with it and the first without ([`Hold::held_ms`]).
//!
//! The sampler never holds a transaction open: each sample is one
//! autocommit statement, so it cannot delay a concurrent index build's wait
//! for old snapshots, which is what it watches for.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::Client;

use crate::cluster::{Endpoint, ServerVersion};
use crate::error::{Context, Error, Result};
use crate::results::WaitStart;

/// How often the sampler looks: well under the 10 ms the blocked times
/// must resolve to.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(5);
/// The sampler's own `application_name`.
pub const SAMPLER_APP: &str = "helpdesk-bench rehearse sampler";
/// Longest a sample may run before the sampler gives up on the server.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(10);

/// One sample: the server's clock, and every waiting backend as JSON.
const SAMPLE_SQL: &str = r#"
SELECT extract(epoch FROM clock_timestamp())::float8,
  coalesce((SELECT json_agg(w)::text FROM (
    SELECT l.pid, coalesce(a.application_name, '') AS app, l.locktype, l.mode,
           c.relname AS rel,
           {waitstart} AS waitstart,
           left(coalesce(a.query, ''), 500) AS query,
           (SELECT coalesce(json_agg(json_build_object(
                     'pid', b.pid, 'app', coalesce(b.application_name, ''),
                     'state', coalesce(b.state, ''),
                     'xact_start', coalesce(b.xact_start::text, ''),
                     'query', left(coalesce(b.query, ''), 500),
                     'held', (SELECT string_agg(bl.mode, ', ' ORDER BY bl.mode)
                                FROM pg_locks bl
                               WHERE bl.pid = b.pid AND bl.granted
                                 AND bl.locktype = l.locktype
                                 AND bl.relation IS NOT DISTINCT FROM l.relation
                                 AND bl.virtualxid IS NOT DISTINCT FROM l.virtualxid
                                 AND bl.transactionid IS NOT DISTINCT FROM l.transactionid),
                     'queued', (SELECT string_agg(bl.mode, ', ' ORDER BY bl.mode)
                                  FROM pg_locks bl
                                 WHERE bl.pid = b.pid AND NOT bl.granted))), '[]')
              FROM unnest(pg_blocking_pids(l.pid)) AS bp(pid)
              JOIN pg_stat_activity b ON b.pid = bp.pid) AS blockers
      FROM pg_locks l
      JOIN pg_stat_activity a ON a.pid = l.pid
      LEFT JOIN pg_class c ON c.oid = l.relation
     WHERE NOT l.granted AND a.datname = current_database()) w), '[]'),
  coalesce((SELECT json_agg(h)::text FROM (
    SELECT c.relname AS rel, string_agg(l.mode, ', ' ORDER BY l.mode) AS modes
      FROM pg_locks l
      JOIN pg_stat_activity a ON a.pid = l.pid
      JOIN pg_class c ON c.oid = l.relation
     WHERE l.granted AND l.locktype = 'relation' AND l.relation = ANY($2)
       AND a.application_name = $1 AND a.datname = current_database()
       AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock',
                      'AccessExclusiveLock')
     GROUP BY c.relname) h), '[]')
"#;

/// The tables of the database when sampling begins: a table the migration
/// creates is invisible to others, so its locks block nobody.
const TABLES_SQL: &str =
    "SELECT coalesce(array_agg(oid), '{}') FROM pg_class WHERE relkind IN ('r', 'p')";

/// [`SAMPLE_SQL`]'s wait start, by where it comes from.
fn sample_sql(from: WaitStart) -> String {
    SAMPLE_SQL.replace(
        "{waitstart}",
        match from {
            WaitStart::Server => "extract(epoch FROM l.waitstart)::float8",
            WaitStart::Sampled => "NULL::float8",
        },
    )
}

/// A session blocking a wait, as the sampler saw it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Blocker {
    pub pid: i32,
    pub app: String,
    pub state: String,
    pub xact_start: String,
    pub query: String,
    /// Modes it holds on the object waited for.
    pub held: Option<String>,
    /// Modes it is itself waiting for (it is queued ahead).
    pub queued: Option<String>,
}

impl Blocker {
    /// The lock mode through which it blocks: the one it holds on the
    /// object, else the one it queues for ahead of the waiter.
    pub fn mode(&self) -> String {
        match (&self.held, &self.queued) {
            (Some(h), _) => h.clone(),
            (None, Some(q)) => format!("{q} (queued ahead)"),
            (None, None) => String::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Row {
    pid: i32,
    app: String,
    locktype: String,
    mode: String,
    rel: Option<String>,
    waitstart: Option<f64>,
    query: String,
    blockers: Vec<Blocker>,
}

/// One backend's wait for one lock, from its start to its end.
#[derive(Debug, Clone)]
pub struct Wait {
    pub pid: i32,
    pub app: String,
    pub locktype: String,
    /// The mode it asked for.
    pub mode: String,
    /// The table (or index) waited for, when it is a relation lock.
    pub rel: Option<String>,
    /// Server epoch seconds.
    pub waitstart: f64,
    /// The last sample that saw it waiting, server epoch seconds.
    pub last_seen: f64,
    /// The first sample that no longer saw it (none: still waiting at stop).
    pub gone_at: Option<f64>,
    /// What it was running.
    pub query: String,
    /// The session that blocked it, as last seen: the one holding a lock on
    /// the object when there is one.
    pub blocker: Option<Blocker>,
}

impl Wait {
    /// How long it waited, in milliseconds: to the middle of the interval
    /// between the last sample that saw it and the first that did not.
    pub fn blocked_ms(&self) -> f64 {
        let end = match self.gone_at {
            Some(g) => (self.last_seen + g) / 2.0,
            None => self.last_seen,
        };
        ((end - self.waitstart) * 1e3).max(0.0)
    }
}

/// One stretch of time the watched session held write-blocking locks on
/// one table.
#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    pub rel: String,
    /// The strongest mode seen held.
    pub mode: String,
    /// The last sample before the first that saw it (none: the first).
    pub before: Option<f64>,
    pub first_seen: f64,
    pub last_seen: f64,
    /// The first sample that no longer saw it (none: still held at stop).
    pub gone_at: Option<f64>,
}

impl Hold {
    /// When it began, server epoch seconds: halfway between the last
    /// sample without it and the first with it.
    pub fn start(&self) -> f64 {
        self.before
            .map_or(self.first_seen, |b| (b + self.first_seen) / 2.0)
    }

    /// When it ended, the same way.
    pub fn end(&self) -> f64 {
        self.gone_at
            .map_or(self.last_seen, |g| (self.last_seen + g) / 2.0)
    }

    /// How long it was held, in milliseconds, to about a sampling interval.
    pub fn held_ms(&self) -> f64 {
        ((self.end() - self.start()) * 1e3).max(0.0)
    }
}

/// What a sampler saw: the waits of every backend, and the watched
/// session's write-blocking holds, each oldest first.
#[derive(Debug, Default)]
pub struct Sampled {
    pub waits: Vec<Wait>,
    pub holds: Vec<Hold>,
}

#[derive(Debug, Deserialize)]
struct HeldRow {
    rel: String,
    modes: String,
}

/// A running sampler; [`Sampler::stop`] returns what it saw.
pub struct Sampler {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Result<Sampled>>>,
    wait_start: WaitStart,
}

impl Drop for Sampler {
    /// Not stopped (an error elsewhere): it stops at once.
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl Sampler {
    /// Connects and starts sampling `db` every [`SAMPLE_EVERY`], with the
    /// write-blocking locks of the session named `holder_app`.
    pub async fn start(db: &Endpoint, holder_app: &str) -> Result<Sampler> {
        let client = db.connect().await?;
        client
            .batch_execute(&format!(
                "SET application_name = '{SAMPLER_APP}'; SET statement_timeout = '{}ms'",
                SAMPLE_TIMEOUT.as_millis()
            ))
            .await
            .context("setting up the lock sampler")?;
        let wait_start = if ServerVersion::of(&client).await?.has_lock_waitstart() {
            WaitStart::Server
        } else {
            WaitStart::Sampled
        };
        let tables: Vec<u32> = client
            .query_one(TABLES_SQL, &[])
            .await
            .context("listing the tables for the lock sampler")?
            .get(0);
        let (stop, rx) = watch::channel(false);
        let watched = Watched {
            app: holder_app.to_string(),
            tables,
        };
        let task = tokio::spawn(sample_until(client, rx, wait_start, watched));
        Ok(Sampler {
            stop,
            task: Some(task),
            wait_start,
        })
    }

    /// Where the waits' start times come from on this server.
    pub fn wait_start(&self) -> WaitStart {
        self.wait_start
    }

    /// Takes one last sample and returns every wait and hold seen.
    pub async fn stop(mut self) -> Result<Sampled> {
        let _ = self.stop.send(true);
        let Some(task) = self.task.take() else {
            return Ok(Sampled::default());
        };
        task.await.map_err(|e| Error::Stopped {
            what: "the lock sampler".into(),
            detail: e.to_string(),
        })?
    }
}

/// The session whose holds are followed, and the tables that count.
struct Watched {
    app: String,
    tables: Vec<u32>,
}

async fn sample_until(
    client: Client,
    mut stop: watch::Receiver<bool>,
    wait_start: WaitStart,
    watched: Watched,
) -> Result<Sampled> {
    let statement = client
        .prepare(&sample_sql(wait_start))
        .await
        .context("preparing the lock sampler's query")?;
    let mut open: HashMap<Key, Wait> = HashMap::new();
    let mut done = Vec::new();
    let mut holds = Holds::default();
    let mut previous: Option<f64> = None;
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let last = *stop.borrow();
        let row = tokio::time::timeout(
            SAMPLE_TIMEOUT,
            client.query_one(&statement, &[&watched.app, &watched.tables]),
        )
        .await
        .map_err(|_| Error::Stopped {
            what: "the lock sampler".into(),
            detail: "its query got no answer in 10 s; check that the server is still running"
                .into(),
        })?
        .context("sampling pg_locks")?;
        let t: f64 = row.get(0);
        let json: String = row.get(1);
        let rows: Vec<Row> = serde_json::from_str(&json).context("reading a lock sample")?;
        let held: String = row.get(2);
        let held: Vec<HeldRow> = serde_json::from_str(&held).context("reading a lock sample")?;
        track(&mut open, &mut done, previous, t, rows);
        holds.track(previous, t, held);
        previous = Some(t);
        if last {
            break;
        }
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => {}
        }
    }
    done.extend(open.into_values());
    done.sort_by(|a, b| a.waitstart.total_cmp(&b.waitstart));
    Ok(Sampled {
        waits: done,
        holds: holds.finish(),
    })
}

/// Holds being followed, by table, and those that ended.
#[derive(Default)]
struct Holds {
    open: HashMap<String, Hold>,
    done: Vec<Hold>,
}

impl Holds {
    /// Folds one sample taken at `t` (the one before at `previous`) in.
    fn track(&mut self, previous: Option<f64>, t: f64, rows: Vec<HeldRow>) {
        let seen: Vec<String> = rows.iter().map(|r| r.rel.clone()).collect();
        for r in rows {
            let h = self.open.entry(r.rel.clone()).or_insert_with(|| Hold {
                rel: r.rel,
                mode: String::new(),
                before: previous,
                first_seen: t,
                last_seen: t,
                gone_at: None,
            });
            h.last_seen = t;
            h.mode = if h.mode.is_empty() {
                super::strongest(&r.modes)
            } else {
                super::strongest(&format!("{}, {}", h.mode, r.modes))
            };
        }
        let ended: Vec<String> = self
            .open
            .keys()
            .filter(|k| !seen.contains(k))
            .cloned()
            .collect();
        for k in ended {
            if let Some(mut h) = self.open.remove(&k) {
                h.gone_at = Some(t);
                self.done.push(h);
            }
        }
    }

    fn finish(mut self) -> Vec<Hold> {
        self.done.extend(self.open.into_values());
        self.done
            .sort_by(|a, b| a.first_seen.total_cmp(&b.first_seen));
        self.done
    }
}

/// An open wait: its backend, the server's start time when known, and the
/// kind of lock. A backend waits for one lock at a time.
type Key = (i32, Option<u64>, String);

/// Folds one sample taken at `t` (the one before at `previous`) into the
/// open and finished waits.
fn track(
    open: &mut HashMap<Key, Wait>,
    done: &mut Vec<Wait>,
    previous: Option<f64>,
    t: f64,
    rows: Vec<Row>,
) {
    let mut seen = Vec::with_capacity(rows.len());
    for r in rows {
        let key = (r.pid, r.waitstart.map(f64::to_bits), r.locktype.clone());
        // Without the server's start time (PostgreSQL 13, or a wait so new
        // that the server has not set it yet), the wait began between the
        // previous sample and this one: halfway, to half an interval.
        let start = r
            .waitstart
            .unwrap_or_else(|| previous.map_or(t, |p| (p + t) / 2.0));
        // A wait first seen without a start time and now with one is the
        // same wait: it takes the server's time.
        if r.waitstart.is_some() {
            if let Some(mut w) = open.remove(&(r.pid, None, r.locktype.clone())) {
                w.waitstart = start;
                open.insert(key.clone(), w);
            }
        }
        let blocker = pick_blocker(r.blockers);
        let w = open.entry(key.clone()).or_insert_with(|| Wait {
            pid: r.pid,
            app: r.app,
            locktype: r.locktype,
            mode: r.mode,
            rel: r.rel,
            waitstart: start,
            last_seen: t,
            gone_at: None,
            query: r.query,
            blocker: None,
        });
        w.last_seen = t;
        if blocker.is_some() {
            w.blocker = blocker;
        }
        seen.push(key);
    }
    let ended: Vec<_> = open.keys().filter(|k| !seen.contains(k)).cloned().collect();
    for k in ended {
        if let Some(mut w) = open.remove(&k) {
            w.gone_at = Some(t);
            done.push(w);
        }
    }
}

/// The blocker that holds a lock on the object, else the first one queued
/// ahead.
fn pick_blocker(mut blockers: Vec<Blocker>) -> Option<Blocker> {
    let holder = blockers.iter().position(|b| b.held.is_some()).unwrap_or(0);
    (!blockers.is_empty()).then(|| blockers.swap_remove(holder))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: i32, start: Option<f64>) -> Row {
        Row {
            pid,
            app: "a".into(),
            locktype: "relation".into(),
            mode: "AccessShareLock".into(),
            rel: Some("User".into()),
            waitstart: start,
            query: "SELECT".into(),
            blockers: vec![],
        }
    }

    #[test]
    fn a_wait_ends_halfway_between_the_last_sample_that_saw_it_and_the_next() {
        let (mut open, mut done) = (HashMap::new(), Vec::new());
        track(
            &mut open,
            &mut done,
            None,
            10.000,
            vec![row(1, Some(9.998))],
        );
        track(
            &mut open,
            &mut done,
            Some(10.0),
            10.250,
            vec![row(1, Some(9.998))],
        );
        track(
            &mut open,
            &mut done,
            Some(10.25),
            10.500,
            vec![row(1, Some(9.998))],
        );
        track(&mut open, &mut done, Some(10.5), 10.510, vec![]);
        assert_eq!(done.len(), 1);
        assert!((done[0].blocked_ms() - 507.0).abs() < 1e-6);
        assert!(open.is_empty());
    }

    #[test]
    fn without_the_servers_start_a_wait_starts_halfway_before_the_first_sample_that_saw_it() {
        // PostgreSQL 13: no pg_locks.waitstart. Samples every 10 ms; the
        // wait is first seen at 10.010 and last at 10.500.
        let (mut open, mut done) = (HashMap::new(), Vec::new());
        track(&mut open, &mut done, None, 10.000, vec![]);
        let mut t = 10.000;
        while t < 10.5 {
            let next = t + 0.010;
            track(&mut open, &mut done, Some(t), next, vec![row(1, None)]);
            t = next;
        }
        track(&mut open, &mut done, Some(t), t + 0.010, vec![]);
        assert_eq!(done.len(), 1, "one wait, however many samples saw it");
        assert!((done[0].waitstart - 10.005).abs() < 1e-9);
        let expected = (t + 0.005 - 10.005) * 1e3;
        assert!((done[0].blocked_ms() - expected).abs() < 1e-6);
    }

    #[test]
    fn a_wait_first_seen_without_a_start_takes_the_servers_when_it_appears() {
        let (mut open, mut done) = (HashMap::new(), Vec::new());
        track(
            &mut open,
            &mut done,
            Some(9.995),
            10.000,
            vec![row(1, None)],
        );
        track(
            &mut open,
            &mut done,
            Some(10.0),
            10.005,
            vec![row(1, Some(9.999))],
        );
        track(&mut open, &mut done, Some(10.005), 10.010, vec![]);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].waitstart, 9.999);
    }

    #[test]
    fn the_blocker_holding_the_lock_is_named_over_one_queued_ahead() {
        let b = |pid, held: Option<&str>| Blocker {
            pid,
            app: String::new(),
            state: "active".into(),
            xact_start: String::new(),
            query: String::new(),
            held: held.map(String::from),
            queued: Some("AccessExclusiveLock".into()),
        };
        let picked = pick_blocker(vec![b(1, None), b(2, Some("ShareLock"))]).unwrap();
        assert_eq!(picked.pid, 2);
        assert_eq!(picked.mode(), "ShareLock");
        assert_eq!(b(1, None).mode(), "AccessExclusiveLock (queued ahead)");
        assert!(pick_blocker(vec![]).is_none());
    }
}
