//! What a run leaves behind: `results.json` and the run folder under
//! `reports/`.

pub mod criterion;
mod results;
mod run_dir;

pub use results::*;
pub use run_dir::{git_commit, new_run_dir, point_latest, run_id};
