//! The EQL front end of ferret: lexer, recursive-descent parser, AST with
//! source spans, canonical printer, semantic validation, lints and
//! diagnostics. It owes nothing to the engine or to rule file formats.
//!
//! Entry points:
//! - [`parse`]: syntax only, the first error;
//! - [`analyze`]: syntax, semantic validation and lints, every diagnostic;
//! - [`parse_expr`]: a bare condition (handy in tests);
//! - [`render`] and [`line_col`]: diagnostics as `file:line:col` text with
//!   a caret under the span;
//! - [`functions::FUNCTIONS`]: the function signatures, for the engine.
//!
//! Diagnostic codes are listed in [`diagnostic`].

pub mod ast;
#[doc(hidden)]
pub mod check;
pub mod diagnostic;
pub mod functions;
pub mod lexer;
pub mod lint;
pub mod parser;
pub mod printer;
pub mod validate;
pub mod walk;

pub use diagnostic::{line_col, render, Diagnostic, Severity};

use ast::{Expr, Query};

/// Parse a whole query. Only syntax is checked: use [`analyze`] for the
/// semantic errors (unknown functions, join-key counts, …) and lints.
pub fn parse(src: &str) -> Result<Query, Diagnostic> {
    parser::Parser::new(src).parse_query()
}

/// Parse a bare expression (a condition), e.g. `process.name : "a*"`.
pub fn parse_expr(src: &str) -> Result<Expr, Diagnostic> {
    let mut p = parser::Parser::new(src);
    let e = p.expr()?;
    if !p.at_eof() {
        return Err(p.trailing_error());
    }
    Ok(e)
}

/// The result of [`analyze`].
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The tree, when the syntax is valid (even if semantic errors were
    /// found: check [`Analysis::has_errors`] before running it).
    pub query: Option<Query>,
    /// Errors and warnings, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The query if it has no errors (warnings allowed): safe to run.
    pub fn valid_query(&self) -> Option<&Query> {
        if self.has_errors() {
            None
        } else {
            self.query.as_ref()
        }
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

/// Parse, validate and lint `src`. A syntax error stops there (one
/// diagnostic); otherwise every semantic error and lint warning is
/// reported.
pub fn analyze(src: &str) -> Analysis {
    match parse(src) {
        Err(d) => Analysis {
            query: None,
            diagnostics: vec![d],
        },
        Ok(q) => {
            let mut diagnostics = validate::validate(&q);
            diagnostics.extend(lint::lint(&q));
            diagnostics.sort_by_key(|d| (d.span.start, d.severity));
            Analysis {
                query: Some(q),
                diagnostics,
            }
        }
    }
}
