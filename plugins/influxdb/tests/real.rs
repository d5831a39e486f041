//! The plugin against a real InfluxDB 1.x (`influxd`, started by the tests on a
//! free loopback port with a temporary data folder): opened as the host opens it
//! (a hand-built `OpenContext`), points written through it, read back through
//! InfluxDB's own `/query` API.
//!
//! `influxd` must be installed (`.ci/run` does it); a missing one fails the tests
//! with a message saying so.

#[path = "../../../host/tests/influxd.rs"]
mod influxd;
#[path = "../../../host/tests/services.rs"]
mod services;

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use idic_plugin_api::{
    testing, ErrorKind, Field, OpenContext, Plugin, Point, Row, Sink, Tag, Value,
};
use influxd::Influxd;
use influxdb::{Influxdb, InfluxdbSink};
use serde_json::json;

const T0: i64 = 1_700_000_000;

fn ctx(cluster: &str, section: &str) -> OpenContext {
    testing::open_context("influxdb", cluster, section)
}

fn section(server: &Influxd, db: &str, extra: &str) -> String {
    format!(
        "host = \"127.0.0.1\"\nport = \"{}\"\ndatabase = \"{db}\"\nauthenticated = false\n{extra}\n",
        server.port
    )
}

fn open(cluster: &str, section: &str) -> InfluxdbSink {
    capture_logs();
    Influxdb::default()
        .open(&ctx(cluster, section))
        .unwrap_or_else(|e| panic!("open: {e}"))
}

fn row(tags: &[(&str, &str)], fields: Vec<(&str, Value)>) -> Row {
    Row {
        tags: tags.iter().map(|(k, v)| Tag::new(k, v)).collect(),
        fields: fields.into_iter().map(|(k, v)| Field::new(k, v)).collect(),
    }
}

fn point(measurement: &str, time: i64, rows: Vec<Row>) -> Point {
    Point {
        measurement: measurement.into(),
        time,
        rows: rows.into(),
    }
}

/// A double-quoted InfluxQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A single-quoted InfluxQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Every log line so far that mentions `needle`.
fn logged(needle: &str) -> Vec<String> {
    LOGS.get()
        .map(|l| {
            l.lock()
                .unwrap()
                .iter()
                .filter(|m| m.contains(needle))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

static LOGS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if let Some(logs) = LOGS.get() {
            logs.lock()
                .unwrap()
                .push(format!("{} {}", record.level(), record.args()));
        }
    }
    fn flush(&self) {}
}

/// Records the plugin's log lines (the host's logger stands in for this).
fn capture_logs() {
    if LOGS.set(Mutex::new(Vec::new())).is_ok() {
        let _ = log::set_logger(&Capture);
        log::set_max_level(log::LevelFilter::Debug);
    }
}

#[test]
fn scalar_and_protocol_points_read_back_as_written() {
    if !services::available("influxd", "scalar_and_protocol_points_read_back_as_written") {
        return;
    }
    let server = Influxd::start();
    server.create_database("stats");
    let mut sink = open("c1", &section(&server, "stats", ""));
    sink.write(&[
        point(
            "cluster.cpu.idle.avg",
            T0,
            vec![row(
                &[("cluster", "c1")],
                vec![("value", Value::Float(97.5))],
            )],
        ),
        point(
            "cluster.protostats.nfs",
            T0,
            vec![
                row(
                    &[
                        ("cluster", "c1"),
                        ("op_name", "read"),
                        ("class_name", "read"),
                    ],
                    vec![
                        ("op_count", Value::Float(12.0)),
                        ("time_avg", Value::Float(310.5)),
                    ],
                ),
                row(
                    &[
                        ("cluster", "c1"),
                        ("op_name", "write"),
                        ("class_name", "write"),
                    ],
                    vec![
                        ("op_count", Value::Float(7.0)),
                        ("time_avg", Value::Float(655.0)),
                    ],
                ),
            ],
        ),
    ])
    .unwrap();
    let rows = server.rows(
        "stats",
        "SELECT \"value\" FROM \"cluster.cpu.idle.avg\" WHERE \"cluster\" = 'c1'",
    );
    assert_eq!(rows, [vec![json!(T0), json!(97.5)]]);
    let series = server.series(
        "stats",
        "SELECT last(\"op_count\") FROM \"cluster.protostats.nfs\" GROUP BY \"op_name\", \"class_name\"",
    );
    let got: Vec<(String, f64)> = series
        .iter()
        .map(|s| {
            (
                s["tags"]["op_name"].as_str().unwrap().to_string(),
                s["values"][0][1].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("read".to_string(), 12.0), ("write".to_string(), 7.0)]
    );
}

#[test]
fn every_number_is_a_float_field() {
    if !services::available("influxd", "every_number_is_a_float_field") {
        return;
    }
    let server = Influxd::start();
    server.create_database("types");
    let mut sink = open("c-types", &section(&server, "types", ""));
    let values = [
        ("f", Value::Float(1.0)),
        ("i", Value::Int(-5)),
        ("u", Value::UInt(42)),
        ("big", Value::Float(1e21)),
        ("huge", Value::Float(f64::MAX)),
        ("tiny", Value::Float(5e-324)),
        ("neg_zero", Value::Float(-0.0)),
        ("third", Value::Float(1.0 / 3.0)),
    ];
    sink.write(&[point(
        "m",
        T0,
        vec![row(&[("cluster", "c1")], values.to_vec())],
    )])
    .unwrap();
    let keys = server.rows("types", "SHOW FIELD KEYS FROM \"m\"");
    assert_eq!(keys.len(), values.len());
    for k in &keys {
        assert_eq!(k[1], json!("float"), "{k:?}");
    }
    let series = server.series("types", "SELECT * FROM \"m\"");
    let columns = series[0]["columns"].as_array().unwrap();
    let first = series[0]["values"][0].as_array().unwrap();
    let read = |name: &str| -> f64 {
        let i = columns.iter().position(|c| c == name).unwrap();
        first[i].as_f64().unwrap()
    };
    assert_eq!(read("f"), 1.0);
    assert_eq!(read("i"), -5.0);
    assert_eq!(read("u"), 42.0);
    assert_eq!(read("big"), 1e21);
    assert_eq!(read("huge"), f64::MAX);
    assert_eq!(read("tiny"), 5e-324);
    assert_eq!(read("third"), 1.0 / 3.0);
}

#[test]
fn hostile_names_read_back_exactly() {
    if !services::available("influxd", "hostile_names_read_back_exactly") {
        return;
    }
    let server = Influxd::start();
    server.create_database("hostile");
    let mut sink = open("c-hostile", &section(&server, "hostile", ""));
    let measurement = "hostile m,x=y \"q\" \\back \\,one \\\\,two é 統計";
    let tag_key = "tag key,=\"q\"";
    let tag_value = "v a,l=u\"e\\x \\\"q é 統計";
    let backslashes = "a\\,b\\ c\\=d\\\\e\\\\,f";
    let field_key = "field key,=\"q\" \\\\,two é";
    let text = "line1\nline2 \"quoted\" \\back\\ , = é";
    sink.write(&[point(
        measurement,
        T0,
        vec![row(
            &[
                ("cluster", "c1"),
                (tag_key, tag_value),
                ("path", "C:\\dir\\"),
                ("empty", ""),
                ("two\nlines", "a\nb"),
                ("bs\\,key", backslashes),
            ],
            vec![
                (field_key, Value::Float(1.5)),
                ("odd\\,run", Value::Float(2.5)),
                ("q\\\"k", Value::Float(3.5)),
                ("s", Value::Str(text.into())),
                ("empty_string", Value::Str("".into())),
                ("flag", Value::Bool(true)),
                ("time", Value::Float(1.0)),
                ("nan", Value::Float(f64::NAN)),
            ],
        )],
    )])
    .unwrap_or_else(|e| panic!("{e}: {:?}", logged("cluster=c-hostile")));

    let names: Vec<String> = server
        .rows("hostile", "SHOW MEASUREMENTS")
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    // Backslashes right before an escaped character are dropped in a measurement
    // or field key, and kept at even length in tags (see `escape`).
    assert_eq!(names, ["hostile m,x=y \"q\" \\back ,one ,two é 統計"]);
    let m = ident(&names[0]);
    let tag_keys: Vec<String> = server
        .rows("hostile", &format!("SHOW TAG KEYS FROM {m}"))
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        tag_keys,
        ["bs,key", "cluster", "path", tag_key, "two lines"]
    );
    let value_of = |key: &str| -> String {
        let rows = server.rows(
            "hostile",
            &format!("SHOW TAG VALUES FROM {m} WITH KEY = {}", ident(key)),
        );
        rows[0][1].as_str().unwrap().to_string()
    };
    assert_eq!(value_of(tag_key), tag_value);
    assert_eq!(value_of("path"), "C:\\dir");
    assert_eq!(value_of("two lines"), "a b");
    assert_eq!(value_of("bs,key"), "a,b c=d\\\\e\\\\,f");

    let fields: Vec<(String, String)> = server
        .rows("hostile", &format!("SHOW FIELD KEYS FROM {m}"))
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut expected = vec![
        ("empty_string".to_string(), "string".to_string()),
        ("field key,=\"q\" ,two é".to_string(), "float".to_string()),
        ("flag".to_string(), "boolean".to_string()),
        ("odd,run".to_string(), "float".to_string()),
        ("q\"k".to_string(), "float".to_string()),
        ("s".to_string(), "string".to_string()),
    ];
    expected.sort();
    assert_eq!(fields, expected);
    let rows = server.rows(
        "hostile",
        &format!(
            "SELECT \"s\", {}, \"empty_string\" FROM {m} WHERE {} = {}",
            ident("field key,=\"q\" ,two é"),
            ident(tag_key),
            literal(tag_value)
        ),
    );
    assert_eq!(rows, [vec![json!(T0), json!(text), json!(1.5), json!("")]]);
}

#[test]
fn gostats_database_gets_no_field_type_conflict() {
    if !services::available("influxd", "gostats_database_gets_no_field_type_conflict") {
        return;
    }
    let server = Influxd::start();
    server.create_database("isi_data_insights");
    // How gostats writes (Go client, float64 fields: integral values without a
    // decimal point, still floats to InfluxDB).
    let (status, body) = server.write(
        "isi_data_insights",
        &format!(
            "cluster.cpu.idle.avg,cluster=c1 value=97 {}\n\
             node.load.1min,cluster=c1,devid=1,node=1 value=2 {}\n\
             cluster.protostats.nfs,class_name=read,cluster=c1,op_name=read op_count=12,op_rate=2.5,time_avg=310 {}\n",
            T0 - 60,
            T0 - 60,
            T0 - 60
        ),
    );
    assert_eq!(status, 204, "{body}");
    let mut sink = open("c-compat", &section(&server, "isi_data_insights", ""));
    sink.write(&[
        point(
            "cluster.cpu.idle.avg",
            T0,
            vec![row(
                &[("cluster", "c1")],
                vec![("value", Value::Float(96.0))],
            )],
        ),
        point(
            "node.load.1min",
            T0,
            vec![row(
                &[("cluster", "c1"), ("devid", "1"), ("node", "1")],
                vec![("value", Value::Int(3))],
            )],
        ),
        point(
            "cluster.protostats.nfs",
            T0,
            vec![row(
                &[
                    ("cluster", "c1"),
                    ("op_name", "read"),
                    ("class_name", "read"),
                ],
                vec![
                    ("op_count", Value::UInt(13)),
                    ("op_rate", Value::Float(2.0)),
                    ("time_avg", Value::Float(300.25)),
                ],
            )],
        ),
    ])
    .expect("no field type conflict");
    for m in [
        "cluster.cpu.idle.avg",
        "node.load.1min",
        "cluster.protostats.nfs",
    ] {
        let rows = server.rows(
            "isi_data_insights",
            &format!("SELECT count(*) FROM {}", ident(m)),
        );
        let counts: Vec<i64> = rows[0][1..].iter().map(|v| v.as_i64().unwrap()).collect();
        assert!(counts.iter().all(|&c| c == 2), "{m}: {rows:?}");
    }
}

#[test]
fn refused_lines_are_permanent_logged_once_and_the_rest_is_stored() {
    if !services::available(
        "influxd",
        "refused_lines_are_permanent_logged_once_and_the_rest_is_stored",
    ) {
        return;
    }
    let server = Influxd::start();
    server.create_database("conflict");
    // A field that already exists as an integer: idic's floats conflict with it.
    let (status, body) = server.write(
        "conflict",
        &format!("int.m,cluster=c1 value=1i {}\n", T0 - 60),
    );
    assert_eq!(status, 204, "{body}");
    let mut sink = open("c-conflict", &section(&server, "conflict", ""));
    let batch = [
        point(
            "int.m",
            T0,
            vec![row(
                &[("cluster", "c1")],
                vec![("value", Value::Float(2.0))],
            )],
        ),
        point(
            "ok.m",
            T0,
            vec![row(
                &[("cluster", "c1")],
                vec![("value", Value::Float(3.0))],
            )],
        ),
    ];
    for _ in 0..3 {
        let err = sink.write(&batch).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Permanent, "{err}");
        assert!(
            err.message.contains("refused 1 of 2 lines of int.m"),
            "{err}"
        );
    }
    assert_eq!(
        server.rows("conflict", "SELECT \"value\" FROM \"ok.m\""),
        [vec![json!(T0), json!(3)]]
    );
    let reports = logged("cluster=c-conflict InfluxDB at");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("field type conflict"), "{reports:?}");
    assert!(reports[0].contains("int.m"), "{reports:?}");
}

#[test]
fn missing_database_is_a_configuration_error_with_the_create_command() {
    if !services::available(
        "influxd",
        "missing_database_is_a_configuration_error_with_the_create_command",
    ) {
        return;
    }
    let server = Influxd::start();
    let mut sink = open("c-nodb", &section(&server, "nodb", ""));
    let err = sink
        .write(&[point(
            "m",
            T0,
            vec![row(&[], vec![("v", Value::Float(1.0))])],
        )])
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
    let create = format!(
        "curl -XPOST '{}/query' --data-urlencode 'q=CREATE DATABASE \"nodb\"'",
        server.url()
    );
    assert!(err.message.contains("database \"nodb\" not found"), "{err}");
    assert!(err.message.contains(&create), "{err}");
    // The command in the message works.
    server.create_database("nodb");
    sink.write(&[point(
        "m",
        T0,
        vec![row(&[], vec![("v", Value::Float(1.0))])],
    )])
    .unwrap();
}

#[test]
fn big_batches_are_split_and_gzip_is_optional() {
    if !services::available("influxd", "big_batches_are_split_and_gzip_is_optional") {
        return;
    }
    let server = Influxd::start();
    server.create_database("split");
    let batch: Vec<Point> = (0..2000)
        .map(|i| {
            point(
                "node.disk.busy.avg",
                T0 + i / 40,
                vec![row(
                    &[("cluster", "c1"), ("devid", &(i % 40).to_string())],
                    vec![("value", Value::Float(i as f64 / 7.0))],
                )],
            )
        })
        .collect();
    for (gzip, db_cluster) in [(true, "gz"), (false, "plain")] {
        let mut sink = open(
            &format!("c-split-{db_cluster}"),
            &section(
                &server,
                "split",
                &format!("max_request_bytes = 4096\ngzip = {gzip}\n"),
            ),
        );
        sink.write(&batch).unwrap();
        let rows = server.rows(
            "split",
            "SELECT count(\"value\"), sum(\"value\") FROM \"node.disk.busy.avg\"",
        );
        assert_eq!(rows[0][1], json!(2000), "gzip = {gzip}");
        let sum: f64 = (0..2000).map(|i| i as f64 / 7.0).sum();
        assert!((rows[0][2].as_f64().unwrap() - sum).abs() < 1e-6);
    }
    let split = logged("cluster=c-split-gz stored 2000 of 2000 lines in");
    assert_eq!(split.len(), 1, "{split:?}");
    let requests: usize = split[0]
        .rsplit("lines in ")
        .next()
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(requests >= 20, "{split:?}");
}

#[test]
fn authentication_uses_env_secrets_and_names_bad_credentials() {
    if !services::available(
        "influxd",
        "authentication_uses_env_secrets_and_names_bad_credentials",
    ) {
        return;
    }
    let server = Influxd::start_with_auth("admin", "s3cret pass");
    server.create_database("auth");
    std::env::set_var("IDIC_TEST_INFLUX_PW", "s3cret pass");
    let good = section(
        &server,
        "auth",
        "authenticated = true\nusername = \"admin\"\npassword = \"$env:IDIC_TEST_INFLUX_PW\"\n",
    )
    .replace("authenticated = false\n", "");
    let mut sink = open("c-auth", &good);
    sink.write(&[point(
        "m",
        T0,
        vec![row(&[], vec![("v", Value::Float(1.0))])],
    )])
    .unwrap();

    let bad = good.replace("$env:IDIC_TEST_INFLUX_PW", "wrong");
    let err = open("c-auth-bad", &bad)
        .write(&[point(
            "m",
            T0,
            vec![row(&[], vec![("v", Value::Float(1.0))])],
        )])
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
    assert!(
        err.message
            .contains("refused the credentials of user \"admin\""),
        "{err}"
    );
    assert!(!err.message.contains("wrong"), "{err}");

    let none = section(&server, "auth", "");
    let err = open("c-auth-none", &none)
        .write(&[point(
            "m",
            T0,
            vec![row(&[], vec![("v", Value::Float(1.0))])],
        )])
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
    assert!(err.message.contains("set authenticated = true"), "{err}");

    let unset = good.replace("IDIC_TEST_INFLUX_PW", "IDIC_TEST_UNSET_VARIABLE");
    let err = Influxdb::default()
        .open(&ctx("c-auth-unset", &unset))
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("IDIC_TEST_UNSET_VARIABLE"), "{err}");
}

#[test]
fn a_server_down_at_start_is_not_fatal_and_writes_resume_when_it_is_back() {
    if !services::available(
        "influxd",
        "a_server_down_at_start_is_not_fatal_and_writes_resume_when_it_is_back",
    ) {
        return;
    }
    let mut server = Influxd::start();
    server.create_database("outage");
    server.stop();
    let mut sink = open("c-down", &section(&server, "outage", ""));
    let warning = logged("cluster=c-down cannot reach InfluxDB");
    assert_eq!(warning.len(), 1, "{warning:?}");
    assert!(warning[0].contains("keeps trying"), "{warning:?}");
    let batch = [point(
        "m",
        T0,
        vec![row(&[], vec![("v", Value::Float(4.0))])],
    )];
    let err = sink.write(&batch).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable, "{err}");
    server.restart();
    sink.write(&batch).unwrap();
    assert_eq!(
        server.rows("outage", "SELECT \"v\" FROM \"m\""),
        [vec![json!(T0), json!(4)]]
    );
    let up = logged("cluster=c-down InfluxDB");
    assert!(up.iter().all(|l| !l.contains(" is up")), "{up:?}");
    open("c-up", &section(&server, "outage", ""));
    let up = logged("cluster=c-up InfluxDB 1.6");
    assert_eq!(up.len(), 1, "{up:?}");
    assert!(
        up[0].contains("is up; writing to database \"outage\""),
        "{up:?}"
    );
}

#[test]
fn a_server_that_does_not_answer_times_out_as_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let section = format!("host = \"127.0.0.1\"\nport = {port}\ndatabase = \"d\"\ntimeout = 1\n");
    let started = Instant::now();
    let mut sink = open("c-silent", &section);
    let err = sink
        .write(&[point(
            "m",
            T0,
            vec![row(&[], vec![("v", Value::Float(1.0))])],
        )])
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable, "{err}");
    assert!(err.message.contains("did not answer within 1 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(listener);
}

#[test]
fn https_against_a_plain_server_names_use_ssl() {
    if !services::available("influxd", "https_against_a_plain_server_names_use_ssl") {
        return;
    }
    let server = Influxd::start();
    server.create_database("tls");
    let mut sink = open("c-tls", &section(&server, "tls", "use_ssl = true\n"));
    let err = sink
        .write(&[point(
            "m",
            T0,
            vec![row(&[], vec![("v", Value::Float(1.0))])],
        )])
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
    assert!(err.message.contains("check use_ssl"), "{err}");
    assert!(
        err.message
            .starts_with("[influxdb] TLS with InfluxDB at https://127.0.0.1:"),
        "{err}"
    );
}
