//! Necessary conditions: text an event must hold for a condition to be true.
//!
//! Most rules test specific values (`process.name : ("bash", "sh")`), so an
//! event whose `process.name` contains neither "bash" nor "sh" cannot match,
//! whatever the rest of the condition says. For a condition, [`Necessary`]
//! is either nothing known ([`Necessary::Always`]) or a list of
//! [`Needle`]s such that whenever the condition is true, some string value
//! of some needle's field contains that needle's text, compared after case
//! folding ([`crate::matching::fold`]). A scanner can look for every rule's
//! needles at once (one Aho-Corasick pass per field) and evaluate only the
//! rules some needle hit; the result is the same as evaluating every rule.
//!
//! A comparison of a field with literals that no needle text describes
//! (`problemchild.prediction == 1`, `process.args_count <= 2`) still needs
//! the field to have a value: a needle with an empty text says that much
//! (some value of any type), which rules out the many events that lack the
//! field.
//!
//! Derivation is conservative: negation, computed values, stage aliases and
//! array indexes give `Always`; an `or` needs needles on every branch; an
//! `and` keeps the branch whose needles look most selective (a heuristic:
//! it only decides speed, never results).

use ferret_event::{FieldPath, Segment};

/// "Some string value of `path` contains `text`" (`text` case-folded); an
/// empty `text`: "`path` has some value", of any type ([`Necessary::present`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Needle {
    pub path: FieldPath,
    pub text: String,
}

/// A necessary condition (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Necessary {
    /// Nothing is known: every event may satisfy the condition.
    Always,
    /// The condition holds only if one of these needles occurs; an empty
    /// list means it never holds.
    AnyOf(Vec<Needle>),
}

/// Fields with few distinct values (a handful of event types, actions,
/// outcomes, data sets, OS types) that occur in most events and that rules
/// test in nearly every filter. A needle on one says little (see
/// [`Necessary`]); a test on one is a good dispatch guard (see
/// [`crate::Predicate::guards`]), since its result per distinct value can
/// be worked out once.
pub const FEW_VALUED_FIELDS: &[&str] = &[
    "event.type",
    "event.action",
    "event.category",
    "event.outcome",
    "event.kind",
    "event.module",
    "event.dataset",
    "event.provider",
    "event.code",
    "host.os.type",
    "host.os.name",
    "host.os.family",
    "host.os.platform",
    "data_stream.dataset",
    "data_stream.type",
    "data_stream.namespace",
    "agent.type",
    "network.direction",
    "network.transport",
    "network.protocol",
];

/// Fields with many distinct values in a file, but each repeated by many
/// events: a host runs the same programs over and over. A thousand rules
/// test these by name (`process.name in (…)`); tested once per distinct
/// value (see [`per_value_paths`]), a rule is offered only the events whose
/// names it can match. Needles on them still select rules (unlike the
/// [`FEW_VALUED_FIELDS`]): a name says much about which rule may match.
/// Measured on generated telemetry with every corpus rule: the parent's
/// executable and `user.id` gained nothing more, and fields whose values
/// rarely repeat cost more in new dispatch keys than they save.
pub const REPEATED_FIELDS: &[&str] = &["process.name", "process.parent.name", "process.executable"];

/// The fields whose one-field conditions are worked out once per distinct
/// value rather than per event (dispatch guards and verdicts): the
/// [`FEW_VALUED_FIELDS`] and the [`REPEATED_FIELDS`], as paths.
pub fn per_value_paths() -> Vec<FieldPath> {
    FEW_VALUED_FIELDS
        .iter()
        .chain(REPEATED_FIELDS)
        .map(|f| FieldPath::dotted(f))
        .collect()
}

/// Besides [`FEW_VALUED_FIELDS`], fields in most events whose values, though
/// many, are shared by so many events that a needle on them says little.
const COMMON_FIELDS: &[&str] = &["user.name", "user.id"];

impl Necessary {
    /// A condition that never holds.
    pub fn never() -> Necessary {
        Necessary::AnyOf(Vec::new())
    }

    /// The condition of one field's string values containing one of `texts`
    /// (each case-folded here). An empty text fixes nothing: `Always`.
    pub fn contains_any<'a>(
        path: &FieldPath,
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Necessary {
        if indexed(path) {
            return Necessary::Always;
        }
        let mut needles = Vec::new();
        for t in texts {
            if t.is_empty() {
                return Necessary::Always;
            }
            needles.push(Needle {
                path: path.clone(),
                text: crate::matching::fold(t),
            });
        }
        Necessary::AnyOf(needles)
    }

    /// The condition of a field having some value (not null), of any type:
    /// a needle with an empty text. Fixes nothing for an indexed path.
    pub fn present(path: &FieldPath) -> Necessary {
        if indexed(path) {
            return Necessary::Always;
        }
        Necessary::AnyOf(vec![Needle {
            path: path.clone(),
            text: String::new(),
        }])
    }

    /// What holds when either condition holds: both needle lists.
    pub fn or(self, other: Necessary) -> Necessary {
        match (self, other) {
            (Necessary::AnyOf(mut a), Necessary::AnyOf(b)) => {
                for n in b {
                    if !a.contains(&n) {
                        a.push(n);
                    }
                }
                Necessary::AnyOf(a)
            }
            _ => Necessary::Always,
        }
    }

    /// What holds when both hold: [`Necessary::all`] of the two.
    pub fn and(self, other: Necessary) -> Necessary {
        Necessary::all([self, other])
    }

    /// What holds when all of `parts` hold: each is necessary, so keep the
    /// one expected to rule out the most events (the first of the least
    /// cost; `Always` for none). Each part's cost is worked out once: a fold
    /// of pairs weighed the running result again at every step.
    pub fn all(parts: impl IntoIterator<Item = Necessary>) -> Necessary {
        let mut best = (Necessary::Always, f64::INFINITY);
        for part in parts {
            let cost = part.cost();
            if cost < best.1 {
                best = (part, cost);
            }
        }
        best.0
    }

    /// A rough chance that an event satisfies the condition.
    fn cost(&self) -> f64 {
        let Necessary::AnyOf(needles) = self else {
            return f64::INFINITY;
        };
        needles
            .iter()
            .map(|n| {
                if is_common(&n.path) {
                    0.5
                } else if n.text.is_empty() {
                    // Most fields rules compare are in most events of
                    // their kind; a text says more.
                    0.4
                } else {
                    match n.text.len() {
                        0..=2 => 0.3,
                        3 => 0.1,
                        4..=5 => 0.03,
                        _ => 0.01,
                    }
                }
            })
            .sum()
    }
}

/// Whether `path` selects within an array: a needle on it would say
/// nothing of the one value it reads (see [`Necessary::contains_any`]).
fn indexed(path: &FieldPath) -> bool {
    path.segments()
        .iter()
        .any(|s| matches!(s, Segment::Index(_)))
}

/// Whether `path`'s keys, joined by dots, name one of the
/// [`FEW_VALUED_FIELDS`] or [`COMMON_FIELDS`]. Compared in place: joined
/// into a string per needle, this was a two-hundredth of a thousand
/// rules' start-up (planning weighs every needle of every `and`).
fn is_common(path: &FieldPath) -> bool {
    let keys = || {
        path.segments().iter().filter_map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Index(_) => None,
        })
    };
    let (count, bytes) = keys().fold((0, 0), |(n, b), k| (n + 1, b + k.len()));
    let joined_len = (bytes + count).saturating_sub(1);
    let is = |name: &&str| {
        if name.len() != joined_len || count == 0 {
            return false;
        }
        let mut rest = name.as_bytes();
        for (i, k) in keys().enumerate() {
            if i > 0 {
                match rest.split_first() {
                    Some((b'.', r)) => rest = r,
                    _ => return false,
                }
            }
            match rest.strip_prefix(k.as_bytes()) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    };
    FEW_VALUED_FIELDS.iter().any(is) || COMMON_FIELDS.iter().any(is)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path is common when its keys joined by dots are a common name:
    /// however its keys split the dots, whatever indexes it has.
    #[test]
    fn common_paths_by_their_joined_keys() {
        let key = |k: &str| Segment::Key(k.into());
        let path = |segments: Vec<Segment>| FieldPath::new(segments);
        assert!(is_common(&FieldPath::dotted("event.type")));
        assert!(is_common(&FieldPath::dotted("user.name")));
        assert!(is_common(&path(vec![key("event.type")])));
        assert!(is_common(&path(vec![
            key("event"),
            Segment::Index(0),
            key("type")
        ])));
        assert!(!is_common(&FieldPath::dotted("event.typ")));
        assert!(!is_common(&FieldPath::dotted("event.types")));
        assert!(!is_common(&FieldPath::dotted("xevent.type")));
        assert!(!is_common(&path(vec![key("event"), key(""), key("type")])));
        assert!(!is_common(&path(vec![])));
        assert!(!is_common(&FieldPath::dotted("process.name")));
    }

    fn on(field: &str, texts: &[&str]) -> Necessary {
        Necessary::contains_any(&FieldPath::dotted(field), texts.iter().copied())
    }

    #[test]
    fn or_unions_and_always_absorbs() {
        let a = on("process.name", &["bash"]);
        let b = on("file.path", &["/etc/"]);
        let Necessary::AnyOf(both) = a.clone().or(b) else {
            panic!()
        };
        assert_eq!(both.len(), 2);
        assert_eq!(a.or(Necessary::Always), Necessary::Always);
        assert_eq!(
            Necessary::never().or(Necessary::never()),
            Necessary::never()
        );
    }

    #[test]
    fn and_keeps_the_more_selective_side() {
        let common = on("event.type", &["start"]);
        let rare = on("process.name", &["curl", "wget"]);
        assert_eq!(common.clone().and(rare.clone()), rare);
        assert_eq!(Necessary::Always.and(common.clone()), common);
        assert_eq!(rare.clone().and(Necessary::Always), rare);
        // `all` is `and` folded from `Always`: the first of the least cost.
        let parts = [
            Necessary::Always,
            common.clone(),
            rare.clone(),
            rare.clone(),
            common.clone(),
        ];
        let folded = parts
            .iter()
            .cloned()
            .fold(Necessary::Always, Necessary::and);
        assert_eq!(Necessary::all(parts.iter().cloned()), folded);
        assert_eq!(Necessary::all(parts.iter().cloned()), rare);
        assert_eq!(
            Necessary::all([Necessary::Always, Necessary::Always]),
            Necessary::Always
        );
        assert_eq!(Necessary::all([]), Necessary::Always);
        let (first, second) = (on("process.name", &["curl"]), on("file.name", &["wget"]));
        assert_eq!(Necessary::all([first.clone(), second.clone()]), first);
        assert_eq!(Necessary::all([second.clone(), first]), second);
    }

    #[test]
    fn presence_is_an_empty_needle_less_selective_than_a_text() {
        let present = Necessary::present(&FieldPath::dotted("problemchild.prediction"));
        let Necessary::AnyOf(n) = &present else {
            panic!()
        };
        assert_eq!(n[0].text, "");
        let name = on("process.name", &["bash"]);
        assert_eq!(present.clone().and(name.clone()), name);
        assert_eq!(present.clone().and(Necessary::Always), present);
        let indexed = FieldPath::new(vec![
            Segment::Key("process".into()),
            Segment::Key("args".into()),
            Segment::Index(0),
        ]);
        assert_eq!(Necessary::present(&indexed), Necessary::Always);
    }

    #[test]
    fn texts_are_folded_and_empty_or_indexed_fix_nothing() {
        let Necessary::AnyOf(n) = on("process.name", &["PowerShell.EXE"]) else {
            panic!()
        };
        assert_eq!(n[0].text, "powershell.exe");
        assert_eq!(on("process.name", &["a", ""]), Necessary::Always);
        let indexed = FieldPath::new(vec![
            Segment::Key("process".into()),
            Segment::Key("args".into()),
            Segment::Index(0),
        ]);
        assert_eq!(Necessary::contains_any(&indexed, ["x"]), Necessary::Always);
    }
}
