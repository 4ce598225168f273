//! Times loading rule paths (no query parsing): `cargo run --release -p
//! ferret-rules --example load_time -- PATH…`. Prints counts and the best of
//! five wall-clock times, for judging start-up cost (issue 5, W4).

use ferret_rules::{RuleFilter, RuleSet};
use std::time::Instant;

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let mut best = f64::MAX;
    let mut counts = (0, 0, 0);
    for _ in 0..5 {
        let t = Instant::now();
        let set = RuleSet::load(&paths, &RuleFilter::default());
        best = best.min(t.elapsed().as_secs_f64());
        counts = (set.rules.len(), set.unsupported.len(), set.errors.len());
    }
    println!(
        "{} rules, {} unsupported, {} errors; best load {:.1} ms",
        counts.0,
        counts.1,
        counts.2,
        best * 1e3
    );
}
