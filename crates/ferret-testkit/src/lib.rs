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
        dir.join("corpus/detection-rules").is_dir() && dir.join("bench/gen_events.py").is_file(),
        "shared test material not found at {} (set FERRET_SHARED to the folder \
         holding corpus/detection-rules, conformance/ and bench/)",
        dir.display()
    );
    dir
}

/// A fresh, empty folder under the system temp dir, unique to this test
/// process and `name`.
pub fn fresh_temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferret-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Runs the program `bin` (a test's `env!("CARGO_BIN_EXE_…")`) with `args`
/// in the workspace root, so paths like `examples/rules` resolve.
pub fn run_in_workspace(bin: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"))
}

/// The lines a run wrote to stdout, sorted: output compared as a multiset.
pub fn sorted_stdout_lines(out: &std::process::Output) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8(out.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}
