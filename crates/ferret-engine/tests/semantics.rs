//! Execution semantics written from the Elasticsearch EQL documentation
//! (syntax reference: sequences, `maxspan`, `until`, `runs`, missing events,
//! samples; pipe reference: `head`, `tail`) and from Elasticsearch's
//! implementation notes where the documentation is silent, plus ferret's
//! own guarantees (ordering of unsorted input, bounded state, determinism).

mod common;

use std::sync::Arc;

use ferret_engine::{Output, PlanOptions, RunConfig};
use ferret_event::Event;
use serde_json::{json, Value};

/// An event with `id`, `@timestamp` (epoch ms), `event.category` and extra
/// top-level fields.
fn ev(id: i64, ts: i64, category: &str, extra: Value) -> Value {
    let mut doc = json!({"id": id, "@timestamp": ts, "event": {"category": category}});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            doc[k] = v;
        }
    }
    doc
}

fn run(query: &str, docs: Vec<Value>) -> Output {
    run_with(query, docs, &RunConfig::default())
}

fn run_with(query: &str, docs: Vec<Value>, config: &RunConfig) -> Output {
    let events = common::events(docs);
    common::run_query(query, &PlanOptions::default(), config, &events)
}

fn ids(out: &Output) -> Vec<Vec<i64>> {
    common::hit_ids(&out.hits, "id")
        .into_iter()
        .map(|h| h.into_iter().map(|v| v.as_i64().expect("id")).collect())
        .collect()
}

fn keys(out: &Output) -> Vec<Value> {
    out.hits
        .iter()
        .map(|h| {
            Value::Array(
                h.join_keys
                    .clone()
                    .unwrap_or_default()
                    .iter()
                    .map(|k| k.to_json())
                    .collect(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------- events

#[test]
fn event_query_orders_by_timestamp_and_category_matches_any_array_element() {
    let docs = vec![
        ev(1, 30, "process", json!({})),
        json!({"id": 2, "@timestamp": 10, "event": {"category": ["network", "process"]}}),
        ev(3, 20, "file", json!({})),
        ev(4, 5, "Process", json!({})),
    ];
    let out = run("process where true", docs.clone());
    // Category comparison is exact (case-sensitive), as Elasticsearch's term query.
    assert_eq!(ids(&out), vec![vec![2], vec![1]]);
    let out = run("any where true", docs);
    assert_eq!(ids(&out), vec![vec![4], vec![2], vec![3], vec![1]]);
    assert!(out.hits.iter().all(|h| h.join_keys.is_none()));
}

#[test]
fn category_field_is_configurable() {
    let docs = vec![
        json!({"id": 1, "@timestamp": 1, "kind": "dns"}),
        json!({"id": 2, "@timestamp": 2, "kind": "file"}),
    ];
    let opts = PlanOptions {
        category_field: "kind".into(),
        field_types: None,
    };
    let events = common::events(docs);
    let out = common::run_query("dns where true", &opts, &RunConfig::default(), &events);
    assert_eq!(ids(&out), vec![vec![1]]);
    // An ECS category (checked by bits) on the configured field too.
    let out = common::run_query("file where true", &opts, &RunConfig::default(), &events);
    assert_eq!(ids(&out), vec![vec![2]]);
}

#[test]
fn head_tail_and_size() {
    let docs: Vec<Value> = (1..=6)
        .rev()
        .map(|i| ev(i, i * 10, "process", json!({})))
        .collect();
    assert_eq!(
        ids(&run("process where true | head 2", docs.clone())),
        vec![vec![1], vec![2]]
    );
    assert_eq!(
        ids(&run("process where true | tail 2", docs.clone())),
        vec![vec![5], vec![6]]
    );
    assert_eq!(
        ids(&run("process where true | head 4 | tail 2", docs.clone())),
        vec![vec![3], vec![4]]
    );
    let config = RunConfig {
        size: Some(3),
        ..RunConfig::default()
    };
    assert_eq!(
        ids(&run_with("process where true", docs.clone(), &config)),
        vec![vec![1], vec![2], vec![3]]
    );
    assert_eq!(
        ids(&run_with("process where true | tail 4", docs, &config)),
        vec![vec![3], vec![4], vec![5]]
    );
}

#[test]
fn tiebreaker_orders_equal_timestamps_and_input_order_breaks_the_rest() {
    let docs = vec![
        ev(1, 100, "process", json!({"tb": 3})),
        ev(2, 100, "process", json!({"tb": 1})),
        ev(3, 100, "process", json!({"tb": 2})),
        ev(4, 50, "process", json!({})),
    ];
    assert_eq!(
        ids(&run("process where true", docs.clone())),
        vec![vec![4], vec![1], vec![2], vec![3]]
    );
    let config = RunConfig {
        tiebreaker_field: Some("tb".into()),
        ..RunConfig::default()
    };
    assert_eq!(
        ids(&run_with("process where true", docs, &config)),
        vec![vec![4], vec![2], vec![3], vec![1]]
    );

    // In a sequence the tiebreaker decides which event came first.
    let docs = vec![
        ev(1, 100, "process", json!({"tb": 2, "step": "a"})),
        ev(2, 100, "process", json!({"tb": 1, "step": "b"})),
    ];
    let q = r#"sequence [process where step == "a"] [process where step == "b"]"#;
    assert_eq!(ids(&run(q, docs.clone())), vec![vec![1, 2]]);
    assert!(ids(&run_with(q, docs, &config)).is_empty());
}

// ------------------------------------------------------------- sequences

#[test]
fn sequence_joins_on_sequence_and_stage_keys() {
    let docs = vec![
        ev(1, 1, "process", json!({"host": "h1", "pid": 10})),
        ev(2, 2, "file", json!({"host": "h2", "ppid": 10})),
        ev(3, 3, "file", json!({"host": "h1", "ppid": 11})),
        ev(4, 4, "file", json!({"host": "h1", "ppid": 10})),
    ];
    let out = run(
        "sequence by host [process where true] by pid [file where true] by ppid",
        docs,
    );
    assert_eq!(ids(&out), vec![vec![1, 4]]);
    assert_eq!(keys(&out), vec![json!(["h1", 10])]);
}

#[test]
fn newest_partial_per_key_and_stage_wins() {
    // Two starts then one end: Elasticsearch pairs the end with the newest start.
    let docs = vec![
        ev(1, 1, "process", json!({"k": "a"})),
        ev(2, 2, "process", json!({"k": "a"})),
        ev(3, 3, "file", json!({"k": "a"})),
        ev(4, 4, "file", json!({"k": "a"})),
    ];
    let out = run("sequence by k [process where true] [file where true]", docs);
    assert_eq!(ids(&out), vec![vec![2, 3]]);
}

#[test]
fn an_event_matching_several_stages_does_not_advance_its_own_partial() {
    let docs: Vec<Value> = (1..=3).map(|i| ev(i, i, "process", json!({}))).collect();
    let out = run("sequence [process where true] [process where true]", docs);
    assert_eq!(ids(&out), vec![vec![1, 2], vec![2, 3]]);
}

#[test]
fn results_come_in_completion_order() {
    let docs = vec![
        ev(1, 1, "process", json!({"k": "a"})),
        ev(2, 2, "process", json!({"k": "b"})),
        ev(3, 3, "file", json!({"k": "b"})),
        ev(4, 4, "file", json!({"k": "a"})),
    ];
    let out = run("sequence by k [process where true] [file where true]", docs);
    assert_eq!(ids(&out), vec![vec![2, 3], vec![1, 4]]);
}

#[test]
fn maxspan_is_inclusive_and_measured_from_the_first_event() {
    let q =
        "sequence by k with maxspan=5s [process where true] [file where true] [network where true]";
    let docs = vec![
        ev(1, 0, "process", json!({"k": "a"})),
        ev(2, 3000, "file", json!({"k": "a"})),
        ev(3, 5000, "network", json!({"k": "a"})),
        ev(4, 10_000, "process", json!({"k": "b"})),
        ev(5, 12_000, "file", json!({"k": "b"})),
        ev(6, 15_001, "network", json!({"k": "b"})),
    ];
    let out = run(q, docs);
    assert_eq!(ids(&out), vec![vec![1, 2, 3]]);
    assert!(out.stats.partials_expired <= 1);
}

#[test]
fn until_drops_the_keys_partials() {
    let q =
        "sequence by pid [process where op == 1] [file where true] until [process where op == 2]";
    let docs = vec![
        ev(1, 1, "process", json!({"pid": 7, "op": 1})),
        ev(2, 2, "process", json!({"pid": 7, "op": 2})),
        ev(3, 3, "file", json!({"pid": 7})),
        ev(4, 4, "process", json!({"pid": 8, "op": 1})),
        ev(5, 5, "process", json!({"pid": 9, "op": 2})),
        ev(6, 6, "file", json!({"pid": 8})),
        ev(7, 7, "process", json!({"pid": 7, "op": 1})),
        ev(8, 8, "file", json!({"pid": 7})),
    ];
    let out = run(q, docs);
    assert_eq!(ids(&out), vec![vec![4, 6], vec![7, 8]]);
}

#[test]
fn runs_repeat_a_stage() {
    let q = r#"sequence by host [process where name == "x"] with runs=3 [file where true]"#;
    let docs = vec![
        ev(1, 1, "process", json!({"host": "a", "name": "x"})),
        ev(2, 2, "process", json!({"host": "a", "name": "x"})),
        ev(3, 3, "file", json!({"host": "a"})),
        ev(4, 4, "process", json!({"host": "a", "name": "x"})),
        ev(5, 5, "file", json!({"host": "a"})),
    ];
    let out = run(q, docs);
    assert_eq!(ids(&out), vec![vec![1, 2, 4, 5]]);
    assert_eq!(out.hits[0].entries.len(), 4);
}

#[test]
fn null_join_keys_only_join_when_optional() {
    let docs = vec![
        ev(1, 1, "process", json!({})),
        ev(2, 2, "file", json!({})),
        ev(3, 3, "process", json!({"user": "u"})),
        ev(4, 4, "file", json!({"user": "u"})),
    ];
    let out = run(
        "sequence by user [process where true] [file where true]",
        docs.clone(),
    );
    assert_eq!(ids(&out), vec![vec![3, 4]]);
    let out = run(
        "sequence by ?user [process where true] [file where true]",
        docs,
    );
    assert_eq!(ids(&out), vec![vec![1, 2], vec![3, 4]]);
    assert_eq!(keys(&out), vec![json!([null]), json!(["u"])]);
}

#[test]
fn missing_event_in_the_middle() {
    // From the Elasticsearch docs' missing-events example.
    let q = r#"sequence with maxspan=1h
        [process where name == "cmd.exe"]
        ![process where cmdline == "ocx"]
        [file where fname == "scrobj.dll"]"#;
    let docs = vec![
        ev(1, 0, "process", json!({"name": "cmd.exe"})),
        ev(2, 10, "file", json!({"fname": "scrobj.dll"})),
        ev(3, 100, "process", json!({"name": "cmd.exe"})),
        ev(4, 105, "process", json!({"cmdline": "ocx"})),
        ev(5, 110, "file", json!({"fname": "scrobj.dll"})),
    ];
    let out = run(q, docs);
    assert_eq!(ids(&out), vec![vec![1, -1, 2]]);
    assert!(matches!(
        out.hits[0].entries[1],
        ferret_engine::Entry::Missing
    ));
}

#[test]
fn missing_event_must_share_the_join_key() {
    let q = r#"sequence by host with maxspan=1m [process where true] ![network where true] [file where true]"#;
    let docs = vec![
        ev(1, 0, "process", json!({"host": "a"})),
        ev(2, 5, "network", json!({"host": "b"})),
        ev(3, 10, "file", json!({"host": "a"})),
    ];
    assert_eq!(ids(&run(q, docs)), vec![vec![1, -1, 3]]);
}

#[test]
fn leading_missing_event_within_maxspan_of_the_sequence_rejects_it() {
    let q = "sequence by host with maxspan=10s ![alert where true] [process where true] [file where true]";
    let base = |alert_ts: i64| {
        vec![
            ev(1, alert_ts, "alert", json!({"host": "a"})),
            ev(2, 20_000, "process", json!({"host": "a"})),
            ev(3, 25_000, "file", json!({"host": "a"})),
        ]
    };
    // 7 s before the last event: within maxspan -> rejected.
    assert!(ids(&run(q, base(18_000))).is_empty());
    // 25 s before the last event: outside maxspan -> accepted.
    assert_eq!(ids(&run(q, base(0))), vec![vec![-1, 2, 3]]);
}

#[test]
fn trailing_missing_event_within_maxspan_of_the_start_rejects_it() {
    let q = "sequence by host with maxspan=10s [process where true] [file where true] ![network where true]";
    let base = |net_ts: i64| {
        vec![
            ev(1, 0, "process", json!({"host": "a"})),
            ev(2, 4000, "file", json!({"host": "a"})),
            ev(3, net_ts, "network", json!({"host": "a"})),
        ]
    };
    assert!(ids(&run(q, base(9000))).is_empty());
    assert_eq!(ids(&run(q, base(11_000))), vec![vec![1, 2, -1]]);
}

#[test]
fn eviction_cap_bounds_partials_and_counts_evictions() {
    let q = "sequence by k [process where true] [file where true]";
    let mut docs: Vec<Value> = (0..5)
        .map(|i| ev(i, i, "process", json!({"k": i})))
        .collect();
    docs.extend((0..5).map(|i| ev(100 + i, 100 + i, "file", json!({"k": i}))));
    let config = RunConfig {
        max_live_partials: 3,
        ..RunConfig::default()
    };
    let out = run_with(q, docs.clone(), &config);
    // The two least recently advanced partials (k=0, k=1) were evicted.
    assert_eq!(ids(&out), vec![vec![2, 102], vec![3, 103], vec![4, 104]]);
    assert_eq!(out.stats.partials_evicted, 2);
    assert_eq!(out.stats.peak_live_partials, 3);
    let out = run(q, docs);
    assert_eq!(out.hits.len(), 5);
    assert_eq!(out.stats.partials_evicted, 0);
}

#[test]
fn sequence_events_without_timestamp_are_counted_not_used() {
    let docs = vec![
        json!({"id": 1, "event": {"category": "process"}}),
        ev(2, 2, "process", json!({})),
        ev(3, 3, "file", json!({})),
    ];
    let out = run("sequence [process where true] [file where true]", docs);
    assert_eq!(ids(&out), vec![vec![2, 3]]);
    assert_eq!(out.stats.missing_timestamp, 1);
}

#[test]
fn sequence_head_and_tail() {
    let mut docs = Vec::new();
    for i in 0..4 {
        docs.push(ev(10 * i + 1, 10 * i + 1, "process", json!({"k": i})));
        docs.push(ev(10 * i + 2, 10 * i + 2, "file", json!({"k": i})));
    }
    let q = "sequence by k [process where true] [file where true]";
    assert_eq!(
        ids(&run(&format!("{q} | head 1"), docs.clone())),
        vec![vec![1, 2]]
    );
    assert_eq!(
        ids(&run(&format!("{q} | tail 2"), docs)),
        vec![vec![21, 22], vec![31, 32]]
    );
}

#[test]
fn endpoint_alias_reads_the_earlier_stage_event() {
    let q = r#"sequence by host.id
        [process where process.name == "bash"] as event0
        [network where process.pid == event0.process.pid]"#;
    let docs = vec![
        json!({"id": 1, "@timestamp": 1, "event": {"category": "process"}, "host": {"id": "h"}, "process": {"name": "bash", "pid": 42}}),
        json!({"id": 2, "@timestamp": 2, "event": {"category": "network"}, "host": {"id": "h"}, "process": {"pid": 7}}),
        json!({"id": 3, "@timestamp": 3, "event": {"category": "network"}, "host": {"id": "h"}, "process": {"pid": 42}}),
    ];
    assert_eq!(ids(&run(q, docs)), vec![vec![1, 3]]);
}

#[test]
fn unsorted_input_gives_the_same_sequences() {
    let q = "sequence by k with maxspan=1s [process where true] [file where true] until [network where true]";
    let mut docs = Vec::new();
    for i in 0..30i64 {
        let k = i % 3;
        let cat = ["process", "file", "network", "file", "process"][(i % 5) as usize];
        docs.push(ev(i, i * 200, cat, json!({"k": k})));
    }
    let sorted = ids(&run(q, docs.clone()));
    assert!(!sorted.is_empty());
    let mut rev = docs.clone();
    rev.reverse();
    assert_eq!(ids(&run(q, rev)), sorted);
    let interleaved: Vec<Value> = docs
        .iter()
        .step_by(2)
        .chain(docs.iter().skip(1).step_by(2))
        .cloned()
        .collect();
    assert_eq!(ids(&run(q, interleaved)), sorted);
}

#[test]
fn results_are_deterministic() {
    let q = "sequence by k [process where true] [file where true]";
    let mut docs = Vec::new();
    for i in 0..200i64 {
        docs.push(ev(
            i,
            i,
            if i % 2 == 0 { "process" } else { "file" },
            json!({"k": i % 17}),
        ));
    }
    let first = run(q, docs.clone());
    for _ in 0..5 {
        let again = run(q, docs.clone());
        assert_eq!(ids(&again), ids(&first));
        assert_eq!(keys(&again), keys(&first));
    }
}

// --------------------------------------------------------------- samples

fn sample_docs() -> Vec<Value> {
    // No timestamps: a sample does not need them.
    vec![
        json!({"id": 1, "event": {"category": "any"}, "host": "A", "uptime": 5}),
        json!({"id": 2, "event": {"category": "any"}, "host": "A", "port": 443}),
        json!({"id": 3, "event": {"category": "any"}, "host": "A", "bool": true}),
        json!({"id": 4, "event": {"category": "any"}, "host": "B", "uptime": 1}),
        json!({"id": 5, "event": {"category": "any"}, "host": "B", "port": 80}),
        json!({"id": 6, "event": {"category": "any"}, "host": "B", "bool": true}),
        json!({"id": 7, "event": {"category": "any"}, "host": "C", "uptime": 2, "port": 200, "bool": true}),
        json!({"id": 8, "event": {"category": "any"}, "host": "A", "uptime": 9, "port": 8080}),
        json!({"id": 9, "event": {"category": "any"}, "uptime": 3, "port": 300, "bool": true}),
    ]
}

const SAMPLE: &str =
    "sample by host [any where uptime > 0] [any where port > 100] [any where bool == true]";

#[test]
fn sample_picks_distinct_events_sharing_the_key() {
    let out = run(SAMPLE, sample_docs());
    // B has no port > 100; C has one event for all three stages (events must
    // be distinct); the event without host has a null key.
    assert_eq!(ids(&out), vec![vec![1, 2, 3]]);
    assert_eq!(keys(&out), vec![json!(["A"])]);
}

#[test]
fn max_samples_per_key() {
    let config = RunConfig {
        max_samples_per_key: 2,
        ..RunConfig::default()
    };
    let out = run_with(SAMPLE, sample_docs(), &config);
    assert_eq!(ids(&out), vec![vec![1, 2, 3], vec![1, 8, 3]]);
}

#[test]
fn samples_are_ordered_by_key_and_stages_may_match_in_any_order() {
    let docs = vec![
        json!({"id": 1, "event": {"category": "any"}, "host": "Z", "b": 1}),
        json!({"id": 2, "event": {"category": "any"}, "host": "Z", "a": 1}),
        json!({"id": 3, "event": {"category": "any"}, "host": "M", "a": 1}),
        json!({"id": 4, "event": {"category": "any"}, "host": "M", "b": 1}),
    ];
    let out = run("sample by host [any where a == 1] [any where b == 1]", docs);
    assert_eq!(ids(&out), vec![vec![3, 4], vec![2, 1]]);
    assert_eq!(keys(&out), vec![json!(["M"]), json!(["Z"])]);
}

#[test]
fn samples_hold_the_stand_ins_they_are_given_one_per_event() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let made = Arc::new(AtomicUsize::new(0));
    let count = made.clone();
    let config = RunConfig {
        // Stand-ins keep only `id` (a scan's keep nothing).
        stand_in: Some(ferret_engine::StandIn::new(move |ev: &Arc<Event>| {
            count.fetch_add(1, Ordering::Relaxed);
            let id = ev.doc.get("id").cloned().unwrap_or_default();
            Arc::new(Event::new(json!({ "id": id }), ev.origin))
        })),
        ..RunConfig::default()
    };
    let out = run_with(SAMPLE, sample_docs(), &config);
    // The same samples as with the events themselves: C's one event matches
    // all three stages through one stand-in, so it still cannot fill them.
    assert_eq!(ids(&out), vec![vec![1, 2, 3]]);
    let held = &out.hits[0].entries;
    assert!(held
        .iter()
        .all(|e| e.event().is_some_and(|ev| ev.doc.get("host").is_none())));
    // One per stored event: 1, 2, 3, 4, 6, 7, 8 (5 and 9 match nothing
    // with a key).
    assert_eq!(made.load(Ordering::Relaxed), 7);
}

// ----------------------------------------------------------- legacy pipes

#[test]
fn legacy_pipes() {
    let docs = vec![
        ev(1, 1, "process", json!({"name": "b", "n": 2})),
        ev(2, 2, "process", json!({"name": "a", "n": 1})),
        ev(3, 3, "process", json!({"name": "b", "n": 3})),
        ev(4, 4, "process", json!({"name": "c", "n": 0})),
    ];
    assert_eq!(
        ids(&run("process where true | unique name", docs.clone())),
        vec![vec![1], vec![2], vec![4]]
    );
    assert_eq!(
        ids(&run("process where true | filter n > 1", docs.clone())),
        vec![vec![1], vec![3]]
    );
    assert_eq!(
        ids(&run("process where true | sort n", docs.clone())),
        vec![vec![4], vec![2], vec![1], vec![3]]
    );
    let out = run("process where true | unique_count name", docs.clone());
    let counts: Vec<u64> = out
        .hits
        .iter()
        .map(|h| h.aggregate.as_ref().expect("count").count)
        .collect();
    assert_eq!(counts, vec![2, 1, 1]);
    let out = run("process where true | count", docs.clone());
    assert_eq!(out.hits.len(), 1);
    assert!(out.hits[0].entries.is_empty());
    assert_eq!(out.hits[0].aggregate.as_ref().expect("count").count, 4);
    let out = run("process where true | count name", docs);
    let groups: Vec<(Value, u64)> = out
        .hits
        .iter()
        .map(|h| {
            let a = h.aggregate.as_ref().expect("count");
            (a.key[0].to_json(), a.count)
        })
        .collect();
    assert_eq!(
        groups,
        vec![(json!("a"), 1), (json!("c"), 1), (json!("b"), 2)]
    );
}

#[test]
fn shared_events_are_not_copied() {
    let events: Vec<Arc<Event>> = common::events(vec![ev(1, 1, "process", json!({}))]);
    let out = common::run_query(
        "process where true",
        &PlanOptions::default(),
        &RunConfig::default(),
        &events,
    );
    let hit = out.hits[0].first_event().expect("event");
    assert!(Arc::ptr_eq(hit, &events[0]));
}

#[test]
fn plan_errors_carry_spans() {
    // Syntactically fine; semantically the join keys are unequal in number.
    let ast = ferret_eql::parse("sequence [process where true] by a [file where true] by a, b")
        .expect("parses");
    let err = ferret_engine::plan(&ast, &PlanOptions::default()).expect_err("unequal join keys");
    assert!(err.message.contains("join keys"), "{}", err.message);
    assert!(err.span.end > err.span.start);
}

// ------------------------------------------------- streaming (reorder window)

/// A small deterministic pseudo-random stream of events over 3 keys and 4
/// categories, timestamps 0..n*100 ms.
fn random_stream(seed: u64, n: i64) -> Vec<Value> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as i64
    };
    (0..n)
        .map(|i| {
            let cat = ["process", "file", "network", "registry"][(next() % 4) as usize];
            ev(i, i * 100 + next() % 50, cat, json!({"k": next() % 3}))
        })
        .collect()
}

const STREAM_QUERIES: &[&str] = &[
    "sequence by k [process where true] [file where true]",
    "sequence by k with maxspan=500ms [process where true] [file where true] [network where true]",
    "sequence by k [process where true] [file where true] until [registry where true]",
    "sequence by k with maxspan=1s [process where true] ![registry where true] [file where true]",
    "sequence by k with maxspan=1s ![registry where true] [process where true] [file where true]",
    "sequence by k with maxspan=1s [process where true] [file where true] ![registry where true]",
    "sequence by k [process where true] with runs=2 [network where true]",
];

#[test]
fn reorder_window_matches_batch_results_on_sorted_input() {
    let windowed = RunConfig {
        reorder_window: Some(std::time::Duration::from_millis(200)),
        ..RunConfig::default()
    };
    for seed in 0..20 {
        let mut docs = random_stream(seed, 120);
        docs.sort_by_key(|d| d["@timestamp"].as_i64());
        for q in STREAM_QUERIES {
            let batch = run(q, docs.clone());
            let stream = run_with(q, docs.clone(), &windowed);
            assert_eq!(ids(&stream), ids(&batch), "seed {seed}: {q}");
            assert_eq!(stream.stats.late_events, 0);
        }
    }
}

#[test]
fn reorder_window_absorbs_bounded_disorder_and_counts_late_events() {
    // Swap neighbours: at most ~150 ms out of order, within a 1 s window.
    let mut docs = random_stream(7, 200);
    docs.sort_by_key(|d| d["@timestamp"].as_i64());
    let expected: Vec<_> = STREAM_QUERIES
        .iter()
        .map(|q| ids(&run(q, docs.clone())))
        .collect();
    for pair in docs.chunks_mut(2) {
        pair.reverse();
    }
    let windowed = RunConfig {
        reorder_window: Some(std::time::Duration::from_secs(1)),
        ..RunConfig::default()
    };
    for (q, want) in STREAM_QUERIES.iter().zip(&expected) {
        let out = run_with(q, docs.clone(), &windowed);
        assert_eq!(&ids(&out), want, "{q}");
        assert_eq!(out.stats.late_events, 0);
    }
    // An event far older than the window is counted and not used.
    let late = vec![
        ev(1, 10_000, "process", json!({"k": 1})),
        ev(2, 20_000, "process", json!({"k": 2})),
        ev(3, 9_000, "file", json!({"k": 1})),
        ev(4, 21_000, "file", json!({"k": 2})),
    ];
    let out = run_with(
        "sequence by k [process where true] [file where true]",
        late,
        &windowed,
    );
    assert_eq!(ids(&out), vec![vec![2, 4]]);
    assert_eq!(out.stats.late_events, 1);
}

#[test]
fn advancing_time_matches_buffered_candidates_without_more_events() {
    let query = "sequence by k [process where true] [file where true]";
    let plan = Arc::new(
        ferret_engine::plan(&ferret_eql::parse(query).unwrap(), &PlanOptions::default()).unwrap(),
    );
    let config = RunConfig {
        reorder_window: Some(std::time::Duration::from_secs(1)),
        ..RunConfig::default()
    };
    let mut runner = ferret_engine::QueryRunner::new(plan, &config);
    let events = common::events(vec![
        ev(1, 1_000, "process", json!({"k": 1})),
        ev(2, 1_500, "file", json!({"k": 1})),
    ]);
    for e in &events {
        runner.push(e);
    }
    // Both wait in the window: nothing is decided yet.
    assert!(runner.drain_hits().is_empty());
    // Other events (of other rules) took the input 1.2 s past them.
    runner.advance(ferret_event::Timestamp(2_700 * 1_000_000));
    let hits = runner.drain_hits();
    assert_eq!(common::hit_ids(&hits, "id").len(), 1);
    // The buffer let go of both events.
    assert_eq!(Arc::strong_count(&events[0]), 2, "held by the hit only");
    drop(hits);
    assert_eq!(Arc::strong_count(&events[0]), 1);
}

#[test]
fn with_a_window_events_failing_every_later_condition_are_not_buffered() {
    let windowed = RunConfig {
        reorder_window: Some(std::time::Duration::from_secs(1)),
        ..RunConfig::default()
    };
    let docs = vec![
        ev(1, 1_000, "process", json!({"k": 1})),
        ev(2, 1_100, "file", json!({"k": 1, "x": 2})),
        ev(3, 1_200, "network", json!({"k": 1, "y": 2})),
        ev(4, 1_300, "file", json!({"k": 1, "x": 1})),
        ev(5, 1_400, "process", json!({"k": 2})),
        ev(6, 1_500, "network", json!({"k": 2, "y": 1})),
        ev(7, 1_600, "file", json!({"k": 2, "x": 1})),
    ];
    let out = run_with(
        "sequence by k [process where true] [file where x == 1] until [network where y == 1]",
        docs,
        &windowed,
    );
    assert_eq!(ids(&out), vec![vec![1, 4]]);
    // The file with x == 2 and the network event with y == 2 were dropped
    // at push; the rest waited in the window.
    assert_eq!(out.stats.buffered, 5);
}

#[test]
fn with_a_window_trailing_missing_events_are_recorded_only_while_a_sequence_awaits_them() {
    let query = "sequence by k with maxspan=500ms [process where true] ![file where true]";
    let docs = || {
        vec![
            // Before any sequence: nothing it could reject.
            ev(1, 1_000, "file", json!({"k": 1})),
            ev(2, 1_100, "process", json!({"k": 1})),
            // While the sequence of 2 awaits its check.
            ev(3, 1_200, "file", json!({"k": 2})),
            ev(4, 1_300, "file", json!({"k": 1})),
            ev(5, 2_000, "process", json!({"k": 2})),
            // 5 still awaits its check (decided after 2,500).
            ev(6, 2_400, "file", json!({"k": 1})),
            ev(7, 3_000, "file", json!({"k": 2})),
            // Nothing awaits: 5 was accepted at 3,000.
            ev(8, 4_000, "file", json!({"k": 2})),
            ev(9, 4_100, "process", json!({"k": 1})),
            ev(10, 4_300, "file", json!({"k": 1})),
        ]
    };
    let windowed = RunConfig {
        reorder_window: Some(std::time::Duration::from_secs(1)),
        ..RunConfig::default()
    };
    let out = run_with(query, docs(), &windowed);
    let exact = run(query, docs());
    // 2 and 9 are rejected by 4 and 10; 5 has no file of key 2 within 500 ms.
    assert_eq!(ids(&out), vec![vec![5, -1]]);
    assert_eq!(ids(&out), ids(&exact));
    // Files 3, 4, 6 and 7 arrived while a sequence awaited its check, and
    // 10 while 9's did; 1 and 8 did not.
    assert_eq!(out.stats.missing_indexed, 5);
    assert_eq!(exact.stats.missing_indexed, 7);
}

#[test]
fn planner_rejects_shapes_elasticsearch_rejects() {
    let cases = [
        (
            "sequence ![process where true] ![file where true]",
            "not a missing-event stage",
        ),
        (
            "sequence [process where true] as e0 [file where true] as e0",
            "duplicate stage alias",
        ),
        (
            "sequence [process where true] with runs=2 as e0 [file where true]",
            "runs",
        ),
        (
            "sample by host [process where true] ![file where true]",
            "sample stages",
        ),
        (
            "sequence [process where true] [file where true] until ![network where true]",
            "until",
        ),
    ];
    for (q, want) in cases {
        // Syntactically valid: the planner must refuse it on its own.
        let ast = ferret_eql::parse(q).expect(q);
        let err = ferret_engine::plan(&ast, &PlanOptions::default()).expect_err(q);
        assert!(err.message.contains(want), "{q}: {}", err.message);
    }
}

#[test]
fn runners_can_move_across_threads() {
    fn assert_send<T: Send>() {}
    fn assert_sync<T: Send + Sync>() {}
    assert_send::<ferret_engine::QueryRunner>();
    assert_sync::<ferret_engine::Plan>();
    assert_sync::<ferret_engine::Hit>();
}

#[test]
fn many_distinct_join_keys_stay_within_the_cap() {
    // Adversarial: every event starts a partial under a new key, no maxspan.
    let docs: Vec<Value> = (0..20_000)
        .map(|i| ev(i, i, "process", json!({"k": i})))
        .collect();
    let config = RunConfig {
        max_live_partials: 500,
        reorder_window: Some(std::time::Duration::from_secs(1)),
        ..RunConfig::default()
    };
    let out = run_with(
        "sequence by k [process where true] [file where true]",
        docs,
        &config,
    );
    assert!(out.hits.is_empty());
    assert_eq!(out.stats.peak_live_partials, 500);
    assert_eq!(out.stats.partials_evicted, 20_000 - 500);
}

#[test]
fn sample_key_cap_is_counted() {
    let config = RunConfig {
        max_live_partials: 1,
        ..RunConfig::default()
    };
    let out = run_with(SAMPLE, sample_docs(), &config);
    // Only the first key seen (A) is tracked; events of B and C are counted.
    assert_eq!(ids(&out), vec![vec![1, 2, 3]]);
    assert!(out.stats.sample_keys_dropped >= 4);
}

#[test]
fn plan_lists_its_categories_for_dispatch() {
    let plan = |q: &str| {
        ferret_engine::plan(&ferret_eql::parse(q).expect(q), &PlanOptions::default()).expect(q)
    };
    let p = plan("sequence [process where true] [network where true] [process where true] until [file where true]");
    assert_eq!(p.categories(), Some(vec!["file", "network", "process"]));
    assert_eq!(
        plan("process where true").categories(),
        Some(vec!["process"])
    );
    assert_eq!(
        plan("sequence [process where true] [any where true]").categories(),
        None
    );
}

/// `drain_hits` hands out final hits early; with `finish`'s rest they are
/// exactly the run's hits. Queries with pipes keep everything for `finish`.
#[test]
fn drained_hits_and_finished_hits_are_the_run_hits() {
    let docs: Vec<Value> = (0..60)
        .map(|i| {
            let cat = ["process", "network", "file"][(i % 3) as usize];
            ev(i, i * 100, cat, json!({"k": i % 4}))
        })
        .collect();
    let queries = [
        "process where k == 1",
        "sequence by k with maxspan=2s [process where true] [network where true]",
        "sequence by k [process where true] ![file where true] [network where true]",
        "process where true | head 3",
    ];
    for window in [None, Some(std::time::Duration::from_millis(250))] {
        let config = RunConfig {
            reorder_window: window,
            ..RunConfig::default()
        };
        for q in queries {
            let want = common::hit_ids(&run_with(q, docs.clone(), &config).hits, "id");
            let ast = ferret_eql::parse(q).unwrap();
            let plan = ferret_engine::plan(&ast, &PlanOptions::default()).unwrap();
            let mut runner = ferret_engine::QueryRunner::new(Arc::new(plan), &config);
            let mut got = Vec::new();
            for (i, e) in common::events(docs.clone()).iter().enumerate() {
                runner.push(e);
                if i % 7 == 0 {
                    got.extend(runner.drain_hits());
                }
            }
            let drained = got.len();
            got.extend(runner.finish().hits);
            let mut got = common::hit_ids(&got, "id");
            let mut want_sorted = want.clone();
            got.sort_by_key(|h| format!("{h:?}"));
            want_sorted.sort_by_key(|h| format!("{h:?}"));
            assert_eq!(got, want_sorted, "{q} (window {window:?})");
            if q.contains('|') {
                assert_eq!(drained, 0, "pipes see all hits: {q}");
            } else if window.is_some() || !q.starts_with("sequence") {
                // Without a window a sequence matches only at the end.
                assert!(drained > 0, "final hits are drained early: {q} {window:?}");
            }
        }
    }
}
