//! The report, rendered from a real `results.json` and real plans captured
//! by the tool (`tests/data/run/`), checked for numbers, names, findings and
//! escaping, then opened in headless Chromium.

#[path = "browser/setup.rs"]
mod browser_setup;
pub mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, stderr, stdout, TempDir};
use helpdesk_bench::report::render;
use helpdesk_bench::results::Results;
use helpdesk_bench::schema::IndexState;

fn data_run() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run")
}

fn results() -> Results {
    Results::read(&data_run().join("results.json")).unwrap()
}

/// A scratch copy of the captured run folder, removed when dropped.
fn scratch(name: &str) -> TempDir {
    let dir = TempDir::new(&format!("report-{name}"));
    std::fs::create_dir_all(dir.join("plans")).unwrap();
    std::fs::copy(data_run().join("results.json"), dir.join("results.json")).unwrap();
    for e in std::fs::read_dir(data_run().join("plans"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(e.path(), dir.join("plans").join(e.file_name())).unwrap();
    }
    dir
}

/// The speed-up of a query as the report prints it.
fn speedup_text(x: f64) -> String {
    helpdesk_bench::format::factor(x)
}

#[test]
fn page_shows_the_runs_numbers_names_and_findings() {
    let r = results();
    let dir = scratch("page");
    render(&r, &dir).unwrap();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    for q in &r.queries {
        assert!(
            html.contains(&format!("id=\"plan-{}\"", q.name.replace('_', "-"))),
            "{}",
            q.name
        );
        let s = speedup_text(q.speedup.unwrap());
        assert!(
            html.contains(&format!("<strong>{s}</strong>")),
            "{} speed-up {s}",
            q.name
        );
    }
    for f in &r.findings {
        assert!(
            html.contains(&format!("<span class=\"tag {}\">", f.kind.as_str())),
            "{}",
            f.kind.as_str()
        );
    }
    assert!(html.contains("Message_role_idx"));
    assert!(html.contains("durability is off"));
    assert!(
        html.contains("plans&#x2f;transcript.with_012_indexes.json")
            || html.contains("plans/transcript.with_012_indexes.json")
    );
    // Self-contained: nothing fetched from anywhere.
    for banned in [
        "<script src",
        "<link",
        "http://",
        "https://fonts",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(banned), "page references {banned}");
    }
    // The verdict counts the queries whose speed-up range (from the two
    // medians' 95% intervals) lies wholly past 1.10×.
    let faster = r
        .queries
        .iter()
        .filter(|q| {
            let (a, b) = (
                q.timing(&IndexState::Without).unwrap(),
                q.timing(&IndexState::With).unwrap(),
            );
            a.ci_low_ms / b.ci_high_ms > 1.1
        })
        .count();
    assert!(html.contains(&format!("<b>{faster} of {} queries</b>", r.queries.len())));
    // Every section's note states the one threshold, from stats::SIGNIFICANT.
    let past = format!("past {}", speedup_text(helpdesk_bench::stats::SIGNIFICANT));
    for section in ["verdict", "queries", "ablation", "costs"] {
        let at = html
            .find(&format!("id=\"{section}\""))
            .unwrap_or_else(|| panic!("no {section} section"));
        let rest = &html[at..];
        let note = &rest[rest.find("<p class=\"small\">").unwrap()..];
        let note = &note[..note.find("</p>").unwrap()];
        assert!(note.contains(&past), "{section} states {past}: {note}");
    }
}

/// The rows of summary.md's query table, split into cells.
fn md_query_rows(md: &str) -> Vec<Vec<String>> {
    md.lines()
        .skip_while(|l| !l.starts_with("### Queries"))
        .skip(4)
        .take_while(|l| l.starts_with("| "))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// `13.12 ms (13.00–13.46 ms)` as (13.12, "ms").
fn time_cell(cell: &str) -> (f64, String) {
    let mut words = cell.split_whitespace();
    let n: f64 = words.next().unwrap().replace(',', "").parse().unwrap();
    (n, words.next().unwrap().to_string())
}

/// Each plan as pev2 reads it: the access-path diff in one line, the
/// parameters it ran with, each node's own time, the hot node, the node
/// details, and nodes only one plan has.
#[test]
fn plans_show_the_diff_parameters_hot_node_and_details() {
    let dir = scratch("plans");
    let mut r = results();
    // The parameter row the plans were captured with (version 7 records it).
    r.parameters_shown = true;
    let t = r
        .queries
        .iter_mut()
        .find(|q| q.name == "transcript")
        .unwrap();
    for p in &mut t.plans {
        p.param = Some("median".into());
    }
    t.params = vec![helpdesk_bench::results::ParamResult {
        label: "median".into(),
        values: vec!["text(25)#1a2b3c".into()],
        estimated_rows: Some(12.0),
        timings: Vec::new(),
        speedup: None,
    }];
    render(&r, &dir).unwrap();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let plan = |name: &str| {
        let at = html
            .find(&format!("<section class=\"plan\" id=\"plan-{name}\">"))
            .unwrap();
        html[at..at + html[at..].find("</section>").unwrap()].to_string()
    };
    let transcript = plan("transcript");
    assert!(transcript
        .contains("Seq Scan on Message → Index Scan using Message_conversationId_idx on Message"));
    assert!(
        transcript
            .contains("Parameters (median row): <span class=\"mono\">$1 = text(25)#1a2b3c</span>"),
        "{transcript}"
    );
    assert!(transcript.contains("<span class=\"tag hot\">hot</span>"));
    assert!(transcript.contains("self ("), "exclusive time per node");
    assert!(transcript.contains("rows removed by filter:"));
    assert!(transcript.contains("<span class=\"tag only-here\">only in this plan</span>"));
    assert!(!html.contains(">new</span>"));
    // A Bitmap Heap Scan names the index it reads.
    assert!(plan("customer-lookup-hit")
        .contains("Bitmap Heap Scan using Conversation_customerEmail_idx on Conversation"));
    // Criterion links go to each group's comparison page.
    assert!(html.contains("href=\"criterion&#x2f;transcript&#x2f;report&#x2f;index.html\""));
    assert!(!html.contains("with_012_indexes&#x2f;report"));
}

#[test]
fn summary_md_renders_the_same_numbers_as_the_page() {
    let r = results();
    let dir = scratch("summary");
    render(&r, &dir).unwrap();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let rows = md_query_rows(&md);
    assert_eq!(rows.len(), r.queries.len(), "{md}");
    // Columns 1 and 3 are the client medians without and with the indexes,
    // 2 and 4 the server's execution time: each in one unit, the same
    // numbers as the page and as results.json.
    for col in 1..=4 {
        let units: Vec<String> = rows.iter().map(|row| time_cell(&row[col]).1).collect();
        assert!(
            units.iter().all(|u| *u == units[0]),
            "column {col}: {units:?}"
        );
    }
    for row in &rows {
        let q = r.query(&row[0]).unwrap();
        for (col, state) in [(1, IndexState::Without), (3, IndexState::With)] {
            let (n, unit) = time_cell(&row[col]);
            let ms = if unit == "µs" { n / 1e3 } else { n };
            let median = q.timing(&state).unwrap().median_ms;
            assert!(
                (ms - median).abs() / median < 0.01,
                "{}: {ms} vs {median}",
                q.name
            );
            let shown = row[col].split(" (").next().unwrap();
            assert!(
                html.contains(&format!("<td class=\"num\">{shown}<div")),
                "page lacks {shown}"
            );
        }
        let s = speedup_text(q.speedup.unwrap());
        assert!(
            row[5].starts_with(&format!("**{s}**")),
            "summary lacks {} {s}",
            q.name
        );
        assert!(html.contains(&format!("<strong>{s}</strong>")));
    }
    let geomean_line = md.lines().find(|l| l.contains("geometric mean")).unwrap();
    let geo = geomean_line.split("**").nth(3).unwrap();
    assert!(html.contains(&format!("<b>{geo}</b>")), "{geo}");
    assert!(md.len() < 65_536, "too long for a PR comment: {}", md.len());
}

#[test]
fn values_from_the_database_and_files_are_escaped() {
    let mut r = results();
    r.queries[0].name = "<script>alert('q')</script>".into();
    r.queries[0].sql = "SELECT 1 WHERE a < b && \"c\" = '<img src=x onerror=alert(1)>'".into();
    r.findings[0].message = "<b>bold</b> & more".into();
    r.environment
        .settings
        .insert("work_mem".into(), "<i>4MB</i>".into());
    let dir = scratch("escape");
    render(&r, &dir).unwrap();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("<b>bold</b>"));
    assert!(!html.contains("<i>4MB</i>"));
    assert!(html.contains("&lt;script&gt;alert("));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("&amp;&amp;"));
}

#[test]
fn report_command_rerenders_and_compares() {
    let a = scratch("cli-a");
    let out = run(&["report", "--run", a.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(a.join("index.html").is_file() && a.join("summary.md").is_file());

    // A "before" run on a user database: one state, slower medians.
    let mut before = results();
    for q in &mut before.queries {
        q.timings.retain(|t| t.state == IndexState::Without);
    }
    let b = scratch("cli-b");
    before.write(&b.join("results.json")).unwrap();
    let cmp = TempDir::new("report-cmp");
    let out = run(&[
        "report",
        "--compare",
        b.to_str().unwrap(),
        a.to_str().unwrap(),
        "--out",
        cmp.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("compare.html"));
    let html = std::fs::read_to_string(cmp.join("compare.html")).unwrap();
    let md = std::fs::read_to_string(cmp.join("compare.md")).unwrap();
    let r = results();
    let q = r.query("transcript").unwrap();
    let ratio = q.timing(&IndexState::Without).unwrap().median_ms
        / q.timing(&IndexState::With).unwrap().median_ms;
    assert!(
        html.contains(&speedup_text(ratio)),
        "compare lacks {}",
        speedup_text(ratio)
    );
    assert!(md.contains(&speedup_text(ratio)));

    let missing = run(&["report", "--run", "/nonexistent/run"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(stderr(&missing).lines().count(), 1, "{}", stderr(&missing));
}

/// Headless Chromium (Debian's `chromium`, driven by playwright-core from
/// `tests/browser`, both installed on first use) opens the page from
/// file:// at 1280 px and at 390 px: no sideways scroll at either, the
/// verdict and its recommendation visible, and a full page that is not
/// blank. The screenshots stay in `$TMPDIR/hb-report-shots/` (replaced on
/// every run) and their paths are printed, so they can be looked at.
#[test]
fn page_opens_offline_in_a_real_browser() {
    let browser = browser_setup::ensure();
    let dir = scratch("browser");
    render(&results(), &dir).unwrap();
    let shots = std::env::temp_dir().join("hb-report-shots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(browser.dir.join("check.mjs"))
        .arg(dir.join("index.html"))
        .arg(&shots)
        .env("CHROMIUM", &browser.chromium)
        .output()
        .expect("node is needed for the browser test: install Debian's `nodejs`");
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["errors"], serde_json::json!([]), "console errors");
    assert_eq!(
        report["external"],
        serde_json::json!([]),
        "requests left file://"
    );
    for width in ["1280", "390"] {
        let w = &report["widths"][width];
        println!("screenshot at {width} px: {}", w["png"].as_str().unwrap());
        assert!(
            w["overflow"].as_i64().unwrap() <= 0,
            "page scrolls sideways by {} px at {width} px",
            w["overflow"]
        );
        for sel in [
            "#verdict",
            "#recommendation",
            "#query-table",
            "#medians-chart",
            ".tree .node",
        ] {
            assert_eq!(w["visible"][sel], true, "{sel} not visible at {width} px");
        }
        assert_not_blank(Path::new(w["png"].as_str().unwrap()), 2000);
    }
    let top = Path::new(report["widths"]["1280"]["top"].as_str().unwrap());
    assert_not_blank(top, 899);
    if helpdesk_bench_update_docs() {
        std::fs::copy(top, readme_screenshot()).unwrap();
        println!("wrote {}", readme_screenshot().display());
    }
    assert_not_blank(&readme_screenshot(), 899);
}

/// The README's screenshot of the report, refreshed by
/// `HELPDESK_BENCH_UPDATE_DOCS=1 cargo test --test report page_opens`.
fn readme_screenshot() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images/report.png")
}

fn helpdesk_bench_update_docs() -> bool {
    std::env::var_os("HELPDESK_BENCH_UPDATE_DOCS").is_some_and(|v| v == "1")
}

/// A screenshot at least `min_height` px tall (a full page, or the top of
/// one) with a good share of it not background.
fn assert_not_blank(png: &Path, min_height: u32) {
    let decoder = png::Decoder::new(std::fs::File::open(png).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let inked = pixels
        .chunks(px)
        .filter(|p| p.iter().take(3).any(|&c| c < 200))
        .count();
    let share = inked as f64 / (pixels.len() / px) as f64;
    assert!(
        info.height > min_height,
        "{}: over {min_height} px tall expected, got {} px",
        png.display(),
        info.height
    );
    assert!(
        share > 0.02,
        "{}: screenshot looks blank: {:.2}% inked",
        png.display(),
        share * 100.0
    );
}

/// `tests/data/run/results.json` is a version 1 file, kept as written: it is
/// read by upgrading its state ids, and a newer version is refused in one
/// line naming both versions, by `report --run` and `report --compare` alike.
#[test]
fn results_format_is_versioned() {
    let text = std::fs::read_to_string(data_run().join("results.json")).unwrap();
    let old: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(old["schema_version"], 1);
    assert_eq!(old["states"][0], "without_012_indexes");
    let r = results();
    assert_eq!(r.schema_version, helpdesk_bench::results::SCHEMA_VERSION);
    assert_eq!(r.states, [IndexState::Without, IndexState::With]);
    let transcript = r.query("transcript").unwrap();
    assert!(transcript.timing(&IndexState::With).is_some());
    assert!(transcript.plan(&IndexState::Without).is_some());

    // Written again, it reads back the same.
    let dir = scratch("version");
    r.write(&dir.join("results.json")).unwrap();
    let again = Results::read(&dir.join("results.json")).unwrap();
    assert_eq!(again.states, r.states);
    assert_eq!(
        serde_json::to_value(&again.queries).unwrap(),
        serde_json::to_value(&r.queries).unwrap()
    );

    let mut newer = old.clone();
    newer["schema_version"] = 99.into();
    let future = scratch("future");
    std::fs::write(future.join("results.json"), newer.to_string()).unwrap();
    let want = format!(
        "results format version 99, newer than this helpdesk-bench reads (version {})",
        helpdesk_bench::results::SCHEMA_VERSION
    );
    for args in [
        vec!["report", "--run", future.to_str().unwrap()],
        vec![
            "report",
            "--compare",
            dir.to_str().unwrap(),
            future.to_str().unwrap(),
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    }
}

/// A run as a `--baseline NAME` run on a user's database writes it: one
/// state (as found), per-query changes, one query new in this migration.
fn after_run(baseline_run: Option<&str>) -> Results {
    use helpdesk_bench::results::{BaselineRef, Change, Interval, Verdict};
    let mut r = results();
    r.states = vec![IndexState::AsFound];
    for q in &mut r.queries {
        q.timings.retain(|t| t.state == IndexState::With);
        q.plans.retain(|p| p.state == IndexState::With);
        for t in &mut q.timings {
            t.state = IndexState::AsFound;
            t.change = Some(Change {
                mean_pct: -40.0,
                ci_low_pct: -45.0,
                ci_high_pct: -35.0,
                median: Some(Interval {
                    point: -41.0,
                    low: -46.0,
                    high: -36.0,
                }),
                bootstrap: Some(Interval {
                    point: -42.5,
                    low: -47.0,
                    high: -38.0,
                }),
                verdict: Verdict::Improved,
                against: Some("before-012".into()),
            });
        }
        for p in &mut q.plans {
            p.state = IndexState::AsFound;
        }
    }
    let new = r
        .queries
        .iter_mut()
        .find(|q| q.name == "human_queue")
        .unwrap();
    for t in &mut new.timings {
        t.change = None;
        t.no_baseline = true;
    }
    r.compared_with = Some(BaselineRef {
        name: "before-012".into(),
        run_id: baseline_run.map(str::to_string),
    });
    r
}

/// The "before" run: as found, without the Conversation queries (they only
/// exist after the migration), saved as baseline `before-012`.
fn before_run() -> Results {
    let mut r = results();
    r.run_id = "2026-01-01T00-00-00Z".into();
    r.states = vec![IndexState::AsFound];
    r.queries.retain(|q| q.name != "human_queue");
    for q in &mut r.queries {
        q.timings.retain(|t| t.state == IndexState::Without);
        q.plans.retain(|p| p.state == IndexState::Without);
        q.timings
            .iter_mut()
            .for_each(|t| t.state = IndexState::AsFound);
        q.plans
            .iter_mut()
            .for_each(|p| p.state = IndexState::AsFound);
    }
    r.saved_baseline = Some("before-012".into());
    r
}

#[test]
fn baseline_run_is_found_by_name_and_its_plans_shown_beside_the_new_ones() {
    use helpdesk_bench::results::{baseline_run, record_baseline};
    let reports = TempDir::new("report-baselines");
    let before = before_run();
    let before_dir = reports.join(&before.run_id);
    std::fs::create_dir_all(&before_dir).unwrap();
    before.write(&before_dir.join("results.json")).unwrap();
    record_baseline(&reports, "before-012", &before_dir).unwrap();
    let found = baseline_run(&reports, "before-012").unwrap();
    assert_eq!(found.file_name(), before_dir.file_name());
    assert!(baseline_run(&reports, "no-such-baseline").is_none());

    let after = after_run(Some(&before.run_id));
    let after_dir = reports.join("2026-01-02T00-00-00Z");
    std::fs::create_dir_all(&after_dir).unwrap();
    after.write(&after_dir.join("results.json")).unwrap();
    let out = run(&["report", "--run", after_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(after_dir.join("index.html")).unwrap();
    let md = std::fs::read_to_string(after_dir.join("summary.md")).unwrap();
    assert!(html.contains("id=\"before-after-table\""));
    // The baseline run's plan, linked into its own folder, beside this run's.
    let t = before.query("transcript").unwrap();
    let link = format!("../{}/{}", before.run_id, t.plans[0].file);
    assert!(
        html.contains(&link) || html.contains(&link.replace('/', "&#x2f;")),
        "no link to {link}"
    );
    // Before and after medians of the same query, and the recomputed change.
    let before_ms = helpdesk_bench::format::ms(t.timings[0].median_ms);
    let after_ms =
        helpdesk_bench::format::ms(after.query("transcript").unwrap().timings[0].median_ms);
    for page in [&html, &md] {
        assert!(page.contains(&before_ms) && page.contains(&after_ms));
        assert!(page.contains("-42.5% [-47.0%, -38.0%]"));
        assert!(page.contains("improved"));
    }
    // The query the baseline lacks is new, and has no "before" plan.
    assert!(html.contains("<span class=\"tag new-in-migration\">new in this migration</span>"));
    assert!(md.contains("| human_queue |") && md.contains("**new in this migration**"));
}

#[test]
fn a_baseline_whose_run_is_gone_still_renders_and_says_so() {
    let dir = scratch("baseline-gone");
    let after = after_run(Some("2020-01-01T00-00-00Z"));
    render(&after, &dir).unwrap();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(
        html.contains("2020-01-01T00-00-00Z is gone from reports"),
        "missing note"
    );
    assert!(html.contains("new in this migration"));
}

#[test]
fn partial_run_is_marked_on_the_page_and_in_results_json() {
    let mut r = results();
    r.queries.retain(|q| q.name == "newest_messages");
    r.partial = true;
    r.filter = Some("newest_messages".into());
    let dir = scratch("partial");
    r.write(&dir.join("results.json")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["partial"], true);
    assert_eq!(json["filter"], "newest_messages");
    assert_eq!(json["queries"].as_array().unwrap().len(), 1);
    render(&r, &dir).unwrap();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(html.contains("id=\"partial\""));
    assert!(html.contains("it holds only the 1 queries criterion measured"));
    assert!(md.contains("**partial**"));
    // A complete run says nothing of the kind.
    let full = scratch("complete");
    render(&results(), &full).unwrap();
    assert!(!std::fs::read_to_string(full.join("index.html"))
        .unwrap()
        .contains("id=\"partial\""));
}

#[test]
fn compare_aligns_what_both_runs_measured_and_lists_the_rest() {
    let before = before_run();
    let mut after = after_run(None);
    after.queries.retain(|q| q.name != "status_dashboard");
    after.partial = true;
    after.filter = Some("queue".into());
    let (a, b) = (scratch("cmp-a"), scratch("cmp-b"));
    before.write(&a.join("results.json")).unwrap();
    after.write(&b.join("results.json")).unwrap();
    let cmp = TempDir::new("report-cmp-align");
    let out = run(&["report", "--compare", a.arg(), b.arg(), "--out", cmp.arg()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(cmp.join("compare.html")).unwrap();
    let md = std::fs::read_to_string(cmp.join("compare.md")).unwrap();
    let rows = html.matches("<tr><td>").count();
    let both = before
        .queries
        .iter()
        .filter(|q| after.query(&q.name).is_some())
        .count();
    assert_eq!(rows, both, "one row per query measured in both runs");
    assert!(html.contains("<li>human_queue: new in this migration</li>"));
    assert!(html.contains("<li>status_dashboard: not measured in B</li>"));
    assert!(md.contains("Only in B (new in this migration): human_queue"));
    assert!(html.contains("B is a partial run (filter `queue`)"));
    // Each side's interval and index.
    let t = before.query("transcript").unwrap();
    let ci = format!(
        "{} – {}",
        helpdesk_bench::format::ms(t.timings[0].ci_low_ms),
        helpdesk_bench::format::ms(t.timings[0].ci_high_ms)
    );
    assert!(html.contains(&ci), "no interval {ci}");
    let idx_after = &after.query("transcript").unwrap().plans[0]
        .summary
        .indexes_used;
    assert!(html.contains(&idx_after.join(", ")));
}

/// Two runs with no query in common have nothing to compare: the command
/// fails in one line and writes no page.
#[test]
fn compare_of_runs_without_a_common_query_fails() {
    let before = before_run();
    let mut after = after_run(None);
    for q in &mut after.queries {
        q.name = format!("{}_renamed", q.name);
    }
    let (a, b) = (scratch("cmp-none-a"), scratch("cmp-none-b"));
    before.write(&a.join("results.json")).unwrap();
    after.write(&b.join("results.json")).unwrap();
    let cmp = TempDir::new("report-cmp-none");
    let out = run(&["report", "--compare", a.arg(), b.arg(), "--out", cmp.arg()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("measured no query in common"),
        "{}",
        stderr(&out)
    );
    assert!(!cmp.join("compare.html").exists());
}

/// Right after a migration adds a column, the query filtering on it has no
/// statistics; after ANALYZE it has.
#[tokio::test]
async fn filter_columns_without_statistics_are_found_until_analyze() {
    use helpdesk_bench::explain::missing_stats;
    let db = common::seeded_tiny("stats").await;
    let c = db.endpoint.connect().await.unwrap();
    let sql = r#"SELECT id FROM "Conversation" WHERE status = 'RESOLVED' AND priority > $1"#;
    let rel = vec!["Conversation".to_string()];
    c.batch_execute(r#"ALTER TABLE "Conversation" ADD COLUMN priority int NOT NULL DEFAULT 1"#)
        .await
        .unwrap();
    assert_eq!(
        missing_stats(&c, sql, &rel).await.unwrap(),
        [r#""Conversation".priority"#]
    );
    c.batch_execute(r#"ANALYZE "Conversation""#).await.unwrap();
    assert!(missing_stats(&c, sql, &rel).await.unwrap().is_empty());
}

/// A run with the recommendation, deploy advice and foreign keys filled
/// in, as the measurement writes them.
fn advised_run() -> Results {
    use helpdesk_bench::results::{
        Action, BuildProjection, DeleteCost, DeployAdvice, ForeignKey, Interval, LockHeld,
        Recommendation,
    };
    let iv = |point, low, high| Interval { point, low, high };
    let mut r = results();
    r.recommendations = vec![
        Recommendation {
            index: "Conversation_status_idx".into(),
            action: Action::ReplaceWith,
            replace_with: Some("Conversation_status_assignedTo_idx".into()),
            evidence: "dropping it slows status_dashboard 1.01× [0.97×–1.05×], within noise".into(),
            rule: "prefix redundancy".into(),
        },
        Recommendation {
            index: "Message_conversationId_idx".into(),
            action: Action::KeepForForeignKey,
            replace_with: None,
            evidence: "the only index serving Message_conversationId_fkey".into(),
            rule: "foreign keys".into(),
        },
    ];
    r.foreign_keys = vec![ForeignKey {
        name: "Message_conversationId_fkey".into(),
        table: "Message".into(),
        columns: vec!["conversationId".into()],
        references: "Conversation".into(),
        on_delete: "CASCADE".into(),
        on_update: "CASCADE".into(),
        served_by: vec!["Message_conversationId_idx".into()],
        delete: Some(DeleteCost {
            index: "Message_conversationId_idx".into(),
            with_ms: iv(0.2, 0.18, 0.22),
            without_ms: iv(95.0, 90.0, 101.0),
            slowdown: iv(475.0, 410.0, 560.0),
            deletes: 30,
        }),
        sql: None,
    }];
    r.deploy = Some(DeployAdvice {
        locks: vec![LockHeld {
            table: "Message".into(),
            mode: "SHARE".into(),
            blocks: "all writes".into(),
            held_ms: 1779.0,
        }],
        production_rows: vec![("Message".into(), 50_000_000)],
        production_source: "--production-rows".into(),
        builds: vec![BuildProjection {
            index: "Message_role_idx".into(),
            table: "Message".into(),
            measured_rows: 1_000_000,
            plain_ms: iv(733.0, 700.0, 760.0),
            concurrently_ms: iv(1400.0, 1350.0, 1480.0),
            production_rows: 50_000_000,
            projected_plain_s: 36.7,
            projected_concurrently_s: 70.0,
        }],
        projected_lock_s: 89.0,
        basis: "build time linear in rows, from the measured scale".into(),
        online_file: "online/012_online.sql".into(),
        advice: "Deploy the online variant: one CREATE INDEX CONCURRENTLY per statement.".into(),
    });
    r
}

#[test]
fn recommendation_leads_the_verdict_and_the_summary() {
    let dir = scratch("advice");
    render(&advised_run(), &dir).unwrap();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let verdict = &html[html.find("id=\"verdict\"").unwrap()..html.find("id=\"queries\"").unwrap()];
    assert!(verdict.contains("replace with</span><span class=\"mono\">Conversation_status_idx</span> → <span class=\"mono\">Conversation_status_assignedTo_idx</span>"), "{verdict}");
    assert!(verdict.contains(
        "keep for the foreign key</span><span class=\"mono\">Message_conversationId_idx</span>"
    ));
    assert!(
        verdict.contains("only index leading with a foreign key"),
        "rules stated"
    );
    // summary.md: the recommendation comes first, one line per index.
    let first_section = md
        .lines()
        .find(|l| l.starts_with("## ") && !l.contains("helpdesk-bench"));
    assert_eq!(first_section, Some("## Recommendation"));
    assert!(md.contains("- **replace with** `Conversation_status_idx` → `Conversation_status_assignedTo_idx`: dropping it slows status_dashboard 1.01× [0.97×–1.05×], within noise"));
    assert!(md.contains("- **keep for the foreign key** `Message_conversationId_idx`"));
}

#[test]
fn deploy_section_shows_locks_projections_and_foreign_key_deletes() {
    let dir = scratch("deploy");
    render(&advised_run(), &dir).unwrap();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let deploy = &html[html.find("id=\"deploy\"").unwrap()..html.find("id=\"scale\"").unwrap()];
    assert!(
        deploy.contains(
            "<td class=\"mono\">SHARE</td><td>all writes</td><td class=\"num\">1,779 ms</td>"
        ),
        "{deploy}"
    );
    assert!(deploy.contains("projection: build"));
    assert!(deploy.contains("Basis: build time linear in rows"));
    assert!(deploy.contains("<td class=\"num\">733.0 ms [700.0–760.0 ms]</td>"));
    assert!(deploy.contains("<td class=\"num\">36.7 s</td>"));
    assert!(
        deploy.contains("online&#x2f;012_online.sql") || deploy.contains("online/012_online.sql")
    );
    assert!(deploy.contains("475× [410×–560×], slower without it (30 deletes)"));
    // Until measured, the section says so and shows no empty tables.
    let plain = scratch("deploy-none");
    render(&results(), &plain).unwrap();
    let html = std::fs::read_to_string(plain.join("index.html")).unwrap();
    assert!(html.contains("Deploy advice was not measured in this run."));
    assert!(!html.contains("id=\"locks\""));
    let md = std::fs::read_to_string(plain.join("summary.md")).unwrap();
    assert!(md.contains("## Recommendation\n\nNot measured in this run"));
}

/// The pull-request comment: the verdict, the slowest reads, one line per
/// recommendation and the deploy advice, pointing at the full report, and
/// always under GitHub's limit: with more recommendations than fit, their
/// evidence is left out, never the verdict.
#[test]
fn the_pull_request_comment_gives_the_verdict_and_fits_github() {
    let dir = scratch("comment");
    let r = advised_run();
    render(&r, &dir).unwrap();
    let md = std::fs::read_to_string(dir.join("comment.md")).unwrap();
    assert!(md.starts_with("### helpdesk-bench: "), "{md}");
    assert!(
        md.contains("queries faster** with the indexes") && md.contains("geometric mean speed-up"),
        "{md}"
    );
    assert!(md.contains("- **replace with** `Conversation_status_idx` → `Conversation_status_assignedTo_idx`: dropping it slows"), "{md}");
    assert!(
        md.contains("The full report: `index.html` in the run folder"),
        "{md}"
    );
    assert!(md.len() < helpdesk_bench::report::COMMENT_LIMIT);

    let mut many = r.clone();
    let one = many.recommendations[0].clone();
    many.recommendations = (0..400)
        .map(|i| {
            let mut x = one.clone();
            x.index = format!("index_{i}");
            x.evidence = "e".repeat(400);
            x
        })
        .collect();
    let dir = scratch("comment-long");
    render(&many, &dir).unwrap();
    let md = std::fs::read_to_string(dir.join("comment.md")).unwrap();
    assert!(
        md.len() < helpdesk_bench::report::COMMENT_LIMIT,
        "{}",
        md.len()
    );
    assert!(
        md.contains("- **replace with** `index_399`"),
        "every line kept"
    );
    assert!(!md.contains(&"e".repeat(400)), "the evidence left out");
    assert!(md.contains("geometric mean speed-up"));
}
