//! Turning one benchmark run into `reports/<run-id>/`: criterion's timings,
//! every plan, index costs, leave-one-out ablation, the migration's own
//! cost, the environment and the findings, in `results.json`.

use std::path::{Path, PathBuf};

use super::{ablation, costs, environment, findings, migration_cost};
use crate::cluster::Endpoint;
use crate::error::{Context, Result};
use crate::explain::{explain_all, ExplainOptions, ExplainRun};
use crate::queries::{Catalogue, Query};
use crate::report::{
    self, criterion, IndexInfo, MigrationInfo, PlanRef, QueryResult, Results, Tool,
};
use crate::schema::{IndexState, Migration};
use crate::workspace::Workspace;

/// What to collect after criterion has run.
pub struct RunInput<'a> {
    pub ws: &'a Workspace,
    pub catalogue: &'a Catalogue,
    pub migration: &'a Migration,
    /// The states criterion ran each query in.
    pub states: Vec<IndexState>,
    pub reports_dir: PathBuf,
    /// Also measure index costs, ablation and the migration's cost (embedded only).
    pub costs: bool,
}

/// Collects the run and writes `results.json`; returns the run folder.
pub async fn write_run(input: &RunInput<'_>) -> Result<PathBuf> {
    let id = report::run_id();
    let dir = report::new_run_dir(&input.reports_dir, &id)?;
    let m = input.migration;
    let db = &input.ws.db;

    let mut results = Results {
        schema_version: report::SCHEMA_VERSION,
        run_id: id,
        created_at: chrono::Utc::now().to_rfc3339(),
        tool: Tool {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: report::git_commit(),
        },
        environment: environment::environment(&db.connect().await?, db).await?,
        scale: input.ws.scale.name().to_string(),
        seed: input.ws.seed,
        counts: input.ws.cluster.as_ref().map(|_| input.ws.scale.counts()),
        migration: MigrationInfo {
            name: m.name.clone(),
            file: m.forward.label.clone(),
            sql: m.forward.text.clone(),
            indexes: m
                .indexes()
                .iter()
                .map(|i| IndexInfo {
                    name: i.name.clone(),
                    table: i.table.clone(),
                    columns: i.columns.clone(),
                })
                .collect(),
        },
        states: input.states.clone(),
        queries: Vec::new(),
        writes: Vec::new(),
        index_costs: Vec::new(),
        hot_updates: None,
        ablation: Vec::new(),
        sweep: Vec::new(),
        migration_cost: None,
        findings: Vec::new(),
        violations: Vec::new(),
        not_runnable: Vec::new(),
        foreign_keys: Vec::new(),
        database: None,
    };
    if input.ws.cluster.is_none() {
        results.database = Some(crate::schema::found(&db.connect().await?, m).await?);
    }

    if input.costs && input.ws.may_change_indexes {
        let scratch = clone_db(db, "helpdesk_bench_costs").await?;
        let c = scratch.connect().await?;
        results.ablation = ablation::ablation(&c, m, input.catalogue).await?;
        let (index_costs, hot) =
            costs::index_costs(&c, m, input.catalogue, costs::CostOptions::default()).await?;
        results.index_costs = index_costs;
        results.hot_updates = Some(hot);
        results.foreign_keys = super::foreign_keys(&c).await?;
        super::measure_deletes(&c, m, &mut results.foreign_keys).await?;
        drop(c);
        drop_db(db, "helpdesk_bench_costs").await?;
    }
    if let (true, Some(before)) = (input.costs, &input.ws.before_db) {
        let scratch = clone_db(before, "helpdesk_bench_migration_cost").await?;
        results.migration_cost = Some(migration_cost::migration_cost(&scratch, m).await?);
        drop_db(before, "helpdesk_bench_migration_cost").await?;
    }

    if results.foreign_keys.is_empty() {
        results.foreign_keys = super::foreign_keys(&db.connect().await?).await?;
    }
    let plans = explain_all(
        db,
        &ExplainOptions {
            catalogue: input.catalogue,
            migration: m,
            only: vec![],
            ablation: false,
            may_change_indexes: input.ws.may_change_indexes,
            force: input.ws.force,
            out: dir.join("plans"),
        },
    )
    .await?;
    let root = criterion::criterion_dir();
    results.not_runnable = plans.not_runnable.clone();
    let runnable = |q: &&Query| !plans.not_runnable.iter().any(|n| n.query == q.name);
    for q in input.catalogue.reads().filter(runnable) {
        results
            .queries
            .push(query_result(q, &q.name, input, &plans, &root, &dir)?);
    }
    for q in input.catalogue.writes() {
        let group = format!("write_{}", q.name);
        results
            .writes
            .push(query_result(q, &group, input, &plans, &root, &dir)?);
    }
    results.violations = plans.violations.clone();
    results.findings = findings::findings(&results, m);
    results.write(&dir.join("results.json"))?;
    report::render(&results, &dir)?;
    report::point_latest(&input.reports_dir, &dir)?;
    Ok(dir)
}

/// One query's timings (from criterion) and plans.
fn query_result(
    q: &Query,
    group: &str,
    input: &RunInput<'_>,
    plans: &ExplainRun,
    root: &Path,
    dir: &Path,
) -> Result<QueryResult> {
    let timings = criterion::timings(root, group, &input.states, input.migration);
    criterion::copy_pages(root, group, dir)?;
    let miss = plans
        .plans
        .iter()
        .find_map(|p| (p.query == q.name).then(|| p.miss.clone()).flatten());
    Ok(QueryResult {
        miss,
        name: q.name.clone(),
        screen: q.screen.clone(),
        sql: q.sql.clone(),
        expect_index: q.expect_index.clone(),
        speedup: QueryResult::speedup_of(&timings),
        timings,
        plans: plans
            .plans
            .iter()
            .filter(|p| p.query == q.name)
            .map(|p| PlanRef {
                state: p.state.clone(),
                file: format!("plans/{}", p.file),
                summary: p.summary.clone(),
            })
            .collect(),
    })
}

/// Clones the workspace database (which must have no open connections),
/// replacing an earlier clone of the same name.
pub async fn clone_db(db: &Endpoint, name: &str) -> Result<Endpoint> {
    drop_db(db, name).await?;
    crate::cluster::create_database(&db.with_dbname("postgres"), name, Some(&db.dbname())).await
}

/// Drops a scratch database made by [`clone_db`].
pub async fn drop_db(db: &Endpoint, name: &str) -> Result<()> {
    let admin = db.with_dbname("postgres").connect().await?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .context(format!("dropping {name}"))
}
