//! The event model of ferret: an event is a JSON document read from a file
//! or stream, plus where it came from. This crate reads events (NDJSON, JSON
//! arrays, gzip, stdin), resolves field paths through nested objects and flat
//! dotted keys alike, and parses timestamps. It knows nothing about EQL.
//!
//! - [`read`]: [`Reader`] streams events from files and stdin in batches of
//!   raw records ([`RawBatch`]) that decode independently (so a thread pool
//!   can decode them in order); bad input becomes a [`Skip`] with a
//!   [`SkipReason`], counted in [`ReadStats`] and printed by [`SkipReporter`].
//! - [`path`]: [`FieldPath`] resolution (nested and flat dotted keys, arrays).
//! - [`project`]: [`Projection`] decodes only the fields the rules read.
//! - [`time`]: [`Timestamp`] parsing as Elasticsearch's default date format
//!   does, and [`event_timestamp`], the per-query timestamp check.

pub mod path;
pub mod project;
pub mod read;
pub mod time;

pub use path::{FieldPath, Segment};
pub use project::Projection;
pub use read::{
    decode, decode_bytes, read_all, DecodeError, Input, Limits, RawBatch, RawItem, RawRecord,
    ReadStats, Reader, Skip, SkipReason, SkipReporter, SkipSink,
};
pub use serde_json::Value;
pub use time::{
    event_timestamp, parse_iso8601, parse_timestamp, parse_timestamp_str, parse_timestamp_value,
    Timestamp, TimestampError,
};

/// Where an event came from, for diagnostics and deterministic ordering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// Index of the input file in the order the inputs were given.
    pub file: u32,
    /// 1-based line number (for a JSON array file: the line the element starts on).
    pub line: u64,
}

/// One event: the parsed document and its origin.
#[derive(Clone, Debug)]
pub struct Event {
    pub doc: Value,
    pub origin: Origin,
}

impl Event {
    pub fn new(doc: Value, origin: Origin) -> Self {
        Event { doc, origin }
    }

    /// Calls `f` with every value at `path`, arrays flattened (see [`path`]).
    pub fn for_each<'a>(&'a self, path: &FieldPath, f: &mut dyn FnMut(&'a Value)) {
        path.for_each(&self.doc, f)
    }

    /// The values at `path`, arrays flattened.
    pub fn values<'a>(&'a self, path: &FieldPath) -> Vec<&'a Value> {
        let mut out = Vec::new();
        path.for_each(&self.doc, &mut |v| out.push(v));
        out
    }
}
