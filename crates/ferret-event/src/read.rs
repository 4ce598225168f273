//! Reading events from files and stdin.
//!
//! Inputs are NDJSON (one JSON object per line) or a JSON array file (as
//! Elasticsearch test data and many exports are: possibly pretty-printed
//! across many lines, possibly with `//` comment lines). The format is
//! detected from the first byte that is not whitespace and not part of a `//`
//! comment: `[` means a JSON array, anything else NDJSON. Gzip input (one or
//! many members) is detected from its magic bytes, whatever its name; a file
//! named `*.gz` that is not gzip is reported. `-` is stdin.
//!
//! Reading is streaming in both formats: memory is bounded by the batch size
//! plus the largest single record (capped by [`Limits::max_record_bytes`]),
//! never by the file size. A JSON array is split into its elements by a small
//! byte scanner (strings, escapes, bracket depth) without building the array.
//!
//! The reader works in two steps so the engine can parallelize the costly one:
//! [`Reader::next_raw_batch`] fills a [`RawBatch`] with the raw bytes of each
//! record and its [`Origin`] (plus, in place, any problem found while
//! reading, such as an over-long line or a corrupt gzip stream), and
//! [`RawBatch::decode`] turns one entry into an [`Event`] or a [`Skip`].
//! Entries are independent, so a batch can be decoded on a thread pool and
//! the results kept in order. [`Reader::next_batch`] does both steps on the
//! calling thread.
//!
//! Bad input never panics and never stops the run: every problem becomes a
//! [`Skip`] with the input name, line and a [`SkipReason`], delivered to a
//! caller-supplied [`SkipSink`]; reading goes on with the next record. A read
//! error (corrupt or truncated gzip, I/O error) reports the line where
//! decoding broke and ends that input only (gzip only checks its checksum
//! at the end of a member, so damage may first show as garbled lines, which
//! are skipped as invalid JSON; the corruption itself is always reported).
//! [`ReadStats`] counts events and skips by reason, and [`SkipReporter`]
//! prints skips the way the CLI wants.
//!
//! The JSON array scanner splits on brackets outside strings. An element
//! with a string still open at the end of a line (JSON strings cannot span
//! lines) is skipped there and scanning resumes on the next line, which may
//! report the rest of that element as further bad elements. An element with
//! an unclosed bracket runs on to the end of the input (reported as one
//! truncated record, or as too large); NDJSON resynchronises at every
//! newline and is the better format for dirty data.
//!
//! A projection-aware decode ([`crate::Projection::decode`]) can replace
//! [`RawBatch::decode`] when only some fields are needed.
//!
//! Accounting: for every input, each non-blank, non-comment NDJSON line (each
//! element of a JSON array) yields exactly one event or one skip. Input-level
//! problems (cannot open, empty input, unclosed array, read error) are skips
//! too, at the line where they were found (line 0 when there is none).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::{Event, Origin};

/// Why a record (or an input) was skipped. The `Display` form is a stable
/// kebab-case code used in reports and summaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Not valid JSON (syntax error, trailing characters, control characters).
    InvalidJson,
    /// The record is not valid UTF-8.
    InvalidUtf8,
    /// Valid JSON, but not an object (an array, a string, a number, …).
    NotAnObject,
    /// Nesting deeper than the decoder's limit (128 levels).
    TooDeep,
    /// A number that does not fit a 64-bit float (e.g. `1e400`).
    NumberOutOfRange,
    /// `NaN`, `Infinity` or `-Infinity`, which JSON does not allow.
    NonFiniteNumber,
    /// A record longer than [`Limits::max_record_bytes`].
    TooLarge,
    /// The record or the input ends early (cut-off line, unclosed array).
    Truncated,
    /// The gzip stream is corrupt or truncated; the rest of the input is lost.
    CorruptGzip,
    /// The input could not be opened or read.
    Io,
    /// The input holds no records at all.
    EmptyInput,
    /// The event lacks the timestamp field a query needs (see
    /// [`crate::event_timestamp`]).
    MissingTimestamp,
    /// The event's timestamp field cannot be read as a date.
    BadTimestamp,
}

impl SkipReason {
    /// Every reason, in summary order.
    pub const ALL: [SkipReason; 13] = [
        SkipReason::InvalidJson,
        SkipReason::InvalidUtf8,
        SkipReason::NotAnObject,
        SkipReason::TooDeep,
        SkipReason::NumberOutOfRange,
        SkipReason::NonFiniteNumber,
        SkipReason::TooLarge,
        SkipReason::Truncated,
        SkipReason::CorruptGzip,
        SkipReason::Io,
        SkipReason::EmptyInput,
        SkipReason::MissingTimestamp,
        SkipReason::BadTimestamp,
    ];

    /// The stable kebab-case code, e.g. `invalid-json`.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::InvalidJson => "invalid-json",
            SkipReason::InvalidUtf8 => "invalid-utf8",
            SkipReason::NotAnObject => "not-an-object",
            SkipReason::TooDeep => "too-deep",
            SkipReason::NumberOutOfRange => "number-out-of-range",
            SkipReason::NonFiniteNumber => "non-finite-number",
            SkipReason::TooLarge => "too-large",
            SkipReason::Truncated => "truncated",
            SkipReason::CorruptGzip => "corrupt-gzip",
            SkipReason::Io => "io-error",
            SkipReason::EmptyInput => "empty-input",
            SkipReason::MissingTimestamp => "missing-timestamp",
            SkipReason::BadTimestamp => "bad-timestamp",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One skipped record or input problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    /// The input's name as given (a path, or `<stdin>`).
    pub file: Arc<str>,
    /// Input index and 1-based line (0 when the problem has no line, such as
    /// a file that cannot be opened).
    pub origin: Origin,
    pub reason: SkipReason,
    /// Human-readable detail, without the file and line.
    pub message: String,
}

impl Skip {
    pub fn new(
        file: Arc<str>,
        origin: Origin,
        reason: SkipReason,
        message: impl Into<String>,
    ) -> Self {
        Skip {
            file,
            origin,
            reason,
            message: message.into(),
        }
    }

    /// 1-based line of the problem (0: none).
    pub fn line(&self) -> u64 {
        self.origin.line
    }
}

/// `file:line: reason: message` (`file: reason: message` without a line).
impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.origin.line == 0 {
            write!(f, "{}: {}: {}", self.file, self.reason, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.origin.line, self.reason, self.message
            )
        }
    }
}

/// Where skips go. Implemented for closures `FnMut(Skip)`, for `Vec<Skip>`
/// (collects) and for [`SkipReporter`] (prints).
pub trait SkipSink {
    fn skip(&mut self, skip: Skip);
}

impl<F: FnMut(Skip)> SkipSink for F {
    fn skip(&mut self, skip: Skip) {
        self(skip)
    }
}

impl SkipSink for Vec<Skip> {
    fn skip(&mut self, skip: Skip) {
        self.push(skip)
    }
}

/// Counts of what was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Inputs opened (or attempted).
    pub inputs: u64,
    /// Events delivered.
    pub events: u64,
    /// Skips by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
}

impl ReadStats {
    pub fn count_event(&mut self) {
        self.events += 1;
    }

    pub fn count_skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_insert(0) += 1;
    }

    /// Counts one decode result.
    pub fn record<T>(&mut self, result: &Result<T, Skip>) {
        match result {
            Ok(_) => self.count_event(),
            Err(s) => self.count_skip(s.reason),
        }
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub fn skipped_for(&self, reason: SkipReason) -> u64 {
        self.skipped.get(&reason).copied().unwrap_or(0)
    }

    /// Adds `other`'s counts to these (for stats kept per thread or per step).
    pub fn merge(&mut self, other: &ReadStats) {
        self.inputs += other.inputs;
        self.events += other.events;
        for (r, n) in &other.skipped {
            *self.skipped.entry(*r).or_insert(0) += n;
        }
    }
}

/// One line: `N events read from M inputs, K skipped (invalid-json: 2, …)`.
impl fmt::Display for ReadStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} event{} read from {} input{}, {} skipped",
            self.events,
            if self.events == 1 { "" } else { "s" },
            self.inputs,
            if self.inputs == 1 { "" } else { "s" },
            self.skipped_total()
        )?;
        if !self.skipped.is_empty() {
            f.write_str(" (")?;
            for (i, (r, n)) in self.skipped.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{r}: {n}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Prints skips for the CLI: each as `file:line: reason: message` up to
/// `cap`, then counts the rest; [`SkipReporter::finish`] prints `... and N
/// more skipped` (when some were not shown) and the [`ReadStats`] summary.
/// Write errors on the output are ignored: a closed stderr must not stop a
/// scan.
pub struct SkipReporter<W: Write> {
    out: W,
    cap: usize,
    shown: usize,
    total: u64,
}

impl SkipReporter<io::Stderr> {
    /// A reporter on stderr.
    pub fn stderr(cap: usize) -> Self {
        SkipReporter::new(io::stderr(), cap)
    }
}

impl<W: Write> SkipReporter<W> {
    /// The default cap on printed skips.
    pub const DEFAULT_CAP: usize = 20;

    pub fn new(out: W, cap: usize) -> Self {
        SkipReporter {
            out,
            cap,
            shown: 0,
            total: 0,
        }
    }

    /// Skips seen so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Prints the `... and N more` line if needed, then `stats` as a summary.
    pub fn finish(&mut self, stats: &ReadStats) {
        let hidden = self.total - self.shown as u64;
        if hidden > 0 {
            let _ = writeln!(self.out, "... and {hidden} more skipped");
        }
        let _ = writeln!(self.out, "{stats}");
        let _ = self.out.flush();
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> SkipSink for SkipReporter<W> {
    fn skip(&mut self, skip: Skip) {
        self.total += 1;
        if self.shown < self.cap {
            self.shown += 1;
            let _ = writeln!(self.out, "{skip}");
        }
    }
}

/// One input: a path, stdin, or any byte stream.
pub enum Input {
    Path(PathBuf),
    Stdin,
    Stream {
        name: String,
        reader: Box<dyn Read + Send>,
    },
}

impl Input {
    /// A command-line argument: `-` is stdin, anything else a path.
    pub fn from_arg(arg: impl AsRef<OsStr>) -> Input {
        let arg = arg.as_ref();
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }

    /// Any reader, under a name used in skips.
    pub fn stream(name: impl Into<String>, reader: impl Read + Send + 'static) -> Input {
        Input::Stream {
            name: name.into(),
            reader: Box::new(reader),
        }
    }

    /// The name used in skips: the path as given, or `<stdin>`.
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".to_string(),
            Input::Stream { name, .. } => name.clone(),
        }
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Input({})", self.name())
    }
}

/// Size limits of a [`Reader`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A record longer than this is skipped as [`SkipReason::TooLarge`]
    /// (its bytes are not kept). Default 64 MiB.
    pub max_record_bytes: usize,
    /// A batch is full at this many entries. Default 4096.
    pub batch_records: usize,
    /// A batch is full at this many bytes of records. Default 4 MiB.
    pub batch_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 64 << 20,
            batch_records: 4096,
            batch_bytes: 4 << 20,
        }
    }
}

/// A batch of raw records and in-place skips, in input order.
#[derive(Debug, Default)]
pub struct RawBatch {
    buf: Vec<u8>,
    items: Vec<Item>,
    names: Arc<[Arc<str>]>,
}

#[derive(Debug)]
enum Item {
    Record {
        origin: Origin,
        start: usize,
        end: usize,
    },
    Skip(Skip),
}

/// One entry of a [`RawBatch`].
#[derive(Clone, Copy, Debug)]
pub enum RawItem<'a> {
    /// Bytes of one record, still to decode.
    Record(RawRecord<'a>),
    /// A problem found while reading (over-long line, read error, …).
    Skip(&'a Skip),
}

/// The raw bytes of one record (an NDJSON line without its line ending, or
/// one JSON array element with comments removed) and where it came from.
#[derive(Clone, Copy, Debug)]
pub struct RawRecord<'a> {
    pub file: &'a Arc<str>,
    pub origin: Origin,
    pub bytes: &'a [u8],
}

impl RawBatch {
    pub fn new() -> Self {
        RawBatch::default()
    }

    /// Number of entries (records and skips).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.items.clear();
    }

    /// Entry `i` (panics if out of range, like slice indexing).
    pub fn get(&self, i: usize) -> RawItem<'_> {
        match &self.items[i] {
            Item::Record { origin, start, end } => RawItem::Record(RawRecord {
                file: &self.names[origin.file as usize],
                origin: *origin,
                bytes: &self.buf[*start..*end],
            }),
            Item::Skip(s) => RawItem::Skip(s),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = RawItem<'_>> + '_ {
        (0..self.items.len()).map(move |i| self.get(i))
    }

    /// Decodes entry `i`: an event, or the skip for it. Entries are
    /// independent, so this may run in parallel over a batch.
    pub fn decode(&self, i: usize) -> Result<Event, Skip> {
        match self.get(i) {
            RawItem::Record(r) => decode(r),
            RawItem::Skip(s) => Err(s.clone()),
        }
    }

    /// Like [`RawBatch::decode`], keeping only the fields `projection`
    /// keeps (see [`crate::project`]); accepts and rejects the same entries.
    pub fn decode_projected(
        &self,
        i: usize,
        projection: &crate::Projection,
    ) -> Result<Event, Skip> {
        match self.get(i) {
            RawItem::Record(r) => projection.decode(r),
            RawItem::Skip(s) => Err(s.clone()),
        }
    }

    /// [`crate::Projection::decode_fields`] of entry `i`.
    pub fn decode_fields<R>(
        &self,
        i: usize,
        projection: &crate::Projection,
        read: impl FnOnce(&crate::project::Fields<'_>) -> R,
    ) -> Result<R, Skip> {
        match self.get(i) {
            RawItem::Record(r) => projection.decode_fields(r, read),
            RawItem::Skip(s) => Err(s.clone()),
        }
    }

    /// Where entry `i`'s record lies in the batch's buffer (`None` for a
    /// skip or an index out of range).
    pub fn record_span(&self, i: usize) -> Option<std::ops::Range<usize>> {
        match self.items.get(i)? {
            Item::Record { start, end, .. } => Some(*start..*end),
            Item::Skip(_) => None,
        }
    }

    /// Empties the batch and hands over its buffer, whose bytes at each
    /// [`RawBatch::record_span`] are the records; `spare` (cleared) becomes
    /// the buffer the next batch is read into. For keeping some records
    /// past the batch without copying them one by one.
    pub fn take_buffer(&mut self, mut spare: Vec<u8>) -> Vec<u8> {
        spare.clear();
        self.items.clear();
        std::mem::replace(&mut self.buf, spare)
    }

    fn bytes_len(&self) -> usize {
        self.buf.len()
    }

    fn push_skip(&mut self, skip: Skip) {
        self.items.push(Item::Skip(skip));
    }
}

/// Decodes one raw record into an event.
pub fn decode(rec: RawRecord<'_>) -> Result<Event, Skip> {
    into_event(rec, decode_bytes(rec.bytes))
}

/// The event, or the skip placed at the record's line, for the outcome of
/// decoding `rec` (fully or through a projection).
pub(crate) fn into_event(
    rec: RawRecord<'_>,
    decoded: Result<Value, DecodeError>,
) -> Result<Event, Skip> {
    match decoded {
        Ok(doc) => Ok(Event::new(doc, rec.origin)),
        Err(e) => Err(Skip::new(
            rec.file.clone(),
            Origin {
                file: rec.origin.file,
                line: rec.origin.line + e.line_offset,
            },
            e.reason,
            e.message,
        )),
    }
}

/// Why [`decode_bytes`] rejected a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub reason: SkipReason,
    pub message: String,
    /// Lines from the record's first line to the line of the error (0 for
    /// a one-line record).
    pub line_offset: u64,
}

/// Decodes the bytes of one record into a JSON object. Never panics; deep
/// nesting is refused by serde_json's recursion limit (128), so decoded
/// values are never deep enough to overflow the stack when dropped.
pub fn decode_bytes(bytes: &[u8]) -> Result<Value, DecodeError> {
    let text = std::str::from_utf8(bytes).map_err(|e| utf8_error(bytes, e))?;
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(not_an_object(&other)),
        Err(e) => Err(classify_error(text, &e)),
    }
}

pub(crate) fn utf8_error(bytes: &[u8], e: std::str::Utf8Error) -> DecodeError {
    let at = e.valid_up_to();
    let line_offset = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
    DecodeError {
        reason: SkipReason::InvalidUtf8,
        message: format!("invalid UTF-8 at byte {}", at + 1),
        line_offset,
    }
}

pub(crate) fn not_an_object(v: &Value) -> DecodeError {
    DecodeError {
        reason: SkipReason::NotAnObject,
        message: format!("expected a JSON object, found {}", kind(v)),
        line_offset: 0,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn classify_error(text: &str, e: &serde_json::Error) -> DecodeError {
    let full = e.to_string();
    // serde_json appends " at line L column C"; we report the place ourselves.
    let msg = match full.rfind(" at line ") {
        Some(i) => &full[..i],
        None => &full[..],
    };
    let line_offset = (e.line().max(1) - 1) as u64;
    // The skip's line is moved to the error's line, so the column suffices.
    let place = format!(" at column {}", e.column());
    let reason = if e.is_eof() {
        SkipReason::Truncated
    } else if msg.starts_with("recursion limit exceeded") {
        SkipReason::TooDeep
    } else if msg.starts_with("number out of range") {
        SkipReason::NumberOutOfRange
    } else if e.is_syntax() && non_finite_at(text, e.line(), e.column()) {
        SkipReason::NonFiniteNumber
    } else {
        SkipReason::InvalidJson
    };
    let message = match reason {
        SkipReason::Truncated => format!("unexpected end of record: {msg}{place}"),
        SkipReason::NonFiniteNumber => {
            format!("NaN or Infinity is not valid JSON{place}")
        }
        SkipReason::TooDeep => format!("nesting deeper than 128 levels{place}"),
        _ => format!("{msg}{place}"),
    };
    DecodeError {
        reason,
        message,
        line_offset,
    }
}

/// Whether the syntax error at (line, column) sits on a `NaN`/`Infinity`
/// token, which some producers emit for non-finite floats.
fn non_finite_at(text: &str, line: usize, column: usize) -> bool {
    let Some(l) = text.split('\n').nth(line.saturating_sub(1)) else {
        return false;
    };
    let b = l.as_bytes();
    // serde_json's column is 1-based and points at or just after the first
    // offending byte; look a little back for the token start.
    let end = column.min(b.len());
    let lo = end.saturating_sub(2);
    (lo..=end).any(|i| {
        let rest = &b[i.min(b.len())..];
        rest.starts_with(b"NaN")
            || rest.starts_with(b"Infinity")
            || rest.starts_with(b"-Infinity")
            || rest.starts_with(b"+Infinity")
    })
}

/// Reads events from a list of inputs, in order.
pub struct Reader {
    inputs: std::vec::IntoIter<Input>,
    names: Arc<[Arc<str>]>,
    next_index: u32,
    current: Option<Source>,
    limits: Limits,
    stats: ReadStats,
    /// Reused by [`Reader::next_batch`].
    scratch: RawBatch,
}

impl Reader {
    /// A reader over `inputs`; the input index in [`Origin::file`] is the
    /// position in this list.
    pub fn new(inputs: Vec<Input>) -> Self {
        let names: Vec<Arc<str>> = inputs.iter().map(|i| Arc::from(i.name())).collect();
        Reader {
            inputs: inputs.into_iter(),
            names: names.into(),
            next_index: 0,
            current: None,
            limits: Limits::default(),
            stats: ReadStats::default(),
            scratch: RawBatch::new(),
        }
    }

    /// A reader over command-line arguments (`-` is stdin).
    pub fn from_args<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Reader::new(args.into_iter().map(Input::from_arg).collect())
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Input names, indexed by [`Origin::file`].
    pub fn file_names(&self) -> &[Arc<str>] {
        &self.names
    }

    /// Counts so far: inputs opened always; events and skips only as far as
    /// they went through [`Reader::next_batch`] or [`Reader::stats_mut`].
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// For callers that decode raw batches themselves: count each decode
    /// result here with [`ReadStats::record`].
    pub fn stats_mut(&mut self) -> &mut ReadStats {
        &mut self.stats
    }

    /// Clears `batch` and fills it with the next records and in-place skips.
    /// Returns false when every input is exhausted and nothing was added.
    pub fn next_raw_batch(&mut self, batch: &mut RawBatch) -> bool {
        batch.clear();
        // Room for a full batch and its last line, reserved at once: grown
        // by doubling, the buffer would end up twice the batch size.
        let room = self.limits.batch_bytes.saturating_add(1 << 16);
        if batch.buf.capacity() < room {
            batch.buf.reserve_exact(room);
        }
        if !Arc::ptr_eq(&batch.names, &self.names) {
            batch.names = self.names.clone();
        }
        loop {
            if batch.len() >= self.limits.batch_records.max(1)
                || batch.bytes_len() >= self.limits.batch_bytes
            {
                return true;
            }
            if self.current.is_none() {
                let Some(input) = self.inputs.next() else {
                    return !batch.is_empty();
                };
                let index = self.next_index;
                self.next_index += 1;
                self.stats.inputs += 1;
                let name = self.names[index as usize].clone();
                match Source::open(input, index, name) {
                    Ok(src) => self.current = Some(src),
                    Err(skip) => {
                        batch.push_skip(skip);
                        continue;
                    }
                }
            }
            let src = self.current.as_mut().expect("current source was just set");
            if src.fill(batch, &self.limits) == Fill::Done {
                self.current = None;
            }
        }
    }

    /// Clears `events` and fills it with the next decoded events; skips go
    /// to `sink`. Counts everything in [`Reader::stats`]. Returns false when
    /// every input is exhausted and nothing was read.
    pub fn next_batch(&mut self, events: &mut Vec<Event>, sink: &mut dyn SkipSink) -> bool {
        events.clear();
        let mut batch = std::mem::take(&mut self.scratch);
        let more = self.next_raw_batch(&mut batch);
        for i in 0..batch.len() {
            let r = batch.decode(i);
            self.stats.record(&r);
            match r {
                Ok(e) => events.push(e),
                Err(s) => sink.skip(s),
            }
        }
        self.scratch = batch;
        more
    }
}

/// Reads every event of `inputs` into memory (for tests, small fixtures and
/// the conformance harness; the CLI streams with [`Reader`]).
pub fn read_all(inputs: Vec<Input>, sink: &mut dyn SkipSink) -> (Vec<Event>, ReadStats) {
    let mut reader = Reader::new(inputs);
    let mut all = Vec::new();
    let mut batch = Vec::new();
    while reader.next_batch(&mut batch, sink) {
        all.append(&mut batch);
    }
    (all, reader.stats.clone())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fill {
    /// The batch is full; call again.
    Full,
    /// This input is finished.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Unknown,
    Ndjson,
    Array,
}

/// One open input: the byte stream and the splitting state.
struct Source {
    inner: Box<dyn BufRead + Send>,
    st: SplitState,
}

/// How an input is split into records; kept apart from the stream so the
/// stream's buffer can be borrowed while the state changes.
struct SplitState {
    index: u32,
    name: Arc<str>,
    gzip: bool,
    /// Newlines consumed so far (the current line is `line + 1`).
    line: u64,
    format: Format,
    /// Bytes of a leading UTF-8 byte order mark matched so far (3: done).
    bom: u8,
    /// Entries (records or record skips) this input produced.
    produced: u64,
    /// Format detection: a `/` was seen, a second one makes a comment.
    det_slash: bool,
    det_comment: bool,
    /// NDJSON: start of the current (incomplete) line in the batch buffer.
    partial: Option<usize>,
    /// NDJSON: an over-long line is being dropped up to its newline.
    discarding: bool,
    arr: ArrayScan,
    /// The record size limit, for messages.
    max_record: usize,
}

/// State of the JSON array element scanner.
#[derive(Debug, Default)]
struct ArrayScan {
    /// Inside the outer `[ … ]`.
    open: bool,
    /// Bracket depth inside the current element (a counter, not recursion,
    /// so any nesting depth is fine here).
    depth: u64,
    in_str: bool,
    escape: bool,
    /// A `/` outside a string is held back; a second one starts a comment.
    slash: bool,
    in_comment: bool,
    /// An element is being collected.
    active: bool,
    /// The element outgrew the record limit; its bytes are dropped.
    oversized: bool,
    elem: Vec<u8>,
    elem_line: u64,
    /// The last line on which stray content outside the array was reported.
    junk_line: u64,
}

impl Source {
    fn open(input: Input, index: u32, name: Arc<str>) -> Result<Source, Skip> {
        let origin = Origin {
            file: index,
            line: 0,
        };
        let io_skip = |e: io::Error| {
            Skip::new(
                name.clone(),
                origin,
                SkipReason::Io,
                format!("cannot read: {e}"),
            )
        };
        let (raw, gz_name): (Box<dyn Read + Send>, bool) = match input {
            Input::Path(p) => {
                let f = File::open(&p).map_err(io_skip)?;
                if f.metadata().is_ok_and(|m| m.is_dir()) {
                    return Err(Skip::new(
                        name.clone(),
                        origin,
                        SkipReason::Io,
                        "is a directory",
                    ));
                }
                (Box::new(f), has_gz_extension(&p))
            }
            Input::Stdin => (Box::new(io::stdin()), false),
            Input::Stream { reader, .. } => (reader, false),
        };
        // Read the first two bytes for the gzip magic (a pipe may deliver
        // them in separate reads), then put them back in front.
        let mut raw = raw;
        let mut head = [0u8; 2];
        let mut got = 0;
        while got < 2 {
            match raw.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_skip(e)),
            }
        }
        let head = &head[..got];
        let gzip = head == [0x1f, 0x8b];
        let buffered =
            BufReader::with_capacity(256 << 10, io::Cursor::new(head.to_vec()).chain(raw));
        if gz_name && !gzip && !head.is_empty() {
            return Err(Skip::new(
                name,
                origin,
                SkipReason::CorruptGzip,
                "named .gz but not in gzip format; input not read",
            ));
        }
        let inner: Box<dyn BufRead + Send> = if gzip {
            Box::new(BufReader::with_capacity(
                256 << 10,
                flate2::bufread::MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        };
        Ok(Source {
            inner,
            st: SplitState {
                index,
                name,
                gzip,
                line: 0,
                format: Format::Unknown,
                bom: 0,
                produced: 0,
                det_slash: false,
                det_comment: false,
                partial: None,
                discarding: false,
                arr: ArrayScan::default(),
                max_record: 0,
            },
        })
    }

    /// Reads into `batch` until it is full or this input ends.
    fn fill(&mut self, batch: &mut RawBatch, limits: &Limits) -> Fill {
        self.st.max_record = limits.max_record_bytes;
        loop {
            let data = match self.inner.fill_buf() {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.st.read_failed(batch, e);
                    return Fill::Done;
                }
            };
            if data.is_empty() {
                self.st.finish(batch);
                return Fill::Done;
            }
            let (used, full) = self.st.process(data, batch, limits);
            self.inner.consume(used);
            if full {
                return Fill::Full;
            }
        }
    }
}

fn has_gz_extension(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

fn batch_full(batch: &RawBatch, limits: &Limits) -> bool {
    batch.len() >= limits.batch_records.max(1) || batch.bytes_len() >= limits.batch_bytes
}

impl SplitState {
    fn skip(&self, line: u64, reason: SkipReason, message: impl Into<String>) -> Skip {
        Skip::new(
            self.name.clone(),
            Origin {
                file: self.index,
                line,
            },
            reason,
            message,
        )
    }

    fn push_record(&mut self, batch: &mut RawBatch, line: u64, start: usize) {
        batch.items.push(Item::Record {
            origin: Origin {
                file: self.index,
                line,
            },
            start,
            end: batch.buf.len(),
        });
        self.produced += 1;
    }

    fn push_skip(&mut self, batch: &mut RawBatch, skip: Skip) {
        batch.push_skip(skip);
        self.produced += 1;
    }

    /// A read error (corrupt gzip, I/O): the incomplete record is dropped,
    /// the failure reported at the line where it happened, the input ends.
    fn read_failed(&mut self, batch: &mut RawBatch, e: io::Error) {
        if let Some(start) = self.partial.take() {
            batch.buf.truncate(start);
        }
        let (reason, what) = if self.gzip {
            (SkipReason::CorruptGzip, "gzip data corrupt or truncated")
        } else {
            (SkipReason::Io, "read failed")
        };
        let line = self.line + 1;
        let skip = self.skip(
            line,
            reason,
            format!("{what} at line {line} ({e}); the rest of this input is not read"),
        );
        self.push_skip(batch, skip);
    }

    /// Splits `data`; returns bytes consumed and whether the batch is full.
    fn process(&mut self, data: &[u8], batch: &mut RawBatch, limits: &Limits) -> (usize, bool) {
        let mut pos = 0;
        // A byte order mark may arrive split over reads: match it bytewise.
        while self.bom < 3 && pos < data.len() {
            if data[pos] == b"\xEF\xBB\xBF"[self.bom as usize] {
                self.bom += 1;
                pos += 1;
            } else {
                // Not a BOM (a partial match is invalid UTF-8 anyway and is
                // dropped with it).
                self.bom = 3;
            }
        }
        if self.format == Format::Unknown {
            pos = self.detect(data, pos, batch);
            if self.format == Format::Unknown {
                return (data.len(), false);
            }
        }
        let (used, full) = match self.format {
            Format::Array => self.array(&data[pos..], batch, limits),
            _ => self.ndjson(&data[pos..], batch, limits),
        };
        (pos + used, full)
    }

    /// Skips whitespace and `//` comment lines before the first record and
    /// decides the format from the next byte, which is left unconsumed.
    fn detect(&mut self, data: &[u8], mut pos: usize, batch: &mut RawBatch) -> usize {
        while pos < data.len() {
            let b = data[pos];
            if self.det_comment {
                if b == b'\n' {
                    self.det_comment = false;
                    self.line += 1;
                }
                pos += 1;
                continue;
            }
            if self.det_slash {
                self.det_slash = false;
                if b == b'/' {
                    self.det_comment = true;
                    pos += 1;
                    continue;
                }
                // A lone `/` begins an NDJSON line (which will not decode);
                // it was consumed already, so put it into the record.
                self.format = Format::Ndjson;
                self.partial = Some(batch.buf.len());
                batch.buf.push(b'/');
                return pos;
            }
            match b {
                b'\n' => {
                    self.line += 1;
                    pos += 1;
                }
                b' ' | b'\t' | b'\r' => pos += 1,
                b'/' => {
                    self.det_slash = true;
                    pos += 1;
                }
                b'[' => {
                    self.format = Format::Array;
                    return pos;
                }
                _ => {
                    self.format = Format::Ndjson;
                    return pos;
                }
            }
        }
        pos
    }

    fn ndjson(&mut self, data: &[u8], batch: &mut RawBatch, limits: &Limits) -> (usize, bool) {
        let mut pos = 0;
        while pos < data.len() {
            match memchr::memchr(b'\n', &data[pos..]) {
                Some(off) => {
                    self.append_line(&data[pos..pos + off], batch, limits);
                    pos += off + 1;
                    self.line += 1;
                    self.end_line(self.line, batch);
                    if batch_full(batch, limits) {
                        return (pos, true);
                    }
                }
                None => {
                    self.append_line(&data[pos..], batch, limits);
                    pos = data.len();
                }
            }
        }
        (pos, false)
    }

    fn append_line(&mut self, piece: &[u8], batch: &mut RawBatch, limits: &Limits) {
        if self.discarding {
            return;
        }
        let start = *self.partial.get_or_insert(batch.buf.len());
        if batch.buf.len() - start + piece.len() > limits.max_record_bytes {
            batch.buf.truncate(start);
            self.partial = None;
            self.discarding = true;
            return;
        }
        batch.buf.extend_from_slice(piece);
    }

    /// Line `line` is complete: it becomes a record, a skip, or nothing
    /// (blank and `//` comment lines).
    fn end_line(&mut self, line: u64, batch: &mut RawBatch) {
        if self.discarding {
            self.discarding = false;
            let skip = self.skip(
                line,
                SkipReason::TooLarge,
                format!("line longer than the limit of {} bytes", self.max_record),
            );
            self.push_skip(batch, skip);
            return;
        }
        let Some(start) = self.partial.take() else {
            return;
        };
        if batch.buf.len() > start && batch.buf.last() == Some(&b'\r') {
            batch.buf.pop();
        }
        let rec = &batch.buf[start..];
        let first = rec.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\r'));
        match first {
            None => batch.buf.truncate(start),
            Some(i) if rec[i..].starts_with(b"//") => batch.buf.truncate(start),
            Some(_) => self.push_record(batch, line, start),
        }
    }

    fn array(&mut self, data: &[u8], batch: &mut RawBatch, limits: &Limits) -> (usize, bool) {
        let max = limits.max_record_bytes;
        let mut pos = 0;
        while pos < data.len() {
            // Fast paths copy runs of ordinary bytes at once; the byte
            // machine below only sees bytes that can change the state.
            let a = &mut self.arr;
            let rest = &data[pos..];
            let run = if a.in_comment {
                let n = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                pos += n;
                n
            } else if a.in_str && !a.escape {
                let n = memchr::memchr3(b'"', b'\\', b'\n', rest).unwrap_or(rest.len());
                a.push_slice(&rest[..n], max);
                pos += n;
                n
            } else if a.active && !a.in_str && !a.slash {
                let n = rest
                    .iter()
                    .position(|&b| ELEMENT_SPECIAL[b as usize])
                    .unwrap_or(rest.len());
                a.push_slice(&rest[..n], max);
                pos += n;
                n
            } else {
                0
            };
            if run > 0 {
                continue;
            }
            let b = data[pos];
            // The commonest state changes inside an element, inline: a
            // string opening or closing, and a comma or newline between
            // fields of a nested value.
            let a = &mut self.arr;
            if a.active && !a.slash && !a.in_comment {
                if a.in_str && !a.escape && b == b'"' {
                    a.in_str = false;
                    a.push(b, max);
                    pos += 1;
                    continue;
                }
                if !a.in_str {
                    if b == b'"' {
                        a.in_str = true;
                        a.push(b, max);
                        pos += 1;
                        continue;
                    }
                    if a.depth > 0 && (b == b',' || b == b'\n') {
                        a.push(b, max);
                        if b == b'\n' {
                            self.line += 1;
                        }
                        pos += 1;
                        continue;
                    }
                }
            }
            pos += 1;
            let emitted = self.array_byte(b, batch, max);
            if b == b'\n' {
                self.line += 1;
            }
            if emitted && batch_full(batch, limits) {
                return (pos, true);
            }
        }
        (data.len(), false)
    }

    /// Feeds one byte to the array scanner; true if an entry was emitted.
    fn array_byte(&mut self, b: u8, batch: &mut RawBatch, max: usize) -> bool {
        let a = &mut self.arr;
        if a.in_comment {
            if b == b'\n' {
                a.in_comment = false;
                if a.active {
                    a.push(b'\n', max);
                }
            }
            return false;
        }
        if a.in_str {
            if b == b'\n' {
                // JSON strings cannot span lines: the element is broken.
                // Dropping it here lets the scanner resynchronise on the
                // next lines instead of running on inside a string (and
                // with a wrong bracket depth) to the end of the input.
                self.drop_broken_element(batch);
                return true;
            }
            a.push(b, max);
            if a.escape {
                a.escape = false;
            } else if b == b'\\' {
                a.escape = true;
            } else if b == b'"' {
                a.in_str = false;
            }
            return false;
        }
        let mut emitted = false;
        if a.slash {
            a.slash = false;
            if b == b'/' {
                a.in_comment = true;
                return false;
            }
            // A lone `/` is content (invalid, reported when decoded).
            emitted |= self.array_content(b'/', batch, max);
        }
        if b == b'/' {
            self.arr.slash = true;
            return emitted;
        }
        emitted | self.array_content(b, batch, max)
    }

    fn array_content(&mut self, b: u8, batch: &mut RawBatch, max: usize) -> bool {
        let line = self.line + 1;
        let a = &mut self.arr;
        match b {
            b'\n' | b' ' | b'\t' | b'\r' => {
                if a.active {
                    a.push(b, max);
                }
                false
            }
            _ if !a.open => {
                if b == b'[' {
                    a.open = true;
                    false
                } else if a.junk_line != line {
                    a.junk_line = line;
                    let skip = self.skip(
                        line,
                        SkipReason::InvalidJson,
                        "content outside the JSON array",
                    );
                    self.push_skip(batch, skip);
                    true
                } else {
                    false
                }
            }
            b',' if a.depth == 0 => {
                if a.active {
                    self.emit_element(batch);
                } else {
                    let skip = self.skip(line, SkipReason::InvalidJson, "empty array element");
                    self.push_skip(batch, skip);
                }
                true
            }
            b']' if a.depth == 0 => {
                a.open = false;
                if a.active {
                    self.emit_element(batch);
                    true
                } else {
                    false
                }
            }
            _ => {
                if !a.active {
                    a.active = true;
                    a.oversized = false;
                    a.elem_line = line;
                }
                a.push(b, max);
                match b {
                    b'[' | b'{' => a.depth += 1,
                    b']' | b'}' => a.depth = a.depth.saturating_sub(1),
                    b'"' => a.in_str = true,
                    _ => {}
                }
                false
            }
        }
    }

    fn drop_broken_element(&mut self, batch: &mut RawBatch) {
        let a = &mut self.arr;
        a.active = false;
        a.depth = 0;
        a.in_str = false;
        a.escape = false;
        a.oversized = false;
        a.elem.clear();
        let line = a.elem_line;
        let last = self.line + 1;
        let skip = self.skip(
            line,
            SkipReason::InvalidJson,
            format!("string not closed at the end of line {last}; element skipped"),
        );
        self.push_skip(batch, skip);
    }

    fn emit_element(&mut self, batch: &mut RawBatch) {
        let a = &mut self.arr;
        a.active = false;
        a.depth = 0;
        a.in_str = false;
        a.escape = false;
        let line = a.elem_line;
        if a.oversized {
            a.oversized = false;
            let skip = self.skip(
                line,
                SkipReason::TooLarge,
                format!(
                    "array element longer than the limit of {} bytes",
                    self.max_record
                ),
            );
            self.push_skip(batch, skip);
            return;
        }
        while matches!(a.elem.last(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            a.elem.pop();
        }
        let start = batch.buf.len();
        batch.buf.extend_from_slice(&a.elem);
        a.elem.clear();
        if a.elem.capacity() > 1 << 20 {
            a.elem = Vec::new();
        }
        self.push_record(batch, line, start);
    }

    /// End of input: flush what is pending and report an empty input.
    fn finish(&mut self, batch: &mut RawBatch) {
        let last = self.line + 1;
        match self.format {
            Format::Unknown => {
                if self.det_slash {
                    self.det_slash = false;
                    let start = batch.buf.len();
                    batch.buf.push(b'/');
                    self.push_record(batch, last, start);
                }
            }
            Format::Ndjson => {
                if self.partial.is_some() || self.discarding {
                    self.end_line(last, batch);
                }
            }
            Format::Array => {
                if self.arr.slash {
                    self.arr.slash = false;
                    self.array_content(b'/', batch, usize::MAX);
                }
                let was_open = self.arr.open;
                if self.arr.active {
                    self.emit_element(batch);
                }
                if was_open {
                    let skip = self.skip(
                        last,
                        SkipReason::Truncated,
                        "JSON array not closed at end of input",
                    );
                    self.push_skip(batch, skip);
                }
            }
        }
        if self.produced == 0 {
            let msg = if self.format == Format::Array {
                "the JSON array has no elements"
            } else {
                "no events in input"
            };
            let skip = self.skip(0, SkipReason::EmptyInput, msg);
            self.push_skip(batch, skip);
        }
    }
}

/// Bytes that can change the array scanner's state inside an element
/// (outside strings); every other byte is copied as it is.
const ELEMENT_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let special = b"\"\\[]{},/\n";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

impl ArrayScan {
    fn push_slice(&mut self, bytes: &[u8], max: usize) {
        if self.oversized {
            return;
        }
        if self.elem.len() + bytes.len() > max {
            self.oversized = true;
            self.elem.clear();
            return;
        }
        self.elem.extend_from_slice(bytes);
    }

    fn push(&mut self, b: u8, max: usize) {
        if self.oversized {
            return;
        }
        if self.elem.len() >= max {
            self.oversized = true;
            self.elem.clear();
            return;
        }
        self.elem.push(b);
    }
}
