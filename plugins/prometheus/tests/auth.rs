//! Basic auth on `/metrics`: a 401 with a `WWW-Authenticate` challenge unless the
//! configured credentials come; the landing page stays open.

use idic_plugin_api::{ErrorKind, Plugin, Sink};
use prometheus::Prometheus;

use crate::support::*;

const SECTION: &str = "authenticated = true\nusername = \"prom\"\npassword = \"s3cr:et\"\n";

/// `Authorization: Basic base64(user:pass)`, for the few pairs the tests use.
fn basic(user_pass: &str) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = user_pass.as_bytes();
    let mut out = String::from("Authorization: Basic ");
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn open(section: &str) -> prometheus::PrometheusSink {
    let mut sink = Prometheus::default()
        .open(&ctx("c1", section, ANY_PORT, vec![]))
        .unwrap();
    sink.write(&[cpu_idle("c1", 1_700_000_000, 1.0)]).unwrap();
    sink
}

#[test]
fn right_credentials_get_the_metrics() {
    let sink = open(SECTION);
    let a = request(
        sink.local_addr().port(),
        "GET",
        "/metrics",
        &[&basic("prom:s3cr:et")],
    );
    assert_eq!(a.status, 200);
    assert!(
        a.body.contains("isilon_stat_cluster_cpu_idle_avg"),
        "{}",
        a.body
    );
}

#[test]
fn wrong_or_missing_credentials_get_401_with_a_challenge() {
    let sink = open(SECTION);
    let port = sink.local_addr().port();
    let wrong_password = basic("prom:s3cr:eT");
    let wrong_user = basic("Prom:s3cr:et");
    let no_colon = basic("proms3cr:et").replace("Basic", "Bearer");
    for headers in [
        vec![],
        vec![wrong_password.as_str()],
        vec![wrong_user.as_str()],
        vec![no_colon.as_str()],
        vec!["Authorization: Basic !!!"],
    ] {
        let a = request(port, "GET", "/metrics", &headers);
        assert_eq!(a.status, 401, "{headers:?}");
        assert_eq!(
            a.header("www-authenticate"),
            Some("Basic realm=\"idic\", charset=\"UTF-8\""),
            "{headers:?}"
        );
        assert!(!a.body.contains("isilon_stat"), "{}", a.body);
    }
    assert_eq!(get(port, "/").status, 200);
}

#[test]
fn the_password_can_come_from_the_environment() {
    std::env::set_var("IDIC_TEST_PROM_PASSWORD", "from-env");
    let sink = open(
        "authenticated = true\nusername = \"prom\"\npassword = \"$env:IDIC_TEST_PROM_PASSWORD\"\n",
    );
    let port = sink.local_addr().port();
    assert_eq!(
        request(port, "GET", "/metrics", &[&basic("prom:from-env")]).status,
        200
    );
    let literal = basic("prom:$env:IDIC_TEST_PROM_PASSWORD");
    assert_eq!(request(port, "GET", "/metrics", &[&literal]).status, 401);
}

#[test]
fn an_unset_password_variable_is_a_config_error_without_the_secret() {
    let err = Prometheus::default()
        .open(&ctx(
            "c1",
            "authenticated = true\nusername = \"prom\"\npassword = \"$env:IDIC_TEST_UNSET_VARIABLE\"\n",
            ANY_PORT,
            vec![],
        ))
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(
        err.message
            .starts_with("cluster c1: [prometheus] password: ")
            && err.message.contains("IDIC_TEST_UNSET_VARIABLE"),
        "{}",
        err.message
    );
}

#[test]
fn credentials_are_ignored_unless_authenticated() {
    let sink = open("authenticated = false\nusername = \"prom\"\npassword = \"p\"\n");
    assert_eq!(get(sink.local_addr().port(), "/metrics").status, 200);
}
