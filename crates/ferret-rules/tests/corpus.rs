//! Loads the shared detection-rules corpus: every EQL rule loads, every
//! other rule is reported unsupported with its language, nothing errors, and
//! every query's position in its file is exact. The corpus is loaded once
//! and shared by the tests.

use ferret_rules::{load_entries, Loaded, Rule, RuleFilter, RuleMeta, RuleSet, Unsupported};
use std::path::PathBuf;
use std::sync::OnceLock;

use ferret_testkit::shared_dir as shared;

fn corpus() -> &'static [Loaded] {
    static ENTRIES: OnceLock<Vec<Loaded>> = OnceLock::new();
    ENTRIES.get_or_init(|| load_entries(&[shared().join("corpus/detection-rules")]))
}

fn rules() -> impl Iterator<Item = &'static Rule> {
    corpus().iter().filter_map(|e| match e {
        Loaded::Rule(r) => Some(&**r),
        _ => None,
    })
}

fn unsupported() -> impl Iterator<Item = &'static Unsupported> {
    corpus().iter().filter_map(|e| match e {
        Loaded::Unsupported(u) => Some(&**u),
        _ => None,
    })
}

#[test]
fn corpus_loads_with_exact_counts() {
    let errors: Vec<String> = corpus()
        .iter()
        .filter_map(|e| match e {
            Loaded::Error(e) => Some(e.to_string()),
            _ => None,
        })
        .collect();
    assert!(errors.is_empty(), "load errors: {errors:#?}");
    assert_eq!(corpus().len(), 2192);
    assert_eq!(rules().count(), 1081);
    for r in rules() {
        assert_eq!(r.meta.language.as_deref(), Some("eql"));
        assert_eq!(r.meta.rule_type, "eql");
    }
    let count = |reason: &str| unsupported().filter(|u| u.reason == reason).count();
    assert_eq!(count("language kuery not supported yet"), 792);
    assert_eq!(count("language esql not supported yet"), 212);
    assert_eq!(count("rule type machine_learning not supported yet"), 106);
    assert_eq!(count("language lucene not supported yet"), 1);
    // Sorted, deterministic order.
    let paths: Vec<&PathBuf> = corpus()
        .iter()
        .map(|e| match e {
            Loaded::Rule(r) => &r.source.path,
            Loaded::Unsupported(u) => &u.source.path,
            Loaded::Error(e) => &e.path,
        })
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
}

#[test]
fn corpus_query_positions_are_exact() {
    let mut checked = 0;
    for r in rules() {
        let text = std::fs::read_to_string(&r.source.path).unwrap();
        // Every query character must sit at its mapped file offset, except
        // characters produced by an escape, which map onto the backslash.
        for (q, c) in r.query.char_indices() {
            let f = r.file_offset(q).unwrap();
            let at = text[f..].chars().next();
            if at != Some(c) {
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
    let metas: Vec<&RuleMeta> = rules().map(|r| &r.meta).collect();
    let kept = |f: &RuleFilter| metas.iter().filter(|m| f.matches(m)).count();
    let bb = metas.iter().filter(|m| m.is_building_block()).count();
    assert!(bb > 0);
    let no_bb = RuleFilter {
        exclude_building_blocks: true,
        ..Default::default()
    };
    assert_eq!(kept(&no_bb), metas.len() - bb);
    let seed = RuleFilter {
        rule_ids: vec!["f3818c85-2207-4b51-8a28-d70fb156ee87".into()],
        ..Default::default()
    };
    let found: Vec<&Rule> = rules().filter(|r| seed.matches(&r.meta)).collect();
    assert_eq!(found.len(), 1);
    assert!(found[0]
        .source
        .path
        .ends_with("rules/linux/persistence_systemd_netcon.toml"));
    let high_linux = RuleFilter {
        tags: vec!["os: linux".into()],
        severities: vec!["HIGH".into()],
        ..Default::default()
    };
    assert!(kept(&high_linux) > 0);
    for m in metas.iter().filter(|m| high_linux.matches(m)) {
        assert_eq!(m.severity, "high");
        assert!(m.tags.iter().any(|t| t == "OS: Linux"));
    }
    // RuleSet::load applies the filter to rules and unsupported rules alike.
    let set = RuleSet::load(
        &[shared().join("corpus/detection-rules/rules/linux")],
        &high_linux,
    );
    assert!(!set.rules.is_empty());
    assert!(set
        .rules
        .iter()
        .map(|r| &r.meta)
        .chain(set.unsupported.iter().map(|u| &u.meta))
        .all(|m| m.severity == "high"));
}

/// Every rule's ATT&CK mapping, kept as JSON text written while the TOML is
/// read, is the text `serde_json` writes for the mapping read as JSON values
/// (as alerts had it): same members, same order, same numbers.
#[test]
fn corpus_threat_text_is_the_mappings_json() {
    let metas = corpus().iter().filter_map(|e| match e {
        Loaded::Rule(r) => Some((&r.meta, &r.source.path)),
        Loaded::Unsupported(u) => Some((&u.meta, &u.source.path)),
        Loaded::Error(_) => None,
    });
    let mut with_threat = 0;
    for (meta, path) in metas {
        let text = std::fs::read_to_string(path).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let threat = doc
            .get("rule")
            .and_then(|r| r.get("threat"))
            .or_else(|| doc.get("threat"));
        let want: Vec<serde_json::Value> = match threat {
            Some(t) => serde_json::to_value(t)
                .map(|v| serde_json::from_value(v).unwrap())
                .unwrap(),
            None => Vec::new(),
        };
        with_threat += usize::from(!want.is_empty());
        assert_eq!(
            meta.threat.json(),
            serde_json::to_string(&want).unwrap(),
            "{}",
            path.display()
        );
    }
    assert!(with_threat > 1500, "{with_threat}");
}
