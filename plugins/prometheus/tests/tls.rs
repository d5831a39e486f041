//! HTTPS with `tls_cert` / `tls_key`: a verified scrape, basic auth inside TLS,
//! refusal of plain HTTP, a stalled client not blocking others, and unreadable
//! files as configuration errors.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use idic_plugin_api::{ErrorKind, Plugin, Sink};
use prometheus::Prometheus;

use crate::support::*;

fn section(cert: &str, key: &str, extra: &str) -> String {
    format!("tls_cert = {cert:?}\ntls_key = {key:?}\n{extra}")
}

#[test]
fn metrics_are_served_over_verified_https() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = self_signed(dir.path());
    let mut sink = Prometheus::default()
        .open(&ctx("c1", &section(&cert, &key, ""), ANY_PORT, vec![]))
        .unwrap();
    sink.write(&[cpu_idle("c1", 1_700_000_000, 912.0)]).unwrap();
    let port = sink.local_addr().port();
    let agent = tls_agent(&pem);
    for _ in 0..3 {
        let mut res = agent
            .get(format!("https://localhost:{port}/metrics"))
            .call()
            .unwrap();
        assert_eq!(res.status(), 200);
        let body = res.body_mut().read_to_string().unwrap();
        assert!(
            body.contains("isilon_stat_cluster_cpu_idle_avg{cluster=\"c1\"} 912 1700000000000"),
            "{body}"
        );
    }
    let mut page = agent
        .get(format!("https://127.0.0.1:{port}/"))
        .call()
        .unwrap();
    assert!(page
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("/metrics"));
}

#[test]
fn basic_auth_works_inside_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = self_signed(dir.path());
    let extra = "authenticated = true\nusername = \"u\"\npassword = \"p\"\n";
    let sink = Prometheus::default()
        .open(&ctx("c1", &section(&cert, &key, extra), ANY_PORT, vec![]))
        .unwrap();
    let url = format!("https://localhost:{}/metrics", sink.local_addr().port());
    let agent = tls_agent(&pem);
    assert_eq!(agent.get(&url).call().unwrap().status(), 401);
    let ok = agent
        .get(&url)
        .header("Authorization", "Basic dTpw")
        .call()
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[test]
fn plain_http_to_the_https_port_gets_no_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = self_signed(dir.path());
    let mut sink = Prometheus::default()
        .open(&ctx("c1", &section(&cert, &key, ""), ANY_PORT, vec![]))
        .unwrap();
    sink.write(&[cpu_idle("c1", 1_700_000_000, 912.0)]).unwrap();
    let mut s = TcpStream::connect(local(sink.local_addr().port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("isilon_stat"));
}

#[test]
fn a_client_stalled_in_the_handshake_does_not_block_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = self_signed(dir.path());
    let sink = Prometheus::default()
        .open(&ctx("c1", &section(&cert, &key, ""), ANY_PORT, vec![]))
        .unwrap();
    let port = sink.local_addr().port();
    // Connects and says nothing (tiny_http's own TLS would wait for it forever
    // on its only accept thread).
    let silent: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(local(port)).unwrap())
        .collect();
    let res = tls_agent(&pem)
        .get(format!("https://localhost:{port}/metrics"))
        .call()
        .unwrap();
    assert_eq!(res.status(), 200);
    // Served while the silent clients still wait in their handshakes: it did
    // not wait for their handshake timeout.
    for mut s in silent {
        s.set_nonblocking(true).unwrap();
        let err = s.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    }
}

#[test]
fn unreadable_certificate_or_key_is_a_config_error_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = self_signed(dir.path());
    let missing = dir.path().join("nope.pem");
    let missing = missing.to_str().unwrap();
    let check = |section: &str, needle: &str| {
        let err = Prometheus::default()
            .open(&ctx("c1", section, ANY_PORT, vec![]))
            .err()
            .unwrap();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message.starts_with("cluster c1: [prometheus] "),
            "{}",
            err.message
        );
        assert!(
            err.message.contains(needle),
            "{} lacks {needle}",
            err.message
        );
    };
    check(
        &section(missing, &key, ""),
        &format!("tls_cert {missing}: cannot be read"),
    );
    check(
        &section(&cert, missing, ""),
        &format!("tls_key {missing}: cannot be read"),
    );
    check(&section(&key, &key, ""), "no PEM certificate");
    check(&section(&cert, &cert, ""), "no PEM private key");
}

#[test]
fn a_large_body_arrives_whole_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = self_signed(dir.path());
    let mut sink = Prometheus::default()
        .open(&ctx(
            "c1",
            &section(&cert, &key, ""),
            ANY_PORT,
            vec![stat("node.load.1min", "Load", 3600)],
        ))
        .unwrap();
    let tags: Vec<[(String, String); 3]> = (0..20_000)
        .map(|n| {
            [
                ("cluster".to_string(), "c1".to_string()),
                ("devid".to_string(), n.to_string()),
                ("node".to_string(), n.to_string()),
            ]
        })
        .collect();
    let borrowed: Vec<[(&str, &str); 3]> = tags
        .iter()
        .map(|t| {
            [
                (&*t[0].0, &*t[0].1),
                (&*t[1].0, &*t[1].1),
                (&*t[2].0, &*t[2].1),
            ]
        })
        .collect();
    let rows: Vec<RowSpec<'_>> = borrowed
        .iter()
        .map(|t| (&t[..], &[("value", 0.5)][..]))
        .collect();
    sink.write(&[point("node.load.1min", 1_700_000_000, &rows)])
        .unwrap();
    let agent = tls_agent(&pem);
    let url = format!("https://localhost:{}/metrics", sink.local_addr().port());
    for _ in 0..2 {
        let body = agent
            .get(&url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        assert_eq!(body.lines().filter(|l| !l.starts_with('#')).count(), 20_000);
        assert!(body.ends_with(" 0.5 1700000000000\n"));
    }
}
