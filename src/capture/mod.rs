//! `catalogue --from`: the workload a server really runs, read from
//! `pg_stat_statements`, written as a query catalogue that `load`,
//! `explain` and `cargo bench` replay. Statements and weights come from
//! [`statements`], parameters from the server's generic plans
//! ([`params`]) and the constants `pg_qualstats` recorded ([`qualstats`]), names from what each statement reads ([`names`]), and the
//! file from [`write`]. Everything is read in read-only transactions.

mod insert;
mod names;
mod params;
mod qualstats;
mod shape;
mod statements;
mod write;

use std::time::Duration;

pub use params::{LOW_CARDINALITY, TYPICAL_LIMIT, TYPICAL_OFFSET};
pub use shape::normalised;
pub use statements::{classify, is_introspection, By, WeightSource};
pub use write::Entry;

use crate::cluster::{transaction, Begin, End, Endpoint};
use crate::error::Result;
use crate::queries::Catalogue;

/// What to capture.
#[derive(Debug, Clone)]
pub struct Options {
    pub top: usize,
    pub by: By,
    pub window: Option<Duration>,
    pub include_writes: bool,
}

/// A captured catalogue.
#[derive(Debug, Clone)]
pub struct Captured {
    pub entries: Vec<Entry>,
    pub source: WeightSource,
    /// Lines for the command's output: pinned and unresolved parameters.
    pub notes: Vec<String>,
    /// Where parameters that stand for literals came from, for the file.
    pub literals: String,
}

impl Captured {
    /// The catalogue file's text, optionally merged into `existing`.
    /// Returns the text, how many existing queries were recognised and how
    /// many statements were added.
    pub fn render(&self, existing: Option<&Catalogue>) -> Result<(String, usize, usize)> {
        let mut header = vec![
            "Captured by `helpdesk-bench catalogue --from` from pg_stat_statements.".to_string(),
            format!("Weights (executions per hour): {}.", self.source),
            format!("Literals: {}.", self.literals),
        ];
        let before = existing.map_or(0, |c| c.queries.len());
        let (entries, updated) = match existing {
            Some(c) => {
                header.push(format!(
                    "Merged into {}: its queries keep their names, SQL, samples and expectations.",
                    c.source
                ));
                write::merge(c, self.entries.clone())
            }
            None => (self.entries.clone(), 0),
        };
        let added = entries.len() - before;
        Ok((write::render(&header, &entries)?, updated, added))
    }
}

/// Reads the top statements of `db` and makes each a catalogue entry.
pub async fn capture(db: &Endpoint, opts: &Options) -> Result<Captured> {
    let client = db.connect().await?;
    let (found, source) =
        statements::read(&client, opts.top, opts.by, opts.window, opts.include_writes).await?;
    if found.is_empty() {
        return Err(crate::error::Error::BadInput(format!(
            "pg_stat_statements holds no application statement of database {} ({}); \
             capture after the application has run, or leave out --window's quiet period",
            db.dbname(),
            source
        )));
    }
    let recorded = transaction(
        &client,
        Begin::ReadOnly,
        End::RollBack,
        "reading pg_qualstats",
        async |c| qualstats::read(c).await,
    )
    .await?;
    let doing = "reading a captured statement's parameters";
    let mut entries: Vec<Entry> = Vec::new();
    let mut notes = Vec::new();
    for s in &found {
        // One read-only transaction each: a statement the server cannot
        // prepare aborts its own only.
        let r = transaction(&client, Begin::ReadOnly, End::RollBack, doing, async |c| {
            let counted = params::Counted {
                queryid: s.queryid,
                sql: &s.sql,
                recorded: &recorded,
            };
            params::resolve(c, &counted).await
        })
        .await?;
        let taken: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
        let name = names::name(&s.sql, s.kind, &r.scans, &r.compared, &taken);
        for p in &r.pinned {
            notes.push(format!(
                "{name}: {p} is a most common value; pin the literal the application uses"
            ));
        }
        if r.unresolved > 0 {
            notes.push(format!(
                "{name}: {} parameter(s) unresolved; write its sample by hand",
                r.unresolved
            ));
        }
        entries.push(Entry {
            name,
            screen: format!(
                "captured from pg_stat_statements (queryid {}): {} calls, {:.3} ms mean",
                s.queryid,
                s.calls,
                s.total_ms / s.calls.max(1.0)
            ),
            sql: r.sql,
            sample: r.sample,
            expect_index: vec![],
            kind: s.kind,
            miss: vec![],
            weight: s.per_hour,
            traffic: false,
            comments: r.comments,
        });
    }
    let literals = match recorded.missing {
        None => "the constants pg_qualstats recorded, where a parameter stands for one".to_string(),
        Some(why) => {
            if notes.iter().any(|n| n.contains("pin the literal")) {
                notes.push(format!(
                    "{why}: with it, a parameter standing for a literal is drawn from the constants the application sent"
                ));
            }
            format!("{why}, so a column with few values gives its most common value")
        }
    };
    Ok(Captured {
        entries,
        source,
        notes,
        literals,
    })
}
