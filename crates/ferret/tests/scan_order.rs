//! `ferret scan --reorder-window` and `--reference` (issue 5, issue 6 item
//! 3): out-of-order input beyond the window is reported on stderr, `none`
//! orders any input exactly, and the hidden reference path agrees with the
//! normal one.

use std::path::PathBuf;
use std::process::Output;

use ferret_testkit::{run_in_workspace, sorted_stdout_lines, workspace_root as workspace};

fn ferret(args: &[&str]) -> Output {
    run_in_workspace(env!("CARGO_BIN_EXE_ferret"), args)
}

/// The example telemetry with its lines reversed.
fn reversed() -> PathBuf {
    let text = std::fs::read_to_string(workspace().join("examples/telemetry.ndjson")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.reverse();
    let path =
        std::env::temp_dir().join(format!("ferret-scan-order-{}.ndjson", std::process::id()));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn scan(extra: &[&str], events: &str) -> Output {
    let mut args = vec!["scan", "--format", "ndjson", "--rules", "examples/rules"];
    args.extend_from_slice(extra);
    args.push(events);
    let out = ferret(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn reversed_input_is_reported_with_a_window_and_exact_without_one() {
    let sorted = scan(&[], "examples/telemetry.ndjson");
    let expected = sorted_stdout_lines(&sorted);
    assert!(
        expected.iter().any(|l| l.contains("\"ferret.join_keys\"")),
        "a sequence fires"
    );
    let rev = reversed();
    let rev = rev.to_str().unwrap();

    let windowed = scan(&["-q", "--reorder-window", "1ms"], rev);
    let stderr = String::from_utf8_lossy(&windowed.stderr);
    assert!(
        stderr.contains("later than the reorder window allows"),
        "late events are reported even with -q: {stderr}"
    );

    let exact = scan(&["--reorder-window", "none"], rev);
    assert_eq!(sorted_stdout_lines(&exact), expected);
    assert!(!String::from_utf8_lossy(&exact.stderr).contains("reorder window"));

    let reference = scan(&["--reference"], rev);
    assert_eq!(sorted_stdout_lines(&reference), expected);
    let _ = std::fs::remove_file(rev);
}

#[test]
fn a_bad_reorder_window_is_an_error() {
    let out = ferret(&[
        "scan",
        "--rules",
        "examples/rules",
        "--reorder-window",
        "5 parsecs",
        "examples/telemetry.ndjson",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reorder-window"));
}
