//! Sequence matching against a literal reference model of Elasticsearch's
//! matcher, on small pseudo-random event streams.
//!
//! The engine keeps one partial per (key, stage) and drops a key's partials
//! when an `until` event arrives. The reference below instead follows
//! Elasticsearch's data structures literally: every partial is kept in a list
//! per (stage, key); an event of stage `s` takes the latest partial of stage
//! `s - 1` that is strictly before it and trims everything before that one;
//! `until` events are remembered and a match is rejected when the nearest
//! until-event before it lies between the partial's last event and it
//! (inclusive). Both must produce the same sequences in the same order.

mod common;

use std::collections::HashMap;

use ferret_engine::{PlanOptions, RunConfig};
use serde_json::{json, Value};

#[derive(Clone, Debug)]
struct Ev {
    id: i64,
    ts: i64,
    cat: &'static str,
    k: i64,
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn stream(seed: u64, len: i64) -> Vec<Ev> {
    let mut r = Lcg(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut ts = 0;
    (0..len)
        .map(|id| {
            ts += 1 + r.next(400) as i64;
            Ev {
                id,
                ts,
                cat: ["a", "b", "c", "u"][r.next(4) as usize],
                k: r.next(3) as i64,
            }
        })
        .collect()
}

#[derive(Clone, Debug)]
struct Partial {
    ids: Vec<i64>,
    start: i64,
    last: i64,
}

/// The reference: stages are categories `cats`, joined by `k`.
fn reference(events: &[Ev], cats: &[&str], until: bool, maxspan: Option<i64>) -> Vec<Vec<i64>> {
    let n = cats.len();
    let mut groups: HashMap<(usize, i64), Vec<Partial>> = HashMap::new();
    let mut untils: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut done = Vec::new();
    for e in events {
        for s in (0..n).rev() {
            if cats[s] != e.cat {
                continue;
            }
            if s == 0 {
                groups.entry((0, e.k)).or_default().push(Partial {
                    ids: vec![e.id],
                    start: e.ts,
                    last: e.ts,
                });
                continue;
            }
            let Some(list) = groups.get_mut(&(s - 1, e.k)) else {
                continue;
            };
            let Some(pos) = list.iter().rposition(|p| p.last < e.ts) else {
                continue;
            };
            let mut p = list[pos].clone();
            list.drain(..=pos);
            if maxspan.is_some_and(|m| e.ts - p.start > m) {
                continue;
            }
            if let Some(us) = untils.get(&e.k) {
                if let Some(&u) = us.iter().rev().find(|&&u| u < e.ts) {
                    if u >= p.last && u <= e.ts {
                        continue;
                    }
                }
            }
            p.ids.push(e.id);
            p.last = e.ts;
            if s == n - 1 {
                done.push(p.ids);
            } else {
                groups.entry((s, e.k)).or_default().push(p);
            }
        }
        if until && e.cat == "u" {
            untils.entry(e.k).or_default().push(e.ts);
        }
    }
    done
}

fn engine(events: &[Ev], query: &str, config: &RunConfig) -> Vec<Vec<i64>> {
    let docs: Vec<Value> = events
        .iter()
        .map(|e| json!({"id": e.id, "@timestamp": e.ts, "event": {"category": e.cat}, "k": e.k}))
        .collect();
    let evs = common::events(docs);
    let out = common::run_query(query, &PlanOptions::default(), config, &evs);
    common::hit_ids(&out.hits, "id")
        .into_iter()
        .map(|h| h.into_iter().map(|v| v.as_i64().expect("id")).collect())
        .collect()
}

#[test]
fn engine_agrees_with_the_reference_model() {
    let shapes: &[(&[&str], bool, Option<i64>)] = &[
        (&["a", "b"], false, None),
        (&["a", "b", "c"], false, None),
        (&["a", "b", "c"], true, None),
        (&["a", "a", "b"], false, None),
        (&["a", "b", "a"], true, Some(600)),
        (&["a", "b", "c"], false, Some(500)),
        (&["b", "b", "b"], true, Some(2000)),
    ];
    let mut nonempty = 0;
    for seed in 0..150 {
        let events = stream(seed, 80);
        for (cats, until, maxspan) in shapes {
            let mut q = String::from("sequence by k");
            if let Some(m) = maxspan {
                q.push_str(&format!(" with maxspan={m}ms"));
            }
            for c in *cats {
                q.push_str(&format!(" [{c} where true]"));
            }
            if *until {
                q.push_str(" until [u where true]");
            }
            let want = reference(&events, cats, *until, *maxspan);
            nonempty += usize::from(!want.is_empty());
            // Exact mode evaluates stages on push; with a reorder window
            // they are evaluated when matched, later stages only while a
            // partial is live. All must agree with the model.
            for window_ms in [None, Some(1), Some(700), Some(1_000_000)] {
                let config = RunConfig {
                    reorder_window: window_ms.map(std::time::Duration::from_millis),
                    ..RunConfig::default()
                };
                assert_eq!(
                    engine(&events, &q, &config),
                    want,
                    "seed {seed}, window {window_ms:?} ms: {q}"
                );
            }
        }
    }
    // The streams must exercise the matcher, not just agree on nothing.
    assert!(nonempty > 500, "only {nonempty} non-empty cases");
}
