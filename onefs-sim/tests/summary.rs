//! `/platform/3/statistics/summary/{protocol,client,drive}`.

use onefs_sim::{ClusterSpec, SimConfig, SummaryKind};
use serde_json::Value;

use crate::util::{agent, basic_get, start, start_one};

fn rows(v: &Value, kind: &str) -> Vec<Value> {
    v[kind]
        .as_array()
        .unwrap_or_else(|| panic!("no {kind} array in {v}"))
        .clone()
}

#[test]
fn summary_protocol_has_the_configured_rows_and_schema_fields() {
    let sim = start_one(ClusterSpec::new("Summaries").with_summary_rows(7));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let r = basic_get(
        &agent,
        c,
        "/platform/3/statistics/summary/protocol?degraded=true",
    );
    assert_eq!(r.status, 200);
    let rows = rows(&r.json(), "protocol");
    assert_eq!(rows.len(), 7);
    for row in &rows {
        for tag in ["class", "operation", "protocol"] {
            assert!(row[tag].is_string(), "{tag}: {row}");
        }
        for field in [
            "in",
            "in_avg",
            "in_max",
            "in_min",
            "in_standard_dev",
            "operation_count",
            "operation_rate",
            "out",
            "out_avg",
            "out_max",
            "out_min",
            "out_standard_dev",
            "time",
            "time_avg",
            "time_max",
            "time_min",
            "time_standard_dev",
            "node",
        ] {
            assert!(row[field].is_number(), "{field}: {row}");
        }
    }
    let lnns: std::collections::BTreeSet<u64> =
        rows.iter().map(|r| r["node"].as_u64().unwrap()).collect();
    assert_eq!(lnns.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[test]
fn summary_client_rows_carry_addresses_and_user() {
    let sim = start_one(ClusterSpec::new("Summaries"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let rows = rows(
        &basic_get(
            &agent,
            c,
            "/platform/3/statistics/summary/client?degraded=true",
        )
        .json(),
        "client",
    );
    assert_eq!(rows.len(), onefs_sim::DEFAULT_SUMMARY_ROWS);
    for row in &rows {
        for tag in [
            "class",
            "local_addr",
            "local_name",
            "protocol",
            "remote_addr",
            "remote_name",
        ] {
            assert!(row[tag].is_string(), "{tag}: {row}");
        }
        for field in [
            "in",
            "in_avg",
            "in_max",
            "in_min",
            "num_operations",
            "operation_rate",
            "out",
            "out_avg",
            "out_max",
            "out_min",
            "time_avg",
            "time_max",
            "time_min",
            "node",
            "time",
        ] {
            assert!(row[field].is_number(), "{field}: {row}");
        }
        assert!(
            row["user"]["id"].is_string()
                && row["user"]["name"].is_string()
                && row["user"]["type"].is_string()
        );
    }
}

#[test]
fn summary_drive_rows_have_drive_ids_and_types() {
    let sim = start_one(
        ClusterSpec::new("Summaries")
            .with_nodes(2)
            .with_summary_rows(6),
    );
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let rows = rows(
        &basic_get(
            &agent,
            c,
            "/platform/3/statistics/summary/drive?degraded=true",
        )
        .json(),
        "drive",
    );
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["drive_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1:1", "2:1", "1:2", "2:2", "1:3", "2:3"]);
    for row in &rows {
        assert!(row["type"].is_string());
        for field in [
            "access_latency",
            "access_slow",
            "busy",
            "bytes_in",
            "bytes_out",
            "iosched_latency",
            "iosched_queue",
            "used_bytes_percent",
            "used_inodes",
            "xfer_size_in",
            "xfer_size_out",
            "xfers_in",
            "xfers_out",
            "time",
        ] {
            assert!(row[field].is_number(), "{field}: {row}");
        }
    }
}

#[test]
fn summary_rows_match_expected_summary() {
    let sim = start(SimConfig::default().cluster(ClusterSpec::new("Summaries")));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    for kind in [
        SummaryKind::Protocol,
        SummaryKind::Client,
        SummaryKind::Drive,
    ] {
        let v = basic_get(
            &agent,
            c,
            &format!("/platform/3/statistics/summary/{}", kind.name()),
        )
        .json();
        let rows = rows(&v, kind.name());
        let time = rows[0]["time"].as_i64().unwrap();
        assert_eq!(time % 5, 0);
        assert_eq!(rows, c.expected_summary(kind, time), "{}", kind.name());
    }
}

#[test]
fn zero_summary_rows_is_an_empty_list() {
    let sim = start_one(ClusterSpec::new("Summaries").with_summary_rows(0));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    assert!(rows(
        &basic_get(&agent, c, "/platform/3/statistics/summary/drive").json(),
        "drive"
    )
    .is_empty());
}
