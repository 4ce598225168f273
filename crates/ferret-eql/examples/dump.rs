//! Print the AST of a query, or its rendered diagnostics:
//! `cargo run -p ferret-eql --example dump -- 'process where true'`.
fn main() {
    let Some(q) = std::env::args().nth(1) else {
        eprintln!("usage: dump '<EQL query>'");
        std::process::exit(2);
    };
    let a = ferret_eql::analyze(&q);
    if let Some(query) = &a.query {
        println!("{query:#?}\n\ncanonical: {query}");
    }
    print!(
        "{}",
        ferret_eql::render(&a.diagnostics, "query", &q, 0, true)
    );
}
