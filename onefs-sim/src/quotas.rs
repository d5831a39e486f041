//! SmartQuotas: `GET /platform/8/quota/quotas` (paged with `limit` and
//! `resume`) and `GET /platform/1/quota/quotas-summary`, from a deterministic
//! model, with live changes (quotas added, deleted, the privilege taken away).
//!
//! Every quota is a pure function of (cluster name, index): its id, type,
//! path, persona, thresholds and usage never change while it exists, so a test
//! computes exactly what a collector should have stored ([`QuotaSet::expected`]).
//! A cluster holds the quotas `0..count` minus the deleted ones.
//!
//! The answer's shape is resource version 8's (the one goquotas pins; no
//! `physical_data`, `reduction_ratio`, `description` or `labels`), as the
//! project's reference describes it: reconstructed from the Isilon SDKs'
//! `QuotaQuotaExtended` model (isilon_sdk_python v9_0_0/v9_1_0) and
//! `papi_schemas/8.0.1.2.json`. Paging: `limit` on the first request, then
//! `?resume=<token>` alone; the last page has `resume: null`. Without the
//! privilege the endpoints answer 403 with OneFS' errors body naming it
//! (`ISI_PRIV_QUOTA`, `ISI_PRIV_QUOTA_SUMMARY` for the summary).

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::http::Request;
use crate::response::Response;

/// The quota types in the order the model deals them out (index % 8).
const DEALT: [&str; 8] = [
    "directory",
    "directory",
    "user",
    "default-directory",
    "directory",
    "group",
    "default-user",
    "default-group",
];

/// Every type the endpoint accepts in `type=`.
pub const QUOTA_TYPES: [&str; 6] = [
    "directory",
    "user",
    "group",
    "default-directory",
    "default-user",
    "default-group",
];

/// The largest page the endpoint answers when `limit` is absent.
pub const DEFAULT_PAGE: usize = 1000;

const GIB: u64 = 1 << 30;

/// One cluster's quotas, changed live by tests and `/sim/quotas`.
#[derive(Debug)]
pub struct QuotaSet {
    cluster: String,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Default)]
struct State {
    count: u32,
    deleted: BTreeSet<u32>,
    forbidden: bool,
}

impl QuotaSet {
    pub(crate) fn new(cluster: &str, count: u32) -> QuotaSet {
        QuotaSet {
            cluster: cluster.to_string(),
            state: Mutex::new(State {
                count,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Quotas `0..count` exist from now on (a larger count adds quotas, a
    /// smaller one deletes the last ones).
    pub fn set_count(&self, count: u32) {
        self.state().count = count;
    }

    /// Deletes quota `index` (its id is [`quota_id`]).
    pub fn delete(&self, index: u32) {
        self.state().deleted.insert(index);
    }

    /// Takes the quota privileges away (`true`: every quota endpoint answers 403)
    /// or gives them back.
    pub fn set_forbidden(&self, forbidden: bool) {
        self.state().forbidden = forbidden;
    }

    /// The indexes of the quotas that exist now, in the order listed.
    pub fn live(&self) -> Vec<u32> {
        let s = self.state();
        (0..s.count).filter(|i| !s.deleted.contains(i)).collect()
    }

    /// Every quota that exists now, of `kind` (any type when `None`), exactly
    /// as the endpoint lists them.
    pub fn expected(&self, kind: Option<&str>) -> Vec<Value> {
        self.live()
            .into_iter()
            .filter(|&i| kind.is_none_or(|k| quota_type(i) == k))
            .map(|i| quota(&self.cluster, i))
            .collect()
    }

    /// `GET /platform/<v>/quota/quotas` and `/quota/quotas-summary`;
    /// `resource` is the path after the version.
    pub(crate) fn answer(&self, resource: &str, req: &Request) -> Response {
        let state = self.state().clone();
        if state.forbidden {
            let privilege = if resource == "quota/quotas-summary" {
                "ISI_PRIV_QUOTA_SUMMARY"
            } else {
                "ISI_PRIV_QUOTA"
            };
            return Response::errors(
                403,
                "AEC_FORBIDDEN",
                &format!("Privilege check failed. The following read privileges are required: Quota ({privilege})"),
            );
        }
        if resource == "quota/quotas-summary" {
            return self.summary(&state);
        }
        self.page(&state, req)
    }

    fn summary(&self, state: &State) -> Response {
        let live: Vec<u32> = (0..state.count)
            .filter(|i| !state.deleted.contains(i))
            .collect();
        let count = |t: &str| live.iter().filter(|&&i| quota_type(i) == t).count();
        let linked = live.iter().filter(|&&i| linked(i) == Some(true)).count();
        Response::json(
            200,
            &json!({"summary": {
                "count": live.len(),
                "directory_quotas_count": count("directory"),
                "user_quotas_count": count("user"),
                "group_quotas_count": count("group"),
                "default_user_quotas_count": count("default-user"),
                "default_group_quotas_count": count("default-group"),
                "linked_quotas_count": linked,
            }}),
        )
    }

    fn page(&self, state: &State, req: &Request) -> Response {
        let (kind, after, limit) = match req.query_value("resume") {
            Some(token) => {
                if req.query.len() > 1 {
                    return bad("resume must be the only argument");
                }
                match Token::parse(token) {
                    Some(t) => (t.kind, Some(t.after), t.limit),
                    None => return bad(&format!("Invalid resume token {token:?}")),
                }
            }
            None => {
                let kind = match req.query_value("type") {
                    Some(t) if QUOTA_TYPES.contains(&t) => Some(t.to_string()),
                    Some(t) => return bad(&format!("Invalid value for type: {t:?}")),
                    None => None,
                };
                let limit = match req.query_value("limit").map(str::parse::<u64>) {
                    None => DEFAULT_PAGE,
                    Some(Ok(n)) if (1..=u64::from(u32::MAX)).contains(&n) => n as usize,
                    Some(_) => return bad("limit must be 1 to 4294967295"),
                };
                (kind, None, limit)
            }
        };
        let mut matching = (after.map_or(0, |a| a + 1)..state.count)
            .filter(|i| !state.deleted.contains(i))
            .filter(|&i| kind.as_deref().is_none_or(|k| quota_type(i) == k));
        let chosen: Vec<u32> = matching.by_ref().take(limit).collect();
        let more = matching.next().is_some();
        let resume = match chosen.last() {
            Some(&last) if more => Value::from(
                Token {
                    kind,
                    after: last,
                    limit,
                }
                .render(),
            ),
            _ => Value::Null,
        };
        let quotas: Vec<Value> = chosen.iter().map(|&i| quota(&self.cluster, i)).collect();
        Response::json(200, &json!({"quotas": quotas, "resume": resume}))
    }
}

fn bad(message: &str) -> Response {
    Response::errors(400, "AEC_BAD_REQUEST", message)
}

/// What a resume token carries: the filter, the last index listed, the page size.
struct Token {
    kind: Option<String>,
    after: u32,
    limit: usize,
}

impl Token {
    /// Opaque to clients: hex of `type|after|limit`.
    fn render(&self) -> String {
        let plain = format!(
            "{}|{}|{}",
            self.kind.as_deref().unwrap_or("*"),
            self.after,
            self.limit
        );
        plain.bytes().map(|b| format!("{b:02x}")).collect()
    }

    fn parse(token: &str) -> Option<Token> {
        if !token.len().is_multiple_of(2) || token.len() > 8192 {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
            .collect();
        let plain = String::from_utf8(bytes?).ok()?;
        let mut parts = plain.split('|');
        let kind = match parts.next()? {
            "*" => None,
            t if QUOTA_TYPES.contains(&t) => Some(t.to_string()),
            _ => return None,
        };
        let after = parts.next()?.parse().ok()?;
        let limit = parts.next()?.parse().ok()?;
        Some(Token { kind, after, limit })
    }
}

/// The type of quota `index`.
pub fn quota_type(index: u32) -> &'static str {
    DEALT[(index % 8) as usize]
}

/// The id of quota `index` of `cluster` (32 characters or fewer, like OneFS').
pub fn quota_id(cluster: &str, index: u32) -> String {
    format!("{:016x}{index:08x}", hash(cluster, index, 0))
}

fn linked(index: u32) -> Option<bool> {
    match quota_type(index) {
        "user" | "group" => Some(index.is_multiple_of(3)),
        _ => None,
    }
}

/// Quota `index` of `cluster` as `/platform/8/quota/quotas` lists it.
pub fn quota(cluster: &str, index: u32) -> Value {
    let h = hash(cluster, index, 1);
    let kind = quota_type(index);
    let project = index / 16;
    let (path, persona) = match kind {
        "user" => (
            format!("/ifs/data/proj{project}"),
            json!({"id": format!("UID:{}", 2000 + index), "name": format!("user{index}"), "type": "user"}),
        ),
        "group" => (
            format!("/ifs/data/proj{project}"),
            json!({"id": format!("GID:{}", 3000 + index), "name": format!("group{index}"), "type": "group"}),
        ),
        "directory" => (format!("/ifs/data/proj{project}/dir{index}"), Value::Null),
        _ => (format!("/ifs/data/proj{project}"), Value::Null),
    };
    let enforced = h & 1 == 1;
    let fslogical = 1 + (h >> 8) % (200 * GIB);
    let applogical = fslogical - fslogical / 10;
    let physical = fslogical + fslogical / 4;
    let fsphysical = physical - physical / 8;
    let inodes = 1 + (h >> 20) % 5_000_000;
    let shadow_refs = (h >> 30) % 1000;
    let physical_ready = !(h >> 40).is_multiple_of(7);
    let thresholds_on =
        ["fslogicalsize", "applogicalsize", "physicalsize"][((h >> 44) % 3) as usize];
    let selected = match thresholds_on {
        "applogicalsize" => applogical,
        "physicalsize" => physical,
        _ => fslogical,
    };
    let hard = enforced.then(|| GIB * (1 + (h >> 48) % 250));
    let soft = hard.filter(|_| (h >> 2) & 1 == 1).map(|v| v / 10 * 8);
    let advisory = hard.filter(|_| (h >> 3) & 1 == 1).map(|v| v / 2);
    let exceeded = |t: Option<u64>| t.map(|t| selected > t);
    let last = |t: Option<u64>| {
        exceeded(t)
            .filter(|&e| e)
            .map(|_| 1_700_000_000 + (h >> 16) as i64 % 10_000_000)
    };
    json!({
        "container": (h >> 4) & 1 == 1,
        "efficiency_ratio": ((fslogical as f64 / physical as f64) * 1000.0).round() / 1000.0,
        "enforced": enforced,
        "id": quota_id(cluster, index),
        "include_snapshots": (h >> 5) & 1 == 1,
        "linked": linked(index),
        "notifications": "default",
        "path": path,
        "persona": persona,
        "ready": !(h >> 6).is_multiple_of(11),
        "thresholds": {
            "advisory": advisory,
            "advisory_exceeded": exceeded(advisory),
            "advisory_last_exceeded": last(advisory),
            "hard": hard,
            "hard_exceeded": exceeded(hard),
            "hard_last_exceeded": last(hard),
            "percent_advisory": advisory.map(|_| 50.0),
            "percent_soft": soft.map(|_| 80.0),
            "soft": soft,
            "soft_exceeded": exceeded(soft),
            "soft_grace": soft.map(|_| 604_800),
            "soft_last_exceeded": last(soft),
        },
        "thresholds_on": thresholds_on,
        "type": kind,
        "usage": {
            "applogical": applogical,
            "applogical_ready": true,
            "fslogical": fslogical,
            "fslogical_ready": true,
            "fsphysical": fsphysical,
            "fsphysical_ready": physical_ready,
            "inodes": inodes,
            "inodes_ready": true,
            "physical": physical,
            "physical_ready": physical_ready,
            "shadow_refs": shadow_refs,
            "shadow_refs_ready": true,
        },
    })
}

/// FNV-1a of (cluster, index, salt) with a SplitMix64 finaliser: stable on
/// every platform and in every process.
fn hash(cluster: &str, index: u32, salt: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = cluster
        .bytes()
        .chain(index.to_le_bytes())
        .chain(salt.to_le_bytes());
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let t = Token {
            kind: Some("directory".into()),
            after: 41,
            limit: 7,
        };
        let back = Token::parse(&t.render()).unwrap();
        assert_eq!(
            (back.kind.as_deref(), back.after, back.limit),
            (Some("directory"), 41, 7)
        );
        assert!(Token::parse("zz").is_none());
        assert!(Token::parse(
            &"x|1|2"
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
        .is_none());
    }

    #[test]
    fn a_quota_is_the_same_every_time_and_has_the_v8_fields_only() {
        let a = quota("C1", 5);
        assert_eq!(a, quota("C1", 5));
        assert_ne!(a, quota("C2", 5));
        assert_eq!(a["type"], "group");
        assert!(a.get("reduction_ratio").is_none());
        assert!(a["usage"].get("physical_data").is_none());
        assert!(quota_id("C1", 5).len() <= 32);
    }

    #[test]
    fn deleted_quotas_are_not_listed_and_types_filter() {
        let set = QuotaSet::new("C1", 16);
        set.delete(0);
        let all = set.expected(None);
        assert_eq!(all.len(), 15);
        assert_eq!(set.expected(Some("directory")).len(), 5);
    }
}
