//! Pipes over ordered hits, then the `size` limit.
//!
//! `head N` / `tail N` keep the first / last N hits (Elasticsearch). The
//! legacy pipes of the Python `eql` package are an extension; their
//! expressions are evaluated against the first matched event of each hit
//! (for a sequence or sample, its first stage's event):
//!
//! * `filter <cond>`: keeps the hits whose event satisfies the condition.
//! * `unique k, …`: keeps the first hit of every distinct key tuple.
//! * `unique_count k, …`: as `unique`, and each kept hit carries an
//!   [`Aggregate`] with the number of hits that had its key tuple and the
//!   share of all hits (`percent`, 0–1).
//! * `count`: one hit without events whose aggregate is the number of hits
//!   (key `[]`, percent 1). `count k, …`: one such hit per distinct key tuple,
//!   ordered by count ascending, then key (as Python `eql`).
//! * `sort k, …`: stable sort by the key tuple, ascending (nulls first).

use std::collections::HashMap;

use super::{Aggregate, Hit};
use crate::expr::{EvalInput, KeyExpr};
use crate::plan::PipePlan;
use crate::value::KeyValue;

fn key_of(keys: &[KeyExpr], hit: &Hit) -> Vec<KeyValue> {
    match hit.first_event() {
        Some(e) => {
            let input = EvalInput::event(e);
            keys.iter().map(|k| k.eval(&input)).collect()
        }
        None => vec![KeyValue::Null; keys.len()],
    }
}

/// Applies `pipes` in order, then truncates to `size`.
pub fn apply(pipes: &[PipePlan], mut hits: Vec<Hit>, size: Option<usize>) -> Vec<Hit> {
    for pipe in pipes {
        hits = match pipe {
            PipePlan::Head(n) => {
                hits.truncate(*n);
                hits
            }
            PipePlan::Tail(n) => {
                let drop = hits.len().saturating_sub(*n);
                hits.drain(..drop);
                hits
            }
            PipePlan::Filter(pred) => hits
                .into_iter()
                .filter(|h| {
                    h.first_event()
                        .is_some_and(|e| pred.matches(&EvalInput::event(e)))
                })
                .collect(),
            PipePlan::Unique(keys) => {
                let mut seen = std::collections::HashSet::new();
                hits.into_iter()
                    .filter(|h| seen.insert(key_of(keys, h)))
                    .collect()
            }
            PipePlan::UniqueCount(keys) => {
                let total = hits.len() as f64;
                let tuples: Vec<Vec<KeyValue>> = hits.iter().map(|h| key_of(keys, h)).collect();
                let mut counts: HashMap<&Vec<KeyValue>, u64> = HashMap::new();
                for t in &tuples {
                    *counts.entry(t).or_default() += 1;
                }
                let mut seen = std::collections::HashSet::new();
                let mut out = Vec::new();
                for (mut h, t) in hits.into_iter().zip(tuples.iter()) {
                    if seen.insert(t) {
                        let count = counts[t];
                        h.aggregate = Some(Aggregate {
                            key: t.clone(),
                            count,
                            percent: count as f64 / total,
                        });
                        out.push(h);
                    }
                }
                out
            }
            PipePlan::Count(keys) => {
                let total = hits.len() as u64;
                if keys.is_empty() {
                    vec![Hit {
                        entries: Vec::new(),
                        join_keys: None,
                        aggregate: Some(Aggregate {
                            key: Vec::new(),
                            count: total,
                            percent: 1.0,
                        }),
                    }]
                } else {
                    let mut counts: HashMap<Vec<KeyValue>, u64> = HashMap::new();
                    for h in &hits {
                        *counts.entry(key_of(keys, h)).or_default() += 1;
                    }
                    let mut groups: Vec<(Vec<KeyValue>, u64)> = counts.into_iter().collect();
                    groups.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
                    groups
                        .into_iter()
                        .map(|(key, count)| Hit {
                            entries: Vec::new(),
                            join_keys: None,
                            aggregate: Some(Aggregate {
                                key,
                                count,
                                percent: count as f64 / total.max(1) as f64,
                            }),
                        })
                        .collect()
                }
            }
            PipePlan::Sort(keys) => {
                let mut keyed: Vec<(Vec<KeyValue>, Hit)> =
                    hits.into_iter().map(|h| (key_of(keys, &h), h)).collect();
                keyed.sort_by(|a, b| a.0.cmp(&b.0));
                keyed.into_iter().map(|(_, h)| h).collect()
            }
        };
    }
    if let Some(n) = size {
        hits.truncate(n);
    }
    hits
}
