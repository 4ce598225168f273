//! Whether a record's text is already what serde_json would write for it.
//!
//! Alerts show matched events in full, as serde_json writes the decoded
//! document: compact, keys in document order, its own escapes and number
//! forms. Most records arrive written that way already (by serde_json or
//! an agent that writes the same compact form), and for them decoding the
//! record and writing it again yields its own text: [`is_canonical`] tells
//! so in one pass over the bytes, so the text is used as it is. Decoding and
//! re-encoding was most of the cost of an alert.
//!
//! The check is conservative: `true` only where serde_json's output is
//! certain to equal the input; anything it does not vouch for (whitespace,
//! `\u` or `\/` escapes, fractions and exponents, integers near the limits
//! of 64 bits, `-0`, duplicate keys, deep nesting, invalid JSON) gives
//! `false`, and the caller decodes and re-encodes as before.

/// Nesting deeper than this is left to serde_json (whose limit is 128).
const MAX_DEPTH: u32 = 100;

/// Integers of at most this many digits are exact as `u64` and `i64`.
const SAFE_DIGITS: usize = 18;

/// True if `text` is one JSON value that serde_json (with `preserve_order`)
/// decodes into a `Value` whose compact encoding is `text` itself.
pub fn is_canonical(text: &[u8]) -> bool {
    canonical_text(text).is_some()
}

/// `text` as a string if it [`is_canonical`] (one check of its UTF-8 for a
/// caller that needs it as a string).
pub fn canonical_text(text: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(text).ok()?;
    let mut c = Checker {
        b: text,
        pos: 0,
        // Room for the keys of an event's outer objects (grown from empty,
        // it was copied three times a record).
        keys: Vec::with_capacity(32),
    };
    (c.value(0) && c.pos == text.len()).then_some(s)
}

struct Checker<'t> {
    b: &'t [u8],
    pos: usize,
    /// The keys of the objects being read, with their tags, innermost
    /// object's last: one buffer for the whole text, not one per object.
    keys: Vec<(u32, &'t [u8])>,
}

impl<'t> Checker<'t> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: u32) -> bool {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.word(b"true"),
            Some(b'f') => self.word(b"false"),
            Some(b'n') => self.word(b"null"),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            _ => false,
        }
    }

    fn word(&mut self, w: &[u8]) -> bool {
        if self.b[self.pos..].starts_with(w) {
            self.pos += w.len();
            true
        } else {
            false
        }
    }

    /// `-?(0|[1-9][0-9]*)` with few enough digits to stay an integer of the
    /// same text, and not `-0`.
    fn integer(&mut self) -> bool {
        let negative = self.eat(b'-');
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        let digits = &self.b[start..self.pos];
        let plain = match digits {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            _ => digits.len() <= SAFE_DIGITS,
        };
        // A fraction or exponent follows: serde_json may write it otherwise.
        plain && !matches!(self.peek(), Some(b'.' | b'e' | b'E'))
    }

    /// A string with only the escapes serde_json writes for its characters
    /// (`\"`, `\\` and the short forms of five control characters); returns
    /// its raw bytes between the quotes.
    fn string(&mut self) -> Option<&'t [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        loop {
            // The first quote, backslash or (raw, so not canonical) control
            // byte, eight bytes at a time: strings in records are short.
            self.pos += crate::project::string_stop(&self.b[self.pos..])?;
            if self.b[self.pos] < 0x20 {
                return None;
            }
            if self.eat(b'"') {
                return Some(&self.b[start..self.pos - 1]);
            }
            self.pos += 1;
            match self.peek() {
                Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: u32) -> bool {
        if depth > MAX_DEPTH || !self.eat(b'[') {
            return false;
        }
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    fn object(&mut self, depth: u32) -> bool {
        if depth > MAX_DEPTH || !self.eat(b'{') {
            return false;
        }
        if self.eat(b'}') {
            return true;
        }
        // Keys as written: with the escapes allowed, equal keys are equal
        // texts. A repeated key keeps one value in the decoded document.
        // Keys are told apart by their tags first (most differ there).
        let start = self.keys.len();
        loop {
            let Some(key) = self.string() else {
                return false;
            };
            let tag = crate::project::key_tag(key);
            if self.keys[start..]
                .iter()
                .any(|&(t, k)| t == tag && k == key)
            {
                return false;
            }
            self.keys.push((tag, key));
            if !self.eat(b':') || !self.value(depth) {
                return false;
            }
            if self.eat(b'}') {
                self.keys.truncate(start);
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_canonical;
    use crate::json_texts::json_texts;
    use proptest::prelude::*;
    use serde_json::Value;

    fn plain(v: &Value) -> bool {
        let short = |s: &str| {
            s.chars()
                .all(|c| c >= ' ' || matches!(c, '\u{8}' | '\t' | '\n' | '\u{c}' | '\r'))
        };
        match v {
            Value::Number(n) => n
                .as_i64()
                .map(|i| i.unsigned_abs())
                .or(n.as_u64())
                .is_some_and(|u| u < 1_000_000_000_000_000_000),
            Value::String(s) => short(s),
            Value::Array(items) => items.iter().all(plain),
            Value::Object(m) => m.iter().all(|(k, v)| short(k) && plain(v)),
            _ => true,
        }
    }

    /// Repeated keys are found wherever they stand in an object; keys that
    /// only share a length and end bytes are not repeats, nor are keys of
    /// an object and of one nested in it.
    #[test]
    fn repeated_keys_anywhere_are_not_canonical() {
        let object = |keys: &[String]| {
            let members: Vec<String> = keys.iter().map(|k| format!("\"{k}\":1")).collect();
            format!("{{{}}}", members.join(","))
        };
        let distinct: Vec<String> = (0..30).map(|i| format!("a{i:02}z")).collect();
        assert!(is_canonical(object(&distinct).as_bytes()));
        for (at, of) in [(2, 1), (27, 3), (29, 26)] {
            let mut keys = distinct.clone();
            keys[at] = keys[of].clone();
            assert!(!is_canonical(object(&keys).as_bytes()), "{at} repeats {of}");
        }
        assert!(is_canonical(br#"{"axb":1,"ayb":2,"a":{"axb":3}}"#));
        assert!(is_canonical(br#"{"a":{"b":1,"c":[{"b":2}]},"b":3,"c":4}"#));
        assert!(!is_canonical(br#"{"a":{"b":1},"c":2,"a":3}"#));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// What the check vouches for, serde_json writes back unchanged.
        #[test]
        fn vouched_texts_are_what_serde_json_writes(text in json_texts()) {
            if is_canonical(text.as_bytes()) {
                let v: Value = serde_json::from_str(&text).expect("vouched texts are JSON");
                prop_assert_eq!(serde_json::to_string(&v).unwrap(), text);
            }
        }

        /// And it vouches for what serde_json writes, unless that holds a
        /// float, a long integer or a `\u` escape.
        #[test]
        fn serde_json_output_is_vouched_for(text in json_texts()) {
            match serde_json::from_str::<Value>(&text) {
                Ok(v) if plain(&v) => {
                    let out = serde_json::to_string(&v).unwrap();
                    prop_assert!(is_canonical(out.as_bytes()), "{}", out);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn spellings_serde_json_would_change_are_refused() {
        for text in [
            r#"{"a": 1}"#,
            r#"{"a":1.0}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":"\/"}"#,
            r#"{"a":"\u0041"}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":1234567890123456789}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":1} "#,
            r#"{"a":1"#,
        ] {
            assert!(!is_canonical(text.as_bytes()), "{text}");
        }
        for text in [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"x\"y\\z\n"},"e":-12,"f":"é"}"#,
            r#"{}"#,
            r#"[]"#,
        ] {
            assert!(is_canonical(text.as_bytes()), "{text}");
        }
    }
}
