//! Which rules an event can concern, by cheap facts read off the event: the
//! index it names, its `host.os.type` (behavior rules' OS lists) and the
//! string values of each category field the rules use.
//!
//! Events with the same facts concern the same rules, and a file has few
//! distinct combinations, so the rule list is computed once per
//! combination and cached. The lookup key is the facts written as bytes
//! into a reused buffer; the rules are worked out from the event only the
//! first time its key is seen.

use std::collections::HashMap;
use std::sync::Arc;

use ferret_event::{Event, FieldPath, FieldValue};

use crate::compile::{os_type, Compiled, EventScope};
use crate::index::index_name;

/// Rule lists per combination of facts, computed on first sight.
pub(crate) struct Dispatch {
    /// The distinct category fields of the rules.
    fields: Vec<FieldPath>,
    /// Per rule: its category field (index into `fields`) and the
    /// categories it can use (`None`: `any`, every event).
    rules: Vec<(usize, Option<Vec<String>>)>,
    /// By key (see [`Dispatch::write_key`]).
    cache: HashMap<Box<[u8]>, Arc<[u32]>>,
    /// Scratch for the key and for one field's values, reused across events.
    key: Vec<u8>,
    values: Vec<&'static str>,
}

/// Distinct keys cached before the cache is emptied (adversarial input with
/// a new `_index` on every line must not grow memory).
const CACHE_CAP: usize = 4096;

/// Ends a part of a key. Neither byte occurs in UTF-8 text, so a key
/// decodes one way only.
const END: u8 = 0xff;
const NEXT: u8 = 0xfe;

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
            key: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The rules `ev` can concern, in rule order.
    pub(crate) fn rules_for(&mut self, compiled: &Compiled, ev: &Event) -> Arc<[u32]> {
        let mut key = std::mem::take(&mut self.key);
        self.write_key(ev, &mut key);
        let list = match self.cache.get(&key[..]) {
            Some(list) => list.clone(),
            None => {
                let list = self.work_out(compiled, ev);
                if self.cache.len() >= CACHE_CAP {
                    self.cache.clear();
                }
                self.cache.insert(key.as_slice().into(), list.clone());
                list
            }
        };
        self.key = key;
        list
    }

    /// Writes the facts of `ev` into `key`: the index name as
    /// [`crate::index::event_index`] gives it, the OS type lowercased, and
    /// per category field its distinct string values, sorted, so that
    /// events with equal keys concern the same rules.
    fn write_key(&mut self, ev: &Event, key: &mut Vec<u8>) {
        key.clear();
        match index_name(ev) {
            Some(name) => {
                key.push(1);
                name.pieces(|p| key.extend_from_slice(p.as_bytes()));
            }
            None => key.push(0),
        }
        key.push(END);
        match os_type(ev) {
            Some(os) => {
                key.push(1);
                key.extend(os.bytes().map(|b| b.to_ascii_lowercase()));
            }
            None => key.push(0),
        }
        key.push(END);
        // The values vector outlives any one event: it is emptied before
        // this function returns, so no borrow of `ev` escapes.
        let mut values = reuse(&mut self.values);
        for f in &self.fields {
            ev.for_each(f, &mut |v| {
                if let FieldValue::Str(s) = v {
                    if !values.contains(&s) {
                        values.push(s);
                    }
                }
            });
            values.sort_unstable();
            for v in values.drain(..) {
                key.extend_from_slice(v.as_bytes());
                key.push(NEXT);
            }
            key.push(END);
        }
        self.values = reuse(&mut values);
    }

    /// The rules an event concerns, worked out from its facts.
    fn work_out(&self, compiled: &Compiled, ev: &Event) -> Arc<[u32]> {
        let scope = EventScope::of(ev);
        let categories: Vec<Vec<&str>> = self
            .fields
            .iter()
            .map(|f| {
                ev.values(f)
                    .into_iter()
                    .filter_map(FieldValue::as_str)
                    .collect()
            })
            .collect();
        compiled
            .rules
            .iter()
            .zip(&self.rules)
            .enumerate()
            .filter(|(_, (rule, (field, cats)))| {
                rule.scope.admits(&scope)
                    && match cats {
                        None => true,
                        Some(cats) => cats
                            .iter()
                            .any(|c| categories[*field].contains(&c.as_str())),
                    }
            })
            .map(|(i, _)| i as u32)
            .collect()
    }
}

/// An empty vector with `v`'s allocation, for borrows of another lifetime
/// (collecting an emptied vector's iterator into one of the same layout
/// keeps the allocation).
fn reuse<'b>(v: &mut Vec<&str>) -> Vec<&'b str> {
    v.clear();
    std::mem::take(v).into_iter().map(|_| "").collect()
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
        let cats: Vec<FieldValue> = ev.values(&FieldPath::dotted("event.category"));
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
        assert_eq!(dispatch.cache.len(), events.len() - 4);
    }

    #[test]
    fn keys_are_equal_exactly_when_the_facts_are() {
        let c = compiled();
        let mut dispatch = Dispatch::new(&c);
        let keys: Vec<Vec<u8>> = events()
            .iter()
            .map(|ev| {
                let mut key = Vec::new();
                dispatch.write_key(ev, &mut key);
                key
            })
            .collect();
        let same = |i: usize, j: usize| keys[i] == keys[j];
        assert!(same(1, 2), "category order and repeats");
        assert!(same(4, 5), "joined index names");
        assert!(same(7, 8), "OS type case");
        assert!(same(10, 11), "no string category at all");
        let shared = [(1, 2), (4, 5), (7, 8), (10, 11)];
        for i in 0..keys.len() {
            for j in 0..keys.len() {
                if i != j && !shared.contains(&(i.min(j), i.max(j))) {
                    assert!(!same(i, j), "{i} {j}");
                }
            }
        }
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
