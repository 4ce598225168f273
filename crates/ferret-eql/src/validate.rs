//! Semantic validation of a parsed query, in Elasticsearch's spirit: what
//! Elasticsearch rejects after parsing (unknown functions, arity, join-key
//! counts, `runs` bounds, stage counts) is an error here too. Codes E101–E110
//! (see [`crate::diagnostic`]).
//!
//! Choices where Elasticsearch is silent or ferret is stricter, documented:
//! a sequence whose stages are all missing-event stages is rejected (it can
//! never produce a match), as are missing-event stages in `until` (recent
//! Elasticsearch rejects them) and in samples (they have no order to be
//! missing between). A missing-event stage may be first or last, as in
//! Elasticsearch.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::functions::{self, ArgKind};
use crate::parser::edit_distance;
use crate::walk;

/// Largest `runs` Elasticsearch accepts.
pub const MAX_RUNS: i64 = 100;

/// All semantic errors of `q`, in source order.
pub fn validate(q: &Query) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    walk::each_expr(q, &mut |e| {
        if let ExprKind::Call {
            name,
            case_insensitive,
            args,
        } = &e.kind
        {
            check_call(e, name, *case_insensitive, args, &mut out);
        }
    });
    match &q.body {
        QueryBody::Event(_) => {}
        QueryBody::Sequence(s) => check_sequence(s, &mut out),
        QueryBody::Sample(s) => check_sample(s, &mut out),
    }
    for p in &q.pipes {
        if let PipeKind::Head(n) | PipeKind::Tail(n) = p.kind {
            if n < 0 {
                let name = if matches!(p.kind, PipeKind::Head(_)) {
                    "head"
                } else {
                    "tail"
                };
                out.push(
                    Diagnostic::error(
                        "E110",
                        format!("`{name}` needs a count of zero or more, found {n}"),
                        p.span,
                    )
                    .with_help(format!("write e.g. `| {name} 10`")),
                );
            }
        }
    }
    out.sort_by_key(|d| d.span.start);
    out
}

fn check_call(call: &Expr, name: &Ident, ci: bool, args: &[Expr], out: &mut Vec<Diagnostic>) {
    let Some(sig) = functions::lookup(&name.name) else {
        let lower = name.name.to_ascii_lowercase();
        let mut d = Diagnostic::error(
            "E101",
            format!("unknown function `{}`", name.name),
            name.span,
        );
        // A close spelling, or a prefix either way (`substr` → `substring`).
        let similar = functions::FUNCTIONS
            .iter()
            .map(|f| {
                let fl = f.name.to_ascii_lowercase();
                let prefix = lower.len() >= 3 && (fl.starts_with(&lower) || lower.starts_with(&fl));
                (
                    if prefix {
                        0
                    } else {
                        edit_distance(&fl, &lower)
                    },
                    f.name,
                )
            })
            .filter(|(dist, _)| *dist <= 2)
            .min();
        d = match similar {
            Some((_, s)) => d.with_label(format!("did you mean `{s}`?")),
            None => d.with_label("not an EQL function"),
        };
        let names: Vec<&str> = functions::FUNCTIONS.iter().map(|f| f.name).collect();
        out.push(d.with_help(format!("EQL functions: {}", names.join(", "))));
        return;
    };
    if ci && !sig.case_insensitive_variant {
        out.push(
            Diagnostic::error(
                "E104",
                format!("`{}` has no case-insensitive variant", sig.name),
                Span::new(name.span.start as usize, name.span.end as usize + 1),
            )
            .with_label("remove the `~`")
            .with_help("`~` exists for between, endsWith, indexOf, startsWith and stringContains"),
        );
    }
    let n = args.len();
    if n < sig.min_args || sig.max_args.is_some_and(|m| n > m) {
        out.push(
            Diagnostic::error(
                "E102",
                format!(
                    "`{}` takes {}, but {} {} given",
                    sig.name,
                    sig.arity_text(),
                    n,
                    if n == 1 { "was" } else { "were" }
                ),
                call.span,
            )
            .with_label(format!("expected {}", sig.arity_text())),
        );
        return;
    }
    for (i, a) in args.iter().enumerate() {
        let kind = sig.arg_kind(i);
        if let Some(msg) = arg_mismatch(kind, a) {
            out.push(
                Diagnostic::error(
                    "E103",
                    format!("argument {} of `{}` {msg}", i + 1, sig.name),
                    a.span,
                )
                .with_label(format!("expected {}", kind_text(kind))),
            );
        }
    }
}

#[derive(PartialEq)]
enum LitKind {
    Str,
    Int,
    Float,
    Bool,
}

/// The kind of a literal argument (a negated number counts as a number).
fn literal_kind(e: &Expr) -> Option<LitKind> {
    match &e.kind {
        ExprKind::Literal(Literal::String(_)) => Some(LitKind::Str),
        ExprKind::Literal(Literal::Int(_)) => Some(LitKind::Int),
        ExprKind::Literal(Literal::Float(_)) => Some(LitKind::Float),
        ExprKind::Literal(Literal::Bool(_)) => Some(LitKind::Bool),
        ExprKind::Neg(x) => match literal_kind(x)? {
            k @ (LitKind::Int | LitKind::Float) => Some(k),
            _ => None,
        },
        _ => None,
    }
}

fn arg_mismatch(kind: ArgKind, a: &Expr) -> Option<&'static str> {
    let lit = literal_kind(a);
    match kind {
        ArgKind::Any => None,
        ArgKind::String => match lit? {
            LitKind::Str => None,
            _ => Some("must be a string"),
        },
        ArgKind::Number => match lit? {
            LitKind::Int | LitKind::Float => None,
            _ => Some("must be a number"),
        },
        ArgKind::Integer => match lit? {
            LitKind::Int => None,
            _ => Some("must be a whole number"),
        },
        ArgKind::Bool => match lit? {
            LitKind::Bool => None,
            _ => Some("must be `true` or `false`"),
        },
        ArgKind::StringConstant => match lit {
            Some(LitKind::Str) => None,
            _ if matches!(a.kind, ExprKind::Literal(Literal::Null)) => None,
            _ => Some("must be a string literal"),
        },
    }
}

fn kind_text(kind: ArgKind) -> &'static str {
    match kind {
        ArgKind::Any => "any value",
        ArgKind::String => "a string",
        ArgKind::Number => "a number",
        ArgKind::Integer => "a whole number",
        ArgKind::Bool => "a boolean",
        ArgKind::StringConstant => "a string literal",
    }
}

/// The span of a stage's `by` keys, or of the stage if it has none.
fn keys_span(st: &Stage) -> Span {
    match (st.by.first(), st.by.last()) {
        (Some(a), Some(b)) => a.span.to(b.span),
        _ => st.span,
    }
}

/// Every stage must have the same number of join keys (Elasticsearch counts
/// the stage-level keys in its message; so do we).
fn check_join_keys<'a>(stages: impl Iterator<Item = &'a Stage>, out: &mut Vec<Diagnostic>) {
    let mut expected: Option<usize> = None;
    for st in stages {
        let n = st.by.len();
        match expected {
            None => expected = Some(n),
            Some(e) if e != n => out.push(
                Diagnostic::error(
                    "E105",
                    format!(
                        "inconsistent number of join keys: expected {e} but found {n}"
                    ),
                    keys_span(st),
                )
                .with_label(format!(
                    "this stage has {n} join key{}",
                    if n == 1 { "" } else { "s" }
                ))
                .with_help("every stage (and `until`) needs the same number of `by` keys, in the same order"),
            ),
            Some(_) => {}
        }
    }
}

fn check_runs(st: &Stage, out: &mut Vec<Diagnostic>) {
    if let Some(r) = &st.runs {
        if r.count < 1 || r.count > MAX_RUNS {
            out.push(
                Diagnostic::error(
                    "E106",
                    format!("`runs` must be between 1 and {MAX_RUNS}, found {}", r.count),
                    r.span,
                )
                .with_help("`with runs=N` repeats the stage N times; N must be 1 to 100"),
            );
        }
    }
}

/// Stages after expanding `with runs=N` (as Elasticsearch does).
fn expanded_stage_count(stages: &[Stage]) -> i64 {
    stages
        .iter()
        .map(|st| st.runs.as_ref().map_or(1, |r| r.count.clamp(1, MAX_RUNS)))
        .sum()
}

fn check_sequence(s: &Sequence, out: &mut Vec<Diagnostic>) {
    let n = expanded_stage_count(&s.stages);
    if n < 2 {
        let mut d = Diagnostic::error(
            "E107",
            format!("a sequence needs at least two stages, found {n}"),
            s.span,
        );
        d = if s.until.is_some() {
            d.with_help("the `until` stage does not count; add another stage")
        } else {
            d.with_help("add a stage, repeat one with `with runs=N`, or use an event query: `process where …`")
        };
        out.push(d);
    }
    check_join_keys(s.stages.iter().chain(s.until.iter()), out);
    for st in s.stages.iter().chain(s.until.iter()) {
        check_runs(st, out);
    }
    if let Some(u) = &s.until {
        if u.missing {
            out.push(
                Diagnostic::error(
                    "E109",
                    "the `until` stage cannot be a missing-event stage",
                    u.span,
                )
                .with_help("write `until [ … ]` without `!`"),
            );
        }
        if u.runs.is_some() {
            out.push(Diagnostic::error(
                "E106",
                "the `until` stage cannot repeat (`with runs`)",
                u.runs.as_ref().map_or(u.span, |r| r.span),
            ));
        }
    }
    if !s.stages.is_empty() && s.stages.iter().all(|st| st.missing) {
        out.push(
            Diagnostic::error(
                "E109",
                "a sequence needs at least one stage that is not a missing-event stage",
                s.span,
            )
            .with_help("missing-event stages `![…]` only make sense between or around real events"),
        );
    }
}

fn check_sample(s: &Sample, out: &mut Vec<Diagnostic>) {
    if s.stages.len() < 2 {
        out.push(
            Diagnostic::error(
                "E108",
                format!(
                    "a sample needs at least two stages, found {}",
                    s.stages.len()
                ),
                s.span,
            )
            .with_help("for a single event use an event query: `process where …`"),
        );
    }
    check_join_keys(s.stages.iter(), out);
    for st in &s.stages {
        if st.missing {
            out.push(
                Diagnostic::error(
                    "E109",
                    "missing-event stages are only allowed in sequences",
                    st.span,
                )
                .with_help("a sample has no order; remove the `!`"),
            );
        }
        if let Some(r) = &st.runs {
            out.push(
                Diagnostic::error("E106", "`with runs` is only allowed in sequences", r.span)
                    .with_help("remove `with runs=…` from the sample stage"),
            );
        }
    }
}
