//! Sequence matching with Elasticsearch's semantics.
//!
//! Elasticsearch (`execution/sequence/` in its EQL plugin) runs a sequence as
//! a state machine over events ordered by (timestamp, tiebreaker):
//!
//! * A partial sequence is identified by its join key (sequence `by` keys
//!   followed by the stage's own keys) and the last stage it matched.
//! * An event matching stage `s > 0` with key `k` advances the *newest*
//!   partial of `k` waiting at stage `s - 1`; older partials of `k` at that
//!   stage are discarded (they can never be chosen again), so keeping only
//!   the newest partial per (key, stage) is exact. The advanced partial leaves
//!   its stage even if a check then rejects it.
//! * `maxspan`: rejected when `event.time - first.time > maxspan`
//!   (the bound is inclusive).
//! * `until`: an until-event with key `k` invalidates every in-flight partial
//!   of `k` (including one the same event just created or advanced); completed
//!   sequences stay.
//! * An event may match several stages; higher stages are applied first so an
//!   event never advances a partial it created itself.
//! * Completed sequences are returned in the order they completed (by the
//!   ordinal of their last event).
//! * Missing-event stages `![…]` do not take part in matching. Once a
//!   sequence of the positive stages is complete it is checked: a middle
//!   missing stage rejects it if a matching event with the same key lies
//!   strictly between its neighbours (millisecond precision, as the range
//!   query Elasticsearch issues); leading/trailing missing stages look for the
//!   latest event before the first positive event / the earliest after the
//!   last one and reject when that event lies within `maxspan` of the
//!   sequence (the exact acceptance rules are in [`accept_missing`]).
//! * A join key whose field is not optional (`?field`) must not be null; such
//!   events do not match the stage.
//!
//! Endpoint-dialect stages that read an alias (`event0.process.pid`) are
//! evaluated against the partial they would advance.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ferret_event::{Event, FieldPath, Timestamp};

use super::order::{OrderFields, Ordinal};
use super::{Entry, Hit, RunConfig, Stats};
use crate::expr::EvalInput;
use crate::plan::{KeyPlan, SequencePlan, StagePlan};
use crate::value::KeyValue;

pub type Key = Vec<KeyValue>;

/// Evaluates a stage's join key; `None` when a non-nullable key is null.
pub(crate) fn eval_key(keys: &[KeyPlan], event: &Event) -> Option<Key> {
    let input = EvalInput::event(event);
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let v = k.expr.eval(&input);
        if v == KeyValue::Null && !k.nullable {
            return None;
        }
        out.push(v);
    }
    Some(out)
}

/// Whether `event` matches the stage's category and (unless it reads aliases)
/// its condition, and its key. `Some((key, deferred))` on a match, where
/// `deferred` means the condition still has to be checked per partial.
fn stage_match(stage: &StagePlan, category: &FieldPath, event: &Event) -> Option<(Key, bool)> {
    if !stage.filter.category_matches(category, event) {
        return None;
    }
    let deferred = stage.filter.uses_aliases;
    if !deferred && !stage.filter.condition.matches(&EvalInput::event(event)) {
        return None;
    }
    eval_key(&stage.keys, event).map(|k| (k, deferred))
}

/// An event that matched at least one stage or the until clause.
struct Candidate {
    ord: Ordinal,
    ts: Timestamp,
    event: Arc<Event>,
    /// (stage index, key, condition deferred), by ascending stage.
    stages: Vec<(usize, Key, bool)>,
    until: Option<Key>,
}

pub(crate) struct SequenceState {
    candidates: Vec<Candidate>,
}

impl SequenceState {
    pub(crate) fn new(_plan: &SequencePlan) -> Self {
        SequenceState { candidates: Vec::new() }
    }

    pub(crate) fn push(
        &mut self,
        plan: &SequencePlan,
        category: &FieldPath,
        order: &OrderFields,
        seq: u64,
        event: &Arc<Event>,
        stats: &mut Stats,
    ) {
        let mut stages = Vec::new();
        for (i, st) in plan.stages.iter().enumerate() {
            if let Some((key, deferred)) = stage_match(st, category, event) {
                stages.push((i, key, deferred));
            }
        }
        let until = plan
            .until
            .as_ref()
            .and_then(|u| stage_match(u, category, event))
            .map(|(k, _)| k);
        if stages.is_empty() && until.is_none() {
            return;
        }
        let ord = order.ordinal(event, seq);
        let Some(ts) = ord.timestamp() else {
            stats.missing_timestamp += 1;
            return;
        };
        stats.buffered += 1;
        self.candidates.push(Candidate {
            ord,
            ts,
            event: event.clone(),
            stages,
            until,
        });
    }

    pub(crate) fn finish(mut self, plan: &SequencePlan, config: &RunConfig, stats: &mut Stats) -> Vec<Hit> {
        self.candidates.sort_by(|a, b| a.ord.cmp(&b.ord));
        let cands = &self.candidates;
        let mut m = Matcher::new(plan, config.max_live_partials);
        for (ci, c) in cands.iter().enumerate() {
            m.feed(ci, c, cands, stats);
        }
        let Matcher {
            completed,
            missing_index,
            positive,
            ..
        } = m;
        let mut hits = Vec::with_capacity(completed.len());
        for done in completed {
            if !positive.is_empty() && !missing_index.is_empty() && !accept_missing(plan, &positive, &missing_index, &done, cands) {
                continue;
            }
            let mut entries = Vec::with_capacity(plan.stages.len());
            let mut next = done.hits.iter();
            for st in &plan.stages {
                if st.missing {
                    entries.push(Entry::Missing);
                } else if let Some(&ci) = next.next() {
                    entries.push(Entry::Event(cands[ci as usize].event.clone()));
                }
            }
            hits.push(Hit {
                entries,
                join_keys: Some(done.key),
                aggregate: None,
            });
        }
        hits
    }
}

struct Partial {
    /// Candidate indexes of the positive stages matched so far.
    hits: Vec<u32>,
    start: Timestamp,
    /// Id of this partial's entry in `Matcher::lru`.
    id: u64,
}

struct Completed {
    key: Key,
    hits: Vec<u32>,
}

struct Matcher<'p> {
    plan: &'p SequencePlan,
    /// Stage index of each positive stage.
    positive: Vec<usize>,
    /// Positive index of each stage (`usize::MAX` for missing stages).
    pos_of: Vec<usize>,
    /// Per key, the newest partial waiting after positive stage `p`, for
    /// `p` in `0..positive.len() - 1`.
    slots: HashMap<Key, Vec<Option<Partial>>>,
    /// Live partials by last touch (id), for eviction and expiry:
    /// id -> (key, slot, time of last match).
    lru: BTreeMap<u64, (Key, usize, Timestamp)>,
    next_id: u64,
    live: usize,
    cap: usize,
    completed: Vec<Completed>,
    /// Per missing stage, per key: candidate indexes in event order.
    missing_index: HashMap<usize, HashMap<Key, Vec<u32>>>,
}

impl<'p> Matcher<'p> {
    fn new(plan: &'p SequencePlan, cap: usize) -> Self {
        let positive: Vec<usize> = (0..plan.stages.len()).filter(|&i| !plan.stages[i].missing).collect();
        let mut pos_of = vec![usize::MAX; plan.stages.len()];
        for (p, &s) in positive.iter().enumerate() {
            pos_of[s] = p;
        }
        Matcher {
            plan,
            positive,
            pos_of,
            slots: HashMap::new(),
            lru: BTreeMap::new(),
            next_id: 0,
            live: 0,
            cap: cap.max(1),
            completed: Vec::new(),
            missing_index: HashMap::new(),
        }
    }

    fn feed(&mut self, ci: usize, c: &Candidate, cands: &[Candidate], stats: &mut Stats) {
        self.expire(c.ts, stats);
        for (stage, key, deferred) in c.stages.iter().rev() {
            let p = self.pos_of[*stage];
            if p == usize::MAX {
                self.missing_index
                    .entry(*stage)
                    .or_default()
                    .entry(key.clone())
                    .or_default()
                    .push(ci as u32);
                continue;
            }
            if p == 0 {
                let partial = Partial {
                    hits: vec![ci as u32],
                    start: c.ts,
                    id: 0,
                };
                if self.positive.len() == 1 {
                    self.completed.push(Completed {
                        key: key.clone(),
                        hits: partial.hits,
                    });
                } else {
                    self.store(key, 0, partial, c.ts, stats);
                }
                continue;
            }
            self.advance(p, key, *deferred, ci, c, cands, stats);
        }
        if let Some(key) = &c.until {
            if let Some(slots) = self.slots.remove(key) {
                for partial in slots.into_iter().flatten() {
                    self.lru.remove(&partial.id);
                    self.live -= 1;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn advance(
        &mut self,
        p: usize,
        key: &Key,
        deferred: bool,
        ci: usize,
        c: &Candidate,
        cands: &[Candidate],
        stats: &mut Stats,
    ) {
        let Some(slots) = self.slots.get_mut(key.as_slice()) else {
            return;
        };
        let Some(waiting) = slots[p - 1].as_ref() else {
            return;
        };
        if deferred {
            // Bind the aliases of the stages this partial has matched.
            let plan = self.plan;
            let mut bound: Vec<Option<&Event>> = vec![None; plan.aliases.len()];
            for (q, &hit) in waiting.hits.iter().enumerate() {
                if let Some(a) = plan.stages[self.positive[q]].alias {
                    bound[a] = Some(&*cands[hit as usize].event);
                }
            }
            let input = EvalInput {
                event: &c.event,
                aliases: &bound,
            };
            if !plan.stages[self.positive[p]].filter.condition.matches(&input) {
                return;
            }
        }
        let mut partial = slots[p - 1].take().expect("checked above");
        let empty = slots.iter().all(Option::is_none);
        if empty {
            self.slots.remove(key.as_slice());
        }
        self.lru.remove(&partial.id);
        self.live -= 1;
        if let Some(span) = self.plan.maxspan_nanos {
            if c.ts.0 - partial.start.0 > span {
                return;
            }
        }
        partial.hits.push(ci as u32);
        if p == self.positive.len() - 1 {
            self.completed.push(Completed {
                key: key.clone(),
                hits: partial.hits,
            });
        } else {
            self.store(key, p, partial, c.ts, stats);
        }
    }

    /// Puts `partial` in `key`'s slot `slot`, replacing an older one there.
    fn store(&mut self, key: &Key, slot: usize, mut partial: Partial, now: Timestamp, stats: &mut Stats) {
        let width = self.positive.len() - 1;
        let slots = self
            .slots
            .entry(key.clone())
            .or_insert_with(|| (0..width).map(|_| None).collect());
        partial.id = self.next_id;
        self.next_id += 1;
        if let Some(old) = slots[slot].replace(partial) {
            self.lru.remove(&old.id);
            self.live -= 1;
        }
        self.lru.insert(self.next_id - 1, (key.clone(), slot, now));
        self.live += 1;
        while self.live > self.cap {
            let Some((_, (k, s, _))) = self.lru.pop_first() else {
                break;
            };
            self.drop_slot(&k, s);
            stats.partials_evicted += 1;
        }
        stats.peak_live_partials = stats.peak_live_partials.max(self.live as u64);
    }

    /// Drops partials that can no longer complete because `maxspan` has
    /// passed since their last match (hence also since their first).
    fn expire(&mut self, now: Timestamp, stats: &mut Stats) {
        let Some(span) = self.plan.maxspan_nanos else {
            return;
        };
        while let Some(entry) = self.lru.first_entry() {
            if now.0 - entry.get().2 .0 <= span {
                break;
            }
            let (k, s, _) = entry.remove();
            self.drop_slot(&k, s);
            stats.partials_expired += 1;
        }
    }

    fn drop_slot(&mut self, key: &Key, slot: usize) {
        if let Some(slots) = self.slots.get_mut(key.as_slice()) {
            if slots[slot].take().is_some() {
                self.live -= 1;
            }
            if slots.iter().all(Option::is_none) {
                self.slots.remove(key.as_slice());
            }
        }
    }
}

fn millis(ts: Timestamp) -> i64 {
    ts.millis()
}

/// Elasticsearch's acceptance test of a completed sequence against its
/// missing-event stages (see the module documentation).
fn accept_missing(
    plan: &SequencePlan,
    positive: &[usize],
    index: &HashMap<usize, HashMap<Key, Vec<u32>>>,
    done: &Completed,
    cands: &[Candidate],
) -> bool {
    let n = plan.stages.len();
    let first_pos = positive[0];
    let last_pos = *positive.last().expect("non-empty");
    let ts_of_pos = |stage: usize| -> Timestamp {
        let p = positive.iter().position(|&s| s == stage).expect("positive stage");
        cands[done.hits[p] as usize].ts
    };
    let start = ts_of_pos(first_pos);
    let end = ts_of_pos(last_pos);
    let mut last_leading: Option<Timestamp> = None;
    let mut first_trailing: Option<Timestamp> = None;
    for i in 0..n {
        if !plan.stages[i].missing {
            continue;
        }
        let events: &[u32] = index
            .get(&i)
            .and_then(|m| m.get(&done.key))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let ms = |ci: &u32| millis(cands[*ci as usize].ts);
        if i < first_pos {
            // Latest event strictly before the first positive event's millisecond.
            let limit = millis(start);
            let cut = events.partition_point(|ci| ms(ci) < limit);
            if cut > 0 {
                let t = cands[events[cut - 1] as usize].ts;
                last_leading = Some(last_leading.map_or(t, |l| l.max(t)));
            }
        } else if i > last_pos {
            let limit = millis(end);
            let cut = events.partition_point(|ci| ms(ci) <= limit);
            if cut < events.len() {
                let t = cands[events[cut] as usize].ts;
                first_trailing = Some(first_trailing.map_or(t, |f| f.min(t)));
            }
        } else {
            let prev = (0..i).rev().find(|&s| !plan.stages[s].missing).expect("positive before");
            let next = (i + 1..n).find(|&s| !plan.stages[s].missing).expect("positive after");
            let (lo, hi) = (millis(ts_of_pos(prev)), millis(ts_of_pos(next)));
            let cut = events.partition_point(|ci| ms(ci) <= lo);
            if cut < events.len() && ms(&events[cut]) < hi {
                return false;
            }
        }
    }
    let exceeds = |from: Option<Timestamp>, to: Option<Timestamp>| match (from, to) {
        (Some(f), Some(t)) => plan.maxspan_nanos.is_some_and(|span| t.0 - f.0 > span),
        _ => true,
    };
    let miss_first = plan.stages[0].missing;
    let miss_last = plan.stages[n - 1].missing;
    (first_trailing.is_none() && last_leading.is_none())
        || (last_leading.is_none() && miss_first)
        || (first_trailing.is_none() && miss_last)
        || (miss_first && miss_last && exceeds(last_leading, first_trailing))
        || (miss_first && !miss_last && exceeds(last_leading, Some(end)))
        || (!miss_first && miss_last && exceeds(Some(start), first_trailing))
}
