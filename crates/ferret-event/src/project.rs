//! Projection: decoding only the fields some rule reads.
//!
//! Building a full `serde_json::Value` (an allocation per key and string, a
//! hash insert per key) costs most of the time of reading an event. When the
//! loaded rules read a known set of fields, a [`Projection`] decodes a record
//! into a pruned document that holds only those fields (and the objects on
//! the way to them); everything else is parsed and dropped without
//! allocating.
//!
//! Guarantees:
//! - For every projected path `p`, resolving `p` (see [`crate::path`]) on
//!   the pruned document yields exactly what it yields on the full one.
//!   Flat dotted keys (`"process.name"`) and keys that hold part of a path
//!   (`"process.parent": {"name": …}`) are matched the way paths resolve.
//!   A path with an array index keeps the whole value under its last key
//!   before the index.
//! - A record is accepted or rejected exactly as [`crate::decode_bytes`]
//!   does, with the same [`crate::SkipReason`]: skipped parts are parsed by
//!   the same parser with the same nesting limit and number checks (not by
//!   serde's lenient `IgnoredAny`, which has neither).
//! - A tabled decode ([`Projection::decode`]) first tries a skimming reader
//!   (`skim`) that checks the grammar without serde's per-token visitor
//!   calls; wherever it is not sure of serde_json's verdict it defers to it.
//!
//! The pruned document is not the event as read: output that shows the
//! event (`_source`, alert documents) must decode the raw record in full
//! with [`crate::decode`].

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::path::{FieldPath, Segment};
use crate::read::{classify_error, not_an_object, utf8_error, DecodeError, RawRecord, Skip};
use crate::table::{Cells, FieldTable, TableLayout};
use crate::value::FieldValue;
use crate::{Event, Timestamp, TimestampError};

mod marks;
mod skim;

pub(crate) use skim::string_stop;

thread_local! {
    /// The cells of the record being decoded; reused, so each decode
    /// allocates only what its event keeps.
    static CELLS: std::cell::RefCell<Cells> = std::cell::RefCell::default();
}

/// The fields of one record decoded by [`Projection::decode_fields`]: they
/// resolve paths as [`Event`] does.
pub struct Fields<'a>(Resolved<'a>);

enum Resolved<'a> {
    /// The decode's cells, before they become a table, and the pruned
    /// document for paths the table would not cover.
    Cells {
        cells: &'a Cells,
        layout: &'a TableLayout,
        doc: &'a Value,
    },
    /// A whole event (see [`Decoded::Whole`]).
    Event(&'a Event),
}

impl Fields<'_> {
    /// Calls `f` with every value at `path`, as [`Event::for_each`] does.
    pub fn for_each<'v>(&'v self, path: &FieldPath, f: &mut dyn FnMut(FieldValue<'v>)) {
        match &self.0 {
            Resolved::Cells { cells, layout, doc } => match layout.column(path.id()) {
                // Cells are in document order, as the table keeps a
                // column's values.
                Some(column) => cells.for_each_of(column, f),
                None => path.for_each(doc, &mut |v| f(FieldValue::from_json(v))),
            },
            Resolved::Event(ev) => ev.for_each(path, f),
        }
    }

    /// The time at `path`, as [`Event::timestamp`] reads it.
    pub fn timestamp(&self, path: &FieldPath) -> Result<Timestamp, TimestampError> {
        crate::time::timestamp_of(path, |f| self.for_each(path, f))
    }

    /// The first non-null value at `path` read as a time, as
    /// [`Event::first_timestamp`] reads it.
    pub fn first_timestamp(&self, path: &FieldPath) -> Option<Timestamp> {
        crate::time::first_timestamp_of(|f| self.for_each(path, f))
    }
}

/// A record decoded by [`Projection::decode_with`].
enum Decoded<'c> {
    /// Its whole event: a projection keeping everything, or a record the
    /// table cannot describe (see [`crate::table`]), as a pruned document.
    Whole(Event),
    /// The event of its pruned document, its projected values still in the
    /// thread's cells.
    Tabled(Event, &'c mut Cells),
}

/// The set of fields to keep, as a trie of key segments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Projection {
    root: Node,
    /// The paths decoded events get a [`FieldTable`] for.
    layout: Arc<TableLayout>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Node {
    /// A path ends here: keep the whole value.
    whole: bool,
    /// The field-table column of the path ending here, if it has one.
    column: Option<u32>,
    /// Kept in the pruned document of a tabled event: on the way to a path
    /// the table does not cover (see [`Projection::decode`]).
    tree: bool,
    /// Few per level, so a linear scan beats hashing every key of every
    /// event.
    children: Vec<(String, Node)>,
    /// Per child, [`key_tag`] of its key: the scan compares these and only
    /// a key with the same length and end bytes in full.
    tags: Vec<u32>,
    /// The first bytes a dotted key can start with and still lead to a
    /// child (its first part must be a child's key), one bit each: a dotted
    /// key is split only then.
    firsts: [u64; 4],
}

/// A key's length and first and last bytes, packed: equal keys have equal
/// tags, and keys at one level rarely share one.
#[inline]
pub(crate) fn key_tag(key: &[u8]) -> u32 {
    match (key.first(), key.last()) {
        (Some(&first), Some(&last)) => {
            (key.len().min(0xffff) as u32) | u32::from(first) << 16 | u32::from(last) << 24
        }
        _ => 0,
    }
}

/// `a == b` for keys whose tags ([`key_tag`]) are equal, so of one length:
/// compared in two overlapping words for the short keys records hold,
/// without a call to `memcmp` (one per projected key met, half a percent of
/// a scan with every rule).
#[inline(always)]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    let half =
        |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("four bytes"));
    match n {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

impl Projection {
    /// A projection keeping what `paths` read. No paths keeps nothing but
    /// the (empty) top-level object.
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a FieldPath>) -> Self {
        let mut root = Node {
            tree: true,
            ..Node::default()
        };
        let mut layout = TableLayout::default();
        let mut columns = 0u32;
        for path in paths {
            // Only plain key paths are tabled: an index selects within one
            // array, and a key holding a dot resolves differently from the
            // trie's split (see `crate::path`). The others stay in tabled
            // events' documents.
            let tabled = path
                .segments()
                .iter()
                .all(|s| matches!(s, Segment::Key(k) if !k.contains('.')));
            let node = root.path_mut(path, &mut |n| n.tree |= !tabled);
            node.whole = true;
            if tabled && node.column.is_none() {
                node.column = Some(columns);
                layout.add(path.id(), columns);
                columns += 1;
            }
        }
        Projection {
            root,
            layout: Arc::new(layout),
        }
    }

    /// Also keeps `paths` in the document of tabled events, for callers
    /// that read the document itself rather than resolve paths through
    /// [`Event::for_each`] (a key's raw shape, array or not).
    pub fn with_document_paths<'a>(
        mut self,
        paths: impl IntoIterator<Item = &'a FieldPath>,
    ) -> Self {
        for path in paths {
            self.root.path_mut(path, &mut |n| n.tree = true).whole = true;
        }
        self
    }

    /// A projection that keeps everything (decodes like [`crate::decode_bytes`]).
    pub fn all() -> Self {
        Projection {
            root: Node {
                whole: true,
                column: None,
                tree: true,
                ..Node::default()
            },
            layout: Arc::default(),
        }
    }

    /// Decodes `bytes` keeping only the projected fields.
    pub fn decode_bytes(&self, bytes: &[u8]) -> Result<Value, DecodeError> {
        self.parse(bytes, None)
    }

    /// Decodes one raw record into an event holding only the projected
    /// fields (the counterpart of [`crate::decode`]).
    ///
    /// The event's values go into its [`FieldTable`] and its document
    /// keeps only what the table does not cover (paths with an index, and
    /// [`Projection::with_document_paths`]): resolve paths with
    /// [`Event::for_each`], not on the document. A record the table cannot
    /// describe exactly (a flat dotted key or a duplicate key on a projected
    /// route, see [`crate::table`]) is decoded into a pruned document with
    /// no table instead.
    pub fn decode(&self, rec: RawRecord<'_>) -> Result<Event, Skip> {
        self.decode_with(rec, |decoded| match decoded {
            Decoded::Whole(ev) => ev,
            Decoded::Tabled(mut ev, cells) => {
                ev.set_table(FieldTable::build(self.layout.clone(), cells));
                ev
            }
        })
    }

    /// [`Projection::decode`] for a caller that reads a few fields of the
    /// record and keeps nothing: `read` gets the decoded [`Fields`], which
    /// resolve paths as the event would, without the event being built (a
    /// scan reads most records for their times only; building an event and
    /// a field table for each, five allocations, was 3% of W1's CPU).
    /// Accepts and rejects what `decode` does. The fields live in the
    /// thread's decoding buffers: `read` must not decode on this thread
    /// itself (that panics).
    pub fn decode_fields<R>(
        &self,
        rec: RawRecord<'_>,
        read: impl FnOnce(&Fields<'_>) -> R,
    ) -> Result<R, Skip> {
        self.decode_with(rec, |decoded| match decoded {
            Decoded::Whole(ev) => read(&Fields(Resolved::Event(&ev))),
            Decoded::Tabled(ev, cells) => read(&Fields(Resolved::Cells {
                cells,
                layout: &self.layout,
                doc: &ev.doc,
            })),
        })
    }

    /// Decodes `rec` and hands `then` the outcome: what `decode` and
    /// `decode_fields` share.
    fn decode_with<R>(
        &self,
        rec: RawRecord<'_>,
        then: impl FnOnce(Decoded<'_>) -> R,
    ) -> Result<R, Skip> {
        if self.root.whole {
            let ev = crate::read::into_event(rec, self.decode_bytes(rec.bytes))?;
            return Ok(then(Decoded::Whole(ev)));
        }
        CELLS.with_borrow_mut(|cells| {
            cells.clear();
            let tree = self.parse_tabled(rec.bytes, cells);
            if cells.fallback {
                let ev = crate::read::into_event(rec, self.decode_bytes(rec.bytes))?;
                return Ok(then(Decoded::Whole(ev)));
            }
            let ev = crate::read::into_event(rec, tree)?;
            Ok(then(Decoded::Tabled(ev, cells)))
        })
    }

    /// This projection with its table's columns numbered in the order the
    /// fields come in `records` (the first records of an input, say), so
    /// that the tables of records written alike fill in column order and
    /// need no sorting (see `FieldTable::build`). What is kept and how it
    /// resolves do not change, only the numbering.
    ///
    /// The order is a topological one of "comes right before" in the
    /// records that decode into a table, ties (and the cycles of records
    /// written differently) going to the field seen first; fields the
    /// records do not hold come last, in their old order.
    pub fn in_order_of<'r>(&self, records: impl IntoIterator<Item = &'r [u8]>) -> Projection {
        let n = self.layout.columns() as usize;
        if self.root.whole || n == 0 {
            return self.clone();
        }
        let mut first_seen = vec![u32::MAX; n];
        let mut seen = 0u32;
        let mut edges: Vec<(u32, u32)> = Vec::new();
        let mut cells = Cells::default();
        for record in records {
            cells.clear();
            if self.parse_tabled(record, &mut cells).is_err() || cells.fallback {
                continue;
            }
            let mut prev: Option<u32> = None;
            for &(c, _) in &cells.cells {
                if first_seen[c as usize] == u32::MAX {
                    first_seen[c as usize] = seen;
                    seen += 1;
                }
                if let Some(p) = prev.filter(|&p| p != c) {
                    edges.push((p, c));
                }
                prev = Some(c);
            }
        }
        edges.sort_unstable();
        edges.dedup();
        let mut before = vec![0u32; n];
        for &(_, b) in &edges {
            before[b as usize] += 1;
        }
        // Columns never seen sort after the seen ones, in their old order.
        let rank = |c: usize| {
            if first_seen[c] == u32::MAX {
                seen as usize + c
            } else {
                first_seen[c] as usize
            }
        };
        let mut ready: std::collections::BTreeSet<(usize, usize)> = (0..n)
            .filter(|&c| before[c] == 0)
            .map(|c| (rank(c), c))
            .collect();
        let mut placed = vec![false; n];
        let mut new_of = vec![0u32; n];
        let mut next = 0u32;
        while (next as usize) < n {
            let c = match ready.pop_first() {
                Some((_, c)) => c,
                // A cycle: the unplaced column seen first goes next.
                None => (0..n)
                    .filter(|&c| !placed[c])
                    .min_by_key(|&c| rank(c))
                    .expect("columns left to place"),
            };
            if placed[c] {
                continue;
            }
            placed[c] = true;
            new_of[c] = next;
            next += 1;
            let from = edges.partition_point(|&(a, _)| (a as usize) < c);
            for &(_, b) in edges[from..].iter().take_while(|&&(a, _)| a as usize == c) {
                let b = b as usize;
                before[b] -= 1;
                if before[b] == 0 && !placed[b] {
                    ready.insert((rank(b), b));
                }
            }
        }
        let mut root = self.root.clone();
        root.renumber(&new_of);
        Projection {
            root,
            layout: Arc::new(self.layout.renumbered(&new_of)),
        }
    }

    /// The pruned document of a tabled decode, its values in `cells`: by
    /// the skimming reader when it can vouch for the record, else by
    /// serde_json (the exact outcome, error included).
    fn parse_tabled(&self, bytes: &[u8], cells: &mut Cells) -> Result<Value, DecodeError> {
        if let Ok(tree) = skim::skim(&self.root, bytes, cells) {
            return Ok(tree);
        }
        // Start over, keeping the capacity reserved for the cells.
        cells.clear();
        self.parse(bytes, Some(cells))
    }

    /// Parses `bytes` into the pruned document; with `cells`, tabled values
    /// go there instead (see [`Prune`]). Errors are the full decoder's.
    fn parse(&self, bytes: &[u8], cells: Option<&mut Cells>) -> Result<Value, DecodeError> {
        let text = std::str::from_utf8(bytes).map_err(|e| utf8_error(bytes, e))?;
        let mut de = serde_json::Deserializer::from_str(text);
        let v = if self.root.whole {
            <Value as de::Deserialize>::deserialize(&mut de)
        } else {
            Prune {
                node: &self.root,
                cells,
            }
            .deserialize(&mut de)
        };
        let v = v.and_then(|v| de.end().map(|_| v));
        match v {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(other) => Err(not_an_object(&other)),
            Err(e) => Err(classify_error(text, &e)),
        }
    }
}

impl Node {
    /// Renumbers the columns below: `c` becomes `new_of[c]`.
    fn renumber(&mut self, new_of: &[u32]) {
        if let Some(c) = self.column.as_mut() {
            *c = new_of[*c as usize];
        }
        for (_, child) in &mut self.children {
            child.renumber(new_of);
        }
    }

    fn child(&self, key: &str) -> Option<&Node> {
        self.children.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    fn child_mut(&mut self, key: &str) -> &mut Node {
        let i = match self.children.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.children.push((key.to_string(), Node::default()));
                self.tags.push(key_tag(key.as_bytes()));
                // The empty key is the first part of a key starting with `.`.
                let first = key.as_bytes().first().copied().unwrap_or(b'.');
                self.firsts[usize::from(first / 64)] |= 1 << (first % 64);
                self.children.len() - 1
            }
        };
        &mut self.children[i].1
    }

    /// The node `path` leads to, created as needed, calling `each` on every
    /// node on the way (this one and the last included). Keys holding dots
    /// are split as paths resolve them; an index ends the walk, so the
    /// value under the last key is kept whole.
    fn path_mut(&mut self, path: &FieldPath, each: &mut dyn FnMut(&mut Node)) -> &mut Node {
        let mut node = self;
        each(node);
        for seg in path.segments() {
            match seg {
                Segment::Key(k) => {
                    for part in k.split('.') {
                        node = node.child_mut(part);
                        each(node);
                    }
                }
                Segment::Index(_) => break,
            }
        }
        node
    }

    /// Appends `(column, value)` for every tabled path under this node, in
    /// document order; false if the document has a dotted key on the way
    /// (no table then, see [`crate::table`]).
    fn collect(&self, v: &Value, out: &mut Cells) -> bool {
        if let Some(column) = self.column {
            push_flat(column, v, out);
        }
        self.descend(v, out)
    }

    fn descend(&self, v: &Value, out: &mut Cells) -> bool {
        match v {
            Value::Object(map) => map.iter().all(|(k, child)| {
                !k.contains('.')
                    && match self.child(k) {
                        Some(n) => n.collect(child, out),
                        None => true,
                    }
            }),
            Value::Array(items) => items.iter().all(|item| self.descend(item, out)),
            _ => true,
        }
    }

    /// [`Node::lookup`] with the child's position at this level for a
    /// plain key, and `usize::MAX` for a dotted one.
    #[inline]
    fn lookup_at(&self, key: &str) -> Option<(usize, &Node)> {
        let b = key.as_bytes();
        let tag = key_tag(b);
        // Child keys hold no dots (paths are split on them), so a key equal
        // to one is plain.
        for (i, &t) in self.tags.iter().enumerate() {
            if t == tag && same_key(self.children[i].0.as_bytes(), b) {
                return Some((i, &self.children[i].1));
            }
        }
        let leads = |&first: &u8| self.firsts[usize::from(first / 64)] & 1 << (first % 64) != 0;
        if b.first().is_some_and(leads) && b.contains(&b'.') {
            return self.lookup(key).map(|n| (usize::MAX, n));
        }
        None
    }

    /// The node a (possibly dotted) key leads to, if any path goes there.
    fn lookup(&self, key: &str) -> Option<&Node> {
        // Keys are short: a plain scan is cheaper than memchr's set-up.
        if !key.as_bytes().contains(&b'.') {
            return self.child(key);
        }
        let mut node = self;
        for part in key.split('.') {
            node = node.child(part)?;
        }
        Some(node)
    }
}

/// Appends the values path resolution yields for `v`: its elements, nested
/// arrays flattened, or `v` itself.
fn push_flat(column: u32, v: &Value, out: &mut Cells) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| push_flat(column, i, out)),
        other => out.push_ref(column, other),
    }
}

/// [`push_flat`] taking ownership (no copy).
fn push_flat_owned(column: u32, v: Value, out: &mut Cells) {
    match v {
        Value::Array(items) => items
            .into_iter()
            .for_each(|i| push_flat_owned(column, i, out)),
        other => out.push(column, other),
    }
}

/// Deserializes a value keeping only what `Node` asks for. With `cells`
/// (a tabled decode) projected values go into table cells and the returned
/// document keeps only nodes marked `tree` (`Null` for the rest); without,
/// the returned document keeps every projected node.
struct Prune<'a, 's> {
    node: &'a Node,
    cells: Option<&'s mut Cells>,
}

impl<'de> DeserializeSeed<'de> for Prune<'_, '_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Prune<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Prune { node, mut cells } = self;
        let mut out = Map::new();
        // Projected children met at this level, to spot duplicate keys.
        let mut met: Vec<*const Node> = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let Some(child) = node.lookup(&key) else {
                map.next_value::<Discard>()?;
                continue;
            };
            let keep = cells.is_none() || child.tree;
            if let Some(cells) = cells.as_deref_mut() {
                if key.contains('.') || met.contains(&(child as *const Node)) {
                    cells.fallback = true;
                }
                met.push(child);
            }
            let v = if child.whole {
                let v: Value = map.next_value()?;
                match (cells.as_deref_mut(), child.column) {
                    (None, _) => v,
                    (Some(cells), Some(column)) if child.children.is_empty() && !keep => {
                        push_flat_owned(column, v, cells);
                        continue;
                    }
                    (Some(cells), _) => {
                        if !child.collect(&v, cells) {
                            cells.fallback = true;
                        }
                        v
                    }
                }
            } else {
                map.next_value_seed(Prune {
                    node: child,
                    cells: cells.as_deref_mut(),
                })?
            };
            if keep {
                out.insert(key.into_owned(), v);
            }
        }
        Ok(if node.tree || cells.is_none() {
            Value::Object(out)
        } else {
            Value::Null
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // Arrays on the way to a field keep their elements (pruned), so
        // multi-valued objects such as `dns.answers` still resolve.
        let Prune { node, mut cells } = self;
        let keep = cells.is_none() || node.tree;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Prune {
            node,
            cells: cells.as_deref_mut(),
        })? {
            if keep {
                out.push(v);
            }
        }
        Ok(if keep { Value::Array(out) } else { Value::Null })
    }

    // A scalar where an object was expected: no path reads through it, so
    // keep only its shape cheaply (numbers and booleans as they are).
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// An object key, borrowed from the input when it has no escapes (serde's
/// own `Cow<str>` always allocates).
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Parses and drops a value through `deserialize_any`, so the parser's
/// nesting limit and number checks apply as in a full decode, without
/// allocating (strings without escapes are borrowed).
struct Discard;

impl<'de> de::Deserialize<'de> for Discard {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DiscardVisitor)
    }
}

struct DiscardVisitor;

impl<'de> Visitor<'de> for DiscardVisitor {
    type Value = Discard;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Discard, E> {
        Ok(Discard)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Discard, E> {
        Ok(Discard)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Discard, E> {
        Ok(Discard)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Discard, E> {
        Ok(Discard)
    }
    fn visit_str<E>(self, _: &str) -> Result<Discard, E> {
        Ok(Discard)
    }
    fn visit_unit<E>(self) -> Result<Discard, E> {
        Ok(Discard)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Discard, A::Error> {
        while seq.next_element::<Discard>()?.is_some() {}
        Ok(Discard)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Discard, A::Error> {
        while map.next_key::<Discard>()?.is_some() {
            map.next_value::<Discard>()?;
        }
        Ok(Discard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Keys of every length up to past two words, differing at each
    /// byte: `same_key` says what `==` says.
    #[test]
    fn same_key_is_byte_equality() {
        for n in 0..20 {
            let a: Vec<u8> = (0..n as u8).map(|i| b'a' + i).collect();
            assert!(super::same_key(&a, &a.clone()), "{n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] = b'.';
                assert!(!super::same_key(&a, &b), "{n} {at}");
            }
            assert!(!super::same_key(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }

    fn paths(ps: &[&str]) -> Vec<FieldPath> {
        ps.iter().map(|p| FieldPath::dotted(p)).collect()
    }

    fn prune(doc: &Value, ps: &[&str]) -> Value {
        let fp = paths(ps);
        Projection::new(&fp)
            .decode_bytes(doc.to_string().as_bytes())
            .unwrap()
    }

    /// Renumbered by the field order of some records, a projection
    /// resolves every path as before, and those records' tables fill in
    /// column order (so they need no sorting).
    #[test]
    fn columns_in_the_order_of_the_records() {
        let ps = paths(&["z.b", "a", "z.a", "m", "a2"]);
        let proj = Projection::new(&ps);
        let records = [
            json!({"m": 1, "z": {"a": "x", "b": [true, null]}, "a": "y"}).to_string(),
            json!({"a2": 2.5, "m": -3, "other": {"z": 1}}).to_string(),
        ];
        let ordered = proj.in_order_of(records.iter().map(|r| r.as_bytes()));
        // Records written in opposite orders still give a numbering of
        // every column once.
        let crossed = [r#"{"a":1,"m":2}"#, r#"{"m":3,"a":4}"#];
        let mixed = proj.in_order_of(crossed.iter().map(|r| r.as_bytes()));
        let mut columns: Vec<u32> = ps
            .iter()
            .filter_map(|p| mixed.layout.column(p.id()))
            .collect();
        columns.sort_unstable();
        assert_eq!(columns, (0..ps.len() as u32).collect::<Vec<_>>());
        let in_column_order = |p: &Projection, r: &str| {
            let mut cells = Cells::default();
            p.parse_tabled(r.as_bytes(), &mut cells).unwrap();
            cells.cells.windows(2).all(|w| w[0].0 <= w[1].0)
        };
        assert!(!in_column_order(&proj, &records[0]));
        let file: Arc<str> = Arc::from("t");
        for r in &records {
            assert!(in_column_order(&ordered, r), "{r}");
            let decode = |p: &Projection| {
                p.decode(crate::RawRecord {
                    file: &file,
                    origin: crate::Origin::default(),
                    bytes: r.as_bytes(),
                })
                .unwrap()
            };
            let (before, after) = (decode(&proj), decode(&ordered));
            for path in &ps {
                let values = |ev: &Event| {
                    let mut out = Vec::new();
                    ev.for_each(path, &mut |v| out.push(v.to_json()));
                    out
                };
                assert_eq!(values(&before), values(&after), "{r} {path:?}");
            }
        }
    }

    #[test]
    fn keeps_only_projected_fields() {
        let doc = json!({
            "@timestamp": "2024-01-01T00:00:00Z",
            "process": {"name": "bash", "pid": 1, "parent": {"name": "systemd", "pid": 0}},
            "host": {"id": "h1", "os": {"type": "linux"}},
            "message": "big text"
        });
        let got = prune(&doc, &["process.parent.name", "host.id", "@timestamp"]);
        assert_eq!(
            got,
            json!({
                "@timestamp": "2024-01-01T00:00:00Z",
                "process": {"parent": {"name": "systemd"}},
                "host": {"id": "h1"}
            })
        );
    }

    #[test]
    fn flat_and_partly_dotted_keys() {
        let doc = json!({
            "process.name": "a",
            "process": {"parent.name": "b", "name": "c", "other": 1},
            "process.parent": {"name": "d"},
            "process.parent.name.x": "no",
            "processx": 1
        });
        let got = prune(&doc, &["process.parent.name", "process.name"]);
        assert_eq!(
            got,
            json!({
                "process.name": "a",
                "process": {"parent.name": "b", "name": "c"},
                "process.parent": {"name": "d"}
            })
        );
    }

    #[test]
    fn arrays_on_the_way_and_indexes() {
        let doc = json!({
            "dns": {"answers": [{"name": "a", "ttl": 1}, {"name": "b", "ttl": 2}, "odd"]},
            "process": {"args": ["sh", "-c", "x"], "env": ["A=1"]}
        });
        let fp = vec![
            FieldPath::dotted("dns.answers.name"),
            FieldPath::new(vec![
                Segment::Key("process".into()),
                Segment::Key("args".into()),
                Segment::Index(1),
            ]),
        ];
        let got = Projection::new(&fp)
            .decode_bytes(doc.to_string().as_bytes())
            .unwrap();
        assert_eq!(
            got,
            json!({
                "dns": {"answers": [{"name": "a"}, {"name": "b"}, null]},
                "process": {"args": ["sh", "-c", "x"]}
            })
        );
    }

    #[test]
    fn all_keeps_everything_and_none_keeps_nothing() {
        let doc = json!({"a": {"b": [1, {"c": null}]}, "d": "e"});
        let all = Projection::all()
            .decode_bytes(doc.to_string().as_bytes())
            .unwrap();
        assert_eq!(all, doc);
        assert_eq!(prune(&doc, &[]), json!({}));
    }

    #[test]
    fn rejects_exactly_like_a_full_decode() {
        let fp = paths(&["keep"]);
        let proj = Projection::new(&fp);
        let deep = format!("{}1{}", "[".repeat(20_000), "]".repeat(20_000));
        let cases = [
            format!("{{\"skip\":{deep}}}"),
            "{\"skip\":1e400}".to_string(),
            "{\"skip\":NaN}".to_string(),
            "{\"skip\":\"a\u{1}b\"}".to_string(),
            "{\"skip\":[1,}".to_string(),
            "{\"skip\":1} x".to_string(),
            "{\"skip\":".to_string(),
            "[{\"keep\":1}]".to_string(),
            "\"keep\"".to_string(),
            "{\"keep\":1,\"skip\":{\"a\":tru}}".to_string(),
        ];
        for text in &cases {
            let full = crate::decode_bytes(text.as_bytes()).unwrap_err();
            let projected = proj.decode_bytes(text.as_bytes()).unwrap_err();
            assert_eq!(projected.reason, full.reason, "{text:.60}");
            assert_eq!(projected.line_offset, full.line_offset);
        }
        let bad_utf8 = b"{\"skip\":\"\xff\"}";
        assert_eq!(
            proj.decode_bytes(bad_utf8).unwrap_err(),
            crate::decode_bytes(bad_utf8).unwrap_err()
        );
    }
}
