//! The `onefs-sim` binary.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::util::Reply;

const BIN: &str = env!("CARGO_BIN_EXE_onefs-sim");

/// Kills the child by PID if a test fails before it stops.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn listening_lines(child: &mut Child, n: usize) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines().take(n) {
        lines.push(line.unwrap());
    }
    lines
}

#[test]
fn binary_prints_listening_lines_writes_the_ca_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let child = Command::new(BIN)
        .args([
            "--clusters",
            "2",
            "--base-port",
            "0",
            "--nodes",
            "3",
            "--log-level",
            "warn",
            "--ca-cert-out",
        ])
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let lines = listening_lines(&mut guard.0, 2);
    assert!(
        lines[0].starts_with("listening: cluster SimCluster1 at https://127.0.0.1:"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("SimCluster2") && lines[1].ends_with("(3 nodes, OneFS 9.11.0.0)"),
        "{lines:?}"
    );
    let url = lines[0]
        .split(" at ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();

    let pem = std::fs::read(&ca).unwrap();
    let cert = ureq::tls::Certificate::from_pem(&pem).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .get(format!("{url}/platform/1/cluster/config"))
        .header("Authorization", "Basic c3RhdHNyZWFkZXI6czNrcmV0")
        .call()
        .unwrap();
    let reply = Reply {
        status: r.status().as_u16(),
        headers: Vec::new(),
        body: r.body_mut().read_to_string().unwrap(),
    };
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["name"], "SimCluster1");
    let localhost = url.replace("127.0.0.1", "localhost");
    assert_eq!(
        agent
            .get(format!("{localhost}/sim/health"))
            .call()
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    let pid = guard.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "onefs-sim did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn binary_serves_plain_http_with_explicit_clusters() {
    let child = Command::new(BIN)
        .args(["--http", "--cluster", "Alpha:0:2", "--log-level", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let lines = listening_lines(&mut guard.0, 1);
    assert!(
        lines[0].starts_with("listening: cluster Alpha at http://127.0.0.1:")
            && lines[0].contains("(2 nodes"),
        "{lines:?}"
    );
    let pid = guard.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    assert!(guard.0.wait().unwrap().success());
}

#[test]
fn binary_rejects_bad_arguments_with_exit_code_2() {
    let out = Command::new(BIN)
        .args(["--clusters", "many"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--clusters") && stderr.contains("--help"),
        "{stderr}"
    );
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--ca-cert-out"));
}

#[test]
fn binary_fails_when_a_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(BIN)
        .args(["--cluster", &format!("Busy:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cluster Busy"));
}
