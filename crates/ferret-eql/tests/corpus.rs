//! Every EQL query of the shared detection-rules corpus parses, passes
//! validation without errors, and survives the print → parse round trip.

mod common;

use ferret_eql::{analyze, parse, Severity};
use std::collections::BTreeMap;

/// The number of EQL rules in the corpus (issue 2's acceptance number).
const CORPUS_EQL_RULES: usize = 1081;

#[test]
fn every_corpus_query_parses() {
    let rules = common::corpus_eql_rules();
    assert_eq!(
        rules.len(),
        CORPUS_EQL_RULES,
        "number of EQL rules in the corpus"
    );
    let mut failures = Vec::new();
    for r in rules {
        if let Err(d) = parse(&r.query) {
            failures.push(format!(
                "{}:\n{}",
                r.path.display(),
                ferret_eql::render(&[d], &r.path.display().to_string(), &r.query, 0, false)
            ));
        }
    }
    // Straight to the stderr handle so the count shows in `cargo test`.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "detection-rules corpus: {}/{} EQL queries parse",
        rules.len() - failures.len(),
        rules.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus queries failed to parse:\n{}",
        failures.len(),
        rules.len(),
        failures.join("\n")
    );
}

#[test]
fn every_corpus_query_round_trips_through_the_printer() {
    let rules = common::corpus_eql_rules();
    assert_eq!(rules.len(), CORPUS_EQL_RULES);
    let mut failures = Vec::new();
    for r in rules {
        let ast = parse(&r.query).unwrap_or_else(|d| panic!("{}: {d}", r.path.display()));
        let printed = ast.to_string();
        match parse(&printed) {
            Ok(again) if again == ast => {
                // Printing is a fixpoint: the canonical form prints as itself.
                assert_eq!(again.to_string(), printed, "{}", r.path.display());
            }
            Ok(_) => failures.push(format!(
                "{}: reparsed AST differs\n{printed}",
                r.path.display()
            )),
            Err(d) => failures.push(format!(
                "{}: printed form does not parse: {d}\n{printed}",
                r.path.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} round-trip failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_corpus_query_validates_without_errors() {
    let rules = common::corpus_eql_rules();
    assert_eq!(rules.len(), CORPUS_EQL_RULES);
    let mut failures = Vec::new();
    for r in rules {
        let a = analyze(&r.query);
        let errors: Vec<_> = a.errors().cloned().collect();
        if !errors.is_empty() {
            failures.push(ferret_eql::render(
                &errors,
                &r.path.display().to_string(),
                &r.query,
                0,
                false,
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rules with errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// How many corpus rules each lint flags (run with `--nocapture` to see the
/// table). The numbers are pinned so that a change in a lint's reach is
/// noticed and reviewed.
#[test]
fn lint_counts_over_the_corpus() {
    let rules = common::corpus_eql_rules();
    assert_eq!(rules.len(), CORPUS_EQL_RULES);
    let mut rules_per_code: BTreeMap<&str, usize> = BTreeMap::new();
    let mut hits_per_code: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rules {
        let a = analyze(&r.query);
        let mut codes: Vec<&str> = Vec::new();
        for d in a
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
        {
            *hits_per_code.entry(d.code).or_default() += 1;
            if std::env::var_os("FERRET_LINT_SHOW").is_some_and(|v| v == d.code) {
                println!(
                    "{}",
                    ferret_eql::render(
                        std::slice::from_ref(d),
                        &r.path.display().to_string(),
                        &r.file_text,
                        r.file_text.find(r.query.as_str()).unwrap_or(0),
                        false
                    )
                );
            }
            if !codes.contains(&d.code) {
                codes.push(d.code);
            }
        }
        for c in codes {
            *rules_per_code.entry(c).or_default() += 1;
        }
    }
    println!(
        "lint  rules flagged  warnings   (of {} EQL rules)",
        rules.len()
    );
    for (code, n) in &rules_per_code {
        println!("{code}  {n:>13}  {:>8}", hits_per_code[code]);
    }
    let got: Vec<(&str, usize)> = rules_per_code.into_iter().collect();
    assert_eq!(got, EXPECTED_LINT_RULE_COUNTS);
}

const EXPECTED_LINT_RULE_COUNTS: &[(&str, usize)] = &[("W001", 18), ("W002", 43), ("W003", 68)];

#[test]
fn seed_rule_wildcard_lint_points_at_python_star() {
    let path = common::shared_dir().join("seed/persistence_systemd_netcon.toml");
    let text = std::fs::read_to_string(&path).expect("read seed rule");
    let query = common::load_rule(&text).expect("seed rule is EQL");
    let a = analyze(&query);
    assert!(!a.has_errors(), "{:?}", a.diagnostics);
    let w001: Vec<&str> = a
        .diagnostics
        .iter()
        .filter(|d| d.code == "W001")
        .map(|d| &query[d.span.range()])
        .collect();
    for lit in ["\"python*\"", "\"php*\"", "\"lua*\""] {
        assert!(w001.contains(&lit), "W001 should point at {lit}: {w001:?}");
    }
    // and the current upstream version is clean of it
    let upstream = common::shared_dir()
        .join("corpus/detection-rules/rules/linux/persistence_systemd_netcon.toml");
    let text = std::fs::read_to_string(&upstream).expect("read upstream rule");
    let query = common::load_rule(&text).expect("upstream rule is EQL");
    let a = analyze(&query);
    assert!(
        a.diagnostics.iter().all(|d| d.code != "W001"),
        "{:?}",
        a.diagnostics
    );
}

/// Elasticsearch's own conformance queries all parse and validate.
#[test]
fn every_conformance_query_is_valid() {
    let specs = common::conformance_queries();
    assert!(
        specs.len() >= 190,
        "found only {} conformance queries",
        specs.len()
    );
    let mut failures = Vec::new();
    for (name, q) in &specs {
        let a = analyze(q);
        let errors: Vec<_> = a.errors().cloned().collect();
        if !errors.is_empty() {
            failures.push(format!(
                "{name}:\n{}",
                ferret_eql::render(&errors, name, q, 0, false)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} conformance queries rejected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
