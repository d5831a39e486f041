//! `/platform/1/statistics/keys[/KEY]`.

use onefs_sim::{Catalog, ClusterSpec};

use crate::util::{agent, basic_get, start_one};

#[test]
fn key_metadata_matches_the_catalog() {
    let sim = start_one(ClusterSpec::new("Meta"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    for key in [
        "cluster.cpu.idle.avg",
        "node.ifs.cache",
        "cluster.protostats.nfs",
        "ifs.bytes.used",
    ] {
        let r = basic_get(&agent, c, &format!("/platform/1/statistics/keys/{key}"));
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(v["keys"].as_array().unwrap().len(), 1);
        assert_eq!(
            v["keys"][0],
            Catalog::builtin().get(key).unwrap().to_json(),
            "{key}"
        );
    }
}

#[test]
fn unknown_key_metadata_is_404_with_errors_body() {
    let sim = start_one(ClusterSpec::new("Meta"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let r = basic_get(&agent, c, "/platform/1/statistics/keys/no.such.key");
    assert_eq!(r.status, 404);
    let v = r.json();
    assert_eq!(v["errors"][0]["code"], "AEC_NOT_FOUND");
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("no.such.key"));
}

#[test]
fn policies_give_each_key_its_interval() {
    let sim = start_one(ClusterSpec::new("Meta"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let policies = |key: &str| {
        basic_get(&agent, c, &format!("/platform/1/statistics/keys/{key}")).json()["keys"][0]
            ["policies"]
            .clone()
    };
    assert!(policies("cluster.protostats.nfs").is_null());
    let heat = policies("node.ifs.heat.lock.total");
    assert_eq!(
        (
            heat[0]["persistent"].as_bool(),
            heat[1]["interval"].as_u64()
        ),
        (Some(true), Some(15))
    );
    assert_eq!(policies("ifs.bytes.free")[0]["interval"], 30);
    assert_eq!(policies("cluster.health")[0]["interval"], 10);
    assert_eq!(policies("node.load.1min")[0]["interval"], 5);
}

#[test]
fn key_list_pages_with_resume() {
    let sim = start_one(ClusterSpec::new("Meta"));
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    let total = Catalog::builtin().len();
    let first = basic_get(&agent, c, "/platform/1/statistics/keys?limit=100").json();
    assert_eq!(first["total"], total);
    assert_eq!(first["keys"].as_array().unwrap().len(), 100);
    let resume = first["resume"].as_str().unwrap().to_string();
    let rest = basic_get(
        &agent,
        c,
        &format!("/platform/1/statistics/keys?resume={resume}"),
    )
    .json();
    assert_eq!(rest["keys"].as_array().unwrap().len(), total - 100);
    assert!(rest["resume"].is_null());
}
