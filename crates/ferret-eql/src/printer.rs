//! Canonical EQL printing (`Display` for the AST).
//!
//! The output parses back to the same tree (spans aside): parentheses are
//! printed exactly where the parser's precedence would otherwise regroup
//! the tree, strings are re-escaped, names that are not plain identifiers
//! (or are keywords) are backtick-quoted, and a category that is not a plain
//! identifier is printed as a string. Sequences and samples print one stage
//! per line.

use crate::ast::*;
use crate::parser::is_keyword;
use std::fmt::{self, Display, Formatter, Write as _};

// Precedence levels, matching the parser's binding powers (see
// `parser.rs`): a child printed where a higher level is required gets
// parentheses.
const P_OR: u8 = 1;
const P_AND: u8 = 2;
const P_CMP: u8 = 3; // comparisons and prefix `not`
const P_ADD: u8 = 4;
const P_MUL: u8 = 5;
const P_UNARY: u8 = 6;
const P_PRED: u8 = 7; // `in`, `:`, `like`, `regex`
const P_PRIMARY: u8 = 8;

fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Logic {
            op: LogicOp::Or, ..
        } => P_OR,
        ExprKind::Logic {
            op: LogicOp::And, ..
        } => P_AND,
        ExprKind::Not(_) | ExprKind::Compare { .. } => P_CMP,
        ExprKind::Arith {
            op: ArithOp::Add | ArithOp::Sub,
            ..
        } => P_ADD,
        ExprKind::Arith { .. } => P_MUL,
        ExprKind::Neg(_) => P_UNARY,
        ExprKind::Match { .. } | ExprKind::In { .. } => P_PRED,
        // A negative number literal prints as `-n`, which reads back as a
        // negation: treat it as one so it is parenthesised where needed.
        ExprKind::Literal(Literal::Int(n)) if *n < 0 => P_UNARY,
        ExprKind::Literal(Literal::Float(f)) if f.is_sign_negative() => P_UNARY,
        _ => P_PRIMARY,
    }
}

/// Print `e`, in parentheses if its precedence is below `min`.
fn child(f: &mut Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if prec(e) < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

fn list(f: &mut Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(l) => write!(f, "{l}"),
            ExprKind::Field(r) => write!(f, "{r}"),
            ExprKind::Not(e) => {
                f.write_str("not ")?;
                child(f, e, P_CMP)
            }
            ExprKind::Logic { op, lhs, rhs } => {
                let (p, word) = match op {
                    LogicOp::Or => (P_OR, "or"),
                    LogicOp::And => (P_AND, "and"),
                };
                child(f, lhs, p)?;
                write!(f, " {word} ")?;
                child(f, rhs, p + 1)
            }
            ExprKind::Compare { op, lhs, rhs } => {
                child(f, lhs, P_CMP + 1)?;
                write!(f, " {} ", compare_op_str(*op))?;
                child(f, rhs, P_CMP + 1)
            }
            ExprKind::Arith { op, lhs, rhs } => {
                let p = match op {
                    ArithOp::Add | ArithOp::Sub => P_ADD,
                    _ => P_MUL,
                };
                child(f, lhs, p)?;
                write!(f, " {} ", arith_op_str(*op))?;
                child(f, rhs, p + 1)
            }
            ExprKind::Neg(e) => {
                f.write_str("-")?;
                // `--x` would still lex as two minus signs, but a space
                // keeps it readable.
                if matches!(e.kind, ExprKind::Neg(_)) || prec(e) == P_UNARY {
                    f.write_str(" ")?;
                }
                child(f, e, P_UNARY)
            }
            ExprKind::Match {
                op,
                case_insensitive,
                value,
                patterns,
                list: is_list,
            } => {
                child(f, value, P_PRIMARY)?;
                let op = match (op, case_insensitive) {
                    (MatchOp::Seq, _) => " : ",
                    (MatchOp::Like, false) => " like ",
                    (MatchOp::Like, true) => " like~ ",
                    (MatchOp::Regex, false) => " regex ",
                    (MatchOp::Regex, true) => " regex~ ",
                };
                f.write_str(op)?;
                if *is_list || patterns.len() != 1 {
                    f.write_str("(")?;
                    list(f, patterns)?;
                    f.write_str(")")
                } else {
                    write!(f, "{}", patterns[0])
                }
            }
            ExprKind::In {
                value,
                list: items,
                case_insensitive,
                negated,
            } => {
                child(f, value, P_PRIMARY)?;
                if *negated {
                    f.write_str(" not")?;
                }
                f.write_str(if *case_insensitive { " in~ (" } else { " in (" })?;
                list(f, items)?;
                f.write_str(")")
            }
            ExprKind::Call {
                name,
                case_insensitive,
                args,
            } => {
                f.write_str(&name.name)?;
                if *case_insensitive {
                    f.write_str("~")?;
                }
                f.write_str("(")?;
                list(f, args)?;
                f.write_str(")")
            }
        }
    }
}

pub fn compare_op_str(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "==",
        CompareOp::NotEq => "!=",
        CompareOp::Lt => "<",
        CompareOp::LtEq => "<=",
        CompareOp::Gt => ">",
        CompareOp::GtEq => ">=",
    }
}

pub fn arith_op_str(op: ArithOp) -> &'static str {
    match op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
        ArithOp::Div => "/",
        ArithOp::Mod => "%",
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(n) => write!(f, "{n}"),
            // `{:?}` is the shortest text that reads back to the same f64,
            // and always has a `.` or an exponent, so it lexes as a float.
            Literal::Float(x) if x.is_finite() => write!(f, "{x:?}"),
            // Not producible by the parser; print something readable.
            Literal::Float(x) => write!(f, "{x}"),
            Literal::String(s) => write_string(f, s),
        }
    }
}

/// A double-quoted string literal with escapes.
pub fn write_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if c.is_control() => write!(f, "\\u{{{:02x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

fn is_plain_ident(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b'@')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn write_name(f: &mut Formatter<'_>, name: &str, first: bool) -> fmt::Result {
    if is_plain_ident(name) && !(first && is_keyword(name)) {
        f.write_str(name)
    } else {
        f.write_char('`')?;
        f.write_str(&name.replace('`', "``"))?;
        f.write_char('`')
    }
}

impl Display for FieldRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.optional {
            f.write_char('?')?;
        }
        let mut first = true;
        for seg in &self.path {
            match seg {
                PathSegment::Key(k) => {
                    if !first {
                        f.write_char('.')?;
                    }
                    write_name(f, k, first)?;
                }
                PathSegment::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

impl Display for Category {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Category::Any(_) => f.write_str("any"),
            Category::Named(id)
                if is_plain_ident(&id.name)
                    && !is_keyword(&id.name)
                    && !id.name.starts_with('@') =>
            {
                f.write_str(&id.name)
            }
            Category::Named(id) => write_string(f, &id.name),
        }
    }
}

impl Display for EventQuery {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} where {}", self.category, self.condition)
    }
}

fn write_keys(f: &mut Formatter<'_>, keys: &[Expr]) -> fmt::Result {
    if !keys.is_empty() {
        f.write_str(" by ")?;
        list(f, keys)?;
    }
    Ok(())
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.missing {
            f.write_char('!')?;
        }
        write!(f, "[{}]", self.query)?;
        write_keys(f, &self.by)?;
        if let Some(r) = &self.runs {
            write!(f, " with runs={}", r.count)?;
        }
        if let Some(a) = &self.alias {
            f.write_str(" as ")?;
            write_name(f, &a.name, true)?;
        }
        Ok(())
    }
}

impl Display for Sequence {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("sequence")?;
        write_keys(f, &self.by)?;
        if let Some(m) = &self.maxspan {
            write!(f, " with maxspan={m}")?;
        }
        for s in &self.stages {
            write!(f, "\n  {s}")?;
        }
        if let Some(u) = &self.until {
            write!(f, "\nuntil {u}")?;
        }
        Ok(())
    }
}

impl Display for Sample {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("sample")?;
        write_keys(f, &self.by)?;
        for s in &self.stages {
            write!(f, "\n  {s}")?;
        }
        Ok(())
    }
}

impl Display for QueryBody {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            QueryBody::Event(q) => write!(f, "{q}"),
            QueryBody::Sequence(s) => write!(f, "{s}"),
            QueryBody::Sample(s) => write!(f, "{s}"),
        }
    }
}

impl Display for Pipe {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            PipeKind::Head(n) => write!(f, "| head {n}"),
            PipeKind::Tail(n) => write!(f, "| tail {n}"),
            PipeKind::Filter(e) => write!(f, "| filter {e}"),
            PipeKind::Unique(a) => named_list(f, "unique", a),
            PipeKind::UniqueCount(a) => named_list(f, "unique_count", a),
            PipeKind::Count(a) => named_list(f, "count", a),
            PipeKind::Sort(a) => named_list(f, "sort", a),
        }
    }
}

fn named_list(f: &mut Formatter<'_>, name: &str, args: &[Expr]) -> fmt::Result {
    write!(f, "| {name}")?;
    if !args.is_empty() {
        f.write_char(' ')?;
        list(f, args)?;
    }
    Ok(())
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.body)?;
        let multiline = !matches!(self.body, QueryBody::Event(_));
        for p in &self.pipes {
            if multiline {
                write!(f, "\n{p}")?;
            } else {
                write!(f, " {p}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{parse, parse_expr};

    fn canon(src: &str) -> String {
        parse_expr(src).unwrap().to_string()
    }

    #[test]
    fn minimal_parentheses() {
        assert_eq!(canon("(a or b) and c"), "(a or b) and c");
        assert_eq!(canon("a or (b and c)"), "a or b and c");
        assert_eq!(canon("a or (b or c)"), "a or (b or c)");
        assert_eq!(canon("(a or b) or c"), "a or b or c");
        assert_eq!(canon("not (a == 1)"), "not a == 1");
        assert_eq!(canon("(not a) == 1"), "(not a) == 1");
        assert_eq!(canon("not (a and b)"), "not (a and b)");
        assert_eq!(canon("a - (b - c)"), "a - (b - c)");
        assert_eq!(canon("(a - b) - c"), "a - b - c");
        assert_eq!(canon("(a + b) * c"), "(a + b) * c");
        assert_eq!(canon("-(a + b)"), "-(a + b)");
        assert_eq!(canon("(a + b) in (1, 2)"), "(a + b) in (1, 2)");
        assert_eq!(canon("a + b in (1, 2)"), "a + b in (1, 2)");
        assert_eq!(canon("(a == b) == c"), "(a == b) == c");
        assert_eq!(canon("- -a"), "- -a");
    }

    #[test]
    fn literals_and_names() {
        assert_eq!(canon(r#"x == "a\"b\\c\n""#), r#"x == "a\"b\\c\n""#);
        assert_eq!(canon(r#"x == """C:\raw""""#), r#"x == "C:\\raw""#);
        assert_eq!(canon("x == 1.5e10"), "x == 15000000000.0");
        assert_eq!(
            canon("`a b`.`c``d`.in[0] == `true`"),
            "`a b`.`c``d`.in[0] == `true`"
        );
        assert_eq!(canon("?x.y : (\"a\")"), "?x.y : (\"a\")");
        assert_eq!(canon("startsWith~(a, \"b\")"), "startsWith~(a, \"b\")");
        assert_eq!(canon("a not in~ (1)"), "a not in~ (1)");
    }

    #[test]
    fn queries() {
        let q = parse("sequence by a with maxspan=5s [process where true] by b with runs=2 ![file where x] until [any where y] | head 3 | tail 1").unwrap();
        assert_eq!(
            q.to_string(),
            "sequence by a with maxspan=5s\n  [process where true] by b with runs=2\n  ![file where x]\nuntil [any where y]\n| head 3\n| tail 1"
        );
        let q = parse("\"my cat\" where true | count").unwrap();
        assert_eq!(q.to_string(), "\"my cat\" where true | count");
    }
}
