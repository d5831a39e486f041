//! Simulated clusters for the tests, and configs that point idic at them.

use std::path::{Path, PathBuf};

use onefs_sim::{ClusterSpec, Sim, SimConfig};

use crate::util::Dir;

/// Simulated clusters over HTTPS, and the CA file that trusts them.
pub struct Clusters {
    pub sim: Sim,
    pub ca: PathBuf,
}

/// Starts a simulator with the given clusters (HTTPS, ephemeral ports) and writes
/// its certificate to `dir/ca.pem`.
pub fn clusters(dir: &Dir, specs: Vec<ClusterSpec>) -> Clusters {
    clusters_logging(dir, specs, SimConfig::default().request_log_capacity)
}

/// [`clusters`] whose request logs keep the last `log_capacity` requests of
/// each cluster (`ClusterHandle::request_log`).
pub fn clusters_logging(dir: &Dir, specs: Vec<ClusterSpec>, log_capacity: usize) -> Clusters {
    let config = SimConfig {
        clusters: specs,
        request_log_capacity: log_capacity,
        ..SimConfig::default()
    };
    let sim = Sim::start(config).expect("simulator starts");
    let ca = dir.write("ca.pem", &sim.ca_cert_pem());
    Clusters { sim, ca }
}

/// The `[[cluster]]` tables for every simulated cluster.
pub fn cluster_tables(c: &Clusters) -> String {
    let mut out = String::new();
    for h in c.sim.clusters() {
        out.push_str(&format!(
            "[[cluster]]\nhostname = \"127.0.0.1\"\nport = {}\nusername = \"statsreader\"\npassword = \"s3kret\"\nca_cert = \"{}\"\n\n",
            h.port(),
            c.ca.display()
        ));
    }
    out
}

/// A complete config: `[global]` for `plugin`, the plugin's section, the clusters
/// and one stat group with `stats`.
pub fn config(
    plugin: &str,
    section: &str,
    c: &Clusters,
    stats: &[&str],
    global_extra: &str,
) -> String {
    sinks_config(
        &format!("{plugin:?}"),
        global_extra,
        &format!("[{plugin}]\n{section}"),
        c,
        stats,
    )
}

/// A complete config whose `stats_processor` is `sinks` (TOML: one quoted name or
/// a list), with `global_extra` lines in `[global]`, then `sections` (the sinks'
/// tables and any other), the clusters and one stat group with `stats`.
pub fn sinks_config(
    sinks: &str,
    global_extra: &str,
    sections: &str,
    c: &Clusters,
    stats: &[&str],
) -> String {
    let list: Vec<String> = stats.iter().map(|s| format!("{s:?}")).collect();
    format!(
        "[global]\nversion = \"0.39\"\nstats_processor = {sinks}\nmin_update_interval_override = 5\nactive_stat_groups = [\"test\"]\n{global_extra}\n\n{sections}\n\n{}[[statgroup]]\nname = \"test\"\nupdate_interval = \"*\"\nstats = [{}]\n",
        cluster_tables(c),
        list.join(", ")
    )
}

/// A plugins folder holding `lib` as plugin `plugin`, and a config (see
/// [`config`]) whose `[plugin]` section is `path = "<dir>/points.<plugin>"`: the
/// setup of the sinks that write to a file (jsonl and the fixtures). Returns the
/// plugins folder, the config file and the output file.
pub fn file_sink(
    dir: &Dir,
    c: &Clusters,
    plugin: &str,
    lib: &Path,
    stats: &[&str],
    global_extra: &str,
) -> (PathBuf, PathBuf, PathBuf) {
    let plugins = dir.plugin_dir(&[(lib, &format!("lib{plugin}.so"))]);
    let out = dir.join(&format!("points.{plugin}"));
    let section = format!("path = {:?}", out.display().to_string());
    let config = dir.write(
        "idic.toml",
        &config(plugin, &section, c, stats, global_extra),
    );
    (plugins, config, out)
}
