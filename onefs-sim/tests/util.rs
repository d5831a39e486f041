//! Test harness: start a simulator on ephemeral ports, talk to it over HTTPS with an
//! independent client (ureq trusting the simulator's CA, or raw rustls/TCP for
//! malformed traffic), log in like a collector, and find the shared reference files.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use onefs_sim::{ClusterHandle, ClusterSpec, Sim, SimConfig};
use serde_json::Value;

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A logged-in session, as a collector keeps it.
pub struct Session {
    pub cookie: String,
    pub csrf: Option<String>,
    pub referer: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Starts a simulator.
pub fn start(config: SimConfig) -> Sim {
    Sim::start(config).expect("simulator starts")
}

/// Starts a simulator with one cluster.
pub fn start_one(spec: ClusterSpec) -> Sim {
    start(SimConfig::default().cluster(spec))
}

/// The `Authorization` header of the default user (`statsreader`, `s3kret`).
pub const BASIC_AUTH: (&str, &str) = ("Authorization", "Basic c3RhdHNyZWFkZXI6czNrcmV0");

/// A client trusting the simulator's CA that reports HTTP errors as replies.
pub fn agent(sim: &Sim) -> ureq::Agent {
    agent_with_timeout(sim, Duration::from_secs(20))
}

/// The same, giving up on any request after `timeout`.
pub fn agent_with_timeout(sim: &Sim, timeout: Duration) -> ureq::Agent {
    let mut builder = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent("onefs-sim-tests/1.0");
    if sim.https() {
        let cert =
            ureq::tls::Certificate::from_pem(sim.ca_cert_pem().as_bytes()).expect("CA PEM parses");
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
            .build();
        builder = builder.tls_config(tls);
    }
    builder.build().into()
}

fn reply(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, ureq::Error> {
    let response = result?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response
        .into_body()
        .with_config()
        .limit(64 << 20)
        .read_to_string()?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// GET with extra headers; transport errors are returned.
pub fn try_get(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, ureq::Error> {
    let mut request = agent.get(url);
    for (n, v) in headers {
        request = request.header(*n, *v);
    }
    reply(request.call())
}

/// GET with extra headers.
pub fn get(agent: &ureq::Agent, url: &str, headers: &[(&str, &str)]) -> Reply {
    try_get(agent, url, headers).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// POST a body with extra headers.
pub fn post(agent: &ureq::Agent, url: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = agent.post(url).header("Content-Type", "application/json");
    for (n, v) in headers {
        request = request.header(*n, *v);
    }
    reply(request.send(body)).unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// Logs in with the default user; panics unless the answer is 201.
pub fn login(agent: &ureq::Agent, cluster: &ClusterHandle) -> Session {
    let r = login_as(agent, cluster, "statsreader", "s3kret");
    assert_eq!(r.status, 201, "login: {}", r.body);
    let cookie_value = |name: &str| {
        r.headers_named("set-cookie")
            .iter()
            .filter_map(|c| c.split(';').next())
            .filter_map(|c| c.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    };
    Session {
        cookie: format!(
            "isisessid={}",
            cookie_value("isisessid").expect("isisessid cookie")
        ),
        csrf: cookie_value("isicsrf"),
        referer: cluster.url(),
    }
}

/// Posts a login.
pub fn login_as(agent: &ureq::Agent, cluster: &ClusterHandle, user: &str, password: &str) -> Reply {
    let body =
        serde_json::json!({"username": user, "password": password, "services": ["platform"]})
            .to_string();
    post(
        agent,
        &format!("{}/session/1/session", cluster.url()),
        &body,
        &[],
    )
}

impl Session {
    /// The headers a collector sends with a session.
    pub fn headers(&self) -> Vec<(&str, &str)> {
        let mut h = vec![("Cookie", self.cookie.as_str())];
        if let Some(csrf) = &self.csrf {
            h.push(("X-CSRF-Token", csrf.as_str()));
            h.push(("Referer", self.referer.as_str()));
        }
        h
    }

    /// GET a path of the cluster with this session.
    pub fn get(&self, agent: &ureq::Agent, cluster: &ClusterHandle, path: &str) -> Reply {
        get(agent, &format!("{}{path}", cluster.url()), &self.headers())
    }
}

/// GET a path of the cluster with Basic credentials of the default user.
pub fn basic_get(agent: &ureq::Agent, cluster: &ClusterHandle, path: &str) -> Reply {
    get(agent, &format!("{}{path}", cluster.url()), &[BASIC_AUTH])
}

/// The same; transport errors are returned.
pub fn try_basic_get(
    agent: &ureq::Agent,
    cluster: &ClusterHandle,
    path: &str,
) -> Result<Reply, ureq::Error> {
    try_get(agent, &format!("{}{path}", cluster.url()), &[BASIC_AUTH])
}

/// The `/statistics/current` path for keys, as a collector asks it.
pub fn current_path(keys: &[&str]) -> String {
    let mut p =
        "/platform/1/statistics/current?degraded=true&devid=all&show_nodes=true".to_string();
    for k in keys {
        p.push_str("&key=");
        p.push_str(k);
    }
    p
}

/// Sends raw bytes (over TLS when the simulator speaks HTTPS) and returns everything
/// the server sent until it closed the connection or went quiet for a second.
pub fn raw(sim: &Sim, cluster: &ClusterHandle, request: &[u8]) -> String {
    let tcp = TcpStream::connect(cluster.addr()).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut out = Vec::new();
    if sim.https() {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(
                rustls::pki_types::CertificateDer::from_pem_slice(sim.ca_cert_pem().as_bytes())
                    .unwrap(),
            )
            .unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream.write_all(request).unwrap();
        read_all(&mut stream, &mut out);
    } else {
        let mut tcp = tcp;
        tcp.write_all(request).unwrap();
        read_all(&mut tcp, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends raw bytes over plain TCP, whatever the simulator speaks.
pub fn raw_tcp(cluster: &ClusterHandle, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(cluster.addr()).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let _ = tcp.write_all(request);
    let mut out = Vec::new();
    read_all(&mut tcp, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn read_all<R: Read>(r: &mut R, out: &mut Vec<u8>) {
    let mut chunk = [0u8; 16384];
    loop {
        match r.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The 604 statistics keys read off a real OneFS 9.11 cluster (a copy of the
/// project's reference data, in `onefs-sim/catalogs/`).
pub fn reference_catalog() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalogs/onefs-9.11-keys.json")
}

/// The gostats compatibility contract (a copy in `docs/`).
pub fn compat_spec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/gostats-compat.md")
}

/// Every key of the example stat groups.
pub fn example_keys() -> Vec<&'static str> {
    onefs_sim::EXAMPLE_STAT_GROUPS
        .iter()
        .flat_map(|(_, keys)| keys.iter().copied())
        .collect()
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
