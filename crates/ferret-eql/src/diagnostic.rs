//! Diagnostics (errors and lint warnings) with source spans, and a renderer
//! that prints them the way rustc does: a header with a stable code, the
//! `file:line:column` position, the source line and a caret line.
//!
//! # Codes
//!
//! Codes are stable: tools and tests match on them.
//!
//! Syntax errors (from [`crate::parse`]):
//!
//! | code | meaning |
//! | --- | --- |
//! | E001 | unexpected token (the message says what was expected) |
//! | E002 | unterminated string, raw string or quoted identifier |
//! | E003 | single-quoted string (EQL strings use `"`) |
//! | E004 | legacy `?"…"` raw string (use `"""…"""`) |
//! | E005 | invalid escape sequence in a string |
//! | E006 | unterminated block comment |
//! | E007 | unexpected character |
//! | E008 | number out of range |
//! | E009 | unclosed `(` or `[` |
//! | E010 | expression nested too deeply |
//! | E011 | invalid `maxspan` (missing or unknown unit, not a positive integer) |
//! | E012 | unknown pipe |
//! | E013 | invalid pipe argument |
//! | E014 | comparison operators chained without parentheses |
//! | E015 | `=` used as a comparison (use `==`) |
//! | E016 | unsupported EQL construct (`join`, `descendant of`, …) |
//! | E017 | unknown or repeated stage option (`with …`, `by`, `as`) |
//! | E018 | reserved keyword used where a name is expected |
//!
//! Semantic errors (from [`crate::analyze`]):
//!
//! | code | meaning |
//! | --- | --- |
//! | E101 | unknown function |
//! | E102 | wrong number of function arguments |
//! | E103 | argument of the wrong type |
//! | E104 | `~` on a function that has no case-insensitive variant |
//! | E105 | unequal numbers of join keys across stages |
//! | E106 | `runs` out of range (1 to 100) |
//! | E107 | sequence with fewer than two stages |
//! | E108 | sample with fewer than two stages |
//! | E109 | missing-event stage where it is not allowed |
//! | E110 | `head`/`tail` with a negative count |
//!
//! Planning errors (from `ferret-engine`'s planner, reported with this
//! crate's renderer):
//!
//! | code | meaning |
//! | --- | --- |
//! | E900 | the query is valid EQL but cannot be planned (the message says why) |
//!
//! Lints (warnings from [`crate::analyze`], never errors; see
//! [`crate::lint`]):
//!
//! | code | meaning |
//! | --- | --- |
//! | W001 | wildcard character in a literal compared exactly (`==`, `!=`, `in`, …) |
//! | W002 | `like`/`like~` pattern without a wildcard |
//! | W003 | duplicate value in a list |
//! | W004 | the same field compared with `==`/`:` against several values joined by `or` (use `in`/`:` with a list) |
//! | W005 | a regex pattern that is a plain literal |

use crate::ast::Span;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One error or warning about a query.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable code, `E…` for errors and `W…` for lints (see the module doc).
    pub code: &'static str,
    pub message: String,
    /// Byte range in the query string.
    pub span: Span,
    /// A short note printed next to the caret.
    pub label: Option<String>,
    /// A suggestion printed after the snippet.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: None,
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span)
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}[{}]: {}",
            self.severity.as_str(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for Diagnostic {}

/// 1-based line and column (in characters) of byte `offset` in `text`.
/// Offsets past the end, or inside a multi-byte character, are clamped.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset);
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut o = offset.min(text.len());
    while !text.is_char_boundary(o) {
        o -= 1;
    }
    o
}

/// Render diagnostics as text:
///
/// ```text
/// error[E003]: single-quoted strings are not supported
///  --> rule.toml:12:30
///    |
/// 12 |   process where process.name == 'bash'
///    |                                 ^^^^^^ use double quotes here
///    |
///    = help: EQL strings use double quotes: "…"
/// ```
///
/// `query_offset` is the byte offset of the query inside `file_text`, so
/// positions are those of the file; for a bare query pass the query as
/// `file_text` and 0. A span over several lines is underlined on its first
/// line. `color` adds ANSI colors.
pub fn render(
    diags: &[Diagnostic],
    file_name: &str,
    file_text: &str,
    query_offset: usize,
    color: bool,
) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_one(&mut out, d, file_name, file_text, query_offset, color);
    }
    out
}

fn render_one(
    out: &mut String,
    d: &Diagnostic,
    file_name: &str,
    text: &str,
    query_offset: usize,
    color: bool,
) {
    let (sev_color, bold, blue, reset) = if color {
        let c = match d.severity {
            Severity::Error => "\x1b[1;31m",
            Severity::Warning => "\x1b[1;33m",
        };
        (c, "\x1b[1m", "\x1b[1;34m", "\x1b[0m")
    } else {
        ("", "", "", "")
    };
    let start = floor_char_boundary(text, query_offset.saturating_add(d.span.start as usize));
    let end =
        floor_char_boundary(text, query_offset.saturating_add(d.span.end as usize)).max(start);
    let (line, col) = line_col(text, start);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let src_line = text[line_start..line_end].trim_end_matches('\r');
    let gutter = line.to_string().len();
    let pad = " ".repeat(gutter);

    let _ = writeln!(
        out,
        "{sev_color}{}[{}]{reset}{bold}: {}{reset}",
        d.severity.as_str(),
        d.code,
        d.message
    );
    let _ = writeln!(out, "{pad}{blue}-->{reset} {file_name}:{line}:{col}");
    let _ = writeln!(out, "{pad} {blue}|{reset}");
    // Tabs are shown as four spaces so the caret lines up.
    let shown: String = src_line.replace('\t', "    ");
    let _ = writeln!(out, "{blue}{line:>gutter$} |{reset} {shown}");
    let caret_start: usize = text[line_start..start]
        .chars()
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum();
    let underline_end = end.min(line_start + src_line.len()).max(start);
    let caret_len = text[start..underline_end].chars().count().max(1);
    let label = d
        .label
        .as_deref()
        .map(|l| format!(" {l}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{pad} {blue}|{reset} {}{sev_color}{}{label}{reset}",
        " ".repeat(caret_start),
        "^".repeat(caret_len)
    );
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{pad} {blue}|{reset}");
        let _ = writeln!(out, "{pad} {blue}={reset} {bold}help{reset}: {help}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_chars() {
        let t = "ab\ncé d\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 1));
        // after `cé` (é is two bytes)
        assert_eq!(line_col(t, 6), (2, 3));
        assert_eq!(line_col(t, 5), (2, 2)); // inside é: clamped
        assert_eq!(line_col(t, 100), (3, 1));
    }

    #[test]
    fn render_uses_file_positions() {
        let file = "[rule]\nquery = '''\nprocess where x == 'a'\n'''\n";
        let q_off = file.find("process").unwrap();
        let q = &file[q_off..file.rfind("'''").unwrap()];
        let at = q.find("'a'").unwrap();
        let d = Diagnostic::error("E003", "bad", Span::new(at, at + 3)).with_label("here");
        let s = render(&[d], "r.toml", file, q_off, false);
        assert_eq!(
            s,
            "error[E003]: bad\n --> r.toml:3:20\n  |\n3 | process where x == 'a'\n  |                    ^^^ here\n"
        );
    }
}
