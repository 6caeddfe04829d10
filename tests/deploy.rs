//! Deploy advice from a saved run: `report --production-rows` projects the
//! migration's locks to production row counts and says how to deploy.

pub mod common;

use common::{run, stderr, TempDir};
use helpdesk_bench::results::Results;

#[test]
fn a_saved_run_is_advised_for_production_row_counts() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run");
    let dir = TempDir::new("deploy");
    std::fs::copy(data.join("results.json"), dir.join("results.json")).unwrap();
    std::fs::create_dir_all(dir.join("plans")).unwrap();
    let out = run(&[
        "report",
        "--run",
        dir.arg(),
        "--production-rows",
        "Message=50000000,Conversation=5000000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = Results::read(&dir.join("results.json")).unwrap();
    let d = r.deploy.expect("deploy advice");
    let lock = |t: &str| d.locks.iter().find(|l| l.table == t).unwrap();
    assert_eq!(lock("User").mode, "ACCESS EXCLUSIVE");
    assert_eq!(lock("Conversation").mode, "ACCESS EXCLUSIVE");
    assert_eq!(lock("Message").mode, "SHARE");
    assert!(lock("User").held_ms > 0.0);
    assert_eq!(d.production_rows[0], ("Message".to_string(), 50_000_000));
    assert!(
        d.advice.starts_with("Deploy with online_migration.sql"),
        "{}",
        d.advice
    );

    let bad = run(&[
        "report",
        "--run",
        dir.arg(),
        "--production-rows",
        "Message:5",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("TABLE=ROWS"), "{}", stderr(&bad));
    assert_eq!(stderr(&bad).lines().count(), 1);
}
