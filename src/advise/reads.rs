//! The reads `advise` times on the scratch copy, and the primitives every
//! measurement of it builds on: preparing the reads with parameter pools
//! sampled from the copy, entering the baseline, timing a read within the
//! budget, reading its plan, and hiding or building one index.

use std::time::Instant;

use tokio_postgres::Client;

use super::Options;
use crate::error::{Context, Result};
use crate::explain::{capture, Plan, PlanSummary};
use crate::queries::{ParamPool, Prepared, Query};
use crate::results::AdviceQuery;
use crate::schema::{set_state, IndexDef, IndexState, Migration};
use crate::stats::{median_interval, Interval};

/// A read query prepared on the scratch connection, with its parameters.
pub struct Read {
    pub query: Query,
    pub prepared: Prepared,
}

/// One read query measured in one state, with its raw samples.
pub struct Timed {
    pub row: AdviceQuery,
    pub samples: Vec<f64>,
}

/// Enters the baseline: every index the migration creates or drops is
/// absent ([`IndexState::Without`], then the ones it drops too, since the
/// suggestion applies where it ran). Committed: the scratch copy is ours.
pub async fn enter_baseline(client: &Client, m: &Migration) -> Result<()> {
    set_state(client, m, &IndexState::Without).await?;
    for ix in &m.dropped {
        client
            .batch_execute(&ix.drop_sql())
            .await
            .context(format!("dropping {}", ix.name))?;
    }
    Ok(())
}

/// `VACUUM ANALYZE` of the whole scratch database: every table the
/// catalogue reads, whatever the schema, with fresh statistics and
/// visibility maps.
pub async fn vacuum(client: &Client) -> Result<()> {
    client
        .batch_execute("VACUUM ANALYZE")
        .await
        .context("vacuuming the scratch database")
}

/// Prepares every read with a parameter pool sampled from the scratch data.
pub async fn prepare_reads(client: &Client, reads: &[&Query]) -> Result<Vec<Read>> {
    let mut out = Vec::new();
    for q in reads {
        let pool = ParamPool::sample(client, q).await?;
        let prepared = Prepared::new(client, q, pool).await?;
        out.push(Read {
            query: (*q).clone(),
            prepared,
        });
    }
    Ok(out)
}

/// Times every read and captures its plan, in the state as it is.
pub async fn time_all(client: &Client, reads: &[Read], o: &Options) -> Result<Vec<Timed>> {
    let mut out = Vec::new();
    for r in reads {
        out.push(time_one(client, r, o).await?);
    }
    Ok(out)
}

/// One read: samples within the time budget, then its plan (EXPLAIN
/// ANALYZE with the pool's first parameters).
pub async fn time_one(client: &Client, r: &Read, o: &Options) -> Result<Timed> {
    let s = samples(client, &r.prepared, o).await?;
    let mut row = plan_row(client, r).await?;
    row.median = median_interval(&s);
    Ok(Timed { row, samples: s })
}

/// The read's plan in the state as it is (EXPLAIN ANALYZE with the pool's
/// first parameters), as a row whose median is still to be filled.
pub async fn plan_row(client: &Client, r: &Read) -> Result<AdviceQuery> {
    let params = r.prepared.pool.first().to_vec();
    let json = capture(client, &r.query, &params).await?;
    let plan = Plan::from_json(&json)?;
    let summary = PlanSummary::of(&plan);
    Ok(AdviceQuery {
        query: r.query.name.clone(),
        weight: r.query.weight,
        median: Interval {
            point: 0.0,
            low: 0.0,
            high: 0.0,
        },
        plan: plan_line(&summary),
        indexes_used: summary.indexes_used.clone(),
        estimated_cost: total_cost(&plan),
        params,
    })
}

/// Up to `runs` timed runs (ms) within the time budget, at least 3, after
/// `warmup` untimed ones. Every state starts from the pool's first row, so
/// two states are compared on the same parameters in the same order.
async fn samples(client: &Client, p: &Prepared, o: &Options) -> Result<Vec<f64>> {
    let rows = &p.pool.rows;
    let row = |i: usize| {
        rows.get(i % rows.len().max(1))
            .map_or(&[][..], Vec::as_slice)
    };
    for i in 0..o.warmup {
        p.run_with(client, row(i)).await?;
    }
    let started = Instant::now();
    let mut v = Vec::with_capacity(o.runs);
    while v.len() < o.runs && (v.len() < 3 || started.elapsed() < o.budget) {
        let t = Instant::now();
        p.run_with(client, row(v.len())).await?;
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(v)
}

/// `Limit · Index Scan using x on Message`: the top node, then each access path.
pub fn plan_line(s: &PlanSummary) -> String {
    let paths = s.access_paths();
    if paths.is_empty() {
        return s.top_node.clone();
    }
    format!("{} · {}", s.top_node, paths.join(", "))
}

pub(super) fn total_cost(plan: &Plan) -> f64 {
    plan.root()
        .and_then(|r| r.get("Total Cost"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0)
}

/// Drops an index by its definition's name.
pub async fn drop_index(client: &Client, ix: &IndexDef) -> Result<()> {
    client
        .batch_execute(&ix.drop_sql())
        .await
        .context(format!("dropping {}", ix.name))
}

/// Builds an index (plainly, as a migration in a transaction would).
pub async fn create_index(client: &Client, ix: &IndexDef) -> Result<()> {
    client
        .batch_execute(&ix.create_sql(false))
        .await
        .context(format!("building {}", ix.name))
}
