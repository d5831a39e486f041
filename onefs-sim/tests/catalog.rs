//! The statistics key catalog against the reference data (604 keys read off a
//! real cluster, in `catalogs/`) and the compatibility contract (`docs/`).

use std::collections::BTreeMap;

use onefs_sim::{Catalog, KeyInfo, Scope, EXAMPLE_STAT_GROUPS};

use crate::util::{compat_spec, reference_catalog};

fn reference() -> Catalog {
    Catalog::load(reference_catalog()).expect("reference catalog loads")
}

#[test]
fn reference_catalog_loads_every_key() {
    let text = std::fs::read_to_string(reference_catalog()).unwrap();
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    let raw_keys = raw["keys"].as_array().unwrap();
    let catalog = reference();
    assert_eq!(catalog.len(), raw_keys.len());
    assert_eq!(catalog.len(), 604);
    for raw_key in raw_keys {
        let name = raw_key["key"].as_str().unwrap();
        let info = catalog
            .get(name)
            .unwrap_or_else(|| panic!("{name} not loaded"));
        assert_eq!(&info.to_json(), raw_key, "{name} does not round-trip");
    }
}

#[test]
fn builtin_catalog_covers_the_example_stat_groups_of_the_spec() {
    let spec = std::fs::read_to_string(compat_spec()).unwrap();
    let section = spec
        .split("## The example configuration's stat groups")
        .nth(1)
        .unwrap();
    let mut from_spec: Vec<(String, Vec<String>)> = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("- `")) {
        let (group, keys) = line.split_once(':').unwrap();
        let group = group.trim_start_matches("- ").trim_matches('`').to_string();
        let keys = keys
            .split(',')
            .map(|k| k.trim().trim_matches('`').to_string())
            .collect();
        from_spec.push((group, keys));
    }
    let ours: Vec<(String, Vec<String>)> = EXAMPLE_STAT_GROUPS
        .iter()
        .map(|(g, keys)| (g.to_string(), keys.iter().map(|k| k.to_string()).collect()))
        .collect();
    assert_eq!(ours, from_spec);
    let builtin = Catalog::builtin();
    assert!(from_spec
        .iter()
        .flat_map(|(_, k)| k)
        .all(|k| builtin.get(k).is_some()));
}

#[test]
fn builtin_keys_have_the_reference_type_scope_and_units() {
    let reference = reference();
    let builtin = Catalog::builtin();
    let mut interval_differs = BTreeMap::new();
    for info in builtin.keys() {
        let Some(real) = reference.get(&info.key) else {
            continue;
        };
        assert_eq!(
            (&info.type_name, info.scope, &info.units),
            (&real.type_name, real.scope, &real.units),
            "{}",
            info.key
        );
        if info.update_interval() != real.update_interval() {
            interval_differs.insert(
                info.key.clone(),
                (info.update_interval(), real.update_interval()),
            );
        }
    }
    // The documented deliberate differences only.
    for (key, (ours, _)) in &interval_differs {
        let expected = if key.starts_with("ifs.") {
            Some(30)
        } else if key == "cluster.health" {
            Some(10)
        } else if key.starts_with("node.ifs.heat.") {
            Some(15)
        } else {
            panic!("{key}: unexpected interval difference {interval_differs:?}")
        };
        assert_eq!(*ours, expected, "{key}");
    }
}

#[test]
fn builtin_catalog_mixes_scopes_types_and_intervals() {
    let builtin = Catalog::builtin();
    let count = |f: &dyn Fn(&KeyInfo) -> bool| builtin.keys().iter().filter(|k| f(k)).count();
    assert!(count(&|k| k.scope == Scope::Cluster) > 40);
    assert!(count(&|k| k.scope == Scope::Node) > 60);
    assert!(count(&|k| k.policies.is_none()) > 20);
    for t in [
        "stats_proto_opstat_list",
        "stats_cache_data",
        "stats_client_proto_list_v2",
        "string",
        "stats_heat_list",
        "stats_node_disk_list",
    ] {
        assert!(count(&|k| k.type_name == t) > 0, "{t}");
    }
}
