//! Compiled EQL expressions: conditions ([`Predicate`]) and key expressions
//! ([`KeyExpr`]), compiled once from the AST and evaluated per event.
//!
//! # Semantics (Elasticsearch EQL)
//!
//! * A missing field, a JSON `null` and an empty array are all *null*.
//!   `field == null` holds when the field is null, `field != null` when it has
//!   a value (Elasticsearch rewrites both to `IsNull` / `IsNotNull`).
//! * `==` is exact and case-sensitive with no wildcards; `!=` is
//!   `not (a == b)`, exactly as Elasticsearch parses it.
//! * `:` is case-insensitive equality; a string literal containing `*` or `?`
//!   is a wildcard pattern (no escape character). `like`/`like~` take
//!   wildcard patterns, `regex`/`regex~` Lucene regular expressions (full
//!   match), `in`/`in~` exact membership without wildcards; `not in` is
//!   `not (… in …)`.
//! * A field with several values satisfies a comparison if any value does;
//!   so `args != "-c"` (= `not args == "-c"`) holds only if no value is `-c`.
//! * Three-valued logic: comparisons and functions with a null operand are
//!   null; `null and false` is false, `null or true` is true, `not null` is
//!   null; a condition matches only when it is true.
//!
//! ## Where a missing field makes a comparison false rather than null
//!
//! Elasticsearch does not evaluate a condition as one expression. It
//! translates each comparison of a *field* with *literals* into a Lucene
//! query (`term`, `range`, `wildcard`, `regexp`, `terms`, `prefix`, the CIDR
//! `terms` query of `cidrMatch`) and combines them with `bool` queries;
//! only comparisons involving functions or arithmetic run as scripts with
//! null semantics. A Lucene query on a missing field is simply *false*, and
//! `not` becomes `must_not`, so in Elasticsearch
//! `process.name != "x"` and `not process.args : "-c"` **match events that
//! lack the field**, while `not length(process.name) > 3` does not.
//! ferret reproduces this: such "query leaves" are false on a missing field,
//! `and`/`or` treat a null operand as false (a `bool` query), and `not`
//! keeps null only directly above a script leaf. Inside a value context
//! (`null == (exit_code > -1)`, `string(a == b)`) everything is a script,
//! with full three-valued logic. (Sources: elastic/elasticsearch
//! `ExpressionBuilder` — `!=` is `Not(Equals)`; `ql` `ExpressionTranslators`
//! — `Not` → `NotQuery`; EQL `QueryTranslator`.)
//!
//! ## Types
//!
//! Values compare as described in [`crate::value`] (numbers numerically,
//! numeric strings coerced, ISO dates as instants). With field types from a
//! schema ([`FieldTypes`]), an `ip` field compares as addresses (a CIDR
//! literal in `==`/`:`/`in` matches the network, as a `term` query on an
//! `ip` field does) and a `date` field parses both sides as timestamps
//! (ISO 8601 or epoch milliseconds). Without a schema, a literal that parses
//! as an IP address also matches a differently written form of the same
//! address (`::1` vs `0:0:0:0:0:0:0:1`).
//!
//! ## Endpoint dialect
//!
//! A field whose first key is a stage alias of [`PlanContext::aliases`]
//! (`event0.process.pid`) reads the event bound to that alias; an unbound
//! alias reads as null.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use ferret_eql::ast::{
    ArithOp, CompareOp, Expr, ExprKind, FieldRef, Literal, LogicOp, MatchOp, PathSegment, Span,
};
use ferret_event::{parse_timestamp_str, Event, FieldPath, Segment, Timestamp};
use memchr::memmem;

use crate::exec::key::KeyWriter;
use crate::functions::{self, ArgKind, Cidr, Func};
use crate::matching::{self, PatternSet};
use crate::necessary::Necessary;
use crate::screen::Screen;
use crate::types::FieldTypes;
use crate::value::{
    cmp_scalars, eq_scalars, eq_scalars_ci, looks_like_date, num_to_timestamp, parse_num, KeyValue,
    Scalar, Val,
};

/// What a compiled expression evaluates against: the current event plus the
/// events earlier stages of the same partial sequence matched, by alias.
pub struct EvalInput<'a> {
    pub event: &'a Event,
    /// `aliases[i]` is the event bound to the alias with index `i` in
    /// [`PlanContext::aliases`] (`None` while not yet bound).
    pub aliases: &'a [Option<&'a Event>],
}

impl<'a> EvalInput<'a> {
    /// An input with no aliases bound.
    pub fn event(event: &'a Event) -> Self {
        EvalInput {
            event,
            aliases: &[],
        }
    }
}

/// Compile-time context.
#[derive(Clone, Debug, Default)]
pub struct PlanContext {
    /// Stage aliases visible to this expression, in declaration order.
    pub aliases: Vec<String>,
    /// Field types (ECS schema, optional) for typed comparisons.
    pub field_types: Option<Arc<FieldTypes>>,
}

/// A planning error with the span of the offending AST node.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanError {
    pub message: String,
    pub span: Span,
}

impl PlanError {
    fn new(message: impl Into<String>, span: Span) -> PlanError {
        PlanError {
            message: message.into(),
            span,
        }
    }
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PlanError {}

/// A compiled boolean condition.
#[derive(Clone, Debug)]
pub struct Predicate {
    // Boxed: the compiled tree is large and plans hold many predicates.
    pred: Box<Pred>,
}

impl Predicate {
    pub fn compile(expr: &Expr, cx: &PlanContext) -> Result<Predicate, PlanError> {
        Ok(Predicate {
            pred: Box::new(compile_pred(expr, cx)?),
        })
    }

    /// True only if the condition evaluates to true (null is not true).
    #[inline]
    pub fn matches(&self, input: &EvalInput) -> bool {
        self.pred.eval_query(input) == Some(true)
    }

    /// The condition's three-valued result (`None` = null), for diagnostics
    /// and tests.
    pub fn eval(&self, input: &EvalInput) -> Option<bool> {
        self.pred.eval(input, false)
    }

    /// True if the condition is the constant `true` (`any where true`).
    pub fn is_always_true(&self) -> bool {
        matches!(*self.pred, Pred::Const(Some(true)))
    }

    /// Text an event must hold for the condition to be true (see
    /// [`crate::necessary`]).
    pub fn necessary(&self) -> Necessary {
        self.pred.necessary()
    }

    /// What a record's JSON text must hold for the condition to be true
    /// (see [`crate::screen`]).
    pub fn screen(&self) -> Screen {
        self.pred.screen()
    }

    /// The parts of the condition that must each hold for it to hold and
    /// that read one field only, a field `usable` accepts: the operands of
    /// its top-level `and` (or the whole condition), such as
    /// `event.type == "start"`. A guard's result depends on that field's
    /// values alone, so a caller can work it out once per distinct value
    /// and skip the condition for events whose values fail it. Not for
    /// conditions that read stage aliases (their fields are another
    /// event's).
    pub fn guards(&self, usable: &dyn Fn(&FieldPath) -> bool) -> Vec<Guard> {
        fn walk(p: &Pred, usable: &dyn Fn(&FieldPath) -> bool, out: &mut Vec<Guard>) {
            if let Pred::And(ps) = p {
                for p in ps {
                    walk(p, usable, out);
                }
                return;
            }
            let mut paths = Vec::new();
            p.paths(&mut paths);
            paths.dedup();
            if let [path] = &paths[..] {
                if usable(path) {
                    out.push(Guard {
                        path: path.clone(),
                        pred: Box::new(p.clone()),
                    });
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.pred, usable, &mut out);
        out
    }

    /// Every field path the condition reads, as dotted names (alias fields
    /// included with their alias prefix), for projection at decode time.
    pub fn fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.pred.fields(&mut out);
        out.sort();
        out.dedup();
        out
    }

    /// Every field path the condition reads, with any stage-alias prefix
    /// removed (an alias field is read from another event, which needs the
    /// same field), for projection at decode time. Unlike [`Predicate::fields`]
    /// these are the compiled paths, array indexes included.
    pub fn field_paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.pred.paths(&mut out);
        out
    }
}

/// A part of a condition that must hold for the whole to hold, reading
/// one field (see [`Predicate::guards`]).
#[derive(Clone, Debug)]
pub struct Guard {
    path: FieldPath,
    pred: Box<Pred>,
}

impl Guard {
    /// The one field the guard reads.
    pub fn path(&self) -> &FieldPath {
        &self.path
    }

    /// Whether the guard holds for `event`: false means the condition it
    /// came from does not hold either.
    pub fn holds(&self, event: &Event) -> bool {
        // Evaluated as an operand of the condition's top-level `and` is.
        self.pred.eval(&EvalInput::event(event), false) == Some(true)
    }

    /// [`Guard::holds`], reading the verdicts the guard is made of from
    /// `verdicts` (bit `i` for verdict `i`, as an event's) instead of
    /// evaluating them again: a guard is most often one verdict, or its
    /// negation, on the field whose verdicts the caller has just worked out.
    /// `verdicts` must hold every verdict on the guard's field.
    pub fn holds_given(&self, event: &Event, verdicts: &[u64]) -> bool {
        fn eval(p: &Pred, event: &Event, verdicts: &[u64]) -> Option<bool> {
            match p {
                Pred::Verdict { id, .. } if (*id as usize) < verdicts.len() * 64 => {
                    Some(verdicts[*id as usize / 64] >> (id % 64) & 1 != 0)
                }
                Pred::Not(p) => eval(p, event, verdicts).map(|b| !b),
                p => p.eval(&EvalInput::event(event), false),
            }
        }
        eval(&self.pred, event, verdicts) == Some(true)
    }
}

/// One-field conditions of many plans, numbered ([`Plan::number_verdicts`]).
///
/// A thousand rules test the same few fields with few distinct values
/// (`host.os.type == "linux"`, `event.type in ("start", …)`), each rule
/// again for every event. A verdict's result depends on its field's values
/// only, so a caller that sees many events with the same values (a scan's
/// dispatch) works the verdicts out once per distinct value and attaches the
/// results to each event ([`Event::set_verdicts`]); the rules then read a bit.
/// An event without verdicts is tested as before.
///
/// [`Plan::number_verdicts`]: crate::Plan::number_verdicts
#[derive(Clone, Debug, Default)]
pub struct Verdicts {
    /// By id: the query leaf or group (unnumbered), shared with the
    /// [`Pred::Verdict`] that stands for it in its plan.
    verdicts: Vec<Arc<Pred>>,
}

impl Verdicts {
    pub fn len(&self) -> usize {
        self.verdicts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
    }

    /// The one field verdict `id` reads.
    pub fn path(&self, id: u32) -> &FieldPath {
        let leaf = leaf_field(&self.verdicts[id as usize]);
        &leaf.expect("verdicts are query leaves or groups").path
    }

    /// Whether verdict `id` holds for `event` (from the event's fields).
    pub fn holds(&self, id: u32, event: &Event) -> bool {
        self.verdicts[id as usize].eval(&EvalInput::event(event), false) == Some(true)
    }
}

impl Predicate {
    /// Numbers the condition's query leaves (and same-field groups) that
    /// read one field of the event itself, a field `usable` accepts, as
    /// verdicts of `verdicts`; anywhere in the condition, under `not`, `and` and
    /// `or` alike (each is evaluated as a query leaf there).
    pub fn number_verdicts(
        &mut self,
        usable: &dyn Fn(&FieldPath) -> bool,
        verdicts: &mut Verdicts,
    ) {
        fn walk(p: &mut Pred, usable: &dyn Fn(&FieldPath) -> bool, verdicts: &mut Verdicts) {
            match p {
                Pred::Not(inner) => walk(inner, usable, verdicts),
                Pred::And(ps) | Pred::Or(ps) => {
                    ps.iter_mut().for_each(|p| walk(p, usable, verdicts))
                }
                Pred::Field { field, .. } | Pred::Group { field, .. }
                    if field.alias.is_none() && usable(&field.path) =>
                {
                    let Ok(id) = u32::try_from(verdicts.verdicts.len()) else {
                        return;
                    };
                    let leaf = Arc::new(std::mem::replace(p, Pred::Const(None)));
                    verdicts.verdicts.push(leaf.clone());
                    *p = Pred::Verdict { id, pred: leaf };
                }
                _ => {}
            }
        }
        walk(&mut self.pred, usable, verdicts);
    }
}

/// A compiled join-key / sort-key / unique-key expression.
#[derive(Clone, Debug)]
pub struct KeyExpr {
    expr: ValExpr,
}

impl KeyExpr {
    pub fn compile(expr: &Expr, cx: &PlanContext) -> Result<KeyExpr, PlanError> {
        Ok(KeyExpr {
            expr: compile_val(expr, cx)?,
        })
    }

    /// The key value; a missing field is [`KeyValue::Null`]. A multi-valued
    /// field gives its first value.
    pub fn eval(&self, input: &EvalInput) -> KeyValue {
        self.with_value(input, |s| s.map_or(KeyValue::Null, KeyValue::from_scalar))
    }

    /// Writes [`KeyExpr::eval`]'s value into a join key; false when it is
    /// null.
    pub(crate) fn write_key(&self, input: &EvalInput, out: &mut KeyWriter<'_>) -> bool {
        self.with_value(input, |s| match s {
            Some(s) => {
                out.scalar(s);
                true
            }
            None => {
                out.null();
                false
            }
        })
    }

    /// Calls `f` with the key's value as [`KeyExpr::eval`] takes it (the
    /// first of a multi-valued field), `None` when it has none.
    fn with_value<R>(&self, input: &EvalInput, f: impl FnOnce(Option<Scalar<'_>>) -> R) -> R {
        if let ValExpr::Field(field) = &self.expr {
            let mut first = None;
            field.for_each(input, &mut |s| {
                first = Some(s);
                true
            });
            return f(first);
        }
        f(self.expr.eval(input).first())
    }

    /// Every value of the key, in document order without duplicates, or
    /// `[Null]` when it has none. Elasticsearch (8.5+, elastic/elasticsearch
    /// PR 89965) joins sequences on each value of a multi-valued key
    /// separately, the keys of one event being the cartesian product of its
    /// key fields' values; callers wanting that semantics use this.
    pub fn eval_all(&self, input: &EvalInput) -> Vec<KeyValue> {
        let mut out: Vec<KeyValue> = Vec::new();
        let mut push = |k: KeyValue| {
            if !out.contains(&k) {
                out.push(k);
            }
        };
        if let ValExpr::Field(f) = &self.expr {
            f.for_each(input, &mut |s| {
                push(KeyValue::from_scalar(s));
                false
            });
        } else {
            self.expr.eval(input).any(|s| {
                push(KeyValue::from_scalar(s));
                false
            });
        }
        if out.is_empty() {
            out.push(KeyValue::Null);
        }
        out
    }

    /// Every field path the key reads (see [`Predicate::field_paths`]).
    pub fn field_paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.expr.paths(&mut out);
        out
    }

    /// The dotted field name when the key is a plain field.
    pub fn field_name(&self) -> Option<&str> {
        match &self.expr {
            ValExpr::Field(f) => Some(&f.name),
            _ => None,
        }
    }
}

/// The mapped type of a field, where it changes comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldType {
    Unknown,
    Ip,
    Date,
}

/// A compiled field reference.
#[derive(Clone, Debug)]
struct FieldAccess {
    /// Index into the input's aliases, for `event0.field`.
    alias: Option<usize>,
    path: FieldPath,
    /// Dotted name as written (with the alias prefix).
    name: String,
    ty: FieldType,
}

impl FieldAccess {
    /// That the field has a value (see [`Necessary::present`]); nothing
    /// known for a field of another stage's event.
    fn present(&self) -> Necessary {
        if self.alias.is_some() {
            return Necessary::Always;
        }
        Necessary::present(&self.path)
    }

    fn compile(f: &FieldRef, cx: &PlanContext) -> Result<FieldAccess, PlanError> {
        let mut segs: &[PathSegment] = &f.path;
        let mut alias = None;
        if let Some(PathSegment::Key(first)) = segs.first() {
            if let Some(i) = cx.aliases.iter().position(|a| a == first) {
                if segs.len() == 1 {
                    return Err(PlanError::new(
                        format!("`{first}` is a stage alias; name a field of it, e.g. `{first}.process.pid`"),
                        f.span,
                    ));
                }
                alias = Some(i);
                segs = &segs[1..];
            }
        }
        let segments: Vec<Segment> = segs
            .iter()
            .map(|s| match s {
                PathSegment::Key(k) => Segment::Key(k.clone()),
                PathSegment::Index(i) => Segment::Index(*i),
            })
            .collect();
        let dotted: String = segs
            .iter()
            .filter_map(|s| match s {
                PathSegment::Key(k) => Some(k.as_str()),
                PathSegment::Index(_) => None,
            })
            .collect::<Vec<_>>()
            .join(".");
        let ty = match cx.field_types.as_ref().and_then(|t| t.type_of(&dotted)) {
            Some("ip") => FieldType::Ip,
            Some("date") | Some("date_nanos") => FieldType::Date,
            _ => FieldType::Unknown,
        };
        Ok(FieldAccess {
            alias,
            path: FieldPath::new(segments),
            name: f.dotted(),
            ty,
        })
    }

    #[inline]
    fn event<'a>(&self, input: &EvalInput<'a>) -> Option<&'a Event> {
        match self.alias {
            None => Some(input.event),
            Some(i) => input.aliases.get(i).copied().flatten(),
        }
    }

    /// Calls `f` with each non-null scalar value until it returns true;
    /// returns (saw any value, f returned true).
    #[inline]
    fn for_each<'a>(
        &self,
        input: &EvalInput<'a>,
        mut f: impl FnMut(Scalar<'a>) -> bool,
    ) -> (bool, bool) {
        let Some(event) = self.event(input) else {
            return (false, false);
        };
        let (mut seen, mut hit) = (false, false);
        // The usual case, a projected field: no callbacks, `f` inlined.
        if let Some(values) = event.table_values(&self.path) {
            for v in values {
                if let Some(s) = Scalar::from_field(v) {
                    seen = true;
                    if f(s) {
                        return (true, true);
                    }
                }
            }
            return (seen, false);
        }
        event.for_each(&self.path, &mut |v| {
            if hit {
                return;
            }
            if let Some(s) = Scalar::from_field(v) {
                seen = true;
                hit = f(s);
            }
        });
        (seen, hit)
    }

    fn value<'a>(&self, input: &EvalInput<'a>) -> Val<'a> {
        let Some(event) = self.event(input) else {
            return Val::Null;
        };
        let mut first: Option<Scalar<'a>> = None;
        let mut many: Vec<Scalar<'a>> = Vec::new();
        event.for_each(&self.path, &mut |v| {
            if let Some(s) = Scalar::from_field(v) {
                match first {
                    None => first = Some(s),
                    Some(f) => {
                        if many.is_empty() {
                            many.push(f);
                        }
                        many.push(s);
                    }
                }
            }
        });
        match (first, many.is_empty()) {
            (None, _) => Val::Null,
            (Some(s), true) => Val::from_scalar(s),
            (Some(_), false) => Val::Many(many),
        }
    }
}

/// A literal prepared for comparisons: its scalar plus the interpretations
/// computed once (timestamp, IP network).
#[derive(Clone, Debug)]
struct Lit {
    val: LitVal,
    ts: Option<Timestamp>,
}

#[derive(Clone, Debug)]
enum LitVal {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Box<str>),
}

impl Lit {
    fn new(l: &Literal) -> Option<Lit> {
        let val = match l {
            Literal::Null => return None,
            Literal::Bool(b) => LitVal::Bool(*b),
            Literal::Int(i) => LitVal::Int(*i),
            Literal::Float(f) => LitVal::Float(*f),
            Literal::String(s) => LitVal::Str(s.as_str().into()),
        };
        let ts = match &val {
            LitVal::Str(s) => parse_timestamp_str(s),
            LitVal::Int(i) => Some(Timestamp::from_millis(*i)),
            LitVal::Float(f) => num_to_timestamp(crate::value::Num::Float(*f)),
            LitVal::Bool(_) => None,
        };
        Some(Lit { val, ts })
    }

    #[inline]
    fn scalar(&self) -> Scalar<'_> {
        match &self.val {
            LitVal::Bool(b) => Scalar::Bool(*b),
            LitVal::Int(i) => Scalar::Int(*i),
            LitVal::Float(f) => Scalar::Float(*f),
            LitVal::Str(s) => Scalar::Str(s),
        }
    }
}

/// The timestamp of a value of a `date` field.
fn scalar_ts(s: Scalar) -> Option<Timestamp> {
    match s {
        Scalar::Str(t) => parse_timestamp_str(t),
        Scalar::Int(i) => Some(Timestamp::from_millis(i)),
        Scalar::Float(f) => num_to_timestamp(crate::value::Num::Float(f)),
        Scalar::Bool(_) => None,
    }
}

/// Comparison of a value against literals, applied to each value of a
/// field or expression.
#[derive(Clone, Debug)]
enum Test {
    /// Equality / membership / wildcard match: strings through `set`,
    /// other scalars (and strings that need coercion) against `others`,
    /// addresses against `nets`.
    Match {
        set: PatternSet,
        /// Whether `set` is empty (skip it).
        no_strings: bool,
        others: Vec<Lit>,
        ci: bool,
        nets: Vec<Cidr>,
        ty: FieldType,
    },
    /// `<`, `<=`, `>`, `>=` against one literal.
    Order {
        op: CompareOp,
        lit: Lit,
        ty: FieldType,
    },
    Regex(regex::Regex),
    /// `startsWith` / `endsWith` / `stringContains` with a literal
    /// (pre-folded when case-insensitive).
    Affix {
        func: Func,
        ci: bool,
        pat: Box<str>,
        finder: memmem::Finder<'static>,
    },
    Cidr(Vec<Cidr>),
    /// A boolean field used as a condition.
    IsTrue,
}

impl Test {
    #[inline]
    fn check(&self, s: Scalar) -> bool {
        match self {
            Test::Match {
                set,
                no_strings,
                others,
                ci,
                nets,
                ty,
            } => {
                if let Scalar::Str(t) = s {
                    if !no_strings && set.is_match(t) {
                        return true;
                    }
                    if !nets.is_empty() {
                        if let Some(ip) = functions::parse_ip(t) {
                            if nets.iter().any(|n| n.contains(ip)) {
                                return true;
                            }
                        }
                    }
                }
                if *ty == FieldType::Date {
                    if let Some(ts) = scalar_ts(s) {
                        return others.iter().any(|l| l.ts == Some(ts));
                    }
                }
                others.iter().any(|l| {
                    if *ci {
                        eq_scalars_ci(s, l.scalar())
                    } else {
                        eq_scalars(s, l.scalar())
                    }
                })
            }
            Test::Order { op, lit, ty } => {
                let ord = match ty {
                    FieldType::Date => match (scalar_ts(s), lit.ts) {
                        (Some(a), Some(b)) => Some(a.cmp(&b)),
                        _ => None,
                    },
                    FieldType::Ip => match (s, lit.scalar()) {
                        (Scalar::Str(a), Scalar::Str(b)) => {
                            match (functions::parse_ip(a), functions::parse_ip(b)) {
                                (Some(a), Some(b)) => Some(ip_key(a).cmp(&ip_key(b))),
                                _ => None,
                            }
                        }
                        _ => None,
                    },
                    FieldType::Unknown => cmp_scalars(s, lit.scalar()),
                };
                ord.is_some_and(|o| order_holds(*op, o))
            }
            Test::Regex(re) => match s {
                Scalar::Str(t) => re.is_match(t),
                _ => false,
            },
            Test::Affix {
                func,
                ci,
                pat,
                finder,
            } => match s {
                Scalar::Str(t) => {
                    let go = |t: &str| match func {
                        Func::StartsWith => t.starts_with(&**pat),
                        Func::EndsWith => t.ends_with(&**pat),
                        _ => finder.find(t.as_bytes()).is_some(),
                    };
                    if *ci {
                        matching::with_folded(t, go)
                    } else {
                        go(t)
                    }
                }
                _ => false,
            },
            Test::Cidr(nets) => match s {
                Scalar::Str(t) => {
                    functions::parse_ip(t).is_some_and(|ip| nets.iter().any(|n| n.contains(ip)))
                }
                _ => false,
            },
            Test::IsTrue => match s {
                Scalar::Bool(b) => b,
                Scalar::Str(t) => t == "true",
                _ => false,
            },
        }
    }

    /// The test as one of string values alone, when only string values of
    /// `field` itself can pass it: tests that also accept numbers, dates,
    /// addresses or coerced spellings, or read another event's field (a
    /// stage alias), are not.
    fn string_test(&self, field: &FieldAccess) -> Option<StringTest<'_>> {
        if field.alias.is_some() {
            return None;
        }
        match self {
            Test::Match {
                set,
                others,
                nets,
                ty: FieldType::Unknown,
                ..
            } if others.is_empty() && nets.is_empty() => Some(StringTest::Set(set)),
            Test::Affix { func, ci, pat, .. } => Some(StringTest::Affix {
                func: *func,
                ci: *ci,
                pat,
            }),
            _ => None,
        }
    }

    /// What a value of `field` must contain for this test to pass: a string
    /// test's literal text.
    fn necessary(&self, field: &FieldAccess) -> Necessary {
        match self.string_test(field) {
            Some(StringTest::Set(set)) => match set.needles() {
                Some(texts) => Necessary::contains_any(&field.path, texts.iter().map(|t| &**t)),
                None => Necessary::Always,
            },
            Some(StringTest::Affix { pat, .. }) => Necessary::contains_any(&field.path, [pat]),
            None => Necessary::Always,
        }
    }

    /// What a record's JSON text must hold for a value of `field` to pass:
    /// a string test's literal, quoted at the ends the value must start or
    /// end with.
    fn screen(&self, field: &FieldAccess) -> Screen {
        match self.string_test(field) {
            Some(StringTest::Set(set)) => set.screen(),
            Some(StringTest::Affix { func, ci, pat }) => match func {
                Func::StartsWith => Screen::literal(pat, true, false, ci),
                Func::EndsWith => Screen::literal(pat, false, true, ci),
                _ => Screen::literal(pat, false, false, ci),
            },
            None => Screen::Always,
        }
    }
}

/// A test that only string values can pass ([`Test::string_test`]).
enum StringTest<'a> {
    Set(&'a PatternSet),
    Affix { func: Func, ci: bool, pat: &'a str },
}

/// IPv6 byte order with IPv4 mapped into it, as Lucene orders `ip` fields.
fn ip_key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

fn order_holds(op: CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::NotEq => o != Ordering::Equal,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::LtEq => o != Ordering::Greater,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::GtEq => o != Ordering::Less,
    }
}

fn flip(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::LtEq => CompareOp::GtEq,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::GtEq => CompareOp::LtEq,
        other => other,
    }
}

/// A compiled condition. `eval(.., script)` returns the three-valued result;
/// `script` is false at the top level of a condition (Elasticsearch's query
/// translation, see the module doc) and true inside value contexts.
#[derive(Clone, Debug)]
enum Pred {
    Const(Option<bool>),
    Not(Box<Pred>),
    And(Vec<Pred>),
    Or(Vec<Pred>),
    /// A field compared with literals: a "query leaf".
    Field {
        field: FieldAccess,
        test: Test,
    },
    /// Several (possibly negated) query leaves on one field under one
    /// `and` / `or`: the field is resolved once and each leaf's result
    /// combined as the separate leaves would be.
    Group {
        field: FieldAccess,
        /// (test, negated); at most 64.
        leaves: Vec<(Test, bool)>,
        and: bool,
    },
    /// A computed value compared with literals: a script leaf.
    Value {
        expr: ValExpr,
        test: Test,
    },
    /// `x == null`.
    IsNull(ValExpr),
    /// A comparison of two computed values (script leaf).
    Compare {
        op: CompareOp,
        lhs: ValExpr,
        rhs: ValExpr,
        ci: bool,
    },
    /// A boolean-valued expression used as a condition (script leaf).
    Bool(ValExpr),
    /// A query leaf or group numbered as verdict `id` of a [`Verdicts`]: read
    /// from the event's verdicts when it has them, else evaluated.
    Verdict {
        id: u32,
        pred: Arc<Pred>,
    },
}

impl Pred {
    /// [`Pred::eval`] as a query leaf, a verdict read in place: most leaves
    /// under `and`, `or` and `not` are verdicts, and calling `eval` for one
    /// (whose frame is sized for every arm) cost more than reading it.
    #[inline(always)]
    fn eval_query(&self, input: &EvalInput) -> Option<bool> {
        if let Pred::Verdict { id, .. } = self {
            if let Some(holds) = input.event.verdict(*id) {
                return Some(holds);
            }
        }
        self.eval(input, false)
    }

    fn eval(&self, input: &EvalInput, script: bool) -> Option<bool> {
        match self {
            Pred::Const(c) => *c,
            // A verdict is the leaf's result as a query leaf (script mode can
            // also give null: evaluated then).
            Pred::Verdict { id, pred } => match input.event.verdict(*id) {
                Some(holds) if !script => Some(holds),
                _ => pred.eval(input, script),
            },
            Pred::Not(p) if !script => p.eval_query(input).map(|b| !b),
            Pred::Not(p) => p.eval(input, true).map(|b| !b),
            Pred::And(ps) => {
                if script {
                    let mut null = false;
                    for p in ps {
                        match p.eval(input, true) {
                            Some(false) => return Some(false),
                            None => null = true,
                            Some(true) => {}
                        }
                    }
                    if null {
                        None
                    } else {
                        Some(true)
                    }
                } else {
                    Some(ps.iter().all(|p| p.eval_query(input) == Some(true)))
                }
            }
            Pred::Or(ps) => {
                if script {
                    let mut null = false;
                    for p in ps {
                        match p.eval(input, true) {
                            Some(true) => return Some(true),
                            None => null = true,
                            Some(false) => {}
                        }
                    }
                    if null {
                        None
                    } else {
                        Some(false)
                    }
                } else {
                    Some(ps.iter().any(|p| p.eval_query(input) == Some(true)))
                }
            }
            Pred::Field { field, test } => {
                let (seen, hit) = field.for_each(input, |s| test.check(s));
                if seen {
                    Some(hit)
                } else if script {
                    None
                } else {
                    Some(false)
                }
            }
            Pred::Group { field, leaves, and } => {
                let n = leaves.len();
                let full: u64 = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
                let mut hits: u64 = 0;
                let (seen, _) = field.for_each(input, |s| {
                    for (i, (t, _)) in leaves.iter().enumerate() {
                        if hits & (1 << i) == 0 && t.check(s) {
                            hits |= 1 << i;
                        }
                    }
                    hits == full
                });
                let results = leaves.iter().enumerate().map(|(i, (_, neg))| {
                    let r = if seen {
                        Some(hits & (1 << i) != 0)
                    } else if script {
                        None
                    } else {
                        Some(false)
                    };
                    if *neg {
                        r.map(|b| !b)
                    } else {
                        r
                    }
                });
                combine(results, *and, script)
            }
            Pred::Value { expr, test } => {
                let v = expr.eval(input);
                if v.is_null() {
                    None
                } else {
                    Some(v.any(|s| test.check(s)))
                }
            }
            Pred::IsNull(e) => Some(match e {
                ValExpr::Field(f) => !f.for_each(input, |_| true).0,
                other => other.eval(input).is_null(),
            }),
            Pred::Compare { op, lhs, rhs, ci } => {
                let (a, b) = (lhs.eval(input), rhs.eval(input));
                if a.is_null() || b.is_null() {
                    return None;
                }
                Some(a.any(|x| {
                    b.any(|y| match op {
                        CompareOp::Eq if *ci => eq_scalars_ci(x, y),
                        CompareOp::Eq => eq_scalars(x, y),
                        _ => cmp_scalars(x, y).is_some_and(|o| order_holds(*op, o)),
                    })
                }))
            }
            Pred::Bool(e) => {
                let v = e.eval(input);
                if v.is_null() {
                    None
                } else {
                    Some(v.any(|s| matches!(s, Scalar::Bool(true))))
                }
            }
        }
    }

    fn necessary(&self) -> Necessary {
        match self {
            Pred::Const(Some(true)) => Necessary::Always,
            Pred::Const(_) => Necessary::never(),
            Pred::And(ps) => Necessary::all(ps.iter().map(Pred::necessary)),
            Pred::Or(ps) => ps
                .iter()
                .fold(Necessary::never(), |acc, p| acc.or(p.necessary())),
            Pred::Verdict { pred, .. } => pred.necessary(),
            // A query leaf holds only on a value of its field: without a
            // text to look for, the field's presence is necessary.
            Pred::Field { field, test } => match test.necessary(field) {
                Necessary::Always => field.present(),
                text => text,
            },
            Pred::Group { field, leaves, and } => {
                let plain = leaves.iter().filter(|(_, neg)| !neg);
                let negated = leaves.iter().any(|(_, neg)| *neg);
                let texts = if *and {
                    Necessary::all(plain.map(|(t, _)| t.necessary(field)))
                } else if negated {
                    Necessary::Always
                } else {
                    plain.fold(Necessary::never(), |acc, (t, _)| acc.or(t.necessary(field)))
                };
                // A plain leaf under `and`, or only plain leaves under `or`:
                // the group holds only on a value of its field.
                let needs_value = if *and {
                    leaves.iter().any(|(_, neg)| !neg)
                } else {
                    !negated
                };
                match texts {
                    Necessary::Always if needs_value => field.present(),
                    texts => texts,
                }
            }
            // Negations hold on what they do not name; computed values may
            // hold text no literal shows.
            Pred::Not(_)
            | Pred::Value { .. }
            | Pred::IsNull(_)
            | Pred::Compare { .. }
            | Pred::Bool(_) => Necessary::Always,
        }
    }

    fn screen(&self) -> Screen {
        match self {
            Pred::Const(Some(true)) => Screen::Always,
            Pred::Const(_) => Screen::Never,
            Pred::And(ps) => ps.iter().fold(Screen::Always, |acc, p| acc.and(p.screen())),
            Pred::Or(ps) => ps.iter().fold(Screen::Never, |acc, p| acc.or(p.screen())),
            Pred::Verdict { pred, .. } => pred.screen(),
            Pred::Field { field, test } => test.screen(field),
            Pred::Group { field, leaves, and } => {
                let plain = leaves.iter().filter(|(_, neg)| !neg);
                if *and {
                    plain.fold(Screen::Always, |acc, (t, _)| acc.and(t.screen(field)))
                } else if leaves.iter().any(|(_, neg)| *neg) {
                    Screen::Always
                } else {
                    plain.fold(Screen::Never, |acc, (t, _)| acc.or(t.screen(field)))
                }
            }
            // A script leaf on a field (`endsWith`) tests the field's own
            // values, as a query leaf does.
            Pred::Value {
                expr: ValExpr::Field(field),
                test,
            } => test.screen(field),
            // As for `necessary`: negations and computed values fix no text.
            Pred::Not(_)
            | Pred::Value { .. }
            | Pred::IsNull(_)
            | Pred::Compare { .. }
            | Pred::Bool(_) => Screen::Always,
        }
    }

    fn paths(&self, out: &mut Vec<FieldPath>) {
        match self {
            Pred::Const(_) => {}
            Pred::Not(p) => p.paths(out),
            Pred::Verdict { pred, .. } => pred.paths(out),
            Pred::And(ps) | Pred::Or(ps) => ps.iter().for_each(|p| p.paths(out)),
            Pred::Field { field, .. } | Pred::Group { field, .. } => out.push(field.path.clone()),
            Pred::Value { expr, .. } | Pred::IsNull(expr) | Pred::Bool(expr) => expr.paths(out),
            Pred::Compare { lhs, rhs, .. } => {
                lhs.paths(out);
                rhs.paths(out);
            }
        }
    }

    fn fields(&self, out: &mut Vec<String>) {
        match self {
            Pred::Const(_) => {}
            Pred::Not(p) => p.fields(out),
            Pred::Verdict { pred, .. } => pred.fields(out),
            Pred::And(ps) | Pred::Or(ps) => ps.iter().for_each(|p| p.fields(out)),
            Pred::Field { field, .. } | Pred::Group { field, .. } => out.push(field.name.clone()),
            Pred::Value { expr, .. } | Pred::IsNull(expr) | Pred::Bool(expr) => expr.fields(out),
            Pred::Compare { lhs, rhs, .. } => {
                lhs.fields(out);
                rhs.fields(out);
            }
        }
    }
}

/// Combines leaf results with `and` / `or`: three-valued in script mode,
/// as a `bool` query (a null operand counts as false) otherwise.
fn combine(results: impl Iterator<Item = Option<bool>>, and: bool, script: bool) -> Option<bool> {
    let mut null = false;
    for r in results {
        // Outside scripts a null operand is false.
        let r = if script { r } else { Some(r == Some(true)) };
        match r {
            Some(b) if b != and => return Some(b),
            Some(_) => {}
            None => null = true,
        }
    }
    if null {
        None
    } else {
        Some(and)
    }
}

/// The field of a (possibly negated) query leaf or group.
fn leaf_field(p: &Pred) -> Option<&FieldAccess> {
    match p {
        Pred::Field { field, .. } | Pred::Group { field, .. } => Some(field),
        Pred::Not(inner) => match &**inner {
            Pred::Field { field, .. } => Some(field),
            _ => None,
        },
        _ => None,
    }
}

fn same_field(a: &FieldAccess, b: &FieldAccess) -> bool {
    a.alias == b.alias && a.path == b.path
}

/// Merges the query leaves of an `and` / `or` list that test the same field
/// into [`Pred::Group`]s. Leaf results are unchanged, and `and`/`or` are
/// commutative here (evaluation has no side effects), so so is the result.
fn group_fields(items: Vec<Pred>, and: bool) -> Vec<Pred> {
    #[cfg(test)]
    if tests::NO_GROUPING.with(|g| g.get()) {
        return items;
    }
    let mut out: Vec<Pred> = Vec::with_capacity(items.len());
    for item in items {
        let (field, test, neg) = match item {
            Pred::Field { field, test } => (field, test, false),
            Pred::Not(inner) if matches!(*inner, Pred::Field { .. }) => match *inner {
                Pred::Field { field, test } => (field, test, true),
                other => {
                    out.push(Pred::Not(Box::new(other)));
                    continue;
                }
            },
            other => {
                out.push(other);
                continue;
            }
        };
        let pos = out.iter().position(|p| {
            leaf_field(p).is_some_and(|f| same_field(f, &field))
                && !matches!(p, Pred::Group { leaves, .. } if leaves.len() >= 64)
        });
        let Some(pos) = pos else {
            let leaf = Pred::Field { field, test };
            out.push(if neg { Pred::Not(Box::new(leaf)) } else { leaf });
            continue;
        };
        let (f0, mut leaves) = match std::mem::replace(&mut out[pos], Pred::Const(None)) {
            Pred::Group { field, leaves, .. } => (field, leaves),
            Pred::Field { field, test } => (field, vec![(test, false)]),
            Pred::Not(inner) => match *inner {
                Pred::Field { field, test } => (field, vec![(test, true)]),
                // leaf_field only matches negated field leaves.
                _ => unreachable!(),
            },
            _ => unreachable!(),
        };
        leaves.push((test, neg));
        out[pos] = Pred::Group {
            field: f0,
            leaves,
            and,
        };
    }
    out
}

/// A compiled value expression.
#[derive(Clone, Debug)]
enum ValExpr {
    Lit(Val<'static>),
    Field(FieldAccess),
    Neg(Box<ValExpr>),
    Arith(ArithOp, Box<ValExpr>, Box<ValExpr>),
    Call {
        func: Func,
        ci: bool,
        args: Vec<ValExpr>,
        cidrs: Vec<Cidr>,
    },
    /// A condition used as a value (`null == (a > 1)`): script semantics.
    Pred(Box<Pred>),
}

impl ValExpr {
    fn eval<'a>(&'a self, input: &EvalInput<'a>) -> Val<'a> {
        match self {
            ValExpr::Lit(v) => match v {
                Val::Str(s) => Val::Str(Cow::Borrowed(s)),
                other => other.clone(),
            },
            ValExpr::Field(f) => f.value(input),
            ValExpr::Neg(e) => functions::negate(&e.eval(input)),
            ValExpr::Arith(op, a, b) => functions::arith(*op, &a.eval(input), &b.eval(input)),
            ValExpr::Call {
                func,
                ci,
                args,
                cidrs,
            } => {
                let vals: Vec<Val> = args.iter().map(|a| a.eval(input)).collect();
                functions::apply(*func, *ci, &vals, cidrs)
            }
            ValExpr::Pred(p) => match p.eval(input, true) {
                Some(b) => Val::Bool(b),
                None => Val::Null,
            },
        }
    }

    fn paths(&self, out: &mut Vec<FieldPath>) {
        match self {
            ValExpr::Lit(_) => {}
            ValExpr::Field(f) => out.push(f.path.clone()),
            ValExpr::Neg(e) => e.paths(out),
            ValExpr::Arith(_, a, b) => {
                a.paths(out);
                b.paths(out);
            }
            ValExpr::Call { args, .. } => args.iter().for_each(|a| a.paths(out)),
            ValExpr::Pred(p) => p.paths(out),
        }
    }

    fn fields(&self, out: &mut Vec<String>) {
        match self {
            ValExpr::Lit(_) => {}
            ValExpr::Field(f) => out.push(f.name.clone()),
            ValExpr::Neg(e) => e.fields(out),
            ValExpr::Arith(_, a, b) => {
                a.fields(out);
                b.fields(out);
            }
            ValExpr::Call { args, .. } => args.iter().for_each(|a| a.fields(out)),
            ValExpr::Pred(p) => p.fields(out),
        }
    }

    /// The static type of the expression where it is known.
    fn kind(&self) -> Option<ArgKind> {
        match self {
            ValExpr::Lit(Val::Str(_)) => Some(ArgKind::Str),
            ValExpr::Lit(Val::Int(_)) => Some(ArgKind::Int),
            ValExpr::Lit(Val::Float(_)) => Some(ArgKind::Num),
            ValExpr::Lit(Val::Bool(_)) | ValExpr::Pred(_) => Some(ArgKind::Bool),
            ValExpr::Neg(_) | ValExpr::Arith(..) => Some(ArgKind::Num),
            ValExpr::Call { func, .. } => Some(match func {
                Func::Add | Func::Subtract | Func::Multiply | Func::Divide | Func::Modulo => {
                    ArgKind::Num
                }
                Func::IndexOf | Func::Length => ArgKind::Int,
                Func::Number => ArgKind::Num,
                Func::CidrMatch | Func::EndsWith | Func::StartsWith | Func::StringContains => {
                    ArgKind::Bool
                }
                Func::Between | Func::Concat | Func::String | Func::Substring => ArgKind::Str,
            }),
            _ => None,
        }
    }
}

fn kind_name(k: ArgKind) -> &'static str {
    match k {
        ArgKind::Any => "any value",
        ArgKind::Str => "a string",
        ArgKind::Num => "a number",
        ArgKind::Int => "an integer",
        ArgKind::Bool => "a boolean",
    }
}

fn kind_fits(want: ArgKind, have: ArgKind) -> bool {
    match want {
        ArgKind::Any => true,
        ArgKind::Num => matches!(have, ArgKind::Num | ArgKind::Int),
        other => other == have,
    }
}

/// The constant value of an expression made only of literals (`-1`,
/// `(1 + 3) * 2`), folded at plan time as Elasticsearch's optimizer does.
fn literal_of(e: &Expr) -> Option<Literal> {
    match &e.kind {
        ExprKind::Literal(l) => Some(l.clone()),
        ExprKind::Neg(x) => match literal_of(x)? {
            Literal::Int(i) => Some(Literal::Int(i.checked_neg()?)),
            Literal::Float(f) => Some(Literal::Float(-f)),
            _ => None,
        },
        ExprKind::Arith { op, lhs, rhs } => {
            let num = |l: Literal| match l {
                Literal::Int(i) => Some(Val::Int(i)),
                Literal::Float(f) => Some(Val::Float(f)),
                _ => None,
            };
            let (a, b) = (num(literal_of(lhs)?)?, num(literal_of(rhs)?)?);
            match functions::arith(*op, &a, &b) {
                Val::Int(i) => Some(Literal::Int(i)),
                Val::Float(f) if f.is_finite() => Some(Literal::Float(f)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn compile_val(e: &Expr, cx: &PlanContext) -> Result<ValExpr, PlanError> {
    Ok(match &e.kind {
        ExprKind::Literal(l) => ValExpr::Lit(match l {
            Literal::Null => Val::Null,
            Literal::Bool(b) => Val::Bool(*b),
            Literal::Int(i) => Val::Int(*i),
            Literal::Float(f) => Val::Float(*f),
            Literal::String(s) => Val::Str(Cow::Owned(s.clone())),
        }),
        ExprKind::Field(f) => ValExpr::Field(FieldAccess::compile(f, cx)?),
        ExprKind::Neg(x) => {
            let v = compile_val(x, cx)?;
            check_numeric(&v, x)?;
            ValExpr::Neg(Box::new(v))
        }
        ExprKind::Arith { op, lhs, rhs } => {
            let (a, b) = (compile_val(lhs, cx)?, compile_val(rhs, cx)?);
            check_numeric(&a, lhs)?;
            check_numeric(&b, rhs)?;
            ValExpr::Arith(*op, Box::new(a), Box::new(b))
        }
        ExprKind::Call {
            name,
            case_insensitive,
            args,
        } => compile_call(e, name, *case_insensitive, args, cx)?,
        _ => ValExpr::Pred(Box::new(compile_pred(e, cx)?)),
    })
}

fn check_numeric(v: &ValExpr, e: &Expr) -> Result<(), PlanError> {
    match v.kind() {
        Some(k) if !kind_fits(ArgKind::Num, k) => Err(PlanError::new(
            format!("arithmetic needs a number, found {}", kind_name(k)),
            e.span,
        )),
        _ => Ok(()),
    }
}

fn compile_call(
    e: &Expr,
    name: &ferret_eql::ast::Ident,
    ci: bool,
    args: &[Expr],
    cx: &PlanContext,
) -> Result<ValExpr, PlanError> {
    let func = Func::lookup(&name.name)
        .ok_or_else(|| PlanError::new(format!("unknown function `{}`", name.name), name.span))?;
    if ci && !func.has_insensitive_variant() {
        return Err(PlanError::new(
            format!(
                "function `{}` has no case-insensitive `~` variant",
                func.name()
            ),
            name.span,
        ));
    }
    let (min, max) = func.arity();
    if args.len() < min || max.is_some_and(|m| args.len() > m) {
        let expected = match max {
            Some(m) if m == min => format!("{min}"),
            Some(m) => format!("{min} to {m}"),
            None => format!("at least {min}"),
        };
        return Err(PlanError::new(
            format!(
                "function `{}` takes {expected} arguments, found {}",
                func.name(),
                args.len()
            ),
            e.span,
        ));
    }
    let mut compiled = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        let v = compile_val(a, cx)?;
        let want = func.arg_kind(i);
        if let Some(have) = v.kind() {
            if !kind_fits(want, have) {
                return Err(PlanError::new(
                    format!(
                        "argument {} of `{}` must be {}, found {}",
                        i + 1,
                        func.name(),
                        kind_name(want),
                        kind_name(have)
                    ),
                    a.span,
                ));
            }
        }
        compiled.push(v);
    }
    let mut cidrs = Vec::new();
    if func == Func::CidrMatch {
        for a in &args[1..] {
            match literal_of(a) {
                Some(Literal::String(s)) => {
                    cidrs.push(Cidr::parse(&s).map_err(|m| PlanError::new(m, a.span))?)
                }
                _ => {
                    return Err(PlanError::new(
                        "the networks of `cidrMatch` must be string literals",
                        a.span,
                    ))
                }
            }
        }
        compiled.truncate(1);
    }
    if func == Func::Number {
        if let Some(Literal::Int(b)) = args.get(1).and_then(literal_of) {
            if !(2..=36).contains(&b) {
                return Err(PlanError::new(
                    format!("base {b} of `number` is out of range 2..36"),
                    args[1].span,
                ));
            }
        }
    }
    Ok(ValExpr::Call {
        func,
        ci,
        args: compiled,
        cidrs,
    })
}

/// Builds an equality / membership test over literal values.
fn match_test(
    lits: &[Literal],
    ci: bool,
    wildcards: bool,
    ty: FieldType,
    span: Span,
) -> Result<Test, PlanError> {
    let mut strings: Vec<&str> = Vec::new();
    let mut others = Vec::new();
    let mut nets = Vec::new();
    for l in lits {
        let Some(lit) = Lit::new(l) else { continue };
        if let Literal::String(s) = l {
            let s: &str = s.as_str();
            strings.push(s);
            let is_pattern = wildcards && s.contains(['*', '?']);
            if ty == FieldType::Ip && !is_pattern {
                match Cidr::parse(s) {
                    Ok(c) => nets.push(c),
                    Err(m) => {
                        return Err(PlanError::new(
                            format!("{m} (the field is an `ip` field)"),
                            span,
                        ))
                    }
                }
            } else if !is_pattern && !s.contains('/') {
                // Matches other spellings of the same address (`::1`).
                if let Some(ip) = functions::parse_ip(s) {
                    nets.push(Cidr::parse(&ip.to_string()).map_err(|m| PlanError::new(m, span))?);
                }
            }
            // Strings that need coercion also go through `others`: numeric
            // text against numbers, dates against epoch millis or other
            // spellings of the instant, "true"/"false" against booleans.
            if !is_pattern
                && (parse_num(s).is_some()
                    || looks_like_date(s)
                    || s == "true"
                    || s == "false"
                    || ty == FieldType::Date)
            {
                others.push(lit);
            }
        } else {
            others.push(lit);
        }
    }
    let set = if wildcards {
        PatternSet::wildcard(&strings, ci)
    } else {
        PatternSet::literal(&strings, ci)
    };
    Ok(Test::Match {
        set,
        no_strings: strings.is_empty(),
        others,
        ci,
        nets,
        ty,
    })
}

/// Wraps a test on a subject expression: a field gives a query leaf.
fn leaf(subject: ValExpr, test: Test) -> Pred {
    match subject {
        ValExpr::Field(field) => Pred::Field { field, test },
        expr => Pred::Value { expr, test },
    }
}

fn subject_type(v: &ValExpr) -> FieldType {
    match v {
        ValExpr::Field(f) => f.ty,
        _ => FieldType::Unknown,
    }
}

fn compile_pred(e: &Expr, cx: &PlanContext) -> Result<Pred, PlanError> {
    Ok(match &e.kind {
        ExprKind::Literal(Literal::Bool(b)) => Pred::Const(Some(*b)),
        ExprKind::Literal(Literal::Null) => Pred::Const(None),
        ExprKind::Literal(_) => {
            return Err(PlanError::new(
                "a condition must be boolean, found a literal value",
                e.span,
            ))
        }
        ExprKind::Field(f) => Pred::Field {
            field: FieldAccess::compile(f, cx)?,
            test: Test::IsTrue,
        },
        ExprKind::Not(x) => match compile_pred(x, cx)? {
            Pred::Const(c) => Pred::Const(c.map(|b| !b)),
            p => Pred::Not(Box::new(p)),
        },
        ExprKind::Logic { op, lhs, rhs } => {
            let (a, b) = (compile_pred(lhs, cx)?, compile_pred(rhs, cx)?);
            let mut items = Vec::new();
            for p in [a, b] {
                match (op, p) {
                    (LogicOp::And, Pred::And(ps)) | (LogicOp::Or, Pred::Or(ps)) => items.extend(ps),
                    (_, p) => items.push(p),
                }
            }
            let mut items = group_fields(items, *op == LogicOp::And);
            if items.len() == 1 {
                items.remove(0)
            } else {
                match op {
                    LogicOp::And => Pred::And(items),
                    LogicOp::Or => Pred::Or(items),
                }
            }
        }
        ExprKind::Compare { op, lhs, rhs } => compile_compare(*op, lhs, rhs, cx)?,
        ExprKind::Match {
            op,
            case_insensitive,
            value,
            patterns,
            ..
        } => compile_match(*op, *case_insensitive, value, patterns, cx)?,
        ExprKind::In {
            value,
            list,
            case_insensitive,
            negated,
        } => {
            let subject = compile_val(value, cx)?;
            let lits: Option<Vec<Literal>> = list.iter().map(literal_of).collect();
            let p = match lits {
                Some(lits) => {
                    if lits.iter().all(|l| matches!(l, Literal::Null)) {
                        Pred::Const(None)
                    } else {
                        let ty = subject_type(&subject);
                        let test = match_test(&lits, *case_insensitive, false, ty, e.span)?;
                        leaf(subject, test)
                    }
                }
                None => {
                    let mut alts = Vec::new();
                    for item in list {
                        alts.push(Pred::Compare {
                            op: CompareOp::Eq,
                            lhs: subject.clone(),
                            rhs: compile_val(item, cx)?,
                            ci: *case_insensitive,
                        });
                    }
                    Pred::Or(alts)
                }
            };
            if *negated {
                Pred::Not(Box::new(p))
            } else {
                p
            }
        }
        ExprKind::Call { name, .. } => {
            let v = compile_val(e, cx)?;
            if let ValExpr::Call {
                func,
                ci,
                args,
                cidrs,
            } = &v
            {
                if !func.is_predicate() {
                    return Err(PlanError::new(
                        format!(
                            "function `{}` does not return a boolean; compare its result",
                            func.name()
                        ),
                        name.span,
                    ));
                }
                if let Some(p) = predicate_call_leaf(*func, *ci, args, cidrs) {
                    return Ok(p);
                }
            }
            Pred::Bool(v)
        }
        ExprKind::Arith { .. } | ExprKind::Neg(_) => {
            return Err(PlanError::new(
                "a condition must be boolean, found an arithmetic expression",
                e.span,
            ))
        }
    })
}

/// `startsWith(field, "lit")`, `stringContains(field, "lit")` and
/// `cidrMatch(field, …)` are query leaves in Elasticsearch (prefix,
/// wildcard and terms queries); `endsWith` and `stringContains~` run as
/// scripts. Both forms compile to a precompiled test on the subject.
fn predicate_call_leaf(func: Func, ci: bool, args: &[ValExpr], cidrs: &[Cidr]) -> Option<Pred> {
    let subject = args.first()?.clone();
    let test = match func {
        Func::CidrMatch => Test::Cidr(cidrs.to_vec()),
        _ => {
            let ValExpr::Lit(Val::Str(p)) = args.get(1)? else {
                return None;
            };
            let pat: Box<str> = if ci {
                matching::fold(p).into()
            } else {
                (**p).into()
            };
            let finder = memmem::Finder::new(pat.as_bytes()).into_owned();
            Test::Affix {
                func,
                ci,
                pat,
                finder,
            }
        }
    };
    let query_leaf = match func {
        Func::StartsWith | Func::CidrMatch => true,
        Func::StringContains => !ci,
        _ => false,
    };
    Some(match subject {
        ValExpr::Field(field) if query_leaf => Pred::Field { field, test },
        expr => Pred::Value { expr, test },
    })
}

fn compile_compare(
    op: CompareOp,
    lhs: &Expr,
    rhs: &Expr,
    cx: &PlanContext,
) -> Result<Pred, PlanError> {
    let (ln, rn) = (
        matches!(literal_of(lhs), Some(Literal::Null)),
        matches!(literal_of(rhs), Some(Literal::Null)),
    );
    if ln || rn {
        // `x == null` / `x != null` are null checks; other comparisons with
        // a null literal are null.
        let other = if rn { lhs } else { rhs };
        let is_null = Pred::IsNull(compile_val(other, cx)?);
        return Ok(match op {
            CompareOp::Eq => is_null,
            CompareOp::NotEq => Pred::Not(Box::new(is_null)),
            _ => Pred::Const(None),
        });
    }
    // Literal on the right.
    let (op, subject, lit) = match (literal_of(lhs), literal_of(rhs)) {
        (None, Some(l)) => (op, lhs, Some((l, rhs.span))),
        (Some(l), None) => (flip(op), rhs, Some((l, lhs.span))),
        _ => (op, lhs, None),
    };
    if let Some((lit, span)) = lit {
        let subj = compile_val(subject, cx)?;
        let ty = subject_type(&subj);
        let pred = match op {
            CompareOp::Eq | CompareOp::NotEq => leaf(
                subj,
                match_test(std::slice::from_ref(&lit), false, false, ty, span)?,
            ),
            _ => {
                let lit_prepared =
                    Lit::new(&lit).ok_or_else(|| PlanError::new("null in comparison", span))?;
                if ty == FieldType::Date && lit_prepared.ts.is_none() {
                    return Err(PlanError::new(
                        "cannot compare a date field with this value",
                        span,
                    ));
                }
                leaf(
                    subj,
                    Test::Order {
                        op,
                        lit: lit_prepared,
                        ty,
                    },
                )
            }
        };
        return Ok(if op == CompareOp::NotEq {
            Pred::Not(Box::new(pred))
        } else {
            pred
        });
    }
    let (a, b) = (compile_val(lhs, cx)?, compile_val(rhs, cx)?);
    let (cmp_op, negate) = match op {
        CompareOp::NotEq => (CompareOp::Eq, true),
        other => (other, false),
    };
    let p = Pred::Compare {
        op: cmp_op,
        lhs: a,
        rhs: b,
        ci: false,
    };
    Ok(if negate { Pred::Not(Box::new(p)) } else { p })
}

fn compile_match(
    op: MatchOp,
    ci: bool,
    value: &Expr,
    patterns: &[Expr],
    cx: &PlanContext,
) -> Result<Pred, PlanError> {
    let subject = compile_val(value, cx)?;
    let lits: Option<Vec<Literal>> = patterns.iter().map(literal_of).collect();
    match op {
        MatchOp::Seq => {
            let Some(lits) = lits else {
                // Non-literal operands: plain case-insensitive equality (only
                // string literals are wildcard patterns).
                let mut alts = Vec::new();
                for p in patterns {
                    alts.push(Pred::Compare {
                        op: CompareOp::Eq,
                        lhs: subject.clone(),
                        rhs: compile_val(p, cx)?,
                        ci: true,
                    });
                }
                return Ok(if alts.len() == 1 {
                    alts.remove(0)
                } else {
                    Pred::Or(alts)
                });
            };
            if lits.iter().all(|l| matches!(l, Literal::Null)) {
                return Ok(Pred::Const(None));
            }
            let span = patterns.first().map_or(value.span, |p| p.span);
            let ty = subject_type(&subject);
            Ok(leaf(subject, match_test(&lits, true, true, ty, span)?))
        }
        MatchOp::Like | MatchOp::Regex => {
            let mut strs = Vec::with_capacity(patterns.len());
            for p in patterns {
                match literal_of(p) {
                    Some(Literal::String(s)) => strs.push(s),
                    _ => {
                        let what = if op == MatchOp::Like { "like" } else { "regex" };
                        return Err(PlanError::new(
                            format!("the patterns of `{what}` must be string literals"),
                            p.span,
                        ));
                    }
                }
            }
            let test = if op == MatchOp::Like {
                Test::Match {
                    set: PatternSet::wildcard(&strs, ci),
                    no_strings: strs.is_empty(),
                    others: Vec::new(),
                    ci,
                    nets: Vec::new(),
                    ty: FieldType::Unknown,
                }
            } else {
                // Report the first pattern that does not translate, at its span.
                for (p, s) in patterns.iter().zip(&strs) {
                    matching::lucene_regex(s, ci).map_err(|m| PlanError::new(m, p.span))?;
                }
                let span = patterns.first().map_or(value.span, |p| p.span);
                Test::Regex(
                    matching::lucene_regex_set(&strs, ci).map_err(|m| PlanError::new(m, span))?,
                )
            };
            Ok(leaf(subject, test))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_event::{Origin, Value};
    use serde_json::json;

    fn ev(doc: Value) -> Event {
        Event::new(doc, Origin::default())
    }

    fn cx() -> PlanContext {
        PlanContext::default()
    }

    fn pred(src: &str) -> Predicate {
        let e = ferret_eql::parse_expr(src).unwrap_or_else(|d| panic!("parse {src}: {d:?}"));
        Predicate::compile(&e, &cx()).unwrap_or_else(|err| panic!("compile {src}: {err}"))
    }

    fn m(src: &str, doc: Value) -> bool {
        pred(src).matches(&EvalInput::event(&ev(doc)))
    }

    fn plan_err(src: &str) -> PlanError {
        let e = ferret_eql::parse_expr(src).unwrap();
        Predicate::compile(&e, &cx()).expect_err(src)
    }

    /// Comparisons no needle text describes still need their field to have
    /// a value; negations and computed values need nothing.
    #[test]
    fn necessary_presence_of_compared_fields() {
        let present = |f: &str| Necessary::present(&FieldPath::dotted(f));
        let nec = |src: &str| pred(src).necessary();
        assert_eq!(
            nec("problemchild.prediction == 1"),
            present("problemchild.prediction")
        );
        assert_eq!(
            nec("process.args_count <= 2"),
            present("process.args_count")
        );
        assert_eq!(
            nec("x.score > 5 and process.name : \"bash\""),
            Necessary::contains_any(&FieldPath::dotted("process.name"), ["bash"])
        );
        assert_eq!(nec("x.score > 5 or x.score < 1"), present("x.score"));
        assert_eq!(nec("x.score > 5 and x.score != 7"), present("x.score"));
        for src in [
            "not x.score > 5",
            "x.score != 5",
            "x.score > 5 or not x.score < 1",
            "length(x.name) > 3",
            "x.score == null",
        ] {
            assert_eq!(nec(src), Necessary::Always, "{src}");
        }
        // Each of these holds on an event without the field: none may
        // name it as necessary.
        for src in ["x.score != 5", "not x.score > 5", "x.score == null"] {
            assert!(m(src, json!({})), "{src}");
        }
    }

    fn raw(text: &str, ci: bool) -> Screen {
        Screen::Text(crate::RawText {
            bytes: text.as_bytes().into(),
            ci,
        })
    }

    #[test]
    fn screens_keep_every_operand_and_quote_anchored_literals() {
        assert_eq!(
            pred(r#"process.name == "nc" and event.action : "EXEC" and process.args : "*-c*""#)
                .screen(),
            Screen::All(vec![
                raw("\"nc\"", false),
                raw("\"exec\"", true),
                raw("-c", true)
            ])
        );
        assert_eq!(
            pred(r#"startsWith(process.name, "py") or endsWith~(file.path, ".SH")"#).screen(),
            Screen::Any(vec![raw("\"py", false), raw(".sh\"", true)])
        );
        assert_eq!(
            pred(r#"file.path : "C:\\Windows\\*.exe""#).screen(),
            raw("\"c:\\\\windows\\\\", true)
        );
        for unscreened in [
            r#"not process.name == "x""#,
            "process.pid == 1",
            r#"process.name == "a" or process.pid == 1"#,
            r#"process.name : "*""#,
            r#"length(process.name) > 3"#,
        ] {
            assert_eq!(pred(unscreened).screen(), Screen::Always, "{unscreened}");
        }
    }

    /// Whatever matches passes its screen, on the text serde_json writes.
    #[test]
    fn what_matches_passes_its_screen() {
        let queries = [
            r#"process.name == "nc" and process.args : "-E""#,
            r#"process.name : ("python*", "*perl", "ru?y") and not user.name == "x""#,
            r#"startsWith~(process.name, "PY") and endsWith(process.name, "3")"#,
            r#"stringContains~(file.path, "\\Temp\\") or file.name like~ "*.PS1""#,
            r#"process.name in~ ("CMD.EXE", "pwsh.exe") and process.args : "*\"x\"*""#,
        ];
        let docs = [
            json!({"process": {"name": "nc", "args": ["nc", "-e", "/bin/sh"]}}),
            json!({"process": {"name": "python3", "args": []}, "user": {"name": "y"}}),
            json!({"process": {"name": "/usr/bin/perl"}}),
            json!({"process": {"name": "ruby"}}),
            json!({"process": {"name": "Py3"}}),
            json!({"file": {"path": "C:\\Users\\a\\AppData\\Local\\TEMP\\x.exe", "name": "A.ps1"}}),
            json!({"process": {"name": "cmd.exe", "args": ["/c", "say \"x\" now"]}}),
            json!({"process": {"name": ["pwsh.exe", "other"], "args": "\"x\""}}),
        ];
        let mut matched = 0;
        for q in queries {
            let p = pred(q);
            let screen = p.screen();
            assert_ne!(screen, Screen::Always, "{q}");
            for d in &docs {
                if p.matches(&EvalInput::event(&ev(d.clone()))) {
                    matched += 1;
                    let text = serde_json::to_string(d).unwrap();
                    assert!(screen.passes(text.as_bytes()), "{q} on {text}");
                }
            }
        }
        assert!(matched >= 7, "{matched}");
    }

    #[test]
    fn exact_equality_is_case_sensitive_without_wildcards() {
        let d = json!({"process": {"name": "cmd.exe"}});
        assert!(m(r#"process.name == "cmd.exe""#, d.clone()));
        assert!(!m(r#"process.name == "CMD.exe""#, d.clone()));
        assert!(!m(r#"process.name == "cmd*""#, d.clone()));
        assert!(m(
            r#"process.name == "cmd*""#,
            json!({"process": {"name": "cmd*"}})
        ));
        assert!(m(r#""cmd.exe" == process.name"#, d.clone()));
        assert!(m(r#"process.name != "x""#, d.clone()));
        assert!(!m(r#"process.name != "cmd.exe""#, d));
    }

    #[test]
    fn null_checks() {
        let d = json!({"a": 1, "n": null, "e": []});
        assert!(m("missing == null", d.clone()));
        assert!(m("n == null", d.clone()));
        assert!(m("e == null", d.clone()));
        assert!(m("null == missing", d.clone()));
        assert!(!m("a == null", d.clone()));
        assert!(m("a != null", d.clone()));
        assert!(!m("missing != null", d.clone()));
        assert!(!m("a < null", d.clone()));
        assert!(!m("not (a < null)", d));
    }

    #[test]
    fn three_valued_logic_of_scripts() {
        // `length(missing)` is null.
        let d = json!({"a": "xyz"});
        assert!(!m("length(missing) > 1", d.clone()));
        assert!(!m("not length(missing) > 1", d.clone()), "not null is null");
        assert!(!m("not not length(missing) > 1", d.clone()));
        assert!(!m("length(missing) > 1 and true", d.clone()));
        assert!(!m("length(missing) > 1 and false", d.clone()));
        assert!(m("length(missing) > 1 or true", d.clone()));
        assert!(m("length(a) == 3", d.clone()));
        assert!(m("null == (length(missing) > 1)", d.clone()));
        assert!(!m("null == (length(a) > 1)", d.clone()));
        assert!(!m("null", d.clone()));
        assert!(!m("not null", d));
    }

    #[test]
    fn negated_field_comparisons_match_missing_fields_like_elasticsearch() {
        // A field-vs-literal comparison is a Lucene query in Elasticsearch:
        // false on a missing field, and `not` is `must_not`.
        let d = json!({"other": 1});
        assert!(m(r#"process.name != "x""#, d.clone()));
        assert!(m(r#"not process.name : "x*""#, d.clone()));
        assert!(m(r#"process.name not in ("a", "b")"#, d.clone()));
        assert!(m("not (exit_code > -1)", d.clone()));
        assert!(!m("exit_code > -1", d.clone()));
        assert!(!m("not exit_code > -1", json!({"exit_code": 0})));
        // …while a value context keeps three-valued logic.
        assert!(m("null == (exit_code > -1)", d.clone()));
        assert!(!m("null == (exit_code > -1)", json!({"exit_code": 0})));
        // `and`/`or` are bool queries: a null script operand is false.
        assert!(m("not (length(missing) > 1 and true)", d));
    }

    #[test]
    fn multi_valued_fields_match_any_element() {
        let d = json!({"process": {"args": ["python3", "-c", "import os"]}, "event": {"type": ["start", "info"]}});
        assert!(m(r#"process.args : "-c""#, d.clone()));
        assert!(m(r#"process.args == "-c""#, d.clone()));
        assert!(m(r#"event.type in ("start")"#, d.clone()));
        assert!(
            !m(r#"process.args != "-c""#, d.clone()),
            "!= is not(any equal)"
        );
        assert!(m(r#"process.args != "-x""#, d.clone()));
        assert!(m(r#"process.args : "IMPORT *""#, d.clone()));
        assert!(m(r#"process.args like~ "PY*""#, d.clone()));
        assert!(m(r#"process.args regex "-[a-z]""#, d.clone()));
        assert!(m(r#"startsWith(process.args, "imp")"#, d.clone()));
        assert!(m(r#"process.args[1] == "-c""#, d.clone()));
        assert!(!m(r#"process.args[0] == "-c""#, d.clone()));
        assert!(m(r#"process.args[5] == null"#, d));
    }

    #[test]
    fn seq_operator_case_and_wildcards() {
        let d = json!({"file": {"name": "lsass.exe"}, "serial": 15, "p": "C:\\Windows\\System32\\svchost.exe"});
        assert!(m(r#"file.name : "LSASS.EXE""#, d.clone()));
        assert!(m(r#"file.name : ("wininit.exe", "lsass.e?e")"#, d.clone()));
        assert!(m(r#"file.name : "l*""#, d.clone()));
        assert!(!m(r#"file.name : "lsass""#, d.clone()));
        assert!(m(r#"file.name : "*""#, d.clone()));
        assert!(!m(r#"missing : "*""#, d.clone()));
        assert!(m(r#"string(serial) : "1?""#, d.clone()));
        assert!(!m(r#"string(serial) : "1??""#, d.clone()));
        assert!(m(r#"p : "*\\system32\\*""#, d.clone()));
        assert!(m(r#"serial : 15"#, d));
    }

    #[test]
    fn in_operators_are_exact() {
        let d = json!({"process": {"name": "python3"}, "opcode": 3});
        assert!(!m(r#"process.name in ("python*", "php*")"#, d.clone()));
        assert!(m(r#"process.name in ("python3", "php")"#, d.clone()));
        assert!(!m(r#"process.name in ("PYTHON3")"#, d.clone()));
        assert!(m(r#"process.name in~ ("PYTHON3")"#, d.clone()));
        assert!(!m(r#"process.name in~ ("PYTHON*")"#, d.clone()));
        assert!(m(r#"opcode in (0, 1, 2, 3)"#, d.clone()));
        assert!(m(r#"opcode not in (0, 1, 2)"#, d.clone()));
        assert!(!m(r#"opcode not in (3, 4)"#, d.clone()));
        assert!(m(r#"opcode in ("3")"#, d.clone()), "numeric strings coerce");
        assert!(m(r#"process.name in (process.name, "x")"#, d));
        let many: Vec<String> = (0..40).map(|i| format!("\"n{i}\"")).collect();
        let q = format!("process.name in ({}, \"python3\")", many.join(", "));
        assert!(m(&q, json!({"process": {"name": "python3"}})));
    }

    #[test]
    fn like_and_regex() {
        let d = json!({"file_name": "wininit.exe", "cmd": "net1  localgroup administrators"});
        assert!(m(r#"file_name like "winini?.exe""#, d.clone()));
        assert!(!m(r#"file_name like "WININI?.exe""#, d.clone()));
        assert!(m(r#"file_name like~ "WININI?.exe""#, d.clone()));
        assert!(m(r#"cmd regex ".*?net1[ ]+localgroup.*?""#, d.clone()));
        assert!(
            !m(r#"cmd regex "net1""#, d.clone()),
            "regex is a full match"
        );
        assert!(m(r#"cmd regex~ "NET1.*""#, d.clone()));
        assert!(!m(r#"cmd regex "NET1.*""#, d.clone()));
        assert!(m(r#"cmd regex ("x", ".*admin.*")"#, d));
        assert!(plan_err(r#"cmd regex "a&b""#)
            .message
            .contains("not supported"));
        assert!(plan_err(r#"cmd like cmd"#)
            .message
            .contains("string literals"));
    }

    #[test]
    fn ordering_comparisons() {
        let d = json!({"n": 5, "f": 4.5, "s": "System Idle Process", "big": 9007199254740993i64});
        assert!(m("n > 4.5 and n < 5.5 and n >= 5 and n <= 5", d.clone()));
        assert!(m("f < 5 and 4 < f", d.clone()));
        assert!(m(
            r#"s >= "System" and s <= "System Idle Process""#,
            d.clone()
        ));
        assert!(!m(r#"s >= "system idle process""#, d.clone()));
        assert!(m("big > 9007199254740992", d.clone()));
        assert!(!m(r#"n > "abc""#, d));
    }

    #[test]
    fn arithmetic() {
        let d = json!({"id": 82});
        assert!(m("id / 2 == 41", d.clone()));
        assert!(m("83 - id == 1", d.clone()));
        assert!(m("-id + 100 == 18", d.clone()));
        assert!(m("id % 40 == 2", d.clone()));
        assert!(!m("id / 2.0 == 41", json!({"id": 83})));
        assert!(m("id + ((1 + 3) * 2 / (3 - 1)) * 2 == 90", d.clone()));
        assert!(!m("id / 0 == 1", d.clone()));
        assert!(!m("missing + 1 == 1", d.clone()));
        assert!(m("(missing + 1) == null", d));
        assert!(plan_err(r#"id + "a" == 1"#).message.contains("number"));
    }

    #[test]
    fn functions_in_conditions() {
        let d = json!({"file_name": "explorer.exe", "src": "10.6.48.157", "cmd": "a b"});
        assert!(m(r#"startsWith(file_name, "explorer.")"#, d.clone()));
        assert!(!m(r#"startsWith(file_name, "EXPLORER.")"#, d.clone()));
        assert!(m(r#"startsWith~(file_name, "EXPLORER.")"#, d.clone()));
        assert!(m(r#"startsWith("explorer.exeaaaa", file_name)"#, d.clone()));
        assert!(m(r#"endsWith~(file_name, "LORER.exe")"#, d.clone()));
        assert!(m(
            r#"stringContains("ABCexplorer.exeJK", file_name)"#,
            d.clone()
        ));
        assert!(m(r#"STRINGCONTAINS(file_name, "plore")"#, d.clone()));
        assert!(m(
            r#"indexOf~(file_name, "PLORE") == 2 and indexOf~(file_name, ".pf") == null"#,
            d.clone()
        ));
        assert!(m(
            r#"cidrMatch(src, "192.168.0.0/16", "10.6.48.157/8")"#,
            d.clone()
        ));
        assert!(m(r#"cidrMatch(src, "10.0.0.0/8") == true"#, d.clone()));
        assert!(m(
            r#"string(cidrMatch(src, "10.0.0.0/8")) : "true""#,
            d.clone()
        ));
        assert!(!m(r#"cidrMatch(src, "192.168.0.0/16")"#, d.clone()));
        assert!(m(
            r#"concat(file_name, "::", 1) : "EXPLORER.exe::1""#,
            d.clone()
        ));
        assert!(m(r#"concat(file_name, missing) == null"#, d.clone()));
        assert!(m(r#"substring(file_name, -4) : ".EXE""#, d.clone()));
        assert!(m(
            r#"number("0x32", 16) == 50 and number("32", 16) == 50"#,
            d.clone()
        ));
        assert!(m(r#"between(file_name, "ex", ".") == "plorer""#, d.clone()));
        assert!(m(r#"length(between(file_name, "g", "z")) == 0"#, d.clone()));
        assert!(m(
            r#"add(1, 2) == 3 and subtract(5, 7) == -2 and multiply(2, 3) == 6"#,
            d.clone()
        ));
        assert!(m(
            r#"divide(30, 4.0) == 7.5 and modulo(11, 10) == 1"#,
            d.clone()
        ));
        // endsWith is a script in Elasticsearch: `not` of null stays null.
        assert!(!m(r#"not endsWith(missing, "x")"#, d.clone()));
        // startsWith is a prefix query: `not` on a missing field matches.
        assert!(m(r#"not startsWith(missing, "x")"#, d));
    }

    #[test]
    fn function_plan_errors() {
        assert!(plan_err(r#"nosuch(a)"#)
            .message
            .contains("unknown function"));
        assert!(plan_err(r#"length(a, b) == 1"#)
            .message
            .contains("arguments"));
        assert!(plan_err(r#"startsWith(1, "a")"#)
            .message
            .contains("must be a string"));
        assert!(plan_err(r#"startsWith(a, 1)"#)
            .message
            .contains("must be a string"));
        assert!(plan_err(r#"number(true) == 1"#)
            .message
            .contains("must be a string"));
        assert!(plan_err(r#"cidrMatch(a, "300.0.0.0/8")"#)
            .message
            .contains("not a valid"));
        assert!(plan_err(r#"cidrMatch(a, b)"#).message.contains("literals"));
        assert!(plan_err(r#"length~(a) == 1"#).message.contains("`~`"));
        assert!(plan_err(r#"length(a)"#).message.contains("boolean"));
        assert!(plan_err(r#"number("1", 99) == 1"#).message.contains("base"));
        let err = plan_err(r#"a == 1 and startsWith(b, 5)"#);
        let src = r#"a == 1 and startsWith(b, 5)"#;
        assert_eq!(&src[err.span.range()], "5");
    }

    #[test]
    fn dates_compare_as_instants() {
        let d = json!({"@timestamp": 1504126053000i64});
        assert!(m(r#"@timestamp == "2017-08-30T20:47:33Z""#, d.clone()));
        assert!(m(r#"@timestamp < "2017-08-30T20:47:34Z""#, d.clone()));
        assert!(m(r#"@timestamp == 1504126053000"#, d));
        let iso = json!({"@timestamp": "2017-08-30T20:47:33.000Z"});
        assert!(m(r#"@timestamp == "2017-08-30T20:47:33Z""#, iso.clone()));
        assert!(m(r#"@timestamp > 1504126052999"#, iso));
    }

    fn typed_cx() -> PlanContext {
        PlanContext {
            aliases: vec![],
            field_types: Some(Arc::new(FieldTypes::from_pairs([
                ("source.ip", "ip"),
                ("event.created", "date"),
            ]))),
        }
    }

    fn mt(src: &str, doc: Value) -> bool {
        let e = ferret_eql::parse_expr(src).unwrap();
        Predicate::compile(&e, &typed_cx())
            .unwrap()
            .matches(&EvalInput::event(&ev(doc)))
    }

    #[test]
    fn typed_ip_and_date_fields() {
        let d = json!({"source": {"ip": "0:0:0:0:0:0:0:1"}, "event": {"created": "1504126053000"}});
        assert!(mt(r#"source.ip == "::1""#, d.clone()));
        assert!(!mt(r#"source.ip != "::1""#, d.clone()));
        assert!(
            mt(r#"source.ip == "::/0""#, d.clone()),
            "a CIDR in a term query on an ip field"
        );
        assert!(mt(r#"source.ip in ("10.0.0.0/8", "::1")"#, d.clone()));
        assert!(mt(r#"source.ip > "::""#, d.clone()));
        assert!(mt(r#"event.created == "2017-08-30T20:47:33Z""#, d.clone()));
        assert!(mt(
            r#"event.created < "2017-08-30T20:47:33.001Z""#,
            d.clone()
        ));
        let e = ferret_eql::parse_expr(r#"source.ip == "nope""#).unwrap();
        assert!(Predicate::compile(&e, &typed_cx()).is_err());
        // Without a schema, an IP literal still matches another spelling.
        assert!(m(r#"source.ip == "::1""#, d));
        assert!(m(r#"a == "10.0.0.1""#, json!({"a": "10.0.0.1"})));
    }

    #[test]
    fn aliases_read_earlier_stage_events() {
        let cx = PlanContext {
            aliases: vec!["event0".into(), "event1".into()],
            field_types: None,
        };
        let e = ferret_eql::parse_expr("process.parent.pid == event0.process.pid").unwrap();
        let p = Predicate::compile(&e, &cx).unwrap();
        let first = ev(json!({"process": {"pid": 10}}));
        let cur = ev(json!({"process": {"parent": {"pid": 10}}}));
        let bound = [Some(&first), None];
        assert!(p.matches(&EvalInput {
            event: &cur,
            aliases: &bound
        }));
        let unbound = [None, None];
        assert!(!p.matches(&EvalInput {
            event: &cur,
            aliases: &unbound
        }));
        let e = ferret_eql::parse_expr("event1.process.pid == null").unwrap();
        let p = Predicate::compile(&e, &cx).unwrap();
        assert!(p.matches(&EvalInput {
            event: &cur,
            aliases: &bound
        }));
        let e = ferret_eql::parse_expr("event0 == 1").unwrap();
        assert!(Predicate::compile(&e, &cx).is_err());
        assert_eq!(p.eval(&EvalInput::event(&cur)), Some(true));
    }

    #[test]
    fn keys() {
        let k = |src: &str, doc: Value| {
            let e = ferret_eql::parse_expr(src).unwrap();
            KeyExpr::compile(&e, &cx())
                .unwrap()
                .eval(&EvalInput::event(&ev(doc)))
        };
        assert_eq!(
            k("host.id", json!({"host": {"id": "h1"}})),
            KeyValue::Str("h1".into())
        );
        assert_eq!(k("host.id", json!({})), KeyValue::Null);
        assert_eq!(k("pid", json!({"pid": 7.0})), KeyValue::Int(7));
        assert_eq!(
            k("ips", json!({"ips": ["a", "b"]})),
            KeyValue::Str("a".into())
        );
        assert_eq!(
            k("string(pid)", json!({"pid": 7})),
            KeyValue::Str("7".into())
        );
        let all = |src: &str, doc: Value| {
            let e = ferret_eql::parse_expr(src).unwrap();
            KeyExpr::compile(&e, &cx())
                .unwrap()
                .eval_all(&EvalInput::event(&ev(doc)))
        };
        assert_eq!(
            all("tags", json!({"tags": ["foo", "bar", "foo"]})),
            vec![KeyValue::Str("foo".into()), KeyValue::Str("bar".into())]
        );
        assert_eq!(all("tags", json!({})), vec![KeyValue::Null]);
        assert_eq!(all("n + 1", json!({"n": 1})), vec![KeyValue::Int(2)]);
    }

    #[test]
    fn boolean_fields_and_constants() {
        assert!(m("flag", json!({"flag": true})));
        assert!(!m("flag", json!({"flag": false})));
        assert!(m("not flag", json!({"flag": false})));
        assert!(m("true", json!({})));
        assert!(!m("false", json!({})));
        assert!(pred("true").is_always_true());
        assert!(plan_err("1").message.contains("boolean"));
        assert!(plan_err("a + 1").message.contains("boolean"));
    }

    thread_local! {
        pub(super) static NO_GROUPING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    #[test]
    fn grouping_same_field_leaves_keeps_results() {
        let queries = [
            r#"a : "x*" and not a : "xy" and a != "xz""#,
            r#"a == "x" or not a in ("y", "z") or a like "q*""#,
            r#"a : "x" or b == 1 or not a : "y""#,
            r#"not (a : "x" and not a : "y")"#,
            r#"null == (a : "x" and not a : "y")"#,
            r#"null == (a : "x" or not a : "y")"#,
            r#"a : "x" and b > 0 and a : "*y""#,
        ];
        let docs = [
            json!({}),
            json!({"a": "x"}),
            json!({"a": "xy"}),
            json!({"a": "XZ", "b": 1}),
            json!({"a": ["x", "y"]}),
            json!({"a": ["xy", "q"], "b": 0}),
            json!({"a": "y"}),
            json!({"a": ["xay", "z"], "b": 2}),
        ];
        let mut grouped_somewhere = false;
        for q in queries {
            let e = ferret_eql::parse_expr(q).unwrap();
            let grouped = Predicate::compile(&e, &cx()).unwrap();
            grouped_somewhere |= format!("{grouped:?}").contains("Group");
            NO_GROUPING.with(|g| g.set(true));
            let plain = Predicate::compile(&e, &cx()).unwrap();
            NO_GROUPING.with(|g| g.set(false));
            assert!(!format!("{plain:?}").contains("Group"));
            for d in &docs {
                let event = ev(d.clone());
                let input = EvalInput::event(&event);
                assert_eq!(grouped.eval(&input), plain.eval(&input), "{q} on {d}");
            }
        }
        assert!(grouped_somewhere);
    }

    #[test]
    fn verdicts_stand_in_for_their_leaves() {
        let usable = |p: &FieldPath| *p == FieldPath::dotted("event.type");
        let mut verdicts = Verdicts::default();
        let mut p = pred(
            r#"event.type == "start" and not event.type : "END*" and process.name == "sh"
               and (event.type in ("a", "b") or length(event.type) > 3)"#,
        );
        let unnumbered = p.clone();
        p.number_verdicts(&usable, &mut verdicts);
        // The `and` groups both event.type leaves into one; the `or`
        // operand is numbered on its own; the function argument is not a
        // query leaf, process.name not a usable field.
        assert_eq!(verdicts.len(), 2);
        let docs = [
            json!({"event": {"type": "start"}, "process": {"name": "sh"}}),
            json!({"event": {"type": ["start", "end"]}, "process": {"name": "sh"}}),
            json!({"event": {"type": "a"}, "process": {"name": "sh"}}),
            json!({"process": {"name": "sh"}}),
        ];
        for doc in docs {
            let plain = ev(doc.clone());
            let want = unnumbered.eval(&EvalInput::event(&plain));
            // Without verdicts the leaves are evaluated.
            assert_eq!(p.eval(&EvalInput::event(&plain)), want, "{doc}");
            // With the verdicts a scan would attach: the same result.
            let mut bits = vec![0u64; 1];
            for id in 0..verdicts.len() as u32 {
                if verdicts.holds(id, &plain) {
                    bits[0] |= 1 << id;
                }
            }
            let mut with = ev(doc.clone());
            with.set_verdicts(bits.into());
            assert_eq!(p.eval(&EvalInput::event(&with)), want, "{doc}");
        }
        // And they are what is read: wrong verdicts give wrong answers.
        let mut lied = ev(json!({"event": {"type": "start"}, "process": {"name": "sh"}}));
        lied.set_verdicts(vec![0u64].into());
        assert!(!p.matches(&EvalInput::event(&lied)));
        let mut end = ev(json!({"event": {"type": "end"}, "process": {"name": "sh"}}));
        end.set_verdicts(vec![0b11u64].into());
        assert!(p.matches(&EvalInput::event(&end)));
    }

    #[test]
    fn fields_are_listed_for_projection() {
        let p = pred(r#"process.name : "a" and length(file.path) > 1 or not x.y in (1)"#);
        assert_eq!(p.fields(), vec!["file.path", "process.name", "x.y"]);
    }

    #[test]
    fn field_paths_keep_indexes() {
        let p = pred(r#"process.args[1] : "-c" and length(file.path) > 1"#);
        let paths = p.field_paths();
        assert!(paths.contains(&FieldPath::new(vec![
            Segment::Key("process".into()),
            Segment::Key("args".into()),
            Segment::Index(1),
        ])));
        assert!(paths.contains(&FieldPath::dotted("file.path")));
        assert_eq!(paths.len(), 2);
    }
}
