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
//!   sequence (the exact acceptance rules are in `accept_missing`).
//! * A join key whose field is not optional (`?field`) must not be null; such
//!   events do not match the stage.
//!
//! Endpoint-dialect stages that read an alias (`event0.process.pid`) are
//! evaluated against the partial they would advance.
//!
//! # Ordering and memory
//!
//! Matching needs events in order. Two modes ([`RunConfig::reorder_window`]):
//!
//! * Without a window (the default) every candidate event (one that matched
//!   some stage or `until`) is kept and sorted at `finish`: exact for any
//!   input order; memory proportional to the number of candidates.
//! * With a window `w`, candidates wait in a reorder buffer and are matched
//!   as soon as they are older than the newest timestamp seen (pushed or
//!   given to [`super::QueryRunner::advance`]) minus `w`, so
//!   memory is bounded by the window and the live-partials cap. Input may be
//!   out of order by up to `w`; a candidate arriving later than that (older
//!   than one already matched) is counted in [`Stats::late_events`] and not
//!   used.
//!
//! With a window, the join key of a stage past the first (and of `until`)
//! is evaluated only when the event is matched, in time order, and some
//! partial sequence is live then: nothing could advance or be cancelled
//! otherwise. Likewise a trailing missing stage's key (and its index entry)
//! only while some completed sequence awaits its missing-event check: no
//! sequence completed later can be rejected by an earlier event. Those
//! stages' conditions are checked at push, so an event that fails them is
//! not buffered at all (most events of a later stage's category do: a
//! rule's later stages are as narrow as its first).
//! Evaluation is a pure function of the event, so when it happens does not
//! change the result.
//!
//! In both modes the matcher holds at most `max_live_partials` partial
//! sequences (least recently advanced evicted first, counted), drops those
//! whose `maxspan` has passed, and for missing-event stages keeps only the
//! timestamps of matching events (pruned by `maxspan`).

use std::collections::{BTreeMap, HashMap, VecDeque};

/// Maps by join key, looked up for every event a stage takes (SipHash, the
/// standard map's, cost more than the lookups); foldhash is seeded per
/// process.
type KeyMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use ferret_event::{Event, FieldPath, Timestamp};

use super::key::KeyWriter;
use super::order::{OrderFields, Ordinal};
use super::{Entry, Hit, RunConfig, Stats};
use crate::expr::EvalInput;
use crate::plan::{KeyPlan, SequencePlan, StagePlan};

pub use super::key::Key;

/// Evaluates a stage's join key; `None` when a non-nullable key is null.
pub(crate) fn eval_key(keys: &[KeyPlan], event: &Event) -> Option<Key> {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with_borrow_mut(|buf| {
        buf.clear();
        let input = EvalInput::event(event);
        let mut out = KeyWriter(buf);
        for k in keys {
            if !k.expr.write_key(&input, &mut out) && !k.nullable {
                return None;
            }
        }
        Some(Key::from_bytes(buf))
    })
}

/// Whether `event` matches the stage's condition, as far as it can be
/// checked without a partial: a condition that reads aliases is checked
/// per partial (see [`Matcher::advance`]).
fn condition_holds(stage: &StagePlan, event: &Event) -> bool {
    stage.filter.uses_aliases || stage.filter.condition.matches(&EvalInput::event(event))
}

/// The stage's key for an event whose condition holds:
/// `Some((key, deferred))`, where `deferred` means the condition still has
/// to be checked per partial; `None` when a non-nullable key is null.
fn stage_key(stage: &StagePlan, event: &Event) -> Option<(Key, bool)> {
    eval_key(&stage.keys, event).map(|k| (k, stage.filter.uses_aliases))
}

/// Whether `event` matches the stage's condition (unless it reads aliases)
/// and key; its category is the caller's to check.
fn stage_eval(stage: &StagePlan, event: &Event) -> Option<(Key, bool)> {
    if !condition_holds(stage, event) {
        return None;
    }
    stage_key(stage, event)
}

/// What an event matched: (stage index, key, condition deferred) by
/// ascending stage, and the until clause's key.
#[derive(Default)]
struct Matches {
    stages: Vec<(usize, Key, bool)>,
    until: Option<Key>,
}

impl Matches {
    fn is_empty(&self) -> bool {
        self.stages.is_empty() && self.until.is_none()
    }
}

/// The bit of the until clause in a deferred-stages mask (bit `i` is stage
/// `i`; plans with more stages than fit evaluate everything at once).
const UNTIL_BIT: u64 = 1 << 63;

/// Evaluates `event` against the stages whose category it has. With
/// `defer`, only stages that can start a sequence or record a leading or
/// middle missing event are evaluated in full now; of the others (and
/// `until`), those whose condition holds are returned as a mask for
/// [`match_deferred`], which evaluates their keys: later positive stages
/// and `until` only matter while a partial sequence is live, trailing
/// missing stages only while a completed one awaits its check (`trailing`,
/// the plan's [`trailing_missing_mask`]).
fn match_stages(
    plan: &SequencePlan,
    category: &FieldPath,
    event: &Event,
    defer: bool,
    trailing: u64,
) -> (Matches, u64) {
    let defer = defer && plan.stages.len() < 63;
    let mut out = Matches::default();
    let mut deferred = 0u64;
    let mut positive = 0;
    // What the event made of the current `runs` group's first stage, which
    // its repetitions share (a `with runs=60` stage was evaluated 60 times).
    let mut group = RunGroup::default();
    for (i, st) in plan.stages.iter().enumerate() {
        let starts = !st.missing && positive == 0;
        if !st.missing {
            positive += 1;
        }
        let first = st.repeat_of.unwrap_or(i);
        if group.first != Some(first) {
            group = RunGroup {
                first: Some(first),
                category: st.filter.category_matches(category, event),
                holds: None,
                key: None,
            };
        }
        if !group.category {
            continue;
        }
        let holds = *group
            .holds
            .get_or_insert_with(|| condition_holds(st, event));
        if !holds {
            continue;
        }
        let later = !st.missing && !starts;
        if defer && (later || trailing & (1 << i) != 0) {
            deferred |= 1 << i;
        } else {
            let key = group.key.get_or_insert_with(|| eval_key(&st.keys, event));
            // Copied only for a repetition after this stage, else moved.
            let key = if repeated_next(plan, i, first) {
                key.clone()
            } else {
                key.take()
            };
            if let Some(key) = key {
                out.stages.push((i, key, st.filter.uses_aliases));
            }
        }
    }
    if let Some(u) = plan
        .until
        .as_ref()
        .filter(|u| u.filter.category_matches(category, event))
    {
        if defer {
            if condition_holds(u, event) {
                deferred |= UNTIL_BIT;
            }
        } else {
            out.until = stage_eval(u, event).map(|(k, _)| k);
        }
    }
    (out, deferred)
}

/// Whether the stage after stage `i` repeats the `runs` group whose first
/// stage is `first`.
fn repeated_next(plan: &SequencePlan, i: usize, first: usize) -> bool {
    plan.stages
        .get(i + 1)
        .is_some_and(|next| next.repeat_of == Some(first))
}

/// An event's outcome for the first stage of a `runs` group (see
/// [`StagePlan::repeat_of`]), worked out as far as some stage needed it.
#[derive(Default)]
struct RunGroup {
    first: Option<usize>,
    category: bool,
    holds: Option<bool>,
    /// The stage key, `None` inside when a non-nullable key is null.
    key: Option<Option<Key>>,
}

/// The stages after the last positive one (all missing), as a mask of
/// stage bits; 0 for plans too long to defer.
///
/// Such a stage can only reject a sequence completed before the event:
/// [`accept_missing`] looks for events strictly after a sequence's last
/// positive event, and sequences are matched in time order, so any
/// sequence completed later ends no earlier than the event. While no
/// completed sequence awaits its check, these events need no key and no
/// index entry.
fn trailing_missing_mask(plan: &SequencePlan) -> u64 {
    let n = plan.stages.len();
    if n >= 63 {
        return 0;
    }
    let last_positive = plan.stages.iter().rposition(|s| !s.missing).unwrap_or(0);
    (last_positive + 1..n).fold(0, |m, i| m | 1 << i)
}

/// Evaluates the keys of the stages `mask` names (see [`match_stages`]:
/// their conditions hold) into `out`.
fn match_deferred(plan: &SequencePlan, event: &Event, mask: u64, out: &mut Matches) {
    // Repetitions of a `runs` stage share its key: the one matched at push
    // (in `out`) or the one evaluated here for the stage before.
    let mut last: Option<(usize, Option<Key>)> = None;
    let pushed = out.stages.len();
    for (i, st) in plan.stages.iter().enumerate() {
        if mask & (1 << i) == 0 {
            continue;
        }
        let first = st.repeat_of.unwrap_or(i);
        let key = match last.take() {
            Some((g, key)) if g == first => key,
            _ => out.stages[..pushed]
                .iter()
                .find(|(j, _, _)| plan.stages[*j].repeat_of.unwrap_or(*j) == first)
                .map(|(_, key, _)| key.clone())
                .or_else(|| eval_key(&st.keys, event)),
        };
        // Copied only for a repetition after this stage.
        if repeated_next(plan, i, first) {
            last = Some((first, key.clone()));
        }
        if let Some(key) = key {
            out.stages.push((i, key, st.filter.uses_aliases));
        }
    }
    out.stages.sort_by_key(|(i, _, _)| *i);
    if mask & UNTIL_BIT != 0 {
        out.until = plan
            .until
            .as_ref()
            .and_then(|u| stage_key(u, event))
            .map(|(k, _)| k);
    }
}

/// An event waiting to be matched: what it matched at push, and with a
/// reorder window the stages left to evaluate when it is fed.
struct Candidate {
    ord: Ordinal,
    ts: Timestamp,
    event: Arc<Event>,
    matches: Matches,
    deferred: u64,
}

pub(crate) struct SequenceState {
    /// Reorder window in nanoseconds (`None`: sort everything at `finish`).
    window: Option<i128>,
    /// Candidates not yet matched, smallest ordinal first.
    /// With a window: sorted by ordinal (input is mostly in order, so
    /// inserting is almost always a push at the back). Without: in push
    /// order, sorted at `finish`.
    buffer: VecDeque<Candidate>,
    /// Newest timestamp seen.
    max_ts: Option<Timestamp>,
    /// Ordinal of the last candidate fed to the matcher.
    last_fed: Option<Ordinal>,
    matcher: Matcher,
}

impl SequenceState {
    pub(crate) fn new(plan: &SequencePlan, config: &RunConfig) -> Self {
        SequenceState {
            window: config.reorder_window.map(|d| d.as_nanos() as i128),
            buffer: VecDeque::new(),
            max_ts: None,
            last_fed: None,
            matcher: Matcher::new(plan, config.max_live_partials),
        }
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
        let (matches, deferred) = match_stages(
            plan,
            category,
            event,
            self.window.is_some(),
            self.matcher.trailing_missing,
        );
        if matches.is_empty() && deferred == 0 {
            return;
        }
        let ord = order.ordinal(event, seq);
        let late = self.last_fed.as_ref().is_some_and(|last| ord < *last);
        let Some(ts) = ord.timestamp().filter(|_| !late) else {
            // Counted only if the event mattered to the query.
            let mut all = matches;
            match_deferred(plan, event, deferred, &mut all);
            if !all.is_empty() {
                if late {
                    stats.late_events += 1;
                } else {
                    stats.missing_timestamp += 1;
                }
            }
            return;
        };
        stats.buffered += 1;
        let c = Candidate {
            ord,
            ts,
            event: event.clone(),
            matches,
            deferred,
        };
        if self.window.is_none() {
            // Exact mode: sorted once at `finish`.
            self.buffer.push_back(c);
            return;
        }
        match self.buffer.back() {
            Some(last) if last.ord > c.ord => {
                let at = self.buffer.partition_point(|x| x.ord < c.ord);
                self.buffer.insert(at, c);
            }
            _ => self.buffer.push_back(c),
        }
        self.advance(plan, ts, stats);
    }

    /// The input has reached time `ts` (by this rule's timestamp field):
    /// with a reorder window, candidates older than `ts` minus the window
    /// are matched now. A scan calls it with the newest time of each batch,
    /// so a rule that few events reach does not hold its last candidates
    /// until its next one arrives; anything that old arriving later is out
    /// of order by more than the window, which the window does not cover.
    pub(crate) fn advance(&mut self, plan: &SequencePlan, ts: Timestamp, stats: &mut Stats) {
        let Some(window) = self.window else {
            return;
        };
        let newest = self.max_ts.map_or(ts, |m| m.max(ts));
        self.max_ts = Some(newest);
        while let Some(oldest) = self.buffer.front() {
            if newest.0 - oldest.ts.0 <= window {
                break;
            }
            // Feeding drops most candidates, each a reference to an event
            // seen minutes of input ago, long out of the cache (the
            // decrement's miss was 1% of W2); the line is asked for a few
            // candidates ahead.
            if let Some(ahead) = self.buffer.get(4) {
                Event::prefetch_counts(&ahead.event);
            }
            let c = self.buffer.pop_front().expect("peeked");
            self.last_fed = Some(c.ord.clone());
            self.matcher.feed(plan, c, stats);
        }
    }

    /// Accepted sequences so far (see [`super::QueryRunner::drain_hits`]).
    pub(crate) fn drain_hits(&mut self) -> Vec<Hit> {
        std::mem::take(&mut self.matcher.hits)
    }

    pub(crate) fn finish(mut self, plan: &SequencePlan, stats: &mut Stats) -> Vec<Hit> {
        self.buffer
            .make_contiguous()
            .sort_unstable_by(|a, b| a.ord.cmp(&b.ord));
        while let Some(c) = self.buffer.pop_front() {
            self.matcher.feed(plan, c, stats);
        }
        self.matcher.decide_pending(plan, None);
        self.matcher.hits
    }
}

/// A matched event: shared, with its timestamp.
type Matched = (Arc<Event>, Timestamp);

struct Partial {
    /// Events of the positive stages matched so far.
    hits: Vec<Matched>,
    start: Timestamp,
    /// Id of this partial's entry in `Matcher::lru`.
    id: u64,
}

struct Completed {
    key: Key,
    hits: Vec<Matched>,
}

struct Matcher {
    /// Stage index of each positive stage.
    positive: Vec<usize>,
    /// Positive index of each stage (`usize::MAX` for missing stages).
    pos_of: Vec<usize>,
    maxspan: Option<i128>,
    has_missing: bool,
    has_trailing_missing: bool,
    /// [`trailing_missing_mask`] of the plan.
    trailing_missing: u64,
    /// Per key, the newest partial waiting after positive stage `p`, for
    /// `p` in `0..positive.len() - 1`.
    slots: KeyMap<Key, Vec<Option<Partial>>>,
    /// Live partials by last touch (id), for eviction and expiry:
    /// id -> (key, slot, time of last match).
    lru: BTreeMap<u64, (Key, usize, Timestamp)>,
    next_id: u64,
    live: usize,
    cap: usize,
    /// Per missing stage, per key: timestamps of matching events, in order.
    missing_index: HashMap<usize, KeyMap<Key, VecDeque<Timestamp>>>,
    missing_entries: usize,
    next_prune_at: usize,
    /// Completed sequences waiting for their missing-event check, in
    /// completion order.
    pending: VecDeque<Completed>,
    /// Newest timestamp fed.
    now: Option<Timestamp>,
    /// Accepted sequences, in completion order.
    hits: Vec<Hit>,
}

impl Matcher {
    fn new(plan: &SequencePlan, cap: usize) -> Self {
        let positive: Vec<usize> = (0..plan.stages.len())
            .filter(|&i| !plan.stages[i].missing)
            .collect();
        let mut pos_of = vec![usize::MAX; plan.stages.len()];
        for (p, &s) in positive.iter().enumerate() {
            pos_of[s] = p;
        }
        let last_positive = *positive
            .last()
            .expect("the planner requires a positive stage");
        Matcher {
            maxspan: plan.maxspan_nanos,
            has_missing: positive.len() < plan.stages.len(),
            has_trailing_missing: last_positive + 1 < plan.stages.len(),
            trailing_missing: trailing_missing_mask(plan),
            positive,
            pos_of,
            slots: KeyMap::default(),
            lru: BTreeMap::new(),
            next_id: 0,
            live: 0,
            cap: cap.max(1),
            missing_index: HashMap::new(),
            missing_entries: 0,
            next_prune_at: 4096,
            pending: VecDeque::new(),
            now: None,
            hits: Vec::new(),
        }
    }

    fn feed(&mut self, plan: &SequencePlan, mut c: Candidate, stats: &mut Stats) {
        self.now = Some(c.ts);
        self.expire(c.ts, stats);
        // Stages are applied highest first, so only the first positive
        // stage can create a partial during this call: `live` as it is now
        // tells whether the later stages and `until` can have any effect.
        let mut matches = std::mem::take(&mut c.matches);
        let mut mask = 0;
        if self.live > 0 {
            mask |= c.deferred & !self.trailing_missing;
        }
        if !self.pending.is_empty() {
            mask |= c.deferred & self.trailing_missing;
        }
        if mask != 0 {
            match_deferred(plan, &c.event, mask, &mut matches);
        }
        for (stage, key, deferred) in matches.stages.drain(..).rev() {
            let p = self.pos_of[stage];
            if p == usize::MAX {
                self.index_missing(stage, &key, c.ts);
                stats.missing_indexed += 1;
                continue;
            }
            if p == 0 {
                let partial = Partial {
                    hits: vec![(c.event.clone(), c.ts)],
                    start: c.ts,
                    id: 0,
                };
                if self.positive.len() == 1 {
                    self.complete(plan, key, partial.hits);
                } else {
                    self.store(key, 0, partial, c.ts, stats);
                }
                continue;
            }
            self.advance(plan, p, key, deferred, &c, stats);
        }
        if let Some(key) = &matches.until {
            if let Some(slots) = self.slots.remove(key) {
                for partial in slots.into_iter().flatten() {
                    self.lru.remove(&partial.id);
                    self.live -= 1;
                }
            }
        }
        if !self.pending.is_empty() {
            self.decide_pending(plan, Some(c.ts));
        }
    }

    fn advance(
        &mut self,
        plan: &SequencePlan,
        p: usize,
        key: Key,
        deferred: bool,
        c: &Candidate,
        stats: &mut Stats,
    ) {
        let Some(slots) = self.slots.get_mut(&key) else {
            return;
        };
        let Some(waiting) = slots[p - 1].as_ref() else {
            return;
        };
        if deferred {
            // Bind the aliases of the stages this partial has matched.
            let mut bound: Vec<Option<&Event>> = vec![None; plan.aliases.len()];
            for (q, (event, _)) in waiting.hits.iter().enumerate() {
                if let Some(a) = plan.stages[self.positive[q]].alias {
                    bound[a] = Some(&**event);
                }
            }
            let input = EvalInput {
                event: &c.event,
                aliases: &bound,
            };
            if !plan.stages[self.positive[p]]
                .filter
                .condition
                .matches(&input)
            {
                return;
            }
        }
        let mut partial = slots[p - 1].take().expect("checked above");
        if slots.iter().all(Option::is_none) {
            self.slots.remove(&key);
        }
        self.lru.remove(&partial.id);
        self.live -= 1;
        if let Some(span) = self.maxspan {
            if c.ts.0 - partial.start.0 > span {
                return;
            }
        }
        partial.hits.push((c.event.clone(), c.ts));
        if p == self.positive.len() - 1 {
            self.complete(plan, key, partial.hits);
        } else {
            self.store(key, p, partial, c.ts, stats);
        }
    }

    fn complete(&mut self, plan: &SequencePlan, key: Key, hits: Vec<Matched>) {
        let done = Completed { key, hits };
        if self.has_missing {
            self.pending.push_back(done);
        } else {
            self.hits.push(to_hit(plan, done));
        }
    }

    /// Decides the pending sequences whose missing-event check can no longer
    /// change: all of them at the end of input (`now` = `None`), else those
    /// without trailing missing stages (every event that could reject them is
    /// earlier and already indexed) or whose `maxspan` has passed.
    fn decide_pending(&mut self, plan: &SequencePlan, now: Option<Timestamp>) {
        while let Some(front) = self.pending.front() {
            let ready = match now {
                None => true,
                Some(now) => {
                    !self.has_trailing_missing
                        || self.maxspan.is_some_and(|span| {
                            let end = front.hits.last().expect("non-empty").1;
                            now.0 - end.0 > span
                        })
                }
            };
            if !ready {
                break;
            }
            let done = self.pending.pop_front().expect("front exists");
            if accept_missing(
                plan,
                &self.positive,
                &self.missing_index,
                &done,
                self.maxspan,
            ) {
                self.hits.push(to_hit(plan, done));
            }
        }
        if let Some(now) = now {
            self.prune_missing(now);
        }
    }

    fn index_missing(&mut self, stage: usize, key: &Key, ts: Timestamp) {
        self.missing_index
            .entry(stage)
            .or_default()
            .entry(key.clone())
            .or_default()
            .push_back(ts);
        self.missing_entries += 1;
    }

    /// Forgets missing-stage timestamps too old to affect any sequence still
    /// to be decided: with `maxspan`, those more than twice `maxspan` (plus a
    /// millisecond of rounding) before the newest event.
    fn prune_missing(&mut self, now: Timestamp) {
        let Some(span) = self.maxspan else {
            return;
        };
        if self.missing_entries < self.next_prune_at {
            return;
        }
        let horizon = now.0 - 2 * span - 2 * Timestamp::NANOS_PER_MILLI;
        let mut kept = 0;
        for per_key in self.missing_index.values_mut() {
            per_key.retain(|_, times| {
                while times.front().is_some_and(|t| t.0 < horizon) {
                    times.pop_front();
                }
                kept += times.len();
                !times.is_empty()
            });
        }
        self.missing_entries = kept;
        self.next_prune_at = (kept * 2).max(4096);
    }

    /// Puts `partial` in `key`'s slot `slot`, replacing an older one there.
    fn store(
        &mut self,
        key: Key,
        slot: usize,
        mut partial: Partial,
        now: Timestamp,
        stats: &mut Stats,
    ) {
        let width = self.positive.len() - 1;
        // The key is cloned only for a key new to `slots`; `lru` takes it.
        let slots = match self.slots.get_mut(&key) {
            Some(slots) => slots,
            None => self
                .slots
                .entry(key.clone())
                .or_insert_with(|| (0..width).map(|_| None).collect()),
        };
        partial.id = self.next_id;
        self.next_id += 1;
        if let Some(old) = slots[slot].replace(partial) {
            self.lru.remove(&old.id);
            self.live -= 1;
        }
        self.lru.insert(self.next_id - 1, (key, slot, now));
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
        let Some(span) = self.maxspan else {
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
        if let Some(slots) = self.slots.get_mut(key) {
            if slots[slot].take().is_some() {
                self.live -= 1;
            }
            if slots.iter().all(Option::is_none) {
                self.slots.remove(key);
            }
        }
    }
}

/// The hit of an accepted sequence: one entry per stage, missing stages as
/// [`Entry::Missing`].
fn to_hit(plan: &SequencePlan, done: Completed) -> Hit {
    let mut entries = Vec::with_capacity(plan.stages.len());
    let mut next = done.hits.into_iter();
    for st in &plan.stages {
        if st.missing {
            entries.push(Entry::Missing);
        } else if let Some((event, _)) = next.next() {
            entries.push(Entry::Event(event));
        }
    }
    Hit {
        entries,
        join_keys: Some(done.key.values()),
        aggregate: None,
    }
}

/// Elasticsearch's acceptance test of a completed sequence against its
/// missing-event stages (see the module documentation). Range checks use
/// whole milliseconds, as the range queries Elasticsearch issues do; the
/// `maxspan` comparisons use full precision.
fn accept_missing(
    plan: &SequencePlan,
    positive: &[usize],
    index: &HashMap<usize, KeyMap<Key, VecDeque<Timestamp>>>,
    done: &Completed,
    maxspan: Option<i128>,
) -> bool {
    let n = plan.stages.len();
    let first_pos = positive[0];
    let last_pos = *positive.last().expect("non-empty");
    let ts_of_stage = |stage: usize| -> Timestamp {
        let p = positive
            .iter()
            .position(|&s| s == stage)
            .expect("positive stage");
        done.hits[p].1
    };
    let start = ts_of_stage(first_pos);
    let end = ts_of_stage(last_pos);
    let mut last_leading: Option<Timestamp> = None;
    let mut first_trailing: Option<Timestamp> = None;
    let empty = VecDeque::new();
    for i in 0..n {
        if !plan.stages[i].missing {
            continue;
        }
        let times = index
            .get(&i)
            .and_then(|m| m.get(&done.key))
            .unwrap_or(&empty);
        let ms = |t: &Timestamp| t.millis();
        if i < first_pos {
            // Latest event strictly before the first positive event's millisecond.
            let limit = start.millis();
            let cut = times.partition_point(|t| ms(t) < limit);
            if cut > 0 {
                let t = times[cut - 1];
                last_leading = Some(last_leading.map_or(t, |l| l.max(t)));
            }
        } else if i > last_pos {
            // Earliest event strictly after the last positive event's millisecond.
            let limit = end.millis();
            let cut = times.partition_point(|t| ms(t) <= limit);
            if cut < times.len() {
                let t = times[cut];
                first_trailing = Some(first_trailing.map_or(t, |f| f.min(t)));
            }
        } else {
            let prev = (0..i)
                .rev()
                .find(|&s| !plan.stages[s].missing)
                .expect("positive before");
            let next = (i + 1..n)
                .find(|&s| !plan.stages[s].missing)
                .expect("positive after");
            let (lo, hi) = (ts_of_stage(prev).millis(), ts_of_stage(next).millis());
            let cut = times.partition_point(|t| ms(t) <= lo);
            if cut < times.len() && ms(&times[cut]) < hi {
                return false;
            }
        }
    }
    let exceeds = |from: Option<Timestamp>, to: Option<Timestamp>| match (from, to) {
        (Some(f), Some(t)) => maxspan.is_some_and(|span| t.0 - f.0 > span),
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
