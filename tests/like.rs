//! `seed --like` against the real server: the help-desk model's own tiny
//! database is the source; the target is filled from its catalog and
//! `pg_stats` only. The source's tables are never scanned, no personal
//! value (e-mail, name, title, message body) crosses over, the model's
//! shares come back within tolerance, the catalogue's reads plan alike on
//! both, the same seed gives the same rows
//! whatever the threads, `--redact` generates a kept column, and a table
//! never analysed is refused by name before anything is created. Check
//! constraints hold (or, spanning columns drawn independently, are made
//! `NOT VALID` and named), sequences continue past the generated keys,
//! timestamps keep their precision, and columns an extended statistics
//! object covers keep their combinations.

pub mod common;

use std::collections::BTreeSet;

use common::{scalar, seeded_tiny, TestDb};
use helpdesk_bench::cluster::Endpoint;
use helpdesk_bench::like::{self, LikeOptions};
use helpdesk_bench::queries::Catalogue;
use helpdesk_bench::schema::Catalog;
use helpdesk_bench::seed::Reporter;

fn options(scale: f64, jobs: usize) -> LikeOptions {
    LikeOptions {
        scale,
        seed: 7,
        jobs,
        redact: Vec::new(),
    }
}

/// Sequential and index scans of the source's tables, once the server has
/// the counts of every session that ended.
async fn scans(db: &Endpoint) -> Vec<(String, i64)> {
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let c = db.connect().await.unwrap();
    c.batch_execute("SELECT pg_stat_force_next_flush(); SELECT pg_stat_clear_snapshot()")
        .await
        .unwrap();
    let rows = c
        .query(
            "SELECT relname::text, seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// Every value of every text column of the public tables.
async fn text_values(db: &Endpoint) -> BTreeSet<String> {
    let c = db.connect().await.unwrap();
    let cols = c
        .query(
            "SELECT format('%I.%I', table_name, column_name) FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')",
            &[],
        )
        .await
        .unwrap();
    let mut out = BTreeSet::new();
    for col in cols {
        let qualified: String = col.get(0);
        let (t, c2) = qualified.split_once('.').unwrap();
        let sql = format!("SELECT DISTINCT {c2}::text FROM public.{t} WHERE {c2} IS NOT NULL");
        for r in c.query(&sql, &[]).await.unwrap() {
            out.insert(r.get::<_, String>(0));
        }
    }
    out
}

/// The personal values of the help-desk model.
async fn personal(db: &Endpoint) -> BTreeSet<String> {
    let c = db.connect().await.unwrap();
    let sql = r#"SELECT email FROM "User" UNION SELECT name FROM "User" WHERE name IS NOT NULL
        UNION SELECT "customerEmail" FROM "Conversation" WHERE "customerEmail" IS NOT NULL
        UNION SELECT title FROM "Conversation" WHERE title IS NOT NULL
        UNION SELECT content FROM "Message""#;
    let rows = c.query(sql, &[]).await.unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// Each status's share of conversations.
async fn status_shares(db: &Endpoint) -> Vec<(String, f64)> {
    let c = db.connect().await.unwrap();
    let sql = r#"SELECT status::text, count(*)::float8 / sum(count(*)) OVER () FROM "Conversation" GROUP BY 1 ORDER BY 1"#;
    let rows = c.query(sql, &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// An md5 of every table's rows in physical order.
async fn rows_md5(db: &Endpoint) -> Vec<String> {
    let c = db.connect().await.unwrap();
    let mut out = Vec::new();
    for t in ["User", "Conversation", "Message"] {
        let sql = format!(r#"SELECT md5(string_agg(x::text, '|' ORDER BY ctid)) FROM "{t}" x"#);
        out.push(c.query_one(&sql, &[]).await.unwrap().get(0));
    }
    out
}

#[tokio::test]
async fn a_like_copy_never_scans_the_source_carries_nothing_personal_and_keeps_its_shape() {
    let source = seeded_tiny("like_source").await;
    let src = &source.endpoint;
    let before = scans(src).await;
    let target = TestDb::new("like_target").await;
    let report = like::run(src, &target.endpoint, &options(1.0, 2), &Reporter::quiet())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scans(src).await, before, "the source's tables were scanned");

    let leaked: Vec<String> = personal(src)
        .await
        .intersection(&text_values(&target.endpoint).await)
        .cloned()
        .collect();
    assert!(
        leaked.is_empty(),
        "{} source values in the target: {:?}",
        leaked.len(),
        &leaked[..leaked.len().min(5)]
    );

    let (ok, all) = report.fidelity.within();
    assert!(all >= 20, "{}", report.fidelity);
    assert!(ok * 10 >= all * 9, "{}", report.fidelity);

    let catalogue = Catalogue::repository().unwrap();
    let plans = like::plans::compare(src, &target.endpoint, &catalogue, &report.stand_ins)
        .await
        .unwrap();
    let (agree, explained) = plans.agreeing();
    assert!(explained >= 25 && plans.skipped == 0, "{plans}");
    assert!(agree * 10 >= explained * 9, "{plans}");

    let (want, got) = (
        status_shares(src).await,
        status_shares(&target.endpoint).await,
    );
    assert_eq!(want.len(), got.len(), "{want:?} {got:?}");
    for ((s, w), (t, g)) in want.iter().zip(&got) {
        assert_eq!(s, t);
        assert!(
            (w - g).abs() <= 0.02,
            "{s}: {w:.3} in the source, {g:.3} in the target"
        );
    }
    let c = target.endpoint.connect().await.unwrap();
    let orphan = r#"INSERT INTO "Message" (id, "conversationId", role, content, "createdAt") VALUES ('x', 'none', 'user', 'x', now())"#;
    assert_eq!(
        c.batch_execute(orphan)
            .await
            .unwrap_err()
            .code()
            .unwrap()
            .code(),
        "23503"
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_rows_whatever_the_threads_and_at_three_times_the_rows() {
    let source = seeded_tiny("like_det_source").await;
    let (a, b) = (
        TestDb::new("like_det_a").await,
        TestDb::new("like_det_b").await,
    );
    let quiet = Reporter::quiet();
    let ra = like::run(&source.endpoint, &a.endpoint, &options(3.0, 1), &quiet)
        .await
        .unwrap();
    like::run(&source.endpoint, &b.endpoint, &options(3.0, 2), &quiet)
        .await
        .unwrap();
    assert_eq!(rows_md5(&a.endpoint).await, rows_md5(&b.endpoint).await);
    let c = a.endpoint.connect().await.unwrap();
    let s = source.endpoint.connect().await.unwrap();
    let count = r#"SELECT count(*) FROM "Message""#;
    assert_eq!(scalar(&c, count).await, 3 * scalar(&s, count).await);
    let (ok, all) = ra.fidelity.within();
    assert!(ok * 10 >= all * 9, "{}", ra.fidelity);
}

#[tokio::test]
async fn redact_generates_a_kept_column() {
    let source = seeded_tiny("like_redact_source").await;
    let target = TestDb::new("like_redact_target").await;
    let mut opts = options(1.0, 2);
    opts.redact = vec!["Conversation.model".into()];
    like::run(
        &source.endpoint,
        &target.endpoint,
        &opts,
        &Reporter::quiet(),
    )
    .await
    .unwrap();
    let models = r#"SELECT count(*) FROM "Conversation" WHERE model IN (SELECT unnest(most_common_vals::text::text[]) FROM pg_stats WHERE attname = 'model')"#;
    let s = source.endpoint.connect().await.unwrap();
    assert!(
        scalar(&s, models).await > 1000,
        "the source's models are its most common values"
    );
    let kept = r#"SELECT string_agg(DISTINCT model, ',') FROM "Conversation""#;
    let source_models: String = s.query_one(kept, &[]).await.unwrap().get(0);
    let c = target.endpoint.connect().await.unwrap();
    for m in source_models.split(',') {
        let n = scalar(
            &c,
            &format!(r#"SELECT count(*) FROM "Conversation" WHERE model = '{m}'"#),
        )
        .await;
        assert_eq!(n, 0, "{m} crossed over despite --redact");
    }
}

#[tokio::test]
async fn a_table_never_analysed_is_refused_by_name_and_nothing_is_created() {
    let source = TestDb::new("like_unanalysed").await;
    let s = source.endpoint.connect().await.unwrap();
    s.batch_execute(
        "CREATE TABLE seen (id int PRIMARY KEY); INSERT INTO seen SELECT generate_series(1, 10); ANALYZE seen;
         CREATE TABLE unseen (id int) WITH (autovacuum_enabled = false); INSERT INTO unseen SELECT generate_series(1, 10);",
    )
    .await
    .unwrap();
    let target = TestDb::new("like_unanalysed_target").await;
    let err = like::run(
        &source.endpoint,
        &target.endpoint,
        &options(1.0, 1),
        &Reporter::quiet(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("public.unseen never analysed"), "{err}");
    assert!(!err.contains("public.seen,"), "{err}");
    let never = "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'unseen' AND last_analyze IS NULL AND last_autoanalyze IS NULL";
    assert_eq!(scalar(&s, never).await, 1, "the source was analysed");
    let t = target.endpoint.connect().await.unwrap();
    assert_eq!(
        scalar(
            &t,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
        .await,
        0
    );
}

/// `--measure-ceiling` (embedded target): the same rows loaded again by
/// the server's own `COPY FROM` a file, several times (the median is the
/// ceiling), a line per table and one for all, each with the seed's share
/// of the ceiling.
#[test]
fn the_ingest_ceiling_is_measured_on_the_same_generated_rows() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let source = rt.block_on(seeded_tiny("like_ceiling_source"));
    let out = common::run(&[
        "seed",
        "--quiet",
        "--like",
        &source.url(),
        "--measure-ceiling",
    ]);
    let text = common::stdout(&out);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        text.contains("ceiling: the server's own COPY FROM a file of the same rows"),
        "{text}"
    );
    // Each of a tiny seed's tables loads in milliseconds: the most loads,
    // and their median.
    assert!(text.contains("the median of 9 loads per table"), "{text}");
    for table in [
        "public.\"User\"",
        "public.\"Conversation\"",
        "public.\"Message\"",
        "all tables",
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(table))
            .unwrap_or_else(|| panic!("no ceiling line for {table}: {text}"));
        let ratio: f64 = line
            .trim_end()
            .trim_end_matches('%')
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(ratio > 0.0, "{line}");
    }
}

#[test]
fn the_command_prints_the_fidelity_table_and_its_summary() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        (
            seeded_tiny("like_cli_source").await,
            TestDb::new("like_cli_target").await,
        )
    });
    let out = common::run(&[
        "seed",
        "--quiet",
        "--like",
        &source.url(),
        "--url",
        &target.url(),
        "--scale-factor",
        "0.5",
    ]);
    let text = common::stdout(&out);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(text.contains("(scale factor 0.5, seed 1)"), "{text}");
    assert!(text.contains("Conversation.status"), "{text}");
    assert!(text.contains("% of columns within tolerance"), "{text}");
    // The target now holds tables: a second fill is refused before any
    // read, as is the source named as its own target.
    for to in [target.url(), source.url()] {
        let again = common::run(&["seed", "--like", &source.url(), "--url", &to]);
        let err = common::stderr(&again);
        assert_eq!(again.status.code(), Some(2), "{err}");
        assert!(
            err.contains("seed --like fills an empty database") && err.lines().count() == 1,
            "{err}"
        );
    }
    // A catalogue for the plan comparison that cannot be read stops the
    // command before anything is filled.
    let empty = rt.block_on(TestDb::new("like_cli_no_catalogue"));
    let bad = common::run(&[
        "seed",
        "--like",
        &source.url(),
        "--url",
        &empty.url(),
        "--catalogue",
        "/nonexistent/queries.toml",
    ]);
    let err = common::stderr(&bad);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/nonexistent/queries.toml") && err.lines().count() == 1,
        "{err}"
    );
    let tables = rt.block_on(async {
        let c = empty.endpoint.connect().await.unwrap();
        scalar(
            &c,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        )
        .await
    });
    assert_eq!(tables, 0, "nothing filled");
    let alone = common::run(&["seed", "--scale-factor", "2"]);
    assert!(!alone.status.success());
    assert!(
        common::stderr(&alone).contains("add --like or drop them"),
        "{}",
        common::stderr(&alone)
    );
}

/// A shop's line items: an `IN` list, ranges, a length, a check across two
/// columns, a `bigserial` key, and one `now()` shared by every row to the
/// microsecond.
const CHECKED: &str = "CREATE TABLE item (
    id bigserial PRIMARY KEY,
    status text NOT NULL CHECK (status IN ('new', 'paid', 'shipped', 'done')),
    qty int NOT NULL CHECK (qty BETWEEN 1 AND 100),
    price numeric(10, 2) CHECK (price > 0),
    code text CHECK (char_length(code) = 8),
    starts date NOT NULL, ends date NOT NULL, CONSTRAINT item_dates CHECK (ends >= starts),
    created_at timestamptz NOT NULL DEFAULT now());
  INSERT INTO item (status, qty, price, code, starts, ends)
  SELECT (ARRAY['new', 'paid', 'shipped', 'done'])[1 + g % 4], 1 + g * 7 % 100, 0.01 + g % 500,
         lpad(to_hex(g), 8, '0'), date '2024-01-01' + g % 300, date '2024-01-01' + g % 300 + g % 20
    FROM generate_series(1, 20000) g;
  ANALYZE item;";

/// A source database `name` made by `sql`, and an empty target filled like
/// it at scale 1.
async fn like_of(name: &str, sql: &str) -> (TestDb, TestDb, like::LikeReport) {
    like_after(name, &[sql]).await
}

/// [`like_of`] a source made by `steps`, each run on its own (a `VACUUM`
/// cannot share a batch).
async fn like_after(name: &str, steps: &[&str]) -> (TestDb, TestDb, like::LikeReport) {
    let source = TestDb::new(name).await;
    let s = source.endpoint.connect().await.unwrap();
    for sql in steps {
        s.batch_execute(sql).await.unwrap();
    }
    let target = TestDb::new(&format!("{name}_target")).await;
    let report = like::run(
        &source.endpoint,
        &target.endpoint,
        &options(1.0, 2),
        &Reporter::quiet(),
    )
    .await
    .unwrap();
    (source, target, report)
}

/// 24 cities, each in one of 6 countries, skewed; a city NULL in 5% of
/// rows (then no country either); an extended statistics object on both.
const CORRELATED: &str =
    "CREATE TABLE address (id bigserial PRIMARY KEY, city text, country text, note text);
  INSERT INTO address (city, country, note)
  SELECT CASE WHEN g % 20 = 0 THEN NULL ELSE 'city' || c END,
         CASE WHEN g % 20 = 0 THEN NULL ELSE 'country' || (c % 6) END,
         md5(g::text)
    FROM generate_series(1, 30000) g, LATERAL (SELECT (g * g) % 97 % 24 AS c) x;
  CREATE STATISTICS address_geo (mcv) ON city, country FROM address;
  ANALYZE address;";

/// Rows whose city and country the source never pairs, in `db`.
const MISPAIRED: &str = "SELECT count(*) FROM address
    WHERE city IS NOT NULL AND country IS DISTINCT FROM 'country' || (substr(city, 5)::int % 6)";

#[tokio::test]
async fn columns_of_an_extended_statistics_object_keep_their_combinations() {
    let (source, target, report) = like_of("like_joint", CORRELATED).await;
    let s = source.endpoint.connect().await.unwrap();
    assert_eq!(scalar(&s, MISPAIRED).await, 0);
    let t = target.endpoint.connect().await.unwrap();
    // The object is recreated, so ANALYZE on the target gathered it.
    assert_eq!(
        scalar(&t, "SELECT count(*) FROM pg_stats_ext WHERE statistics_name = 'address_geo' AND most_common_vals IS NOT NULL").await,
        1
    );
    let fit = &report.fidelity.joint;
    assert_eq!(fit.len(), 1, "{}", report.fidelity);
    assert!(fit[0].within(), "{}", report.fidelity);
    // Independent draws would pair most cities with the wrong country.
    assert!(fit[0].independent > 0.5, "{}", report.fidelity);
    assert!(fit[0].l1 < fit[0].independent / 5.0, "{}", report.fidelity);
    let mispaired = scalar(&t, MISPAIRED).await as f64 / 30000.0;
    assert!(mispaired < 0.02, "{mispaired} of the rows mispaired");
    // Each column's own statistics still come back.
    let geo = ["address.city", "address.country"];
    for c in report
        .fidelity
        .columns
        .iter()
        .filter(|c| geo.contains(&c.column.as_str()))
    {
        assert!(c.misses().is_empty(), "{}", report.fidelity);
    }
    assert!(report
        .fidelity
        .to_string()
        .contains("statistics public.address_geo (city, country)"));
}

/// Twelve customers' e-mail addresses, each always on one plan, with an
/// extended statistics object on both: the object's combinations are
/// real values too.
const PERSONAL_PAIRS: &str =
    "CREATE TABLE account (id bigserial PRIMARY KEY, contact_email text, plan text);
  INSERT INTO account (contact_email, plan)
  SELECT 'person' || c || '@private.example', CASE WHEN c % 3 = 0 THEN 'pro' ELSE 'free' END
    FROM generate_series(1, 20000) g, LATERAL (SELECT (g * g) % 89 % 12 AS c) x;
  CREATE STATISTICS account_who (mcv) ON contact_email, plan FROM account;
  ANALYZE account;";

/// A personal-looking column inside a statistics object: its values are
/// generated (no source address reaches the target), and the object's
/// combinations are kept with the stand-ins: each generated address is
/// on one plan, as each real one was.
#[tokio::test]
async fn a_personal_column_in_a_statistics_object_pairs_with_its_stand_ins() {
    let (_source, target, report) = like_of("like_personal_pairs", PERSONAL_PAIRS).await;
    let t = target.endpoint.connect().await.unwrap();
    let copied = "SELECT count(*) FROM account WHERE contact_email LIKE '%private.example%' \
                  OR contact_email LIKE 'person%'";
    assert_eq!(scalar(&t, copied).await, 0);
    let stats = "SELECT count(*) FROM pg_stats WHERE tablename = 'account' \
                 AND most_common_vals::text LIKE '%private.example%'";
    assert_eq!(scalar(&t, stats).await, 0);
    let addresses = "SELECT count(DISTINCT contact_email) FROM account";
    assert!(scalar(&t, addresses).await >= 10);
    let split = "SELECT count(*) FROM (SELECT contact_email FROM account \
                 GROUP BY 1 HAVING count(DISTINCT plan) > 1) s";
    assert_eq!(scalar(&t, split).await, 0, "{}", report.fidelity);
    let fit = &report.fidelity.joint;
    assert_eq!(fit.len(), 1, "{}", report.fidelity);
    assert!(fit[0].within(), "{}", report.fidelity);
}

#[tokio::test]
async fn checks_hold_sequences_continue_and_timestamps_keep_their_microseconds() {
    let (source, target, report) = like_of("like_checked", CHECKED).await;
    let s = source.endpoint.connect().await.unwrap();
    // Drawn independently, ends falls before starts in some rows: the
    // check spanning them is made NOT VALID and named; the others hold.
    assert_eq!(report.filled.not_valid, vec!["item_dates on public.item"]);
    let t = target.endpoint.connect().await.unwrap();
    let validated = "SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint
                      WHERE conrelid = 'item'::regclass AND contype = 'c' AND convalidated";
    let held: String = t.query_one(validated, &[]).await.unwrap().get(0);
    assert_eq!(
        held,
        "item_code_check,item_price_check,item_qty_check,item_status_check"
    );
    // The next INSERT takes a free key.
    assert_eq!(report.filled.sequences, 1);
    let next = "INSERT INTO item (status, qty, starts, ends) VALUES ('new', 1, '2024-01-01', '2024-01-02') RETURNING id";
    let id: i64 = t.query_one(next, &[]).await.unwrap().get(0);
    assert_eq!(id, scalar(&t, "SELECT max(id) FROM item").await);
    assert!(id > 20000, "{id}");
    // The one created_at, to the microsecond.
    let when = "SELECT most_common_vals::text FROM pg_stats WHERE tablename = 'item' AND attname = 'created_at'";
    let a: String = s.query_one(when, &[]).await.unwrap().get(0);
    let b: String = t.query_one(when, &[]).await.unwrap().get(0);
    assert_eq!(a, b);
}

/// A reader who may not see everything: a column without the `SELECT`
/// privilege and a table under row-level security have no `pg_stats` rows
/// for that reader. They are named as hidden and generated without
/// statistics, not refused as never analysed, and nothing of them crosses.
#[tokio::test]
async fn columns_and_tables_hidden_from_the_reader_are_named_and_generated() {
    let source = TestDb::new("like_hidden").await;
    let s = source.endpoint.connect().await.unwrap();
    let role = format!("like_reader_{}", std::process::id());
    s.batch_execute(&format!(
        "CREATE TABLE account (id int PRIMARY KEY, plan text NOT NULL, secret text NOT NULL);
         INSERT INTO account SELECT g, (ARRAY['free', 'pro'])[1 + g % 2], 'secret-' || md5(g::text)
           FROM generate_series(1, 3000) g;
         CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL);
         INSERT INTO note SELECT g, 'private note ' || g FROM generate_series(1, 2000) g;
         ALTER TABLE note ENABLE ROW LEVEL SECURITY;
         ANALYZE;
         DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN;
         GRANT SELECT (id, plan) ON account TO {role}; GRANT SELECT ON note TO {role};"
    ))
    .await
    .unwrap();
    let mut config = source.endpoint.config().clone();
    config.user(&role);
    let reader = match source.endpoint.is_embedded() {
        true => Endpoint::embedded(config),
        false => Endpoint::from_config(config),
    }
    .unwrap();
    let target = TestDb::new("like_hidden_target").await;
    let report = like::run(
        &reader,
        &target.endpoint,
        &options(1.0, 1),
        &Reporter::quiet(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.hidden,
        vec![
            "account.secret (no SELECT privilege)",
            "note.body (row-level security)",
            "note.id (row-level security)",
        ]
    );
    let t = target.endpoint.connect().await.unwrap();
    assert_eq!(scalar(&t, "SELECT count(*) FROM note").await, 2000);
    assert_eq!(
        scalar(&t, "SELECT count(DISTINCT secret) FROM account").await,
        3000,
        "every value distinct"
    );
    let crossed = "SELECT count(*) FROM account WHERE secret LIKE 'secret-%'";
    assert_eq!(scalar(&t, crossed).await, 0);
    let crossed = "SELECT count(*) FROM note WHERE body LIKE 'private note%'";
    assert_eq!(scalar(&t, crossed).await, 0);
    // The visible column keeps its shares.
    let pro = "SELECT count(*) FROM account WHERE plan = 'pro'";
    assert!((1400..=1600).contains(&scalar(&t, pro).await));
    s.batch_execute(&format!(
        "REVOKE ALL ON account, note FROM {role}; DROP ROLE {role}"
    ))
    .await
    .unwrap();
}

/// Range partitions: the partitioned table is made with its key, each
/// partition `PARTITION OF` it with its bounds, and each partition's rows
/// generated from its own statistics (inside its bounds) and loaded by
/// `COPY … FREEZE` into it; indexes and keys made on the partitioned table
/// reach the partitions as on the source. The target's catalog is the
/// source's. Hash partitioning is refused in one line.
#[tokio::test]
async fn range_partitions_are_recreated_and_each_filled_from_its_own_statistics() {
    let source = TestDb::new("like_partitions").await;
    let s = source.endpoint.connect().await.unwrap();
    s.batch_execute(
        "CREATE TABLE tenant (id int PRIMARY KEY, plan text NOT NULL);
         INSERT INTO tenant SELECT g, (ARRAY['free', 'pro'])[1 + g % 2] FROM generate_series(1, 50) g;
         CREATE TABLE event (id bigserial, tenant_id int NOT NULL REFERENCES tenant (id),
                             kind text NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (id, at))
             PARTITION BY RANGE (at);
         CREATE TABLE event_2024_01 PARTITION OF event FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
         CREATE TABLE event_2024_02 PARTITION OF event FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
         CREATE INDEX event_tenant_at_idx ON event (tenant_id, at);
         INSERT INTO event (tenant_id, kind, at)
         SELECT 1 + g % 50, (ARRAY['view', 'click'])[1 + g % 2],
                timestamptz '2024-01-01' + (g % 59) * interval '1 day' + (g % 86400) * interval '1 second'
           FROM generate_series(1, 30000) g;
         ANALYZE;",
    )
    .await
    .unwrap();
    let target = TestDb::new("like_partitions_target").await;
    like::run(
        &source.endpoint,
        &target.endpoint,
        &options(1.0, 2),
        &Reporter::quiet(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let t = target.endpoint.connect().await.unwrap();
    let diff = Catalog::snapshot(&s)
        .await
        .unwrap()
        .diff(&Catalog::snapshot(&t).await.unwrap());
    assert!(diff.is_empty(), "{diff:#?}");
    for leaf in ["event_2024_01", "event_2024_02"] {
        let count = format!("SELECT count(*) FROM {leaf}");
        let (a, b) = (scalar(&s, &count).await, scalar(&t, &count).await);
        assert!(
            (b - a).abs() * 10 < a,
            "{leaf}: {a} rows on the source, {b} here"
        );
    }
    // Hash partitions: refused, naming the table, before anything is made.
    s.batch_execute("CREATE TABLE h (id int) PARTITION BY HASH (id); ANALYZE h")
        .await
        .unwrap();
    let again = TestDb::new("like_partitions_hash").await;
    let err = like::run(
        &source.endpoint,
        &again.endpoint,
        &options(1.0, 1),
        &Reporter::quiet(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("hash-partitioned table h") && !err.contains('\n'),
        "{err}"
    );
}

/// An index that grew by page splits and kept its pages through deletes
/// (the source's `(site, at)`), next to a newer, compact one on the same
/// leading columns: the source plans with the newer one, which a fresh
/// build of both would not. The target's is rebuilt to the source's pages
/// per row, and plans as the source does.
const BLOATED: [&str; 3] = [
    "CREATE TABLE event (id bigint PRIMARY KEY, site int NOT NULL, at timestamptz NOT NULL, name text NOT NULL);
  CREATE INDEX event_site_at_idx ON event (site, at);
  INSERT INTO event SELECT g, g * 7919 % 20, timestamptz '2024-01-01' + (g * 7919 % 100000) * interval '1 minute', 'e' || g % 5
    FROM generate_series(1, 100000) g;
  DELETE FROM event WHERE id % 2 = 0;",
    "VACUUM event",
    "CREATE INDEX event_site_at_name_idx ON event (site, at, name); ANALYZE event;",
];

#[tokio::test]
async fn an_index_bloated_in_the_source_is_rebuilt_to_its_size_and_plans_alike() {
    let (source, target, report) = like_after("like_bloated", &BLOATED).await;
    let (s, t) = (
        source.endpoint.connect().await.unwrap(),
        target.endpoint.connect().await.unwrap(),
    );
    let query = "EXPLAIN SELECT count(*) FROM event WHERE site = 3 AND at >= '2024-02-01'";
    let plan = |rows: Vec<tokio_postgres::Row>| {
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let on_source = plan(s.query(query, &[]).await.unwrap());
    assert!(on_source.contains("event_site_at_name_idx"), "{on_source}");
    let on_target = plan(t.query(query, &[]).await.unwrap());
    assert!(on_target.contains("event_site_at_name_idx"), "{on_target}");
    let resized = report
        .resized
        .iter()
        .find(|r| r.name == "public.event_site_at_idx")
        .unwrap_or_else(|| panic!("not rebuilt: {:?}", report.resized));
    assert!(resized.source > resized.built * 1.5, "{resized:?}");
    assert!(
        (resized.rebuilt / resized.source - 1.0).abs() < 0.15,
        "{resized:?}"
    );
    let per_row = "SELECT pg_relation_size('event_site_at_idx')::float8 / 8192 / reltuples::float8
                     FROM pg_class WHERE relname = 'event_site_at_idx'";
    let (a, b): (f64, f64) = (
        s.query_one(per_row, &[]).await.unwrap().get(0),
        t.query_one(per_row, &[]).await.unwrap().get(0),
    );
    assert!(
        (b / a - 1.0).abs() < 0.15,
        "source {a}, target {b} pages per row"
    );
    // The compact index is left as built.
    assert!(report.resized.iter().all(|r| !r.name.contains("name_idx")));
}
