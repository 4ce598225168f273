//! Compiled EQL expressions: conditions ([`Predicate`]) and key expressions
//! ([`KeyExpr`]) compiled once from the AST and evaluated per event.

use std::sync::Arc;

use ferret_eql::ast::{Expr, Span};
use ferret_event::Event;

use crate::types::FieldTypes;
use crate::value::KeyValue;

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
        EvalInput { event, aliases: &[] }
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

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PlanError {}

/// A compiled boolean condition.
#[derive(Clone, Debug)]
pub struct Predicate {
    _private: (),
}

impl Predicate {
    pub fn compile(expr: &Expr, _cx: &PlanContext) -> Result<Predicate, PlanError> {
        Err(PlanError {
            message: "expression evaluation is not implemented yet".into(),
            span: expr.span,
        })
    }

    /// True only if the condition evaluates to true (null is not true).
    pub fn matches(&self, _input: &EvalInput) -> bool {
        false
    }
}

/// A compiled join-key / sort-key / unique-key expression.
#[derive(Clone, Debug)]
pub struct KeyExpr {
    _private: (),
}

impl KeyExpr {
    pub fn compile(expr: &Expr, _cx: &PlanContext) -> Result<KeyExpr, PlanError> {
        Err(PlanError {
            message: "key expressions are not implemented yet".into(),
            span: expr.span,
        })
    }

    /// The key value; a missing field is [`KeyValue::Null`].
    pub fn eval(&self, _input: &EvalInput) -> KeyValue {
        KeyValue::Null
    }
}
