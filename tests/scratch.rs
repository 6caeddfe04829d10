//! Scratch databases on a user's server: created and seeded by the tool,
//! dropped by `drop_now`, and dropped by its guard when the tool lets go
//! of one without dropping it (as on an error, Ctrl-C or SIGKILL); either
//! way `pg_database` is read back, and the guard's account says so. This
//! test binary is not helpdesk-bench, so the guard is the binary Cargo
//! built beside it.

pub mod common;

use std::time::{Duration, Instant};

use common::{scalar, TempDir, TestDb};
use helpdesk_bench::schema::MigrationChain;
use helpdesk_bench::scratch::{Scratch, Stage};
use helpdesk_bench::seed::{Reporter, Scale};
use helpdesk_bench::workspace::Workspace;

async fn exists(admin: &TestDb, name: &str) -> bool {
    let c = admin.endpoint.connect().await.unwrap();
    let sql = format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'");
    scalar(&c, &sql).await == 1
}

/// The account file's text once it holds `word`; fails after a minute.
async fn account_saying(path: &std::path::Path, word: &str) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(word) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} never said {word:?}: {text}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn scratch_copies_on_a_user_server_are_seeded_then_always_dropped() {
    let home = TestDb::new("scratch_home").await;
    let accounts = TempDir::new("scratch-accounts");
    let chain = MigrationChain::builtin().unwrap();
    let ws = Workspace::open(Some(&home.url()), Scale::Tiny, 7, &chain, &Reporter::Quiet)
        .await
        .unwrap();

    let before = Scratch::create(&ws, &chain, Stage::Before, &Reporter::Quiet, &accounts)
        .await
        .unwrap();
    let name = before.name().to_string();
    let account = before.account().unwrap().to_path_buf();
    assert_eq!(account.parent(), Some(accounts.path()));
    assert!(exists(&home, &name).await);
    let c = before.db.connect().await.unwrap();
    assert_eq!(scalar(&c, r#"SELECT count(*) FROM "User""#).await, 200);
    let cols = r#"SELECT count(*) FROM information_schema.columns WHERE table_name = 'Conversation' AND column_name = 'status'"#;
    assert_eq!(scalar(&c, cols).await, 0, "Before has no 012 columns");
    drop(c);
    before.drop_now().await.unwrap();
    assert!(!exists(&home, &name).await);
    let text = account_saying(&account, "dismissed").await;
    assert!(
        text.contains(&format!(
            "dismissed by the tool, which did it itself: scratch database {name} verified gone from pg_database"
        )),
        "{text}"
    );

    // Let go without drop_now, with a session still open: the guard
    // drops it anyway, and reads pg_database back.
    let after = Scratch::create(&ws, &chain, Stage::After, &Reporter::Quiet, &accounts)
        .await
        .unwrap();
    let name = after.name().to_string();
    let account = after.account().unwrap().to_path_buf();
    let c = after.db.connect().await.unwrap();
    assert_eq!(scalar(&c, cols).await, 1, "After has 012's columns");
    drop(after);
    let text = account_saying(&account, "verified: ").await;
    assert!(
        text.contains(&format!(
            "verified: scratch database {name} verified gone from pg_database"
        )),
        "{text}"
    );
    assert!(!exists(&home, &name).await, "the guard dropped {name}");
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
    let accounts = common::TempDir::new("scratch-two");
    let (a, b) = tokio::join!(
        Scratch::create(&ws, &chain, Stage::After, &Reporter::Quiet, &accounts),
        Scratch::create(&ws, &chain, Stage::After, &Reporter::Quiet, &accounts)
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
        .map(|_| helpdesk_bench::results::new_run_dir(&dir.join("reports")).unwrap())
        .collect();
    let mut ids: Vec<&String> = made.iter().map(|(id, _)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "{ids:?}");
    assert!(made.iter().all(|(_, d)| d.is_dir()));
}
