//! The "Under load" section, from `results.load`: total throughput and
//! each query's p99 against the client count, a line per index state; a
//! percentile table; and per client count a verdict line comparing the
//! states. A p99 (or throughput) change is the ratio of the medians of the
//! per-window p99s (throughputs) with over without the indexes, with its
//! 95% bootstrap interval over the windows ([`stats::ratio_interval`]):
//! windows, not requests, are what vary together (a checkpoint, autovacuum,
//! a neighbour's burst), so they are the unit resampled. A change whose
//! interval is not past [`stats::SIGNIFICANT`] is listed as within noise,
//! never headlined. A run of one state (a user's database as found) gets
//! the charts and table, without a verdict.

use serde::Serialize;

use crate::format::{factor_range, ms, thousands};
use crate::report::chart::{self, Chart, Series};
use crate::results::{LoadMode, LoadPoint, LoadRun, Results};
use crate::schema::IndexState;
use crate::stats::{self, Interval, Verdict};

/// Fewer windows than this on either side: "too few windows", no interval
/// and no verdict ([`crate::results::window_ratio`] says why).
const MIN_WINDOWS: usize = stats::MIN_PER_SIDE;

#[derive(Debug, Serialize)]
pub struct LoadSection {
    /// How the run went: mode, duration, clients, mix, where.
    pub settings: String,
    /// Set when the indexes were switched for real on a user's database.
    pub changed_note: Option<String>,
    pub single_state: bool,
    pub throughput: Option<Chart>,
    pub p99: Option<Chart>,
    pub rows: Vec<LoadRow>,
    /// One line per client count comparing the states (two states only).
    pub verdicts: Vec<VerdictLine>,
    /// Fewest windows on each side for an interval and a verdict.
    pub min_windows: usize,
}

/// One query, state and client count.
#[derive(Debug, Serialize)]
pub struct LoadRow {
    pub query: String,
    pub state: String,
    pub clients: usize,
    pub throughput: String,
    pub p50: String,
    pub p95: String,
    pub p99: String,
    pub p999: String,
    pub max: String,
    pub errors: String,
}

/// What the indexes changed at one client count.
#[derive(Debug, Serialize)]
pub struct VerdictLine {
    pub clients: usize,
    /// E.g. `with 012's indexes at 16 clients: throughput 1.02× [0.97×–1.08×], within noise`.
    pub headline: String,
    /// Queries whose p99 changed past noise, e.g. `reassign p99 +35% [+20%, +52%]`.
    pub changes: Vec<String>,
    /// Queries whose p99 change is within noise (or has too few windows).
    pub within_noise: Vec<String>,
}

/// The section, when the run has a `load` object.
pub fn build(r: &Results) -> Option<LoadSection> {
    let load = r.load.as_ref()?;
    let states = states(load);
    let single_state = states.len() < 2;
    let verdicts = match (single_state, tag(r)) {
        (false, tag) => load
            .clients
            .iter()
            .map(|&n| verdict(load, n, &tag))
            .collect(),
        (true, _) => Vec::new(),
    };
    Some(LoadSection {
        settings: settings(load, r),
        changed_note: load.indexes_changed.then(|| {
            "The index states were switched for real (committed) on your database while the load ran, and put back exactly as found at the end.".to_string()
        }),
        single_state,
        throughput: throughput_chart(load, &states),
        p99: p99_chart(load, &states),
        rows: load.points.iter().map(row).collect(),
        verdicts,
        min_windows: MIN_WINDOWS,
    })
}

/// The states the run measured, in the order they ran.
fn states(load: &LoadRun) -> Vec<IndexState> {
    let mut out: Vec<IndexState> = Vec::new();
    for p in &load.points {
        if !out.contains(&p.state) {
            out.push(p.state.clone());
        }
    }
    out
}

/// `012` from `012_help_desk_schema_updates`.
fn tag(r: &Results) -> String {
    let name = &r.migration.name;
    name.split('_').next().unwrap_or(name).to_string()
}

fn settings(load: &LoadRun, r: &Results) -> String {
    let mode = match (load.mode, load.rate_per_s) {
        (LoadMode::OpenLoop, Some(rate)) => format!(
            "open loop at {rate} requests/s over all clients (latency from each request's intended start)"
        ),
        _ => "closed loop (each client sends its next request when the last answers)".into(),
    };
    let clients = load
        .clients
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mix = load
        .mix
        .iter()
        .map(|m| m.query.clone())
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{mode}; {clients} clients, {} s per point, {} s windows; mix: {mix}; writes {}; on {}.",
        load.duration_s,
        load.window_s,
        if load.writes { "committed" } else { "left out" },
        if r.environment.embedded {
            format!("the embedded database at scale {}", r.scale)
        } else {
            "your database".to_string()
        }
    )
}

fn row(p: &LoadPoint) -> LoadRow {
    // A point without an answered request has no percentiles.
    let lat = |x: f64| match p.requests {
        0 => "–".to_string(),
        _ => ms(x),
    };
    LoadRow {
        query: p.query.clone(),
        state: p.state.to_string(),
        clients: p.clients,
        throughput: format!("{:.1}", p.throughput_per_s),
        p50: lat(p.p50_ms),
        p95: lat(p.p95_ms),
        p99: lat(p.p99_ms),
        p999: lat(p.p999_ms),
        max: lat(p.max_ms),
        errors: match &p.first_error {
            Some(e) if p.errors > 0 => format!("{} (first: {e})", thousands(p.errors)),
            _ => thousands(p.errors),
        },
    }
}

fn verdict(load: &LoadRun, clients: usize, tag: &str) -> VerdictLine {
    let throughput = load.throughput_change(clients);
    let mut changes = Vec::new();
    let mut within_noise = Vec::new();
    for (query, ratio) in load.p99_changes(clients) {
        match ratio {
            Some(i) if i.verdict() != Verdict::WithinNoise => {
                changes.push(format!("{query} p99 {}", change(&i)))
            }
            Some(i) => within_noise.push(format!("{query} ({})", change(&i))),
            None => within_noise.push(format!("{query} (too few windows)")),
        }
    }
    let throughput = match throughput {
        Some(i) => format!("total throughput {}", ratio_words(&i)),
        None => "total throughput: too few windows for an interval".into(),
    };
    VerdictLine {
        clients,
        headline: format!(
            "with {tag}'s indexes at {clients} client{}: {throughput}",
            if clients == 1 { "" } else { "s" }
        ),
        changes,
        within_noise,
    }
}

/// A ratio as a signed change with its interval, `+35% [+20%, +52%]`;
/// a rise past tenfold as a factor (a fall never passes −100%, so it stays
/// a percentage).
pub fn change(i: &Interval) -> String {
    if i.high > 10.0 {
        return factor_range(i.point, i.low, i.high);
    }
    let pct = |x: f64| {
        let d = ((x - 1.0) * 100.0).round();
        if d < 0.0 {
            format!("−{:.0}%", -d)
        } else if d > 0.0 {
            format!("+{d:.0}%")
        } else {
            "0%".to_string()
        }
    };
    format!("{} [{}, {}]", pct(i.point), pct(i.low), pct(i.high))
}

fn ratio_words(i: &Interval) -> String {
    let word = match i.verdict() {
        Verdict::Higher => "higher",
        Verdict::Lower => "lower",
        Verdict::WithinNoise => "within noise",
    };
    format!("{}, {word}", change(i))
}

/// A line per state: total requests per second against clients.
fn throughput_chart(load: &LoadRun, states: &[IndexState]) -> Option<Chart> {
    let series: Vec<Series> = states
        .iter()
        .enumerate()
        .map(|(g, s)| Series {
            label: format!("all queries ({s})"),
            group: g,
            dashed: *s == IndexState::Without,
            points: load
                .clients
                .iter()
                .map(|&n| {
                    let t: f64 = load.at(s, n).map(|p| p.throughput_per_s).sum();
                    (n as f64, t, format!("{s}, {n} clients: {t:.1} requests/s"))
                })
                .collect(),
        })
        .collect();
    chart::lines(&series, |y| match y >= 1.0 {
        true => format!("{}/s", thousands(y.round() as u64)),
        false => format!("{y}/s"),
    })
}

/// A line per query and state: p99 against clients; a query keeps its
/// colour, the state without the indexes is dashed.
fn p99_chart(load: &LoadRun, states: &[IndexState]) -> Option<Chart> {
    let mut series = Vec::new();
    for (g, m) in load.mix.iter().enumerate() {
        for s in states {
            series.push(Series {
                label: format!("{} ({s})", m.query),
                group: g,
                dashed: *s == IndexState::Without,
                points: load
                    .points
                    .iter()
                    .filter(|p| p.query == m.query && &p.state == s)
                    .map(|p| {
                        let tip = format!(
                            "{} {s}, {} clients: p99 {}",
                            p.query,
                            p.clients,
                            ms(p.p99_ms)
                        );
                        (p.clients as f64, p.p99_ms, tip)
                    })
                    .collect(),
            });
        }
    }
    chart::lines(&series, ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_signed_percentages_with_their_interval() {
        let i = Interval {
            point: 1.35,
            low: 1.2,
            high: 1.52,
        };
        assert_eq!(change(&i), "+35% [+20%, +52%]");
        let i = Interval {
            point: 0.4,
            low: 0.3,
            high: 0.5,
        };
        assert_eq!(change(&i), "−60% [−70%, −50%]");
        let i = Interval {
            point: 0.02,
            low: 0.01,
            high: 0.03,
        };
        assert_eq!(change(&i), "−98% [−99%, −97%]");
        let i = Interval {
            point: 1.6,
            low: 0.998,
            high: 2.84,
        };
        assert_eq!(change(&i), "+60% [0%, +184%]");
    }

    fn point(state: IndexState, windows: &[f64]) -> LoadPoint {
        LoadPoint {
            query: "q".into(),
            state,
            clients: 1,
            requests: 100,
            throughput_per_s: 10.0,
            p50_ms: 1.0,
            p95_ms: 1.0,
            p99_ms: 1.0,
            p999_ms: 1.0,
            max_ms: 1.0,
            errors: 0,
            first_error: None,
            histogram: String::new(),
            window_p99_ms: windows.iter().map(|w| Some(*w)).collect(),
            window_throughput_per_s: windows.to_vec(),
        }
    }

    fn run(with: &[f64], without: &[f64]) -> LoadRun {
        LoadRun {
            duration_s: 1.0,
            mode: LoadMode::ClosedLoop,
            rate_per_s: None,
            clients: vec![1],
            mix: vec![],
            seed: 1,
            writes: false,
            window_s: 0.1,
            indexes_changed: false,
            points: vec![
                point(IndexState::With, with),
                point(IndexState::Without, without),
            ],
        }
    }

    #[test]
    fn fewer_windows_than_the_minimum_say_so_instead_of_an_interval() {
        // Four windows a side, ten times apart: a bootstrap over them would
        // print a narrow interval and call it a change.
        let v = verdict(
            &run(&[1.0, 1.1, 0.9, 1.05], &[10.0, 11.0, 9.0, 10.5]),
            1,
            "012",
        );
        assert_eq!(v.within_noise, ["q (too few windows)"]);
        assert!(v.changes.is_empty(), "{v:?}");
        assert!(v.headline.contains("too few windows"), "{}", v.headline);
        // Five a side are enough.
        let v = verdict(
            &run(&[1.0, 1.1, 0.9, 1.05, 0.95], &[10.0, 11.0, 9.0, 10.5, 9.5]),
            1,
            "012",
        );
        assert_eq!(v.changes.len(), 1, "{v:?}");
        assert!(v.changes[0].starts_with("q p99 −90%"), "{v:?}");
    }
}
