//! `helpdesk-bench catalogue --from URL`: captures the workload from
//! `pg_stat_statements` and writes it as a query catalogue, to a file or
//! stdout, saying which parameters need a person's eye.

use std::process::ExitCode;

use crate::capture::{self, Options};
use crate::cli::CatalogueArgs;
use crate::cluster::Endpoint;
use crate::error::{Context, Result};
use crate::queries::Catalogue;

pub async fn run(args: CatalogueArgs, quiet: bool) -> Result<ExitCode> {
    let db = Endpoint::from_url(&args.from)?;
    let existing = match &args.merge {
        Some(p) => {
            let text = std::fs::read_to_string(p).context(p.display())?;
            Some(Catalogue::parse_text(&p.display().to_string(), &text)?)
        }
        None => None,
    };
    let opts = Options {
        top: args.top as usize,
        by: args.by,
        window: args.window,
        include_writes: args.include_writes,
    };
    if let (Some(w), false) = (args.window, quiet) {
        eprintln!(
            "catalogue: reading pg_stat_statements of {} twice, {:.0} s apart",
            db.describe(),
            w.as_secs_f64()
        );
    }
    let captured = capture::capture(&db, &opts).await?;
    let (text, updated, added) = captured.render(existing.as_ref())?;
    let target = args.out.as_ref().or(args.merge.as_ref());
    match target {
        Some(p) => std::fs::write(p, &text).context(p.display())?,
        None => out!("{}", text.trim_end()),
    }
    if !quiet {
        let pinned = captured.notes.len();
        eprintln!(
            "catalogue: {} statements from {}; weights: {}",
            captured.entries.len(),
            db.describe(),
            captured.source
        );
        if let Some(c) = &existing {
            eprintln!(
                "catalogue: merged into {}: {updated} of its queries recognised and reweighted, {added} added",
                c.source
            );
        }
        for n in &captured.notes {
            eprintln!("catalogue: {n}");
        }
        if let Some(p) = target {
            eprintln!(
                "catalogue: wrote {}{}",
                p.display(),
                if pinned > 0 {
                    "; review the notes above"
                } else {
                    ""
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
