//! Rendering `/metrics` from a store holding 100 000 series (and writing one
//! collection cycle of them), and gzipping that body: the work behind every
//! scrape and every write.
//!
//! `cargo bench -p idic-prometheus --bench render`

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use prometheus::encode::Format;
use prometheus::store::Store;

mod common;

const SERIES: usize = 100_000;

fn render(c: &mut Criterion) {
    let nodes = common::nodes_for(SERIES);
    let store = Store::new("bench", None, &common::stats());
    let now = Instant::now();
    store.write(&common::batch(nodes, 1_700_000_000, 0), now);
    let (body, n) = store.render(Format::Text, now);
    assert_eq!(n, SERIES);

    let mut group = c.benchmark_group("scrape");
    group.sample_size(30);
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("render_text_100k_series", |b| {
        b.iter(|| store.render(Format::Text, now))
    });
    group.bench_function("render_openmetrics_100k_series", |b| {
        b.iter(|| store.render(Format::OpenMetrics, now))
    });
    group.bench_function("gzip_text_100k_series", |b| {
        b.iter(|| prometheus::gzip::compress(body.as_bytes()).unwrap())
    });
    group.finish();

    let batch = common::batch(nodes, 1_700_000_060, 1);
    let mut group = c.benchmark_group("collect");
    group.sample_size(20);
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("write_100k_series_update", |b| {
        b.iter(|| store.write(&batch, now))
    });
    group.finish();
    eprintln!(
        "body: {} bytes for {SERIES} series, {} gzipped",
        body.len(),
        prometheus::gzip::compress(body.as_bytes()).unwrap().len()
    );
}

criterion_group!(benches, render);
criterion_main!(benches);
