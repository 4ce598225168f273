//! Ruling records out before decoding them, from their raw text.
//!
//! When every loaded rule has a [`Screen`] (text its matches' records must
//! hold, [`ferret_engine::Plan::screen`]), a record whose text holds none of
//! what the rules' screens need can concern no rule: a scan decodes it
//! quietly (only what reading itself checks: its syntax and its time) and
//! offers it to no rule. With one rule or a few, most records go that way;
//! searching a record for a few byte strings costs a fraction of decoding it.
//!
//! A screen's tests are ordered by what the first batch of records shows:
//! an `and` tests first the operand likeliest to fail for its cost, an `or`
//! the one likeliest to hold. Order changes only speed: each test is a pure
//! function of the record.
//!
//! Screens hold for records in canonical JSON, and case-insensitive ones for
//! ASCII records (see [`ferret_engine::screen`]); a record the screen would
//! rule out but that is neither is decoded in full after all.

use std::borrow::Borrow;
use std::collections::HashMap;

use ferret_engine::{RawText, Screen};
use ferret_event::{RawBatch, RawItem};
use memchr::memmem;

/// A screen over all loaded rules (see the module documentation).
pub struct RecordScreen {
    texts: Vec<Text>,
    root: Node,
}

struct Text {
    finder: memmem::Finder<'static>,
    ci: bool,
}

impl Text {
    /// Whether `record` holds the text; a case-insensitive text is looked
    /// for in the record in lower case, which `lower` gives.
    #[inline]
    fn found_in<'r>(&self, record: &'r [u8], lower: impl FnOnce() -> &'r [u8]) -> bool {
        if self.ci {
            self.finder.find(lower()).is_some()
        } else {
            self.finder.find(record).is_some()
        }
    }
}

#[derive(Clone, Debug)]
enum Node {
    Text(usize),
    All(Vec<Node>),
    Any(Vec<Node>),
}

/// Per-thread state of [`RecordScreen::may_concern`]: which texts were
/// searched for in the current record and found, and the record in lower
/// case for case-insensitive texts.
#[derive(Default)]
pub struct ScreenScratch {
    searched: Vec<u64>,
    found: Vec<u64>,
    lower: Vec<u8>,
    lowered: bool,
}

/// Records a screen's tests are ordered by (see [`RecordScreen::for_batch`]).
const SAMPLE: usize = 2_000;

/// At most this many distinct texts, or no screen: each costs a search.
const MAX_TEXTS: usize = 256;

/// A screen that lets more than this share of the sample through is not
/// worth its searches.
const MAX_PASS_RATE: f64 = 0.5;

/// The screens of some rules over their texts, numbered: what
/// [`RecordScreen::new`] orders by a sample.
#[derive(Debug)]
pub struct ScreenSet {
    texts: Vec<RawText>,
    root: Node,
}

impl ScreenSet {
    /// The set of `screens`, taken in order; `None` as soon as one lets
    /// every record through or the texts pass [`MAX_TEXTS`], and the
    /// screens after it are not taken: an iterator working them out as it
    /// goes stops there (with a thousand rules, after a few dozen; working
    /// out every rule's screen regardless was 1.5% of loading the corpus
    /// and scanning a thousand events).
    pub fn of<S: Borrow<Screen>>(screens: impl IntoIterator<Item = S>) -> Option<ScreenSet> {
        let mut numbers: HashMap<RawText, usize> = HashMap::new();
        let mut parts = Vec::new();
        for screen in screens {
            parts.push(node_of(screen.borrow(), &mut numbers)?);
        }
        let mut texts: Vec<Option<RawText>> = vec![None; numbers.len()];
        for (t, i) in numbers {
            texts[i] = Some(t);
        }
        Some(ScreenSet {
            texts: texts.into_iter().flatten().collect(),
            root: Node::Any(parts),
        })
    }
}

impl RecordScreen {
    /// The screen for rules whose screens are `set`, its tests ordered by
    /// how they fare on `sample` (records' texts); `None` (unless `always`)
    /// when the sample shows it would rule out too few records.
    pub fn new(set: &ScreenSet, sample: &[&[u8]], always: bool) -> Option<RecordScreen> {
        let ranks = SampleRank::of(sample);
        let texts: Vec<Text> = set
            .texts
            .iter()
            .map(|t| Text {
                finder: memmem::FinderBuilder::new()
                    .build_forward_with_ranker(&ranks, &t.bytes)
                    .into_owned(),
                ci: t.ci,
            })
            .collect();
        // Share of the sample holding each text (each record lowered once,
        // if any text needs it).
        let lowered: Vec<Vec<u8>> = if texts.iter().any(|t| t.ci) {
            sample.iter().map(|rec| rec.to_ascii_lowercase()).collect()
        } else {
            Vec::new()
        };
        let rates: Vec<f64> = texts
            .iter()
            .map(|t| {
                let hits = (0..sample.len())
                    .filter(|&n| t.found_in(sample[n], || &lowered[n]))
                    .count();
                (hits as f64 + 0.5) / (sample.len() as f64 + 1.0)
            })
            .collect();
        let (root, pass, _) = order(set.root.clone(), &rates);
        (always || pass <= MAX_PASS_RATE).then_some(RecordScreen { texts, root })
    }

    /// [`RecordScreen::new`] with the first records of `batch` (the first
    /// batch of a scan) as the sample.
    pub fn for_batch(set: &ScreenSet, batch: &RawBatch, always: bool) -> Option<RecordScreen> {
        let sample: Vec<&[u8]> = batch
            .iter()
            .filter_map(|item| match item {
                RawItem::Record(r) => Some(r.bytes),
                RawItem::Skip(_) => None,
            })
            .take(SAMPLE)
            .collect();
        RecordScreen::new(set, &sample, always)
    }

    /// False only if the record (its JSON text) can concern no rule.
    pub fn may_concern(&self, record: &[u8], scratch: &mut ScreenScratch) -> bool {
        let words = self.texts.len().div_ceil(64);
        scratch.searched.clear();
        scratch.searched.resize(words, 0);
        scratch.found.clear();
        scratch.found.resize(words, 0);
        scratch.lowered = false;
        if self.eval(&self.root, record, scratch) {
            return true;
        }
        // Ruled out: sound only for canonical text, and for ASCII text when
        // a case-insensitive search ruled it out.
        !canonical_escapes(record) || (scratch.lowered && !record.is_ascii())
    }

    fn eval(&self, node: &Node, record: &[u8], scratch: &mut ScreenScratch) -> bool {
        match node {
            Node::Text(i) => {
                let (w, bit) = (i / 64, 1u64 << (i % 64));
                if scratch.searched[w] & bit == 0 {
                    let hit = self.texts[*i].found_in(record, || {
                        if !scratch.lowered {
                            scratch.lower.clear();
                            scratch
                                .lower
                                .extend(record.iter().map(u8::to_ascii_lowercase));
                            scratch.lowered = true;
                        }
                        &scratch.lower
                    });
                    scratch.searched[w] |= bit;
                    if hit {
                        scratch.found[w] |= bit;
                    }
                }
                scratch.found[w] & bit != 0
            }
            Node::All(all) => all.iter().all(|n| self.eval(n, record, scratch)),
            Node::Any(any) => any.iter().any(|n| self.eval(n, record, scratch)),
        }
    }
}

/// How common each byte is in the sample, for the searches' choice of the
/// bytes they look for first: memchr's default ranks bytes as in ordinary
/// text, where `"` is rare; in JSON it is among the commonest.
struct SampleRank([u8; 256]);

impl SampleRank {
    fn of(sample: &[&[u8]]) -> SampleRank {
        let mut counts = [0u64; 256];
        for rec in sample {
            for &b in rec.iter() {
                counts[usize::from(b)] += 1;
            }
        }
        let most = counts.iter().copied().max().unwrap_or(0).max(1);
        SampleRank(counts.map(|n| (n * 255 / most) as u8))
    }
}

impl memchr::arch::all::packedpair::HeuristicFrequencyRank for &SampleRank {
    fn rank(&self, byte: u8) -> u8 {
        self.0[usize::from(byte)]
    }
}

/// `screen` as a node over numbered texts (`numbers` gains the new ones);
/// `None` for a screen that lets everything through or once there are more
/// than [`MAX_TEXTS`] texts.
fn node_of(screen: &Screen, numbers: &mut HashMap<RawText, usize>) -> Option<Node> {
    Some(match screen {
        Screen::Always => return None,
        // An `or` of nothing: holds for no record.
        Screen::Never => Node::Any(Vec::new()),
        Screen::Text(t) => {
            let n = match numbers.get(t) {
                Some(&n) => n,
                None => {
                    let n = numbers.len();
                    numbers.insert(t.clone(), n);
                    n
                }
            };
            if numbers.len() > MAX_TEXTS {
                return None;
            }
            Node::Text(n)
        }
        Screen::All(all) => Node::All(
            all.iter()
                .map(|s| node_of(s, numbers))
                .collect::<Option<_>>()?,
        ),
        Screen::Any(any) => Node::Any(
            any.iter()
                .map(|s| node_of(s, numbers))
                .collect::<Option<_>>()?,
        ),
    })
}

/// Orders a node's operands for speed, given each text's rate of
/// occurrence, taking operands as independent: an `and` by cost over the
/// chance to fail, an `or` by cost over the chance to hold (each order
/// minimises the expected cost of its searches). Returns the node, its
/// chance to hold and its expected cost in searches.
fn order(node: Node, rates: &[f64]) -> (Node, f64, f64) {
    match node {
        Node::Text(i) => (Node::Text(i), rates[i], 1.0),
        Node::All(all) => {
            let mut parts: Vec<_> = all.into_iter().map(|n| order(n, rates)).collect();
            parts.sort_by(|a, b| {
                (a.2 / (1.0 - a.1).max(1e-9)).total_cmp(&(b.2 / (1.0 - b.1).max(1e-9)))
            });
            let (mut pass, mut cost) = (1.0, 0.0);
            for (_, p, c) in &parts {
                cost += pass * c;
                pass *= p;
            }
            (
                Node::All(parts.into_iter().map(|p| p.0).collect()),
                pass,
                cost,
            )
        }
        Node::Any(any) => {
            let mut parts: Vec<_> = any.into_iter().map(|n| order(n, rates)).collect();
            parts.sort_by(|a, b| (a.2 / a.1.max(1e-9)).total_cmp(&(b.2 / b.1.max(1e-9))));
            let (mut fail, mut cost) = (1.0, 0.0);
            for (_, p, c) in &parts {
                cost += fail * c;
                fail *= 1.0 - p;
            }
            (
                Node::Any(parts.into_iter().map(|p| p.0).collect()),
                1.0 - fail,
                cost,
            )
        }
    }
}

/// Whether every escape in `record` is one serde_json writes itself, so that
/// a string's text is spelt one way only: no `\u` escape (serde_json writes
/// those only for control characters, which screens never hold) and no
/// `\/`.
fn canonical_escapes(record: &[u8]) -> bool {
    let mut at = 0;
    while let Some(p) = memchr::memchr(b'\\', &record[at..]) {
        let escape = at + p;
        match record.get(escape + 1) {
            Some(b'u' | b'/') => return false,
            _ => at = escape + 2,
        }
        if at >= record.len() {
            break;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str, ci: bool) -> Screen {
        Screen::literal(s, true, true, ci)
    }

    /// The record screen of rules whose screens are `rules`.
    fn record_screen(rules: &[Screen], sample: &[&[u8]], always: bool) -> Option<RecordScreen> {
        RecordScreen::new(&ScreenSet::of(rules)?, sample, always)
    }

    fn screen(rules: &[Screen]) -> RecordScreen {
        // A sample holding none of the texts: the screen is worth keeping.
        let sample: Vec<&[u8]> = vec![b"{}"; 10];
        record_screen(rules, &sample, false).expect("screenable")
    }

    fn concerns(s: &RecordScreen, record: &str) -> bool {
        s.may_concern(record.as_bytes(), &mut ScreenScratch::default())
    }

    /// Screens are taken rule by rule only while a record screen could use
    /// them: the rules after the first unscreenable one, or after the texts
    /// pass the limit, are not asked for theirs.
    #[test]
    fn screens_are_worked_out_only_while_usable() {
        let asked = std::cell::Cell::new(0);
        let set_of = |screens: &[Screen]| {
            asked.set(0);
            ScreenSet::of(screens.iter().map(|s| {
                asked.set(asked.get() + 1);
                s.clone()
            }))
        };
        let texts: Vec<Screen> = (0..MAX_TEXTS + 10)
            .map(|i| lit(&format!("t{i}"), false))
            .collect();
        // Repeated texts count once.
        let repeated = vec![lit("same", false).or(lit("more", true)); MAX_TEXTS + 10];
        let set = set_of(&repeated).expect("two texts");
        assert_eq!((set.texts.len(), asked.get()), (2, MAX_TEXTS + 10));
        let set = set_of(&texts[..MAX_TEXTS]).expect("as many texts as searched for");
        assert_eq!((set.texts.len(), asked.get()), (MAX_TEXTS, MAX_TEXTS));
        assert!(set_of(&texts).is_none());
        assert_eq!(
            asked.get(),
            MAX_TEXTS + 1,
            "stops at the first text past the limit"
        );
        let with_always = [lit("a", false), Screen::Always, lit("b", false)];
        assert!(set_of(&with_always).is_none());
        assert_eq!(
            asked.get(),
            2,
            "stops at the first rule that cannot be screened"
        );
    }

    #[test]
    fn records_without_the_needed_text_are_ruled_out() {
        let rule = lit("exec", false).and(lit("systemd", false).or(lit("init", false)));
        let s = screen(&[rule, lit("connection_attempted", false)]);
        assert!(concerns(&s, r#"{"a":"exec","p":"systemd"}"#));
        assert!(concerns(&s, r#"{"a":"connection_attempted"}"#));
        assert!(!concerns(&s, r#"{"a":"exec","p":"/lib/systemd/x"}"#));
        assert!(!concerns(&s, r#"{"a":"Exec","p":"systemd"}"#));
        assert!(!concerns(&s, r#"{"a":"executable","p":"init"}"#));
    }

    #[test]
    fn case_insensitive_texts_match_any_case_of_ascii_records() {
        let s = screen(&[lit("cmd.exe", true)]);
        assert!(concerns(&s, r#"{"n":"CMD.EXE"}"#));
        assert!(!concerns(&s, r#"{"n":"cmd.com"}"#));
        // Outside ASCII a character may fold to ASCII: not ruled out.
        assert!(concerns(&s, r#"{"n":"cmd.com","x":"é"}"#));
    }

    #[test]
    fn records_with_other_escapes_are_never_ruled_out() {
        let s = screen(&[lit("nc", false)]);
        assert!(!concerns(&s, r#"{"n":"ncat","p":"C:\\Users"}"#));
        assert!(concerns(&s, r#"{"n":"\u006ec"}"#));
        assert!(concerns(&s, r#"{"p":"\/tmp"}"#));
        assert!(canonical_escapes(br#"{"p":"C:\\\\u"}"#));
        assert!(!canonical_escapes(br#"{"p":"C:\\\u0041"}"#));
    }

    #[test]
    fn unscreenable_or_unselective_rule_sets_get_no_screen() {
        assert!(record_screen(&[lit("a", false), Screen::Always], &[], true).is_none());
        let sample: Vec<&[u8]> = vec![br#"{"a":"x"}"#; 10];
        assert!(record_screen(&[lit("x", false)], &sample, false).is_none());
        assert!(record_screen(&[lit("x", false)], &sample, true).is_some());
        assert!(record_screen(&[lit("y", false)], &sample, false).is_some());
        // A rule that never matches needs nothing of any record.
        let never = screen(&[Screen::Never]);
        assert!(!concerns(&never, r#"{"a":"x"}"#));
    }

    #[test]
    fn operands_are_ordered_by_what_the_sample_shows() {
        let rare = lit("rare", false);
        let common = lit("common", false);
        let sample: Vec<&[u8]> = vec![br#"{"a":"common"}"#; 20];
        let s = record_screen(&[common.and(rare)], &sample, false).unwrap();
        let Node::Any(rules) = &s.root else { panic!() };
        let Node::All(parts) = &rules[0] else {
            panic!()
        };
        // "rare" (text 1) is searched for first: it fails where "common" holds.
        assert!(matches!(parts[0], Node::Text(1)), "{parts:?}");
    }
}
