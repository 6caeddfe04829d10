//! Query plans: capturing `EXPLAIN` output and reading it.

mod plan;

pub use plan::Plan;
