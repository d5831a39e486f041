//! The HTTP control endpoint under `/sim/` on every cluster port (no authentication,
//! never counted, never faulted): read counters, the request log and expected values,
//! set faults while running.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /sim/health` | `{"status":"ok","cluster":NAME}` |
//! | `GET /sim/clusters` | every cluster of the process: name, port, nodes, version, devices |
//! | `GET /sim/counters` | the cluster's counters |
//! | `GET /sim/log?limit=N` | the last N logged requests (default all kept) |
//! | `GET /sim/faults` | current faults |
//! | `POST /sim/faults` | change faults with a JSON object (fields below, all optional) |
//! | `POST /sim/reset` | clear counters, log and faults |
//! | `GET /sim/expected?key=K&devid=D&time=T` | `{"value": ...}` as `/statistics/current` answers it |
//! | `GET /sim/expected_summary?kind=protocol&time=T` | the summary rows for that time |
//! | `GET /sim/quotas` | the quotas that exist now, as the quota endpoint lists them |
//! | `POST /sim/quotas` | `{"count": N}` (quotas 0..N exist), `{"delete": [index, ...]}`, `{"forbidden": bool}` (403 on the quota endpoints) |
//! | `GET /sim/clock` | `{"now": N, "offset_s": N}`: the cluster's clock |
//! | `POST /sim/clock` | `{"offset_s": N}` sets it to wall clock + N, `{"advance_s": N}` moves it forward |
//!
//! `POST /sim/faults` fields: `latency_ms`, `error_rate`, `error_status`, `drop_rate`,
//! `down` (bool), `down_for_ms` (down now, up again after that long), `malformed`
//! (`"truncated"`, `"html"`, `"huge"`, `"wrong-types"`, `"random"`, `"oversized"`,
//! `"slow"`, `"reset"` or `null`), `malformed_for` (with `malformed`: only the next
//! N `/platform` answers), `expire_sessions` (true),
//! `degraded_devid` (number or `null`), `key_errors` (`{"key": code or null}`),
//! `clear` (true: remove all faults first). Every path takes `?cluster=NAME` to act
//! on another cluster of the same process (useful when that one is down).

use std::time::Duration;

use serde_json::{json, Value};

use crate::faults::{Faults, Malformed};
use crate::http::Request;
use crate::response::Response;
use crate::state::{ClusterState, SimShared};
use crate::summary::{self, SummaryKind};
use std::sync::Arc;

/// Answers a `/sim/...` request received on `own`'s port.
pub(crate) fn handle(sim: &SimShared, own: &Arc<ClusterState>, req: &Request) -> Response {
    let cluster = match req.query_value("cluster") {
        Some(name) => match sim.cluster(name) {
            Some(c) => c.clone(),
            None => return bad(404, &format!("no cluster named {name}")),
        },
        None => own.clone(),
    };
    let path = req.path.trim_end_matches('/');
    match (req.method.as_str(), path) {
        ("GET", "/sim/health") => {
            Response::json(200, &json!({"status": "ok", "cluster": cluster.spec.name}))
        }
        ("GET", "/sim/clusters") => Response::json(
            200,
            &json!({"clusters": sim.clusters.iter().map(|c| describe(c)).collect::<Vec<_>>()}),
        ),
        ("GET", "/sim/counters") => Response::json(200, &cluster.recorder.counters().to_json()),
        ("GET", "/sim/log") => {
            let log = cluster.recorder.log();
            let limit = req
                .query_value("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(log.len());
            let entries: Vec<Value> = log
                .iter()
                .skip(log.len().saturating_sub(limit))
                .map(|e| e.to_json())
                .collect();
            Response::json(200, &json!({ "requests": entries }))
        }
        ("GET", "/sim/faults") => Response::json(200, &faults_json(&Faults::new(cluster))),
        ("POST", "/sim/faults") => set_faults(cluster, &req.body),
        ("POST", "/sim/reset") => {
            cluster.recorder.reset();
            Faults::new(cluster).clear();
            Response::json(200, &json!({"status": "reset"}))
        }
        ("GET", "/sim/clock") => clock_json(&cluster),
        ("POST", "/sim/clock") => set_clock(&cluster, &req.body),
        ("GET", "/sim/expected") => expected(sim, &cluster, req),
        ("GET", "/sim/expected_summary") => expected_summary(&cluster, req),
        ("GET", "/sim/quotas") => {
            Response::json(200, &json!({"quotas": cluster.quotas.expected(None)}))
        }
        ("POST", "/sim/quotas") => set_quotas(&cluster, &req.body),
        _ => bad(
            404,
            &format!("unknown control request {} {}", req.method, req.path),
        ),
    }
}

fn clock_json(c: &ClusterState) -> Response {
    let offset = c.clock_offset.load(std::sync::atomic::Ordering::SeqCst);
    Response::json(200, &json!({"now": c.now(), "offset_s": offset}))
}

fn set_clock(c: &ClusterState, body: &[u8]) -> Response {
    use std::sync::atomic::Ordering;
    let v: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad(400, "expected a JSON object"),
        Err(e) => return bad(400, &format!("invalid JSON: {e}")),
    };
    match (v["offset_s"].as_i64(), v["advance_s"].as_i64()) {
        (Some(o), None) => c.clock_offset.store(o, Ordering::SeqCst),
        (None, Some(a)) => {
            c.clock_offset.fetch_add(a, Ordering::SeqCst);
        }
        _ => return bad(400, "give one integer: offset_s or advance_s"),
    }
    clock_json(c)
}

fn bad(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "error": message }))
}

fn describe(c: &ClusterState) -> Value {
    let devices: Vec<Value> = c
        .devices
        .iter()
        .map(|&(devid, lnn)| json!({"devid": devid, "lnn": lnn}))
        .collect();
    json!({
        "name": c.spec.name,
        "port": c.addr.port(),
        "nodes": c.devices.len(),
        "onefs_version": c.spec.onefs_version,
        "devices": devices,
    })
}

fn faults_json(f: &Faults) -> Value {
    let s = f.settings();
    let key_errors: serde_json::Map<String, Value> = f
        .key_errors()
        .into_iter()
        .map(|(k, c)| (k, Value::from(c)))
        .collect();
    json!({
        "latency_ms": s.latency.as_millis() as u64,
        "error_rate": s.error_rate,
        "error_status": s.error_status,
        "drop_rate": s.drop_rate,
        "down": s.down,
        "malformed": s.malformed.map(Malformed::name),
        "malformed_left": s.malformed_left,
        "degraded_devid": f.degraded(),
        "key_errors": key_errors,
    })
}

fn set_faults(cluster: Arc<ClusterState>, body: &[u8]) -> Response {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad(400, "expected a JSON object"),
        Err(e) => return bad(400, &format!("invalid JSON: {e}")),
    };
    let f = Faults::new(cluster);
    if v["clear"].as_bool() == Some(true) {
        f.clear();
    }
    if let Some(ms) = v["latency_ms"].as_u64() {
        f.set_latency(Duration::from_millis(ms));
    }
    if v.get("error_rate").is_some() || v.get("error_status").is_some() {
        let current = f.settings();
        let status = v["error_status"]
            .as_u64()
            .map_or(current.error_status, |s| s as u16);
        if status != 500 && status != 503 {
            return bad(400, "error_status must be 500 or 503");
        }
        f.set_error_rate(
            v["error_rate"].as_f64().unwrap_or(current.error_rate),
            status,
        );
    }
    if let Some(rate) = v["drop_rate"].as_f64() {
        f.set_drop_connections(rate);
    }
    if let Some(m) = v.get("malformed") {
        match m {
            Value::Null => f.set_malformed(None),
            Value::String(name) => {
                match (Malformed::from_name(name), v["malformed_for"].as_u64()) {
                    (Some(m), Some(n)) => f.set_malformed_for(m, n),
                    (Some(m), None) => f.set_malformed(Some(m)),
                    (None, _) => {
                        return bad(
                            400,
                            &format!("malformed must be null or {}", Malformed::names()),
                        )
                    }
                }
            }
            _ => return bad(400, "malformed must be a string or null"),
        }
    }
    if v["expire_sessions"].as_bool() == Some(true) {
        f.expire_sessions();
    }
    if let Some(d) = v.get("degraded_devid") {
        f.set_degraded(d.as_u64().map(|d| d as u32));
    }
    if let Some(errors) = v["key_errors"].as_object() {
        for (key, code) in errors {
            match code.as_u64() {
                Some(c @ 1..=10) => f.set_key_error(key, Some(c as u32)),
                None if code.is_null() => f.set_key_error(key, None),
                _ => return bad(400, "key_errors values must be 1..=10 or null"),
            }
        }
    }
    if let Some(ms) = v["down_for_ms"].as_u64() {
        f.set_down_for(Duration::from_millis(ms));
    } else if let Some(down) = v["down"].as_bool() {
        f.set_down(down);
    }
    Response::json(200, &faults_json(&f))
}

fn expected(sim: &SimShared, cluster: &ClusterState, req: &Request) -> Response {
    let Some(key) = req.query_value("key") else {
        return bad(400, "key is required");
    };
    let devid = req
        .query_value("devid")
        .and_then(|d| d.parse::<u32>().ok())
        .unwrap_or(0);
    let Some(time) = req.query_value("time").and_then(|t| t.parse::<i64>().ok()) else {
        return bad(400, "time (Unix seconds) is required");
    };
    match cluster.expected(&sim.catalog, key, devid, time) {
        Some(value) => Response::json(
            200,
            &json!({"cluster": cluster.spec.name, "key": key, "devid": devid, "time": time, "value": value}),
        ),
        None => bad(404, &format!("no value for key {key} and devid {devid}")),
    }
}

fn expected_summary(cluster: &ClusterState, req: &Request) -> Response {
    let Some(kind) = req.query_value("kind").and_then(SummaryKind::from_name) else {
        return bad(400, "kind must be protocol, client or drive");
    };
    let Some(time) = req.query_value("time").and_then(|t| t.parse::<i64>().ok()) else {
        return bad(400, "time (Unix seconds) is required");
    };
    let rows = summary::rows(&cluster.view(), kind, cluster.spec.summary_rows, time);
    Response::json(200, &json!({ kind.name(): rows }))
}

fn set_quotas(cluster: &ClusterState, body: &[u8]) -> Response {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad(400, "expected a JSON object"),
        Err(e) => return bad(400, &format!("invalid JSON: {e}")),
    };
    if let Some(n) = v["count"].as_u64() {
        cluster.quotas.set_count(n.min(u64::from(u32::MAX)) as u32);
    }
    for i in v["delete"].as_array().into_iter().flatten() {
        match i.as_u64() {
            Some(i) => cluster.quotas.delete(i.min(u64::from(u32::MAX)) as u32),
            None => return bad(400, "delete must list quota indexes"),
        }
    }
    if let Some(f) = v["forbidden"].as_bool() {
        cluster.quotas.set_forbidden(f);
    }
    Response::json(200, &json!({"quotas": cluster.quotas.live().len()}))
}
