fn main() {
    let q = std::env::args().nth(1).unwrap();
    match ferret_eql::parse(&q) {
        Ok(a) => println!("{a:#?}"),
        Err(d) => print!("{}", ferret_eql::render(&[d], "q", &q, 0, false)),
    }
}
