//! Ten scrapers at once while a writer keeps storing cycles: every scrape is
//! answered completely and consistently (the figures for 100 000 series come from
//! `examples/scrapers.rs`, see the README); connections opened together are all
//! served; a client that stops reading holds up no other.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use idic_plugin_api::{Field, Plugin, Point, Row, Sink, Tag, Value};
use prometheus::Prometheus;

use crate::support::*;

const NODES: usize = 40;
const OPS: usize = 50;

fn cycle(round: u64) -> Vec<Point> {
    (1..=NODES)
        .map(|n| Point {
            measurement: "node.protostats.nfs".into(),
            time: 1_700_000_000 + round as i64,
            rows: (0..OPS)
                .map(|op| Row {
                    tags: vec![
                        Tag::new("cluster", "c1"),
                        Tag::new("node", &n.to_string()),
                        Tag::new("op_name", &format!("op{op}")),
                    ]
                    .into(),
                    fields: vec![
                        Field::new("op_rate", Value::Float(round as f64)),
                        Field::new("time_avg", Value::Float(round as f64 + 0.5)),
                    ]
                    .into(),
                })
                .collect(),
        })
        .collect()
}

#[test]
fn ten_scrapers_get_whole_bodies_while_writes_continue() {
    let mut sink = Prometheus::default()
        .open(&ctx(
            "c1",
            "",
            ANY_PORT,
            vec![stat("node.protostats.nfs", "NFS", 3600)],
        ))
        .unwrap();
    let port = sink.local_addr().port();
    sink.write(&cycle(0)).unwrap();
    let series = NODES * OPS * 2;

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let mut round = 1;
            while !done.load(Ordering::Relaxed) && round < 10_000 {
                sink.write(&cycle(round)).unwrap();
                round += 1;
            }
            round
        })
    };
    let scrapers: Vec<_> = (0..10)
        .map(|_| {
            thread::spawn(move || {
                for _ in 0..5 {
                    let a = get(port, "/metrics");
                    assert_eq!(a.status, 200);
                    let samples: Vec<&str> =
                        a.body.lines().filter(|l| !l.starts_with('#')).collect();
                    assert_eq!(samples.len(), series);
                    // One write is applied as a whole under the lock: a body never
                    // mixes two cycles.
                    let stamp = samples[0].rsplit(' ').next().unwrap();
                    assert!(samples.iter().all(|l| l.ends_with(stamp)), "mixed cycles");
                }
            })
        })
        .collect();
    for s in scrapers {
        s.join().expect("a scraper failed");
    }
    done.store(true, Ordering::Relaxed);
    let rounds = writer.join().unwrap();
    assert!(rounds > 1, "the writer made progress during the scrapes");
}

/// Reads one keep-alive answer (headers, then `Content-Length` bytes).
fn read_answer(s: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if s.read_exact(&mut byte).is_err() {
            panic!("no answer within the read timeout");
        }
        raw.push(byte[0]);
    }
    let head = String::from_utf8(raw).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a content length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    head + &String::from_utf8(body).unwrap()
}

#[test]
fn keep_alive_connections_opened_at_once_are_all_served_while_all_stay_open() {
    // Regression: tiny_http's worker pool could leave one of several connections
    // handed over together unserved until another one closed. Every connection
    // here stays open until all are served; one left waiting fails its read.
    use std::io::Write;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Barrier;
    use std::time::Duration;
    let mut sink = Prometheus::default()
        .open(&ctx("c1", "", ANY_PORT, vec![]))
        .unwrap();
    sink.write(&[cpu_idle("c1", 1_700_000_000, 1.0)]).unwrap();
    let port = sink.local_addr().port();
    let start = Arc::new(Barrier::new(10));
    let served = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..10)
        .map(|_| {
            let (start, served) = (Arc::clone(&start), Arc::clone(&served));
            thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(local(port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                start.wait();
                for _ in 0..3 {
                    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                        .unwrap();
                    assert!(read_answer(&mut s).contains("isilon_stat_cluster_cpu_idle_avg"));
                }
                served.fetch_add(1, Ordering::SeqCst);
                // Bounded, so that a failed client cannot make the others hang.
                for _ in 0..1000 {
                    if served.load(Ordering::SeqCst) == 10 {
                        break;
                    }
                    thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a keep-alive connection was not served");
    }
    assert_eq!(served.load(Ordering::SeqCst), 10);
}

#[test]
fn a_client_that_stops_reading_a_large_body_holds_up_no_other_scrape() {
    use std::io::Write;
    // 200 nodes x 250 operations x 2 fields: 100 000 series, about 8 MB, more
    // than the socket buffers hold, so the server's write to the stalled
    // client cannot finish while the others are served.
    let batch: Vec<Point> = (1..=200)
        .map(|n| Point {
            measurement: "node.protostats.nfs".into(),
            time: 1_700_000_000,
            rows: (0..250)
                .map(|op| Row {
                    tags: vec![
                        Tag::new("cluster", "c1"),
                        Tag::new("node", &n.to_string()),
                        Tag::new("op_name", &format!("operation_{op}")),
                    ]
                    .into(),
                    fields: vec![
                        Field::new("op_rate", Value::Float(1.0)),
                        Field::new("time_avg", Value::Float(2.0)),
                    ]
                    .into(),
                })
                .collect(),
        })
        .collect();
    let mut sink = Prometheus::default()
        .open(&ctx(
            "c1",
            "",
            ANY_PORT,
            vec![stat("node.protostats.nfs", "NFS", 3600)],
        ))
        .unwrap();
    sink.write(&batch).unwrap();
    let port = sink.local_addr().port();

    // A small receive buffer, so that the body cannot fit in the sockets.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&local(port).into()).unwrap();
    let mut stalled: std::net::TcpStream = socket.into();
    stalled
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Wait until the answer has started to arrive: the server is writing it.
    let mut first = [0u8; 12];
    stalled
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    std::io::Read::read_exact(&mut stalled, &mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    for _ in 0..3 {
        let a = get(port, "/metrics");
        assert_eq!(a.status, 200);
        assert_eq!(
            a.body.lines().filter(|l| !l.starts_with('#')).count(),
            100_000
        );
    }
    drop(stalled);
}
