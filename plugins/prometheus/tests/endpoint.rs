//! One cluster's listener: what `/metrics`, `/` and other paths answer, the two
//! formats, and the port: missing, taken, shared, freed. Expiry is the store's,
//! tested there with an injected clock (`store.rs`), not here by waiting.

use std::net::TcpListener;

use idic_plugin_api::{ErrorKind, Plugin, Sink};
use prometheus::Prometheus;

use crate::support::*;

#[test]
fn metrics_serve_the_latest_value_with_its_timestamp() {
    let mut sink = Prometheus::default()
        .open(&ctx(
            "c1",
            "",
            ANY_PORT,
            vec![stat(
                "cluster.cpu.idle.avg",
                "Cluster average of idle CPU",
                5,
            )],
        ))
        .unwrap();
    let port = sink.local_addr().port();
    sink.write(&[cpu_idle("c1", 1_700_000_000, 900.0)]).unwrap();
    sink.write(&[cpu_idle("c1", 1_700_000_005, 912.5)]).unwrap();
    let a = get(port, "/metrics");
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(
        a.body,
        "# HELP isilon_stat_cluster_cpu_idle_avg Cluster average of idle CPU\n\
         # TYPE isilon_stat_cluster_cpu_idle_avg gauge\n\
         isilon_stat_cluster_cpu_idle_avg{cluster=\"c1\"} 912.5 1700000005000\n"
    );
    sink.close().unwrap();
}

#[test]
fn openmetrics_is_served_when_the_scraper_asks_for_it() {
    let mut sink = Prometheus::default()
        .open(&ctx(
            "c1",
            "",
            ANY_PORT,
            vec![stat("cluster.cpu.idle.avg", "Idle", 5)],
        ))
        .unwrap();
    sink.write(&[cpu_idle("c1", 1_700_000_000, 912.0)]).unwrap();
    // The header Prometheus 2.42 sends.
    let accept = "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                  version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let a = request(sink.local_addr().port(), "GET", "/metrics", &[accept]);
    assert_eq!(
        a.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert_eq!(
        a.body,
        "# HELP isilon_stat_cluster_cpu_idle_avg Idle\n\
         # TYPE isilon_stat_cluster_cpu_idle_avg gauge\n\
         isilon_stat_cluster_cpu_idle_avg{cluster=\"c1\"} 912 1700000000\n# EOF\n"
    );
}

#[test]
fn metrics_are_gzipped_when_the_scraper_accepts_it() {
    use std::io::Read;
    let mut sink = Prometheus::default()
        .open(&ctx(
            "c1",
            "",
            ANY_PORT,
            vec![stat("node.load.1min", "Load", 3600)],
        ))
        .unwrap();
    let rows: Vec<(String, f64)> = (0..300).map(|n| (n.to_string(), f64::from(n))).collect();
    let tags: Vec<[(&str, &str); 2]> = rows
        .iter()
        .map(|(n, _)| [("cluster", "c1"), ("node", n.as_str())])
        .collect();
    let values: Vec<[(&str, f64); 1]> = rows.iter().map(|(_, v)| [("value", *v)]).collect();
    let spec: Vec<RowSpec<'_>> = tags
        .iter()
        .zip(&values)
        .map(|(t, v)| (&t[..], &v[..]))
        .collect();
    sink.write(&[point("node.load.1min", 1_700_000_000, &spec)])
        .unwrap();
    let port = sink.local_addr().port();
    let plain = get(port, "/metrics");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));

    // What Prometheus sends.
    let raw = raw_request(port, "GET", "/metrics", &["Accept-Encoding: gzip"]);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = parse(&format!("{}", String::from_utf8_lossy(&raw[..split])));
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-encoding"), Some("gzip"));
    assert_eq!(
        head.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let packed = &raw[split..];
    assert_eq!(
        head.header("content-length"),
        Some(packed.len().to_string().as_str())
    );
    assert!(
        packed.len() * 4 < plain.body.len(),
        "{} bytes",
        packed.len()
    );
    let mut unpacked = String::new();
    flate2::read::GzDecoder::new(packed)
        .read_to_string(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, plain.body);

    // Refused with q=0: plain text.
    let refused = request(port, "GET", "/metrics", &["Accept-Encoding: gzip;q=0"]);
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.body, plain.body);
}

#[test]
fn landing_page_links_to_metrics_and_other_paths_are_404() {
    let sink = Prometheus::default()
        .open(&ctx("c1", "", ANY_PORT, vec![]))
        .unwrap();
    let port = sink.local_addr().port();
    let page = get(port, "/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.body.contains("<a href=\"/metrics\">/metrics</a>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<b>c1</b>"), "{}", page.body);
    for path in ["/favicon.ico", "/metricsx", "/api/v1/query"] {
        assert_eq!(get(port, path).status, 404, "{path}");
    }
    assert_eq!(
        request(port, "POST", "/metrics", &["Content-Length: 0"]).status,
        405
    );
    let head = request(port, "HEAD", "/metrics", &[]);
    assert_eq!((head.status, head.body.as_str()), (200, ""));
}

#[test]
fn an_empty_store_serves_an_empty_body() {
    let sink = Prometheus::default()
        .open(&ctx("c1", "", ANY_PORT, vec![]))
        .unwrap();
    let a = get(sink.local_addr().port(), "/metrics?x=1");
    assert_eq!((a.status, a.body.as_str()), (200, ""));
}

#[test]
fn missing_prometheus_port_is_a_config_error_naming_the_cluster() {
    let err = Prometheus::default()
        .open(&ctx("c1", "", "hostname = \"h\"\n", vec![]))
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
    assert_eq!(
        err.message.as_str(),
        "cluster c1: prometheus_port is not set in its [[cluster]]; the prometheus sink needs one port per cluster"
    );
}

#[test]
fn a_port_in_use_is_a_config_error_naming_cluster_port_and_setting() {
    let taken = TcpListener::bind(local(0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let table = format!("prometheus_port = {port}\n");
    let err = Prometheus::default()
        .open(&ctx("c1", "", &table, vec![]))
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
    let want = format!("cluster c1: prometheus_port {port} cannot be listened on: ");
    assert!(err.message.starts_with(&want), "{}", err.message);
    assert!(err.message.contains("another program"), "{}", err.message);
}

#[test]
fn two_clusters_on_one_port_are_refused_by_name() {
    let plugin = Prometheus::default();
    let a = plugin.open(&ctx("c1", "", ANY_PORT, vec![])).unwrap();
    let table = format!("prometheus_port = {}\n", a.local_addr().port());
    let err = plugin.open(&ctx("c2", "", &table, vec![])).err().unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(
        err.message.contains("cluster c2: prometheus_port ")
            && err.message.contains("is already used by cluster c1"),
        "{}",
        err.message
    );
}

#[test]
fn close_frees_the_port_for_a_reopen_right_after_a_scrape() {
    let plugin = Prometheus::default();
    let port = free_port();
    let table = format!("prometheus_port = {port}\n");
    for round in 0..3 {
        let mut sink = plugin.open(&ctx("c1", "", &table, vec![])).unwrap();
        sink.write(&[cpu_idle("c1", 1_700_000_000 + round, 1.0)])
            .unwrap();
        // `Connection: close`: the server closes first, leaving TIME_WAIT on this port.
        let a = request(port, "GET", "/metrics", &[]);
        assert!(
            a.body.contains(&format!("{}000", 1_700_000_000 + round)),
            "{}",
            a.body
        );
        sink.close().unwrap();
        assert!(
            std::net::TcpStream::connect(local(port)).is_err(),
            "round {round}"
        );
    }
}

#[test]
fn the_same_cluster_reopened_without_close_takes_its_port_back() {
    // What happens when the host replaces a sink that panicked and was leaked.
    let plugin = Prometheus::default();
    let port = free_port();
    let table = format!("prometheus_port = {port}\n");
    let first = plugin.open(&ctx("c1", "", &table, vec![])).unwrap();
    std::mem::forget(first);
    let mut second = plugin.open(&ctx("c1", "", &table, vec![])).unwrap();
    second.write(&[cpu_idle("c1", 1_700_000_000, 7.0)]).unwrap();
    assert!(get(port, "/metrics").body.contains("} 7 1700000000000"));
}

#[test]
fn invalid_settings_are_config_errors() {
    let plugin = Prometheus::default();
    let check = |section: &str, table: &str, needle: &str| {
        let err = plugin
            .open(&ctx("c1", section, table, vec![]))
            .err()
            .unwrap();
        assert_eq!(err.kind, ErrorKind::Config, "{section}");
        assert!(
            err.message.contains(needle),
            "{} lacks {needle}",
            err.message
        );
    };
    check(
        "tls_cert = \"x\"\n",
        ANY_PORT,
        "tls_cert and tls_key go together",
    );
    check(
        "authenticated = true\n",
        ANY_PORT,
        "needs both username and password",
    );
    check(
        "instance_label_name = \"a-b\"\n",
        ANY_PORT,
        "instance_label_name",
    );
    check(
        "",
        "prometheus_port = -1\n",
        "cluster c1: prometheus_port = -1 is not a port number",
    );
}

#[test]
fn unknown_keys_do_not_stop_the_sink() {
    let sink = Prometheus::default()
        .open(&ctx("c1", "basic_username = \"x\"\n", ANY_PORT, vec![]))
        .unwrap();
    assert_eq!(get(sink.local_addr().port(), "/").status, 200);
}
