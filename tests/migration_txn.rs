//! `migrate up --migration FILE` with files that carry their own transaction
//! control, against a real PostgreSQL: what the tool says it applied is what
//! the catalog holds, and online (`CONCURRENTLY`) migrations run.

pub mod common;

use std::path::PathBuf;

use common::{run, stderr, stdout, TestDb};
use helpdesk_bench::schema::{self, Catalog};

/// A database at the base schema, its catalog, and a connection to it.
async fn base_db(prefix: &str) -> (TestDb, tokio_postgres::Client, Catalog) {
    let db = TestDb::new(prefix).await;
    let mut client = db.endpoint.connect().await.unwrap();
    schema::create_base(&mut client).await.unwrap();
    let before = Catalog::snapshot(&client).await.unwrap();
    (db, client, before)
}

/// A migration file in a directory of its own, removed on drop.
struct MigrationFile(PathBuf);

impl MigrationFile {
    fn to_str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for MigrationFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Writes `sql` as migration `name`.
fn migration_file(name: &str, sql: &str) -> MigrationFile {
    let dir = std::env::temp_dir().join(format!("hb-txn-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.sql"));
    std::fs::write(&file, sql).unwrap();
    MigrationFile(file)
}

/// `helpdesk-bench migrate up --url URL --migration FILE`.
fn migrate_up(db: &TestDb, file: &MigrationFile) -> std::process::Output {
    let url = db.url();
    run(&["migrate", "up", "--url", &url, "--migration", file.to_str()])
}

const COMMIT_MID_FILE: &str = r#"-- 013: two steps; the word COMMIT here is a comment.
BEGIN;
ALTER TABLE "Conversation" ADD COLUMN "priority" integer NOT NULL DEFAULT 0;
CREATE INDEX "Conversation_priority_idx" ON "Conversation" ("priority");
COMMIT;
CREATE INDEX "Message_createdAt_idx" ON "Message" ("createdAt");
BEGIN;
ALTER TABLE "User" ADD COLUMN "nickname" text;
COMMENT ON COLUMN "User"."nickname" IS 'set on COMMIT; shown in chat';
CREATE INDEX "User_nickname_idx" ON "User" ("no_such_column");
COMMIT;
CREATE INDEX "Message_role_idx" ON "Message" ("role");
"#;

#[tokio::test]
async fn a_failure_after_a_commit_names_what_stays_applied() {
    let (db, client, before) = base_db("txn_commit").await;
    let file = migration_file("013_commit_mid_file", COMMIT_MID_FILE);

    let out = migrate_up(&db, &file);
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("failed at statement 9 (line 10: CREATE INDEX \"User_nickname_idx\""),
        "{err}"
    );
    assert!(err.contains("\"no_such_column\" does not exist"), "{err}");
    assert!(
        err.contains("statements 1–5 (lines 2–6) were committed and stay applied"),
        "{err}"
    );
    assert!(
        err.contains("statements 6–8 (lines 7–9) were rolled back with the failed transaction"),
        "{err}"
    );
    assert!(
        err.contains("statements 10–11 (lines 11–12) were not run"),
        "{err}"
    );
    assert!(err.contains("helpdesk-bench migrate status"), "{err}");
    assert!(!err.contains("nothing was changed"), "{err}");

    // Exactly the committed statements' objects: the column and two indexes.
    let after = Catalog::snapshot(&client).await.unwrap();
    assert_eq!(
        before.diff(&after),
        [
            r#"+ column "Conversation".priority #7 integer NOT NULL DEFAULT 0"#,
            r#"+ index CREATE INDEX "Conversation_priority_idx" ON public."Conversation" USING btree (priority)"#,
            r#"+ index CREATE INDEX "Message_createdAt_idx" ON public."Message" USING btree ("createdAt")"#,
            r#"+ relation i "Conversation_priority_idx""#,
            r#"+ relation i "Message_createdAt_idx""#,
        ]
    );
}

#[tokio::test]
async fn a_plain_file_failing_midway_changes_nothing() {
    let (db, client, before) = base_db("txn_plain").await;
    let file = migration_file(
        "013_plain",
        r#"ALTER TABLE "Conversation" ADD COLUMN "priority" integer NOT NULL DEFAULT 0;
CREATE INDEX "Conversation_priority_idx" ON "Conversation" ("priority");
CREATE INDEX "User_nickname_idx" ON "User" ("no_such_column");
CREATE INDEX "Message_role_idx" ON "Message" ("role");
"#,
    );

    let out = migrate_up(&db, &file);
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("failed at statement 3 (line 3: "), "{err}");
    assert!(err.trim_end().ends_with("; nothing was changed"), "{err}");
    let after = Catalog::snapshot(&client).await.unwrap();
    assert_eq!(before.diff(&after), Vec::<String>::new());
}

const ONLINE: &str = r#"-- 013 online: a short locked step, then indexes built without blocking writes.
BEGIN;
SET LOCAL lock_timeout = '5s';
ALTER TABLE "Conversation" ADD COLUMN "priority" integer;
ALTER TABLE "Message" ADD COLUMN "flagged" boolean NOT NULL DEFAULT false;
COMMIT;

CREATE INDEX CONCURRENTLY "Conversation_priority_idx" ON "Conversation" ("priority");
CREATE INDEX CONCURRENTLY "Message_flagged_idx" ON "Message" ("flagged", "createdAt");
"#;

#[tokio::test]
async fn an_online_migration_with_concurrent_indexes_applies() {
    let (db, client, _) = base_db("txn_online").await;
    let file = migration_file("013_online", ONLINE);

    let out = migrate_up(&db, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("(7 statements, 1 transaction and 2 statements on their own"),
        "{text}"
    );
    assert!(text.contains("CREATE INDEX CONCURRENTLY \"Message_flagged_idx\""));

    let rows = client
        .query(
            "SELECT c.relname::text, i.indisvalid, i.indisready FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
              WHERE c.relname IN ('Conversation_priority_idx', 'Message_flagged_idx')
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, bool, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        [
            ("Conversation_priority_idx".to_string(), true, true),
            ("Message_flagged_idx".to_string(), true, true),
        ]
    );

    let url = db.url();
    let status = run(&[
        "migrate",
        "status",
        "--url",
        &url,
        "--migration",
        file.to_str(),
    ]);
    assert!(
        stdout(&status).starts_with("013 (all 4 objects present)"),
        "{}",
        stdout(&status)
    );
}

#[tokio::test]
async fn concurrently_inside_a_transaction_is_refused_before_anything_runs() {
    let (db, client, before) = base_db("txn_refused").await;
    let file = migration_file(
        "013_refused",
        r#"ALTER TABLE "Conversation" ADD COLUMN "priority" integer;
BEGIN;
CREATE INDEX CONCURRENTLY "Conversation_priority_idx" ON "Conversation" ("priority");
COMMIT;
"#,
    );

    let out = migrate_up(&db, &file);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("statement 3 (line 3: CREATE INDEX CONCURRENTLY"),
        "{err}"
    );
    assert!(err.contains("move it after that block's COMMIT"), "{err}");
    let after = Catalog::snapshot(&client).await.unwrap();
    assert_eq!(before.diff(&after), Vec::<String>::new());
}

#[tokio::test]
async fn a_failed_concurrent_index_is_reported_as_left_behind_invalid() {
    let (db, client, _) = base_db("txn_invalid").await;
    client
        .batch_execute(
            r#"INSERT INTO "User" ("id", "email", "name", "updatedAt") VALUES
                 ('u1', 'a@x', 'Sam', now()), ('u2', 'b@x', 'Sam', now())"#,
        )
        .await
        .unwrap();
    let file = migration_file(
        "013_invalid",
        r#"CREATE INDEX CONCURRENTLY "User_createdAt_idx" ON "User" ("createdAt");
CREATE UNIQUE INDEX CONCURRENTLY "User_name_key" ON "User" ("name");
"#,
    );

    let out = migrate_up(&db, &file);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("could not create unique index"), "{err}");
    assert!(
        err.contains("statement 1 (line 1) was committed and stays applied"),
        "{err}"
    );
    assert!(
        err.contains("it left index User_name_key behind marked INVALID"),
        "{err}"
    );
    let valid: Vec<(String, bool)> = client
        .query(
            "SELECT c.relname::text, i.indisvalid FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
              WHERE c.relname IN ('User_createdAt_idx', 'User_name_key') ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        valid,
        [
            ("User_createdAt_idx".to_string(), true),
            ("User_name_key".to_string(), false),
        ]
    );
}
