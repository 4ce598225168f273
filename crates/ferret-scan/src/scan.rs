//! One pass over the events for every compiled rule.
//!
//! Events are read in batches, a batch ahead of decoding on a thread of
//! their own; each batch is decoded in parallel (order kept), a batch ahead
//! of the rules, which run over the previous batch's events that can
//! concern them, in groups of rules spread over the thread pool, event by
//! event within a group (an event's fields stay in cache while the group
//! reads them). Once a batch's rules have run, keeping the records of its
//! held events and turning its hits into alerts run beside the routing of
//! the next batch. Each runner sees its events in input order whatever the
//! thread count, and alerts are sorted at the end, so the output is
//! byte-identical for any `--threads`.
//!
//! These shortcuts make a thousand rules cost far less than a thousand
//! passes; [`ScanOptions::reference`] turns all but the last off, and a
//! test checks that the alerts are byte-identical either way:
//!
//! - **Projection and field tables.** Events are decoded keeping only the
//!   fields some loaded rule reads ([`ferret_engine::Plan::field_paths`], the
//!   timestamp, tiebreaker and scoping fields), with
//!   [`ferret_event::Projection`], straight into a per-event field table:
//!   each field is resolved once per event, not once per rule. Alerts show
//!   the whole event, so the raw bytes of every event a runner keeps are
//!   kept beside it ([`crate::originals`]) and decoded in full only for the
//!   alerts.
//! - **Record screen.** When every rule names text its matches' records
//!   must hold (`"exec"` quoted, a category's name) and the first batch
//!   shows that most records hold none of it, records are searched for
//!   that text before decoding ([`crate::screen`]); the others are decoded
//!   only for their syntax and time and offered to no rule. With one rule
//!   or a few, nine records in ten go that way.
//! - **Dispatch.** A rule sees only events its scope admits (index patterns,
//!   behavior-rule OS list) *and* that one of its filters can match: the
//!   event has the filter's category and passes its guards, the one-field
//!   tests of its top-level `and` on fields such as `event.type`,
//!   `event.action` and `process.name` (the `dispatch` module). The rule list
//!   is computed once per distinct combination of those facts and cached,
//!   so the per-event cost is one hash lookup (of a key written while
//!   decoding), not one check per rule.
//! - **Verdicts.** The rules' one-field conditions on those fields
//!   (`host.os.type == "linux"`, `process.name in (…)`, anywhere in a
//!   condition) are numbered across all rules at compile time
//!   ([`ferret_engine::Verdicts`]) and worked out with the dispatch
//!   classes, once per distinct value; each event carries the results, and
//!   a rule reads a bit instead of testing the field (about half of all
//!   field tests on generated telemetry).
//! - **Value prefilter.** Of those, a rule sees only events that hold text
//!   one of its filters requires ([`ferret_engine::Plan::necessary`],
//!   [`crate::prefilter`]): one Aho-Corasick pass per field for all rules.
//!   Fields whose values the dispatch key holds are passed once per key,
//!   with the dispatch, the others once per event while decoding.
//!   About 13 of 1,081 rules are offered an average generated event.
//! - **Streaming sequences.** By default sequence rules match with a reorder
//!   window ([`DEFAULT_REORDER_WINDOW`], see
//!   [`ferret_engine::RunConfig::reorder_window`]) instead of keeping every
//!   candidate event until the end, so memory does not grow with the input;
//!   their later stages' keys are evaluated only while a partial sequence
//!   is live.
//!   After each batch every runner is told the newest time read
//!   ([`ferret_engine::QueryRunner::advance`]), so a rule that few events
//!   reach does not hold its last candidates until its next event.
//!   Input out of time order by more than the window loses the late events;
//!   they are counted per rule ([`ferret_engine::Stats::late_events`]) and
//!   the CLI reports them. `reorder_window: None` restores exact ordering of
//!   any input, at the cost of holding every sequence candidate in memory.
//! - **Sample stand-ins.** A sample holds its candidates to the end of input;
//!   it holds stand-ins without fields ([`ferret_engine::StandIn`]), their
//!   records kept aside by [`crate::originals`], which give their times.
//! - **Early, compact alerts.** Hits that are final are taken from the
//!   runners after every batch ([`ferret_engine::QueryRunner::drain_hits`])
//!   and kept as compact records, spilled to sorted temporary runs past a
//!   memory budget ([`crate::alerts`]). A record already in serde_json's
//!   form is its own encoding ([`ferret_event::canonical`]).

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use ferret_engine::{Hit, OrderFields, QueryRunner, StandIn, Stats};
use ferret_event::project::Fields;
use ferret_event::{
    decode_bytes, Event, FieldPath, Projection, RawBatch, RawItem, ReadStats, Reader, Skip,
    SkipSink, Timestamp, TimestampError, Value,
};
use ferret_rules::alert::{self, build_alert, missing_event, AlertMatch};
use rayon::prelude::*;
use serde_json::Map;

use crate::alerts::{AlertSink, Alerts};
use crate::compile::{Compiled, EventScope};
use crate::dispatch::{for_each_bit, Dispatch};
use crate::originals::Originals;
use crate::pool::Pool;
use crate::prefilter::{Candidates, Prefilter};
use crate::screen::{RecordScreen, ScreenScratch, ScreenSet};

/// The default reorder window of sequence rules in a scan: input may be out
/// of time order by this much without losing matches.
pub const DEFAULT_REORDER_WINDOW: Duration = Duration::from_secs(300);

#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Worker threads (0: all cores).
    pub threads: usize,
    /// Sequence rules: how far out of time order the input may be (see the
    /// module documentation). `None` keeps every candidate and sorts at the
    /// end: exact for any input order, memory growing with the input.
    pub reorder_window: Option<Duration>,
    /// The straightforward path, as a baseline for the optimized one: every
    /// event decoded in full and offered to every rule whose scope admits
    /// it, no projection, no dispatch, exact ordering (no reorder window,
    /// whatever `reorder_window` says).
    pub reference: bool,
    /// Bytes of alerts kept in memory before sorted runs go to a temporary
    /// file (see [`crate::alerts`]).
    pub alert_memory: usize,
    /// When records are screened by their text before decoding (see
    /// [`crate::screen`]).
    pub screen: ScreenUse,
}

/// When a scan screens records by their text ([`crate::screen`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScreenUse {
    /// When every rule can be screened and the first batch shows the
    /// screen rules out enough records to pay for its searches.
    #[default]
    Auto,
    /// Whenever every rule can be screened (for tests: the screen's
    /// verdicts must not change any alert, whatever it rules out).
    Always,
    /// Never.
    Off,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: 0,
            reorder_window: Some(DEFAULT_REORDER_WINDOW),
            reference: false,
            alert_memory: crate::alerts::DEFAULT_MEMORY_BUDGET,
            screen: ScreenUse::Auto,
        }
    }
}

/// One alert, compact until written: what its Kibana-shaped document
/// ([`Alert::doc`]) is built from, and what alerts are sorted by.
#[derive(Clone, Debug)]
pub struct Alert {
    /// Index of the rule in [`Compiled::rules`].
    pub rule: usize,
    /// Alert time (the last matched event's time).
    pub time: Timestamp,
    /// The first and last matched events' times.
    pub(crate) original_time: Option<Timestamp>,
    pub(crate) last_time: Option<Timestamp>,
    pub(crate) join_keys: Option<Vec<Value>>,
    /// Ties between alerts of one rule at one time are broken by content,
    /// never by input position, so shuffled input gives the same output:
    /// the times of all matched events, then the matched documents as a
    /// JSON array (`null` for a missing-event stage), which is also what the
    /// document is built from.
    pub(crate) tie: (Vec<Option<Timestamp>>, String),
    /// Where each matched document ends in the tie's array (each starts
    /// just after the `[` or `,` before it): the documents are found
    /// without scanning the array again.
    pub(crate) item_ends: Vec<usize>,
}

impl Alert {
    /// Roughly what the alert occupies in memory.
    pub(crate) fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Alert>()
            + self.tie.1.len()
            + self.tie.0.len() * 24
            + self.item_ends.len() * 8
            + 64
    }

    /// The alert document as one line of JSON: `serde_json::to_string` of
    /// [`Alert::doc`], written without decoding every matched event and
    /// encoding it again. The matched documents are already serde_json's
    /// encoding (the tie string), so `ferret.events` is that text, and the
    /// fields copied from the last event are copied from its text.
    pub fn to_json(&self, compiled: &Compiled) -> String {
        let mut out = String::new();
        self.write_json(compiled, &mut out);
        out
    }

    /// [`Alert::to_json`] appended to `out`: a writer of many alerts fills
    /// one buffer, not a string per alert that is then copied again.
    pub fn write_json(&self, compiled: &Compiled, out: &mut String) {
        let by_map = |out: &mut String| {
            out.push_str(&serde_json::to_string(&self.doc(compiled)).unwrap_or_default());
        };
        // Each matched document's text, not decoded: the tie is JSON this
        // scan wrote itself (see `alert_for`), so its items are only found,
        // not checked again.
        let Some(items) = self.items().or_else(|| alert::array_items(&self.tie.1)) else {
            return by_map(out);
        };
        let stamp = |t: Option<Timestamp>| t.map(Timestamp::to_rfc3339).unwrap_or_default();
        // The head in its three runs (see `build_alert_head`), the rule's
        // encoded once per rule (its threat and tags were a tenth of the
        // time spent writing alerts).
        let rule = &compiled.rules[self.rule];
        let rule_members = rule.alert_members.get_or_init(|| {
            let mut members = Map::new();
            alert::rule_members(&rule.rule.meta, &mut members);
            object_members(&members)
        });
        // The last event's members straight from its text, or where that
        // cannot be (see `write_match_members`) through a map.
        let original_time = stamp(self.original_time);
        let last = items.iter().rev().find(|r| **r != "null");
        // Sized up front (grown from empty, the line was copied a dozen
        // times): the head, the members copied from the last event (about
        // half again its text, with their dotted names) and the events.
        let start = out.len();
        out.reserve(
            128 + rule_members.len()
                + last.map_or(0, |r| r.len() + r.len() / 2)
                + self.tie.1.len()
                + 16 * items.len(),
        );
        out.push_str("{\"@timestamp\":");
        out.push_str(&serde_json::to_string(&stamp(self.last_time)).unwrap_or_default());
        if !rule_members.is_empty() {
            out.push(',');
            out.push_str(rule_members);
        }
        let before_matched = out.len();
        out.push(',');
        let written =
            last.and_then(|r| alert::write_match_members(&rule.rule.meta, r, &original_time, out));
        if written.is_none() {
            // What it may have written goes.
            out.truncate(before_matched);
            let last = match last.map(|r| serde_json::from_str::<Value>(r)) {
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => {
                    out.truncate(start);
                    return by_map(out);
                }
                None => None,
            };
            let mut members = Map::new();
            alert::match_members(&rule.rule.meta, last.as_ref(), &original_time, &mut members);
            let matched = object_members(&members);
            if !matched.is_empty() {
                out.push(',');
                out.push_str(&matched);
            }
        }
        out.push_str(",\"ferret.events\":[");
        let missing = serde_json::to_string(&missing_event()).unwrap_or_default();
        for (n, r) in items.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            match *r {
                "null" => out.push_str(&missing),
                doc => out.push_str(doc),
            }
        }
        out.push(']');
        if let Some(keys) = &self.join_keys {
            out.push_str(",\"ferret.join_keys\":");
            out.push_str(&serde_json::to_string(keys).unwrap_or_default());
        }
        out.push('}');
    }

    /// The matched documents' texts, by [`Alert::item_ends`]; `None` if
    /// those do not fit the array (only a damaged spill file could do that).
    pub(crate) fn items(&self) -> Option<Vec<&str>> {
        let docs = &self.tie.1;
        if Some(*self.item_ends.last()?) != docs.len().checked_sub(1) {
            return None;
        }
        let mut start = 1;
        let mut items = Vec::with_capacity(self.item_ends.len());
        for &end in &self.item_ends {
            // Each a value, followed by the separator before the next one
            // (or the array's end).
            let item = docs.get(start..end).filter(|i| !i.is_empty())?;
            if !matches!(docs.as_bytes().get(end), Some(b',' | b']')) {
                return None;
            }
            items.push(item);
            start = end + 1;
        }
        Some(items)
    }

    /// The alert document (see [`ferret_rules::alert`]).
    pub fn doc(&self, compiled: &Compiled) -> Map<String, Value> {
        let events: Vec<Value> = serde_json::from_str(&self.tie.1).unwrap_or_default();
        let events: Vec<Option<&Value>> = events
            .iter()
            .map(|e| Some(e).filter(|e| !e.is_null()))
            .collect();
        let stamp = |t: Option<Timestamp>| t.map(Timestamp::to_rfc3339).unwrap_or_default();
        build_alert(
            &compiled.rules[self.rule].rule.meta,
            &AlertMatch {
                events: &events,
                join_keys: self.join_keys.as_deref(),
                timestamp: &stamp(self.last_time),
                original_time: &stamp(self.original_time),
            },
        )
    }
}

/// Each rule's place in the order of rule names (then ids), which orders
/// alerts of the same time.
fn rule_ranks(compiled: &Compiled) -> Vec<u32> {
    let mut order: Vec<usize> = (0..compiled.rules.len()).collect();
    order.sort_by(|&a, &b| {
        let (ma, mb) = (&compiled.rules[a].rule.meta, &compiled.rules[b].rule.meta);
        (&ma.name, &ma.rule_id, a).cmp(&(&mb.name, &mb.rule_id, b))
    });
    let mut rank = vec![0u32; order.len()];
    for (r, i) in order.into_iter().enumerate() {
        rank[i] = r as u32;
    }
    rank
}

/// Rules run together over a batch, event by event, on one thread.
const RULE_GROUP: usize = 16;

/// One event in this many is timed for [`RuleStats::busy`].
const BUSY_SAMPLE: usize = 16;

/// Per rule during a scan: events offered and time spent.
#[derive(Default)]
struct Seen {
    events: u64,
    busy: Duration,
}

/// Where a scan's time went (wall clock, summed over batches).
#[derive(Clone, Debug, Default)]
pub struct Phases {
    /// Setting up: runners, the projection, dispatch and the prefilter.
    pub setup: Duration,
    /// Reading and splitting input into records. Reading and decoding run
    /// a batch ahead of the other phases, on another thread, so the phases
    /// add up to more than the scan's wall time.
    pub read: Duration,
    /// Decoding records, field tables, dispatch keys and prefilters (in
    /// parallel).
    pub decode: Duration,
    /// Handing events to the rules they concern.
    pub dispatch: Duration,
    /// Running the rules (in parallel).
    pub rules: Duration,
    /// Building and sorting alerts, and finishing the rules.
    pub alerts: Duration,
}

/// What one rule did.
#[derive(Clone, Debug, Default)]
pub struct RuleStats {
    /// Events offered to the rule (after scoping and, unless in reference
    /// mode, category dispatch).
    pub events_seen: u64,
    pub alerts: u64,
    pub engine: Stats,
    /// Time spent running the rule (on whichever thread), estimated from
    /// one event in 16 plus the final matching.
    pub busy: Duration,
}

#[derive(Debug, Default)]
pub struct ScanOutcome {
    /// Alerts ordered by time, then rule name, rule id and content.
    pub alerts: Alerts,
    /// Indexed like [`Compiled::rules`].
    pub rule_stats: Vec<RuleStats>,
    pub read: ReadStats,
    /// Where the time went.
    pub phases: Phases,
    /// Records no rule could match by their text, decoded only for their
    /// syntax and time ([`crate::screen`]).
    pub screened_out: u64,
}

/// Every path some rule of `compiled` reads, plus what scanning itself
/// reads (timestamps, tiebreakers, index and OS scoping fields).
fn projection_for(compiled: &Compiled) -> Projection {
    let mut paths: Vec<FieldPath> = [
        "data_stream.type",
        "data_stream.dataset",
        "data_stream.namespace",
        "host.os.type",
        "@timestamp",
    ]
    .iter()
    .map(|f| FieldPath::dotted(f))
    .collect();
    for r in &compiled.rules {
        paths.extend(r.plan.field_paths());
        paths.push(FieldPath::dotted(&r.config.timestamp_field));
        paths.extend(
            r.config
                .timestamp_fallback
                .as_deref()
                .map(FieldPath::dotted),
        );
        paths.extend(r.config.tiebreaker_field.as_deref().map(FieldPath::dotted));
    }
    Projection::new(&paths).with_document_paths([&FieldPath::dotted(crate::index::INDEX_KEY)])
}

/// Runs every rule of `compiled` over the events of `reader`. Unusable
/// records go to `skips`; `progress` is called after each batch with the
/// number of records read so far.
pub fn scan(
    compiled: &Compiled,
    mut reader: Reader,
    opts: &ScanOptions,
    skips: &mut dyn SkipSink,
    progress: &mut dyn FnMut(u64),
) -> ScanOutcome {
    let setup = Instant::now();
    let pool = Pool::new(opts.threads);
    let reorder_window = if opts.reference {
        None
    } else {
        opts.reorder_window
    };
    // Samples hold events to the end of input: on the optimized path they
    // hold stand-ins without fields, and the records go to
    // `originals` under the stand-ins' identity (see `Originals::keep_held`).
    let stand_ins: StandIns = Arc::default();
    let mut runners: Vec<(QueryRunner, Seen)> = compiled
        .rules
        .iter()
        .map(|r| {
            let mut config = r.config.clone();
            config.reorder_window = reorder_window;
            if !opts.reference {
                config.stand_in = Some(stand_in_for(&stand_ins));
            }
            (QueryRunner::new(r.plan.clone(), &config), Seen::default())
        })
        .collect();
    // The distinct ways the rules read an event's time, and each rule's:
    // after each batch every runner learns how far its time has come.
    let mut clocks: Vec<OrderFields> = Vec::new();
    let facts: Vec<RuleFacts> = runners
        .iter()
        .zip(&compiled.rules)
        .map(|((runner, _), rule)| {
            let o = runner.order_fields();
            let same = |c: &OrderFields| {
                c.timestamp == o.timestamp && c.timestamp_fallback == o.timestamp_fallback
            };
            let clock = clocks.iter().position(same).unwrap_or_else(|| {
                clocks.push(o.clone());
                clocks.len() - 1
            });
            RuleFacts {
                clock,
                verdict_ids: rule.verdict_ids.clone(),
            }
        })
        .collect();
    let mut newest: Vec<Option<Timestamp>> = vec![None; clocks.len()];
    let timed = TimeCheck::new(compiled);
    // The three indexes of the rules are independent; built one after
    // another they were a quarter of W4's start-up.
    let ((projection, mut dispatch), (prefilter, screens)) = pool.join(
        || {
            pool.join(
                || (!opts.reference).then(|| projection_for(compiled)),
                || Dispatch::new(compiled),
            )
        },
        || {
            if opts.reference {
                return (None, None);
            }
            let needs: Vec<_> = compiled
                .rules
                .par_iter()
                .map(|r| r.plan.necessary())
                .collect();
            // Record screens keep each quiet record's times per clock: no
            // screen for rules reading time in more ways than that.
            let screens = (clocks.len() <= MAX_SCREEN_CLOCKS && opts.screen != ScreenUse::Off)
                .then(|| ScreenSet::of(compiled.rules.iter().map(|r| r.plan.screen())))
                .flatten();
            (Some(Prefilter::new(&needs)), screens)
        },
    );
    // The prefilter's fields whose values dispatch keys hold are looked at
    // once per key, by the dispatch, not once per event (a dozen of an
    // event's two dozen needle fields).
    let mut prefilter = prefilter;
    if let Some(prefilter) = &mut prefilter {
        dispatch.set_keyed_prefilter(prefilter.split_off(dispatch.keys().exact_paths()));
    }
    // What a record no rule can match is decoded for: its times.
    let quiet = Projection::new(
        timed.fields.iter().chain(
            clocks
                .iter()
                .flat_map(|c| [Some(&c.timestamp), c.timestamp_fallback.as_ref()])
                .flatten(),
        ),
    );
    let mut originals = Originals::default();
    let mut screened_out = 0u64;
    // Per rule group, the batch's (event, rule) pairs (see `run_rules`).
    let mut group_pairs: Vec<Vec<(u32, u32)>> = Vec::new();
    let file_names = reader.file_names().to_vec();
    let mut raw = RawBatch::new();
    let mut read = 0u64;
    let mut phases = Phases {
        setup: setup.elapsed(),
        ..Phases::default()
    };
    // Alerts of hits already final (see `QueryRunner::drain_hits`): built
    // per rule in parallel, then collected in the sink.
    let mut batch_alerts: Vec<Vec<Alert>> = vec![Vec::new(); compiled.rules.len()];
    let mut alert_counts: Vec<u64> = vec![0; compiled.rules.len()];
    let mut sink = AlertSink::new(rule_ranks(compiled), opts.alert_memory);
    // Each rule's timestamp field, for alert times (paths are built once:
    // building one takes a process-wide lock).
    let time_fields: Vec<FieldPath> = compiled
        .rules
        .iter()
        .map(|r| FieldPath::dotted(&r.config.timestamp_field))
        .collect();
    if opts.reference {
        loop {
            let clock = Instant::now();
            if !reader.next_raw_batch(&mut raw) {
                break;
            }
            read += raw.len() as u64;
            phases.read += clock.elapsed();
            let check = |ev| timed.check(ev, &file_names);
            reference_batch(
                &pool,
                compiled,
                &mut reader,
                &raw,
                &mut runners,
                skips,
                &check,
            );
            progress(read);
        }
    } else {
        let projection = projection.as_ref().expect("set unless reference");
        let prefilter = prefilter.as_ref().expect("set unless reference");
        // Reading runs a batch ahead of decoding, on a thread of its own,
        // and decoding (in the pool, driven from another thread) a batch
        // ahead of the rules, which this thread hands out: the serial steps
        // (reading and splitting, dispatch, alerts) overlap the parallel
        // ones instead of leaving the pool idle. With reading on the
        // decoding thread, W1 (one rule) kept the pool idle a quarter of
        // its wall time.
        let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<(RawBatch, u64, Duration)>(1);
        let (decoded_tx, decoded_rx) = std::sync::mpsc::sync_channel::<Decoded>(1);
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<RawBatch>();
        let pool = &pool;
        let timed = &timed;
        let file_names = &file_names;
        let clocks = &clocks;
        let screens = &screens;
        let quiet = &quiet;
        let dispatch_keys = &dispatch.keys().clone();
        reader = std::thread::scope(|s| {
            let reading = s.spawn(move || {
                let mut read = 0u64;
                loop {
                    let clock = Instant::now();
                    let mut raw = spare_rx.try_recv().unwrap_or_default();
                    if !reader.next_raw_batch(&mut raw) {
                        break;
                    }
                    read += raw.len() as u64;
                    if raw_tx.send((raw, read, clock.elapsed())).is_err() {
                        break;
                    }
                }
                reader
            });
            let decoding = s.spawn(move || {
                // Decode results are counted here and added to the
                // reader's own counts at the end.
                let mut stats = ReadStats::default();
                let mut quiet_records = 0u64;
                // Set from the first batch, which orders its tests.
                let mut screen: Option<Option<RecordScreen>> = None;
                // Table columns in the order the first records hold their
                // fields, so most tables need no sorting.
                let mut ordered: Option<ferret_event::Projection> = None;
                for (raw, read, read_time) in raw_rx {
                    let clock = Instant::now();
                    let screen = &*screen.get_or_insert_with(|| {
                        screens.as_ref().and_then(|set| {
                            RecordScreen::for_batch(set, &raw, opts.screen == ScreenUse::Always)
                        })
                    });
                    let projection = &*ordered.get_or_insert_with(|| {
                        projection.in_order_of((0..raw.len().min(ORDER_SAMPLE)).filter_map(|i| {
                            match raw.get(i) {
                                RawItem::Record(r) => Some(r.bytes),
                                RawItem::Skip(_) => None,
                            }
                        }))
                    });
                    let events = pool.install(|| {
                        (0..raw.len())
                            .into_par_iter()
                            // The key is written into a buffer kept per
                            // job (growing a new one per event was 1.5% of
                            // W1's instructions) and copied out at its size.
                            .map_init(
                                || (Vec::new(), ScreenScratch::default()),
                                |(key, scratch), i| {
                                    if let (Some(screen), RawItem::Record(r)) = (screen, raw.get(i))
                                    {
                                        if !screen.may_concern(r.bytes, scratch) {
                                            let times = raw.decode_fields(i, quiet, |fields| {
                                                timed.check_fields(fields)?;
                                                let mut times = [None; MAX_SCREEN_CLOCKS];
                                                for (clock, t) in clocks.iter().zip(&mut times) {
                                                    *t = clock.timestamp_by(|p| {
                                                        fields.first_timestamp(p)
                                                    });
                                                }
                                                Ok(times)
                                            })?;
                                            return times.map(Decode::Quiet).map_err(
                                                |e: TimestampError| {
                                                    let file = r.file.clone();
                                                    e.into_skip(file, r.origin)
                                                },
                                            );
                                        }
                                    }
                                    let ev = raw.decode_projected(i, projection)?;
                                    timed.check(ev, file_names).map(|ev| {
                                        let candidates = prefilter.candidates(&ev);
                                        dispatch_keys.write(&ev, key);
                                        // Boxed here, in the pool, which
                                        // frees it too: allocated on the
                                        // routing thread, each event was a
                                        // cross-thread free and its memory
                                        // fresh pages.
                                        Decode::Ready(
                                            Arc::new(ev),
                                            candidates,
                                            Box::from(key.as_slice()),
                                        )
                                    })
                                },
                            )
                            .collect::<Vec<_>>()
                    });
                    let mut newest: Vec<Option<Timestamp>> = vec![None; clocks.len()];
                    for result in &events {
                        stats.record(result);
                        if let Ok(Decode::Quiet(_)) = result {
                            quiet_records += 1;
                        }
                        for (c, newest) in newest.iter_mut().enumerate() {
                            let t = match result {
                                Ok(Decode::Ready(ev, _, _)) => clocks[c].timestamp(ev),
                                Ok(Decode::Quiet(times)) => times[c],
                                Err(_) => None,
                            };
                            if let Some(t) = t {
                                *newest = Some(newest.map_or(t, |n| n.max(t)));
                            }
                        }
                    }
                    let batch = Decoded {
                        raw,
                        events,
                        newest,
                        read,
                        read_time,
                        decode_time: clock.elapsed(),
                    };
                    if decoded_tx.send(batch).is_err() {
                        break;
                    }
                }
                (stats, quiet_records)
            });
            // A batch's rules run on the pool; then its records are kept and
            // its hits made alerts while the next batch is routed, the two
            // side by side on the pool: one after the other on this thread
            // they left a core idle for a tenth of a scan.
            let mut batches = decoded_rx.into_iter();
            let mut routed = batches
                .next()
                .map(|batch| route_batch(compiled, pool, &mut dispatch, &mut newest, batch));
            while let Some(batch) = routed.take() {
                phases.read += batch.read_time;
                phases.decode += batch.decode_time;
                phases.dispatch += batch.dispatch_time;
                for skip in batch.skips {
                    skips.skip(skip);
                }
                let clock = Instant::now();
                run_rules(
                    pool,
                    &mut runners,
                    &batch.events,
                    &batch.rule_ids,
                    &batch.starts,
                    &mut group_pairs,
                    &newest,
                    &facts,
                );
                phases.rules += clock.elapsed();
                let next = batches.next();
                let mut raw = batch.raw;
                let events = batch.events;
                let (alerts_time, next_routed) = pool.join(
                    || {
                        let clock = Instant::now();
                        let made = std::mem::take(
                            &mut *stand_ins.lock().unwrap_or_else(|e| e.into_inner()),
                        );
                        originals.keep_held(&mut raw, &events, made);
                        // The reader fills this batch again (with a fresh
                        // buffer if its own was kept).
                        let _ = spare_tx.send(raw);
                        // Most events are held by no rule: the pool frees
                        // them between decoding jobs, where they were
                        // allocated (freeing them on this thread was 7% of
                        // W1's CPU, mostly mimalloc's cross-thread path).
                        pool.spawn(move || drop(events));
                        // Final hits become alerts now, so neither they nor
                        // their events are held to the end.
                        let originals = &originals;
                        let drain = |i: usize, runner: &mut QueryRunner, out: &mut Vec<Alert>| {
                            for hit in runner.drain_hits() {
                                out.extend(alert_for(i, &time_fields[i], &hit, originals));
                            }
                        };
                        if runners.len() <= RULE_GROUP {
                            for (i, ((runner, _), out)) in
                                runners.iter_mut().zip(batch_alerts.iter_mut()).enumerate()
                            {
                                drain(i, runner, out);
                            }
                        } else {
                            runners
                                .par_iter_mut()
                                .zip(batch_alerts.par_iter_mut())
                                .enumerate()
                                .for_each(|(i, ((runner, _), out))| drain(i, runner, out));
                        }
                        for (i, out) in batch_alerts.iter_mut().enumerate() {
                            alert_counts[i] += out.len() as u64;
                            sink.extend(out.drain(..));
                        }
                        clock.elapsed()
                    },
                    || {
                        next.map(|next| {
                            route_batch(compiled, pool, &mut dispatch, &mut newest, next)
                        })
                    },
                );
                phases.alerts += alerts_time;
                progress(batch.read);
                routed = next_routed;
            }
            let decoded = match decoding.join() {
                Ok((stats, quiet)) => {
                    screened_out = quiet;
                    stats
                }
                Err(panic) => std::panic::resume_unwind(panic),
            };
            let mut reader = match reading.join() {
                Ok(reader) => reader,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            reader.stats_mut().merge(&decoded);
            reader
        });
    }
    let clock = Instant::now();
    let finished: Vec<RuleStats> = pool.install(|| {
        runners
            .into_par_iter()
            .zip(time_fields.par_iter())
            .zip(batch_alerts.par_iter_mut())
            .zip(alert_counts.par_iter())
            .enumerate()
            .map(|(i, ((((runner, seen), time_field), out), drained))| {
                let clock = Instant::now();
                let output = runner.finish();
                for hit in &output.hits {
                    out.extend(alert_for(i, time_field, hit, &originals));
                }
                RuleStats {
                    events_seen: seen.events,
                    alerts: drained + out.len() as u64,
                    engine: output.stats,
                    busy: seen.busy + clock.elapsed(),
                }
            })
            .collect()
    });
    for out in &mut batch_alerts {
        sink.extend(out.drain(..));
    }
    let alerts = sink.finish();
    phases.alerts += clock.elapsed();
    ScanOutcome {
        screened_out,
        read: reader.stats().clone(),
        rule_stats: finished,
        alerts,
        phases,
    }
}

/// An object's members as serde_json writes them, without the braces
/// (empty for an empty object).
fn object_members(members: &Map<String, Value>) -> String {
    let text = serde_json::to_string(members).unwrap_or_default();
    text.get(1..text.len().saturating_sub(1))
        .unwrap_or_default()
        .to_string()
}

/// A record screen is used only for rules that read time in at most this
/// many ways (clocks), which each quiet record's times are kept for.
const MAX_SCREEN_CLOCKS: usize = 4;

/// What decoding made of a record: an event for the rules (with its
/// prefilter candidates and dispatch key,
/// [`crate::dispatch::DispatchKeys::write`]), or one no rule can match,
/// decoded only for what reading checks ([`RecordScreen`]), of which only
/// its times by clock are kept.
enum Decode {
    Ready(Arc<Event>, Candidates, Box<[u8]>),
    Quiet([Option<Timestamp>; MAX_SCREEN_CLOCKS]),
}

/// A batch read and decoded ahead of the rules.
struct Decoded {
    raw: RawBatch,
    events: Vec<Result<Decode, Skip>>,
    /// Per clock (way of reading time), the newest time in the batch.
    newest: Vec<Option<Timestamp>>,
    /// Records read so far, this batch included.
    read: u64,
    read_time: Duration,
    decode_time: Duration,
}

/// Records of the first batch whose field order numbers the table columns
/// (see [`ferret_event::Projection::in_order_of`]).
const ORDER_SAMPLE: usize = 512;

/// A decoded batch with each event's rules: what the rules of a batch
/// run on.
struct Routed {
    raw: RawBatch,
    /// Events and the batch entry each came from.
    events: Vec<(Arc<Event>, usize)>,
    /// The rules of event `n` are `rule_ids[starts[n]..starts[n + 1]]`,
    /// ascending.
    rule_ids: Vec<u32>,
    starts: Vec<usize>,
    /// The batch's records that could not become events, in order.
    skips: Vec<Skip>,
    read: u64,
    read_time: Duration,
    decode_time: Duration,
    dispatch_time: Duration,
}

/// How many records ahead [`route_batch`] asks for an event's lines.
const ROUTE_AHEAD: usize = 8;

/// Gives each event of `batch` its rules (its dispatch route, less the
/// rules the prefilter ruled out) and its verdicts, and moves `newest` on
/// to the batch's times.
fn route_batch(
    compiled: &Compiled,
    pool: &Pool,
    dispatch: &mut Dispatch,
    newest: &mut [Option<Timestamp>],
    batch: Decoded,
) -> Routed {
    let clock = Instant::now();
    for (newest, batch) in newest.iter_mut().zip(&batch.newest) {
        *newest = (*newest).max(*batch);
    }
    let mut events: Vec<(Arc<Event>, usize)> = Vec::with_capacity(batch.events.len());
    let mut rule_ids: Vec<u32> = Vec::new();
    let mut starts: Vec<usize> = Vec::with_capacity(batch.events.len() + 1);
    let mut skips = Vec::new();
    starts.push(0);
    let ready: Vec<(&Event, &[u8])> = batch
        .events
        .iter()
        .filter_map(|r| match r {
            Ok(Decode::Ready(ev, _, key)) => Some((&**ev, &key[..])),
            _ => None,
        })
        .collect();
    let known = dispatch.learn(compiled, pool, &ready);
    drop(ready);
    let mut known = known.into_iter();
    let mut results = batch.events.into_iter();
    let mut item = 0;
    while let Some(result) = results.next() {
        // The events were made on other threads: the lines this loop writes
        // (the reference counts and the verdicts) are asked for ahead.
        if let Some(Ok(Decode::Ready(ahead, _, _))) = results.as_slice().get(ROUTE_AHEAD) {
            Event::prefetch_counts(ahead);
            Event::prefetch(ahead);
        }
        match result {
            Ok(Decode::Ready(mut ev, candidates, key)) => {
                let route = match known.next().flatten() {
                    Some(route) => route,
                    None => dispatch.route(compiled, &ev, &key),
                };
                let words = route.rules.iter().zip(&*route.keyed);
                let both = words.zip(candidates.words());
                for_each_bit(both.map(|((r, k), c)| r & c | k), |r| rule_ids.push(r));
                starts.push(rule_ids.len());
                Arc::get_mut(&mut ev)
                    .expect("no other holder before the rules run")
                    .set_verdicts(route.verdicts);
                events.push((ev, item));
            }
            Ok(Decode::Quiet(_)) => {}
            Err(skip) => skips.push(skip),
        }
        item += 1;
    }
    Routed {
        raw: batch.raw,
        events,
        rule_ids,
        starts,
        skips,
        read: batch.read,
        read_time: batch.read_time,
        decode_time: batch.decode_time,
        dispatch_time: clock.elapsed(),
    }
}

/// A group of rules run together (see [`RULE_GROUP`]) and its index.
type RuleGroup<'a> = (usize, &'a mut [(QueryRunner, Seen)]);

/// What [`run_rules`] knows of a rule besides its runner.
struct RuleFacts {
    /// Its clock: an index into `newest`.
    clock: usize,
    /// Its conditions' verdict ids ([`crate::compile::ScanRule::verdict_ids`]).
    verdict_ids: std::ops::Range<u32>,
}

/// Offers each event of a batch to its rules (`rule_ids[starts[n]..
/// starts[n + 1]]` for event `n`), then tells every runner how far its
/// time has come (`newest` by clock, [`RuleFacts::clock`] by rule). `pairs`
/// is scratch.
///
/// Event by event within a group of rules: an event's fields stay in cache
/// while the group's rules read them (rule by rule over the whole batch
/// re-read every event from memory per rule).
#[allow(clippy::too_many_arguments)]
fn run_rules(
    pool: &Pool,
    runners: &mut [(QueryRunner, Seen)],
    events: &[(Arc<Event>, usize)],
    rule_ids: &[u32],
    starts: &[usize],
    pairs: &mut Vec<Vec<(u32, u32)>>,
    newest: &[Option<Timestamp>],
    facts: &[RuleFacts],
) {
    // Each group's (event, rule) pairs, in event order, from one pass over
    // the routes: each group looking through every event's rules for its
    // own was 3% of W2.
    pairs.resize_with(runners.len().div_ceil(RULE_GROUP).max(1), Vec::new);
    pairs.iter_mut().for_each(Vec::clear);
    for n in 0..events.len() {
        for &r in &rule_ids[starts[n]..starts[n + 1]] {
            pairs[r as usize / RULE_GROUP].push((n as u32, r));
        }
    }
    let run_group = |((g, group), pairs): (RuleGroup, &Vec<(u32, u32)>)| {
        let lo = g * RULE_GROUP;
        for (i, &(n, r)) in pairs.iter().enumerate() {
            // A group goes through the whole batch's events, which do not
            // stay in cache between groups: the event struct of a pair a
            // few ahead is asked for now (its first read was a fifth of
            // `Pred::eval`'s time and most of `category_matches`'; W2 -2.5%
            // wall and CPU side by side).
            if let Some(&(ahead, _)) = pairs.get(i + 16) {
                Event::prefetch(&events[ahead as usize].0);
            }
            // And the lines its rule reads first: its verdict words (a
            // rule's ids are together, but all rules' span a dozen lines)
            // and the field table's index and cells.
            if let Some(&(ahead, rule)) = pairs.get(i + 8) {
                events[ahead as usize]
                    .0
                    .prefetch_tables(&facts[rule as usize].verdict_ids);
            }
            let (runner, seen) = &mut group[r as usize - lo];
            let ev = &events[n as usize].0;
            seen.events += 1;
            // Every 16th event is timed, for the per-rule estimate (a
            // clock read per push costs too much).
            let timed = (n as usize).is_multiple_of(BUSY_SAMPLE);
            if timed {
                let clock = Instant::now();
                runner.push(ev);
                seen.busy += clock.elapsed() * BUSY_SAMPLE as u32;
            } else {
                runner.push(ev);
            }
        }
        for (i, (runner, _)) in group.iter_mut().enumerate() {
            if let Some(t) = newest[facts[lo + i].clock] {
                runner.advance(t);
            }
        }
    };
    if runners.len() <= RULE_GROUP {
        // One group: this thread runs it rather than queue behind the
        // decoding of the next batch in the pool.
        run_group(((0, runners), &pairs[0]));
    } else {
        pool.install(|| {
            runners
                .par_chunks_mut(RULE_GROUP)
                .enumerate()
                .zip(pairs.par_iter())
                .for_each(run_group)
        });
    }
}

/// One batch the straightforward way (see [`ScanOptions::reference`]).
fn reference_batch(
    pool: &Pool,
    compiled: &Compiled,
    reader: &mut Reader,
    raw: &RawBatch,
    runners: &mut [(QueryRunner, Seen)],
    skips: &mut dyn SkipSink,
    check: &(dyn Fn(Event) -> Result<Event, Skip> + Sync),
) {
    let decoded: Vec<Result<Event, _>> = pool.install(|| {
        (0..raw.len())
            .into_par_iter()
            .map(|i| raw.decode(i).and_then(check))
            .collect()
    });
    let mut events = Vec::with_capacity(decoded.len());
    for result in decoded {
        reader.stats_mut().record(&result);
        match result {
            Ok(ev) => {
                let scope = EventScope::of(&ev);
                events.push((Arc::new(ev), scope));
            }
            Err(skip) => skips.skip(skip),
        }
    }
    pool.install(|| {
        runners
            .par_iter_mut()
            .zip(compiled.rules.par_iter())
            .for_each(|((runner, seen), rule)| {
                for (ev, scope) in &events {
                    if rule.scope.admits(scope) {
                        seen.events += 1;
                        runner.push(ev);
                    }
                }
            })
    });
}

/// Which events have a usable time. Every rule but a sample orders its
/// events by time, reading its timestamp field and falling back to
/// `@timestamp`; an event none of those fields gives a time to is reported
/// at its line (`missing-timestamp` / `bad-timestamp`) and skipped, like
/// any other unusable record.
struct TimeCheck {
    /// `@timestamp` first, then the rules' other timestamp fields; empty
    /// when no loaded rule needs a time (only samples).
    fields: Vec<FieldPath>,
}

impl TimeCheck {
    fn new(compiled: &Compiled) -> TimeCheck {
        let mut names: Vec<&str> = Vec::new();
        let timed = compiled
            .rules
            .iter()
            .filter(|r| !matches!(r.plan.body, ferret_engine::plan::Body::Sample(_)));
        for r in timed {
            if names.is_empty() {
                names.push("@timestamp");
            }
            if !names.contains(&r.config.timestamp_field.as_str()) {
                names.push(&r.config.timestamp_field);
            }
        }
        TimeCheck {
            fields: names.into_iter().map(FieldPath::dotted).collect(),
        }
    }

    fn check(&self, ev: Event, file_names: &[Arc<str>]) -> Result<Event, Skip> {
        match self.check_by(|f| ev.timestamp(f)) {
            Ok(()) => Ok(ev),
            Err(err) => {
                let file = file_names[ev.origin.file as usize].clone();
                Err(err.into_skip(file, ev.origin))
            }
        }
    }

    /// [`TimeCheck::check`] of a record's fields.
    fn check_fields(&self, fields: &Fields<'_>) -> Result<(), TimestampError> {
        self.check_by(|f| fields.timestamp(f))
    }

    /// Whether one of the fields holds a time, as `timestamp` reads them;
    /// else the first field's error.
    fn check_by(
        &self,
        timestamp: impl Fn(&FieldPath) -> Result<Timestamp, TimestampError>,
    ) -> Result<(), TimestampError> {
        let Some(first) = self.fields.first() else {
            return Ok(());
        };
        let err = match timestamp(first) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if self.fields[1..].iter().any(|f| timestamp(f).is_ok()) {
            return Ok(());
        }
        Err(err)
    }
}

/// The alert for one hit; `None` for a hit without events (a `count` pipe).
fn alert_for(
    index: usize,
    time_field: &FieldPath,
    hit: &Hit,
    originals: &Originals,
) -> Option<Alert> {
    let entries = &hit.entries;
    // The matched documents as one JSON array, as serde_json writes it:
    // each event's full document (its record decoded, or the event itself
    // when no record was kept), `null` for a missing stage. A record that
    // is already in serde_json's form is its own encoding (see
    // `canonical_text`): decoding and re-encoding it was most of an alert.
    // Records are a kilobyte or two: grown from empty, the array was
    // copied a dozen times. (Alerts are held until the end, so the room
    // left is given back below.)
    let mut docs = String::with_capacity(2 + entries.len() * 2048);
    docs.push('[');
    let mut item_ends = Vec::with_capacity(entries.len());
    for (n, entry) in entries.iter().enumerate() {
        if n > 0 {
            docs.push(',');
        }
        match entry.event() {
            None => docs.push_str("null"),
            Some(ev) => {
                let written = originals.with_canonical(ev, |record| match record {
                    Ok(text) => {
                        docs.push_str(text);
                        true
                    }
                    Err(record) => decode_bytes(record)
                        .ok()
                        .and_then(|doc| serde_json::to_string(&doc).ok())
                        .map(|text| docs.push_str(&text))
                        .is_some(),
                });
                if written != Some(true) {
                    docs.push_str(&serde_json::to_string(&ev.doc).unwrap_or_default());
                }
            }
        }
        item_ends.push(docs.len());
    }
    docs.push(']');
    docs.shrink_to_fit();
    // A stand-in holds no fields (see `stand_in_for`): its time is its
    // record's.
    let time_of = |ev: &Arc<Event>| {
        if is_stand_in(ev) {
            let doc = originals.full_doc(ev)?;
            event_time(time_field, &Event::new(doc, ev.origin))
        } else {
            event_time(time_field, ev)
        }
    };
    // Each event's time read once: the first and last events' are among
    // them.
    let times: Vec<Option<Timestamp>> = entries
        .iter()
        .map(|e| e.event().and_then(&time_of))
        .collect();
    let first = entries.iter().position(|e| e.event().is_some())?;
    let last = entries.iter().rposition(|e| e.event().is_some())?;
    let (original_time, last_time) = (times[first], times[last]);
    Some(Alert {
        rule: index,
        time: last_time.unwrap_or_default(),
        original_time,
        last_time,
        join_keys: hit
            .join_keys
            .as_ref()
            .map(|ks| ks.iter().map(|k| k.to_json()).collect()),
        tie: (times, docs),
        item_ends,
    })
}

/// Stand-ins made during a batch, each with the event it stands for, until
/// `Originals::keep_held` keeps the event's record for the stand-in.
type StandIns = Arc<std::sync::Mutex<Vec<(Weak<Event>, Arc<Event>)>>>;

/// The stand-in maker of the rules: a sample holds its candidates to the end
/// of input, and all it needs of them is their identity, so a stand-in is
/// an event with no fields (its record is kept aside and gives its time;
/// see [`alert_for`]). Holding the events' times in small documents, a
/// sample's memory grew by twice as much per candidate.
fn stand_in_for(made: &StandIns) -> StandIn {
    let made = made.clone();
    StandIn::new(move |ev: &Arc<Event>| {
        let stand_in = Arc::new(Event::new(Value::Null, ev.origin));
        made.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((Arc::downgrade(&stand_in), ev.clone()));
        stand_in
    })
}

/// Whether `ev` is a stand-in of [`stand_in_for`]: every decoded event has
/// an object for its document.
fn is_stand_in(ev: &Event) -> bool {
    ev.doc.is_null() && !ev.has_table()
}

/// An event's time for a rule: its timestamp field, falling back to
/// `@timestamp` when the event lacks an overriding field (as Kibana does).
fn event_time(time_field: &FieldPath, ev: &Event) -> Option<Timestamp> {
    static DEFAULT: OnceLock<FieldPath> = OnceLock::new();
    ev.timestamp(time_field)
        .or_else(|_| ev.timestamp(DEFAULT.get_or_init(|| FieldPath::dotted("@timestamp"))))
        .ok()
}
