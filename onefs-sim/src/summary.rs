//! Rows of `/platform/3/statistics/summary/{protocol,client,drive}`, with the field names
//! of the OneFS 9.11 schemas.
//!
//! Row `r` of a summary belongs to node `r % nodes` (in devid order), so rows spread
//! over the nodes; its numbers are a pure function of (cluster, summary name, devid,
//! field, row, 5 s bucket) like every other value. Each row's `time` is the bucket
//! start. This file builds rows only; `api` wraps them in `{"protocol":[...]}` etc.

use serde_json::{Map, Value};

use crate::ops::{self, CLASSES, SUMMARY_PROTOCOLS};
use crate::shapes::op_numbers;
use crate::values::{round3, ClusterView, Gen};

/// Which summary endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SummaryKind {
    /// `/platform/3/statistics/summary/protocol`: per node, protocol, class and operation.
    Protocol,
    /// `/platform/3/statistics/summary/client`: per client and protocol.
    Client,
    /// `/platform/3/statistics/summary/drive`: per drive.
    Drive,
}

/// Summary values change in buckets of this many seconds.
pub const SUMMARY_INTERVAL: u32 = 5;

impl SummaryKind {
    /// The endpoint's last path segment and the answer's top-level field.
    pub fn name(self) -> &'static str {
        match self {
            SummaryKind::Protocol => "protocol",
            SummaryKind::Client => "client",
            SummaryKind::Drive => "drive",
        }
    }

    /// The kind for an endpoint segment, if supported.
    pub fn from_name(name: &str) -> Option<SummaryKind> {
        match name {
            "protocol" => Some(SummaryKind::Protocol),
            "client" => Some(SummaryKind::Client),
            "drive" => Some(SummaryKind::Drive),
            _ => None,
        }
    }
}

/// The `rows` rows of a summary at `time` (any second of the bucket).
pub(crate) fn rows(view: &ClusterView, kind: SummaryKind, rows: usize, time: i64) -> Vec<Value> {
    if view.devices.is_empty() {
        return Vec::new();
    }
    let key = match kind {
        SummaryKind::Protocol => "node.summary.protocol",
        SummaryKind::Client => "node.summary.client",
        SummaryKind::Drive => "node.summary.drive",
    };
    (0..rows)
        .map(|r| {
            let (devid, lnn) = view.devices[r % view.devices.len()];
            let g = Gen::new(view.name, key, devid, time, SUMMARY_INTERVAL);
            let per_node = (r / view.devices.len()) as u32;
            let mut m = match kind {
                SummaryKind::Protocol => protocol_row(&g, per_node),
                SummaryKind::Client => client_row(&g, per_node, lnn),
                SummaryKind::Drive => drive_row(&g, per_node, lnn),
            };
            if kind != SummaryKind::Drive {
                m.insert("node".into(), lnn.into());
            }
            m.insert("time".into(), g.t.into());
            Value::Object(m)
        })
        .collect()
}

fn protocol_row(g: &Gen, i: u32) -> Map<String, Value> {
    let (protocol, table) = SUMMARY_PROTOCOLS[i as usize % SUMMARY_PROTOCOLS.len()];
    let ops = ops::ops_for(table);
    let op = ops[(i as usize / SUMMARY_PROTOCOLS.len()) % ops.len()];
    let n = op_numbers(g, op, i);
    let mut m = Map::new();
    m.insert("class".into(), op.class.into());
    m.insert("in".into(), n.in_rate.into());
    m.insert("in_avg".into(), n.in_avg.into());
    m.insert("in_max".into(), n.in_max.into());
    m.insert("in_min".into(), n.in_min.into());
    m.insert(
        "in_standard_dev".into(),
        round3((n.in_max - n.in_min) / 4.0).into(),
    );
    m.insert("operation".into(), op.name.into());
    m.insert("operation_count".into(), n.op_count.into());
    m.insert("operation_rate".into(), n.op_rate.into());
    m.insert("out".into(), n.out_rate.into());
    m.insert("out_avg".into(), n.out_avg.into());
    m.insert("out_max".into(), n.out_max.into());
    m.insert("out_min".into(), n.out_min.into());
    m.insert(
        "out_standard_dev".into(),
        round3((n.out_max - n.out_min) / 4.0).into(),
    );
    m.insert("protocol".into(), protocol.into());
    m.insert("time_avg".into(), n.time_avg.into());
    m.insert("time_max".into(), n.time_max.into());
    m.insert("time_min".into(), n.time_min.into());
    m.insert(
        "time_standard_dev".into(),
        round3((n.time_max - n.time_min) / 5.0).into(),
    );
    m
}

fn client_row(g: &Gen, i: u32, lnn: u32) -> Map<String, Value> {
    let (protocol, _) = SUMMARY_PROTOCOLS[i as usize % 4];
    let class = CLASSES[(g.fixed("class", i) * CLASSES.len() as f64) as usize];
    let n = op_numbers(g, ops::Op { name: class, class }, i);
    let net = g.with_key("net").seed("net", 0) % 200 + 10;
    let uid = 2000 + (g.fixed("uid", i) * 500.0) as u64;
    let mut user = Map::new();
    user.insert("id".into(), format!("UID:{uid}").into());
    user.insert("name".into(), format!("user{uid}").into());
    user.insert("type".into(), "user".into());
    let mut m = Map::new();
    m.insert("class".into(), class.into());
    m.insert("in".into(), n.in_rate.into());
    m.insert("in_avg".into(), n.in_avg.into());
    m.insert("in_max".into(), n.in_max.into());
    m.insert("in_min".into(), n.in_min.into());
    m.insert(
        "local_addr".into(),
        format!("10.{net}.0.{}", 10 + lnn).into(),
    );
    m.insert("local_name".into(), format!("node{lnn}.sim.example").into());
    m.insert("num_operations".into(), n.op_count.into());
    m.insert("operation_rate".into(), n.op_rate.into());
    m.insert("out".into(), n.out_rate.into());
    m.insert("out_avg".into(), n.out_avg.into());
    m.insert("out_max".into(), n.out_max.into());
    m.insert("out_min".into(), n.out_min.into());
    m.insert("protocol".into(), protocol.into());
    m.insert(
        "remote_addr".into(),
        format!("192.168.{net}.{}", 20 + i).into(),
    );
    m.insert(
        "remote_name".into(),
        format!("client{}.sim.example", 20 + i).into(),
    );
    m.insert("time_avg".into(), n.time_avg.into());
    m.insert("time_max".into(), n.time_max.into());
    m.insert("time_min".into(), n.time_min.into());
    m.insert("user".into(), Value::Object(user));
    m
}

fn drive_row(g: &Gen, bay: u32, lnn: u32) -> Map<String, Value> {
    let ssd = bay < 2;
    let level = |f: &str, lo: f64, hi: f64| g.level(f, bay, lo, hi);
    let xfers_in = round3(level("xfers_in", 5.0, 300.0));
    let xfers_out = round3(level("xfers_out", 5.0, 400.0));
    let size_in = level("xfer_size_in", 4096.0, 131_072.0).floor();
    let size_out = level("xfer_size_out", 4096.0, 131_072.0).floor();
    let mut m = Map::new();
    m.insert(
        "access_latency".into(),
        round3(level("access_latency", 0.2, 20.0)).into(),
    );
    m.insert(
        "access_slow".into(),
        round3(level("access_slow", -2.0, 1.0).max(0.0)).into(),
    );
    m.insert("busy".into(), round3(level("busy", 1.0, 85.0)).into());
    m.insert("bytes_in".into(), round3(xfers_in * size_in).into());
    m.insert("bytes_out".into(), round3(xfers_out * size_out).into());
    m.insert("drive_id".into(), format!("{lnn}:{}", bay + 1).into());
    m.insert(
        "iosched_latency".into(),
        round3(level("iosched_latency", 0.1, 15.0)).into(),
    );
    m.insert(
        "iosched_queue".into(),
        round3(level("iosched_queue", 0.0, 8.0)).into(),
    );
    m.insert("type".into(), if ssd { "SSD" } else { "SATA" }.into());
    m.insert(
        "used_bytes_percent".into(),
        round3(level("used_bytes_percent", 20.0, 85.0)).into(),
    );
    m.insert(
        "used_inodes".into(),
        level("used_inodes", 1.0e5, 5.0e7).floor().into(),
    );
    m.insert("xfer_size_in".into(), size_in.into());
    m.insert("xfer_size_out".into(), size_out.into());
    m.insert("xfers_in".into(), xfers_in.into());
    m.insert("xfers_out".into(), xfers_out.into());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> (String, Vec<(u32, u32)>) {
        ("Sum".to_string(), crate::config::default_devices(4))
    }

    #[test]
    fn rows_have_schema_fields_and_spread_over_nodes() {
        let (name, devices) = view();
        let v = ClusterView {
            name: &name,
            devices: &devices,
        };
        let rows = rows(&v, SummaryKind::Protocol, 10, 1_750_000_003);
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[0]["time"], 1_750_000_000);
        let nodes: std::collections::BTreeSet<u64> =
            rows.iter().map(|r| r["node"].as_u64().unwrap()).collect();
        assert_eq!(nodes.len(), 4);
        for f in [
            "class",
            "operation",
            "protocol",
            "operation_count",
            "in_standard_dev",
            "time_standard_dev",
        ] {
            assert!(rows[3].get(f).is_some(), "{f}");
        }
        let client = &rows_of(SummaryKind::Client)[0];
        assert_eq!(client["user"]["type"], "user");
        let drive = &rows_of(SummaryKind::Drive)[5];
        assert!(drive["drive_id"].as_str().unwrap().contains(':'));
        assert!(drive.get("node").is_none());
    }

    fn rows_of(kind: SummaryKind) -> Vec<Value> {
        let (name, devices) = view();
        rows(
            &ClusterView {
                name: &name,
                devices: &devices,
            },
            kind,
            8,
            1_750_000_000,
        )
    }
}
