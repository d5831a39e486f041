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
    /// The snapshot being listed, between two pages.
    listing: Option<Listing>,
}

/// A snapshot being listed, page after page.
struct Listing {
    /// Which of `quota_types` is being listed.
    type_index: usize,
    /// The request of the next page.
    next_path: String,
    /// The resume tokens of this type so far (a repeated one is refused).
    tokens: Vec<String>,
    /// The quotas kept so far.
    kept: Vec<quota_points::Quota>,
}

impl Listing {
    fn new(settings: &Quotas) -> Listing {
        Listing {
            type_index: 0,
            next_path: first_page(settings, 0),
            tokens: Vec::new(),
            kept: Vec::new(),
        }
    }
}

/// What a page left to do.
enum Step {
    More,
    Done { cut: bool },
}

/// The first page's request for type `type_index` of the settings.
fn first_page(s: &Quotas, type_index: usize) -> String {
    let mut path = format!(
        "{QUOTAS_PATH}?limit={}&type={}",
        s.page_limit, s.quota_types[type_index]
    );
    if s.resolve_names {
        path.push_str("&resolve_names=true");
    }
    path
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
            listing: None,
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.settings.interval.max(1))
    }

    /// Fetches the next page of the snapshot being listed (starting one when
    /// none is); once the last page is in, converts and delivers the
    /// snapshot. One page per call, so that a statistics timer that falls
    /// due meanwhile waits for one request at most, not for the whole listing.
    pub async fn run(&mut self, client: &mut Client, out: &Outlet<'_>) -> Ran {
        let cluster = out.cluster;
        let mut listing = self
            .listing
            .take()
            .unwrap_or_else(|| Listing::new(&self.settings));
        match self.page(client, &mut listing).await {
            Ok(Step::More) => {
                self.listing = Some(listing);
                Ran::More
            }
            Ok(Step::Done { cut }) => {
                let time = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
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
                let points: Vec<Point> = listing
                    .kept
                    .iter()
                    .map(|q| q.point(cluster, time))
                    .collect();
                log::debug!("cluster={cluster} quota snapshot: {} quotas", points.len());
                snapshot::announce(out, MEASUREMENT, time, points.len()).await;
                deliver(out, points);
                Ran::Done
            }
            Err(Failure::Onefs(e)) if e.is_connection() => Ran::Unreachable {
                source: "quotas",
                error: e,
            },
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

    /// One page of `listing`: its quotas of the type asked for under the
    /// prefix are kept (up to `max_quotas`), and the listing moves on to the
    /// next page, the next type, or its end.
    async fn page(&self, client: &mut Client, listing: &mut Listing) -> Result<Step, Failure> {
        let s = &self.settings;
        let kind = s.quota_types[listing.type_index].as_str();
        let path = listing.next_path.clone();
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
            if listing.kept.len() == s.max_quotas as usize {
                return Ok(Step::Done { cut: true });
            }
            listing.kept.push(q);
        }
        match page.resume.filter(|t| !t.is_empty()) {
            Some(token) => {
                if listing.tokens.contains(&token) {
                    return Err(Failure::Malformed(format!(
                        "GET {QUOTAS_PATH} answered the same resume token twice; the listing of {kind} quotas was abandoned"
                    )));
                }
                listing.next_path = format!("{QUOTAS_PATH}?resume={}", percent_encode(&token));
                listing.tokens.push(token);
                Ok(Step::More)
            }
            None if listing.type_index + 1 < s.quota_types.len() => {
                listing.type_index += 1;
                listing.tokens.clear();
                listing.next_path = first_page(s, listing.type_index);
                Ok(Step::More)
            }
            None => Ok(Step::Done { cut: false }),
        }
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
pub(super) fn percent_encode(s: &str) -> String {
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
