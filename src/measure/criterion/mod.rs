//! Reading criterion's own output (`target/criterion/<group>/<id>/`): the
//! median with its confidence interval, the change against the previous run
//! or a baseline, and the HTML pages, copied into the run folder so it stays
//! whole when shared.
//!
//! Criterion never deletes a benchmark's folder, so only benchmarks whose
//! `new/benchmark.json` was written by this process are read: a filtered run
//! holds what it measured and nothing older. The baseline's samples are
//! snapshotted when the process starts, before criterion overwrites `base`
//! (or a `--save-baseline` name), so every change can be recomputed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

mod args;

pub use args::{BaselineMode, CriterionArgs};

use crate::error::{Context, Result};
use crate::fsutil;
use crate::results::{Change, Interval, Timing, Verdict};
use crate::schema::{IndexState, Migration};
use crate::stats::{self, ratio_interval};

/// Where criterion writes, found as criterion 0.5 finds it:
/// `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else, under cargo
/// (`$CARGO` set), the target directory `cargo metadata` names, else
/// `target/criterion` in the working directory. No path of the machine the
/// tool was built on is compiled in, so an installed binary finds the
/// folder of the project it runs in.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("criterion");
    }
    cargo_target_dir()
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

/// The target directory of the cargo project in the working directory, as
/// `cargo metadata` names it, when the tool runs under cargo.
fn cargo_target_dir() -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO")?;
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    meta.get("target_directory")?.as_str().map(PathBuf::from)
}

/// Criterion's directory name for a group or id (it replaces characters
/// that are unsafe in paths).
pub fn dir_name(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '?' | '"' | '/' | '\\' | '*' | '<' | '>' | ':' | '|' | '^' => '_',
            c => c,
        })
        .collect()
}

/// One bench process's view of criterion's folder: its flags, when it
/// started, and the samples of the baseline it compares with, as they were
/// before it ran.
#[derive(Debug, Clone)]
pub struct CriterionRun {
    pub args: CriterionArgs,
    pub root: PathBuf,
    /// Per-iteration times (ns) of each `group/id` in the compared baseline.
    before: BTreeMap<String, Vec<f64>>,
}

impl CriterionRun {
    /// Reads this process's arguments and snapshots the baseline in
    /// [`criterion_dir`]. Call it before criterion runs anything.
    pub fn start() -> CriterionRun {
        CriterionRun::at(CriterionArgs::from_env(), criterion_dir())
    }

    /// The same for given arguments and folder.
    pub fn at(args: CriterionArgs, root: PathBuf) -> CriterionRun {
        let before = snapshot(&root, args.compared_with());
        CriterionRun { args, root, before }
    }

    /// Whether `group/id` held the compared baseline when the process started.
    pub fn had_baseline(&self, group: &str, id: &str) -> bool {
        self.before.contains_key(&key(group, id))
    }

    /// Whether any benchmark held the compared baseline.
    pub fn any_baseline(&self) -> bool {
        !self.before.is_empty()
    }

    /// Whether criterion measured `group/id` in this process.
    pub fn ran(&self, group: &str, id: &str) -> bool {
        self.written_since_start(&self.dir(group, id).join("new").join("benchmark.json"))
    }

    fn written_since_start(&self, file: &Path) -> bool {
        std::fs::metadata(file)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= self.args.started)
    }

    fn dir(&self, group: &str, id: &str) -> PathBuf {
        self.root.join(dir_name(group)).join(dir_name(id))
    }

    /// The timings this process measured for `group`, one per state that ran.
    pub fn timings(&self, group: &str, states: &[IndexState], m: &Migration) -> Vec<Timing> {
        states
            .iter()
            .filter_map(|s| self.timing(group, s, &s.id(m)))
            .collect()
    }

    /// The per-iteration times (ms) of `group/id` from this process's run.
    pub fn samples(&self, group: &str, id: &str) -> Option<Vec<f64>> {
        if !self.ran(group, id) {
            return None;
        }
        let ns = per_iteration(&self.dir(group, id).join("new").join("sample.json"))?;
        Some(ns.into_iter().map(|t| t / 1e6).collect())
    }

    /// The timing of `group/id` (the id of `state`), if it ran in this process.
    pub fn timing(&self, group: &str, state: &IndexState, id: &str) -> Option<Timing> {
        if !self.ran(group, id) {
            return None;
        }
        let dir = self.dir(group, id);
        let est = read_json(&dir.join("new").join("estimates.json"))?;
        let ms = |k: &str| est.pointer(k).and_then(Value::as_f64).map(|ns| ns / 1e6);
        let had = self.had_baseline(group, id);
        Some(Timing {
            state: state.clone(),
            median_ms: ms("/median/point_estimate")?,
            ci_low_ms: ms("/median/confidence_interval/lower_bound")?,
            ci_high_ms: ms("/median/confidence_interval/upper_bound")?,
            mean_ms: ms("/mean/point_estimate")?,
            change: had.then(|| self.change(group, id)).flatten(),
            no_baseline: self.args.compare_name().is_some() && !had,
            criterion_page: dir.join("report").join("index.html").is_file().then(|| {
                format!(
                    "criterion/{}/{}/report/index.html",
                    dir_name(group),
                    dir_name(id)
                )
            }),
        })
    }

    /// The change criterion wrote in this process for `group/id`, with the
    /// verdict recomputed from the baseline's and the new samples.
    fn change(&self, group: &str, id: &str) -> Option<Change> {
        let dir = self.dir(group, id);
        let file = dir.join("change").join("estimates.json");
        if !self.written_since_start(&file) {
            return None;
        }
        let c = read_json(&file)?;
        let pct = |k: &str| c.pointer(k).and_then(Value::as_f64).map(|f| f * 100.0);
        let interval = |stat: &str| {
            Some(Interval {
                point: pct(&format!("/{stat}/point_estimate"))?,
                low: pct(&format!("/{stat}/confidence_interval/lower_bound"))?,
                high: pct(&format!("/{stat}/confidence_interval/upper_bound"))?,
            })
        };
        let mean = interval("mean")?;
        let median = interval("median");
        let after = per_iteration(&dir.join("new").join("sample.json")).unwrap_or_default();
        let ratio = self
            .before
            .get(&key(group, id))
            .filter(|b| !b.is_empty() && !after.is_empty())
            .map(|b| ratio_interval(&after, b));
        let verdict = match (&ratio, &median) {
            (Some(r), _) => verdict_of_ratio(r),
            (None, Some(m)) => verdict_of_pct(m),
            (None, None) => verdict_of_pct(&mean),
        };
        Some(Change {
            mean_pct: mean.point,
            ci_low_pct: mean.low,
            ci_high_pct: mean.high,
            median,
            bootstrap: ratio.map(|r| Interval {
                point: (r.point - 1.0) * 100.0,
                low: (r.low - 1.0) * 100.0,
                high: (r.high - 1.0) * 100.0,
            }),
            verdict,
            against: Some(self.args.compared_with().to_string()),
        })
    }
}

/// The verdict of an after/before time ratio, by the report's one rule
/// ([`crate::stats::SIGNIFICANT`]): lower time is improved.
fn verdict_of_ratio(r: &Interval) -> Verdict {
    match r.verdict() {
        stats::Verdict::Lower => Verdict::Improved,
        stats::Verdict::Higher => Verdict::Regressed,
        stats::Verdict::WithinNoise => Verdict::WithinNoise,
    }
}

/// The same, for criterion's change estimate in percent.
fn verdict_of_pct(i: &Interval) -> Verdict {
    let ratio = |p: f64| 1.0 + p / 100.0;
    verdict_of_ratio(&Interval {
        point: ratio(i.point),
        low: ratio(i.low),
        high: ratio(i.high),
    })
}

fn key(group: &str, id: &str) -> String {
    format!("{}/{}", dir_name(group), dir_name(id))
}

/// The per-iteration times of every `<group>/<id>/<baseline>/sample.json`.
fn snapshot(root: &Path, baseline: &str) -> BTreeMap<String, Vec<f64>> {
    let mut out = BTreeMap::new();
    for group in subdirs(root) {
        for id in subdirs(&group) {
            let file = id.join(baseline).join("sample.json");
            if let Some(times) = per_iteration(&file) {
                let name = |p: &Path| {
                    p.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned()
                };
                out.insert(format!("{}/{}", name(&group), name(&id)), times);
            }
        }
    }
    out
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

/// Criterion's `sample.json`: `times[i] / iters[i]` for each sample.
fn per_iteration(file: &Path) -> Option<Vec<f64>> {
    let v = read_json(file)?;
    let list =
        |k: &str| -> Option<Vec<f64>> { v.get(k)?.as_array()?.iter().map(Value::as_f64).collect() };
    let (iters, times) = (list("iters")?, list("times")?);
    Some(
        iters
            .iter()
            .zip(&times)
            .map(|(i, t)| t / i.max(1.0))
            .collect(),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    /// A benchmark folder as criterion leaves it, with files dated `at`.
    fn bench(
        root: &Path,
        group: &str,
        id: &str,
        base: Option<&str>,
        median_ns: f64,
        at: SystemTime,
    ) {
        let dir = root.join(group).join(id);
        let est = serde_json::json!({
            "median": {"point_estimate": median_ns, "confidence_interval": {"lower_bound": median_ns * 0.9, "upper_bound": median_ns * 1.1}},
            "mean": {"point_estimate": median_ns, "confidence_interval": {"lower_bound": median_ns * 0.9, "upper_bound": median_ns * 1.1}},
        });
        let sample = |ns: f64| {
            serde_json::json!({"sampling_mode": "Flat", "iters": vec![2.0; 10],
                "times": (0..10).map(|i| 2.0 * ns * (1.0 + i as f64 / 1000.0)).collect::<Vec<_>>()})
        };
        let mut files = vec![
            ("new/estimates.json", est.clone()),
            ("new/sample.json", sample(median_ns)),
            ("new/benchmark.json", serde_json::json!({"group_id": group})),
        ];
        if let Some(b) = base {
            files.push((
                if b == "change" {
                    "change/estimates.json"
                } else {
                    b
                },
                est,
            ));
        }
        for (rel, v) in files {
            let f = dir.join(rel);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(&f, v.to_string()).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&f)
                .unwrap()
                .set_modified(at)
                .unwrap();
        }
    }

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hb-crit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn benchmarks_from_earlier_runs_and_their_change_folders_are_not_read() {
        let root = temp("stale");
        let past = SystemTime::now() - Duration::from_secs(3600);
        // Measured an hour ago, with a change folder of its own.
        bench(
            &root,
            "transcript",
            "current_schema",
            Some("change"),
            2e6,
            past,
        );
        let run = CriterionRun::at(CriterionArgs::parse(["--bench", "newest"]), root.clone());
        // Measured by this process; its change/ is an hour old.
        bench(
            &root,
            "newest_messages",
            "current_schema",
            None,
            1e6,
            SystemTime::now(),
        );
        let dir = root.join("newest_messages/current_schema/change");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("estimates.json"), "{}").unwrap();
        std::fs::File::options()
            .write(true)
            .open(dir.join("estimates.json"))
            .unwrap()
            .set_modified(past)
            .unwrap();

        assert!(!run.ran("transcript", "current_schema"));
        assert!(run
            .timing("transcript", &IndexState::AsFound, "current_schema")
            .is_none());
        let t = run
            .timing("newest_messages", &IndexState::AsFound, "current_schema")
            .unwrap();
        assert!((t.median_ms - 1.0).abs() < 1e-9);
        assert!(t.change.is_none(), "a stale change/ folder was read");
        assert!(!t.no_baseline, "no named baseline was asked for");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_named_baseline_gives_a_recomputed_verdict_or_new_in_migration() {
        let root = temp("baseline");
        let past = SystemTime::now() - Duration::from_secs(3600);
        // The baseline run saved `before` for one query at 4 ms.
        bench(&root, "transcript", "current_schema", None, 4e6, past);
        let base = root.join("transcript/current_schema/before");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::copy(
            root.join("transcript/current_schema/new/sample.json"),
            base.join("sample.json"),
        )
        .unwrap();
        let run = CriterionRun::at(
            CriterionArgs::parse(["--bench", "--baseline", "before"]),
            root.clone(),
        );
        assert!(run.any_baseline() && run.had_baseline("transcript", "current_schema"));
        // This run: transcript at 1 ms with criterion's change, and a new query.
        bench(
            &root,
            "transcript",
            "current_schema",
            Some("change"),
            1e6,
            SystemTime::now(),
        );
        bench(
            &root,
            "human_queue",
            "current_schema",
            None,
            1e6,
            SystemTime::now(),
        );

        let t = run
            .timing("transcript", &IndexState::AsFound, "current_schema")
            .unwrap();
        let c = t.change.unwrap();
        assert_eq!(c.verdict, Verdict::Improved);
        let b = c.bootstrap.unwrap();
        assert!((b.point + 75.0).abs() < 0.5, "{b:?}");
        assert_eq!(c.against.as_deref(), Some("before"));
        let n = run
            .timing("human_queue", &IndexState::AsFound, "current_schema")
            .unwrap();
        assert!(n.no_baseline && n.change.is_none());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
