//! The fast path of a tabled decode: a hand-written JSON reader that checks
//! the grammar of the whole record but builds values only for projected
//! fields.
//!
//! Through serde's visitor API, serde_json spends most of a projected decode
//! on keys and values no rule reads (a visitor call per token, a key
//! comparison per member). Skimming a skipped string is one pass over it,
//! eight bytes at a time ([`string_stop`]); a skipped key is never compared
//! unless a projected key at its level could be it.
//!
//! The reader is conservative. Wherever it is not certain that serde_json
//! accepts a record and builds the same value from it (surrogate escapes,
//! numbers it does not convert itself, nesting near serde_json's limit, a
//! record that is not an object, any syntax error) it gives up with
//! [`Doubt`] and the caller decodes with serde_json, which yields the exact
//! outcome: the same event, or the same [`crate::SkipReason`] and position.
//! So it never accepts what the full decoder rejects, and what it builds is
//! what [`super::Prune`] builds (a property test below holds it to both).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::marks::{short_escape, unicode_escape, Marks};
use super::{Cells, Node};

/// The reader cannot vouch for the record: decode it with serde_json.
#[derive(Debug)]
pub(super) struct Doubt;

/// serde_json rejects nesting at 128 levels; giving up well before leaves
/// the exact error to it.
const MAX_DEPTH: u32 = 100;

/// Integers of up to this many digits fit a u64 whatever they are.
const SAFE_DIGITS: usize = 19;

/// Decodes `bytes` (one record) the way `Prune` with cells does from
/// `root`: tabled values into `cells`, and the returned document keeping
/// only nodes marked `tree`. Bytes that are not UTF-8 are a doubt too.
pub(super) fn skim(root: &Node, bytes: &[u8], cells: &mut Cells) -> Result<Value, Doubt> {
    thread_local! {
        static MARKS: std::cell::RefCell<Marks> = std::cell::RefCell::default();
    }
    MARKS.with_borrow_mut(|marks| {
        let marked = marks.mark(bytes);
        // Most records are ASCII, which the marking pass has just seen:
        // checking them for UTF-8 again was 3% of a quiet decode.
        let text = if marks.is_ascii() {
            // SAFETY: every byte is below 0x80, and ASCII is UTF-8.
            unsafe { std::str::from_utf8_unchecked(bytes) }
        } else {
            std::str::from_utf8(bytes).map_err(|_| Doubt)?
        };
        let mut r = Reader {
            text,
            b: text.as_bytes(),
            pos: 0,
            depth: 0,
            marks: marked.then_some(&*marks),
        };
        r.ws();
        if r.peek() != Some(b'{') {
            return Err(Doubt);
        }
        let doc = r.pruned(root, cells)?;
        r.ws();
        if r.pos != r.b.len() {
            return Err(Doubt);
        }
        Ok(doc)
    })
}

/// The position of the first byte that ends a string's plain run: `"`,
/// `\` or a control character (which JSON strings may not hold raw).
///
/// Strings in events are short (tens of bytes), where `memchr2` followed by
/// a second pass for control bytes cost more than one pass eight bytes at a
/// time. Per word, a byte is flagged when it equals `"` or `\` (it is zero
/// after the xor) or is below 0x20; the subtraction can only flag bytes
/// spuriously above a true hit, so the lowest flag is exact.
#[inline]
pub(crate) fn string_stop(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w;
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let hit = (below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20))
            & HIGH;
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| i + p)
}

struct Reader<'t> {
    text: &'t str,
    b: &'t [u8],
    pos: usize,
    depth: u32,
    marks: Option<&'t Marks>,
}

/// A number's text and whether it is a plain non-negative integer short
/// enough to convert here (anything else goes through serde_json).
struct Number {
    start: usize,
    end: usize,
    plain: bool,
    exponent: bool,
}

impl<'t> Reader<'t> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Result<(), Doubt> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Doubt)
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Doubt> {
        self.pos = word_end(self.b, self.pos, word)?;
        Ok(())
    }

    fn enter(&mut self) -> Result<(), Doubt> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Doubt);
        }
        self.pos += 1;
        self.ws();
        Ok(())
    }

    /// Reads a string (at its opening quote): the span between the quotes
    /// and whether it holds escapes.
    #[inline(always)]
    fn string_span(&mut self) -> Result<(usize, usize, bool), Doubt> {
        self.eat(b'"')?;
        let start = self.pos;
        if let Some(marks) = self.marks {
            let end = marks.next_quote(start).ok_or(Doubt)?;
            self.pos = end + 1;
            return Ok((start, end, marks.backslash_in(start, end)));
        }
        self.string_span_bytewise(start)
    }

    /// [`Reader::string_span`] byte by byte from `start`, for a record
    /// without marks.
    #[inline(never)]
    fn string_span_bytewise(&mut self, start: usize) -> Result<(usize, usize, bool), Doubt> {
        let mut escaped = false;
        loop {
            self.pos += string_stop(&self.b[self.pos..]).ok_or(Doubt)?;
            match self.b[self.pos] {
                b'"' => {
                    let end = self.pos;
                    self.pos += 1;
                    return Ok((start, end, escaped));
                }
                b'\\' => {}
                // A raw control character: serde_json's error to report.
                _ => return Err(Doubt),
            }
            escaped = true;
            match self.b.get(self.pos + 1) {
                Some(b'u') => {
                    unicode_escape(self.b, self.pos + 2).ok_or(Doubt)?;
                    self.pos += 6;
                }
                Some(&c) if short_escape(c).is_some() => self.pos += 2,
                _ => return Err(Doubt),
            }
        }
    }

    #[inline]
    fn string(&mut self) -> Result<Cow<'t, str>, Doubt> {
        let (start, end, escaped) = self.string_span()?;
        if !escaped {
            return Ok(Cow::Borrowed(&self.text[start..end]));
        }
        unescape(&self.text[start - 1..end + 1])
    }

    #[inline]
    fn number_span(&mut self) -> Result<Number, Doubt> {
        let b = self.b;
        let start = self.pos;
        let mut pos = start;
        let negative = b.get(pos) == Some(&b'-');
        if negative {
            pos += 1;
        }
        match b.get(pos) {
            Some(b'0') => pos += 1,
            Some(b'1'..=b'9') => pos = digits_end(b, pos + 1),
            _ => return Err(Doubt),
        }
        let int_end = pos;
        let mut fraction = false;
        if b.get(pos) == Some(&b'.') {
            fraction = true;
            pos = some_digits_end(b, pos + 1)?;
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = b.get(pos) {
            pos += 1;
            exponent = true;
            if let Some(b'+' | b'-') = b.get(pos) {
                pos += 1;
            }
            pos = some_digits_end(b, pos)?;
        }
        // `01`: serde_json's error to report.
        if let Some(b'0'..=b'9') = b.get(pos) {
            return Err(Doubt);
        }
        self.pos = pos;
        Ok(Number {
            start,
            end: pos,
            plain: !negative && !fraction && !exponent && int_end - start <= SAFE_DIGITS,
            exponent,
        })
    }

    fn number(&mut self) -> Result<Value, Doubt> {
        let n = self.number_span()?;
        if n.plain {
            let v = self.b[n.start..n.end]
                .iter()
                .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
            return Ok(Value::from(v));
        }
        serde_json::from_str::<Value>(&self.text[n.start..n.end]).map_err(|_| Doubt)
    }

    fn skip_number(&mut self) -> Result<(), Doubt> {
        let n = self.number_span()?;
        // Only an exponent or hundreds of digits can leave f64's range.
        if n.exponent || n.end - n.start > 300 {
            serde_json::from_str::<Value>(&self.text[n.start..n.end]).map_err(|_| Doubt)?;
        }
        Ok(())
    }

    /// After a member or element: true if another follows, false at the
    /// closing `close`.
    fn next(&mut self, close: u8) -> Result<bool, Doubt> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.ws();
                Ok(true)
            }
            Some(c) if c == close => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            _ => Err(Doubt),
        }
    }

    /// Reads `"key" :` and the whitespace after it.
    fn key(&mut self) -> Result<Cow<'t, str>, Doubt> {
        let key = self.string()?;
        self.colon()?;
        Ok(key)
    }

    /// Reads the `:` after a key and the whitespace around it.
    #[inline(always)]
    fn colon(&mut self) -> Result<(), Doubt> {
        self.ws();
        self.eat(b':')?;
        self.ws();
        Ok(())
    }

    /// Iterates the members of an object (at its `{`), calling `member`
    /// with each key once the reader is at the member's value.
    fn members(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'t, str>) -> Result<(), Doubt>,
    ) -> Result<(), Doubt> {
        self.container(b'}', |r| {
            let key = r.key()?;
            member(r, key)
        })
    }

    /// [`Reader::members`], with keys and separators read off the marks
    /// when the record has them.
    #[inline(always)]
    fn object_members(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'t, str>) -> Result<(), Doubt>,
    ) -> Result<(), Doubt> {
        let Some(marks) = self.marks else {
            return self.members(member);
        };
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Doubt);
        }
        let b = self.b;
        let mut pos = skip_spaces(b, self.pos + 1);
        if b.get(pos) == Some(&b'}') {
            self.pos = pos + 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            if b.get(pos) != Some(&b'"') {
                return Err(Doubt);
            }
            let start = pos + 1;
            let end = marks.next_quote(start).ok_or(Doubt)?;
            let key = if marks.backslash_in(start, end) {
                unescape(&self.text[start - 1..end + 1])?
            } else {
                Cow::Borrowed(&self.text[start..end])
            };
            self.pos = colon_end(b, end + 1)?;
            member(self, key)?;
            pos = self.pos;
            if b.get(pos) == Some(&b' ') {
                pos = skip_spaces(b, pos);
            }
            match b.get(pos) {
                Some(b',') => pos = skip_spaces(b, pos + 1),
                Some(b'}') => {
                    self.pos = pos + 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Doubt),
            }
        }
    }

    /// Iterates the elements of an array (at its `[`).
    fn elements(
        &mut self,
        element: impl FnMut(&mut Self) -> Result<(), Doubt>,
    ) -> Result<(), Doubt> {
        self.container(b']', element)
    }

    /// Enters an object or array and calls `item` for each of its entries,
    /// up to `close`.
    fn container(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<(), Doubt>,
    ) -> Result<(), Doubt> {
        self.enter()?;
        if self.peek() == Some(close) {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            item(self)?;
            if !self.next(close)? {
                return Ok(());
            }
        }
    }

    /// A whole value, as `Value`'s own deserializer builds it.
    fn value(&mut self) -> Result<Value, Doubt> {
        match self.peek().ok_or(Doubt)? {
            b'{' => {
                let mut map = Map::new();
                self.members(|r, key| {
                    let v = r.value()?;
                    map.insert(key.into_owned(), v);
                    Ok(())
                })?;
                Ok(Value::Object(map))
            }
            b'[' => {
                let mut items = Vec::new();
                self.elements(|r| {
                    items.push(r.value()?);
                    Ok(())
                })?;
                Ok(Value::Array(items))
            }
            b'"' => Ok(Value::String(self.string()?.into_owned())),
            b't' => self.literal(b"true").map(|_| Value::Bool(true)),
            b'f' => self.literal(b"false").map(|_| Value::Bool(false)),
            b'n' => self.literal(b"null").map(|_| Value::Null),
            _ => self.number(),
        }
    }

    /// Checks and passes over a value.
    ///
    /// Most of a record is passed over, so this is one loop rather than a
    /// call per value: the open containers are a stack of bits (set for an
    /// object), at most [`MAX_DEPTH`] deep.
    fn skip(&mut self) -> Result<(), Doubt> {
        if let Some(marks) = self.marks {
            return self.skip_marked(marks);
        }
        let mut objects: u128 = 0;
        let mut open = 0u32;
        loop {
            // At a value.
            match self.peek().ok_or(Doubt)? {
                c @ (b'{' | b'[') => {
                    self.enter()?;
                    let object = c == b'{';
                    let close = if object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        self.depth -= 1;
                    } else {
                        objects = objects << 1 | u128::from(object);
                        open += 1;
                        if object {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.string_span()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.skip_number()?,
            }
            // After a value: the next one in its container, or the
            // container's end (and so on outwards).
            loop {
                if open == 0 {
                    return Ok(());
                }
                let object = objects & 1 == 1;
                if self.next(if object { b'}' } else { b']' })? {
                    if object {
                        self.skip_key()?;
                    }
                    break;
                }
                objects >>= 1;
                open -= 1;
            }
        }
    }

    /// [`Reader::skip`] for a record with marks. A string ends at the next
    /// marked quote (marking checked its escapes), and the position is a
    /// local until the value ends: kept in the reader, it went through
    /// memory at every token.
    fn skip_marked(&mut self, marks: &Marks) -> Result<(), Doubt> {
        let b = self.b;
        let mut pos = self.pos;
        let mut objects: u128 = 0;
        let mut open = 0u32;
        // Containers that may still open before the depth limit.
        let room = MAX_DEPTH - self.depth;
        loop {
            // At a value.
            match *b.get(pos).ok_or(Doubt)? {
                b'"' => pos = marks.next_quote(pos + 1).ok_or(Doubt)? + 1,
                c @ (b'{' | b'[') => {
                    if open == room {
                        return Err(Doubt);
                    }
                    pos = skip_spaces(b, pos + 1);
                    let object = c == b'{';
                    if b.get(pos) == Some(if object { &b'}' } else { &b']' }) {
                        pos += 1;
                    } else {
                        objects = objects << 1 | u128::from(object);
                        open += 1;
                        if object {
                            pos = marked_key(b, marks, pos)?;
                        }
                        continue;
                    }
                }
                b't' => pos = word_end(b, pos, b"true")?,
                b'f' => pos = word_end(b, pos, b"false")?,
                b'n' => pos = word_end(b, pos, b"null")?,
                _ => {
                    self.pos = pos;
                    self.skip_number()?;
                    pos = self.pos;
                }
            }
            // After a value: the next one in its container, or the
            // container's end (and so on outwards).
            loop {
                if open == 0 {
                    self.pos = pos;
                    return Ok(());
                }
                if b.get(pos) == Some(&b' ') {
                    pos = skip_spaces(b, pos);
                }
                let object = objects & 1 == 1;
                match b.get(pos) {
                    Some(b',') => {
                        pos = skip_spaces(b, pos + 1);
                        if object {
                            pos = marked_key(b, marks, pos)?;
                        }
                        break;
                    }
                    Some(&c) if c == if object { b'}' } else { b']' } => {
                        pos += 1;
                        objects >>= 1;
                        open -= 1;
                    }
                    _ => return Err(Doubt),
                }
            }
        }
    }

    /// Passes over `"key" :` and the whitespace after it.
    #[inline(always)]
    fn skip_key(&mut self) -> Result<(), Doubt> {
        self.string_span()?;
        self.colon()
    }

    /// A whole value's cells as `push_flat_owned` makes them, without
    /// building the arrays.
    fn flat_into(&mut self, column: u32, cells: &mut Cells) -> Result<(), Doubt> {
        match self.peek() {
            Some(b'[') => self.elements(|r| r.flat_into(column, cells)),
            Some(b'"') => {
                let s = self.string()?;
                cells.push_str(column, &s);
                Ok(())
            }
            _ => {
                let v = self.value()?;
                cells.push(column, v);
                Ok(())
            }
        }
    }

    /// A value under `node`, as `Prune` (with cells) builds it.
    fn pruned(&mut self, node: &Node, cells: &mut Cells) -> Result<Value, Doubt> {
        match self.peek().ok_or(Doubt)? {
            b'{' => {
                let mut out = Map::new();
                // Projected children met at this level (by position in
                // `node.children`), to spot duplicate keys.
                let mut met = Met::default();
                self.object_members(|r, key| {
                    let Some((at, child)) = node.lookup_at(&key) else {
                        return r.skip();
                    };
                    let keep = child.tree;
                    // A dotted key means no table whatever else comes.
                    if at == usize::MAX || !met.first_time(at) {
                        cells.fallback = true;
                    }
                    let v = if child.whole {
                        match child.column {
                            Some(column) if child.children.is_empty() && !keep => {
                                return r.flat_into(column, cells);
                            }
                            _ => {
                                let v = r.value()?;
                                if !child.collect(&v, cells) {
                                    cells.fallback = true;
                                }
                                v
                            }
                        }
                    } else {
                        r.pruned(child, cells)?
                    };
                    if keep {
                        out.insert(key.into_owned(), v);
                    }
                    Ok(())
                })?;
                Ok(if node.tree {
                    Value::Object(out)
                } else {
                    Value::Null
                })
            }
            b'[' => {
                let keep = node.tree;
                let mut out = Vec::new();
                self.elements(|r| {
                    let v = r.pruned(node, cells)?;
                    if keep {
                        out.push(v);
                    }
                    Ok(())
                })?;
                Ok(if keep { Value::Array(out) } else { Value::Null })
            }
            // A scalar where an object was expected: its shape only, as
            // `Prune` keeps it.
            b'"' => self.string_span().map(|_| Value::Null),
            b't' => self.literal(b"true").map(|_| Value::Bool(true)),
            b'f' => self.literal(b"false").map(|_| Value::Bool(false)),
            b'n' => self.literal(b"null").map(|_| Value::Null),
            _ => self.number(),
        }
    }
}

/// Past the spaces at `pos`. In a record with marks these are the only
/// whitespace: it holds no control bytes, so no tab or line break.
#[inline(always)]
fn skip_spaces(b: &[u8], mut pos: usize) -> usize {
    while b.get(pos) == Some(&b' ') {
        pos += 1;
    }
    pos
}

/// The string `quoted` (quotes included) holds, escapes undone.
///
/// Undone here rather than by serde_json, whose deserializer set-up and
/// visitor cost several times the work itself (Windows paths are full of
/// escaped backslashes). What it is not sure serde_json reads the same way
/// (a surrogate escape, a raw control byte, anything malformed) is a
/// [`Doubt`].
fn unescape(quoted: &str) -> Result<Cow<'_, str>, Doubt> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .ok_or(Doubt)?;
    let b = inner.as_bytes();
    let mut out = String::with_capacity(b.len());
    // Start of the text not copied yet. From one escape to the next a word
    // at a time (`string_stop`): a byte at a time, Windows paths, an escape
    // every few bytes, cost several hundred instructions each.
    let mut plain = 0;
    while let Some(at) = string_stop(&b[plain..]) {
        let i = plain + at;
        // A raw control byte, or a quote that would end the string.
        if b[i] != b'\\' {
            return Err(Doubt);
        }
        out.push_str(&inner[plain..i]);
        let (c, len) = match *b.get(i + 1).ok_or(Doubt)? {
            b'u' => (unicode_escape(b, i + 2).ok_or(Doubt)?, 6),
            c => (short_escape(c).ok_or(Doubt)?, 2),
        };
        out.push(c);
        plain = i + len;
    }
    out.push_str(&inner[plain..]);
    Ok(Cow::Owned(out))
}

/// Past the digits at `pos`.
#[inline(always)]
fn digits_end(b: &[u8], mut pos: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(pos) {
        pos += 1;
    }
    pos
}

/// Past the digits at `pos`, of which there must be one at least.
#[inline(always)]
fn some_digits_end(b: &[u8], pos: usize) -> Result<usize, Doubt> {
    match digits_end(b, pos) {
        end if end > pos => Ok(end),
        _ => Err(Doubt),
    }
}

/// Past `"key" :` and the spaces after it, in a record with marks.
#[inline(always)]
fn marked_key(b: &[u8], marks: &Marks, pos: usize) -> Result<usize, Doubt> {
    if b.get(pos) != Some(&b'"') {
        return Err(Doubt);
    }
    colon_end(b, marks.next_quote(pos + 1).ok_or(Doubt)? + 1)
}

/// Past the `:` after a key (at `pos`, just past its closing quote) and the
/// spaces around it, in a record with marks.
#[inline(always)]
fn colon_end(b: &[u8], mut pos: usize) -> Result<usize, Doubt> {
    if b.get(pos) != Some(&b':') {
        pos = skip_spaces(b, pos);
        if b.get(pos) != Some(&b':') {
            return Err(Doubt);
        }
    }
    Ok(skip_spaces(b, pos + 1))
}

/// Past the literal `word` at `pos`.
#[inline(always)]
fn word_end(b: &[u8], pos: usize, word: &[u8]) -> Result<usize, Doubt> {
    if b[pos..].starts_with(word) {
        Ok(pos + word.len())
    } else {
        Err(Doubt)
    }
}

/// The set of child positions met at one object level: a bit mask, and a
/// list past 64 children.
#[derive(Default)]
struct Met {
    bits: u64,
    more: Vec<usize>,
}

impl Met {
    /// Records `at`; false if it was already there.
    fn first_time(&mut self, at: usize) -> bool {
        if at < 64 {
            let bit = 1u64 << at;
            let new = self.bits & bit == 0;
            self.bits |= bit;
            new
        } else if self.more.contains(&at) {
            false
        } else {
            self.more.push(at);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::super::{Cells, Projection};
    use super::skim;
    use crate::json_texts::json_texts;
    use crate::{FieldPath, Segment};

    /// The serde path's outcome for a tabled decode: document, cells and
    /// fallback flag, or the error's reason.
    type Decoded = (Value, Vec<(u32, Value)>, bool);
    type Outcome = Result<Decoded, String>;

    fn by_serde(proj: &Projection, text: &str) -> Outcome {
        let mut cells = Cells::default();
        proj.parse(text.as_bytes(), Some(&mut cells))
            .map(|doc| (doc, cells.to_values(), cells.fallback))
            .map_err(|e| format!("{:?}", e.reason))
    }

    fn by_skim(proj: &Projection, text: &str) -> Option<Decoded> {
        let mut cells = Cells::default();
        let doc = skim(&proj.root, text.as_bytes(), &mut cells).ok()?;
        Some((doc, cells.to_values(), cells.fallback))
    }

    fn paths() -> impl Strategy<Value = Vec<FieldPath>> {
        let path = prop::collection::vec(
            prop_oneof![
                4 => prop::sample::select(vec!["a", "b", "c"]).prop_map(|k| Segment::Key(k.into())),
                1 => (0i64..2).prop_map(Segment::Index),
            ],
            1..4,
        )
        .prop_map(|mut segs| {
            if matches!(segs[0], Segment::Index(_)) {
                segs[0] = Segment::Key("a".into());
            }
            FieldPath::new(segs)
        });
        prop::collection::vec(path, 0..4)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Escapes are undone as serde_json undoes them, and what serde_json
        /// rejects (or what unescaping is unsure of) is never accepted.
        #[test]
        fn unescape_agrees_with_serde(pieces in prop::collection::vec(prop::sample::select(vec![
            "a", "é", "中", " ", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
            "\\u00e9", "\\u0041", "\\u001F", "\\uFFFF", "\\ud83d\\ude00", "\\ud800", "\\udfff",
            "\\u12", "\\u+123", "\\uzzzz", "\\x", "\\", "\u{1}", "\u{1f}", "\u{7f}", "C:\\\\Windows",
            "\"", "C:\\\\Program Files\\\\a b\\\\c.exe",
        ]), 0..8)) {
            let quoted = format!("\"{}\"", pieces.concat());
            let serde = serde_json::from_str::<String>(&quoted).ok();
            match super::unescape(&quoted) {
                Ok(s) => prop_assert_eq!(Some(s.into_owned()), serde, "{}", quoted),
                // Unsure: only where serde_json fails or surrogates are involved.
                Err(_) => prop_assert!(serde.is_none() || quoted.contains("\\ud"), "{}", quoted),
            }
        }

        /// The word-at-a-time scan finds what a byte-by-byte one does,
        /// wherever the stop falls within or after a word.
        #[test]
        fn string_stop_finds_the_first_stop_byte(
            bytes in prop::collection::vec(
                prop::sample::select(vec![b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, 0x21, 0x5c, 0x5d]),
                0..40,
            ),
        ) {
            let naive = bytes.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            prop_assert_eq!(super::string_stop(&bytes), naive);
        }

        /// Long strings with escapes anywhere, at every offset from a block
        /// edge: the reader reads what serde_json reads, and vouches for it.
        #[test]
        fn strings_across_block_edges(
            pad in 0usize..70,
            pieces in prop::collection::vec(
                prop::sample::select(vec!["a", "bc", "\\\"", "\\\\", "\\n", "\\u00e9", "é", "\\/", "x.y"]),
                0..60,
            ),
            key_pieces in prop::collection::vec(prop::sample::select(vec!["k", "\\\\", "\\\""]), 1..4),
        ) {
            let value: String = pieces.concat();
            let key: String = key_pieces.concat();
            let text = format!(
                "{{\"{}\":1,\"{key}\":\"{value}\",\"keep\":[\"{value}\",\"{key}\"]}}",
                "p".repeat(pad)
            );
            let proj = Projection::new(&[FieldPath::dotted("keep")]);
            let skimmed = by_skim(&proj, &text);
            prop_assert!(skimmed.is_some(), "{}", text);
            prop_assert_eq!(Ok(skimmed.unwrap()), by_serde(&proj, &text), "{}", text);
        }

        /// Whatever the reader accepts, serde_json accepts and decodes to
        /// the same document and cells.
        #[test]
        fn skim_agrees_with_serde(text in json_texts(), paths in paths(), cut in any::<prop::sample::Index>()) {
            let proj = Projection::new(&paths);
            let cut_text = &text[..text.floor_char_boundary(cut.index(text.len() + 1))];
            for input in [text.as_str(), cut_text] {
                if let Some(skimmed) = by_skim(&proj, input) {
                    prop_assert_eq!(Ok(skimmed), by_serde(&proj, input), "{}", input);
                }
            }
        }

        /// Records broken by a few edits (bytes that matter to JSON put in,
        /// taken out or swapped anywhere): whatever the reader still
        /// accepts, serde_json accepts and decodes alike.
        #[test]
        fn skim_agrees_with_serde_on_broken_records(
            text in json_texts(),
            paths in paths(),
            edits in prop::collection::vec(
                (any::<prop::sample::Index>(), 0u8..3, prop::sample::select(b"\"\\{}[]:, a1-e.tn".to_vec())),
                1..4,
            ),
        ) {
            let mut bytes = text.into_bytes();
            for (at, kind, byte) in edits {
                let i = at.index(bytes.len() + 1);
                match kind {
                    0 => bytes.insert(i, byte),
                    1 if i < bytes.len() => { bytes.remove(i); }
                    _ if i < bytes.len() => bytes[i] = byte,
                    _ => bytes.push(byte),
                }
            }
            let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
            let proj = Projection::new(&paths);
            if let Some(skimmed) = by_skim(&proj, &text) {
                prop_assert_eq!(Ok(skimmed), by_serde(&proj, &text), "{}", text);
            }
        }

        /// Ordinary records (what serde_json itself writes) never need the
        /// slow path.
        #[test]
        fn skim_vouches_for_ordinary_records(text in json_texts(), paths in paths()) {
            let proj = Projection::new(&paths);
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                let plain = v.to_string();
                prop_assume!(!plain.contains("\\ud") && !plain.contains('e') && !plain.contains('E'));
                prop_assert!(by_skim(&proj, &plain).is_some(), "{}", plain);
            }
        }
    }

    /// Keys of one length and the same first and last bytes share a lookup
    /// tag: each still finds its own field, a near miss none, and a dotted
    /// key still means no table.
    #[test]
    fn keys_sharing_a_tag_are_told_apart() {
        let proj = Projection::new(&[
            FieldPath::dotted("abc.xyz"),
            FieldPath::dotted("axc"),
            FieldPath::dotted("abbc"),
        ]);
        let text = r#"{"aac":0,"axc":1,"abc":{"xyz":2,"xaz":3},"abbc":4,"abxc":5}"#;
        let (_, cells, fallback) = by_skim(&proj, text).unwrap();
        assert!(!fallback);
        let values: Vec<Value> = cells.iter().map(|(_, v)| v.clone()).collect();
        assert_eq!(
            values,
            serde_json::json!([1, 2, 4]).as_array().unwrap().clone()
        );
        assert_eq!(Ok(by_skim(&proj, text).unwrap()), by_serde(&proj, text));
        let dotted = r#"{"abc.xyz":2,"axc":1}"#;
        let skimmed = by_skim(&proj, dotted).unwrap();
        assert!(skimmed.2, "a dotted key on a projected route: no table");
        assert_eq!(Ok(skimmed), by_serde(&proj, dotted));
    }

    #[test]
    fn doubts_what_serde_must_judge() {
        let proj = Projection::new(&[FieldPath::dotted("keep")]);
        let deep = format!("{{\"skip\":{}1{}}}", "[".repeat(120), "]".repeat(120));
        for text in [
            "{\"skip\":\"\\ud800\"}",
            "{\"skip\":1e400}",
            "{\"skip\":01}",
            "{\"skip\":1.}",
            "{\"skip\":-}",
            "{\"skip\":\"\\x\"}",
            "{\"skip\":\"a\u{1}\"}",
            "{\"skip\":[1,]}",
            "{\"skip\":[[1]2]}",
            "{\"skip\":{\"a\":{}x}}",
            "{\"skip\":{\"a\":1,}}",
            "{\"skip\":[,1]}",
            "{\"skip\":{\"a\" 1}}",
            "{\"skip\":{\"a\":\"x\" \"y\"}}",
            "{\"skip\":[1 2]}",
            "{\"skip\":{\"a\":1}}}",
            "{\"skip\":[}",
            "{\"skip\":[1}}",
            "{\"skip\":{\"a\":1]}",
            "{\"skip\":[{\"a\":[2}]]}",
            "{\"skip\":1]",
            "{\"keep\":{\"a\":1]}",
            "{\"skip\":{]}",
            "{\"skip\":{\"a\":tru}}",
            "{\"skip\":[nul]}",
            "{\"skip\":{1:2}}",
            "{\"skip\":{\"a\":}}",
            "{\"skip\":[\"a\\q\"]}",
            "{\"skip\":1,}",
            "{\"skip\":tru}",
            "{\"skip\":1} x",
            "[{\"keep\":1}]",
            deep.as_str(),
        ] {
            assert!(by_skim(&proj, text).is_none(), "{text}");
        }
        // Nesting up to the reader's limit is read, one level more is
        // serde_json's to judge: read off the marks, and byte by byte (a
        // tab between tokens, a control byte, means no marks).
        for space in ["", "\t"] {
            let nest = |levels: u32| {
                let n = levels as usize - 1;
                format!("{{\"skip\":{space}{}1{}}}", "[".repeat(n), "]".repeat(n))
            };
            assert!(by_skim(&proj, &nest(super::MAX_DEPTH)).is_some());
            assert!(by_skim(&proj, &nest(super::MAX_DEPTH + 1)).is_none());
        }
        let ok = "{ \"keep\" : [1, -2, 3.5, \"x\\ty\"], \"skip\": {\"a\": [true, null, 2.5e3]} }\n";
        let (_, cells, fallback) = by_skim(&proj, ok).unwrap();
        assert!(!fallback);
        assert_eq!(
            cells.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            serde_json::json!([1, -2, 3.5, "x\ty"])
                .as_array()
                .unwrap()
                .clone()
        );
    }
}
