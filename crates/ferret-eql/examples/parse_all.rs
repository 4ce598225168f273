//! Parse every corpus query N times (profiling aid).
#[path = "../tests/common/mod.rs"]
mod common;
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let qs: Vec<&str> = common::corpus_eql_rules()
        .iter()
        .map(|r| r.query.as_str())
        .collect();
    let t = std::time::Instant::now();
    let mut ok = 0;
    for _ in 0..n {
        for q in &qs {
            ok += ferret_eql::parse(q).is_ok() as usize;
        }
    }
    eprintln!("{ok} ok, {:?} per pass", t.elapsed() / n as u32);
}
