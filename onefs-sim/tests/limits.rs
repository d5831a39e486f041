//! Bad requests get the 4xx OneFS (Apache) gives, and never crash the simulator.

use onefs_sim::{ClusterSpec, Sim, MAX_TARGET};

use crate::util::{agent, basic_get, current_path, get, raw, raw_tcp, start_one};

const CONFIG: &str = "/platform/1/cluster/config";

/// A `/statistics/current` target of exactly `len` bytes.
fn target_of_len(len: usize) -> String {
    let mut t = current_path(&["cluster.health"]);
    t.push_str("&key=");
    let pad = len - t.len();
    t.push_str(&"x".repeat(pad));
    assert_eq!(t.len(), len);
    t
}

fn still_serves(sim: &Sim) {
    let agent = agent(sim);
    assert_eq!(
        basic_get(&agent, &sim.clusters()[0], CONFIG).status,
        200,
        "the simulator still answers"
    );
}

#[test]
fn long_request_target_gets_414() {
    let sim = start_one(ClusterSpec::new("Limits"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let r = basic_get(&agent, c, &target_of_len(MAX_TARGET + 1));
    assert_eq!(r.status, 414);
    assert!(r.body.contains("Request-URI Too Long"));
    assert_eq!(c.counters().uri_too_long, 1);
    assert_eq!(c.request_log().last().unwrap().target_len, MAX_TARGET + 1);
    still_serves(&sim);
}

#[test]
fn request_target_at_the_limit_is_served() {
    let sim = start_one(ClusterSpec::new("Limits"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let r = basic_get(&agent, c, &target_of_len(MAX_TARGET));
    assert_eq!(r.status, 200);
    assert!(r.json()["stats"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["key"] == "cluster.health"));
}

#[test]
fn enormous_request_line_gets_414_without_reading_it_all() {
    let sim = start_one(ClusterSpec::new("Limits"));
    let c = &sim.clusters()[0];
    let mut request = b"GET /".to_vec();
    request.extend(std::iter::repeat_n(b'a', 200_000));
    let answer = raw(&sim, c, &request);
    assert!(
        answer.starts_with("HTTP/1.1 414 "),
        "{}",
        &answer[..answer.len().min(200)]
    );
    still_serves(&sim);
}

#[test]
fn garbled_request_gets_400() {
    let sim = start_one(ClusterSpec::new("Limits"));
    let c = &sim.clusters()[0];
    for request in [
        &b"HELLO THERE\r\n\r\n"[..],
        b"GET /a b c HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
    ] {
        let answer = raw(&sim, c, request);
        assert!(answer.starts_with("HTTP/1.1 400 "), "{request:?}: {answer}");
    }
    still_serves(&sim);
}

#[test]
fn plain_http_on_the_https_port_gets_400() {
    let sim = start_one(ClusterSpec::new("Limits"));
    let answer = raw_tcp(&sim.clusters()[0], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 400 ") && answer.contains("plain HTTP"),
        "{answer}"
    );
    assert_eq!(sim.clusters()[0].counters().tls_failures, 1);
    still_serves(&sim);
}

#[test]
fn garbage_bytes_never_crash_the_simulator() {
    let sim = start_one(ClusterSpec::new("Limits"));
    let c = &sim.clusters()[0];
    let mut seed = 0x1234_5678_u64;
    for round in 0..20 {
        let bytes: Vec<u8> = (0..(round * 97 + 1))
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        raw_tcp(c, &bytes);
        let mut tls_garbage = b"GET /platform/1/statistics/current?key=".to_vec();
        tls_garbage.extend_from_slice(&bytes);
        tls_garbage.extend_from_slice(b"\r\n\r\n");
        raw(&sim, c, &tls_garbage);
    }
    let half_tls = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00];
    raw_tcp(c, &half_tls);
    still_serves(&sim);
}

#[test]
fn unknown_paths_and_methods_get_onefs_errors() {
    let sim = start_one(ClusterSpec::new("Limits"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let r = basic_get(&agent, c, "/platform/1/not/a/resource");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["errors"][0]["code"], "AEC_NOT_FOUND");
    assert_eq!(
        get(&agent, &format!("{}/index.html", c.url()), &[]).status,
        404
    );
    let r = agent
        .put(format!("{}{CONFIG}", c.url()))
        .header("Authorization", "Basic c3RhdHNyZWFkZXI6czNrcmV0")
        .send("{}")
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(
        basic_get(&agent, c, "/platform/1/statistics/summary/protocol").status,
        404,
        "summaries start at API version 3"
    );
}

#[test]
fn oversized_and_chunked_bodies() {
    let sim = start_one(ClusterSpec::new("Limits"));
    let c = &sim.clusters()[0];
    let big = raw(
        &sim,
        c,
        b"POST /session/1/session HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n",
    );
    assert!(big.starts_with("HTTP/1.1 413 "), "{big}");
    let body = r#"{"username":"statsreader","password":"s3kret","services":["platform"]}"#;
    let (a, b) = body.split_at(20);
    let chunked = format!(
        "POST /session/1/session HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let answer = raw(&sim, c, chunked.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
    still_serves(&sim);
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let sim = start_one(ClusterSpec::new("Limits"));
    let c = &sim.clusters()[0];
    let one = format!(
        "GET {CONFIG} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic c3RhdHNyZWFkZXI6czNrcmV0\r\n\r\n"
    );
    let last = format!("GET {CONFIG} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic c3RhdHNyZWFkZXI6czNrcmV0\r\nConnection: close\r\n\r\n");
    let pipelined = format!("{one}{one}{last}");
    let answer = raw(&sim, c, pipelined.as_bytes());
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 3);
    assert_eq!(c.counters().connections, 1);
}
