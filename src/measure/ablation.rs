//! Leave-one-out: drop each index alone, keep the others, and see which
//! queries slow down. Only queries whose plan with every index used the
//! dropped one are timed: a plan that did not use an index cannot change
//! when it goes. The others are recorded as unaffected.

use tokio_postgres::Client;

use super::timing::Samples;
use crate::error::Result;
use crate::explain::{capture, Plan, PlanSummary};
use crate::queries::{Catalogue, ParamPool, Prepared};
use crate::results::AblationCell;
use crate::schema::{set_state, IndexState, Migration};
use crate::stats::ratio_interval;

/// Runs per timing, after warm-up.
const RUNS: usize = 21;
const WARMUP: usize = 3;

/// The ablation grid, and the noise of the all-indexes timings (relative
/// interquartile range) for each query.
pub async fn ablation(
    client: &Client,
    m: &Migration,
    catalogue: &Catalogue,
) -> Result<Vec<AblationCell>> {
    set_state(client, m, &IndexState::With).await?;
    let mut base = Vec::new();
    for q in catalogue.reads() {
        let pool = ParamPool::sample(client, q).await?;
        let plan = PlanSummary::of(&Plan::from_json(&capture(client, q, pool.first()).await?)?);
        let p = Prepared::new(client, q, pool).await?;
        let s = Samples::take(client, &p, WARMUP, RUNS).await?;
        base.push((p, plan, s));
    }
    let mut cells = Vec::new();
    for ix in m.indexes() {
        set_state(client, m, &IndexState::LeaveOut(ix.name.clone())).await?;
        for (p, plan, s) in &base {
            let mut cell = AblationCell {
                query: p.query.name.clone(),
                dropped: ix.name.clone(),
                median_ms: s.median(),
                with_all_ms: s.median(),
                slowdown: 1.0,
                slowdown_ci: None,
                used: plan.indexes_used.contains(&ix.name),
                plan_changed: false,
            };
            if cell.used {
                let now = PlanSummary::of(&Plan::from_json(
                    &capture(client, &p.query, p.pool.first()).await?,
                )?);
                cell.plan_changed =
                    now.indexes_used != plan.indexes_used || now.top_node != plan.top_node;
                let t = Samples::take(client, p, WARMUP, RUNS).await?;
                cell.median_ms = t.median();
                cell.slowdown = t.median() / s.median().max(1e-9);
                cell.slowdown_ci = Some(ratio_interval(&t.0, &s.0));
            }
            cells.push(cell);
        }
    }
    set_state(client, m, &IndexState::With).await?;
    Ok(cells)
}
