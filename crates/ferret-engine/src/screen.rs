//! Screens: text a record's raw JSON must contain for a condition to hold.
//!
//! Where [`crate::necessary`] names text some *value* of a field must
//! contain, a [`Screen`] names bytes the record's *JSON text* must contain,
//! so a scanner can rule a record out before decoding it. A string value
//! that equals, starts or ends with a literal shows it in the text between
//! quotes: `process.name == "nc"` needs `"nc"` (quotes included), which is
//! far rarer in JSON text than `nc`. Unlike [`crate::Necessary`], a screen
//! keeps every operand of an `and` (the scanner tests the likeliest to fail
//! first), so the seed rule's first stage needs `"exec"` *and* `"systemd"`
//! *and* one of its process names.
//!
//! A screen holds for a record in canonical JSON (the escapes serde_json
//! writes); text with other escapes (`\u0041`, `\/`) may spell a literal
//! differently and must not be ruled out by it. [`RawText::ci`] texts are
//! ASCII and match the record's text ASCII-case-insensitively, which also
//! only holds for records in ASCII: a non-ASCII character may fold to an
//! ASCII one. The scanner checks both.

/// Bytes that must occur in a record's JSON text (see the module
/// documentation).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawText {
    /// As the text appears in canonical JSON, with a `"` before it when the
    /// value starts with it and after it when the value ends with it.
    pub bytes: Box<[u8]>,
    /// Match ignoring ASCII case (`bytes` are then lowercase ASCII).
    pub ci: bool,
}

/// A condition on a record's JSON text that holds whenever the condition it
/// was derived from can hold (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Screen {
    /// Nothing is known.
    Always,
    /// The condition never holds.
    Never,
    Text(RawText),
    All(Vec<Screen>),
    Any(Vec<Screen>),
}

impl Screen {
    /// The text of a string value that equals (`start` and `end`), starts
    /// with (`start`), ends with (`end`) or contains `literal`; `ci` when
    /// compared ignoring case (`literal` already folded). `Always` when it
    /// cannot be screened for: no text, or case-insensitive non-ASCII text.
    pub fn literal(literal: &str, start: bool, end: bool, ci: bool) -> Screen {
        if ci && !literal.is_ascii() {
            return Screen::Always;
        }
        if literal.is_empty() && !(start && end) {
            return Screen::Always;
        }
        let quoted = serde_json::to_string(literal).expect("a string encodes");
        let inner = &quoted[1..quoted.len() - 1];
        let mut bytes = Vec::with_capacity(inner.len() + 2);
        if start {
            bytes.push(b'"');
        }
        bytes.extend_from_slice(inner.as_bytes());
        if end {
            bytes.push(b'"');
        }
        if ci {
            bytes.make_ascii_lowercase();
        }
        Screen::Text(RawText {
            bytes: bytes.into(),
            ci,
        })
    }

    /// Both hold.
    pub fn and(self, other: Screen) -> Screen {
        match (self, other) {
            (Screen::Never, _) | (_, Screen::Never) => Screen::Never,
            (Screen::Always, s) | (s, Screen::Always) => s,
            (Screen::All(mut a), Screen::All(b)) => {
                a.extend(b);
                Screen::All(a)
            }
            (Screen::All(mut a), s) | (s, Screen::All(mut a)) => {
                a.push(s);
                Screen::All(a)
            }
            (a, b) => Screen::All(vec![a, b]),
        }
    }

    /// Either holds.
    pub fn or(self, other: Screen) -> Screen {
        match (self, other) {
            (Screen::Always, _) | (_, Screen::Always) => Screen::Always,
            (Screen::Never, s) | (s, Screen::Never) => s,
            (Screen::Any(mut a), Screen::Any(b)) => {
                a.extend(b);
                Screen::Any(a)
            }
            (Screen::Any(mut a), s) | (s, Screen::Any(mut a)) => {
                a.push(s);
                Screen::Any(a)
            }
            (a, b) => Screen::Any(vec![a, b]),
        }
    }

    /// Whether `text` (a record's JSON text, canonical and, for
    /// case-insensitive texts, ASCII) passes: the plain definition, one
    /// search per text, for tests and as the scanner's reference.
    pub fn passes(&self, text: &[u8]) -> bool {
        match self {
            Screen::Always => true,
            Screen::Never => false,
            Screen::Text(t) => {
                if t.ci {
                    let lower = text.to_ascii_lowercase();
                    memchr::memmem::find(&lower, &t.bytes).is_some()
                } else {
                    memchr::memmem::find(text, &t.bytes).is_some()
                }
            }
            Screen::All(all) => all.iter().all(|s| s.passes(text)),
            Screen::Any(any) => any.iter().any(|s| s.passes(text)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Screen {
        Screen::Text(RawText {
            bytes: s.as_bytes().into(),
            ci: false,
        })
    }

    #[test]
    fn literals_are_quoted_where_the_value_begins_or_ends() {
        assert_eq!(Screen::literal("nc", true, true, false), text("\"nc\""));
        assert_eq!(
            Screen::literal("python", true, false, false),
            text("\"python")
        );
        assert_eq!(Screen::literal(".exe", false, true, false), text(".exe\""));
        assert_eq!(
            Screen::literal("C:\\x", false, false, false),
            text("C:\\\\x")
        );
        assert_eq!(Screen::literal("", true, true, false), text("\"\""));
        assert_eq!(Screen::literal("", true, false, false), Screen::Always);
        assert_eq!(Screen::literal("straße", true, true, true), Screen::Always);
        let Screen::Text(t) = Screen::literal("cmd.exe", true, true, true) else {
            panic!()
        };
        assert!(t.ci);
        assert_eq!(&*t.bytes, b"\"cmd.exe\"");
    }

    #[test]
    fn and_or_absorb_and_flatten() {
        let (a, b, c) = (text("a"), text("b"), text("c"));
        assert_eq!(a.clone().and(Screen::Always), a);
        assert_eq!(a.clone().and(Screen::Never), Screen::Never);
        assert_eq!(a.clone().or(Screen::Always), Screen::Always);
        assert_eq!(a.clone().or(Screen::Never), a);
        assert_eq!(
            a.clone().and(b.clone()).and(c.clone()),
            Screen::All(vec![a.clone(), b.clone(), c.clone()])
        );
        assert_eq!(
            a.clone().or(b.clone()).or(c.clone()),
            Screen::Any(vec![a.clone(), b.clone(), c.clone()])
        );
        let s = a.clone().and(b.clone().or(c.clone()));
        assert!(s.passes(b"xa c"));
        assert!(!s.passes(b"xa"));
        assert!(!s.passes(b"b c"));
    }
}
