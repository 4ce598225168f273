//! Field paths and their resolution against a JSON document.
//!
//! ECS documents write the same field either nested (`{"process": {"name":
//! …}}`) or as a flat dotted key (`{"process.name": …}`), and exports mix the
//! two. A path therefore matches every split of its keys into object levels.
//! Arrays are transparent: `dns.answers.name` over an array of answer objects
//! yields every answer's name, and a leaf array yields its elements (nested
//! arrays flattened), which is how Elasticsearch sees multi-valued fields.
//! An explicit index (`process.args[0]`) selects one element instead; on a
//! value that is not an array, index 0 is the value itself (Elasticsearch
//! stores a single value and a one-element array alike). A negative index
//! counts from the end; EQL's grammar has no negative index, so only API
//! callers can build one. Nulls inside arrays are yielded as `Value::Null`;
//! the engine decides what a null element means.
//!
//! Resolution order is deterministic: at each object level the shortest key
//! split is tried first (`a` before `a.b`), and arrays in element order.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(i64),
}

/// A compiled field path. Dotted joins of consecutive keys are precomputed
/// so resolution allocates nothing per event.
///
/// Paths are interned: every path with the same segments shares one
/// allocation, so a clone is a reference count and equality compares ids.
/// Rules copy paths into plans, guards, projections and indexes thousands
/// of times at start-up; deep copies were a tenth of it.
#[derive(Clone)]
pub struct FieldPath(Arc<PathData>);

struct PathData {
    segments: Vec<Segment>,
    /// `joined[i][j]` is keys `i..=i+j` joined with dots, for runs of keys.
    joined: Vec<Vec<String>>,
    /// The same in every path with these segments, process-wide, so a
    /// per-event field table ([`crate::FieldTable`]) is indexed without
    /// hashing the path.
    id: u32,
}

/// Ids are given to distinct segment lists only, so equal ids mean equal
/// segments.
impl PartialEq for FieldPath {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for FieldPath {}

impl std::hash::Hash for FieldPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state)
    }
}

impl std::fmt::Debug for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FieldPath").field(&self.0.segments).finish()
    }
}

/// Every distinct path built so far, by segments (hashed with foldhash:
/// compiling a thousand rules builds paths a hundred thousand times, and
/// SipHash was a percent of start-up).
static PATHS: LazyLock<Mutex<HashMap<Vec<Segment>, FieldPath, foldhash::fast::FixedState>>> =
    LazyLock::new(Default::default);

impl FieldPath {
    /// The process-wide id of this path's segments.
    pub fn id(&self) -> u32 {
        self.0.id
    }

    pub fn new(segments: Vec<Segment>) -> Self {
        let mut paths = PATHS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(path) = paths.get(&segments) {
            return path.clone();
        }
        let mut joined = Vec::with_capacity(segments.len());
        for i in 0..segments.len() {
            let mut row = Vec::new();
            let mut acc = String::new();
            for seg in &segments[i..] {
                match seg {
                    Segment::Key(k) => {
                        // By position, not by `acc` being empty: an empty
                        // first key still needs its dot (`["", "a"]` is `.a`).
                        if !row.is_empty() {
                            acc.push('.');
                        }
                        acc.push_str(k);
                        row.push(acc.clone());
                    }
                    Segment::Index(_) => break,
                }
            }
            joined.push(row);
        }
        let id = u32::try_from(paths.len()).expect("fewer than 2^32 distinct field paths");
        let path = FieldPath(Arc::new(PathData {
            segments: segments.clone(),
            joined,
            id,
        }));
        paths.insert(segments, path.clone());
        path
    }

    /// A path from a dotted name such as `process.parent.name`.
    pub fn dotted(name: &str) -> Self {
        FieldPath::new(
            name.split('.')
                .map(|s| Segment::Key(s.to_string()))
                .collect(),
        )
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0.segments
    }

    /// Calls `f` with every value the path reaches in `doc`.
    pub fn for_each<'a>(&self, doc: &'a Value, f: &mut dyn FnMut(&'a Value)) {
        self.walk(doc, 0, f)
    }

    /// The first value the path reaches, if any (arrays flattened).
    pub fn first<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        let mut out = None;
        self.for_each(doc, &mut |v| {
            if out.is_none() {
                out = Some(v)
            }
        });
        out
    }

    fn walk<'a>(&self, v: &'a Value, i: usize, f: &mut dyn FnMut(&'a Value)) {
        if i == self.0.segments.len() {
            emit_flat(v, f);
            return;
        }
        match (&self.0.segments[i], v) {
            (Segment::Index(n), Value::Array(items)) => {
                let idx = if *n < 0 { items.len() as i64 + n } else { *n };
                if idx >= 0 {
                    if let Some(item) = items.get(idx as usize) {
                        self.walk(item, i + 1, f);
                    }
                }
            }
            // Elasticsearch does not tell a single value from a one-element
            // array, so `field[0]` on a scalar is the scalar itself.
            (Segment::Index(0), Value::Null) => {}
            (
                Segment::Index(0),
                Value::Object(_) | Value::String(_) | Value::Number(_) | Value::Bool(_),
            ) => self.walk(v, i + 1, f),
            (Segment::Index(_), _) => {}
            (Segment::Key(_), Value::Array(items)) => {
                for item in items {
                    self.walk(item, i, f);
                }
            }
            (Segment::Key(_), Value::Object(map)) => {
                let row = &self.0.joined[i];
                // Hashing every candidate split (`a`, `a.b`, `a.b.c`) with
                // SipHash dominated resolution; ECS objects are small, so one
                // pass over their keys comparing lengths first (the splits'
                // lengths strictly increase, so at most one can fit a key)
                // finds every split at once. Same results, same order.
                if map.len() <= SCAN_MAX_KEYS {
                    let mut found: [Option<&'a Value>; SCAN_MAX_SPLITS] = [None; SCAN_MAX_SPLITS];
                    let mut overflow = false;
                    for (k, child) in map {
                        if let Some(j) = row.iter().position(|r| r.len() == k.len()) {
                            if row[j] == *k {
                                match found.get_mut(j) {
                                    Some(slot) => *slot = Some(child),
                                    None => overflow = true,
                                }
                            }
                        }
                    }
                    if !overflow {
                        for (j, child) in found.iter().enumerate() {
                            if let Some(child) = child {
                                self.walk(child, i + j + 1, f);
                            }
                        }
                        return;
                    }
                }
                for (j, key) in row.iter().enumerate() {
                    if let Some(child) = map.get(key.as_str()) {
                        self.walk(child, i + j + 1, f);
                    }
                }
            }
            (Segment::Key(_), _) => {}
        }
    }
}

/// Objects with at most this many keys are scanned rather than probed.
const SCAN_MAX_KEYS: usize = 32;
/// Splits tracked by a scan; a match beyond them falls back to probing.
const SCAN_MAX_SPLITS: usize = 6;

fn emit_flat<'a>(v: &'a Value, f: &mut dyn FnMut(&'a Value)) {
    match v {
        Value::Array(items) => {
            for item in items {
                emit_flat(item, f);
            }
        }
        other => f(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vals(doc: &Value, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        FieldPath::dotted(path).for_each(doc, &mut |v| out.push(v.clone()));
        out
    }

    #[test]
    fn paths_with_the_same_segments_are_one_interned_path() {
        let a = FieldPath::dotted("process.parent.name");
        let b = FieldPath::new(vec![
            Segment::Key("process".into()),
            Segment::Key("parent".into()),
            Segment::Key("name".into()),
        ]);
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, b);
        let c = FieldPath::dotted("process.parent");
        let d = FieldPath::new(vec![
            Segment::Key("process".into()),
            Segment::Key("parent".into()),
            Segment::Index(0),
        ]);
        assert_ne!(a, c);
        assert_ne!(c, d);
        assert_eq!(d.segments().len(), 3);
    }

    #[test]
    fn nested_and_flat_keys_resolve_alike() {
        let nested = json!({"process": {"parent": {"name": "systemd"}}});
        let flat = json!({"process.parent.name": "systemd"});
        let mixed = json!({"process": {"parent.name": "systemd"}});
        for doc in [nested, flat, mixed] {
            assert_eq!(vals(&doc, "process.parent.name"), vec![json!("systemd")]);
        }
    }

    #[test]
    fn arrays_are_flattened() {
        let doc = json!({"event": {"type": ["start", ["x"]]}, "dns": {"answers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(vals(&doc, "event.type"), vec![json!("start"), json!("x")]);
        assert_eq!(vals(&doc, "dns.answers.name"), vec![json!("a"), json!("b")]);
        assert!(vals(&doc, "event.missing").is_empty());
    }

    #[test]
    fn index_selects_one_element() {
        let doc = json!({"process": {"args": ["python3", "-c", "x"]}});
        let p = FieldPath::new(vec![
            Segment::Key("process".into()),
            Segment::Key("args".into()),
            Segment::Index(1),
        ]);
        assert_eq!(p.first(&doc), Some(&json!("-c")));
    }

    fn idx(parts: &[&str]) -> FieldPath {
        FieldPath::new(
            parts
                .iter()
                .map(|p| match p.parse::<i64>() {
                    Ok(n) => Segment::Index(n),
                    Err(_) => Segment::Key(p.to_string()),
                })
                .collect(),
        )
    }

    fn at(doc: &Value, parts: &[&str]) -> Vec<Value> {
        let mut out = Vec::new();
        idx(parts).for_each(doc, &mut |v| out.push(v.clone()));
        out
    }

    #[test]
    fn dotted_keys_at_several_levels() {
        let doc = json!({"a.b": {"c.d": 1}});
        assert_eq!(vals(&doc, "a.b.c.d"), vec![json!(1)]);
        let doc = json!({"a": {"b.c": {"d": 1}}, "a.b": {"c": {"d": 2}}, "a.b.c.d": 3});
        // Every split is found; shorter first keys are tried first.
        assert_eq!(vals(&doc, "a.b.c.d"), vec![json!(1), json!(2), json!(3)]);
        let doc = json!({"a": {"b": {"c.d": 4}}});
        assert_eq!(vals(&doc, "a.b.c.d"), vec![json!(4)]);
        // A partial match does not leak: `a.b` is not `a.bc`.
        let doc = json!({"a.bc": 1, "a": {"bc": 2}});
        assert!(vals(&doc, "a.b").is_empty());
        // A dotted key inside an array of objects.
        let doc = json!({"dns": {"answers": [{"data.name": "x"}, {"data": {"name": "y"}}]}});
        assert_eq!(
            vals(&doc, "dns.answers.data.name"),
            vec![json!("x"), json!("y")]
        );
    }

    #[test]
    fn index_on_nested_arrays() {
        let doc = json!({"a": [[1, 2], [3]]});
        assert_eq!(at(&doc, &["a", "0"]), vec![json!(1), json!(2)]);
        assert_eq!(at(&doc, &["a", "0", "1"]), vec![json!(2)]);
        assert_eq!(at(&doc, &["a", "1", "0"]), vec![json!(3)]);
        assert!(at(&doc, &["a", "2"]).is_empty());
        assert!(at(&doc, &["a", "1", "1"]).is_empty());
        // Index then key: objects inside an array.
        let doc = json!({"a": [{"b": "x"}, {"b": "y"}]});
        assert_eq!(at(&doc, &["a", "1", "b"]), vec![json!("y")]);
        // Key through an array of objects, then index in each.
        let doc = json!({"a": [{"b": [1, 2]}, {"b": [3, 4]}]});
        assert_eq!(at(&doc, &["a", "b", "0"]), vec![json!(1), json!(3)]);
        // Index after a flat dotted key.
        let doc = json!({"process.args": ["sh", "-c"]});
        assert_eq!(at(&doc, &["process", "args", "1"]), vec![json!("-c")]);
    }

    #[test]
    fn index_on_a_scalar_is_the_scalar_at_zero() {
        let doc = json!({"event": {"category": "process"}, "n": null});
        assert_eq!(
            at(&doc, &["event", "category", "0"]),
            vec![json!("process")]
        );
        assert!(at(&doc, &["event", "category", "1"]).is_empty());
        assert!(at(&doc, &["n", "0"]).is_empty());
        let doc = json!({"a": {"b": 1}});
        assert_eq!(at(&doc, &["a", "0", "b"]), vec![json!(1)]);
    }

    #[test]
    fn negative_index_counts_from_the_end() {
        let doc = json!({"a": [1, 2, 3]});
        assert_eq!(at(&doc, &["a", "-1"]), vec![json!(3)]);
        assert_eq!(at(&doc, &["a", "-3"]), vec![json!(1)]);
        assert!(at(&doc, &["a", "-4"]).is_empty());
        assert!(at(&doc, &["a", &i64::MIN.to_string()]).is_empty());
        assert!(at(&json!({"a": 5}), &["a", "-1"]).is_empty());
    }

    #[test]
    fn nulls_are_kept() {
        let doc = json!({"a": [1, null, [null, 2]], "b": null, "c": [{"d": null}, {"d": 3}]});
        assert_eq!(
            vals(&doc, "a"),
            vec![json!(1), json!(null), json!(null), json!(2)]
        );
        assert_eq!(vals(&doc, "b"), vec![json!(null)]);
        assert!(vals(&doc, "b.x").is_empty());
        assert_eq!(vals(&doc, "c.d"), vec![json!(null), json!(3)]);
        assert_eq!(at(&doc, &["a", "1"]), vec![json!(null)]);
    }

    #[test]
    fn odd_paths_and_documents() {
        // Leaf objects are yielded whole; scalars have no children.
        let doc = json!({"a": {"b": 1}, "s": "x"});
        assert_eq!(vals(&doc, "a"), vec![json!({"b": 1})]);
        assert!(vals(&doc, "s.t").is_empty());
        // Empty key segments are ordinary keys.
        let doc = json!({"": {"x": 1}, "a": {"": 2}});
        assert_eq!(vals(&doc, ".x"), vec![json!(1)]);
        assert_eq!(vals(&doc, "a."), vec![json!(2)]);
        // An empty key joins with its dot: `.x` is not `x`.
        let doc = json!({"x": 1, ".x": 2});
        assert_eq!(vals(&doc, ".x"), vec![json!(2)]);
        // An empty path yields the document.
        let p = FieldPath::new(vec![]);
        assert_eq!(p.first(&doc), Some(&doc));
        // Empty arrays yield nothing; first() on a missing field is None.
        assert!(vals(&json!({"a": []}), "a").is_empty());
        assert_eq!(FieldPath::dotted("zz").first(&doc), None);
    }

    #[test]
    fn large_objects_resolve_like_small_ones() {
        // Small objects are scanned, large ones probed: same values, same order.
        let small = json!({"a": {"b.c": {"d": 1}}, "a.b": {"c": {"d": 2}}, "a.b.c.d": 3});
        let mut large = small.clone();
        for i in 0..(SCAN_MAX_KEYS + 5) {
            large[format!("filler{i}")] = json!(i);
            large["a"][format!("f{i}")] = json!(i);
        }
        assert_eq!(vals(&large, "a.b.c.d"), vec![json!(1), json!(2), json!(3)]);
        assert_eq!(vals(&large, "a.b.c.d"), vals(&small, "a.b.c.d"));
        // More splits than a scan tracks: falls back to probing, in order.
        let parts: Vec<String> = (0..9).map(|i| format!("k{i}")).collect();
        let long = parts.join(".");
        let doc = json!({ long.clone(): "flat", "k0": { parts[1..].join("."): "one" } });
        assert_eq!(vals(&doc, &long), vec![json!("one"), json!("flat")]);
    }

    #[test]
    fn deep_arrays_flatten_without_trouble() {
        // serde_json caps decoded nesting at 128; build one at that depth.
        let mut v = json!("leaf");
        for _ in 0..120 {
            v = Value::Array(vec![v]);
        }
        let doc = json!({ "a": v });
        assert_eq!(vals(&doc, "a"), vec![json!("leaf")]);
    }
}
