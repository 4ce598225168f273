//! Samples (`sample by k [q1] [q2] …`) with Elasticsearch's semantics.
//!
//! Elasticsearch (`execution/sample/SampleIterator`) finds the join keys that
//! occur in every stage, then, per key in ascending key order, fetches for
//! each stage the first `stages × max_samples_per_key` matching events in
//! index order (no time order: a sample needs no timestamp) and picks
//! combinations of *distinct* events, one per stage, depth-first in stage
//! order, until `max_samples_per_key` samples are found for the key. A null
//! key value only joins when that key is an optional field (`?field`).
//! Here "index order" is input order.

use std::collections::HashMap;
use std::sync::Arc;

use ferret_event::{Event, FieldPath};

use super::sequence::{eval_key, Key};
use super::{Entry, Hit, RunConfig, StandIn, Stats};
use crate::expr::EvalInput;
use crate::plan::SamplePlan;

pub(crate) struct SampleState {
    /// Per key, per stage: the first matching events (bounded), or their
    /// stand-ins.
    keys: HashMap<Key, Vec<Vec<Arc<Event>>>>,
    per_stage: usize,
    key_cap: usize,
    stand_in: Option<StandIn>,
}

impl SampleState {
    pub(crate) fn new(plan: &SamplePlan, config: &RunConfig) -> Self {
        let k = config.max_samples_per_key.max(1);
        SampleState {
            keys: HashMap::new(),
            per_stage: plan.stages.len().saturating_mul(k),
            key_cap: config.max_live_partials.max(1),
            stand_in: config.stand_in.clone(),
        }
    }

    pub(crate) fn push(
        &mut self,
        plan: &SamplePlan,
        category: &FieldPath,
        event: &Arc<Event>,
        stats: &mut Stats,
    ) {
        // What the lists hold of this event: made at most once, so stages
        // it matches share it (`pick` tells events apart by identity).
        let mut held: Option<Arc<Event>> = None;
        for (i, st) in plan.stages.iter().enumerate() {
            if !st.filter.category_matches(category, event)
                || !st.filter.condition.matches(&EvalInput::event(event))
            {
                continue;
            }
            let Some(key) = eval_key(&st.keys, event) else {
                continue;
            };
            let lists = match self.keys.get_mut(&key) {
                Some(l) => l,
                None => {
                    if self.keys.len() >= self.key_cap {
                        stats.sample_keys_dropped += 1;
                        continue;
                    }
                    self.keys
                        .entry(key)
                        .or_insert_with(|| vec![Vec::new(); plan.stages.len()])
                }
            };
            if lists[i].len() < self.per_stage {
                let held = held.get_or_insert_with(|| match &self.stand_in {
                    Some(s) => s.make(event),
                    None => event.clone(),
                });
                lists[i].push(held.clone());
                stats.buffered += 1;
            }
        }
    }

    pub(crate) fn finish(self, plan: &SamplePlan, config: &RunConfig) -> Vec<Hit> {
        let max = config.max_samples_per_key.max(1);
        let mut keys: Vec<(Key, Vec<Vec<Arc<Event>>>)> = self
            .keys
            .into_iter()
            .filter(|(_, l)| l.iter().all(|s| !s.is_empty()))
            .collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        let mut hits = Vec::new();
        for (key, lists) in keys {
            let mut found = Vec::new();
            let mut partial = Vec::with_capacity(plan.stages.len());
            pick(&lists, 0, &mut partial, &mut found, max);
            for sample in found {
                hits.push(Hit {
                    entries: sample.into_iter().map(Entry::Event).collect(),
                    join_keys: Some(key.values()),
                    aggregate: None,
                });
            }
            if config.size.is_some_and(|s| hits.len() >= s) {
                break;
            }
        }
        hits
    }
}

/// Depth-first choice of one distinct event per stage.
fn pick(
    lists: &[Vec<Arc<Event>>],
    stage: usize,
    partial: &mut Vec<Arc<Event>>,
    found: &mut Vec<Vec<Arc<Event>>>,
    max: usize,
) {
    for e in &lists[stage] {
        if found.len() >= max {
            return;
        }
        if partial.iter().any(|p| Arc::ptr_eq(p, e)) {
            continue;
        }
        partial.push(e.clone());
        if stage + 1 == lists.len() {
            found.push(partial.clone());
        } else {
            pick(lists, stage + 1, partial, found, max);
        }
        partial.pop();
    }
}
