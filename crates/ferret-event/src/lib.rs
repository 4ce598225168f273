//! The event model of ferret: an event is a JSON document read from a file
//! or stream, plus where it came from. This crate reads events (NDJSON, JSON
//! arrays, gzip, stdin), resolves field paths through nested objects and flat
//! dotted keys alike, and parses timestamps. It knows nothing about EQL.
//!
//! - [`read`]: [`Reader`] streams events from files and stdin in batches of
//!   raw records ([`RawBatch`]) that decode independently (so a thread pool
//!   can decode them in order); bad input becomes a [`Skip`] with a
//!   [`SkipReason`], counted in [`ReadStats`] and printed by [`SkipReporter`].
//! - [`category`]: ECS event categories as bits ([`Event::category_bits`]).
//! - [`path`]: [`FieldPath`] resolution (nested and flat dotted keys, arrays).
//! - [`project`]: [`Projection`] decodes only the fields the rules read,
//!   into a compact [`FieldTable`] per event.
//! - [`value`]: [`FieldValue`], a field's value as readers see it, borrowed
//!   from the event.
//! - [`time`]: [`Timestamp`] parsing as Elasticsearch's default date format
//!   does, and [`event_timestamp`], the per-query timestamp check.

pub mod canonical;
pub mod category;
#[cfg(test)]
mod json_texts;
pub mod path;
pub mod project;
pub mod read;
pub mod table;
pub mod time;
pub mod value;

use std::sync::{Arc, OnceLock};

pub use path::{FieldPath, Segment};
pub use project::Projection;
pub use read::{
    decode, decode_bytes, read_all, DecodeError, Input, Limits, RawBatch, RawItem, RawRecord,
    ReadStats, Reader, Skip, SkipReason, SkipReporter, SkipSink,
};
pub use serde_json::Value;
pub use table::FieldTable;
pub use time::{
    event_timestamp, parse_iso8601, parse_timestamp, parse_timestamp_str, parse_timestamp_value,
    Timestamp, TimestampError,
};
pub use value::{FieldNumber, FieldValue};

/// Where an event came from, for diagnostics and deterministic ordering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// Index of the input file in the order the inputs were given.
    pub file: u32,
    /// 1-based line number (for a JSON array file: the line the element starts on).
    pub line: u64,
}

/// One event: the parsed document and its origin, and for a projected
/// event its field table.
#[derive(Clone, Debug)]
pub struct Event {
    /// The document as decoded. For an event with a field table (see
    /// [`Projection::decode`]) it holds only what the table does not: read
    /// fields with [`Event::for_each`] and its siblings, which see both.
    pub doc: Value,
    pub origin: Origin,
    /// Values of the projected paths, resolved once (see [`table`]).
    table: Option<FieldTable>,
    /// The first path [`Event::first_timestamp`] was asked for, by id, and
    /// its answer: every rule orders by the same field, usually.
    first_ts: OnceLock<(u32, Option<Timestamp>)>,
    /// The first path [`Event::category_bits`] was asked for, by id, and
    /// its answer.
    categories: OnceLock<(u32, u64)>,
    /// Results of conditions worked out for many events at once (see
    /// [`Event::set_verdicts`]).
    verdicts: Option<Arc<[u64]>>,
}

impl Event {
    /// Asks for the lines of a shared event's struct (its table's and
    /// verdicts' pointers, its cached category and time) to be loaded ahead
    /// of rules reading them. A hint: no effect where there is no prefetch.
    #[inline(always)]
    pub fn prefetch(this: &Arc<Event>) {
        let p = Arc::as_ptr(this).cast::<u8>();
        for line in 0..3 {
            prefetch_line(p.wrapping_add(line * 64));
        }
    }

    /// Asks for the lines a rule reads first from an event's tables: the
    /// verdict words holding the rule's verdicts `ids` (see
    /// [`Event::set_verdicts`]) and the field table's index and cells. The
    /// event's struct is read for their addresses, so it should have been
    /// asked for with [`Event::prefetch`] a while before. A hint, like that
    /// one.
    #[inline(always)]
    pub fn prefetch_tables(&self, ids: &std::ops::Range<u32>) {
        if let Some(verdicts) = self.verdicts.as_deref().filter(|_| !ids.is_empty()) {
            // The lines of its first and last word: a rule's verdicts are a
            // few dozen ids at most, on two lines at most.
            for id in [ids.start, ids.end - 1] {
                if let Some(word) = verdicts.get(id as usize / 64) {
                    prefetch_line(std::ptr::from_ref(word).cast::<u8>());
                }
            }
        }
        if let Some(table) = &self.table {
            table.prefetch();
        }
    }

    /// Asks for the line of a shared event's reference counts (just before
    /// the struct) to be loaded ahead of a clone or drop: a reference held
    /// for a while is dropped long after the event left the cache.
    #[inline(always)]
    pub fn prefetch_counts(this: &Arc<Event>) {
        let p = Arc::as_ptr(this).cast::<u8>();
        prefetch_line(p.wrapping_sub(2 * std::mem::size_of::<usize>()));
    }

    pub fn new(doc: Value, origin: Origin) -> Self {
        Event {
            doc,
            origin,
            table: None,
            first_ts: OnceLock::new(),
            categories: OnceLock::new(),
            verdicts: None,
        }
    }

    pub(crate) fn set_table(&mut self, table: FieldTable) {
        self.table = Some(table);
    }

    /// Whether resolution reads a field table (for tests and diagnostics).
    pub fn has_table(&self) -> bool {
        self.table.is_some()
    }

    /// Calls `f` with every value at `path`, arrays flattened (see [`path`]).
    #[inline]
    pub fn for_each<'a>(&'a self, path: &FieldPath, f: &mut dyn FnMut(FieldValue<'a>)) {
        if let Some(table) = &self.table {
            if table.for_each(path.id(), f) {
                return;
            }
        }
        path.for_each(&self.doc, &mut |v| f(FieldValue::from_json(v)))
    }

    /// Attaches results of conditions on this event's fields, worked out
    /// elsewhere (once for many events with the same values): bit `i` is
    /// verdict `i` of the one numbering of conditions the caller evaluates
    /// this event with (`ferret_engine::Verdicts`).
    pub fn set_verdicts(&mut self, verdicts: Arc<[u64]>) {
        self.verdicts = Some(verdicts);
    }

    /// Verdict `id` (see [`Event::set_verdicts`]), if the event has verdicts.
    #[inline]
    pub fn verdict(&self, id: u32) -> Option<bool> {
        let word = self.verdicts.as_ref()?.get(id as usize / 64)?;
        Some(word >> (id % 64) & 1 != 0)
    }

    /// The values at `path` as [`Event::for_each`] gives them, when the
    /// event's field table covers the path (else `None`: use `for_each`).
    /// The fast way to test a projected field: no callback per value, and
    /// the caller may stop at the first that passes.
    #[inline]
    pub fn table_values(&self, path: &FieldPath) -> Option<impl Iterator<Item = FieldValue<'_>>> {
        self.table.as_ref()?.values(path.id())
    }

    /// The event's field table, if it was decoded into one.
    pub fn table(&self) -> Option<&FieldTable> {
        self.table.as_ref()
    }

    /// The first value at `path`, if any (arrays flattened).
    pub fn first<'a>(&'a self, path: &FieldPath) -> Option<FieldValue<'a>> {
        // From the field table when it has the path: no callback per value,
        // and no visit of the values after the first.
        if let Some(mut values) = self.table_values(path) {
            return values.next();
        }
        let mut out = None;
        self.for_each(path, &mut |v| {
            if out.is_none() {
                out = Some(v)
            }
        });
        out
    }

    /// The first non-null value at `path` read as a time
    /// ([`parse_timestamp`]), as ordering reads it; remembered for the first
    /// path asked. Nulls are skipped as Elasticsearch skips them (they are
    /// not indexed), and as [`Event::timestamp`] does, so an event that
    /// check accepts is ordered by the same time.
    pub fn first_timestamp(&self, path: &FieldPath) -> Option<Timestamp> {
        let compute = || time::first_timestamp_of(|f| self.for_each(path, f));
        let (id, ts) = self.first_ts.get_or_init(|| (path.id(), compute()));
        if *id == path.id() {
            *ts
        } else {
            compute()
        }
    }

    /// The event's time at `path` (see [`event_timestamp`]).
    pub fn timestamp(&self, path: &FieldPath) -> Result<Timestamp, TimestampError> {
        let ts = time::timestamp_of(path, |f| self.for_each(path, f));
        // One value, parsed: what `first_timestamp` gives for the path too,
        // so checking an event's time also answers its first reading.
        if let Ok(t) = ts {
            self.first_ts.get_or_init(|| (path.id(), Some(t)));
        }
        ts
    }

    /// The ECS categories ([`category::ECS_CATEGORIES`]) among the string
    /// values at `path`, as bits ([`category::category_bit`]); remembered
    /// for the first path asked, since every rule reads the same category
    /// field, usually.
    pub fn category_bits(&self, path: &FieldPath) -> u64 {
        let compute = || {
            let mut bits = 0;
            self.for_each(path, &mut |v| {
                if let FieldValue::Str(s) = v {
                    bits |= category::category_bit(s).unwrap_or(0);
                }
            });
            bits
        };
        let (id, bits) = self.categories.get_or_init(|| (path.id(), compute()));
        if *id == path.id() {
            *bits
        } else {
            compute()
        }
    }

    /// The values at `path`, arrays flattened.
    pub fn values<'a>(&'a self, path: &FieldPath) -> Vec<FieldValue<'a>> {
        let mut out = Vec::new();
        self.for_each(path, &mut |v| out.push(v));
        out
    }
}

/// Asks for the first cache lines of `bytes` (up to `lines` of them) to
/// be loaded ahead of a read, as [`Event::prefetch`] does for an event.
#[inline(always)]
pub fn prefetch_bytes(bytes: &[u8], lines: usize) {
    prefetch_range(bytes.as_ptr(), bytes.len(), lines);
}

/// [`prefetch_bytes`] of the `len` bytes at `start`, of any type.
#[inline(always)]
pub(crate) fn prefetch_range(start: *const u8, len: usize, lines: usize) {
    for offset in (0..len.min(lines * 64)).step_by(64) {
        prefetch_line(start.wrapping_add(offset));
    }
}

/// A read prefetch of the cache line holding `p`.
#[inline(always)]
fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86-64; a prefetch reads nothing and cannot
    // fault, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
