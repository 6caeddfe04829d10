//! Explaining the whole catalogue: every read query in every index state,
//! each plan written as `<query>.<state>.json` (the server's JSON, unchanged)
//! with a summary and the plan assertions in `plans.json`.
//!
//! Each query is explained as an application runs it: prepared once, run
//! a few times (so the server's plan cache has chosen between custom and
//! generic plans, as it has for the benches' timed statements), then
//! `EXPLAIN (ANALYZE) EXECUTE` of that statement for each of its stratified
//! parameter rows. The row that stands for the query (the median) is
//! `<query>.<state>.json`; the others add their row's name.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::plan::Plan;
use super::prepared::{explain_prepared, PlanCacheMode, PlanKind};
use super::strata::{representative, stratify, ParamRow};
use super::summary::{check, PlanSummary, Violation};
use crate::cluster::Endpoint;
use crate::error::{Context, Result};
use crate::queries::{split_runnable, Catalogue, NotRunnable, ParamPool, Prepared, Query};
use crate::schema::{
    present_indexes, restore_present, Access, IndexState, Migration, Policy, Session,
};

/// What to explain.
pub struct ExplainOptions<'a> {
    pub catalogue: &'a Catalogue,
    pub migration: &'a Migration,
    /// Queries to explain; empty means every read query.
    pub only: Vec<String>,
    /// Also explain with each index left out in turn.
    pub ablation: bool,
    /// Whether indexes may be dropped and built; if not, the database is
    /// explained in the state it is in.
    pub may_change_indexes: bool,
    /// Switch states even while other sessions use the tables.
    pub force: bool,
    pub out: PathBuf,
    /// How the server chooses custom or generic plans.
    pub plan_cache: PlanCacheMode,
}

/// One captured plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Captured {
    pub query: String,
    pub state: IndexState,
    /// The plan file, relative to the output directory.
    pub file: String,
    pub params: Vec<Option<String>>,
    /// The parameter row's stratum (`median`, `largest`, ...).
    #[serde(default)]
    pub param: String,
    /// Whether the statement ran with a generic or a custom plan.
    #[serde(default)]
    pub kind: Option<PlanKind>,
    /// Set when the parameters match nothing because the sample found no
    /// rows (see [`ParamPool::miss`]).
    #[serde(default)]
    pub miss: Option<String>,
    pub summary: PlanSummary,
}

/// Everything one explain run produced.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExplainRun {
    pub options: String,
    pub states: Vec<IndexState>,
    pub plans: Vec<Captured>,
    pub violations: Vec<Violation>,
    /// Queries the database cannot run as it is, with the server's reason.
    #[serde(default)]
    pub not_runnable: Vec<NotRunnable>,
}

impl ExplainRun {
    /// The plan of one query in one state.
    pub fn plan(&self, query: &str, state: &IndexState) -> Option<&Captured> {
        self.plans
            .iter()
            .find(|p| p.query == query && &p.state == state)
    }
}

/// Runs the catalogue's read queries under EXPLAIN ANALYZE in each state,
/// each state in its own read-only transaction (see [`Session`]). Queries
/// the database cannot run are listed in [`ExplainRun::not_runnable`].
pub async fn explain_all(db: &Endpoint, o: &ExplainOptions<'_>) -> Result<ExplainRun> {
    let mut session = Session::open(db, o.migration, o.force).await?;
    session
        .client()
        .batch_execute(o.plan_cache.set_sql())
        .await
        .context("setting plan_cache_mode")?;
    std::fs::create_dir_all(&o.out).context(o.out.display())?;
    let (queries, not_runnable) = split_runnable(session.client(), selected(o)?).await?;
    let mut pools = Vec::new();
    for q in &queries {
        let pool = ParamPool::sample(session.client(), q).await?;
        let rows = stratify(session.client(), q, &pool).await?;
        pools.push((pool.miss, rows));
    }
    let found = present_indexes(session.client(), o.migration).await?;
    let mut run = ExplainRun {
        options: super::OPTIONS.to_string(),
        states: states(o),
        plans: Vec::new(),
        violations: Vec::new(),
        not_runnable,
    };
    for state in run.states.clone() {
        session.enter(&state, Access::ReadOnly).await?;
        for (q, pool) in queries.iter().zip(&pools) {
            capture_one(session.client(), o, &state, q, pool, &mut run).await?;
        }
    }
    session.leave().await?;
    if o.may_change_indexes && session.policy() == Policy::Commit {
        restore_present(session.client(), o.migration, &found).await?;
    }
    let text = serde_json::to_string_pretty(&run).context("writing plans.json")?;
    write(&o.out.join("plans.json"), &text)?;
    Ok(run)
}

/// The queries asked for: `only`, else every read.
fn selected<'a>(o: &ExplainOptions<'a>) -> Result<Vec<&'a Query>> {
    if o.only.is_empty() {
        return Ok(o.catalogue.reads().collect());
    }
    o.only.iter().map(|n| o.catalogue.get(n)).collect()
}

/// Without and with the migration's indexes (and each left out, with
/// ablation) when they may change; else the database as found.
fn states(o: &ExplainOptions<'_>) -> Vec<IndexState> {
    if !o.may_change_indexes {
        return vec![IndexState::AsFound];
    }
    let mut s = vec![IndexState::Without, IndexState::With];
    if o.ablation {
        s.extend(IndexState::ablation(o.migration));
    }
    s
}

/// How often a statement runs before it is explained: PostgreSQL plans
/// the first five executions custom, and from the sixth chooses.
const WARM_RUNS: usize = 5;

/// Prepares one query, runs it [`WARM_RUNS`] times over its rows, then
/// captures, writes and checks the plan each row's next execution gets,
/// in the current state.
async fn capture_one(
    client: &Client,
    o: &ExplainOptions<'_>,
    state: &IndexState,
    q: &Query,
    (miss, rows): &(Option<String>, Vec<ParamRow>),
    run: &mut ExplainRun,
) -> Result<()> {
    let pool = ParamPool::from_rows(rows.iter().map(|r| r.values.clone()).collect());
    let prepared = Prepared::new(client, q, pool).await?;
    for _ in 0..WARM_RUNS {
        prepared.run_next(client).await?;
    }
    let main = representative(rows).label;
    let all: Vec<String> = o
        .migration
        .indexes()
        .iter()
        .map(|i| i.name.clone())
        .collect();
    for r in rows {
        let plan = explain_prepared(client, &q.name, &q.statements[0], &r.values).await?;
        let file = match r.label == main {
            true => format!("{}.{}.json", q.name, state.id(o.migration)),
            false => format!(
                "{}.{}.{}.json",
                q.name,
                state.id(o.migration),
                r.label.replace(' ', "-")
            ),
        };
        write(&o.out.join(&file), &plan.json)?;
        let summary = PlanSummary::of(&Plan::from_json(&plan.json)?);
        if r.label == main {
            run.violations
                .extend(check(&q.name, state, &q.expect_index, &all, &summary));
        }
        run.plans.push(Captured {
            query: q.name.clone(),
            state: state.clone(),
            file,
            params: r.values.clone(),
            param: r.label.to_string(),
            kind: Some(plan.kind),
            miss: miss.clone(),
            summary,
        });
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).context(path.display())
}
