//! The online variant of a migration (`schema::online_sql`, written as
//! `online_migration.sql`) gives exactly the schema of the migration as
//! written: both are applied with psql to base-schema databases holding
//! seeded rows, and their `pg_dump --schema-only` output compared.

pub mod common;

use common::{fixture, psql_file, schema_dump, seed_config, seeded, stderr, TempDir};
use helpdesk_bench::schema::{online_sql, Migration};
use helpdesk_bench::seed::Scale;

#[tokio::test]
async fn the_online_variant_gives_the_same_schema_as_the_migration_as_written() {
    let mut cfg = seed_config(Scale::Tiny.counts(), 2);
    cfg.shape = Some(helpdesk_bench::seed::Shape::Base);
    let written = seeded("online_written", &cfg).await;
    let online = seeded("online_online", &cfg).await;
    let dir = TempDir::new("online-sql");
    let file = dir.join("online_migration.sql");
    std::fs::write(&file, online_sql(&Migration::builtin().unwrap())).unwrap();

    let out = psql_file(
        &written.url(),
        &fixture("migrations/012_help_desk_schema_updates.sql"),
        true,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = psql_file(&online.url(), &file, true);
    assert!(out.status.success(), "{}", stderr(&out));

    let (a, b) = (schema_dump(&written.url()), schema_dump(&online.url()));
    assert!(a.contains("Conversation_assignedTo_fkey") && a.contains("Message_createdAt_idx"));
    assert_eq!(
        a, b,
        "the online variant's schema differs from the migration's"
    );

    // Run again, it refuses like the migration does, and leaves no INVALID index.
    let again = psql_file(&online.url(), &file, true);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already applied"),
        "{}",
        stderr(&again)
    );
    assert_eq!(schema_dump(&online.url()), b);
}
