//! The update workload's cost (HOT share and time per update) with each
//! candidate on the updated table alone, and whole index sets measured
//! together: the migration's own and the suggested one, since indexes
//! interact (the planner picks one of several, and every index on an
//! updated column costs the HOT path). Each set's write costs are measured
//! with exactly its indexes built; the reads of two sets are timed paired,
//! with both sets built and each side hiding what its set lacks.
//!
//! Updates commit (a HOT update that is rolled back tells nothing about the
//! next one), each on a conversation not updated before, on pages given
//! room first, as the index-costs table does.

use std::collections::BTreeSet;
use std::time::Instant;

use tokio_postgres::Client;

use super::candidates::Candidate;
use super::paired::{self, Pair};
use super::reads::{create_index, drop_index, vacuum, Read};
use super::{Lab, Options};
use crate::error::{Error, Result};
use crate::measure::costs::{hot_pages, insert_rounds, relation_size, CostOptions};
use crate::measure::counters::update_counts;
use crate::queries::{ParamPool, Prepared, Query};
use crate::results::{HotUpdates, IndexCost, SetMeasure};
use crate::schema::IndexDef;
use crate::stats::{median, median_interval};

/// The update workload, with the rows it has not updated yet; none when
/// no catalogue write updates a table the migration indexes (then no HOT
/// figures are measured).
pub struct Updates {
    prepared: Option<Prepared>,
    rows: std::vec::IntoIter<Vec<Option<String>>>,
    /// Updates per batch.
    pub per: usize,
    /// The updated table, as SQL.
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
            prepared: Some(Prepared::new(client, q, ParamPool::from_rows(vec![])).await?),
            rows: rows.into_iter(),
            per,
            table: table.to_string(),
        })
    }

    /// No update workload.
    pub fn none() -> Updates {
        Updates {
            prepared: None,
            rows: Vec::new().into_iter(),
            per: 0,
            table: String::new(),
        }
    }

    /// Whether there is an update workload to measure.
    pub fn active(&self) -> bool {
        self.prepared.is_some()
    }

    /// One batch of updates on fresh rows: the HOT share and each
    /// transaction's time (ms).
    async fn batch(&mut self, client: &Client) -> Result<(f64, Vec<f64>)> {
        let Some(prepared) = &self.prepared else {
            return Err(Error::Unexpected {
                doing: "measuring HOT updates".into(),
                detail: "an update batch without an update workload".into(),
            });
        };
        let rows: Vec<_> = self.rows.by_ref().take(self.per).collect();
        if rows.is_empty() {
            return Err(Error::BadInput(format!(
                "the {} sample ran out of rows to update; lower --max-candidates or seed a larger scale",
                prepared.query.name
            )));
        }
        let (upd0, hot0) = update_counts(client, &self.table).await?;
        let mut times = Vec::with_capacity(rows.len());
        for row in &rows {
            let t = Instant::now();
            prepared.run_with(client, row).await?;
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
    if !upd.active() {
        return Ok((none, each));
    }
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

/// Which indexes of the sets compared are built on the scratch copy.
#[derive(Default)]
pub(crate) struct Built {
    /// Every index any set has asked for.
    all: Vec<IndexDef>,
    present: BTreeSet<String>,
}

impl Built {
    /// Switches the built indexes to exactly `want`.
    pub async fn enter(&mut self, client: &Client, want: &[IndexDef]) -> Result<()> {
        for d in want {
            if !self.all.iter().any(|a| a.name == d.name) {
                self.all.push(d.clone());
            }
        }
        for d in &self.all {
            if self.present.contains(&d.name) && !want.iter().any(|w| w.name == d.name) {
                drop_index(client, d).await?;
                self.present.remove(&d.name);
            }
        }
        for d in want {
            if self.present.insert(d.name.clone()) {
                create_index(client, d).await?;
            }
        }
        Ok(())
    }
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
    for _ in 0..o.rounds * usize::from(upd.active()) {
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
    vacuum(client).await?;
    let mut size = 0;
    for d in defs {
        size += relation_size(client, &d.name).await?;
    }
    Ok(SetMeasure {
        label: label.to_string(),
        indexes: defs.iter().map(|d| d.name.clone()).collect(),
        size_bytes: size,
        insert_ratio: cost.insert_time_ratio,
        hot: upd.active().then(|| HotUpdates {
            with_all: median(&with.shares),
            without_all: median(&none.shares),
            updates: (upd.per * o.rounds) as u64,
            with_all_ci: Some(median_interval(&with.shares)),
            without_all_ci: Some(median_interval(&none.shares)),
            pages: hot_pages(&upd.table),
            rounds: o.rounds,
        }),
        queries: Vec::new(),
    })
}

/// One set's costs, with exactly its indexes built: the update workload's
/// HOT share, the insert cost against the baseline, and its size.
pub(crate) async fn costs(
    lab: &Lab<'_>,
    built: &mut Built,
    label: &str,
    defs: &[IndexDef],
    upd: &mut Updates,
    none: &HotSamples,
) -> Result<SetMeasure> {
    built.enter(&lab.client, defs).await?;
    set_costs(lab, label, defs, upd, none).await
}

/// Every read with set `a` against set `b`, paired ([`paired::compare`]):
/// both sets' indexes built once, each side hiding what its set lacks.
/// Each pair's speed-up is `b`'s median over `a`'s.
pub(crate) async fn time_whole(
    lab: &Lab<'_>,
    built: &mut Built,
    a: (&str, &[IndexDef]),
    b: (&str, &[IndexDef]),
) -> Result<Vec<Pair>> {
    let mut union: Vec<IndexDef> = a.1.to_vec();
    for d in b.1 {
        if !union.iter().any(|u| u.name == d.name) {
            union.push(d.clone());
        }
    }
    built.enter(&lab.client, &union).await?;
    let lacks = |set: &[IndexDef]| -> Vec<IndexDef> {
        union
            .iter()
            .filter(|u| !set.iter().any(|d| d.name == u.name))
            .cloned()
            .collect()
    };
    let (hide_a, hide_b) = (lacks(a.1), lacks(b.1));
    let reads: Vec<&Read> = lab.reads.iter().collect();
    paired::compare(
        &lab.client,
        &reads,
        &paired::State {
            label: a.0,
            hide: &hide_a,
        },
        &paired::State {
            label: b.0,
            hide: &hide_b,
        },
        lab.o,
    )
    .await
}
