//! What a run leaves behind: `results.json`, and the pages rendered from it
//! (`index.html` for the browser, `summary.md` for a pull request), in a run
//! folder under `reports/`.

mod chart;
mod compare;
pub mod criterion;
mod format;
mod render;
mod results;
mod run_dir;
mod view;

pub use format::{factor as format_factor, ms as format_ms};
pub use render::{render, render_compare, render_run};
pub use results::*;
pub use run_dir::{git_commit, new_run_dir, point_latest, run_id};
pub use view::FASTER;
