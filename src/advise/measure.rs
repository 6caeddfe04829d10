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

use tokio_postgres::Client;

use super::candidates::Candidate;
use super::reads::{drop_index, total_cost, vacuum, Read, Timed};
use super::{paired, Lab};
use crate::error::{Context, Result};
use crate::explain::Plan;
use crate::measure::costs::{build_rounds, insert_rounds, relation_size, table_rows, CostOptions};
use crate::queries::as_sql;
use crate::results::{AdviceCandidate, Effect, IndexCost};

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
