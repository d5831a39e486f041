//! Routing and the OneFS answers: `/session/1/session` (via `auth`),
//! `/platform/N/cluster/config`, `/platform/N/statistics/keys[/KEY]`,
//! `/platform/N/statistics/current`, `/platform/N/statistics/history` (in `history`) and `/platform/N/statistics/summary/{protocol,client,drive}`.
//!
//! Everything under `/platform` needs authentication first (401 otherwise), as on a
//! real cluster. Per-key errors follow OneFS: `error_code` 1..10 with an `error` string
//! and a `null` value, except code 3 (degraded) which keeps the value. Faults and the
//! `/sim` control endpoint are handled before this (in `server` and `control`).

use serde_json::{json, Map, Value};

use crate::auth;
use crate::catalog::{KeyInfo, Scope};
use crate::http::Request;
use crate::response::Response;
use crate::state::{ClusterState, SimShared};
use crate::summary::{self, SummaryKind};
use crate::values;

/// Highest API version number accepted in `/platform/N/...`.
const MAX_API_VERSION: u32 = 20;

/// The OneFS error strings of per-key error codes 1..=10.
pub fn error_string(code: u32) -> &'static str {
    match code {
        1 => "Statistic not present",
        2 => "Statistic not implemented",
        3 => "Degraded: node not responding, value may be stale",
        4 => "Statistic is stale",
        5 => "Connection to node timed out",
        6 => "Timed out waiting for statistic",
        7 => "No history available for statistic",
        8 => "System error",
        9 => "Statistic not configured",
        10 => "No data for statistic",
        _ => "Unknown error",
    }
}

/// Answers one request (not `/sim`) at wall-clock second `now`.
pub(crate) fn handle(sim: &SimShared, cluster: &ClusterState, req: &Request, now: i64) -> Response {
    let path = req.decoded_path();
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path.as_str()
    };
    if path == "/session/1/session" {
        return auth::session_endpoint(sim, cluster, req);
    }
    let Some(rest) = path.strip_prefix("/platform/") else {
        return not_found(path);
    };
    if let Err(response) = auth::authenticate(sim, cluster, req) {
        return response;
    }
    let (version, resource) = rest.split_once('/').unwrap_or((rest, ""));
    let version = match version.parse::<u32>() {
        Ok(v) if (1..=MAX_API_VERSION).contains(&v) => v,
        _ if version == "latest" => MAX_API_VERSION,
        _ => return not_found(path),
    };
    if req.method != "GET" && req.method != "HEAD" {
        return Response::errors(
            405,
            "AEC_METHOD_NOT_ALLOWED",
            &format!("Method {} not allowed on {path}", req.method),
        )
        .with_header("Allow", "GET, HEAD");
    }
    if resource.starts_with("statistics/") && cluster.faults.statistics_forbidden() {
        return Response::errors(
            403,
            "AEC_FORBIDDEN",
            "Privilege check failed. The following read privileges are required: Statistics (ISI_PRIV_STATISTICS)",
        );
    }
    match resource {
        "cluster/config" => cluster_config(cluster),
        "quota/quotas" | "quota/quotas-summary" => cluster.quotas.answer(resource, req),
        "performance/datasets" | "statistics/summary/workload" if version >= 10 => {
            cluster.perf.answer(resource, req, now)
        }
        _ if resource.starts_with("protocols/nfs/exports/") => cluster
            .perf
            .export(&resource["protocols/nfs/exports/".len()..]),
        "statistics/current" => current(sim, cluster, req, now),
        "statistics/history" => crate::history::answer(sim, cluster, req, now),
        "statistics/keys" => key_list(sim, req),
        _ if resource.starts_with("statistics/keys/") => {
            key_info(sim, &resource["statistics/keys/".len()..])
        }
        _ if resource.starts_with("statistics/summary/") && version >= 3 => {
            match SummaryKind::from_name(&resource["statistics/summary/".len()..]) {
                Some(kind) => summary_answer(cluster, kind, now),
                None => not_found(path),
            }
        }
        _ => not_found(path),
    }
}

fn not_found(path: &str) -> Response {
    Response::errors(404, "AEC_NOT_FOUND", &format!("Path not found: {path}"))
}

fn cluster_config(cluster: &ClusterState) -> Response {
    let spec = &cluster.spec;
    let cluster_guid = guid(&spec.name, 0);
    let devices: Vec<Value> = cluster
        .devices
        .iter()
        .map(|&(devid, lnn)| json!({"devid": devid, "guid": guid(&spec.name, devid), "lnn": lnn}))
        .collect();
    let (local_devid, local_lnn) = cluster.devices.first().copied().unwrap_or((1, 1));
    let v = &spec.onefs_version;
    let build = format!("B_{}_000(RELEASE)", v.replace('.', "_"));
    let body = json!({
        "description": format!("Simulated PowerScale cluster {}", spec.name),
        "devices": devices,
        "encoding": "utf-8",
        "guid": cluster_guid,
        "is_compliance": false,
        "is_rolling_upgrade": false,
        "join_mode": "manual",
        "local_devid": local_devid,
        "local_lnn": local_lnn,
        "local_serial": format!("SIM{:010}", u64::from_str_radix(&cluster_guid[..8], 16).unwrap_or(0)),
        "name": spec.name,
        "onefs_version": {
            "build": build,
            "release": format!("v{v}"),
            "revision": revision(v),
            "type": "Isilon OneFS",
            "version": format!("Isilon OneFS v{v} {build}"),
        },
        "timezone": {"abbreviation": "UTC", "custom": "", "name": "Coordinated Universal Time", "path": "UTC"},
    });
    Response::json(200, &body)
}

fn guid(name: &str, salt: u32) -> String {
    let h = |s: u64| {
        name.bytes().fold(0xcbf2_9ce4_8422_2325_u64 ^ s, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}{:08x}",
        h(u64::from(salt)),
        h(u64::from(salt) + 7919),
        salt
    )
}

/// The numeric revision OneFS derives from the release (hex digits of its parts).
fn revision(version: &str) -> String {
    let n = version
        .split('.')
        .filter_map(|p| p.parse::<u64>().ok())
        .fold(0u64, |acc, p| (acc << 8) | (p & 0xff));
    (n << 24).to_string()
}

fn key_info(sim: &SimShared, key: &str) -> Response {
    match sim.catalog.get(key) {
        Some(info) => Response::json(200, &json!({"keys": [info.to_json()]})),
        None => Response::errors(
            404,
            "AEC_NOT_FOUND",
            &format!("Unable to find statistics key: {key}"),
        ),
    }
}

/// `/platform/1/statistics/keys`: the catalog, with `limit` and `resume` paging.
fn key_list(sim: &SimShared, req: &Request) -> Response {
    let all = sim.catalog.keys();
    let start = req
        .query_value("resume")
        .and_then(|r| r.parse::<usize>().ok())
        .unwrap_or(0)
        .min(all.len());
    let limit = req
        .query_value("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|&l| l > 0)
        .unwrap_or(all.len());
    let end = start.saturating_add(limit).min(all.len());
    let keys: Vec<Value> = if req.query_flag("count") {
        Vec::new()
    } else {
        all[start..end].iter().map(KeyInfo::to_json).collect()
    };
    let resume = if end < all.len() && !req.query_flag("count") {
        Value::from(end.to_string())
    } else {
        Value::Null
    };
    Response::json(
        200,
        &json!({"keys": keys, "resume": resume, "total": all.len()}),
    )
}

/// `/platform/1/statistics/current`.
fn current(sim: &SimShared, cluster: &ClusterState, req: &Request, now: i64) -> Response {
    let mut keys: Vec<&str> = Vec::new();
    for k in req
        .query_values("key")
        .chain(req.query_values("keys").flat_map(|v| v.split(',')))
    {
        let k = k.trim();
        if !k.is_empty() && !keys.contains(&k) {
            keys.push(k);
        }
    }
    let devids = match node_selection(cluster, req) {
        Ok(d) => d,
        Err(message) => return Response::errors(400, "AEC_BAD_REQUEST", &message),
    };
    let degraded_ok = req.query_flag("degraded");
    let show_nodes = req.query_flag("show_nodes");
    let degraded_node = cluster.faults.degraded();
    let view = cluster.view();
    let mut stats = Vec::new();
    for key in keys {
        let Some(info) = sim.catalog.get(key) else {
            stats.push(entry(0, None, key, now, Value::Null, Some(1)));
            continue;
        };
        let time = values::answer_time(info, now);
        let forced = cluster
            .faults
            .key_error(key)
            .or((info.type_name == "invalid").then_some(1));
        let targets: &[u32] = if info.scope == Scope::Cluster {
            &[0]
        } else {
            &devids
        };
        for &devid in targets {
            let code =
                forced.or((info.scope == Scope::Node && degraded_node == Some(devid)).then_some(3));
            if code == Some(3) && !degraded_ok {
                return Response::errors(
                    500,
                    "AEC_EXCEPTION",
                    &format!("Node with devid {devid} is not responding"),
                );
            }
            let value = if code.is_none_or(|c| c == 3) {
                values::value(&view, info, devid, time)
            } else {
                Value::Null
            };
            let node = (show_nodes && devid != 0)
                .then(|| cluster.lnn(devid))
                .flatten();
            stats.push(entry(devid, node, key, time, value, code));
        }
    }
    Response::json(200, &json!({ "stats": stats }))
}

/// Devids asked for with `devid=` (numbers, `all`; 0 = the local node) and `nodes=`
/// (LNNs, comma separated, or `all`); the local node when neither is given.
pub(crate) fn node_selection(cluster: &ClusterState, req: &Request) -> Result<Vec<u32>, String> {
    let all: Vec<u32> = cluster.devices.iter().map(|d| d.0).collect();
    let local = all.first().copied().unwrap_or(1);
    let mut chosen: Vec<u32> = Vec::new();
    fn add(d: u32, chosen: &mut Vec<u32>) {
        if !chosen.contains(&d) {
            chosen.push(d);
        }
    }
    for v in req.query_values("devid").flat_map(|v| v.split(',')) {
        match v.trim() {
            "all" => all.iter().for_each(|&d| add(d, &mut chosen)),
            "0" => add(local, &mut chosen),
            s => match s.parse::<u32>() {
                Ok(d) if all.contains(&d) => add(d, &mut chosen),
                _ => return Err(format!("Invalid devid: {s}")),
            },
        }
    }
    for v in req.query_values("nodes").flat_map(|v| v.split(',')) {
        match v.trim() {
            "all" => all.iter().for_each(|&d| add(d, &mut chosen)),
            "0" => add(local, &mut chosen),
            s => match s
                .parse::<u32>()
                .ok()
                .and_then(|lnn| cluster.devices.iter().find(|d| d.1 == lnn))
            {
                Some(&(d, _)) => add(d, &mut chosen),
                None => return Err(format!("Invalid node: {s}")),
            },
        }
    }
    if chosen.is_empty() {
        chosen.push(local);
    }
    chosen.sort_unstable();
    Ok(chosen)
}

/// What every statistics entry starts with, current or history: the
/// device, its error (`null`s when none), the key and the node's LNN when the
/// entry is a node's.
pub(crate) fn keyed(
    devid: u32,
    node: Option<u32>,
    key: &str,
    code: Option<u32>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("devid".into(), devid.into());
    m.insert(
        "error".into(),
        code.map_or(Value::Null, |c| error_string(c).into()),
    );
    m.insert("error_code".into(), code.map_or(Value::Null, Value::from));
    m.insert("key".into(), key.into());
    if let Some(lnn) = node {
        m.insert("node".into(), lnn.into());
    }
    m
}

fn entry(
    devid: u32,
    node: Option<u32>,
    key: &str,
    time: i64,
    value: Value,
    code: Option<u32>,
) -> Value {
    let mut m = keyed(devid, node, key, code);
    m.insert("time".into(), time.into());
    m.insert("value".into(), value);
    Value::Object(m)
}

fn summary_answer(cluster: &ClusterState, kind: SummaryKind, now: i64) -> Response {
    let rows = summary::rows(&cluster.view(), kind, cluster.spec.summary_rows, now);
    let mut body = Map::new();
    body.insert(kind.name().into(), Value::Array(rows));
    Response::json(200, &Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_error_code_has_a_string() {
        for code in 1..=10 {
            assert_ne!(error_string(code), "Unknown error");
        }
        assert_eq!(error_string(11), "Unknown error");
    }

    #[test]
    fn revision_encodes_release() {
        assert_eq!(revision("9.11.0.0"), ((0x090b_0000_u64) << 24).to_string());
    }

    #[test]
    fn entries_carry_node_only_when_asked() {
        let e = entry(3, Some(4), "k", 10, Value::from(1), None);
        assert_eq!(e["node"], 4);
        assert!(e["error"].is_null() && e["error_code"].is_null());
        let e = entry(0, None, "k", 10, Value::Null, Some(1));
        assert!(e.get("node").is_none());
        assert_eq!(e["error_code"], 1);
    }
}
