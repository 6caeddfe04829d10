//! Turning one benchmark run into `reports/<run-id>/`: criterion's timings,
//! every plan, index costs, leave-one-out ablation, the migration's own
//! cost, the environment and the findings, in `results.json`.

use std::path::{Path, PathBuf};

use super::captured::{self, Shown};
use super::timed::QueryCapture;
use super::{ablation, costs, environment, findings, migration_cost};
use crate::cluster::Endpoint;
use crate::error::{Context, Result};
use crate::explain::{missing_stats, PlanCacheMode};
use crate::measure::{criterion, CriterionRun};
use crate::queries::{split_runnable, Catalogue, Query};
use crate::report;
use crate::results;
use crate::results::{
    BaselineRef, IndexInfo, LoadSample, MigrationInfo, QueryResult, Results, Tool,
};
use crate::schema::{IndexState, Migration, MigrationChain};
use crate::scratch::{Scratch, Stage};
use crate::seed::Reporter;
use crate::stats::Interval;
use crate::workspace::Workspace;

/// What to collect after criterion has run.
pub struct RunInput<'a> {
    pub ws: &'a Workspace,
    pub catalogue: &'a Catalogue,
    /// The migrations applied; the last is under test.
    pub chain: &'a MigrationChain,
    /// The states criterion ran each query in.
    pub states: Vec<IndexState>,
    pub reports_dir: PathBuf,
    /// Also measure index costs, ablation and the migration's cost (embedded only).
    pub costs: bool,
    /// Production row counts to project the deploy advice to, by table
    /// (`HELPDESK_BENCH_PRODUCTION_ROWS`); empty for no projection.
    pub production_rows: Vec<(String, u64)>,
    /// This bench process's criterion flags and baseline snapshot: only
    /// benchmarks it ran are read.
    pub criterion: &'a CriterionRun,
    /// What each read's timing left: its rows' times and the plans the
    /// timed statements ran with.
    pub captures: &'a [QueryCapture],
    /// The plan cache mode the reads were timed under.
    pub plan_cache: PlanCacheMode,
    /// Show parameter values as they are on a database the tool did not
    /// seed (`--show-parameters`); they are hashed otherwise.
    pub show_parameters: bool,
}

/// Collects the run and writes `results.json`; returns the run folder.
/// A run that criterion's filter made partial holds only what it measured
/// and leaves `reports/latest` where it was; a filter that left out every
/// read (`cargo bench -- write_`) writes no run folder (`None`). A run
/// without a filter that timed no read is an error.
pub async fn write_run(input: &RunInput<'_>) -> Result<Option<PathBuf>> {
    let m = &input.chain.under_test;
    let (mut results, measured) = survey(input).await?;
    if measured.is_empty() {
        return match input.criterion.args.filter {
            Some(_) => Ok(None),
            None => Err(crate::error::Error::NothingMeasured {
                what: "the query benchmarks".into(),
                why: "criterion timed no read query of the catalogue".into(),
            }),
        };
    }
    let (id, dir) = results::new_run_dir(&input.reports_dir)?;
    results.run_id = id;
    // No connection to the workspace database may be open here: the costs
    // are measured on a clone of it.
    if input.costs && input.ws.may_change_indexes && !results.partial {
        add_costs(&mut results, input, &dir).await?;
    }
    let client = input.ws.db.connect().await?;
    if results.foreign_keys.is_empty() {
        results.foreign_keys = super::foreign_keys(&client).await?;
    }
    results.plan_cache = input.plan_cache;
    results.parameters_shown = input.ws.cluster.is_some() || input.show_parameters;
    for q in measured {
        let mut r = query_result(q, &q.name, input, &dir)?;
        if let Some(c) = input.captures.iter().find(|c| c.query == q.name) {
            let types = sample_types(&client, q).await?;
            let shown = Shown {
                values: results.parameters_shown,
                types: &types,
            };
            let rec = captured::record(c, q, m, &dir, &shown)?;
            results.violations.extend(rec.violations);
            (r.plans, r.params) = (rec.plans, rec.params);
            r.plan_depends_on_parameter = rec.plan_depends_on_parameter;
            r.miss = c.miss.clone();
            results
                .machine_load
                .extend(c.states.iter().map(|s| LoadSample {
                    query: q.name.clone(),
                    state: s.state.clone(),
                    start: s.load.0,
                    end: s.load.1,
                }));
        }
        r.unexplained = captured::unexplained(&r);
        r.missing_stats = missing_stats(&client, &q.sql, &relations(&r)).await?;
        results.queries.push(r);
    }
    if !results.partial {
        for q in input.catalogue.writes() {
            let group = format!("write_{}", q.name);
            results.writes.push(query_result(q, &group, input, &dir)?);
        }
    }
    results.geomean_speedup = geomean(input, &results.queries);
    results.findings = findings::findings(&results, m);
    let baseline = baseline_results(input);
    results.recommendations = super::recommendations(&results, m, baseline.as_ref());
    results.deploy =
        super::deploy_advice(&results, &input.production_rows, super::PRODUCTION_ROWS_ENV);
    finish(input, &results, &dir)?;
    Ok(Some(dir))
}

/// The run's header, which queries this process measured, whether that is
/// all of them, and (on a user's database) what was found. Queries the
/// database can't run (a "before" database) were never benched: they make
/// no run partial.
async fn survey<'a>(input: &RunInput<'a>) -> Result<(Results, Vec<&'a Query>)> {
    let (m, db, crit) = (&input.chain.under_test, &input.ws.db, input.criterion);
    let client = db.connect().await?;
    let (runnable, not_runnable) = split_runnable(&client, input.catalogue.reads()).await?;
    let measured: Vec<&Query> = runnable
        .iter()
        .copied()
        .filter(|q| !crit.timings(&q.name, &input.states, m).is_empty())
        .collect();
    let mut results = header(input, &environment::environment(&client, db).await?);
    results.partial = runnable
        .iter()
        .any(|q| input.states.iter().any(|s| !crit.ran(&q.name, &s.id(m))));
    results.not_runnable = not_runnable;
    if input.ws.cluster.is_none() {
        results.database = Some(crate::schema::found(&client, m).await?);
    }
    Ok((results, measured))
}

/// Writes results.json, the online variant and the pages; records a saved
/// baseline; moves `reports/latest` for a complete run.
fn finish(input: &RunInput<'_>, results: &Results, dir: &Path) -> Result<()> {
    results.write(&dir.join("results.json"))?;
    let online = dir.join(super::ONLINE_FILE);
    std::fs::write(&online, crate::schema::online_sql(&input.chain.under_test))
        .context(online.display())?;
    report::render(results, dir)?;
    if let Some(name) = input.criterion.args.save_name() {
        results::record_baseline(&input.reports_dir, name, dir)?;
    }
    if !results.partial {
        results::point_latest(&input.reports_dir, dir)?;
    }
    Ok(())
}

/// The run's environment and migration, with nothing measured yet (its
/// id comes with its folder).
fn header(input: &RunInput<'_>, env: &results::Environment) -> Results {
    let m = &input.chain.under_test;
    let args = &input.criterion.args;
    Results {
        schema_version: results::SCHEMA_VERSION,
        created_at: chrono::Utc::now().to_rfc3339(),
        tool: Tool {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: results::git_commit(),
        },
        environment: env.clone(),
        scale: input.ws.scale.name().to_string(),
        seed: input.ws.seed,
        counts: input.ws.seeded_counts(input.chain, false),
        data_like: input.ws.data_like(input.chain, false),
        migration: migration_info(m),
        states: input.states.clone(),
        filter: args.filter.clone(),
        saved_baseline: args.save_name().map(str::to_string),
        compared_with: args.compare_name().map(|name| BaselineRef {
            name: name.to_string(),
            run_id: results::baseline_run(&input.reports_dir, name)
                .and_then(|d| d.file_name().map(|f| f.to_string_lossy().into_owned())),
        }),
        ..Default::default()
    }
}

/// What `results.json` says about the migration under test.
pub fn migration_info(m: &Migration) -> MigrationInfo {
    MigrationInfo {
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
    }
}

/// Index costs, ablation, foreign-key delete costs, on a scratch copy; the
/// migration's own cost on a scratch copy before it. Each copy has a name
/// of its own ([`Scratch`]), so two runs never share one, and is dropped
/// whatever happens (on a user's server its guard drops it, with its
/// account in the run folder `dir`).
async fn add_costs(results: &mut Results, input: &RunInput<'_>, dir: &Path) -> Result<()> {
    let (ws, m) = (input.ws, &input.chain.under_test);
    let quiet = Reporter::quiet();
    let scratch = Scratch::create(ws, input.chain, Stage::After, &quiet, dir).await?;
    let measured = async {
        let c = scratch.db.connect().await?;
        results.ablation = ablation::ablation(&c, m, input.catalogue).await?;
        let (index_costs, hot) =
            costs::index_costs(&c, m, input.catalogue, costs::CostOptions::default()).await?;
        results.index_costs = index_costs;
        results.hot_updates = hot;
        results.foreign_keys = super::foreign_keys(&c).await?;
        super::measure_deletes(&c, m, &mut results.foreign_keys).await
    }
    .await;
    scratch.drop_now().await?;
    measured?;
    if ws.before_db.is_some() {
        let scratch = Scratch::create(ws, input.chain, Stage::Before, &quiet, dir).await?;
        let cost = migration_cost::migration_cost(&scratch.db, m).await;
        scratch.drop_now().await?;
        results.migration_cost = Some(cost?);
    }
    Ok(())
}

/// The tables a query's plans read.
fn relations(q: &QueryResult) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in q.plans.iter().flat_map(|p| &p.summary.relations) {
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

/// The results of the run that saved the baseline this run is compared
/// with, when its folder is still there.
fn baseline_results(input: &RunInput<'_>) -> Option<Results> {
    let name = input.criterion.args.compare_name()?;
    let dir = results::baseline_run(&input.reports_dir, name)?;
    Results::read(&dir.join("results.json")).ok()
}

/// Each parameter's type, from the columns of the query's sample.
async fn sample_types(client: &tokio_postgres::Client, q: &Query) -> Result<Vec<String>> {
    let Some(sample) = &q.sample else {
        return Ok(Vec::new());
    };
    let st = client
        .prepare(sample)
        .await
        .context(format!("reading the types of {}'s sample", q.name))?;
    Ok(st
        .columns()
        .iter()
        .map(|c| c.type_().name().to_string())
        .collect())
}

/// One query's timings (from criterion, this process only); its plans and
/// parameter rows come from its capture.
fn query_result(q: &Query, group: &str, input: &RunInput<'_>, dir: &Path) -> Result<QueryResult> {
    let crit = input.criterion;
    let timings = crit.timings(group, &input.states, &input.chain.under_test);
    if !timings.is_empty() {
        criterion::copy_pages(&crit.root, group, dir)?;
    }
    let samples = |s: &IndexState| crit.samples(group, &s.id(&input.chain.under_test));
    let speedup_ci = match (samples(&IndexState::Without), samples(&IndexState::With)) {
        (Some(without), Some(with)) if !without.is_empty() && !with.is_empty() => {
            Some(crate::stats::ratio_interval(&without, &with))
        }
        _ => None,
    };
    Ok(QueryResult {
        miss: None,
        speedup_ci,
        name: q.name.clone(),
        screen: q.screen.clone(),
        sql: q.sql.clone(),
        expect_index: q.expect_index.clone(),
        speedup: QueryResult::speedup_of(&timings),
        timings,
        plans: Vec::new(),
        missing_stats: Vec::new(),
        params: Vec::new(),
        plan_depends_on_parameter: false,
        unexplained: None,
    })
}

/// The geometric mean of the reads' speed-ups with its interval, from
/// criterion's samples of both states, leaving out the reads whose change
/// is likely noise; `None` unless some read was timed in both.
fn geomean(input: &RunInput<'_>, queries: &[QueryResult]) -> Option<Interval> {
    let m = &input.chain.under_test;
    let crit = input.criterion;
    let sides: Vec<(Vec<f64>, Vec<f64>)> = queries
        .iter()
        .filter(|q| q.unexplained.is_none())
        .filter_map(|q| {
            let without = crit.samples(&q.name, &IndexState::Without.id(m))?;
            let with = crit.samples(&q.name, &IndexState::With.id(m))?;
            (!without.is_empty() && !with.is_empty()).then_some((without, with))
        })
        .collect();
    if sides.is_empty() {
        return None;
    }
    let pairs: Vec<(&[f64], &[f64])> = sides
        .iter()
        .map(|(a, b)| (a.as_slice(), b.as_slice()))
        .collect();
    Some(crate::stats::geomean_ratio_interval(&pairs))
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
