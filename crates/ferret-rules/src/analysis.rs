//! Parsing and validating a loaded rule's query, and placing the resulting
//! diagnostics in the rule file: spans are remapped from query offsets to
//! file offsets (through escapes, see `QueryMap`), so they print as the
//! rule file's line:column with the file's own source line under them.

use crate::rule::{line_col, LoadError, Rule};
use ferret_eql::ast::Span;
use ferret_eql::{Analysis, Diagnostic, Severity};

impl Rule {
    /// Parses, validates and lints the query (`ferret_eql::analyze`).
    /// Diagnostic spans are query offsets; see [`Rule::file_diagnostics`],
    /// [`Rule::position`] and [`Rule::render`] to place them in the file.
    pub fn analyze(&self) -> Analysis {
        ferret_eql::analyze(&self.query)
    }

    /// The diagnostics with spans moved from query offsets to file offsets.
    /// If the query's place in the file is unknown they are left as they are.
    pub fn file_diagnostics(&self, diags: &[Diagnostic]) -> Vec<Diagnostic> {
        diags
            .iter()
            .map(|d| {
                let mut d = d.clone();
                let start = self.file_offset(d.span.start as usize);
                // An exclusive end maps like a start: an anchor sits right
                // after every escape, so an end just past `\"` lands past
                // both of its bytes.
                let end = self.file_offset(d.span.end as usize);
                if let (Some(s), Some(e)) = (start, end) {
                    d.span = Span::new(s, e.max(s));
                }
                d
            })
            .collect()
    }

    /// File line and column (1-based, columns in characters) of a query
    /// diagnostic, given the rule file's text.
    pub fn position(&self, diag: &Diagnostic, file_text: &str) -> (usize, usize) {
        match self.file_offset(diag.span.start as usize) {
            Some(f) => line_col(file_text, f),
            None => line_col(&self.query, diag.span.start as usize),
        }
    }

    /// Renders query diagnostics against the rule file (file:line:column,
    /// source line, caret). Pass the file text if you have it; otherwise the
    /// file is read, and if that fails the query alone is shown.
    pub fn render(&self, diags: &[Diagnostic], file_text: Option<&str>, color: bool) -> String {
        let name = self.source.path.display().to_string();
        let read;
        let text = match file_text {
            Some(t) => Some(t),
            None => {
                read = std::fs::read_to_string(&self.source.path).ok();
                read.as_deref()
            }
        };
        match text {
            Some(t) if self.query_offset.is_some() => {
                ferret_eql::render(&self.file_diagnostics(diags), &name, t, 0, color)
            }
            _ => ferret_eql::render(diags, &name, &self.query, 0, color),
        }
    }
}

impl LoadError {
    /// This error as an EQL-style diagnostic whose span is in the file, for
    /// rendering with `ferret_eql::render(…, file_text, 0, …)`; `None` when
    /// the error has no position (an unreadable file).
    pub fn diagnostic(&self) -> Option<Diagnostic> {
        let span = self.span.clone()?;
        Some(Diagnostic {
            severity: Severity::Error,
            code: self.code,
            message: self.message.clone(),
            span: Span::new(span.start, span.end),
            label: None,
            help: None,
        })
    }
}
