//! `helpdesk-bench rehearse`: the lock sampler measures a known lock to
//! 10 ms on a real server; a full rehearsal against "the user's server"
//! (a seeded `TestDb` reached through `--url`) shows 012 as written
//! blocking reads of "User", the online variant waiting on a named long
//! transaction, and leaves that database exactly as found with no scratch
//! database, session or process behind; and SIGINT mid-run leaves the same.

pub mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{fingerprint, finish, scalar, seeded_tiny, stderr, stdout, TempDir, TestDb};
use helpdesk_bench::rehearse::{worst_blocked, Detail, Sampler, TRAFFIC_APP};
use helpdesk_bench::results::{Operation, RehearsalVariant, Results};
use helpdesk_bench::schema::{online_sql, Migration};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// One test of this file at a time: the sampler's 5 ms, and the traffic's
/// schedule, hold only on a machine not busy with another test's seeding.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// A statement holds ACCESS EXCLUSIVE for 500 ms (`LOCK TABLE …; SELECT
/// pg_sleep(0.5)`), and a read is fired right after the lock is taken: the
/// sampler must time that read's wait at 500 ms ± 30 ms, and name the lock
/// mode and the statement holding it; and, watching the holder's session,
/// time its hold of the lock the same way.
#[tokio::test]
async fn a_lock_held_for_500_ms_is_measured_as_500_ms() {
    let _serial = serial().await;
    let db = TestDb::new("rehearse_sampler").await;
    let holder = db.endpoint.connect().await.unwrap();
    holder
        .batch_execute(
            r#"SET application_name = 'the holder';
               CREATE TABLE "User" (id int); INSERT INTO "User" VALUES (1)"#,
        )
        .await
        .unwrap();
    let reader = db.endpoint.connect().await.unwrap();
    reader
        .batch_execute(&format!("SET application_name = '{TRAFFIC_APP}'"))
        .await
        .unwrap();
    let sampler = Sampler::start(&db.endpoint, "the holder").await.unwrap();
    // A sample or two before the lock, so its start is bracketed.
    tokio::time::sleep(Duration::from_millis(20)).await;
    holder
        .batch_execute(r#"BEGIN; LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE"#)
        .await
        .unwrap();
    // The control, measured by the server in the same run: how long the
    // read's statement waited before it could execute (simple protocol, so
    // the lock is waited for inside the one statement whose start
    // `statement_timestamp()` gives).
    let read = tokio::spawn(async move {
        let t = Instant::now();
        let msgs = reader
            .simple_query(
                r#"SELECT count(*), 1e3 * date_part('epoch', clock_timestamp() - statement_timestamp()) FROM "User""#,
            )
            .await
            .unwrap();
        let waited: f64 = msgs
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(1)?.parse().ok(),
                _ => None,
            })
            .unwrap();
        (t.elapsed(), waited)
    });
    // The read is waiting before the 500 ms start: however late the
    // machine schedules it, it waits the whole of them.
    let watcher = db.endpoint.connect().await.unwrap();
    let waiting = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{TRAFFIC_APP}' AND wait_event_type = 'Lock'"
    );
    let since = Instant::now();
    while scalar(&watcher, &waiting).await == 0 {
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "the read never waited"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    holder
        .batch_execute("SELECT pg_sleep(0.5); COMMIT")
        .await
        .unwrap();
    let (client_side, server_waited_ms) = read.await.unwrap();
    let sampled = sampler.stop().await.unwrap();
    let blocked = worst_blocked(&sampled.waits, TRAFFIC_APP, |_| Detail {
        taken_by: None,
        projected_ms: None,
    });
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    let b = &blocked[0];
    eprintln!(
        "sampler: {:.1} ms blocked; the server: {server_waited_ms:.1} ms; the request took {client_side:?}",
        b.worst_blocked_ms
    );
    assert_eq!((b.table.as_str(), b.operation), ("User", Operation::Read));
    // Held for the 500 ms sleep, and longer on a busy machine; the sampler
    // agrees with the server's own account of the wait within its 5 ms
    // sampling (±2.5 ms), with room for a late sample on a loaded machine.
    assert!(server_waited_ms >= 500.0, "{server_waited_ms} ms");
    assert!(
        (b.worst_blocked_ms - server_waited_ms).abs() <= 30.0,
        "sampler {:.1} ms, the server says the read waited {server_waited_ms:.1} ms (the request took {client_side:?})",
        b.worst_blocked_ms
    );
    assert_eq!(b.wanted_mode, "AccessShareLock");
    assert_eq!(b.blocking_mode, "AccessExclusiveLock");
    assert!(
        b.blocking_statement.contains("pg_sleep(0.5)"),
        "{}",
        b.blocking_statement
    );
    // The holder's own hold: one, of the table, as long as the read waited
    // and then some (the lock was taken before the read was sent).
    assert_eq!(sampled.holds.len(), 1, "{:?}", sampled.holds);
    let h = &sampled.holds[0];
    assert_eq!(
        (h.rel.as_str(), h.mode.as_str()),
        ("User", "AccessExclusiveLock")
    );
    assert!(
        h.held_ms() >= server_waited_ms - 30.0 && h.held_ms() <= server_waited_ms + 60.0,
        "held {:.1} ms, the read waited {server_waited_ms:.1} ms",
        h.held_ms()
    );
}

/// `helpdesk-bench rehearse --url DB --allow-scratch` at scale tiny, with a
/// high rate so the short tiny migration meets traffic; not waited for.
fn rehearse(db: &TestDb, reports: &Path, extra: &[&str]) -> Child {
    Command::new(common::bin())
        .args(["rehearse", "--url", &db.url(), "--scale", "tiny"])
        .args(["--rate", "400", "--reports"])
        .arg(reports)
        .args(extra)
        .env_remove(helpdesk_bench::cluster::URL_ENV)
        .env_remove(helpdesk_bench::permission::RETIRED_WRITES_ENV)
        .env_remove(helpdesk_bench::permission::COMMIT_WRITES.env)
        .env_remove(helpdesk_bench::permission::SCRATCH.env)
        .env_remove(helpdesk_bench::measure::PRODUCTION_ROWS_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Nothing of run `pid` is left on the server: no scratch database, no
/// helpdesk-bench session, and no process (the scratch guard) naming it.
async fn nothing_left(db: &TestDb, pid: u32) {
    let c = db.endpoint.connect().await.unwrap();
    c.batch_execute("SET application_name = 'rehearse test'")
        .await
        .unwrap();
    let scratch = format!("helpdesk_bench_scratch_{pid}_%");
    let start = Instant::now();
    loop {
        let dbs = scalar(
            &c,
            &format!("SELECT count(*) FROM pg_database WHERE datname LIKE '{scratch}'"),
        )
        .await;
        let sessions = scalar(
            &c,
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'helpdesk-bench%' \
                 AND (datname = current_database() OR datname LIKE '{scratch}')"
            ),
        )
        .await;
        let processes = processes_naming(&format!("helpdesk_bench_scratch_{pid}_"));
        if dbs == 0 && sessions == 0 && processes == 0 {
            return;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let names: Vec<String> = c
                .query(
                    &format!("SELECT datname FROM pg_database WHERE datname LIKE '{scratch}'"),
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            panic!("left behind: {dbs} scratch databases {names:?}, {sessions} sessions, {processes} processes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Processes whose command line holds `needle`.
fn processes_naming(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|cmd| String::from_utf8_lossy(cmd).contains(needle))
        .count()
}

#[tokio::test]
async fn a_rehearsal_on_a_user_server_measures_both_variants_and_leaves_it_as_found() {
    let _serial = serial().await;
    let db = seeded_tiny("rehearse_user").await;
    let before = fingerprint(&db.endpoint).await;
    let dir = TempDir::new("rehearse-user");

    let refused = Command::new(common::bin())
        .args(["rehearse", "--url", &db.url()])
        .env_remove(helpdesk_bench::permission::RETIRED_WRITES_ENV)
        .env_remove(helpdesk_bench::permission::COMMIT_WRITES.env)
        .env_remove(helpdesk_bench::permission::SCRATCH.env)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let e = stderr(&refused);
    assert!(
        e.contains("add --allow-scratch") && e.lines().count() == 1,
        "{e}"
    );

    // A saved run of the same migration, to add the rehearsal into.
    let into = dir.join("into");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run"),
        &into,
    );
    let child = rehearse(
        &db,
        &dir.join("reports"),
        &["--allow-scratch", "--into", into.to_str().unwrap()],
    );
    let pid = child.id();
    let out = finish(child, Duration::from_secs(240));
    assert!(out.status.success(), "{}", stderr(&out));
    nothing_left(&db, pid).await;
    assert_eq!(fingerprint(&db.endpoint).await, before);

    let printed = stdout(&out);
    let online = printed
        .lines()
        .find(|l| l.ends_with("online_migration.sql"))
        .unwrap_or_else(|| panic!("{printed}"));
    let run = Path::new(online).parent().unwrap();
    let r = Results::read(&run.join("results.json")).unwrap();
    let rh = r.rehearsal.expect("a rehearsal");
    assert_eq!(
        std::fs::read_to_string(run.join("online_migration.sql")).unwrap(),
        online_sql(&Migration::builtin().unwrap()),
        "the run folder holds the one generator's online variant"
    );
    let names: Vec<&str> = rehearsal_mix(&rh);
    assert_eq!(
        names,
        [
            "user_by_email",
            "user_conversations",
            "post_message",
            "open_conversation"
        ]
    );
    assert_eq!(rh.as_written.variant, RehearsalVariant::AsWritten);
    // As written, 012 holds ACCESS EXCLUSIVE on "User" from its ALTER TABLE
    // to its commit: the sampler times that hold whatever the traffic did.
    let held = rh
        .as_written
        .held
        .iter()
        .find(|h| h.table == "User")
        .unwrap_or_else(|| panic!("{:?}", rh.as_written.held));
    assert_eq!(held.mode, "AccessExclusiveLock");
    // Each end of a hold is known to half a gap between samples, which
    // a loaded machine stretches well past the 5 ms asked for: 50 ms.
    let slack = 50.0;
    assert!(held.held_ms > 0.0 && held.held_ms <= rh.as_written.wall_ms + slack);
    assert!(
        held.taken_by
            .as_deref()
            .is_some_and(|s| s.starts_with("ALTER TABLE \"User\"")),
        "{held:?}"
    );
    // A read of "User" the traffic sent during it (likely, at 400 requests
    // a second, not certain) waited for that lock, and no longer than it.
    if let Some(read) = rh
        .as_written
        .blocked
        .iter()
        .find(|b| b.table == "User" && b.operation == Operation::Read)
    {
        assert_eq!(read.blocking_mode, "AccessExclusiveLock");
        assert!(read.worst_blocked_ms <= held.held_ms + slack);
    }
    // Online, no index build holds ShareLock (CONCURRENTLY takes SHARE
    // UPDATE EXCLUSIVE, which lets writes through): only the brief
    // catalog-only ALTER TABLEs' ACCESS EXCLUSIVE, if sampled at all.
    assert!(
        rh.online
            .held
            .iter()
            .all(|h| h.mode == "AccessExclusiveLock"),
        "{:?}",
        rh.online.held
    );
    assert!(
        rh.as_written.wall_ms > 0.0 && rh.online.wall_ms > 0.0,
        "{rh:?}"
    );
    // The long transaction: the online variant's index build waited on it
    // for most of the 3 s it stayed open, and names it.
    let w = rh
        .online_long_transaction
        .migration_waits
        .iter()
        .find(|w| w.application_name == "helpdesk-bench rehearse long transaction")
        .unwrap_or_else(|| panic!("{:?}", rh.online_long_transaction.migration_waits));
    assert_eq!(w.state, "idle in transaction");
    assert!(w.lock.starts_with("virtualxid"), "{}", w.lock);
    assert!(w.waited_ms > 1000.0, "{}", w.waited_ms);
    assert!(!w.xact_start.is_empty() && w.pid > 0);
    assert!(rh.online_long_transaction.wall_ms > w.waited_ms);
    // On a user's server the projection uses its tables' reltuples.
    assert!(rh.production_source.contains("reltuples"));
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(
        html.contains("id=\"rehearsal\""),
        "the report has the side-by-side table"
    );
    // --into: the saved run now holds the rehearsal, its report shows it,
    // and the online variant sits beside it.
    let merged = Results::read(&into.join("results.json")).unwrap();
    assert!(merged.rehearsal.is_some() && !merged.queries.is_empty());
    let html = std::fs::read_to_string(into.join("index.html")).unwrap();
    assert!(html.contains("id=\"rehearsal\""));
    assert!(into.join("online_migration.sql").is_file());
    let md = std::fs::read_to_string(into.join("summary.md")).unwrap();
    assert!(md.contains("### Rehearsed under traffic"), "{md}");
}

/// Copies a folder tree.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn rehearsal_mix(rh: &helpdesk_bench::results::Rehearsal) -> Vec<&str> {
    rh.mix.iter().map(|m| m.query.as_str()).collect()
}

/// Runs a rehearsal on a fresh "user's server", sends SIGINT once `when`
/// (SQL counting rows, with `{scratch}` for this run's scratch name
/// pattern) is above 0, and checks that nothing is left and the user's
/// database is as found.
async fn interrupted_when(prefix: &str, when: &str) {
    let db = seeded_tiny(prefix).await;
    let before = fingerprint(&db.endpoint).await;
    let dir = TempDir::new(prefix);
    let child = rehearse(&db, &dir.join("reports"), &["--allow-scratch"]);
    let pid = child.id();
    let sql = when.replace("{scratch}", &format!("helpdesk_bench_scratch_{pid}_%"));
    let c = db.endpoint.connect().await.unwrap();
    let start = Instant::now();
    while scalar(&c, &sql).await == 0 {
        assert!(start.elapsed() < Duration::from_secs(120), "never: {sql}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(c);
    kill(Pid::from_raw(pid as i32), Signal::SIGINT).unwrap();
    let out = finish(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    nothing_left(&db, pid).await;
    assert_eq!(fingerprint(&db.endpoint).await, before);
}

#[tokio::test]
async fn sigint_while_traffic_runs_leaves_no_scratch_database_session_or_process() {
    let _serial = serial().await;
    interrupted_when(
        "rehearse_sigint_traffic",
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{TRAFFIC_APP}' \
             AND datname LIKE '{{scratch}}'"
        ),
    )
    .await;
}

#[tokio::test]
async fn sigint_while_the_scratch_copy_is_made_leaves_nothing_behind() {
    let _serial = serial().await;
    interrupted_when(
        "rehearse_sigint_seed",
        "SELECT count(*) FROM pg_database WHERE datname LIKE '{scratch}'",
    )
    .await;
}
