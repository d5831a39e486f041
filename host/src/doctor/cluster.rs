//! Doctor's checks of one cluster, in the order a connection needs them: name
//! resolution, TCP, TLS (chain, name, expiry), login (session or Basic), the
//! OneFS version, the statistics privilege, clock skew, and the configured
//! keys the cluster does not know. The first failure skips the rest: each
//! step needs the one before.
//!
//! Resolution, TCP and TLS are done by hand with std and rustls, so that each
//! failure is told apart; from the login on, the collector's own client
//! (`onefs::Client`) talks to the cluster, so doctor sees what collection sees.

use std::collections::BTreeSet;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConnection};

use super::cert;
use super::report::{Section, Step};
use crate::collect::connect;
use crate::config::{AuthType, Cluster, Config};
use crate::onefs::{self, Client, TlsConfigs};
use crate::pool::Pools;

/// Skew beyond which doctor warns; beyond [`SKEW_FAIL`] it fails. Generous:
/// a statistic's timestamp is its sample time, which may lag by its interval.
const SKEW_WARN: i64 = 30;
/// See [`SKEW_WARN`].
const SKEW_FAIL: i64 = 120;
/// A certificate closer than this to its end is warned about.
const EXPIRY_WARN_DAYS: i64 = 30;

/// Every check of cluster `index`.
pub fn check(config: &Config, index: usize, rt: &tokio::runtime::Runtime) -> Section {
    let c = &config.clusters[index];
    let label = format!("{}:{}", c.hostname, c.port);
    let mut steps = Vec::new();
    let timeout = Duration::from_secs(config.global.connect_timeout.max(1));
    let names = [
        "name resolution",
        "TCP connect",
        "TLS",
        "login",
        "OneFS version",
        "statistics privilege",
        "clock skew",
        "configured keys",
    ];
    let mut run = || -> Option<()> {
        let addrs = push(&mut steps, resolve(c))?;
        let addr = push(&mut steps, tcp(c, &addrs, timeout))?;
        push(&mut steps, tls(c, addr, timeout))?;
        let tls_configs = TlsConfigs::default();
        let pools = Pools::new(1);
        rt.block_on(async {
            let mut client = match login_client(config, index, &tls_configs, &pools) {
                Ok(client) => client,
                Err(step) => {
                    steps.push(step);
                    return None;
                }
            };
            let identity = push(&mut steps, login(c, &mut client).await)?;
            steps.push(Step::ok(
                "OneFS version",
                format!("{} (cluster name {:?})", identity.version, identity.name),
            ));
            let keys: BTreeSet<&String> =
                config.stat_groups.iter().flat_map(|g| &g.stats).collect();
            let probe = keys
                .iter()
                .next()
                .map_or("cluster.cpu.idle.avg".to_string(), |k| k.to_string());
            let time = push(&mut steps, privilege(c, &mut client, &probe).await)?;
            steps.push(skew(time));
            steps.push(unknown_keys(&mut client, &keys, &identity.version).await);
            Some(())
        })
    };
    run();
    let done = steps.len();
    steps.extend(names[done..].iter().map(|n| Step::skip(n)));
    Section {
        title: format!("cluster {label}"),
        steps,
    }
}

/// Pushes the step of `result` and hands on its value.
fn push<T>(steps: &mut Vec<Step>, result: Result<(T, Step), Step>) -> Option<T> {
    match result {
        Ok((value, step)) => {
            steps.push(step);
            Some(value)
        }
        Err(step) => {
            steps.push(step);
            None
        }
    }
}

fn resolve(c: &Cluster) -> Result<(Vec<SocketAddr>, Step), Step> {
    const WHAT: &str = "name resolution";
    match (c.hostname.as_str(), c.port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            Ok((addrs, Step::ok(WHAT, format!("{} is {}", c.hostname, list.join(", ")))))
        }
        Err(e) => Err(Step::fail(
            WHAT,
            format!("{:?} does not resolve: {e}", c.hostname),
            "correct hostname in this [[cluster]] (a name this host's DNS knows, or an address), or fix /etc/resolv.conf",
        )),
    }
}

fn tcp(c: &Cluster, addrs: &[SocketAddr], timeout: Duration) -> Result<(SocketAddr, Step), Step> {
    const WHAT: &str = "TCP connect";
    let mut errors = Vec::new();
    for addr in addrs {
        let started = Instant::now();
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(_) => {
                let ms = started.elapsed().as_millis();
                return Ok((*addr, Step::ok(WHAT, format!("{addr} accepted in {ms} ms"))));
            }
            Err(e) => errors.push(format!("{addr}: {e}")),
        }
    }
    Err(Step::fail(
        WHAT,
        errors.join("; "),
        format!(
            "check that the cluster is up and that port {} (the port key of this [[cluster]], 8080 by default) is open from this host (firewall, wrong port)",
            c.port
        ),
    ))
}

fn tls(c: &Cluster, addr: SocketAddr, timeout: Duration) -> Result<((), Step), Step> {
    const WHAT: &str = "TLS";
    let config = TlsConfigs::default()
        .get(c.verify_ssl, c.ca_cert.as_deref())
        .map_err(|e| {
            Step::fail(
                WHAT,
                e.to_string(),
                "ca_cert must name a readable PEM file holding the CA certificate that signed the cluster's certificate",
            )
        })?;
    let handshake = || -> io::Result<Option<Vec<u8>>> {
        let name = ServerName::try_from(c.hostname.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut conn =
            ClientConnection::new(Arc::clone(&config), name).map_err(io::Error::other)?;
        let mut sock = TcpStream::connect_timeout(&addr, timeout)?;
        sock.set_read_timeout(Some(timeout))?;
        sock.set_write_timeout(Some(timeout))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        Ok(conn
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(|c| c.as_ref().to_vec()))
    };
    let leaf = handshake().map_err(|e| tls_failure(c, &e))?;
    if !c.verify_ssl {
        return Ok((
            (),
            Step::warn(
                WHAT,
                "handshake done, but the certificate is NOT verified (verify-ssl = false)",
                "set ca_cert to the cluster's CA file and remove verify-ssl",
            ),
        ));
    }
    let trusted = match &c.ca_cert {
        Some(ca) => format!("trusted through ca_cert {}", ca.display()),
        None => "trusted through the built-in web roots".to_string(),
    };
    let Some(end) = leaf.as_deref().and_then(cert::not_after) else {
        return Ok((
            (),
            Step::ok(
                WHAT,
                format!("certificate valid for {}, {trusted}", c.hostname),
            ),
        ));
    };
    let days = days_left(end);
    let detail = format!(
        "certificate valid for {}, {trusted}, expires in {days} days (on {})",
        c.hostname,
        cert::date(end)
    );
    if days < EXPIRY_WARN_DAYS {
        return Ok((
            (),
            Step::warn(WHAT, detail, "renew the cluster's certificate before it expires (isi certificate server import on the cluster)"),
        ));
    }
    Ok(((), Step::ok(WHAT, detail)))
}

fn days_left(not_after: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    (not_after - now).div_euclid(86_400)
}

/// What to do about an expired cluster certificate.
const EXPIRED_FIX: &str = "renew the cluster's certificate (isi certificate server import on the cluster; if it was renewed recently, check this host's clock)";

/// The failed step for a handshake error, told apart by rustls' reason.
fn tls_failure(c: &Cluster, e: &io::Error) -> Step {
    const WHAT: &str = "TLS";
    let cert_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(|r| match r {
            rustls::Error::InvalidCertificate(ce) => Some(ce),
            _ => None,
        });
    let ca_fix = match &c.ca_cert {
        Some(ca) => format!(
            "{} does not hold the CA that signed the cluster's certificate: set ca_cert to the right CA file",
            ca.display()
        ),
        None => "the cluster's certificate is self-signed or from a private CA: set ca_cert = \"/path/to/ca.pem\" (its CA) in this [[cluster]]".to_string(),
    };
    match cert_error {
        Some(CertificateError::UnknownIssuer | CertificateError::BadSignature) => Step::fail(
            WHAT,
            format!("the certificate chain is not trusted ({e})"),
            ca_fix,
        ),
        Some(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }) => Step::fail(
            WHAT,
            format!("the certificate does not name {:?} ({e})", c.hostname),
            "set hostname to a name the certificate carries (e.g. the cluster's SmartConnect name), or reissue the certificate with this name",
        ),
        Some(CertificateError::ExpiredContext { not_after, .. }) => Step::fail(
            WHAT,
            format!(
                "the certificate of {} expired on {} (UTC)",
                c.hostname,
                cert::date(not_after.as_secs() as i64)
            ),
            EXPIRED_FIX,
        ),
        Some(CertificateError::Expired) => Step::fail(
            WHAT,
            format!("the certificate of {} has expired ({e})", c.hostname),
            EXPIRED_FIX,
        ),
        Some(CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }) => Step::fail(
            WHAT,
            format!("the certificate is not valid yet ({e})"),
            "check the clocks of this host and of the cluster (NTP)",
        ),
        _ => Step::fail(
            WHAT,
            format!("the TLS handshake failed: {e}"),
            "check that port is the cluster's HTTPS API port (8080) and not another service",
        ),
    }
}

fn login_client(
    config: &Config,
    index: usize,
    tls: &TlsConfigs,
    pools: &Pools,
) -> Result<Client, Step> {
    connect::client(config, index, tls, &pools.resolve).map_err(|e| {
        Step::fail(
            "login",
            e.to_string(),
            "fix the password of this [[cluster]] (an unset $env: variable or an unreadable $file:)",
        )
    })
}

async fn login(c: &Cluster, client: &mut Client) -> Result<(onefs::Identity, Step), Step> {
    const WHAT: &str = "login";
    let how = match c.authtype {
        AuthType::Basic => "HTTP Basic auth",
        AuthType::Session => "session login",
    };
    match client.identity().await {
        Ok(identity) => Ok((
            identity,
            Step::ok(WHAT, format!("{how} as {:?} accepted", c.username)),
        )),
        Err(onefs::Error::Auth(m)) => Err(Step::fail(
            WHAT,
            format!("{how} as {:?} refused (HTTP 401): {m}", c.username),
            "check username and password of this [[cluster]]; the account must exist on the cluster (a local or AD user) and may log in to the Platform API",
        )),
        Err(onefs::Error::Status { status: 403, .. }) => Err(Step::fail(
            WHAT,
            format!("{how} as {:?} accepted, but the Platform API refused it (HTTP 403)", c.username),
            "give the account a role with ISI_PRIV_LOGIN_PAPI (isi auth roles modify ROLE --add-priv-ro ISI_PRIV_LOGIN_PAPI)",
        )),
        Err(e) => Err(Step::fail(
            WHAT,
            e.to_string(),
            "check that the port is the cluster's Platform API (8080) and that the cluster is healthy",
        )),
    }
}

/// Reads one statistic; returns its timestamp (the cluster's clock).
async fn privilege(
    c: &Cluster,
    client: &mut Client,
    key: &str,
) -> Result<(Option<i64>, Step), Step> {
    const WHAT: &str = "statistics privilege";
    match client.current(&[key.to_string()]).await {
        Ok(answers) => {
            let time = answers.first().and_then(|a| {
                let v: serde_json::Value = serde_json::from_slice(&a.body).ok()?;
                v["stats"][0]["time"].as_i64()
            });
            Ok((time, Step::ok(WHAT, format!("{:?} may read statistics ({key} answered)", c.username))))
        }
        Err(onefs::Error::Status { status: 403, .. }) => Err(Step::fail(
            WHAT,
            format!("{:?} logged in but may not read statistics (HTTP 403)", c.username),
            "the account needs the ISI_PRIV_STATISTICS privilege, read-only is enough: isi auth roles modify ROLE --add-priv-ro ISI_PRIV_STATISTICS (for a role the user is in)",
        )),
        Err(onefs::Error::Auth(m)) => Err(Step::fail(
            WHAT,
            format!("the statistics request was refused (HTTP 401): {m}"),
            "check username and password of this [[cluster]]",
        )),
        Err(e) => Err(Step::fail(WHAT, e.to_string(), "see the message; the cluster answered the login but not /platform/1/statistics/current")),
    }
}

fn skew(cluster_time: Option<i64>) -> Step {
    const WHAT: &str = "clock skew";
    let Some(t) = cluster_time else {
        return Step::warn(
            WHAT,
            "the answer carried no timestamp",
            "nothing to do unless points look misplaced in time",
        );
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let skew = t - now;
    let detail = match skew {
        0 => "the cluster's clock agrees with this host's".to_string(),
        s if s > 0 => format!("the cluster's clock is {s} s ahead of this host's"),
        s => format!("the cluster's clock is {} s behind this host's", -s),
    };
    let fix = "points carry the cluster's timestamps: run NTP on the cluster (isi ntp servers create) and on this host";
    match skew.abs() {
        a if a > SKEW_FAIL => Step::fail(WHAT, detail, fix),
        a if a > SKEW_WARN => Step::warn(WHAT, detail, fix),
        _ => Step::ok(WHAT, detail),
    }
}

async fn unknown_keys(client: &mut Client, keys: &BTreeSet<&String>, version: &str) -> Step {
    const WHAT: &str = "configured keys";
    let mut unknown = Vec::new();
    for key in keys {
        match client.key_meta(key).await {
            Ok(Some(_)) => {}
            Ok(None) => unknown.push(key.as_str()),
            Err(e) => {
                return Step::fail(
                    WHAT,
                    format!("reading the metadata of {key}: {e}"),
                    "see the message",
                )
            }
        }
    }
    if unknown.is_empty() {
        return Step::ok(
            WHAT,
            format!(
                "all {} keys of the active stat groups are known",
                keys.len()
            ),
        );
    }
    Step::warn(
        WHAT,
        format!(
            "{} of {} keys are not known to this cluster (OneFS {version}): {}",
            unknown.len(),
            keys.len(),
            unknown.join(", ")
        ),
        "idic leaves them out for this cluster; remove them from the [[statgroup]] stats if no cluster has them",
    )
}
