//! Fuzz the rule-file loader: any bytes loaded as a detection-rules/behavior
//! TOML file or a Kibana NDJSON export (the first byte picks which), then
//! every rule analysed and every diagnostic rendered at its file position,
//! must not panic, and positions must stay inside the file. The body is
//! `ferret_rules::fuzz_check::check_bytes`, which `cargo test -p
//! ferret-rules` also runs over truncated and mutated fixtures.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferret_rules::fuzz_check::check_bytes(data);
});
