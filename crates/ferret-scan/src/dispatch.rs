//! Which rules an event can concern, by cheap facts read off the event: the
//! index it names, its `host.os.type` (behavior rules' OS lists) and the
//! string values of each category field the rules use.
//!
//! Events with the same facts concern the same rules, and a file has few
//! distinct combinations, so the rule list is computed once per
//! combination and cached. The facts are looked up borrowed from the event
//! (hashed and compared in place); an owned key is built only the first
//! time a combination is seen.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, OnceLock};

use ferret_event::{Event, FieldPath, Value};

use crate::compile::{Compiled, EventScope};
use crate::index::INDEX_KEY;

/// The facts, owned: `index` as [`crate::index::event_index`] gives it,
/// `os_type` lowercased, per category field its distinct string values,
/// sorted.
#[derive(Debug)]
struct Key {
    index: Option<String>,
    os_type: Option<String>,
    categories: Vec<Vec<String>>,
}

/// The same facts borrowed from one event.
struct KeyRef<'a> {
    index: IndexRef<'a>,
    os_type: Option<&'a str>,
    /// Per category field `f`, its values are `values[ends[f - 1]..ends[f]]`.
    values: Vec<&'a str>,
    ends: Vec<usize>,
}

/// Where an event's index name comes from (see [`crate::index`]).
enum IndexRef<'a> {
    /// `_index`.
    Named(&'a str),
    /// `data_stream.type`, `.dataset` and `.namespace`, joined with `-`.
    Parts([&'a str; 3]),
    None,
}

/// A combination of facts and the rules it concerns.
type Cached = (Key, Arc<[u32]>);

/// Rule lists per combination of facts, computed on first sight.
pub(crate) struct Dispatch {
    /// The distinct category fields of the rules.
    fields: Vec<FieldPath>,
    /// Per rule: its category field (index into `fields`) and the
    /// categories it can use (`None`: `any`, every event).
    rules: Vec<(usize, Option<Vec<String>>)>,
    /// By hash of the facts; colliding keys share a bucket.
    cache: HashMap<u64, Vec<Cached>>,
    cached: usize,
    hasher: std::hash::RandomState,
    /// Scratch for [`KeyRef::values`], reused across events.
    scratch: Vec<&'static str>,
}

/// Distinct keys cached before the cache is emptied (adversarial input with
/// a new `_index` on every line must not grow memory).
const CACHE_CAP: usize = 4096;

impl Dispatch {
    pub(crate) fn new(compiled: &Compiled) -> Self {
        let mut fields: Vec<FieldPath> = Vec::new();
        let rules = compiled
            .rules
            .iter()
            .map(|r| {
                let path = &r.plan.category_path;
                let i = match fields.iter().position(|f| f == path) {
                    Some(i) => i,
                    None => {
                        fields.push(path.clone());
                        fields.len() - 1
                    }
                };
                let cats = r
                    .plan
                    .categories()
                    .map(|cs| cs.into_iter().map(str::to_string).collect());
                (i, cats)
            })
            .collect();
        Dispatch {
            fields,
            rules,
            cache: HashMap::new(),
            cached: 0,
            hasher: std::hash::RandomState::new(),
            scratch: Vec::new(),
        }
    }

    /// The rules `ev` can concern, in rule order.
    pub(crate) fn rules_for(&mut self, compiled: &Compiled, ev: &Event) -> Arc<[u32]> {
        // The scratch vector outlives any one event; it is emptied before
        // this function returns, so no borrowed value escapes.
        let mut values = std::mem::take(&mut self.scratch);
        let list = {
            let key = self.key_of(ev, reuse(&mut values));
            let hash = self.hash(&key);
            let found = self
                .cache
                .get(&hash)
                .and_then(|bucket| bucket.iter().find(|(k, _)| key.is(k)))
                .map(|(_, list)| list.clone());
            let list = match found {
                Some(list) => list,
                None => self.insert(compiled, hash, key.to_owned()),
            };
            values = reuse(&mut { key.values });
            list
        };
        self.scratch = values;
        list
    }

    fn key_of<'a>(&self, ev: &'a Event, mut values: Vec<&'a str>) -> KeyRef<'a> {
        static PATHS: OnceLock<[FieldPath; 4]> = OnceLock::new();
        let [ty, dataset, namespace, os] = PATHS.get_or_init(|| {
            [
                FieldPath::dotted("data_stream.type"),
                FieldPath::dotted("data_stream.dataset"),
                FieldPath::dotted("data_stream.namespace"),
                FieldPath::dotted("host.os.type"),
            ]
        });
        let text = |p: &FieldPath| match ev.first(p) {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        };
        let index = match ev.doc.get(INDEX_KEY) {
            Some(Value::String(s)) => IndexRef::Named(s),
            _ => match (text(ty), text(dataset), text(namespace)) {
                (Some(a), Some(b), Some(c)) => IndexRef::Parts([a, b, c]),
                _ => IndexRef::None,
            },
        };
        let mut ends = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let start = values.len();
            ev.for_each(f, &mut |v| {
                if let Value::String(s) = v {
                    if !values[start..].contains(&s.as_str()) {
                        values.push(s);
                    }
                }
            });
            values[start..].sort_unstable();
            ends.push(values.len());
        }
        KeyRef {
            index,
            os_type: text(os),
            values,
            ends,
        }
    }

    /// A hash of the facts as the owned key holds them (index joined, OS
    /// lowercased), so a borrowed key and its owned copy hash alike.
    fn hash(&self, key: &KeyRef<'_>) -> u64 {
        let mut h = self.hasher.build_hasher();
        match &key.index {
            IndexRef::Named(s) => {
                h.write_u8(1);
                h.write(s.as_bytes());
            }
            IndexRef::Parts([a, b, c]) => {
                h.write_u8(1);
                h.write(a.as_bytes());
                h.write_u8(b'-');
                h.write(b.as_bytes());
                h.write_u8(b'-');
                h.write(c.as_bytes());
            }
            IndexRef::None => h.write_u8(0),
        }
        h.write_u8(0xff);
        match key.os_type {
            Some(os) => {
                h.write_u8(1);
                for b in os.bytes() {
                    h.write_u8(b.to_ascii_lowercase());
                }
            }
            None => h.write_u8(0),
        }
        h.write_u8(0xff);
        let mut start = 0;
        for &end in &key.ends {
            h.write_usize(end - start);
            for v in &key.values[start..end] {
                h.write(v.as_bytes());
                h.write_u8(0xff);
            }
            start = end;
        }
        h.finish()
    }

    fn insert(&mut self, compiled: &Compiled, hash: u64, key: Key) -> Arc<[u32]> {
        let scope = EventScope {
            index: key.index.clone(),
            os_type: key.os_type.clone(),
        };
        let list: Arc<[u32]> = compiled
            .rules
            .iter()
            .zip(&self.rules)
            .enumerate()
            .filter(|(_, (rule, (field, cats)))| {
                rule.scope.admits(&scope)
                    && match cats {
                        None => true,
                        Some(cats) => {
                            let have = &key.categories[*field];
                            cats.iter().any(|c| have.binary_search(c).is_ok())
                        }
                    }
            })
            .map(|(i, _)| i as u32)
            .collect();
        if self.cached >= CACHE_CAP {
            self.cache.clear();
            self.cached = 0;
        }
        self.cached += 1;
        self.cache
            .entry(hash)
            .or_default()
            .push((key, list.clone()));
        list
    }
}

/// An empty vector with `v`'s allocation, for borrows of another lifetime
/// (collecting an emptied vector's iterator into one of the same layout
/// keeps the allocation).
fn reuse<'b>(v: &mut Vec<&str>) -> Vec<&'b str> {
    v.clear();
    std::mem::take(v).into_iter().map(|_| "").collect()
}

impl KeyRef<'_> {
    /// Whether `key` holds the same facts.
    fn is(&self, key: &Key) -> bool {
        let index = match (&self.index, &key.index) {
            (IndexRef::Named(s), Some(k)) => s == k,
            (IndexRef::Parts([a, b, c]), Some(k)) => joined_is(k, [a, b, c]),
            (IndexRef::None, None) => true,
            _ => false,
        };
        let os = match (self.os_type, &key.os_type) {
            (Some(s), Some(k)) => s.eq_ignore_ascii_case(k),
            (None, None) => true,
            _ => false,
        };
        index
            && os
            && self.ends.len() == key.categories.len()
            && self
                .fields()
                .zip(&key.categories)
                .all(|(vs, ks)| vs.len() == ks.len() && vs.iter().zip(ks).all(|(v, k)| *v == k))
    }

    fn fields(&self) -> impl Iterator<Item = &[&str]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let vs = &self.values[start..end];
            start = end;
            vs
        })
    }

    fn to_owned(&self) -> Key {
        Key {
            index: match &self.index {
                IndexRef::Named(s) => Some(s.to_string()),
                IndexRef::Parts(parts) => Some(parts.join("-")),
                IndexRef::None => None,
            },
            os_type: self.os_type.map(str::to_ascii_lowercase),
            categories: self
                .fields()
                .map(|vs| vs.iter().map(|v| v.to_string()).collect())
                .collect(),
        }
    }
}

/// Whether `k` is `a-b-c`.
fn joined_is(k: &str, [a, b, c]: [&str; 3]) -> bool {
    k.len() == a.len() + b.len() + c.len() + 2
        && k.strip_prefix(a)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.strip_prefix(b))
            .and_then(|r| r.strip_prefix('-'))
            == Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{compile, CompileOptions};
    use ferret_event::Origin;
    use ferret_rules::{RuleFilter, RuleSet};
    use serde_json::json;

    fn rule(id: &str, query: &str, index: &str) -> String {
        format!(
            "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"{id}\"\nrule_id = \"{id}\"\n\
             risk_score = 21\nseverity = \"low\"\ntype = \"eql\"\nlanguage = \"eql\"\n{index}\n\
             query = '''\n{query}\n'''\n"
        )
    }

    fn compiled() -> Compiled {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            rule(
                "net-endpoint",
                "network where true",
                "index = [\"logs-endpoint.events.*\"]",
            ),
            rule("proc-any-index", "process where true", ""),
            rule(
                "any-system",
                "any where true",
                "index = [\"logs-system.*\"]",
            ),
            rule(
                "file-then-proc",
                "sequence [file where true] [process where true]",
                "",
            ),
        ];
        let mut paths = Vec::new();
        for (i, text) in files.iter().enumerate() {
            let p = dir.path().join(format!("r{i}.toml"));
            std::fs::write(&p, text).unwrap();
            paths.push(p);
        }
        // A behavior rule: scoped to Windows hosts.
        let p = dir.path().join("behavior.toml");
        std::fs::write(
            &p,
            "[rule]\nid = \"win-proc\"\nname = \"win-proc\"\ndescription = \"d\"\n\
             os_list = [\"windows\"]\nversion = \"1.0.0\"\nquery = '''\nprocess where true\n'''\n",
        )
        .unwrap();
        paths.push(p);
        let c = compile(
            RuleSet::load(&paths, &RuleFilter::default()),
            &CompileOptions::default(),
        );
        assert_eq!(c.rules.len(), 5, "{:?}", c.failed);
        c
    }

    /// The rules an event concerns, worked out directly.
    fn expected(c: &Compiled, ev: &Event) -> Vec<u32> {
        let scope = EventScope::of(ev);
        let cats: Vec<&Value> = ev.values(&FieldPath::dotted("event.category"));
        (0..c.rules.len() as u32)
            .filter(|&i| {
                let r = &c.rules[i as usize];
                r.scope.admits(&scope)
                    && r.plan.categories().is_none_or(|want| {
                        cats.iter()
                            .any(|v| v.as_str().is_some_and(|s| want.contains(&s)))
                    })
            })
            .collect()
    }

    fn events() -> Vec<Event> {
        let ds = |t: &str, d: &str, n: &str| json!({"type": t, "dataset": d, "namespace": n});
        [
            json!({"event": {"category": "network"}, "_index": "logs-endpoint.events.network-default"}),
            json!({"event": {"category": ["process", "network"]}, "data_stream": ds("logs", "endpoint.events.process", "default")}),
            json!({"event": {"category": ["network", "process", "network"]}, "data_stream": ds("logs", "endpoint.events.process", "default")}),
            json!({"event": {"category": "process"}, "data_stream": ds("logs", "system.auth", "default")}),
            // Joined alike ("logs-system-x-default"): one index name.
            json!({"event": {"category": "file"}, "data_stream": ds("logs-system", "x", "default")}),
            json!({"event": {"category": "file"}, "data_stream": ds("logs", "system-x", "default")}),
            // Part of the data-stream triple only: no index.
            json!({"event": {"category": "process"}, "data_stream": {"type": "logs"}}),
            json!({"event": {"category": "process"}, "host": {"os": {"type": "Windows"}}}),
            json!({"event": {"category": "process"}, "host": {"os": {"type": "windows"}}}),
            json!({"event": {"category": "process"}, "host": {"os": {"type": "linux"}}}),
            json!({"event": {"category": 7}}),
            json!({}),
        ]
        .into_iter()
        .map(|d| Event::new(d, Origin::default()))
        .collect()
    }

    #[test]
    fn cached_lists_equal_the_direct_answer() {
        let c = compiled();
        let mut dispatch = Dispatch::new(&c);
        let events = events();
        // Twice: first computed, then from the cache.
        for round in 0..2 {
            for (n, ev) in events.iter().enumerate() {
                assert_eq!(
                    &*dispatch.rules_for(&c, ev),
                    &expected(&c, ev)[..],
                    "round {round}, event {n}: {}",
                    ev.doc
                );
            }
        }
        // Joined-alike indexes, reordered categories, OS case, and no
        // string category at all share keys.
        assert_eq!(dispatch.cached, events.len() - 4);
    }

    #[test]
    fn borrowed_keys_equal_exactly_their_own_facts() {
        let c = compiled();
        let dispatch = Dispatch::new(&c);
        let events = events();
        let keys: Vec<KeyRef<'_>> = events
            .iter()
            .map(|ev| dispatch.key_of(ev, Vec::new()))
            .collect();
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate() {
                let same = a.is(&b.to_owned());
                assert_eq!(same, b.is(&a.to_owned()), "{i} {j}");
                if same {
                    assert_eq!(dispatch.hash(a), dispatch.hash(b), "{i} {j}");
                }
            }
            assert!(a.is(&a.to_owned()));
        }
        assert!(
            keys[1].is(&keys[2].to_owned()),
            "category order and repeats"
        );
        assert!(keys[4].is(&keys[5].to_owned()), "joined index names");
        assert!(keys[7].is(&keys[8].to_owned()), "OS type case");
        assert!(!keys[8].is(&keys[9].to_owned()));
        assert!(!keys[3].is(&keys[6].to_owned()));
    }

    #[test]
    fn reuse_keeps_the_allocation() {
        let text = String::from("x");
        let mut v: Vec<&str> = Vec::with_capacity(16);
        v.push(&text);
        let w: Vec<&'static str> = reuse(&mut v);
        assert!(w.is_empty());
        assert!(w.capacity() >= 16);
    }
}
