//! Replays every committed seed (`seeds/<target>/`) and every input that once
//! broke a property (`regressions/<target>/`) through the fuzz targets' checks,
//! on stable: `cargo test --workspace` (and so CI) runs the corpus without
//! nightly or libFuzzer.

use std::path::Path;

/// Runs every file of `seeds/<target>` and `regressions/<target>` through `check`;
/// returns how many there were.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let mut n = 0;
    for folder in ["seeds", "regressions"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(folder)
            .join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable folder").path();
            let data = std::fs::read(&path).expect("readable seed");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{} breaks {target}", path.display());
            n += 1;
        }
    }
    n
}

#[test]
fn decoder_seeds_and_regressions_pass() {
    assert!(replay("decode_current", idic_fuzz::decode_current) >= 5);
    assert!(replay("decode_summary", idic_fuzz::decode_summary) >= 3);
    assert!(replay("key_meta", idic_fuzz::key_meta) >= 1);
}

#[test]
fn config_seeds_and_regressions_pass() {
    assert!(replay("config", idic_fuzz::config) >= 1);
}

#[test]
fn sink_name_seeds_and_regressions_pass() {
    assert!(replay("lineproto_escape", idic_fuzz::lineproto_escape) >= 1);
    assert!(replay("prometheus_names", idic_fuzz::prometheus_names) >= 1);
}

#[test]
fn simulator_request_seeds_and_regressions_pass() {
    assert!(replay("sim_request", idic_fuzz::sim_request) >= 1);
}
