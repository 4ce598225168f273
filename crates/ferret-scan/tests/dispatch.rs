//! The scan shortcuts in isolation: category dispatch offers a rule only the
//! events of its categories (the reference path offers every event), and
//! projection decoding still puts the whole event, fields no rule reads
//! included, into the alert.

use std::path::PathBuf;

use ferret_event::{Reader, Skip};
use ferret_rules::{RuleFilter, RuleSet};
use ferret_scan::{compile, scan, CompileOptions, ScanOptions, ScanOutcome};

fn tmpdir(name: &str) -> PathBuf {
    // Tests run in parallel: a fresh directory per call.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("ferret-dispatch-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const RULE: &str = r#"
[metadata]
creation_date = "2026/01/01"
maturity = "production"
updated_date = "2026/01/01"

[rule]
author = ["ferret tests"]
description = "Test rule."
language = "eql"
license = "Apache License 2.0"
name = "Curl connects out"
risk_score = 21
rule_id = "11111111-2222-3333-4444-555555555555"
severity = "low"
type = "eql"
query = '''
network where process.name == "curl"
'''
"#;

const EVENTS: &str = r#"{"@timestamp": "2026-01-01T00:00:00Z", "event": {"category": ["process"]}, "process": {"name": "curl"}}
{"@timestamp": "2026-01-01T00:00:01Z", "event": {"category": ["network"]}, "process": {"name": "curl"}, "agent": {"version": "8.15.2"}, "unread": {"deep": [1, {"x": "y"}]}}
{"@timestamp": "2026-01-01T00:00:02Z", "event": {"category": "file"}, "process": {"name": "curl"}}
{"@timestamp": "2026-01-01T00:00:03Z", "process": {"name": "curl"}}
"#;

/// The outcome and its alert documents.
fn run(reference: bool) -> (ScanOutcome, Vec<serde_json::Map<String, serde_json::Value>>) {
    let dir = tmpdir(if reference { "ref" } else { "opt" });
    std::fs::write(dir.join("rule.toml"), RULE).unwrap();
    std::fs::write(dir.join("events.ndjson"), EVENTS).unwrap();
    let compiled = compile(
        RuleSet::load(&[dir.join("rule.toml")], &RuleFilter::default()),
        &CompileOptions::default(),
    );
    assert_eq!(compiled.rules.len(), 1, "{:?}", compiled.failed);
    let mut skips: Vec<Skip> = Vec::new();
    let out = scan(
        &compiled,
        Reader::from_args([dir.join("events.ndjson")]),
        &ScanOptions {
            reference,
            ..ScanOptions::default()
        },
        &mut skips,
        &mut |_| {},
    );
    assert!(skips.is_empty());
    let _ = std::fs::remove_dir_all(dir);
    let docs = out
        .alerts
        .iter()
        .map(|a| a.unwrap().doc(&compiled))
        .collect();
    (out, docs)
}

#[test]
fn a_rule_is_offered_only_events_of_its_categories() {
    let (fast, _) = run(false);
    assert_eq!(fast.rule_stats[0].events_seen, 1, "only the network event");
    let (reference, _) = run(true);
    assert_eq!(
        reference.rule_stats[0].events_seen, 4,
        "the reference sees all"
    );
    assert_eq!(fast.alerts.len(), 1);
    assert_eq!(reference.alerts.len(), 1);
}

#[test]
fn alerts_show_the_whole_event_although_it_was_decoded_projected() {
    let (_, fast) = run(false);
    let (_, reference) = run(true);
    let doc = &fast[0];
    let event = &doc["ferret.events"][0];
    let source = event.get("_source").unwrap_or(event);
    assert_eq!(source["unread"]["deep"][1]["x"], "y", "{doc:?}");
    assert_eq!(
        serde_json::to_string(doc).unwrap(),
        serde_json::to_string(&reference[0]).unwrap()
    );
}
