//! Values that are lists or records: per-operation protocol stats, the cache counters
//! of `node.ifs.cache`, per-client stats (lists with nested lists), heat lists, per-drive
//! lists, strings, and a generic record for the other structured key types.
//!
//! Every number comes from [`Gen`], so these shapes are as deterministic as scalars.
//! Field sets follow what collectors read: protostats rows carry `op_id`, `op_name`,
//! `class_name`, `op_count`, `op_rate`, `in_*`, `out_*` and `time_*` (latencies in
//! microseconds); `.total` keys carry one record without names.

use serde_json::{Map, Value};

use crate::ops::{self, Op, CLASSES, MEANINGLESS_LATENCY_OPS};
use crate::values::{round3, round_for, ClusterView, Gen};

/// `{scope}.protostats.{proto}` (one record per operation present in this bucket) or
/// `{scope}.protostats.{proto}.total` (a list of one record summing them).
pub(crate) fn protostats(g: &Gen) -> Value {
    let (base, total) = match g.key.strip_suffix(".total") {
        Some(base) => (base, true),
        None => (g.key, false),
    };
    let proto = base.rsplit('.').next().unwrap_or("");
    let g = g.with_key(base);
    let table = ops::ops_for(proto);
    let rows: Vec<(usize, OpNumbers)> = (0..table.len())
        .filter(|&i| ops::always_present(table, i) || g.noise("present", i as u32) >= 0.15)
        .map(|i| (i, op_numbers(&g, table[i], i as u32)))
        .collect();
    if total {
        let counted: Vec<&OpNumbers> = rows
            .iter()
            .filter(|(i, _)| !MEANINGLESS_LATENCY_OPS.contains(&table[*i].name))
            .map(|(_, n)| n)
            .collect();
        return Value::Array(vec![Value::Object(totals(&counted))]);
    }
    let list = rows
        .into_iter()
        .map(|(i, n)| {
            let mut m = n.fields();
            m.insert("class_name".into(), table[i].class.into());
            m.insert("op_id".into(), (i as u64).into());
            m.insert("op_name".into(), table[i].name.into());
            Value::Object(m)
        })
        .collect();
    Value::Array(list)
}

/// The numbers of one protocol operation over one bucket.
#[derive(Clone, Copy)]
pub(crate) struct OpNumbers {
    pub op_count: u64,
    pub op_rate: f64,
    pub in_rate: f64,
    pub in_min: f64,
    pub in_max: f64,
    pub in_avg: f64,
    pub out_rate: f64,
    pub out_min: f64,
    pub out_max: f64,
    pub out_avg: f64,
    pub time_avg: f64,
    pub time_min: f64,
    pub time_max: f64,
}

impl OpNumbers {
    /// The protostats field set (without names).
    fn fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("in_max".into(), self.in_max.into());
        m.insert("in_min".into(), self.in_min.into());
        m.insert("in_rate".into(), self.in_rate.into());
        m.insert(
            "in_std_dev".into(),
            round3((self.in_max - self.in_min) / 4.0).into(),
        );
        m.insert("op_count".into(), self.op_count.into());
        m.insert("op_rate".into(), self.op_rate.into());
        m.insert("out_max".into(), self.out_max.into());
        m.insert("out_min".into(), self.out_min.into());
        m.insert("out_rate".into(), self.out_rate.into());
        m.insert(
            "out_std_dev".into(),
            round3((self.out_max - self.out_min) / 4.0).into(),
        );
        m.insert("time_avg".into(), self.time_avg.into());
        m.insert("time_max".into(), self.time_max.into());
        m.insert("time_min".into(), self.time_min.into());
        m.insert(
            "time_std_dev".into(),
            round3((self.time_max - self.time_min) / 5.0).into(),
        );
        m
    }
}

/// Rates, sizes and latencies of one operation; shared with the summaries.
pub(crate) fn op_numbers(g: &Gen, op: Op, row: u32) -> OpNumbers {
    let weight = 0.05 + 0.95 * g.fixed("weight", row).powi(2);
    let op_rate = round3(g.level("op_rate", row, 1.0, 3000.0) * weight);
    let (in_lo, in_hi, out_lo, out_hi) = match op.class {
        "write" => (4096.0, 131_072.0, 80.0, 200.0),
        "read" => (100.0, 240.0, 4096.0, 131_072.0),
        _ => (80.0, 400.0, 90.0, 600.0),
    };
    let in_avg = g.level("in_avg", row, in_lo, in_hi).floor();
    let out_avg = g.level("out_avg", row, out_lo, out_hi).floor();
    let meaningless = MEANINGLESS_LATENCY_OPS.contains(&op.name);
    let time_avg = if meaningless {
        round3(g.level("time_avg", row, 5.0e7, 9.0e8))
    } else {
        round3(g.level("time_avg", row, 80.0, 15_000.0))
    };
    OpNumbers {
        op_count: (op_rate * g.interval as f64).round() as u64,
        op_rate,
        in_rate: round3(op_rate * in_avg),
        in_min: (in_avg * (0.05 + 0.45 * g.fixed("in_min", row))).floor(),
        in_max: (in_avg * (1.5 + 2.5 * g.fixed("in_max", row))).floor(),
        in_avg,
        out_rate: round3(op_rate * out_avg),
        out_min: (out_avg * (0.05 + 0.45 * g.fixed("out_min", row))).floor(),
        out_max: (out_avg * (1.5 + 2.5 * g.fixed("out_max", row))).floor(),
        out_avg,
        time_avg,
        time_min: round3(time_avg * (0.05 + 0.35 * g.fixed("time_min", row))),
        time_max: round3(time_avg * (2.0 + 18.0 * g.noise("time_max", row))),
    }
}

fn totals(rows: &[&OpNumbers]) -> Map<String, Value> {
    let sum = |f: fn(&OpNumbers) -> f64| rows.iter().map(|r| f(r)).sum::<f64>();
    let min = |f: fn(&OpNumbers) -> f64| rows.iter().map(|r| f(r)).fold(f64::INFINITY, f64::min);
    let max = |f: fn(&OpNumbers) -> f64| rows.iter().map(|r| f(r)).fold(0.0, f64::max);
    let op_rate = sum(|r| r.op_rate);
    let weighted = sum(|r| r.time_avg * r.op_rate);
    let total = OpNumbers {
        op_count: rows.iter().map(|r| r.op_count).sum(),
        op_rate: round3(op_rate),
        in_rate: round3(sum(|r| r.in_rate)),
        in_min: min(|r| r.in_min),
        in_max: max(|r| r.in_max),
        in_avg: 0.0,
        out_rate: round3(sum(|r| r.out_rate)),
        out_min: min(|r| r.out_min),
        out_max: max(|r| r.out_max),
        out_avg: 0.0,
        time_avg: if op_rate > 0.0 {
            round3(weighted / op_rate)
        } else {
            0.0
        },
        time_min: min(|r| r.time_min),
        time_max: max(|r| r.time_max),
    };
    total.fields()
}

/// `node.ifs.cache`: cumulative L1/L2/L3 cache counters plus the oldest page's age.
pub(crate) fn cache(g: &Gen) -> Value {
    let mut m = Map::new();
    let mut put = |name: String, x: f64| {
        m.insert(name, Value::from(x as u64));
    };
    let levels: [(&str, f64); 3] = [("l1", 20_000.0), ("l2", 6_000.0), ("l3", 1_500.0)];
    for (level, rate) in levels {
        for (kind, share) in [("data", 1.0), ("meta", 0.5)] {
            let prefix = format!("{level}_{kind}");
            let mut reads = vec!["read"];
            if level == "l1" && kind == "data" {
                reads.push("aread");
            }
            for read in reads {
                let start = g.counter(
                    &format!("{prefix}_{read}_start"),
                    0,
                    rate * share * 0.1,
                    rate * share,
                );
                let hit =
                    (start * (0.3 + 0.65 * g.fixed(&format!("{prefix}_{read}_hit"), 0))).floor();
                put(format!("{prefix}_{read}_start"), start);
                put(format!("{prefix}_{read}_hit"), hit);
                put(format!("{prefix}_{read}_miss"), start - hit);
                put(
                    format!("{prefix}_{read}_wait"),
                    (start * 0.02 * g.fixed(&format!("{prefix}_{read}_wait"), 0)).floor(),
                );
            }
            let pstart = g.counter(
                &format!("{prefix}_prefetch_start"),
                0,
                rate * share * 0.05,
                rate * share * 0.5,
            );
            let phit =
                (pstart * (0.5 + 0.45 * g.fixed(&format!("{prefix}_prefetch_hit"), 0))).floor();
            put(format!("{prefix}_prefetch_start"), pstart);
            put(format!("{prefix}_prefetch_hit"), phit);
            if kind == "data" && level != "l3" {
                put(format!("{level}_prefetch_miss"), pstart - phit);
            }
        }
    }
    put(
        "oldest_page_age".into(),
        g.level("oldest_page_age", 0, 60.0, 7200.0).floor(),
    );
    Value::Object(m)
}

/// `node.clientstats.proto.*`: one record per client, each with a nested list of
/// per-class records (`op_class_values`).
pub(crate) fn client_list(g: &Gen, view: &ClusterView) -> Value {
    let proto = g.key.rsplit('.').next().unwrap_or("");
    let clients = 1 + (g.level("clients", 0, 0.0, 6.0) as u32);
    let net = 10 + g.with_key("net").seed("net", 0) % 200;
    let lnn = view
        .devices
        .iter()
        .find(|d| d.0 == g.devid)
        .map_or(g.devid, |d| d.1);
    let list = (0..clients)
        .map(|c| {
            let first = (g.fixed("first_class", c) * CLASSES.len() as f64) as usize;
            let count = 1 + (g.fixed("class_count", c) * 4.0) as usize;
            let classes = (0..count)
                .map(|k| {
                    let class = CLASSES[(first + k) % CLASSES.len()];
                    let row = c * 16 + k as u32;
                    let n = op_numbers(g, Op { name: class, class }, row);
                    let mut m = Map::new();
                    m.insert("class_name".into(), class.into());
                    m.insert("in_max".into(), n.in_max.into());
                    m.insert("in_min".into(), n.in_min.into());
                    m.insert("in_rate".into(), n.in_rate.into());
                    m.insert("op_count".into(), n.op_count.into());
                    m.insert("op_rate".into(), n.op_rate.into());
                    m.insert("out_max".into(), n.out_max.into());
                    m.insert("out_min".into(), n.out_min.into());
                    m.insert("out_rate".into(), n.out_rate.into());
                    m.insert("time_avg".into(), n.time_avg.into());
                    m.insert("time_max".into(), n.time_max.into());
                    m.insert("time_min".into(), n.time_min.into());
                    Value::Object(m)
                })
                .collect();
            let mut m = Map::new();
            m.insert("client_id".into(), (1000 + u64::from(c)).into());
            m.insert(
                "local_addr".into(),
                format!("10.{net}.0.{}", 10 + lnn).into(),
            );
            m.insert("op_class_values".into(), Value::Array(classes));
            m.insert("protocol".into(), proto.into());
            m.insert(
                "remote_addr".into(),
                format!("192.168.{}.{}", net, 20 + c).into(),
            );
            Value::Object(m)
        })
        .collect();
    Value::Array(list)
}

/// `node.ifs.heat.*`: the hottest files, with their event rate.
pub(crate) fn heat_list(g: &Gen) -> Value {
    let rows = 3 + (g.fixed("rows", 0) * 5.0) as u32;
    let top = g.level("op_rate", 0, 50.0, 2000.0);
    let list = (0..rows)
        .map(|r| {
            let path = if r == 0 {
                "SYSTEM (0x0)".to_string()
            } else {
                format!("/ifs/data/project{}/file{r}.dat", g.seed("dir", r) % 40)
            };
            let mut m = Map::new();
            m.insert(
                "lin".into(),
                format!("1:{:04x}:{:04x}", g.seed("lin", r) % 0xffff, r).into(),
            );
            m.insert("op_rate".into(), round3(top / f64::from(r + 1)).into());
            m.insert("path".into(), path.into());
            Value::Object(m)
        })
        .collect();
    Value::Array(list)
}

/// `node.disk.*.all`: one record per drive, `drive_id` as `LNN:BAY`; the range follows
/// the key name (busy in permil, bytes per second, latencies in seconds, sizes,
/// inodes, else transfers per second).
pub(crate) fn disk_list(g: &Gen, view: &ClusterView) -> Value {
    let lnn = view
        .devices
        .iter()
        .find(|d| d.0 == g.devid)
        .map_or(g.devid, |d| d.1);
    let drives = 6 + (g.with_key("drives").seed("count", 0) % 7) as u32;
    let key = g.key;
    let (lo, hi, int, units) = if key.contains(".busy.") {
        (20.0, 700.0, true, "permil")
    } else if key.contains(".latency.") {
        (0.0002, 0.02, false, "seconds")
    } else if key.contains(".bytes.") && key.contains(".rate.") {
        (1.0e5, 2.0e8, false, "bytes per second")
    } else if key.contains(".xfer.size.") {
        (4096.0, 131_072.0, false, "bytes")
    } else if key.contains(".bytes.") {
        (1.0e11, 8.0e12, true, "bytes")
    } else if key.contains(".inodes.") {
        (1.0e5, 5.0e7, true, "none")
    } else {
        (1.0, 400.0, false, "operations per second")
    };
    let list = (0..drives)
        .map(|bay| {
            let x = g.level("value", bay, lo, hi);
            let mut m = Map::new();
            m.insert("drive_id".into(), format!("{lnn}:{}", bay + 1).into());
            m.insert(
                "value".into(),
                if int {
                    Value::from(x.floor() as u64)
                } else {
                    Value::from(round_for(x, units))
                },
            );
            Value::Object(m)
        })
        .collect();
    Value::Array(list)
}

/// String keys: node lists follow the layout; names get plausible text.
pub(crate) fn string_value(g: &Gen, view: &ClusterView) -> String {
    let mut lnns: Vec<u32> = view.devices.iter().map(|d| d.1).collect();
    lnns.sort_unstable();
    let all = lnns
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let key = g.key;
    let index = key
        .rsplit('.')
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    match key {
        "cluster.node.list.all" | "cluster.node.list.up" => all,
        _ if key.starts_with("cluster.node.list.") => String::new(),
        "cluster.group" => {
            format!("{{ {all}, smb: {all}, nfs: {all}, all_enabled_protocols: {all} }}")
        }
        _ if key.starts_with("node.disk.name.") => format!("Bay {}", index + 1),
        _ if key.starts_with("node.disk.type.") => {
            if index < 2 { "SSD" } else { "HDD" }.to_string()
        }
        _ if key.starts_with("node.net.iface.name.") => {
            ["mce0", "mce1", "bxe0", "lagg0"][index as usize % 4].to_string()
        }
        _ if key.ends_with(".names") => (0..4)
            .map(|i| format!("S{i}"))
            .collect::<Vec<_>>()
            .join(","),
        _ => format!("sim {key} {}", g.devid),
    }
}

/// Any other structured type: a small record of hit/miss counters and a gauge.
pub(crate) fn generic_record(g: &Gen) -> Value {
    let lookups = g.counter("lookups", 0, 100.0, 5000.0);
    let hits = (lookups * (0.5 + 0.45 * g.fixed("hits", 0))).floor();
    let mut m = Map::new();
    m.insert(
        "entries".into(),
        Value::from(g.level("entries", 0, 1000.0, 500_000.0).floor() as u64),
    );
    m.insert("hits".into(), Value::from(hits as u64));
    m.insert("lookups".into(), Value::from(lookups as u64));
    m.insert("misses".into(), Value::from((lookups - hits) as u64));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::expected;

    const T: i64 = 1_750_000_000;

    #[test]
    fn protostats_rows_have_the_collector_fields() {
        let v = expected("C", "cluster.protostats.smb2", 0, T).unwrap();
        let rows = v.as_array().unwrap();
        assert!(rows.iter().any(|r| r["op_name"] == "change_notify"));
        for r in rows {
            for f in [
                "op_id",
                "op_name",
                "class_name",
                "op_count",
                "op_rate",
                "in_rate",
                "in_min",
                "in_max",
                "out_rate",
                "time_avg",
                "time_min",
                "time_max",
            ] {
                assert!(r.get(f).is_some(), "{f} missing in {r}");
            }
            assert!(
                r["time_min"].as_f64() <= r["time_avg"].as_f64()
                    && r["time_avg"].as_f64() <= r["time_max"].as_f64()
            );
        }
    }

    #[test]
    fn protostats_total_sums_the_operations() {
        let rows = expected("C", "cluster.protostats.nfs", 0, T).unwrap();
        let total = expected("C", "cluster.protostats.nfs.total", 0, T).unwrap();
        let sum: u64 = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["op_count"].as_u64().unwrap())
            .sum();
        assert_eq!(total[0]["op_count"].as_u64(), Some(sum));
        assert!(total[0].get("op_name").is_none());
    }

    #[test]
    fn cache_hits_never_exceed_starts_and_grow() {
        let a = expected("C", "node.ifs.cache", 1, T).unwrap();
        let b = expected("C", "node.ifs.cache", 1, T + 5).unwrap();
        assert!(a["l1_data_read_hit"].as_u64() <= a["l1_data_read_start"].as_u64());
        assert!(b["l1_data_read_start"].as_u64() > a["l1_data_read_start"].as_u64());
        assert_eq!(a.as_object().unwrap().len(), 43);
    }

    #[test]
    fn client_list_nests_class_records() {
        let v = expected("C", "node.clientstats.proto.nfs", 2, T).unwrap();
        let first = &v[0];
        assert!(first["op_class_values"]
            .as_array()
            .is_some_and(|c| !c.is_empty()));
        assert!(first["remote_addr"].is_string());
    }

    #[test]
    fn node_lists_follow_layout() {
        assert_eq!(
            expected("C", "cluster.node.list.all", 0, T),
            Some(Value::from("1,2,3,4"))
        );
        assert_eq!(
            expected("C", "cluster.node.list.down", 0, T),
            Some(Value::from(""))
        );
    }
}
