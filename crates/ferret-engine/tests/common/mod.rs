//! Helpers shared by the engine's integration tests: locating the shared
//! material, and parse → plan → run in one call.

#![allow(dead_code)]

use std::sync::Arc;

use ferret_engine::{Entry, Hit, Output, PlanOptions, RunConfig};
use ferret_event::{Event, Origin};
use serde_json::Value;

#[allow(unused_imports)] // not every test binary reads the shared folder
pub use ferret_testkit::shared_dir;

/// Events from JSON documents, in order, origins numbered from line 1.
pub fn events(docs: Vec<Value>) -> Vec<Arc<Event>> {
    docs.into_iter()
        .enumerate()
        .map(|(i, d)| {
            Arc::new(Event::new(
                d,
                Origin {
                    file: 0,
                    line: i as u64 + 1,
                },
            ))
        })
        .collect()
}

/// Parses, plans and runs `query`; panics with the error on failure.
pub fn run_query(
    query: &str,
    opts: &PlanOptions,
    config: &RunConfig,
    events: &[Arc<Event>],
) -> Output {
    try_run_query(query, opts, config, events).unwrap_or_else(|e| panic!("{e}\nquery: {query}"))
}

pub fn try_run_query(
    query: &str,
    opts: &PlanOptions,
    config: &RunConfig,
    events: &[Arc<Event>],
) -> Result<Output, String> {
    let ast = ferret_eql::parse(query).map_err(|d| format!("parse error: {d}"))?;
    let plan = ferret_engine::plan(&ast, opts).map_err(|e| format!("plan error: {e}"))?;
    Ok(ferret_engine::run(
        Arc::new(plan),
        config,
        events.iter().cloned(),
    ))
}

/// The value of `field` in each entry of each hit (`-1` for a missing stage,
/// `Value::Null` when absent), flattened.
pub fn ids(hits: &[Hit], field: &str) -> Vec<Value> {
    let path = ferret_event::FieldPath::dotted(field);
    hits.iter()
        .flat_map(|h| h.entries.iter())
        .map(|e| match e {
            Entry::Missing => Value::from(-1),
            Entry::Event(ev) => path.first(&ev.doc).cloned().unwrap_or(Value::Null),
        })
        .collect()
}

/// Per hit, the ids of its entries.
pub fn hit_ids(hits: &[Hit], field: &str) -> Vec<Vec<Value>> {
    hits.iter()
        .map(|h| ids(std::slice::from_ref(h), field))
        .collect()
}
