//! A real InfluxDB 1.x for the tests: `influxd` (Debian's package, installed by
//! `.ci/run`) started as a child process on free loopback ports with all its data
//! in a temporary folder, never as a system service; stopped on drop.
//!
//! Talks HTTP/1.0 over a plain `TcpStream` (the answer then ends when the
//! connection closes, never chunked) so that it needs nothing but `std`,
//! `serde_json` and `tempfile`: the influxdb plugin's own tests include this file
//! too.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running (or stopped) `influxd` with its own data folder.
pub struct Influxd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    config: PathBuf,
    /// The HTTP port on 127.0.0.1.
    pub port: u16,
    /// The admin user and password, when authentication is enabled.
    auth: Option<(String, String)>,
}

impl Influxd {
    /// Starts `influxd` on free loopback ports and waits until `/ping` answers
    /// 204. Panics, saying how to install it, when `influxd` is missing.
    pub fn start() -> Influxd {
        Influxd::launch(None)
    }

    /// Like [`Influxd::start`], with authentication enabled and one admin user.
    pub fn start_with_auth(user: &str, password: &str) -> Influxd {
        let mut server = Influxd::launch(Some((user.to_string(), password.to_string())));
        // With no user yet, InfluxDB accepts this one statement unauthenticated.
        let auth = server.auth.take();
        let (user, password) = auth.clone().expect("credentials");
        server.query(
            "",
            &format!(
                "CREATE USER \"{user}\" WITH PASSWORD '{}' WITH ALL PRIVILEGES",
                password.replace('\'', "\\'")
            ),
        );
        server.auth = auth;
        server
    }

    /// Starts `influxd`, with authentication enabled when `auth` is set.
    fn launch(auth: Option<(String, String)>) -> Influxd {
        let found = Command::new("influxd")
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(
            found.is_ok_and(|s| s.success()),
            "influxd (InfluxDB 1.x) is not installed: run .ci/run, or apt-get install -y influxdb, \
             then run the tests again (they start influxd themselves; no service is needed)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("influxdb.conf");
        let mut server = Influxd {
            child: None,
            dir,
            config,
            port: 0,
            auth,
        };
        // A port that was free a moment ago may be taken by the time influxd
        // binds it: then influxd exits, and another pair of ports is tried.
        for attempt in 1..=3 {
            server.port = free_port();
            server.write_config(free_port());
            match server.run() {
                Ok(()) => return server,
                Err(e) if attempt < 3 => eprintln!("{e}; trying other ports"),
                Err(e) => panic!("{e}"),
            }
        }
        unreachable!("the last attempt panics")
    }

    /// Writes the config: HTTP on `self.port`, RPC on `rpc`, data in the temp dir.
    fn write_config(&self, rpc: u16) {
        let root = self.dir.path().display().to_string();
        std::fs::write(
            &self.config,
            format!(
                "reporting-disabled = true\n\
                 bind-address = \"127.0.0.1:{rpc}\"\n\
                 [meta]\n  dir = \"{root}/meta\"\n\
                 [data]\n  dir = \"{root}/data\"\n  wal-dir = \"{root}/wal\"\n  query-log-enabled = false\n\
                 [monitor]\n  store-enabled = false\n\
                 [http]\n  bind-address = \"127.0.0.1:{}\"\n  log-enabled = false\n  auth-enabled = {}\n\
                 [logging]\n  level = \"warn\"\n\
                 [continuous_queries]\n  enabled = false\n",
                self.port,
                self.auth.is_some()
            ),
        )
        .expect("write influxd config");
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s); its data stays.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the stopped server again, on the same port with the same data.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "influxd is already running");
        if let Err(e) = self.run() {
            panic!("{e}");
        }
    }

    /// `CREATE DATABASE "<name>"`.
    pub fn create_database(&self, name: &str) {
        self.query("", &format!("CREATE DATABASE \"{name}\""));
    }

    /// Writes line protocol as a gostats-era client would (`precision=s`);
    /// returns the status and body.
    pub fn write(&self, db: &str, lines: &str) -> (u16, String) {
        let path = format!("/write?db={}&precision=s{}", encode(db), self.credentials());
        http(self.port, "POST", &path, "text/plain", lines.as_bytes())
    }

    /// Runs an InfluxQL statement (`epoch=s`: times as Unix seconds) and returns
    /// its first result; panics with InfluxDB's message when it failed.
    pub fn query(&self, db: &str, q: &str) -> Value {
        let body = format!("q={}", encode(q));
        let path = format!("/query?db={}&epoch=s{}", encode(db), self.credentials());
        let (status, text) = http(
            self.port,
            "POST",
            &path,
            "application/x-www-form-urlencoded",
            body.as_bytes(),
        );
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("query {q:?}: HTTP {status}, not JSON ({e}): {text}"));
        let result = v["results"][0].clone();
        assert!(
            status == 200 && result.get("error").is_none() && v.get("error").is_none(),
            "query {q:?} failed: HTTP {status}: {text}"
        );
        result
    }

    /// The series of a query's first result (empty when there are none).
    pub fn series(&self, db: &str, q: &str) -> Vec<Value> {
        self.query(db, q)["series"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The rows of a query's first series (empty when there is none).
    pub fn rows(&self, db: &str, q: &str) -> Vec<Vec<Value>> {
        self.series(db, q)
            .first()
            .and_then(|s| s["values"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// `&u=...&p=...` when authentication is enabled.
    fn credentials(&self) -> String {
        match &self.auth {
            Some((u, p)) => format!("&u={}&p={}", encode(u), encode(p)),
            None => String::new(),
        }
    }

    /// What influxd printed, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("influxd.log")).unwrap_or_default()
    }

    /// Starts the child and waits for `/ping` to answer 204 while it runs.
    fn run(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.path().join("influxd.log")).expect("log file");
        let child = Command::new("influxd")
            .arg("run")
            .arg("-config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("influxd starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = try_http(self.port, "GET", "/ping", "", b"").is_some_and(|(s, _)| s == 204);
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!(
                    "influxd exited ({status}) at start on port {}:\n{}",
                    self.port,
                    self.log()
                ));
            }
            if up {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "influxd did not answer /ping within 20 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A loopback port that was free a moment ago, never the same twice in this
/// process (so that two tests never start servers on one port).
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind a free port")
            .port();
        if GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// One HTTP/1.0 request to 127.0.0.1:`port`; panics when it cannot be made.
pub fn http(port: u16, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    try_http(port, method, path, content_type, body)
        .unwrap_or_else(|| panic!("{method} {path} on 127.0.0.1:{port} failed"))
}

/// One HTTP/1.0 request; `None` when the connection fails.
fn try_http(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// Percent-encodes a query-string or form value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
