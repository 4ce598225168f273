//! Which rules an event can concern, from the text it holds.
//!
//! Every rule's plan gives a necessary condition
//! ([`ferret_engine::Plan::necessary`]): needles, (field, text) pairs one of
//! which an event must hold to match any of the rule's filters. The
//! [`Prefilter`] gathers all rules' needles by field into one Aho-Corasick
//! automaton per field, runs each string value of each needle field of an
//! event through its automaton, and answers with the set of rules whose
//! needles hit plus the rules that have none. A needle with an empty text
//! hits when its field has any value. Rules outside that set cannot match
//! the event, so a scan need not push it to them.
//!
//! Values are resolved as the engine resolves them ([`Event::for_each`]);
//! matching is on case-folded text ([`ferret_engine::matching::fold`]),
//! ASCII values folded by the automaton itself.
//!
//! Most values recur (process names, datasets, actions, executables), so
//! each thread remembers the rules of the values it has scanned, per field;
//! a field whose values rarely recur (unique command lines) stops being
//! remembered on that thread. The fields whose values an event's dispatch
//! key holds go further: they are split off ([`Prefilter::split_off`]) and
//! passed once per key, with the key's route (see the `dispatch` module).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasickBuilder, MatchKind};
use ferret_engine::matching::{fold, Automaton};
use ferret_engine::Necessary;
use ferret_event::table::TableLayout;
use ferret_event::{Event, FieldPath, FieldValue};

/// Rule candidates for events (see the module documentation).
pub struct Prefilter {
    /// Tells this prefilter's remembered values from another's.
    id: u64,
    fields: Vec<FieldMatcher>,
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

    /// `rules` as the set's nonzero words: (index, bits). Values in many
    /// rules' needles (`cmd.exe`, `powershell.exe`) are in hundreds of
    /// rules, which a remembered value then adds a word at a time.
    fn words_of(rules: &mut [u32]) -> RuleWords {
        rules.sort_unstable();
        let mut words: Vec<(u32, u64)> = Vec::new();
        for &r in rules.iter() {
            let (w, bit) = (r / 64, 1 << (r % 64));
            match words.last_mut() {
                Some((last, bits)) if *last == w => *bits |= bit,
                _ => words.push((w, bit)),
            }
        }
        words.into_boxed_slice()
    }

    /// Adds the rules of [`Candidates::words_of`].
    #[inline]
    fn add_words(&mut self, words: &[(u32, u64)]) {
        for &(w, bits) in words {
            self.0[w as usize] |= bits;
        }
    }

    /// The set's words: bit `i` of word `i / 64` for rule `i`.
    pub(crate) fn words(&self) -> &[u64] {
        &self.0
    }

    /// How many rules are in the set.
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

/// Rules as the nonzero words of a [`Candidates`]: (index, bits).
type RuleWords = Box<[(u32, u64)]>;

/// No field matcher (in [`LayoutPlan::matcher_of`]).
const NONE: u32 = u32::MAX;

/// Tells prefilters' remembered values apart ([`Prefilter::id`]).
fn next_id() -> u64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

struct FieldMatcher {
    path: FieldPath,
    /// Built from `needles` when a value of the field is first scanned:
    /// most of a thousand rules' needle fields never occur in a given
    /// input (cloud services' fields in endpoint telemetry, and the other
    /// way round), and building every field's up front was 5% of loading
    /// the corpus and scanning a thousand events.
    automaton: OnceLock<Automaton>,
    /// The needle texts, sorted (pattern id order).
    needles: Box<[Box<[u8]>]>,
    /// Per needle text (automaton pattern id): the rules it stands for.
    owners: Vec<Vec<u32>>,
    /// The rules any value of the field stands for (empty needles).
    present: RuleWords,
}

impl Prefilter {
    /// A prefilter for rules whose necessary conditions are `rules`, in rule
    /// order.
    pub fn new(rules: &[Necessary]) -> Prefilter {
        let mut always = Candidates::empty(rules.len());
        // field -> needle text -> rules (the empty text: the rules that
        // need the field to have a value)
        let mut by_field: Vec<(FieldPath, foldhash::HashMap<&str, Vec<u32>>)> = Vec::new();
        for (i, nec) in rules.iter().enumerate() {
            let Necessary::AnyOf(needles) = nec else {
                always.insert(i as u32);
                continue;
            };
            for n in needles {
                let slot = match by_field.iter().position(|(p, _)| *p == n.path) {
                    Some(s) => s,
                    None => {
                        by_field.push((n.path.clone(), foldhash::HashMap::default()));
                        by_field.len() - 1
                    }
                };
                let owners = by_field[slot].1.entry(n.text.as_str()).or_default();
                if owners.last() != Some(&(i as u32)) {
                    owners.push(i as u32);
                }
            }
        }
        let fields: Vec<FieldMatcher> = by_field
            .into_iter()
            .map(|(path, mut needles)| {
                let mut present = needles.remove("").unwrap_or_default();
                let mut needles: Vec<(&str, Vec<u32>)> = needles.into_iter().collect();
                needles.sort_unstable();
                FieldMatcher {
                    path,
                    automaton: OnceLock::new(),
                    needles: needles.iter().map(|(t, _)| t.as_bytes().into()).collect(),
                    owners: needles.into_iter().map(|(_, o)| o).collect(),
                    present: Candidates::words_of(&mut present),
                }
            })
            .collect();
        Prefilter {
            id: next_id(),
            fields,
            always,
        }
    }

    /// Moves the fields among `paths` into a prefilter of their own,
    /// without this one's rules of no needles: an event's candidates are
    /// then this prefilter's and that one's together. For fields whose
    /// values an event's dispatch key holds: their candidates are the
    /// same for every event of a key, so they are worked out once per key
    /// (by the dispatch, with the key's route) instead of per event.
    pub fn split_off(&mut self, paths: &[FieldPath]) -> Prefilter {
        let (moved, kept): (Vec<FieldMatcher>, Vec<FieldMatcher>) =
            std::mem::take(&mut self.fields)
                .into_iter()
                .partition(|m| paths.contains(&m.path));
        // Values are remembered by field index, per prefilter id: a new id
        // for the new fields.
        self.id = next_id();
        self.fields = kept;
        Prefilter {
            id: next_id(),
            fields: moved,
            always: Candidates(vec![0; self.always.0.len()]),
        }
    }

    /// The rules `ev` can concern: those without needles and those with a
    /// needle the event holds.
    pub fn candidates(&self, ev: &Event) -> Candidates {
        thread_local! {
            static SEEN: RefCell<Seen> = RefCell::default();
        }
        SEEN.with_borrow_mut(|seen| {
            if seen.prefilter != Some(self.id) {
                *seen = Seen {
                    prefilter: Some(self.id),
                    fields: (0..self.fields.len())
                        .map(|_| SeenField::default())
                        .collect(),
                    layout: None,
                };
            }
            self.candidates_with(ev, seen)
        })
    }

    fn candidates_with(&self, ev: &Event, seen: &mut Seen) -> Candidates {
        let mut out = self.always.clone();
        // A tabled event: its filled columns that have a matcher are
        // visited, a bitset `and` away, rather than every needle field looked
        // up (a lookup each was a fifth of this) or every filled column
        // (a few dozen, most without a matcher); the fields its table does
        // not cover are resolved.
        if let Some(table) = ev.table() {
            let layout = table.layout();
            if !seen
                .layout
                .as_ref()
                .is_some_and(|l| Arc::ptr_eq(&l.layout, layout))
            {
                seen.layout = Some(self.plan_for(layout));
            }
            let plan = seen.layout.as_ref().expect("set above");
            for (column, values) in table.filled_among(&plan.columns) {
                let m = plan.matcher_of[column as usize] as usize;
                let (seen, m) = (&mut seen.fields[m], &self.fields[m]);
                out.add_words(&m.present);
                values.for_each(|v| m.scan(v, seen, &mut out));
            }
            for &m in &plan.uncovered {
                let (seen, m) = (&mut seen.fields[m as usize], &self.fields[m as usize]);
                m.resolve(ev, seen, &mut out);
            }
            return out;
        }
        for (m, seen) in self.fields.iter().zip(&mut seen.fields) {
            m.resolve(ev, seen, &mut out);
        }
        out
    }

    /// Where the matchers' fields are in tables of `layout` (worked out
    /// once per layout, not field by field for every event).
    fn plan_for(&self, layout: &Arc<TableLayout>) -> LayoutPlan {
        let mut plan = LayoutPlan {
            layout: layout.clone(),
            columns: vec![0; (layout.columns() as usize).div_ceil(64)],
            matcher_of: vec![NONE; layout.columns() as usize],
            uncovered: Vec::new(),
        };
        for (m, matcher) in self.fields.iter().enumerate() {
            match layout.column(matcher.path.id()) {
                Some(c) => {
                    plan.columns[c as usize / 64] |= 1 << (c % 64);
                    plan.matcher_of[c as usize] = m as u32;
                }
                None => plan.uncovered.push(m as u32),
            }
        }
        plan
    }

    /// How many rules have no needles (every event is a candidate for them).
    pub fn always_len(&self) -> usize {
        self.always.len()
    }
}

/// One thread's remembered values of one prefilter's fields.
#[derive(Default)]
struct Seen {
    prefilter: Option<u64>,
    fields: Vec<SeenField>,
    /// Where the fields are in tables of the last tabled event's layout.
    layout: Option<LayoutPlan>,
}

/// Where a prefilter's fields are in the tables of one layout.
struct LayoutPlan {
    layout: Arc<TableLayout>,
    /// The columns of fields with a matcher, as a bitset.
    columns: Vec<u64>,
    /// By column: its field's matcher (index), or [`NONE`].
    matcher_of: Vec<u32>,
    /// The matchers of fields the layout does not cover.
    uncovered: Vec<u32>,
}

/// Values of one field scanned on one thread, with the rules each holds
/// needles of; `off` once the values seen did not recur enough.
#[derive(Default)]
struct SeenField {
    /// By value, its rules as [`Candidates::words_of`] (foldhash: the
    /// standard library's SipHash cost more than the lookups' other work).
    rules: foldhash::HashMap<Box<str>, RuleWords>,
    /// Bytes of the values in `rules`.
    bytes: usize,
    lookups: u32,
    misses: u32,
    off: bool,
}

/// Values remembered per field and thread, at most, and their bytes; then
/// they are forgotten and remembering starts over.
const SEEN_CAP: usize = 4096;
const SEEN_BYTES: usize = 256 << 10;

/// Longer values are searched every time (records may be megabytes).
const SEEN_LONGEST: usize = 1024;

/// Lookups after which a field's misses are counted: more than half, and
/// its values are no longer remembered on the thread.
const SEEN_WINDOW: u32 = 4096;

impl SeenField {
    /// Counts a lookup, and at the end of each window stops remembering
    /// if too few lookups found their value.
    fn looked_up(&mut self, found: bool) {
        self.lookups += 1;
        self.misses += u32::from(!found);
        if self.lookups >= SEEN_WINDOW {
            if self.misses * 2 > self.lookups {
                self.off = true;
                self.rules = Default::default();
                self.bytes = 0;
            }
            self.lookups = 0;
            self.misses = 0;
        }
    }

    /// Remembers `rules` for `value` (not too long a one).
    fn remember(&mut self, value: &str, rules: &mut [u32]) {
        if self.off || value.len() > SEEN_LONGEST {
            return;
        }
        if self.rules.len() >= SEEN_CAP || self.bytes + value.len() > SEEN_BYTES {
            self.rules.clear();
            self.bytes = 0;
        }
        self.bytes += value.len();
        self.rules.insert(value.into(), Candidates::words_of(rules));
    }
}

impl FieldMatcher {
    /// The field's automaton, built on first use.
    fn automaton(&self) -> &Automaton {
        self.automaton.get_or_init(|| {
            Automaton::new(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard),
                self.needles.iter(),
            )
            .expect("needle sets are far below the automaton size limits")
        })
    }

    /// Adds the rules of the field's values in `ev`, resolved.
    fn resolve(&self, ev: &Event, seen: &mut SeenField, out: &mut Candidates) {
        let mut any = false;
        ev.for_each(&self.path, &mut |v| {
            any = true;
            self.scan(v, seen, out);
        });
        if any {
            out.add_words(&self.present);
        }
    }

    /// Adds the rules of the needles a string value holds (other values
    /// hold none), remembered in `seen` or found by the automaton.
    fn scan(&self, v: FieldValue, seen: &mut SeenField, out: &mut Candidates) {
        let FieldValue::Str(s) = v else {
            return;
        };
        if self.owners.is_empty() {
            return;
        }
        if seen.off {
            self.search(s, |r| out.insert(r));
            return;
        }
        if let Some(words) = seen.rules.get(s) {
            out.add_words(words);
            seen.looked_up(true);
            return;
        }
        let mut rules = Vec::new();
        self.search(s, |r| {
            out.insert(r);
            rules.push(r);
        });
        seen.looked_up(false);
        seen.remember(s, &mut rules);
    }

    /// Calls `found` with the rules of each needle `s` holds.
    fn search(&self, s: &str, mut found: impl FnMut(u32)) {
        let folded;
        let text = if s.is_ascii() {
            s
        } else {
            folded = fold(s);
            &folded
        };
        for hit in self.automaton().get().find_overlapping_iter(text) {
            self.owners[hit.pattern().as_usize()]
                .iter()
                .for_each(|&r| found(r));
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

    /// `doc` decoded as a scan decodes it, through `projection`.
    fn projected(projection: &ferret_event::Projection, doc: &Value) -> Event {
        let text = doc.to_string();
        let file: std::sync::Arc<str> = std::sync::Arc::from("t");
        projection
            .decode(ferret_event::RawRecord {
                file: &file,
                origin: ferret_event::Origin::default(),
                bytes: text.as_bytes(),
            })
            .unwrap()
    }

    fn rules_of(p: &Prefilter, doc: Value, n: u32) -> Vec<u32> {
        let c = p.candidates(&Event::new(doc, Default::default()));
        (0..n).filter(|&r| c.contains(r)).collect()
    }

    /// A field's automaton is built when a value of it is first scanned,
    /// not before: fields the input never holds cost nothing.
    #[test]
    fn automata_are_built_for_the_fields_events_hold() {
        let p = Prefilter::new(&[
            on("process.name", &["bash"]),
            on("aws.cloudtrail.event_name", &["GetSessionToken"]),
        ]);
        let built = |p: &Prefilter| -> Vec<FieldPath> {
            p.fields
                .iter()
                .filter(|f| f.automaton.get().is_some())
                .map(|f| f.path.clone())
                .collect()
        };
        assert!(built(&p).is_empty());
        assert_eq!(
            rules_of(&p, json!({"process": {"name": "bash"}}), 2),
            vec![0]
        );
        assert_eq!(built(&p), vec![FieldPath::dotted("process.name")]);
        let cloud = json!({"aws": {"cloudtrail": {"event_name": "GetSessionToken"}}});
        assert_eq!(rules_of(&p, cloud, 2), vec![1]);
        assert_eq!(built(&p).len(), 2);
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
    fn a_split_off_part_and_the_rest_find_the_candidates_of_the_whole() {
        let rules = [
            on("process.name", &["bash", "zsh"]),
            on("process.args", &["-enc"]),
            Necessary::Always,
            on("event.action", &["exec", "fork"]),
            Necessary::present(&FieldPath::dotted("event.action")),
            on("process.name", &["python"]),
        ];
        let whole = Prefilter::new(&rules);
        let mut rest = Prefilter::new(&rules);
        let part = rest.split_off(&[
            FieldPath::dotted("event.action"),
            FieldPath::dotted("process.name"),
        ]);
        assert_eq!((rest.fields.len(), part.fields.len()), (1, 2));
        assert_eq!((rest.always_len(), part.always_len()), (1, 0));
        for (doc, in_part) in [
            (
                json!({"process": {"name": "zsh", "args": ["-enc"]}, "event": {"action": "exec"}}),
                vec![0, 3, 4],
            ),
            (
                json!({"process": {"name": "python3"}, "event": {"action": 7}}),
                vec![4, 5],
            ),
            (json!({"process": {"args": ["-ENC"]}}), vec![]),
            (json!({}), vec![]),
        ] {
            let ev = Event::new(doc.clone(), Default::default());
            let (r, p) = (rest.candidates(&ev), part.candidates(&ev));
            assert_eq!(
                (0..6).filter(|&i| p.contains(i)).collect::<Vec<_>>(),
                in_part
            );
            let together: Vec<u64> = r
                .words()
                .iter()
                .zip(p.words())
                .map(|(a, b)| a | b)
                .collect();
            assert_eq!(together, whole.candidates(&ev).words(), "{doc}");
        }
    }

    #[test]
    fn tabled_events_get_the_candidates_of_resolved_ones() {
        use ferret_event::{Projection, Segment};
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
        for doc in [
            json!({"process": {"name": "zsh", "args": ["a", "-enc"], "parent": {"name": "systemd"}}}),
            json!({"process": {"args": ["-x"], "x.y": ["a", "-X"]}}),
            json!({"process": {"name": ["x", "BASH"]}, "file": {"path": "/etc/passwd"}, "host": {"name": "h"}}),
            json!({"process": {"args": []}, "host": {"name": "bash"}}),
            json!({}),
        ] {
            let ev = projected(&projection, &doc);
            // A dotted key on a projected route leaves a record untabled.
            assert_eq!(ev.has_table(), !doc.to_string().contains("x.y"));
            assert_eq!(
                p.candidates(&ev),
                p.candidates(&Event::new(doc.clone(), Default::default())),
                "{doc}"
            );
        }
        let ev = |doc: Value| projected(&projection, &doc);
        let c = p.candidates(&ev(
            json!({"process": {"name": "zsh", "parent": {"name": "systemd"}}}),
        ));
        assert_eq!(
            (0..6).filter(|&r| c.contains(r)).collect::<Vec<_>>(),
            vec![0, 2, 3]
        );
        assert!(!ev(json!({}))
            .table()
            .is_some_and(|t| t.covers(second_arg.id())));
        let c = p.candidates(&ev(json!({"process": {"args": ["-x"], "x.y": "-X"}})));
        assert_eq!(
            (0..6).filter(|&r| c.contains(r)).collect::<Vec<_>>(),
            vec![2, 5]
        );
    }

    /// A rule needing a field to have a value (an empty needle) is offered
    /// the events with any value there, whatever its type, read from the
    /// table or resolved, and no others.
    #[test]
    fn presence_needles_select_events_with_the_field() {
        let present = |f: &str| Necessary::present(&FieldPath::dotted(f));
        let p = Prefilter::new(&[
            present("problemchild.prediction"),
            present("process.args_count").or(on("process.name", &["bash"])),
            on("process.name", &["zsh"]),
        ]);
        let cases = [
            (json!({"problemchild": {"prediction": 1}}), vec![0]),
            (json!({"problemchild.prediction": [0.5]}), vec![0]),
            (
                json!({"problemchild": {"prediction": "x"}, "process": {"name": "zsh"}}),
                vec![0, 2],
            ),
            (json!({"process": {"args_count": 2, "name": "sh"}}), vec![1]),
            (json!({"process": {"name": "/bin/bash"}}), vec![1]),
            (
                json!({"process": {"name": "sh"}, "problemchild": {}}),
                vec![],
            ),
        ];
        let projection = ferret_event::Projection::new(&[
            FieldPath::dotted("process.name"),
            FieldPath::dotted("process.args_count"),
            FieldPath::dotted("problemchild.prediction"),
        ]);
        for (doc, want) in cases {
            assert_eq!(rules_of(&p, doc.clone(), 3), want, "{doc}");
            let ev = projected(&projection, &doc);
            let c = p.candidates(&ev);
            let projected: Vec<u32> = (0..3).filter(|&r| c.contains(r)).collect();
            assert_eq!(projected, want, "{doc} projected");
        }
    }

    /// A remembered value adds the same rules as its first search, across
    /// words of the rule set.
    #[test]
    fn remembered_values_give_the_rules_found() {
        let wanted = [0, 1, 63, 64, 65, 127, 128, 190, 199];
        let rules: Vec<Necessary> = (0..200)
            .map(|r| {
                let text = if wanted.contains(&r) { "bash" } else { "zsh" };
                on("process.name", &[text])
            })
            .collect();
        let p = Prefilter::new(&rules);
        for _ in 0..3 {
            let found = rules_of(&p, json!({"process": {"name": "/bin/bash"}}), 200);
            assert_eq!(found, wanted);
        }
    }

    /// Events of tables of different layouts on one thread: the fields
    /// each layout leaves out are its own, not the last layout's.
    #[test]
    fn each_table_layout_has_its_own_uncovered_fields() {
        use ferret_event::{Projection, Segment};
        let p = Prefilter::new(&[on("process.name", &["bash"]), on("process.args", &["-enc"])]);
        let doc = json!({"process": {"name": "bash", "args": ["-enc"]}});
        let name = FieldPath::dotted("process.name");
        let args = FieldPath::dotted("process.args");
        // An indexed path keeps `process.args` whole in the document: the
        // table does not cover it.
        let first_arg = FieldPath::new(vec![
            Segment::Key("process".into()),
            Segment::Key("args".into()),
            Segment::Index(0),
        ]);
        let tabled = Projection::new(&[name.clone(), args]);
        let untabled = Projection::new(&[name, first_arg]);
        for projection in [&tabled, &untabled, &tabled, &untabled] {
            let ev = projected(projection, &doc);
            assert!(ev.has_table());
            let c = p.candidates(&ev);
            assert_eq!((0..2).filter(|&r| c.contains(r)).count(), 2);
        }
    }

    /// [`rules_of`] for the event as a scan decodes it (tabled), and as
    /// read in full: both, checked equal.
    fn rules_both_ways(p: &Prefilter, doc: Value, n: u32) -> Vec<u32> {
        let projection = ferret_event::Projection::new(&[
            FieldPath::dotted("process.name"),
            FieldPath::dotted("process.parent.name"),
            FieldPath::dotted("process.args"),
        ]);
        let ev = projected(&projection, &doc);
        assert!(ev.has_table());
        let c = p.candidates(&ev);
        let tabled: Vec<u32> = (0..n).filter(|&r| c.contains(r)).collect();
        assert_eq!(tabled, rules_of(p, doc, n));
        tabled
    }

    #[test]
    fn remembered_values_give_the_rules_found_first() {
        let p = Prefilter::new(&[
            on("process.name", &["bash"]),
            on("process.parent.name", &["zsh"]),
            on("process.args", &["-c"]),
        ]);
        // One value in two fields: each field's own needles, every time.
        for _ in 0..3 {
            let both = json!({"process": {"name": "bash zsh", "parent": {"name": "bash zsh"}}});
            assert_eq!(rules_both_ways(&p, both, 3), vec![0, 1]);
            let swapped = json!({"process": {"name": "zsh", "parent": {"name": "bash"}}});
            assert_eq!(rules_both_ways(&p, swapped, 3), Vec::<u32>::new());
        }
        // Another prefilter on this thread: its own rules for those values.
        let q = Prefilter::new(&[on("process.name", &["nope"]), on("process.name", &["zsh"])]);
        let both = json!({"process": {"name": "bash zsh"}});
        assert_eq!(rules_both_ways(&q, both, 2), vec![1]);
        let bash = json!({"process": {"name": "bash"}});
        assert_eq!(rules_both_ways(&q, bash, 2), Vec::<u32>::new());
        // Values that never recur, past the point where they are no longer
        // remembered: the same candidates.
        for i in 0..2 * SEEN_WINDOW + 10 {
            let (arg, rules) = if i % 3 == 0 {
                (format!("-c {i}"), vec![2])
            } else {
                (format!("x{i}"), vec![])
            };
            assert_eq!(
                rules_both_ways(&p, json!({"process": {"args": [arg]}}), 3),
                rules
            );
        }
    }

    #[test]
    fn fields_whose_values_rarely_recur_are_not_remembered() {
        let mut recurring = SeenField::default();
        let mut unique = SeenField::default();
        let mut long = SeenField::default();
        for i in 0..SEEN_WINDOW * 2 {
            // Three lookups in four find their value.
            recurring.looked_up(i % 4 != 0);
            if i % 4 == 0 {
                recurring.remember(&format!("v{}", i % 64), &mut [1]);
            }
            unique.looked_up(false);
            unique.remember(&format!("v{i}"), &mut [1]);
            long.remember(&format!("{i:0>1025}"), &mut [1]);
            long.remember(&format!("{i:0>900}"), &mut [1]);
        }
        assert!(!recurring.off && !recurring.rules.is_empty());
        assert!(unique.off && unique.rules.is_empty());
        // Values past the length limit are never remembered, and those
        // remembered stay within the byte budget.
        assert!(long.rules.keys().all(|k| k.len() == 900));
        assert!(long.bytes <= SEEN_BYTES && long.bytes == 900 * long.rules.len());
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
