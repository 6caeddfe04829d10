//! Latency against row count: each read query, in each index state, at
//! several scales. Shows where the planner switches from a sequential scan
//! to an index, and how cost grows (linear without an index, roughly
//! logarithmic with one).

use crate::error::{Context, Result};
use crate::explain::{capture, Plan, PlanSummary};
use crate::queries::{Catalogue, ParamPool, Prepared};
use crate::results::SweepPoint;
use crate::schema::{set_state, IndexState, MigrationChain, ROW_ESTIMATE};
use crate::seed::{Reporter, Scale};
use crate::workspace::Workspace;

use super::timing::Samples;

/// Runs per point, after warm-up, within a time budget per point.
const RUNS: usize = 30;
const WARMUP: usize = 2;
const BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// Measures every read query in both states of the chain's migration under
/// test at each scale (seeding and caching each scale on first use).
pub async fn sweep(
    scales: &[Scale],
    catalogue: &Catalogue,
    chain: &MigrationChain,
    progress: &Reporter,
) -> Result<Vec<SweepPoint>> {
    let m = &chain.under_test;
    let mut points = Vec::new();
    for &scale in scales {
        let ws = Workspace::open(None, scale, 1, chain, progress).await?;
        let client = ws.db.connect().await?;
        let mut pools = Vec::new();
        for q in catalogue.reads() {
            pools.push(ParamPool::sample(&client, q).await?);
        }
        for state in [IndexState::Without, IndexState::With] {
            set_state(&client, m, &state).await?;
            for (q, pool) in catalogue.reads().zip(&pools) {
                let plan =
                    PlanSummary::of(&Plan::from_json(&capture(&client, q, pool.first()).await?)?);
                let rows = match plan.relations.first() {
                    Some(rel) => table_rows(&client, rel).await?,
                    None => 0,
                };
                let p = Prepared::new(&client, q, pool.clone()).await?;
                let s = Samples::take_within(&client, &p, WARMUP, RUNS, BUDGET).await?;
                points.push(SweepPoint {
                    scale: scale.name().to_string(),
                    rows,
                    query: q.name.clone(),
                    state: state.clone(),
                    median_ms: s.median(),
                    top_node: plan
                        .nodes
                        .iter()
                        .find(|n| n.relation.is_some())
                        .map(|n| n.node_type.clone())
                        .unwrap_or(plan.top_node),
                });
            }
        }
    }
    Ok(points)
}

/// A table's rows: the planner's estimate, else (never analyzed) counted.
async fn table_rows(client: &tokio_postgres::Client, table: &str) -> Result<u64> {
    let name = crate::sql::quote_ident(table);
    let estimate: Option<f64> = client
        .query_one(
            &format!("SELECT {ROW_ESTIMATE} FROM pg_class WHERE oid = to_regclass($1)"),
            &[&name],
        )
        .await
        .context("counting rows")?
        .get(0);
    if let Some(n) = estimate {
        return Ok(n.round() as u64);
    }
    let n: i64 = client
        .query_one(&format!("SELECT count(*) FROM {name}"), &[])
        .await
        .context("counting rows")?
        .get(0);
    Ok(n.max(0) as u64)
}
