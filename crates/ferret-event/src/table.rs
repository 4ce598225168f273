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

/// Which paths a table covers: path id -> column.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TableLayout {
    column_of: Vec<u32>,
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
    }

    fn column(&self, path_id: u32) -> Option<u32> {
        match self.column_of.get(path_id as usize) {
            Some(&c) if c != NO_COLUMN => Some(c),
            _ => None,
        }
    }
}

/// The values of every covered path of one event.
///
/// A scan's projection has hundreds of columns and an event fills a few
/// dozen, so only non-empty columns take room: a bitmap marks them, and
/// each 64-column word of it carries the number of non-empty columns
/// before it, which makes finding a column's values one popcount. Events
/// held by sequences and samples keep their tables, so this size is what
/// memory grows by; and an event is decoded into two allocations here
/// (index and values), not one per column.
#[derive(Clone, Debug)]
pub struct FieldTable {
    layout: Arc<TableLayout>,
    /// Per 64-column word, three entries: its low and high 32 bits (which
    /// columns are non-empty) and how many non-empty columns precede it.
    /// Then, for the `k`-th non-empty column, where its values end (they
    /// start where the previous one's end, or at 0).
    index: Box<[u32]>,
    values: Box<[Value]>,
}

/// Entries of [`FieldTable::index`] per bitmap word.
const WORD: usize = 3;

impl FieldTable {
    /// Builds a table from `(column, value)` pairs in document order,
    /// draining `cells` (its capacity stays for the next event).
    pub(crate) fn build(layout: Arc<TableLayout>, cells: &mut Vec<(u32, Value)>) -> FieldTable {
        // Stable: keeps each column's values in document order.
        cells.sort_by_key(|(c, _)| *c);
        let words = (layout.columns as usize).div_ceil(64);
        let mut bits = vec![0u64; words];
        let mut ends: Vec<u32> = Vec::new();
        let mut values = Vec::with_capacity(cells.len());
        for (column, v) in cells.drain(..) {
            let (w, bit) = ((column / 64) as usize, 1u64 << (column % 64));
            if bits[w] & bit == 0 {
                // A new column: the previous one ends here.
                if !values.is_empty() {
                    ends.push(values.len() as u32);
                }
                bits[w] |= bit;
            }
            values.push(v);
        }
        if !values.is_empty() {
            ends.push(values.len() as u32);
        }
        let mut index = Vec::with_capacity(words * WORD + ends.len());
        let mut before = 0;
        for b in bits {
            index.extend([b as u32, (b >> 32) as u32, before]);
            before += b.count_ones();
        }
        index.extend(ends);
        FieldTable {
            layout,
            index: index.into_boxed_slice(),
            values: values.into_boxed_slice(),
        }
    }

    /// The values of the path with id `path_id` (arrays flattened, as path
    /// resolution yields them), or `None` when the table does not cover it.
    #[inline]
    pub fn get(&self, path_id: u32) -> Option<&[Value]> {
        let c = self.layout.column(path_id)?;
        let w = (c / 64) as usize * WORD;
        let word = &self.index[w..w + WORD];
        let bits = u64::from(word[0]) | (u64::from(word[1]) << 32);
        let bit = 1u64 << (c % 64);
        if bits & bit == 0 {
            return Some(&[]);
        }
        let k = (word[2] + (bits & (bit - 1)).count_ones()) as usize;
        let ends = &self.index[self.layout.columns.div_ceil(64) as usize * WORD..];
        let start = if k == 0 { 0 } else { ends[k - 1] as usize };
        Some(&self.values[start..ends[k] as usize])
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
        let cells = vec![
            (2, json!("c1")),
            (0, json!("a1")),
            (2, json!("c2")),
            (0, json!("a2")),
        ];
        let t = FieldTable::build(Arc::new(layout), &mut cells.clone());
        assert_eq!(t.get(7), Some(&[json!("a1"), json!("a2")][..]));
        assert_eq!(t.get(3), Some(&[][..]));
        assert_eq!(t.get(9), Some(&[json!("c1"), json!("c2")][..]));
        assert_eq!(t.get(4), Some(&[][..]));
        assert_eq!(t.get(5), None);
        assert_eq!(t.get(1000), None);
    }

    proptest::proptest! {
        /// Any fill of any number of columns (several bitmap words) reads
        /// back as grouping the cells by column in document order does.
        #[test]
        fn sparse_table_reads_back_every_column(
            columns in 1u32..300,
            raw in proptest::collection::vec((0u32..300, 0i64..1000), 0..120),
        ) {
            let mut layout = TableLayout::default();
            // Path ids differ from columns, as in a real projection.
            for c in 0..columns {
                layout.add(c * 3 + 1, c);
            }
            let cells: Vec<(u32, Value)> =
                raw.iter().map(|&(c, v)| (c % columns, json!(v))).collect();
            let t = FieldTable::build(Arc::new(layout), &mut cells.clone());
            for c in 0..columns {
                let expected: Vec<Value> = cells
                    .iter()
                    .filter(|(col, _)| *col == c)
                    .map(|(_, v)| v.clone())
                    .collect();
                proptest::prop_assert_eq!(t.get(c * 3 + 1), Some(&expected[..]));
                proptest::prop_assert_eq!(t.get(c * 3 + 2), None);
            }
        }
    }
}
