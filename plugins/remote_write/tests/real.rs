//! Points written through the plugin into a real Prometheus and a real
//! VictoriaMetrics, read back through their own APIs with exact values and the
//! points' own timestamps; a refused sample (permanent), an unreachable
//! receiver (retryable), HTTP Basic auth with a `$env:` password and HTTPS with
//! a private CA; doctor's `ping` against a receiver, a wrong path and a closed
//! port.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use idic_plugin_api::{testing, ErrorKind, Plugin, Sink};
use remote_write::{RemoteWrite, RemoteWriteSink};

use crate::receivers::{free_port, Kind, Receiver, Series};
use crate::services;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn open(section: &str) -> RemoteWriteSink {
    RemoteWrite
        .start(&testing::start_context("remote_write", section))
        .unwrap_or_else(|e| panic!("start: {e}"));
    RemoteWrite
        .open(&testing::open_context("remote_write", "c1", section))
        .unwrap_or_else(|e| panic!("open: {e}"))
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What the sample points at `t1` and `t2` must become: written out by hand
/// from gostats' naming rules (docs/gostats-compat.md), not computed by the
/// plugin's code.
fn expected(t1: i64, t2: i64) -> Vec<Series> {
    let both = |v: f64| vec![(t1 * 1000, v), (t2 * 1000, v)];
    let ext = ("replica", "a");
    let mut out = vec![
        (
            labels(&[
                ("__name__", "isilon_stat_cluster_cpu_idle_avg"),
                ("cluster", "c1"),
                ext,
            ]),
            both(97.5),
        ),
        (
            labels(&[
                ("__name__", "isilon_stat_node_summary_protocol_time"),
                ("class", "read"),
                ("cluster", "c1"),
                ("node", "1"),
                ("protocol", "smb2"),
                ext,
            ]),
            vec![(t1 * 1000, t1 as f64), (t2 * 1000, t2 as f64)],
        ),
    ];
    for n in 1..=3 {
        let node = n.to_string();
        out.push((
            labels(&[
                ("__name__", "isilon_stat_node_load_1min"),
                ("cluster", "c1"),
                ("node", &node),
                ext,
            ]),
            both(0.25 * n as f64),
        ));
    }
    for op in ["read", "write"] {
        for (field, v) in [("op_rate", 120.0), ("time_avg", 0.5), ("in_max", 1e21)] {
            out.push((
                labels(&[
                    (
                        "__name__",
                        &format!("isilon_stat_cluster_protostats_nfs_{field}"),
                    ),
                    ("cluster", "c1"),
                    ("op_name", op),
                    ext,
                ]),
                both(v),
            ));
        }
    }
    for (field, v) in [("operation_rate", 3.0), ("time_avg", 0.1)] {
        out.push((
            labels(&[
                (
                    "__name__",
                    &format!("isilon_stat_node_summary_protocol_{field}"),
                ),
                ("class", "read"),
                ("cluster", "c1"),
                ("node", "1"),
                ("protocol", "smb2"),
                ext,
            ]),
            both(v),
        ));
    }
    let note = "a \"quoted\", spaced=tag\\";
    for (field, v) in [
        ("float", -1.5),
        ("int", -7.0),
        ("uint", u64::MAX as f64),
        ("bool", 1.0),
    ] {
        out.push((
            labels(&[
                (
                    "__name__",
                    &format!("isilon_stat_sample_every_value_{field}"),
                ),
                ("cluster", "c1"),
                ("note", note),
                ext,
            ]),
            both(v),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn stores_exact_values_and_timestamps(kind: Kind, test: &str) {
    if !services::available(kind.tool(), test) {
        return;
    }
    // The settings docs/SCALING.md gives for resent and duplicated samples:
    // Prometheus takes the retry below only with an out-of-order window (the
    // batch's earlier samples are behind the series' latest); VictoriaMetrics
    // stores every copy of a sample unless deduplication is on.
    let settings = match kind {
        Kind::Prometheus => "storage:\n  tsdb:\n    out_of_order_time_window: 2h\n",
        Kind::Victoria => "-dedup.minScrapeInterval=1ms",
    };
    let r = Receiver::start_with(kind, settings, None, None);
    let section = format!(
        "url = \"{}\"\nexternal_labels = {{ replica = \"a\" }}\nmax_series_per_request = 5",
        r.url()
    );
    let mut sink = open(&section);
    let (t1, t2) = (now() - 60, now() - 30);
    let mut batch = testing::sample_points(t1);
    batch.extend(testing::sample_points(t2));
    sink.write(&batch).unwrap_or_else(|e| panic!("write: {e}"));
    let want = expected(t1, t2);
    r.wait(std::time::Duration::from_secs(30), "every series", || {
        r.series("isilon_stat_.*").len() >= want.len()
    });
    assert_same(kind, &r.series("isilon_stat_.*"), &want);
    // The same batch again (a retry after a failure) stores nothing twice.
    sink.write(&batch)
        .unwrap_or_else(|e| panic!("second write: {e}"));
    assert_same(kind, &r.series("isilon_stat_.*"), &want);
}

/// Labels and timestamps exactly; values exactly, except that VictoriaMetrics
/// keeps a float as a decimal of about 15 significant digits (u64::MAX reads
/// back 4 units of 1e3 lower), so there they may differ by 1e-15 relative.
fn assert_same(kind: Kind, got: &[Series], want: &[Series]) {
    let tolerance = if kind == Kind::Victoria { 1e-15 } else { 0.0 };
    let close = |a: f64, b: f64| a == b || (a - b).abs() <= tolerance * b.abs();
    let same = got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            g.0 == w.0
                && g.1.len() == w.1.len()
                && g.1
                    .iter()
                    .zip(&w.1)
                    .all(|(a, b)| a.0 == b.0 && close(a.1, b.1))
        });
    assert!(same, "{kind:?} stored\n{got:?}\nwanted\n{want:?}");
}

#[test]
fn prometheus_stores_exact_values_at_the_points_timestamps() {
    stores_exact_values_and_timestamps(Kind::Prometheus, "prometheus_stores_exact_values");
}

#[test]
fn victoria_metrics_stores_exact_values_at_the_points_timestamps() {
    stores_exact_values_and_timestamps(Kind::Victoria, "victoria_metrics_stores_exact_values");
}

#[test]
fn a_sample_prometheus_refuses_is_a_permanent_error_with_its_message() {
    if !services::available("prometheus", "a_sample_prometheus_refuses") {
        return;
    }
    let r = Receiver::start(Kind::Prometheus);
    let mut sink = open(&format!("url = \"{}\"", r.url()));
    sink.write(&testing::sample_points(now() - 10)).unwrap();
    // Far behind the head (no out_of_order_time_window): "out of bounds".
    let e = sink
        .write(&testing::sample_points(now() - 7 * 86_400))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent, "{e}");
    assert!(e.message.contains("HTTP 400"), "{e}");
    assert!(e.message.contains("out of bounds"), "{e}");
}

#[test]
fn prometheus_without_the_receiver_flag_is_a_permanent_error_naming_it() {
    if !services::available("prometheus", "prometheus_without_the_receiver_flag") {
        return;
    }
    // Same server, write path that does not exist.
    let r = Receiver::start(Kind::Prometheus);
    let url = r.url().replace("/api/v1/write", "/api/v1/nowhere");
    let e = open(&format!("url = \"{url}\""))
        .write(&testing::sample_points(now()))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent, "{e}");
    assert!(e.message.contains("enable-remote-write-receiver"), "{e}");
}

#[test]
fn an_unreachable_receiver_is_retryable() {
    let url = format!("http://127.0.0.1:{}/api/v1/write", free_port());
    let e = open(&format!("url = \"{url}\"\ntimeout = 5"))
        .write(&testing::sample_points(now()))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Retryable, "{e}");
    assert!(e.message.contains("cannot reach"), "{e}");
}

/// `ping` (`idic doctor`) through `control`, as the host asks it.
fn ping(section: &str) -> Result<String, idic_plugin_api::SinkError> {
    RemoteWrite.control(idic_plugin_api::conversation::PING, section)
}

#[test]
fn ping_reaches_prometheus_without_resolving_secrets_and_names_a_wrong_path() {
    if !services::available("prometheus", "ping_reaches_prometheus") {
        return;
    }
    let r = Receiver::start(Kind::Prometheus);
    // A secret doctor cannot resolve: ping must not need it.
    let answer = ping(&format!(
        "url = \"{}\"\nusername = \"idic\"\npassword = \"$env:IDIC_RW_UNSET_PASSWORD\"",
        r.url()
    ))
    .unwrap_or_else(|e| panic!("ping: {e}"));
    assert!(answer.starts_with("{\"reachable\":"), "{answer}");
    assert!(answer.contains(&r.url()), "{answer}");
    assert!(answer.contains("with HTTP 405"), "{answer}");
    let wrong = r.url().replace("/api/v1/write", "/api/v1/nowhere");
    let e = ping(&format!("url = \"{wrong}\"")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
    assert!(e.message.contains("HTTP 404"), "{e}");
    assert!(e.message.contains("/api/v1/write"), "{e}");
}

#[test]
fn ping_of_a_receiver_behind_basic_auth_says_it_is_reachable() {
    if !services::available("victoria-metrics", "ping_of_a_receiver_behind_basic_auth") {
        return;
    }
    let r = Receiver::start_with(Kind::Victoria, "", Some(("idic", "s3cret")), None);
    let answer = ping(&format!(
        "url = \"{}\"\nusername = \"idic\"\npassword = \"s3cret\"",
        r.url()
    ))
    .unwrap_or_else(|e| panic!("ping: {e}"));
    assert!(answer.contains("with HTTP 401"), "{answer}");
    assert!(!answer.contains("s3cret"), "{answer}");
}

#[test]
fn ping_of_an_unreachable_port_is_retryable_and_names_the_url() {
    let url = format!("http://127.0.0.1:{}/api/v1/write", free_port());
    let e = ping(&format!("url = \"{url}\"\ntimeout = 5")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Retryable, "{e}");
    assert!(e.message.contains("cannot reach"), "{e}");
    assert!(e.message.contains(&url), "{e}");
}

#[test]
fn basic_auth_with_an_env_password_is_accepted_and_a_wrong_one_refused() {
    if !services::available("victoria-metrics", "basic_auth_with_an_env_password") {
        return;
    }
    let r = Receiver::start_with(Kind::Victoria, "", Some(("idic", "s3cret")), None);
    std::env::set_var("IDIC_RW_TEST_PASSWORD", "s3cret");
    let good = format!(
        "url = \"{}\"\nusername = \"idic\"\npassword = \"$env:IDIC_RW_TEST_PASSWORD\"",
        r.url()
    );
    let t = now() - 5;
    open(&good).write(&testing::sample_points(t)).unwrap();
    let stored = r.series("isilon_stat_cluster_cpu_idle_avg");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].1, [(t * 1000, 97.5)]);
    let bad = format!(
        "url = \"{}\"\nusername = \"idic\"\npassword = \"wrong\"",
        r.url()
    );
    let e = open(&bad).write(&testing::sample_points(t)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent, "{e}");
    assert!(e.message.contains("HTTP 401"), "{e}");
}

#[test]
fn https_with_a_private_ca_is_trusted_only_with_ca_cert() {
    if !services::available("victoria-metrics", "https_with_a_private_ca") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, key.cert.pem()).unwrap();
    std::fs::write(&key_file, key.signing_key.serialize_pem()).unwrap();
    let r = Receiver::start_with(
        Kind::Victoria,
        "",
        None,
        Some((cert_file.to_str().unwrap(), key_file.to_str().unwrap())),
    );
    let t = now() - 5;
    let plain = format!("url = \"{}\"\ntimeout = 5", r.url());
    let e = open(&plain).write(&testing::sample_points(t)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Retryable, "{e}");
    let trusted = format!("{plain}\nca_cert = \"{}\"", cert_file.display());
    open(&trusted).write(&testing::sample_points(t)).unwrap();
    let stored = r.series("isilon_stat_cluster_cpu_idle_avg");
    assert_eq!(stored[0].1, [(t * 1000, 97.5)]);
}
