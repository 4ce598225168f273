//! The long texts of a rule file that ferret never reads, cut out before the
//! TOML parser sees the file.
//!
//! The `note` (investigation guide) and `setup` of a detection rule are over
//! half the bytes of the detection-rules corpus, and decoding them was the
//! largest single cost of loading it. Ferret reads neither, nor the query of
//! a rule in another language than EQL (such a rule is reported, not run),
//! so [`shorten`] empties them, and only where that provably changes nothing
//! else the parser produces:
//!
//! - the key is a bare `note` or `setup` at the start of a line of the
//!   `[rule]` table, outside every string, comment, array and inline table;
//!   or a bare `query` there after a line of the same table that sets
//!   `language` to a one-line string with no escape which is not `eql` (in
//!   any case), so the rule is one ferret does not run whatever else it says;
//! - the value is a multi-line string (`"""…"""` or `'''…'''`) whose body
//!   needs no decoding and breaks no rule of the format (no backslash, no
//!   control character but tab, line feed and CR LF), so the parser could
//!   not have failed on it either.
//!
//! The body goes; the delimiters stay, so the value becomes an empty string
//! and every other token is unchanged. Anything this reading does not follow
//! (an unterminated string, unbalanced brackets) means no cut at all, and a
//! caller whose parse of the shortened text fails parses the original for
//! its error. Offsets in the shortened text map back with
//! [`Shortened::original`].

use std::borrow::Cow;
use std::ops::Range;

/// A rule file's text with unread values emptied.
pub(crate) struct Shortened<'t> {
    pub text: Cow<'t, str>,
    /// For each cut: where it is in the shortened text, and the bytes cut
    /// there and before.
    cuts: Vec<(usize, usize)>,
}

impl<'t> Shortened<'t> {
    /// The text as it is.
    pub fn whole(text: &'t str) -> Shortened<'t> {
        Shortened {
            text: Cow::Borrowed(text),
            cuts: Vec::new(),
        }
    }

    pub fn is_cut(&self) -> bool {
        !self.cuts.is_empty()
    }

    /// The offset in the original text of `offset` in the shortened one.
    pub fn original(&self, offset: usize) -> usize {
        let before = self.cuts.partition_point(|&(at, _)| at <= offset);
        offset + before.checked_sub(1).map_or(0, |i| self.cuts[i].1)
    }

    pub fn original_range(&self, r: Range<usize>) -> Range<usize> {
        self.original(r.start)..self.original(r.end)
    }
}

/// `text` with the bodies of the `[rule]` table's multi-line `note` and
/// `setup` strings cut out (see the module documentation).
pub(crate) fn shorten(text: &str) -> Shortened<'_> {
    let bodies = match unread_bodies(text.as_bytes()) {
        Some(b) if !b.is_empty() => b,
        _ => return Shortened::whole(text),
    };
    let mut short = String::with_capacity(text.len());
    let mut cuts = Vec::with_capacity(bodies.len());
    let (mut from, mut cut) = (0, 0);
    for body in bodies {
        short.push_str(&text[from..body.start]);
        cut += body.len();
        cuts.push((short.len(), cut));
        from = body.end;
    }
    short.push_str(&text[from..]);
    Shortened {
        text: Cow::Owned(short),
        cuts,
    }
}

/// The byte ranges to cut, in order; `None` where the text is not read to
/// its end (see the module documentation).
fn unread_bodies(b: &[u8]) -> Option<Vec<Range<usize>>> {
    let mut bodies = Vec::new();
    let mut depth = 0usize;
    let mut in_rule = false;
    // Whether the `[rule]` table has set `language` to another than EQL.
    let mut other_language = false;
    let mut i = 0;
    let mut line_start = true;
    while i < b.len() {
        if line_start {
            line_start = false;
            i = skip_blanks(b, i);
            if depth == 0 {
                if b.get(i) == Some(&b'[') {
                    in_rule = is_rule_header(&b[i..]);
                } else if in_rule {
                    other_language |= sets_other_language(b, i);
                    if let Some((body, end)) = unread_value(b, i, other_language) {
                        bodies.push(body);
                        i = end;
                    }
                }
            }
            continue;
        }
        match b[i] {
            b'\n' => {
                line_start = true;
                i += 1;
            }
            b'#' => i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |p| i + p),
            b'"' | b'\'' => i = string_end(b, i)?,
            b'[' | b'{' => {
                depth += 1;
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
            // Keys, `=`, numbers and blanks: skipped as a run (a byte at a
            // time through the match, this loop was most of `shorten`).
            _ => {
                i += 1;
                while b.get(i).is_some_and(|&c| !STOPS[usize::from(c)]) {
                    i += 1;
                }
            }
        }
    }
    (depth == 0).then_some(bodies)
}

/// The bytes [`unread_bodies`] acts on outside strings: line ends,
/// comments, quotes and brackets.
static STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut i = 0;
    let bytes = b"\n#\"'[]{}";
    while i < bytes.len() {
        stops[bytes[i] as usize] = true;
        i += 1;
    }
    stops
};

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// Whether the header line starting `line` is `[rule]` (nothing but blanks
/// or a comment after it).
pub(crate) fn is_rule_header(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"[rule]") else {
        return false;
    };
    let rest = &rest[skip_blanks(rest, 0)..];
    matches!(rest.first(), None | Some(b'#' | b'\n' | b'\r'))
}

/// At `i`, the start of a line of the `[rule]` table: the offset of the
/// value it assigns to the bare key `key`, if it does.
fn value_of(b: &[u8], i: usize, key: &[u8]) -> Option<usize> {
    if !b[i..].starts_with(key) {
        return None;
    }
    let eq = skip_blanks(b, i + key.len());
    (b.get(eq) == Some(&b'=')).then(|| skip_blanks(b, eq + 1))
}

/// Whether the line at `i` sets `language` to a one-line string without
/// escapes that is not `eql` in any case: a language ferret does not run
/// (see `unsupported_reason`), whatever the string's exact value.
fn sets_other_language(b: &[u8], i: usize) -> bool {
    let Some(open) = value_of(b, i, b"language") else {
        return false;
    };
    let Some(&quote) = b.get(open) else {
        return false;
    };
    if !matches!(quote, b'"' | b'\'') || b[open..].starts_with(&[quote; 3]) {
        return false;
    }
    let Some(end) = string_end(b, open) else {
        return false;
    };
    let value = &b[open + 1..end - 1];
    !value.contains(&b'\\') && !value.eq_ignore_ascii_case(b"eql")
}

/// At `i`, the start of a line of the `[rule]` table: if it assigns an
/// unread key a multi-line string that can be emptied, the string's body
/// and the offset just past the string. The query is unread when the rule
/// is in `other_language`.
fn unread_value(b: &[u8], i: usize, other_language: bool) -> Option<(Range<usize>, usize)> {
    let open = value_of(b, i, b"note")
        .or_else(|| value_of(b, i, b"setup"))
        .or_else(|| other_language.then(|| value_of(b, i, b"query")).flatten())?;
    let quote = *b.get(open)?;
    if !matches!(quote, b'"' | b'\'') || !b[open..].starts_with(&[quote; 3]) {
        return None;
    }
    let end = string_end(b, open)?;
    let body = open + 3..end - 3;
    let plain = plain_body(&b[body.clone()], quote == b'"');
    plain.then_some((body, end))
}

/// Whether a multi-line string's body is valid TOML as it stands and reads
/// as itself: no escape (in a basic string), no control character but tab,
/// line feed and CR LF.
fn plain_body(body: &[u8], basic: bool) -> bool {
    let control = |c: u8| (c < 0x20) & (c != b'\t') & (c != b'\n') & (c != b'\r') | (c == 0x7f);
    // A fold without early exit nor short-circuits, which the compiler
    // vectorizes (notes are long and nearly always plain); backslashes by
    // memchr.
    let any_control = body.iter().fold(false, |acc, &c| acc | control(c));
    let escapes = basic && memchr::memchr(b'\\', body).is_some();
    !any_control
        && !escapes
        && memchr::memchr_iter(b'\r', body).all(|p| body.get(p + 1) == Some(&b'\n'))
}

/// The offset just past the string whose opening quote is at `i`, any of
/// TOML's four kinds; `None` if it does not end where TOML says it must.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let quote = b[i];
    let basic = quote == b'"';
    if b[i..].starts_with(&[quote; 3]) {
        // Multi-line: ends at the first run of three quotes not escaped,
        // of which up to two more may belong to the body.
        let mut at = i + 3;
        loop {
            let rest = b.get(at..)?;
            let p = at
                + if basic {
                    memchr::memchr2(b'"', b'\\', rest)?
                } else {
                    memchr::memchr(b'\'', rest)?
                };
            if b[p] == b'\\' {
                at = p + 2;
                continue;
            }
            let run = b[p..].iter().take_while(|&&c| c == quote).count();
            if run < 3 {
                at = p + run;
                continue;
            }
            return (run <= 5).then_some(p + run);
        }
    }
    let mut at = i + 1;
    loop {
        let rest = b.get(at..)?;
        let p = at
            + if basic {
                memchr::memchr3(b'"', b'\\', b'\n', rest)?
            } else {
                memchr::memchr2(b'\'', b'\n', rest)?
            };
        match b[p] {
            // An escaped line break is no escape in a one-line string: the
            // file is not TOML, and this reading stops.
            b'\\' if matches!(b.get(p + 1), Some(b'\n' | b'\r')) => return None,
            b'\\' => at = p + 2,
            b'\n' => return None,
            _ => return Some(p + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn short(text: &str) -> String {
        shorten(text).text.into_owned()
    }

    #[test]
    fn empties_note_and_setup_of_the_rule_table() {
        let text = "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"x\"\nnote = \"\"\"## Triage\n\nLook at \"it\" and ''it''.\n\"\"\"\nsetup = '''\nInstall it.'''\nquery = '''\nprocess where true\n'''\n";
        let s = shorten(text);
        assert_eq!(
            s.text,
            "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"x\"\nnote = \"\"\"\"\"\"\nsetup = ''''''\nquery = '''\nprocess where true\n'''\n"
        );
        // Every offset outside the cut bodies maps back to the same text.
        let query = s.text.find("query").unwrap();
        assert_eq!(&text[s.original(query)..][..5], "query");
        let close = s.text.find("\"\"\"\"\"\"").unwrap() + 3;
        assert_eq!(&text[s.original(close)..][..4], "\"\"\"\n");
        assert_eq!(s.original(3), 3);
    }

    /// The query of a rule in another language is unread too, once the
    /// table has said so; an EQL rule's query never is.
    #[test]
    fn empties_the_query_of_a_rule_in_another_language() {
        let q = "query = '''\nevent.category:process\n'''\n";
        let cut = "query = ''''''\n";
        for language in ["\"kuery\"", "'esql'", "\"lucene\" # kql", "\"\""] {
            let text = format!("[rule]\nlanguage = {language}\n{q}");
            assert_eq!(
                short(&text),
                format!("[rule]\nlanguage = {language}\n{cut}")
            );
        }
        for text in [
            // EQL in any case, or written with an escape (that reads "eql").
            format!("[rule]\nlanguage = \"eql\"\n{q}"),
            format!("[rule]\nlanguage = 'EqL'\n{q}"),
            format!("[rule]\nlanguage = \"e\\u0071l\"\n{q}"),
            // Said after the query, in another table, or not as a one-line
            // string.
            format!("[rule]\n{q}language = \"kuery\"\n"),
            format!("[metadata]\nlanguage = \"kuery\"\n[rule]\n{q}"),
            format!("[rule]\nlanguage = \"\"\"kuery\"\"\"\n{q}"),
            format!("[rule]\nlanguages = \"kuery\"\n{q}"),
            format!("[rule]\nx = [\nlanguage = \"kuery\"]\n{q}"),
        ] {
            assert_eq!(short(&text), text);
        }
    }

    #[test]
    fn a_closing_run_of_up_to_five_quotes_keeps_two_in_the_body() {
        assert_eq!(
            short("[rule]\nnote = \"\"\"say \"hi\"\"\"\"\"\nx = 1\n"),
            "[rule]\nnote = \"\"\"\"\"\"\nx = 1\n"
        );
        // Six quotes is not TOML: no cut, the parser reports it.
        let bad = "[rule]\nnote = \"\"\"a\"\"\"\"\"\"\n";
        assert_eq!(short(bad), bad);
    }

    #[test]
    fn cuts_nothing_it_cannot_prove_unread() {
        for text in [
            // Another table, even one under [rule].
            "[rule]\n[[rule.threat]]\nnote = '''x'''\n",
            "[metadata]\nnote = '''x'''\n",
            // A value that needs decoding, or holds a control character.
            "[rule]\nnote = \"\"\"a\\tb\"\"\"\n",
            "[rule]\nnote = \"\"\"a\u{1}b\"\"\"\n",
            "[rule]\nnote = '''a\rb'''\n",
            // One-line strings, other keys, dotted keys.
            "[rule]\nnote = \"x\"\nnotes = '''x'''\nrule.note = '''x'''\n",
            // Inside an array or an inline table spanning lines.
            "[rule]\nthreat = [\n{x = 1},\n]\nt = [\nnote = '''x'''\n]\n",
            "[rule]\nt = {\nnote = '''x'''\n}\n",
            // Inside a multi-line string, after a comment.
            "[rule]\nquery = '''\nnote = '''\n# note = '''x'''\n",
            "[rule]\nquery = \"\"\"\nnote = \\\"\"\"x\"\"\"\n",
            "[rule] # x\n# [other]\nname = \"#\" # note = '''x'''\n",
            // Not read to its end: no cut at all, not even the first.
            "[rule]\nnote = '''x'''\nname = \"open\n",
            "[rule]\nnote = '''x'''\nt = [1\n",
            "[rule]\nnote = '''x'''\nt = ]\n",
            // A file ending inside an escape, or a line break escaped in a
            // one-line string: not read to the end either.
            "[rule]\nnote = '''x'''\nname = \"a\\",
            "[rule]\nnote = '''x'''\nq = \"\"\"a\\",
            "[rule]\nx = \"a\\\n\"\nnote = '''y'''\n",
        ] {
            assert_eq!(short(text), text);
        }
        // The header may carry a comment; the body may hold CR LF and quotes.
        assert_eq!(
            short("[rule] # main\r\nnote = '''a\r\nb''''\r\n"),
            "[rule] # main\r\nnote = ''''''\r\n"
        );
    }

    /// Pieces of rule files, glued into documents: shortening must change
    /// what `toml` reads only by emptying `rule.note` and `rule.setup`, and
    /// never turn an error into a success or the other way round.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "[rule]\n",
            "[metadata]\n",
            "language = \"kuery\"\n",
            "language = 'EQL'\n",
            "language = \"e\\u0071l\"\n",
            "language = \"\"\"esql\"\"\"\n",
            "query = '''\nevent.category:x and note\n'''\n",
            "query = \"\"\"\nFROM logs-* | WHERE \\q\n\"\"\"\n",
            "[[rule.threat]]\n",
            "[rule] # the rule\n",
            "note = \"\"\"\nGuide \"x\" ''y''\n\"\"\"\n",
            "note = '''\nGuide \"\"\" x\n'''\n",
            "setup = \"\"\"a\"\"\"\"\"\n",
            "setup = \"\"\"a\\\\b\"\"\"\n",
            "note = \"one line\"\n",
            "name = \"n\"\n",
            "query = '''\nprocess where true\nnote = \"\"\"\n'''\n",
            "query = \"\"\"\nx \\\"\"\" note = '''\n\"\"\"\n",
            "tags = [\n\"a\",\nnote = '''t'''\n]\n",
            "tags = [\n\"a\", # ]\n\"b\"]\n",
            "t = { a = 1 }\n",
            "t = {\nnote = '''x'''\n}\n",
            "threat = [{\nsetup = \"\"\"y\"\"\"\n}]\n",
            "note = \"\"\"bad \\q escape\"\"\"\n",
            "setup = '''bell \u{7}'''\n",
            "# note = '''\n",
            "x = \"unterminated\n",
            "x = ]\n",
            "note = '''a''''''\n",
            "x = \"esc\\\n",
            "\\",
            "\n",
            "  ",
            "\r\n",
        ])
    }

    fn emptied(mut v: toml::Table) -> toml::Table {
        if let Some(toml::Value::Table(rule)) = v.get_mut("rule") {
            let other = match rule.get("language") {
                Some(toml::Value::String(l)) => !l.eq_ignore_ascii_case("eql"),
                _ => false,
            };
            let query = other.then_some("query");
            for key in ["note", "setup"].into_iter().chain(query) {
                if let Some(toml::Value::String(s)) = rule.get_mut(key) {
                    s.clear();
                }
            }
        }
        v
    }

    #[test]
    fn the_corpus_reads_the_same_shortened() {
        let dir = ferret_testkit::shared_dir().join("corpus/detection-rules");
        let (files, _) = crate::collect_files(&dir);
        let (mut cut, mut bytes, mut kept) = (0, 0, 0);
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let s = shorten(&text);
            let full: toml::Table = text.parse().unwrap();
            let short: toml::Table = s.text.parse().unwrap();
            assert!(emptied(full) == emptied(short), "{}", file.display());
            cut += usize::from(s.is_cut());
            bytes += text.len();
            kept += s.text.len();
        }
        eprintln!(
            "shortened {cut} of {} rule files: {kept} of {bytes} bytes left to parse",
            files.len()
        );
        // Nearly every rule has an investigation guide, most a setup text.
        assert!(cut > files.len() * 3 / 4, "{cut} of {}", files.len());
        assert!(kept < bytes * 3 / 5, "{kept} of {bytes}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        /// Any text, however broken, is shortened or left alone, never a
        /// panic, and what is kept is where it was.
        #[test]
        fn any_text_shortens_without_panic(text in "([\\[\\]{}\"'\\\\#=\\n\\r ]|rule|note|setup|x|é){0,60}") {
            let s = shorten(&text);
            for (n, &c) in s.text.as_bytes().iter().enumerate() {
                prop_assert_eq!(text.as_bytes()[s.original(n)], c);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        #[test]
        fn shortening_changes_only_the_unread_values(pieces in prop::collection::vec(piece(), 0..12)) {
            let text: String = pieces.concat();
            let s = shorten(&text);
            let full: Result<toml::Table, _> = text.parse();
            let cut: Result<toml::Table, _> = s.text.parse();
            match (full, cut) {
                (Ok(full), Ok(cut)) => prop_assert_eq!(emptied(full), emptied(cut)),
                (Err(_), Err(_)) => {}
                (full, cut) => prop_assert!(
                    false,
                    "{:?}\nshortened to {:?}:\n{:?}\n{:?}",
                    text,
                    s.text,
                    full.map(|_| ()),
                    cut.map(|_| ())
                ),
            }
            // Offsets map back: every byte kept is the byte it was.
            let kept = s.text.as_bytes();
            for (n, &c) in kept.iter().enumerate() {
                prop_assert_eq!(text.as_bytes()[s.original(n)], c);
            }
        }
    }
}
