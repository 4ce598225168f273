//! Elastic Defend behavior-rule and Kibana-export fixtures (written for this
//! project) load with the right metadata, and query positions point into
//! the files.

use ferret_rules::{line_col, load_entries, Loaded, RuleFilter, RuleSet, SourceKind};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

#[test]
fn behavior_rules_load() {
    let set = RuleSet::load(&[fixtures().join("behavior")], &RuleFilter::default());
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    assert!(set.unsupported.is_empty());
    // Sorted by file name: defense_evasion… before execution….
    let names: Vec<&str> = set.rules.iter().map(|r| r.meta.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "System Log Truncated",
            "Shell Spawned by Web Server Connects Out"
        ]
    );
    let r = &set.rules[1];
    assert_eq!(r.source.kind, SourceKind::Behavior);
    assert_eq!(r.meta.rule_id, "7c1e0f52-9a4b-4d0e-8f59-3b2a61d0c001");
    assert_eq!(r.meta.rule_type, "eql");
    assert_eq!(r.meta.os_list, ["linux"]);
    assert_eq!(r.meta.tactics(), ["Persistence"]);
    assert_eq!(
        r.meta.threat.entries()[0]["technique"][0]["subtechnique"][0]["id"],
        "T1505.003"
    );
    assert!(r.query.starts_with("sequence with maxspan=30s\n"));
    let text = std::fs::read_to_string(&r.source.path).unwrap();
    let at = r.query.find("event0.process.entity_id").unwrap();
    assert_eq!(line_col(&text, r.file_offset(at).unwrap()), (17, 25));
    assert_eq!(set.rules[0].meta.os_list, ["linux", "macos"]);
    assert_eq!(set.rules[0].meta.version, Some(serde_json::json!("1.0.3")));
}

#[test]
fn kibana_export_loads() {
    let path = fixtures().join("kibana/rules_export.ndjson");
    let entries = load_entries(&[&path]);
    assert_eq!(
        entries.len(),
        4,
        "summary and exception-list lines are not rules"
    );
    let Loaded::Rule(r) = &entries[0] else {
        panic!("first line is an EQL rule")
    };
    assert_eq!(r.source.kind, SourceKind::KibanaExport);
    assert_eq!(r.source.line, 1);
    let m = &r.meta;
    assert_eq!(m.rule_id, "ferret-test-kibana-eql-1");
    assert_eq!((m.severity.as_str(), m.risk_score), ("high", 73));
    assert_eq!(m.index, ["logs-endpoint.events.process-*"]);
    assert_eq!(m.from.as_deref(), Some("now-9m"));
    assert_eq!(m.interval.as_deref(), Some("5m"));
    assert_eq!(m.max_signals, Some(100));
    assert_eq!(m.timestamp_override.as_deref(), Some("event.ingested"));
    assert_eq!(m.tags, ["OS: Linux", "Tactic: Execution"]);
    assert_eq!(m.tactics(), ["Execution"]);
    assert_eq!(m.version, Some(serde_json::json!(3)));
    // The query is decoded from JSON; its positions map into line 1.
    let text = std::fs::read_to_string(&path).unwrap();
    let at = r.query.find("\"python*\"").unwrap();
    let f = r.file_offset(at).unwrap();
    assert_eq!(&text[f..f + 11], "\\\"python*\\\"");
    assert_eq!(line_col(&text, f).0, 1);

    let Loaded::Rule(r2) = &entries[1] else {
        panic!("second line is an EQL rule")
    };
    assert!(r2.meta.is_building_block());
    assert_eq!(
        r2.meta.event_category_override.as_deref(),
        Some("event.dataset")
    );
    assert_eq!(r2.source.line, 2);

    let Loaded::Unsupported(k) = &entries[2] else {
        panic!("kuery rule")
    };
    assert_eq!(k.reason, "language kuery not supported yet");
    let Loaded::Unsupported(ml) = &entries[3] else {
        panic!("ml rule")
    };
    assert_eq!(ml.reason, "rule type machine_learning not supported yet");
    assert_eq!(ml.source.line, 4);
}

#[test]
fn broken_file_among_good_ones_is_reported_and_others_load() {
    let dir = std::env::temp_dir().join(format!("ferret-rules-mixed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let good = "[rule]\nrule_id = \"g1\"\nname = \"G\"\ntype = \"eql\"\nlanguage = \"eql\"\nseverity = \"low\"\nrisk_score = 21\nquery = 'any where true'\n";
    std::fs::write(dir.join("a_good.toml"), good).unwrap();
    std::fs::write(
        dir.join("b_bad.toml"),
        "[rule]\nrule_id = \"b\"\nname = = \"x\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("sub/c_good.toml"), good.replace("g1", "g2")).unwrap();
    std::fs::write(dir.join("sub/d_dup.toml"), good).unwrap();
    std::fs::write(dir.join("README.md"), "not a rule").unwrap();
    let set = RuleSet::load(&[&dir], &RuleFilter::default());
    let ids: Vec<&str> = set.rules.iter().map(|r| r.meta.rule_id.as_str()).collect();
    assert_eq!(ids, ["g1", "g2"]);
    assert_eq!(set.errors.len(), 2);
    assert!(set.errors[0].path.ends_with("b_bad.toml"));
    assert_eq!(set.errors[0].code, "toml-syntax");
    assert_eq!(
        (set.errors[0].line, set.errors[0].column),
        (Some(3), Some(8))
    );
    assert_eq!(set.errors[1].code, "duplicate-rule-id");
    assert!(set.errors[1].path.ends_with("d_dup.toml"));
    // A missing path is an error too, and does not stop the others.
    let set = RuleSet::load(
        &[dir.join("nope"), dir.join("a_good.toml")],
        &RuleFilter::default(),
    );
    assert_eq!(set.rules.len(), 1);
    assert_eq!(set.errors[0].code, "io");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Rules load in walk order (depth first, names sorted) however many files
/// are parsed at once; hidden entries are passed over; a file reached by
/// two of the paths given (its folder and itself, or one folder twice)
/// loads once.
#[test]
fn folder_walk_order_and_overlapping_paths() {
    let dir = std::env::temp_dir().join(format!("ferret-rules-walk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rule = |id: &str| {
        format!(
            "[rule]\nrule_id = \"{id}\"\nname = \"{id}\"\ntype = \"eql\"\nlanguage = \"eql\"\n\
             severity = \"low\"\nrisk_score = 21\nquery = 'any where true'\n"
        )
    };
    // Written in an order unlike the walk's, in nested folders.
    let mut want = Vec::new();
    for folder in ["b", "a/z", "a", "c"] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
    }
    for n in (0..60).rev() {
        let folder = ["b", "a/z", "a", "c"][n % 4];
        std::fs::write(
            dir.join(folder).join(format!("r{n:02}.toml")),
            rule(&format!("{folder}/{n:02}")),
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.join(".hidden")).unwrap();
    std::fs::write(dir.join(".hidden/r.toml"), rule("hidden")).unwrap();
    std::fs::write(dir.join("a/.r.toml"), rule("hidden-file")).unwrap();
    // Depth first, sorted by name: a/r*, then a/z/ (z sorts after r*), b, c.
    for folder in ["a", "a/z", "b", "c"] {
        for n in 0..60 {
            if ["b", "a/z", "a", "c"][n % 4] == folder {
                want.push(format!("{folder}/{n:02}"));
            }
        }
    }
    let ids = |set: &RuleSet| -> Vec<String> {
        set.rules.iter().map(|r| r.meta.rule_id.clone()).collect()
    };
    let set = RuleSet::load(&[&dir], &RuleFilter::default());
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    assert_eq!(ids(&set), want);
    // Overlapping paths: the folder, a file inside it and the folder again.
    let set = RuleSet::load(
        &[dir.clone(), dir.join("b/r00.toml"), dir.join("./b/../b")],
        &RuleFilter::default(),
    );
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    assert_eq!(ids(&set), want);
    // A file named before its folder keeps its place ahead of the rest.
    let set = RuleSet::load(
        &[dir.join("c/r03.toml"), dir.clone()],
        &RuleFilter::default(),
    );
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let mut first = vec!["c/03".to_string()];
    first.extend(want.iter().filter(|id| *id != "c/03").cloned());
    assert_eq!(ids(&set), first);
    std::fs::remove_dir_all(&dir).unwrap();
}
