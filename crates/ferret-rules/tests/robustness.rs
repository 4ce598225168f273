//! Damaged rule files never panic the loader: fixture files are truncated
//! at every few bytes and mutated pseudo-randomly (a fixed seed, so failures
//! reproduce), then loaded, analysed and rendered. Each result must be a
//! rule, an unsupported rule or an error with a position inside the file.

use std::path::{Path, PathBuf};

fn fixtures() -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"));
    let mut out = Vec::new();
    for sub in ["behavior", "kibana"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            out.push((f, text));
        }
    }
    out
}

fn exercise(path: &Path, text: &str) {
    ferret_rules::fuzz_check::check_text(path, text);
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn truncated_files_do_not_panic() {
    for (path, text) in fixtures() {
        let mut cut = 0;
        while cut < text.len() {
            if text.is_char_boundary(cut) {
                exercise(&path, &text[..cut]);
            }
            cut += 7;
        }
    }
}

#[test]
fn mutated_files_do_not_panic() {
    const INTERESTING: &[u8] = b"\"'\\[]{}=\n,:u#\t0 ";
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for (path, text) in fixtures() {
        for _ in 0..400 {
            let mut bytes = text.clone().into_bytes();
            for _ in 0..1 + rng.next() % 4 {
                let at = (rng.next() % bytes.len() as u64) as usize;
                match rng.next() % 3 {
                    0 => bytes[at] = INTERESTING[(rng.next() % INTERESTING.len() as u64) as usize],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(
                        at,
                        INTERESTING[(rng.next() % INTERESTING.len() as u64) as usize],
                    ),
                }
            }
            let mutated = String::from_utf8_lossy(&bytes).into_owned();
            exercise(&path, &mutated);
        }
    }
}

#[test]
fn selector_byte_picks_the_format() {
    // Odd first byte: NDJSON; a JSON rule line loads as a rule there.
    let line = br#"{"rule_id":"a","name":"A","type":"eql","language":"eql","severity":"low","risk_score":1,"query":"any where true"}"#;
    let mut data = vec![1u8];
    data.extend_from_slice(line);
    ferret_rules::fuzz_check::check_bytes(&data);
    ferret_rules::fuzz_check::check_bytes(&[]);
    data[0] = 0;
    ferret_rules::fuzz_check::check_bytes(&data);
}
