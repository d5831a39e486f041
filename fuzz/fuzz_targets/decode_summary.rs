//! Fuzz target `decode_summary`: feeds libFuzzer's inputs to [`idic_fuzz::decode_summary`], which
//! panics on any broken property. Run with `make fuzz` (docs/TESTING.md).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idic_fuzz::decode_summary(data));
