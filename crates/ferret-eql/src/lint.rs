//! Lints: warnings about queries that are valid but almost certainly not
//! what the author meant. Never errors. Stable codes:
//!
//! - **W001** a wildcard (`*` or `?`) inside a string compared exactly:
//!   `==`, `!=`, `in`, `in~`, `not in`, `not in~`. Those operators never
//!   expand wildcards, so `process.name in ("python*")` only matches the
//!   literal text `python*` (the seed rule's bug). Suggests `:` or `like`.
//! - **W002** a `like`/`like~` whose patterns have no wildcard at all: it is
//!   an exact comparison, so `==` (or `:`/`in~` for `like~`) says it plainer.
//!   Only when *no* pattern of the list has a wildcard: a list mixing exact
//!   names and wildcards is idiomatic. `:` is deliberately not flagged: a
//!   wildcard-free `:` is Elasticsearch's idiomatic case-insensitive
//!   equality, used throughout Elastic's own rules.
//! - **W003** the same value twice in a list (`in`, `:`, `like`, `regex`);
//!   compared case-insensitively for the case-insensitive operators.
//! - **W005** a `regex`/`regex~` pattern without any regex metacharacter: a
//!   full-match regex of plain text is an equality, and `==`/`:` are clearer
//!   and cheaper.
//!
//! (W004 is reserved.)

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::walk;
use std::borrow::Cow;
use std::collections::HashSet;

/// All lint warnings of `q`, in source order.
pub fn lint(q: &Query) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    walk::each_expr(q, &mut |e| lint_expr(e, &mut out));
    out.sort_by_key(|d| d.span.start);
    out
}

fn string_lit(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Literal(Literal::String(s)) => Some(s),
        _ => None,
    }
}

fn wildcard_char(s: &str) -> Option<char> {
    s.chars().find(|c| *c == '*' || *c == '?')
}

fn lint_expr(e: &Expr, out: &mut Vec<Diagnostic>) {
    match &e.kind {
        ExprKind::Compare {
            op: op @ (CompareOp::Eq | CompareOp::NotEq),
            lhs,
            rhs,
        } => {
            for (lit, other) in [(rhs, lhs), (lhs, rhs)] {
                // Two literals compared with each other are not a field test.
                if string_lit(other).is_some() {
                    continue;
                }
                if let Some(s) = string_lit(lit) {
                    if let Some(w) = wildcard_char(s) {
                        let (opname, fix) = match op {
                            CompareOp::Eq => ("==", format!("use `:` for a wildcard match: `{other} : {lit}`")),
                            _ => ("!=", format!("use `not` with `:` for a wildcard match: `not {other} : {lit}`")),
                        };
                        out.push(wildcard_warning(lit, w, opname, fix));
                    }
                }
            }
        }
        ExprKind::In {
            value,
            list,
            case_insensitive,
            negated,
        } => {
            let opname = match (negated, case_insensitive) {
                (false, false) => "in",
                (false, true) => "in~",
                (true, false) => "not in",
                (true, true) => "not in~",
            };
            for item in list {
                if let Some(w) = string_lit(item).and_then(wildcard_char) {
                    let fix = if *negated {
                        format!("use `not {value} : (…)` (or `like~`) for wildcard matches")
                    } else {
                        format!("use `{value} : (…)` (or `like~`) for wildcard matches")
                    };
                    out.push(wildcard_warning(item, w, opname, fix));
                }
            }
            duplicates(list, *case_insensitive, out);
        }
        ExprKind::Match {
            op,
            case_insensitive,
            patterns,
            ..
        } => {
            duplicates(patterns, *case_insensitive, out);
            match op {
                MatchOp::Like => {
                    let strings: Vec<&str> = patterns.iter().filter_map(string_lit).collect();
                    if !strings.is_empty()
                        && strings.len() == patterns.len()
                        && strings.iter().all(|s| wildcard_char(s).is_none())
                    {
                        let (opname, fix) = if *case_insensitive {
                            ("like~", "use `:` (case-insensitive equality) or `in~`")
                        } else {
                            ("like", "use `==` or `in`")
                        };
                        let first = &patterns[0];
                        out.push(
                            Diagnostic::warning(
                                "W002",
                                format!(
                                    "`{opname}` with no wildcard in its pattern{} is an exact comparison",
                                    if patterns.len() > 1 { "s" } else { "" }
                                ),
                                first.span.to(patterns[patterns.len() - 1].span),
                            )
                            .with_label("no `*` or `?` here")
                            .with_help(fix),
                        );
                    }
                }
                MatchOp::Regex => {
                    for p in patterns {
                        if let Some(s) = string_lit(p) {
                            if !s.is_empty() && !s.chars().any(is_regex_meta) {
                                out.push(
                                    Diagnostic::warning(
                                        "W005",
                                        format!("regex {p} has no special characters"),
                                        p.span,
                                    )
                                    .with_label("matches only this exact text")
                                    .with_help(if *case_insensitive {
                                        "a full-match regex of plain text is an equality: use `:`"
                                    } else {
                                        "a full-match regex of plain text is an equality: use `==`"
                                    }),
                                );
                            }
                        }
                    }
                }
                MatchOp::Seq => {}
            }
        }
        _ => {}
    }
}

fn wildcard_warning(lit: &Expr, w: char, opname: &str, fix: String) -> Diagnostic {
    Diagnostic::warning(
        "W001",
        format!("{lit} contains the wildcard `{w}`, but `{opname}` compares exactly"),
        lit.span,
    )
    .with_label(format!("`{w}` here only matches a literal `{w}`"))
    .with_help(fix)
}

/// Lucene regular-expression syntax characters.
fn is_regex_meta(c: char) -> bool {
    matches!(
        c,
        '.' | '?'
            | '+'
            | '*'
            | '|'
            | '{'
            | '}'
            | '['
            | ']'
            | '('
            | ')'
            | '"'
            | '\\'
            | '#'
            | '@'
            | '&'
            | '<'
            | '>'
            | '~'
    )
}

/// W003 on each value already seen earlier in the list.
fn duplicates(items: &[Expr], case_insensitive: bool, out: &mut Vec<Diagnostic>) {
    /// A value as the list compares it; strings borrowed unless folding
    /// changes them (a string formatted per value was most of this lint's
    /// cost over a thousand rules).
    #[derive(PartialEq, Eq, Hash)]
    enum Seen<'a> {
        Str(Cow<'a, str>),
        Int(i64),
        Bool(bool),
        Null,
    }
    if items.len() < 2 {
        return;
    }
    let mut seen: HashSet<Seen> = HashSet::with_capacity(items.len());
    for item in items {
        let key = match &item.kind {
            ExprKind::Literal(Literal::String(s)) if case_insensitive => {
                Seen::Str(if !s.is_ascii() {
                    Cow::Owned(s.to_lowercase())
                } else if s.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(s.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(s.as_str())
                })
            }
            ExprKind::Literal(Literal::String(s)) => Seen::Str(Cow::Borrowed(s.as_str())),
            ExprKind::Literal(Literal::Int(n)) => Seen::Int(*n),
            ExprKind::Literal(Literal::Bool(b)) => Seen::Bool(*b),
            ExprKind::Literal(Literal::Null) => Seen::Null,
            // Floats and expressions: not compared (rare, and equality of
            // floats is its own can of worms).
            _ => continue,
        };
        if !seen.insert(key) {
            out.push(
                Diagnostic::warning("W003", format!("duplicate value {item} in list"), item.span)
                    .with_label("already in this list")
                    .with_help("remove the repeated value"),
            );
        }
    }
}
