//! The InfluxDB 2.x write contract, checked against a local HTTP endpoint: no
//! InfluxDB 2 server can be installed from the package registries this project
//! uses (and InfluxDB 1.6 has no `/api/v2/write`), so the endpoint here records
//! every request (method, path, query, headers, body after gzip) and answers what
//! each test tells it to. The encoding itself is the one `influxdb`'s tests check
//! against a real `influxd`.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use idic_plugin_api::{
    testing, ErrorKind, Field, OpenContext, Plugin, Point, Row, Sink, Tag, Value,
};
use influxdbv2::{Influxdbv2, Influxdbv2Sink};

const T0: i64 = 1_700_000_000;

/// One request the endpoint received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: HashMap<String, String>,
    /// The body, decompressed when it came gzip-encoded.
    body: String,
    /// The body's size on the wire.
    wire_len: usize,
}

/// A local HTTP endpoint standing in for InfluxDB 2: `GET /ping` answers 204;
/// every other request gets the next queued answer (204 when none is queued).
struct Endpoint {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    answers: Arc<Mutex<VecDeque<(u16, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Endpoint {
    fn start() -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(VecDeque::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, answers, stop) = (requests.clone(), answers.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &requests, &answers);
                    }
                }
            })
        };
        Endpoint {
            port,
            requests,
            answers,
            stop,
            thread: Some(thread),
        }
    }

    fn answer(&self, status: u16, body: &str) {
        self.answers
            .lock()
            .unwrap()
            .push_back((status, body.to_string()));
    }

    /// The write requests so far (pings left out).
    fn writes(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path != "/ping")
            .cloned()
            .collect()
    }

    fn pings(&self) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == "/ping")
            .count()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request, records it, answers, closes the connection.
fn serve(
    mut stream: TcpStream,
    requests: &Mutex<Vec<Request>>,
    answers: &Mutex<VecDeque<(u16, String)>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_len, method, target, headers) = loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut slots);
        if let Ok(httparse::Status::Complete(len)) = req.parse(&buf) {
            let headers: HashMap<String, String> = req
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            break (
                len,
                req.method.unwrap().to_string(),
                req.path.unwrap().to_string(),
                headers,
            );
        }
    };
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_len + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let raw = &buf[head_len..];
    let body = if headers.get("content-encoding").map(String::as_str) == Some("gzip") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(raw)
            .read_to_string(&mut text)
            .expect("valid gzip body");
        text
    } else {
        String::from_utf8_lossy(raw).into_owned()
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let request = Request {
        method,
        path: path.to_string(),
        query,
        headers,
        body,
        wire_len: raw.len(),
    };
    let (status, answer) = if request.path == "/ping" {
        (204, String::new())
    } else {
        answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or((204, String::new()))
    };
    requests.lock().unwrap().push(request);
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nX-Influxdb-Version: v2.7.11\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

/// Percent-decoding of a query component.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn ctx(section: &str) -> OpenContext {
    testing::open_context("influxdbv2", "c1", section)
}

fn section(port: u16, extra: &str) -> String {
    format!(
        "host = \"127.0.0.1\"\nport = \"{port}\"\norg = \"my org\"\nbucket = \"isi_data_insights\"\naccess_token = \"s3cr3t-t0ken\"\n{extra}"
    )
}

fn open(section: &str) -> Influxdbv2Sink {
    Influxdbv2::default()
        .open(&ctx(section))
        .unwrap_or_else(|e| panic!("open: {e}"))
}

fn scalar(measurement: &str, value: f64) -> Point {
    Point {
        measurement: measurement.into(),
        time: T0,
        rows: vec![Row {
            tags: vec![Tag::new("cluster", "c1")].into(),
            fields: vec![Field::new("value", Value::Float(value))].into(),
        }]
        .into(),
    }
}

#[test]
fn writes_follow_the_v2_contract() {
    let endpoint = Endpoint::start();
    std::env::set_var("IDIC_TEST_V2_TOKEN", "t0ken from env");
    let mut sink = open(
        &section(endpoint.port, "").replace("\"s3cr3t-t0ken\"", "\"$env:IDIC_TEST_V2_TOKEN\""),
    );
    assert_eq!(endpoint.pings(), 1, "a ping at open");
    let protocol = Point {
        measurement: "cluster.protostats.nfs".into(),
        time: T0,
        rows: vec![Row {
            tags: vec![
                Tag::new("cluster", "c1"),
                Tag::new("op_name", "read"),
                Tag::new("class_name", "read"),
            ]
            .into(),
            fields: vec![
                Field::new("op_count", Value::Float(12.0)),
                Field::new("op_rate", Value::Float(2.5)),
            ]
            .into(),
        }]
        .into(),
    };
    sink.write(&[scalar("cluster.cpu.idle.avg", 97.0), protocol])
        .unwrap();
    let writes = endpoint.writes();
    assert_eq!(writes.len(), 1);
    let w = &writes[0];
    assert_eq!(w.method, "POST");
    assert_eq!(w.path, "/api/v2/write");
    assert_eq!(
        w.query,
        [
            ("org".to_string(), "my org".to_string()),
            ("bucket".to_string(), "isi_data_insights".to_string()),
            ("precision".to_string(), "s".to_string()),
        ]
    );
    assert_eq!(w.headers["authorization"], "Token t0ken from env");
    assert_eq!(w.headers["content-type"], "text/plain; charset=utf-8");
    assert!(w.headers["user-agent"].starts_with("idic-influxdbv2/"));
    assert!(
        !w.headers.contains_key("content-encoding"),
        "small bodies go plain"
    );
    assert_eq!(
        w.body,
        "cluster.cpu.idle.avg,cluster=c1 value=97.0 1700000000\n\
         cluster.protostats.nfs,class_name=read,cluster=c1,op_name=read op_count=12.0,op_rate=2.5 1700000000\n"
    );
}

#[test]
fn large_batches_are_gzipped_and_split_at_line_boundaries() {
    let endpoint = Endpoint::start();
    let mut sink = open(&section(
        endpoint.port,
        "max_request_bytes = 4096\ngzip = true\n",
    ));
    let batch: Vec<Point> = (0..500)
        .map(|i| scalar("node.disk.busy.avg", i as f64 + 0.5))
        .collect();
    sink.write(&batch).unwrap();
    let writes = endpoint.writes();
    assert!(writes.len() >= 6, "{} requests", writes.len());
    let mut all = String::new();
    for w in &writes {
        assert!(w.body.len() <= 4096, "{}", w.body.len());
        assert!(w.body.ends_with('\n'));
        if w.body.len() >= 1024 {
            assert_eq!(w.headers["content-encoding"], "gzip");
            assert!(w.wire_len < w.body.len() / 2, "compressed");
        }
        all.push_str(&w.body);
    }
    let expected: String = (0..500)
        .map(|i| {
            format!(
                "node.disk.busy.avg,cluster=c1 value={} 1700000000\n",
                i as f64 + 0.5
            )
        })
        .collect();
    assert_eq!(all, expected);
}

#[test]
fn gzip_can_be_turned_off_and_a_415_falls_back_to_plain() {
    let endpoint = Endpoint::start();
    let batch: Vec<Point> = (0..100).map(|i| scalar("m", i as f64)).collect();
    let mut plain = open(&section(endpoint.port, "gzip = false\n"));
    plain.write(&batch).unwrap();
    let mut sink = open(&section(endpoint.port, "gzip = true\n"));
    endpoint.answer(
        415,
        "{\"code\":\"unsupported media type\",\"message\":\"gzip\"}",
    );
    sink.write(&batch).unwrap();
    sink.write(&batch).unwrap();
    let encodings: Vec<Option<String>> = endpoint
        .writes()
        .iter()
        .map(|w| w.headers.get("content-encoding").cloned())
        .collect();
    let gzip = Some("gzip".to_string());
    assert_eq!(encodings, [None, gzip, None, None]);
    let bodies: Vec<String> = endpoint.writes().into_iter().map(|w| w.body).collect();
    assert!(bodies.iter().all(|b| *b == bodies[0]));
}

#[test]
fn answers_are_classified_for_the_host() {
    let endpoint = Endpoint::start();
    let mut sink = open(&section(endpoint.port, ""));
    let cases: &[(u16, &str, ErrorKind, &str)] = &[
        (
            401,
            r#"{"code":"unauthorized","message":"unauthorized access"}"#,
            ErrorKind::Config,
            "refused the access token",
        ),
        (
            403,
            r#"{"code":"forbidden","message":"insufficient permissions"}"#,
            ErrorKind::Config,
            "check access_token in [influxdbv2]",
        ),
        (
            404,
            r#"{"code":"not found","message":"bucket \"isi_data_insights\" not found"}"#,
            ErrorKind::Config,
            "influx bucket create --name isi_data_insights --org 'my org'",
        ),
        (
            404,
            "404 page not found\n",
            ErrorKind::Config,
            "has no /api/v2/write",
        ),
        (413, "", ErrorKind::Config, "lower max_request_bytes"),
        (
            400,
            r#"{"code":"invalid","message":"partial write error (1 written): unable to parse 'm value=x 1': invalid boolean"}"#,
            ErrorKind::Permanent,
            "refused 1 of 1 lines of m",
        ),
        (
            422,
            r#"{"code":"unprocessable entity","message":"failure writing points to database: partial write: points beyond retention policy dropped=1"}"#,
            ErrorKind::Permanent,
            "refused 1 of 1 lines",
        ),
        (429, "", ErrorKind::Retryable, "HTTP 429"),
        (
            500,
            r#"{"code":"internal error","message":"unexpected error writing points to database: timeout"}"#,
            ErrorKind::Retryable,
            "timeout",
        ),
        (503, "", ErrorKind::Retryable, "HTTP 503"),
    ];
    for (status, body, kind, needle) in cases {
        endpoint.answer(*status, body);
        let err = sink.write(&[scalar("m", 1.0)]).unwrap_err();
        assert_eq!(err.kind, *kind, "HTTP {status}: {err}");
        assert!(err.message.contains(needle), "HTTP {status}: {err}");
        assert!(!err.message.contains("s3cr3t"), "{err}");
    }
}

#[test]
fn a_server_down_at_start_is_not_fatal_and_refused_connections_are_retryable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sink = open(&section(port, ""));
    let err = sink.write(&[scalar("m", 1.0)]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable, "{err}");
    assert!(err.message.contains("cannot reach InfluxDB"), "{err}");
}

#[test]
fn a_missing_or_unset_token_is_a_configuration_error() {
    let unset = section(1, "").replace("\"s3cr3t-t0ken\"", "\"$env:IDIC_TEST_V2_UNSET\"");
    let err = Influxdbv2::default().open(&ctx(&unset)).err().unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("IDIC_TEST_V2_UNSET"), "{err}");
    let empty = section(1, "").replace("\"s3cr3t-t0ken\"", "\"\"");
    let err = Influxdbv2::default().open(&ctx(&empty)).err().unwrap();
    assert!(err.message.contains("access_token is missing"), "{err}");
}

#[test]
fn doctor_ping_reaches_the_server_without_the_token_and_says_when_it_is_down() {
    let endpoint = Endpoint::start();
    // The token is not resolved: a $env: name that is unset does not matter.
    let settings = section(endpoint.port, "").replace("s3cr3t-t0ken", "$env:IDIC_V2_PING_UNSET");
    let answer = Influxdbv2::default().control("ping", &settings).unwrap();
    assert!(
        answer.contains(&format!(
            "at http://127.0.0.1:{} answered /ping",
            endpoint.port
        )),
        "{answer}"
    );
    assert_eq!(endpoint.pings(), 1);
    let down = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Influxdbv2::default()
        .control("ping", &section(down, ""))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable, "{err}");
    assert!(err.message.contains("cannot reach InfluxDB"), "{err}");
}
