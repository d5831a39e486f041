//! Deterministic values: every number the simulator answers is a pure function of
//! (cluster, key, devid, field, row, time bucket).
//!
//! The time bucket of a key is its update interval (5 s for keys without one): a
//! value stays the same for a whole bucket and the answer's `time` is the bucket
//! start (see [`answer_time`]). Numbers come from a stable hash (FNV-1a plus a
//! SplitMix64 finaliser) and only use `+ - * /` and rounding, so they are identical on
//! every platform and in every process. Gauges drift smoothly between knots ten
//! minutes apart with a little per-bucket noise; counters grow with time since the
//! node's (simulated) boot; rates and percentages stay inside ranges chosen per unit.
//! Doubles are rounded to 3 decimals (6 for seconds), so they survive a JSON round
//! trip exactly.
//!
//! This file owns scalar keys and the dispatch by type; list and record shapes are in
//! `shapes`, summary rows in `summary`. It knows nothing of HTTP or errors.

use serde_json::Value;

use crate::catalog::{Catalog, KeyInfo, Scope};
use crate::shapes;

/// What a value may depend on besides key, devid and time: the cluster's name and its
/// (devid, LNN) pairs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClusterView<'a> {
    pub name: &'a str,
    pub devices: &'a [(u32, u32)],
}

/// The `time` of an answer for `key` at wall-clock second `now`: the start of the
/// key's update-interval bucket, `now - now % interval`; `now` itself for keys
/// without an update interval (their values still change in 5 s buckets).
pub fn answer_time(info: &KeyInfo, now: i64) -> i64 {
    match info.update_interval() {
        Some(i) => now - now.rem_euclid(i64::from(i)),
        None => now,
    }
}

/// The `value` that `/platform/1/statistics/current` answers for `key` and `devid` at
/// answer time `time`, for a cluster named `cluster` with the default node layout and
/// the built-in catalog.
///
/// `None` when the key is not in the built-in catalog, or when `devid` does not fit
/// the key's scope (cluster-scoped keys are answered with devid 0 only; node-scoped
/// keys need a devid of 1 or more). Only `cluster.node.count.*`, `cluster.node.list.*`
/// and `cluster.cpu.count` depend on the node count: for a cluster with a non-default
/// node count or layout, or a simulator with another catalog, use
/// [`ClusterHandle::expected`](crate::ClusterHandle::expected), which also reports the
/// configured per-key errors.
pub fn expected(cluster: &str, key: &str, devid: u32, time: i64) -> Option<Value> {
    let devices = crate::config::default_devices(crate::config::DEFAULT_NODES);
    let view = ClusterView {
        name: cluster,
        devices: &devices,
    };
    expected_in(&Catalog::builtin(), &view, key, devid, time)
}

pub(crate) fn expected_in(
    catalog: &Catalog,
    view: &ClusterView,
    key: &str,
    devid: u32,
    time: i64,
) -> Option<Value> {
    let info = catalog.get(key)?;
    let fits = match info.scope {
        Scope::Cluster => devid == 0,
        Scope::Node => devid != 0,
    };
    fits.then(|| value(view, info, devid, time))
}

/// The value of `info` for `devid` at answer time `time`.
pub(crate) fn value(view: &ClusterView, info: &KeyInfo, devid: u32, time: i64) -> Value {
    let g = Gen::new(view.name, &info.key, devid, time, info.value_interval());
    let t = info.type_name.as_str();
    match t {
        "int32" | "int64" | "uint64" | "uint32" => {
            Value::from(scalar(&g, info, view).max(0.0).floor() as i64)
        }
        "double" | "float" => Value::from(round_for(scalar(&g, info, view), &info.units)),
        "string" => Value::from(shapes::string_value(&g, view)),
        "stats_proto_opstat_list" => shapes::protostats(&g),
        "invalid" => Value::Null,
        _ if t.starts_with("stats_cache_data") => shapes::cache(&g),
        _ if t.starts_with("stats_client_proto_list") => shapes::client_list(&g, view),
        "stats_heat_list" => shapes::heat_list(&g),
        "stats_node_disk_list" => shapes::disk_list(&g, view),
        _ => shapes::generic_record(&g),
    }
}

/// Rounds a double the way the simulator answers it: 6 decimals for seconds, else 3.
pub(crate) fn round_for(x: f64, units: &str) -> f64 {
    if units == "seconds" {
        round_to(x, 1e6)
    } else {
        round3(x)
    }
}

/// Rounds to 3 decimals.
pub(crate) fn round3(x: f64) -> f64 {
    round_to(x, 1e3)
}

fn round_to(x: f64, scale: f64) -> f64 {
    if x.is_finite() {
        (x * scale).round() / scale
    } else {
        0.0
    }
}

/// The number generator for one (cluster, key, devid) at one time bucket.
#[derive(Clone, Copy)]
pub(crate) struct Gen<'a> {
    pub cluster: &'a str,
    pub key: &'a str,
    pub devid: u32,
    /// Start of the time bucket.
    pub t: i64,
    /// Width of the time bucket in seconds.
    pub interval: i64,
}

/// Gauges move between knots this many seconds apart.
const KNOT_SECONDS: i64 = 600;
/// Simulated boots happen within this many seconds after 2024-01-01T00:00:00Z.
const BOOT_EPOCH: i64 = 1_704_067_200;
const BOOT_SPREAD: u64 = 180 * 86_400;

impl<'a> Gen<'a> {
    pub fn new(cluster: &'a str, key: &'a str, devid: u32, time: i64, interval: u32) -> Gen<'a> {
        let interval = i64::from(interval.max(1));
        Gen {
            cluster,
            key,
            devid,
            t: time - time.rem_euclid(interval),
            interval,
        }
    }

    /// The same bucket, hashed under another key name (for values derived together).
    pub fn with_key(&self, key: &'a str) -> Gen<'a> {
        Gen { key, ..*self }
    }

    /// Hash of everything but time.
    pub fn seed(&self, field: &str, row: u32) -> u64 {
        let mut h = FNV_OFFSET;
        for part in [
            self.cluster.as_bytes(),
            self.key.as_bytes(),
            field.as_bytes(),
        ] {
            h = fnv(h, part);
            h = fnv(h, &[0xff]);
        }
        h = fnv(h, &self.devid.to_le_bytes());
        h = fnv(h, &row.to_le_bytes());
        mix(h)
    }

    /// Uniform in [0, 1), fixed for (cluster, key, devid, field, row).
    pub fn fixed(&self, field: &str, row: u32) -> f64 {
        unit(mix(self.seed(field, row) ^ 0x5157_4154_4943))
    }

    /// Uniform in [0, 1), new for each time bucket.
    pub fn noise(&self, field: &str, row: u32) -> f64 {
        unit_at(self.seed(field, row), self.t)
    }

    /// In [0, 1), drifting smoothly between knots [`KNOT_SECONDS`] apart.
    pub fn smooth(&self, field: &str, row: u32) -> f64 {
        self.smooth_over(field, row, KNOT_SECONDS)
    }

    /// Like [`Gen::smooth`] with knots `period` seconds apart.
    pub fn smooth_over(&self, field: &str, row: u32, period: i64) -> f64 {
        let seed = self.seed(field, row) ^ 0x736d_6f6f_7468;
        let k = self.t.div_euclid(period);
        let f = (self.t - k * period) as f64 / period as f64;
        let (a, b) = (unit_at(seed, k), unit_at(seed, k + 1));
        let s = f * f * (3.0 - 2.0 * f);
        a + (b - a) * s
    }

    /// A gauge in [lo, hi): mostly smooth drift, a quarter per-bucket noise.
    pub fn level(&self, field: &str, row: u32, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (0.75 * self.smooth(field, row) + 0.25 * self.noise(field, row))
    }

    /// Boot time of this devid (for devid 0: when the cluster was created).
    pub fn boot(&self) -> i64 {
        let g = Gen {
            key: "boot",
            ..*self
        };
        BOOT_EPOCH + (g.seed("boot", 0) % BOOT_SPREAD) as i64
    }

    /// A counter growing at a fixed rate in [lo, hi) per second since boot, with noise
    /// smaller than one bucket's growth: never decreases from one bucket to the next.
    pub fn counter(&self, field: &str, row: u32, lo: f64, hi: f64) -> f64 {
        let rate = lo + (hi - lo) * self.fixed(field, row);
        let elapsed = (self.t - self.boot()).max(0) as f64;
        if elapsed == 0.0 {
            return 0.0;
        }
        (rate * elapsed).floor() + (self.noise(field, row) * rate * self.interval as f64).floor()
    }
}

/// A scalar number for `info` before rounding.
fn scalar(g: &Gen, info: &KeyInfo, view: &ClusterView) -> f64 {
    special(g, info, view).unwrap_or_else(|| by_units(g, info))
}

/// Keys whose values belong together (CPU split, space, memory) or follow the layout.
fn special(g: &Gen, info: &KeyInfo, view: &ClusterView) -> Option<f64> {
    let key = info.key.as_str();
    let parts: Vec<&str> = key.split('.').collect();
    if parts.len() == 4 && (parts[0] == "cluster" || parts[0] == "node") && parts[1] == "cpu" {
        if let Some(x) = cpu_part(g, parts[0], parts[2], parts[3]) {
            return Some(x);
        }
    }
    let stripped = key.strip_prefix("node.").unwrap_or(key);
    if let Some(what) = stripped
        .strip_prefix("ifs.bytes.")
        .or_else(|| stripped.strip_prefix("ifs.percent."))
    {
        if matches!(what, "total" | "used" | "free" | "avail") {
            return Some(ifs_space(
                g,
                key.contains(".percent."),
                what,
                parts[0] == "node",
            ));
        }
    }
    if let Some(what) = key.strip_prefix("node.memory.") {
        if matches!(what, "used" | "free" | "cache") {
            return Some(memory(g, what));
        }
    }
    let nodes = view.devices.len() as f64;
    let x = match key {
        "cluster.node.count.all" | "cluster.node.count.up" => nodes,
        _ if key.starts_with("cluster.node.count.") => 0.0,
        "cluster.health" => 0.0,
        "node.cpu.throttling" => f64::from(u8::from(g.noise("throttled", 0) < 0.02)),
        "node.uptime" => (g.t - g.boot()).max(0) as f64,
        "node.boottime" => g.boot() as f64,
        "node.cpu.count" => node_cpus(g, g.devid),
        "cluster.cpu.count" => view
            .devices
            .iter()
            .map(|&(devid, _)| node_cpus(g, devid))
            .sum(),
        "node.open.files" => g.level("value", 0, 2_000.0, 90_000.0),
        _ => return None,
    };
    Some(x)
}

/// User, system, interrupt and nice CPU shares in permil; idle is the rest of 1000.
fn cpu_part(g: &Gen, scope: &str, part: &str, agg: &str) -> Option<f64> {
    let canonical = if scope == "cluster" {
        "cluster.cpu"
    } else {
        "node.cpu"
    };
    let g = g.with_key(canonical);
    let user = g.level(agg, 0, 20.0, 450.0).floor();
    let sys = g.level(agg, 1, 10.0, 200.0).floor();
    let intr = g.level(agg, 2, 2.0, 50.0).floor();
    let nice = g.level(agg, 3, 0.0, 20.0).floor();
    Some(match part {
        "user" => user,
        "sys" => sys,
        "intr" => intr,
        "nice" => nice,
        "idle" => 1000.0 - user - sys - intr - nice,
        _ => return None,
    })
}

/// /ifs capacity, use and free space, consistent across the seven keys.
fn ifs_space(g: &Gen, percent: bool, what: &str, node: bool) -> f64 {
    let g = g.with_key("ifs.space");
    const GIB: f64 = 1_073_741_824.0;
    let (lo, hi) = if node {
        (40_000.0, 400_000.0)
    } else {
        (400_000.0, 3_000_000.0)
    };
    let total = (lo + (hi - lo) * g.fixed("total", 0)).floor() * GIB;
    let used_share = 0.3 + 0.5 * g.smooth_over("used", 0, 6 * 3600);
    let used = (total * used_share / 8192.0).floor() * 8192.0;
    let free = total - used;
    let avail = (free * 0.94 / 8192.0).floor() * 8192.0;
    let bytes = match what {
        "total" => total,
        "used" => used,
        "free" => free,
        _ => avail,
    };
    if percent {
        bytes / total * 100.0
    } else {
        bytes
    }
}

/// Node memory in use, free and cached, summing to the node's fixed total.
fn memory(g: &Gen, what: &str) -> f64 {
    let g = g.with_key("node.memory");
    const GIB: f64 = 1_073_741_824.0;
    let total = [64.0, 128.0, 256.0, 384.0][(g.seed("total", 0) % 4) as usize] * GIB;
    let used = (total * g.level("used", 0, 0.35, 0.9) / 4096.0).floor() * 4096.0;
    match what {
        "used" => used,
        "free" => total - used,
        _ => (used * 0.6 / 4096.0).floor() * 4096.0,
    }
}

fn node_cpus(g: &Gen, devid: u32) -> f64 {
    let g = Gen {
        key: "node.cpu.count",
        devid,
        ..*g
    };
    [16.0, 24.0, 32.0, 48.0][(g.seed("cpus", 0) % 4) as usize]
}

/// Plausible ranges by unit (and a few name hints) for every other scalar key.
fn by_units(g: &Gen, info: &KeyInfo) -> f64 {
    let key = info.key.as_str();
    let level = |lo, hi| g.level("value", 0, lo, hi);
    match info.units.as_str() {
        "permil" => level(20.0, 700.0),
        "percent" => level(5.0, 95.0),
        "bytes per second" => level(1.0e6, 9.0e8),
        "bytes" if key.contains("xfer.size") => level(4096.0, 131_072.0),
        "bytes" => level(1.0e9, 1.0e12),
        "seconds" => level(0.0002, 0.02),
        "operations per second" => level(10.0, 25_000.0),
        "packets per second" => level(1.0e3, 3.0e5),
        "errors per second" => level(-3.0, 1.5).max(0.0),
        "cents" if key.contains("slow") => level(0.0, 50.0),
        "cents" => level(10.0, 1500.0),
        "operations" => g.counter("value", 0, 50.0, 5000.0),
        "celsius" => level(24.0, 68.0),
        "volts" => level(0.95, 12.2),
        "rpms" => level(3000.0, 14_000.0),
        "amps" => level(0.5, 12.0),
        "watts" => level(150.0, 900.0),
        "meters" => level(0.0, 500.0),
        "epoch seconds" => g.boot() as f64,
        _ if key.contains("clientstats.active") => level(0.0, 40.0),
        _ if key.contains("clientstats.connected") => level(0.0, 400.0),
        _ => level(0.0, 200.0),
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64 finaliser.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn unit_at(seed: u64, n: i64) -> f64 {
    unit(mix(seed ^ (n as u64).wrapping_mul(0xd6e8_feb8_6659_fd93)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_750_000_000;

    fn num(cluster: &str, key: &str, devid: u32, time: i64) -> f64 {
        expected(cluster, key, devid, time)
            .unwrap()
            .as_f64()
            .unwrap()
    }

    #[test]
    fn values_are_pure_functions_of_their_inputs() {
        let a = expected("SimCluster1", "node.disk.busy.avg", 2, T);
        assert_eq!(a, expected("SimCluster1", "node.disk.busy.avg", 2, T));
        assert_ne!(a, expected("SimCluster2", "node.disk.busy.avg", 2, T));
    }

    #[test]
    fn values_hold_for_the_whole_bucket() {
        let start = T - T.rem_euclid(30);
        let v = expected("X", "ifs.bytes.used", 0, start);
        assert_eq!(v, expected("X", "ifs.bytes.used", 0, start + 29));
        assert_ne!(
            expected("X", "cluster.cpu.user.avg", 0, start),
            expected("X", "cluster.cpu.user.avg", 0, start + 3600)
        );
    }

    #[test]
    fn cpu_shares_sum_to_one_thousand() {
        for t in (0..50).map(|i| T + i * 5) {
            let sum: f64 = ["sys", "user", "idle", "intr"]
                .iter()
                .map(|p| num("C", &format!("cluster.cpu.{p}.avg"), 0, t))
                .sum();
            assert!(sum <= 1000.0 && sum > 900.0, "{sum}");
        }
    }

    #[test]
    fn space_keys_are_consistent() {
        let (total, used, free, avail) = (
            num("C", "ifs.bytes.total", 0, T),
            num("C", "ifs.bytes.used", 0, T),
            num("C", "ifs.bytes.free", 0, T),
            num("C", "ifs.bytes.avail", 0, T),
        );
        assert_eq!(total, used + free);
        assert!(avail < free);
        let pct = num("C", "ifs.percent.used", 0, T);
        assert!((pct - used / total * 100.0).abs() < 0.001 && (0.0..=100.0).contains(&pct));
    }

    #[test]
    fn ranges_are_plausible() {
        for t in (0..200).map(|i| T + i * 5) {
            let busy = num("C", "node.disk.busy.avg", 1, t);
            assert!((0.0..=1000.0).contains(&busy));
            let pct = num("C", "ifs.percent.free", 0, t);
            assert!((0.0..=100.0).contains(&pct));
            let errors = num("C", "node.net.ext.errors.in.rate", 3, t);
            assert!((0.0..5.0).contains(&errors));
        }
    }

    #[test]
    fn counters_never_decrease() {
        let mut last = 0.0;
        for t in (0..500).map(|i| T + i * 5) {
            let v = num("C", "node.ifs.ops.in", 2, t);
            assert!(v >= last, "{v} < {last}");
            last = v;
        }
    }

    #[test]
    fn doubles_survive_a_json_round_trip() {
        for key in [
            "ifs.percent.used",
            "node.disk.access.latency.avg",
            "cluster.net.ext.bytes.in.rate",
        ] {
            let devid = u32::from(key.starts_with("node."));
            let v = expected("RoundTrip", key, devid, T).unwrap();
            let back: Value = serde_json::from_str(&v.to_string()).unwrap();
            assert_eq!(v, back, "{key}");
        }
    }

    #[test]
    fn scope_decides_valid_devids() {
        assert!(expected("C", "cluster.health", 1, T).is_none());
        assert!(expected("C", "node.load.1min", 0, T).is_none());
        assert!(expected("C", "no.such.key", 0, T).is_none());
        assert_eq!(
            expected("C", "cluster.node.count.all", 0, T),
            Some(Value::from(4))
        );
    }

    #[test]
    fn answer_time_is_bucket_start() {
        let catalog = Catalog::builtin();
        assert_eq!(
            answer_time(catalog.get("ifs.bytes.used").unwrap(), 1_000_000_017),
            999_999_990
        );
        assert_eq!(
            answer_time(catalog.get("cluster.cpu.idle.avg").unwrap(), 1_000_000_017),
            1_000_000_015
        );
        assert_eq!(
            answer_time(
                catalog.get("cluster.protostats.nfs").unwrap(),
                1_000_000_017
            ),
            1_000_000_017
        );
    }
}
