//! What is done about keys that answer badly: warn once and stop asking for keys
//! that are unavailable or unusable, warn about keys skipped this time, and
//! (with `-check-stat-return`) about requested keys missing from an answer.

use std::collections::{BTreeSet, HashSet};

use super::decode::Problem;
use super::schedule::{Bucket, Fetch};

/// Acts on per-key problems: stop asking for unavailable or unusable keys (warned
/// once), warn about skipped ones.
pub fn handle_problems(
    cluster: &str,
    bucket: &mut Bucket,
    problems: &[Problem],
    warned: &mut HashSet<String>,
) {
    for p in problems {
        match p {
            Problem::Unavailable { key, code, error } => {
                if let Fetch::Stats(keys) = &mut bucket.what {
                    keys.retain(|k| k != key);
                }
                if warned.insert(key.clone()) {
                    log::warn!("cluster={cluster} statistic {key:?} is unavailable (error_code {code}: {error}); no longer asking for it");
                }
            }
            Problem::Unusable { key, devid, why } => {
                if let Fetch::Stats(keys) = &mut bucket.what {
                    keys.retain(|k| k != key);
                }
                if warned.insert(key.clone()) {
                    log::warn!("cluster={cluster} statistic {key:?} (devid {devid}) has no usable value ({why}); it is skipped and no longer asked for");
                }
            }
            Problem::Skipped {
                key,
                devid,
                code,
                error,
            } => {
                log::warn!("cluster={cluster} statistic {key:?} devid {devid} skipped this time (error_code {code}: {error})");
            }
            Problem::UnknownCode {
                key,
                devid,
                code,
                error,
            } => {
                log::error!("cluster={cluster} statistic {key:?} devid {devid} answered unknown error_code {code} ({error}); skipped");
            }
        }
    }
}

/// `-check-stat-return`: warns about every requested key the answer lacks.
pub fn report_missing(cluster: &str, what: &Fetch, seen: &BTreeSet<String>) {
    if let Fetch::Stats(keys) = what {
        for k in keys.iter().filter(|k| !seen.contains(*k)) {
            log::warn!(
                "cluster={cluster} statistic {k:?} was requested but is missing from the answer"
            );
        }
    }
}
