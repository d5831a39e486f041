//! The real receivers of the tests, each a child process on a free loopback
//! port with its data in a temporary folder, killed when dropped: Debian's
//! `prometheus` (2.42, `--web.enable-remote-write-receiver`) and
//! `victoria-metrics` (1.79), both installed by `scripts/test-deps.sh`. Samples
//! are read back through each one's own API: Prometheus' `/api/v1/query` with a
//! range selector (raw samples), VictoriaMetrics' `/api/v1/export` after
//! `/internal/force_flush`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A series' labels (`__name__` included) and its samples (Unix ms, value).
pub type Series = (BTreeMap<String, String>, Vec<(i64, f64)>);

/// Which receiver.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Prometheus 2.42 with its remote-write receiver on.
    Prometheus,
    /// VictoriaMetrics single-node.
    Victoria,
}

/// A running receiver; killed on drop.
pub struct Receiver {
    kind: Kind,
    child: Child,
    scheme: &'static str,
    port: u16,
    log: PathBuf,
    agent: ureq::Agent,
    auth: Option<(String, String)>,
    dir: tempfile::TempDir,
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Kind {
    /// The executable.
    pub fn tool(self) -> &'static str {
        match self {
            Kind::Prometheus => "prometheus",
            Kind::Victoria => "victoria-metrics",
        }
    }
}

impl Receiver {
    /// Starts a plain-HTTP receiver without authentication.
    pub fn start(kind: Kind) -> Receiver {
        Receiver::start_with(kind, "", None, None)
    }

    /// Starts a receiver with `settings` (YAML appended to Prometheus'
    /// configuration; VictoriaMetrics' flags, separated by spaces),
    /// VictoriaMetrics' Basic auth `(user, password)` and TLS
    /// `(cert file, key file)` when given.
    pub fn start_with(
        kind: Kind,
        settings: &str,
        auth: Option<(&str, &str)>,
        tls: Option<(&str, &str)>,
    ) -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("receiver.log");
        let mut cmd = Command::new(kind.tool());
        match kind {
            Kind::Prometheus => {
                let config = dir.path().join("prometheus.yml");
                std::fs::write(&config, format!("scrape_configs: []\n{settings}")).unwrap();
                cmd.arg(format!("--config.file={}", config.display()))
                    .arg(format!(
                        "--storage.tsdb.path={}",
                        dir.path().join("data").display()
                    ))
                    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                    .arg("--web.enable-remote-write-receiver");
            }
            Kind::Victoria => {
                cmd.arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                    .arg(format!(
                        "-storageDataPath={}",
                        dir.path().join("data").display()
                    ))
                    .arg("-retentionPeriod=100y")
                    .args(settings.split_whitespace());
                if let Some((user, password)) = auth {
                    cmd.arg(format!("-httpAuth.username={user}"))
                        .arg(format!("-httpAuth.password={password}"));
                }
                if let Some((cert, key)) = tls {
                    cmd.arg("-tls")
                        .arg(format!("-tlsCertFile={cert}"))
                        .arg(format!("-tlsKeyFile={key}"));
                }
            }
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{}` ({e}): install it with `sh scripts/test-deps.sh`",
                    kind.tool()
                )
            });
        let tls_config = ureq::tls::TlsConfig::builder()
            .disable_verification(true)
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .tls_config(tls_config)
            .build()
            .new_agent();
        let r = Receiver {
            kind,
            child,
            scheme: if tls.is_some() { "https" } else { "http" },
            port,
            log,
            agent,
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
            dir,
        };
        let ready = match kind {
            Kind::Prometheus => "/-/ready",
            Kind::Victoria => "/health",
        };
        r.wait(Duration::from_secs(30), "readiness", || {
            r.get(ready).is_some_and(|(s, _)| s == 200)
        });
        r
    }

    /// The write endpoint.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}/api/v1/write", self.scheme, self.port)
    }

    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut req = self
            .agent
            .get(format!("{}://127.0.0.1:{}{path}", self.scheme, self.port));
        if let Some((u, p)) = &self.auth {
            use base64::Engine as _;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            req = req.header("Authorization", format!("Basic {basic}"));
        }
        let mut res = req.call().ok()?;
        let status = res.status().as_u16();
        let body = res
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .ok()?;
        Some((status, body))
    }

    /// Every stored sample of the series whose name matches `name_regex`.
    pub fn series(&self, name_regex: &str) -> Vec<Series> {
        let selector = format!("{{__name__=~\"{name_regex}\"}}");
        let mut out = Vec::new();
        match self.kind {
            Kind::Prometheus => {
                let q = format!("{selector}[3h]");
                let path = format!("/api/v1/query?query={}", encode(&q));
                let (_, body) = self.get(&path).expect("prometheus answers");
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["status"], "success", "{body}");
                for s in v["data"]["result"].as_array().unwrap() {
                    let samples = s["values"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| {
                            let ms = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                            (ms, p[1].as_str().unwrap().parse().unwrap())
                        })
                        .collect();
                    out.push((labels(&s["metric"]), samples));
                }
            }
            Kind::Victoria => {
                let (s, _) = self.get("/internal/force_flush").expect("force_flush");
                assert_eq!(s, 200);
                let path = format!("/api/v1/export?match[]={}", encode(&selector));
                let (_, body) = self.get(&path).expect("victoria answers");
                for line in body.lines().filter(|l| !l.trim().is_empty()) {
                    let s: Value = serde_json::from_str(line).unwrap();
                    let times = s["timestamps"].as_array().unwrap();
                    let values = s["values"].as_array().unwrap();
                    let samples = times
                        .iter()
                        .zip(values)
                        .map(|(t, v)| (t.as_i64().unwrap(), number(v)))
                        .collect();
                    out.push((labels(&s["metric"]), samples));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Waits until `pred` holds; panics with the receiver's log after
    /// `timeout`, or at once if it exited.
    pub fn wait(&self, timeout: Duration, what: &str, pred: impl Fn() -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if pred() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{:?}: timed out waiting for {what}; log:\n{}",
                self.kind,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_tail(&self) -> String {
        let mut text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text += &std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn labels(metric: &Value) -> BTreeMap<String, String> {
    metric
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

/// VictoriaMetrics exports numbers as JSON numbers, and NaN/Inf as strings.
fn number(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap()
}

/// Percent-encodes a query argument.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
