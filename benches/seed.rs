//! Client-side generation speed: how fast each table's rows are generated
//! and encoded for binary COPY on one thread, with no server involved. The
//! seed keeps up with the server only while this is faster than the
//! server's own COPY (see `helpdesk-bench seed --measure-ceiling`).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use helpdesk_bench::seed::{tables, Context, Encoder, Scale, Shape};

fn generate(c: &mut Criterion) {
    let ctx = Arc::new(Context::new(1, Scale::Small.counts(), Shape::Migrated));
    let mut g = c.benchmark_group("seed_generate");
    for spec in tables(&ctx) {
        let mut enc = Encoder::with_capacity(8 << 20);
        let rows = spec.source.encode(0, &mut enc);
        g.throughput(Throughput::Elements(rows));
        g.bench_function(spec.table, |b| {
            b.iter(|| {
                enc.buf.clear();
                spec.source.encode(0, &mut enc)
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // Generation is steady and CPU-bound: short runs give tight intervals.
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = generate
}
criterion_main!(benches);
