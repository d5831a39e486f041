#!/bin/sh
# Runs every fuzz target (fuzz/fuzz_targets) for a set time with cargo-fuzz on the
# nightly toolchain, each from its committed seeds (fuzz/seeds/<target>) plus the
# corpus it grew before (fuzz/corpus/<target>, not committed), and prints one line
# per target: executions, seconds, corpus size, crashes. Exits 1 if any target
# found a crash (the input is in fuzz/artifacts/<target>/; make it a regression
# input under fuzz/regressions/<target>/ once fixed).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60, all targets)
#
# Needs: rustup's nightly toolchain and `cargo install cargo-fuzz`.
set -eu
cd "$(dirname "$0")/.."
seconds="${1:-60}"
[ $# -gt 0 ] && shift
targets="$*"
[ -z "$targets" ] && targets="decode_current decode_summary key_meta config lineproto_escape prometheus_names sim_request"
command -v cargo-fuzz >/dev/null 2>&1 || { echo "fuzz: cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 2; }
# cargo-fuzz builds with the release profile; the workspace's fat LTO breaks
# linking the coverage-instrumented targets (undefined __sancov_gen_ symbols),
# and many codegen units build them faster.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
# `cargo fuzz build` takes one target, or none for all of them.
only=
[ $# -eq 1 ] && only=$1
cargo +nightly fuzz build --features libfuzzer -a $only
status=0
printf '%-18s %12s %8s %8s %8s\n' target executions seconds corpus crashes
for t in $targets; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    before=$(ls "fuzz/artifacts/$t" | wc -l)
    out=$(cargo +nightly fuzz run --features libfuzzer -a "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 2>&1) || status=1
    runs=$(printf '%s\n' "$out" | sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 \2/p' | tail -n 1)
    after=$(ls "fuzz/artifacts/$t" | wc -l)
    printf '%-18s %12s %8s %8s %8s\n' "$t" "${runs% *}" "${runs#* }" "$(ls "fuzz/corpus/$t" | wc -l)" "$((after - before))"
    [ "$after" -gt "$before" ] && status=1
done
exit $status
