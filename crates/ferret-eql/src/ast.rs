//! The EQL abstract syntax tree.
//!
//! Every node carries the [`Span`] of the source text it was parsed from
//! (byte offsets into the query string), so diagnostics, lints and the rule
//! loader can point at the exact token. `PartialEq` on the tree compares
//! structure only: spans are ignored (see [`Span`]), which is what the
//! print-then-reparse round trip needs.
//!
//! The tree is purely syntactic. Resolving `event0.field` against stage
//! aliases, field types and function signatures is the planner's job.

use std::fmt;

/// A half-open byte range `start..end` in the query string.
///
/// Two spans always compare equal: the AST derives `PartialEq` for structural
/// comparison, and a reparsed canonical print has different offsets but the
/// same meaning. Compare `start`/`end` directly where positions matter.
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl PartialEq for Span {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

// Hash must agree with `PartialEq`: all spans are equal, so all hash alike.
impl std::hash::Hash for Span {
    fn hash<H: std::hash::Hasher>(&self, _state: &mut H) {}
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// An identifier with its span (function names, stage aliases, categories).
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A whole EQL query: a body followed by zero or more pipes.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub body: QueryBody,
    pub pipes: Vec<Pipe>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum QueryBody {
    Event(EventQuery),
    Sequence(Sequence),
    Sample(Sample),
}

/// `<category> where <condition>`.
#[derive(Clone, Debug, PartialEq)]
pub struct EventQuery {
    pub category: Category,
    pub condition: Expr,
    pub span: Span,
}

/// The event category of an event query. `any` matches every category.
#[derive(Clone, Debug, PartialEq)]
pub enum Category {
    Any(Span),
    /// A bare identifier (`process`) or a quoted string (`"my category"`).
    Named(Ident),
}

/// `sequence [by k, …] [with maxspan=N<unit>] stage stage… [until stage]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    /// Sequence-level join keys, prepended to every stage's own keys.
    pub by: Vec<Expr>,
    pub maxspan: Option<TimeSpan>,
    pub stages: Vec<Stage>,
    pub until: Option<Stage>,
    pub span: Span,
}

/// `sample by k, … stage stage…`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub by: Vec<Expr>,
    pub stages: Vec<Stage>,
    pub span: Span,
}

/// One bracketed stage of a sequence or sample:
/// `[!][ <event query> ] [by k, …] [with runs=N] [as alias]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub query: EventQuery,
    /// The stage's own join keys (after the sequence-level ones).
    pub by: Vec<Expr>,
    /// `with runs=N`: the stage repeats N times.
    pub runs: Option<Runs>,
    /// `![…]`: a missing-event stage.
    pub missing: bool,
    /// Endpoint dialect: `[…] as event0`.
    pub alias: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Runs {
    pub count: i64,
    pub span: Span,
}

/// A duration as written (`5s`, `1500ms`, `2h`).
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSpan {
    pub value: i64,
    pub unit: TimeUnit,
    pub span: Span,
}

impl TimeSpan {
    /// The duration in milliseconds (saturating).
    pub fn millis(&self) -> i64 {
        self.value.saturating_mul(self.unit.millis())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Millis,
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl TimeUnit {
    pub fn millis(self) -> i64 {
        match self {
            TimeUnit::Millis => 1,
            TimeUnit::Seconds => 1_000,
            TimeUnit::Minutes => 60_000,
            TimeUnit::Hours => 3_600_000,
            TimeUnit::Days => 86_400_000,
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Millis => "ms",
            TimeUnit::Seconds => "s",
            TimeUnit::Minutes => "m",
            TimeUnit::Hours => "h",
            TimeUnit::Days => "d",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pipe {
    pub kind: PipeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PipeKind {
    Head(i64),
    Tail(i64),
    /// Legacy (Python `eql`) pipes, accepted as an extension.
    Filter(Expr),
    Unique(Vec<Expr>),
    UniqueCount(Vec<Expr>),
    Count(Vec<Expr>),
    Sort(Vec<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    Field(FieldRef),
    /// `not e`.
    Not(Box<Expr>),
    /// `and` / `or`.
    Logic {
        op: LogicOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Compare {
        op: CompareOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `+ - * / %`.
    Arith {
        op: ArithOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// Unary minus.
    Neg(Box<Expr>),
    /// `:`, `like`, `like~`, `regex`, `regex~` with one pattern or a
    /// parenthesised list (`list` records which was written).
    Match {
        op: MatchOp,
        case_insensitive: bool,
        value: Box<Expr>,
        patterns: Vec<Expr>,
        list: bool,
    },
    /// `in`, `in~`, `not in`, `not in~`.
    In {
        value: Box<Expr>,
        list: Vec<Expr>,
        case_insensitive: bool,
        negated: bool,
    },
    /// `name(args…)`; `name~(…)` sets `case_insensitive`.
    Call {
        name: Ident,
        case_insensitive: bool,
        args: Vec<Expr>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogicOp {
    And,
    Or,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `:` — case-insensitive equality, wildcards allowed in string literals.
    Seq,
    Like,
    Regex,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
}

/// A field reference: `process.name`, `` `odd field`.x ``, `?maybe.there`,
/// `process.args[0]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRef {
    pub path: Vec<PathSegment>,
    /// `?field`: no error if the field is unknown.
    pub optional: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PathSegment {
    Key(String),
    Index(i64),
}

impl FieldRef {
    /// The dotted name without indexes (`process.args[0]` → `process.args`).
    pub fn dotted(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            if let PathSegment::Key(k) = seg {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
        }
        out
    }
}

impl fmt::Display for TimeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, self.unit.suffix())
    }
}
