//! `helpdesk-bench catalogue --from`: a cluster that preloads
//! `pg_stat_statements`, a seeded help-desk database, an independent
//! client (pgbench) running a known weighted mix, and the catalogue the
//! command writes from it: every statement, the mix's ratios, samples that
//! return rows, and a file `explain` runs as written. Also the refusals of
//! a server that cannot answer.

pub mod common;

use std::path::Path;
use std::process::Command;

use common::{run, seed_config, stderr, stdout, TempDir};
use helpdesk_bench::cluster::{self, Cluster, Endpoint, StartOptions};
use helpdesk_bench::queries::{Catalogue, Kind, ParamPool};
use helpdesk_bench::results::Results;
use helpdesk_bench::schema::MigrationChain;
use helpdesk_bench::seed::{self, Reporter, Scale};

/// A cluster preloading pg_stat_statements, with a seeded database (tiny
/// data set) that has the extension; returns the cluster and its endpoint.
async fn lab(name: &str) -> (Cluster, Endpoint) {
    let cluster = Cluster::start_with(StartOptions {
        preload: vec!["pg_stat_statements".into()],
        ..Default::default()
    })
    .unwrap();
    let admin = Endpoint::embedded(cluster.config("postgres")).unwrap();
    let db = cluster::create_database(&admin, name, None).await.unwrap();
    seed::run(
        &db,
        &seed_config(Scale::Tiny.counts(), 2),
        &Reporter::quiet(),
    )
    .await
    .unwrap();
    let c = db.connect().await.unwrap();
    c.batch_execute("CREATE EXTENSION pg_stat_statements")
        .await
        .unwrap();
    (cluster, db)
}

/// One real value of a text column, as a quoted SQL literal.
async fn literal(db: &Endpoint, sql: &str) -> String {
    let c = db.connect().await.unwrap();
    let v: String = c.query_one(sql, &[]).await.unwrap().get(0);
    format!("'{}'", v.replace('\'', "''"))
}

/// The mix: (script name, weight, SQL). Constants are the application's
/// own literals: pg_stat_statements turns them into `$n`.
async fn mix(db: &Endpoint) -> Vec<(&'static str, u32, String)> {
    let agent = literal(db, r#"SELECT "assignedTo" FROM "Conversation" WHERE "assignedTo" IS NOT NULL ORDER BY id LIMIT 1"#).await;
    let conv = literal(
        db,
        r#"SELECT "conversationId" FROM "Message" ORDER BY id LIMIT 1"#,
    )
    .await;
    let email = literal(db, r#"SELECT "customerEmail" FROM "Conversation" WHERE "customerEmail" IS NOT NULL ORDER BY id LIMIT 1"#).await;
    vec![
        (
            "agent_list",
            3,
            format!(
                r#"SELECT id, status, "customerEmail", "updatedAt" FROM "Conversation" WHERE "assignedTo" = {agent} ORDER BY "updatedAt" DESC LIMIT 50;"#
            ),
        ),
        (
            "transcript",
            1,
            format!(
                r#"SELECT id, role, content, "createdAt" FROM "Message" WHERE "conversationId" = {conv} ORDER BY "createdAt";"#
            ),
        ),
        (
            "open_queue",
            2,
            format!(
                r#"SELECT id, "customerEmail", "createdAt" FROM "Conversation" WHERE status = 'AWAITING_HUMAN_RESPONSE' AND "assignedTo" = {agent} ORDER BY "createdAt" LIMIT 20;"#
            ),
        ),
        (
            "customer_messages",
            1,
            format!(
                r#"SELECT m.id, m.content FROM "Message" m JOIN "Conversation" c ON c.id = m."conversationId" WHERE c."customerEmail" = {email} ORDER BY m."createdAt" DESC LIMIT 20;"#
            ),
        ),
    ]
}

/// Runs the mix with pgbench (`-f script@weight`), `transactions` per
/// client from 2 clients, after resetting pg_stat_statements; returns the
/// transactions pgbench ran of each script, in the mix's order.
fn pgbench(
    cluster: &Cluster,
    db: &Endpoint,
    dir: &Path,
    mix: &[(&str, u32, String)],
    transactions: u32,
) -> Vec<f64> {
    let url = cluster.url(&db.dbname());
    let reset = Command::new(common::psql())
        .args([
            "-X",
            "-q",
            "-d",
            &url,
            "-c",
            "SELECT pg_stat_statements_reset()",
        ])
        .output()
        .unwrap();
    assert!(reset.status.success(), "{}", stderr(&reset));
    let mut cmd = Command::new(cluster.bin().tool("pgbench"));
    // A fixed seed: the same draws each run (the shares are still checked
    // against what pgbench reports it ran).
    cmd.args(["-n", "-c", "2", "-j", "2", "--random-seed=1"]);
    cmd.args(["-t", &transactions.to_string()]);
    for (name, weight, sql) in mix {
        let f = dir.join(format!("{name}.sql"));
        std::fs::write(&f, sql).unwrap();
        cmd.arg("-f").arg(format!("{}@{weight}", f.display()));
    }
    let out = cmd.arg(&url).output().unwrap();
    assert!(out.status.success(), "pgbench: {}", stderr(&out));
    // "SQL script 1: ..." / " - weight: 3 ..." / " - 1287 transactions (...".
    let report = stdout(&out);
    let ran: Vec<f64> = report
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter_map(|l| l.split_once(" transactions ("))
        .filter_map(|(n, _)| n.parse().ok())
        .collect();
    assert_eq!(
        ran.len(),
        mix.len(),
        "pgbench's per-script counts: {report}"
    );
    ran
}

/// `catalogue --from url` into `dir/captured.toml`: the run (it must
/// succeed) and the file's text.
fn capture(url: &str, dir: &Path) -> (std::process::Output, String) {
    let file = dir.join("captured.toml");
    let out = run(&["catalogue", "--from", url, "--out", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    (out, std::fs::read_to_string(&file).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pgbench_mix_becomes_a_catalogue_that_explain_runs_as_written() {
    let dir = TempDir::new("catalogue_mix");
    let (cluster, db) = lab("catalogue_mix").await;
    let mix = mix(&db).await;
    let ran = pgbench(&cluster, &db, &dir, &mix, 1500);
    let url = cluster.url(&db.dbname());
    let (out, text) = capture(&url, &dir);
    let captured =
        Catalogue::parse("captured.toml", &text, &MigrationChain::builtin().unwrap()).unwrap();
    assert!(
        text.contains(
            "Weights (executions per hour): calls since pg_stat_statements_info.stats_reset"
        ),
        "{text}"
    );
    assert_eq!(
        captured.queries.len(),
        mix.len(),
        "exactly the mix's statements: {text}"
    );

    // --merge: a hand-written catalogue keeps what a person wrote of the
    // statement it recognises, takes its weight, gains the others, and
    // keeps a query the server did not run as it was.
    let mine = dir.join("mine.toml");
    std::fs::write(
        &mine,
        r#"
[[query]]
name = "my_transcript"
screen = "conversation view, by hand"
weight = 1
sql = """
SELECT id, role, content, "createdAt"
  FROM "Message" WHERE "conversationId" = $1 ORDER BY "createdAt"
"""
sample = 'SELECT id FROM "Conversation" ORDER BY md5(id) LIMIT 20'
expect_index = "Message_conversationId_idx"

[[query]]
name = "not_run_today"
screen = "monthly report"
weight = 2
sql = "SELECT count(*) FROM \"User\""
"#,
    )
    .unwrap();
    let merged = run(&[
        "catalogue",
        "--from",
        &url,
        "--merge",
        mine.to_str().unwrap(),
    ]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    assert!(
        stderr(&merged).contains("1 of its queries recognised and reweighted, 3 added"),
        "{}",
        stderr(&merged)
    );
    let m = Catalogue::parse(
        "mine.toml",
        &std::fs::read_to_string(&mine).unwrap(),
        &MigrationChain::builtin().unwrap(),
    )
    .unwrap();
    assert_eq!(m.queries.len(), 5);
    let t = m.get("my_transcript").unwrap();
    let shape = helpdesk_bench::capture::normalised;
    let captured_t = captured
        .queries
        .iter()
        .find(|q| shape(&q.sql) == shape(&t.sql))
        .unwrap();
    // Weights since the reset fall as the hours since it grow: compare
    // shares of the mix.
    let merged_total: f64 = m.queries.iter().map(|q| q.weight).sum::<f64>() - 2.0;
    let captured_total: f64 = captured.queries.iter().map(|q| q.weight).sum();
    let (a, b) = (t.weight / merged_total, captured_t.weight / captured_total);
    assert!((a / b - 1.0).abs() < 0.01, "merged share {a:.4} vs {b:.4}");
    assert_eq!(t.screen, "conversation view, by hand");
    assert_eq!(t.expect_index, ["Message_conversationId_idx"]);
    assert!(t.sample.as_deref().unwrap().contains("LIMIT 20"));
    assert!(t.sql.contains("\n  FROM \"Message\""), "{}", t.sql);
    assert_eq!(m.get("not_run_today").unwrap().weight, 2.0);

    // Every statement of the mix, recognised by its shape.
    let shape = helpdesk_bench::capture::normalised;
    let total_weight: f64 = mix.iter().map(|m| m.1 as f64).sum();
    let total_captured: f64 = captured.queries.iter().map(|q| q.weight).sum();
    let c = db.connect().await.unwrap();
    let total_ran: f64 = ran.iter().sum();
    for ((name, weight, sql), sent) in mix.iter().zip(&ran) {
        let q = captured
            .queries
            .iter()
            .find(|q| shape(&q.sql) == shape(sql))
            .unwrap_or_else(|| panic!("{name} is not in the catalogue:\n{text}"));
        assert_eq!(q.kind, Kind::Read);
        let want = *weight as f64 / total_weight;
        let truth = sent / total_ran;
        let got = q.weight / total_captured;
        eprintln!(
            "{name:<18} mix share {want:.4}  pgbench ran {truth:.4}  captured {got:.4}  ({sent} transactions, {})",
            q.name
        );
        assert!(
            (got / truth - 1.0).abs() < 0.15,
            "{name}: share {got:.4} vs ran {truth:.4}"
        );
        // pgbench draws each script at random: beyond 15%, up to 5
        // binomial standard deviations from the mix is within noise (at 3,
        // one of a dozen shares checked a run would fail 1 run in 30).
        let noise = 5.0 * (want * (1.0 - want) / total_ran).sqrt();
        assert!(
            (got - want).abs() <= (0.15 * want).max(noise),
            "{name}: share {got:.4} vs mix {want:.4} (noise {noise:.4})"
        );
        if q.params > 0 {
            let pool = ParamPool::sample(&c, q).await.unwrap();
            assert!(
                !pool.rows.is_empty() && pool.miss.is_none(),
                "{}: its sample returns no rows",
                q.name
            );
        }
    }
    // The status literal is pinned to a most common value, and said so.
    assert!(
        stderr(&out).contains("pin the literal the application uses"),
        "{}",
        stderr(&out)
    );

    let file = dir.join("captured.toml");
    let (ex, all) = explain_as_written(&url, &file, &dir);
    for q in &captured.queries {
        assert!(
            stdout(&ex).contains(&q.name),
            "{} not explained: {all}",
            q.name
        );
    }
}

/// A low-cardinality column's most common value is pinned as a literal,
/// but never a personal-looking one: three e-mail addresses shared by 300
/// contacts stay out of the file, and the parameter is sampled from its
/// column at run time instead; a status of the same shape is pinned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_looking_value_is_never_pinned_in_the_file() {
    let dir = TempDir::new("catalogue_private");
    let (cluster, db) = lab("catalogue_private").await;
    let c = db.connect().await.unwrap();
    c.batch_execute(
        r#"CREATE TABLE "Contact" (id int PRIMARY KEY, email text, state text);
           INSERT INTO "Contact" SELECT i, (ARRAY['ann@private.example', 'bo@private.example', 'cy@private.example'])[1 + i % 3],
                  (ARRAY['active', 'paused'])[1 + i % 2] FROM generate_series(1, 300) i;
           ANALYZE "Contact""#,
    )
    .await
    .unwrap();
    let mix = vec![
        (
            "by_email",
            1,
            r#"SELECT id FROM "Contact" WHERE email = 'ann@private.example';"#.to_string(),
        ),
        (
            "by_state",
            1,
            r#"SELECT id FROM "Contact" WHERE state = 'active';"#.to_string(),
        ),
    ];
    pgbench(&cluster, &db, &dir, &mix, 20);
    let url = cluster.url(&db.dbname());
    let (out, text) = capture(&url, &dir);
    let all = format!("{text}{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("private.example"), "{all}");
    assert!(text.contains("'active'"), "the status is pinned: {text}");
    let captured =
        Catalogue::parse("captured.toml", &text, &MigrationChain::builtin().unwrap()).unwrap();
    let by_email = captured
        .queries
        .iter()
        .find(|q| q.sql.contains("email ="))
        .unwrap_or_else(|| panic!("{text}"));
    let pool = ParamPool::sample(&c, by_email).await.unwrap();
    assert!(!pool.rows.is_empty() && pool.miss.is_none(), "{text}");
}

/// The one `error:` line of a failed run.
fn refusal(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_cannot_answer_is_refused_in_one_line_naming_the_fix() {
    // The default embedded cluster does not preload the extension.
    let plain = Cluster::start().unwrap();
    let err = refusal(&["catalogue", "--from", &plain.url("postgres")]);
    assert!(
        err.contains("pg_stat_statements is not in shared_preload_libraries")
            && err.contains("restart the server"),
        "{err}"
    );
    drop(plain);

    let cluster = Cluster::start_with(StartOptions {
        preload: vec!["pg_stat_statements".into()],
        ..Default::default()
    })
    .unwrap();
    let url = cluster.url("postgres");
    let err = refusal(&["catalogue", "--from", &url]);
    assert!(
        err.contains("not created in database postgres; run `CREATE EXTENSION pg_stat_statements`"),
        "{err}"
    );
    let admin = Endpoint::embedded(cluster.config("postgres")).unwrap();
    let c = admin.connect().await.unwrap();
    c.batch_execute(
        "CREATE EXTENSION pg_stat_statements; CREATE ROLE catalogue_reader LOGIN; \
         CREATE TABLE t (a int); SELECT count(*) FROM t WHERE a = 1; \
         CREATE TABLE u (b text); SELECT * FROM u WHERE b = 'x'",
    )
    .await
    .unwrap();
    // Another user's texts read `<insufficient privilege>` to a role
    // without pg_read_all_stats.
    let reader = format!(
        "{}&user=catalogue_reader",
        url.rsplit_once("&user=").unwrap().0
    );
    let err = refusal(&["catalogue", "--from", &reader]);
    assert!(
        err.contains("<insufficient privilege>") && err.contains("GRANT pg_read_all_stats"),
        "{err}"
    );
    c.batch_execute(
        "GRANT pg_read_all_stats TO catalogue_reader; GRANT SELECT ON t TO catalogue_reader",
    )
    .await
    .unwrap();

    let out = run(&["catalogue", "--from", &reader]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("FROM t WHERE a = $1::integer"), "{text}");
    // A table it may not read: the query is written, its parameter
    // unresolved, and the comment says why.
    assert!(text.contains("SELECT * FROM u WHERE b = $1"), "{text}");
    assert!(
        text.contains("# the server would not plan it: ") && text.contains("permission denied"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("1 parameter(s) unresolved"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_run_of_the_default_catalogue_is_recovered_with_its_shares() {
    let dir = TempDir::new("catalogue_load");
    let (cluster, db) = lab("catalogue_load").await;
    let url = cluster.url(&db.dbname());
    let c = db.connect().await.unwrap();
    c.batch_execute("SELECT pg_stat_statements_reset()")
        .await
        .unwrap();
    let reports = dir.join("reports");
    let default = common::fixture("queries.toml");
    let out = run(&[
        "load",
        "--url",
        &url,
        "--catalogue",
        default.to_str().unwrap(),
        "--clients",
        "2",
        "--duration",
        "10s",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "load: {}", stderr(&out));
    let results = Results::read(&reports.join("latest").join("results.json")).unwrap();
    let (_, text) = capture(&url, &dir);
    let captured =
        Catalogue::parse("captured.toml", &text, &MigrationChain::builtin().unwrap()).unwrap();
    let original = Catalogue::repository().unwrap();

    // What load sent, per query: requests answered and failed, all states.
    let sent: Vec<(&str, f64)> = original
        .queries
        .iter()
        .map(|q| {
            let n: u64 = results
                .load
                .iter()
                .flat_map(|l| &l.points)
                .filter(|p| p.query == q.name)
                .map(|p| p.requests + p.errors)
                .sum();
            (q.name.as_str(), n as f64)
        })
        .filter(|(_, n)| *n > 0.0)
        .collect();
    assert!(sent.len() >= 5, "load ran too few queries: {sent:?}");
    // pg_stat_statements counts statements, not catalogue entries: two
    // queries of one SQL shape (a lookup that hits and one that misses)
    // are one statement, and their requests add up.
    let shape = helpdesk_bench::capture::normalised;
    let mut shapes: Vec<(String, Vec<&str>, f64, f64)> = Vec::new();
    for (name, n) in &sent {
        let q = original.get(name).unwrap();
        let s = shape(&q.statements[0]);
        match shapes.iter_mut().find(|x| x.0 == s) {
            Some(x) => {
                x.1.push(name);
                x.2 += n;
                x.3 += q.weight;
            }
            None => shapes.push((s, vec![name], *n, q.weight)),
        }
    }
    let recovered: Vec<f64> = shapes
        .iter()
        .map(|(s, names, _, _)| {
            captured
                .queries
                .iter()
                .find(|q| shape(&q.sql) == *s)
                .unwrap_or_else(|| panic!("{names:?} not recovered:\n{text}"))
                .weight
        })
        .collect();
    let total_sent: f64 = shapes.iter().map(|s| s.2).sum();
    let total_weight: f64 = shapes.iter().map(|s| s.3).sum();
    let total_recovered: f64 = recovered.iter().sum();
    for ((_, names, n, weight), w) in shapes.iter().zip(&recovered) {
        let truth = n / total_sent;
        let got = w / total_recovered;
        let catalogue = weight / total_weight;
        let names = names.join("+");
        eprintln!(
            "{names:<40} catalogue share {catalogue:.4}  sent share {truth:.4}  captured share {got:.4}  ({n} requests)"
        );
        assert!(
            (got / truth - 1.0).abs() < 0.15,
            "{names}: {got:.4} vs sent {truth:.4}"
        );
        // The catalogue's share is what load draws from at random: a
        // share of 0.4% over ~35,000 requests varies by ~8% from run to
        // run, so beyond 15% it may differ by up to 5 binomial standard
        // deviations, within noise (at 3, one of the dozen shares checked
        // a run would fail about 1 run in 30).
        let noise = 5.0 * (catalogue * (1.0 - catalogue) / total_sent).sqrt();
        assert!(
            (got - catalogue).abs() <= (0.15 * catalogue).max(noise),
            "{names}: {got:.4} vs catalogue {catalogue:.4} (noise {noise:.4})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_weights_come_from_two_reads_while_the_mix_runs() {
    let dir = TempDir::new("catalogue_window");
    let (cluster, db) = lab("catalogue_window").await;
    let mix = mix(&db).await;
    let url = cluster.url(&db.dbname());
    // Traffic before the window, at another mix, must not count.
    let before = [mix[1].clone(), mix[3].clone()];
    pgbench(&cluster, &db, &dir, &before, 2000);
    let mut cmd = Command::new(cluster.bin().tool("pgbench"));
    cmd.args(["-n", "-c", "2", "-j", "2", "-T", "8"]);
    for (name, weight, sql) in &mix {
        let f = dir.join(format!("{name}.sql"));
        std::fs::write(&f, sql).unwrap();
        cmd.arg("-f").arg(format!("{}@{weight}", f.display()));
    }
    let traffic = cmd
        .arg(&url)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let out = run(&["catalogue", "--from", &url, "--window", "4s"]);
    let traffic = traffic.wait_with_output().unwrap();
    assert!(traffic.status.success());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("calls between two reads 4.0 s apart (--window)"),
        "{text}"
    );
    let captured =
        Catalogue::parse("captured.toml", &text, &MigrationChain::builtin().unwrap()).unwrap();
    let shape = helpdesk_bench::capture::normalised;
    let total_weight: f64 = mix.iter().map(|m| m.1 as f64).sum();
    let total: f64 = captured.queries.iter().map(|q| q.weight).sum();
    // Executions per hour over 4 s: the window's calls times 900.
    let calls = total / 900.0;
    for (name, weight, sql) in &mix {
        let q = captured
            .queries
            .iter()
            .find(|q| shape(&q.sql) == shape(sql))
            .unwrap_or_else(|| panic!("{name} is not in the catalogue:\n{text}"));
        let want = *weight as f64 / total_weight;
        let got = q.weight / total;
        let noise = 3.0 * (want * (1.0 - want) / calls).sqrt();
        eprintln!("{name:<18} mix share {want:.4}  window share {got:.4}  (noise {noise:.4}, {calls:.0} calls)");
        assert!(
            (got - want).abs() <= (0.15 * want).max(noise),
            "{name}: share {got:.4} vs mix {want:.4} (noise {noise:.4})"
        );
    }
}

#[test]
fn server_preload_starts_a_lab_that_counts_statements() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(common::bin())
        .args(["server", "--preload", "pg_stat_statements"])
        .env_remove(cluster::URL_ENV)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = String::new();
    for _ in 0..2 {
        reader.read_line(&mut lines).unwrap();
    }
    let url = lines
        .split("connect: psql '")
        .nth(1)
        .and_then(|l| l.split('\'').next())
        .unwrap_or_else(|| panic!("no URL in {lines:?}"))
        .to_string();
    let show = Command::new(common::psql())
        .args([
            "-X",
            "-At",
            "-d",
            &url,
            "-c",
            "SHOW shared_preload_libraries",
        ])
        .output()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let done = common::finish(child, std::time::Duration::from_secs(30));
    assert!(done.status.success());
    assert_eq!(
        stdout(&show).trim(),
        "pg_stat_statements",
        "{}",
        stderr(&show)
    );
}

/// `explain --url URL --catalogue FILE` run as written: it succeeds, and no
/// query is "not runnable" or "timed as a miss". Returns its output, and
/// stdout and stderr together.
fn explain_as_written(url: &str, file: &Path, dir: &Path) -> (std::process::Output, String) {
    let plans = dir.join("plans");
    let ex = run(&[
        "explain",
        "--url",
        url,
        "--catalogue",
        file.to_str().unwrap(),
        "--out",
        plans.to_str().unwrap(),
    ]);
    let all = format!("{}{}", stdout(&ex), stderr(&ex));
    assert!(ex.status.success(), "{all}");
    assert!(
        !all.contains("not runnable") && !all.contains("timed as a miss"),
        "{all}"
    );
    (ex, all)
}

/// pg_stat_statements replaces every constant, also those no filter reads:
/// `interval '1 hour'` becomes `interval $n`, which no server prepares;
/// `extract(epoch FROM …)` becomes `extract($n FROM …)`, likewise; the
/// `1` and `0` of `sum(CASE … THEN 1 ELSE 0 END)` become parameters the
/// server takes for text; a date_trunc unit, a time zone and a format lose
/// their value; an ORM's `1 = 1` becomes `$2 = $3`. The capture writes
/// each so that it prepares and runs: every statement resolved, and
/// `explain` runs the file as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constants_no_filter_reads_are_restored_so_every_statement_runs() {
    let dir = TempDir::new("catalogue_constants");
    let (cluster, db) = lab("catalogue_constants").await;
    let conv = literal(
        &db,
        r#"SELECT "conversationId" FROM "Message" ORDER BY id LIMIT 1"#,
    )
    .await;
    let mix = vec![
        (
            "daily_bounces",
            1,
            format!(
                r#"SELECT sum(CASE WHEN c.n = 1 THEN 1 ELSE 0 END) AS bounces,
                          sum(CASE WHEN c.last < c.first + interval '1 hour'
                                   THEN floor(extract(epoch FROM c.last - c.first)) ELSE 0 END) AS seconds
                     FROM (SELECT "conversationId", count(*) AS n, min("createdAt") AS first, max("createdAt") AS last,
                                  to_char(date_trunc('day', "createdAt" AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day
                             FROM "Message" WHERE "conversationId" = {conv} GROUP BY 1, 5) c;"#
            ),
        ),
        (
            "orm_lookup",
            1,
            format!(
                r#"SELECT id, status FROM "Conversation" WHERE (id = {conv} AND 1=1) LIMIT 1 OFFSET 0;"#
            ),
        ),
    ];
    pgbench(&cluster, &db, &dir, &mix, 100);
    let url = cluster.url(&db.dbname());
    let (_, text) = capture(&url, &dir);
    assert!(
        !text.contains("could not prepare") && !text.contains("is unresolved"),
        "{text}"
    );
    for said in [
        "'day': a typical date_trunc unit",
        "'UTC': a typical time zone",
        "'YYYY-MM-DD': a typical to_char format",
        "'epoch': a typical date_part field",
        "'1 hour': a typical interval",
        "(an ORM's 1 = 1)",
    ] {
        assert!(text.contains(said), "{said:?} missing: {text}");
    }
    let captured =
        Catalogue::parse("captured.toml", &text, &MigrationChain::builtin().unwrap()).unwrap();
    let shape = helpdesk_bench::capture::normalised;
    for (name, _, sql) in &mix {
        assert!(
            captured.queries.iter().any(|q| shape(&q.sql) == shape(sql)),
            "{name} is not recognised in the catalogue:\n{text}"
        );
    }
    explain_as_written(&url, &dir.join("captured.toml"), &dir);
}

/// An INSERT's parameters come from the columns they fill: a new key for
/// the unique id, the other columns' own values drawn from the table, so
/// the captured write (with `--include-writes`) runs as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inserts_parameters_come_from_the_columns_they_fill() {
    let (cluster, db) = lab("catalogue_insert").await;
    let c = db.connect().await.unwrap();
    let conversation: String = c
        .query_one(r#"SELECT id FROM "Conversation" LIMIT 1"#, &[])
        .await
        .unwrap()
        .get(0);
    let insert = c
        .prepare(r#"INSERT INTO "Message" (id, "conversationId", role, content) VALUES ($1, $2, $3, $4)"#)
        .await
        .unwrap();
    c.batch_execute("BEGIN").await.unwrap();
    for i in 0..20 {
        let id = format!("captured-{i}");
        c.execute(&insert, &[&id, &conversation, &"user", &"hello"])
            .await
            .unwrap();
    }
    c.batch_execute("ROLLBACK").await.unwrap();
    let url = cluster.url(&db.dbname());
    let out = run(&["catalogue", "--from", &url, "--include-writes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let captured =
        Catalogue::parse("captured.toml", &text, &MigrationChain::builtin().unwrap()).unwrap();
    let q = captured
        .queries
        .iter()
        .find(|q| q.kind == Kind::Write && q.sql.contains(r#"INSERT INTO "Message""#))
        .unwrap_or_else(|| panic!("the INSERT is not in the catalogue:\n{text}"));
    let sample = q.sample.as_deref().unwrap_or_default();
    // No parameter left NULL (unresolved) in the select list.
    let select = sample.split("\n").next().unwrap_or_default();
    assert!(
        !select.contains(", NULL") && !select.contains("SELECT NULL"),
        "{sample}"
    );
    assert!(text.contains("a new key for each row written"), "{text}");
    let pool = ParamPool::sample(&c, q).await.unwrap();
    assert!(pool.rows.len() > 1, "{sample}");
    // Every sampled row writes: new ids, existing conversations.
    c.batch_execute("BEGIN").await.unwrap();
    for row in pool.rows.iter().take(50) {
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = row
            .iter()
            .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        c.execute(&q.sql, &params)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", q.sql));
    }
    c.batch_execute("ROLLBACK").await.unwrap();
}

/// Installs Debian's pg_qualstats for the server binaries the cluster
/// runs, when missing (the test needs it; nothing is skipped).
fn ensure_qualstats() {
    let bin = helpdesk_bench::cluster::PgBin::discover().unwrap();
    let lib = bin.dir.parent().unwrap().join("lib/pg_qualstats.so");
    let package = format!("postgresql-{}-pg-qualstats", bin.major());
    assert!(
        bin.dir.starts_with("/usr/lib/postgresql") || lib.is_file(),
        "the pg_qualstats test needs pg_qualstats built for the server in {}: install it there",
        bin.dir.display()
    );
    common::apt::ensure("the pg_qualstats test", &[&package], || lib.is_file());
}

/// Where the server runs pg_qualstats, a parameter standing for a literal
/// the application hard-codes is drawn from the constants it recorded, at
/// their shares: `state = 'closed'` three times for each `'pending'`
/// (pg_stat_statements makes both one `$1`) gives a sample of about three
/// `closed` for one `pending`, and never the column's most common value
/// `open`, which the statement never asked for. A single literal on a
/// column of many values (`owner = 7`) is written as that constant. A
/// recorded e-mail address is never written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_coded_literals_come_from_the_constants_pg_qualstats_recorded() {
    ensure_qualstats();
    let dir = TempDir::new("catalogue_qualstats");
    let cluster = Cluster::start_with(StartOptions {
        preload: vec!["pg_stat_statements".into(), "pg_qualstats".into()],
        ..Default::default()
    })
    .unwrap();
    let admin = Endpoint::embedded(cluster.config("postgres")).unwrap();
    let db = cluster::create_database(&admin, "qualstats", None)
        .await
        .unwrap();
    let c = db.connect().await.unwrap();
    c.batch_execute(
        r#"CREATE EXTENSION pg_stat_statements;
           CREATE EXTENSION pg_qualstats;
           ALTER DATABASE qualstats SET pg_qualstats.sample_rate = 1;
           CREATE TABLE "Ticket" (id int PRIMARY KEY, state text NOT NULL, owner int NOT NULL, email text);
           INSERT INTO "Ticket" SELECT i, CASE WHEN i % 10 < 6 THEN 'open' WHEN i % 10 < 9 THEN 'pending' ELSE 'closed' END,
                  i % 100, (ARRAY['ann@private.example', 'bo@private.example'])[1 + i % 2] FROM generate_series(1, 3000) i;
           ANALYZE "Ticket""#,
    )
    .await
    .unwrap();
    let mix = vec![
        (
            "closed",
            3,
            r#"SELECT id FROM "Ticket" WHERE state = 'closed' ORDER BY id LIMIT 5;"#.to_string(),
        ),
        (
            "pending",
            1,
            r#"SELECT id FROM "Ticket" WHERE state = 'pending' ORDER BY id LIMIT 5;"#.to_string(),
        ),
        (
            "mine",
            1,
            r#"SELECT count(*) FROM "Ticket" WHERE owner = 7;"#.to_string(),
        ),
        (
            "by_email",
            1,
            r#"SELECT id FROM "Ticket" WHERE email = 'ann@private.example';"#.to_string(),
        ),
    ];
    let ran = pgbench(&cluster, &db, &dir, &mix, 200);
    let url = cluster.url(&db.dbname());
    let (out, text) = capture(&url, &dir);
    assert!(
        text.contains("Literals: the constants pg_qualstats recorded"),
        "{text}"
    );
    assert!(
        !stderr(&out).contains("pin the literal"),
        "{}",
        stderr(&out)
    );
    // A recorded e-mail address is the team's data: never written, the
    // column is sampled at run time.
    let all = format!("{text}{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("private.example"), "{all}");
    let captured =
        Catalogue::parse("captured.toml", &text, &MigrationChain::builtin().unwrap()).unwrap();
    assert_eq!(captured.queries.len(), 3, "{text}");
    let by_state = captured
        .queries
        .iter()
        .find(|q| q.sql.contains("state ="))
        .unwrap_or_else(|| panic!("{text}"));
    let pool = ParamPool::sample(&c, by_state).await.unwrap();
    let count = |v: &str| {
        pool.rows
            .iter()
            .filter(|r| r[0].as_deref() == Some(v))
            .count() as f64
    };
    let (closed, pending) = (count("closed"), count("pending"));
    assert_eq!(count("open"), 0.0, "{:?}", pool.rows);
    assert_eq!(closed + pending, pool.rows.len() as f64);
    // The share pgbench really ran, within 2 percentage points (the
    // sample repeats each constant in proportion, rounded to 200 rows).
    let truth = ran[0] / (ran[0] + ran[1]);
    let share = closed / (closed + pending);
    assert!(
        (share - truth).abs() < 0.02,
        "closed's share {share:.3}, pgbench ran {truth:.3}: {text}"
    );
    let mine = captured
        .queries
        .iter()
        .find(|q| q.sql.contains("owner ="))
        .unwrap_or_else(|| panic!("{text}"));
    let pool = ParamPool::sample(&c, mine).await.unwrap();
    assert!(
        pool.rows.iter().all(|r| r[0].as_deref() == Some("7")),
        "{:?}",
        pool.rows
    );
}
