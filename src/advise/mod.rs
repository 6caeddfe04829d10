//! `helpdesk-bench advise`: what the indexes should be instead. On a
//! scratch copy of the seeded data (never the user's tables), every
//! candidate ([`candidates`]) is built for real on top of the state before
//! the migration's indexes and measured alone ([`measure`], [`sets`]); the
//! set that saves the most time per hour of the catalogue's traffic, within
//! the size budget and with an index for every foreign key, is chosen
//! ([`select`]), then measured as a whole beside the migration's own set;
//! [`output`] writes it as SQL a reviewer can run.

mod assemble;
pub mod candidates;
mod measure;
pub mod output;
mod paired;
mod reads;
pub mod scans;
pub mod select;
mod sets;
pub mod swap;
mod whole;
mod workloads;

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_postgres::Client;

use crate::cluster::Endpoint;
use crate::error::{Error, Result};
use crate::measure::costs::make_room_on;
use crate::measure::foreign_keys;
use crate::queries::{split_runnable, Catalogue, NotRunnable, ParamPool, Prepared, Query};
use crate::results::{Advice, AdviceCandidate, ForeignKey};
use crate::schema::{IndexDef, MigrationChain};
use crate::stats::{median, median_interval, Interval};
use candidates::Candidate;
use output::Change;
use reads::{Read, Timed};
use sets::{HotSamples, Updates};
pub use workloads::{workloads, Workloads};

/// How candidates are found, for the report.
pub const METHOD: &str = "read from each catalogue read's generic plan without the migration's indexes (EXPLAIN VERBOSE of a prepared statement under plan_cache_mode = force_generic_plan): the server resolves each scan's table, its equality filters ($n parameters and constants told apart), sort and group keys and output columns, so no SQL parser of ours can disagree with it";

/// How much `advise` measures.
#[derive(Debug, Clone)]
pub struct Options {
    /// Size budget in bytes; `None`: the migration's own indexes' total.
    pub size_budget: Option<u64>,
    /// At most this many candidates besides the migration's own.
    pub max_candidates: usize,
    /// Untimed runs, then up to `runs` timed runs within `budget`, per query and state.
    pub warmup: usize,
    pub runs: usize,
    pub budget: Duration,
    /// Plain and concurrent builds per candidate.
    pub builds: usize,
    /// Insert transactions per round, and rounds (alternating) per measurement.
    pub inserts: usize,
    pub rounds: usize,
    /// Rounds of paired read timings (A B, B A, …): `runs` spread over
    /// them. More, shorter rounds put the two sides' moments closer and
    /// give the interval more rounds to resample.
    pub read_rounds: usize,
    /// Update transactions per HOT batch, at most.
    pub updates: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            size_budget: None,
            max_candidates: 20,
            warmup: 2,
            runs: 40,
            budget: Duration::from_millis(2000),
            builds: 2,
            inserts: 40,
            rounds: 4,
            read_rounds: 8,
            updates: 15,
        }
    }
}

/// What `advise` produced: the advice for `results.json`, the change for
/// the SQL files, and the queries it could not run.
pub struct Outcome {
    pub advice: Advice,
    pub change: Change,
    pub not_runnable: Vec<NotRunnable>,
}

/// The scratch connection and what every measurement reuses.
pub(crate) struct Lab<'a> {
    pub client: Client,
    pub reads: Vec<Read>,
    pub inserts: Prepared,
    pub o: &'a Options,
}

/// Runs the whole advice on `db`, a scratch database at the chain's last
/// migration that this command may change at will. `note` gets progress lines.
pub async fn advise(
    db: &Endpoint,
    chain: &MigrationChain,
    catalogue: &Catalogue,
    o: &Options,
    note: &dyn Fn(String),
) -> Result<Outcome> {
    let m = &chain.under_test;
    let w = workloads(catalogue, m)?;
    let client = db.connect().await?;
    reads::enter_baseline(&client, m).await?;
    if let Some(u) = &w.update {
        make_room_on(&client, &u.table_sql).await?;
    }
    reads::vacuum(&client).await?;
    let (runnable, not_runnable) = split_runnable(&client, catalogue.reads()).await?;
    if runnable.is_empty() {
        return Err(Error::BadInput(
            "no read query of the catalogue runs on this schema; check --catalogue and --migration"
                .into(),
        ));
    }
    let fks = foreign_keys(&client).await?;
    let cands = find_candidates(&client, chain, &runnable, &fks, o).await?;
    note(format!(
        "{} candidates from {} read queries",
        cands.len(),
        runnable.len()
    ));
    let reads = reads::prepare_reads(&client, &runnable).await?;
    let pool = ParamPool::sample(&client, w.insert).await?;
    let inserts = Prepared::new(&client, w.insert, pool).await?.nested(true);
    let lab = Lab {
        client,
        reads,
        inserts,
        o,
    };
    let measured = measure_candidates(&lab, &cands, w.update.as_ref(), note).await?;
    let weights = (
        w.insert.weight,
        w.update.as_ref().map_or(0.0, |u| u.query.weight),
    );
    finish(&lab, chain, weights, &fks, cands, measured, note)
        .await
        .map(|(advice, change)| Outcome {
            advice,
            change,
            not_runnable,
        })
}

/// Candidates from the generic plans, the migration's own indexes, and
/// the foreign keys nothing serves in the baseline.
async fn find_candidates(
    client: &Client,
    chain: &MigrationChain,
    reads: &[&Query],
    fks: &[ForeignKey],
    o: &Options,
) -> Result<Vec<Candidate>> {
    let mut scans = Vec::new();
    for q in reads {
        let plan = scans::generic_plan(client, q).await?;
        scans.extend(scans::scans(&plan).into_iter().map(|s| (q.name.clone(), s)));
    }
    let mut facts = BTreeMap::new();
    let all: Vec<&scans::Scan> = scans.iter().map(|(_, s)| s).collect();
    for (_, s) in &scans {
        if !facts.contains_key(&s.table) {
            facts.insert(
                s.table.clone(),
                candidates::facts(client, &s.table, &all).await?,
            );
        }
    }
    let derived = scans
        .iter()
        .flat_map(|(q, s)| candidates::from_scan(s, q, &facts[&s.table]))
        .collect();
    let unserved: Vec<ForeignKey> = fks
        .iter()
        .filter(|f| f.served_by.is_empty())
        .cloned()
        .collect();
    let m = &chain.under_test;
    let mut list = candidates::collect(m, derived, &unserved, o.max_candidates + m.indexes().len());
    // What the migration drops competes too: the suggestion applies where it ran.
    for ix in &m.dropped {
        candidates::add(&mut list, candidates::from_migration(ix));
    }
    Ok(list)
}

/// The HOT rounds (before anything else writes), the baseline, then each
/// candidate alone.
async fn measure_candidates(
    lab: &Lab<'_>,
    cands: &[Candidate],
    update: Option<&workloads::Updated<'_>>,
    note: &dyn Fn(String),
) -> Result<Measured> {
    let (client, o) = (&lab.client, lab.o);
    let updated: Vec<&Candidate> = cands
        .iter()
        .filter(|c| update.is_some_and(|u| c.def.table == u.table))
        .collect();
    // The rounds alone, then one batch per round for each set measured
    // whole: the migration's, the selected one, and one per swap.
    let batches = o.rounds * (updated.len() + 3 + whole::MAX_SWAPS);
    let mut upd = match update {
        Some(u) => {
            note(format!(
                "update workload {}: HOT share with each of {} candidates on {} alone",
                u.query.name,
                updated.len(),
                u.table_sql
            ));
            Updates::new(client, u.query, &u.table_sql, batches, o).await?
        }
        None => {
            note("no catalogue write updates a table the migration indexes: no HOT figures".into());
            Updates::none()
        }
    };
    let (none, each) = sets::hot_alone(client, &updated, &mut upd, o).await?;
    reads::vacuum(client).await?;
    let baseline = reads::time_all(client, &lab.reads, o).await?;
    let mut out = Vec::new();
    for (i, c) in cands.iter().enumerate() {
        note(format!("[{}/{}] {}", i + 1, cands.len(), c.def.sql));
        let mut a = measure::candidate(lab, c, &baseline).await?;
        if let Some(k) = updated.iter().position(|u| u.def.name == c.def.name) {
            a.cost.hot_alone = Some(median_interval(&each[k].shares));
            a.cost.hot_ratio_with = Some(median(&each[k].shares));
            a.cost.hot_ratio_without = Some(median(&none.shares));
            a.update_added_ms = median(&each[k].times) - median(&none.times);
        }
        out.push(a);
    }
    Ok(Measured {
        baseline,
        candidates: out,
        hot_none: none,
        updates: upd,
    })
}

/// What the per-candidate phase leaves for the selection and the sets.
struct Measured {
    baseline: Vec<Timed>,
    candidates: Vec<AdviceCandidate>,
    hot_none: HotSamples,
    updates: Updates,
}

/// The selection: the size budget (given, or the migration's own indexes'
/// total as built) and the choice, marked chosen in `ms`.
fn choose(
    lab: &Lab<'_>,
    m: &crate::schema::Migration,
    (w_ins, w_upd): (f64, f64),
    reqs: &[&ForeignKey],
    cands: &[Candidate],
    ms: &mut Measured,
) -> Result<(u64, select::Choice)> {
    let own: u64 = ms
        .candidates
        .iter()
        .filter(|c| m.index(&c.name).is_some())
        .map(|c| c.cost.size_bytes)
        .sum();
    let budget = lab.o.size_budget.unwrap_or(own);
    let items = assemble::items(cands, ms, reqs, w_ins, w_upd);
    let choice = select::select(&items, budget, reqs.len()).ok_or_else(|| {
        Error::BadInput(format!(
            "no candidate set within the size budget ({}) keeps an index for every foreign key; raise --size-budget",
            crate::format::bytes(budget as f64)
        ))
    })?;
    Ok((budget, choice))
}

/// Selects, measures the choice whole against the migration's set (with
/// swaps), and assembles the advice.
async fn finish(
    lab: &Lab<'_>,
    chain: &MigrationChain,
    weights: (f64, f64),
    fks: &[ForeignKey],
    cands: Vec<Candidate>,
    mut ms: Measured,
    note: &dyn Fn(String),
) -> Result<(Advice, Change)> {
    let m = &chain.under_test;
    let reqs: Vec<&ForeignKey> = fks.iter().filter(|f| f.served_by.is_empty()).collect();
    let (budget, choice) = choose(lab, m, weights, &reqs, &cands, &mut ms)?;
    let selected: Vec<IndexDef> = choice
        .chosen
        .iter()
        .map(|&i| cands[i].def.clone())
        .collect();
    let alternatives = assemble::alternatives(&choice, &cands);
    note_selection(&selected, &choice, &alternatives, note);
    note(format!(
        "measuring {}'s own set and the suggested set, each whole",
        m.name
    ));
    let own_defs: Vec<IndexDef> = m.indexes().to_vec();
    let sizes: BTreeMap<String, u64> = ms
        .candidates
        .iter()
        .map(|c| (c.name.clone(), c.cost.size_bytes))
        .collect();
    let size_of = |name: &str| sizes.get(name).copied().unwrap_or(0);
    let inputs = whole::Inputs {
        migration_name: m.name.as_str(),
        own: &own_defs,
        selected: selected.clone(),
        cands: &cands,
        size_of: &size_of,
        reqs: &reqs,
        budget,
    };
    let w = whole::measure(lab, inputs, &mut ms.updates, &ms.hot_none, note).await?;
    let geomean = w.geomean();
    let chosen = w.set;
    for c in ms.candidates.iter_mut() {
        c.chosen = chosen.iter().any(|d| d.name == c.name);
    }
    let change = change(m, &chosen);
    let rows = assemble::side_by_side(&w.pairs);
    let (own_set, sug_set) = (w.own, w.sug);
    let advice = Advice {
        budget_bytes: budget,
        budget_source: match lab.o.size_budget {
            Some(_) => "--size-budget".into(),
            None => format!("{}'s own indexes, as built on the scratch copy", m.name),
        },
        method: METHOD.into(),
        baseline: ms.baseline.iter().map(|t| t.row.clone()).collect(),
        hot_without: Some(median_interval(&ms.hot_none.shares)),
        chosen: chosen.iter().map(|d| d.name.clone()).collect(),
        selected: selected.iter().map(|d| d.name.clone()).collect(),
        modelled_ms_per_hour: Some(Interval {
            point: choice.net_ms_per_hour,
            low: choice.net_low,
            high: choice.net_high,
        }),
        alternatives,
        sets_within_noise: choice.within_noise,
        swaps: w.swaps,
        unresolved: w.unresolved,
        drop: change.drop.iter().map(|d| d.name.clone()).collect(),
        create: change.create.iter().map(|d| d.create_sql(false)).collect(),
        foreign_keys: assemble::served(fks, &chosen, &cands),
        targets: assemble::targets(m.name.as_str(), geomean, &rows, &own_set, &sug_set),
        warnings: output::warnings(m, &change),
        candidates: ms.candidates,
        migration_set: own_set,
        suggested_set: sug_set,
        rows,
        geomean_speedup: geomean,
        files: vec![output::SUGGESTED_FILE.into(), output::ROLLBACK_FILE.into()],
        wall_s: 0.0,
    };
    Ok((advice, change))
}

/// The selection and the sets within noise of it, as progress lines.
fn note_selection(
    selected: &[IndexDef],
    choice: &select::Choice,
    alternatives: &[crate::results::Alternative],
    note: &dyn Fn(String),
) {
    let names: Vec<String> = selected.iter().map(|d| d.name.clone()).collect();
    note(format!(
        "selected: {} ({} sets within noise of the best, this the smallest)",
        names.join(", "),
        choice.within_noise
    ));
    for a in alternatives {
        note(format!(
            "within noise of it: adds {}, lacks {}",
            or_none(&a.adds),
            or_none(&a.lacks)
        ));
    }
}

/// From the migration's own indexes to `chosen`: what to drop and create.
fn change(m: &crate::schema::Migration, chosen: &[IndexDef]) -> Change {
    Change {
        drop: m
            .indexes()
            .iter()
            .filter(|d| !chosen.iter().any(|c| c.name == d.name))
            .cloned()
            .collect(),
        create: chosen
            .iter()
            .filter(|c| m.index(&c.name).is_none())
            .cloned()
            .collect(),
    }
}

fn or_none(v: &[String]) -> String {
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join(", ")
    }
}
