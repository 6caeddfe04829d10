//! The online variant of a migration (`schema::online_sql`, written as
//! `online_migration.sql`) gives exactly the schema of the migration as
//! written, and can be run again: both are applied to base-schema databases
//! holding seeded rows and their `pg_dump --schema-only` output compared,
//! after a second run (which keeps every index: same OIDs) and after a run
//! cancelled during its second index build (which leaves an INVALID index
//! that the rerun replaces). Each runs once with psql, as a team would, and
//! once through the tool's own runner (`schema::apply`), as `rehearse` does.
//! A `DROP INDEX a, b` goes online as two concurrent drops.

pub mod common;

use std::future::Future;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{fixture, psql_file, schema_dump, seed_config, seeded, stderr, TempDir, TestDb};
use helpdesk_bench::schema::{self, online_sql, Migration, SqlFile};
use helpdesk_bench::seed::{Scale, Shape};
use tokio::sync::OnceCell;
use tokio_postgres::Client;

/// The first two indexes 012 builds, both on "Conversation".
const FIRST: &str = "Conversation_status_idx";
const SECOND: &str = "Conversation_assignedTo_idx";

/// A database with the base schema and tiny seeded rows.
async fn base_db(prefix: &str) -> TestDb {
    let mut cfg = seed_config(Scale::Tiny.counts(), 2);
    cfg.shape = Some(Shape::Base);
    seeded(prefix, &cfg).await
}

/// `pg_dump --schema-only` of a base database after 012 as written, made
/// once per test process.
async fn written_dump() -> &'static str {
    static DUMP: OnceCell<String> = OnceCell::const_new();
    DUMP.get_or_init(|| async {
        let db = base_db("online_written").await;
        let file = fixture("migrations/012_help_desk_schema_updates.sql");
        let out = psql_file(&db.url(), &file, true);
        assert!(out.status.success(), "{}", stderr(&out));
        let dump = schema_dump(&db.url());
        assert!(
            dump.contains("Conversation_assignedTo_fkey") && dump.contains("Message_createdAt_idx")
        );
        dump
    })
    .await
}

/// 012's online variant in a file, for psql.
fn online_file(dir: &TempDir) -> std::path::PathBuf {
    let file = dir.join("online_migration.sql");
    std::fs::write(&file, online_sql(&Migration::builtin().unwrap())).unwrap();
    file
}

/// Applies 012's online variant through the tool's runner, as `rehearse` does.
async fn apply_with_tool(client: &mut Client) -> helpdesk_bench::Result<schema::Applied> {
    let file = SqlFile::new(
        "online_migration.sql",
        online_sql(&Migration::builtin().unwrap()),
    );
    schema::apply(client, "012 (online)", &file).await
}

/// Every index in `public`: name, OID and validity.
async fn indexes(c: &Client) -> Vec<(String, u32, bool)> {
    c.query(
        "SELECT c.relname::text, c.oid, i.indisvalid FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid
          WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

fn find<'a>(ix: &'a [(String, u32, bool)], name: &str) -> Option<&'a (String, u32, bool)> {
    ix.iter().find(|i| i.0 == name)
}

#[tokio::test]
async fn psql_runs_the_online_variant_twice_and_the_second_run_keeps_every_index() {
    let db = base_db("online_psql_rerun").await;
    let dir = TempDir::new("online-psql-rerun");
    let file = online_file(&dir);
    let c = db.endpoint.connect().await.unwrap();

    let out = psql_file(&db.url(), &file, true);
    assert!(out.status.success(), "{}", stderr(&out));
    let after_first = indexes(&c).await;
    assert_eq!(
        schema_dump(&db.url()),
        written_dump().await,
        "the online variant's schema differs from the migration's"
    );

    let again = psql_file(&db.url(), &file, true);
    assert!(
        again.status.success(),
        "a second run failed: {}",
        stderr(&again)
    );
    assert_eq!(
        indexes(&c).await,
        after_first,
        "a second run rebuilt an index"
    );
    assert_eq!(schema_dump(&db.url()), written_dump().await);
}

#[tokio::test]
async fn the_tool_runs_the_online_variant_twice_and_the_second_run_keeps_every_index() {
    let db = base_db("online_tool_rerun").await;
    let mut c = db.endpoint.connect().await.unwrap();

    apply_with_tool(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after_first = indexes(&c).await;
    let m = Migration::builtin().unwrap();
    assert!(m
        .indexes()
        .iter()
        .all(|x| find(&after_first, &x.name).is_some_and(|i| i.2)));
    assert_eq!(
        schema_dump(&db.url()),
        written_dump().await,
        "the online variant's schema differs from the migration's"
    );

    let applied = apply_with_tool(&mut c)
        .await
        .unwrap_or_else(|e| panic!("a second run failed: {e}"));
    assert_eq!(
        indexes(&c).await,
        after_first,
        "a second run rebuilt an index"
    );
    assert_eq!(schema_dump(&db.url()), written_dump().await);
    // Each `\gexec` query is one timed statement, as psql runs it.
    let gexec = applied
        .statements
        .iter()
        .filter(|s| {
            s.statement
                .starts_with("SELECT format('DROP INDEX CONCURRENTLY")
        })
        .count();
    assert_eq!(gexec, 7);
}

/// Runs `run` (one run of 012's online variant on `db`) and cancels its
/// backend while the run's second index build waits. A session holding an
/// old snapshot holds up the first build's last phase; a second snapshot,
/// taken while the first build already waits (so it does not wait for it),
/// replaces it, and the second build waits for that one until cancelled.
/// Returns what `run` returned.
async fn cancel_second_build<T>(db: &TestDb, run: impl Future<Output = T> + Send + 'static) -> T
where
    T: Send + 'static,
{
    let watch = db.endpoint.connect().await.unwrap();
    let snapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1";
    let old = db.endpoint.connect().await.unwrap();
    old.batch_execute(snapshot).await.unwrap();
    let run = tokio::spawn(run);

    waiting_build(&watch, FIRST).await;
    let newer = db.endpoint.connect().await.unwrap();
    newer.batch_execute(snapshot).await.unwrap();
    old.batch_execute("ROLLBACK").await.unwrap();

    let pid = waiting_build(&watch, SECOND).await;
    let cancelled: bool = watch
        .query_one("SELECT pg_cancel_backend($1)", &[&pid])
        .await
        .unwrap()
        .get(0);
    assert!(cancelled);
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run ended after the cancel")
        .unwrap();
    newer.batch_execute("ROLLBACK").await.unwrap();
    out
}

/// The pid of the backend whose `CREATE INDEX CONCURRENTLY` of `index`
/// waits on another transaction, once it does.
async fn waiting_build(watch: &Client, index: &str) -> i32 {
    let started = Instant::now();
    let pattern = format!("%CREATE INDEX CONCURRENTLY %\"{index}\" ON%");
    loop {
        let row = watch
            .query_opt(
                "SELECT pid FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event = 'virtualxid'
                    AND query LIKE $1",
                &[&pattern],
            )
            .await
            .unwrap();
        if let Some(r) = row {
            return r.get(0);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the build of {index} never waited on the open snapshot"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// After a run stopped during the second build: the first index is valid,
/// the second INVALID, the others absent. Returns both indexes' OIDs.
async fn stopped_during_second_build(c: &Client) -> (u32, u32) {
    let ix = indexes(c).await;
    let first = find(&ix, FIRST).expect("the first build finished");
    let second = find(&ix, SECOND).expect("the second build left its index");
    assert!(first.2, "the first index is valid");
    assert!(!second.2, "the cancelled build left an INVALID index");
    assert!(find(&ix, "Message_createdAt_idx").is_none());
    (first.1, second.1)
}

/// After the rerun: the first index kept (same OID), the INVALID one built
/// again, and the schema of 012 as written.
async fn completed_by_rerun(db: &TestDb, c: &Client, (first, second): (u32, u32)) {
    let ix = indexes(c).await;
    assert_eq!(
        find(&ix, FIRST).map(|i| i.1),
        Some(first),
        "the rerun rebuilt a valid index"
    );
    let rebuilt = find(&ix, SECOND).unwrap();
    assert!(rebuilt.2 && rebuilt.1 != second, "{rebuilt:?}");
    assert!(ix.iter().all(|i| i.2), "{ix:?}");
    assert_eq!(schema_dump(&db.url()), written_dump().await);
}

#[tokio::test]
async fn psql_reruns_a_run_cancelled_during_the_second_build() {
    let db = base_db("online_psql_cancel").await;
    let dir = TempDir::new("online-psql-cancel");
    let file = online_file(&dir);
    let c = db.endpoint.connect().await.unwrap();

    let (url, f) = (db.url(), file.clone());
    let run = async move {
        tokio::task::spawn_blocking(move || psql_file(&url, &f, true))
            .await
            .unwrap()
    };
    let out: Output = cancel_second_build(&db, run).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("canceling statement due to user request"),
        "{}",
        stderr(&out)
    );
    let oids = stopped_during_second_build(&c).await;

    let again = psql_file(&db.url(), &file, true);
    assert!(
        again.status.success(),
        "the rerun failed: {}",
        stderr(&again)
    );
    completed_by_rerun(&db, &c, oids).await;
}

#[tokio::test]
async fn the_tool_reruns_a_run_cancelled_during_the_second_build() {
    let db = base_db("online_tool_cancel").await;
    let c = db.endpoint.connect().await.unwrap();

    let mut runner = db.endpoint.connect().await.unwrap();
    let run = async move { apply_with_tool(&mut runner).await.map(|_| ()) };
    let err = cancel_second_build(&db, run).await.unwrap_err().to_string();
    assert!(
        err.contains("canceling statement due to user request"),
        "{err}"
    );
    assert!(
        err.contains(&format!("left index {SECOND} behind marked INVALID")),
        "{err}"
    );
    let oids = stopped_during_second_build(&c).await;

    let mut runner = db.endpoint.connect().await.unwrap();
    apply_with_tool(&mut runner)
        .await
        .unwrap_or_else(|e| panic!("the rerun failed: {e}"));
    completed_by_rerun(&db, &c, oids).await;
}

#[tokio::test]
async fn a_list_of_dropped_indexes_goes_online_as_one_concurrent_drop_each() {
    let dir = TempDir::new("online-drop-list");
    let path = dir.join("020_drop_two.sql");
    std::fs::write(&path, "DROP INDEX \"Message_a_idx\", message_b_idx;\n").unwrap();
    let sql = online_sql(&Migration::from_path(&path).unwrap());
    assert!(
        sql.contains(
            "DROP INDEX CONCURRENTLY IF EXISTS \"Message_a_idx\";\n\
             DROP INDEX CONCURRENTLY IF EXISTS \"message_b_idx\";\n"
        ),
        "{sql}"
    );
    let file = dir.join("online_migration.sql");
    std::fs::write(&file, &sql).unwrap();

    let db = TestDb::new("online_drop_list").await;
    let mut c = db.endpoint.connect().await.unwrap();
    let make = "CREATE TABLE IF NOT EXISTS m (a int, b int);
                CREATE INDEX \"Message_a_idx\" ON m (a); CREATE INDEX message_b_idx ON m (b)";
    for with_psql in [true, false] {
        c.batch_execute(make).await.unwrap();
        assert_eq!(indexes(&c).await.len(), 2);
        if with_psql {
            let out = psql_file(&db.url(), &file, true);
            assert!(out.status.success(), "{}", stderr(&out));
        } else {
            schema::apply(
                &mut c,
                "020 (online)",
                &SqlFile::read(Path::new(&file)).unwrap(),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(
            indexes(&c).await,
            [],
            "both indexes dropped (psql: {with_psql})"
        );
    }
}
