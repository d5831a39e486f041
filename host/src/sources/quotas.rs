//! The quota source: every `interval`, list a cluster's quotas of each
//! configured type (`GET /platform/8/quota/quotas?limit=N&type=T`, then
//! `?resume=<token>` alone until the token is null, as goquotas does), keep
//! those under `path_prefix`, stop at `max_quotas`, and deliver the snapshot as
//! one batch after announcing it to the plugins (`snapshot.rs`).
//!
//! Failures are this source's own: a refused privilege (HTTP 403) is said
//! once, naming the privilege, until quotas are listed again; the statistics
//! go on. Only an unreachable cluster is the cluster's business (the task's
//! shared back-off).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use idic_plugin_api::Point;

use super::quota_points::{self, MEASUREMENT};
use super::{deliver, snapshot, Outlet, Ran};
use crate::config::Quotas;
use crate::onefs::{self, Client};

/// The resource version goquotas pins (its fields are what it decodes).
const QUOTAS_PATH: &str = "/platform/8/quota/quotas";

/// One cluster's quota source.
pub struct QuotaSource {
    settings: Quotas,
    /// The kind of failure last logged at error level (repeats are debug).
    failing: Option<String>,
    /// Snapshots cut at `max_quotas` since start (the counter the log states).
    truncated: u64,
}

/// Why a listing failed.
enum Failure {
    Onefs(onefs::Error),
    Malformed(String),
}

impl QuotaSource {
    pub fn new(settings: Quotas) -> QuotaSource {
        QuotaSource {
            settings,
            failing: None,
            truncated: 0,
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.settings.interval.max(1))
    }

    /// Lists, converts and delivers one snapshot.
    pub async fn run(&mut self, client: &mut Client, out: &Outlet<'_>) -> Ran {
        let cluster = out.cluster;
        let listed = self.list(client, cluster).await;
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        match listed {
            Ok((quotas, cut)) => {
                if self.failing.take().is_some() {
                    log::info!("cluster={cluster} quotas are listed again");
                }
                if cut {
                    self.truncated += 1;
                    log::error!(
                        "cluster={cluster} has more than max_quotas = {} quotas of types {} under {:?}: \
                         only the first {} are collected (snapshots cut so far: {}); raise [quotas] max_quotas \
                         or narrow quota_types or path_prefix",
                        self.settings.max_quotas,
                        self.settings.quota_types.join(", "),
                        if self.settings.path_prefix.is_empty() { "/" } else { &self.settings.path_prefix },
                        self.settings.max_quotas,
                        self.truncated
                    );
                }
                let points: Vec<Point> = quotas.iter().map(|q| q.point(cluster, time)).collect();
                log::debug!("cluster={cluster} quota snapshot: {} quotas", points.len());
                snapshot::announce(out, MEASUREMENT, time, points.len()).await;
                deliver(out, points);
                Ran::Done
            }
            Err(Failure::Onefs(e)) if e.is_connection() => Ran::Unreachable(e),
            Err(failure) => {
                let (kind, message) = self.explain(&failure);
                if self.failing.as_deref() == Some(kind.as_str()) {
                    log::debug!("cluster={cluster} {message}");
                } else {
                    log::error!("cluster={cluster} {message}");
                    self.failing = Some(kind);
                }
                Ran::Done
            }
        }
    }

    /// Every quota of the configured types under the prefix, and whether the
    /// listing stopped at `max_quotas`.
    async fn list(
        &self,
        client: &mut Client,
        cluster: &str,
    ) -> Result<(Vec<quota_points::Quota>, bool), Failure> {
        let s = &self.settings;
        let max = s.max_quotas as usize;
        let mut kept = Vec::new();
        for kind in &s.quota_types {
            let mut path = format!("{QUOTAS_PATH}?limit={}&type={kind}", s.page_limit);
            if s.resolve_names {
                path.push_str("&resolve_names=true");
            }
            let mut seen_tokens: Vec<String> = Vec::new();
            loop {
                let body = client.get(&path).await.map_err(Failure::Onefs)?;
                let page = quota_points::page(&body).map_err(|e| {
                    Failure::Malformed(format!(
                        "GET {path} answered a body that is not a quota page: {e}"
                    ))
                })?;
                for q in page.quotas {
                    if q.kind() != kind {
                        return Err(Failure::Malformed(format!(
                            "GET {path} listed a quota of type {:?} when asked for {kind:?}",
                            q.kind()
                        )));
                    }
                    if !q.path().starts_with(&s.path_prefix) {
                        continue;
                    }
                    if kept.len() == max {
                        return Ok((kept, true));
                    }
                    kept.push(q);
                }
                match page.resume.filter(|t| !t.is_empty()) {
                    Some(token) => {
                        if seen_tokens.contains(&token) {
                            return Err(Failure::Malformed(format!(
                                "GET {QUOTAS_PATH} answered the same resume token twice; the listing of {kind} quotas was abandoned"
                            )));
                        }
                        path = format!("{QUOTAS_PATH}?resume={}", percent_encode(&token));
                        seen_tokens.push(token);
                    }
                    None => break,
                }
            }
            log::trace!("cluster={cluster} listed {kind} quotas");
        }
        Ok((kept, false))
    }

    /// The kind of a failure (logged once per kind) and its message.
    fn explain(&self, failure: &Failure) -> (String, String) {
        match failure {
            Failure::Onefs(onefs::Error::Status { status: 403, .. }) => (
                "HTTP 403".into(),
                "cannot list quotas: the cluster answered HTTP 403 (forbidden) to GET /platform/8/quota/quotas: \
                 give the user of this [[cluster]] the read privilege ISI_PRIV_QUOTA (SmartQuotas), or set \
                 quotas = false in it; statistics collection goes on and quotas are tried again every interval"
                    .into(),
            ),
            Failure::Onefs(e @ onefs::Error::Status { status, .. }) => (
                format!("HTTP {status}"),
                format!("cannot list quotas: {e}; trying again in {} s", self.settings.interval),
            ),
            Failure::Onefs(e) => (
                "other".into(),
                format!("cannot list quotas: {e}; trying again in {} s", self.settings.interval),
            ),
            Failure::Malformed(m) => (
                "malformed".into(),
                format!("cannot list quotas: {m}; trying again in {} s", self.settings.interval),
            ),
        }
    }
}

/// `s` with every byte outside RFC 3986's unreserved set percent-encoded.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_tokens_are_percent_encoded() {
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(percent_encode("a+b/c=="), "a%2Bb%2Fc%3D%3D");
    }
}
