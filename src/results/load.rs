//! What `helpdesk-bench load` measured: latency and throughput per query,
//! index state and client count.

use serde::{Deserialize, Serialize};

use crate::schema::IndexState;

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
