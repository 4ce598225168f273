//! The fuzz body (`ferret_eql::check::check_source`: no panic, valid spans,
//! printer round trip) over thousands of inputs in plain `cargo test`, so CI
//! checks the property without nightly or libFuzzer: byte-level mutations
//! of corpus queries, and random token soup from an EQL vocabulary.

mod common;

use ferret_eql::check::{check_bytes, check_source};
use proptest::prelude::*;

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SNIPPETS: &[&[u8]] = &[
    b"(",
    b")",
    b"[",
    b"]",
    b"![",
    b"\"",
    b"\"\"\"",
    b"'",
    b"`",
    b"?",
    b"~",
    b"\\",
    b"/*",
    b"*/",
    b"//",
    b"\n",
    b" and ",
    b" or ",
    b" not ",
    b" in ",
    b" in~ ",
    b" : ",
    b" like~ ",
    b" regex ",
    b"==",
    b"!=",
    b"<=",
    b"=",
    b"-",
    b"*",
    b"%",
    b".",
    b",",
    b"|",
    b" | head 1",
    b" by x",
    b" with runs=2",
    b" until ",
    b" with maxspan=1s",
    b"sequence ",
    b"sample by a ",
    b"\\u{1F600}",
    b"\xc3\xa9",
    b"0",
    b"1.5e3",
    b"99999999999999999999",
    b"length(",
    b"startsWith~(",
    b" as e0",
    b"@timestamp",
    b"[0]",
];

fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut v = src.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(4) {
            0 if !v.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(v.len());
                v.drain(at.min(end)..end);
            }
            1 => {
                let s = SNIPPETS[rng.below(SNIPPETS.len())];
                v.splice(at..at, s.iter().copied());
            }
            2 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] = (rng.next() & 0x7f) as u8;
            }
            _ => {
                // duplicate a slice (nesting, repeated operators)
                if !v.is_empty() {
                    let s = rng.below(v.len());
                    let e = (s + 1 + rng.below(16)).min(v.len());
                    let piece = v[s..e].to_vec();
                    v.splice(at..at, piece);
                }
            }
        }
    }
    v
}

#[test]
fn mutated_corpus_queries_never_break_the_properties() {
    let rules = common::corpus_eql_rules();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut checked = 0;
    // Every corpus query as is, then 4 mutants of each: ~5,400 inputs.
    for r in rules {
        check_source(&r.query);
        for _ in 0..4 {
            check_bytes(&mutate(&mut rng, r.query.as_bytes()));
            checked += 1;
        }
    }
    assert!(checked >= 4000);
}

#[test]
fn hostile_inputs() {
    for src in [
        "",
        " ",
        "\"",
        "\"\"\"",
        "\"\"\"\"\"\"\"\"",
        "`",
        "``",
        "/*",
        "/* /* */",
        "?",
        "![",
        "sequence",
        "sequence by",
        "sequence [",
        "process where",
        "process where x in",
        "process where x in (",
        "process where f(",
        "process where x : (",
        "process where \"\\u{110000}\"",
        "process where \"\\u{}\"",
        "process where \"\\u{D800}\"",
        "process where -9223372036854775808",
        "process where x[99999999999999999999]",
        "process where é == \"é\"",
        "any where true | head",
        "any where true | tail -9223372036854775807",
        "sequence [a where true] with runs=-9223372036854775807 [b where true]",
    ] {
        check_source(src);
    }
    check_bytes(&[0xff, 0xfe, b'"']);
}

/// Words and symbols the token-soup strategy strings together.
const VOCAB: &[&str] = &[
    "process",
    "any",
    "where",
    "sequence",
    "sample",
    "by",
    "with",
    "maxspan",
    "=",
    "5s",
    "runs",
    "2",
    "until",
    "[",
    "]",
    "![",
    "(",
    ")",
    ",",
    "|",
    "head",
    "tail",
    "filter",
    "unique",
    "count",
    "sort",
    "and",
    "or",
    "not",
    "in",
    "in~",
    ":",
    "like",
    "like~",
    "regex",
    "regex~",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "true",
    "false",
    "null",
    "1",
    "2.5",
    "\"a*\"",
    "\"b\"",
    "\"\"\"r\\\"\"\"",
    "x",
    "process.name",
    "?y.z",
    "`q q`",
    "a[0]",
    "length",
    "startsWith~",
    "concat",
    "as",
    "e0",
    "e0.f",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    #[test]
    fn token_soup_never_breaks_the_properties(words in prop::collection::vec(0..VOCAB.len(), 0..40)) {
        let src: Vec<&str> = words.iter().map(|&i| VOCAB[i]).collect();
        check_source(&src.join(" "));
    }

    #[test]
    fn well_formed_prefix_plus_soup(words in prop::collection::vec(0..VOCAB.len(), 0..25)) {
        let tail: Vec<&str> = words.iter().map(|&i| VOCAB[i]).collect();
        check_source(&format!("process where {}", tail.join(" ")));
    }
}
