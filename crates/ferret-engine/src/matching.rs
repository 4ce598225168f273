//! String matching for the expression layer, compiled once per query:
//!
//! * case folding ([`fold_char`], [`fold_into`], [`with_folded`]) used by every
//!   case-insensitive operator (`:`, `in~`, `like~`, `regex~`, `startsWith~`…);
//! * wildcard pattern sets ([`PatternSet`]) for `:` and `like`: EQL patterns
//!   know exactly two wildcards, `*` (any run of characters) and `?` (exactly
//!   one character), and **no escape character** — Elasticsearch turns an EQL
//!   pattern into a LIKE pattern whose escape character cannot occur in the
//!   text, so a backslash is an ordinary character (`"C:\\*"` means a literal
//!   backslash followed by a wildcard). Patterns are sorted into exact,
//!   prefix, suffix and contains buckets (hash set, memmem / Aho-Corasick) and
//!   only the rest run the general matcher;
//! * multi-pattern search automata ([`Automaton`]) that are quick to build
//!   and become quick to search once they are used often;
//! * Lucene regular expressions ([`lucene_regex`]) translated to the `regex`
//!   crate for `regex` / `regex~`, anchored at both ends as Lucene matches the
//!   whole value. Syntax that has no faithful translation is rejected.
//!
//! Case-insensitive matching folds both sides with a one-to-one per-character
//! lowercase mapping (ASCII fast path, Unicode otherwise); characters whose
//! lowercase form is several characters (`İ`) are kept as they are.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, BuildError};
use memchr::memmem;

use crate::screen::Screen;

/// Lowercases one character when the mapping is one-to-one.
#[inline]
pub fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Writes the case-folded form of `s` into `out` (cleared first).
pub fn fold_into(s: &str, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        out.make_ascii_lowercase();
    } else {
        out.extend(s.chars().map(fold_char));
    }
}

/// The case-folded form of `s`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// True if `a` and `b` are equal ignoring case (see [`fold_char`]).
pub fn eq_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().map(fold_char).eq(b.chars().map(fold_char))
}

thread_local! {
    static FOLD_BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Calls `f` with the case-folded form of `s`, reusing a per-thread buffer so
/// the hot path does not allocate. Already-lowercase ASCII is passed through.
pub fn with_folded<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    if !s.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        return f(s);
    }
    FOLD_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            fold_into(s, &mut buf);
            f(&buf)
        }
        // Re-entrant use (not expected): fall back to an allocation.
        Err(_) => f(&fold(s)),
    })
}

/// One token of a general wildcard pattern.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Lit(char),
    One,
    Star,
}

fn tokenize(pattern: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    for c in pattern.chars() {
        match c {
            '*' => {
                // Consecutive stars are one star.
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star)
                }
            }
            '?' => toks.push(Tok::One),
            c => toks.push(Tok::Lit(c)),
        }
    }
    toks
}

/// Full match of `text` against a tokenized wildcard pattern (greedy with
/// backtracking to the last star: linear in practice, O(n·m) worst case).
fn wild_match(toks: &[Tok], text: &str) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(c) = text[s..].chars().next() {
            if p < toks.len() {
                match toks[p] {
                    Tok::Star => {
                        star = Some((p, s));
                        p += 1;
                        continue;
                    }
                    Tok::One => {
                        p += 1;
                        s += c.len_utf8();
                        continue;
                    }
                    Tok::Lit(l) if l == c => {
                        p += 1;
                        s += c.len_utf8();
                        continue;
                    }
                    Tok::Lit(_) => {}
                }
            }
            match star {
                Some((sp, ss)) => {
                    let skipped = text[ss..].chars().next().map_or(1, char::len_utf8);
                    star = Some((sp, ss + skipped));
                    p = sp + 1;
                    s = ss + skipped;
                }
                None => return false,
            }
        } else {
            return toks[p..].iter().all(|t| *t == Tok::Star);
        }
    }
}

/// Literal strings for exact membership: a short list is scanned, a long one
/// hashed (with foldhash: the standard library's SipHash was a fifth of
/// the lookups' time; the set holds only the rules' literals, which event
/// values looked up cannot make collide).
#[derive(Clone, Debug, Default)]
struct ExactSet {
    small: Vec<Box<str>>,
    large: Option<HashSet<Box<str>, foldhash::fast::FixedState>>,
}

impl ExactSet {
    fn from(values: Vec<Box<str>>) -> ExactSet {
        if values.len() > 8 {
            ExactSet {
                small: Vec::new(),
                large: Some(values.into_iter().collect()),
            }
        } else {
            ExactSet {
                small: values,
                large: None,
            }
        }
    }

    #[inline]
    fn contains(&self, s: &str) -> bool {
        match &self.large {
            Some(set) => set.contains(s),
            None => self.small.iter().any(|v| &**v == s),
        }
    }

    fn is_empty(&self) -> bool {
        self.small.is_empty()
            && match &self.large {
                Some(set) => set.is_empty(),
                None => true,
            }
    }
}

/// An Aho-Corasick automaton built as a contiguous NFA, quick to build,
/// that builds itself a DFA, quicker to search, once it has been searched
/// [`Automaton::DFA_AFTER`] times. A thousand rules bring hundreds of
/// automata: built as DFAs up front they were a tenth of the instructions of
/// loading the rules and scanning a thousand events, which a short scan (a
/// rule's test, a small file) never earns back, while a long scan searches
/// each one millions of times, where a DFA searches a few percent faster.
/// Both kinds find the same matches. Clones share the automaton.
#[derive(Clone, Debug)]
pub struct Automaton(Arc<Upgrade>);

#[derive(Debug)]
struct Upgrade {
    nfa: AhoCorasick,
    dfa: OnceLock<AhoCorasick>,
    searches: AtomicU32,
    builder: AhoCorasickBuilder,
    patterns: Vec<Box<[u8]>>,
}

impl Automaton {
    /// Searches after which the DFA is built.
    pub const DFA_AFTER: u32 = 1 << 14;

    /// An automaton for `patterns` as `builder` configures it (its kind
    /// aside).
    pub fn new<I, P>(builder: &AhoCorasickBuilder, patterns: I) -> Result<Automaton, BuildError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let patterns: Vec<Box<[u8]>> = patterns.into_iter().map(|p| p.as_ref().into()).collect();
        let mut builder = builder.clone();
        // A contiguous NFA has a size limit the other kinds have not.
        let nfa = match builder
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&patterns)
        {
            Ok(nfa) => nfa,
            Err(_) => builder.kind(None).build(&patterns)?,
        };
        Ok(Automaton(Arc::new(Upgrade {
            nfa,
            dfa: OnceLock::new(),
            searches: AtomicU32::new(0),
            builder,
            patterns,
        })))
    }

    /// The automaton to search with now (counting the search).
    #[inline]
    pub fn get(&self) -> &AhoCorasick {
        match self.0.dfa.get() {
            Some(dfa) => dfa,
            None => self.0.count(),
        }
    }

    /// The kind searched with now.
    pub fn kind(&self) -> AhoCorasickKind {
        self.0.dfa.get().unwrap_or(&self.0.nfa).kind()
    }
}

impl Upgrade {
    fn count(&self) -> &AhoCorasick {
        // Searches are counted by the thread, and every 64th is added to the
        // automaton searched then: a count per search in the automaton
        // itself, written by every thread, cost a scan of all rules 3% of
        // its time in cache-line traffic. An automaton's count still grows
        // with its share of the searches.
        const SAMPLE: u32 = 64;
        thread_local! {
            static SEARCHES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
        }
        let tick = SEARCHES.with(|n| {
            n.set(n.get().wrapping_add(1));
            n.get()
        });
        if tick.is_multiple_of(SAMPLE) {
            let before = self.searches.fetch_add(SAMPLE, Ordering::Relaxed);
            if before < Automaton::DFA_AFTER && before + SAMPLE >= Automaton::DFA_AFTER {
                // The search that reaches the count builds the DFA; searches
                // on other threads go on with the NFA meanwhile. A DFA too
                // big to build leaves the NFA (and stops the counting).
                let dfa = self
                    .builder
                    .clone()
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&self.patterns)
                    .unwrap_or_else(|_| self.nfa.clone());
                let _ = self.dfa.set(dfa);
            }
        }
        &self.nfa
    }
}

#[derive(Clone, Debug)]
enum Contains {
    None,
    Finders(Vec<memmem::Finder<'static>>),
    Aho(Automaton),
}

/// A compiled set of EQL patterns; [`PatternSet::is_match`] is true if any
/// pattern matches the whole text.
#[derive(Clone, Debug)]
pub struct PatternSet {
    case_insensitive: bool,
    any: bool,
    exact: ExactSet,
    prefixes: Vec<Box<str>>,
    suffixes: Vec<Box<str>>,
    contains: Contains,
    general: Vec<Vec<Tok>>,
    /// Per pattern, its longest run of literal characters (case-folded when
    /// the set is case-insensitive); `None` when some pattern has none
    /// (`*`, `?`), i.e. matches without containing any fixed text.
    needles: Option<Vec<Box<str>>>,
    /// Per pattern, the literal run a raw-text screen looks for and whether
    /// it starts and ends the value (see [`anchored_literal`]).
    anchored: Vec<(Box<str>, bool, bool)>,
}

impl PatternSet {
    /// Wildcard patterns (`*`, `?`), as for `:` and `like`.
    pub fn wildcard<S: AsRef<str>>(patterns: &[S], case_insensitive: bool) -> PatternSet {
        Self::build(patterns, case_insensitive, true)
    }

    /// Plain strings matched exactly (no wildcards), as for `in~`.
    pub fn literal<S: AsRef<str>>(values: &[S], case_insensitive: bool) -> PatternSet {
        Self::build(values, case_insensitive, false)
    }

    fn build<S: AsRef<str>>(patterns: &[S], ci: bool, wild: bool) -> PatternSet {
        let mut any = false;
        let mut exact = Vec::new();
        let mut prefixes = Vec::new();
        let mut suffixes = Vec::new();
        let mut contains: Vec<Box<str>> = Vec::new();
        let mut general = Vec::new();
        let mut needles = Some(Vec::new());
        let mut anchored = Vec::new();
        for p in patterns {
            let p = if ci {
                fold(p.as_ref())
            } else {
                p.as_ref().to_string()
            };
            let needle = longest_literal(&p, wild);
            let (run, start, end) = anchored_literal(&p, wild);
            anchored.push((run.into(), start, end));
            match (&mut needles, needle.is_empty()) {
                (Some(list), false) => list.push(needle.into()),
                _ => needles = None,
            }
            if !wild || !p.contains(['*', '?']) {
                exact.push(p.into_boxed_str());
                continue;
            }
            let inner_has_wild = |s: &str| s.contains(['*', '?']);
            if p.chars().all(|c| c == '*') {
                any = true;
            } else if let Some(rest) = p.strip_suffix('*').filter(|r| !inner_has_wild(r)) {
                prefixes.push(rest.into());
            } else if let Some(rest) = p.strip_prefix('*').filter(|r| !inner_has_wild(r)) {
                suffixes.push(rest.into());
            } else if let Some(mid) = p
                .strip_prefix('*')
                .and_then(|r| r.strip_suffix('*'))
                .filter(|m| !inner_has_wild(m))
            {
                contains.push(mid.into());
            } else {
                general.push(tokenize(&p));
            }
        }
        let contains = match contains.len() {
            0 => Contains::None,
            1..=3 => Contains::Finders(
                contains
                    .iter()
                    .map(|c| memmem::Finder::new(c.as_bytes()).into_owned())
                    .collect(),
            ),
            _ => match Automaton::new(
                &AhoCorasickBuilder::new(),
                contains.iter().map(|c| c.as_bytes()),
            ) {
                Ok(ac) => Contains::Aho(ac),
                Err(_) => Contains::Finders(
                    contains
                        .iter()
                        .map(|c| memmem::Finder::new(c.as_bytes()).into_owned())
                        .collect(),
                ),
            },
        };
        PatternSet {
            case_insensitive: ci,
            any,
            exact: ExactSet::from(exact),
            prefixes,
            suffixes,
            contains,
            general,
            needles,
            anchored,
        }
    }

    /// What a matching value's record must hold in its JSON text (see
    /// [`crate::screen`]): one of the patterns' anchored literal runs.
    pub fn screen(&self) -> Screen {
        if self.any {
            return Screen::Always;
        }
        self.anchored
            .iter()
            .fold(Screen::Never, |acc, (run, start, end)| {
                acc.or(Screen::literal(run, *start, *end, self.case_insensitive))
            })
    }

    /// Text every match contains: for each pattern its longest literal run
    /// (case-folded when the set is case-insensitive). A value the set
    /// matches contains at least one of these. `None` when some pattern
    /// fixes no text at all (`*`, `?`, `*?*`).
    pub fn needles(&self) -> Option<&[Box<str>]> {
        self.needles.as_deref()
    }

    /// True if some pattern matches all of `text`.
    pub fn is_match(&self, text: &str) -> bool {
        if self.any {
            return true;
        }
        if self.case_insensitive {
            with_folded(text, |t| self.match_folded(t))
        } else {
            self.match_folded(text)
        }
    }

    fn match_folded(&self, t: &str) -> bool {
        if !self.exact.is_empty() && self.exact.contains(t) {
            return true;
        }
        if self.prefixes.iter().any(|p| t.starts_with(&**p)) {
            return true;
        }
        if self.suffixes.iter().any(|p| t.ends_with(&**p)) {
            return true;
        }
        let hit = match &self.contains {
            Contains::None => false,
            Contains::Finders(fs) => fs.iter().any(|f| f.find(t.as_bytes()).is_some()),
            Contains::Aho(ac) => ac.get().is_match(t),
        };
        hit || self.general.iter().any(|g| wild_match(g, t))
    }
}

/// The longest run of characters of `pattern` that are not wildcards (the
/// first of equal length), or all of it when `wild` is false.
fn longest_literal(pattern: &str, wild: bool) -> &str {
    if !wild {
        return pattern;
    }
    pattern.split(['*', '?']).fold(
        "",
        |best, run| if run.len() > best.len() { run } else { best },
    )
}

/// The run of literal characters of `pattern` a screen looks for, and
/// whether it starts and ends every value the pattern matches: the run
/// longest once a quote is counted for each end it is anchored to (the first
/// of equal worth), or all of `pattern`, anchored at both ends, when `wild`
/// is false.
fn anchored_literal(pattern: &str, wild: bool) -> (&str, bool, bool) {
    if !wild {
        return (pattern, true, true);
    }
    let runs: Vec<&str> = pattern.split(['*', '?']).collect();
    let last = runs.len() - 1;
    let mut best = ("", false, false);
    let mut best_worth = 0;
    for (i, run) in runs.iter().enumerate() {
        let (start, end) = (i == 0, i == last);
        let worth = run.len() + usize::from(start) + usize::from(end);
        if !run.is_empty() && worth > best_worth {
            best = (run, start, end);
            best_worth = worth;
        }
    }
    best
}

/// Translates a Lucene regular expression (the `regexp` query syntax
/// Elasticsearch uses for EQL `regex`) into an anchored `regex` crate
/// pattern. Lucene matches the whole value, has no anchors (`^`, `$` are
/// ordinary characters), no lazy quantifiers (`a*?` is `(a*)?`), supports
/// `"…"` quoted literals, `\` escapes any character, `\d \w \s` (and
/// negations) as classes, and `@` as "any string". The operators of its
/// extended syntax that have no `regex` crate equivalent (`&` intersection,
/// `~` complement, `<n-m>` numeric ranges, `#` empty language) are rejected.
pub fn lucene_regex(pattern: &str, case_insensitive: bool) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut t = Translator {
        chars: &chars,
        pos: 0,
    };
    let body = t.union()?;
    if t.pos < chars.len() {
        return Err(format!(
            "unexpected `{}` at offset {} in regular expression",
            chars[t.pos], t.pos
        ));
    }
    let flags = if case_insensitive { "(?is)" } else { "(?s)" };
    Ok(format!(r"{flags}\A(?:{body})\z"))
}

/// Compiles a set of Lucene regular expressions into one anchored regex
/// matching any of them.
pub fn lucene_regex_set<S: AsRef<str>>(
    patterns: &[S],
    case_insensitive: bool,
) -> Result<regex::Regex, String> {
    let mut alts = Vec::with_capacity(patterns.len());
    for p in patterns {
        alts.push(lucene_regex(p.as_ref(), case_insensitive)?);
    }
    let joined = alts
        .iter()
        .map(|a| format!("(?:{a})"))
        .collect::<Vec<_>>()
        .join("|");
    regex::RegexBuilder::new(&joined)
        .size_limit(1 << 24)
        .build()
        .map_err(|e| format!("invalid regular expression: {e}"))
}

struct Translator<'a> {
    chars: &'a [char],
    pos: usize,
}

fn push_literal(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

impl Translator<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn union(&mut self) -> Result<String, String> {
        let mut out = self.concat()?;
        while self.peek() == Some('|') {
            self.pos += 1;
            let rhs = self.concat()?;
            out = format!("{out}|{rhs}");
        }
        Ok(out)
    }

    fn concat(&mut self) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            out.push_str(&self.repeat()?);
        }
        Ok(out)
    }

    fn repeat(&mut self) -> Result<String, String> {
        let mut atom = self.atom()?;
        while let Some(c) = self.peek() {
            let quant = match c {
                '*' | '+' | '?' => {
                    self.pos += 1;
                    c.to_string()
                }
                '{' => self.bounds()?,
                _ => break,
            };
            // Each quantifier applies to everything before it, so `a*?`
            // means `(a*)?` (Lucene has no lazy quantifiers).
            atom = format!("(?:{atom}){quant}");
        }
        Ok(atom)
    }

    fn bounds(&mut self) -> Result<String, String> {
        let start = self.pos;
        self.pos += 1;
        let mut body = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '}' {
                let ok = {
                    let mut parts = body.splitn(2, ',');
                    let lo = parts.next().unwrap_or("");
                    let hi = parts.next();
                    !lo.is_empty()
                        && lo.bytes().all(|b| b.is_ascii_digit())
                        && match hi {
                            Some(h) => h.bytes().all(|b| b.is_ascii_digit()),
                            None => true,
                        }
                };
                if !ok {
                    return Err(format!("invalid repetition `{{{body}}}` at offset {start}"));
                }
                return Ok(format!("{{{body}}}"));
            }
            body.push(c);
        }
        Err(format!("unclosed `{{` at offset {start}"))
    }

    fn atom(&mut self) -> Result<String, String> {
        let at = self.pos;
        let c = self.peek().ok_or("unexpected end of regular expression")?;
        self.pos += 1;
        let mut out = String::new();
        match c {
            '.' => out.push('.'),
            '(' => {
                let inner = self.union()?;
                if self.peek() != Some(')') {
                    return Err(format!("unclosed `(` at offset {at}"));
                }
                self.pos += 1;
                out = format!("(?:{inner})");
            }
            '[' => out = self.class(at)?,
            '"' => {
                let mut closed = false;
                while let Some(q) = self.peek() {
                    self.pos += 1;
                    if q == '"' {
                        closed = true;
                        break;
                    }
                    push_literal(&mut out, q);
                }
                if !closed {
                    return Err(format!("unclosed `\"` at offset {at}"));
                }
                out = format!("(?:{out})");
            }
            '\\' => {
                let e = self.peek().ok_or("trailing `\\` in regular expression")?;
                self.pos += 1;
                match e {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[a-zA-Z0-9_]"),
                    'W' => out.push_str("[^a-zA-Z0-9_]"),
                    's' => out.push_str(r"[ \t\n\r\x0B\x0C]"),
                    'S' => out.push_str(r"[^ \t\n\r\x0B\x0C]"),
                    other => push_literal(&mut out, other),
                }
            }
            '@' => out.push_str(".*"),
            '*' | '+' | '?' | '{' => {
                return Err(format!(
                    "quantifier `{c}` with nothing to repeat at offset {at}"
                ))
            }
            '&' | '~' | '<' | '#' => {
                return Err(format!(
                    "the Lucene regular-expression operator `{c}` (offset {at}) is not supported"
                ))
            }
            ']' | '}' => {
                return Err(format!(
                    "unbalanced `{c}` at offset {at} in regular expression"
                ))
            }
            other => push_literal(&mut out, other),
        }
        Ok(out)
    }

    fn class(&mut self, at: usize) -> Result<String, String> {
        let mut out = String::from("[");
        if self.peek() == Some('^') {
            self.pos += 1;
            out.push('^');
        }
        let mut first = true;
        loop {
            let c = self
                .peek()
                .ok_or_else(|| format!("unclosed `[` at offset {at}"))?;
            self.pos += 1;
            match c {
                ']' if !first => break,
                ']' => return Err(format!("empty character class at offset {at}")),
                '\\' => {
                    let e = self
                        .peek()
                        .ok_or_else(|| format!("unclosed `[` at offset {at}"))?;
                    self.pos += 1;
                    match e {
                        'd' => out.push_str("0-9"),
                        'w' => out.push_str("a-zA-Z0-9_"),
                        's' => out.push_str(r" \t\n\r\x0B\x0C"),
                        'D' | 'W' | 'S' => {
                            return Err(format!(
                                "`\\{e}` inside a character class is not supported (offset {at})"
                            ))
                        }
                        other => class_literal(&mut out, other),
                    }
                }
                '-' if !first && self.peek() != Some(']') => out.push('-'),
                other => class_literal(&mut out, other),
            }
            first = false;
        }
        out.push(']');
        Ok(out)
    }
}

fn class_literal(out: &mut String, c: char) {
    if matches!(c, '[' | ']' | '\\' | '^' | '-' | '&' | '~') {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wm(p: &str, t: &str) -> bool {
        PatternSet::wildcard(&[p], false).is_match(t)
    }

    fn wmi(p: &str, t: &str) -> bool {
        PatternSet::wildcard(&[p], true).is_match(t)
    }

    #[test]
    fn screens_look_for_the_run_worth_most_with_its_anchors() {
        assert_eq!(anchored_literal("nc", false), ("nc", true, true));
        assert_eq!(anchored_literal("py*", false), ("py*", true, true));
        assert_eq!(anchored_literal("python*", true), ("python", true, false));
        assert_eq!(anchored_literal("*.exe", true), (".exe", false, true));
        // "ab" at the start is worth 3, "cd" inside 2, "x" at the end 2.
        assert_eq!(anchored_literal("ab*cd?x", true), ("ab", true, false));
        assert_eq!(anchored_literal("*abcd*", true), ("abcd", false, false));
        assert_eq!(anchored_literal("a?b", true), ("a", true, false));
        assert_eq!(anchored_literal("?", true), ("", false, false));
        assert_eq!(PatternSet::wildcard(&["*"], false).screen(), Screen::Always);
        assert_eq!(
            PatternSet::wildcard(&["CMD*", "*.BAT"], true).screen(),
            Screen::literal("cmd", true, false, true)
                .or(Screen::literal(".bat", false, true, true))
        );
    }

    #[test]
    fn wildcard_fast_paths_and_general() {
        assert!(wm("*", ""));
        assert!(wm("*", "anything"));
        assert!(wm("**", "x"));
        assert!(wm("abc", "abc"));
        assert!(!wm("abc", "abcd"));
        assert!(wm("ab*", "abcd"));
        assert!(!wm("ab*", "xabcd"));
        assert!(wm("*cd", "abcd"));
        assert!(!wm("*cd", "abcdx"));
        assert!(wm("*bc*", "abcd"));
        assert!(wm("*bc*", "bc"));
        assert!(!wm("*bc*", "b c"));
        assert!(wm("a*c", "abbbc"));
        assert!(wm("a*c", "ac"));
        assert!(!wm("a*c", "acb"));
        assert!(wm("%*%*", "%windir%\\x"));
        assert!(!wm("%*%*", "x%windir%"));
    }

    #[test]
    fn question_mark_is_exactly_one_character() {
        assert!(wm("1?", "10"));
        assert!(!wm("1?", "1"));
        assert!(!wm("1?", "100"));
        assert!(wm("lsass.e?e", "lsass.exe"));
        assert!(wm("?", "é"));
        assert!(!wm("?", "ab"));
        assert!(wm("a?*", "ab"));
        assert!(!wm("a?*", "a"));
    }

    #[test]
    fn backslash_is_not_an_escape() {
        // `"*\\MACHINE\\*"` in EQL source is `*\MACHINE\*` here: the backslash
        // before `*` is a literal backslash and the `*` stays a wildcard.
        let p = r"*\MACHINE\SAM\SAM\*\Account\Us*ers\00*03E9\F";
        assert!(wm(
            p,
            r"\REGISTRY\MACHINE\SAM\SAM\DOMAINS\Account\Users\000003E9\F"
        ));
        assert!(wm(r"a\*", r"a\bc"));
        assert!(!wm(r"a\*", "a*"));
    }

    #[test]
    fn case_insensitive_wildcards() {
        assert!(wmi("winINI?.exE", "wininit.exe"));
        assert!(wmi("*SVCHOST*", "C:\\Windows\\svchost.exe"));
        assert!(wmi("ÉCOLE*", "école normale"));
        assert!(!wm("ÉCOLE*", "école normale"));
        assert!(wmi("python*", "PYTHON3"));
    }

    #[test]
    fn many_contains_patterns_use_one_automaton() {
        let pats = ["*aa*", "*bb*", "*cc*", "*dd*", "*ee*"];
        let set = PatternSet::wildcard(&pats, true);
        assert!(matches!(set.contains, Contains::Aho(_)));
        assert!(set.is_match("xxDDxx"));
        assert!(!set.is_match("abcde"));
    }

    /// An automaton searches as a contiguous NFA until it has been searched
    /// often, then as a DFA, finding the same matches; clones share it.
    #[test]
    fn automaton_becomes_a_dfa_after_enough_searches_and_finds_the_same() {
        let a = Automaton::new(
            AhoCorasickBuilder::new().ascii_case_insensitive(true),
            ["foo", "bar", "o b", "ob"],
        )
        .unwrap();
        let shared = a.clone();
        let texts = ["xFOO", "nothing", "foo bar", "", "OBOB"];
        let matches = |a: &Automaton| -> Vec<Vec<(usize, usize)>> {
            texts
                .iter()
                .map(|t| {
                    a.get()
                        .find_overlapping_iter(t)
                        .map(|m| (m.pattern().as_usize(), m.start()))
                        .collect()
                })
                .collect()
        };
        assert_eq!(a.kind(), AhoCorasickKind::ContiguousNFA);
        let before = matches(&a);
        assert_eq!(before[2], [(0, 0), (2, 2), (1, 4)]);
        for _ in 0..Automaton::DFA_AFTER {
            assert!(!a.get().is_match("zzz"));
        }
        assert_eq!(shared.kind(), AhoCorasickKind::DFA);
        assert_eq!(matches(&a), before);
    }

    #[test]
    fn literal_sets_ignore_wildcards() {
        let set = PatternSet::literal(&["python*", "php?"], true);
        assert!(set.is_match("PYTHON*"));
        assert!(!set.is_match("python3"));
        assert!(!set.is_match("php7"));
        let many: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
        let set = PatternSet::literal(&many, false);
        assert!(set.is_match("v17"));
        assert!(!set.is_match("V17"));
    }

    fn rx(p: &str, t: &str) -> bool {
        lucene_regex_set(&[p], false).unwrap().is_match(t)
    }

    #[test]
    fn lucene_regex_is_anchored_full_match() {
        assert!(rx("[a-z]{3}", "foo"));
        assert!(!rx("[a-z]{3}", "fooo"));
        assert!(!rx("oo", "foo"));
        assert!(rx(".*?net1[ ]+localgroup.*?", "net1  localgroup admins"));
        assert!(rx("foo\nbar", "foo\nbar"));
        assert!(rx("a.b", "a\nb"), "`.` matches a newline as in Lucene");
    }

    #[test]
    fn lucene_regex_reserved_and_literal_characters() {
        assert!(rx("^a$", "^a$"), "no anchors in Lucene");
        assert!(rx(r"a\.b", "a.b"));
        assert!(!rx(r"a\.b", "axb"));
        assert!(rx(r#""a.b"c"#, "a.bc"));
        assert!(!rx(r#""a.b"c"#, "axbc"));
        assert!(rx("@", "anything at all"));
        assert!(rx(r"\d+", "123"));
        assert!(!rx(r"\d+", "12a"));
        assert!(rx("[^a-c]x", "dx"));
        assert!(!rx("[^a-c]x", "bx"));
    }

    #[test]
    fn lucene_postfix_question_mark_is_optional_not_lazy() {
        // Lucene reads `a+?` as `(a+)?`, which also matches the empty string.
        assert!(rx("a+?", ""));
        assert!(rx("xa+?", "xaaa"));
    }

    #[test]
    fn lucene_regex_case_insensitive() {
        let r = lucene_regex_set(&[".*NET1.*"], true).unwrap();
        assert!(r.is_match("c:\\net1.exe"));
    }

    #[test]
    fn unsupported_lucene_syntax_is_rejected() {
        for bad in ["a&b", "~a", "<1-10>", "#", "(a", "a{x}", "[abc", "*a", "a]"] {
            assert!(lucene_regex(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn folding() {
        assert_eq!(fold("AbC"), "abc");
        assert_eq!(fold("ÀÉ"), "àé");
        assert!(eq_fold("SVCHOST.exe", "svchost.EXE"));
        assert!(eq_fold("École", "éCOLE"));
        assert!(!eq_fold("a", "b"));
        assert_eq!(with_folded("ABC", |s| s.to_string()), "abc");
        assert_eq!(with_folded("abc", |s| s.to_string()), "abc");
    }
}
