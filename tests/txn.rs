//! The one way the tool opens a transaction on a shared connection
//! (`cluster::transaction`): however the work ends, a `?` half-way
//! included, no transaction outlives it, and the connection goes on.

pub mod common;

use common::TestDb;
use helpdesk_bench::cluster::{transaction, Begin, End};
use helpdesk_bench::error::Context;

#[tokio::test]
async fn an_error_half_way_rolls_back_and_the_connection_goes_on() {
    let db = TestDb::new("txn").await;
    let c = db.endpoint.connect().await.unwrap();
    let failed: helpdesk_bench::Result<()> =
        transaction(&c, Begin::Plain, End::Commit, "work", async |c| {
            c.batch_execute("CREATE TABLE made_inside (a int)")
                .await
                .context("creating")?;
            c.batch_execute("SELECT 1/0").await.context("dividing")?;
            c.batch_execute("CREATE TABLE never_made (a int)")
                .await
                .context("creating")?;
            Ok(())
        })
        .await;
    let err = failed.unwrap_err();
    assert!(
        err.to_string().starts_with("dividing: division by zero"),
        "{err}"
    );
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::DIVISION_BY_ZERO),
        "the server's code is kept"
    );
    // Not "current transaction is aborted": the transaction is gone.
    let row = c
        .query_one("SELECT to_regclass('made_inside') IS NULL", &[])
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "what the work made was rolled back");
    let outside = c.batch_execute("SAVEPOINT probe").await.unwrap_err();
    assert_eq!(
        outside.code(),
        Some(&tokio_postgres::error::SqlState::NO_ACTIVE_SQL_TRANSACTION),
        "no transaction is open any more"
    );
}

#[tokio::test]
async fn a_measurement_rolled_back_leaves_nothing_and_a_commit_keeps_it() {
    let db = TestDb::new("txn_ends").await;
    let c = db.endpoint.connect().await.unwrap();
    c.batch_execute("CREATE TABLE t (a int)").await.unwrap();
    let n = transaction(&c, Begin::Plain, End::RollBack, "measuring", async |c| {
        c.execute("INSERT INTO t VALUES (1), (2)", &[])
            .await
            .context("inserting")
    })
    .await
    .unwrap();
    assert_eq!(n, 2);
    let rows: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "rolled back");
    transaction(&c, Begin::Plain, End::Commit, "writing", async |c| {
        // A savepoint inside that fails is undone alone.
        let inner: helpdesk_bench::Result<()> =
            transaction(c, Begin::Savepoint, End::Commit, "nested", async |c| {
                c.batch_execute("INSERT INTO t VALUES (9)")
                    .await
                    .context("inserting")?;
                c.batch_execute("SELECT 1/0").await.context("dividing")
            })
            .await;
        assert!(inner.is_err());
        c.batch_execute("INSERT INTO t VALUES (3)")
            .await
            .context("inserting")
    })
    .await
    .unwrap();
    let rows: Vec<i32> = c
        .query("SELECT a FROM t ORDER BY a", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, [3], "committed, without the failed savepoint's row");
}
