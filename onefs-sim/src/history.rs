//! `GET /platform/1/statistics/history`: the time series a cluster keeps of its keys,
//! from the same value model as `/statistics/current`, so that the value served for
//! time `T` is exactly what `current` answered when its `time` was `T`.
//!
//! Arguments (`/work/shared/reference/.../statistics/history/overview.json`, carried
//! into this file's choices): `key`/`keys` as for `current`; `devid`/`nodes` as for
//! `current` (the local node when neither is given); `begin`/`end` epoch seconds or,
//! when negative, seconds before now; `resolution` (or `interval`, which it
//! overrides) the smallest spacing wanted; `memory_only` only the in-memory policy;
//! `show_nodes` adds `node`; `degraded` as for `current`.
//!
//! Where OneFS is undocumented the simulator chooses, and a collector must not rely
//! on more:
//! - `end` defaults to now, `begin` to `end - 3600`; both edges are inclusive.
//! - Samples are at multiples of the policy's interval, none later than now.
//! - The policy read is the finest one (smallest interval at least `resolution`)
//!   whose retention still reaches back to `begin`; if none does, the one reaching
//!   back furthest, its samples starting where its retention starts. One series
//!   never mixes policies; its `resolution` says which was read.
//! - Down-sampling takes the value of the sample's own bucket (what `current`
//!   answered at that time), whatever the key's `aggregation_type`.
//! - A key without policies answers `error_code` 7 ("No history available") with
//!   `values: null`; so do per-key faults (their own code) and unknown keys (code 1).

use serde_json::{json, Value};

use crate::api::{keyed, node_selection};
use crate::catalog::{KeyInfo, Policy, Scope};
use crate::http::Request;
use crate::response::Response;
use crate::state::{ClusterState, SimShared};
use crate::values;

/// The default window when `begin` is not given, in seconds before `end`.
const DEFAULT_SPAN: i64 = 3600;
/// The most samples one answer may hold (keys x nodes x samples), a stand-in for
/// the API's answer-size limits: a larger request gets 400.
pub const MAX_HISTORY_VALUES: usize = 200_000;

/// `/platform/1/statistics/history` at the cluster's second `now`.
pub(crate) fn answer(sim: &SimShared, cluster: &ClusterState, req: &Request, now: i64) -> Response {
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
    let int = |name: &str| -> Result<Option<i64>, Response> {
        match req.query_value(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                Response::errors(
                    400,
                    "AEC_BAD_REQUEST",
                    &format!("Invalid {name}: {v:?} is not an integer"),
                )
            }),
        }
    };
    let (end, begin, resolution) =
        match (int("end"), int("begin"), int("resolution"), int("interval")) {
            (Ok(e), Ok(b), Ok(r), Ok(i)) => {
                let absolute = |t: i64| if t < 0 { now + t } else { t };
                let end = e.map_or(now, absolute).min(now);
                (
                    end,
                    b.map_or(end - DEFAULT_SPAN, absolute),
                    r.or(i).unwrap_or(0),
                )
            }
            (Err(r), ..) | (_, Err(r), ..) | (_, _, Err(r), _) | (.., Err(r)) => return r,
        };
    if begin > end {
        return Response::errors(
            400,
            "AEC_BAD_REQUEST",
            &format!("Invalid time range: begin {begin} is after end {end}"),
        );
    }
    let memory_only = req.query_flag("memory_only");
    let show_nodes = req.query_flag("show_nodes");
    let degraded_ok = req.query_flag("degraded");
    let degraded_node = cluster.faults.degraded();
    let view = cluster.view();
    let mut stats = Vec::new();
    let mut total = 0usize;
    for key in keys {
        let Some(info) = sim.catalog.get(key) else {
            stats.push(series(0, None, key, 0, None, Some(1)));
            continue;
        };
        let forced = cluster
            .faults
            .key_error(key)
            .or((info.type_name == "invalid").then_some(1));
        let policy = choose(info, now, begin, resolution, memory_only);
        let targets: &[u32] = if info.scope == Scope::Cluster {
            &[0]
        } else {
            &devids
        };
        for &devid in targets {
            let node = (show_nodes && devid != 0)
                .then(|| cluster.lnn(devid))
                .flatten();
            let code = forced
                .or(policy.is_none().then_some(7))
                .or((info.scope == Scope::Node && degraded_node == Some(devid)).then_some(3));
            if code == Some(3) && !degraded_ok {
                return Response::errors(
                    500,
                    "AEC_EXCEPTION",
                    &format!("Node with devid {devid} is not responding"),
                );
            }
            let Some(policy) = policy.as_ref().filter(|_| code.is_none_or(|c| c == 3)) else {
                stats.push(series(devid, node, key, 0, None, code));
                continue;
            };
            let times = sample_times(policy, now, begin, end);
            total += times.len();
            if total > MAX_HISTORY_VALUES {
                return Response::errors(
                    400,
                    "AEC_BAD_REQUEST",
                    &format!("Too much data requested: more than {MAX_HISTORY_VALUES} samples; ask for fewer keys, nodes or a shorter time range"),
                );
            }
            let samples: Vec<Value> = times
                .into_iter()
                .map(|t| json!({"time": t, "value": values::value(&view, info, devid, t)}))
                .collect();
            stats.push(series(
                devid,
                node,
                key,
                policy.interval,
                Some(samples),
                code,
            ));
        }
    }
    Response::json(200, &json!({ "stats": stats }))
}

/// The policy a window starting at `begin` is read from (see the module doc), or
/// `None` when the key keeps no history (at `resolution`, or in memory).
pub(crate) fn choose(
    info: &KeyInfo,
    now: i64,
    begin: i64,
    resolution: i64,
    memory_only: bool,
) -> Option<Policy> {
    let mut usable: Vec<Policy> = info
        .policies
        .as_ref()?
        .iter()
        .filter(|p| p.interval > 0 && (!memory_only || !p.persistent))
        .filter(|p| i64::from(p.interval) >= resolution)
        .cloned()
        .collect();
    usable.sort_by_key(|p| p.interval);
    usable
        .iter()
        .find(|p| now.saturating_sub(retention(p)) <= begin)
        .or_else(|| usable.iter().max_by_key(|p| p.retention))
        .cloned()
}

/// The sample times of `policy` in `[begin, end]`, within its retention.
fn sample_times(policy: &Policy, now: i64, begin: i64, end: i64) -> Vec<i64> {
    let step = i64::from(policy.interval);
    let from = begin.max(now.saturating_sub(retention(policy)));
    let first = from + (step - from.rem_euclid(step)) % step;
    let last = end.min(now);
    (0..)
        .map(move |n| first + n * step)
        .take_while(move |&t| t <= last)
        .collect()
}

fn retention(p: &Policy) -> i64 {
    i64::try_from(p.retention).unwrap_or(i64::MAX)
}

fn series(
    devid: u32,
    node: Option<u32>,
    key: &str,
    resolution: u32,
    values: Option<Vec<Value>>,
    code: Option<u32>,
) -> Value {
    let mut m = keyed(devid, node, key, code);
    m.insert("resolution".into(), resolution.into());
    m.insert("values".into(), values.map_or(Value::Null, Value::Array));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn policy(interval: u32, persistent: bool, retention: u64) -> Policy {
        Policy {
            interval,
            persistent,
            retention,
        }
    }

    #[test]
    fn the_finest_policy_reaching_begin_is_read() {
        let c = Catalog::builtin();
        let k = c.get("cluster.cpu.user.avg").unwrap();
        let now = 1_000_000;
        assert_eq!(choose(k, now, now - 600, 0, false).unwrap().interval, 5);
        assert_eq!(choose(k, now, now - 5000, 0, false).unwrap().interval, 120);
        assert_eq!(choose(k, now, now - 600, 60, false).unwrap().interval, 120);
        // Only memory: the 5 s policy, starting where its retention starts.
        assert_eq!(choose(k, now, now - 5000, 0, true).unwrap().interval, 5);
        assert!(choose(
            c.get("cluster.protostats.nfs").unwrap(),
            now,
            now - 60,
            0,
            false
        )
        .is_none());
    }

    #[test]
    fn samples_are_multiples_of_the_interval_inside_window_and_retention() {
        let p = policy(5, false, 20);
        let times = sample_times(&p, 1000, 971, 1003);
        assert_eq!(times, vec![980, 985, 990, 995, 1000]);
        let times = sample_times(&p, 1000, 985, 995);
        assert_eq!(times, vec![985, 990, 995]);
    }
}
