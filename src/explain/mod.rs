//! Query plans: capturing `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON)`,
//! reading the node tree, summarising it, and checking the catalogue's plan
//! assertions.

mod capture;
mod plan;
mod run;
mod summary;

pub use capture::{capture, OPTIONS};
pub use plan::Plan;
pub use run::{explain_all, Captured, ExplainOptions, ExplainRun};
pub use summary::{check, NodeSummary, PlanSummary, Violation, MISESTIMATE_FACTOR};
