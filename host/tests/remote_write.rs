//! The remote_write sink end to end: `onefs-sim` over HTTPS -> the built `idic`
//! with `libremote_write.so` loaded from a plugins folder -> a real Prometheus
//! 2.42 (`--web.enable-remote-write-receiver`) and a real VictoriaMetrics,
//! read back through their own APIs and compared with the simulator's values
//! at the stored timestamps.

use std::time::Duration;

use onefs_sim::ClusterSpec;

use crate::receivers::{Kind, Receiver};
use crate::sim;
use crate::util::{self, Dir, Running};

const KEY: &str = "cluster.cpu.idle.avg";

fn stores_the_simulators_values(kind: Kind, test: &str) {
    if !crate::services::available(kind.tool(), test) {
        return;
    }
    let receiver = Receiver::start(kind);
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("RwCluster")]);
    let plugins = dir.plugin_dir(&[(
        &util::workspace_plugin("remote_write"),
        "libremote_write.so",
    )]);
    let section = format!(
        "url = \"{}\"\nexternal_labels = {{ replica = \"a\" }}",
        receiver.url()
    );
    let config = dir.write(
        "idic.toml",
        &sim::config("remote_write", &section, &c, &[KEY], ""),
    );
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let name = "isilon_stat_cluster_cpu_idle_avg";
    idic.wait_until(Duration::from_secs(90), "three cycles stored", || {
        receiver
            .series(name)
            .first()
            .is_some_and(|s| s.1.len() >= 3)
    });
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    let series = receiver.series(name);
    assert_eq!(series.len(), 1, "{series:?}");
    let (labels, samples) = &series[0];
    let want: Vec<(&str, &str)> = vec![
        ("__name__", name),
        ("cluster", "rwcluster"),
        ("replica", "a"),
    ];
    let got: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, want);
    for (ms, value) in samples {
        assert_eq!(ms % 5000, 0, "OneFS' 5 s interval starts, not poll times");
        let want = c
            .sim
            .expected("RwCluster", KEY, 0, ms / 1000)
            .unwrap()
            .as_f64()
            .unwrap();
        // VictoriaMetrics keeps about 15 significant digits.
        assert!(
            (value - want).abs() <= 1e-15 * want.abs(),
            "{kind:?} at {ms}: {value} vs the simulator's {want}"
        );
    }
    let log = idic.log_text();
    assert!(!log.contains(" ERROR "), "{log}");
}

#[test]
fn prometheus_receives_the_simulators_values_through_idic() {
    stores_the_simulators_values(
        Kind::Prometheus,
        "prometheus_receives_the_simulators_values",
    );
}

#[test]
fn victoria_metrics_receives_the_simulators_values_through_idic() {
    stores_the_simulators_values(
        Kind::Victoria,
        "victoria_metrics_receives_the_simulators_values",
    );
}
