//! The seeder against a real PostgreSQL at tiny scale: determinism, safety
//! and interruption. The rows' shape is checked in `seed_model.rs`.

pub mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{checksums, run, scalar, seed_config, seeded, seeded_tiny, stderr, TempDir, TestDb};
use helpdesk_bench::cluster::{self, Cluster, Endpoint};
use helpdesk_bench::schema::{self, Migration};
use helpdesk_bench::seed::{self, Reporter, Scale, SeedConfig, Shape, TABLES};
use helpdesk_bench::Error;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

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

/// A database that holds a team's own tables but not the help-desk ones
/// is not empty: the seed refuses, naming what it found, and creates
/// nothing beside them.
#[tokio::test]
async fn refuses_a_database_holding_other_tables() {
    let db = TestDb::new("foreign").await;
    let c = db.endpoint.connect().await.unwrap();
    c.batch_execute(
        "CREATE SCHEMA shop; CREATE TABLE shop.orders (id int PRIMARY KEY); \
         CREATE TYPE public.order_state AS ENUM ('new', 'paid')",
    )
    .await
    .unwrap();
    let out = run(&["seed", "--scale", "tiny", "--url", &db.url()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("holds other tables or types (public.order_state, shop.orders)"),
        "{err}"
    );
    let (found, total) = schema::user_objects(&c, 10).await.unwrap();
    assert_eq!(total, 2, "nothing was created beside them: {found:?}");
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
    assert_eq!(out.status.code(), Some(2));
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
