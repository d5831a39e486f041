//! The harness: the host of `idic_plugin_api::testing` (contexts, `$env:`
//! secrets) shaped for these tests, points shaped like the
//! host's decoded OneFS answers, and small HTTP helpers. Everything runs on
//! loopback.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use idic_plugin_api::abi_stable::std_types::RString;
use idic_plugin_api::{
    testing, Field, OpenContext, Point, Row, StartContext, StatInfo, Tag, Value,
};

/// The context of `open` for `cluster` with the `[prometheus]` section `section`
/// and the `[[cluster]]` table `table`.
pub fn ctx(cluster: &str, section: &str, table: &str, stats: Vec<StatInfo>) -> OpenContext {
    OpenContext {
        cluster_config: table.into(),
        global_config: "".into(),
        stats: stats.into(),
        ..testing::open_context("prometheus", cluster, section)
    }
}

/// The context of the start hook for the whole config `config` and the given
/// enabled cluster tables.
pub fn start_ctx(config: &str, clusters: &[&str]) -> StartContext {
    StartContext {
        config: config.into(),
        plugin_config: "".into(),
        clusters: clusters.iter().map(|c| RString::from(*c)).collect(),
        ..testing::start_context("prometheus", "")
    }
}

/// A `[[cluster]]` table asking for any free port.
pub const ANY_PORT: &str = "hostname = \"127.0.0.1\"\nprometheus_port = 0\n";

/// A statistic's metadata.
pub fn stat(key: &str, description: &str, interval: u64) -> StatInfo {
    StatInfo {
        key: key.into(),
        description: description.into(),
        units: "".into(),
        update_interval: interval,
    }
}

/// A row as (tags, float fields).
pub type RowSpec<'a> = (&'a [(&'a str, &'a str)], &'a [(&'a str, f64)]);

/// A point of one row per `(tags, fields)`.
pub fn point(key: &str, time: i64, rows: &[RowSpec<'_>]) -> Point {
    Point {
        measurement: key.into(),
        time,
        rows: rows
            .iter()
            .map(|(tags, fields)| Row {
                tags: tags.iter().map(|(k, v)| Tag::new(k, v)).collect(),
                fields: fields
                    .iter()
                    .map(|(k, v)| Field::new(k, Value::Float(*v)))
                    .collect(),
            })
            .collect(),
    }
}

/// `cluster.cpu.idle.avg = value` for cluster `c`.
pub fn cpu_idle(c: &str, time: i64, value: f64) -> Point {
    point(
        "cluster.cpu.idle.avg",
        time,
        &[(&[("cluster", c)], &[("value", value)])],
    )
}

/// A loopback address on `port`.
pub fn local(port: u16) -> SocketAddr {
    (Ipv4Addr::LOCALHOST, port).into()
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind(local(0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP/1.1 request with the given extra header lines over plain TCP
/// and reads the answer (the connection is closed after it).
pub fn request(port: u16, method: &str, path: &str, headers: &[&str]) -> Answer {
    parse(&String::from_utf8(raw_request(port, method, path, headers)).unwrap())
}

/// Like [`request`], but the answer's bytes as they came.
pub fn raw_request(port: u16, method: &str, path: &str, headers: &[&str]) -> Vec<u8> {
    let mut s = TcpStream::connect(local(port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    s.write_all(text.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    raw
}

/// `GET path` over plain HTTP.
pub fn get(port: u16, path: &str) -> Answer {
    request(port, "GET", path, &[])
}

/// Splits a raw HTTP/1.x answer (identity or chunked body).
pub fn parse(raw: &str) -> Answer {
    let (head, rest) = raw.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
}

/// An HTTPS agent trusting only `ca_pem`, answering every status as a response.
pub fn tls_agent(ca_pem: &str) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let ca = Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(vec![ca])))
                .build(),
        )
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

/// A self-signed certificate for `localhost` / 127.0.0.1 written into `dir`:
/// `(cert path, key path, cert PEM)`.
pub fn self_signed(dir: &std::path::Path) -> (String, String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let c = dir.join("tls.crt");
    let k = dir.join("tls.key");
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (
        c.to_str().unwrap().to_string(),
        k.to_str().unwrap().to_string(),
        cert.pem(),
    )
}
