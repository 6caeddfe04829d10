//! Every user mistake gets one `error:` line naming the next step and a
//! non-zero exit, never a panic, and never a password.

pub mod common;

use common::{run, stderr, TestDb};
use helpdesk_bench::cluster;

/// Asserts a failed run printed exactly one `error:` line containing `want`.
fn assert_one_line_error(out: &std::process::Output, want: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "succeeded: {err}");
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(want), "expected {want:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn malformed_url() {
    let out = run(&["migrate", "status", "--url", "postgres://me@db:notaport/x"]);
    assert_one_line_error(&out, "invalid connection string");
    assert!(stderr(&out).contains("postgres://user@host:5432/db"));
}

#[test]
fn unreachable_host() {
    let out = run(&[
        "migrate",
        "status",
        "--url",
        "postgres://me:hunter2@127.0.0.1:1/x",
    ]);
    assert_one_line_error(&out, "could not connect to me@127.0.0.1:1/x");
    assert!(stderr(&out).contains("check that PostgreSQL is running"));
    assert!(!stderr(&out).contains("hunter2"));
}

/// Puts `line` first in the shared cluster's `pg_hba.conf` (once), one
/// test at a time: the file is read, changed and written whole.
fn add_hba_line(line: &str) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let hba = cluster::shared().unwrap().data_dir().join("pg_hba.conf");
    let text = std::fs::read_to_string(&hba).unwrap();
    if !text.lines().any(|l| l == line) {
        std::fs::write(&hba, format!("{line}\n{text}")).unwrap();
    }
}

#[tokio::test]
async fn wrong_credentials() {
    // The embedded cluster trusts local users; require a password for one role.
    let c = cluster::shared().unwrap();
    add_hba_line("local all pw_user scram-sha-256");
    let admin = cluster::resolve(None).unwrap().connect().await.unwrap();
    admin
        .batch_execute(
            "DO $$ BEGIN CREATE ROLE pw_user LOGIN PASSWORD 'right-one';
             EXCEPTION WHEN duplicate_object THEN NULL; END $$; SELECT pg_reload_conf()",
        )
        .await
        .unwrap();
    let url = format!(
        "host={} port={} user=pw_user password=wrong-one dbname=postgres",
        c.socket_dir().display(),
        cluster::PORT
    );
    let out = run(&["migrate", "status", "--url", &url]);
    assert_one_line_error(&out, "authentication failed for user \"pw_user\"");
    assert!(!stderr(&out).contains("wrong-one"));
}

/// A login a `pg_hba.conf` rule refuses (SQLSTATE 28000, the code a wrong
/// password shares) is shown with the server's own reason, not as a
/// wrong password.
#[tokio::test]
async fn a_pg_hba_refusal_keeps_the_servers_reason() {
    let c = cluster::shared().unwrap();
    add_hba_line("local all hba_refused reject");
    let admin = cluster::resolve(None).unwrap().connect().await.unwrap();
    admin
        .batch_execute(
            "DO $$ BEGIN CREATE ROLE hba_refused LOGIN;
             EXCEPTION WHEN duplicate_object THEN NULL; END $$; SELECT pg_reload_conf()",
        )
        .await
        .unwrap();
    let url = format!(
        "host={} port={} user=hba_refused dbname=postgres sslmode=disable",
        c.socket_dir().display(),
        cluster::PORT
    );
    let out = run(&["migrate", "status", "--url", &url]);
    assert_one_line_error(
        &out,
        "pg_hba.conf rejects connection for host \"[local]\", user \"hba_refused\"",
    );
    assert!(
        !stderr(&out).contains("check the user name and password"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_database() {
    let c = cluster::shared().unwrap();
    let out = run(&["migrate", "status", "--url", &c.url("no_such_db")]);
    assert_one_line_error(&out, "database \"no_such_db\" does not exist");
    assert!(stderr(&out).contains("createdb no_such_db"));
}

#[tokio::test]
async fn up_when_applied_and_down_when_not() {
    let db = TestDb::new("twice").await;
    let url = db.url();
    let base = run(&["migrate", "base", "--url", &url]);
    assert!(base.status.success(), "{}", stderr(&base));

    let down = run(&["migrate", "down", "--url", &url]);
    assert_one_line_error(
        &down,
        "is not applied; run `helpdesk-bench migrate up` first",
    );

    let up = run(&["migrate", "up", "--url", &url]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(common::stdout(&up).contains("CREATE INDEX \"Message_createdAt_idx\""));

    let again = run(&["migrate", "up", "--url", &url]);
    assert_one_line_error(
        &again,
        "is already applied; run `helpdesk-bench migrate down`",
    );

    let status = run(&["migrate", "status", "--url", &url]);
    let text = common::stdout(&status);
    // 2 enums, 5 columns, 7 indexes, 1 foreign key, 1 column comment.
    assert!(text.starts_with("012 (all 16 objects present)"), "{text}");
}

#[tokio::test]
async fn base_schema_missing() {
    let db = TestDb::new("nobase").await;
    let out = run(&["migrate", "up", "--url", &db.url()]);
    assert_one_line_error(&out, "the base schema is missing");
    assert!(stderr(&out).contains("helpdesk-bench migrate base"));
}

/// `--data synth` and `--sample` shape a copy of the user's database: where
/// there is none (embedded, or the help-desk chain, which the tool seeds),
/// they are refused before anything is seeded, not ignored.
#[test]
fn synth_and_sample_without_a_copy_of_your_database_are_refused() {
    let t0 = std::time::Instant::now();
    for args in [
        &["advise", "--data", "synth"][..],
        &["rehearse", "--sample", "0.1"],
    ] {
        let out = run(args);
        assert_one_line_error(&out, "made only with --url and a migration of your own");
    }
    assert!(t0.elapsed().as_secs() < 20, "refused before seeding");
}

#[test]
fn migrate_without_a_url() {
    let out = run(&["migrate", "status"]);
    assert_one_line_error(&out, "pass --url or set DATABASE_URL");
}

#[test]
fn no_server_binaries() {
    let out = std::process::Command::new(common::bin())
        .arg("verify")
        .env_remove(cluster::URL_ENV)
        .env(cluster::PG_BIN_ENV, "/nonexistent/pg/bin")
        .output()
        .unwrap();
    assert_one_line_error(&out, "no PostgreSQL server binaries found");
    assert!(stderr(&out).contains("install the `postgresql` package or set DATABASE_URL"));
}

#[test]
fn migration_file_without_indexes() {
    let dir = common::TempDir::new("noidx");
    let file = dir.join("013_nothing.sql");
    std::fs::write(&file, "ALTER TABLE \"User\" ADD COLUMN x int;").unwrap();
    let c = cluster::shared().unwrap();
    let out = run(&[
        "migrate",
        "status",
        "--url",
        &c.url("postgres"),
        "--migration",
        file.to_str().unwrap(),
    ]);
    assert_one_line_error(&out, "no CREATE INDEX statement found (nor DROP INDEX)");
}

#[test]
fn connection_string_errors_keep_the_reason() {
    let cases = [
        (
            "postgres://me@db/x?sslmode=bogus",
            "invalid value for option `sslmode`; use sslmode=disable, prefer or require",
        ),
        (
            "postgres://me@db/x?sslmode=verify-full",
            "sslmode=verify-full is not supported by helpdesk-bench; use sslmode=disable, prefer or require",
        ),
        (
            "postgres://me@db/x?frobnicate=1",
            "unknown option `frobnicate`; remove it or correct its spelling",
        ),
        ("postgres://me@db:notaport/x", "invalid value for option `port`"),
    ];
    for (url, want) in cases {
        let out = run(&["migrate", "status", "--url", url]);
        assert_one_line_error(&out, want);
        let err = stderr(&out);
        assert_eq!(err.matches("invalid connection string").count(), 1, "{err}");
    }
}

#[test]
fn nothing_from_a_malformed_password_is_printed() {
    for url in [
        // An unencoded `@`: libpq and tokio-postgres take `Leak9Tail` as host.
        "postgres://bench:Xy@Leak9Tail@127.0.0.1:1/db",
        "postgresql://bench:Xy/Leak9Tail@host@127.0.0.1:1/db",
        // `:` and `/` in the password, one `@`: parsed, and not echoed.
        "postgres://bench:Xy:Leak9/Tail@127.0.0.1:1/db",
        "host=127.0.0.1 port=1 password=XyLeak9Tail frobnicate=1",
        "host=127.0.0.1 password=Xy Leak9Tail=1",
        "postgres://u:XyLeak9Tail@[bad",
        "postgress://u:Xy=Leak9Tail@127.0.0.1:1/db",
    ] {
        let out = run(&["migrate", "status", "--url", url]);
        let (err, text) = (stderr(&out), common::stdout(&out));
        assert_eq!(out.status.code(), Some(2), "{url}: {err}");
        assert_eq!(err.lines().count(), 1, "{url}: not one line: {err}");
        for secret in ["Leak9", "Tail", "Xy"] {
            assert!(!err.contains(secret), "{url}: {err}");
            assert!(!text.contains(secret), "{url}: {text}");
        }
    }
    let out = run(&[
        "migrate",
        "status",
        "--url",
        "postgres://bench:Xy@Leak9Tail@host/db",
    ]);
    assert_one_line_error(
        &out,
        "percent-encode each `@` in the user name or password as `%40`",
    );
}

/// Writes a one-query catalogue into a fresh directory (removed when the
/// returned guard drops) and returns both.
fn catalogue_file(
    tag: &str,
    name: &str,
    expect_index: &str,
) -> (common::TempDir, std::path::PathBuf) {
    let dir = common::TempDir::new(&format!("cat-{tag}"));
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        format!(
            "[[query]]\nname = '{name}'\nscreen = 'queue'\nsql = 'SELECT 1'\n\
             expect_index = '{expect_index}'\n"
        ),
    )
    .unwrap();
    (dir, file)
}

#[test]
fn catalogue_expecting_an_index_the_migration_lacks() {
    let (_dir, file) = catalogue_file("idx", "human_queue", "Conversation_statsu_idx");
    let out = run(&["explain", "--catalogue", file.to_str().unwrap()]);
    assert_one_line_error(
        &out,
        concat!(
            "query human_queue expects index \"Conversation_statsu_idx\", ",
            "which migration 012_help_desk_schema_updates does not create"
        ),
    );
    assert!(stderr(&out)
        .contains("its indexes are Conversation_status_idx, Conversation_assignedTo_idx"));
}

#[test]
fn catalogue_query_name_criterion_cannot_use() {
    let (_dir, file) = catalogue_file("name", "human queue/open", "Conversation_status_idx");
    let out = run(&["explain", "--catalogue", file.to_str().unwrap()]);
    assert_one_line_error(&out, "query name \"human queue/open\" holds ' '");
    assert!(stderr(&out).contains("use only ASCII letters, digits, '_' and '-'"));
    let long = "q".repeat(70);
    let (_dir, file) = catalogue_file("long", &long, "Conversation_status_idx");
    let out = run(&["explain", "--catalogue", file.to_str().unwrap()]);
    assert_one_line_error(&out, "is 70 characters long; shorten it to 64 or fewer");
}

/// A catalogue of one query in `dir`, with SQL `sql`.
fn one_query_catalogue(dir: &common::TempDir, sql: &str) -> std::path::PathBuf {
    let file = dir.join("one.toml");
    std::fs::write(
        &file,
        format!("[[query]]\nname = 'q'\nscreen = 'inbox'\nsql = '''{sql}'''\n"),
    )
    .unwrap();
    file
}

/// A typo in a table name is the catalogue's error, not "not runnable
/// here": nothing is explained, and the run fails.
#[tokio::test]
async fn a_query_naming_a_table_nothing_creates_is_a_catalogue_error() {
    let db = TestDb::new("nosuch").await;
    let base = run(&["migrate", "base", "--url", &db.url()]);
    assert!(base.status.success(), "{}", stderr(&base));
    let dir = common::TempDir::new("nosuch");
    let file = one_query_catalogue(&dir, "SELECT * FROM nosuch_table");
    let out = run(&[
        "--quiet",
        "explain",
        "--url",
        &db.url(),
        "--catalogue",
        file.to_str().unwrap(),
        "--out",
        dir.join("plans").to_str().unwrap(),
    ]);
    assert_one_line_error(
        &out,
        "query q of the catalogue cannot run here: relation \"nosuch_table\" does not exist",
    );
    assert!(
        stderr(&out).contains("fix the query's SQL"),
        "{}",
        stderr(&out)
    );
}

/// A query that needs the migration's column is "not runnable before the
/// migration"; when it is the only one, nothing is explained, and that
/// fails too.
#[tokio::test]
async fn a_run_that_explained_nothing_fails() {
    let db = TestDb::new("nothing").await;
    let base = run(&["migrate", "base", "--url", &db.url()]);
    assert!(base.status.success(), "{}", stderr(&base));
    let dir = common::TempDir::new("nothing");
    let file = one_query_catalogue(
        &dir,
        "SELECT id FROM \"Conversation\" WHERE status = 'RESOLVED'",
    );
    let out = run(&[
        "explain",
        "--url",
        &db.url(),
        "--catalogue",
        file.to_str().unwrap(),
        "--out",
        dir.join("plans").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("q: not runnable here: column \"status\" does not exist"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("explain measured nothing"),
        "{}",
        stderr(&out)
    );
}

/// An index the search path does not find (its table in another schema)
/// has no size: an error naming it, never a panic on the NULL.
#[tokio::test]
async fn sizing_a_relation_outside_the_search_path_is_an_error_not_a_panic() {
    let db = TestDb::new("elsewhere").await;
    let c = db.endpoint.connect().await.unwrap();
    c.batch_execute("CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.t (a int); CREATE INDEX t_a_idx ON elsewhere.t (a)")
        .await
        .unwrap();
    let err = helpdesk_bench::measure::relation_size(&c, "t_a_idx")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("relation \"t_a_idx\" was not found on the search path"),
        "{err}"
    );
}
