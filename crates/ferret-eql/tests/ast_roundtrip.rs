//! Printer/parser round trip on generated trees: proptest builds arbitrary
//! `ast::Query` values (event queries, sequences with `by`/`maxspan`/`runs`/
//! missing stages/`until`, samples, pipes, every expression kind nested at
//! random, strings with escapes, quotes and non-ASCII text, field names that
//! need backticks or are keywords, negative numbers, floats), prints each with
//! `Display`, parses the text and requires the same tree (spans are ignored by
//! `PartialEq`), and requires printing to be idempotent.
//!
//! The corpus round trip (`tests/corpus.rs`) only covers trees that real
//! rules happen to contain; this covers the shapes nobody wrote yet (a `not`
//! under an arithmetic operand, a keyword as a field name, a control
//! character in a category name…).
//!
//! The generator produces only trees the *syntax* can express; semantic
//! validity (known functions, join-key counts, `runs` ≥ 1) is not required
//! because `parse` is syntax-only. The forms left out, and why:
//! - negative `Literal::Int`/`Literal::Float`: the lexer has no signed
//!   numbers, so `-5` is always `Neg(Int(5))`; negative numbers are generated
//!   as `Neg` of a literal, which is what the parser builds. Likewise `-0.0`.
//! - `i64::MIN` for `runs`/`head`/`tail`: written `-9223372036854775808`, its
//!   magnitude does not fit an i64 token.
//! - empty `in ()`, empty `:`/`like` lists, `unique`/`sort`/… without fields,
//!   a field path starting with an index, a negative index, an empty field
//!   name: the grammar has no text for them.
//! - `:` with `case_insensitive: false`: `:` is case-insensitive by
//!   definition, the parser always sets it.
//! - a single pattern with `list: false` only (several patterns need the
//!   parenthesised list, which reparses as `list: true`).
//! - patterns of `:`/`like`/`regex` other than non-negative literals and
//!   fields: the grammar (as Elasticsearch's) allows only those.
//! - `name~(…)` for names starting with `_`/`@`, and keyword function names:
//!   the lexer does not form `_f~`, and `in(…)` is not a call.
//! - nesting deeper than the parser's limits (`MAX_DEPTH`,
//!   `MAX_TREE_DEPTH`): the recursion depth is kept small.

use ferret_eql::ast::*;
use ferret_eql::parse;
use ferret_eql::parser::KEYWORDS;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

fn sp() -> Span {
    Span::default()
}

fn ex(kind: ExprKind) -> Expr {
    Expr { kind, span: sp() }
}

fn ident(name: String) -> Ident {
    Ident { name, span: sp() }
}

/// Names for fields, aliases and categories: plain words, keywords, and
/// names that need backticks (spaces, dashes, dots, backticks, digits first,
/// `@`, non-ASCII, control characters).
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_]{0,8}",
        1 => "@[a-z][a-z0-9_]{0,5}",
        2 => prop::sample::select(KEYWORDS).prop_map(str::to_string),
        2 => prop::sample::select(&[
            "as", "ms", "s", "head", "count", "event0", "process", "until_x",
            "user name", "a-b", "1st", "x.y", "back`tick", "``", "é", "名前",
            "tab\tname", "new\nline", "q\"uote", "~", "a~", "//", "/*c*/", "[0]",
        ][..])
        .prop_map(str::to_string),
        1 => "\\PC{1,6}",
        1 => ".{1,4}",
    ]
}

/// String literal contents: empty, escapes, quotes, backslashes, unicode,
/// control characters, comment and raw-string look-alikes.
fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9 *?._-]{0,10}",
        2 => prop::sample::select(&[
            "", "\"", "\\", "\"\"\"", "\"\"", "a\"b\\c", "C:\\Windows\\*", "\n\r\t",
            "\u{8}\u{c}", "\u{0}", "\u{1f}\u{7f}", "\u{85}", "\u{2028}", "😀", "é*",
            "/* x */", "// x", "'single'", "`tick`", "\\u{41}", "{}", "%s",
        ][..])
        .prop_map(str::to_string),
        2 => ".{0,8}",
        1 => any::<String>(),
    ]
}

/// Non-negative literals (negative numbers are `Neg` nodes, see the module
/// comment).
fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        1 => Just(Literal::Null),
        1 => any::<bool>().prop_map(Literal::Bool),
        3 => prop_oneof![0i64..100, 0i64..=i64::MAX].prop_map(Literal::Int),
        2 => prop_oneof![
            prop::num::f64::POSITIVE | prop::num::f64::ZERO | prop::num::f64::SUBNORMAL
                | prop::num::f64::NORMAL,
            (0u32..1000, 0u32..4).prop_map(|(m, e)| f64::from(m) / 10f64.powi(e as i32)),
        ]
        .prop_filter("finite, non-negative", |x| x.is_finite() && x.is_sign_positive())
        .prop_map(Literal::Float),
        3 => string_value().prop_map(Literal::String),
    ]
}

fn field() -> impl Strategy<Value = FieldRef> {
    (
        any::<bool>(),
        name(),
        prop::collection::vec(
            prop_oneof![
                3 => name().prop_map(PathSegment::Key),
                1 => prop_oneof![0i64..10, 0i64..=i64::MAX].prop_map(PathSegment::Index),
            ],
            0..4,
        ),
    )
        .prop_map(|(optional, first, rest)| {
            let mut path = vec![PathSegment::Key(first)];
            path.extend(rest);
            FieldRef {
                path,
                optional,
                span: sp(),
            }
        })
}

/// A pattern of `:`/`like`/`regex`: a literal or a field.
fn pattern() -> impl Strategy<Value = Expr> {
    prop_oneof![
        3 => literal().prop_map(|l| ex(ExprKind::Literal(l))),
        1 => field().prop_map(|f| ex(ExprKind::Field(f))),
    ]
}

/// Function names and whether `~` may follow (the lexer forms `name~` only
/// after a letter).
fn call_name() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        prop::sample::select(
            &[
                "startsWith",
                "endsWith",
                "wildcard",
                "length",
                "cidrMatch",
                "add",
                "as",
                "ms",
                "stringContains",
                "between",
                "number",
                "_private",
                "@at",
                "Any",
                "IN",
                "f1",
            ][..]
        )
        .prop_map(str::to_string),
        "[a-zA-Z][a-zA-Z0-9_]{0,6}",
    ]
    .prop_filter("not a keyword", |n| !KEYWORDS.contains(&n.as_str()))
    .prop_flat_map(|n| {
        let tilde_ok = n.as_bytes()[0].is_ascii_alphabetic();
        let ci = if tilde_ok {
            any::<bool>().boxed()
        } else {
            Just(false).boxed()
        };
        (Just(n), ci)
    })
}

fn expr() -> BoxedStrategy<Expr> {
    let leaf = prop_oneof![
        2 => literal().prop_map(|l| ex(ExprKind::Literal(l))),
        3 => field().prop_map(|f| ex(ExprKind::Field(f))),
        // Negative numbers as the parser builds them.
        1 => prop_oneof![
            (0i64..=i64::MAX).prop_map(Literal::Int),
            (0.0f64..1e300).prop_map(Literal::Float),
        ]
        .prop_map(|l| ex(ExprKind::Neg(Box::new(ex(ExprKind::Literal(l)))))),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        let list = prop::collection::vec(inner.clone(), 1..4);
        prop_oneof![
            inner.clone().prop_map(|e| ex(ExprKind::Not(Box::new(e)))),
            inner.clone().prop_map(|e| ex(ExprKind::Neg(Box::new(e)))),
            (
                prop_oneof![Just(LogicOp::And), Just(LogicOp::Or)],
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, l, r)| ex(ExprKind::Logic {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r)
                })),
            (
                prop::sample::select(
                    &[
                        CompareOp::Eq,
                        CompareOp::NotEq,
                        CompareOp::Lt,
                        CompareOp::LtEq,
                        CompareOp::Gt,
                        CompareOp::GtEq
                    ][..]
                ),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, l, r)| ex(ExprKind::Compare {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r)
                })),
            (
                prop::sample::select(
                    &[
                        ArithOp::Add,
                        ArithOp::Sub,
                        ArithOp::Mul,
                        ArithOp::Div,
                        ArithOp::Mod
                    ][..]
                ),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, l, r)| ex(ExprKind::Arith {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r)
                })),
            (
                prop::sample::select(&[MatchOp::Seq, MatchOp::Like, MatchOp::Regex][..]),
                any::<bool>(),
                inner.clone(),
                prop_oneof![
                    pattern().prop_map(|p| (vec![p], false)),
                    prop::collection::vec(pattern(), 1..4).prop_map(|ps| (ps, true)),
                ]
            )
                .prop_map(|(op, ci, value, (patterns, list))| ex(ExprKind::Match {
                    op,
                    // `:` is case-insensitive by definition.
                    case_insensitive: ci || op == MatchOp::Seq,
                    value: Box::new(value),
                    patterns,
                    list
                })),
            (inner.clone(), list.clone(), any::<bool>(), any::<bool>()).prop_map(
                |(value, list, case_insensitive, negated)| ex(ExprKind::In {
                    value: Box::new(value),
                    list,
                    case_insensitive,
                    negated
                })
            ),
            (call_name(), prop::collection::vec(inner, 0..4)).prop_map(|((n, ci), args)| ex(
                ExprKind::Call {
                    name: ident(n),
                    case_insensitive: ci,
                    args
                }
            )),
        ]
    })
    .boxed()
}

fn category() -> impl Strategy<Value = Category> {
    prop_oneof![
        1 => Just(Category::Any(sp())),
        3 => prop::sample::select(&["process", "network", "file", "registry", "authentication"][..])
            .prop_map(|s| Category::Named(ident(s.to_string()))),
        1 => prop_oneof![name(), string_value()].prop_map(|s| Category::Named(ident(s))),
    ]
}

fn event_query() -> impl Strategy<Value = EventQuery> {
    (category(), expr()).prop_map(|(category, condition)| EventQuery {
        category,
        condition,
        span: sp(),
    })
}

fn keys(max: usize) -> impl Strategy<Value = Vec<Expr>> {
    prop::collection::vec(expr(), 0..=max)
}

fn stage() -> impl Strategy<Value = Stage> {
    (
        event_query(),
        keys(2),
        prop::option::of(prop_oneof![1i64..5, (i64::MIN + 1)..=i64::MAX]),
        any::<bool>(),
        prop::option::of(name()),
    )
        .prop_map(|(query, by, runs, missing, alias)| Stage {
            query,
            by,
            runs: runs.map(|count| Runs { count, span: sp() }),
            missing,
            alias: alias.map(ident),
            span: sp(),
        })
}

fn timespan() -> impl Strategy<Value = TimeSpan> {
    (
        prop_oneof![1i64..100, 1i64..=i64::MAX],
        prop::sample::select(
            &[
                TimeUnit::Millis,
                TimeUnit::Seconds,
                TimeUnit::Minutes,
                TimeUnit::Hours,
                TimeUnit::Days,
            ][..],
        ),
    )
        .prop_map(|(value, unit)| TimeSpan {
            value,
            unit,
            span: sp(),
        })
}

fn pipe() -> impl Strategy<Value = Pipe> {
    let n = prop_oneof![0i64..20, (i64::MIN + 1)..=i64::MAX];
    let fields = prop::collection::vec(expr(), 1..3);
    prop_oneof![
        n.clone().prop_map(PipeKind::Head),
        n.prop_map(PipeKind::Tail),
        expr().prop_map(PipeKind::Filter),
        fields.clone().prop_map(PipeKind::Unique),
        fields.clone().prop_map(PipeKind::UniqueCount),
        prop::collection::vec(expr(), 0..3).prop_map(PipeKind::Count),
        fields.prop_map(PipeKind::Sort),
    ]
    .prop_map(|kind| Pipe { kind, span: sp() })
}

fn query() -> impl Strategy<Value = Query> {
    let body = prop_oneof![
        2 => event_query().prop_map(QueryBody::Event),
        2 => (
            keys(2),
            prop::option::of(timespan()),
            prop::collection::vec(stage(), 1..4),
            prop::option::of(stage()),
        )
            .prop_map(|(by, maxspan, stages, until)| QueryBody::Sequence(Sequence {
                by,
                maxspan,
                stages,
                until,
                span: sp(),
            })),
        1 => (keys(2), prop::collection::vec(stage(), 1..4)).prop_map(|(by, stages)| {
            QueryBody::Sample(Sample {
                by,
                stages,
                span: sp(),
            })
        }),
    ];
    (body, prop::collection::vec(pipe(), 0..3)).prop_map(|(body, pipes)| Query {
        body,
        pipes,
        span: sp(),
    })
}

/// Run a property in a thread with a large stack: building deeply nested
/// proptest value trees recurses far more than the parser does (the parser
/// itself is fine on the default stack; see `query_depth_is_modest`).
fn run_big_stack<S: Strategy + 'static>(
    strategy: fn() -> S,
    cases: u32,
    test: impl Fn(S::Value) -> Result<(), TestCaseError> + Send + 'static,
) where
    S::Value: std::fmt::Debug,
{
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let config = ProptestConfig {
                cases,
                failure_persistence: None,
                ..ProptestConfig::default()
            };
            let mut runner = proptest::test_runner::TestRunner::new(config);
            if let Err(e) = runner.run(&strategy(), test) {
                panic!("{e}");
            }
        })
        .expect("spawn test thread")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

#[test]
fn printed_query_parses_to_the_same_tree() {
    run_big_stack(query, 1000, |q| {
        let text = q.to_string();
        let back = match parse(&text) {
            Ok(back) => back,
            Err(d) => {
                return Err(TestCaseError::fail(format!(
                    "printed query does not parse: {} at {:?}\n--- text ---\n{text}\n--- tree ---\n{q:#?}",
                    d.message, d.span
                )));
            }
        };
        prop_assert_eq!(&back, &q, "round trip changed the tree; printed:\n{}", text);
        prop_assert_eq!(back.to_string(), text, "printing is not idempotent");
        Ok(())
    });
}

#[test]
fn printed_expression_parses_to_the_same_tree() {
    run_big_stack(expr, 1000, |e| {
        let text = e.to_string();
        match ferret_eql::parse_expr(&text) {
            Ok(back) => prop_assert_eq!(back, e, "printed: {}", text),
            Err(d) => {
                return Err(TestCaseError::fail(format!(
                    "does not parse: {}\n{text}",
                    d.message
                )))
            }
        }
        Ok(())
    });
}

/// The generated trees stay well inside the parser's nesting limits, and
/// the parser handles them on an ordinary test-thread stack: generate on a
/// big stack, then parse here.
#[test]
fn query_depth_is_modest() {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let strategy = query();
            for _ in 0..200 {
                let q = strategy.new_tree(&mut runner).expect("tree").current();
                tx.send(q.to_string()).expect("send");
            }
        })
        .expect("spawn")
        .join()
        .expect("generator");
    let mut parsed = 0;
    for text in rx {
        parse(&text).unwrap_or_else(|d| panic!("{}: {text}", d.message));
        parsed += 1;
    }
    assert_eq!(parsed, 200);
}
