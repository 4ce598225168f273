//! Test support shared by ferret's crates: locating the workspace and the
//! shared test material (conformance suites, the detection-rules corpus, the
//! telemetry generator) that lives beside the checkout, never inside it.

use std::path::{Path, PathBuf};

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `<workspace root>/../shared`, or `$FERRET_SHARED`. Panics with a clear
/// message when it is missing, so a test that needs it fails instead of
/// silently skipping (CI has it).
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("FERRET_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    assert!(
        dir.join("corpus/detection-rules").is_dir(),
        "shared test material not found at {} (set FERRET_SHARED to the folder \
         holding corpus/detection-rules, conformance/ and bench/)",
        dir.display()
    );
    dir
}
