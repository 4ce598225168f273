//! Semantic validation (E1xx) and lints (W0xx): each fires where it should
//! and stays quiet where the query is fine.

use ferret_eql::{analyze, Severity};

fn codes(src: &str) -> Vec<&'static str> {
    let a = analyze(src);
    a.diagnostics.iter().map(|d| d.code).collect()
}

fn assert_codes(src: &str, expected: &[&str]) {
    assert_eq!(codes(src), expected, "{src}");
}

#[test]
fn valid_queries_are_clean() {
    for src in [
        "process where startsWith~(process.name, \"a\") and length(process.name) > 3",
        "process where between(process.name, \"a\", \"b\", true) != null",
        "network where cidrMatch(destination.ip, \"10.0.0.0/8\", \"192.168.0.0/16\")",
        "process where concat(a, b, \"c\") == \"x\" and number(\"12\", 16) == 18",
        "process where STRINGCONTAINS(a, \"b\") and indexOf~(a, \"b\", 0) == 1",
        "process where add(1, 2) + subtract(3, -1) + multiply(1, 2.5) + divide(4, 2) + modulo(5, 3) > 0",
        "process where substring(a, 0, 2) : \"ab\"",
        "sequence by a with maxspan=5s [process where true] by b [file where true] by c until [any where true] by d",
        "sequence [x where true] with runs=2",
        "sequence ![x where true] [y where true] ![z where true]",
        "sample by host.id [a where true] by x [b where true] by y",
        "process where process.name : \"bash\"",
        "process where process.name like~ (\"bash\", \"sh*\")",
        "any where true | head 0 | tail 5",
    ] {
        assert_codes(src, &[]);
    }
}

#[test]
fn function_errors() {
    assert_codes("process where foo(a)", &["E101"]);
    assert_codes("process where length(a, b)", &["E102"]);
    assert_codes("process where startsWith(a)", &["E102"]);
    assert_codes("process where cidrMatch(a)", &["E102"]);
    assert_codes("process where length(1)", &["E103"]);
    assert_codes("process where add(\"a\", 1) > 0", &["E103"]);
    assert_codes("process where indexOf(a, \"b\", 1.5) > 0", &["E103"]);
    assert_codes(
        "process where between(a, \"b\", \"c\", \"yes\") == \"\"",
        &["E103"],
    );
    assert_codes(
        "network where cidrMatch(destination.ip, source.ip)",
        &["E103"],
    );
    assert_codes("process where length~(a) > 1", &["E104"]);
    // the error points at the function name
    let a = analyze("process where foo(a)");
    assert_eq!(a.diagnostics[0].span.range(), 14..17);
    assert_eq!(a.diagnostics[0].severity, Severity::Error);
    assert!(a.valid_query().is_none() && a.query.is_some());
}

#[test]
fn sequence_and_sample_errors() {
    assert_codes("sequence [a where true] by x [b where true]", &["E105"]);
    assert_codes(
        "sequence [a where true] by x [b where true] by y until [c where true]",
        &["E105"],
    );
    assert_codes(
        "sequence by k [a where true] by x, y [b where true] by y",
        &["E105"],
    );
    assert_codes(
        "sequence [a where true] with runs=0 [b where true]",
        &["E106"],
    );
    assert_codes(
        "sequence [a where true] with runs=101 [b where true]",
        &["E106"],
    );
    assert_codes("sequence [a where true] with runs=100 [b where true]", &[]);
    assert_codes("sequence [a where true]", &["E107"]);
    assert_codes("sequence [a where true] until [b where true]", &["E107"]);
    assert_codes("sample by x [a where true]", &["E108"]);
    assert_codes("sample by x [a where true] [b where true] by y", &["E105"]);
    assert_codes(
        "sequence [a where true] [b where true] until ![c where true]",
        &["E109"],
    );
    assert_codes("sequence ![a where true] ![b where true]", &["E109"]);
    assert_codes("sample by x ![a where true] [b where true]", &["E109"]);
    assert_codes("any where true | head -1", &["E110"]);
    assert_codes("any where true | tail -3", &["E110"]);
}

#[test]
fn wildcard_in_exact_comparison() {
    assert_codes("process where process.name == \"python*\"", &["W001"]);
    assert_codes("process where process.name != \"py?hon\"", &["W001"]);
    assert_codes("process where \"python*\" == process.name", &["W001"]);
    assert_codes("process where process.name in (\"a*\", \"b\")", &["W001"]);
    assert_codes("process where process.name in~ (\"a*\")", &["W001"]);
    assert_codes("process where process.name not in (\"a*\")", &["W001"]);
    assert_codes("process where process.name not in~ (\"a*\")", &["W001"]);
    // wildcard-aware operators are fine
    assert_codes("process where process.name : \"python*\"", &[]);
    assert_codes("process where process.name like \"python*\"", &[]);
    // the warning underlines the literal
    let src = "process where process.name in (\"x\", \"python*\")";
    let a = analyze(src);
    assert_eq!(&src[a.diagnostics[0].span.range()], "\"python*\"");
    assert_eq!(a.diagnostics[0].severity, Severity::Warning);
    assert!(a.valid_query().is_some());
}

#[test]
fn like_without_wildcard() {
    assert_codes("process where process.name like \"bash\"", &["W002"]);
    assert_codes(
        "process where process.name like~ (\"bash\", \"sh\")",
        &["W002"],
    );
    // one wildcard anywhere in the list: idiomatic
    assert_codes("process where process.name like~ (\"bash\", \"sh*\")", &[]);
    // `:` without a wildcard is case-insensitive equality: not flagged
    assert_codes("process where process.name : (\"bash\", \"sh\")", &[]);
}

#[test]
fn duplicates_in_lists() {
    assert_codes(
        "process where process.name in (\"a\", \"b\", \"a\")",
        &["W003"],
    );
    assert_codes("process where process.name in (\"a\", \"A\")", &[]);
    assert_codes("process where process.name in~ (\"a\", \"A\")", &["W003"]);
    assert_codes("process where process.name : (\"a*\", \"A*\")", &["W003"]);
    assert_codes("process where process.pid in (1, 2, 1)", &["W003"]);
    // Folded beyond ASCII too; an integer and its text are different values.
    assert_codes(
        "process where process.name in~ (\"Été\", \"éTÉ\")",
        &["W003"],
    );
    assert_codes("process where process.name in (\"Été\", \"été\")", &[]);
    assert_codes("process where process.pid in (1, \"1\")", &[]);
}

#[test]
fn plain_text_regex() {
    assert_codes("process where process.name regex \"bash\"", &["W005"]);
    assert_codes("process where process.name regex \"ba.h\"", &[]);
}

#[test]
fn diagnostics_come_in_source_order() {
    let a = analyze("process where foo(a) and process.name == \"x*\" and length(1, 2)");
    let starts: Vec<u32> = a.diagnostics.iter().map(|d| d.span.start).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
    assert_eq!(
        codes("process where foo(a) and process.name == \"x*\" and length(1, 2)"),
        ["E101", "W001", "E102"]
    );
}

#[test]
fn syntax_error_stops_analysis() {
    let a = analyze("process where (");
    assert!(a.query.is_none());
    assert_eq!(a.diagnostics.len(), 1);
    assert!(a.has_errors());
}
