//! Fault injection (library API and `/sim` control endpoint), counters and request log.

use std::time::{Duration, Instant};

use onefs_sim::{
    ClusterSpec, FaultSettings, Malformed, SimConfig, HUGE_BODY_BYTES, OVERSIZED_BODY_BYTES,
    SLOW_BODY_PACE,
};
use serde_json::json;

use crate::util::{
    agent, agent_with_timeout, basic_get, current_path, get, login, post, start, start_one,
    try_basic_get, BASIC_AUTH,
};

const CONFIG: &str = "/platform/1/cluster/config";

#[test]
fn latency_delays_answers() {
    let sim = start_one(ClusterSpec::new("Slow"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    assert_eq!(basic_get(&agent, c, CONFIG).status, 200);
    c.faults().set_latency(Duration::from_millis(400));
    let started = Instant::now();
    assert_eq!(basic_get(&agent, c, CONFIG).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
    let log = c.request_log();
    assert!(log.last().unwrap().elapsed >= Duration::from_millis(400));
}

#[test]
fn error_rate_answers_500_with_errors_body_or_503_html() {
    let sim = start_one(ClusterSpec::new("Failing"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    c.faults().set_error_rate(1.0, 500);
    let r = basic_get(&agent, c, CONFIG);
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["errors"][0]["code"], "AEC_EXCEPTION");
    c.faults().set_error_rate(1.0, 503);
    let r = basic_get(&agent, c, CONFIG);
    assert_eq!(r.status, 503);
    assert!(r.body.contains("<html>"));
    c.faults().set_error_rate(0.5, 503);
    let statuses: Vec<u16> = (0..60)
        .map(|_| basic_get(&agent, c, CONFIG).status)
        .collect();
    let failed = statuses.iter().filter(|&&s| s == 503).count();
    assert!((10..=50).contains(&failed), "{failed} of 60");
    assert_eq!(c.counters().injected_errors as usize, failed + 2);
}

#[test]
fn dropped_connections_fail_requests() {
    let sim = start_one(ClusterSpec::new("Dropping"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    c.faults().set_drop_connections(1.0);
    let r = try_basic_get(&agent, c, CONFIG);
    assert!(r.is_err(), "{r:?}");
    assert!(c.counters().dropped >= 1);
    assert_eq!(c.request_log().last().unwrap().status, 0);
    c.faults().set_drop_connections(0.0);
    assert_eq!(basic_get(&agent, c, CONFIG).status, 200);
}

#[test]
fn cluster_goes_down_and_comes_back_on_the_same_port() {
    let sim = start(SimConfig::with_clusters([
        ClusterSpec::new("Flaky"),
        ClusterSpec::new("Steady"),
    ]));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let s = login(&agent, c);
    assert_eq!(s.get(&agent, c, CONFIG).status, 200);
    c.faults().set_down(true);
    assert!(c.faults().is_down());
    assert!(
        std::net::TcpStream::connect(c.addr()).is_err(),
        "connection refused while down"
    );
    assert_eq!(
        basic_get(&agent, &sim.clusters()[1], CONFIG).status,
        200,
        "other clusters stay up"
    );
    c.faults().set_down(false);
    assert_eq!(
        s.get(&agent, c, CONFIG).status,
        200,
        "sessions survive an outage"
    );
    assert_eq!(c.addr(), sim.clusters()[0].addr());
}

#[test]
fn control_endpoint_takes_a_cluster_down_for_a_while() {
    let sim = start(SimConfig::with_clusters([
        ClusterSpec::new("Flaky"),
        ClusterSpec::new("Steady"),
    ]));
    let (agent, flaky, steady) = (agent(&sim), &sim.clusters()[0], &sim.clusters()[1]);
    // Long enough that the refused connect below cannot race the timer; the
    // return is waited for, not slept for.
    let r = post(
        &agent,
        &format!("{}/sim/faults?cluster=Flaky", steady.url()),
        r#"{"down_for_ms": 3000}"#,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["down"], true);
    assert!(std::net::TcpStream::connect(flaky.addr()).is_err());
    let deadline = Instant::now() + Duration::from_secs(20);
    while flaky.faults().is_down() {
        assert!(
            Instant::now() < deadline,
            "still down 20 s after a 3 s outage"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(basic_get(&agent, flaky, CONFIG).status, 200);
}

#[test]
fn malformed_truncated_json_does_not_parse() {
    let sim = start_one(ClusterSpec::new("Garbled").with_faults(FaultSettings {
        malformed: Some(Malformed::TruncatedJson),
        ..FaultSettings::default()
    }));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let s = login(&agent, c);
    let r = s.get(
        &agent,
        c,
        &current_path(&["cluster.health", "node.load.1min"]),
    );
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with("{\"stats\":["));
    assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_err());
    assert_eq!(c.counters().malformed, 1);
}

#[test]
fn malformed_html_page_instead_of_json() {
    let sim = start_one(ClusterSpec::new("Garbled"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    c.faults().set_malformed(Some(Malformed::HtmlPage));
    let r = basic_get(&agent, c, CONFIG);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.body.starts_with("<html>"));
}

#[test]
fn malformed_huge_body() {
    let sim = start_one(ClusterSpec::new("Garbled"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    c.faults().set_malformed(Some(Malformed::HugeBody));
    let r = basic_get(&agent, c, &current_path(&["cluster.health"]));
    assert_eq!(r.status, 200);
    assert!(r.body.len() > HUGE_BODY_BYTES);
    c.faults().set_malformed(None);
    assert_eq!(basic_get(&agent, c, CONFIG).json()["name"], "Garbled");
}

#[test]
fn control_endpoint_sets_and_reports_faults() {
    let sim = start_one(ClusterSpec::new("Controlled"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let url = format!("{}/sim/faults", c.url());
    let body = json!({"latency_ms": 5, "error_rate": 0.25, "error_status": 503, "drop_rate": 0.1, "malformed": "html",
        "degraded_devid": 2, "key_errors": {"node.load.1min": 9}})
    .to_string();
    let r = post(&agent, &url, &body, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let f = get(&agent, &url, &[]).json();
    assert_eq!(f["latency_ms"], 5);
    assert_eq!(
        (f["error_rate"].as_f64(), f["error_status"].as_u64()),
        (Some(0.25), Some(503))
    );
    assert_eq!(f["malformed"], "html");
    assert_eq!(f["degraded_devid"], 2);
    assert_eq!(f["key_errors"]["node.load.1min"], 9);
    let settings = c.faults().settings();
    assert_eq!(settings.latency, Duration::from_millis(5));
    assert_eq!(c.faults().degraded(), Some(2));
    assert_eq!(
        post(&agent, &url, r#"{"malformed": "weird"}"#, &[]).status,
        400
    );
    assert_eq!(post(&agent, &url, "not json", &[]).status, 400);
    assert_eq!(post(&agent, &url, r#"{"clear": true}"#, &[]).status, 200);
    assert_eq!(c.faults().settings(), FaultSettings::default());
    assert!(c.faults().key_errors().is_empty());
}

#[test]
fn control_endpoint_expires_sessions() {
    let sim = start_one(ClusterSpec::new("Controlled"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let s = login(&agent, c);
    assert_eq!(
        post(
            &agent,
            &format!("{}/sim/faults", c.url()),
            r#"{"expire_sessions": true}"#,
            &[]
        )
        .status,
        200
    );
    assert_eq!(s.get(&agent, c, CONFIG).status, 401);
}

#[test]
fn counters_and_request_log_record_every_request() {
    let sim = start_one(ClusterSpec::new("Counted"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let s = login(&agent, c);
    s.get(&agent, c, CONFIG);
    s.get(&agent, c, CONFIG);
    get(&agent, &format!("{}{CONFIG}", c.url()), &[]);
    s.get(&agent, c, &current_path(&["cluster.health"]));
    let counters = c.counters();
    assert_eq!(counters.requests_to(CONFIG), 3);
    assert_eq!(counters.requests_to("/platform/1/statistics/current"), 1);
    assert_eq!(counters.requests_to("/session/1/session"), 1);
    assert_eq!(
        (counters.logins, counters.unauthorized, counters.status(200)),
        (1, 1, 3)
    );
    assert!(counters.connections >= 1);
    let log = c.request_log();
    assert_eq!(log.len(), 5);
    let last = log.last().unwrap();
    assert_eq!(last.path(), "/platform/1/statistics/current");
    assert!(last.target.contains("key=cluster.health"));
    assert_eq!(last.header("cookie"), Some("isisessid=<redacted>"));
    assert_eq!(last.header("x-csrf-token"), Some("<redacted>"));
    assert_eq!(last.header("user-agent"), Some("onefs-sim-tests/1.0"));
    let over_http = get(&agent, &format!("{}/sim/counters", c.url()), &[]).json();
    assert_eq!(over_http["requests"][CONFIG], 3);
    let logged = get(&agent, &format!("{}/sim/log?limit=2", c.url()), &[]).json();
    assert_eq!(logged["requests"].as_array().unwrap().len(), 2);
    assert_eq!(
        c.counters().total_requests(),
        5,
        "control requests are not counted"
    );
    c.reset_counters();
    assert_eq!(c.counters().total_requests(), 0);
    assert!(c.request_log().is_empty());
}

#[test]
fn wrong_types_replace_every_value_by_a_string_list_or_object() {
    let sim = start_one(ClusterSpec::new("Typo"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    c.faults().set_malformed(Some(Malformed::WrongTypes));
    let keys = ["cluster.health", "node.load.1min", "cluster.cpu.idle.avg"];
    let r = basic_get(&agent, c, &format!("{}&devid=all", current_path(&keys)));
    assert_eq!(r.status, 200);
    let stats = r.json()["stats"].as_array().unwrap().clone();
    assert!(stats.len() >= 3);
    for entry in &stats {
        let v = &entry["value"];
        let strings_only = match v {
            serde_json::Value::String(_) => true,
            serde_json::Value::Array(a) => a.iter().all(|x| x.is_string()),
            serde_json::Value::Object(o) => o.values().all(|x| x.is_string()),
            _ => false,
        };
        assert!(strings_only, "{entry}");
    }
}

#[test]
fn random_bytes_are_not_json() {
    let sim = start_one(ClusterSpec::new("Noise"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    c.faults().set_malformed(Some(Malformed::RandomBytes));
    let response = basic_response(&agent, c, &current_path(&["cluster.health"]));
    let body = response.into_body().read_to_vec().unwrap();
    assert!(body.len() >= 64);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
}

#[test]
fn a_malformed_fault_for_two_answers_ends_by_itself() {
    let sim = start_one(ClusterSpec::new("Brief"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let r = post(
        &agent,
        &format!("{}/sim/faults", c.url()),
        r#"{"malformed": "html", "malformed_for": 2}"#,
        &[],
    );
    assert_eq!(r.json()["malformed_left"], 2, "{}", r.body);
    for _ in 0..2 {
        assert!(basic_get(&agent, c, CONFIG).body.starts_with("<html>"));
    }
    assert_eq!(basic_get(&agent, c, CONFIG).json()["name"], "Brief");
    assert_eq!(c.counters().malformed, 2);
}

#[test]
fn an_oversized_body_has_no_length_and_goes_on_past_any_limit() {
    let sim = start_one(ClusterSpec::new("Flood"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    c.faults().set_malformed(Some(Malformed::Oversized));
    let response = basic_response(&agent, c, &current_path(&["cluster.health"]));
    assert!(response.headers().get("content-length").is_none());
    let read = response
        .into_body()
        .with_config()
        .limit(4 << 20)
        .read_to_vec();
    assert!(read.is_err(), "more than 4 MiB without an end");
    const { assert!(OVERSIZED_BODY_BYTES > 64 << 20) };
}

#[test]
fn a_slow_body_is_not_done_before_a_short_timeout() {
    let sim = start_one(ClusterSpec::new("Trickle"));
    let c = &sim.clusters()[0];
    c.faults().set_malformed(Some(Malformed::SlowBody));
    let impatient = agent_with_timeout(&sim, Duration::from_secs(2));
    let started = Instant::now();
    let r = try_basic_get(&impatient, c, CONFIG);
    assert!(r.is_err(), "a body of hundreds of bytes at 1 byte/s: {r:?}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(SLOW_BODY_PACE.as_secs() >= 1);
}

#[test]
fn a_reset_mid_body_fails_the_request_and_the_next_one_works() {
    let sim = start_one(ClusterSpec::new("Cut"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    c.faults().set_malformed_for(Malformed::ResetMidBody, 1);
    let r = try_basic_get(&agent, c, CONFIG);
    assert!(r.is_err(), "{r:?}");
    assert_eq!(basic_get(&agent, c, CONFIG).json()["name"], "Cut");
}

/// A GET with Basic credentials whose body is left unread.
fn basic_response(
    agent: &ureq::Agent,
    c: &onefs_sim::ClusterHandle,
    path: &str,
) -> ureq::http::Response<ureq::Body> {
    agent
        .get(format!("{}{path}", c.url()))
        .header(BASIC_AUTH.0, BASIC_AUTH.1)
        .call()
        .unwrap()
}
