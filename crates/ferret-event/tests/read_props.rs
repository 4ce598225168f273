//! Property tests for the reader: arbitrary bytes never panic it, and on
//! NDJSON every non-blank, non-comment line is accounted for exactly once
//! (an event or a skip), whatever the batch size and whether gzipped.

use std::io::Write;

use ferret_event::{Event, Input, Limits, ReadStats, Reader, Skip};
use proptest::prelude::*;

fn read(bytes: Vec<u8>, limits: Limits) -> (Vec<Event>, Vec<Skip>, ReadStats) {
    let mut reader =
        Reader::new(vec![Input::stream("p", std::io::Cursor::new(bytes))]).with_limits(limits);
    let mut events = Vec::new();
    let mut skips: Vec<Skip> = Vec::new();
    let mut batch = Vec::new();
    while reader.next_batch(&mut batch, &mut skips) {
        events.append(&mut batch);
    }
    (events, skips, reader.stats().clone())
}

/// Delivers its bytes in reads of the given sizes (cycled), as pipes do.
struct Chunky {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl std::io::Read for Chunky {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self.sizes[self.turn % self.sizes.len()].max(1);
        self.turn += 1;
        let n = want.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn read_chunky(bytes: Vec<u8>, sizes: Vec<usize>) -> (Vec<Event>, Vec<Skip>) {
    let mut skips: Vec<Skip> = Vec::new();
    let input = Input::stream(
        "p",
        Chunky {
            data: bytes,
            pos: 0,
            sizes,
            turn: 0,
        },
    );
    let (events, _) = ferret_event::read_all(vec![input], &mut skips);
    (events, skips)
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Lines that yield a record: not blank, not a `//` comment (after leading
/// spaces, tabs and CRs).
fn record_lines(text: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let first = line.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\r'));
        if let Some(p) = first {
            if !line[p..].starts_with(b"//") {
                out.push(i as u64 + 1);
            }
        }
    }
    out
}

/// One NDJSON line: a valid event, a mutation of one, or junk.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let valid = (any::<i64>(), "[a-z]{0,8}").prop_map(|(n, s)| {
        format!("{{\"n\":{n},\"s\":\"{s}\",\"a\":[1,{{\"b\":null}}]}}").into_bytes()
    });
    let mutated = (
        (any::<i64>(), "[a-z]{0,8}").prop_map(|(n, s)| format!("{{\"n\":{n},\"s\":\"{s}\"}}")),
        any::<prop::sample::Index>(),
        any::<u8>(),
    )
        .prop_map(|(s, at, b)| {
            let mut v = s.into_bytes();
            let i = at.index(v.len());
            v[i] = b;
            v
        });
    let junk = prop::collection::vec(any::<u8>(), 0..40);
    let special = prop::sample::select(vec![
        b"".to_vec(),
        b"   ".to_vec(),
        b"// comment".to_vec(),
        b"{\"a\":NaN}".to_vec(),
        b"{\"a\":1e999}".to_vec(),
        b"[1]".to_vec(),
        b"\"str\"".to_vec(),
        b"{\"a\":".to_vec(),
        b"\r".to_vec(),
        b"{}\r".to_vec(),
        b"{}\r\r".to_vec(),
        b"\xEF\xBB\xBF{}".to_vec(),
    ]);
    prop_oneof![4 => valid, 2 => mutated, 2 => junk, 1 => special].prop_map(|mut v| {
        v.retain(|&b| b != b'\n');
        v
    })
}

/// An NDJSON text whose first line is an object, so the format is NDJSON.
fn ndjson() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(line(), 0..40), any::<bool>()).prop_map(|(lines, final_nl)| {
        let mut text = b"{\"first\":true}".to_vec();
        for l in lines {
            text.push(b'\n');
            text.extend_from_slice(&l);
        }
        if final_nl {
            text.push(b'\n');
        }
        text
    })
}

fn limits(batch_records: usize, batch_bytes: usize) -> Limits {
    Limits {
        batch_records,
        batch_bytes,
        ..Limits::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ndjson_accounting_is_exact(
        text in ndjson(),
        records in 1usize..9,
        bytes in 1usize..400,
        sizes in prop::collection::vec(1usize..50, 1..5),
    ) {
        let want = record_lines(&text);
        let (events, skips, stats) = read(text.clone(), limits(records, bytes));
        // One entry per record line, in line order, nothing else.
        let mut got: Vec<u64> = events.iter().map(|e| e.origin.line)
            .chain(skips.iter().map(|s| s.origin.line))
            .collect();
        got.sort_unstable();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(stats.events as usize, events.len());
        prop_assert_eq!(stats.skipped_total() as usize, skips.len());
        prop_assert_eq!(events.len() + skips.len(), want.len());
        // Events come out in input order.
        prop_assert!(events.windows(2).all(|w| w[0].origin < w[1].origin));

        // The same through gzip, and with default batches.
        let (gz_events, gz_skips, _) = read(gz(&text), Limits::default());
        prop_assert_eq!(
            gz_events.iter().map(|e| (e.origin, e.doc.clone())).collect::<Vec<_>>(),
            events.iter().map(|e| (e.origin, e.doc.clone())).collect::<Vec<_>>()
        );
        prop_assert_eq!(gz_skips, skips.clone());

        // The same when the input arrives in small reads of any size.
        let (ch_events, ch_skips) = read_chunky(text.clone(), sizes);
        prop_assert_eq!(
            ch_events.iter().map(|e| (e.origin, e.doc.clone())).collect::<Vec<_>>(),
            events.iter().map(|e| (e.origin, e.doc.clone())).collect::<Vec<_>>()
        );
        prop_assert_eq!(ch_skips, skips);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600),
                                   records in 1usize..9) {
        let (events, skips, stats) = read(bytes.clone(), limits(records, 64));
        prop_assert_eq!(stats.events as usize, events.len());
        prop_assert_eq!(stats.skipped_total() as usize, skips.len());
        // As a JSON array file too.
        let mut arr = b"[".to_vec();
        arr.extend_from_slice(&bytes);
        let _ = read(arr, limits(records, 64));
    }

    #[test]
    fn json_array_of_objects_round_trips(
        docs in prop::collection::vec((any::<i32>(), "[ -~]{0,10}"), 0..30),
        pretty in any::<bool>(),
        records in 1usize..9,
        sizes in prop::collection::vec(1usize..50, 1..5),
        comments in prop::collection::vec(any::<bool>(), 0..64),
    ) {
        let values: Vec<serde_json::Value> = docs
            .iter()
            .map(|(n, s)| serde_json::json!({"n": n, "s": s, "nested": {"k": [s, n, {"z": [s]}]}}))
            .collect();
        let mut text = if pretty {
            serde_json::to_vec_pretty(&values).unwrap()
        } else {
            serde_json::to_vec(&values).unwrap()
        };
        if pretty {
            // `//` comments after some line ends (pretty-printed newlines
            // are never inside strings), inside and between elements.
            let mut out = Vec::new();
            let mut k = 0;
            for &b in &text {
                out.push(b);
                if b == b'\n' {
                    if comments.get(k).copied().unwrap_or(false) {
                        out.extend_from_slice(b"  // note, with [brackets] and \"quotes\n");
                    }
                    k += 1;
                }
            }
            text = out;
        }
        let (events, skips, _) = read(text.clone(), limits(records, 128));
        let (ch_events, ch_skips) = read_chunky(text, sizes);
        prop_assert_eq!(&ch_skips, &skips);
        prop_assert_eq!(
            ch_events.iter().map(|e| (e.origin, e.doc.clone())).collect::<Vec<_>>(),
            events.iter().map(|e| (e.origin, e.doc.clone())).collect::<Vec<_>>()
        );
        if values.is_empty() {
            prop_assert_eq!(skips.len(), 1);
        } else {
            prop_assert!(skips.is_empty(), "{:?}", skips);
        }
        prop_assert_eq!(events.into_iter().map(|e| e.doc).collect::<Vec<_>>(), values);
    }

    #[test]
    fn damaged_gzip_never_panics(
        text in ndjson(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let full = gz(&text);
        let want = record_lines(&text).len();
        let mut bad = full.clone();
        let i = flip.index(bad.len());
        bad[i] ^= byte | 1;
        // Damage may garble lines before the checksum catches it (so no
        // bound on what is delivered), but it must not panic and the
        // accounting must hold.
        let (events, skips, stats) = read(bad, Limits::default());
        prop_assert_eq!(stats.events as usize + stats.skipped_total() as usize,
                        events.len() + skips.len());
        let cut_at = cut.index(full.len());
        let (events, skips, _) = read(full[..cut_at].to_vec(), Limits::default());
        prop_assert!(events.len() <= want);
        if cut_at < full.len() {
            prop_assert!(!skips.is_empty());
        }
    }
}
