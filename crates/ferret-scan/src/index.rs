//! Which events a rule sees.
//!
//! Kibana runs a rule against the indices its `index` patterns name. Events
//! read from files carry that information in `_index` (Elasticsearch dumps)
//! or in the data-stream fields, whose index name is
//! `<type>-<dataset>-<namespace>`. An event with neither is seen by every
//! rule, since there is nothing to scope it by.

use ferret_event::{Event, FieldPath, FieldValue, Value};
use std::sync::OnceLock;

/// The path an event's index is read from first, as a top-level key of the
/// document (a projection must keep it there, see
/// [`ferret_event::Projection::with_document_paths`]).
pub const INDEX_KEY: &str = "_index";

/// The index an event belongs to, if it says.
pub fn event_index(ev: &Event) -> Option<String> {
    let mut name = String::new();
    index_name(ev)?.pieces(|p| name.push_str(p));
    Some(name)
}

/// Where an event's index name comes from, borrowed from the event.
#[derive(Clone, Copy, Debug)]
pub(crate) enum IndexName<'a> {
    /// `_index`.
    Named(&'a str),
    /// `data_stream.type`, `.dataset` and `.namespace`, joined with `-`.
    DataStream([&'a str; 3]),
}

impl<'a> IndexName<'a> {
    /// Calls `f` with the pieces of the name, in order.
    pub(crate) fn pieces(self, mut f: impl FnMut(&'a str)) {
        match self {
            IndexName::Named(s) => f(s),
            IndexName::DataStream([ty, dataset, namespace]) => {
                for (i, part) in [ty, dataset, namespace].into_iter().enumerate() {
                    if i > 0 {
                        f("-");
                    }
                    f(part);
                }
            }
        }
    }
}

/// The index name of an event, if it says: `_index`, else all three
/// data-stream fields.
pub(crate) fn index_name(ev: &Event) -> Option<IndexName<'_>> {
    if let Some(Value::String(s)) = ev.doc.get(INDEX_KEY) {
        return Some(IndexName::Named(s));
    }
    static PATHS: OnceLock<[FieldPath; 3]> = OnceLock::new();
    let paths = PATHS.get_or_init(|| {
        [
            FieldPath::dotted("data_stream.type"),
            FieldPath::dotted("data_stream.dataset"),
            FieldPath::dotted("data_stream.namespace"),
        ]
    });
    let mut parts = [""; 3];
    for (part, p) in parts.iter_mut().zip(paths) {
        match ev.first(p) {
            Some(FieldValue::Str(s)) => *part = s,
            _ => return None,
        }
    }
    Some(IndexName::DataStream(parts))
}

/// A rule's index patterns: comma-separated or listed, `*` wildcards,
/// `-pattern` exclusions, and `cluster:pattern` remote prefixes (matched on
/// the local part, since files have no clusters).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IndexPatterns {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl IndexPatterns {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Self {
        let mut out = IndexPatterns::default();
        for raw in patterns {
            for p in raw.as_ref().split(',') {
                let p = p.trim();
                let p = p.rsplit_once(':').map_or(p, |(_, local)| local);
                if p.is_empty() {
                    continue;
                }
                match p.strip_prefix('-') {
                    Some(ex) => out.exclude.push(ex.to_string()),
                    None => out.include.push(p.to_string()),
                }
            }
        }
        out
    }

    /// No patterns at all: the rule sees every event.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty()
    }

    pub fn matches(&self, index: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| glob(p, index)))
            && !self.exclude.iter().any(|p| glob(p, index))
    }
}

/// `*`-only glob matching, linear time.
fn glob(pattern: &str, text: &str) -> bool {
    let Some((first, tail)) = pattern.split_once('*') else {
        return pattern == text; // no `*` at all: exact
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let (middle, last) = tail.rsplit_once('*').unwrap_or(("", tail));
    for part in middle.split('*').filter(|p| !p.is_empty()) {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn index_from_data_stream_or_underscore_index() {
        let ds = json!({"data_stream": {"type": "logs", "dataset": "endpoint.events.process", "namespace": "default"}});
        assert_eq!(
            event_index(&Event::new(ds, Default::default())).as_deref(),
            Some("logs-endpoint.events.process-default")
        );
        let flat = json!({"data_stream.type": "logs", "data_stream.dataset": "system.auth", "data_stream.namespace": "x"});
        assert_eq!(
            event_index(&Event::new(flat, Default::default())).as_deref(),
            Some("logs-system.auth-x")
        );
        let idx = json!({"_index": ".ds-logs-x-2026", "data_stream": {"type": "logs"}});
        assert_eq!(
            event_index(&Event::new(idx, Default::default())).as_deref(),
            Some(".ds-logs-x-2026")
        );
        assert_eq!(
            event_index(&Event::new(
                json!({"data_stream": {"type": "logs"}}),
                Default::default()
            )),
            None
        );
    }

    #[test]
    fn patterns() {
        let p = IndexPatterns::new(&["logs-endpoint.events.process*", "winlogbeat-*"]);
        assert!(p.matches("logs-endpoint.events.process-default"));
        assert!(p.matches("winlogbeat-8.1"));
        assert!(!p.matches("logs-endpoint.events.network-default"));
        let ex = IndexPatterns::new(&["logs-*,-logs-noisy-*", "remote:auditbeat-*"]);
        assert!(ex.matches("logs-system.auth-default"));
        assert!(!ex.matches("logs-noisy-x"));
        assert!(ex.matches("auditbeat-7"));
        assert!(
            glob("a*b*c", "aXbYc")
                && !glob("a*b*c", "aXbY")
                && glob("abc", "abc")
                && !glob("ab", "abc")
        );
        assert!(glob("*", "") && glob("a*a", "aa") && !glob("a*a", "a"));
    }
}
