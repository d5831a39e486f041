//! Authentication as OneFS does it.

use std::time::Duration;

use onefs_sim::{ClusterSpec, SimConfig};

use crate::util::{agent, basic_get, get, login, login_as, start, start_one, Session};

const CONFIG: &str = "/platform/1/cluster/config";

#[test]
fn session_login_sets_csrf_cookie() {
    let sim = start_one(ClusterSpec::new("AuthCluster"));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    let r = login_as(&agent, cluster, "statsreader", "s3kret");
    assert_eq!(r.status, 201);
    let cookies = r.headers_named("set-cookie");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("isisessid=") && c.contains("HttpOnly") && c.contains("Secure")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("isicsrf=")),
        "{cookies:?}"
    );
    let body = r.json();
    assert_eq!(body["timeout_absolute"], 14400);
    assert_eq!(body["username"], "statsreader");
    assert_eq!(cluster.counters().logins, 1);
}

#[test]
fn session_timeout_absolute_reflects_config() {
    let config = SimConfig {
        session_timeout: Duration::from_secs(77),
        ..SimConfig::default()
    };
    let sim = start(config.cluster(ClusterSpec::new("Short")));
    let r = login_as(&agent(&sim), &sim.clusters()[0], "statsreader", "s3kret");
    assert_eq!(r.json()["timeout_absolute"], 77);
}

#[test]
fn wrong_credentials_login_is_401() {
    let sim = start_one(ClusterSpec::new("AuthCluster"));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    let r = login_as(&agent, cluster, "statsreader", "wrong");
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    assert_eq!(r.json()["errors"][0]["code"], "AEC_UNAUTHORIZED");
    let r = login_as(&agent, cluster, "nobody", "s3kret");
    assert_eq!(r.status, 401);
    let c = cluster.counters();
    assert_eq!((c.logins, c.failed_logins, c.unauthorized), (0, 2, 2));
}

#[test]
fn malformed_login_body_is_400() {
    let sim = start_one(ClusterSpec::new("AuthCluster"));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    let r = crate::util::post(
        &agent,
        &format!("{}/session/1/session", cluster.url()),
        "{not json",
        &[],
    );
    assert_eq!(r.status, 400);
    let r = crate::util::post(
        &agent,
        &format!("{}/session/1/session", cluster.url()),
        "{\"username\":\"x\"}",
        &[],
    );
    assert_eq!(r.status, 400);
}

#[test]
fn session_requests_need_csrf_token_and_referer() {
    let sim = start_one(ClusterSpec::new("AuthCluster"));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    let s = login(&agent, cluster);
    let csrf = s.csrf.clone().expect("csrf cookie");
    let url = format!("{}{CONFIG}", cluster.url());
    let cookie_only = get(&agent, &url, &[("Cookie", &s.cookie)]);
    assert_eq!(cookie_only.status, 401);
    let no_referer = get(
        &agent,
        &url,
        &[("Cookie", &s.cookie), ("X-CSRF-Token", &csrf)],
    );
    assert_eq!(no_referer.status, 401);
    let wrong_token = get(
        &agent,
        &url,
        &[
            ("Cookie", &s.cookie),
            ("X-CSRF-Token", "nope"),
            ("Referer", &s.referer),
        ],
    );
    assert_eq!(wrong_token.status, 401);
    let wrong_host = get(
        &agent,
        &url,
        &[
            ("Cookie", &s.cookie),
            ("X-CSRF-Token", &csrf),
            ("Referer", "https://elsewhere:8080"),
        ],
    );
    assert_eq!(wrong_host.status, 401);
    let good = s.get(&agent, cluster, CONFIG);
    assert_eq!(good.status, 200, "{}", good.body);
    assert_eq!(cluster.counters().unauthorized, 4);
}

#[test]
fn session_without_csrf_on_older_releases() {
    let sim = start_one(
        ClusterSpec::new("OldRelease")
            .with_onefs_version("8.1.2.0")
            .without_csrf(),
    );
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    let s = login(&agent, cluster);
    assert!(s.csrf.is_none());
    assert_eq!(
        get(
            &agent,
            &format!("{}{CONFIG}", cluster.url()),
            &[("Cookie", &s.cookie)]
        )
        .status,
        200
    );
}

#[test]
fn session_expires_after_timeout() {
    let config = SimConfig {
        session_timeout: Duration::from_secs(1),
        ..SimConfig::default()
    };
    let sim = start(config.cluster(ClusterSpec::new("Expiring")));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    let s = login(&agent, cluster);
    assert_eq!(s.get(&agent, cluster, CONFIG).status, 200);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(s.get(&agent, cluster, CONFIG).status, 401);
    let again = login(&agent, cluster);
    assert_eq!(again.get(&agent, cluster, CONFIG).status, 200);
}

#[test]
fn session_expires_after_inactivity() {
    let config = SimConfig {
        session_idle_timeout: Duration::from_millis(1500),
        ..SimConfig::default()
    };
    let sim = start(config.cluster(ClusterSpec::new("Idle")));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    let s = login(&agent, cluster);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(s.get(&agent, cluster, CONFIG).status, 200);
    }
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(s.get(&agent, cluster, CONFIG).status, 401);
}

#[test]
fn expire_sessions_fault_gives_401() {
    let sim = start_one(ClusterSpec::new("AuthCluster"));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    let s = login(&agent, cluster);
    assert_eq!(s.get(&agent, cluster, CONFIG).status, 200);
    cluster.faults().expire_sessions();
    assert_eq!(s.get(&agent, cluster, CONFIG).status, 401);
    assert_eq!(
        login(&agent, cluster).get(&agent, cluster, CONFIG).status,
        200
    );
}

#[test]
fn logout_ends_the_session() {
    let sim = start_one(ClusterSpec::new("AuthCluster"));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    let s = login(&agent, cluster);
    let r = agent
        .delete(format!("{}/session/1/session", cluster.url()))
        .header("Cookie", &s.cookie)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(s.get(&agent, cluster, CONFIG).status, 401);
}

#[test]
fn basic_auth_is_accepted_and_wrong_password_is_401() {
    let sim = start_one(ClusterSpec::new("BasicCluster"));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    assert_eq!(basic_get(&agent, cluster, CONFIG).status, 200);
    let wrong = get(
        &agent,
        &format!("{}{CONFIG}", cluster.url()),
        &[("Authorization", "Basic c3RhdHNyZWFkZXI6d3Jvbmc=")],
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["errors"][0]["code"], "AEC_UNAUTHORIZED");
}

#[test]
fn configured_users_replace_the_default() {
    let config = SimConfig {
        users: vec![("monitor".into(), "pw".into())],
        ..SimConfig::default()
    };
    let sim = start(config.cluster(ClusterSpec::new("Users")));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    assert_eq!(
        login_as(&agent, cluster, "statsreader", "s3kret").status,
        401
    );
    assert_eq!(login_as(&agent, cluster, "monitor", "pw").status, 201);
}

#[test]
fn no_credentials_is_401_on_every_platform_path() {
    let sim = start_one(ClusterSpec::new("AuthCluster"));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    for path in [
        CONFIG,
        "/platform/1/statistics/current?key=cluster.health",
        "/platform/1/no/such/thing",
        "/platform/3/statistics/summary/drive",
    ] {
        let r = get(&agent, &format!("{}{path}", cluster.url()), &[]);
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json()["errors"][0]["code"], "AEC_UNAUTHORIZED");
    }
    let bogus = Session {
        cookie: "isisessid=deadbeef".into(),
        csrf: Some("x".into()),
        referer: cluster.url(),
    };
    assert_eq!(bogus.get(&agent, cluster, CONFIG).status, 401);
}
