//! Field paths and their resolution against a JSON document.
//!
//! ECS documents write the same field either nested (`{"process": {"name":
//! …}}`) or as a flat dotted key (`{"process.name": …}`), and exports mix the
//! two. A path therefore matches every split of its keys into object levels.
//! Arrays are transparent: `dns.answers.name` over an array of answer objects
//! yields every answer's name, and a leaf array yields its elements (nested
//! arrays flattened), which is how Elasticsearch sees multi-valued fields.
//! An explicit index (`process.args[0]`) selects one element instead.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(i64),
}

/// A compiled field path. Dotted joins of consecutive keys are precomputed
/// so resolution allocates nothing per event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldPath {
    segments: Vec<Segment>,
    /// `joined[i][j]` is keys `i..=i+j` joined with dots, for runs of keys.
    joined: Vec<Vec<String>>,
}

impl FieldPath {
    pub fn new(segments: Vec<Segment>) -> Self {
        let mut joined = Vec::with_capacity(segments.len());
        for i in 0..segments.len() {
            let mut row = Vec::new();
            let mut acc = String::new();
            for seg in &segments[i..] {
                match seg {
                    Segment::Key(k) => {
                        if !acc.is_empty() {
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
        FieldPath { segments, joined }
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
        &self.segments
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
        if i == self.segments.len() {
            emit_flat(v, f);
            return;
        }
        match (&self.segments[i], v) {
            (Segment::Index(n), Value::Array(items)) => {
                let idx = if *n < 0 { items.len() as i64 + n } else { *n };
                if idx >= 0 {
                    if let Some(item) = items.get(idx as usize) {
                        self.walk(item, i + 1, f);
                    }
                }
            }
            (Segment::Index(_), _) => {}
            (Segment::Key(_), Value::Array(items)) => {
                for item in items {
                    self.walk(item, i, f);
                }
            }
            (Segment::Key(_), Value::Object(map)) => {
                for (j, key) in self.joined[i].iter().enumerate() {
                    if let Some(child) = map.get(key.as_str()) {
                        self.walk(child, i + j + 1, f);
                    }
                }
            }
            (Segment::Key(_), _) => {}
        }
    }
}

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
}
