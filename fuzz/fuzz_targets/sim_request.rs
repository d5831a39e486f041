//! Fuzz target `sim_request`: feeds libFuzzer's inputs to [`idic_fuzz::sim_request`], which
//! panics on any broken property. Run with `make fuzz` (docs/TESTING.md).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idic_fuzz::sim_request(data));
