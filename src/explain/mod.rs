//! Query plans: capturing `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON)`,
//! reading the node tree, summarising it, checking the catalogue's plan
//! assertions, and spotting filter columns without statistics.

mod capture;
mod plan;
mod prepared;
mod run;
mod stats;
mod strata;
mod summary;

pub(crate) use capture::JsonText;
pub use capture::{capture, OPTIONS};
pub use plan::Plan;
pub use prepared::{explain_prepared, ExecutedPlan, PlanCacheMode, PlanKind, PLAN_CACHE_ENV};
pub use run::{explain_all, Captured, ExplainOptions, ExplainRun};
pub use stats::{filter_identifiers, missing_stats};
pub use strata::{representative, stratify, ParamRow, MEDIAN, ONLY};
pub use summary::{check, NodeSummary, PlanSummary, Violation, MISESTIMATE_FACTOR};
