//! Writes the fuzz targets' seed corpora from the simulator's real answers:
//! `/statistics/current` for one key of every value type (every node, with a
//! per-key error, a degraded node and values of the wrong type among them),
//! the three summary answers, key metadata, and the raw requests a collector
//! sends. The seeds are committed under `fuzz/seeds/`; run this again when the
//! simulator's answers change shape.
//!
//! ```text
//! cargo run -p onefs-sim --example fuzz_seeds -- fuzz/seeds
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use onefs_sim::{Catalog, ClusterSpec, Malformed, Sim, SimConfig};

const AUTH: &str = "Basic c3RhdHNyZWFkZXI6czNrcmV0";

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".into()),
    );
    let catalog = Catalog::builtin();
    let mut by_type: BTreeMap<String, String> = BTreeMap::new();
    for k in catalog.keys() {
        by_type
            .entry(k.type_name.clone())
            .or_insert_with(|| k.key.clone());
    }
    let sim = Sim::start(
        SimConfig::default().cluster(
            ClusterSpec::new("SeedCluster")
                .with_key_error("node.load.5min", 4)
                .with_not_present("node.load.15min")
                .with_degraded_devid(2),
        ),
    )
    .expect("simulator starts");
    let c = &sim.clusters()[0];
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![
                    ureq::tls::Certificate::from_pem(sim.ca_cert_pem().as_bytes()).unwrap(),
                ])))
                .build(),
        )
        .build()
        .into();
    let get = |path: &str| -> Vec<u8> {
        let r = agent
            .get(format!("{}{path}", c.url()))
            .header("Authorization", AUTH)
            .call()
            .expect("the simulator answers");
        r.into_body()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .expect("a body")
    };
    let current = |keys: &[&str]| {
        let mut p =
            "/platform/1/statistics/current?degraded=true&devid=all&show_nodes=true".to_string();
        for k in keys {
            p.push_str("&key=");
            p.push_str(k);
        }
        p
    };
    let mut n = 0;
    for (ty, key) in &by_type {
        write(&out, "decode_current", ty, &get(&current(&[key])));
        n += 1;
    }
    let errors = [
        "node.load.1min",
        "node.load.5min",
        "node.load.15min",
        "no.such.key",
    ];
    write(
        &out,
        "decode_current",
        "errors-and-degraded",
        &get(&current(&errors)),
    );
    for (kind, label) in [
        (Malformed::WrongTypes, "wrong-types"),
        (Malformed::TruncatedJson, "truncated"),
    ] {
        c.faults().set_malformed_for(kind, 1);
        let keys: Vec<&str> = by_type.values().map(String::as_str).collect();
        write(&out, "decode_current", label, &get(&current(&keys)));
    }
    for (i, kind) in ["protocol", "client", "drive"].into_iter().enumerate() {
        let mut seed = vec![i as u8];
        seed.extend(get(&format!("/platform/3/statistics/summary/{kind}")));
        write(&out, "decode_summary", kind, &seed);
    }
    for key in [
        "cluster.cpu.idle.avg",
        "node.ifs.heat.lock",
        "cluster.protostats.nfs",
    ] {
        write(
            &out,
            "key_meta",
            key,
            &get(&format!("/platform/1/statistics/keys/{key}")),
        );
    }
    write(
        &out,
        "key_meta",
        "unknown",
        &get("/platform/1/statistics/keys/no.such.key"),
    );
    let requests: [(&str, &[u8]); 5] = [
        ("get", b"GET /platform/1/statistics/current?key=cluster.health&devid=all HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: Basic c3RhdHNyZWFkZXI6czNrcmV0\r\n\r\n"),
        ("login", b"POST /session/1/session HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 68\r\n\r\n{\"username\":\"statsreader\",\"password\":\"s3kret\",\"services\":[\"platform\"]}"),
        ("chunked", b"POST /session/1/session HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        ("pipelined", b"GET /sim/health HTTP/1.1\r\nHost: h\r\n\r\nGET /sim/health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
        ("expect", b"POST /sim/faults HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}"),
    ];
    for (name, bytes) in requests {
        write(&out, "sim_request", name, bytes);
    }
    eprintln!(
        "wrote {n} value-type seeds and the others under {}",
        out.display()
    );
}

fn write(out: &Path, target: &str, name: &str, data: &[u8]) {
    let dir = out.join(target);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(name), data).expect("write seed");
}
