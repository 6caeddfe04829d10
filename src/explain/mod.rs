//! Query plans: capturing `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON)`,
//! reading the node tree, summarising it, checking the catalogue's plan
//! assertions, and spotting filter columns without statistics.

mod capture;
mod plan;
mod run;
mod stats;
mod summary;

pub(crate) use capture::JsonText;
pub use capture::{capture, OPTIONS};
pub use plan::Plan;
pub use run::{explain_all, Captured, ExplainOptions, ExplainRun};
pub use stats::{filter_identifiers, missing_stats};
pub use summary::{check, NodeSummary, PlanSummary, Violation, MISESTIMATE_FACTOR};
