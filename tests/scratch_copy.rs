//! Scratch copies of a team's own database (not the help desk's), reached
//! by URL on the embedded cluster: the schema recreated from the catalog
//! equals the source's, the rows are the same (or a foreign-key-consistent
//! sample of about the fraction asked), the source is untouched, the copy
//! is gone once dropped, and what cannot be copied is refused before any
//! database is created. In synth mode the copy's rows are generated from
//! the source's statistics: the same schema, about the same row counts,
//! no row of the source read and none of its e-mails or names copied.

pub mod common;

use common::{scalar, TempDir, TestDb};
use helpdesk_bench::cluster::Endpoint;
use helpdesk_bench::schema::MigrationChain;
use helpdesk_bench::scratch::{CopyOptions, Data, Scratch, Stage, PREFIX};
use helpdesk_bench::seed::{Reporter, Scale};
use helpdesk_bench::workspace::Workspace;

/// A shop, not a help desk: a non-public schema, an extension, an enum, a
/// domain, identity, uuid defaults, a generated column over a function of
/// its own, a check, a composite foreign key, partial, expression and GIN
/// indexes, jsonb, text[], a sequence in use, a trigger and a view.
const SHOP: &str = r#"
CREATE EXTENSION pgcrypto;
CREATE SCHEMA app;
CREATE TYPE app.order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled');
CREATE DOMAIN app.email AS text CHECK (VALUE ~ '@');
CREATE SEQUENCE app.invoice_no START 1000;
CREATE FUNCTION app.units(bigint) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT $1 / 100.0';
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.updated_at := now(); RETURN NEW; END$$;
CREATE TABLE app.tenants (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    settings jsonb NOT NULL DEFAULT '{}'
);
CREATE TABLE app.customers (
    tenant_id bigint NOT NULL REFERENCES app.tenants (id),
    id bigint NOT NULL,
    email app.email NOT NULL,
    name text COLLATE "C",
    tags text[] NOT NULL DEFAULT '{}',
    statuses app.order_status[],
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE app.orders (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    status app.order_status NOT NULL DEFAULT 'pending',
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    total numeric GENERATED ALWAYS AS (app.units(total_cents)) STORED,
    invoice_no bigint DEFAULT nextval('app.invoice_no'),
    placed_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    meta jsonb,
    FOREIGN KEY (tenant_id, customer_id) REFERENCES app.customers (tenant_id, id) ON DELETE CASCADE
);
CREATE TABLE app.events (id bigserial PRIMARY KEY, kind text NOT NULL, at timestamptz NOT NULL);
CREATE INDEX orders_open_idx ON app.orders (tenant_id, placed_at DESC) WHERE status IN ('pending', 'paid');
CREATE INDEX customers_email_idx ON app.customers (lower(email::text));
CREATE INDEX orders_meta_idx ON app.orders USING gin (meta jsonb_path_ops);
CREATE TRIGGER orders_touch BEFORE UPDATE ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE VIEW app.open_orders AS SELECT id, tenant_id FROM app.orders WHERE status = 'pending';

INSERT INTO app.tenants (name, settings)
SELECT 'tenant ' || g, jsonb_build_object('plan', CASE WHEN g % 10 = 0 THEN 'pro' ELSE 'free' END)
FROM generate_series(1, 200) g;
INSERT INTO app.customers (tenant_id, id, email, name, tags, statuses)
SELECT 1 + g % 200, g, 'c' || g || '@example.com', 'Customer ' || g,
       ARRAY['t' || g % 3, 'vip'], CASE WHEN g % 4 = 0 THEN ARRAY['paid', 'pending']::app.order_status[] END
FROM generate_series(1, 3000) g;
INSERT INTO app.orders (tenant_id, customer_id, status, total_cents, invoice_no, placed_at, meta)
SELECT c.tenant_id, c.id,
       (ARRAY['delivered', 'delivered', 'delivered', 'shipped', 'paid', 'pending', 'cancelled'])[1 + g % 7]::app.order_status,
       (g * 37) % 50000, nextval('app.invoice_no'), '2024-01-01'::timestamptz + g * interval '7 minutes',
       CASE WHEN g % 5 = 0 THEN jsonb_build_object('gift', true, 'n', g) END
FROM generate_series(1, 12000) g
JOIN app.customers c ON c.id = 1 + (g * g) % 3000;
INSERT INTO app.events (kind, at)
SELECT 'k' || g % 9, '2024-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 8000) g;
"#;

/// Tables, columns, constraints, indexes, types, sequences, views and
/// triggers, as the source's own deparsers print them.
const CATALOG: &str = r#"
SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' notnull=' || a.attnotnull || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
       || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' collation=' || a.attcollation::regcollation
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'app' AND c.relkind IN ('r', 'v') AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE n.nspname = 'app' AND k.contype <> 'n'
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'app'
UNION ALL
SELECT 'type ' || format_type(t.oid, NULL) || ' ' || t.typtype::text
       || coalesce(' ' || (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid), '')
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'app' AND t.typtype IN ('e', 'd')
UNION ALL
SELECT 'sequence ' || schemaname || '.' || sequencename || ' ' || coalesce(last_value, 0) || ' ' || increment_by
FROM pg_sequences WHERE schemaname = 'app'
UNION ALL
SELECT 'view ' || c.oid::regclass || ' ' || pg_get_viewdef(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app' AND c.relkind = 'v'
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(g.oid) FROM pg_trigger g WHERE NOT g.tgisinternal
UNION ALL
SELECT 'function ' || pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'app'
UNION ALL
SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension
ORDER BY 1
"#;

/// The tests count the server's scratch databases, so they run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const TABLES: [&str; 4] = ["app.tenants", "app.customers", "app.orders", "app.events"];

async fn catalog(db: &Endpoint) -> Vec<String> {
    let c = db.connect().await.unwrap();
    c.batch_execute("SET search_path = ''").await.unwrap();
    let rows = c.query(CATALOG, &[]).await.unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// Row count and an md5 of every row's text, per table.
async fn rows(db: &Endpoint) -> Vec<(i64, String)> {
    let c = db.connect().await.unwrap();
    let mut out = Vec::new();
    for t in TABLES {
        let sql = format!(
            "SELECT count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM {t} x"
        );
        let r = c.query_one(&sql, &[]).await.unwrap();
        out.push((r.get(0), r.get(1)));
    }
    out
}

async fn scratch_databases(home: &TestDb) -> i64 {
    let c = home.endpoint.connect().await.unwrap();
    let sql = format!("SELECT count(*) FROM pg_database WHERE datname LIKE '{PREFIX}%'");
    scalar(&c, &sql).await
}

async fn shop(prefix: &str) -> (TestDb, Endpoint) {
    let db = TestDb::new(prefix).await;
    db.endpoint
        .connect()
        .await
        .unwrap()
        .batch_execute(SHOP)
        .await
        .unwrap();
    let url = Endpoint::from_url(&db.url()).unwrap();
    (db, url)
}

#[tokio::test]
async fn a_full_copy_has_the_sources_schema_and_rows_and_leaves_it_unchanged() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (home, source) = shop("copy_full").await;
    let accounts = TempDir::new("copy-full");
    let (schema_before, rows_before) = (catalog(&source).await, rows(&source).await);
    assert!(schema_before.len() > 30, "{schema_before:#?}");

    let s = Scratch::copy_of(
        &source,
        &CopyOptions::default(),
        &Reporter::Quiet,
        &accounts,
    )
    .await
    .unwrap();
    assert_eq!(catalog(&s.db).await, schema_before);
    assert_eq!(rows(&s.db).await, rows_before);
    assert_eq!(rows_before[2].0, 12000);
    let c = s.db.connect().await.unwrap();
    // The copy works as the source does: the sequence and identity go on
    // from where they were, the trigger fires, the keys hold, it is analyzed.
    let next = "SELECT nextval('app.invoice_no')";
    assert_eq!(scalar(&c, next).await, 1000 + 12000);
    let id = "INSERT INTO app.tenants (name) VALUES ('new') RETURNING id";
    assert_eq!(scalar(&c, id).await, 201);
    let touched = "WITH u AS (UPDATE app.orders SET status = 'paid' WHERE invoice_no = 1000 RETURNING updated_at) SELECT count(*) FROM u WHERE updated_at IS NOT NULL";
    assert_eq!(scalar(&c, touched).await, 1);
    let orphan = c
        .batch_execute(
            "INSERT INTO app.orders (tenant_id, customer_id, total_cents) VALUES (1, 999999, 1)",
        )
        .await
        .unwrap_err();
    assert_eq!(orphan.code().unwrap().code(), "23503");
    let analyzed = "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = 'app' AND last_analyze IS NOT NULL";
    assert_eq!(scalar(&c, analyzed).await, 4);
    drop(c);

    let name = s.name().to_string();
    s.drop_now().await.unwrap();
    assert_eq!(scratch_databases(&home).await, 0, "{name} is gone");
    assert_eq!(catalog(&source).await, schema_before, "the source's schema");
    assert_eq!(rows(&source).await, rows_before, "the source's rows");
}

#[tokio::test]
async fn a_sample_keeps_foreign_keys_and_about_the_fraction_asked() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (home, source) = shop("copy_sample").await;
    let accounts = TempDir::new("copy-sample");
    let rows_before = rows(&source).await;
    let opts = CopyOptions::new(Data::Copy, Some(0.3), None).unwrap();
    let s = Scratch::copy_of(&source, &opts, &Reporter::Quiet, &accounts)
        .await
        .unwrap();
    let c = s.db.connect().await.unwrap();
    for (i, t) in TABLES.iter().enumerate() {
        let kept = scalar(&c, &format!("SELECT count(*) FROM {t}")).await as f64;
        let share = kept / rows_before[i].0 as f64;
        assert!(
            (0.18..=0.42).contains(&share),
            "{t}: kept {share:.3} of the rows"
        );
    }
    // The foreign keys were added after the rows, so they hold: no orphan.
    let orphans = "SELECT count(*) FROM app.orders o WHERE NOT EXISTS (SELECT 1 FROM app.customers c WHERE c.tenant_id = o.tenant_id AND c.id = o.customer_id)";
    assert_eq!(scalar(&c, orphans).await, 0);
    let fks = "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'app'::regnamespace";
    assert_eq!(scalar(&c, fks).await, 2);
    drop(c);
    s.drop_now().await.unwrap();
    assert_eq!(scratch_databases(&home).await, 0);
    assert_eq!(rows(&source).await, rows_before);
}

#[tokio::test]
async fn what_cannot_be_copied_is_refused_before_any_database_is_made() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (home, source) = shop("copy_refused").await;
    let accounts = TempDir::new("copy-refused");
    let c = source.connect().await.unwrap();
    c.batch_execute(
        "ALTER TABLE app.customers ENABLE ROW LEVEL SECURITY;
         CREATE POLICY own_tenant ON app.customers USING (tenant_id = 1)",
    )
    .await
    .unwrap();
    let e = Scratch::copy_of(
        &source,
        &CopyOptions::default(),
        &Reporter::Quiet,
        &accounts,
    )
    .await
    .err()
    .expect("refused");
    let text = e.to_string();
    assert!(
        text.contains("row-level security policy own_tenant on app.customers")
            && text.contains("nothing was created")
            && !text.contains('\n'),
        "{text}"
    );
    assert_eq!(scratch_databases(&home).await, 0);
    assert_eq!(
        std::fs::read_dir(accounts.path()).map_or(0, |d| d.count()),
        0,
        "no guard started"
    );

    // Above the size limit: refused too, naming the sample that fits.
    c.batch_execute("DROP POLICY own_tenant ON app.customers; ALTER TABLE app.customers DISABLE ROW LEVEL SECURITY")
        .await
        .unwrap();
    let tiny = CopyOptions {
        limit_bytes: 100_000,
        ..CopyOptions::default()
    };
    let e = Scratch::copy_of(&source, &tiny, &Reporter::Quiet, &accounts)
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("pass --sample 0."), "{e}");
    assert_eq!(scratch_databases(&home).await, 0);
}

/// On a URL, a chain that is not the help desk's gets copies of the user's
/// database, not the help-desk seed, with the migration under test applied
/// in the copy for `After` and rolled back in it for `Before`, whichever
/// state the user's database is in; the user's database keeps its state.
#[tokio::test]
async fn a_chain_of_your_own_gets_copies_of_your_database_at_the_stage_asked() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (home, source) = shop("copy_chain").await;
    let dir = TempDir::new("copy-chain");
    let file = dir.path().join("0042_orders_status_idx.sql");
    std::fs::write(
        &file,
        "CREATE INDEX orders_status_idx ON app.orders (status);\n",
    )
    .unwrap();
    let rollback = dir.path().join("0042_orders_status_idx_rollback.sql");
    std::fs::write(&rollback, "DROP INDEX app.orders_status_idx;\n").unwrap();
    let chain = MigrationChain::load(&[file]).unwrap();
    let ws = Workspace::open(Some(&home.url()), Scale::Tiny, 7, &chain, &Reporter::Quiet)
        .await
        .unwrap();
    let index = "SELECT count(*) FROM pg_class WHERE relname = 'orders_status_idx'";
    for applied_on_source in [false, true] {
        if applied_on_source {
            let c = source.connect().await.unwrap();
            c.batch_execute("CREATE INDEX orders_status_idx ON app.orders (status)")
                .await
                .unwrap();
        }
        for (stage, want) in [(Stage::After, 1), (Stage::Before, 0)] {
            let s = Scratch::create(&ws, &chain, stage, &Reporter::Quiet, dir.path())
                .await
                .unwrap();
            let c = s.db.connect().await.unwrap();
            assert_eq!(scalar(&c, "SELECT count(*) FROM app.orders").await, 12000);
            let seeded = "SELECT count(*) FROM pg_class WHERE relname IN ('User', 'Conversation', 'Message')";
            assert_eq!(scalar(&c, seeded).await, 0);
            assert_eq!(
                scalar(&c, index).await,
                want,
                "{stage:?}, applied on the source: {applied_on_source}"
            );
            drop(c);
            s.drop_now().await.unwrap();
            let c = source.connect().await.unwrap();
            assert_eq!(scalar(&c, index).await, i64::from(applied_on_source));
        }
    }
    assert_eq!(scratch_databases(&home).await, 0);

    // Applied on the source and no rollback file: refused before any copy.
    std::fs::remove_file(&rollback).unwrap();
    let chain = MigrationChain::load(&[dir.path().join("0042_orders_status_idx.sql")]).unwrap();
    let e = Scratch::create(&ws, &chain, Stage::Before, &Reporter::Quiet, dir.path())
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("has no rollback file"), "{e}");
    assert_eq!(scratch_databases(&home).await, 0);
}

/// Every value of a personal column of the source, as text.
async fn personal_values(db: &Endpoint) -> std::collections::BTreeSet<String> {
    let c = db.connect().await.unwrap();
    let sql = "SELECT email::text FROM app.customers UNION SELECT name FROM app.customers WHERE name IS NOT NULL
               UNION SELECT name FROM app.tenants";
    let rows = c.query(sql, &[]).await.unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// Rows read from the source's tables, by scan counters.
async fn tuples_read(db: &Endpoint) -> i64 {
    let c = db.connect().await.unwrap();
    // The counters reach pg_stat_user_tables when a session ends or at
    // the next report; this session reads them fresh.
    c.batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .unwrap();
    scalar(
        &c,
        "SELECT (coalesce(sum(seq_tup_read), 0) + coalesce(sum(idx_tup_fetch), 0))::bigint FROM pg_stat_user_tables WHERE schemaname = 'app'",
    )
    .await
}

#[tokio::test]
async fn a_synth_copy_has_the_sources_schema_and_shape_and_none_of_its_rows() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (home, source) = shop("copy_synth").await;
    let accounts = TempDir::new("copy-synth");
    source
        .connect()
        .await
        .unwrap()
        .batch_execute("ANALYZE")
        .await
        .unwrap();
    // Arrays cannot be generated yet: refused before anything is made.
    let opts = CopyOptions::new(Data::Synth, None, None).unwrap();
    let e = Scratch::copy_of(&source, &opts, &Reporter::Quiet, &accounts)
        .await
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(
        text.contains("app.customers.tags") && text.contains("--data copy") && !text.contains('\n'),
        "{text}"
    );
    assert_eq!(scratch_databases(&home).await, 0);
    let c = source.connect().await.unwrap();
    c.batch_execute("ALTER TABLE app.customers DROP COLUMN tags, DROP COLUMN statuses")
        .await
        .unwrap();
    // A foreign key of several columns is not generated: refused too.
    let e = Scratch::copy_of(&source, &opts, &Reporter::Quiet, &accounts)
        .await
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(
        text.contains("app.orders's foreign key FOREIGN KEY (tenant_id, customer_id)")
            && !text.contains('\n'),
        "{text}"
    );
    assert_eq!(scratch_databases(&home).await, 0);
    // Without it, the copy is made; the composite primary key
    // (tenant_id, id) holds in the generated rows.
    c.batch_execute(
        "ALTER TABLE app.orders DROP CONSTRAINT orders_tenant_id_customer_id_fkey; ANALYZE",
    )
    .await
    .unwrap();
    drop(c);
    let (schema_before, rows_before) = (catalog(&source).await, rows(&source).await);
    let personal = personal_values(&source).await;
    assert!(personal.len() > 3000, "{} personal values", personal.len());
    // Let the counters of the reads above settle before taking them.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let read_before = tuples_read(&source).await;

    let s = Scratch::copy_of(&source, &opts, &Reporter::Quiet, &accounts)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(
        tuples_read(&source).await,
        read_before,
        "synth mode read rows of the source"
    );
    // The same schema; the sequence's position is not carried over.
    let no_seq = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|l| !l.starts_with("sequence "))
            .collect()
    };
    assert_eq!(no_seq(catalog(&s.db).await), no_seq(schema_before));
    let c = s.db.connect().await.unwrap();
    for (i, t) in TABLES.iter().enumerate() {
        let n = scalar(&c, &format!("SELECT count(*) FROM {t}")).await as f64;
        let share = n / rows_before[i].0 as f64;
        assert!(
            (0.9..=1.1).contains(&share),
            "{t}: {n} rows, {share:.3} of the source's"
        );
    }
    // The generated rows are not the source's, and carry none of its
    // e-mails or names.
    let synth = personal_values(&s.db).await;
    let leaked: Vec<&String> = synth.intersection(&personal).collect();
    assert!(
        leaked.is_empty(),
        "{} values leaked: {:?}",
        leaked.len(),
        &leaked[..leaked.len().min(5)]
    );
    assert_ne!(rows(&s.db).await, rows_before);
    // The shape is the source's: the order statuses' shares.
    let shares = "SELECT string_agg(status || '=' || round(share, 2), ' ' ORDER BY status) FROM (SELECT status, count(*) / sum(count(*)) OVER () AS share FROM app.orders GROUP BY 1) x";
    let src: String = source
        .connect()
        .await
        .unwrap()
        .query_one(shares, &[])
        .await
        .unwrap()
        .get(0);
    let got: String = c.query_one(shares, &[]).await.unwrap().get(0);
    assert_eq!(got, src, "status shares");
    drop(c);

    s.drop_now().await.unwrap();
    assert_eq!(scratch_databases(&home).await, 0);
    assert_eq!(rows(&source).await, rows_before, "the source's rows");
}
