//! `helpdesk-bench explain`: plans of every catalogue query per index state.

use std::process::ExitCode;

use crate::cli::ExplainArgs;
use crate::error::Result;
use crate::explain::{explain_all, ExplainOptions};
use crate::queries::Catalogue;
use crate::seed::Reporter;
use crate::workspace::Workspace;

pub async fn run(args: ExplainArgs, quiet: bool) -> Result<ExitCode> {
    let chain = args.migration.chain()?;
    args.gate
        .policies(&[])
        .judged_by("explain", &["plan", "unused-index"])?;
    let migration = &chain.under_test;
    let catalogue = Catalogue::load(args.catalogue.as_deref(), &chain)?;
    for q in &args.queries {
        catalogue.get(q)?;
    }
    let ws = Workspace::open(
        args.conn.url.as_deref(),
        args.scale,
        args.seed,
        &chain,
        &Reporter::auto(quiet),
    )
    .await?;
    if ws.cluster.is_some() && !quiet {
        eprintln!(
            "explain: {} data at scale {} (seed {}){}",
            if ws.reused {
                "cached"
            } else {
                "freshly seeded"
            },
            args.scale.name(),
            args.seed,
            if ws.reused { ", seeding skipped" } else { "" }
        );
    }
    let may_change = ws.may_change_indexes || args.allow_index_changes;
    if !may_change && !quiet {
        eprintln!("explain: indexes left as they are (set HELPDESK_BENCH_ALLOW_INDEX_CHANGES=1 or --allow-index-changes to compare states)");
    }
    let run = explain_all(
        &ws.db,
        &ExplainOptions {
            catalogue: &catalogue,
            migration,
            only: args.queries.clone(),
            ablation: args.ablation,
            may_change_indexes: may_change,
            force: args.force || ws.force,
            out: args.out.clone(),
            plan_cache: args.plan_cache.mode,
        },
    )
    .await?;
    out!(
        "{:<24} {:<40} {:<22} {:>10} {:>8} {:>8}  indexes",
        "query",
        "state",
        "top node",
        "exec ms",
        "hit",
        "read"
    );
    for p in &run.plans {
        let s = &p.summary;
        out!(
            "{:<24} {:<40} {:<22} {:>10.3} {:>8} {:>8}  {}",
            p.query,
            p.state.id(migration),
            s.top_node,
            s.execution_ms,
            s.shared_hit,
            s.shared_read,
            if s.indexes_used.is_empty() {
                "-".to_string()
            } else {
                s.indexes_used.join(", ")
            }
        );
    }
    for v in &run.violations {
        out!(
            "VIOLATION  {} in {}: {}",
            v.query,
            v.state.id(migration),
            v.message
        );
    }
    print_notes(&run);
    if run.plans.is_empty() {
        return Err(crate::error::Error::NothingMeasured {
            what: "explain".into(),
            why: "no read query of the catalogue runs on this database (the lines above say why); apply the migration, or check --catalogue and --query".into(),
        });
    }
    out!(
        "explain: {} plans in {}, {} assertion violation(s)",
        run.plans.len(),
        args.out.display(),
        run.violations.len()
    );
    let strict = if args.strict {
        vec![crate::gate::Policy::Plan]
    } else {
        Vec::new()
    };
    let evidence = crate::gate::checks::Evidence::of_explain(&run, migration);
    super::gate(&args.gate.policies(&strict), &evidence, &args.out)
}

/// Queries set aside or timed as a miss, one line each.
fn print_notes(run: &crate::explain::ExplainRun) {
    for n in &run.not_runnable {
        out!("{n}");
    }
    let mut missed: Vec<(&str, &str)> = run
        .plans
        .iter()
        .filter_map(|p| Some((p.query.as_str(), p.miss.as_deref()?)))
        .collect();
    missed.dedup();
    for (query, note) in missed {
        out!("{query}: {note}");
    }
}
