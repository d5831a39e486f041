//! The decoder against the simulator: for any cluster, time, and mix of keys and
//! nodes whose values are numbers (scalars, or records of numbers), an answer
//! built as `onefs-sim` builds it, from the values `onefs_sim::expected` says the
//! simulator answers, becomes exactly one point per entry: the key, the time,
//! `cluster` then `devid` and `node` tags for node-scoped keys, and every number
//! as a float field (`value` for a scalar, the record's names otherwise).

use idic::collect::decode::{self, Options};
use idic_plugin_api::{Point, Value as PointValue};
use onefs_sim::{Catalog, Scope};
use proptest::prelude::*;
use serde_json::{json, Value};

/// The builtin catalog's keys whose values are numbers or records of numbers.
fn numeric_keys() -> Vec<(String, Scope)> {
    let catalog = Catalog::builtin();
    catalog
        .keys()
        .iter()
        .filter(|k| {
            let v = onefs_sim::expected("Probe", &k.key, node_devid(k.scope), 1_700_000_000);
            v.is_some_and(|v| numeric(&v))
        })
        .map(|k| (k.key.clone(), k.scope))
        .collect()
}

fn node_devid(scope: Scope) -> u32 {
    match scope {
        Scope::Cluster => 0,
        Scope::Node => 1,
    }
}

/// A number, or a non-empty record of numbers.
fn numeric(v: &Value) -> bool {
    v.is_number()
        || v.as_object()
            .is_some_and(|o| !o.is_empty() && o.values().all(Value::is_number))
}

/// The point a numeric entry must become, rendered as text.
fn expected_point(cluster: &str, key: &str, devid: u32, lnn: u32, time: i64, v: &Value) -> String {
    let mut tags = format!("cluster={cluster}");
    if devid != 0 {
        tags.push_str(&format!(",devid={devid},node={lnn}"));
    }
    let fields: Vec<String> = match v {
        Value::Object(o) => o
            .iter()
            .filter(|(k, _)| *k != "time")
            .map(|(k, n)| format!("{k}={:?}", n.as_f64().unwrap()))
            .collect(),
        n => vec![format!("value={:?}", n.as_f64().unwrap())],
    };
    format!("{key} @{time} {tags} | {}", fields.join(","))
}

fn render(p: &Point) -> String {
    assert_eq!(p.rows.len(), 1, "one row: {p:?}");
    let row = &p.rows[0];
    let tags: Vec<String> = row
        .tags
        .iter()
        .map(|t| format!("{}={}", t.key, t.value))
        .collect();
    let fields: Vec<String> = row
        .fields
        .iter()
        .map(|f| match f.value {
            PointValue::Float(x) => format!("{}={x:?}", f.key),
            ref other => panic!("every number a float, not {other:?}"),
        })
        .collect();
    format!(
        "{} @{} {} | {}",
        p.measurement,
        p.time,
        tags.join(","),
        fields.join(",")
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_numeric_answer_of_the_simulator_becomes_exactly_its_points(
        cluster in "[A-Za-z][A-Za-z0-9-]{0,12}",
        time in 1_500_000_000i64..2_000_000_000,
        picks in prop::collection::vec((any::<prop::sample::Index>(), 1u32..=4), 1..40),
    ) {
        let keys = numeric_keys();
        prop_assert!(keys.len() >= 20, "the catalog has numeric keys");
        let mut stats = Vec::new();
        let mut want = Vec::new();
        for (index, node) in &picks {
            let (key, scope) = &keys[index.index(keys.len())];
            let devid = if *scope == Scope::Cluster { 0 } else { *node };
            let lnn = 5 - devid.max(1);
            let value = onefs_sim::expected(&cluster, key, devid, time).expect("a value");
            prop_assume!(numeric(&value));
            want.push(expected_point(&cluster, key, devid, lnn, time, &value));
            let mut entry = json!({"devid": devid, "error": null, "error_code": null,
                "key": key, "time": time, "value": value});
            if devid != 0 {
                entry["node"] = json!(lnn);
            }
            stats.push(entry);
        }
        let body = json!({ "stats": stats }).to_string();
        let opts = Options { cluster: cluster.clone(), include_degraded: false, keys_seen: false };
        let decoded = decode::current(body.as_bytes(), &opts).expect("decodes");
        prop_assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
        let got: Vec<String> = decoded.points.iter().map(render).collect();
        prop_assert_eq!(got, want);
    }
}
