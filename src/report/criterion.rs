//! Reading criterion's own output (`target/criterion/<group>/<id>/`): the
//! median with its confidence interval, the change against the previous run
//! or baseline, and the HTML pages, copied into the run folder so it stays
//! whole when shared.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::results::{Change, Timing};
use crate::error::{Context, Result};
use crate::fsutil;
use crate::schema::{IndexState, Migration};

/// Criterion's default noise threshold: changes within ±1% are noise.
pub const NOISE_THRESHOLD: f64 = 0.01;

/// Where criterion writes: `$CARGO_TARGET_DIR/criterion` or `target/criterion`.
pub fn criterion_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion")
}

/// Criterion's directory name for a group or id (it replaces characters
/// that are unsafe in paths).
fn dir_name(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '?' | '"' | '/' | '\\' | '*' | '<' | '>' | ':' | '|' | '^' => '_',
            c => c,
        })
        .collect()
}

/// The timings criterion recorded for `group` in each state that ran.
pub fn timings(root: &Path, group: &str, states: &[IndexState], m: &Migration) -> Vec<Timing> {
    states
        .iter()
        .filter_map(|s| timing(root, group, s, &s.id(m)))
        .collect()
}

/// The timing criterion recorded for `group/id` (the id of `state`), if it ran.
pub fn timing(root: &Path, group: &str, state: &IndexState, id: &str) -> Option<Timing> {
    let dir = root.join(dir_name(group)).join(dir_name(id));
    let est: Value = read_json(&dir.join("new").join("estimates.json"))?;
    let ms = |v: &Value, k: &str| v.pointer(k).and_then(Value::as_f64).map(|ns| ns / 1e6);
    let change = read_json(&dir.join("change").join("estimates.json")).and_then(|c: Value| {
        let pct = |k: &str| c.pointer(k).and_then(Value::as_f64).map(|f| f * 100.0);
        let (mean, lo, hi) = (
            pct("/mean/point_estimate")?,
            pct("/mean/confidence_interval/lower_bound")?,
            pct("/mean/confidence_interval/upper_bound")?,
        );
        let noise = NOISE_THRESHOLD * 100.0;
        let verdict = if lo > noise {
            "regressed"
        } else if hi < -noise {
            "improved"
        } else {
            "no change"
        };
        Some(Change {
            mean_pct: mean,
            ci_low_pct: lo,
            ci_high_pct: hi,
            verdict: verdict.into(),
        })
    });
    Some(Timing {
        state: state.clone(),
        median_ms: ms(&est, "/median/point_estimate")?,
        ci_low_ms: ms(&est, "/median/confidence_interval/lower_bound")?,
        ci_high_ms: ms(&est, "/median/confidence_interval/upper_bound")?,
        mean_ms: ms(&est, "/mean/point_estimate")?,
        change,
        criterion_page: dir.join("report").join("index.html").is_file().then(|| {
            format!(
                "criterion/{}/{}/report/index.html",
                dir_name(group),
                dir_name(id)
            )
        }),
    })
}

/// Copies criterion's pages for `group` into `run_dir/criterion/`.
pub fn copy_pages(root: &Path, group: &str, run_dir: &Path) -> Result<()> {
    let from = root.join(dir_name(group));
    if !from.is_dir() {
        return Ok(());
    }
    let to = run_dir.join("criterion").join(dir_name(group));
    let _ = std::fs::remove_dir_all(&to);
    std::fs::create_dir_all(to.parent().unwrap_or(run_dir)).context(to.display())?;
    fsutil::copy_tree(&from, &to, None)
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}
