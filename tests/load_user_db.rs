//! `helpdesk-bench load --url` on a user's database: a seeded database of
//! the embedded cluster, reached through `--url` so the tool does not know
//! it made it, with 012's indexes tuned as an owner would. Without the
//! index-changes flag, only reads run, in the state as found; with it, both
//! states are measured, committed so every client sees them, and the
//! indexes come back exactly as found (definitions, options, validity,
//! tablespace, `reltuples`, every row's checksum) after a full run, after
//! SIGINT, SIGTERM and SIGKILL mid-run (also with nothing on `PATH`: the
//! guard is the tool's own binary, not `psql`), and when another session
//! uses the tables (refused). A restore that a lock blocks past every try
//! fails, printing the SQL still to run, which then puts them back.

pub mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{fingerprint, finish, seeded_tiny, stderr, Fingerprint, TempDir, TestDb};
use helpdesk_bench::results::Results;
use helpdesk_bench::schema::IndexState;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A read that uses 012's `Message_conversationId_idx`, and a write.
const MIX: &str = r#"
[[query]]
name = "transcript"
screen = "conversation view"
weight = 3
sql = '''
SELECT id, role, content, "createdAt" FROM "Message" WHERE "conversationId" = $1 ORDER BY "createdAt"
'''
sample = 'SELECT id FROM "Conversation" ORDER BY md5(id) LIMIT 200'

[[query]]
name = "reassign"
screen = "help desk"
kind = "write"
weight = 1
sql = '''
UPDATE "Conversation" SET "updatedAt" = now() WHERE id = $1
'''
sample = 'SELECT id FROM "Conversation" ORDER BY md5(id) LIMIT 200'
"#;

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
    (db, before)
}

/// `helpdesk-bench load --url DB` on [`MIX`] into `dir`, with more
/// arguments, no permission from the environment, not yet waited for.
fn load(db: &TestDb, dir: &TempDir, args: &[&str]) -> Child {
    load_command(db, dir, args, &[]).spawn().unwrap()
}

/// [`load`] with these environment variables set.
fn load_with_env(db: &TestDb, dir: &TempDir, args: &[&str], env: &[(&str, &str)]) -> Child {
    load_command(db, dir, args, env).spawn().unwrap()
}

/// The command [`load`] spawns.
fn load_command(db: &TestDb, dir: &TempDir, args: &[&str], env: &[(&str, &str)]) -> Command {
    let catalogue = dir.join("mix.toml");
    std::fs::write(&catalogue, MIX).unwrap();
    let mut cmd = Command::new(common::bin());
    cmd.args(["load", "--url", &db.url(), "--catalogue"])
        .arg(&catalogue)
        .arg("--reports")
        .arg(dir.join("reports"))
        .args(args)
        .env_remove(helpdesk_bench::cluster::URL_ENV)
        .env_remove(helpdesk_bench::workspace::ALLOW_INDEX_CHANGES_ENV)
        .env_remove(helpdesk_bench::permission::RETIRED_WRITES_ENV)
        .env_remove(helpdesk_bench::permission::COMMIT_WRITES.env)
        .env_remove(helpdesk_bench::permission::SCRATCH.env)
        .env_remove(helpdesk_bench::workspace::FORCE_ENV)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn results(dir: &TempDir) -> Results {
    Results::read(&dir.join("reports").join("latest").join("results.json")).unwrap()
}

/// Polls until the database's fingerprint is `want` again (the watchdog
/// at work); fails after `limit`.
async fn wait_for_fingerprint(db: &TestDb, want: &Fingerprint, limit: Duration) {
    let start = Instant::now();
    loop {
        let now = fingerprint(&db.endpoint).await;
        if &now == want {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "not restored after {limit:?}:\nnow {now:#?}\nwanted {want:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn without_the_flag_only_reads_run_in_the_state_as_found() {
    let (db, before) = tuned_user_db("load_as_found").await;
    let dir = TempDir::new("load-as-found");
    let done = finish(
        load(&db, &dir, &["--clients", "2", "--duration", "1s"]),
        Duration::from_secs(60),
    );
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(
        stderr(&done).contains("writes left out of the mix (reassign)"),
        "{}",
        stderr(&done)
    );
    let load = results(&dir).load.unwrap();
    assert!(!load.writes && !load.indexes_changed);
    assert!(load
        .points
        .iter()
        .all(|p| p.state == IndexState::AsFound && p.query == "transcript" && p.requests > 0));
    assert_eq!(fingerprint(&db.endpoint).await, before);
    let html = std::fs::read_to_string(dir.join("reports/latest/index.html")).unwrap();
    assert!(html.contains("Under load") && html.contains("One index state, as found"));
    assert!(!html.contains("load-verdict"), "one state has no verdict");
}

/// `HELPDESK_BENCH_ALLOW_WRITES` once meant both "scratch databases" and
/// "commit writes into your tables": it is refused, naming the permission
/// that now commits writes, and nothing is written; an unknown value of a
/// boolean variable is refused rather than read as off; and
/// `--commit-writes` is what commits them.
#[tokio::test]
async fn committing_writes_takes_its_own_permission() {
    let (db, before) = tuned_user_db("load_commit_writes").await;
    let dir = TempDir::new("load-commit-writes");
    let args = ["--clients", "1", "--duration", "1s"];
    let retired = finish(
        load_with_env(&db, &dir, &args, &[("HELPDESK_BENCH_ALLOW_WRITES", "1")]),
        Duration::from_secs(60),
    );
    let err = stderr(&retired);
    assert_eq!(retired.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("HELPDESK_BENCH_COMMIT_WRITES=1"), "{err}");
    let maybe = finish(
        load_with_env(
            &db,
            &dir,
            &args,
            &[("HELPDESK_BENCH_COMMIT_WRITES", "maybe")],
        ),
        Duration::from_secs(60),
    );
    let err = stderr(&maybe);
    assert_eq!(maybe.status.code(), Some(2), "{err}");
    assert!(
        err.contains("HELPDESK_BENCH_COMMIT_WRITES=\"maybe\" is neither on nor off"),
        "{err}"
    );
    assert_eq!(
        fingerprint(&db.endpoint).await,
        before,
        "nothing was written"
    );

    let committed = finish(
        load(
            &db,
            &dir,
            &[
                "--commit-writes",
                "--query",
                "reassign",
                "--clients",
                "1",
                "--duration",
                "1s",
            ],
        ),
        Duration::from_secs(60),
    );
    assert!(committed.status.success(), "{}", stderr(&committed));
    let load = results(&dir).load.unwrap();
    assert!(load.writes);
    assert!(load
        .points
        .iter()
        .any(|p| p.query == "reassign" && p.requests > 0));
    assert_ne!(
        fingerprint(&db.endpoint).await,
        before,
        "--commit-writes commits the writes into the tables"
    );
}

#[tokio::test]
async fn with_the_flag_both_states_run_and_the_indexes_come_back_exactly() {
    let (db, before) = tuned_user_db("load_switch").await;
    let dir = TempDir::new("load-switch");
    let done = finish(
        load(
            &db,
            &dir,
            &[
                "--allow-index-changes",
                "--clients",
                "2",
                "--duration",
                "1s",
            ],
        ),
        Duration::from_secs(90),
    );
    let err = stderr(&done);
    assert!(done.status.success(), "{err}");
    assert!(err.contains("CHANGED FOR REAL"), "{err}");
    // Built with the migration's definition in the state with the indexes,
    // so the owner's versions are rebuilt and the one they dropped goes.
    for name in [
        "Message_createdAt_idx",
        "Conversation_status_idx",
        "Message_role_idx",
    ] {
        assert!(err.contains(name), "{name} is put back: {err}");
    }
    assert!(err.contains("load: indexes verified as found: "), "{err}");
    let account = std::fs::read_to_string(account_file(&dir)).unwrap();
    assert!(
        account.contains("dismissed by the tool, which did it itself: indexes verified as found: "),
        "{account}"
    );
    let load = results(&dir).load.unwrap();
    assert!(load.indexes_changed && !load.writes);
    let p50 = |s: IndexState| {
        load.points
            .iter()
            .find(|p| p.state == s)
            .map(|p| p.p50_ms)
            .unwrap()
    };
    assert!(
        p50(IndexState::Without) > 2.0 * p50(IndexState::With),
        "every client saw each state: the transcript is far slower without the index: {:?}",
        load.points
    );
    assert_eq!(fingerprint(&db.endpoint).await, before);
}

/// SIGINT and SIGTERM (the tool's own stop path: its guard runs the
/// restoring SQL before it exits) and SIGKILL (the watchdog does, after)
/// while the state without the indexes is committed and under load.
#[tokio::test]
async fn a_signal_mid_run_puts_the_indexes_back() {
    let (db, before) = tuned_user_db("load_kill").await;
    let watch = db.endpoint.connect().await.unwrap();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL] {
        let dir = TempDir::new("load-kill");
        let child = load(
            &db,
            &dir,
            &[
                "--allow-index-changes",
                "--clients",
                "2",
                "--duration",
                "20s",
            ],
        );
        wait_for_load_without_indexes(&watch).await;
        kill(Pid::from_raw(child.id() as i32), sig).unwrap();
        let done = finish(child, Duration::from_secs(30));
        match sig {
            Signal::SIGKILL => {
                assert_eq!(done.status.code(), None, "killed");
                wait_for_fingerprint(&db, &before, Duration::from_secs(60)).await;
            }
            _ => {
                let err = stderr(&done);
                assert_eq!(done.status.code(), Some(130), "{sig}: {err}");
                assert_eq!(
                    fingerprint(&db.endpoint).await,
                    before,
                    "{sig}: put back before the tool exits"
                );
                assert!(
                    err.contains("\nindexes verified as found: "),
                    "{sig}: the tool says what its guard verified: {err}"
                );
            }
        }
    }
}

/// Polls until 012's indexes are dropped (committed) and load's clients
/// are connected.
async fn wait_for_load_without_indexes(watch: &tokio_postgres::Client) {
    let start = Instant::now();
    loop {
        let dropped: bool = watch
            .query_one(
                "SELECT to_regclass('\"Message_conversationId_idx\"') IS NULL \
                 AND EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'helpdesk-bench load' AND datname = current_database())",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if dropped {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never loaded without the indexes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn another_session_using_the_tables_is_refused_and_nothing_changes() {
    let (db, before) = tuned_user_db("load_busy").await;
    let other = db.endpoint.connect().await.unwrap();
    other
        .batch_execute(
            "SET application_name = 'someone else'; BEGIN; SELECT count(*) FROM \"Message\";",
        )
        .await
        .unwrap();
    let dir = TempDir::new("load-busy");
    let done = finish(
        load(
            &db,
            &dir,
            &[
                "--allow-index-changes",
                "--clients",
                "1",
                "--duration",
                "1s",
            ],
        ),
        Duration::from_secs(60),
    );
    let err = stderr(&done);
    assert_eq!(done.status.code(), Some(2), "{err}");
    assert!(err.contains("someone else"), "names the session: {err}");
    assert_eq!(
        err.trim()
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1,
        "{err}"
    );
    other.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(fingerprint(&db.endpoint).await, before);
}

/// With `--force`, a lock another session holds on "Message" stops the
/// switch after the lock timeout, part way (the drops on "Conversation"
/// are committed by then): the error names the session, and what was
/// changed is put back.
#[tokio::test]
async fn forced_past_a_lock_the_run_fails_and_what_was_switched_comes_back() {
    let (db, before) = tuned_user_db("load_forced").await;
    let other = db.endpoint.connect().await.unwrap();
    other
        .batch_execute(
            "SET application_name = 'someone else'; BEGIN; SELECT count(*) FROM \"Message\";",
        )
        .await
        .unwrap();
    let dir = TempDir::new("load-forced");
    let started = Instant::now();
    let done = finish(
        load(
            &db,
            &dir,
            &[
                "--allow-index-changes",
                "--force",
                "--clients",
                "1",
                "--duration",
                "1s",
            ],
        ),
        Duration::from_secs(60),
    );
    let err = stderr(&done);
    assert_eq!(done.status.code(), Some(2), "{err}");
    assert!(
        err.contains("put back as found: Conversation_status_idx"),
        "the drops already committed are undone: {err}"
    );
    assert!(err.contains("someone else"), "names the lock holder: {err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the lock wait is bounded"
    );
    other.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(fingerprint(&db.endpoint).await, before);
}

/// The guard's account file in the one run folder under `dir/reports`.
fn account_file(dir: &TempDir) -> std::path::PathBuf {
    let runs: Vec<_> = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("latest"))
        .collect();
    assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
    runs[0].join(helpdesk_bench::guard::ACCOUNT_FILE)
}

/// The account's text once it holds `word`; fails after `limit`.
async fn account_saying(path: &std::path::Path, word: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(word) {
            return text;
        }
        assert!(
            start.elapsed() < limit,
            "{} never said {word:?}: {text}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The pid in the account's first line, `... guard (pid N) for ...`.
fn guard_pid(account: &str) -> i32 {
    let after = account.split("guard (pid ").nth(1).expect("a guard pid");
    after[..after.find(')').unwrap()].parse().unwrap()
}

/// SIGKILL mid-run with nothing at all on `PATH` (so no `psql`): the guard
/// is the tool's own binary, so the indexes still come back exactly; its
/// account in the run folder, and stderr (the tool being gone), say it
/// verified them, and the guard exits.
#[tokio::test]
async fn killed_with_no_psql_on_path_the_guard_puts_the_indexes_back_and_says_so() {
    let (db, before) = tuned_user_db("load_no_psql").await;
    let watch = db.endpoint.connect().await.unwrap();
    let dir = TempDir::new("load-no-psql");
    let empty = dir.join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let child = load_command(
        &db,
        &dir,
        &[
            "--allow-index-changes",
            "--clients",
            "2",
            "--duration",
            "20s",
        ],
        &[],
    )
    .env("PATH", &empty)
    .spawn()
    .unwrap();
    wait_for_load_without_indexes(&watch).await;
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    // The guard holds the tool's stderr until it exits.
    let done = finish(child, Duration::from_secs(30));
    assert_eq!(done.status.code(), None, "killed");
    wait_for_fingerprint(&db, &before, Duration::from_secs(60)).await;
    let text = account_saying(&account_file(&dir), "verified: ", Duration::from_secs(60)).await;
    assert!(
        text.contains("pipe closed without `done`"),
        "the guard saw the tool die: {text}"
    );
    let verified = "verified: indexes verified as found: ";
    assert!(text.contains(verified), "{text}");
    for name in [
        "Message_createdAt_idx",
        "Conversation_status_idx",
        "Message_role_idx",
    ] {
        assert!(text.contains(name), "{name} in the account: {text}");
    }
    let err = stderr(&done);
    assert!(
        err.contains("helpdesk-bench guard: indexes verified as found: "),
        "{err}"
    );
    let pid = Pid::from_raw(guard_pid(&text));
    let start = Instant::now();
    while kill(pid, None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the guard {pid} outlived its work"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A restore that cannot complete: after the indexes are dropped another
/// session takes a lock on "Message" and keeps it past the tool's lock
/// timeout and every try of its guard. The tool exits non-zero, printing
/// the SQL still to run as one block (also in the guard's account); once
/// the lock is released, running that block puts the indexes back exactly.
#[tokio::test]
async fn a_restore_blocked_by_a_lock_fails_and_prints_the_sql_still_to_run() {
    let (db, before) = tuned_user_db("load_blocked").await;
    let watch = db.endpoint.connect().await.unwrap();
    let dir = TempDir::new("load-blocked");
    let child = load(
        &db,
        &dir,
        &[
            "--allow-index-changes",
            "--clients",
            "1",
            "--duration",
            "10s",
        ],
    );
    wait_for_load_without_indexes(&watch).await;
    let other = db.endpoint.connect().await.unwrap();
    other
        .batch_execute(
            "SET application_name = 'someone else'; BEGIN; LOCK TABLE \"Message\" IN ROW EXCLUSIVE MODE;",
        )
        .await
        .unwrap();
    let done = finish(child, Duration::from_secs(240));
    let err = stderr(&done);
    assert!(
        !done.status.success() && done.status.code().is_some(),
        "{err}"
    );
    let error = err.lines().find(|l| l.starts_with("error: ")).unwrap_or("");
    assert!(
        error.contains(": the migration's indexes are not as found: ")
            && error.contains("run the SQL printed below"),
        "{err}"
    );
    assert!(
        err.contains("try 4 of 4 failed"),
        "every try reported: {err}"
    );
    let lines: Vec<&str> = err.lines().collect();
    let begin: Vec<usize> = (0..lines.len()).filter(|&i| lines[i] == "BEGIN;").collect();
    assert_eq!(begin.len(), 1, "one block: {err}");
    let end = (begin[0]..lines.len())
        .find(|&i| lines[i] == "COMMIT;")
        .expect("the block ends with COMMIT");
    let sql = lines[begin[0]..=end].join("\n");
    assert!(
        sql.contains("CREATE INDEX \"Message_createdAt_idx\""),
        "{sql}"
    );
    let account = std::fs::read_to_string(account_file(&dir)).unwrap();
    assert!(account.contains("NOT verified: "), "{account}");
    assert!(
        account.contains(&sql),
        "the account holds the block: {account}"
    );
    assert_ne!(fingerprint(&db.endpoint).await, before);

    other.batch_execute("ROLLBACK").await.unwrap();
    db.endpoint
        .connect()
        .await
        .unwrap()
        .batch_execute(&sql)
        .await
        .unwrap();
    assert_eq!(fingerprint(&db.endpoint).await, before);
}
