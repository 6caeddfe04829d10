//! What `helpdesk-bench load` measured: latency and throughput per query,
//! index state and client count.

use serde::{Deserialize, Serialize};

use crate::schema::IndexState;
use crate::stats::{self, Interval};

/// What `helpdesk-bench load` ran, and what it measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadRun {
    /// How long each point (one state, one client count) ran, in seconds.
    pub duration_s: f64,
    pub mode: LoadMode,
    /// Open loop only: requests per second, over all clients.
    #[serde(default)]
    pub rate_per_s: Option<f64>,
    /// The client counts, in the order they ran.
    pub clients: Vec<usize>,
    /// Each query in the mix and its catalogue weight (executions per hour).
    pub mix: Vec<MixEntry>,
    /// Seed of the clients' random choice of query and parameters.
    pub seed: u64,
    /// True when the writes in the mix ran (and were committed).
    pub writes: bool,
    /// Length of the time windows each point's `window_p99_ms` and
    /// `window_throughput_per_s` are cut into, in seconds (0: not recorded).
    #[serde(default)]
    pub window_s: f64,
    /// True when the index states were switched, committed, on a user's
    /// database (`--allow-index-changes`), and put back as found at the end.
    #[serde(default)]
    pub indexes_changed: bool,
    pub points: Vec<LoadPoint>,
}

/// Closed loop (each client sends its next request when the last one
/// answers) or open loop (requests on a fixed schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// As fast as each client can go; latency from each request's send.
    ClosedLoop,
    /// A fixed rate; latency from each request's intended start, so a
    /// stalled server shows in the latency (no coordinated omission).
    OpenLoop,
}

/// A query's weight in the mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixEntry {
    pub query: String,
    pub weight: f64,
}

/// One query under load, in one index state, with one client count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadPoint {
    pub query: String,
    pub state: IndexState,
    pub clients: usize,
    /// Requests that answered without an error.
    pub requests: u64,
    pub throughput_per_s: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    /// The first error's message, when there were errors.
    #[serde(default)]
    pub first_error: Option<String>,
    /// The HDR histogram of latencies in microseconds (V2 format, binary),
    /// relative to the run folder; histograms of the same query and state
    /// from several runs can be added together.
    pub histogram: String,
    /// The p99 of each time window (`LoadRun::window_s` long) by the
    /// requests due in it, in ms; `null` for a window without an answered
    /// request. The report bootstraps its p99 intervals from these.
    #[serde(default)]
    pub window_p99_ms: Vec<Option<f64>>,
    /// Answered requests per second in each time window.
    #[serde(default)]
    pub window_throughput_per_s: Vec<f64>,
}

impl LoadRun {
    /// The points of `state` at `clients`.
    pub fn at<'a>(
        &'a self,
        state: &'a IndexState,
        clients: usize,
    ) -> impl Iterator<Item = &'a LoadPoint> {
        self.points
            .iter()
            .filter(move |p| &p.state == state && p.clients == clients)
    }

    /// Total requests per second over the whole mix, per window.
    pub fn total_windows(&self, state: &IndexState, clients: usize) -> Vec<f64> {
        let mut total: Vec<f64> = Vec::new();
        for p in self.at(state, clients) {
            if total.len() < p.window_throughput_per_s.len() {
                total.resize(p.window_throughput_per_s.len(), 0.0);
            }
            for (t, w) in total.iter_mut().zip(&p.window_throughput_per_s) {
                *t += w;
            }
        }
        total
    }

    /// The total throughput with the indexes over without, at `clients`:
    /// `None` with too few windows a side ([`window_ratio`]).
    pub fn throughput_change(&self, clients: usize) -> Option<Interval> {
        window_ratio(
            &self.total_windows(&IndexState::With, clients),
            &self.total_windows(&IndexState::Without, clients),
        )
    }

    /// Each query's p99 with the indexes over without, at `clients`, in the
    /// order of the with-state points: `None` for a query with too few
    /// windows a side.
    pub fn p99_changes(&self, clients: usize) -> Vec<(String, Option<Interval>)> {
        let windows = |p: &LoadPoint| {
            p.window_p99_ms
                .iter()
                .flatten()
                .copied()
                .collect::<Vec<_>>()
        };
        self.at(&IndexState::With, clients)
            .filter_map(|p| {
                let base = self
                    .at(&IndexState::Without, clients)
                    .find(|b| b.query == p.query)?;
                Some((p.query.clone(), window_ratio(&windows(p), &windows(base))))
            })
            .collect()
    }
}

/// `with / without` over windows, when both sides have at least
/// [`stats::MIN_PER_SIDE`] of them: the percentile bootstrap of a median
/// over fewer gives intervals too narrow for 95% (simulated with no true
/// change, the ratio's interval excluded 1 in 10–13% of trials with 3
/// windows a side and 7–9% with 4, against 3–5% from 5 on).
pub fn window_ratio(with: &[f64], without: &[f64]) -> Option<Interval> {
    (with.len() >= stats::MIN_PER_SIDE && without.len() >= stats::MIN_PER_SIDE)
        .then(|| stats::ratio_interval(with, without))
}
