//! `migrate` and `verify` on a team's own schema, which helpdesk-bench has
//! never seen: tables in a schema of their own (`shop`), a migration that
//! indexes them with schema-qualified names, its rollback. Status reads the
//! migration's own objects from the catalog, `up` and `down` work where its
//! tables exist, `verify --url` checks it applied and its indexes valid, and
//! nothing ever suggests loading the help desk's base schema there.

pub mod common;

use common::{run, scalar, stderr, stdout, TempDir, TestDb};
use helpdesk_bench::cluster::Endpoint;
use helpdesk_bench::schema::Catalog;

/// A shop's schema and rows, created by the team, not by the tool.
const SHOP: &str = r#"
CREATE SCHEMA shop;
CREATE TYPE shop.order_state AS ENUM ('open', 'paid', 'shipped', 'delivered');
CREATE TABLE shop.customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);
CREATE TABLE shop.orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customers (id),
    state shop.order_state NOT NULL DEFAULT 'open',
    created_at timestamptz NOT NULL
);
INSERT INTO shop.customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 200) g;
INSERT INTO shop.orders (customer_id, state, created_at)
SELECT 1 + (g * 7919) % 200, (ARRAY['open','paid','shipped','delivered']::shop.order_state[])[1 + g % 4],
       timestamptz '2026-01-01' + g * interval '1 minute'
  FROM generate_series(1, 5000) g;
ANALYZE;
"#;

const FORWARD: &str = "-- 0042: the orders list by customer and date, and open orders by date\n\
CREATE INDEX orders_customer_created_idx ON shop.orders (customer_id, created_at DESC);\n\
CREATE INDEX \"orders_open_idx\" ON \"shop\".\"orders\" (created_at) WHERE state = 'open';\n";

const ROLLBACK: &str =
    "DROP INDEX shop.orders_customer_created_idx;\nDROP INDEX shop.orders_open_idx;\n";

/// The team's migration pair, written where `--migration` can read it.
fn migration(dir: &TempDir) -> String {
    let file = dir.path().join("0042_orders_idx.sql");
    std::fs::write(&file, FORWARD).unwrap();
    std::fs::write(dir.path().join("0042_orders_idx_rollback.sql"), ROLLBACK).unwrap();
    file.to_str().unwrap().to_string()
}

/// Row count and checksum of the shop's tables.
async fn rows(db: &Endpoint) -> Vec<(i64, String)> {
    let c = db.connect().await.unwrap();
    let mut out = Vec::new();
    for t in ["shop.customers", "shop.orders"] {
        let sql =
            format!("SELECT count(*), md5(string_agg(md5(t::text), '' ORDER BY id)) FROM {t} t");
        let row = c.query_one(&sql, &[]).await.unwrap();
        out.push((row.get(0), row.get(1)));
    }
    out
}

#[tokio::test]
async fn migrate_and_verify_work_on_a_schema_the_tool_has_never_seen() {
    let db = TestDb::new("own_schema").await;
    let client = db.endpoint.connect().await.unwrap();
    client.batch_execute(SHOP).await.unwrap();
    let catalog_before = Catalog::snapshot(&client).await.unwrap();
    let rows_before = rows(&db.endpoint).await;
    assert_eq!(rows_before[1].0, 5000);
    let dir = TempDir::new("own-schema");
    let m = migration(&dir);
    let url = db.url();
    let cmd = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--url", &url, "--migration", &m]);
        let out = run(&all);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !text.contains("base.sql"),
            "{args:?} suggested the lab's schema: {text}"
        );
        (out.status.code(), stdout(&out), stderr(&out))
    };

    let (code, text, err) = cmd(&["migrate", "status"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        text.trim(),
        "base (none of 0042_orders_idx's 2 objects present)"
    );

    let (code, _, err) = cmd(&["verify"]);
    assert_eq!(code, Some(1), "verify passed before the migration: {err}");

    let (code, text, err) = cmd(&["migrate", "up"]);
    assert_eq!(code, Some(0), "{text}{err}");
    let indexes = scalar(
        &client,
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'shop' \
         AND indexname IN ('orders_customer_created_idx', 'orders_open_idx')",
    )
    .await;
    assert_eq!(indexes, 2, "{text}");
    let (code, text, _) = cmd(&["migrate", "status"]);
    assert_eq!(code, Some(0));
    assert_eq!(text.trim(), "0042 (all 2 objects present)");

    let (code, text, err) = cmd(&["verify"]);
    assert_eq!(code, Some(0), "{text}{err}");
    assert!(text.contains("PASS  0042_orders_idx is applied"), "{text}");
    assert!(
        text.contains("PASS  the chain's indexes are valid (2 indexes valid and ready)"),
        "{text}"
    );
    let (code, _, err) = cmd(&["migrate", "up"]);
    assert_eq!(code, Some(2), "a second up was not refused");
    assert!(err.contains("already applied"), "{err}");

    let (code, text, err) = cmd(&["migrate", "down"]);
    assert_eq!(code, Some(0), "{text}{err}");
    assert!(Catalog::snapshot(&client)
        .await
        .unwrap()
        .diff(&catalog_before)
        .is_empty());
    assert_eq!(rows(&db.endpoint).await, rows_before);
}

#[tokio::test]
async fn verify_reports_an_index_left_invalid() {
    let db = TestDb::new("own_schema_invalid").await;
    let client = db.endpoint.connect().await.unwrap();
    client.batch_execute(SHOP).await.unwrap();
    let dir = TempDir::new("own-schema-invalid");
    let m = migration(&dir);
    let url = db.url();
    let up = run(&["migrate", "up", "--url", &url, "--migration", &m]);
    assert!(up.status.success(), "{}", stderr(&up));
    // What a failed CREATE INDEX CONCURRENTLY leaves behind.
    client
        .batch_execute(
            "UPDATE pg_index SET indisvalid = false \
             WHERE indexrelid = 'shop.orders_open_idx'::regclass",
        )
        .await
        .unwrap();
    let out = run(&["verify", "--url", &url, "--migration", &m]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL  the chain's indexes are valid (not valid: orders_open_idx;"),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_table_is_named_without_suggesting_the_lab_schema() {
    let db = TestDb::new("own_schema_missing").await;
    let client = db.endpoint.connect().await.unwrap();
    client
        .batch_execute("CREATE TABLE invoices (id int PRIMARY KEY)")
        .await
        .unwrap();
    let dir = TempDir::new("own-schema-missing");
    let m = migration(&dir);
    let url = db.url();

    let status = run(&["migrate", "status", "--url", &url, "--migration", &m]);
    let text = stdout(&status);
    assert!(
        text.contains("tables it changes, missing: table shop.orders"),
        "{text}"
    );
    let up = run(&["migrate", "up", "--url", &url, "--migration", &m]);
    let err = stderr(&up);
    assert_eq!(up.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("changes tables this database does not hold (table shop.orders)"),
        "{err}"
    );
    assert!(
        !err.contains("base.sql") && !err.contains("migrate base"),
        "{err}"
    );
    let tables = scalar(
        &client,
        "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace",
    )
    .await;
    assert_eq!(tables, 1, "migrate up changed the database before refusing");

    // The embedded lab cannot stand in for the team's tables: refused up
    // front, in one line.
    let out = run(&["verify", "--migration", &m]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}{err}", stdout(&out));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("changes tables the embedded lab does not have (table shop.orders)"),
        "{err}"
    );
    // So do the commands that would seed the lab to measure it: before
    // seeding a row, each names the tables and what to run instead.
    let catalogue = dir.path().join("queries.toml");
    std::fs::write(
        &catalogue,
        "[[query]]\nname = \"open_orders\"\nweight = 60\nscreen = \"Open orders\"\n\
         sql = \"SELECT id FROM shop.orders WHERE state = 'open' ORDER BY created_at LIMIT 20\"\n",
    )
    .unwrap();
    let c = catalogue.to_str().unwrap();
    for (args, next) in [
        (
            vec!["explain", "--migration", &m, "--catalogue", c],
            "--url, or DATABASE_URL",
        ),
        (
            vec![
                "load",
                "--migration",
                &m,
                "--catalogue",
                c,
                "--duration",
                "1s",
            ],
            "--url, or DATABASE_URL",
        ),
        (
            vec![
                "sweep",
                "--scales",
                "tiny",
                "--migration",
                &m,
                "--catalogue",
                c,
            ],
            "sweep seeds only that lab",
        ),
    ] {
        let started = std::time::Instant::now();
        let out = run(&args);
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}{err}",
            stdout(&out)
        );
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("the embedded help-desk lab does not have (table shop.orders)")
                && err.contains(next),
            "{args:?}: {err}"
        );
        assert!(
            !stdout(&out).contains("seed")
                && started.elapsed() < std::time::Duration::from_secs(20),
            "{args:?} seeded before refusing: {}",
            stdout(&out)
        );
    }
}

#[tokio::test]
async fn the_lab_schema_is_suggested_only_on_an_empty_database() {
    let db = TestDb::new("own_schema_empty").await;
    let url = db.url();
    let out = run(&["migrate", "up", "--url", &url]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("helpdesk-bench migrate base"), "{err}");

    let client = db.endpoint.connect().await.unwrap();
    client
        .batch_execute("CREATE TABLE invoices (id int PRIMARY KEY)")
        .await
        .unwrap();
    let out = run(&["migrate", "up", "--url", &url]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        !err.contains("base.sql") && !err.contains("migrate base"),
        "the lab's schema was suggested for a database holding other tables: {err}"
    );
    assert!(err.contains("does not hold"), "{err}");
}

/// Deleting a referenced row is timed through any key: a uuid, a column not
/// named `id`, two columns, a schema of its own.
#[tokio::test]
async fn foreign_key_deletes_are_timed_through_any_key() {
    use helpdesk_bench::measure::{foreign_keys, measure_deletes};
    use helpdesk_bench::schema::Migration;
    let db = TestDb::new("own_schema_fk").await;
    let client = db.endpoint.connect().await.unwrap();
    client
        .batch_execute(
            "CREATE SCHEMA shop;
             CREATE TABLE shop.carts (region text, cart_key uuid, PRIMARY KEY (region, cart_key));
             CREATE TABLE shop.cart_lines (line int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                 region text NOT NULL, cart_key uuid NOT NULL,
                 FOREIGN KEY (region, cart_key) REFERENCES shop.carts ON DELETE CASCADE);
             INSERT INTO shop.carts SELECT 'eu', md5(g::text)::uuid FROM generate_series(1, 300) g;
             INSERT INTO shop.cart_lines (region, cart_key)
                 SELECT 'eu', md5((1 + g % 300)::text)::uuid FROM generate_series(1, 20000) g;
             CREATE INDEX cart_lines_key_idx ON shop.cart_lines (region, cart_key);
             ANALYZE;",
        )
        .await
        .unwrap();
    let dir = TempDir::new("own-schema-fk");
    let file = dir.path().join("0043_cart_lines_key_idx.sql");
    std::fs::write(
        &file,
        "CREATE INDEX cart_lines_key_idx ON shop.cart_lines (region, cart_key);",
    )
    .unwrap();
    let m = Migration::from_path(&file).unwrap();
    let mut fks = foreign_keys(&client).await.unwrap();
    assert_eq!(fks.len(), 1, "{fks:?}");
    assert_eq!(fks[0].table, "shop.cart_lines");
    assert_eq!(fks[0].references, "shop.carts");
    assert_eq!(fks[0].columns, ["region", "cart_key"]);
    assert_eq!(fks[0].served_by, ["cart_lines_key_idx"]);
    let rows_before = scalar(&client, "SELECT count(*) FROM shop.cart_lines").await;
    measure_deletes(&client, &m, &mut fks).await.unwrap();
    let cost = fks[0].delete.as_ref().expect("no delete measured");
    assert_eq!(cost.index, "cart_lines_key_idx");
    assert!(cost.deletes >= 10, "{cost:?}");
    // Without the index each delete scans 20,000 lines; with it, it reads about 67.
    assert!(
        cost.without_ms.point > cost.with_ms.point,
        "deletes were not slower without the key's index: {cost:?}"
    );
    assert_eq!(
        scalar(&client, "SELECT count(*) FROM shop.cart_lines").await,
        rows_before,
        "a timed delete was kept"
    );
}
