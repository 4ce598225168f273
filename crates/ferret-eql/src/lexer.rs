//! The EQL lexer: turns query text into tokens with byte spans.
//!
//! Hand-written (no regex) and linear in the input. Keywords are not
//! separate tokens: the lexer emits [`TokenKind::Ident`] and the parser
//! decides from context whether a word is a keyword, which is what lets
//! `process.sequence` or `event0.file.name` be field paths.
//!
//! The token set follows Elasticsearch's `EqlBase.g4`: `name~` is one token
//! (`like~`, `in~`, `regex~`, `startsWith~`), `![` opens a missing-event
//! stage, `?` marks an optional field, comments (`//`, nested `/* */`) and
//! whitespace are skipped. Elasticsearch's legacy string forms (`'…'`,
//! `?"…"`) are lexed far enough to give a helpful error. The first lexical
//! error becomes a [`TokenKind::Error`] token followed by end of input, so the
//! parser reports it only if it gets that far (errors come out in source
//! order).

use crate::ast::Span;
use crate::diagnostic::Diagnostic;

#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// A bare word: identifier or keyword (`process`, `and`, `@timestamp`).
    Ident,
    /// A word immediately followed by `~` (`like~`, `startsWith~`); the span
    /// covers the `~`.
    TildeIdent,
    /// `` `quoted field` `` with doubled backticks unescaped.
    QuotedIdent(String),
    /// A string literal, escapes decoded.
    Str(String),
    Int(i64),
    Float(f64),
    EqEq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Colon,
    Assign,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Dot,
    Comma,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Pipe,
    Question,
    /// `![`
    MissingOpen,
    /// A lexical error; always followed by `Eof`.
    Error(Box<Diagnostic>),
    Eof,
}

/// Lexer-internal result; the error is boxed so the happy path moves small
/// values.
type LResult<T> = Result<T, Box<Diagnostic>>;

fn err<T>(d: Diagnostic) -> LResult<T> {
    Err(Box::new(d))
}

#[derive(Clone, Debug)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Lex the whole input. The result always ends with an `Eof` token.
pub fn tokenize(src: &str) -> Vec<Token> {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
    };
    // Rough estimate: one token per five bytes avoids most regrowth.
    let mut out = Vec::with_capacity(src.len() / 5 + 2);
    loop {
        match lx.next_token() {
            Ok(Some(tok)) => out.push(tok),
            Ok(None) => break,
            Err(d) => {
                let span = d.span;
                out.push(Token {
                    kind: TokenKind::Error(d),
                    span,
                });
                break;
            }
        }
    }
    // End of query sits right after the last token, not after trailing
    // whitespace or comments, so "expected …, found end of query" points at
    // the line where the query stops rather than at a blank line below it.
    let end = out.last().map_or(src.len(), |t| t.span.end as usize);
    out.push(Token {
        kind: TokenKind::Eof,
        span: Span::new(end, end),
    });
    out
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'@'
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Lexer<'a> {
    fn peek_at(&self, off: usize) -> Option<u8> {
        self.bytes.get(self.pos + off).copied()
    }

    fn tok(&self, kind: TokenKind, start: usize) -> Token {
        Token {
            kind,
            span: Span::new(start, self.pos),
        }
    }

    /// Skip whitespace and comments.
    fn skip_trivia(&mut self) -> LResult<()> {
        loop {
            match self.peek_at(0) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    self.pos += 1;
                    while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek_at(0) {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.peek_at(1) == Some(b'/') => {
                    match memchr_newline(&self.bytes[self.pos..]) {
                        Some(n) => self.pos += n + 1,
                        None => self.pos = self.bytes.len(),
                    }
                }
                Some(b'/') if self.peek_at(1) == Some(b'*') => self.block_comment()?,
                _ => return Ok(()),
            }
        }
    }

    /// `/* … */`, nested as in Elasticsearch's grammar.
    fn block_comment(&mut self) -> LResult<()> {
        let start = self.pos;
        self.pos += 2;
        let mut depth = 1usize;
        while self.pos < self.bytes.len() {
            let b = self.bytes[self.pos];
            if b == b'*' && self.peek_at(1) == Some(b'/') {
                self.pos += 2;
                depth -= 1;
                if depth == 0 {
                    return Ok(());
                }
            } else if b == b'/' && self.peek_at(1) == Some(b'*') {
                self.pos += 2;
                depth += 1;
            } else {
                self.pos += 1;
            }
        }
        err(Diagnostic::error(
            "E006",
            "unterminated block comment",
            Span::new(start, start + 2),
        )
        .with_label("comment starts here")
        .with_help("close the comment with `*/`"))
    }

    fn next_token(&mut self) -> LResult<Option<Token>> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(b) = self.peek_at(0) else {
            return Ok(None);
        };
        let two = |lx: &mut Self, kind: TokenKind| {
            lx.pos += 2;
            Ok(Some(lx.tok(kind, start)))
        };
        let one = |lx: &mut Self, kind: TokenKind| {
            lx.pos += 1;
            Ok(Some(lx.tok(kind, start)))
        };
        match b {
            b'=' if self.peek_at(1) == Some(b'=') => two(self, TokenKind::EqEq),
            b'=' => one(self, TokenKind::Assign),
            b'!' if self.peek_at(1) == Some(b'=') => two(self, TokenKind::NotEq),
            b'!' if self.peek_at(1) == Some(b'[') => two(self, TokenKind::MissingOpen),
            b'!' => err(Diagnostic::error(
                "E007",
                "unexpected character `!`",
                Span::new(start, start + 1),
            )
            .with_help(
                "use `!=` for inequality, `not` for negation, or `![ … ]` for a missing-event stage",
            )),
            b'<' if self.peek_at(1) == Some(b'=') => two(self, TokenKind::LtEq),
            b'<' => one(self, TokenKind::Lt),
            b'>' if self.peek_at(1) == Some(b'=') => two(self, TokenKind::GtEq),
            b'>' => one(self, TokenKind::Gt),
            b':' => one(self, TokenKind::Colon),
            b'+' => one(self, TokenKind::Plus),
            b'-' => one(self, TokenKind::Minus),
            b'*' => one(self, TokenKind::Star),
            b'/' => one(self, TokenKind::Slash),
            b'%' => one(self, TokenKind::Percent),
            b',' => one(self, TokenKind::Comma),
            b'[' => one(self, TokenKind::LBracket),
            b']' => one(self, TokenKind::RBracket),
            b'(' => one(self, TokenKind::LParen),
            b')' => one(self, TokenKind::RParen),
            b'|' => one(self, TokenKind::Pipe),
            b'.' if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => self.number(),
            b'.' => one(self, TokenKind::Dot),
            b'?' => match self.peek_at(1) {
                Some(q @ (b'"' | b'\'')) => err(self.legacy_raw_string(q)),
                _ => one(self, TokenKind::Question),
            },
            b'"' => self.string(),
            b'\'' => err(self.single_quoted()),
            b'`' => self.quoted_ident(),
            b'0'..=b'9' => self.number(),
            b if is_ident_start(b) => {
                self.pos += 1;
                while self.peek_at(0).is_some_and(is_ident_continue) {
                    self.pos += 1;
                }
                // `name~` is one token, as in Elasticsearch (`like~`,
                // `startsWith~`); `@x~` is not (identifiers with `@` cannot
                // be function names or operators).
                if self.peek_at(0) == Some(b'~') && b != b'@' && b != b'_' {
                    self.pos += 1;
                    Ok(Some(self.tok(TokenKind::TildeIdent, start)))
                } else {
                    Ok(Some(self.tok(TokenKind::Ident, start)))
                }
            }
            _ => {
                let ch = self.src[start..].chars().next().unwrap_or('\u{fffd}');
                let end = start + ch.len_utf8();
                let mut d = Diagnostic::error(
                    "E007",
                    format!("unexpected character `{}`", ch.escape_debug()),
                    Span::new(start, end),
                );
                if matches!(ch, '“' | '”' | '‘' | '’') {
                    d = d.with_help("typographic quotes are not string delimiters; use `\"`");
                } else if ch == '&' {
                    d = d.with_help("use `and` for logical conjunction");
                } else if ch == '~' {
                    d = d.with_help("`~` must directly follow an operator or function name, as in `like~` or `startsWith~(…)`");
                }
                err(d)
            }
        }
    }

    fn number(&mut self) -> LResult<Option<Token>> {
        let start = self.pos;
        let mut is_float = false;
        while self.peek_at(0).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        // A fraction: `1.5`, `1.`, `.5`. `1.` followed by a letter is left
        // alone so that nothing odd like `1.e` becomes a float by accident;
        // Elasticsearch's grammar has the same DECIMAL_VALUE forms.
        if self.peek_at(0) == Some(b'.') && !self.peek_at(1).is_some_and(is_ident_start) {
            is_float = true;
            self.pos += 1;
            while self.peek_at(0).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek_at(0), Some(b'e' | b'E')) {
            let digit_at = if matches!(self.peek_at(1), Some(b'+' | b'-')) {
                2
            } else {
                1
            };
            if self.peek_at(digit_at).is_some_and(|c| c.is_ascii_digit()) {
                is_float = true;
                self.pos += digit_at;
                while self.peek_at(0).is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
        }
        let text = &self.src[start..self.pos];
        let span = Span::new(start, self.pos);
        if is_float {
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(self.tok(TokenKind::Float(v), start))),
                _ => err(Diagnostic::error(
                    "E008",
                    format!("number `{text}` is out of range"),
                    span,
                )),
            }
        } else {
            match text.parse::<i64>() {
                Ok(v) => Ok(Some(self.tok(TokenKind::Int(v), start))),
                Err(_) => {
                    err(
                        Diagnostic::error("E008", format!("integer `{text}` is too large"), span)
                            .with_help(format!(
                                "integers must lie between {} and {}",
                                i64::MIN,
                                i64::MAX
                            )),
                    )
                }
            }
        }
    }

    /// `"…"` with escapes, or `"""…"""` raw.
    fn string(&mut self) -> LResult<Option<Token>> {
        let start = self.pos;
        if self.bytes[self.pos..].starts_with(b"\"\"\"") {
            return self.raw_string();
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Jump to the next byte that matters; plain text is copied in
            // one piece (a string without escapes is one exact allocation).
            let rest = &self.bytes[self.pos..];
            let Some(i) = rest
                .iter()
                .position(|&b| matches!(b, b'"' | b'\\' | b'\n' | b'\r'))
            else {
                return err(unterminated(start, self.bytes.len()));
            };
            let chunk = &self.src[self.pos..self.pos + i];
            self.pos += i;
            match self.bytes[self.pos] {
                b'"' => {
                    if out.is_empty() {
                        out = chunk.to_string();
                    } else {
                        out.push_str(chunk);
                    }
                    self.pos += 1;
                    return Ok(Some(self.tok(TokenKind::Str(out), start)));
                }
                b'\\' => {
                    out.push_str(chunk);
                    self.escape(&mut out)?;
                }
                _ => return err(unterminated(start, self.pos)),
            }
        }
    }

    /// One backslash escape; `self.pos` is at the backslash.
    fn escape(&mut self, out: &mut String) -> LResult<()> {
        let start = self.pos;
        let Some(c) = self.peek_at(1) else {
            return err(unterminated(start, self.pos + 1));
        };
        let simple = match c {
            b'b' => Some('\u{8}'),
            b't' => Some('\t'),
            b'n' => Some('\n'),
            b'f' => Some('\u{c}'),
            b'r' => Some('\r'),
            b'"' => Some('"'),
            b'\'' => Some('\''),
            b'\\' => Some('\\'),
            _ => None,
        };
        if let Some(ch) = simple {
            out.push(ch);
            self.pos += 2;
            return Ok(());
        }
        if c == b'u' && self.peek_at(2) == Some(b'{') {
            let digits_start = self.pos + 3;
            let mut end = digits_start;
            while end < self.bytes.len() && self.bytes[end].is_ascii_hexdigit() {
                end += 1;
            }
            let ok_close = self.bytes.get(end) == Some(&b'}');
            let n = end - digits_start;
            if ok_close && (2..=8).contains(&n) {
                let v = u32::from_str_radix(&self.src[digits_start..end], 16).unwrap_or(u32::MAX);
                if let Some(ch) = char::from_u32(v) {
                    out.push(ch);
                    self.pos = end + 1;
                    return Ok(());
                }
                return err(Diagnostic::error(
                    "E005",
                    format!(
                        "`\\u{{{}}}` is not a valid Unicode code point",
                        &self.src[digits_start..end]
                    ),
                    Span::new(start, end + 1),
                ));
            }
            let span_end = if ok_close { end + 1 } else { end };
            return err(Diagnostic::error(
                "E005",
                "invalid Unicode escape",
                Span::new(start, span_end.max(start + 2)),
            )
            .with_help("write a Unicode escape as `\\u{XXXX}` with 2 to 8 hex digits"));
        }
        let ch = self.src[self.pos + 1..].chars().next().unwrap_or('?');
        err(Diagnostic::error(
            "E005",
            format!("unknown escape sequence `\\{}`", ch.escape_debug()),
            Span::new(start, start + 1 + ch.len_utf8()),
        )
        .with_help(
            "valid escapes are \\\\ \\\" \\' \\n \\r \\t \\b \\f and \\u{…}; for a regex or Windows path use a raw string \"\"\"…\"\"\"",
        ))
    }

    /// `"""…"""`: no escapes; up to two extra closing quotes belong to the
    /// content (`""""a""""` is `"a"`), as in Elasticsearch. Like there, a raw
    /// string may not span lines.
    fn raw_string(&mut self) -> LResult<Option<Token>> {
        let start = self.pos;
        let body = start + 3;
        let mut i = body;
        while i < self.bytes.len() {
            match self.bytes[i] {
                b'\n' | b'\r' => break,
                b'"' if self.bytes[i..].starts_with(b"\"\"\"") => {
                    let mut end = i + 3;
                    let mut extra = 0;
                    while extra < 2 && self.bytes.get(end) == Some(&b'"') {
                        end += 1;
                        extra += 1;
                    }
                    let content = self.src[body..end - 3].to_string();
                    self.pos = end;
                    return Ok(Some(self.tok(TokenKind::Str(content), start)));
                }
                _ => i += 1,
            }
        }
        err(Diagnostic::error(
            "E002",
            "unterminated raw string",
            Span::new(start, start + 3),
        )
        .with_label("raw string starts here")
        .with_help("close it with `\"\"\"` on the same line"))
    }

    fn single_quoted(&mut self) -> Diagnostic {
        let start = self.pos;
        let end = self.scan_legacy(start + 1, b'\'');
        Diagnostic::error(
            "E003",
            "single-quoted strings are not supported",
            Span::new(start, end),
        )
        .with_label("use double quotes here")
        .with_help("EQL strings use double quotes: \"…\" (or \"\"\"…\"\"\" for raw text)")
    }

    fn legacy_raw_string(&mut self, quote: u8) -> Diagnostic {
        let start = self.pos;
        let end = self.scan_legacy(start + 2, quote);
        Diagnostic::error(
            "E004",
            "`?\"…\"` raw strings are not supported",
            Span::new(start, end),
        )
        .with_help("use triple double quotes for unescaped text: \"\"\"…\"\"\"")
    }

    /// The end of a legacy quoted string (for the error span): the closing
    /// quote on the same line, or the end of the line.
    fn scan_legacy(&self, mut i: usize, quote: u8) -> usize {
        while i < self.bytes.len() {
            match self.bytes[i] {
                b'\\' => i += 2,
                b'\n' | b'\r' => return i,
                b if b == quote => return i + 1,
                _ => i += 1,
            }
        }
        // Keep the span on a char boundary.
        let mut e = self.bytes.len().min(i);
        while !self.src.is_char_boundary(e) {
            e -= 1;
        }
        e
    }

    /// `` `…` `` with `` `` `` standing for one backtick.
    fn quoted_ident(&mut self) -> LResult<Option<Token>> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chunk = self.pos;
        loop {
            match self.peek_at(0) {
                None => {
                    return err(Diagnostic::error(
                        "E002",
                        "unterminated quoted identifier",
                        Span::new(start, start + 1),
                    )
                    .with_label("identifier starts here")
                    .with_help("close it with a backtick `"))
                }
                Some(b'`') if self.peek_at(1) == Some(b'`') => {
                    out.push_str(&self.src[chunk..self.pos + 1]);
                    self.pos += 2;
                    chunk = self.pos;
                }
                Some(b'`') => {
                    out.push_str(&self.src[chunk..self.pos]);
                    self.pos += 1;
                    return Ok(Some(self.tok(TokenKind::QuotedIdent(out), start)));
                }
                Some(_) => self.pos += 1,
            }
        }
    }
}

fn unterminated(start: usize, end: usize) -> Diagnostic {
    Diagnostic::error(
        "E002",
        "unterminated string literal",
        Span::new(start, end.max(start + 1)),
    )
    .with_label("string starts here")
    .with_help("close the string with `\"` on the same line; write a newline as \\n")
}

fn memchr_newline(hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        tokenize(src).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn operators_and_words() {
        use TokenKind::*;
        assert_eq!(
            kinds("a == b != c <= >= < > : = like~ ![ ? |"),
            vec![
                Ident,
                EqEq,
                Ident,
                NotEq,
                Ident,
                LtEq,
                GtEq,
                Lt,
                Gt,
                Colon,
                Assign,
                TildeIdent,
                MissingOpen,
                Question,
                Pipe,
                Eof
            ]
        );
    }

    #[test]
    fn numbers() {
        use TokenKind::*;
        assert_eq!(
            kinds("1 1.5 .5 1e3 2E-2 5s"),
            vec![
                Int(1),
                Float(1.5),
                Float(0.5),
                Float(1000.0),
                Float(0.02),
                Int(5),
                Ident,
                Eof
            ]
        );
    }

    #[test]
    fn strings_and_escapes() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#""a\"b\\c\n\u{41}" """C:\x"y""" """""a""""""#),
            vec![
                Str("a\"b\\c\nA".into()),
                Str("C:\\x\"y".into()),
                Str("\"\"a\"\"".into()),
                Eof
            ]
        );
    }

    #[test]
    fn comments_nest() {
        use TokenKind::*;
        assert_eq!(
            kinds("a /* x /* y */ z */ b // c\n d"),
            vec![Ident, Ident, Ident, Eof]
        );
    }

    #[test]
    fn errors() {
        for (src, code) in [
            ("'x'", "E003"),
            ("?\"x\"", "E004"),
            ("\"abc", "E002"),
            ("\"a\\qb\"", "E005"),
            ("/* x", "E006"),
            ("a & b", "E007"),
            ("99999999999999999999", "E008"),
        ] {
            let toks = tokenize(src);
            let err = toks
                .iter()
                .find_map(|t| match &t.kind {
                    TokenKind::Error(d) => Some(d.code),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no error for {src}"));
            assert_eq!(err, code, "{src}");
        }
    }

    #[test]
    fn quoted_ident() {
        assert_eq!(
            kinds("`a``b c`"),
            vec![TokenKind::QuotedIdent("a`b c".into()), TokenKind::Eof]
        );
    }
}
