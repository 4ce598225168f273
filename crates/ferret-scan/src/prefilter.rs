//! Which rules an event can concern, from the text it holds.
//!
//! Every rule's plan gives a necessary condition
//! ([`ferret_engine::Plan::necessary`]): needles, (field, text) pairs one of
//! which an event must hold to match any of the rule's filters. The
//! [`Prefilter`] gathers all rules' needles by field into one Aho-Corasick
//! automaton per field, runs each string value of each needle field of an
//! event through its automaton, and answers with the set of rules whose
//! needles hit plus the rules that have none. Rules outside that set cannot
//! match the event, so a scan need not push it to them.
//!
//! Values are resolved as the engine resolves them ([`Event::for_each`]);
//! matching is on case-folded text ([`ferret_engine::matching::fold`]),
//! ASCII values folded by the automaton itself.

use std::collections::HashMap;

use aho_corasick::{AhoCorasickBuilder, MatchKind};
use ferret_engine::matching::{fold, Automaton};
use ferret_engine::Necessary;
use ferret_event::{Event, FieldPath, FieldValue};
use rayon::prelude::*;

/// Rule candidates for events (see the module documentation).
pub struct Prefilter {
    fields: Vec<FieldMatcher>,
    /// Path id -> index in `fields` ([`NONE`] for a path without one).
    by_path: Vec<u32>,
    /// Rules without needles: candidates for every event.
    always: Candidates,
}

/// A set of rule indexes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidates(Vec<u64>);

impl Candidates {
    fn empty(rules: usize) -> Candidates {
        Candidates(vec![0; rules.div_ceil(64)])
    }

    #[inline]
    fn insert(&mut self, rule: u32) {
        self.0[rule as usize / 64] |= 1 << (rule % 64);
    }

    #[inline]
    pub fn contains(&self, rule: u32) -> bool {
        self.0[rule as usize / 64] & (1 << (rule % 64)) != 0
    }

    /// How many rules are in the set.
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

/// No field matcher (in [`Prefilter::by_path`]).
const NONE: u32 = u32::MAX;

struct FieldMatcher {
    path: FieldPath,
    automaton: Automaton,
    /// Per needle text (automaton pattern id): the rules it stands for.
    owners: Vec<Vec<u32>>,
}

impl Prefilter {
    /// A prefilter for rules whose necessary conditions are `rules`, in rule
    /// order.
    pub fn new(rules: &[Necessary]) -> Prefilter {
        let mut always = Candidates::empty(rules.len());
        // field -> needle text -> rules
        let mut by_field: Vec<(FieldPath, HashMap<&str, Vec<u32>>)> = Vec::new();
        for (i, nec) in rules.iter().enumerate() {
            let Necessary::AnyOf(needles) = nec else {
                always.insert(i as u32);
                continue;
            };
            for n in needles {
                let slot = match by_field.iter().position(|(p, _)| *p == n.path) {
                    Some(s) => s,
                    None => {
                        by_field.push((n.path.clone(), HashMap::new()));
                        by_field.len() - 1
                    }
                };
                let owners = by_field[slot].1.entry(n.text.as_str()).or_default();
                if owners.last() != Some(&(i as u32)) {
                    owners.push(i as u32);
                }
            }
        }
        // Building the automata is most of a scan's set-up time with a
        // thousand rules; fields are independent.
        let fields: Vec<FieldMatcher> = by_field
            .into_par_iter()
            .map(|(path, needles)| {
                let mut needles: Vec<(&str, Vec<u32>)> = needles.into_iter().collect();
                needles.sort_unstable();
                let automaton = Automaton::new(
                    AhoCorasickBuilder::new()
                        .ascii_case_insensitive(true)
                        .match_kind(MatchKind::Standard),
                    needles.iter().map(|(t, _)| t.as_bytes()),
                )
                .expect("needle sets are far below the automaton size limits");
                FieldMatcher {
                    path,
                    automaton,
                    owners: needles.into_iter().map(|(_, o)| o).collect(),
                }
            })
            .collect();
        let mut by_path = Vec::new();
        for (i, m) in fields.iter().enumerate() {
            let id = m.path.id() as usize;
            if by_path.len() <= id {
                by_path.resize(id + 1, NONE);
            }
            by_path[id] = i as u32;
        }
        Prefilter {
            fields,
            by_path,
            always,
        }
    }

    /// The rules `ev` can concern: those without needles and those with a
    /// needle the event holds.
    pub fn candidates(&self, ev: &Event) -> Candidates {
        let mut out = self.always.clone();
        // A tabled event: its filled fields, a few dozen, are visited rather
        // than every needle field looked up (a lookup each was a fifth of
        // this); the fields its table does not cover are resolved.
        if let Some(filled) = ev.filled_fields() {
            for (id, values) in filled {
                let Some(&m) = self.by_path.get(id as usize).filter(|&&m| m != NONE) else {
                    continue;
                };
                let m = &self.fields[m as usize];
                values.for_each(|v| m.scan(v, &mut out));
            }
            for m in self.fields.iter().filter(|m| !ev.table_covers(&m.path)) {
                ev.for_each(&m.path, &mut |v| m.scan(v, &mut out));
            }
            return out;
        }
        for m in &self.fields {
            ev.for_each(&m.path, &mut |v| m.scan(v, &mut out));
        }
        out
    }

    /// How many rules have no needles (every event is a candidate for them).
    pub fn always_len(&self) -> usize {
        self.always.len()
    }
}

impl FieldMatcher {
    /// Adds the rules of the needles a string value holds (other values
    /// hold none).
    fn scan(&self, v: FieldValue, out: &mut Candidates) {
        let FieldValue::Str(s) = v else {
            return;
        };
        let folded;
        let text = if s.is_ascii() {
            s
        } else {
            folded = fold(s);
            &folded
        };
        for hit in self.automaton.get().find_overlapping_iter(text) {
            for &r in &self.owners[hit.pattern().as_usize()] {
                out.insert(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_event::Value;
    use serde_json::json;

    fn on(field: &str, texts: &[&str]) -> Necessary {
        Necessary::contains_any(&FieldPath::dotted(field), texts.iter().copied())
    }

    fn rules_of(p: &Prefilter, doc: Value, n: u32) -> Vec<u32> {
        let c = p.candidates(&Event::new(doc, Default::default()));
        (0..n).filter(|&r| c.contains(r)).collect()
    }

    #[test]
    fn needles_select_rules_and_always_rules_stay() {
        let p = Prefilter::new(&[
            on("process.name", &["bash", "zsh"]),
            on("process.args", &["-enc"]),
            Necessary::Always,
            Necessary::never(),
            on("process.parent.name", &["Systemd"]),
        ]);
        assert_eq!(p.always_len(), 1);
        let doc = json!({"process": {"name": "/bin/BASH", "args": ["x", "-EncodedCommand"]}});
        assert_eq!(rules_of(&p, doc, 5), vec![0, 1, 2]);
        let flat = json!({"process.parent.name": "systemd", "process": {"name": 5}});
        assert_eq!(rules_of(&p, flat, 5), vec![2, 4]);
        let dotted_mid = json!({"process.parent": [{"name": "SYSTEMD"}]});
        assert_eq!(rules_of(&p, dotted_mid, 5), vec![2, 4]);
    }

    #[test]
    fn tabled_events_get_the_candidates_of_resolved_ones() {
        use ferret_event::Segment;
        use ferret_event::{Origin, Projection, RawRecord};
        use std::sync::Arc;
        // A key with a dot in it: a projection keeps such a path in the
        // document rather than in the table.
        let second_arg = FieldPath::new(vec![
            Segment::Key("process".into()),
            Segment::Key("x.y".into()),
        ]);
        let p = Prefilter::new(&[
            on("process.name", &["bash", "zsh"]),
            on("process.args", &["-enc"]),
            Necessary::Always,
            on("process.parent.name", &["Systemd"]),
            on("file.path", &["/etc/"]),
            Necessary::contains_any(&second_arg, ["-x"]),
        ]);
        let projection = Projection::new(&[
            FieldPath::dotted("process.name"),
            FieldPath::dotted("process.args"),
            FieldPath::dotted("process.parent.name"),
            FieldPath::dotted("file.path"),
            FieldPath::dotted("host.name"),
            second_arg.clone(),
        ]);
        let file: Arc<str> = Arc::from("t");
        for doc in [
            json!({"process": {"name": "zsh", "args": ["a", "-enc"], "parent": {"name": "systemd"}}}),
            json!({"process": {"args": ["-x"], "x.y": ["a", "-X"]}}),
            json!({"process": {"name": ["x", "BASH"]}, "file": {"path": "/etc/passwd"}, "host": {"name": "h"}}),
            json!({"process": {"args": []}, "host": {"name": "bash"}}),
            json!({}),
        ] {
            let text = doc.to_string();
            let ev = projection
                .decode(RawRecord {
                    file: &file,
                    origin: Origin::default(),
                    bytes: text.as_bytes(),
                })
                .unwrap();
            // A dotted key on a projected route leaves a record untabled.
            assert_eq!(ev.has_table(), !text.contains("x.y"));
            assert_eq!(
                p.candidates(&ev),
                p.candidates(&Event::new(doc.clone(), Default::default())),
                "{doc}"
            );
        }
        let ev = |doc: Value| {
            let text = doc.to_string();
            projection
                .decode(RawRecord {
                    file: &file,
                    origin: Origin::default(),
                    bytes: text.as_bytes(),
                })
                .unwrap()
        };
        let c = p.candidates(&ev(
            json!({"process": {"name": "zsh", "parent": {"name": "systemd"}}}),
        ));
        assert_eq!(
            (0..6).filter(|&r| c.contains(r)).collect::<Vec<_>>(),
            vec![0, 2, 3]
        );
        assert!(!ev(json!({})).table_covers(&second_arg));
        let c = p.candidates(&ev(json!({"process": {"args": ["-x"], "x.y": "-X"}})));
        assert_eq!(
            (0..6).filter(|&r| c.contains(r)).collect::<Vec<_>>(),
            vec![2, 5]
        );
    }

    #[test]
    fn non_ascii_values_are_folded() {
        let p = Prefilter::new(&[on("file.name", &["ÄRGER"])]);
        assert_eq!(
            rules_of(&p, json!({"file": {"name": "xärgerx"}}), 1),
            vec![0]
        );
        assert_eq!(
            rules_of(&p, json!({"file": {"name": "XÄRGERX"}}), 1),
            vec![0]
        );
        assert_eq!(
            rules_of(&p, json!({"file": {"name": "arger"}}), 1),
            Vec::<u32>::new()
        );
    }
}
