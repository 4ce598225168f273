fn main() {
    let what = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let h = std::thread::Builder::new().stack_size(2 << 20).spawn(move || {
        match what.as_str() {
            "paren" => { let s = format!("process where {}a{}", "(".repeat(n), ")".repeat(n)); println!("{:?}", ferret_eql::parse(&s).is_ok()); }
            "chain" => { let s = format!("process where {}", vec!["a == 1"; n].join(" or ")); let q = ferret_eql::parse(&s).unwrap(); println!("parsed"); let p = q.to_string(); println!("printed"); let q2 = ferret_eql::parse(&p).unwrap(); println!("eq {}", q2 == q); drop(q); println!("dropped"); }
            _ => {}
        }
    }).unwrap();
    h.join().unwrap();
}
