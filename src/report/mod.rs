//! The pages a run's results are rendered into: `index.html` for the
//! browser and `summary.md` for a pull request, in the run's folder, and
//! two runs side by side. The report only reads the results model
//! ([`crate::results`]); it measures nothing.

mod chart;
mod compare;
mod render;
mod view;

pub use render::{
    baseline_of, console_verdict, render, render_compare, render_run, render_with, COMMENT_LIMIT,
    REPORT_URL_ENV,
};
pub use view::FASTER;
pub use view::NEW_IN_MIGRATION;
