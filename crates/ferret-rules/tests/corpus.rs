//! Loads the shared detection-rules corpus: every EQL rule loads, every
//! other rule is reported unsupported with its language, nothing errors, and
//! every query's position in its file is exact.

use ferret_rules::{load_entries, Loaded, RuleFilter, RuleSet};
use std::path::PathBuf;

fn shared() -> PathBuf {
    let p = std::env::var_os("FERRET_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    assert!(
        p.join("corpus/detection-rules").is_dir(),
        "shared material not found at {} (set FERRET_SHARED)",
        p.display()
    );
    p
}

#[test]
fn corpus_loads_with_exact_counts() {
    let dir = shared().join("corpus/detection-rules");
    let set = RuleSet::load(&[&dir], &RuleFilter::default());
    for e in &set.errors {
        eprintln!("{e}");
    }
    assert!(set.errors.is_empty(), "{} load errors", set.errors.len());
    assert_eq!(set.rules.len(), 1081);
    assert_eq!(set.rules.len() + set.unsupported.len(), 2192);
    for r in &set.rules {
        assert_eq!(r.meta.language.as_deref(), Some("eql"));
    }
    let kuery = set
        .unsupported
        .iter()
        .filter(|u| u.reason == "language kuery not supported yet")
        .count();
    assert_eq!(kuery, 792);
    let esql = set
        .unsupported
        .iter()
        .filter(|u| u.reason == "language esql not supported yet")
        .count();
    assert_eq!(esql, 212);
    let ml = set
        .unsupported
        .iter()
        .filter(|u| u.reason == "rule type machine_learning not supported yet")
        .count();
    assert_eq!(ml, 106);
}

#[test]
fn corpus_query_positions_are_exact() {
    let dir = shared().join("corpus/detection-rules");
    let mut checked = 0;
    for entry in load_entries(&[&dir]) {
        let Loaded::Rule(r) = entry else { continue };
        let text = std::fs::read_to_string(&r.source.path).unwrap();
        // Every query character that is not part of an escape must sit at
        // its mapped file offset. Checking each char is cheap enough.
        for (q, c) in r.query.char_indices() {
            let f = r.file_offset(q).unwrap();
            let at = text[f..].chars().next();
            if at != Some(c) {
                // Characters produced by an escape map onto the backslash.
                assert_eq!(
                    at,
                    Some('\\'),
                    "{}: query byte {q} ({c:?}) maps to {f}",
                    r.source.path.display()
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 1081);
}

#[test]
fn filters_select_rules() {
    let dir = shared().join("corpus/detection-rules");
    let all = RuleSet::load(&[&dir], &RuleFilter::default());
    let bb = all
        .rules
        .iter()
        .filter(|r| r.meta.is_building_block())
        .count();
    assert!(bb > 0);
    let no_bb = RuleSet::load(
        &[&dir],
        &RuleFilter {
            exclude_building_blocks: true,
            ..Default::default()
        },
    );
    assert_eq!(no_bb.rules.len(), all.rules.len() - bb);
    let seed = RuleSet::load(
        &[&dir],
        &RuleFilter {
            rule_ids: vec!["f3818c85-2207-4b51-8a28-d70fb156ee87".into()],
            ..Default::default()
        },
    );
    assert_eq!(seed.rules.len(), 1);
    assert!(seed.rules[0]
        .source
        .path
        .ends_with("rules/linux/persistence_systemd_netcon.toml"));
    let high_linux = RuleSet::load(
        &[&dir],
        &RuleFilter {
            tags: vec!["os: linux".into()],
            severities: vec!["HIGH".into()],
            ..Default::default()
        },
    );
    assert!(!high_linux.rules.is_empty());
    for r in &high_linux.rules {
        assert_eq!(r.meta.severity, "high");
        assert!(r.meta.tags.iter().any(|t| t == "OS: Linux"));
    }
}
