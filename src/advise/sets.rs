//! The update workload's cost (HOT share and time per update) with each
//! candidate on the updated table alone, and whole index sets measured
//! together: the migration's own and the suggested one, since indexes
//! interact (the planner picks one of several, and every index on an
//! updated column costs the HOT path).
//!
//! Updates commit (a HOT update that is rolled back tells nothing about the
//! next one), each on a conversation not updated before, on pages given
//! room first, as the index-costs table does.

use std::collections::BTreeSet;
use std::time::Instant;

use tokio_postgres::Client;

use super::candidates::Candidate;
use super::measure::{create_index, drop_index, time_all, vacuum, Timed, TABLES};
use super::{Lab, Options};
use crate::error::{Error, Result};
use crate::measure::costs::{insert_rounds, relation_size, CostOptions, HOT_PAGES};
use crate::measure::counters::update_counts;
use crate::queries::{ParamPool, Prepared, Query};
use crate::results::{HotUpdates, IndexCost, SetMeasure};
use crate::schema::IndexDef;
use crate::stats::{median, median_interval};

/// The update workload, with the rows it has not updated yet.
pub struct Updates {
    prepared: Prepared,
    rows: std::vec::IntoIter<Vec<Option<String>>>,
    /// Updates per batch.
    pub per: usize,
    table: String,
}

impl Updates {
    /// Samples the workload's rows once and sizes the batches so `batches`
    /// of them fit.
    pub async fn new(
        client: &Client,
        q: &Query,
        table: &str,
        batches: usize,
        o: &Options,
    ) -> Result<Updates> {
        let rows = ParamPool::sample(client, q).await?.rows;
        let per = o.updates.min(rows.len() / batches.max(1)).max(1);
        Ok(Updates {
            prepared: Prepared::new(client, q, ParamPool::from_rows(vec![])).await?,
            rows: rows.into_iter(),
            per,
            table: table.to_string(),
        })
    }

    /// One batch of updates on fresh rows: the HOT share and each
    /// transaction's time (ms).
    async fn batch(&mut self, client: &Client) -> Result<(f64, Vec<f64>)> {
        let rows: Vec<_> = self.rows.by_ref().take(self.per).collect();
        if rows.is_empty() {
            return Err(Error::BadInput(format!(
                "the {} sample ran out of rows to update; lower --max-candidates or seed a larger scale",
                self.prepared.query.name
            )));
        }
        let (upd0, hot0) = update_counts(client, &self.table).await?;
        let mut times = Vec::with_capacity(rows.len());
        for row in &rows {
            let t = Instant::now();
            self.prepared.run_with(client, row).await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (upd1, hot1) = update_counts(client, &self.table).await?;
        let upd = (upd1 - upd0).max(0) as f64;
        let share = if upd > 0.0 {
            (hot1 - hot0) as f64 / upd
        } else {
            0.0
        };
        Ok((share, times))
    }
}

/// HOT shares and update times per round, for one state.
#[derive(Debug, Clone, Default)]
pub struct HotSamples {
    pub shares: Vec<f64>,
    pub times: Vec<f64>,
}

impl HotSamples {
    fn add(&mut self, (share, times): (f64, Vec<f64>)) {
        self.shares.push(share);
        self.times.extend(times);
    }
}

/// The update workload with no candidate, and with each of `cands` alone
/// (built, measured, dropped), over rounds in alternating order.
pub async fn hot_alone(
    client: &Client,
    cands: &[&Candidate],
    upd: &mut Updates,
    o: &Options,
) -> Result<(HotSamples, Vec<HotSamples>)> {
    let mut none = HotSamples::default();
    let mut each = vec![HotSamples::default(); cands.len()];
    for round in 0..o.rounds {
        let mut order: Vec<Option<usize>> = std::iter::once(None)
            .chain((0..cands.len()).map(Some))
            .collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for k in order {
            match k {
                None => none.add(upd.batch(client).await?),
                Some(i) => {
                    create_index(client, &cands[i].def).await?;
                    let r = upd.batch(client).await;
                    drop_index(client, &cands[i].def).await?;
                    each[i].add(r?);
                }
            }
        }
    }
    Ok((none, each))
}

/// Switches the built indexes of `all` to exactly `want`.
async fn enter(
    client: &Client,
    want: &[IndexDef],
    all: &[IndexDef],
    present: &mut BTreeSet<String>,
) -> Result<()> {
    for d in all {
        if present.contains(&d.name) && !want.iter().any(|w| w.name == d.name) {
            drop_index(client, d).await?;
            present.remove(&d.name);
        }
    }
    for d in want {
        if present.insert(d.name.clone()) {
            create_index(client, d).await?;
        }
    }
    Ok(())
}

/// Each set's costs measured once: the update workload's HOT share, the
/// insert cost against the baseline, and its size.
async fn set_costs(
    lab: &Lab<'_>,
    label: &str,
    defs: &[IndexDef],
    upd: &mut Updates,
    none: &HotSamples,
) -> Result<SetMeasure> {
    let (client, o) = (&lab.client, lab.o);
    let mut with = HotSamples::default();
    for _ in 0..o.rounds {
        with.add(upd.batch(client).await?);
    }
    let mut cost = IndexCost::default();
    let refs: Vec<&IndexDef> = defs.iter().collect();
    let co = CostOptions {
        inserts: o.inserts,
        rounds: o.rounds,
        ..Default::default()
    };
    insert_rounds(client, &lab.inserts, &refs, co, &mut cost).await?;
    vacuum(client, &TABLES).await?;
    let mut size = 0;
    for d in defs {
        size += relation_size(client, &d.name).await?;
    }
    Ok(SetMeasure {
        label: label.to_string(),
        indexes: defs.iter().map(|d| d.name.clone()).collect(),
        size_bytes: size,
        insert_ratio: cost.insert_time_ratio,
        hot: Some(HotUpdates {
            with_all: median(&with.shares),
            without_all: median(&none.shares),
            updates: (upd.per * o.rounds) as u64,
            with_all_ci: Some(median_interval(&with.shares)),
            without_all_ci: Some(median_interval(&none.shares)),
            pages: HOT_PAGES.to_string(),
            rounds: o.rounds,
        }),
        queries: Vec::new(),
    })
}

/// Measures whole index sets on the baseline: each one's costs, then every
/// read in rounds that alternate the sets' order, so a change in the
/// machine's load falls on all of them alike. Leaves the baseline.
pub(crate) async fn compare_sets(
    lab: &Lab<'_>,
    sets: &[(String, Vec<IndexDef>)],
    upd: &mut Updates,
    none: &HotSamples,
) -> Result<Vec<(SetMeasure, Vec<Timed>)>> {
    let client = &lab.client;
    let mut all: Vec<IndexDef> = Vec::new();
    for d in sets.iter().flat_map(|(_, defs)| defs) {
        if !all.iter().any(|a| a.name == d.name) {
            all.push(d.clone());
        }
    }
    let mut present = BTreeSet::new();
    let mut out = Vec::new();
    for (label, defs) in sets {
        enter(client, defs, &all, &mut present).await?;
        out.push((
            set_costs(lab, label, defs, upd, none).await?,
            Vec::<Timed>::new(),
        ));
    }
    for round in 0..lab.o.rounds {
        let mut order: Vec<usize> = (0..sets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for k in order {
            enter(client, &sets[k].1, &all, &mut present).await?;
            let timed = time_all(client, &lab.reads, lab.o).await?;
            merge(&mut out[k].1, timed);
        }
    }
    enter(client, &[], &all, &mut present).await?;
    for (set, timed) in &mut out {
        for t in timed.iter_mut() {
            t.row.median = median_interval(&t.samples);
        }
        set.queries = timed.iter().map(|t| t.row.clone()).collect();
    }
    Ok(out)
}

/// Adds a round's samples; the plan kept is the last round's.
fn merge(acc: &mut Vec<Timed>, round: Vec<Timed>) {
    if acc.is_empty() {
        *acc = round;
        return;
    }
    for (a, mut r) in acc.iter_mut().zip(round) {
        a.samples.append(&mut r.samples);
        a.row.plan = r.row.plan;
        a.row.indexes_used = r.row.indexes_used;
    }
}
