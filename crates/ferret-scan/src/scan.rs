//! One pass over the events for every compiled rule.
//!
//! Events are read in batches; each batch is decoded in parallel (order
//! kept), then every rule's runner receives the batch's events that its
//! scope admits, rules spread over the thread pool. Each runner sees its
//! events in input order whatever the thread count, and alerts are sorted at
//! the end, so the output is byte-identical for any `--threads`.

use std::sync::Arc;

use ferret_engine::{Entry, QueryRunner, Stats};
use ferret_event::{
    event_timestamp, Event, FieldPath, RawBatch, ReadStats, Reader, SkipSink, Timestamp, Value,
};
use ferret_rules::alert::{build_alert, AlertMatch};
use rayon::prelude::*;
use serde_json::Map;

use crate::compile::{Compiled, EventScope, ScanRule};

#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Worker threads (0: all cores).
    pub threads: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { threads: 0 }
    }
}

/// One alert: the Kibana-shaped document and what it is sorted by.
#[derive(Clone, Debug)]
pub struct Alert {
    pub doc: Map<String, Value>,
    /// Index of the rule in [`Compiled::rules`].
    pub rule: usize,
    /// Alert time (the last matched event's time).
    pub time: Timestamp,
    /// Origin of the first matched event, for a stable order.
    first: (u32, u64),
}

/// What one rule did.
#[derive(Clone, Debug, Default)]
pub struct RuleStats {
    /// Events the rule's scope admitted.
    pub events_seen: u64,
    pub alerts: u64,
    pub engine: Stats,
}

#[derive(Debug, Default)]
pub struct ScanOutcome {
    /// Alerts ordered by time, then rule name, rule id and first event.
    pub alerts: Vec<Alert>,
    /// Indexed like [`Compiled::rules`].
    pub rule_stats: Vec<RuleStats>,
    pub read: ReadStats,
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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .expect("building a thread pool only fails on zero-sized stacks");
    let mut runners: Vec<(QueryRunner, u64)> = compiled
        .rules
        .iter()
        .map(|r| (QueryRunner::new(r.plan.clone(), &r.config), 0))
        .collect();
    let mut raw = RawBatch::new();
    let mut read = 0u64;
    while reader.next_raw_batch(&mut raw) {
        let decoded: Vec<Result<Event, _>> =
            pool.install(|| (0..raw.len()).into_par_iter().map(|i| raw.decode(i)).collect());
        read += decoded.len() as u64;
        let mut events = Vec::with_capacity(decoded.len());
        for result in decoded {
            reader.stats_mut().record(&result);
            match result {
                Ok(ev) => {
                    let scope = EventScope::of(&ev.doc);
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
                            *seen += 1;
                            runner.push(ev);
                        }
                    }
                })
        });
        progress(read);
    }
    let finished: Vec<(Vec<Alert>, RuleStats)> = pool.install(|| {
        runners
            .into_par_iter()
            .zip(compiled.rules.par_iter())
            .enumerate()
            .map(|(i, ((runner, seen), rule))| {
                let output = runner.finish();
                let alerts: Vec<Alert> = output
                    .hits
                    .iter()
                    .filter_map(|hit| alert_for(i, rule, &hit.entries, hit.join_keys.as_deref()))
                    .collect();
                let stats = RuleStats {
                    events_seen: seen,
                    alerts: alerts.len() as u64,
                    engine: output.stats,
                };
                (alerts, stats)
            })
            .collect()
    });
    let mut outcome = ScanOutcome {
        read: reader.stats().clone(),
        ..ScanOutcome::default()
    };
    for (alerts, stats) in finished {
        outcome.alerts.extend(alerts);
        outcome.rule_stats.push(stats);
    }
    outcome.alerts.sort_by(|a, b| {
        let ra = &compiled.rules[a.rule].rule.meta;
        let rb = &compiled.rules[b.rule].rule.meta;
        (a.time, &ra.name, &ra.rule_id, a.first).cmp(&(b.time, &rb.name, &rb.rule_id, b.first))
    });
    outcome
}

/// The alert for one hit; `None` for a hit without events (a `count` pipe).
fn alert_for(
    index: usize,
    rule: &ScanRule,
    entries: &[Entry],
    join_keys: Option<&[ferret_engine::KeyValue]>,
) -> Option<Alert> {
    let events: Vec<Option<&Value>> = entries
        .iter()
        .map(|e| e.event().map(|ev| &ev.doc))
        .collect();
    let first = entries.iter().find_map(Entry::event)?;
    let last = entries.iter().rev().find_map(Entry::event)?;
    let time_of = |ev: &Event| event_time(rule, ev);
    let (t_first, t_last) = (time_of(first), time_of(last));
    let keys: Option<Vec<Value>> = join_keys.map(|ks| ks.iter().map(|k| k.to_json()).collect());
    let stamp = |t: Option<Timestamp>| t.map(Timestamp::to_rfc3339).unwrap_or_default();
    let doc = build_alert(
        &rule.rule.meta,
        &AlertMatch {
            events: &events,
            join_keys: keys.as_deref(),
            timestamp: &stamp(t_last),
            original_time: &stamp(t_first),
        },
    );
    Some(Alert {
        doc,
        rule: index,
        time: t_last.unwrap_or_default(),
        first: (first.origin.file, first.origin.line),
    })
}

/// An event's time for this rule: its timestamp field, falling back to
/// `@timestamp` when the event lacks an overriding field (as Kibana does).
fn event_time(rule: &ScanRule, ev: &Event) -> Option<Timestamp> {
    let path = FieldPath::dotted(&rule.config.timestamp_field);
    event_timestamp(&ev.doc, &path)
        .or_else(|_| event_timestamp(&ev.doc, &FieldPath::dotted("@timestamp")))
        .ok()
}
