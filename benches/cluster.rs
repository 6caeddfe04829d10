//! How long an embedded cluster takes from `Cluster::start` to accepting
//! connections, with the initdb template already cached. Stopping is not timed.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use helpdesk_bench::cluster::Cluster;

fn start(c: &mut Criterion) {
    // Warm the template cache outside the measurement.
    drop(Cluster::start().expect("embedded PostgreSQL"));
    let mut g = c.benchmark_group("cluster");
    g.sample_size(20);
    g.bench_function("start_from_cached_template", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let cluster = Cluster::start().expect("embedded PostgreSQL");
                total += t.elapsed();
                drop(cluster);
            }
            total
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = start
}
criterion_main!(benches);
