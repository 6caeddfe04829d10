//! Setup shared by the query and write benches: criterion's settings and the
//! runtime the benchmarks run on.

use std::time::Duration;

use criterion::Criterion;

/// Short warm-up and measurement with 20 flat samples: enough for stable
/// medians of queries from 50 µs to 300 ms, within the time budget of a
/// full `cargo bench`. Command-line flags still override.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args()
}

/// One thread drives both the benchmark and the connection, as pgbench's
/// single blocking loop does: no cross-thread wake-up inside the timing.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// True under `cargo bench`; false in criterion's test mode (`cargo test`).
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}
