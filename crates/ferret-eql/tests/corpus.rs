//! Every EQL query of the shared detection-rules corpus parses, passes
//! validation without errors, and survives the print → parse round trip.

mod common;

use ferret_eql::parse;

/// The number of EQL rules in the corpus (issue 2's acceptance number).
const CORPUS_EQL_RULES: usize = 1081;

#[test]
fn every_corpus_query_parses() {
    let rules = common::corpus_eql_rules();
    assert_eq!(rules.len(), CORPUS_EQL_RULES, "number of EQL rules in the corpus");
    let mut failures = Vec::new();
    for r in &rules {
        if let Err(d) = parse(&r.query) {
            failures.push(format!(
                "{}:\n{}",
                r.path.display(),
                ferret_eql::render(&[d], &r.path.display().to_string(), &r.query, 0, false)
            ));
        }
    }
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
    for r in &rules {
        let ast = parse(&r.query).unwrap_or_else(|d| panic!("{}: {d}", r.path.display()));
        let printed = ast.to_string();
        match parse(&printed) {
            Ok(again) if again == ast => {
                // Printing is a fixpoint: the canonical form prints as itself.
                assert_eq!(again.to_string(), printed, "{}", r.path.display());
            }
            Ok(_) => failures.push(format!("{}: reparsed AST differs\n{printed}", r.path.display())),
            Err(d) => failures.push(format!("{}: printed form does not parse: {d}\n{printed}", r.path.display())),
        }
    }
    assert!(failures.is_empty(), "{} round-trip failures:\n{}", failures.len(), failures.join("\n\n"));
}
