//! The seeder against a real PostgreSQL at tiny scale: determinism, shape,
//! integrity, safety and interruption.

pub mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{checksums, run, seed_config, seeded, seeded_tiny, stderr, TempDir, TestDb};
use helpdesk_bench::cluster::{self, Cluster, Endpoint};
use helpdesk_bench::schema::{self, Migration};
use helpdesk_bench::seed::model::{self, Role};
use helpdesk_bench::seed::{self, Reporter, Scale, SeedConfig, Shape, TABLES};
use helpdesk_bench::Error;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

async fn scalar(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn same_seed_same_rows_whatever_the_jobs() {
    let one = seeded("jobs1", &seed_config(Scale::Tiny.counts(), 1)).await;
    let four = seeded("jobs4", &seed_config(Scale::Tiny.counts(), 4)).await;
    let a = checksums(&one.endpoint).await;
    assert_eq!(a, checksums(&four.endpoint).await);
    assert_eq!(
        a.iter().map(|r| r.0).collect::<Vec<_>>(),
        [200, 2_000, 20_000]
    );
    let mut other = seed_config(Scale::Tiny.counts(), 2);
    other.seed = 43;
    let different = seeded("seed43", &other).await;
    assert_ne!(a, checksums(&different.endpoint).await);
}

// The tiny data set against the data model (`seed::model`), one property per
// test. Each test reads a clone of the data set seeded once per process.

/// A clone of the tiny data set and a connection to it.
async fn tiny_db(prefix: &str) -> (TestDb, tokio_postgres::Client) {
    let db = seeded_tiny(prefix).await;
    let c = db.endpoint.connect().await.unwrap();
    (db, c)
}

#[tokio::test]
async fn foreign_keys_are_validated_and_nothing_is_orphaned() {
    let (_db, c) = tiny_db("keys").await;
    for fk in [
        "Message_conversationId_fkey",
        "Conversation_userId_fkey",
        "Conversation_assignedTo_fkey",
    ] {
        let n = scalar(
            &c,
            &format!("SELECT count(*) FROM pg_constraint WHERE conname = '{fk}' AND convalidated"),
        )
        .await;
        assert_eq!(n, 1, "{fk}");
    }
    let orphans = scalar(&c, r#"
        SELECT (SELECT count(*) FROM "Message" m LEFT JOIN "Conversation" c ON c.id = m."conversationId" WHERE c.id IS NULL)
             + (SELECT count(*) FROM "Conversation" c LEFT JOIN "User" u ON u.id = c."userId" WHERE c."userId" IS NOT NULL AND u.id IS NULL)
             + (SELECT count(*) FROM "Conversation" c LEFT JOIN "User" u ON u.id = c."assignedTo" WHERE c."assignedTo" IS NOT NULL AND u.id IS NULL)"#).await;
    assert_eq!(orphans, 0);
}

#[tokio::test]
async fn status_shares_follow_the_model() {
    let (_db, c) = tiny_db("statuses").await;
    let rows = c
        .query(
            r#"SELECT status::text, count(*) FROM "Conversation" GROUP BY 1"#,
            &[],
        )
        .await
        .unwrap();
    let conversations = Scale::Tiny.counts().conversations as f64;
    let share = |s: &str| {
        rows.iter()
            .find(|r| r.get::<_, String>(0) == s)
            .map(|r| r.get::<_, i64>(1) as f64 / conversations)
            .unwrap_or(0.0)
    };
    // 2,000 conversations: about ±3 points, ±2 for the small human queue.
    for (status, want) in model::STATUSES.into_iter().zip(model::STATUS_SHARES) {
        let tolerance = if want < 0.1 { 0.02 } else { 0.035 };
        let got = share(status);
        assert!((got - want).abs() < tolerance, "{status}: {got} vs {want}");
    }
}

#[tokio::test]
async fn messages_per_conversation_have_the_model_mean_and_a_long_tail() {
    let (_db, c) = tiny_db("messages").await;
    let row = c
        .query_one(
            r#"SELECT avg(n)::float8, max(n), percentile_cont(0.5) WITHIN GROUP (ORDER BY n)
                        FROM (SELECT count(*) AS n FROM "Message" GROUP BY "conversationId") s"#,
            &[],
        )
        .await
        .unwrap();
    let (mean, max, median): (f64, i64, f64) = (row.get(0), row.get(1), row.get(2));
    // Tiny's totals (20,000 messages over 2,000 conversations) are the model's mean exactly.
    assert!((mean - model::MESSAGES_MEAN).abs() < 1e-9, "mean {mean}");
    assert!(
        max as f64 >= 6.0 * model::MESSAGES_MEAN,
        "no long tail: max {max}"
    );
    assert!(median < mean, "median {median}");
}

#[tokio::test]
async fn timestamps_increase_and_updated_at_is_the_last_message() {
    let (_db, c) = tiny_db("timestamps").await;
    let not_increasing = scalar(&c, r#"
        SELECT count(*) FROM (
          SELECT "createdAt" <= lag("createdAt") OVER (PARTITION BY "conversationId" ORDER BY "createdAt", id) AS bad
            FROM "Message") s WHERE bad"#).await;
    assert_eq!(not_increasing, 0);
    let stale = scalar(
        &c,
        r#"
        SELECT count(*) FROM "Conversation" c
          JOIN (SELECT "conversationId", max("createdAt") AS last FROM "Message" GROUP BY 1) m
            ON m."conversationId" = c.id
         WHERE c."updatedAt" <> m.last"#,
    )
    .await;
    assert_eq!(stale, 0);
}

#[tokio::test]
async fn agents_speak_only_in_taken_conversations_after_the_customer() {
    let (_db, c) = tiny_db("roles").await;
    let (agent, user) = (Role::Agent.label(), Role::User.label());
    let stray_agents = scalar(
        &c,
        &format!(
            r#"
        SELECT count(*) FROM "Message" m JOIN "Conversation" c ON c.id = m."conversationId"
         WHERE m.role = '{agent}' AND c."assignedTo" IS NULL"#
        ),
    )
    .await;
    assert_eq!(stray_agents, 0);
    let agents = scalar(
        &c,
        &format!(r#"SELECT count(*) FROM "Message" WHERE role = '{agent}'"#),
    )
    .await;
    assert!(agents > 0);
    let first_not_user = scalar(
        &c,
        &format!(
            r#"
        SELECT count(*) FROM (SELECT DISTINCT ON ("conversationId") role FROM "Message"
                              ORDER BY "conversationId", "createdAt") f WHERE role <> '{user}'"#
        ),
    )
    .await;
    assert_eq!(first_not_user, 0);
}

#[tokio::test]
async fn only_staff_are_assigned_and_never_to_ai_handling() {
    let (_db, c) = tiny_db("assignees").await;
    let bad_assignees = scalar(
        &c,
        r#"
        SELECT count(*) FROM "Conversation" c JOIN "User" u ON u.id = c."assignedTo"
         WHERE u.role NOT IN ('staff', 'admin')"#,
    )
    .await;
    assert_eq!(bad_assignees, 0);
    let ai_assigned = scalar(&c, r#"
        SELECT count(*) FROM "Conversation" WHERE status = 'AI_HANDLING' AND "assignedTo" IS NOT NULL"#).await;
    assert_eq!(ai_assigned, 0);
}

#[tokio::test]
async fn staff_and_admins_follow_the_model() {
    let (_db, c) = tiny_db("staff").await;
    let staff = Scale::Tiny.counts().staff;
    let helpers = scalar(
        &c,
        r#"SELECT count(*) FROM "User" WHERE role IN ('staff', 'admin')"#,
    )
    .await;
    assert_eq!(helpers, staff as i64);
    let admins = scalar(&c, r#"SELECT count(*) FROM "User" WHERE role = 'admin'"#).await;
    let want = (staff as f64 * model::ADMIN_SHARE).ceil().max(1.0) as i64;
    assert_eq!(admins, want, "admins among {staff} staff");
}

#[tokio::test]
async fn the_busiest_agent_carries_far_more_than_an_even_share() {
    let (_db, c) = tiny_db("skew").await;
    let top = scalar(
        &c,
        r#"SELECT max(n) FROM (SELECT count(*) AS n FROM "Conversation"
                             WHERE "assignedTo" IS NOT NULL GROUP BY "assignedTo") s"#,
    )
    .await;
    let assigned = scalar(
        &c,
        r#"SELECT count(*) FROM "Conversation" WHERE "assignedTo" IS NOT NULL"#,
    )
    .await;
    let even = assigned as f64 / Scale::Tiny.counts().staff as f64;
    assert!(top as f64 > 3.0 * even, "top {top} of {assigned}");
}

#[tokio::test]
async fn customers_come_back() {
    let (_db, c) = tiny_db("customers").await;
    let repeat = scalar(
        &c,
        r#"SELECT max(n) FROM (SELECT count(*) AS n FROM "Conversation"
                                WHERE "customerEmail" IS NOT NULL GROUP BY "customerEmail") s"#,
    )
    .await;
    assert!(repeat >= 10, "top customer has {repeat}");
}

#[tokio::test]
async fn traffic_comes_from_a_few_dozen_of_the_models_sources() {
    let (_db, c) = tiny_db("sources").await;
    let sources = scalar(&c, r#"SELECT count(DISTINCT source) FROM "Conversation""#).await;
    assert!(
        (20..=model::SOURCES as i64).contains(&sources),
        "{sources} sources"
    );
}

#[tokio::test]
async fn message_bodies_are_varied() {
    let (_db, c) = tiny_db("bodies").await;
    let distinct_content = scalar(&c, r#"SELECT count(DISTINCT content) FROM "Message""#).await;
    // Short customer turns may repeat a single pool sentence, as real ones do.
    assert!(
        distinct_content as f64 > 0.9 * Scale::Tiny.counts().messages as f64,
        "{distinct_content} distinct bodies"
    );
}

#[tokio::test]
async fn refuses_tables_with_rows_unless_truncate() {
    // The same seed as the tiny template the database is cloned from.
    let cfg = seed_config(Scale::Tiny.counts(), 2);
    let db = seeded_tiny("refuse").await;
    let before = checksums(&db.endpoint).await;

    let err = seed::run(&db.endpoint, &cfg, &Reporter::quiet())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("already hold rows; pass --truncate"),
        "{err}"
    );
    assert_eq!(checksums(&db.endpoint).await, before);

    let out = run(&[
        "seed",
        "--scale",
        "tiny",
        "--seed",
        "42",
        "--url",
        &db.url(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));

    let mut again = cfg.clone();
    again.truncate = true;
    let report = seed::run(&db.endpoint, &again, &Reporter::quiet())
        .await
        .unwrap();
    assert!(report.froze && !report.created_schema);
    assert_eq!(checksums(&db.endpoint).await, before);
}

#[tokio::test]
async fn base_shape_then_migrate_up_gives_the_spec_defaults() {
    let mut cfg = seed_config(Scale::Tiny.counts(), 2);
    cfg.shape = Some(Shape::Base);
    let db = seeded("base", &cfg).await;
    let mut c = db.endpoint.connect().await.unwrap();
    let m = Migration::builtin().unwrap();
    assert_eq!(
        schema::status(&c, &m).await.unwrap().state,
        schema::State::Base
    );
    assert_eq!(
        scalar(&c, r#"SELECT count(*) FROM "Message" WHERE role = 'agent'"#).await,
        0
    );

    schema::up(&mut c, &m).await.unwrap();
    assert_eq!(
        scalar(&c, r#"SELECT count(*) FROM "User" WHERE role = 'user'"#).await,
        200
    );
    assert_eq!(
        scalar(
            &c,
            r#"SELECT count(*) FROM "Conversation" WHERE status = 'AI_HANDLING'"#
        )
        .await,
        2_000
    );

    // Asking for 012 rows in a base database is refused.
    let mut wrong = seed_config(Scale::Tiny.counts(), 1);
    wrong.shape = Some(Shape::Migrated);
    wrong.truncate = true;
    let fresh = seeded("base2", &cfg).await;
    let err = seed::run(&fresh.endpoint, &wrong, &Reporter::quiet())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("run `helpdesk-bench migrate up` first"),
        "{err}"
    );
}

#[test]
fn nonsense_arguments_get_one_line() {
    for (args, want) in [
        (vec!["--users", "0"], "must be at least 1"),
        (vec!["--messages", "-5"], "must be at least 1 (got -5)"),
        (
            vec!["--conversations", "100", "--messages", "10"],
            "is smaller than --conversations",
        ),
        (vec!["--scale", "huge"], "invalid value 'huge'"),
        (vec!["--jobs", "0"], "must be at least 1"),
    ] {
        let mut full = vec!["seed"];
        full.extend(args.iter().copied());
        let out = run(&full);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(want),
            "{args:?}: {err}"
        );
    }
}

#[tokio::test]
async fn losing_the_server_mid_seed_is_a_clear_error() {
    let private = Cluster::start().unwrap();
    let admin = Endpoint::embedded(private.config("postgres")).unwrap();
    admin
        .connect()
        .await
        .unwrap()
        .batch_execute("CREATE DATABASE lose")
        .await
        .unwrap();
    let db = admin.with_dbname("lose");
    let cfg = SeedConfig::new(Scale::Small.counts());
    let run_dir = private.run_dir().to_path_buf();
    let seeding = tokio::spawn(async move { seed::run(&db, &cfg, &Reporter::quiet()).await });
    // Wait until the seed is copying, then take the server away (immediate shutdown).
    let watch = admin.connect().await.unwrap();
    loop {
        let copying: i64 = watch
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if copying > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    cluster::stop_pid(cluster::postmaster_pid(&run_dir).unwrap());
    let err = seeding.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::ConnectionLost { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("check that the server is still running"),
        "{err}"
    );
}

/// Runs a seed command, sends SIGINT once stderr shows `phase`, checks the
/// exit status is 130, and returns the rest of stderr.
fn interrupt_seed(cmd: &mut Command, phase: &str) -> Vec<String> {
    let mut child = cmd
        .env_remove(cluster::URL_ENV)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Progress lines come one per phase when stderr is not a terminal.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().starts_with(phase) {
            break;
        }
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{rest:?}");
    rest
}

#[tokio::test]
async fn ctrl_c_mid_seed_rolls_back_and_exits_130() {
    let db = TestDb::new("sigint").await;
    let rest = interrupt_seed(
        Command::new(common::bin()).args(["seed", "--scale", "small", "--url", &db.url()]),
        "seed: Conversation done",
    );
    assert!(rest.iter().any(|l| l.contains("interrupted")), "{rest:?}");

    // The whole seed was one transaction: not even the tables remain.
    let c = db.endpoint.connect().await.unwrap();
    for t in TABLES {
        let exists: bool = c
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&format!("\"{t}\"")])
            .await
            .unwrap()
            .get(0);
        assert!(!exists, "table {t} left behind");
    }
}

#[test]
fn ctrl_c_mid_embedded_seed_removes_the_cluster() {
    let tmp = TempDir::new("seed-sigint");
    interrupt_seed(
        Command::new(common::bin())
            .args(["seed", "--scale", "small"])
            .env(cluster::TMPDIR_ENV, tmp.path()),
        "seed: User done",
    );
    let base = tmp.join(format!("helpdesk-bench-{}", nix::unistd::geteuid()));
    let left: Vec<_> = std::fs::read_dir(&base)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}
