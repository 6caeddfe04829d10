//! What a run leaves behind: `results.json`, and the pages rendered from it
//! (`index.html` for the browser, `summary.md` for a pull request), in a run
//! folder under `reports/`.

mod advice;
mod before_after;
mod chart;
mod compare;
pub mod criterion;
mod criterion_args;
mod format;
mod render;
mod results;
mod run_dir;
mod view;

pub use advice::*;
pub use before_after::NEW_IN_MIGRATION;
pub use criterion::CriterionRun;
pub use criterion_args::{BaselineMode, CriterionArgs};
pub use format::{bytes as format_bytes, factor as format_factor, ms as format_ms};
pub use render::{baseline_of, render, render_compare, render_run, render_with};
pub use results::*;
pub use run_dir::{baseline_run, git_commit, new_run_dir, point_latest, record_baseline};
pub use view::FASTER;
