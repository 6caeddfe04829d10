//! `helpdesk-bench load` on the embedded cluster at scale tiny, run as a
//! user runs it: every (query, state, clients) point is recorded with sane
//! percentiles and a histogram file, `--rate` measures latency from each
//! request's intended start, a read counted by its command tag counts
//! the rows the application would fetch, also on a session that drops its
//! rows unread, and every request counted is one the server ran.

pub mod common;

use std::path::{Path, PathBuf};

use common::{fixture, run, seeded_tiny, stderr, stdout, TempDir};
use helpdesk_bench::load::wire;
use helpdesk_bench::queries::{Catalogue, ParamPool, Prepared};
use helpdesk_bench::results::{LoadMode, LoadPoint, Results};
use helpdesk_bench::schema::{IndexState, MigrationChain};

/// Two reads and a write of the real catalogue, weighted evenly, so every
/// query gets requests even in a one-second point.
const MIX: &str = r#"
[[query]]
name = "human_queue"
screen = "inbox"
weight = 1
sql = '''
SELECT id, "customerEmail", source, "assignedTo", "createdAt" FROM "Conversation"
 WHERE status = 'AWAITING_HUMAN_RESPONSE' ORDER BY "createdAt" DESC LIMIT 50
'''

[[query]]
name = "transcript"
screen = "conversation view"
weight = 1
sql = '''
SELECT id, role, content, "createdAt" FROM "Message" WHERE "conversationId" = $1 ORDER BY "createdAt"
'''
sample = 'SELECT id FROM "Conversation" ORDER BY md5(id) LIMIT 200'

[[query]]
name = "reassign"
screen = "help desk"
kind = "write"
weight = 1
sql = '''
UPDATE "Conversation" SET "updatedAt" = now() WHERE id = $1
'''
sample = 'SELECT id FROM "Conversation" ORDER BY md5(id) LIMIT 200'

[[query]]
name = "sleepy"
screen = "a query that always takes 50 ms"
sql = "SELECT pg_sleep(0.05)"
"#;

/// Runs `load` at scale tiny with `args`, into a fresh reports folder;
/// returns the folder and the run's results.
fn run_load(name: &str, args: &[&str]) -> (TempDir, Results) {
    let dir = TempDir::new(name);
    let catalogue = dir.join("queries.toml");
    std::fs::write(&catalogue, MIX).unwrap();
    let reports = dir.join("reports");
    let mut all = vec![
        "load",
        "--scale",
        "tiny",
        "--catalogue",
        catalogue.to_str().unwrap(),
        "--reports",
        reports.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(out.status.success(), "load failed: {}", stderr(&out));
    let latest = reports.join("latest").join("results.json");
    assert!(
        stdout(&out).contains(&format!("{}", reports.display())),
        "the last line names the results file: {}",
        stdout(&out)
    );
    let r = Results::read(&latest).unwrap();
    (dir, r)
}

fn run_dir(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir.join("reports").join("latest")).unwrap()
}

fn find<'a>(points: &'a [LoadPoint], q: &str, s: &IndexState, c: usize) -> &'a LoadPoint {
    points
        .iter()
        .find(|p| p.query == q && &p.state == s && p.clients == c)
        .unwrap_or_else(|| panic!("no point for {q} {s:?} {c} clients"))
}

#[test]
fn every_query_state_and_client_count_gets_a_point_with_its_histogram() {
    let (dir, r) = run_load("load-mix", &["--clients", "1,2", "--duration", "1s"]);
    let load = r.load.expect("results.json has a load object");
    assert_eq!(load.mode, LoadMode::ClosedLoop);
    assert_eq!(load.duration_s, 1.0);
    assert_eq!(load.clients, [1, 2]);
    assert!(load.writes, "the embedded database runs the writes too");
    let mix: Vec<&str> = load.mix.iter().map(|m| m.query.as_str()).collect();
    assert_eq!(
        mix,
        ["human_queue", "transcript", "reassign"],
        "a query without a weight stays out of the mix"
    );
    assert_eq!(load.points.len(), 3 * 2 * 2);
    let folder = run_dir(&dir);
    for q in ["human_queue", "transcript", "reassign"] {
        for s in [IndexState::Without, IndexState::With] {
            for c in [1, 2] {
                let p = find(&load.points, q, &s, c);
                let what = format!("{q} {s:?} {c} clients: {p:?}");
                assert!(p.requests > 0 && p.throughput_per_s > 0.0, "{what}");
                assert!(
                    p.p50_ms > 0.0
                        && p.p50_ms <= p.p95_ms
                        && p.p95_ms <= p.p99_ms
                        && p.p99_ms <= p.p999_ms
                        && p.p999_ms <= p.max_ms,
                    "percentiles out of order: {what}"
                );
                assert_eq!(p.errors, 0, "{what}");
                let h = helpdesk_bench::load::load_histogram(&folder.join(&p.histogram)).unwrap();
                assert_eq!(
                    h.len(),
                    p.requests,
                    "the histogram file holds the point: {what}"
                );
            }
        }
    }
}

#[test]
fn open_loop_latency_counts_from_the_intended_start() {
    // One client serves at most 20 of these a second; asked for 40, each
    // request waits behind the ones before it, and that wait is latency.
    let (_dir, open) = run_load(
        "load-open",
        &[
            "--query",
            "sleepy",
            "--clients",
            "1",
            "--rate",
            "40",
            "--duration",
            "1s",
        ],
    );
    let load = open.load.unwrap();
    assert_eq!(load.mode, LoadMode::OpenLoop);
    assert_eq!(load.rate_per_s, Some(40.0));
    let p = find(&load.points, "sleepy", &IndexState::With, 1);
    assert!(
        p.throughput_per_s < 25.0,
        "one client cannot serve 40/s: {p:?}"
    );
    assert!(
        p.p50_ms > 120.0,
        "the median includes the wait behind the schedule (coordinated omission corrected): {p:?}"
    );
    assert!(p.max_ms > 300.0, "the last requests waited longest: {p:?}");
    let (_dir, closed) = run_load(
        "load-closed",
        &["--query", "sleepy", "--clients", "1", "--duration", "1s"],
    );
    let c = find(&closed.load.unwrap().points, "sleepy", &IndexState::With, 1).clone();
    // The control is the open loop of the same query in the same test: its
    // median holds the wait behind the schedule, the closed loop's only
    // the query (50 ms of sleep and the machine's overhead).
    assert!(
        c.p50_ms >= 50.0 && c.p50_ms < p.p50_ms,
        "closed loop times the query alone: {c:?}, open loop {p:?}"
    );
}

#[test]
fn the_under_load_section_has_charts_a_percentile_table_and_a_verdict_per_client_count() {
    // transcript reads "Message" by conversation: a scan of every message
    // without 012's indexes, an index lookup with them, so its median drops
    // by far more than any noise. Its p99 over 100 ms windows is noisier
    // on a loaded machine: the page must say what the windows say.
    let (dir, r) = run_load(
        "load-page",
        &[
            "--query",
            "transcript",
            "--clients",
            "1,2",
            "--duration",
            "1s",
        ],
    );
    let load = r.load.unwrap();
    assert_eq!(load.window_s, 0.1, "a 1 s point is cut into ten windows");
    for p in &load.points {
        assert_eq!(p.window_p99_ms.len(), 10, "{p:?}");
        assert_eq!(p.window_throughput_per_s.len(), 10, "{p:?}");
        let sum: f64 = p.window_throughput_per_s.iter().sum::<f64>() * load.window_s;
        assert!(
            (sum - p.requests as f64).abs() <= 1.0,
            "the windows hold every request: {sum} of {p:?}"
        );
    }
    let folder = run_dir(&dir);
    let html = std::fs::read_to_string(folder.join("index.html")).unwrap();
    let md = std::fs::read_to_string(folder.join("summary.md")).unwrap();
    for page in [&html, &md] {
        assert!(page.contains("Under load"), "{page}");
        for c in [1, 2] {
            let line = page
                .lines()
                .find(|l| {
                    l.contains(&format!("with 012&#x27;s indexes at {c} client"))
                        || l.contains(&format!("with 012's indexes at {c} client"))
                })
                .unwrap_or_else(|| panic!("no verdict line for {c} clients: {page}"));
            // Headlined (a drop, or past tenfold a factor under 1) exactly
            // when the windows' interval clears the noise threshold;
            // otherwise listed as within noise.
            let windows = |state: IndexState| {
                find(&load.points, "transcript", &state, c)
                    .window_p99_ms
                    .iter()
                    .flatten()
                    .copied()
                    .collect::<Vec<f64>>()
            };
            let (with, without) = (windows(IndexState::With), windows(IndexState::Without));
            if with.len().min(without.len()) < helpdesk_bench::stats::MIN_PER_SIDE {
                assert!(line.contains("transcript (too few windows)"), "{line}");
            } else {
                let interval = helpdesk_bench::stats::ratio_interval(&with, &without);
                match interval.verdict() {
                    helpdesk_bench::stats::Verdict::Lower => {
                        let at = line
                            .find("transcript p99 ")
                            .unwrap_or_else(|| panic!("{line}"));
                        let change = &line[at + "transcript p99 ".len()..];
                        assert!(
                            change.starts_with('−') || change.starts_with("0."),
                            "transcript's p99 drop is headlined at {c} clients: {line}"
                        );
                        assert!(!line.contains("within noise"), "{line}");
                    }
                    other => {
                        assert!(
                            line.contains("within noise: transcript ("),
                            "{other:?} {interval:?} is listed within noise: {line}"
                        );
                    }
                }
            }
            let p50 = |state: IndexState| find(&load.points, "transcript", &state, c).p50_ms;
            assert!(
                p50(IndexState::With) * 2.0 < p50(IndexState::Without),
                "the index halves the median at least: {} ms with, {} ms without",
                p50(IndexState::With),
                p50(IndexState::Without)
            );
            assert!(
                line.contains("total throughput") && line.contains("higher"),
                "{line}"
            );
        }
    }
    // The percentile table: a row per state and client count.
    let table = &html[html.find("id=\"load-table\"").expect("the table")..];
    assert_eq!(
        table.matches("<td class=\"mono\">transcript</td>").count(),
        4
    );
    // Two charts, each a line per state: throughput, and transcript's p99.
    let throughput =
        &html[html.find("id=\"load-throughput\"").unwrap()..html.find("id=\"load-p99\"").unwrap()];
    assert_eq!(throughput.matches("<polyline").count(), 2);
    assert!(throughput.contains("all queries (without the indexes)"));
    assert!(
        throughput.contains("stroke-dasharray=\"6 4\""),
        "the state without is dashed"
    );
    let p99 = &html[html.find("id=\"load-p99\"").unwrap()..];
    assert_eq!(
        p99[..p99.find("</svg>").unwrap()]
            .matches("<polyline")
            .count(),
        2
    );
    assert!(
        !html.contains("id=\"query-table\""),
        "a load run has no criterion table"
    );
    // `helpdesk-bench report` renders the same section from results.json.
    let again = dir.join("again");
    let out = run(&[
        "report",
        "--run",
        folder.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rerendered = std::fs::read_to_string(again.join("index.html")).unwrap();
    let differ = rerendered.lines().zip(html.lines()).find(|(a, b)| a != b);
    assert!(
        differ.is_none() && rerendered.len() == html.len(),
        "re-rendered page differs: {differ:?}"
    );
}

/// A load in which no request was ever answered measured nothing: it
/// fails, and says why, instead of writing a report of zeros.
#[test]
fn a_load_where_every_request_fails_is_an_error() {
    let dir = TempDir::new("load-all-fail");
    let catalogue = dir.join("failing.toml");
    std::fs::write(
        &catalogue,
        "[[query]]\nname = 'broken'\nscreen = 's'\nweight = 1\nsql = 'SELECT 1 / (SELECT count(*) - count(*) FROM \"User\")'\n",
    )
    .unwrap();
    let out = run(&[
        "load",
        "--scale",
        "tiny",
        "--catalogue",
        catalogue.to_str().unwrap(),
        "--reports",
        dir.join("reports").to_str().unwrap(),
        "--clients",
        "1",
        "--duration",
        "300ms",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("load measured nothing"), "{err}");
    assert!(
        !dir.join("reports").join("latest").exists(),
        "no report of zeros"
    );
}

/// `load` counts a read's rows by the server's command tag instead of
/// decoding them (`Prepared::run_counted`): for every read of the
/// catalogue, with its sampled parameters, the count is the number of
/// rows the same request fetches.
#[tokio::test]
async fn a_read_counted_by_its_tag_counts_the_rows_it_fetches() {
    let db = seeded_tiny("counted").await;
    let client = db.endpoint.connect().await.unwrap();
    let chain = MigrationChain::builtin().unwrap();
    let catalogue = Catalogue::load(Some(&fixture("queries.toml")), &chain).unwrap();
    let mut fetched_in_all = 0;
    for q in catalogue.reads() {
        let pool = ParamPool::sample(&client, q).await.unwrap();
        let p = Prepared::new(&client, q, pool).await.unwrap();
        for row in p.pool.rows.iter().take(5) {
            let fetched = p.run_with(&client, row).await.unwrap();
            let counted = p.run_counted(&client, row).await.unwrap();
            assert_eq!(counted, fetched, "{} with {row:?}", q.name);
            fetched_in_all += fetched;
        }
    }
    assert!(fetched_in_all > 0, "the reads fetched no rows at all");
}

/// A load session over the embedded cluster's Unix-domain socket drops its
/// answers' rows before tokio-postgres reads them once switched
/// (`load::wire`), and a read counted by its command tag there still counts
/// the rows the same request fetches on an ordinary session.
#[tokio::test]
async fn a_session_that_drops_its_rows_still_counts_them() {
    let db = seeded_tiny("wire").await;
    let plain = db.endpoint.connect().await.unwrap();
    let (client, _cancel, rows) = wire::connect(&db.endpoint).await.unwrap();
    assert!(
        rows.drops_rows(),
        "the cluster is reached through its socket"
    );
    let chain = MigrationChain::builtin().unwrap();
    let catalogue = Catalogue::load(Some(&fixture("queries.toml")), &chain).unwrap();
    let mut pairs = Vec::new();
    for q in catalogue.reads() {
        let pool = ParamPool::sample(&plain, q).await.unwrap();
        let on_plain = Prepared::new(&plain, q, pool.clone()).await.unwrap();
        pairs.push((on_plain, Prepared::new(&client, q, pool).await.unwrap()));
    }
    rows.skip_rows();
    let mut fetched_in_all = 0;
    for (on_plain, on_wire) in &pairs {
        for row in on_plain.pool.rows.iter().take(5) {
            let fetched = on_plain.run_with(&plain, row).await.unwrap();
            let counted = on_wire.run_counted(&client, row).await.unwrap();
            assert_eq!(counted, fetched, "{} with {row:?}", on_plain.query.name);
            fetched_in_all += fetched;
        }
    }
    assert!(fetched_in_all > 0, "the reads fetched no rows at all");
    let series = "SELECT generate_series(1, 3)";
    assert!(
        client.query(series, &[]).await.unwrap().is_empty(),
        "rows dropped"
    );
    assert_eq!(client.execute(series, &[]).await.unwrap(), 3, "and counted");
}

/// A read that scans `Message_createdAt_idx` once per request.
const NEWEST: &str = r#"
[[query]]
name = "newest"
screen = "activity feed"
weight = 1
sql = 'SELECT id, "createdAt" FROM "Message" ORDER BY "createdAt" DESC LIMIT 50'
"#;

/// Every request `load` reports was answered by the server once, no more,
/// no fewer: over its dropped-rows sessions, the index scans the server
/// counts on the one index the read uses equal the requests recorded.
#[tokio::test]
async fn the_requests_load_counts_are_the_ones_the_server_ran() {
    let db = seeded_tiny("load_requests").await;
    let c = db.endpoint.connect().await.unwrap();
    let scans = "SELECT coalesce(sum(idx_scan), 0)::int8 FROM pg_stat_user_indexes \
                 WHERE indexrelname = 'Message_createdAt_idx'";
    let before = common::scalar(&c, scans).await;
    let dir = TempDir::new("load-requests");
    let catalogue = dir.join("newest.toml");
    std::fs::write(&catalogue, NEWEST).unwrap();
    let out = std::process::Command::new(common::bin())
        .args([
            "load",
            "--url",
            &db.url(),
            "--catalogue",
            catalogue.to_str().unwrap(),
        ])
        .args(["--clients", "2", "--duration", "1s", "--reports", dir.arg()])
        .env_remove(helpdesk_bench::cluster::URL_ENV)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let results = Results::read(&dir.join("latest").join("results.json")).unwrap();
    let requests: u64 = results
        .load
        .unwrap()
        .points
        .iter()
        .map(|p| p.requests)
        .sum();
    assert!(requests > 100, "{requests} requests");
    // The clients' backends report their scans as they exit.
    let limit = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut ran = 0;
    while std::time::Instant::now() < limit {
        ran = (common::scalar(&c, scans).await - before) as u64;
        if ran >= requests {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        ran, requests,
        "scans the server ran vs requests load counted"
    );
}

/// Ctrl-C cancels a statement running on a session opened over a socket of
/// its own (`load::wire`): the cancel request goes to the same Unix-domain
/// socket, and the statement ends with `query_canceled`.
#[tokio::test]
async fn a_session_over_its_own_socket_is_cancelled_on_ctrl_c() {
    let db = seeded_tiny("wire_cancel").await;
    let (client, _cancel, rows) = wire::connect(&db.endpoint).await.unwrap();
    assert!(
        rows.drops_rows(),
        "the cluster is reached through its socket"
    );
    let sleeping = tokio::spawn(async move { client.execute("SELECT pg_sleep(60)", &[]).await });
    // Cancelled once the server runs it, however late it gets there.
    let watcher = db.endpoint.connect().await.unwrap();
    let since = std::time::Instant::now();
    while common::scalar(
        &watcher,
        "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'",
    )
    .await
        == 0
    {
        assert!(since.elapsed().as_secs() < 30, "the statement never started");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        helpdesk_bench::cluster::cancel_all().await >= 1,
        "a cancel was sent"
    );
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), sleeping)
        .await
        .expect("the statement ended soon after the cancel")
        .unwrap();
    let e = ended.expect_err("the statement was cancelled");
    assert_eq!(
        e.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
        "{e}"
    );
}
