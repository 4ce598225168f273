//! Parsing speed over every EQL query of the shared detection-rules corpus
//! (issue 2: "well under 100 ms"). Queries are loaded before timing.
//!
//! `cargo bench -p ferret-eql --bench parse_corpus`

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../tests/common/mod.rs"]
mod common;

fn bench(c: &mut Criterion) {
    let queries: Vec<&str> = common::corpus_eql_rules()
        .iter()
        .map(|r| r.query.as_str())
        .collect();
    assert_eq!(queries.len(), 1081);
    let bytes: usize = queries.iter().map(|q| q.len()).sum();
    eprintln!("{} queries, {} bytes", queries.len(), bytes);
    let mut g = c.benchmark_group("corpus");
    g.bench_function("parse_all_1081", |b| {
        b.iter(|| {
            for q in &queries {
                std::hint::black_box(ferret_eql::parse(std::hint::black_box(q)).is_ok());
            }
        })
    });
    g.bench_function("analyze_all_1081", |b| {
        b.iter(|| {
            for q in &queries {
                std::hint::black_box(
                    ferret_eql::analyze(std::hint::black_box(q))
                        .diagnostics
                        .len(),
                );
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
