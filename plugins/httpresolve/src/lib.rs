//! Address lookup for ureq clients without a thread per request, shared by
//! idic's HTTP sink plugins (InfluxDB through `lineproto`, remote-write).
//!
//! ureq 3 resolves the server's name before every request, pooled connection or
//! not, and when a timeout is set (the client always sets one) it does so on a
//! new thread, so that a hanging DNS server cannot outlast the timeout. At 20
//! clusters that was a thread created and joined for every InfluxDB write, 2 %
//! of idic's CPU. This resolver answers an IP address at once and remembers a name's
//! addresses for [`TTL`]; only a lookup that is not remembered goes to ureq's
//! own resolver (and its thread).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;
use ureq::Error;

/// How long a name's addresses are used before they are looked up again.
/// Connections are pooled for longer anyway; this bounds how late a changed
/// DNS record is seen by a new connection.
pub const TTL: Duration = Duration::from_secs(30);

/// Answers IP addresses directly and remembers names for [`TTL`].
#[derive(Debug, Default)]
pub struct CachingResolver {
    lookup: DefaultResolver,
    names: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        let (Some(authority), Some(scheme)) = (uri.authority(), uri.scheme_str()) else {
            return self.lookup.resolve(uri, config, timeout);
        };
        let port = authority.port_u16().unwrap_or(match scheme {
            "https" => 443,
            _ => 80,
        });
        let host = authority.host();
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            let mut addrs = self.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let key = format!("{host}:{port}");
        let now = Instant::now();
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, addrs)) = names.get(&key) {
            if now.duration_since(*at) < TTL {
                return Ok(addrs.clone());
            }
        }
        drop(names);
        let addrs = self.lookup.resolve(uri, config, timeout)?;
        names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.retain(|_, (at, _)| now.duration_since(*at) < TTL);
        names.insert(key, (now, addrs.clone()));
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(r: &CachingResolver, url: &str) -> Result<Vec<SocketAddr>, Error> {
        let uri: Uri = url.parse().unwrap();
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .build();
        let timeout = NextTimeout {
            after: Duration::from_secs(5).into(),
            reason: ureq::Timeout::Resolve,
            ..NextTimeout::default()
        };
        r.resolve(&uri, &config, timeout)
            .map(|a| a.iter().copied().collect())
    }

    #[test]
    fn an_ip_address_is_its_own_answer_with_the_scheme_default_port() {
        let r = CachingResolver::default();
        assert_eq!(
            resolve(&r, "http://127.0.0.1:8086/write").unwrap(),
            vec!["127.0.0.1:8086".parse().unwrap()]
        );
        assert_eq!(
            resolve(&r, "https://[::1]/api/v2/write").unwrap(),
            vec!["[::1]:443".parse().unwrap()]
        );
        assert!(r.names.lock().unwrap().is_empty(), "nothing to remember");
    }

    #[test]
    fn a_name_is_looked_up_once_and_then_remembered() {
        let r = CachingResolver::default();
        let first = resolve(&r, "http://localhost:8086/ping").unwrap();
        assert!(!first.is_empty());
        assert!(first.iter().all(|a| a.port() == 8086));
        assert!(r.names.lock().unwrap().contains_key("localhost:8086"));
        assert_eq!(resolve(&r, "http://localhost:8086/write").unwrap(), first);
    }

    #[test]
    fn an_unknown_name_is_an_error_and_is_not_remembered() {
        let r = CachingResolver::default();
        assert!(resolve(&r, "http://no-such-host.invalid:8086/").is_err());
        assert!(r.names.lock().unwrap().is_empty());
    }
}
