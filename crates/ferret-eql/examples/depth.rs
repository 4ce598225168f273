use ferret_eql::ast::*;
fn d(e: &Expr) -> usize {
    1 + match &e.kind {
        ExprKind::Literal(_) | ExprKind::Field(_) => 0,
        ExprKind::Not(x) | ExprKind::Neg(x) => d(x),
        ExprKind::Logic { lhs, rhs, .. } | ExprKind::Compare { lhs, rhs, .. } | ExprKind::Arith { lhs, rhs, .. } => d(lhs).max(d(rhs)),
        ExprKind::Match { value, .. } => d(value),
        ExprKind::In { value, list, .. } => list.iter().map(d).max().unwrap_or(0).max(d(value)),
        ExprKind::Call { args, .. } => args.iter().map(d).max().unwrap_or(0),
    }
}
fn main() {
    let s = std::fs::read_to_string("/tmp/eql_corpus.json").unwrap();
    // crude: the file is a JSON list of {"path","query"}; use a tiny scan
    let v: Vec<(String,String)> = Vec::new();
    let _ = v;
    let mut max = 0;
    for q in s.split("{\"path\": ").skip(1) {
        let qi = q.find("\"query\": \"").unwrap() + 10;
        let mut out = String::new();
        let mut it = q[qi..].chars();
        while let Some(c) = it.next() {
            match c {
                '\\' => match it.next().unwrap() {
                    'n' => out.push('\n'), 't' => out.push('\t'), 'r' => out.push('\r'),
                    'u' => { let h: String = (0..4).map(|_| it.next().unwrap()).collect(); out.push(char::from_u32(u32::from_str_radix(&h,16).unwrap()).unwrap_or('?')); }
                    c => out.push(c),
                },
                '"' => break,
                c => out.push(c),
            }
        }
        let qq = ferret_eql::parse(&out).unwrap();
        let mut m = 0;
        match &qq.body {
            QueryBody::Event(e) => m = d(&e.condition),
            QueryBody::Sequence(s) => for st in &s.stages { m = m.max(d(&st.query.condition)); },
            QueryBody::Sample(s) => for st in &s.stages { m = m.max(d(&st.query.condition)); },
        }
        max = max.max(m);
    }
    println!("max depth {max}");
}
