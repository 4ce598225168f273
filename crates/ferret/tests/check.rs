//! `ferret check` end to end: the built binary over the shared corpus, the
//! seed rule, the behavior/Kibana fixtures and a folder with broken rules.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferret_testkit::shared_dir as shared;

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ferret-rules/tests/fixtures"
    ))
}

fn ferret(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run ferret")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 1-based line and character column of byte `offset`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[start..offset].chars().count() + 1)
}

#[test]
fn corpus_every_eql_rule_is_ok_and_the_rest_unsupported() {
    let dir = shared().join("corpus/detection-rules");
    let out = ferret(&["check", "--format", "json", s(&dir)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 2192);
    let mut ok = 0;
    for r in &rows {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "path",
            "rule_id",
            "name",
            "type",
            "language",
            "status",
            "diagnostics",
        ] {
            assert!(keys.contains(&k), "missing {k} in {r}");
        }
        match r["status"].as_str().unwrap() {
            "ok" => {
                assert_eq!(r["language"], "eql", "{r}");
                ok += 1;
            }
            "unsupported" => {
                assert_ne!(r["language"], "eql", "{r}");
                assert!(r["reason"].as_str().unwrap().ends_with("not supported yet"));
            }
            other => panic!("status {other}: {r}"),
        }
        for d in r["diagnostics"].as_array().unwrap() {
            assert_eq!(d["severity"], "warning", "{r}");
            assert!(d["line"].as_u64().unwrap() >= 1);
            assert!(d["column"].as_u64().unwrap() >= 1);
        }
    }
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "ferret check over the detection-rules corpus: {ok} EQL rules ok"
    );
    assert_eq!(ok, 1081);
}

#[test]
fn seed_rule_shows_wildcard_lint_under_python() {
    let seed = shared().join("seed/persistence_systemd_netcon.toml");
    let text = std::fs::read_to_string(&seed).unwrap();
    let at = text.find("\"python*\"").unwrap();
    let (line, col) = line_col(&text, at);

    let out = ferret(&["check", s(&seed)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a lint is a warning, not an error"
    );
    let human = String::from_utf8(out.stdout).unwrap();
    let header = human
        .lines()
        .position(|l| l.starts_with("warning[W001]"))
        .unwrap_or_else(|| panic!("no W001 in:\n{human}"));
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(
        lines[header + 1].trim(),
        format!("--> {}:{line}:{col}", seed.display()),
        "{human}"
    );
    // The source line, then a caret line whose first '^' is under the
    // opening quote of "python*".
    let src = lines[header + 3];
    let caret = lines[header + 4];
    let bar = src.find(" | ").unwrap() + 3;
    let in_src = src[bar..].find("\"python*\"").unwrap();
    assert_eq!(
        caret.find('^').unwrap() - bar,
        in_src,
        "caret not under \"python*\":\n{src}\n{caret}"
    );
    assert!(
        human.contains("1 rule checked: 1 ok, 0 with errors, 0 unsupported"),
        "{human}"
    );

    let out = ferret(&["check", "--format", "json", s(&seed)]);
    let rows = json_lines(&out);
    let w001: Vec<&Value> = rows[0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "W001")
        .collect();
    assert!(!w001.is_empty());
    assert_eq!(
        (w001[0]["line"].as_u64(), w001[0]["column"].as_u64()),
        (Some(line as u64), Some(col as u64))
    );
    assert_eq!(rows[0]["status"], "ok");
}

#[test]
fn upstream_seed_rule_has_no_wildcard_lint() {
    let rule = shared().join("corpus/detection-rules/rules/linux/persistence_systemd_netcon.toml");
    let rows = json_lines(&ferret(&["check", "--format", "json", s(&rule)]));
    assert_eq!(rows[0]["status"], "ok");
    assert!(!rows[0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["code"] == "W001"));
}

const GOOD: &str = "[rule]\nrule_id = \"RID\"\nname = \"Good RID\"\ntype = \"eql\"\nlanguage = \"eql\"\nseverity = \"low\"\nrisk_score = 21\nquery = '''\nprocess where process.name == \"sh\"\n'''\n";

#[test]
fn broken_rules_among_good_ones() {
    let dir = std::env::temp_dir().join(format!("ferret-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.toml"), GOOD.replace("RID", "a")).unwrap();
    // A query error on file line 10, column 19 (the `'` of 'bash').
    let bad_query = GOOD.replace("RID", "b").replace(
        "process where process.name == \"sh\"\n",
        "process where true and\n  process.name == 'bash'\n",
    );
    std::fs::write(dir.join("b.toml"), bad_query).unwrap();
    // Bad TOML on line 3, column 8.
    std::fs::write(dir.join("c.toml"), "[rule]\nrule_id = \"c\"\nname = = 1\n").unwrap();
    std::fs::write(dir.join("d.toml"), GOOD.replace("RID", "d")).unwrap();

    let out = ferret(&["check", "--format", "json", s(&dir)]);
    assert_eq!(out.status.code(), Some(1));
    let rows = json_lines(&out);
    let status: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["rule_id"].as_str().unwrap_or("-"),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        status,
        [("a", "ok"), ("b", "error"), ("-", "error"), ("d", "ok")]
    );
    let d = &rows[1]["diagnostics"][0];
    assert_eq!(
        (
            d["severity"].as_str(),
            d["line"].as_u64(),
            d["column"].as_u64()
        ),
        (Some("error"), Some(10), Some(19))
    );
    let d = &rows[2]["diagnostics"][0];
    assert_eq!(
        (d["code"].as_str(), d["line"].as_u64(), d["column"].as_u64()),
        (Some("toml-syntax"), Some(3), Some(8))
    );

    let out = ferret(&["check", s(&dir)]);
    assert_eq!(out.status.code(), Some(1));
    let human = String::from_utf8(out.stdout).unwrap();
    assert!(
        human.contains(&format!("--> {}:10:19", dir.join("b.toml").display())),
        "{human}"
    );
    assert!(
        human.contains("10 |   process.name == 'bash'\n   |                   ^^^^^^"),
        "{human}"
    );
    assert!(
        human.contains(&format!("--> {}:3:8", dir.join("c.toml").display())),
        "{human}"
    );
    assert!(
        human.contains("4 rules checked: 2 ok, 2 with errors, 0 unsupported"),
        "{human}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn behavior_and_kibana_fixtures_check() {
    let out = ferret(&["check", "--format", "json", s(&fixtures())]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rows = json_lines(&out);
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["rule_id"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("7c1e0f52-9a4b-4d0e-8f59-3b2a61d0c002", "ok"),
            ("7c1e0f52-9a4b-4d0e-8f59-3b2a61d0c001", "ok"),
            ("ferret-test-kibana-eql-1", "ok"),
            ("ferret-test-kibana-eql-2", "ok"),
            ("ferret-test-kibana-kql", "unsupported"),
            ("ferret-test-kibana-ml", "unsupported"),
        ]
    );
    assert_eq!(rows[4]["reason"], "language kuery not supported yet");
    assert_eq!(
        rows[5]["reason"],
        "rule type machine_learning not supported yet"
    );

    // Human output: a count by reason, or one line each with --verbose.
    let human = String::from_utf8(ferret(&["check", s(&fixtures())]).stdout).unwrap();
    assert!(
        human.contains("2 rules not supported yet (language kuery: 1, rule type machine_learning: 1); --verbose lists them"),
        "{human}"
    );
    let verbose =
        String::from_utf8(ferret(&["check", "--verbose", s(&fixtures())]).stdout).unwrap();
    assert!(
        verbose
            .contains("rules_export.ndjson:3: Sudoers Edited (language kuery not supported yet)"),
        "{verbose}"
    );
}

#[test]
fn kibana_query_error_points_into_the_ndjson_line() {
    let dir = std::env::temp_dir().join(format!("ferret-check-nd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let line1 = r#"{"rule_id":"k1","name":"K1","type":"eql","language":"eql","severity":"low","risk_score":1,"query":"process where true"}"#;
    let line2 = r#"{"rule_id":"k2","name":"K2","type":"eql","language":"eql","severity":"low","risk_score":1,"query":"process where\n  x == 'y'"}"#;
    let file = dir.join("export.ndjson");
    std::fs::write(
        &file,
        format!("{line1}\n{line2}\n{{\"exported_count\":2}}\n"),
    )
    .unwrap();
    let out = ferret(&["check", "--format", "json", s(&file)]);
    assert_eq!(out.status.code(), Some(1));
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["status"], "ok");
    let d = &rows[1]["diagnostics"][0];
    let col = line2.find("'y'").unwrap() + 1;
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(col as u64))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_without_paths_is_a_usage_error() {
    let out = ferret(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("<PATH>"), "{err}");
}
