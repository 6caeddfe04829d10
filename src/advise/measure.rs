//! Measuring on the scratch copy: the baseline (the migration's columns,
//! none of the indexes it changes), then each candidate built alone on top
//! of it. A candidate's reads are timed only where the planner's plan with
//! the built index uses it at a lower estimated cost than the baseline's
//! (the prune), and then paired with the baseline at the same moment
//! ([`super::paired`]); its size, build times and insert cost come from the
//! index-costs machinery ([`crate::measure::costs`]).
//!
//! Visibility: writes clear visibility-map bits, which turns index-only
//! scans into heap fetches. The insert rounds roll back, but their dead
//! tuples still dirty pages, so each candidate ends with a `VACUUM` of its
//! table, and reads are always timed on freshly vacuumed pages.

use std::time::Instant;

use tokio_postgres::Client;

use super::candidates::Candidate;
use super::{paired, Lab, Options};
use crate::error::{Context, Result};
use crate::explain::{capture, Plan, PlanSummary};
use crate::measure::costs::{build_rounds, insert_rounds, relation_size, table_rows, CostOptions};
use crate::queries::{as_sql, ParamPool, Prepared, Query};
use crate::results::{AdviceCandidate, AdviceQuery, Effect, IndexCost};
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

fn total_cost(plan: &Plan) -> f64 {
    plan.root()
        .and_then(|r| r.get("Total Cost"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0)
}

/// The planner's plan (no execution) with the pool's first parameters:
/// its total cost and the indexes it uses.
async fn estimate(client: &Client, r: &Read) -> Result<(f64, Vec<String>)> {
    let q = &r.query;
    let sql = format!("EXPLAIN (FORMAT JSON) {}", q.statements[0]);
    let types = vec![tokio_postgres::types::Type::TEXT; q.params];
    let doing = format!("estimating {}", q.name);
    let stmt = client.prepare_typed(&sql, &types).await.context(&doing)?;
    let row = client
        .query_one(&stmt, &as_sql(r.prepared.pool.first(), q.params))
        .await
        .context(&doing)?;
    let json: crate::explain::JsonText = row.get(0);
    let plan = Plan::from_json(&json.0)?;
    Ok((total_cost(&plan), plan.indexes_used()))
}

/// Builds `c` alone on the baseline, measures it, and drops it again.
/// The reads its plans use it for are timed paired: with it against
/// without it ([`paired`]), at the same moment on the same rows.
pub(crate) async fn candidate(
    lab: &Lab<'_>,
    c: &Candidate,
    baseline: &[Timed],
) -> Result<AdviceCandidate> {
    let (client, o) = (&lab.client, lab.o);
    let mut cost = IndexCost {
        name: c.def.name.clone(),
        table: c.def.table.clone(),
        ..Default::default()
    };
    build_rounds(client, &c.def, o.builds, &mut cost).await?;
    cost.size_bytes = relation_size(client, &c.def.name).await?;
    cost.table_rows = table_rows(client, &c.def.table).await?;
    let co = CostOptions {
        inserts: o.inserts,
        rounds: o.rounds,
        ..Default::default()
    };
    insert_rounds(client, &lab.inserts, &[&c.def], co, &mut cost).await?;
    vacuum(client).await?;
    let mut effects = Vec::new();
    let mut timed: Vec<&Read> = Vec::new();
    for (r, base) in lab.reads.iter().zip(baseline) {
        let e = effect(client, c, r, base).await?;
        if e.uses && e.estimated_cost < base.row.estimated_cost {
            timed.push(r);
        }
        effects.push(e);
    }
    let with = paired::State {
        label: &c.def.name,
        hide: &[],
    };
    let hide = [c.def.clone()];
    let without = paired::State {
        label: "the baseline",
        hide: &hide,
    };
    let pairs = paired::compare(client, &timed, &with, &without, o).await?;
    for (r, p) in timed.iter().zip(pairs) {
        let e = effects
            .iter_mut()
            .find(|e| e.query == r.query.name)
            .expect("an effect per read");
        e.median = Some(p.a.row.median);
        e.speedup = Some(p.speedup);
        e.pairs = p.a.samples.len();
        e.plan = p.a.row.plan;
    }
    drop_index(client, &c.def).await?;
    let per_insert = |rate: f64| 1e3 / rate.max(1e-9);
    Ok(AdviceCandidate {
        name: c.def.name.clone(),
        table: c.def.table.clone(),
        sql: c.def.create_sql(false),
        kind: c.kind,
        reason: c.reason.clone(),
        queries: c.queries.clone(),
        share: c.share,
        insert_added_ms: per_insert(cost.inserts_per_s_with)
            - per_insert(cost.inserts_per_s_without),
        cost,
        effects,
        ..Default::default()
    })
}

/// One read with the candidate built, as the planner estimates it: whether
/// its plan uses the candidate, and at what cost (timed only when it does,
/// at a lower cost than the baseline's).
async fn effect(client: &Client, c: &Candidate, r: &Read, base: &Timed) -> Result<Effect> {
    let (cost, used) = estimate(client, r).await?;
    Ok(Effect {
        query: r.query.name.clone(),
        uses: used.contains(&c.def.name),
        estimated_cost: cost,
        median: None,
        speedup: None,
        pairs: 0,
        plan: base.row.plan.clone(),
    })
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
