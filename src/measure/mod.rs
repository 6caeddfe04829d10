//! Measurements beyond criterion's timings: in-process latency samples,
//! index costs, leave-one-out ablation, the migration's own cost, the
//! environment, findings, and collecting a whole run into `results.json`.

mod ablation;
mod captured;
pub(crate) mod costs;
pub(crate) mod counters;
pub mod criterion;
mod deploy;
mod environment;
mod findings;
mod foreign_keys;
mod migration_cost;
mod recommend;
mod run;
mod sweep;
mod timed;
mod timing;

pub use ablation::{ablation, ROUNDS as ABLATION_ROUNDS};
pub use costs::{index_costs, relation_size, CostOptions};
pub use criterion::{BaselineMode, CriterionArgs, CriterionRun};
pub use deploy::{
    deploy_advice, parse_production_rows, statement_table, ONLINE_FILE, PRODUCTION_ROWS_ENV,
};
pub use environment::environment;
pub use findings::findings;
pub use foreign_keys::{foreign_keys, measure_deletes};
pub use migration_cost::migration_cost;
pub use recommend::{recommendations, RULES};
pub use run::{clone_db, drop_db, migration_info, write_run, RunInput};
pub use sweep::sweep;
pub use timed::{load_average, QueryCapture, StateCapture, TimedQuery};
pub use timing::Samples;
