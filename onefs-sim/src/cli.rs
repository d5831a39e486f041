//! The `onefs-sim` command line: a hand-written parser turning arguments into a
//! [`SimConfig`] plus the few things only the binary does (writing the CA certificate).
//! Flags take `--flag VALUE` or `--flag=VALUE`. Starting and stopping is `main.rs`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::catalog::Catalog;
use crate::config::{ClusterSpec, SimConfig, DEFAULT_NODES};
use crate::faults::{FaultSettings, Malformed};

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Serve the configured clusters.
    Run(Box<Options>),
    /// Print [`USAGE`].
    Help,
    /// Print the version.
    Version,
}

/// Everything needed to run.
#[derive(Debug)]
pub struct Options {
    /// The simulator configuration.
    pub config: SimConfig,
    /// Where to write the CA certificate PEM, if anywhere.
    pub ca_cert_out: Option<PathBuf>,
    /// Log level for `env_logger` (`RUST_LOG` wins when set).
    pub log_level: String,
}

/// Port of the first cluster made by `--clusters` unless `--base-port` is given.
pub const DEFAULT_BASE_PORT: u16 = 18080;

/// The help text.
pub const USAGE: &str = "\
onefs-sim: a simulated PowerScale (OneFS) cluster serving the Platform API statistics endpoints

Usage: onefs-sim [OPTIONS]

Clusters (default: --clusters 1):
  --cluster NAME:PORT[:NODES]  add a cluster (repeatable); PORT 0 picks a free port
  --clusters N                 add clusters SimCluster1..SimClusterN
  --base-port P                first port for --clusters (default 18080; 0 = free ports)
  --nodes N                    nodes per cluster unless given in --cluster (default 4)
  --onefs-version V            OneFS release to report (default 9.11.0.0)
  --summary-rows N             rows per summary answer (default 12)
  --not-present KEY            KEY always answers error_code 1 (repeatable)
  --key-error KEY:CODE         KEY always answers CODE, 1..10 (repeatable)
  --degraded-devid N           node N answers degraded (error_code 3, value kept)
  --no-csrf                    no isicsrf cookie, no CSRF/Referer checks (older releases)

Server:
  --bind ADDR                  listen address (default 127.0.0.1)
  --http                       plain HTTP instead of HTTPS
  --ca-cert-out PATH           write the CA certificate (PEM) that clients should trust
  --cert-name NAME             extra DNS name or IP for the certificate (repeatable)
  --cert-expiry-days N         serve a certificate that ends N days after start
                               (negative: already expired; default: valid for centuries)
  --user NAME:PASS             accepted credentials (repeatable; default statsreader:s3kret)
  --session-timeout SECS       absolute session lifetime (default 14400)
  --session-idle-timeout SECS  session inactivity limit (default 900)
  --keep-alive-timeout SECS    idle connection limit (default 60)
  --catalog FILE               statistics keys in the format {\"keys\":[...]} (default: built in)
  --request-log N              requests kept in each cluster's log (default 128)
  --log-level LEVEL            error, warn, info, debug or trace (default info)

Faults (every cluster; change them later with POST /sim/faults):
  --latency MS                 delay every answer
  --error-rate RATE[:STATUS]   answer a fraction RATE with STATUS 500 (default) or 503
  --drop-rate RATE             close a fraction RATE of connections without answering
  --malformed KIND             hostile /platform answers: truncated, html, huge,
                               wrong-types, random, oversized, slow or reset

  -h, --help                   this text
  -V, --version                the version

Prints one line per cluster once it listens; stops on SIGTERM or SIGINT.
";

/// Parses the arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut config = SimConfig::default();
    let mut explicit: Vec<(String, u16, Option<u32>)> = Vec::new();
    let (mut count, mut base_port, mut nodes) = (None::<usize>, DEFAULT_BASE_PORT, DEFAULT_NODES);
    let (mut version, mut summary_rows, mut csrf) = (None::<String>, None::<usize>, true);
    let (mut not_present, mut key_errors, mut degraded) = (Vec::new(), Vec::new(), None::<u32>);
    let mut users: Vec<(String, String)> = Vec::new();
    let mut faults = FaultSettings::default();
    let mut ca_cert_out = None;
    let mut cert_expiry_days = None::<i64>;
    let mut log_level = "info".to_string();
    let mut i = 0;
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (args[i].clone(), None),
        };
        i += 1;
        let mut value = || -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = args
                .get(i)
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))?;
            i += 1;
            Ok(v)
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--cluster" => explicit.push(parse_cluster(&value()?)?),
            "--clusters" => count = Some(number(&flag, &value()?)?),
            "--base-port" => base_port = number(&flag, &value()?)?,
            "--nodes" => nodes = number(&flag, &value()?)?,
            "--onefs-version" => version = Some(value()?),
            "--summary-rows" => summary_rows = Some(number(&flag, &value()?)?),
            "--not-present" => not_present.push(value()?),
            "--key-error" => {
                let v = value()?;
                let (key, code) = v.rsplit_once(':').ok_or("--key-error needs KEY:CODE")?;
                let code: u32 = number(&flag, code)?;
                if !(1..=10).contains(&code) {
                    return Err(format!("--key-error code {code} is not in 1..10"));
                }
                key_errors.push((key.to_string(), code));
            }
            "--degraded-devid" => degraded = Some(number(&flag, &value()?)?),
            "--no-csrf" => csrf = false,
            "--bind" => {
                config.bind = value()?
                    .parse::<IpAddr>()
                    .map_err(|e| format!("--bind: {e}"))?
            }
            "--http" => config.https = false,
            "--ca-cert-out" => ca_cert_out = Some(PathBuf::from(value()?)),
            "--cert-name" => config.cert_names.push(value()?),
            "--cert-expiry-days" => cert_expiry_days = Some(number(&flag, &value()?)?),
            "--user" => {
                let v = value()?;
                let (name, pass) = v.split_once(':').ok_or("--user needs NAME:PASS")?;
                users.push((name.to_string(), pass.to_string()));
            }
            "--session-timeout" => config.session_timeout = seconds(&flag, &value()?)?,
            "--session-idle-timeout" => config.session_idle_timeout = seconds(&flag, &value()?)?,
            "--keep-alive-timeout" => config.keep_alive_timeout = seconds(&flag, &value()?)?,
            "--catalog" => {
                let path = value()?;
                config.catalog = Arc::new(Catalog::load(&path).map_err(|e| e.to_string())?);
            }
            "--request-log" => config.request_log_capacity = number(&flag, &value()?)?,
            "--log-level" => log_level = value()?,
            "--latency" => faults.latency = Duration::from_millis(number(&flag, &value()?)?),
            "--error-rate" => {
                let v = value()?;
                let (rate, status) = v.split_once(':').unwrap_or((&v, "500"));
                faults.error_rate = rate_value(&flag, rate)?;
                faults.error_status = number(&flag, status)?;
                if faults.error_status != 500 && faults.error_status != 503 {
                    return Err("--error-rate STATUS must be 500 or 503".into());
                }
            }
            "--drop-rate" => faults.drop_rate = rate_value(&flag, &value()?)?,
            "--malformed" => {
                let v = value()?;
                faults.malformed = Some(
                    Malformed::from_name(&v)
                        .ok_or_else(|| format!("--malformed takes {}", Malformed::names()))?,
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !users.is_empty() {
        config.users = users;
    }
    let mut specs: Vec<ClusterSpec> = explicit
        .into_iter()
        .map(|(name, port, n)| {
            ClusterSpec::new(name)
                .with_port(port)
                .with_nodes(n.unwrap_or(nodes))
        })
        .collect();
    let count = count.unwrap_or(if specs.is_empty() { 1 } else { 0 });
    specs.extend(
        ClusterSpec::numbered(count, base_port)
            .into_iter()
            .map(|s| s.with_nodes(nodes)),
    );
    for spec in &mut specs {
        if let Some(v) = &version {
            spec.onefs_version = v.clone();
        }
        if let Some(rows) = summary_rows {
            spec.summary_rows = rows;
        }
        spec.csrf = csrf;
        spec.not_present = not_present.clone();
        spec.key_errors = key_errors.clone();
        spec.degraded_devid = degraded;
        spec.faults = faults.clone();
        spec.cert_expiry_days = cert_expiry_days;
    }
    config.clusters = specs;
    Ok(Command::Run(Box::new(Options {
        config,
        ca_cert_out,
        log_level,
    })))
}

fn parse_cluster(v: &str) -> Result<(String, u16, Option<u32>), String> {
    let mut parts = v.split(':');
    let (Some(name), Some(port)) = (parts.next(), parts.next()) else {
        return Err(format!("--cluster {v}: expected NAME:PORT[:NODES]"));
    };
    if name.is_empty() {
        return Err(format!("--cluster {v}: empty name"));
    }
    let port = number("--cluster port", port)?;
    let nodes = parts
        .next()
        .map(|n| number("--cluster nodes", n))
        .transpose()?;
    if parts.next().is_some() {
        return Err(format!("--cluster {v}: expected NAME:PORT[:NODES]"));
    }
    Ok((name.to_string(), port, nodes))
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{flag}: {v:?} is not a valid number"))
}

fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    let s: f64 = number(flag, v)?;
    if !(s.is_finite() && s > 0.0) {
        return Err(format!("{flag}: must be more than 0"));
    }
    Ok(Duration::from_secs_f64(s))
}

fn rate_value(flag: &str, v: &str) -> Result<f64, String> {
    let r: f64 = number(flag, v)?;
    if !(0.0..=1.0).contains(&r) {
        return Err(format!("{flag}: {r} is not between 0 and 1"));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &str) -> Options {
        let args: Vec<String> = args.split_whitespace().map(String::from).collect();
        match parse(&args).unwrap() {
            Command::Run(o) => *o,
            other => panic!("{other:?}"),
        }
    }

    fn error(args: &str) -> String {
        let args: Vec<String> = args.split_whitespace().map(String::from).collect();
        parse(&args).unwrap_err()
    }

    #[test]
    fn defaults_to_one_cluster_on_18080() {
        let o = run("");
        assert_eq!(o.config.clusters.len(), 1);
        assert_eq!(
            (
                o.config.clusters[0].name.as_str(),
                o.config.clusters[0].port
            ),
            ("SimCluster1", 18080)
        );
        assert!(o.config.https);
    }

    #[test]
    fn explicit_and_numbered_clusters_combine() {
        let o = run(
            "--cluster Alpha:9000:3 --cluster=Beta:0 --clusters 2 --base-port 0 --nodes 5 --http",
        );
        let c = &o.config.clusters;
        assert_eq!(
            c.iter()
                .map(|s| (s.name.as_str(), s.port, s.nodes))
                .collect::<Vec<_>>(),
            [
                ("Alpha", 9000, 3),
                ("Beta", 0, 5),
                ("SimCluster1", 0, 5),
                ("SimCluster2", 0, 5)
            ]
        );
        assert!(!o.config.https);
    }

    #[test]
    fn faults_users_and_errors_apply_to_every_cluster() {
        let o = run("--clusters 2 --user a:b --user c:d:e --error-rate 0.25:503 --malformed html --key-error x.y:9 --not-present z --latency 10 --session-timeout 2");
        assert_eq!(
            o.config.users,
            [
                ("a".to_string(), "b".to_string()),
                ("c".to_string(), "d:e".to_string())
            ]
        );
        for s in &o.config.clusters {
            assert_eq!((s.faults.error_rate, s.faults.error_status), (0.25, 503));
            assert_eq!(s.faults.malformed, Some(Malformed::HtmlPage));
            assert_eq!(s.key_errors, [("x.y".to_string(), 9)]);
            assert_eq!(s.not_present, ["z"]);
        }
        assert_eq!(o.config.session_timeout, Duration::from_secs(2));
    }

    #[test]
    fn certificate_expiry_applies_to_every_cluster() {
        let o = run("--clusters 2 --cert-expiry-days=-3");
        assert!(o
            .config
            .clusters
            .iter()
            .all(|s| s.cert_expiry_days == Some(-3)));
        assert_eq!(run("").config.clusters[0].cert_expiry_days, None);
        assert!(error("--cert-expiry-days soon").contains("not a valid number"));
    }

    #[test]
    fn bad_arguments_are_explained() {
        assert!(error("--frobnicate").contains("unknown argument"));
        assert!(error("--cluster").contains("needs a value"));
        assert!(error("--cluster NoPort").contains("NAME:PORT"));
        assert!(error("--error-rate 2").contains("between 0 and 1"));
        assert!(error("--key-error k:11").contains("1..10"));
        assert!(error("--catalog /nonexistent.json").contains("cannot read catalog"));
        assert!(matches!(parse(&["-h".to_string()]), Ok(Command::Help)));
    }
}
