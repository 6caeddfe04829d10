//! Migration 012 against a real PostgreSQL: the spec's checks through the
//! Rust API, the psql-file round trip, atomicity, and `migrate status`.

pub mod common;

use common::{checksums, fixture, psql_file, run, schema_dump, stderr, stdout, TestDb};
use helpdesk_bench::schema::{self, verify, Catalog, Migration, MigrationChain, State};
use helpdesk_bench::Error;

#[tokio::test]
async fn verify_passes_every_spec_check() {
    let db = TestDb::new("verify").await;
    let mut client = db.endpoint.connect().await.unwrap();
    let checks = verify::fresh(&mut client, &MigrationChain::builtin().unwrap())
        .await
        .unwrap();
    for c in &checks {
        assert!(c.passed, "{c}");
    }
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    // The generic round trip and the spec's checks, as `verify` prints them.
    assert_eq!(checks.len(), 14, "{names:?}");
    for expected in [
        "012_help_desk_schema_updates applies",
        "012_help_desk_schema_updates refuses to run twice",
        "rollback refuses to run when 012 is not applied",
        "existing User rows have role 'user'",
        "existing Conversation rows have status 'AI_HANDLING'",
        "new conversations can be created with help-desk fields",
        "7 indexes exist with the migration's names and columns",
        "role-based queries work",
        "column comment updated",
        "rollback restores the pre-012 catalog",
        "pre-existing rows unchanged after rollback",
    ] {
        assert!(
            names.contains(&expected),
            "missing check {expected}: {names:?}"
        );
    }
    let existing = checks
        .iter()
        .find(|c| c.name.contains("User rows"))
        .unwrap();
    assert_eq!(existing.detail, "50 of 50");
}

#[tokio::test]
async fn psql_files_round_trip_to_an_identical_schema_dump() {
    let db = TestDb::new("psql").await;
    let url = db.url();
    let ok = |o: std::process::Output| assert!(o.status.success(), "{}", stderr(&o));
    ok(psql_file(&url, &fixture("schema/base.sql"), true));
    ok(psql_file(&url, &fixture("verify/preexisting.sql"), true));
    let before = schema_dump(&url);
    let rows_before = checksums(&db.endpoint).await;
    assert_eq!(rows_before.iter().map(|r| r.0).sum::<i64>(), 1250);

    ok(psql_file(
        &url,
        &fixture("migrations/012_help_desk_schema_updates.sql"),
        true,
    ));
    let applied = schema_dump(&url);
    assert!(
        applied.contains("type \"UserRole\" e 'user','staff','admin'"),
        "{applied}"
    );
    assert!(applied.contains("CREATE INDEX \"Conversation_status_assignedTo_idx\""));
    assert!(applied.contains("comment on table column public.\"Message\".role"));

    let again = psql_file(
        &url,
        &fixture("migrations/012_help_desk_schema_updates.sql"),
        true,
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already applied"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        schema_dump(&url),
        applied,
        "a refused second run changed the schema"
    );

    ok(psql_file(
        &url,
        &fixture("migrations/012_help_desk_schema_updates_rollback.sql"),
        true,
    ));
    assert_eq!(
        schema_dump(&url),
        before,
        "rollback did not restore the schema"
    );
    let rows_after = checksums(&db.endpoint).await;
    assert_eq!(rows_after, rows_before);

    let twice = psql_file(
        &url,
        &fixture("migrations/012_help_desk_schema_updates_rollback.sql"),
        true,
    );
    assert!(stderr(&twice).contains("not applied"), "{}", stderr(&twice));
}

#[tokio::test]
async fn a_conflicting_object_makes_012_fail_with_nothing_changed() {
    let db = TestDb::new("atomic").await;
    let mut client = db.endpoint.connect().await.unwrap();
    schema::create_base(&mut client).await.unwrap();
    // Someone already made an index with one of 012's names.
    client
        .batch_execute(r#"CREATE INDEX "Message_role_idx" ON "Message"("content")"#)
        .await
        .unwrap();
    let before = Catalog::snapshot(&client).await.unwrap();
    let m = Migration::builtin().unwrap();

    // `migrate up` sees the name taken and refuses before running anything.
    let err = schema::up(&mut client, &m).await.unwrap_err();
    assert!(matches!(&err, Error::PartlyApplied { .. }), "{err}");
    assert!(err.to_string().contains("index Message_role_idx"), "{err}");
    assert_eq!(
        Catalog::snapshot(&client).await.unwrap().diff(&before),
        Vec::<String>::new()
    );

    // Running the file anyway fails part-way, after the enums and columns.
    let err = schema::apply(&mut client, &m.name, &m.forward)
        .await
        .unwrap_err();
    match &err {
        Error::MigrationFailed { index, detail, .. } => {
            assert!(detail.contains("already exists"), "{err}");
            assert!(*index > 5, "failed before doing anything: {err}");
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().contains("nothing was changed"));
    assert_eq!(
        Catalog::snapshot(&client).await.unwrap().diff(&before),
        Vec::<String>::new()
    );

    // psql, both as the spec's Usage shows it and with ON_ERROR_STOP.
    for stop in [false, true] {
        psql_file(
            &db.url(),
            &fixture("migrations/012_help_desk_schema_updates.sql"),
            stop,
        );
        let after = Catalog::snapshot(&client).await.unwrap();
        assert_eq!(
            after.diff(&before),
            Vec::<String>::new(),
            "ON_ERROR_STOP={stop}"
        );
    }
}

#[tokio::test]
async fn status_tells_base_applied_and_partial() {
    let db = TestDb::new("status").await;
    let mut client = db.endpoint.connect().await.unwrap();
    let m = Migration::builtin().unwrap();

    let empty = schema::status(&client, &m).await.unwrap();
    assert_eq!(empty.state, State::Partial);
    assert_eq!(empty.base_missing.len(), 3);

    schema::create_base(&mut client).await.unwrap();
    let base = schema::status(&client, &m).await.unwrap();
    assert_eq!(base.state, State::Base);
    assert_eq!(base.missing.len(), m.objects.len());

    let applied = schema::up(&mut client, &m).await.unwrap();
    assert_eq!(applied.statements.len(), m.forward.statements.len());
    assert_eq!(
        schema::status(&client, &m).await.unwrap().state,
        State::Applied
    );

    client
        .batch_execute(r#"DROP INDEX "Message_role_idx""#)
        .await
        .unwrap();
    let partial = schema::status(&client, &m).await.unwrap();
    assert_eq!(partial.state, State::Partial);
    assert_eq!(partial.missing, ["index Message_role_idx"]);
    assert!(partial
        .to_string()
        .contains("missing: index Message_role_idx"));
}

#[tokio::test]
async fn read_only_verify_checks_an_applied_database_without_changing_it() {
    let db = TestDb::new("readonly").await;
    let mut client = db.endpoint.connect().await.unwrap();
    let chain = MigrationChain::builtin().unwrap();
    let m = chain.under_test.clone();
    schema::create_base(&mut client).await.unwrap();

    let on_base = verify::read_only(&mut client, &chain).await.unwrap();
    assert!(!on_base[0].passed, "012 reported applied on a base schema");

    schema::up(&mut client, &m).await.unwrap();
    let before = Catalog::snapshot(&client).await.unwrap();
    let checks = verify::read_only(&mut client, &chain).await.unwrap();
    assert!(checks.len() >= 6);
    for c in &checks {
        assert!(c.passed, "{c}");
    }
    assert!(Catalog::snapshot(&client)
        .await
        .unwrap()
        .diff(&before)
        .is_empty());
}

/// Writes a forward and rollback migration pair into a fresh directory and
/// returns the forward file's path.
fn migration_pair(tag: &str, forward: &str, rollback: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hb-verify-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("013_{tag}.sql"));
    std::fs::write(&file, forward).unwrap();
    std::fs::write(dir.join(format!("013_{tag}_rollback.sql")), rollback).unwrap();
    file
}

const GUARD_013: &str = r#"DO $g$ BEGIN
    IF to_regclass('public."Message_tokenCount_idx"') IS NOT NULL THEN
        RAISE EXCEPTION 'migration 013 is already applied';
    END IF; END $g$;"#;

#[test]
fn verify_runs_only_the_generic_round_trip_for_another_migration() {
    let forward = format!(
        "BEGIN;\n{GUARD_013}\nCREATE INDEX \"Message_tokenCount_idx\" ON \"Message\"(\"tokenCount\");\nCOMMIT;\n"
    );
    let rollback = r#"BEGIN;
        DO $g$ BEGIN IF to_regclass('public."Message_tokenCount_idx"') IS NULL THEN
            RAISE EXCEPTION 'migration 013 is not applied'; END IF; END $g$;
        DROP INDEX "Message_tokenCount_idx";
        COMMIT;"#;
    let file = migration_pair("generic", &forward, rollback);
    let out = run(&["verify", "--migration", file.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.contains("013_generic is not 012, so only the generic checks run"),
        "{text}"
    );
    for line in [
        "PASS  base schema loads",
        "PASS  013_generic applies",
        "atomic: a failure at its end changed nothing",
        "PASS  013_generic refuses to run twice",
        "PASS  pre-existing rows unchanged after 013",
        "PASS  rollback restores the pre-013 catalog",
        "PASS  pre-existing rows unchanged after rollback",
        "PASS  rollback refuses to run when 013 is not applied",
    ] {
        assert!(text.contains(line), "missing {line:?} in {text}");
    }
    assert!(!text.contains("role-based queries"), "{text}");
    assert!(text.ends_with("verify: 7 passed, 0 failed\n"), "{text}");
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

/// A migration whose second run succeeds and builds another index (its
/// name computed at run time) fails the check, which reads the catalog
/// around the second run rather than trusting what it prints.
#[test]
fn verify_fails_a_migration_whose_second_run_changes_the_catalog() {
    let forward = r#"BEGIN;
        CREATE INDEX IF NOT EXISTS "Message_tokenCount_idx" ON "Message"("tokenCount");
        DO $d$ BEGIN EXECUTE format('CREATE INDEX %I ON "Message"("createdAt")',
            'Message_run_' || (SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'Message_run_%'));
        END $d$;
        COMMIT;"#;
    let rollback = r#"BEGIN;
        DROP INDEX "Message_tokenCount_idx";
        DO $d$ DECLARE i text; BEGIN
            FOR i IN SELECT indexname FROM pg_indexes WHERE indexname LIKE 'Message_run_%' LOOP
                EXECUTE format('DROP INDEX %I', i);
            END LOOP; END $d$;
        COMMIT;"#;
    let file = migration_pair("rerun", forward, rollback);
    let out = run(&["verify", "--migration", file.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("FAIL  013_rerun refuses to run twice (it ran again; it changed: + index CREATE INDEX \"Message_run_1\""),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

/// An index left for PostgreSQL to name is refused when the migration is
/// read, in one line naming its line: a second run would build a duplicate.
#[test]
fn an_unnamed_create_index_is_refused_with_its_line() {
    let forward = "BEGIN;\nCREATE INDEX ON \"Message\"(\"tokenCount\");\nCOMMIT;\n";
    let file = migration_pair("unnamed", forward, "SELECT 1;");
    let out = run(&["verify", "--migration", file.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("013_unnamed.sql:2") && err.contains("CREATE INDEX without an index name"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

#[tokio::test]
async fn verify_fails_a_migration_that_commits_part_way() {
    let forward = format!(
        "BEGIN;\n{GUARD_013}\nCREATE INDEX \"Message_tokenCount_idx\" ON \"Message\"(\"tokenCount\");\n\
         COMMIT;\nCREATE INDEX \"Message_content_idx\" ON \"Message\"(\"content\");\n"
    );
    let file = migration_pair("halfway", &forward, "SELECT 1;");
    let m = Migration::from_file(&file).unwrap();
    let db = TestDb::new("halfway").await;
    let mut client = db.endpoint.connect().await.unwrap();
    let checks = verify::fresh(
        &mut client,
        &MigrationChain::new(vec![], m.clone()).unwrap(),
    )
    .await
    .unwrap();
    let last = checks.last().unwrap();
    assert_eq!(last.name, "013_halfway applies");
    assert!(!last.passed, "{last}");
    assert!(
        last.detail.contains("a failure at its end left")
            && last.detail.contains("Message_tokenCount_idx"),
        "{last}"
    );
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

#[tokio::test]
async fn verify_needs_a_rollback_file() {
    let dir = std::env::temp_dir().join(format!("hb-verify-norb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("013_norollback.sql");
    std::fs::write(&file, "CREATE INDEX \"m_idx\" ON \"Message\"(\"role\");").unwrap();
    let m = Migration::from_file(&file).unwrap();
    let db = TestDb::new("norollback").await;
    let mut client = db.endpoint.connect().await.unwrap();
    let err = verify::fresh(
        &mut client,
        &MigrationChain::new(vec![], m.clone()).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no rollback file"), "{err}");
    let tables = common::scalar(
        &client,
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace",
    )
    .await;
    assert_eq!(tables, 0, "verify changed the database before refusing");
    let _ = std::fs::remove_dir_all(dir);
}
