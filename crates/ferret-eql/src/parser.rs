//! Recursive-descent parser (Pratt loop for binary operators) from tokens to
//! the [`crate::ast`] tree. Returns the first syntax error.
//!
//! Precedence and associativity follow Elasticsearch's `EqlBase.g4`, from
//! loosest to tightest:
//!
//! 1. `or` (left-assoc), 2. `and` (left-assoc), then prefix `not` whose
//!    operand may be a comparison (`not a == b` is `not (a == b)`, `not a and
//!    b` is `(not a) and b`),
//! 3. comparisons `== != < <= > >=` (not chainable: `a == b == c` is an
//!    error),
//! 4. `+ -`, 5. `* / %` (left-assoc),
//! 6. unary `-`/`+`,
//! 7. the predicates `in`, `not in`, `in~`, `:`, `like(~)`, `regex(~)`, which
//!    attach to the primary right before them (`a + b in (1)` is
//!    `a + (b in (1))`, as in Elasticsearch).
//!
//! Patterns of `:`/`like`/`regex` are literals (as in Elasticsearch) or, as
//! an extension for the endpoint dialect, a field path (`event0.file.name`).
//! `:` always produces `case_insensitive: true` in the AST because it is
//! case-insensitive by definition.
//!
//! Nesting deeper than [`MAX_DEPTH`] is an error (E010), so hostile input
//! cannot overflow the stack.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::{tokenize, Token, TokenKind};

/// Maximum nesting of expressions (parentheses, prefixes, calls).
pub const MAX_DEPTH: usize = 100;

/// Maximum depth of an expression tree (long `and`/`or` chains build deep
/// left-leaning trees without nesting in the text).
pub const MAX_TREE_DEPTH: usize = 256;

/// Words that cannot start a field name or be a category
/// (Elasticsearch's keywords).
pub const KEYWORDS: &[&str] = &[
    "and", "any", "by", "false", "in", "join", "like", "maxspan", "not", "null", "of", "or",
    "regex", "sample", "sequence", "true", "until", "where", "with",
];

pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// The pipes ferret knows: Elasticsearch's `head`/`tail` and the legacy
/// ones of the Python `eql` package.
pub const PIPES: &[&str] = &[
    "head",
    "tail",
    "filter",
    "unique",
    "unique_count",
    "count",
    "sort",
];

// Binding powers of the binary operators.
const BP_OR: u8 = 1;
const BP_AND: u8 = 2;
const BP_CMP: u8 = 3;
const BP_ADD: u8 = 4;
const BP_MUL: u8 = 5;
const BP_UNARY: u8 = 6;

pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

type PResult<T> = Result<T, Diagnostic>;

enum Infix {
    Logic(LogicOp, u8),
    Cmp(CompareOp),
    Arith(ArithOp, u8),
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Parser {
            src,
            toks: tokenize(src),
            pos: 0,
            depth: 0,
        }
    }

    // ----- token helpers -------------------------------------------------

    fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    fn peek_kind(&self) -> &TokenKind {
        &self.toks[self.pos].kind
    }

    fn nth_kind(&self, n: usize) -> &TokenKind {
        let i = (self.pos + n).min(self.toks.len() - 1);
        &self.toks[i].kind
    }

    fn span(&self) -> Span {
        self.toks[self.pos].span
    }

    /// End of the previous token (for spans of finished nodes).
    fn prev_end(&self) -> usize {
        if self.pos == 0 {
            0
        } else {
            self.toks[self.pos - 1].span.end as usize
        }
    }

    fn bump(&mut self) -> Token {
        let i = self.pos;
        if i + 1 < self.toks.len() {
            self.pos += 1;
            // Take the token out: string payloads move instead of cloning.
            let span = self.toks[i].span;
            std::mem::replace(
                &mut self.toks[i],
                Token {
                    kind: TokenKind::Comma,
                    span,
                },
            )
        } else {
            self.toks[i].clone()
        }
    }

    fn text(&self, span: Span) -> &'a str {
        &self.src[span.range()]
    }

    /// The current token's word if it is a bare identifier.
    fn word(&self) -> Option<&'a str> {
        match self.peek_kind() {
            TokenKind::Ident => Some(self.text(self.span())),
            _ => None,
        }
    }

    fn nth_word(&self, n: usize) -> Option<&'a str> {
        let i = (self.pos + n).min(self.toks.len() - 1);
        match self.toks[i].kind {
            TokenKind::Ident => Some(self.text(self.toks[i].span)),
            _ => None,
        }
    }

    fn at_kw(&self, kw: &str) -> bool {
        self.word() == Some(kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn at(&self, kind: &TokenKind) -> bool {
        self.peek_kind() == kind
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        if self.at(kind) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn describe(&self, tok: &Token) -> String {
        describe_token(self.src, tok)
    }

    /// "expected X, found Y" at the current token (or the lexer's error if
    /// the current token is one).
    fn unexpected(&self, expected: &str) -> Diagnostic {
        let tok = self.peek();
        if let TokenKind::Error(d) = &tok.kind {
            return (**d).clone();
        }
        let mut d = Diagnostic::error(
            "E001",
            format!("expected {expected}, found {}", self.describe(tok)),
            tok.span,
        );
        d = match &tok.kind {
            TokenKind::Assign => Diagnostic {
                code: "E015",
                message: "`=` is not a comparison operator".into(),
                ..d
            }
            .with_label("use `==` here"),
            TokenKind::TildeIdent => {
                let t = self.text(tok.span);
                d.with_help(format!(
                    "`{t}` is a case-insensitive operator or function name; it must be followed by its operand or `(`"
                ))
            }
            _ => d.with_label(format!("expected {expected}")),
        };
        d
    }

    /// `unexpected` with a help line (not added to a lexer error, whose own
    /// help is more to the point).
    fn unexpected_help(&self, expected: &str, help: impl Into<String>) -> Diagnostic {
        let d = self.unexpected(expected);
        if self.at_lex_error() {
            d
        } else {
            d.with_help(help)
        }
    }

    /// `unexpected` with another code than E001 (kept for lexer errors).
    fn unexpected_code(&self, expected: &str, code: &'static str) -> Diagnostic {
        let mut d = self.unexpected(expected);
        if !self.at_lex_error() && d.code == "E001" {
            d.code = code;
        }
        d
    }

    fn at_lex_error(&self) -> bool {
        matches!(self.peek_kind(), TokenKind::Error(_))
    }

    fn expect(&mut self, kind: &TokenKind, what: &str) -> PResult<Token> {
        if self.at(kind) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// Expect a closing delimiter; the error says which opener is unclosed.
    fn expect_close(&mut self, kind: &TokenKind, open: Span) -> PResult<Token> {
        if self.at(kind) {
            return Ok(self.bump());
        }
        let (open_s, close_s) = match kind {
            TokenKind::RParen => ("(", ")"),
            _ => ("[", "]"),
        };
        let tok = self.peek();
        if let TokenKind::Error(d) = &tok.kind {
            return Err((**d).clone());
        }
        let snippet = opener_snippet(self.src, open);
        let found = self.describe(tok);
        Err(Diagnostic::error(
            "E009",
            format!("unclosed `{open_s}`: expected `{close_s}`, found {found}"),
            tok.span,
        )
        .with_label(format!("expected `{close_s}` here"))
        .with_help(format!(
            "close the `{open_s}` of `{snippet}` with `{close_s}`"
        )))
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diagnostic::error(
                "E010",
                format!("expression nested more than {MAX_DEPTH} levels deep"),
                self.span(),
            )
            .with_help("simplify the expression"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ----- queries -------------------------------------------------------

    pub(crate) fn parse_query(&mut self) -> PResult<Query> {
        let start = self.span().start as usize;
        let body = if self.at_kw("sequence") {
            QueryBody::Sequence(self.sequence()?)
        } else if self.at_kw("sample") {
            QueryBody::Sample(self.sample()?)
        } else if self.at_kw("join") {
            return Err(
                Diagnostic::error("E016", "`join` queries are not supported", self.span())
                    .with_help("Elasticsearch EQL does not run `join`; use `sequence` or `sample`"),
            );
        } else {
            QueryBody::Event(self.event_query(false)?)
        };
        let mut pipes = Vec::new();
        while self.at(&TokenKind::Pipe) {
            pipes.push(self.pipe()?);
        }
        if !self.at(&TokenKind::Eof) {
            let expected = match body {
                QueryBody::Event(_) => "`and`, `or`, an operator, `|` or end of query",
                QueryBody::Sequence(_) => "`[` to start a stage, `until`, `|` or end of query",
                QueryBody::Sample(_) => "`[` to start a stage, `|` or end of query",
            };
            let mut d = self.unexpected(expected);
            if let TokenKind::Ident = self.peek_kind() {
                let w = self.text(self.span());
                if matches!(body, QueryBody::Event(_)) && (w == "&&" || w == "AND" || w == "OR") {
                    d = d.with_help("logical operators are lowercase: `and`, `or`, `not`");
                }
            }
            return Err(d);
        }
        Ok(Query {
            body,
            pipes,
            span: Span::new(start, self.prev_end().max(start)),
        })
    }

    /// `<category> where <condition>`; `in_stage` tunes error messages.
    fn event_query(&mut self, in_stage: bool) -> PResult<EventQuery> {
        let start = self.span();
        let category = match self.peek_kind().clone() {
            TokenKind::Ident => {
                let w = self.text(start);
                if w == "any" {
                    self.bump();
                    Category::Any(start)
                } else if is_keyword(w) {
                    let mut d = self.unexpected("an event category (such as `process` or `any`)");
                    if w == "where" {
                        d = d.with_help("an event query starts with its category: `process where …`, or `any where …` for every category");
                    }
                    return Err(d);
                } else {
                    self.bump();
                    Category::Named(Ident {
                        name: w.to_string(),
                        span: start,
                    })
                }
            }
            TokenKind::Str(_) => {
                let tok = self.bump();
                let TokenKind::Str(s) = tok.kind else {
                    unreachable!()
                };
                Category::Named(Ident {
                    name: s,
                    span: tok.span,
                })
            }
            _ => {
                let mut d = self.unexpected(if in_stage {
                    "an event query such as `process where …` inside the stage"
                } else {
                    "an event category (such as `process` or `any`), `sequence` or `sample`"
                });
                if matches!(
                    self.peek_kind(),
                    TokenKind::LBracket | TokenKind::MissingOpen
                ) && !in_stage
                {
                    d = d.with_help("bracketed stages belong to `sequence` or `sample`");
                }
                return Err(d);
            }
        };
        if !self.eat_kw("where") {
            let cat = match &category {
                Category::Any(_) => "any".to_string(),
                Category::Named(i) => i.name.clone(),
            };
            let help = if matches!(self.peek_kind(), TokenKind::Dot) {
                let rest = opener_snippet(self.src, start);
                format!(
                    "`{cat}` was read as the event category; a query needs one first: `any where {rest}` or `<category> where {rest}`"
                )
            } else {
                format!("an event query is `<category> where <condition>`, e.g. `{cat} where …`")
            };
            return Err(
                self.unexpected_help(&format!("`where` after the event category `{cat}`"), help)
            );
        }
        let condition = self.expr()?;
        let span = start.to(condition.span);
        Ok(EventQuery {
            category,
            condition,
            span,
        })
    }

    fn join_keys(&mut self) -> PResult<Vec<Expr>> {
        // `by` already consumed.
        let mut keys = vec![self.expr()?];
        while self.eat(&TokenKind::Comma) {
            keys.push(self.expr()?);
        }
        Ok(keys)
    }

    fn sequence(&mut self) -> PResult<Sequence> {
        let start = self.bump().span; // `sequence`
        let mut by = Vec::new();
        let mut maxspan = None;
        if self.eat_kw("by") {
            by = self.join_keys()?;
        }
        if self.at_kw("with") {
            self.bump();
            if !self.at_kw("maxspan") {
                let mut d = self.unexpected_code("`maxspan` after `with`", "E017");
                if self.at_kw("runs") {
                    d = d.with_help(
                        "`with runs=N` belongs after a stage: `[process where …] with runs=3`",
                    );
                }
                return Err(d);
            }
            self.bump();
            self.expect(&TokenKind::Assign, "`=` after `maxspan`")?;
            maxspan = Some(self.timespan()?);
            if self.at_kw("by") {
                let by_span = self.span();
                return Err(Diagnostic::error(
                    "E017",
                    "sequence `by` must come before `with maxspan`",
                    by_span,
                )
                .with_help("write `sequence by <keys> with maxspan=…`"));
            }
        }
        let mut stages = Vec::new();
        while matches!(
            self.peek_kind(),
            TokenKind::LBracket | TokenKind::MissingOpen
        ) {
            stages.push(self.stage(true)?);
        }
        if stages.is_empty() {
            let mut d = self.unexpected("`[` to start the first stage of the sequence");
            if self.at_kw("with") {
                d = d.with_help("write `sequence by <keys> with maxspan=…`, `by` first");
            }
            return Err(d);
        }
        let mut until = None;
        if self.eat_kw("until") {
            if !matches!(
                self.peek_kind(),
                TokenKind::LBracket | TokenKind::MissingOpen
            ) {
                return Err(self.unexpected("`[` after `until`"));
            }
            until = Some(self.stage(true)?);
        }
        Ok(Sequence {
            by,
            maxspan,
            stages,
            until,
            span: Span::new(start.start as usize, self.prev_end()),
        })
    }

    fn sample(&mut self) -> PResult<Sample> {
        let start = self.bump().span; // `sample`
        let mut by = Vec::new();
        if self.eat_kw("by") {
            by = self.join_keys()?;
        }
        let mut stages = Vec::new();
        while matches!(
            self.peek_kind(),
            TokenKind::LBracket | TokenKind::MissingOpen
        ) {
            stages.push(self.stage(false)?);
        }
        if stages.is_empty() {
            return Err(self.unexpected("`[` to start the first stage of the sample"));
        }
        Ok(Sample {
            by,
            stages,
            span: Span::new(start.start as usize, self.prev_end()),
        })
    }

    /// `[…]` or `![…]` with its options `by …`, `with runs=N`, `as alias`
    /// (in any order, each at most once).
    fn stage(&mut self, in_sequence: bool) -> PResult<Stage> {
        let open = self.bump();
        let missing = matches!(open.kind, TokenKind::MissingOpen);
        let query = self.event_query(true)?;
        self.expect_close(&TokenKind::RBracket, open.span)?;
        let mut by = Vec::new();
        let mut seen_by = false;
        let mut runs = None;
        let mut alias = None;
        loop {
            if self.at_kw("by") {
                if seen_by {
                    return Err(dup_option(self.span(), "by"));
                }
                self.bump();
                seen_by = true;
                by = self.join_keys()?;
            } else if self.at_kw("with") {
                let with_span = self.span();
                self.bump();
                if self.at_kw("maxspan") && in_sequence {
                    return Err(Diagnostic::error(
                        "E017",
                        "`with maxspan` belongs to the sequence, not to a stage",
                        self.span(),
                    )
                    .with_help("write `sequence by <keys> with maxspan=… [stage] [stage]`"));
                }
                if !self.at_kw("runs") {
                    return Err(self.unexpected_code("`runs` after `with`", "E017"));
                }
                if runs.is_some() {
                    return Err(dup_option(with_span, "with runs"));
                }
                self.bump();
                self.expect(&TokenKind::Assign, "`=` after `runs`")?;
                let neg = self.eat(&TokenKind::Minus);
                let tok = self.peek().clone();
                match tok.kind {
                    TokenKind::Int(n) => {
                        self.bump();
                        runs = Some(Runs {
                            count: if neg { -n } else { n },
                            span: with_span.to(tok.span),
                        });
                    }
                    TokenKind::Float(_) => {
                        return Err(Diagnostic::error(
                            "E001",
                            format!(
                                "`runs` must be a whole number, found `{}`",
                                self.text(tok.span)
                            ),
                            tok.span,
                        ))
                    }
                    _ => return Err(self.unexpected("a number after `runs=`")),
                }
            } else if self.at_kw("as")
                && matches!(
                    self.nth_kind(1),
                    TokenKind::Ident | TokenKind::QuotedIdent(_)
                )
            {
                if alias.is_some() {
                    return Err(dup_option(self.span(), "as"));
                }
                self.bump();
                let tok = self.bump();
                let name = match tok.kind {
                    TokenKind::QuotedIdent(s) => s,
                    _ => self.text(tok.span).to_string(),
                };
                alias = Some(Ident {
                    name,
                    span: tok.span,
                });
            } else {
                break;
            }
        }
        Ok(Stage {
            query,
            by,
            runs,
            missing,
            alias,
            span: Span::new(open.span.start as usize, self.prev_end()),
        })
    }

    /// `5s`, `1500ms`, `2h` after `maxspan=`.
    fn timespan(&mut self) -> PResult<TimeSpan> {
        let tok = self.peek().clone();
        let value = match tok.kind {
            TokenKind::Int(v) => v,
            TokenKind::Float(_) => {
                return Err(Diagnostic::error(
                    "E011",
                    format!(
                        "decimal time interval `{}` is not supported",
                        self.text(tok.span)
                    ),
                    tok.span,
                )
                .with_help("use a positive whole number with a smaller unit, e.g. `1500ms`"))
            }
            TokenKind::Minus => {
                return Err(Diagnostic::error(
                    "E011",
                    "`maxspan` must be a positive duration",
                    tok.span,
                ))
            }
            TokenKind::Error(d) => return Err(*d),
            _ => {
                return Err(
                    self.unexpected_code("a duration such as `5s` after `maxspan=`", "E011")
                );
            }
        };
        self.bump();
        if value <= 0 {
            return Err(Diagnostic::error(
                "E011",
                format!("`maxspan` must be positive, found `{value}`"),
                tok.span,
            ));
        }
        let unit_tok = self.peek().clone();
        let unit =
            match unit_tok.kind {
                TokenKind::Ident => match self.text(unit_tok.span) {
                    "ms" => TimeUnit::Millis,
                    "s" => TimeUnit::Seconds,
                    "m" => TimeUnit::Minutes,
                    "h" => TimeUnit::Hours,
                    "d" => TimeUnit::Days,
                    other if !is_keyword(other) && other != "as" => return Err(Diagnostic::error(
                        "E011",
                        format!("unknown time unit `{other}` in `maxspan`"),
                        unit_tok.span,
                    )
                    .with_label("expected one of ms, s, m, h, d")
                    .with_help(
                        "time units are ms (milliseconds), s, m, h and d (days), e.g. `maxspan=5m`",
                    )),
                    _ => return Err(missing_unit(tok.span, value)),
                },
                _ => return Err(missing_unit(tok.span, value)),
            };
        self.bump();
        Ok(TimeSpan {
            value,
            unit,
            span: tok.span.to(unit_tok.span),
        })
    }

    fn pipe(&mut self) -> PResult<Pipe> {
        let bar = self.bump().span;
        let name_tok = self.peek().clone();
        let name = match name_tok.kind {
            TokenKind::Ident => self.text(name_tok.span),
            _ => return Err(self.unexpected("a pipe name such as `head` after `|`")),
        };
        if !PIPES.contains(&name) {
            let mut d = Diagnostic::error("E012", format!("unknown pipe `{name}`"), name_tok.span);
            let similar: Vec<&str> = PIPES
                .iter()
                .copied()
                .filter(|p| edit_distance(p, &name.to_ascii_lowercase()) <= 2)
                .collect();
            d = if let Some(s) = similar.first() {
                d.with_label(format!("did you mean `{s}`?"))
            } else {
                d.with_label("not a known pipe")
            };
            return Err(d.with_help(format!("known pipes: {}", PIPES.join(", "))));
        }
        self.bump();
        let kind = match name {
            "head" | "tail" => {
                let neg = self.eat(&TokenKind::Minus);
                let tok = self.peek().clone();
                let n = match tok.kind {
                    TokenKind::Int(n) => n,
                    TokenKind::Error(d) => return Err(*d),
                    _ => {
                        let found = self.describe(&tok);
                        return Err(Diagnostic::error(
                            "E013",
                            format!("`{name}` needs a whole number, found {found}"),
                            tok.span,
                        )
                        .with_help(format!("write e.g. `| {name} 10`")));
                    }
                };
                self.bump();
                let n = if neg { -n } else { n };
                if name == "head" {
                    PipeKind::Head(n)
                } else {
                    PipeKind::Tail(n)
                }
            }
            "filter" => PipeKind::Filter(self.expr()?),
            _ => {
                let mut args = Vec::new();
                if !matches!(self.peek_kind(), TokenKind::Pipe | TokenKind::Eof) {
                    args.push(self.expr()?);
                    while self.eat(&TokenKind::Comma) {
                        args.push(self.expr()?);
                    }
                }
                if args.is_empty() && name != "count" {
                    return Err(Diagnostic::error(
                        "E013",
                        format!("`{name}` needs at least one field"),
                        self.span(),
                    )
                    .with_help(format!("write e.g. `| {name} process.name`")));
                }
                match name {
                    "unique" => PipeKind::Unique(args),
                    "unique_count" => PipeKind::UniqueCount(args),
                    "count" => PipeKind::Count(args),
                    _ => PipeKind::Sort(args),
                }
            }
        };
        Ok(Pipe {
            kind,
            span: Span::new(bar.start as usize, self.prev_end()),
        })
    }

    // ----- expressions ---------------------------------------------------

    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        Ok(self.expr_bp(0)?.0)
    }

    /// An expression with its tree depth.
    fn expr_d(&mut self) -> PResult<(Expr, usize)> {
        self.expr_bp(0)
    }

    /// Depth of a node over children of depth `child`; too deep a tree is an
    /// error, because everything that walks it (printer, evaluator, drop)
    /// recurses.
    fn node_depth(&self, child: usize, span: Span) -> PResult<usize> {
        let d = child + 1;
        if d > MAX_TREE_DEPTH {
            return Err(Diagnostic::error(
                "E010",
                format!("expression is too deeply nested (more than {MAX_TREE_DEPTH} levels)"),
                span,
            )
            .with_help("split long chains of `and`/`or` or use a list: `field in (…)`"));
        }
        Ok(d)
    }

    pub(crate) fn at_eof(&self) -> bool {
        self.at(&TokenKind::Eof)
    }

    pub(crate) fn trailing_error(&self) -> Diagnostic {
        self.unexpected("an operator or end of expression")
    }

    fn infix(&self) -> Option<Infix> {
        Some(match self.peek_kind() {
            TokenKind::Ident => match self.word()? {
                "or" => Infix::Logic(LogicOp::Or, BP_OR),
                "and" => Infix::Logic(LogicOp::And, BP_AND),
                _ => return None,
            },
            TokenKind::EqEq => Infix::Cmp(CompareOp::Eq),
            TokenKind::NotEq => Infix::Cmp(CompareOp::NotEq),
            TokenKind::Lt => Infix::Cmp(CompareOp::Lt),
            TokenKind::LtEq => Infix::Cmp(CompareOp::LtEq),
            TokenKind::Gt => Infix::Cmp(CompareOp::Gt),
            TokenKind::GtEq => Infix::Cmp(CompareOp::GtEq),
            TokenKind::Plus => Infix::Arith(ArithOp::Add, BP_ADD),
            TokenKind::Minus => Infix::Arith(ArithOp::Sub, BP_ADD),
            TokenKind::Star => Infix::Arith(ArithOp::Mul, BP_MUL),
            TokenKind::Slash => Infix::Arith(ArithOp::Div, BP_MUL),
            TokenKind::Percent => Infix::Arith(ArithOp::Mod, BP_MUL),
            _ => return None,
        })
    }

    fn expr_bp(&mut self, min_bp: u8) -> PResult<(Expr, usize)> {
        self.enter()?;
        let r = self.expr_bp_inner(min_bp);
        self.leave();
        r
    }

    fn expr_bp_inner(&mut self, min_bp: u8) -> PResult<(Expr, usize)> {
        let (mut lhs, mut depth) = self.prefix(min_bp)?;
        let mut last_was_cmp = false;
        loop {
            if self.at(&TokenKind::Assign) {
                return Err(self.unexpected("an operator"));
            }
            let Some(op) = self.infix() else { break };
            let bp = match op {
                Infix::Logic(_, bp) | Infix::Arith(_, bp) => bp,
                Infix::Cmp(_) => BP_CMP,
            };
            if bp < min_bp {
                break;
            }
            let is_cmp = matches!(op, Infix::Cmp(_));
            if is_cmp && last_was_cmp {
                return Err(Diagnostic::error(
                    "E014",
                    "comparison operators cannot be chained",
                    self.span(),
                )
                .with_help("combine comparisons with `and`, or add parentheses"));
            }
            self.bump();
            let (rhs, rd) = self.expr_bp(bp + 1)?;
            let span = lhs.span.to(rhs.span);
            depth = self.node_depth(depth.max(rd), span)?;
            let (l, r) = (Box::new(lhs), Box::new(rhs));
            let kind = match op {
                Infix::Logic(op, _) => ExprKind::Logic { op, lhs: l, rhs: r },
                Infix::Cmp(op) => ExprKind::Compare { op, lhs: l, rhs: r },
                Infix::Arith(op, _) => ExprKind::Arith { op, lhs: l, rhs: r },
            };
            lhs = Expr { kind, span };
            last_was_cmp = is_cmp;
        }
        Ok((lhs, depth))
    }

    fn prefix(&mut self, min_bp: u8) -> PResult<(Expr, usize)> {
        let start = self.span();
        if self.at_kw("not") {
            if min_bp > BP_CMP {
                return Err(Diagnostic::error("E001", "`not` cannot appear here", start)
                    .with_label("expected a value")
                    .with_help("put the negated condition in parentheses: `(not …)`"));
            }
            self.bump();
            let (operand, d) = self.expr_bp(BP_CMP)?;
            let span = start.to(operand.span);
            let d = self.node_depth(d, span)?;
            return Ok((
                Expr {
                    kind: ExprKind::Not(Box::new(operand)),
                    span,
                },
                d,
            ));
        }
        match self.peek_kind() {
            TokenKind::Minus => {
                self.bump();
                let (operand, d) = self.expr_bp(BP_UNARY)?;
                let span = start.to(operand.span);
                let d = self.node_depth(d, span)?;
                Ok((
                    Expr {
                        kind: ExprKind::Neg(Box::new(operand)),
                        span,
                    },
                    d,
                ))
            }
            TokenKind::Plus => {
                // Unary plus is a no-op (Elasticsearch accepts it).
                self.bump();
                let (mut operand, d) = self.expr_bp(BP_UNARY)?;
                operand.span = start.to(operand.span);
                Ok((operand, d))
            }
            _ => {
                let primary = self.primary()?;
                self.predicate(primary)
            }
        }
    }

    /// `in`, `not in`, `in~`, `:`, `like`, `regex` after a primary.
    fn predicate(&mut self, (value, vdepth): (Expr, usize)) -> PResult<(Expr, usize)> {
        let mut negated = false;
        if self.at_kw("not") {
            let next_is_in = matches!(self.nth_word(1), Some("in"))
                || (matches!(self.nth_kind(1), TokenKind::TildeIdent)
                    && self.text(self.toks[self.pos + 1].span) == "in~");
            if !next_is_in {
                return Err(self.unexpected_help(
                    "`in` after `not`",
                    "`not` after a value must be followed by `in`; to negate another condition write `not <condition>`",
                ));
            }
            self.bump();
            negated = true;
        }
        let word = match self.peek_kind() {
            TokenKind::Ident | TokenKind::TildeIdent => self.text(self.span()),
            TokenKind::Colon => ":",
            _ => return Ok((value, vdepth)),
        };
        let (in_op, ci, mop) = match word {
            "in" => (true, false, None),
            "in~" => (true, true, None),
            ":" => (false, true, Some(MatchOp::Seq)),
            "like" => (false, false, Some(MatchOp::Like)),
            "like~" => (false, true, Some(MatchOp::Like)),
            "regex" => (false, false, Some(MatchOp::Regex)),
            "regex~" => (false, true, Some(MatchOp::Regex)),
            _ => return Ok((value, vdepth)),
        };
        self.bump();
        if in_op {
            let open_span = self.span();
            if !matches!(self.peek_kind(), TokenKind::LParen) {
                return Err(self.unexpected_help(
                    &format!("`(` after `{word}`"),
                    format!("write a list: `{word} (\"a\", \"b\")`"),
                ));
            }
            self.bump();
            self.enter()?;
            let mut list = Vec::new();
            let mut depth = vdepth;
            loop {
                let (e, d) = self.expr_d()?;
                depth = depth.max(d);
                list.push(e);
                if !self.eat(&TokenKind::Comma) {
                    break;
                }
            }
            self.leave();
            let close = self.expect_close(&TokenKind::RParen, open_span)?;
            let span = value.span.to(close.span);
            let depth = self.node_depth(depth, span)?;
            return Ok((
                Expr {
                    kind: ExprKind::In {
                        value: Box::new(value),
                        list,
                        case_insensitive: ci,
                        negated,
                    },
                    span,
                },
                depth,
            ));
        }
        let op = mop.unwrap_or(MatchOp::Seq);
        let (patterns, list, end) = if self.at(&TokenKind::LParen) {
            let open = self.bump();
            let mut pats = Vec::new();
            loop {
                pats.push(self.pattern(word)?);
                if !self.eat(&TokenKind::Comma) {
                    break;
                }
            }
            let close = self.expect_close(&TokenKind::RParen, open.span)?;
            (pats, true, close.span)
        } else {
            let p = self.pattern(word)?;
            let sp = p.span;
            (vec![p], false, sp)
        };
        let span = value.span.to(end);
        let depth = self.node_depth(vdepth, span)?;
        Ok((
            Expr {
                kind: ExprKind::Match {
                    op,
                    case_insensitive: ci,
                    value: Box::new(value),
                    patterns,
                    list,
                },
                span,
            },
            depth,
        ))
    }

    /// A pattern of `:`/`like`/`regex`: a literal, or a field path
    /// (endpoint-dialect extension).
    fn pattern(&mut self, op: &str) -> PResult<Expr> {
        let span = self.span();
        let lit = match self.peek_kind() {
            TokenKind::Str(_) => {
                let TokenKind::Str(s) = self.bump().kind else {
                    unreachable!()
                };
                Literal::String(s)
            }
            TokenKind::Int(n) => {
                let n = *n;
                self.bump();
                Literal::Int(n)
            }
            TokenKind::Float(f) => {
                let f = *f;
                self.bump();
                Literal::Float(f)
            }
            TokenKind::Ident => match self.text(span) {
                "true" => {
                    self.bump();
                    Literal::Bool(true)
                }
                "false" => {
                    self.bump();
                    Literal::Bool(false)
                }
                "null" => {
                    self.bump();
                    Literal::Null
                }
                w if !is_keyword(w) && !matches!(self.nth_kind(1), TokenKind::LParen) => {
                    return self.field();
                }
                _ => return Err(self.pattern_error(op)),
            },
            TokenKind::QuotedIdent(_) | TokenKind::Question => return self.field(),
            _ => return Err(self.pattern_error(op)),
        };
        Ok(Expr {
            kind: ExprKind::Literal(lit),
            span,
        })
    }

    fn pattern_error(&self, op: &str) -> Diagnostic {
        self.unexpected(&format!("a string or a list of strings after `{op}`"))
    }

    fn primary(&mut self) -> PResult<(Expr, usize)> {
        // Kept small: this function is on the recursion path of nested
        // parentheses, so error construction lives in cold helpers.
        let span = self.span();
        let lit = match self.peek_kind() {
            TokenKind::LParen => return self.paren(),
            TokenKind::Str(_) => match self.bump().kind {
                TokenKind::Str(s) => Literal::String(s),
                _ => unreachable!(),
            },
            TokenKind::Int(n) => {
                let n = *n;
                self.bump();
                Literal::Int(n)
            }
            TokenKind::Float(f) => {
                let f = *f;
                self.bump();
                Literal::Float(f)
            }
            TokenKind::TildeIdent => {
                return if matches!(self.nth_kind(1), TokenKind::LParen) {
                    self.call(true)
                } else {
                    Err(self.tilde_primary_error())
                };
            }
            TokenKind::Ident => match self.text(span) {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                w => {
                    if matches!(self.nth_kind(1), TokenKind::LParen) && !is_keyword(w) {
                        return self.call(false);
                    }
                    if is_keyword(w)
                        || (self.nth_word(1) == Some("of")
                            && matches!(self.nth_kind(2), TokenKind::LBracket))
                    {
                        return Err(self.word_primary_error());
                    }
                    return Ok((self.field()?, 1));
                }
            }
            .also_bump(self),
            TokenKind::QuotedIdent(_) | TokenKind::Question => return Ok((self.field()?, 1)),
            _ => return Err(self.unexpected("a field, value or `(`")),
        };
        Ok((
            Expr {
                kind: ExprKind::Literal(lit),
                span,
            },
            1,
        ))
    }

    #[inline(never)]
    fn paren(&mut self) -> PResult<(Expr, usize)> {
        let open = self.bump().span;
        let (mut inner, d) = self.expr_d()?;
        let close = self.expect_close(&TokenKind::RParen, open)?;
        // The span of a parenthesised expression includes the
        // parentheses, so diagnostics underline what was written.
        inner.span = open.to(close.span);
        Ok((inner, d))
    }

    #[cold]
    #[inline(never)]
    fn tilde_primary_error(&self) -> Diagnostic {
        let name = self.text(self.span());
        self.unexpected("a field, value or `(`").with_help(format!(
            "`{name}` is an operator or a case-insensitive function name; a function call needs `(`"
        ))
    }

    #[cold]
    #[inline(never)]
    fn word_primary_error(&self) -> Diagnostic {
        let span = self.span();
        let w = self.text(span);
        if self.nth_word(1) == Some("of") {
            return Diagnostic::error(
                "E016",
                format!("`{w} of [...]` lineage lookups are not supported"),
                span.to(self.toks[self.pos + 1].span),
            )
            .with_help("Elasticsearch EQL does not support `descendant of`, `child of` or `event of`; use a sequence joined by process.entity_id");
        }
        Diagnostic::error(
            "E018",
            format!("expected a field, value or `(`, found keyword `{w}`"),
            span,
        )
        .with_help(format!(
            "a field named `{w}` must be quoted with backticks: `` `{w}` ``"
        ))
    }

    fn call(&mut self, ci: bool) -> PResult<(Expr, usize)> {
        let name_tok = self.bump();
        let mut name = self.text(name_tok.span);
        if ci {
            name = &name[..name.len() - 1];
        }
        let name_span = if ci {
            Span::new(name_tok.span.start as usize, name_tok.span.end as usize - 1)
        } else {
            name_tok.span
        };
        let open = self.bump(); // `(`
        self.enter()?;
        let mut args = Vec::new();
        let mut depth = 0;
        if !self.at(&TokenKind::RParen) {
            loop {
                let (e, d) = self.expr_d()?;
                depth = depth.max(d);
                args.push(e);
                if !self.eat(&TokenKind::Comma) {
                    break;
                }
            }
        }
        self.leave();
        let close = self.expect_close(&TokenKind::RParen, open.span)?;
        let span = name_tok.span.to(close.span);
        let depth = self.node_depth(depth, span)?;
        Ok((
            Expr {
                kind: ExprKind::Call {
                    name: Ident {
                        name: name.to_string(),
                        span: name_span,
                    },
                    case_insensitive: ci,
                    args,
                },
                span,
            },
            depth,
        ))
    }

    /// `?a.b[0].`c d``
    fn field(&mut self) -> PResult<Expr> {
        let start = self.span();
        let optional = self.eat(&TokenKind::Question);
        let mut path = Vec::new();
        let first_span = self.span();
        match self.peek_kind() {
            TokenKind::Ident => {
                let w = self.text(first_span);
                if is_keyword(w) {
                    return Err(self.unexpected("a field name after `?`"));
                }
                self.bump();
                path.push(PathSegment::Key(w.to_string()));
            }
            TokenKind::QuotedIdent(_) => {
                let TokenKind::QuotedIdent(s) = self.bump().kind else {
                    unreachable!()
                };
                if s.is_empty() {
                    return Err(Diagnostic::error("E001", "empty field name", first_span));
                }
                path.push(PathSegment::Key(s));
            }
            _ => return Err(self.unexpected("a field name")),
        }
        loop {
            match self.peek_kind() {
                TokenKind::Dot => {
                    self.bump();
                    let seg_span = self.span();
                    match self.peek_kind() {
                        // After a dot any word is a name, keywords included
                        // (`event.sequence`, `x.in`).
                        TokenKind::Ident => {
                            self.bump();
                            path.push(PathSegment::Key(self.text(seg_span).to_string()));
                        }
                        TokenKind::QuotedIdent(_) => {
                            let TokenKind::QuotedIdent(s) = self.bump().kind else {
                                unreachable!()
                            };
                            if s.is_empty() {
                                return Err(Diagnostic::error(
                                    "E001",
                                    "empty field name",
                                    seg_span,
                                ));
                            }
                            path.push(PathSegment::Key(s));
                        }
                        _ => return Err(self.unexpected("a field name after `.`")),
                    }
                }
                // `[` is an index only when an integer follows; otherwise it
                // starts the next stage (`by user.id [process where …]`).
                TokenKind::LBracket if matches!(self.nth_kind(1), TokenKind::Int(_)) => {
                    let open = self.bump();
                    let TokenKind::Int(n) = self.bump().kind else {
                        unreachable!()
                    };
                    self.expect_close(&TokenKind::RBracket, open.span)?;
                    path.push(PathSegment::Index(n));
                }
                _ => break,
            }
        }
        let span = Span::new(start.start as usize, self.prev_end());
        Ok(Expr {
            kind: ExprKind::Field(FieldRef {
                path,
                optional,
                span,
            }),
            span,
        })
    }
}

fn dup_option(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error("E017", format!("`{what}` given twice for this stage"), span)
}

fn missing_unit(span: Span, value: i64) -> Diagnostic {
    Diagnostic::error("E011", "`maxspan` needs a time unit", span)
        .with_label(format!("did you mean `{value}s`?"))
        .with_help("time units are ms, s, m, h and d, e.g. `maxspan=5s`")
}

/// Human description of a token for error messages.
pub(crate) fn describe_token(src: &str, tok: &Token) -> String {
    let text = &src[tok.span.range()];
    match &tok.kind {
        TokenKind::Eof => "end of query".into(),
        TokenKind::Ident if is_keyword(text) => format!("keyword `{text}`"),
        TokenKind::Ident | TokenKind::TildeIdent => format!("`{text}`"),
        TokenKind::QuotedIdent(_) => format!("field {}", truncate(text)),
        TokenKind::Str(_) => format!("string {}", truncate(text)),
        TokenKind::Int(_) | TokenKind::Float(_) => format!("number `{text}`"),
        TokenKind::Error(d) => d.message.clone(),
        _ => format!("`{text}`"),
    }
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= 30 {
        text.to_string()
    } else {
        let s: String = text.chars().take(27).collect();
        format!("{s}…")
    }
}

/// The first words after an opening delimiter, for "unclosed" messages.
fn opener_snippet(src: &str, open: Span) -> String {
    let rest = &src[open.start as usize..];
    let line = rest.lines().next().unwrap_or("");
    let s: String = line.chars().take(24).collect();
    if line.chars().count() > 24 {
        format!("{}…", s.trim_end())
    } else {
        s.trim_end().to_string()
    }
}

/// Levenshtein distance, for "did you mean" suggestions (short strings).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// `lit.also_bump(parser)`: consume the current token and keep the value
/// (keeps `primary` free of extra temporaries).
trait AlsoBump: Sized {
    fn also_bump(self, p: &mut Parser<'_>) -> Self {
        p.bump();
        self
    }
}

impl AlsoBump for Literal {}
