//! Parser behavior: every syntactic form, precedence, spans, limits.

use ferret_eql::ast::*;
use ferret_eql::{parse, parse_expr};

fn expr(src: &str) -> Expr {
    parse_expr(src).unwrap_or_else(|d| panic!("{src}: {d}"))
}

fn err(src: &str) -> ferret_eql::Diagnostic {
    match parse(src) {
        Ok(q) => panic!("expected an error for {src:?}, got {q:?}"),
        Err(d) => d,
    }
}

fn field(path: &[&str]) -> Expr {
    Expr {
        kind: ExprKind::Field(FieldRef {
            path: path
                .iter()
                .map(|s| PathSegment::Key(s.to_string()))
                .collect(),
            optional: false,
            span: Span::default(),
        }),
        span: Span::default(),
    }
}

#[test]
fn precedence_follows_elasticsearch() {
    // `not` binds tighter than `and`, looser than comparisons.
    let e = expr("not a == 1 and b");
    let ExprKind::Logic {
        op: LogicOp::And,
        lhs,
        ..
    } = &e.kind
    else {
        panic!("{e:?}")
    };
    let ExprKind::Not(inner) = &lhs.kind else {
        panic!()
    };
    assert!(matches!(
        inner.kind,
        ExprKind::Compare {
            op: CompareOp::Eq,
            ..
        }
    ));
    // `and` binds tighter than `or`.
    let e = expr("a or b and c");
    assert!(matches!(
        e.kind,
        ExprKind::Logic {
            op: LogicOp::Or,
            ..
        }
    ));
    // `*` binds tighter than `+`; unary minus tightest.
    let e = expr("-a * b + c");
    let ExprKind::Arith {
        op: ArithOp::Add,
        lhs,
        ..
    } = &e.kind
    else {
        panic!()
    };
    let ExprKind::Arith {
        op: ArithOp::Mul,
        lhs,
        ..
    } = &lhs.kind
    else {
        panic!()
    };
    assert!(matches!(lhs.kind, ExprKind::Neg(_)));
    // predicates attach to the primary before them.
    let e = expr("a + b in (1, 2)");
    let ExprKind::Arith { rhs, .. } = &e.kind else {
        panic!()
    };
    assert!(matches!(rhs.kind, ExprKind::In { .. }));
}

#[test]
fn all_predicates() {
    let cases: &[(&str, &str)] = &[
        ("x : \"a\"", "seq"),
        ("x like \"a*\"", "like"),
        ("x like~ (\"a*\", \"b\")", "like~"),
        ("x regex \"a.*\"", "regex"),
        ("x regex~ \"a.*\"", "regex~"),
    ];
    for (src, _) in cases {
        let e = expr(src);
        assert!(matches!(e.kind, ExprKind::Match { .. }), "{src}");
    }
    let ExprKind::Match {
        op,
        case_insensitive,
        list,
        patterns,
        ..
    } = expr("x : (\"a\", \"b\")").kind
    else {
        panic!()
    };
    assert_eq!(
        (op, case_insensitive, list, patterns.len()),
        (MatchOp::Seq, true, true, 2)
    );
    let ExprKind::Match {
        op,
        case_insensitive,
        list,
        ..
    } = expr("x like~ \"a\"").kind
    else {
        panic!()
    };
    assert_eq!((op, case_insensitive, list), (MatchOp::Like, true, false));
    for (src, ci, neg) in [
        ("x in (1)", false, false),
        ("x in~ (\"a\")", true, false),
        ("x not in (1, 2)", false, true),
        ("x not in~ (\"a\")", true, true),
    ] {
        let ExprKind::In {
            case_insensitive,
            negated,
            ..
        } = expr(src).kind
        else {
            panic!("{src}")
        };
        assert_eq!((case_insensitive, negated), (ci, neg), "{src}");
    }
}

#[test]
fn field_forms() {
    let ExprKind::Field(f) = expr("?process.args[0].`odd name`.sequence").kind else {
        panic!()
    };
    assert!(f.optional);
    assert_eq!(
        f.path,
        vec![
            PathSegment::Key("process".into()),
            PathSegment::Key("args".into()),
            PathSegment::Index(0),
            PathSegment::Key("odd name".into()),
            PathSegment::Key("sequence".into()),
        ]
    );
    assert_eq!(expr("@timestamp").kind, field(&["@timestamp"]).kind);
    assert_eq!(
        expr("event0.file.name").kind,
        field(&["event0", "file", "name"]).kind
    );
}

#[test]
fn literals() {
    assert_eq!(expr("1").kind, ExprKind::Literal(Literal::Int(1)));
    assert_eq!(
        expr("1.5e3").kind,
        ExprKind::Literal(Literal::Float(1500.0))
    );
    assert_eq!(expr("null").kind, ExprKind::Literal(Literal::Null));
    assert_eq!(expr("true").kind, ExprKind::Literal(Literal::Bool(true)));
    assert_eq!(
        expr(r#""a\tb\u{1F600}""#).kind,
        ExprKind::Literal(Literal::String("a\tb\u{1F600}".into()))
    );
    assert_eq!(
        expr(r#""""C:\Windows\*""""#).kind,
        ExprKind::Literal(Literal::String(r"C:\Windows\*".into()))
    );
}

#[test]
fn functions_and_tilde() {
    let ExprKind::Call {
        name,
        case_insensitive,
        args,
    } = expr("startsWith~(process.name, \"a\")").kind
    else {
        panic!()
    };
    assert_eq!(
        (name.name.as_str(), case_insensitive, args.len()),
        ("startsWith", true, 2)
    );
    let ExprKind::Call { name, .. } = expr("stringcontains(a, \"b\")").kind else {
        panic!()
    };
    assert_eq!(name.name, "stringcontains");
    assert!(matches!(
        expr("length(a) > 3").kind,
        ExprKind::Compare { .. }
    ));
}

#[test]
fn comments_are_ignored() {
    let q = parse("process /* c /* nested */ */ where // line\n true").unwrap();
    let QueryBody::Event(e) = q.body else {
        panic!()
    };
    assert_eq!(e.condition.kind, ExprKind::Literal(Literal::Bool(true)));
}

#[test]
fn event_query_categories() {
    let QueryBody::Event(e) = parse("any where true").unwrap().body else {
        panic!()
    };
    assert!(matches!(e.category, Category::Any(_)));
    let QueryBody::Event(e) = parse("\"my cat\" where true").unwrap().body else {
        panic!()
    };
    let Category::Named(id) = e.category else {
        panic!()
    };
    assert_eq!(id.name, "my cat");
}

#[test]
fn sequence_everything() {
    let q = parse(
        "sequence by host.id with maxspan=5m
           [process where true] by process.entity_id with runs=3 as event0
           ![file where true] by process.parent.entity_id
           [network where event0.process.name == \"x\"] by process.entity_id
         until [process where false] by process.entity_id
         | head 5 | tail 2",
    )
    .unwrap();
    let QueryBody::Sequence(s) = &q.body else {
        panic!()
    };
    assert_eq!(s.by.len(), 1);
    assert_eq!(s.maxspan.as_ref().unwrap().millis(), 300_000);
    assert_eq!(s.stages.len(), 3);
    assert_eq!(s.stages[0].runs.as_ref().unwrap().count, 3);
    assert_eq!(s.stages[0].alias.as_ref().unwrap().name, "event0");
    assert!(s.stages[1].missing);
    assert!(!s.stages[0].missing);
    assert!(s.until.is_some());
    assert_eq!(q.pipes.len(), 2);
    assert_eq!(q.pipes[0].kind, PipeKind::Head(5));
    for (unit, ms) in [
        ("ms", 7),
        ("s", 7_000),
        ("m", 420_000),
        ("h", 25_200_000),
        ("d", 604_800_000),
    ] {
        let q = parse(&format!(
            "sequence with maxspan=7{unit} [a where true] [b where true]"
        ))
        .unwrap();
        let QueryBody::Sequence(s) = q.body else {
            panic!()
        };
        assert_eq!(s.maxspan.unwrap().millis(), ms);
    }
}

#[test]
fn index_vs_next_stage() {
    // `[` after a join key starts the next stage unless an integer follows.
    let q = parse("sequence by a [x where true] by b [y where true] by c").unwrap();
    let QueryBody::Sequence(s) = q.body else {
        panic!()
    };
    assert_eq!(s.stages.len(), 2);
    assert_eq!(s.stages[0].by[0].kind, field(&["b"]).kind);
}

#[test]
fn sample_and_pipes() {
    let q = parse("sample by host.id [a where true] [b where true] | filter x > 1 | unique a, b | unique_count a | count | count a | sort a").unwrap();
    let QueryBody::Sample(s) = &q.body else {
        panic!()
    };
    assert_eq!(s.stages.len(), 2);
    let kinds: Vec<_> = q
        .pipes
        .iter()
        .map(|p| std::mem::discriminant(&p.kind))
        .collect();
    assert_eq!(kinds.len(), 6);
    assert_eq!(q.pipes[3].kind, PipeKind::Count(vec![]));
}

#[test]
fn spans_are_byte_offsets() {
    let src = "process where process.name == \"bash\"";
    let QueryBody::Event(e) = parse(src).unwrap().body else {
        panic!()
    };
    let ExprKind::Compare { lhs, rhs, .. } = &e.condition.kind else {
        panic!()
    };
    assert_eq!(&src[lhs.span.range()], "process.name");
    assert_eq!(&src[rhs.span.range()], "\"bash\"");
    assert_eq!(&src[e.condition.span.range()], "process.name == \"bash\"");
}

#[test]
fn syntax_errors_have_codes_and_positions() {
    for (src, code, at) in [
        ("process where x == 'a'", "E003", "'a'"),
        ("process x == 1", "E001", "x"),
        ("process where (a == 1", "E009", ""),
        ("process where a == ", "E001", ""),
        ("process where a = 1", "E015", "="),
        ("process where a == 1 == 2", "E014", "=="),
        (
            "sequence with maxspan=5x [a where true] [b where true]",
            "E011",
            "x",
        ),
        (
            "sequence with maxspan=5 [a where true] [b where true]",
            "E011",
            "5",
        ),
        (
            "sequence with maxspan=1.5s [a where true] [b where true]",
            "E011",
            "1.5",
        ),
        ("process where true | bogus 3", "E012", "bogus"),
        ("process where true | head x", "E013", "x"),
        ("process where \"abc", "E002", "\"abc"),
        ("process where ?\"x\"", "E004", "?\"x\""),
        ("join [a where true] [b where true]", "E016", "join"),
        (
            "sequence [a where true] with runs=1 with runs=2",
            "E017",
            "with",
        ),
        ("sequence with maxspan=5s by x [a where true]", "E017", "by"),
        ("process where where == 1", "E018", "where"),
    ] {
        let d = err(src);
        assert_eq!(d.code, code, "{src}: {d}");
        let got = &src[d.span.range()];
        if at.is_empty() {
            // End of query: right after the last token, trailing blanks aside.
            assert_eq!(d.span.start as usize, src.trim_end().len(), "{src}: {d}");
        } else {
            assert_eq!(got, at, "{src}: {d}");
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = format!(
        "process where {}a{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert_eq!(err(&src).code, "E010");
    let src = format!("process where {}a", "not ".repeat(100_000));
    assert_eq!(err(&src).code, "E010");
    let src = format!("process where {}a", "-".repeat(100_000));
    assert_eq!(err(&src).code, "E010");
    let chain = vec!["a == 1"; 100_000].join(" or ");
    assert_eq!(err(&format!("process where {chain}")).code, "E010");
}

#[test]
fn deep_but_allowed_trees_print_and_drop() {
    // Just under the limits: must parse, print and drop on a test thread's
    // default stack.
    let chain = vec!["a == 1"; 250].join(" or ");
    let q = parse(&format!("process where {chain}")).unwrap();
    let printed = q.to_string();
    assert_eq!(parse(&printed).unwrap(), q);
    let nested = format!("process where {}a{}", "(".repeat(98), ")".repeat(98));
    parse(&nested).unwrap();
}
