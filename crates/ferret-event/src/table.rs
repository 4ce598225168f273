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

    pub(crate) fn columns(&self) -> usize {
        self.columns as usize
    }

    fn column(&self, path_id: u32) -> Option<u32> {
        match self.column_of.get(path_id as usize) {
            Some(&c) if c != NO_COLUMN => Some(c),
            _ => None,
        }
    }
}

/// The values of every covered path of one event.
#[derive(Clone, Debug)]
pub struct FieldTable {
    layout: Arc<TableLayout>,
    /// Column `c`'s values are `values[starts[c]..starts[c + 1]]`.
    starts: Box<[u32]>,
    values: Vec<Value>,
}

impl FieldTable {
    /// Builds a table from `(column, value)` pairs in document order.
    pub(crate) fn build(layout: Arc<TableLayout>, mut cells: Vec<(u32, Value)>) -> FieldTable {
        // Stable: keeps each column's values in document order.
        cells.sort_by_key(|(c, _)| *c);
        let columns = layout.columns as usize;
        let mut starts = vec![0u32; columns + 1].into_boxed_slice();
        let mut values = Vec::with_capacity(cells.len());
        let mut next = 0usize;
        for (i, (column, v)) in cells.into_iter().enumerate() {
            while next <= column as usize {
                starts[next] = i as u32;
                next += 1;
            }
            values.push(v);
        }
        for start in &mut starts[next..] {
            *start = values.len() as u32;
        }
        FieldTable {
            layout,
            starts,
            values,
        }
    }

    /// The values of the path with id `path_id` (arrays flattened, as path
    /// resolution yields them), or `None` when the table does not cover it.
    #[inline]
    pub fn get(&self, path_id: u32) -> Option<&[Value]> {
        let c = self.layout.column(path_id)? as usize;
        let (start, end) = (self.starts[c] as usize, self.starts[c + 1] as usize);
        Some(&self.values[start..end])
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
        let t = FieldTable::build(Arc::new(layout), cells);
        assert_eq!(t.get(7), Some(&[json!("a1"), json!("a2")][..]));
        assert_eq!(t.get(3), Some(&[][..]));
        assert_eq!(t.get(9), Some(&[json!("c1"), json!("c2")][..]));
        assert_eq!(t.get(4), Some(&[][..]));
        assert_eq!(t.get(5), None);
        assert_eq!(t.get(1000), None);
    }
}
