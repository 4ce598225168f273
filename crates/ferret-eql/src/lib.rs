//! The EQL front end of ferret: lexer, recursive-descent parser, AST with
//! source spans, canonical printer, semantic validation, lints and
//! diagnostics. It owes nothing to the engine or to rule file formats.
//!
//! Entry points: [`parse`] (syntax only, first error), [`analyze`] (syntax,
//! semantic validation and lints, every diagnostic), [`parse_expr`] (a bare
//! condition, handy in tests), [`render`] (diagnostics as text with carets)
//! and [`line_col`].

pub mod ast;
pub mod diagnostic;
pub mod lexer;
pub mod parser;
pub mod printer;

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
