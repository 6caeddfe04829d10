//! The documentation that must not drift from the code: `docs/reference.md`
//! is generated from the clap definitions (`helpdesk_bench::cli::Cli`) by
//! `clap-markdown`, and the committed file must equal what the code
//! generates; the README stays short enough to read in five minutes.
//!
//! `HELPDESK_BENCH_UPDATE_DOCS=1 cargo test --test reference` rewrites
//! `docs/reference.md` from the code.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use helpdesk_bench::cli::Cli;

/// The most lines README.md may hold (read in five minutes).
const README_MAX_LINES: usize = 300;

/// The command that rewrites the generated docs, printed when they drift.
const REGENERATE: &str = "HELPDESK_BENCH_UPDATE_DOCS=1 cargo test --test reference";

/// The first lines of docs/reference.md, ahead of what clap-markdown writes.
const HEADER: &str = "<!-- Generated from src/cli.rs by tests/reference.rs: do not edit.\n     \
     Regenerate with: HELPDESK_BENCH_UPDATE_DOCS=1 cargo test --test reference -->\n\n";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// docs/reference.md as the code generates it now.
fn generated_reference() -> String {
    let options = clap_markdown::MarkdownOptions::new()
        .title("Reference: every subcommand and flag".to_string())
        .show_footer(false);
    let body = clap_markdown::help_markdown_command_custom(&Cli::command(), &options);
    format!("{HEADER}{}\n", body.trim_end())
}

fn update_docs() -> bool {
    std::env::var_os("HELPDESK_BENCH_UPDATE_DOCS").is_some_and(|v| v == "1")
}

/// The committed reference is what `src/cli.rs` generates, byte for byte.
#[test]
fn reference_md_is_generated_from_the_cli() {
    let path = repo("docs/reference.md");
    let want = generated_reference();
    if update_docs() {
        std::fs::write(&path, &want).unwrap();
        println!("wrote {}", path.display());
    }
    let have = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; generate it with `{REGENERATE}`", path.display()));
    if have != want {
        let line = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(have.lines().count().min(want.lines().count()));
        panic!(
            "{} differs from what src/cli.rs generates (first at line {}); \
             regenerate it with `{REGENERATE}` and commit it",
            path.display(),
            line + 1
        );
    }
}

/// Every visible subcommand has its section; the hidden guard does not.
#[test]
fn reference_documents_every_visible_subcommand_and_no_hidden_one() {
    let doc = generated_reference();
    let cli = Cli::command();
    let guard = cli
        .find_subcommand(helpdesk_bench::guard::COMMAND)
        .expect("the guard is a subcommand");
    assert!(guard.is_hide_set(), "the guard subcommand must stay hidden");
    assert!(
        !doc.contains(helpdesk_bench::guard::COMMAND),
        "the hidden {} subcommand appears in the reference",
        helpdesk_bench::guard::COMMAND
    );
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let heading = format!("## `helpdesk-bench {}`", sub.get_name());
        assert!(doc.contains(&heading), "no section {heading}");
    }
}

/// README.md is at most [`README_MAX_LINES`] lines: the reference text
/// lives in docs/.
#[test]
fn readme_is_at_most_300_lines() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, at most {README_MAX_LINES} allowed: move reference text to docs/"
    );
}

/// Every relative link of README.md, CONTRIBUTING.md and docs/*.md points
/// at a file that exists, and its `#anchor` at a heading of that file, so
/// moving text between them cannot leave a dead link.
#[test]
fn relative_links_in_the_docs_point_at_files_and_headings() {
    let mut pages = vec![repo("README.md"), repo("CONTRIBUTING.md")];
    for entry in std::fs::read_dir(repo("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let link = regex::Regex::new(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)").unwrap();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for cap in link.captures_iter(&text) {
            let target = &cap[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let file = if target.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(target)
            };
            assert!(
                file.exists(),
                "{}: link to {target}, which does not exist",
                page.display()
            );
            if let (Some(anchor), Some("md")) =
                (cap.get(2), file.extension().and_then(|e| e.to_str()))
            {
                let headings = anchors(&std::fs::read_to_string(&file).unwrap());
                assert!(
                    headings.iter().any(|h| h == anchor.as_str()),
                    "{}: link to {target}#{}, which has no such heading",
                    page.display(),
                    anchor.as_str()
                );
            }
        }
    }
}

/// The anchors GitHub gives a Markdown file's headings: lowercased,
/// punctuation dropped, spaces as hyphens (code blocks skipped).
fn anchors(markdown: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        out.push(slug);
    }
    out
}

/// The slugs of [`anchors`] match GitHub's for the headings the docs link to.
#[test]
fn anchors_follow_githubs_rule() {
    let md = "# Which migration: `--migration`\n```sh\n# a comment\n```\n## Before and after a migration, on your own database\n";
    assert_eq!(
        anchors(md),
        [
            "which-migration---migration",
            "before-and-after-a-migration-on-your-own-database"
        ]
    );
}
