//! The update workload's cost (HOT share and time per update) with each
//! candidate on the updated table alone, and whole index sets measured
//! together: the migration's own and the suggested one, since indexes
//! interact (the planner picks one of several, and every index on an
//! updated column costs the HOT path).
//!
//! Updates commit (a HOT update that is rolled back tells nothing about the
//! next one), each on a conversation not updated before, on pages given
//! room first, as the index-costs table does.

use std::time::Instant;

use tokio_postgres::Client;

use super::candidates::Candidate;
use super::measure::{create_index, drop_index, time_all, vacuum, Timed, TABLES};
use super::{Lab, Options};
use crate::error::{Error, Result};
use crate::measure::costs::{insert_rounds, relation_size, update_counts, CostOptions, HOT_PAGES};
use crate::queries::{ParamPool, Prepared, Query};
use crate::report::{HotUpdates, IndexCost, SetMeasure};
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

/// Builds `defs` on the baseline, measures the update workload, every read
/// and the insert cost with them together, and drops them again.
pub(crate) async fn measure_set(
    lab: &Lab<'_>,
    label: &str,
    defs: &[IndexDef],
    upd: &mut Updates,
    none: &HotSamples,
) -> Result<(SetMeasure, Vec<Timed>)> {
    let (client, o) = (&lab.client, lab.o);
    for d in defs {
        create_index(client, d).await?;
    }
    let mut with = HotSamples::default();
    for _ in 0..o.rounds {
        with.add(upd.batch(client).await?);
    }
    vacuum(client, &TABLES).await?;
    let timed = time_all(client, &lab.reads, o).await?;
    let mut cost = IndexCost::default();
    let refs: Vec<&IndexDef> = defs.iter().collect();
    let co = CostOptions {
        inserts: o.inserts,
        rounds: o.rounds,
        ..Default::default()
    };
    insert_rounds(client, &lab.inserts, &refs, co, &mut cost).await?;
    let mut size = 0;
    for d in defs {
        size += relation_size(client, &d.name).await?;
    }
    for d in defs {
        drop_index(client, d).await?;
    }
    vacuum(client, &TABLES).await?;
    let hot = HotUpdates {
        with_all: median(&with.shares),
        without_all: median(&none.shares),
        updates: (upd.per * o.rounds) as u64,
        with_all_ci: Some(median_interval(&with.shares)),
        without_all_ci: Some(median_interval(&none.shares)),
        pages: HOT_PAGES.to_string(),
        rounds: o.rounds,
    };
    let set = SetMeasure {
        label: label.to_string(),
        indexes: defs.iter().map(|d| d.name.clone()).collect(),
        size_bytes: size,
        insert_ratio: cost.insert_time_ratio,
        hot: Some(hot),
        queries: timed.iter().map(|t| t.row.clone()).collect(),
    };
    Ok((set, timed))
}
