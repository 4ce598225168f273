//! The loader's robustness property as one function, shared by the
//! cargo-fuzz target `fuzz/fuzz_targets/load_rule.rs` and by `cargo test`
//! (`tests/robustness.rs`): loading any text as a rule file, analysing every
//! rule and rendering every diagnostic must not panic, and every position
//! reported must lie inside the file.

use crate::{load_text, Loaded};
use std::path::Path;

/// Fuzzer entry: the first byte picks the format (even: TOML, odd: Kibana
/// NDJSON) so one corpus explores both; the rest is the file, decoded
/// lossily (the file reader rejects invalid UTF-8 before parsing anyway).
pub fn check_bytes(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let name = if selector % 2 == 0 {
        "rule.toml"
    } else {
        "export.ndjson"
    };
    check_text(Path::new(name), &String::from_utf8_lossy(rest));
}

/// Loads `text` as the file `path` names, analyses and renders everything;
/// panics (a bug) if anything panics or a position falls outside the text.
pub fn check_text(path: &Path, text: &str) {
    for entry in load_text(path, text) {
        match entry {
            Loaded::Rule(r) => {
                let a = r.analyze();
                let shown = r.render(&a.diagnostics, Some(text), false);
                assert!(r.query_offset.is_some_and(|o| o <= text.len()));
                for d in r.file_diagnostics(&a.diagnostics) {
                    assert!(
                        d.span.start <= d.span.end && d.span.end as usize <= text.len(),
                        "diagnostic outside the file: {shown}"
                    );
                }
            }
            Loaded::Unsupported(u) => assert!(!u.reason.is_empty()),
            Loaded::Error(e) => {
                if let Some(span) = &e.span {
                    assert!(span.start <= span.end && span.end <= text.len(), "{e}");
                }
                if let Some(d) = e.diagnostic() {
                    ferret_eql::render(&[d], "x", text, 0, false);
                }
            }
        }
    }
}
