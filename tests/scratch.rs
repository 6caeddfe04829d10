//! Scratch databases on a user's server: created and seeded by the tool,
//! dropped by `drop_now`, and dropped by its guard when the tool lets go
//! of one without dropping it (as on an error, Ctrl-C or SIGKILL).

pub mod common;

use common::{scalar, TestDb};
use helpdesk_bench::schema::MigrationChain;
use helpdesk_bench::scratch::{Scratch, Stage};
use helpdesk_bench::seed::{Reporter, Scale};
use helpdesk_bench::workspace::Workspace;

async fn exists(admin: &TestDb, name: &str) -> bool {
    let c = admin.endpoint.connect().await.unwrap();
    let sql = format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'");
    scalar(&c, &sql).await == 1
}

#[tokio::test]
async fn scratch_copies_on_a_user_server_are_seeded_then_always_dropped() {
    let home = TestDb::new("scratch_home").await;
    let chain = MigrationChain::builtin().unwrap();
    let ws = Workspace::open(Some(&home.url()), Scale::Tiny, 7, &chain, &Reporter::Quiet)
        .await
        .unwrap();

    let before = Scratch::create(&ws, &chain, Stage::Before, &Reporter::Quiet)
        .await
        .unwrap();
    let name = before.name().to_string();
    assert!(exists(&home, &name).await);
    let c = before.db.connect().await.unwrap();
    assert_eq!(scalar(&c, r#"SELECT count(*) FROM "User""#).await, 200);
    let cols = r#"SELECT count(*) FROM information_schema.columns WHERE table_name = 'Conversation' AND column_name = 'status'"#;
    assert_eq!(scalar(&c, cols).await, 0, "Before has no 012 columns");
    drop(c);
    before.drop_now().await.unwrap();
    assert!(!exists(&home, &name).await);

    // Let go without drop_now, with a session still open: the watchdog
    // drops it anyway.
    let after = Scratch::create(&ws, &chain, Stage::After, &Reporter::Quiet)
        .await
        .unwrap();
    let name = after.name().to_string();
    let c = after.db.connect().await.unwrap();
    assert_eq!(scalar(&c, cols).await, 1, "After has 012's columns");
    drop(after);
    let mut gone = false;
    for _ in 0..50 {
        if !exists(&home, &name).await {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "the guard dropped {name}");
    drop(c);
}

/// Two scratch copies of one workspace at once (two runs measuring costs
/// on one server) each get a name of their own: dropping one leaves the
/// other whole. Fixed names (`helpdesk_bench_costs`) dropped each other's.
#[tokio::test]
async fn two_scratch_copies_at_once_never_share_a_name() {
    let home = TestDb::new("scratch_two").await;
    let chain = MigrationChain::builtin().unwrap();
    let ws = Workspace::open(Some(&home.url()), Scale::Tiny, 7, &chain, &Reporter::Quiet)
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        Scratch::create(&ws, &chain, Stage::After, &Reporter::Quiet),
        Scratch::create(&ws, &chain, Stage::After, &Reporter::Quiet)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.name(), b.name());
    let b_name = b.name().to_string();
    a.drop_now().await.unwrap();
    assert!(exists(&home, &b_name).await);
    let c = b.db.connect().await.unwrap();
    assert_eq!(scalar(&c, r#"SELECT count(*) FROM "User""#).await, 200);
    drop(c);
    b.drop_now().await.unwrap();
}

/// Runs started in the same second, even the same millisecond, write into
/// folders of their own.
#[test]
fn run_folders_started_together_are_distinct() {
    let dir = common::TempDir::new("run-ids");
    let made: Vec<(String, std::path::PathBuf)> = (0..20)
        .map(|_| helpdesk_bench::report::new_run_dir(&dir.join("reports")).unwrap())
        .collect();
    let mut ids: Vec<&String> = made.iter().map(|(id, _)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "{ids:?}");
    assert!(made.iter().all(|(_, d)| d.is_dir()));
}
