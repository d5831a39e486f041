//! `/platform/1/statistics/history`: the same values as `current` back in time,
//! per-key retention, keys without history, the cluster's movable clock.

use onefs_sim::{ClusterSpec, Policy};
use serde_json::Value;

use crate::util::{agent, basic_get, example_keys, start_one};

fn series<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v["stats"]
        .as_array()
        .expect("stats array")
        .iter()
        .filter(|s| s["key"] == key)
        .collect()
}

#[test]
fn history_serves_for_every_time_what_current_answered_then() {
    let sim = start_one(ClusterSpec::new("History"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let now = c.now();
    let (begin, end) = (now - 300, now - 1);
    let keys = example_keys();
    let mut with_history = 0;
    for key in &keys {
        let path = format!(
            "/platform/1/statistics/history?key={key}&devid=all&show_nodes=true&begin={begin}&end={end}"
        );
        let v = basic_get(&agent, c, &path).json();
        let info = sim.catalog().get(key).unwrap();
        for s in series(&v, key) {
            if info.policies.is_none() {
                assert_eq!(s["error_code"], 7, "{key}: {s}");
                assert!(s["values"].is_null());
                continue;
            }
            with_history += 1;
            let interval = i64::from(info.update_interval().unwrap());
            assert_eq!(s["resolution"].as_i64(), Some(interval), "{key}");
            let devid = s["devid"].as_u64().unwrap() as u32;
            let values = s["values"].as_array().unwrap();
            let first = begin + (interval - begin.rem_euclid(interval)) % interval;
            let expected_times: Vec<i64> = (0..)
                .map(|n| first + n * interval)
                .take_while(|&t| t <= end)
                .collect();
            let times: Vec<i64> = values.iter().map(|x| x["time"].as_i64().unwrap()).collect();
            assert_eq!(times, expected_times, "{key} devid {devid}");
            for x in values {
                let t = x["time"].as_i64().unwrap();
                assert_eq!(
                    Some(&x["value"]),
                    c.expected(key, devid, t).as_ref(),
                    "{key} {t}"
                );
            }
        }
    }
    assert!(with_history > 50, "only {with_history} series had history");
}

#[test]
fn a_window_beyond_the_fine_retention_is_read_at_the_coarse_resolution() {
    let sim = start_one(ClusterSpec::new("Coarse"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let info = sim.catalog().get("cluster.cpu.user.avg").unwrap();
    let fine: &Policy = info
        .policies
        .as_ref()
        .unwrap()
        .iter()
        .find(|p| !p.persistent)
        .unwrap();
    let now = c.now();
    let begin = now - fine.retention as i64 - 600;
    let v = basic_get(
        &agent,
        c,
        &format!(
            "/platform/1/statistics/history?key=cluster.cpu.user.avg&begin={begin}&end={}",
            begin + 600
        ),
    )
    .json();
    let s = series(&v, "cluster.cpu.user.avg")[0];
    assert_eq!(s["resolution"], 120);
    for x in s["values"].as_array().unwrap() {
        let t = x["time"].as_i64().unwrap();
        assert_eq!(t % 120, 0);
        assert_eq!(
            Some(&x["value"]),
            c.expected("cluster.cpu.user.avg", 0, t).as_ref()
        );
    }
}

#[test]
fn moving_the_clock_forward_moves_current_and_history() {
    let sim = start_one(ClusterSpec::new("Clock"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let before = c.now();
    c.advance_clock(3600);
    let v = basic_get(
        &agent,
        c,
        "/platform/1/statistics/current?key=cluster.cpu.user.avg",
    )
    .json();
    let t = v["stats"][0]["time"].as_i64().unwrap();
    assert!(
        t >= before + 3600 - 5,
        "current time {t} did not move by an hour from {before}"
    );
    let v = basic_get(
        &agent,
        c,
        "/platform/1/statistics/history?key=cluster.cpu.user.avg&begin=-60",
    )
    .json();
    let last = v["stats"][0]["values"].as_array().unwrap().last().unwrap()["time"]
        .as_i64()
        .unwrap();
    assert_eq!(last, t);
}
