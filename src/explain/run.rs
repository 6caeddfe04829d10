//! Explaining the whole catalogue: every read query in every index state,
//! each plan written as `<query>.<state>.json` (the server's JSON, unchanged)
//! with a summary and the plan assertions in `plans.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::capture::capture;
use super::plan::Plan;
use super::summary::{check, PlanSummary, Violation};
use crate::cluster::Endpoint;
use crate::error::{Context, Result};
use crate::queries::{Catalogue, ParamPool};
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
    pub summary: PlanSummary,
}

/// Everything one explain run produced.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExplainRun {
    pub options: String,
    pub states: Vec<IndexState>,
    pub plans: Vec<Captured>,
    pub violations: Vec<Violation>,
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
/// each state in its own read-only transaction (see [`Session`]).
pub async fn explain_all(db: &Endpoint, o: &ExplainOptions<'_>) -> Result<ExplainRun> {
    let mut session = Session::open(db, o.migration, o.force).await?;
    std::fs::create_dir_all(&o.out).context(o.out.display())?;
    let queries: Vec<_> = if o.only.is_empty() {
        o.catalogue.reads().collect()
    } else {
        o.only
            .iter()
            .map(|n| o.catalogue.get(n))
            .collect::<Result<_>>()?
    };
    let mut pools = Vec::new();
    for q in &queries {
        pools.push(ParamPool::sample(session.client(), q).await?);
    }
    let found = present_indexes(session.client(), o.migration).await?;
    let states: Vec<IndexState> = if o.may_change_indexes {
        let mut s = vec![IndexState::Without, IndexState::With];
        if o.ablation {
            s.extend(IndexState::ablation(o.migration));
        }
        s
    } else {
        vec![IndexState::AsFound]
    };
    let all: Vec<String> = o
        .migration
        .indexes()
        .iter()
        .map(|i| i.name.clone())
        .collect();
    let mut run = ExplainRun {
        options: super::OPTIONS.to_string(),
        states: states.clone(),
        plans: Vec::new(),
        violations: Vec::new(),
    };
    for state in &states {
        session.enter(state, Access::ReadOnly).await?;
        let id = state.id(o.migration);
        for (q, pool) in queries.iter().zip(&pools) {
            let json = capture(session.client(), q, pool.first()).await?;
            let file = format!("{}.{id}.json", q.name);
            write(&o.out.join(&file), &json)?;
            let summary = PlanSummary::of(&Plan::from_json(&json)?);
            run.violations
                .extend(check(&q.name, state, &q.expect_index, &all, &summary));
            run.plans.push(Captured {
                query: q.name.clone(),
                state: state.clone(),
                file,
                params: pool.first().to_vec(),
                summary,
            });
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

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).context(path.display())
}
