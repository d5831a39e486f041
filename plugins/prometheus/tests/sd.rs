//! HTTP service discovery: served by the start hook on `sd_port`, one target per
//! enabled cluster's port at `listen_addr`, updated as sinks open and close.

use idic_plugin_api::{ErrorKind, Plugin, Sink};
use prometheus::Prometheus;

use crate::support::*;

fn sd_config(port: u16) -> String {
    format!(
        "[global]\nversion = \"0.39\"\nstats_processor = \"prometheus\"\n\n\
         [prom_http_sd]\nenabled = true\nlisten_addr = \"127.0.0.1\"\nsd_port = {port}\n"
    )
}

fn targets(port: u16) -> serde_json::Value {
    let a = get(port, "/");
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        json[0]["labels"],
        serde_json::json!({"__meta_prometheus_job": "isilon_stats"})
    );
    json[0]["targets"].clone()
}

#[test]
fn discovery_lists_each_cluster_port_and_follows_opened_sinks() {
    let plugin = Prometheus::default();
    let clusters = [
        "hostname = \"a\"\nprometheus_port = 9101\n",
        "hostname = \"b\"\nprometheus_port = 9102\n",
        "hostname = \"c\"\n",
    ];
    plugin.start(&start_ctx(&sd_config(0), &clusters)).unwrap();
    let sd = plugin.discovery_addr().expect("discovery runs").port();
    assert_eq!(
        targets(sd),
        serde_json::json!(["127.0.0.1:9101", "127.0.0.1:9102"])
    );

    let mut sink = plugin.open(&ctx("d", "", ANY_PORT, vec![])).unwrap();
    let extra = format!("127.0.0.1:{}", sink.local_addr().port());
    let listed = targets(sd);
    assert!(
        listed.as_array().unwrap().contains(&extra.clone().into()),
        "{listed}"
    );
    sink.close().unwrap();
    assert!(!targets(sd).as_array().unwrap().contains(&extra.into()));

    // Any path answers, as in gostats.
    assert_eq!(get(sd, "/sd").status, 200);
    plugin.stop();
    assert!(plugin.discovery_addr().is_none());
    assert!(std::net::TcpStream::connect(local(sd)).is_err());
}

#[test]
fn disabled_discovery_opens_no_port() {
    let plugin = Prometheus::default();
    let config = sd_config(0).replace("enabled = true", "enabled = false");
    plugin.start(&start_ctx(&config, &[])).unwrap();
    assert!(plugin.discovery_addr().is_none());
    plugin.start(&start_ctx("[global]\n", &[])).unwrap();
    assert!(plugin.discovery_addr().is_none());
}

#[test]
fn a_taken_sd_port_is_a_config_error_naming_sd_port() {
    let taken = std::net::TcpListener::bind(local(0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = Prometheus::default()
        .start(&start_ctx(&sd_config(port), &[]))
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(
        err.message
            .starts_with(&format!("[prom_http_sd] sd_port {port} cannot be used")),
        "{}",
        err.message
    );
}

#[test]
fn enabled_without_sd_port_is_a_config_error() {
    let err = Prometheus::default()
        .start(&start_ctx("[prom_http_sd]\nenabled = true\n", &[]))
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("needs sd_port"), "{}", err.message);
}

#[test]
fn restarting_discovery_on_the_same_port_works_at_once() {
    let plugin = Prometheus::default();
    let port = free_port();
    for _ in 0..3 {
        plugin.start(&start_ctx(&sd_config(port), &[])).unwrap();
        assert_eq!(targets(port), serde_json::json!([]));
        plugin.stop();
    }
}

#[test]
fn a_reload_stop_and_start_lists_the_new_clusters_and_section() {
    // The host calls stop then start with the new config on every reload.
    let plugin = Prometheus::default();
    plugin
        .start(&start_ctx(
            &sd_config(0),
            &["hostname = \"a\"\nprometheus_port = 9101\n"],
        ))
        .unwrap();
    let first = plugin.discovery_addr().expect("discovery runs").port();
    assert_eq!(targets(first), serde_json::json!(["127.0.0.1:9101"]));
    plugin.stop();
    let reloaded =
        sd_config(0).replace("listen_addr = \"127.0.0.1\"", "listen_addr = \"localhost\"");
    plugin
        .start(&start_ctx(
            &reloaded,
            &["hostname = \"b\"\nprometheus_port = 9202\n"],
        ))
        .unwrap();
    let second = plugin
        .discovery_addr()
        .expect("discovery runs again")
        .port();
    assert_eq!(targets(second), serde_json::json!(["localhost:9202"]));
    plugin.stop();
}
