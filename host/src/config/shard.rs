//! Sharding: `shard = "K/N"` in `[global]` (or `--shard K/N`) makes this
//! instance collect only the enabled clusters whose shard is K, so N instances
//! with the same config split the clusters between them.
//!
//! A cluster's shard is `fnv1a64(lower-case "hostname:port") mod N + 1`, where
//! FNV-1a 64 has offset basis 0xcbf29ce484222325 and prime 0x100000001b3 over
//! the UTF-8 bytes. The function is pinned by golden vectors in the tests and
//! never changes between versions: if it did, an upgrade of some instances
//! but not others would leave clusters collected twice or not at all. Shards
//! are numbered 1 to N, so a StatefulSet's pod ordinal k is shard k+1. Modulo
//! (not rendezvous) hashing: changing N moves most clusters, which costs
//! nothing here (every cluster's data is keyed by the cluster, not by the
//! instance), and the rule fits in one line an operator can recompute.

use std::fmt;
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer, Error as _};

/// The most shards: far beyond any need (a shard polls a thousand clusters).
pub const MAX_SHARDS: u32 = 10_000;

/// This instance's shard: `index` of `count`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1 to `count`.
    pub index: u32,
    /// The number of shards, 1 to [`MAX_SHARDS`].
    pub count: u32,
}

/// FNV-1a, 64 bits, of `bytes` (the cluster phase uses it too).
pub fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The shard (1 to `count`) that owns the cluster at `hostname`:`port`.
pub fn shard_of(hostname: &str, port: u16, count: u32) -> u32 {
    let key = format!("{hostname}:{port}").to_lowercase();
    (fnv1a64(key.bytes()) % u64::from(count.max(1))) as u32 + 1
}

impl Shard {
    /// Whether this shard owns the cluster at `hostname`:`port`.
    pub fn owns(&self, hostname: &str, port: u16) -> bool {
        shard_of(hostname, port, self.count) == self.index
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "shard {s:?} is not K/N: give this instance's shard K of N shards, 1 <= K <= N <= {MAX_SHARDS}, e.g. \"2/5\" (a pod ordinal k is shard k+1)"
            )
        };
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl<'de> Deserialize<'de> for Shard {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shard, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden vectors: these values are a promise to operators (see the module
    /// documentation). A failure here means the function changed: revert it.
    #[test]
    fn the_shard_function_never_changes() {
        assert_eq!(fnv1a64(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(*b"foobar"), 0x8594_4171_f739_67e8);
        let check = |host: &str, port: u16, n: u32, want: u32| {
            assert_eq!(shard_of(host, port, n), want, "{host}:{port} of {n}");
        };
        check("cluster1.example.com", 8080, 5, GOLDEN[0]);
        check("CLUSTER1.example.com", 8080, 5, GOLDEN[0]);
        check("10.0.0.1", 8080, 2, GOLDEN[1]);
        check("10.0.0.2", 8080, 2, GOLDEN[2]);
        check("isilon-a", 443, 3, GOLDEN[3]);
        check("anything", 8080, 1, 1);
    }

    /// Computed once by an independent FNV-1a (Python) for these inputs.
    const GOLDEN: [u32; 4] = [2, 2, 1, 2];

    #[test]
    fn shards_split_a_thousand_clusters_evenly_and_completely() {
        for n in [2u32, 3, 5, 8] {
            let mut per = vec![0u32; n as usize];
            for i in 0..1000 {
                let host = format!("10.0.{}.{}", i / 250, i % 250);
                let owners: Vec<u32> = (1..=n)
                    .filter(|&k| Shard { index: k, count: n }.owns(&host, 8080))
                    .collect();
                assert_eq!(owners.len(), 1, "{host} owned by {owners:?}");
                per[owners[0] as usize - 1] += 1;
            }
            let even = 1000 / n;
            assert!(
                per.iter().all(|&c| c > even * 7 / 10 && c < even * 13 / 10),
                "{n}: {per:?}"
            );
        }
    }

    #[test]
    fn shard_text_is_k_of_n() {
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, count: 5 }));
        assert_eq!(" 1 / 1 ".parse::<Shard>().unwrap().to_string(), "1/1");
        for bad in ["", "2", "0/5", "6/5", "2/0", "a/b", "1/10001", "-1/5"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("K/N"), "{bad}: {e}");
        }
    }
}
