//! Explaining the whole catalogue: every read query in every index state,
//! each plan written as `<query>.<state>.json` (the server's JSON, unchanged)
//! with a summary and the plan assertions in `plans.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::capture::capture;
use super::plan::Plan;
use super::summary::{check, PlanSummary, Violation};
use crate::cluster::Endpoint;
use crate::error::{Context, Result};
use crate::queries::{split_runnable, Catalogue, NotRunnable, ParamPool, Query};
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
}

/// One captured plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Captured {
    pub query: String,
    pub state: IndexState,
    /// The plan file, relative to the output directory.
    pub file: String,
    pub params: Vec<Option<String>>,
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
    std::fs::create_dir_all(&o.out).context(o.out.display())?;
    let (queries, not_runnable) = split_runnable(session.client(), selected(o)?).await?;
    let mut pools = Vec::new();
    for q in &queries {
        pools.push(ParamPool::sample(session.client(), q).await?);
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

/// Captures, writes and checks one query's plan in the current state.
async fn capture_one(
    client: &Client,
    o: &ExplainOptions<'_>,
    state: &IndexState,
    q: &Query,
    pool: &ParamPool,
    run: &mut ExplainRun,
) -> Result<()> {
    let json = capture(client, q, pool.first()).await?;
    let file = format!("{}.{}.json", q.name, state.id(o.migration));
    write(&o.out.join(&file), &json)?;
    let summary = PlanSummary::of(&Plan::from_json(&json)?);
    let all: Vec<String> = o
        .migration
        .indexes()
        .iter()
        .map(|i| i.name.clone())
        .collect();
    run.violations
        .extend(check(&q.name, state, &q.expect_index, &all, &summary));
    run.plans.push(Captured {
        query: q.name.clone(),
        state: state.clone(),
        file,
        params: pool.first().to_vec(),
        miss: pool.miss.clone(),
        summary,
    });
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).context(path.display())
}
