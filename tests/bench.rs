//! The benchmark pipeline's parts against a real PostgreSQL: index states,
//! plan assertions, index costs, and leaving a user's database alone.

pub mod common;

use std::process::{Command, Output};

use common::{run, seed_config, seeded, seeded_tiny, stderr, stdout, TempDir, TestDb};
use helpdesk_bench::explain::{explain_all, ExplainOptions};
use helpdesk_bench::measure::{ablation, index_costs, CostOptions, ABLATION_ROUNDS};
use helpdesk_bench::queries::Catalogue;
use helpdesk_bench::schema::{present_indexes, set_state, Catalog, IndexState, Migration};
use helpdesk_bench::seed::Counts;

#[tokio::test]
async fn index_states_really_change_the_catalog() {
    let db = seeded_tiny("states").await;
    let c = db.endpoint.connect().await.unwrap();
    let m = Migration::builtin().unwrap();
    let index_lines = |cat: &Catalog| {
        cat.lines
            .iter()
            .filter(|l| {
                m.indexes()
                    .iter()
                    .any(|i| l.contains(&format!("\"{}\"", i.name)))
            })
            .count()
    };

    set_state(&c, &m, &IndexState::Without).await.unwrap();
    assert!(present_indexes(&c, &m).await.unwrap().is_empty());
    let without = Catalog::snapshot(&c).await.unwrap();
    assert_eq!(index_lines(&without), 0);

    let builds = set_state(&c, &m, &IndexState::With).await.unwrap();
    assert_eq!(builds.len(), 7);
    let with = Catalog::snapshot(&c).await.unwrap();
    assert_eq!(
        index_lines(&with),
        14,
        "relation and definition line per index"
    );

    set_state(&c, &m, &IndexState::LeaveOut("Message_role_idx".into()))
        .await
        .unwrap();
    let present = present_indexes(&c, &m).await.unwrap();
    assert_eq!(present.len(), 6);
    assert!(!present.contains("Message_role_idx"));
    assert_eq!(
        IndexState::LeaveOut("Message_role_idx".into()).id(&m),
        "without_Message_role_idx"
    );
    assert_eq!(IndexState::With.id(&m), "with_012_indexes");
}

/// At 50,000 conversations and 500,000 messages every catalogue query is
/// selective enough that PostgreSQL's default costs prefer the indexes;
/// at `tiny` a sequential scan of a few pages is honestly cheaper.
#[tokio::test]
async fn plans_use_the_expected_indexes_and_none_without_them() {
    let counts = Counts {
        users: 2_000,
        staff: 40,
        conversations: 50_000,
        messages: 500_000,
    };
    let db = seeded("plans", &seed_config(counts, 2)).await;
    // Statistics from every row rather than ANALYZE's random 30,000: the
    // same each run, so a near-tie between two indexes cannot flip.
    db.endpoint
        .connect()
        .await
        .unwrap()
        .batch_execute("SET default_statistics_target = 10000; ANALYZE")
        .await
        .unwrap();
    let m = Migration::builtin().unwrap();
    let catalogue = Catalogue::parse(
        "queries.toml",
        helpdesk_bench::queries::BUILTIN,
        &helpdesk_bench::schema::MigrationChain::builtin().unwrap(),
    )
    .unwrap();
    let out = TempDir::new("plans");
    let run = explain_all(
        &db.endpoint,
        &ExplainOptions {
            catalogue: &catalogue,
            migration: &m,
            only: vec![],
            ablation: false,
            may_change_indexes: true,
            force: false,
            out: out.to_path_buf(),
            plan_cache: helpdesk_bench::explain::PlanCacheMode::Auto,
        },
    )
    .await
    .unwrap();
    assert!(run.violations.is_empty(), "{:#?}", run.violations);
    let names: Vec<String> = m.indexes().iter().map(|i| i.name.clone()).collect();
    for p in run.plans.iter().filter(|p| p.state == IndexState::Without) {
        assert!(
            !p.summary.indexes_used.iter().any(|u| names.contains(u)),
            "{} uses a 012 index while they are dropped",
            p.query
        );
    }
    let transcript = run.plan("transcript", &IndexState::With).unwrap();
    assert_eq!(
        transcript.summary.indexes_used,
        ["Message_conversationId_idx"]
    );
    // The server's JSON is written unchanged, one file per query, state
    // and parameter row, the median row's without a row name.
    let raw = std::fs::read_to_string(out.join("transcript.with_012_indexes.json")).unwrap();
    assert!(raw.trim_start().starts_with('['));
    assert!(raw.contains("\"Index Name\": \"Message_conversationId_idx\""));
    let mains: std::collections::BTreeSet<(String, String)> = run
        .plans
        .iter()
        .filter(|p| p.file.matches('.').count() == 2)
        .map(|p| (p.query.clone(), format!("{:?}", p.state)))
        .collect();
    assert_eq!(mains.len(), 2 * catalogue.reads().count());
    for p in &run.plans {
        assert!(out.join(&p.file).is_file(), "{}", p.file);
        assert!(p.kind.is_some(), "{} says generic or custom", p.file);
    }
}

/// Runs `helpdesk-bench explain` on a test database, with neither
/// `DATABASE_URL` nor the allow-index-changes variable from the environment.
fn explain(db: &TestDb, out: &TempDir, extra: &[&str]) -> Output {
    Command::new(common::bin())
        .args(["explain", "--url", &db.url(), "--out", out.arg()])
        .args(extra)
        .env_remove(helpdesk_bench::cluster::URL_ENV)
        .env_remove(helpdesk_bench::workspace::ALLOW_INDEX_CHANGES_ENV)
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_users_database_keeps_its_indexes_without_the_allow_flag() {
    let db = seeded_tiny("userdb").await;
    let c = db.endpoint.connect().await.unwrap();
    let m = Migration::builtin().unwrap();
    // Half-migrated on purpose: the tool must not "fix" it.
    c.batch_execute(r#"DROP INDEX "Message_role_idx"; DROP INDEX "Conversation_status_idx""#)
        .await
        .unwrap();
    let before = Catalog::snapshot(&c).await.unwrap();
    let out = TempDir::new("userdb");
    let explained = explain(&db, &out, &[]);
    assert!(explained.status.success(), "{}", stderr(&explained));
    assert!(stderr(&explained).contains("indexes left as they are"));
    assert!(
        stdout(&explained).contains("current_schema"),
        "{}",
        stdout(&explained)
    );
    assert_eq!(
        Catalog::snapshot(&c).await.unwrap().diff(&before),
        Vec::<String>::new()
    );
    assert_eq!(present_indexes(&c, &m).await.unwrap().len(), 5);

    // With the flag it compares states, and puts the database back as found.
    let allowed = explain(&db, &out, &["--allow-index-changes"]);
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    assert!(stdout(&allowed).contains("with_012_indexes"));
    assert_eq!(
        Catalog::snapshot(&c).await.unwrap().diff(&before),
        Vec::<String>::new()
    );
}

/// Each leave-one-out cell is timed paired with its own baseline, the drop
/// rolled back after each round: nothing is rebuilt, and the plan seen
/// inside the round is the plan without the index.
#[tokio::test]
async fn leave_one_out_pairs_each_cell_with_its_baseline_and_rebuilds_nothing() {
    let db = seeded_tiny("ablation").await;
    let c = db.endpoint.connect().await.unwrap();
    let m = Migration::builtin().unwrap();
    let catalogue = Catalogue::parse(
        "queries.toml",
        helpdesk_bench::queries::BUILTIN,
        &helpdesk_bench::schema::MigrationChain::builtin().unwrap(),
    )
    .unwrap();
    set_state(&c, &m, &IndexState::With).await.unwrap();
    // At tiny a sequential scan is cheaper; without them the plans would
    // use no index, and no cell would be timed.
    c.batch_execute("SET enable_seqscan = off").await.unwrap();
    let oids = async || {
        c.query(
            "SELECT c.relname::text, c.oid::int8 FROM pg_class c \
             JOIN pg_index i ON i.indexrelid = c.oid \
             WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect::<Vec<_>>()
    };
    let before = oids().await;

    let cells = ablation(&c, &m, &catalogue).await.unwrap();
    assert_eq!(cells.len(), m.indexes().len() * catalogue.reads().count());
    let timed: Vec<_> = cells.iter().filter(|c| c.used).collect();
    assert!(
        timed
            .iter()
            .any(|c| c.query == "transcript" && c.dropped == "Message_conversationId_idx"),
        "{cells:#?}"
    );
    for cell in &timed {
        assert_eq!(cell.rounds, ABLATION_ROUNDS, "{cell:?}");
        let ci = cell.slowdown_ci.expect("every timed cell has its interval");
        assert!(ci.low <= ci.point && ci.point <= ci.high, "{cell:?}");
        assert!(
            (cell.slowdown - cell.median_ms / cell.with_all_ms).abs() < 1e-9,
            "the slowdown is the ratio of the cell's own two medians: {cell:?}"
        );
        assert!(
            cell.plan_changed,
            "a plan that used {} cannot use it once it is dropped: {cell:?}",
            cell.dropped
        );
    }
    for cell in cells.iter().filter(|c| !c.used) {
        assert_eq!((cell.rounds, cell.slowdown_ci), (0, None), "{cell:?}");
    }
    assert_eq!(
        oids().await,
        before,
        "every drop was rolled back: no index was rebuilt"
    );
}

#[tokio::test]
async fn index_costs_are_measured_for_every_index() {
    let db = seeded_tiny("costs").await;
    let c = db.endpoint.connect().await.unwrap();
    let m = Migration::builtin().unwrap();
    let catalogue = Catalogue::parse(
        "queries.toml",
        helpdesk_bench::queries::BUILTIN,
        &helpdesk_bench::schema::MigrationChain::builtin().unwrap(),
    )
    .unwrap();
    let (costs, hot) = index_costs(
        &c,
        &m,
        &catalogue,
        CostOptions {
            inserts: 30,
            updates: 10,
            rounds: 2,
            builds: 1,
        },
    )
    .await
    .unwrap();
    let hot = hot.expect("the lab catalogue's update workload was not found");
    for c in &costs {
        // Both of 012's tables have a catalogue write inserting into them.
        assert_eq!(
            c.insert_workload.as_deref(),
            Some("new_conversation"),
            "{c:?}"
        );
    }
    // With none of 012's indexes, the second and third update of a row find
    // room on its new page and are HOT; with them, status and assignee are
    // indexed and none is.
    assert_eq!(hot.with_all, 0.0);
    assert!(hot.without_all > 0.3, "{hot:?}");
    assert_eq!(costs.len(), 7);
    for cost in &costs {
        assert!(
            cost.size_bytes >= 8192,
            "{}: {} bytes",
            cost.name,
            cost.size_bytes
        );
        assert!(
            cost.build_ms > 0.0 && cost.build_concurrently_ms > 0.0,
            "{cost:?}"
        );
        // An insert of a tiny help desk takes well under a second and more
        // than a microsecond; an index to maintain never makes it twice
        // as fast.
        for rate in [cost.inserts_per_s_with, cost.inserts_per_s_without] {
            assert!((1.0..1e6).contains(&rate), "{rate} inserts/s: {cost:?}");
        }
        // Judged on the interval of the paired rounds' ratio, not on two
        // medians of 30 inserts each a loaded machine can stall.
        let ratio = cost.insert_time_ratio.as_ref().expect("timed in rounds");
        assert!(
            ratio.low <= ratio.point && ratio.point <= ratio.high && ratio.high > 0.5,
            "{cost:?}"
        );
        // A conversation with its first messages writes some hundreds of
        // bytes to some kilobytes of WAL (the message text varies, so one
        // small index's share is within that noise).
        for wal in [
            cost.wal_bytes_per_insert_with,
            cost.wal_bytes_per_insert_without,
        ] {
            assert!((100.0..1e6).contains(&wal), "{wal} WAL bytes: {cost:?}");
        }
        assert_eq!(cost.hot_ratio_with.is_some(), cost.table == "Conversation");
    }
    // Alone, each index costs exactly the updates of the columns it covers:
    // the workload updates status, then assignee, then status again.
    let alone = |name: &str| {
        costs
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.hot_alone)
            .unwrap_or_else(|| panic!("no HOT share for {name} alone"))
    };
    assert_eq!(alone("Conversation_status_assignedTo_idx").high, 0.0);
    let status = alone("Conversation_status_idx").point;
    assert!((status - 1.0 / 3.0).abs() < 0.05, "status alone: {status}");
    let email = alone("Conversation_customerEmail_idx").point;
    assert!(
        (email - hot.without_all).abs() < 0.1,
        "the e-mail index costs no HOT update: {email} vs {}",
        hot.without_all
    );
    for cost in &costs {
        let ratio = cost.insert_time_ratio.unwrap();
        assert!(
            ratio.low <= ratio.point && ratio.point <= ratio.high,
            "{cost:?}"
        );
        let build = cost.build.unwrap();
        assert!(
            build.low <= build.point && build.point <= build.high && build.low > 0.0,
            "the build time's interval holds its median: {cost:?}"
        );
        let wal = cost.wal_with.unwrap();
        assert!(wal.low > 0.0 && wal.low <= wal.high, "{cost:?}");
    }
    assert!(hot.pages.contains("fillfactor 90"));
    assert_eq!(
        present_indexes(&c, &m).await.unwrap().len(),
        7,
        "all indexes back"
    );
}

#[test]
fn unknown_query_bad_catalogue_and_index_free_migration_are_clear_errors() {
    let dir = TempDir::new("badcat");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[query]]\nname = 'x'\nsql = 'SELECT 1'\n").unwrap();
    let empty = dir.join("013_empty.sql");
    std::fs::write(&empty, "ALTER TABLE \"User\" ADD COLUMN nickname text;").unwrap();
    for (args, want) in [
        (
            vec!["explain", "--query", "no_such_query"],
            "unknown query \"no_such_query\"",
        ),
        (
            vec!["explain", "--catalogue", bad.to_str().unwrap()],
            "not a valid query catalogue",
        ),
        (
            vec!["explain", "--migration", empty.to_str().unwrap()],
            "no CREATE INDEX statement found",
        ),
    ] {
        let out = run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
