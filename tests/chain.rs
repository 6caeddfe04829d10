//! Migration chains against a real PostgreSQL: 012 then 013 benched end to
//! end through the library calls the benches make (013 creates a composite
//! index and drops one of 012's), a Prisma migration folder through the
//! binary, and `migrate down` refusing a migration without a rollback file.

pub mod common;

use std::collections::BTreeSet;

use common::{fixture, run, seed_config, seeded, stderr, stdout, TempDir, TestDb};
use helpdesk_bench::explain::{explain_all, ExplainOptions};
use helpdesk_bench::measure::{clone_db, drop_db, migration_cost};
use helpdesk_bench::queries::{Catalogue, BUILTIN};
use helpdesk_bench::schema::{self, present_indexes, Access, IndexState, MigrationChain, State};
use helpdesk_bench::seed::{Counts, Reporter, Scale, Shape};
use helpdesk_bench::workspace::Workspace;

const M012: &str = "migrations/012_help_desk_schema_updates.sql";
const M013: &str = "migrations/013_help_desk_queue_index.sql";
const COMPOSITE: &str = "Conversation_status_createdAt_idx";
const DROPPED: &str = "Conversation_status_idx";

fn chain_012_013() -> MigrationChain {
    MigrationChain::load(&[fixture(M012), fixture(M013)]).unwrap()
}

fn names(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn the_chain_012_then_013_is_benched_with_its_create_and_its_drop() {
    let chain = chain_012_013();
    let m = &chain.under_test;
    assert_eq!(IndexState::With.id(m), "with_013_indexes");
    let counts = Counts {
        users: 1_000,
        staff: 40,
        conversations: 20_000,
        messages: 200_000,
    };
    let mut cfg = seed_config(counts, 2);
    cfg.migrations = chain.all().cloned().collect();
    let db = seeded("chain", &cfg).await;

    // The seed applied 013 after 012: the composite is there, 012's
    // single-column status index is gone.
    let c = db.endpoint.connect().await.unwrap();
    assert_eq!(present_indexes(&c, m).await.unwrap(), names(&[COMPOSITE]));
    drop(c);

    // The two states: before 013 its drop is undone, after it applied.
    let mut session = schema::Session::open(&db.endpoint, m, false).await.unwrap();
    session
        .enter(&IndexState::Without, Access::ReadOnly)
        .await
        .unwrap();
    let without = present_indexes(session.client(), m).await.unwrap();
    assert_eq!(without, names(&[DROPPED]));
    session
        .enter(&IndexState::With, Access::ReadOnly)
        .await
        .unwrap();
    let with = present_indexes(session.client(), m).await.unwrap();
    assert_eq!(with, names(&[COMPOSITE]));
    session.leave().await.unwrap();
    drop(session);

    let catalogue = Catalogue::parse("queries.toml", BUILTIN, &chain).unwrap();
    catalogue.check_indexes(&chain).unwrap();
    let out = TempDir::new("chain_plans");
    let run = explain_all(
        &db.endpoint,
        &ExplainOptions {
            catalogue: &catalogue,
            migration: m,
            only: vec!["human_queue".into()],
            ablation: false,
            may_change_indexes: true,
            force: false,
            out: out.to_path_buf(),
            plan_cache: helpdesk_bench::explain::PlanCacheMode::Auto,
        },
    )
    .await
    .unwrap();
    assert_eq!(run.states, [IndexState::Without, IndexState::With]);
    let with = run.plan("human_queue", &IndexState::With).unwrap();
    assert_eq!(
        with.summary.indexes_used,
        [COMPOSITE],
        "{:#?}",
        with.summary
    );
    let without = run.plan("human_queue", &IndexState::Without).unwrap();
    assert!(
        !without.summary.indexes_used.iter().any(|u| u == COMPOSITE),
        "{:#?}",
        without.summary
    );
    assert!(run.violations.is_empty(), "{:#?}", run.violations);
    assert!(out.join("human_queue.without_013_indexes.json").is_file());
    // explain leaves the database as it found it: 013 applied.
    let c = db.endpoint.connect().await.unwrap();
    assert_eq!(present_indexes(&c, m).await.unwrap(), names(&[COMPOSITE]));
}

#[tokio::test]
async fn the_workspace_keeps_a_copy_before_013_and_times_013_without_a_rollback() {
    let chain = chain_012_013();
    let m = &chain.under_test;
    assert!(m.rollback.is_none());
    let ws = Workspace::open(None, Scale::Tiny, 7, &chain, &Reporter::quiet())
        .await
        .unwrap();
    let c = ws.db.connect().await.unwrap();
    assert_eq!(schema::status(&c, m).await.unwrap().state, State::Applied);
    drop(c);
    let before = ws
        .before_db
        .as_ref()
        .expect("embedded workspace has a before copy");
    let b = before.connect().await.unwrap();
    assert_eq!(schema::status(&b, m).await.unwrap().state, State::Base);
    assert_eq!(present_indexes(&b, m).await.unwrap(), names(&[DROPPED]));
    drop(b);

    let scratch = clone_db(before, "chain_cost").await.unwrap();
    let cost = migration_cost(&scratch, m).await.unwrap();
    let statements: Vec<&str> = cost
        .statements
        .iter()
        .map(|s| s.statement.as_str())
        .collect();
    assert!(
        statements.iter().any(|s| s.contains(COMPOSITE))
            && statements.iter().any(|s| s.starts_with("DROP INDEX")),
        "{statements:?}"
    );
    let s = scratch.connect().await.unwrap();
    assert_eq!(schema::status(&s, m).await.unwrap().state, State::Applied);
    drop(s);
    drop_db(before, "chain_cost").await.unwrap();
}

/// A Prisma layout: `prisma/migrations/<timestamp>_<name>/migration.sql`.
fn prisma_folder(tmp: &TempDir) -> std::path::PathBuf {
    let dir = tmp.join("prisma/migrations/20241124120000_help_desk");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture(M012), dir.join("migration.sql")).unwrap();
    dir
}

#[tokio::test]
async fn a_prisma_migration_folder_migrates_and_explains() {
    let tmp = TempDir::new("prisma");
    let dir = prisma_folder(&tmp);
    let mut cfg = seed_config(Scale::Tiny.counts(), 2);
    cfg.shape = Some(Shape::Base);
    let db = seeded("prisma", &cfg).await;
    let url = db.url();
    let dir_arg = dir.to_str().unwrap();

    let up = run(&["migrate", "up", "--url", &url, "--migration", dir_arg]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(
        stdout(&up).contains("applied ") && stdout(&up).contains("migration.sql"),
        "{}",
        stdout(&up)
    );
    let status = run(&["migrate", "status", "--url", &url, "--migration", dir_arg]);
    let text = stdout(&status);
    assert!(
        text.starts_with("20241124120000 (all 16 objects present)"),
        "{text}"
    );

    let out = TempDir::new("prisma_plans");
    let explain = run(&[
        "explain",
        "--url",
        &url,
        "--migration",
        dir_arg,
        "--allow-index-changes",
        "--query",
        "transcript",
        "--out",
        out.arg(),
    ]);
    let text = stdout(&explain);
    assert!(explain.status.success(), "{text}{}", stderr(&explain));
    assert!(text.contains("with_20241124120000_indexes"), "{text}");
    assert!(out
        .join("transcript.without_20241124120000_indexes.json")
        .is_file());
}

#[tokio::test]
async fn migrate_up_applies_a_chain_and_down_refuses_without_a_rollback() {
    let db = TestDb::new("chain_cli").await;
    let url = db.url();
    let (m012, m013) = (fixture(M012), fixture(M013));
    let chain = [
        "--migration",
        m012.to_str().unwrap(),
        "--migration",
        m013.to_str().unwrap(),
    ];
    let base = run(&["migrate", "base", "--url", &url]);
    assert!(base.status.success(), "{}", stderr(&base));

    let up = run(&[&["migrate", "up", "--url", &url][..], &chain[..]].concat());
    let text = stdout(&up);
    assert!(up.status.success(), "{text}{}", stderr(&up));
    assert!(
        text.contains("applied fixtures/migrations/012")
            || text.contains("012_help_desk_schema_updates.sql"),
        "{text}"
    );
    assert!(text.contains("013_help_desk_queue_index.sql"), "{text}");

    let again = run(&[&["migrate", "up", "--url", &url][..], &chain[..]].concat());
    assert!(!again.status.success());
    assert!(stderr(&again).contains("migration 013_help_desk_queue_index is already applied"));

    let down = run(&[&["migrate", "down", "--url", &url][..], &chain[..]].concat());
    assert!(!down.status.success());
    let err = stderr(&down);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("migration 013_help_desk_queue_index has no rollback file")
            && err.contains("benchmarking needs no rollback"),
        "{err}"
    );
    let status = run(&[&["migrate", "status", "--url", &url][..], &chain[..]].concat());
    let text = stdout(&status);
    assert!(
        text.contains("012_help_desk_schema_updates: 012 (all"),
        "{text}"
    );
    assert!(
        text.contains("013_help_desk_queue_index: 013 (all 2 objects present)"),
        "{text}"
    );
}
