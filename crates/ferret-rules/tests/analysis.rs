//! Query diagnostics are placed in the rule file: through TOML escapes and
//! JSON escapes, rendered with the file's own line under a caret.

use ferret_rules::{line_col, load_text, Loaded, Rule};
use std::path::Path;

fn rule(path: &str, text: &str) -> Rule {
    match load_text(Path::new(path), text).remove(0) {
        Loaded::Rule(r) => *r,
        other => panic!("not a rule: {other:?}"),
    }
}

const HEAD: &str = "[rule]\nrule_id = \"r\"\nname = \"R\"\ntype = \"eql\"\nlanguage = \"eql\"\nseverity = \"low\"\nrisk_score = 21\n";

#[test]
fn lint_after_escapes_in_a_basic_string_lands_on_the_file_column() {
    // Line 9 has escaped quotes before the wildcard literal, which the
    // W001 lint (wildcard in `in`) points at.
    let text = format!(
        "{HEAD}query = \"\"\"\nprocess where \\\"x\\\" == \\\"x\\\" and process.name in (\\\"py*\\\", \\\"sh\\\")\n\"\"\"\n"
    );
    let r = rule("r.toml", &text);
    let analysis = r.analyze();
    let w = analysis
        .diagnostics
        .iter()
        .find(|d| d.code == "W001")
        .expect("W001 on \"py*\"");
    let placed = &r.file_diagnostics(std::slice::from_ref(w))[0];
    let span = placed.span.range();
    assert_eq!(&text[span.clone()], "\\\"py*\\\"");
    let col = text.lines().nth(8).unwrap().find("\\\"py*").unwrap() + 1;
    assert_eq!(r.position(w, &text), (9, col));
    assert_eq!(line_col(&text, span.start), (9, col));
    let shown = r.render(std::slice::from_ref(w), Some(&text), false);
    assert!(shown.contains(&format!("--> r.toml:9:{col}")), "{shown}");
    let caret_line = shown.lines().find(|l| l.contains('^')).unwrap();
    let src_line = shown.lines().find(|l| l.starts_with("9 |")).unwrap();
    assert_eq!(caret_line.find('^'), src_line.find("\\\"py*"), "{shown}");
}

#[test]
fn syntax_error_in_kibana_export_points_into_its_line() {
    let text = "{\"rule_id\":\"a\",\"name\":\"A\",\"type\":\"eql\",\"language\":\"eql\",\"severity\":\"low\",\"risk_score\":1,\"query\":\"process where\\n x == 'y'\"}\n";
    let r = rule("e.ndjson", text);
    let analysis = r.analyze();
    assert!(analysis.has_errors());
    let d = &analysis.diagnostics[0];
    assert_eq!(d.code, "E003");
    let col = text.find("'y'").unwrap() + 1;
    assert_eq!(r.position(d, text), (1, col));
}

#[test]
fn load_errors_render_like_query_diagnostics() {
    let text = "[rule]\nrule_id = \"b\"\nname = \"B\"\ntype = \"eql\"\nlanguage = \"eql\"\nseverity = \"low\"\nrisk_score = 1\n";
    let Loaded::Error(e) = load_text(Path::new("b.toml"), text).remove(0) else {
        panic!("missing query is an error")
    };
    let d = e.diagnostic().unwrap();
    let shown = ferret_eql::render(&[d], "b.toml", text, 0, false);
    assert!(
        shown.starts_with("error[missing-field]: [rule] has no `query`\n --> b.toml:1:1\n"),
        "{shown}"
    );
}
