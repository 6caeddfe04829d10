//! A guard that cannot start stops the tool before it changes anything:
//! here a scratch database on a user's server, asked for from a program
//! that is not helpdesk-bench, with `HELPDESK_BENCH_EXE` naming no binary,
//! then a binary that is no guard. Each is one error naming the fix, and
//! no scratch database is created. (One test in its own binary: it sets
//! the variable for the whole process.)

pub mod common;

use common::{scalar, TempDir, TestDb};
use helpdesk_bench::guard::EXE_ENV;
use helpdesk_bench::schema::MigrationChain;
use helpdesk_bench::scratch::{Scratch, Stage};
use helpdesk_bench::seed::{Reporter, Scale};
use helpdesk_bench::workspace::Workspace;
use helpdesk_bench::Error;

#[tokio::test]
async fn no_usable_guard_binary_is_refused_before_any_change() {
    let home = TestDb::new("guard_home").await;
    let accounts = TempDir::new("guard-accounts");
    let chain = MigrationChain::builtin().unwrap();
    let ws = Workspace::open(Some(&home.url()), Scale::Tiny, 7, &chain, &Reporter::Quiet)
        .await
        .unwrap();
    let admin = home.endpoint.connect().await.unwrap();
    let scratch_dbs = format!(
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'helpdesk_bench_scratch_{}_%'",
        std::process::id()
    );

    std::env::set_var(EXE_ENV, accounts.join("no-such-binary"));
    let e = Scratch::create(&ws, &chain, Stage::After, &Reporter::Quiet, &accounts)
        .await
        .err()
        .expect("refused");
    assert!(matches!(e, Error::NoGuardBinary { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("no-such-binary") && text.contains("nothing was changed"),
        "{text}"
    );
    assert_eq!(scalar(&admin, &scratch_dbs).await, 0);

    // A binary that exits without answering, as an older helpdesk-bench
    // without the guard would.
    std::env::set_var(EXE_ENV, "/bin/true");
    let e = Scratch::create(&ws, &chain, Stage::After, &Reporter::Quiet, &accounts)
        .await
        .err()
        .expect("refused");
    assert!(matches!(e, Error::GuardStart { .. }), "{e}");
    assert!(e.to_string().contains("HELPDESK_BENCH_EXE"), "{e}");
    assert_eq!(scalar(&admin, &scratch_dbs).await, 0);

    // The binary Cargo built works.
    std::env::set_var(EXE_ENV, common::bin());
    let s = Scratch::create(&ws, &chain, Stage::After, &Reporter::Quiet, &accounts)
        .await
        .unwrap();
    assert_eq!(scalar(&admin, &scratch_dbs).await, 1);
    s.drop_now().await.unwrap();
    assert_eq!(scalar(&admin, &scratch_dbs).await, 0);
}
