//! Prometheus HTTP service discovery (`[prom_http_sd]`): one process-wide
//! listener on `sd_port` answering every GET with the JSON list of targets, one
//! per cluster port, labelled `__meta_prometheus_job: isilon_stats` as in gostats.
//!
//! The targets are the `prometheus_port`s of the *enabled* clusters the start hook
//! was given (gostats also listed disabled ones), plus the port of any sink opened
//! since (a cluster added by a reload). The address in each target is
//! `listen_addr`, or else the one detected by [`external_address`].

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

use hyper::http::request::Parts;
use hyper::{Method, StatusCode};

use crate::endpoint::{not_allowed, reply};
use crate::server::{Handler, Reply};

/// The label every discovered target carries, as gostats sets it.
pub const JOB_LABEL: (&str, &str) = ("__meta_prometheus_job", "isilon_stats");

/// The ports to list: configured at start, and opened since.
#[derive(Debug, Default)]
pub struct Ports {
    /// The `prometheus_port` of each enabled cluster, from the start hook.
    pub configured: BTreeSet<u16>,
    /// Ports with a listener now, from `open`.
    pub open: BTreeSet<u16>,
}

impl Ports {
    /// Every port to advertise, sorted.
    pub fn all(&self) -> Vec<u16> {
        self.configured.union(&self.open).copied().collect()
    }
}

/// The discovery JSON for `host` and `ports`.
pub fn body(host: &str, ports: &[u16]) -> String {
    let host = match host.parse::<Ipv6Addr>() {
        Ok(_) => format!("[{host}]"),
        Err(_) => host.to_string(),
    };
    let targets: Vec<String> = ports.iter().map(|p| format!("{host}:{p}")).collect();
    format!(
        "[{{\"targets\":{},\"labels\":{{{}:{}}}}}]",
        serde_json::Value::from(targets),
        serde_json::Value::from(JOB_LABEL.0),
        serde_json::Value::from(JOB_LABEL.1),
    )
}

/// The address other machines most likely reach this one at: the source
/// address of the route to the outside, found by "connecting" a UDP socket to a
/// documentation address (RFC 5737 / RFC 3849; connecting a UDP socket sends no
/// packet). Falls back to the host name, then to 127.0.0.1.
pub fn external_address() -> String {
    let probes: [(IpAddr, IpAddr); 2] = [
        (
            Ipv4Addr::UNSPECIFIED.into(),
            Ipv4Addr::new(192, 0, 2, 1).into(),
        ),
        (
            Ipv6Addr::UNSPECIFIED.into(),
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
        ),
    ];
    for (local, remote) in probes {
        let found = UdpSocket::bind(SocketAddr::new(local, 0))
            .and_then(|s| s.connect(SocketAddr::new(remote, 9)).map(|()| s))
            .and_then(|s| s.local_addr());
        if let Ok(addr) = found {
            let ip = addr.ip();
            if !ip.is_unspecified() && !ip.is_loopback() {
                return ip.to_string();
            }
        }
    }
    match std::fs::read_to_string("/proc/sys/kernel/hostname") {
        Ok(name) if !name.trim().is_empty() => name.trim().to_string(),
        _ => Ipv4Addr::LOCALHOST.to_string(),
    }
}

/// The discovery endpoint: answers every GET, whatever the path (as gostats
/// does), with the ports as they are when the request comes.
pub struct Discovery {
    /// The host name or address written into the targets.
    pub host: String,
    /// The ports to list.
    pub ports: Arc<Mutex<Ports>>,
}

impl Handler for Discovery {
    async fn handle(&self, rq: Parts) -> Reply {
        if rq.method != Method::GET && rq.method != Method::HEAD {
            return not_allowed();
        }
        let list = self.ports.lock().unwrap_or_else(|e| e.into_inner()).all();
        reply(StatusCode::OK, "application/json", body(&self.host, &list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_lists_one_target_per_port_with_the_job_label() {
        let json: serde_json::Value =
            serde_json::from_str(&body("10.1.2.3", &[9101, 9102])).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{
                "targets": ["10.1.2.3:9101", "10.1.2.3:9102"],
                "labels": {"__meta_prometheus_job": "isilon_stats"}
            }])
        );
    }

    #[test]
    fn ipv6_addresses_are_bracketed_and_names_kept() {
        assert!(body("2001:db8::5", &[1]).contains("\"[2001:db8::5]:1\""));
        assert!(body("stats.example.com", &[1]).contains("\"stats.example.com:1\""));
    }

    #[test]
    fn empty_list_still_has_the_gostats_shape() {
        assert_eq!(
            body("h", &[]),
            r#"[{"targets":[],"labels":{"__meta_prometheus_job":"isilon_stats"}}]"#
        );
    }

    #[test]
    fn configured_and_opened_ports_are_merged() {
        let ports = Ports {
            configured: [9102, 9101].into(),
            open: [9101, 9200].into(),
        };
        assert_eq!(ports.all(), [9101, 9102, 9200]);
    }

    #[test]
    fn external_address_is_an_address_or_a_name() {
        // No packet leaves: connecting a UDP socket only picks a route.
        let found = external_address();
        assert!(!found.is_empty());
        assert!(!found.contains(' '), "{found}");
    }
}
