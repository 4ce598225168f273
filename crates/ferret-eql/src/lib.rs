//! The EQL front end of ferret: lexer, recursive-descent parser, AST with
//! source spans, canonical printer, semantic validation, lints and
//! diagnostics. It owes nothing to the engine or to rule file formats.

pub mod ast;
