//! The report's view model: `results.json` turned into the rows, trees,
//! cells and chart lines the templates print, with every number already
//! formatted with its unit. One builder per section, each with its own
//! template part (`templates/<section>.html`), as criterion's HTML report
//! builds each page part from its own struct. Templates only lay it out.

mod advisor;
mod before_after;
mod costs;
mod deploy;
mod environment;
mod heatmap;
mod load;
mod plans;
mod queries;
mod rehearsal;
mod verdict;
pub(super) mod words;

use std::path::Path;

use serde::Serialize;

use crate::results::Results;
use crate::schema::IndexState;
use crate::stats::{self};
use before_after::{before_after, BeforeAfter};

pub use words::NEW_IN_MIGRATION;

/// A query counts as faster when the near bound of its speed-up's interval
/// is above this ([`crate::stats::SIGNIFICANT`]).
pub const FASTER: f64 = stats::SIGNIFICANT;

/// The whole page, one field per section.
#[derive(Debug, Serialize)]
pub struct Page {
    pub title: String,
    /// Set for a filtered run: what it holds and what it left out.
    pub partial: Option<String>,
    pub verdict: verdict::VerdictSection,
    pub queries: queries::QueriesSection,
    /// Set for a run compared with a named baseline.
    pub before_after: Option<BeforeAfter>,
    pub plans: plans::PlansSection,
    pub costs: costs::CostsSection,
    pub heatmap: Option<heatmap::Heatmap>,
    pub deploy: deploy::DeploySection,
    pub sweep: Option<super::chart::Chart>,
    pub environment: environment::EnvironmentSection,
    /// Catalogue queries the database could not run as found, with the
    /// server's reason; they were not measured.
    pub not_runnable: Vec<crate::queries::NotRunnable>,
    /// A user's database: the migration's state as found (`base`,
    /// `migrated`, ...).
    pub database_state: Option<String>,
    /// `helpdesk-bench load`'s "Under load" section, when the run has one.
    pub load: Option<load::LoadSection>,
    /// `helpdesk-bench advise`'s section, when the run holds advice.
    pub advisor: Option<advisor::AdvisorSection>,
    /// False for a run that holds only load points, advice or a rehearsal, and no
    /// benchmark: the benchmark sections are left out.
    pub bench: bool,
}

/// What every section builder reads: the run, and the two states it
/// compares.
pub(super) struct Ctx<'a> {
    pub r: &'a Results,
    pub with: IndexState,
    pub without: IndexState,
    /// The run that saved the baseline this one was compared with.
    pub baseline: Option<&'a Results>,
}

impl Ctx<'_> {
    /// The plan before the indexes that stands for `q`: this run's in the
    /// state without them; in a run of one state (a database measured as
    /// found, after `migrate up`) the baseline run's, its file linked
    /// across run folders, so the diff reads across the two runs.
    pub fn before_plan(&self, q: &crate::results::QueryResult) -> Option<crate::results::PlanRef> {
        if self.with != self.without {
            return q.plan(&self.without).cloned();
        }
        let b = self.baseline?;
        let bq = b.queries.iter().find(|x| x.name == q.name)?;
        let mut p = bq.plans.first()?.clone();
        let id = self.r.compared_with.as_ref()?.run_id.as_ref()?;
        p.file = format!("../{id}/{}", p.file);
        Some(p)
    }
}

/// Builds the page for one run; `baseline` is the run that saved the
/// baseline it was compared with, when there is one; `run_dir` is the run
/// folder, where the raw plans and `plans/plans.json` (the parameters each
/// plan was captured with) are read from.
pub fn page(r: &Results, baseline: Option<&Results>, run_dir: Option<&Path>) -> Page {
    let refreshed = run_dir.map(|d| plans::with_raw_plans(r, d));
    let r = refreshed.as_ref().unwrap_or(r);
    let cx = Ctx {
        r,
        with: measured(r, IndexState::With),
        without: measured(r, IndexState::Without),
        baseline,
    };
    Page {
        title: title(r),
        partial: r.partial.then(|| partial_note(r)),
        verdict: verdict::build(&cx),
        queries: queries::build(&cx),
        before_after: before_after(r, baseline),
        plans: plans::build(&cx),
        costs: costs::build(&cx),
        heatmap: heatmap::build(r),
        deploy: deploy::build(&cx),
        sweep: super::chart::chart(&r.sweep),
        environment: environment::build(r),
        not_runnable: r.not_runnable.clone(),
        database_state: r.database.as_ref().map(|d| d.state.to_string()),
        load: load::build(r),
        advisor: advisor::build(r),
        bench: !r.queries.is_empty()
            || (r.advice.is_none() && r.load.is_none() && r.rehearsal.is_none()),
    }
}

/// The migration and where it was measured: a preset scale on the embedded
/// database; on a user's database, its state and its largest tables as
/// found ("0042_orders on your database (migrated): 1.2 M orders, 8.4 M
/// order_items").
fn title(r: &Results) -> String {
    let Some(d) = &r.database else {
        return match &r.data_like {
            Some(like) => format!("{} on a lab shaped like {like}", r.migration.name),
            None => format!("{} at scale {}", r.migration.name, r.scale),
        };
    };
    let tables: Vec<String> = d
        .largest(TITLE_TABLES)
        .into_iter()
        .map(|(t, n)| format!("{} {t}", crate::format::count(n)))
        .collect();
    let size = match tables.is_empty() {
        true => "no table the planner has sized yet (run ANALYZE)".to_string(),
        false => tables.join(", "),
    };
    format!(
        "{} on your database ({}): {size}",
        r.migration.name, d.state
    )
}

/// How many of a user's largest tables the title names.
const TITLE_TABLES: usize = 2;

fn partial_note(r: &Results) -> String {
    format!(
        concat!(
            "Partial run{}: it holds only the {} queries criterion measured in it, ",
            "and reports/latest was not moved to it."
        ),
        r.filter
            .as_ref()
            .map(|f| format!(" (filter `{f}`)"))
            .unwrap_or_default(),
        r.queries.len()
    )
}

/// `state` if the run measured it, else the run's first state (a user's
/// database measured as found has only that one).
fn measured(r: &Results, state: IndexState) -> IndexState {
    if r.states.contains(&state) {
        state
    } else {
        r.states.first().cloned().unwrap_or(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{FoundDatabase, FoundState};

    #[test]
    fn a_users_database_is_titled_by_its_largest_tables_not_a_scale() {
        let mut r = Results::default();
        r.migration.name = "0042_orders_idx".into();
        r.scale = "small".into();
        assert_eq!(title(&r), "0042_orders_idx at scale small");
        r.database = Some(FoundDatabase {
            state: FoundState::Migrated,
            present: Vec::new(),
            missing: Vec::new(),
            rows: vec![
                ("shop.customers".into(), 5_000),
                ("shop.order_items".into(), 8_400_000),
                ("shop.orders".into(), 1_234_567),
            ],
        });
        assert_eq!(
            title(&r),
            "0042_orders_idx on your database (migrated): 8.4 M shop.order_items, 1.2 M shop.orders"
        );
        let env = environment::build(&r);
        let env = format!("{env:?}");
        assert!(
            !env.contains("\"scale\"") && !env.contains("\"seed\""),
            "{env}"
        );
    }
}
