//! Fuzz target `server_ops`: see `properties::server_ops` in core/tests/properties, which
//! tests/fuzz_mirror.rs also checks with proptest on stable.
#![no_main]

#[path = "../../core/tests/properties/mod.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| properties::server_ops(data));
