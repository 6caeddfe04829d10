//! Migration 012 against a real PostgreSQL: the spec's checks through the
//! Rust API, the psql-file round trip, atomicity, and `migrate status`.

pub mod common;

use common::{checksums, fixture, psql_file, schema_dump, stderr, TestDb};
use helpdesk_bench::schema::{self, verify, Catalog, Migration, State};
use helpdesk_bench::Error;

#[tokio::test]
async fn verify_passes_every_spec_check() {
    let db = TestDb::new("verify").await;
    let mut client = db.endpoint.connect().await.unwrap();
    let checks = verify::fresh(&mut client, &Migration::builtin().unwrap())
        .await
        .unwrap();
    for c in &checks {
        assert!(c.passed, "{c}");
    }
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    for expected in [
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
    assert!(applied.contains("CREATE TYPE public.\"UserRole\" AS ENUM"));
    assert!(applied.contains("CREATE INDEX \"Conversation_status_assignedTo_idx\""));

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
    let m = Migration::builtin().unwrap();
    schema::create_base(&mut client).await.unwrap();

    let on_base = verify::read_only(&mut client, &m).await.unwrap();
    assert!(!on_base[0].passed, "012 reported applied on a base schema");

    schema::up(&mut client, &m).await.unwrap();
    let before = Catalog::snapshot(&client).await.unwrap();
    let checks = verify::read_only(&mut client, &m).await.unwrap();
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
