//! The drain benchmark, a test that measures only when asked: a synthetic
//! backlog written in the disk buffer's format for many clusters, drained
//! through the real queues, writers and sink pool into a sink (an in-process
//! one, or a plugin library loaded as idic loads it) while every cluster keeps
//! pushing a new cycle every 5 s. It checks that every batch arrives once and in
//! order per cluster; with `IDIC_BENCH_DRAIN=CLUSTERSxBATCHES` it runs that size
//! and prints the drain rate (`scripts/bench-drain.sh`, `docs/PERFORMANCE.md`).
//! `IDIC_BENCH_PLUGIN` names a plugin library and `IDIC_BENCH_PLUGIN_CONFIG` its
//! settings (TOML); the backlog's shape is a cycle of the example config.

mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use abi_stable::sabi_trait::TD_Opaque;
    use abi_stable::std_types::{RResult, RSlice};
    use idic_plugin_api::{
        FfiSink, FfiSink_TO, Field, OpenContext, Point, Row, SinkError, Tag, Value,
    };

    use crate::deliver::codec;
    use crate::deliver::segment::Log;
    use crate::deliver::{Budget, Delivery, Disk, Names, Opener, Settings, Syncer, Writers};
    use crate::pool::Pool;

    /// Cycles a cluster pushes while its backlog drains: one every 5 s.
    const CYCLE: Duration = Duration::from_secs(5);

    /// One 5 s cycle of the example config: 96 keys, half of them per node.
    fn cycle(cluster: &str, time: i64, nodes: usize) -> Vec<Point> {
        (0..96)
            .map(|k| {
                let per_node = k % 2 == 1;
                let rows = if per_node { nodes } else { 1 };
                Point {
                    measurement: format!("node.synthetic.statistic.{k}").into(),
                    time,
                    rows: (0..rows)
                        .map(|n| Row {
                            tags: if per_node {
                                vec![
                                    Tag::new("cluster", cluster),
                                    Tag::new("node", &n.to_string()),
                                ]
                            } else {
                                vec![Tag::new("cluster", cluster)]
                            }
                            .into(),
                            fields: vec![Field::new("value", Value::Float(time as f64 / 7.0))]
                                .into(),
                        })
                        .collect::<Vec<_>>()
                        .into(),
                }
            })
            .collect()
    }

    /// The first timestamp of every batch written, in order, and the count.
    #[derive(Clone, Default)]
    struct Seen {
        times: Arc<Mutex<Vec<i64>>>,
        batches: Arc<AtomicU64>,
    }

    struct Counting(Seen);

    impl FfiSink for Counting {
        fn write(&mut self, batch: RSlice<'_, Point>) -> RResult<(), SinkError> {
            if let Some(p) = batch.first() {
                self.0.times.lock().unwrap().push(p.time);
            }
            self.0.batches.fetch_add(1, Ordering::Relaxed);
            RResult::ROk(())
        }
        fn flush(&mut self) -> RResult<(), SinkError> {
            RResult::ROk(())
        }
        fn close(&mut self) -> RResult<(), SinkError> {
            RResult::ROk(())
        }
    }

    /// Opens the counting sink, or `IDIC_BENCH_PLUGIN`'s.
    fn opener(cluster: &str, seen: &Seen) -> Opener {
        let seen = seen.clone();
        match std::env::var("IDIC_BENCH_PLUGIN") {
            Ok(path) => {
                let plugin = crate::loader::load_any(std::path::Path::new(&path))
                    .unwrap_or_else(|e| panic!("{e}"));
                let ctx = OpenContext {
                    plugin_name: plugin.info.name.as_str().into(),
                    cluster: cluster.into(),
                    onefs_version: "9.11.0.0".into(),
                    plugin_config: std::env::var("IDIC_BENCH_PLUGIN_CONFIG")
                        .unwrap_or_default()
                        .into(),
                    cluster_config: "".into(),
                    global_config: "".into(),
                    stats: Default::default(),
                    host: crate::plugin_host::services(&plugin.info.name),
                    extra: "{}".into(),
                };
                let count = Arc::clone(&seen.batches);
                Arc::new(move || {
                    // Count acknowledged batches around the plugin's sink.
                    let inner = plugin.open(&ctx)?;
                    Ok(FfiSink_TO::from_value(
                        Wrapped(inner, Arc::clone(&count)),
                        TD_Opaque,
                    ))
                })
            }
            Err(_) => {
                Arc::new(move || Ok(FfiSink_TO::from_value(Counting(seen.clone()), TD_Opaque)))
            }
        }
    }

    struct Wrapped(idic_plugin_api::SinkBox, Arc<AtomicU64>);

    impl FfiSink for Wrapped {
        fn write(&mut self, batch: RSlice<'_, Point>) -> RResult<(), SinkError> {
            let r = self.0.write(batch);
            if r.is_ok() {
                self.1.fetch_add(1, Ordering::Relaxed);
            }
            r
        }
        fn flush(&mut self) -> RResult<(), SinkError> {
            self.0.flush()
        }
        fn close(&mut self) -> RResult<(), SinkError> {
            self.0.close()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_buffered_backlog_drains_once_and_in_order_while_new_cycles_flow() {
        let size = std::env::var("IDIC_BENCH_DRAIN").ok();
        let (clusters, backlog) = size
            .as_deref()
            .and_then(|s| s.split_once('x'))
            .and_then(|(c, b)| Some((c.parse::<usize>().ok()?, b.parse::<i64>().ok()?)))
            .unwrap_or((4, 40));
        let check = std::env::var("IDIC_BENCH_PLUGIN").is_err();
        let tmp = tempfile::tempdir().unwrap();
        let start_time = 1_700_000_000i64;

        // The backlog: an hour (or what was asked) of 5 s cycles per cluster.
        let t0 = Instant::now();
        let mut bytes = 0;
        for c in 0..clusters {
            let name = format!("c{c}");
            let (mut log, _) = Log::open(&tmp.path().join(&name), 8 << 20).unwrap();
            let mut buf = Vec::new();
            for i in 0..backlog {
                buf.clear();
                codec::encode(&cycle(&name, start_time + 5 * i, 4), &mut buf);
                log.append(i as u64, &buf).unwrap();
            }
            bytes += log.bytes();
        }
        let written = t0.elapsed();

        let writers = Writers::default();
        let pool = Pool::new(4);
        let budget = Budget::new(u64::MAX);
        let syncer = Syncer::default();
        let stop = tokio_util::sync::CancellationToken::new();
        let syncing = tokio::spawn(syncer.clone().run(Pool::new(1), stop.clone()));
        let mut deliveries = Vec::new();
        let mut seen = Vec::new();
        let t1 = Instant::now();
        for c in 0..clusters {
            let name = format!("c{c}");
            let s = Seen::default();
            let settings = Settings {
                capacity: 1000,
                budget: Arc::clone(&budget),
                disk: Some(Disk {
                    dir: tmp.path().join(&name),
                    segment_bytes: 8 << 20,
                    syncer: syncer.clone(),
                    failing: Arc::new(AtomicBool::new(false)),
                }),
                max_retries: 0,
                retry_interval: Duration::from_secs(1),
                max_backoff: Duration::from_secs(60),
            };
            let names = Names {
                cluster: name.clone(),
                plugin: "bench".into(),
            };
            deliveries
                .push(Delivery::start(names, opener(&name, &s), settings, &pool, &writers).await);
            seen.push(s);
        }
        let total = clusters as u64 * backlog as u64;
        let delivered =
            |seen: &[Seen]| -> u64 { seen.iter().map(|s| s.batches.load(Ordering::Relaxed)).sum() };
        // New cycles keep coming while the backlog drains.
        let mut next = start_time + 5 * backlog;
        let mut pushed = 0u64;
        let mut tick = tokio::time::interval(CYCLE);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    for (c, d) in deliveries.iter().enumerate() {
                        d.push(Arc::new(cycle(&format!("c{c}"), next, 4)));
                    }
                    next += 5;
                    pushed += clusters as u64;
                }
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            if delivered(&seen) >= total + pushed {
                break;
            }
        }
        let drained = t1.elapsed();
        drop(deliveries);
        assert!(writers.drain(Duration::from_secs(30)).await);
        stop.cancel();
        syncing.await.unwrap();
        if check {
            for s in &seen {
                let times = s.times.lock().unwrap();
                let want: Vec<i64> = (0..times.len() as i64)
                    .map(|i| start_time + 5 * i)
                    .collect();
                assert_eq!(*times, want, "every cycle once, in order");
            }
        }
        if size.is_some() {
            let secs = drained.as_secs_f64();
            println!(
                "backlog: {clusters} clusters x {backlog} cycles = {total} batches, {:.1} MiB on disk, written in {:.1} s",
                bytes as f64 / (1 << 20) as f64,
                written.as_secs_f64()
            );
            println!(
                "drained {total} backlog + {pushed} new batches in {secs:.1} s: {:.0} batches/s, {:.1} MiB/s, {:.1}x real time ({} s of cycles)",
                (total + pushed) as f64 / secs,
                bytes as f64 / (1 << 20) as f64 / secs,
                (backlog * 5) as f64 / secs,
                backlog * 5
            );
        }
    }
}
