//! Cluster identity, layouts, and many clusters in one process.

use onefs_sim::{ClusterSpec, SimConfig};

use crate::util::{agent, basic_get, start, start_one};

#[test]
fn cluster_config_reports_mixed_case_name_version_and_layout() {
    let sim = start_one(ClusterSpec::new("MixedCaseCluster").with_onefs_version("9.5.0.4"));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    let r = basic_get(&agent, cluster, "/platform/1/cluster/config");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["name"], "MixedCaseCluster");
    assert_eq!(v["onefs_version"]["release"], "v9.5.0.4");
    assert!(v["onefs_version"]["version"]
        .as_str()
        .unwrap()
        .contains("v9.5.0.4"));
    let devices: Vec<(u64, u64)> = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["devid"].as_u64().unwrap(), d["lnn"].as_u64().unwrap()))
        .collect();
    assert_eq!(devices, [(1, 1), (2, 2), (3, 4), (4, 3)]);
    assert_eq!(cluster.lnn(3), Some(4));
    for field in [
        "description",
        "encoding",
        "guid",
        "local_devid",
        "local_lnn",
        "local_serial",
        "join_mode",
        "timezone",
    ] {
        assert!(v.get(field).is_some(), "{field}");
    }
}

#[test]
fn newer_api_versions_answer_too() {
    let sim = start_one(ClusterSpec::new("Versions"));
    let (agent, cluster) = (agent(&sim), &sim.clusters()[0]);
    assert_eq!(
        basic_get(&agent, cluster, "/platform/16/cluster/config").status,
        200
    );
    assert_eq!(
        basic_get(&agent, cluster, "/platform/latest/cluster/config").status,
        200
    );
    assert_eq!(
        basic_get(&agent, cluster, "/platform/0/cluster/config").status,
        404
    );
}

#[test]
fn clusters_in_one_process_have_own_ports_names_layouts_and_versions() {
    let specs = vec![
        ClusterSpec::new("SmallOne").with_nodes(1),
        ClusterSpec::new("Replaced")
            .with_devices(vec![(1, 1), (2, 2), (5, 3)])
            .with_onefs_version("9.7.1.0"),
        ClusterSpec::new("BigCluster").with_nodes(8),
    ];
    let sim = start(SimConfig::with_clusters(specs));
    let agent = agent(&sim);
    let ports: std::collections::HashSet<u16> = sim.clusters().iter().map(|c| c.port()).collect();
    assert_eq!(ports.len(), 3);
    for (cluster, nodes, version) in [(0, 1, "v9.11.0.0"), (1, 3, "v9.7.1.0"), (2, 8, "v9.11.0.0")]
    {
        let c = &sim.clusters()[cluster];
        let v = basic_get(&agent, c, "/platform/1/cluster/config").json();
        assert_eq!(v["name"], c.name());
        assert_eq!(v["devices"].as_array().unwrap().len(), nodes);
        assert_eq!(v["onefs_version"]["release"], version);
    }
    assert_eq!(sim.cluster("Replaced").unwrap().lnn(5), Some(3));
    let current = basic_get(
        &agent,
        &sim.clusters()[1],
        "/platform/1/statistics/current?devid=all&show_nodes=true&key=node.load.1min",
    )
    .json();
    let devids: Vec<u64> = current["stats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["devid"].as_u64().unwrap())
        .collect();
    assert_eq!(devids, [1, 2, 5]);
}

#[test]
fn numbered_clusters_are_named_simcluster_n() {
    let sim = start(SimConfig::with_clusters(ClusterSpec::numbered(3, 0)));
    let names: Vec<&str> = sim.clusters().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["SimCluster1", "SimCluster2", "SimCluster3"]);
    let agent = agent(&sim);
    let control = crate::util::get(
        &agent,
        &format!("{}/sim/clusters", sim.clusters()[0].url()),
        &[],
    )
    .json();
    assert_eq!(control["clusters"].as_array().unwrap().len(), 3);
}

#[test]
fn invalid_configurations_are_refused() {
    let dup = SimConfig::with_clusters([ClusterSpec::new("Same"), ClusterSpec::new("Same")]);
    assert!(onefs_sim::Sim::start(dup).is_err());
    assert!(onefs_sim::Sim::start(SimConfig::default()).is_err());
    let bad_code = SimConfig::default().cluster(ClusterSpec::new("X").with_key_error("k", 11));
    assert!(onefs_sim::Sim::start(bad_code).is_err());
    let bad_layout =
        SimConfig::default().cluster(ClusterSpec::new("X").with_devices(vec![(1, 1), (2, 1)]));
    assert!(onefs_sim::Sim::start(bad_layout).is_err());
}

#[test]
fn shutdown_frees_the_port() {
    let sim = start_one(ClusterSpec::new("Freed"));
    let addr = sim.clusters()[0].addr();
    let agent = agent(&sim);
    assert_eq!(
        basic_get(&agent, &sim.clusters()[0], "/platform/1/cluster/config").status,
        200
    );
    sim.shutdown();
    let rebound = std::net::TcpListener::bind(addr);
    assert!(rebound.is_ok(), "{rebound:?}");
}

#[test]
fn plain_http_serves_the_same_api() {
    let config = SimConfig {
        https: false,
        ..SimConfig::default()
    };
    let sim = start(config.cluster(ClusterSpec::new("PlainText")));
    assert!(sim.ca_cert_pem().is_empty());
    let (agent, c) = (agent(&sim), &sim.clusters()[0]);
    assert!(c.url().starts_with("http://127.0.0.1:"));
    let r = crate::util::login_as(&agent, c, "statsreader", "s3kret");
    assert_eq!(r.status, 201);
    assert!(
        r.headers_named("set-cookie")
            .iter()
            .all(|c| !c.contains("Secure")),
        "no Secure cookies over HTTP"
    );
    let s = crate::util::login(&agent, c);
    let v = s
        .get(&agent, c, &crate::util::current_path(&["cluster.health"]))
        .json();
    assert_eq!(v["stats"][0]["value"], 0);
}
