//! Per-event field tables: every projected field resolved once, at decode.
//!
//! A thousand rules read the same few hundred fields; resolving a path
//! through the document (nested objects, flat dotted keys, arrays) once per
//! rule per event cost more than everything else a scan does. A
//! [`FieldTable`] holds, for each path of a [`crate::Projection`], the
//! values resolution would yield, in the same order; [`crate::Event::for_each`]
//! reads them by the path's id and falls back to walking the document for
//! any path the table does not cover.
//!
//! [`crate::Projection::decode`] fills the table while it parses, so each
//! path's values arrive in document order. Resolution order differs from
//! document order only when one field is written both nested and as a flat
//! dotted key, and a repeated key keeps only its last value in a document;
//! a record with a dotted or repeated key on a projected route therefore
//! gets no table (its event resolves by walking a pruned document).

use std::sync::Arc;

use serde_json::Value;

use crate::value::{FieldNumber, FieldValue};

/// Which paths a table covers: path id -> column. Tables decoded by one
/// projection share theirs ([`FieldTable::layout`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TableLayout {
    column_of: Vec<u32>,
    /// Column -> path id.
    path_of: Vec<u32>,
    columns: u32,
}

const NO_COLUMN: u32 = u32::MAX;

impl TableLayout {
    pub(crate) fn add(&mut self, path_id: u32, column: u32) {
        let i = path_id as usize;
        if self.column_of.len() <= i {
            self.column_of.resize(i + 1, NO_COLUMN);
        }
        self.column_of[i] = column;
        self.columns = self.columns.max(column + 1);
        let c = column as usize;
        if self.path_of.len() <= c {
            self.path_of.resize(c + 1, NO_COLUMN);
        }
        self.path_of[c] = path_id;
    }

    /// The column of the path with id `path_id`, if the layout covers it.
    pub fn column(&self, path_id: u32) -> Option<u32> {
        match self.column_of.get(path_id as usize) {
            Some(&c) if c != NO_COLUMN => Some(c),
            _ => None,
        }
    }

    /// The number of columns.
    pub fn columns(&self) -> u32 {
        self.columns
    }

    /// The same paths with column `c` renumbered `new_of[c]` (a
    /// permutation of the columns).
    pub(crate) fn renumbered(&self, new_of: &[u32]) -> TableLayout {
        let mut out = TableLayout::default();
        for (c, &path_id) in self.path_of.iter().enumerate() {
            if path_id != NO_COLUMN {
                out.add(path_id, new_of[c]);
            }
        }
        out
    }
}

/// One value in a table: strings point into the table's text, objects
/// and arrays (rare on projected paths) into its documents. Nothing to
/// drop: an event's cells are freed without being read, long after the
/// rules read them (dropping boxed documents read every cell of events
/// sequences held, out of the cache by then).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cell {
    Null,
    Bool(bool),
    Number(FieldNumber),
    Str {
        start: u32,
        len: u32,
    },
    /// An index into the documents.
    Json(u32),
}

// A table's cells are read by every rule that tests a field: 16 bytes
// (with a `serde_json::Number` inside they were 24) puts four on a line.
const _: () = assert!(std::mem::size_of::<Cell>() == 16);

impl Cell {
    /// The value, its string (if any) read from `text` and its document
    /// from `json`, what the cell was made over.
    #[inline]
    fn view<'a>(&self, text: &'a str, json: &'a [Value]) -> FieldValue<'a> {
        match self {
            Cell::Null => FieldValue::Null,
            Cell::Bool(b) => FieldValue::Bool(*b),
            Cell::Number(n) => FieldValue::Number(*n),
            Cell::Str { start, len } => {
                FieldValue::Str(&text[*start as usize..(*start + *len) as usize])
            }
            Cell::Json(i) => FieldValue::Json(&json[*i as usize]),
        }
    }
}

/// What a tabled decode gathers besides the pruned document: the cells in
/// document order and the text their strings point into. One per decoding
/// thread, reused, so a decode allocates only what its event keeps.
#[derive(Default)]
pub(crate) struct Cells {
    /// (column, value) in document order.
    pub(crate) cells: Vec<(u32, Cell)>,
    /// The text of every string cell, back to back.
    pub(crate) text: String,
    /// The documents of the object and array cells.
    json: Vec<Value>,
    /// The record has a dotted or duplicate key on a projected route.
    pub(crate) fallback: bool,
    /// Scratch of [`FieldTable::build`]: the cells' order by column.
    order: Vec<u64>,
}

impl Cells {
    pub(crate) fn clear(&mut self) {
        self.cells.clear();
        self.text.clear();
        self.json.clear();
        self.fallback = false;
    }

    /// Calls `f` with the values of `column`, in document order.
    pub(crate) fn for_each_of<'a>(&'a self, column: u32, f: &mut dyn FnMut(FieldValue<'a>)) {
        for (c, cell) in &self.cells {
            if *c == column {
                f(cell.view(&self.text, &self.json));
            }
        }
    }

    /// Appends a string value of `column`.
    #[inline]
    pub(crate) fn push_str(&mut self, column: u32, s: &str) {
        // Offsets are 32-bit: a record whose strings pass 4 GiB (only
        // possible with a raised record limit) resolves from its document.
        let (Ok(start), Ok(len)) = (u32::try_from(self.text.len()), u32::try_from(s.len())) else {
            self.fallback = true;
            return;
        };
        if start.checked_add(len).is_none() {
            self.fallback = true;
            return;
        }
        self.text.push_str(s);
        self.cells.push((column, Cell::Str { start, len }));
    }

    /// Appends a value of `column` (arrays are not flattened here).
    pub(crate) fn push(&mut self, column: u32, v: Value) {
        let cell = match v {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(b),
            Value::Number(n) => Cell::Number(FieldNumber::of(&n)),
            Value::String(s) => return self.push_str(column, &s),
            v @ (Value::Array(_) | Value::Object(_)) => {
                // Past four billion documents the record resolves from its
                // document instead.
                let Ok(i) = u32::try_from(self.json.len()) else {
                    self.fallback = true;
                    return;
                };
                self.json.push(v);
                Cell::Json(i)
            }
        };
        self.cells.push((column, cell));
    }

    /// [`Cells::push`] from a borrowed value.
    pub(crate) fn push_ref(&mut self, column: u32, v: &Value) {
        match v {
            Value::String(s) => self.push_str(column, s),
            other => self.push(column, other.clone()),
        }
    }
}

#[cfg(test)]
impl Cells {
    /// The cells as (column, owned JSON) pairs.
    pub(crate) fn to_values(&self) -> Vec<(u32, Value)> {
        self.cells
            .iter()
            .map(|(c, cell)| (*c, cell.view(&self.text, &self.json).to_json()))
            .collect()
    }
}

/// The values of every covered path of one event.
///
/// A scan's projection has hundreds of columns and an event fills a few
/// dozen, so only non-empty columns take room: a bitmap marks them, and
/// each 64-column word of it carries the number of non-empty columns
/// before it, which makes finding a column's values one popcount. Events
/// held by sequences and samples keep their tables, so this size is what
/// memory grows by; and an event is decoded into three allocations here
/// (index, cells and their text), not one per value.
#[derive(Clone, Debug)]
pub struct FieldTable {
    layout: Arc<TableLayout>,
    /// Per 64-column word, three entries: its low and high 32 bits (which
    /// columns are non-empty) and how many non-empty columns precede it.
    /// Then, for the `k`-th non-empty column, where its values end (they
    /// start where the previous one's end, or at 0).
    index: Box<[u32]>,
    cells: Box<[Cell]>,
    text: Box<str>,
    /// The documents of object and array values: none in most tables. A
    /// boxed `Vec` is one word where a boxed slice is two, and every event's
    /// struct holds a table: 8 more bytes moved the struct into a larger
    /// allocation class, and W2 measured 1-2% slower.
    #[allow(clippy::box_collection)]
    json: Option<Box<Vec<Value>>>,
}

/// Entries of [`FieldTable::index`] per bitmap word.
const WORD: usize = 3;

impl FieldTable {
    /// Builds a table from the cells of one decode, draining them (their
    /// capacity stays for the next event).
    pub(crate) fn build(layout: Arc<TableLayout>, from: &mut Cells) -> FieldTable {
        // The cells by column, each column's in document order. Columns
        // numbered in the input's own order (`Projection::in_order_of`)
        // mostly come that way already; otherwise sorting (column,
        // position) keys in place moves 8 bytes a step, not a cell, and
        // needs no scratch allocation (the stable sort of the cells
        // themselves was 2% of W2).
        let order = &mut from.order;
        order.clear();
        order.extend(
            from.cells
                .iter()
                .enumerate()
                .map(|(i, (column, _))| u64::from(*column) << 32 | i as u64),
        );
        if !order.is_sorted() {
            order.sort_unstable();
        }
        let words = (layout.columns as usize).div_ceil(64);
        // The bitmap words go into the index's head as they fill; the end
        // of each non-empty column follows it (sized exactly: a boxed
        // slice with room to spare would be copied).
        let columns = order
            .windows(2)
            .filter(|w| w[0] >> 32 != w[1] >> 32)
            .count()
            + usize::from(!order.is_empty());
        let mut index = Vec::with_capacity(words * WORD + columns);
        index.resize(words * WORD, 0u32);
        let mut values = Vec::with_capacity(order.len());
        let mut last = None;
        for &key in order.iter() {
            let column = (key >> 32) as u32;
            if last != Some(column) {
                // A new column: the previous one ends here.
                if last.is_some() {
                    index.push(values.len() as u32);
                }
                last = Some(column);
                let (w, bit) = ((column / 64) as usize, column % 64);
                index[w * WORD + (bit / 32) as usize] |= 1 << (bit % 32);
            }
            values.push(from.cells[key as u32 as usize].1);
        }
        if !values.is_empty() {
            index.push(values.len() as u32);
        }
        from.cells.clear();
        let mut before = 0;
        for w in 0..words {
            index[w * WORD + 2] = before;
            before += index[w * WORD].count_ones() + index[w * WORD + 1].count_ones();
        }
        let text = Box::from(from.text.as_str());
        from.text.clear();
        FieldTable {
            layout,
            index: index.into_boxed_slice(),
            cells: values.into_boxed_slice(),
            text,
            json: (!from.json.is_empty()).then(|| Box::new(from.json.drain(..).collect())),
        }
    }

    /// The documents object and array cells index.
    fn docs(&self) -> &[Value] {
        self.json.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Calls `f` with the values of the path with id `path_id` (arrays
    /// flattened, as path resolution yields them); false when the table
    /// does not cover the path.
    #[inline]
    pub fn for_each<'a>(&'a self, path_id: u32, f: &mut dyn FnMut(FieldValue<'a>)) -> bool {
        let Some(cells) = self.column(path_id) else {
            return false;
        };
        for c in cells {
            f(c.view(&self.text, self.docs()));
        }
        true
    }

    /// Asks for the lines reads start with: the index (a few hundred bytes
    /// for a projection of hundreds of paths, at most eight lines of it),
    /// which every read of a value goes through first, and the cells (at
    /// most eight lines: a rule group meets most events once, and the first
    /// cell read was a fifth of `Pred::eval`'s own time; sixteen lines, or
    /// the text too, measured no better).
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        let bytes = std::mem::size_of_val(&*self.index);
        crate::prefetch_range(self.index.as_ptr().cast::<u8>(), bytes, 8);
        let bytes = std::mem::size_of_val(&*self.cells);
        crate::prefetch_range(self.cells.as_ptr().cast::<u8>(), bytes, 8);
    }

    /// The values of the path with id `path_id` (as [`FieldTable::for_each`]
    /// gives them), `None` when the table does not cover the path: an
    /// iterator, so a caller can stop early and have its test inlined.
    #[inline]
    pub fn values(&self, path_id: u32) -> Option<impl Iterator<Item = FieldValue<'_>>> {
        let (text, json) = (&*self.text, self.docs());
        Some(
            self.column(path_id)?
                .iter()
                .map(move |c| c.view(text, json)),
        )
    }

    /// Which paths the table covers, shared by the tables of one
    /// projection: what is worked out from it once holds for all of them.
    pub fn layout(&self) -> &Arc<TableLayout> {
        &self.layout
    }

    /// Whether the table covers the path with id `path_id` (has its
    /// values, if any).
    #[inline]
    pub fn covers(&self, path_id: u32) -> bool {
        self.layout.column(path_id).is_some()
    }

    /// The cells of the path with id `path_id`, `None` when not covered.
    #[inline]
    fn column(&self, path_id: u32) -> Option<&[Cell]> {
        let c = self.layout.column(path_id)?;
        let (filled, before) = self.filled_word((c / 64) as usize);
        let bit = 1u64 << (c % 64);
        if filled & bit == 0 {
            return Some(&[]);
        }
        Some(self.nth_filled(before + (filled & (bit - 1)).count_ones()))
    }

    /// Bitmap word `w` of the non-empty columns, and how many non-empty
    /// columns precede it.
    #[inline]
    fn filled_word(&self, w: usize) -> (u64, u32) {
        let word = &self.index[w * WORD..w * WORD + WORD];
        (u64::from(word[0]) | (u64::from(word[1]) << 32), word[2])
    }

    /// The cells of the `k`-th non-empty column.
    #[inline]
    fn nth_filled(&self, k: u32) -> &[Cell] {
        let ends = &self.index[self.layout.columns.div_ceil(64) as usize * WORD..];
        let k = k as usize;
        let start = if k == 0 { 0 } else { ends[k - 1] as usize };
        &self.cells[start..ends[k] as usize]
    }

    /// The columns of `mask` (bit `c % 64` of word `c / 64` for column
    /// `c`, as [`TableLayout::column`] numbers them) that have values here,
    /// each with its values as [`FieldTable::values`] gives them: for a
    /// reader of a few of the columns, which an event fills fewer of still.
    pub fn filled_among<'a>(
        &'a self,
        mask: &'a [u64],
    ) -> impl Iterator<Item = (u32, impl Iterator<Item = FieldValue<'a>>)> {
        let words = self.layout.columns.div_ceil(64) as usize;
        let (text, json) = (&*self.text, self.docs());
        (0..words.min(mask.len())).flat_map(move |w| {
            let (filled, before) = self.filled_word(w);
            let mut bits = filled & mask[w];
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let bit = bits.trailing_zeros();
                    bits &= bits - 1;
                    let cells =
                        self.nth_filled(before + (filled & ((1u64 << bit) - 1)).count_ones());
                    (
                        w as u32 * 64 + bit,
                        cells.iter().map(move |c| c.view(text, json)),
                    )
                })
            })
        })
    }

    /// The values of `path_id` as owned JSON (tests).
    #[cfg(test)]
    fn get(&self, path_id: u32) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        self.for_each(path_id, &mut |v| out.push(v.to_json()))
            .then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_keep_document_order_and_empty_columns_are_empty() {
        let mut layout = TableLayout::default();
        for (id, column) in [(7, 0), (3, 1), (9, 2), (4, 3)] {
            layout.add(id, column);
        }
        let mut cells = Cells::default();
        for (c, v) in [
            (2, json!("c1")),
            (0, json!("a1")),
            (2, json!({"o": [1]})),
            (0, json!(null)),
            (0, json!("a2")),
            (3, json!(-1.5)),
        ] {
            cells.push(c, v);
        }
        let t = FieldTable::build(Arc::new(layout), &mut cells);
        assert!(cells.cells.is_empty() && cells.text.is_empty());
        assert_eq!(t.get(7), Some(vec![json!("a1"), json!(null), json!("a2")]));
        assert_eq!(t.get(3), Some(vec![]));
        assert_eq!(t.get(9), Some(vec![json!("c1"), json!({"o": [1]})]));
        assert_eq!(t.get(4), Some(vec![json!(-1.5)]));
        assert_eq!(t.get(5), None);
        assert_eq!(t.get(1000), None);
        assert_eq!(
            filled(&t),
            vec![
                (7, vec![json!("a1"), json!(null), json!("a2")]),
                (9, vec![json!("c1"), json!({"o": [1]})]),
                (4, vec![json!(-1.5)]),
            ]
        );
        assert!(t.covers(3) && !t.covers(5));
    }

    /// The paths that have values in `t` (by id), each with its values:
    /// its filled columns among all of them.
    fn filled(t: &FieldTable) -> Vec<(u32, Vec<Value>)> {
        let all = vec![u64::MAX; (t.layout.columns() as usize).div_ceil(64)];
        t.filled_among(&all)
            .map(|(c, values)| {
                let id = t.layout.path_of[c as usize];
                (id, values.map(|v| v.to_json()).collect())
            })
            .collect()
    }

    proptest::proptest! {
        /// Any fill of any number of columns (several bitmap words) reads
        /// back as grouping the cells by column in document order does.
        #[test]
        fn sparse_table_reads_back_every_column(
            columns in 1u32..300,
            raw in proptest::collection::vec((0u32..300, 0i64..1000), 0..120),
            mask in proptest::collection::vec(proptest::num::u64::ANY, 0..6),
        ) {
            let mut layout = TableLayout::default();
            // Path ids differ from columns, as in a real projection.
            for c in 0..columns {
                layout.add(c * 3 + 1, c);
            }
            // Strings and numbers alike, so text offsets are exercised.
            let cells: Vec<(u32, Value)> = raw
                .iter()
                .map(|&(c, v)| (c % columns, if v % 2 == 0 { json!(v) } else { json!(format!("s{v}")) }))
                .collect();
            let mut from = Cells::default();
            for (c, v) in &cells {
                from.push_ref(*c, v);
            }
            let t = FieldTable::build(Arc::new(layout), &mut from);
            // The filled paths are the non-empty columns, with their values.
            let filled = filled(&t);
            let expected_filled: Vec<(u32, Vec<Value>)> = (0..columns)
                .map(|c| (c * 3 + 1, t.get(c * 3 + 1).unwrap_or_default()))
                .filter(|(_, values)| !values.is_empty())
                .collect();
            // Those of some columns: the same, by column.
            let among: Vec<(u32, Vec<Value>)> = t
                .filled_among(&mask)
                .map(|(c, values)| (c * 3 + 1, values.map(|v| v.to_json()).collect()))
                .collect();
            let in_mask = |id: u32| {
                let c = (id - 1) / 3;
                mask.get(c as usize / 64).is_some_and(|w| w >> (c % 64) & 1 == 1)
            };
            let expected_among: Vec<(u32, Vec<Value>)> =
                expected_filled.iter().filter(|(id, _)| in_mask(*id)).cloned().collect();
            proptest::prop_assert_eq!(among, expected_among);
            proptest::prop_assert_eq!(filled, expected_filled);
            for c in 0..columns {
                let expected: Vec<Value> = cells
                    .iter()
                    .filter(|(col, _)| *col == c)
                    .map(|(_, v)| v.clone())
                    .collect();
                proptest::prop_assert_eq!(t.get(c * 3 + 1), Some(expected));
                proptest::prop_assert_eq!(t.get(c * 3 + 2), None);
            }
        }
    }
}
