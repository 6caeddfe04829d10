//! Rendering a run folder: `index.html` (one self-contained page: inline CSS
//! and SVG, no script, no network) and `summary.md` (sized for a pull-request
//! comment), both from `results.json` through templates kept next to this
//! file. Every value is escaped by the template engine.

use std::path::Path;

use minijinja::{context, Environment};
use serde::Serialize;

use super::compare;
use super::view;
use crate::error::{Context, Result};
use crate::results::Results;

const INDEX: &str = include_str!("templates/index.html");
/// The page's sections, one template part each, included by `index.html`.
const PARTS: [(&str, &str); 12] = [
    ("advisor.html", include_str!("templates/advisor.html")),
    ("verdict.html", include_str!("templates/verdict.html")),
    ("queries.html", include_str!("templates/queries.html")),
    (
        "before_after.html",
        include_str!("templates/before_after.html"),
    ),
    ("plans.html", include_str!("templates/plans.html")),
    ("tree.html", include_str!("templates/tree.html")),
    ("costs.html", include_str!("templates/costs.html")),
    ("heatmap.html", include_str!("templates/heatmap.html")),
    ("deploy.html", include_str!("templates/deploy.html")),
    ("scale.html", include_str!("templates/scale.html")),
    ("load.html", include_str!("templates/load.html")),
    (
        "environment.html",
        include_str!("templates/environment.html"),
    ),
];
const SUMMARY: &str = include_str!("templates/summary.md");
const CONSOLE: &str = include_str!("templates/console.txt");
const COMMENT: &str = include_str!("templates/comment.md");
/// GitHub's limit on a pull-request comment's body.
pub const COMMENT_LIMIT: usize = 65_536;
/// Where the full report will be found (a CI artifact's URL), for the
/// comment's link.
pub const REPORT_URL_ENV: &str = "HELPDESK_BENCH_REPORT_URL";
const COMPARE_HTML: &str = include_str!("templates/compare.html");
const COMPARE_MD: &str = include_str!("templates/compare.md");

fn engine() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    // HTML-escape `.html` templates (the default), and keep Markdown table
    // cells on one line with their pipes escaped.
    env.add_filter("cell", |s: String| s.replace('|', "\\|").replace('\n', " "));
    // The one noise threshold, as the pages state it.
    env.add_global(
        "significant",
        crate::format::factor(crate::stats::SIGNIFICANT),
    );
    for (name, text) in [
        ("index.html", INDEX),
        ("summary.md", SUMMARY),
        ("console.txt", CONSOLE),
        ("comment.md", COMMENT),
        ("compare.html", COMPARE_HTML),
        ("compare.md", COMPARE_MD),
    ]
    .into_iter()
    .chain(PARTS)
    {
        env.add_template(name, text)
            .context(format!("report template {name}"))?;
    }
    Ok(env)
}

fn render_to(env: &Environment, name: &str, page: &impl Serialize, path: &Path) -> Result<()> {
    let text = env
        .get_template(name)
        .and_then(|t| t.render(context! { page => page }))
        .context(format!("rendering {name}"))?;
    std::fs::write(path, text).context(path.display())
}

/// Renders `index.html` and `summary.md` for the run folder `out` holding
/// `r`; a baseline run it was compared with is looked for beside it.
pub fn render(r: &Results, out: &Path) -> Result<()> {
    let baseline = baseline_of(r, out);
    render_with(r, baseline.as_ref(), out)
}

/// Renders `r` into `out`, with `baseline` as the run it was compared with.
pub fn render_with(r: &Results, baseline: Option<&Results>, out: &Path) -> Result<()> {
    render_from(r, baseline, out, out)
}

/// Renders `r`, whose raw plans are in the run folder `run`, into `out`.
fn render_from(r: &Results, baseline: Option<&Results>, run: &Path, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).context(out.display())?;
    let env = engine()?;
    let page = view::page(r, baseline, Some(run));
    render_to(&env, "index.html", &page, &out.join("index.html"))?;
    render_to(&env, "summary.md", &page, &out.join("summary.md"))?;
    if page.bench {
        let path = out.join("comment.md");
        std::fs::write(&path, comment(&env, &page)?).context(path.display())?;
    }
    Ok(())
}

/// The pull-request comment: the verdict, the slowest reads, the
/// recommendations and the deploy advice, linking to the full report;
/// under [`COMMENT_LIMIT`] (the recommendations' evidence is left out when
/// it would not fit).
fn comment(env: &Environment, page: &view::Page) -> Result<String> {
    let url = std::env::var(REPORT_URL_ENV).ok().filter(|u| !u.is_empty());
    let render = |brief: bool| {
        env.get_template("comment.md")
            .and_then(|t| t.render(context! { page => page, report_url => url, brief => brief }))
            .context("rendering comment.md")
    };
    let full = render(false)?;
    if full.len() < COMMENT_LIMIT {
        return Ok(full);
    }
    let brief = render(true)?;
    Ok(if brief.len() < COMMENT_LIMIT {
        brief
    } else {
        brief.chars().take(COMMENT_LIMIT / 2).collect()
    })
}

/// The verdict of the run folder `run` in a few lines of text, for the
/// console at the end of a bench: the counts and the geometric mean with
/// its interval, one line per index recommendation, and the deploy advice.
pub fn console_verdict(run: &Path) -> Result<String> {
    let r = Results::read(&run.join("results.json"))?;
    let baseline = baseline_of(&r, run);
    let page = view::page(&r, baseline.as_ref(), Some(run));
    engine()?
        .get_template("console.txt")
        .and_then(|t| t.render(context! { page => page }))
        .context("rendering the console verdict")
}

/// Re-renders a run folder from its `results.json`, into `out` (default: the run folder).
pub fn render_run(run: &Path, out: Option<&Path>) -> Result<()> {
    let r = Results::read(&run.join("results.json"))?;
    let baseline = baseline_of(&r, run);
    render_from(&r, baseline.as_ref(), run, out.unwrap_or(run))
}

/// The run that saved the baseline `r` was compared with: a sibling of
/// `run_dir` named by its run id. `None` when there is none or it is
/// unreadable (the page then says its plans are missing).
pub fn baseline_of(r: &Results, run_dir: &Path) -> Option<Results> {
    let id = r.compared_with.as_ref()?.run_id.as_ref()?;
    let dir = run_dir.parent()?.join(id);
    Results::read(&dir.join("results.json")).ok()
}

/// Renders two runs side by side (`compare.html`, `compare.md`) into `out`.
/// Two runs that measured no query in common have nothing to compare: an
/// error, and no page.
pub fn render_compare(a: &Results, b: &Results, out: &Path) -> Result<()> {
    let page = compare::page(a, b);
    if page.rows.is_empty() {
        return Err(crate::error::Error::NothingMeasured {
            what: "report --compare".into(),
            why: format!(
                "runs {} and {} measured no query in common; compare two runs of the same catalogue",
                a.run_id, b.run_id
            ),
        });
    }
    std::fs::create_dir_all(out).context(out.display())?;
    let env = engine()?;
    render_to(&env, "compare.html", &page, &out.join("compare.html"))?;
    render_to(&env, "compare.md", &page, &out.join("compare.md"))
}
