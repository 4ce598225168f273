//! Pre-order traversal of every expression in a query (conditions, join
//! keys, pipe arguments), shared by validation and lints. Recursion is
//! bounded because the parser caps expression depth.

use crate::ast::*;

/// Call `f` on every expression node of `q`, parents before children.
pub fn each_expr<'a>(q: &'a Query, f: &mut dyn FnMut(&'a Expr)) {
    match &q.body {
        QueryBody::Event(e) => walk(&e.condition, f),
        QueryBody::Sequence(s) => {
            s.by.iter().for_each(|k| walk(k, f));
            for st in s.stages.iter().chain(s.until.iter()) {
                stage(st, f);
            }
        }
        QueryBody::Sample(s) => {
            s.by.iter().for_each(|k| walk(k, f));
            s.stages.iter().for_each(|st| stage(st, f));
        }
    }
    for p in &q.pipes {
        match &p.kind {
            PipeKind::Head(_) | PipeKind::Tail(_) => {}
            PipeKind::Filter(e) => walk(e, f),
            PipeKind::Unique(a)
            | PipeKind::UniqueCount(a)
            | PipeKind::Count(a)
            | PipeKind::Sort(a) => a.iter().for_each(|e| walk(e, f)),
        }
    }
}

fn stage<'a>(st: &'a Stage, f: &mut dyn FnMut(&'a Expr)) {
    walk(&st.query.condition, f);
    st.by.iter().for_each(|k| walk(k, f));
}

/// Call `f` on `e` and all its descendants, parents first.
pub fn walk<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Literal(_) | ExprKind::Field(_) => {}
        ExprKind::Not(x) | ExprKind::Neg(x) => walk(x, f),
        ExprKind::Logic { lhs, rhs, .. }
        | ExprKind::Compare { lhs, rhs, .. }
        | ExprKind::Arith { lhs, rhs, .. } => {
            walk(lhs, f);
            walk(rhs, f);
        }
        ExprKind::Match {
            value, patterns, ..
        } => {
            walk(value, f);
            patterns.iter().for_each(|p| walk(p, f));
        }
        ExprKind::In { value, list, .. } => {
            walk(value, f);
            list.iter().for_each(|p| walk(p, f));
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|a| walk(a, f)),
    }
}
