//! Fuzz the EQL front end: `analyze` must never panic, diagnostics must have
//! valid spans, and every query that parses must survive the printer round
//! trip (parse → print → parse gives an equal tree). The body is
//! `ferret_eql::check::check_bytes`, which `cargo test -p ferret-eql` also
//! runs over mutated corpus queries.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferret_eql::check::check_bytes(data);
});
