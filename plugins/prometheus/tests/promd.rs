//! A real Prometheus for the tests: Debian's `prometheus` (2.42, installed by
//! `.ci/run`) started as a child process on a free loopback port with a config
//! and a data folder in a temporary folder, queried through its HTTP API and
//! killed when dropped. (The host's tests have their own, bound to idic's
//! collector; this one needs nothing but the plugin.)

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::free_port;

/// A running Prometheus server; killed on drop.
pub struct Promd {
    child: Child,
    port: u16,
    log: PathBuf,
    agent: ureq::Agent,
    _dir: tempfile::TempDir,
}

impl Promd {
    /// Starts `prometheus` with `scrape_configs` (YAML, the list under
    /// `scrape_configs:`) and no global settings (every default, the 10 s
    /// scrape timeout included), and waits until `/-/ready` answers 200. Fails,
    /// never skips, when it is not installed.
    pub fn start(scrape_configs: &str) -> Promd {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, format!("scrape_configs:\n{scrape_configs}")).unwrap();
        let log = dir.path().join("prometheus.log");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `prometheus` ({e}): this test needs a real Prometheus; \
                     run `bash .ci/run` (it installs Debian's prometheus package) or \
                     `apt-get install prometheus`"
                )
            });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        let mut p = Promd {
            child,
            port,
            log,
            agent,
            _dir: dir,
        };
        p.wait(Duration::from_secs(20), "prometheus /-/ready", |p| {
            p.get("/-/ready") == Some(200)
        });
        p
    }

    fn get(&self, path: &str) -> Option<u16> {
        let res = self
            .agent
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .call()
            .ok()?;
        Some(res.status().as_u16())
    }

    /// The `data.result` of an instant query (`/api/v1/query`).
    pub fn query(&self, promql: &str) -> Vec<Value> {
        let mut res = self
            .agent
            .get(format!("http://127.0.0.1:{}/api/v1/query", self.port))
            .query("query", promql)
            .call()
            .expect("prometheus answers queries");
        let body = res
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .expect("body");
        let body: Value = serde_json::from_str(&body).expect("query answer is JSON");
        assert_eq!(body["status"], "success", "query {promql}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The single value of an instant query that yields one series, if any.
    pub fn scalar(&self, promql: &str) -> Option<f64> {
        let result = self.query(promql);
        let v = result.first()?["value"][1].as_str()?.parse().ok();
        v
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
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; prometheus log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
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
