//! The user's database is sacred: whatever the tool does there, it ends
//! exactly as found. Each test treats a seeded database of the embedded
//! cluster as the user's (reached through `--url`, so the tool does not know
//! it made it), tunes its indexes as an owner would, and compares its
//! [`Fingerprint`] (index definitions, options, validity, tablespace,
//! `reltuples`, row checksums) before and after: a finished run, SIGINT,
//! SIGTERM and SIGKILL while plans are captured without the indexes and
//! while a DROP waits for a lock, a failing read, a lost connection, another
//! session holding a lock, and a write disguised as a read.

pub mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{fingerprint, finish, seeded_tiny, stderr, stdout, Fingerprint, TempDir, TestDb};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio_postgres::Client;

/// A seeded database whose owner has tuned 012's indexes: one rebuilt
/// descending with a fillfactor, one with a fillfactor set, one dropped.
async fn tuned_user_db(prefix: &str) -> (TestDb, Fingerprint) {
    let db = seeded_tiny(prefix).await;
    let c = db.endpoint.connect().await.unwrap();
    c.batch_execute(
        r#"DROP INDEX "Message_createdAt_idx";
           CREATE INDEX "Message_createdAt_idx" ON "Message" ("createdAt" DESC) WITH (fillfactor = 70);
           ALTER INDEX "Conversation_status_idx" SET (fillfactor = 50);
           DROP INDEX "Message_role_idx";"#,
    )
    .await
    .unwrap();
    let before = fingerprint(&db.endpoint).await;
    assert!(before
        .indexes
        .iter()
        .any(|l| l.contains("\"createdAt\" DESC") && l.contains("fillfactor=70")));
    assert!(!before
        .indexes
        .iter()
        .any(|l| l.starts_with("Message_role_idx")));
    (db, before)
}

/// A catalogue file holding one read query.
fn catalogue(dir: &TempDir, name: &str, sql: &str) -> String {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!("[[query]]\nname = \"{name}\"\nscreen = \"test\"\nsql = '''\n{sql}\n'''\n"),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// `helpdesk-bench explain --url DB` with more arguments, not yet waited for.
fn explain(db: &TestDb, out: &TempDir, args: &[&str]) -> Child {
    Command::new(common::bin())
        .args(["explain", "--url", &db.url(), "--out", out.arg()])
        .args(args)
        .env_remove(helpdesk_bench::cluster::URL_ENV)
        .env_remove(helpdesk_bench::workspace::ALLOW_INDEX_CHANGES_ENV)
        .env_remove(helpdesk_bench::workspace::FORCE_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A connection of the test's own, named so it is never taken for the tool's.
async fn test_session(db: &TestDb) -> Client {
    let c = db.endpoint.connect().await.unwrap();
    c.batch_execute("SET application_name = 'user_db test'")
        .await
        .unwrap();
    c
}

/// The tool's backends (application_name helpdesk-bench) matching `filter`.
async fn tool_backends(c: &Client, filter: &str) -> Vec<i32> {
    c.query(
        &format!(
            "SELECT pid FROM pg_stat_activity \
             WHERE application_name = 'helpdesk-bench' AND datname = current_database() AND {filter}"
        ),
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Polls until a tool backend matches `filter`; returns its pid.
/// A tool backend executing the catalogue's `pg_sleep`: its wait event,
/// not its query text, which the tool's EXPLAIN and PREPARE of the query
/// (before any index state) show too.
const SLEEPING: &str = "state = 'active' AND wait_event = 'PgSleep'";

async fn wait_for_backend(c: &Client, filter: &str) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(pid) = tool_backends(c, filter).await.first() {
            return *pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no helpdesk-bench backend with {filter}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until the tool has no backend left; returns how long that took.
async fn wait_until_gone(c: &Client, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let left = tool_backends(c, "true").await;
        if left.is_empty() {
            break;
        }
        if start.elapsed() > limit {
            let what = c
                .query(
                    "SELECT format('%s %s %s %s', pid, state, wait_event_type, query)                      FROM pg_stat_activity WHERE pid = ANY($1)",
                    &[&left],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>();
            panic!("helpdesk-bench backends outlived the tool by {limit:?}: {what:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

/// True when backend `pid` holds ACCESS EXCLUSIVE on one of 012's indexes:
/// it is inside a state with indexes dropped.
async fn holds_drop_locks(c: &Client, pid: i32) -> bool {
    c.query_one(
        "SELECT count(*) FROM pg_locks l JOIN pg_class r ON r.oid = l.relation \
         WHERE l.pid = $1 AND l.mode = 'AccessExclusiveLock' AND l.granted \
           AND r.relname LIKE 'Conversation_%_idx'",
        &[&pid],
    )
    .await
    .unwrap()
    .get::<_, i64>(0)
        > 0
}

fn signal(child: &Child, sig: Signal) {
    kill(Pid::from_raw(child.id() as i32), sig).unwrap();
}

#[tokio::test]
async fn owner_tuned_indexes_come_back_exactly_after_a_full_run() {
    let (db, before) = tuned_user_db("safe_full").await;
    let out = TempDir::new("safe-full");
    let done = finish(
        explain(&db, &out, &["--allow-index-changes"]),
        Duration::from_secs(120),
    );
    assert!(done.status.success(), "{}", stderr(&done));
    // Both states were really measured: plans differ in the indexes used.
    let plans = stdout(&done);
    assert!(plans.contains("without_012_indexes") && plans.contains("with_012_indexes"));
    assert!(plans.contains("Message_conversationId_idx"), "{plans}");
    assert_eq!(fingerprint(&db.endpoint).await, before);
}

/// SIGINT, SIGTERM and SIGKILL while a plan is captured in the state
/// without the indexes (the drops are in effect, uncommitted).
#[tokio::test]
async fn a_signal_while_plans_are_captured_without_the_indexes_restores_everything() {
    let (db, before) = tuned_user_db("safe_sig").await;
    let watch = test_session(&db).await;
    let dir = TempDir::new("safe-sig");
    let slow = catalogue(
        &dir,
        "slow",
        r#"SELECT count(*) FROM "Message", pg_sleep(30)"#,
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL] {
        let child = explain(&db, &dir, &["--allow-index-changes", "--catalogue", &slow]);
        let pid = wait_for_backend(&watch, SLEEPING).await;
        assert!(
            holds_drop_locks(&watch, pid).await,
            "{sig}: not inside the state without the indexes"
        );
        signal(&child, sig);
        let done = finish(child, Duration::from_secs(15));
        match sig {
            Signal::SIGKILL => assert_eq!(done.status.code(), None),
            _ => {
                assert_eq!(done.status.code(), Some(130), "{sig}: {}", stderr(&done));
                assert_eq!(
                    stderr(&done).trim(),
                    "error: interrupted; open transactions were rolled back"
                );
            }
        }
        // The backend goes at once (cancel request, or the connection check
        // for SIGKILL), not when the 30 s sleep ends: well under half of it
        // even on a loaded machine.
        let gone = wait_until_gone(&watch, Duration::from_secs(20)).await;
        assert!(
            gone < Duration::from_secs(15),
            "{sig}: backend lived {gone:?}"
        );
        assert_eq!(fingerprint(&db.endpoint).await, before, "after {sig}");
    }
}

/// Another session holds a lock on "Message". Without --force the tool
/// refuses up front and names it; with --force its DROP waits, and a signal
/// during the wait leaves no queued DROP behind.
#[tokio::test]
async fn a_lock_held_by_another_session_is_never_waited_on_unbounded() {
    let (db, before) = tuned_user_db("safe_lock").await;
    let watch = test_session(&db).await;
    let holder = test_session(&db).await;
    holder
        .batch_execute(r#"BEGIN; SELECT count(*) FROM "Message";"#)
        .await
        .unwrap();
    let holder_pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let dir = TempDir::new("safe-lock");
    let quick = catalogue(&dir, "quick", r#"SELECT count(*) FROM "Message""#);
    let args = ["--allow-index-changes", "--catalogue", &quick];

    let refused = finish(explain(&db, &dir, &args), Duration::from_secs(30));
    assert_eq!(refused.status.code(), Some(2));
    let err = stderr(&refused);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("other sessions are using"), "{err}");
    assert!(err.contains(&format!("pid {holder_pid}")), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(fingerprint(&db.endpoint).await, before);

    // --force: the DROP waits for lock_timeout, then names the holder.
    let start = Instant::now();
    let forced = finish(
        explain(&db, &dir, &[&args[..], &["--force"]].concat()),
        Duration::from_secs(30),
    );
    assert_eq!(forced.status.code(), Some(2));
    let err = stderr(&forced);
    assert!(
        err.contains("waited 5 s for a lock on \"Message\""),
        "{err}"
    );
    assert!(err.contains(&format!("pid {holder_pid}")), "{err}");
    assert!(start.elapsed() < Duration::from_secs(20));
    wait_until_gone(&watch, Duration::from_secs(5)).await;

    // A signal while the DROP waits: no queued DROP outlives the tool.
    for sig in [Signal::SIGINT, Signal::SIGKILL] {
        let child = explain(&db, &dir, &[&args[..], &["--force"]].concat());
        wait_for_backend(&watch, "wait_event_type = 'Lock'").await;
        signal(&child, sig);
        finish(child, Duration::from_secs(15));
        // Gone before its own lock_timeout would have ended the wait.
        let gone = wait_until_gone(&watch, Duration::from_secs(10)).await;
        assert!(
            gone < helpdesk_bench::schema::LOCK_TIMEOUT - Duration::from_millis(500),
            "{sig}: backend lived {gone:?}"
        );
    }
    holder.batch_execute("COMMIT").await.unwrap();
    assert_eq!(fingerprint(&db.endpoint).await, before);
}

/// A read that fails part-way, and a connection cut by the server, both
/// while the indexes are dropped.
#[tokio::test]
async fn a_failing_read_or_a_lost_connection_restores_everything() {
    let (db, before) = tuned_user_db("safe_fail").await;
    let watch = test_session(&db).await;
    let dir = TempDir::new("safe-fail");
    let failing = catalogue(
        &dir,
        "failing",
        r#"SELECT 1 / (count(*) - count(*)) FROM "Message""#,
    );
    let done = finish(
        explain(
            &db,
            &dir,
            &["--allow-index-changes", "--catalogue", &failing],
        ),
        Duration::from_secs(60),
    );
    assert_eq!(done.status.code(), Some(2));
    assert!(
        stderr(&done).contains("division by zero"),
        "{}",
        stderr(&done)
    );
    assert_eq!(fingerprint(&db.endpoint).await, before);

    let slow = catalogue(
        &dir,
        "slow",
        r#"SELECT count(*) FROM "Message", pg_sleep(30)"#,
    );
    let child = explain(&db, &dir, &["--allow-index-changes", "--catalogue", &slow]);
    let pid = wait_for_backend(&watch, SLEEPING).await;
    assert!(holds_drop_locks(&watch, pid).await);
    watch
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    let done = finish(child, Duration::from_secs(15));
    assert_eq!(done.status.code(), Some(2), "{}", stderr(&done));
    assert_eq!(stderr(&done).lines().count(), 1, "{}", stderr(&done));
    wait_until_gone(&watch, Duration::from_secs(5)).await;
    assert_eq!(fingerprint(&db.endpoint).await, before);
}

/// A catalogue "read" that deletes rows fails, naming the query, and
/// deletes nothing, with or without the index-changes flag.
#[tokio::test]
async fn an_undeclared_write_fails_and_changes_nothing() {
    let (db, before) = tuned_user_db("safe_write").await;
    let dir = TempDir::new("safe-write");
    let del = catalogue(
        &dir,
        "del",
        r#"DELETE FROM "Message" WHERE id IN (SELECT id FROM "Message" ORDER BY id LIMIT 10) RETURNING id"#,
    );
    for extra in [&[][..], &["--allow-index-changes"][..]] {
        let args = [&["--catalogue", del.as_str()][..], extra].concat();
        let done = finish(explain(&db, &dir, &args), Duration::from_secs(60));
        assert_eq!(done.status.code(), Some(2), "{args:?}");
        let err = stderr(&done);
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
        assert!(
            err.contains("query del writes") && err.contains("kind = \"write\""),
            "{err}"
        );
        assert_eq!(fingerprint(&db.endpoint).await, before, "{args:?}");
    }
}
