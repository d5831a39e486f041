//! A real Prometheus for the tests: Debian's `prometheus` (2.42, installed by
//! `.ci/run`) started as a child process on a free loopback port, with a config
//! and a data folder in the test's temporary folder, queried through its HTTP API
//! and stopped when dropped. No system service is involved.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::Dir;

/// A running Prometheus server; killed on drop.
pub struct Promd {
    child: Child,
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
    agent: ureq::Agent,
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("local address")
        .port()
}

impl Promd {
    /// Starts `prometheus` with `scrape_configs` (YAML, the list under
    /// `scrape_configs:`), its data in `dir/prometheus-data`, and waits until
    /// `/-/ready` answers 200. Fails, never skips, when it is not installed.
    pub fn start(dir: &Dir, scrape_configs: &str) -> Promd {
        let config = dir.write(
            "prometheus.yml",
            &format!(
                "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 10s\nscrape_configs:\n{scrape_configs}"
            ),
        );
        let data = dir.join("prometheus-data");
        let log = dir.join("prometheus.log");
        let port = free_port();
        let log_file = std::fs::File::create(&log).expect("prometheus log file");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `prometheus` ({e}): these tests need a real Prometheus; \
                     run `bash .ci/run` (it installs Debian's prometheus package) or \
                     `apt-get install prometheus`"
                )
            });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .new_agent();
        let mut p = Promd {
            child,
            port,
            log,
            agent,
        };
        p.wait(Duration::from_secs(20), "prometheus /-/ready", |p| {
            p.get("/-/ready").is_some_and(|(status, _)| status == 200)
        });
        p
    }

    /// `GET path` on the server: `(status, body)`, or `None` when unreachable.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut res = self
            .agent
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .call()
            .ok()?;
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().ok()?;
        Some((status, body))
    }

    /// The `data` of an instant query (`/api/v1/query`).
    pub fn query(&self, promql: &str) -> Value {
        let mut res = self
            .agent
            .get(format!("http://127.0.0.1:{}/api/v1/query", self.port))
            .query("query", promql)
            .call()
            .expect("prometheus answers queries");
        let body: Value = serde_json::from_str(&res.body_mut().read_to_string().expect("body"))
            .expect("query answer is JSON");
        assert_eq!(body["status"], "success", "query {promql}: {body}");
        body["data"].clone()
    }

    /// The active targets (`/api/v1/targets`).
    pub fn active_targets(&self) -> Vec<Value> {
        let (_, body) = self.get("/api/v1/targets?state=active").expect("targets");
        let body: Value = serde_json::from_str(&body).expect("targets answer is JSON");
        body["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Prometheus' own log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `pred(self)` holds; panics with Prometheus' log tail after
    /// `timeout`, or at once if Prometheus exited.
    pub fn wait(&mut self, timeout: Duration, what: &str, pred: impl Fn(&Promd) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(self) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "prometheus exited ({status}) while waiting for {what}; log:\n{}",
                    self.log_tail()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; prometheus log:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Promd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
