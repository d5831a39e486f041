//! Splitting a key list into request targets that stay under OneFS' limit of
//! 8198 bytes (gostats before 0.33 silently dropped statistics here).

/// Builds `base&key=k1&key=k2...` targets, none longer than `max` bytes. A single
/// key too long to fit still gets a target of its own (the cluster will refuse it
/// and say so, rather than idic dropping it silently).
pub fn split_keys(base: &str, keys: &[String], max: usize) -> Vec<String> {
    let mut targets = Vec::new();
    let mut current = base.to_string();
    let mut count = 0;
    for key in keys {
        let part = format!("&key={}", encode(key));
        if count > 0 && current.len() + part.len() > max {
            targets.push(std::mem::replace(&mut current, base.to_string()));
            count = 0;
        }
        current.push_str(&part);
        count += 1;
    }
    if count > 0 {
        targets.push(current);
    }
    targets
}

/// Percent-encodes what may not stand in a query value. Statistics keys are
/// dotted ASCII names, so this is almost always the identity.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~') {
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
    fn every_key_lands_in_exactly_one_target_under_the_limit() {
        let keys: Vec<String> = (0..2000)
            .map(|i| format!("node.some.long.statistic.key.{i}"))
            .collect();
        let targets = split_keys("/platform/1/statistics/current?devid=all", &keys, 8000);
        assert!(targets.len() > 1);
        let mut seen = 0;
        for t in &targets {
            assert!(t.len() <= 8000, "{}", t.len());
            seen += t.matches("&key=").count();
        }
        assert_eq!(seen, keys.len());
    }

    #[test]
    fn few_keys_make_one_target() {
        let keys = vec!["a.b".to_string(), "c d".to_string()];
        assert_eq!(
            split_keys("/x?y=1", &keys, 8000),
            vec!["/x?y=1&key=a.b&key=c%20d"]
        );
    }

    #[test]
    fn no_keys_make_no_target() {
        assert!(split_keys("/x?y=1", &[], 8000).is_empty());
    }
}
