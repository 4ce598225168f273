//! The seed rule end to end: `persistence_systemd_netcon` (the shared seed
//! copy and its current upstream version in the corpus) over hand-written
//! events in `tests/fixtures/systemd_netcon.ndjson`:
//!
//! | ids | scenario | expected |
//! | --- | --- | --- |
//! | 1, 2 | systemd starts perl, its child connects 4 s later | match |
//! | 3, 4 | the same, 6 s later | no match (maxspan=5s) |
//! | 5, 6 | the connection is on another host | no match (by host.id) |
//! | 7, 8 | `event.type` as arrays | match |
//! | 9, 10 | exactly 5 s later | match (maxspan is inclusive) |
//! | 11, 12 | unrelated process events | — |
//!
//! The queries are read from the TOML files at test time.

mod common;

use std::path::Path;
use std::sync::Arc;

use ferret_engine::{PlanOptions, RunConfig};
use ferret_event::Event;
use serde_json::{json, Value};

fn rule_query(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: toml::Value =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    doc["rule"]["query"]
        .as_str()
        .expect("rule.query")
        .to_string()
}

fn fixture() -> Vec<Arc<Event>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/systemd_netcon.ndjson"
    );
    let text = std::fs::read_to_string(path).expect("fixture");
    common::events(
        text.lines()
            .map(|l| serde_json::from_str(l).expect("fixture line"))
            .collect(),
    )
}

fn check(query: &str, events: &[Arc<Event>]) {
    let out = common::run_query(
        query,
        &PlanOptions::default(),
        &RunConfig::default(),
        events,
    );
    assert_eq!(
        common::hit_ids(&out.hits, "event.id"),
        vec![
            vec![json!("1"), json!("2")],
            vec![json!("7"), json!("8")],
            vec![json!("9"), json!("10")]
        ],
        "query: {query}"
    );
    let keys: Vec<Value> = out
        .hits
        .iter()
        .map(|h| {
            Value::Array(
                h.join_keys
                    .as_ref()
                    .expect("sequence keys")
                    .iter()
                    .map(|k| k.to_json())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            json!(["host-a", "ent-a"]),
            json!(["host-e", "ent-d"]),
            json!(["host-f", "ent-e"])
        ]
    );
}

#[test]
fn seed_rule_matches_exactly_the_expected_events() {
    let query = rule_query(&common::shared_dir().join("seed/persistence_systemd_netcon.toml"));
    check(&query, &fixture());
}

#[test]
fn upstream_rule_matches_exactly_the_expected_events() {
    let path = common::shared_dir()
        .join("corpus/detection-rules/rules/linux/persistence_systemd_netcon.toml");
    check(&rule_query(&path), &fixture());
}

#[test]
fn unsorted_input_gives_the_same_hits() {
    let query = rule_query(&common::shared_dir().join("seed/persistence_systemd_netcon.toml"));
    let mut events = fixture();
    events.reverse();
    check(&query, &events);
    // Interleave: odd positions first, then even.
    let sorted = fixture();
    let shuffled: Vec<_> = sorted
        .iter()
        .step_by(2)
        .chain(sorted.iter().skip(1).step_by(2))
        .cloned()
        .collect();
    check(&query, &shuffled);
}
