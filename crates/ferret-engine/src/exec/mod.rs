//! Query execution: a streaming [`QueryRunner`] per compiled [`Plan`].
//!
//! Events are pushed one at a time (`push`), shared as `Arc<Event>` so many
//! runners (one per rule in `ferret scan`) can hold the same event without
//! copying it; `finish` returns the hits in Elasticsearch's order plus
//! [`Stats`]. [`run`] is the one-shot helper.
//!
//! Memory model. Elasticsearch orders events by (timestamp, tiebreaker)
//! whatever order they were indexed in, and so must ferret: input files are
//! often unsorted (several hosts concatenated, a JSON array dump). A runner
//! therefore evaluates conditions as events arrive but keeps only what can
//! contribute to a result — for an event query the matching events (at most
//! `head`/`size` of them when the query is limited), for a sequence the
//! events matching some stage or the `until` clause, for a sample at most
//! `stages × max_samples_per_key` events per join key — and orders those in
//! memory at `finish`. Memory is thus proportional to the number of
//! *candidate* events, not to the input size. For sequences over long
//! streams, [`RunConfig::reorder_window`] bounds it instead: candidates are
//! matched once they are older than the window, and the input is assumed to
//! be out of order by at most that much. Sequence matching runs with bounded
//! state either way: partial sequences expire by `maxspan` and are capped by
//! [`RunConfig::max_live_partials`], evictions counted in [`Stats`].

pub mod key;
pub mod order;
pub mod pipes;
pub mod sample;
pub mod sequence;

use std::sync::Arc;

use ferret_event::{Event, FieldPath, Timestamp};

use crate::expr::EvalInput;
use crate::plan::{Body, PipePlan, Plan};
use crate::value::KeyValue;

use order::{OrderFields, Ordinal};

/// Settings of one query run (the Elasticsearch EQL search API's knobs).
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Field holding the event time (ISO 8601, epoch millis number or numeric
    /// string). Default `@timestamp`.
    pub timestamp_field: String,
    /// Field read when an event has no usable `timestamp_field`. Kibana runs
    /// a rule with `timestamp_override` this way, falling back to
    /// `@timestamp`. Default none.
    pub timestamp_fallback: Option<String>,
    /// Field that orders events with equal timestamps. Default none.
    pub tiebreaker_field: Option<String>,
    /// Maximum number of hits returned (Elasticsearch's `size`). Default
    /// unlimited.
    pub size: Option<usize>,
    /// Samples returned per join key (Elasticsearch's `max_samples_per_key`).
    pub max_samples_per_key: usize,
    /// Cap on live partial sequences (and on distinct sample keys) per
    /// runner; beyond it the least recently advanced partial is evicted and
    /// counted in [`Stats::partials_evicted`].
    pub max_live_partials: usize,
    /// Sequences only: how far out of time order input may be. `None` (the
    /// default) keeps every candidate event and sorts at the end, which is
    /// exact for any order; `Some(w)` matches candidates as soon as they are
    /// `w` older than the newest timestamp seen (pushed, or given to
    /// [`QueryRunner::advance`]), bounding memory, and counts
    /// (and ignores) candidates arriving later than that in
    /// [`Stats::late_events`]. See [`sequence`].
    pub reorder_window: Option<std::time::Duration>,
    /// Samples only: what a sample keeps of each event it holds (default:
    /// the event itself). See [`StandIn`].
    pub stand_in: Option<StandIn>,
}

/// Makes the stand-in a sample keeps for an event (see
/// [`RunConfig::stand_in`]).
///
/// A sample holds the first matching events of every join key to the end
/// of input, so what it holds grows with input. A caller that keeps the
/// events' records elsewhere (a scan keeps raw records for output) can
/// have it hold a small event instead, with only the fields the caller
/// reads from hits (a scan keeps none: it reads even their times from the
/// records) and an identity of its own. The stand-in
/// is made once per event and rule, so the same event matching two stages
/// is still one event to the sample.
#[derive(Clone)]
pub struct StandIn(Arc<MakeStandIn>);

type MakeStandIn = dyn Fn(&Arc<Event>) -> Arc<Event> + Send + Sync;

impl StandIn {
    pub fn new(make: impl Fn(&Arc<Event>) -> Arc<Event> + Send + Sync + 'static) -> Self {
        StandIn(Arc::new(make))
    }

    pub(crate) fn make(&self, event: &Arc<Event>) -> Arc<Event> {
        (self.0)(event)
    }
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StandIn(..)")
    }
}

/// Default cap on live partial sequences (and distinct sample keys) per
/// query. A partial itself costs a few hundred bytes (its join key is stored
/// twice, plus one `Arc` per matched event); the events it references stay
/// alive while it does, so with every partial on a distinct ~5 KB event the
/// worst case is in the hundreds of MB per query. Rules with `maxspan` rarely
/// come near the cap: their partials expire.
pub const DEFAULT_MAX_LIVE_PARTIALS: usize = 100_000;

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            timestamp_field: "@timestamp".to_string(),
            timestamp_fallback: None,
            tiebreaker_field: None,
            size: None,
            max_samples_per_key: 1,
            max_live_partials: DEFAULT_MAX_LIVE_PARTIALS,
            reorder_window: None,
            stand_in: None,
        }
    }
}

/// Counters of one run. Nothing is dropped silently: every event a query
/// could not use and every piece of state given up is counted here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events pushed.
    pub events: u64,
    /// Events kept in memory for ordering: sequence candidates (events that
    /// matched a stage) without a reorder window; with one, timed events
    /// that matched a first or missing stage or the condition of a later
    /// stage or `until` (their keys are evaluated when they are matched).
    pub buffered: u64,
    /// Events that matched a sequence stage but had no usable timestamp and
    /// were therefore skipped (a sequence needs the time order).
    pub missing_timestamp: u64,
    /// Live partial sequences evicted because of the cap.
    pub partials_evicted: u64,
    /// Partial sequences dropped because `maxspan` had passed.
    pub partials_expired: u64,
    /// Highest number of live partial sequences at any time.
    pub peak_live_partials: u64,
    /// Sample join keys not tracked because of the cap.
    pub sample_keys_dropped: u64,
    /// Sequence candidates that arrived later than the reorder window
    /// allows and were not used.
    pub late_events: u64,
    /// Timestamps recorded for missing-event checks (see
    /// [`sequence`]: with a window, a trailing missing stage records only
    /// while some completed sequence awaits its check).
    pub missing_indexed: u64,
}

/// One entry of a hit: a matched event, or a missing-event stage.
#[derive(Clone, Debug)]
pub enum Entry {
    Event(Arc<Event>),
    Missing,
}

impl Entry {
    pub fn event(&self) -> Option<&Arc<Event>> {
        match self {
            Entry::Event(e) => Some(e),
            Entry::Missing => None,
        }
    }
}

/// Counts attached by the legacy `count` / `unique_count` pipes.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// The values of the pipe's key expressions (empty for a bare `count`).
    pub key: Vec<KeyValue>,
    pub count: u64,
    /// `count` divided by the number of hits the pipe saw.
    pub percent: f64,
}

/// One result: the events of an event query hit (one), a sequence (one per
/// stage, `Missing` for a missing-event stage) or a sample (one per stage).
#[derive(Clone, Debug)]
pub struct Hit {
    pub entries: Vec<Entry>,
    /// Join keys, for sequences and samples only.
    pub join_keys: Option<Vec<KeyValue>>,
    /// Set by the legacy `count` (then `entries` is empty) and
    /// `unique_count` pipes.
    pub aggregate: Option<Aggregate>,
}

impl Hit {
    /// The first matched (non-missing) event.
    pub fn first_event(&self) -> Option<&Arc<Event>> {
        self.entries.iter().find_map(Entry::event)
    }

    /// The last matched (non-missing) event.
    pub fn last_event(&self) -> Option<&Arc<Event>> {
        self.entries.iter().rev().find_map(Entry::event)
    }
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Output {
    pub hits: Vec<Hit>,
    pub stats: Stats,
}

/// Runs one plan over a stream of events.
pub struct QueryRunner {
    plan: Arc<Plan>,
    config: RunConfig,
    order: OrderFields,
    seq: u64,
    stats: Stats,
    state: State,
}

enum State {
    Event(EventState),
    Sequence(Box<sequence::SequenceState>),
    Sample(sample::SampleState),
}

impl QueryRunner {
    pub fn new(plan: Arc<Plan>, config: &RunConfig) -> Self {
        let order = OrderFields {
            timestamp: FieldPath::dotted(&config.timestamp_field),
            timestamp_fallback: config.timestamp_fallback.as_deref().map(FieldPath::dotted),
            tiebreaker: config.tiebreaker_field.as_deref().map(FieldPath::dotted),
        };
        let state = match &plan.body {
            Body::Event(_) => State::Event(EventState::new(&plan.pipes, config.size)),
            Body::Sequence(seq) => {
                State::Sequence(Box::new(sequence::SequenceState::new(seq, config)))
            }
            Body::Sample(s) => State::Sample(sample::SampleState::new(s, config)),
        };
        QueryRunner {
            plan,
            config: config.clone(),
            order,
            seq: 0,
            stats: Stats::default(),
            state,
        }
    }

    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Feeds one event. Events may come in any order.
    pub fn push(&mut self, event: &Arc<Event>) {
        let seq = self.seq;
        self.seq += 1;
        self.stats.events += 1;
        let plan = &*self.plan;
        match (&mut self.state, &plan.body) {
            (State::Event(st), Body::Event(filter)) => {
                if filter.category_matches(&plan.category_path, event)
                    && filter.condition.matches(&EvalInput::event(event))
                {
                    st.push(
                        self.order.ordinal(event, seq),
                        event.clone(),
                        &mut self.stats,
                    );
                }
            }
            (State::Sequence(st), Body::Sequence(sp)) => st.push(
                sp,
                &plan.category_path,
                &self.order,
                seq,
                event,
                &mut self.stats,
            ),
            (State::Sample(st), Body::Sample(sp)) => {
                st.push(sp, &plan.category_path, event, &mut self.stats)
            }
            _ => unreachable!("runner state always follows the plan body"),
        }
    }

    /// Takes the hits that are already final, so a caller that orders hits
    /// itself (a scan sorts all alerts) need not hold them, nor their
    /// events, until the end. Only a query without pipes or size limit has
    /// such hits (pipes and limits look at all hits): others return none
    /// here and everything from [`QueryRunner::finish`]. Hits taken here
    /// are not returned again; their order is not Elasticsearch's.
    /// Tells the runner the input has reached `ts`, by its timestamp field
    /// ([`QueryRunner::order_fields`]): a sequence with a reorder window
    /// matches the candidates that fell out of the window (see
    /// [`RunConfig::reorder_window`]). Other runners have nothing to do.
    pub fn advance(&mut self, ts: Timestamp) {
        if let (State::Sequence(st), Body::Sequence(sp)) = (&mut self.state, &self.plan.body) {
            st.advance(sp, ts, &mut self.stats);
        }
    }

    /// How this runner reads an event's time and order.
    pub fn order_fields(&self) -> &OrderFields {
        &self.order
    }

    pub fn drain_hits(&mut self) -> Vec<Hit> {
        if !self.plan.pipes.is_empty() || self.config.size.is_some() {
            return Vec::new();
        }
        match &mut self.state {
            State::Event(st) if st.keep == Keep::All => st
                .matches
                .drain(..)
                .map(|(_, e)| Hit {
                    entries: vec![Entry::Event(e)],
                    join_keys: None,
                    aggregate: None,
                })
                .collect(),
            State::Sequence(st) => st.drain_hits(),
            _ => Vec::new(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Ends the stream: orders, matches, applies pipes and the size limit.
    pub fn finish(self) -> Output {
        let QueryRunner {
            plan,
            config,
            mut stats,
            state,
            ..
        } = self;
        let hits = match (state, &plan.body) {
            (State::Event(st), Body::Event(_)) => st.finish(),
            (State::Sequence(st), Body::Sequence(sp)) => st.finish(sp, &mut stats),
            (State::Sample(st), Body::Sample(sp)) => st.finish(sp, &config),
            _ => unreachable!("runner state always follows the plan body"),
        };
        let hits = pipes::apply(&plan.pipes, hits, config.size);
        Output { hits, stats }
    }
}

/// Runs `plan` over `events` in one go.
pub fn run<I>(plan: Arc<Plan>, config: &RunConfig, events: I) -> Output
where
    I: IntoIterator<Item = Arc<Event>>,
{
    let mut runner = QueryRunner::new(plan, config);
    for e in events {
        runner.push(&e);
    }
    runner.finish()
}

/// Which matches of an event query can still be returned, so a limited query
/// keeps O(limit) events rather than every match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keep {
    All,
    First(usize),
    Last(usize),
}

struct EventState {
    keep: Keep,
    matches: Vec<(Ordinal, Arc<Event>)>,
}

impl EventState {
    fn new(pipes: &[PipePlan], size: Option<usize>) -> Self {
        let keep = match pipes.first() {
            None => size.map_or(Keep::All, Keep::First),
            Some(PipePlan::Head(n)) => Keep::First(*n),
            Some(PipePlan::Tail(n)) => Keep::Last(*n),
            Some(_) => Keep::All,
        };
        EventState {
            keep,
            matches: Vec::new(),
        }
    }

    fn push(&mut self, ord: Ordinal, event: Arc<Event>, stats: &mut Stats) {
        stats.buffered += 1;
        self.matches.push((ord, event));
        let bound = match self.keep {
            Keep::All => return,
            Keep::First(n) | Keep::Last(n) => n,
        };
        // Trim in batches so the cost per event stays O(log n) amortized.
        if self.matches.len() > bound.saturating_mul(2).max(64) {
            self.trim(bound);
        }
    }

    fn trim(&mut self, bound: usize) {
        self.matches.sort_by(|a, b| a.0.cmp(&b.0));
        match self.keep {
            Keep::First(_) => self.matches.truncate(bound),
            Keep::Last(_) => {
                let drop = self.matches.len().saturating_sub(bound);
                self.matches.drain(..drop);
            }
            Keep::All => {}
        }
    }

    fn finish(mut self) -> Vec<Hit> {
        match self.keep {
            Keep::All => self.matches.sort_by(|a, b| a.0.cmp(&b.0)),
            Keep::First(n) | Keep::Last(n) => self.trim(n),
        }
        self.matches
            .into_iter()
            .map(|(_, e)| Hit {
                entries: vec![Entry::Event(e)],
                join_keys: None,
                aggregate: None,
            })
            .collect()
    }
}
