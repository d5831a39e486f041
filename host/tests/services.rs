//! Whether the real services some tests start (`influxd`, `prometheus`,
//! `promtool`) are installed. Under `make test` and CI (`IDIC_REQUIRE_SERVICES=1`)
//! a missing one fails the test, saying how to install it; under a plain
//! `cargo test` on a machine with only Rust, the test says on standard error
//! that it is skipped and why, and passes. Included by path by the plugins'
//! tests too.

#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

/// Whether `tool` can be run. When it cannot: panics under
/// `IDIC_REQUIRE_SERVICES=1`; otherwise prints a skip notice naming `test` and
/// returns false, and the caller returns at once.
pub fn available(tool: &str, test: &str) -> bool {
    let found = Command::new(tool)
        .arg("--help")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        return true;
    }
    let package = match tool {
        "influxd" => "influxdb",
        "victoria-metrics" => "victoria-metrics",
        "man" => "man-db",
        _ => "prometheus",
    };
    let how = format!(
        "`{tool}` is not installed; install Debian's {package} package \
         (`sudo sh scripts/test-deps.sh` or `apt-get install {package}`)"
    );
    if std::env::var_os("IDIC_REQUIRE_SERVICES").is_some_and(|v| v == "1") {
        panic!("{how}: make test and CI (IDIC_REQUIRE_SERVICES=1) require it");
    }
    // Straight to the process's standard error: the test harness would hide a
    // passing test's eprintln!.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {how}; `make test` (IDIC_REQUIRE_SERVICES=1) fails instead of skipping"
    );
    false
}
