//! Properties every input must satisfy, shared by the fuzz target
//! (`fuzz/fuzz_targets/parse_eql.rs`) and the mutation tests, so the same
//! body runs under libFuzzer and in `cargo test`.
//!
//! For any input: [`crate::analyze`] returns (no panic); diagnostic spans lie
//! inside the input on character boundaries and render; when the input
//! parses, its canonical print parses back to an equal tree and printing
//! that tree again gives the same text.

use crate::{analyze, parse, render};

/// Panics if a property fails for `src`.
pub fn check_source(src: &str) {
    let a = analyze(src);
    for d in &a.diagnostics {
        let (s, e) = (d.span.start as usize, d.span.end as usize);
        assert!(
            s <= e && e <= src.len(),
            "span {s}..{e} outside input of {} bytes: {d:?}",
            src.len()
        );
        assert!(
            src.is_char_boundary(s) && src.is_char_boundary(e),
            "span {s}..{e} not on char boundaries: {d:?}"
        );
    }
    // Rendering must cope with every span.
    let _ = render(&a.diagnostics, "fuzz", src, 0, false);
    let Some(q) = a.query else { return };
    let printed = q.to_string();
    let again = match parse(&printed) {
        Ok(again) => again,
        Err(d) => panic!("printed form does not parse: {d}\ninput: {src:?}\nprinted: {printed:?}"),
    };
    assert!(
        again == q,
        "reparsed tree differs\ninput: {src:?}\nprinted: {printed:?}"
    );
    assert_eq!(
        again.to_string(),
        printed,
        "printing is not a fixpoint for {src:?}"
    );
}

/// [`check_source`] on arbitrary bytes (invalid UTF-8 is not a query).
pub fn check_bytes(data: &[u8]) {
    if let Ok(src) = std::str::from_utf8(data) {
        check_source(src);
    }
}
