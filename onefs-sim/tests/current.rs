//! `/platform/1/statistics/current`: scopes, shapes, errors and exact expected values.

use std::sync::Arc;

use onefs_sim::{answer_time, Catalog, ClusterSpec, Scope, SimConfig, MAX_TARGET};
use serde_json::Value;

use crate::util::{
    agent, basic_get, current_path, example_keys, now, reference_catalog, start, start_one,
};

fn stats(v: &Value) -> &Vec<Value> {
    v["stats"].as_array().expect("stats array")
}

fn entries_for<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    stats(v).iter().filter(|s| s["key"] == key).collect()
}

#[test]
fn cluster_scoped_key_answers_once_with_devid_0() {
    let sim = start_one(ClusterSpec::new("Scopes"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(&agent, c, &current_path(&["cluster.cpu.idle.avg"])).json();
    let e = entries_for(&v, "cluster.cpu.idle.avg");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["devid"], 0);
    assert!(e[0].get("node").is_none());
    assert!(e[0]["error"].is_null() && e[0]["error_code"].is_null());
    assert!(e[0]["value"].is_i64());
}

#[test]
fn node_scoped_key_answers_per_node_with_lnn() {
    let sim = start_one(ClusterSpec::new("Scopes").with_nodes(5));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(&agent, c, &current_path(&["node.load.1min"])).json();
    let pairs: Vec<(u64, u64)> = entries_for(&v, "node.load.1min")
        .iter()
        .map(|s| (s["devid"].as_u64().unwrap(), s["node"].as_u64().unwrap()))
        .collect();
    assert_eq!(pairs, [(1, 1), (2, 2), (3, 4), (4, 3), (5, 5)]);
}

#[test]
fn show_nodes_false_omits_node() {
    let sim = start_one(ClusterSpec::new("Scopes"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(
        &agent,
        c,
        "/platform/1/statistics/current?degraded=true&devid=all&key=node.load.1min",
    )
    .json();
    assert_eq!(stats(&v).len(), 4);
    assert!(stats(&v).iter().all(|s| s.get("node").is_none()));
}

#[test]
fn devid_and_nodes_select_nodes() {
    let sim = start_one(ClusterSpec::new("Select"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let devids = |path: &str| -> Vec<u64> {
        let v = basic_get(&agent, c, path).json();
        stats(&v)
            .iter()
            .map(|s| s["devid"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        devids("/platform/1/statistics/current?devid=2&key=node.load.1min"),
        [2]
    );
    assert_eq!(
        devids("/platform/1/statistics/current?devid=4&devid=2&key=node.load.1min"),
        [2, 4]
    );
    assert_eq!(
        devids("/platform/1/statistics/current?nodes=4&key=node.load.1min"),
        [3]
    );
    assert_eq!(
        devids("/platform/1/statistics/current?key=node.load.1min"),
        [1]
    );
    assert_eq!(
        devids("/platform/1/statistics/current?devid=0&key=node.load.1min"),
        [1]
    );
    assert_eq!(
        devids("/platform/1/statistics/current?devid=3&key=cluster.health"),
        [0]
    );
    let bad = basic_get(
        &agent,
        c,
        "/platform/1/statistics/current?devid=9&key=node.load.1min",
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["errors"][0]["code"], "AEC_BAD_REQUEST");
}

#[test]
fn values_match_expected_for_every_example_key() {
    let sim = start_one(ClusterSpec::new("ExactValues"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let keys = example_keys();
    let path = current_path(&keys);
    assert!(path.len() < MAX_TARGET, "116 keys fit one request");
    let before = now();
    let v = basic_get(&agent, c, &path).json();
    let after = now();
    let catalog = Catalog::builtin();
    let mut seen = std::collections::BTreeSet::new();
    for s in stats(&v) {
        let key = s["key"].as_str().unwrap();
        let devid = s["devid"].as_u64().unwrap() as u32;
        let time = s["time"].as_i64().unwrap();
        let info = catalog.get(key).unwrap();
        assert!(s["error_code"].is_null(), "{s}");
        assert_eq!(
            Some(&s["value"]),
            c.expected(key, devid, time).as_ref(),
            "{key} devid {devid}"
        );
        assert_eq!(
            Some(&s["value"]),
            onefs_sim::expected("ExactValues", key, devid, time).as_ref(),
            "{key} devid {devid}"
        );
        assert!(
            (answer_time(info, before)..=answer_time(info, after)).contains(&time),
            "{key}: time {time}"
        );
        if let Some(i) = info.update_interval() {
            assert_eq!(
                time % i64::from(i),
                0,
                "{key}: time {time} is not a bucket start"
            );
        }
        let expected_entries = if info.scope == Scope::Cluster { 1 } else { 4 };
        assert_eq!(entries_for(&v, key).len(), expected_entries, "{key}");
        seen.insert(key.to_string());
    }
    assert_eq!(seen.len(), 116);
}

#[test]
fn expected_values_also_come_from_the_control_endpoint() {
    let sim = start_one(ClusterSpec::new("Control"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(&agent, c, &current_path(&["node.memory.used"])).json();
    let s = &stats(&v)[1];
    let url = format!(
        "{}/sim/expected?key=node.memory.used&devid={}&time={}",
        c.url(),
        s["devid"],
        s["time"]
    );
    let e = crate::util::get(&agent, &url, &[]).json();
    assert_eq!(e["value"], s["value"]);
}

#[test]
fn answer_time_is_the_bucket_start_of_the_key_interval() {
    let sim = start_one(ClusterSpec::new("Buckets"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(
        &agent,
        c,
        &current_path(&[
            "ifs.bytes.used",
            "cluster.health",
            "node.ifs.heat.read.total",
            "cluster.cpu.idle.avg",
        ]),
    )
    .json();
    let time_of = |key: &str| entries_for(&v, key)[0]["time"].as_i64().unwrap();
    assert_eq!(time_of("ifs.bytes.used") % 30, 0);
    assert_eq!(time_of("cluster.health") % 10, 0);
    assert_eq!(time_of("node.ifs.heat.read.total") % 15, 0);
    assert_eq!(time_of("cluster.cpu.idle.avg") % 5, 0);
}

#[test]
fn unknown_key_answers_not_present() {
    let sim = start_one(ClusterSpec::new("Errors"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(&agent, c, &current_path(&["no.such.key", "cluster.health"])).json();
    let e = entries_for(&v, "no.such.key");
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0]["devid"].as_u64(), e[0]["error_code"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(e[0]["error"].is_string() && e[0]["value"].is_null());
    assert_eq!(entries_for(&v, "cluster.health").len(), 1);
}

#[test]
fn not_present_keys_answer_error_code_1() {
    let sim = start_one(
        ClusterSpec::new("Errors")
            .with_not_present("node.open.files")
            .with_not_present("cluster.health"),
    );
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(
        &agent,
        c,
        &current_path(&["node.open.files", "cluster.health", "node.load.1min"]),
    )
    .json();
    for key in ["node.open.files", "cluster.health"] {
        for e in entries_for(&v, key) {
            assert_eq!(e["error_code"], 1, "{e}");
            assert!(e["value"].is_null());
        }
        assert_eq!(
            c.expected(key, if key.starts_with("node") { 1 } else { 0 }, now()),
            Some(Value::Null)
        );
    }
    assert!(entries_for(&v, "node.load.1min")
        .iter()
        .all(|e| e["error_code"].is_null()));
}

#[test]
fn key_errors_answer_their_code_and_degraded_keeps_the_value() {
    let spec = ClusterSpec::new("Codes")
        .with_key_error("node.load.5min", 9)
        .with_key_error("cluster.health", 4)
        .with_key_error("node.load.15min", 3);
    let sim = start_one(spec);
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    c.faults().set_key_error("ifs.bytes.used", Some(10));
    let v = basic_get(
        &agent,
        c,
        &current_path(&[
            "node.load.5min",
            "cluster.health",
            "node.load.15min",
            "ifs.bytes.used",
        ]),
    )
    .json();
    for (key, code) in [
        ("node.load.5min", 9),
        ("cluster.health", 4),
        ("ifs.bytes.used", 10),
    ] {
        for e in entries_for(&v, key) {
            assert_eq!(
                (e["error_code"].as_u64(), e["value"].is_null()),
                (Some(code), true),
                "{e}"
            );
            assert_eq!(e["error"], onefs_sim::error_string(code as u32));
        }
    }
    for e in entries_for(&v, "node.load.15min") {
        assert_eq!(e["error_code"], 3);
        assert!(e["value"].is_i64());
        let (devid, time) = (
            e["devid"].as_u64().unwrap() as u32,
            e["time"].as_i64().unwrap(),
        );
        assert_eq!(
            Some(&e["value"]),
            c.expected("node.load.15min", devid, time).as_ref()
        );
    }
    c.faults().set_key_error("ifs.bytes.used", None);
    let v = basic_get(&agent, c, &current_path(&["ifs.bytes.used"])).json();
    assert!(stats(&v)[0]["error_code"].is_null());
}

#[test]
fn degraded_node_keeps_its_value_with_error_code_3() {
    let sim = start_one(ClusterSpec::new("Degraded").with_degraded_devid(2));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(
        &agent,
        c,
        &current_path(&["node.load.1min", "cluster.cpu.idle.avg"]),
    )
    .json();
    for e in entries_for(&v, "node.load.1min") {
        let degraded = e["devid"] == 2;
        assert_eq!(e["error_code"].as_u64(), degraded.then_some(3), "{e}");
        assert!(e["value"].is_i64());
    }
    assert!(entries_for(&v, "cluster.cpu.idle.avg")[0]["error_code"].is_null());
    let strict = basic_get(
        &agent,
        c,
        "/platform/1/statistics/current?devid=all&key=node.load.1min",
    );
    assert_eq!(
        strict.status, 500,
        "without degraded=true a degraded node fails the request"
    );
    c.faults().set_degraded(None);
    let v = basic_get(&agent, c, &current_path(&["node.load.1min"])).json();
    assert!(stats(&v).iter().all(|e| e["error_code"].is_null()));
}

#[test]
fn protostats_lists_include_change_notify_rows() {
    let sim = start_one(ClusterSpec::new("Proto"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(
        &agent,
        c,
        &current_path(&[
            "cluster.protostats.smb2",
            "cluster.protostats.smb2.total",
            "cluster.protostats.irp",
        ]),
    )
    .json();
    let rows = entries_for(&v, "cluster.protostats.smb2")[0]["value"]
        .as_array()
        .unwrap()
        .clone();
    assert!(rows.len() >= 5);
    assert!(rows.iter().any(|r| r["op_name"] == "change_notify"));
    for r in &rows {
        for field in [
            "op_id",
            "op_name",
            "class_name",
            "op_count",
            "op_rate",
            "in_rate",
            "in_min",
            "in_max",
            "in_std_dev",
            "out_rate",
            "out_min",
            "out_max",
            "out_std_dev",
            "time_avg",
            "time_min",
            "time_max",
            "time_std_dev",
        ] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
    }
    let irp = entries_for(&v, "cluster.protostats.irp")[0]["value"]
        .as_array()
        .unwrap()
        .clone();
    assert!(irp.iter().any(|r| r["op_name"] == "read_directory_change"));
    let total = &entries_for(&v, "cluster.protostats.smb2.total")[0]["value"];
    assert_eq!(total.as_array().unwrap().len(), 1);
    assert!(total[0].get("op_name").is_none() && total[0]["op_rate"].is_number());
}

#[test]
fn cache_value_is_a_record_of_growing_counters() {
    let sim = start_one(ClusterSpec::new("Cache"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(&agent, c, &current_path(&["node.ifs.cache"])).json();
    let e = &stats(&v)[0];
    let record = e["value"].as_object().unwrap();
    for pair in [
        "l1_data_read",
        "l1_meta_read",
        "l2_data_read",
        "l2_meta_read",
        "l3_data_read",
        "l3_meta_read",
        "l1_data_prefetch",
    ] {
        let (hit, start) = (
            record[&format!("{pair}_hit")].as_u64().unwrap(),
            record[&format!("{pair}_start")].as_u64().unwrap(),
        );
        assert!(hit <= start && start > 0, "{pair}");
    }
    let (devid, time) = (
        e["devid"].as_u64().unwrap() as u32,
        e["time"].as_i64().unwrap(),
    );
    let later = c.expected("node.ifs.cache", devid, time + 60).unwrap();
    assert!(later["l1_data_read_start"].as_u64() > record["l1_data_read_start"].as_u64());
}

#[test]
fn client_stats_are_lists_with_nested_lists() {
    let sim = start_one(ClusterSpec::new("Clients"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(&agent, c, &current_path(&["node.clientstats.proto.nfs"])).json();
    assert_eq!(stats(&v).len(), 4);
    for e in stats(&v) {
        for client in e["value"].as_array().unwrap() {
            assert!(client["remote_addr"].is_string() && client["local_addr"].is_string());
            let classes = client["op_class_values"].as_array().unwrap();
            assert!(!classes.is_empty());
            assert!(classes
                .iter()
                .all(|k| k["class_name"].is_string() && k["op_rate"].is_number()));
        }
    }
}

#[test]
fn string_keys_answer_strings() {
    let sim = start_one(ClusterSpec::new("Strings").with_nodes(3));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let v = basic_get(
        &agent,
        c,
        &current_path(&["cluster.node.list.all", "node.disk.name.0"]),
    )
    .json();
    assert_eq!(
        entries_for(&v, "cluster.node.list.all")[0]["value"],
        "1,2,4"
    );
    assert!(entries_for(&v, "node.disk.name.0")
        .iter()
        .all(|e| e["value"].is_string()));
}

#[test]
fn rates_and_percentages_stay_plausible() {
    let sim = start_one(ClusterSpec::new("Ranges"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let keys = [
        "cluster.cpu.idle.avg",
        "cluster.cpu.user.avg",
        "cluster.cpu.sys.avg",
        "cluster.cpu.intr.avg",
        "ifs.percent.used",
        "ifs.percent.free",
        "node.disk.busy.avg",
        "cluster.net.ext.bytes.in.rate",
    ];
    let v = basic_get(&agent, c, &current_path(&keys)).json();
    let num = |key: &str| entries_for(&v, key)[0]["value"].as_f64().unwrap();
    let cpu: f64 = ["idle", "user", "sys", "intr"]
        .iter()
        .map(|p| num(&format!("cluster.cpu.{p}.avg")))
        .sum();
    assert!((900.0..=1000.0).contains(&cpu), "{cpu}");
    assert!((0.0..=100.0).contains(&num("ifs.percent.used")));
    assert!((num("ifs.percent.used") + num("ifs.percent.free") - 100.0).abs() < 0.01);
    assert!((0.0..=1000.0).contains(&num("node.disk.busy.avg")));
    assert!(num("cluster.net.ext.bytes.in.rate") > 0.0);
}

#[test]
fn reference_catalog_answers_every_key() {
    let catalog = Arc::new(Catalog::load(reference_catalog()).unwrap());
    let config = SimConfig {
        catalog: catalog.clone(),
        ..SimConfig::default()
    };
    let sim = start(config.cluster(ClusterSpec::new("Reference").with_nodes(2)));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let all: Vec<&str> = catalog.keys().iter().map(|k| k.key.as_str()).collect();
    let mut answered = 0;
    let mut batch: Vec<&str> = Vec::new();
    let mut flush = |batch: &mut Vec<&str>| {
        if batch.is_empty() {
            return;
        }
        let path = current_path(batch);
        assert!(path.len() <= MAX_TARGET);
        let r = basic_get(&agent, c, &path);
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        for key in batch.iter() {
            let info = catalog.get(key).unwrap();
            let entries = entries_for(&v, key);
            assert_eq!(
                entries.len(),
                if info.scope == Scope::Cluster { 1 } else { 2 },
                "{key}"
            );
            for e in entries {
                let shape_ok = match info.type_name.as_str() {
                    "invalid" => e["error_code"] == 1,
                    "string" => e["value"].is_string(),
                    "int32" | "int64" | "uint64" => e["value"].is_i64() || e["value"].is_u64(),
                    "double" => e["value"].is_number(),
                    _ => e["value"].is_array() || e["value"].is_object(),
                };
                assert!(shape_ok, "{key} ({}): {e}", info.type_name);
            }
            answered += 1;
        }
        batch.clear();
    };
    for key in all {
        if current_path(&batch).len() + key.len() + 5 > MAX_TARGET {
            flush(&mut batch);
        }
        batch.push(key);
    }
    flush(&mut batch);
    assert_eq!(answered, 604);
}
