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
/// client from 2 clients, after resetting pg_stat_statements.
fn pgbench(
    cluster: &Cluster,
    db: &Endpoint,
    dir: &Path,
    mix: &[(&str, u32, String)],
    transactions: u32,
) {
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
    cmd.args(["-n", "-c", "2", "-j", "2", "-t", &transactions.to_string()]);
    for (name, weight, sql) in mix {
        let f = dir.join(format!("{name}.sql"));
        std::fs::write(&f, sql).unwrap();
        cmd.arg("-f").arg(format!("{}@{weight}", f.display()));
    }
    let out = cmd.arg(&url).output().unwrap();
    assert!(out.status.success(), "pgbench: {}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pgbench_mix_becomes_a_catalogue_that_explain_runs_as_written() {
    let dir = TempDir::new("catalogue_mix");
    let (cluster, db) = lab("catalogue_mix").await;
    let mix = mix(&db).await;
    pgbench(&cluster, &db, &dir, &mix, 1500);
    let url = cluster.url(&db.dbname());
    let file = dir.join("captured.toml");
    let out = run(&["catalogue", "--from", &url, "--out", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
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

    // Every statement of the mix, recognised by its shape.
    let shape = helpdesk_bench::capture::normalised;
    let total_weight: f64 = mix.iter().map(|m| m.1 as f64).sum();
    let total_captured: f64 = captured.queries.iter().map(|q| q.weight).sum();
    let c = db.connect().await.unwrap();
    for (name, weight, sql) in &mix {
        let q = captured
            .queries
            .iter()
            .find(|q| shape(&q.sql) == shape(sql))
            .unwrap_or_else(|| panic!("{name} is not in the catalogue:\n{text}"));
        assert_eq!(q.kind, Kind::Read);
        let want = *weight as f64 / total_weight;
        let got = q.weight / total_captured;
        eprintln!(
            "{name}: mix share {want:.4}, captured share {got:.4} ({})",
            q.name
        );
        assert!(
            (got / want - 1.0).abs() < 0.15,
            "{name}: share {got:.4} vs {want:.4}"
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

    let plans = dir.join("plans");
    let ex = run(&[
        "explain",
        "--url",
        &url,
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
    for q in &captured.queries {
        assert!(
            stdout(&ex).contains(&q.name),
            "{} not explained: {all}",
            q.name
        );
    }
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
