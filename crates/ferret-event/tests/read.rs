//! Reader tests: formats, origins, and every kind of bad input of the
//! hardening issue (each is skipped with file, line and reason, and reading
//! goes on).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ferret_event::{
    decode_bytes, event_timestamp, read_all, FieldPath, Input, Limits, Origin, RawBatch, RawItem,
    ReadStats, Reader, Skip, SkipReason, SkipReporter, Value,
};
use serde_json::json;

/// A fresh directory under the system temp dir for one test.
fn tmpdir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "ferret-event-{}-{}-{}",
        std::process::id(),
        name,
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Reads one in-memory input.
fn run(bytes: &[u8]) -> (Vec<ferret_event::Event>, Vec<Skip>, ReadStats) {
    run_limits(bytes, Limits::default())
}

fn run_limits(bytes: &[u8], limits: Limits) -> (Vec<ferret_event::Event>, Vec<Skip>, ReadStats) {
    let mut reader = Reader::new(vec![Input::stream(
        "mem",
        std::io::Cursor::new(bytes.to_vec()),
    )])
    .with_limits(limits);
    let mut events = Vec::new();
    let mut skips: Vec<Skip> = Vec::new();
    let mut batch = Vec::new();
    while reader.next_batch(&mut batch, &mut skips) {
        events.append(&mut batch);
    }
    (events, skips, reader.stats().clone())
}

fn lines(events: &[ferret_event::Event]) -> Vec<u64> {
    events.iter().map(|e| e.origin.line).collect()
}

fn reasons(skips: &[Skip]) -> Vec<(u64, SkipReason)> {
    skips.iter().map(|s| (s.origin.line, s.reason)).collect()
}

fn shared_dir() -> PathBuf {
    match std::env::var_os("FERRET_SHARED") {
        Some(p) => PathBuf::from(p),
        None => Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")).to_path_buf(),
    }
}

#[test]
fn ndjson_lines_origins_blank_crlf_bom_comments() {
    let text = b"\xEF\xBB\xBF{\"a\":1}\r\n\n   \n// a comment\n  {\"a\":2}\n\t\r\n{\"a\":3}";
    let (events, skips, stats) = run(text);
    assert!(skips.is_empty(), "{skips:?}");
    assert_eq!(lines(&events), vec![1, 5, 7]);
    assert_eq!(events[2].doc, json!({"a": 3}));
    assert_eq!(stats.events, 3);
    assert_eq!(stats.inputs, 1);
}

#[test]
fn json_array_pretty_with_comments() {
    let text = b"// exported events\n[\n  {\n    \"a\": 1,\n    \"s\": \"x // not a comment, ] }\"\n  },\n  // between\n  {\"a\": 2}, {\"a\": 3}\n]\n";
    let (events, skips, _) = run(text);
    assert!(skips.is_empty(), "{skips:?}");
    assert_eq!(lines(&events), vec![3, 8, 8]);
    assert_eq!(events[0].doc["s"], json!("x // not a comment, ] }"));
    assert_eq!(events[2].doc, json!({"a": 3}));
}

#[test]
fn json_array_comment_inside_an_element_and_escapes() {
    let text = b"[{\"a\": \"q\\\"]\", // trailing note\n \"b\": [1, {\"c\": \"\\\\\"}]}]";
    let (events, skips, _) = run(text);
    assert!(skips.is_empty(), "{skips:?}");
    assert_eq!(events[0].doc, json!({"a": "q\"]", "b": [1, {"c": "\\"}]}));
}

#[test]
fn es_conformance_test_data_reads_whole() {
    let path = shared_dir().join("conformance/es-eql/test_data.json");
    assert!(
        path.exists(),
        "shared data missing at {} (set FERRET_SHARED)",
        path.display()
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let expected: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut skips: Vec<Skip> = Vec::new();
    let (events, stats) = read_all(vec![Input::from_arg(&path)], &mut skips);
    assert!(skips.is_empty(), "{skips:?}");
    assert_eq!(events.len(), expected.len());
    assert_eq!(stats.events as usize, expected.len());
    for (e, want) in events.iter().zip(&expected) {
        assert_eq!(&e.doc, want);
    }
    // Each origin is the line where the element's `{` is.
    let text_lines: Vec<&str> = text.lines().collect();
    for e in &events {
        assert_eq!(text_lines[e.origin.line as usize - 1].trim(), "{");
    }
}

#[test]
fn compact_single_line_array_streams_in_small_batches() {
    let docs: Vec<Value> = (0..1000).map(|i| json!({"i": i})).collect();
    let text = serde_json::to_vec(&docs).unwrap();
    let limits = Limits {
        batch_records: 7,
        ..Limits::default()
    };
    let mut reader = Reader::new(vec![Input::stream("one-line", std::io::Cursor::new(text))])
        .with_limits(limits);
    let mut batch = RawBatch::new();
    let mut n = 0;
    let mut batches = 0;
    while reader.next_raw_batch(&mut batch) {
        assert!(batch.len() <= 7);
        batches += 1;
        for i in 0..batch.len() {
            let e = batch.decode(i).unwrap();
            assert_eq!(e.doc, json!({"i": n}));
            assert_eq!(e.origin, Origin { file: 0, line: 1 });
            n += 1;
        }
    }
    assert_eq!(n, 1000);
    assert!(batches >= 1000 / 7);
}

#[test]
fn batches_of_any_size_give_the_same_result() {
    let mut text = Vec::new();
    for i in 0..200 {
        if i % 17 == 0 {
            text.extend_from_slice(b"not json\n");
        } else {
            writeln!(text, "{{\"i\":{i}}}").unwrap();
        }
    }
    let (want_e, want_s, _) = run(&text);
    for (records, bytes) in [(1, 1 << 20), (3, 1 << 20), (1000, 10), (4096, 64)] {
        let (e, s, _) = run_limits(
            &text,
            Limits {
                batch_records: records,
                batch_bytes: bytes,
                ..Limits::default()
            },
        );
        assert_eq!(lines(&e), lines(&want_e));
        assert_eq!(s, want_s);
    }
}

#[test]
fn raw_batches_decode_in_any_order() {
    let text = b"{\"a\":1}\nbad\n{\"a\":3}\n";
    let mut reader = Reader::new(vec![Input::stream(
        "x",
        std::io::Cursor::new(text.to_vec()),
    )]);
    let mut batch = RawBatch::new();
    assert!(reader.next_raw_batch(&mut batch));
    assert_eq!(batch.len(), 3);
    match batch.get(1) {
        RawItem::Record(r) => {
            assert_eq!(r.bytes, b"bad");
            assert_eq!(r.origin.line, 2);
            assert_eq!(&**r.file, "x");
        }
        RawItem::Skip(s) => panic!("unexpected {s}"),
    }
    // Decoding is independent per entry (what a thread pool needs).
    let backwards: Vec<_> = (0..3).rev().map(|i| batch.decode(i)).collect();
    let forwards: Vec<_> = (0..3).map(|i| batch.decode(i)).collect();
    assert_eq!(
        backwards
            .iter()
            .rev()
            .map(|r| r.is_ok())
            .collect::<Vec<_>>(),
        forwards.iter().map(|r| r.is_ok()).collect::<Vec<_>>()
    );
    let mut stats = ReadStats::default();
    for r in &forwards {
        stats.record(r);
    }
    assert_eq!(stats.events, 2);
    assert_eq!(stats.skipped_for(SkipReason::InvalidJson), 1);
    assert!(!reader.next_raw_batch(&mut batch));
    assert!(batch.is_empty());
}

#[test]
fn invalid_json_line_is_skipped_and_reading_goes_on() {
    let (events, skips, stats) =
        run(b"{\"a\":1}\n{\"a\":\n{\"a\" 2}\n{\"a\":3} trailing\n{\"a\":4}\n");
    assert_eq!(lines(&events), vec![1, 5]);
    assert_eq!(
        reasons(&skips),
        vec![
            (2, SkipReason::Truncated),
            (3, SkipReason::InvalidJson),
            (4, SkipReason::InvalidJson)
        ]
    );
    assert_eq!(
        skips[1].to_string(),
        "mem:3: invalid-json: expected `:` at column 6"
    );
    assert_eq!(stats.skipped_total(), 3);
}

#[test]
fn invalid_utf8_is_skipped() {
    let (events, skips, _) = run(b"{\"a\":\"\xff\xfe\"}\n{\"a\":2}\n\xc3\x28\n");
    assert_eq!(lines(&events), vec![2]);
    assert_eq!(
        reasons(&skips),
        vec![(1, SkipReason::InvalidUtf8), (3, SkipReason::InvalidUtf8)]
    );
    assert!(skips[0].message.contains("byte 7"), "{}", skips[0].message);
}

#[test]
fn binary_junk_line_is_one_skip() {
    let mut text = b"{\"a\":1}\n".to_vec();
    text.extend((0u8..=255).filter(|&b| b != b'\n'));
    text.extend_from_slice(b"\n{\"a\":2}\n");
    let (events, skips, _) = run(&text);
    assert_eq!(lines(&events), vec![1, 3]);
    assert_eq!(skips.len(), 1);
    assert_eq!(skips[0].origin.line, 2);
}

#[test]
fn empty_inputs_are_reported() {
    for text in [
        &b""[..],
        b"  \n\n\t",
        b"// only a comment\n",
        b"[]",
        b"[\n]\n",
    ] {
        let (events, skips, stats) = run(text);
        assert!(events.is_empty());
        assert_eq!(
            reasons(&skips),
            vec![(0, SkipReason::EmptyInput)],
            "{text:?}"
        );
        assert_eq!(stats.skipped_for(SkipReason::EmptyInput), 1);
        assert_eq!(skips[0].to_string().split(": ").nth(1), Some("empty-input"));
    }
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(20_000), "]".repeat(20_000));
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(20_000), "}".repeat(20_000));
    let unclosed = "[".repeat(20_000);
    let text = format!("{deep}\n{deep_obj}\n{{\"ok\":1}}\n{{\"x\":{unclosed}\n");
    let (events, skips, _) = run(text.as_bytes());
    assert_eq!(lines(&events), vec![3]);
    assert_eq!(
        reasons(&skips),
        vec![
            (1, SkipReason::TooDeep),
            (2, SkipReason::TooDeep),
            (4, SkipReason::TooDeep)
        ]
    );
    // The same inside a JSON array file: the element scanner counts depth
    // without recursion.
    let text = format!("[{deep}, {{\"ok\":1}}, {deep_obj}]");
    let (events, skips, _) = run(text.as_bytes());
    assert_eq!(events.len(), 1);
    assert_eq!(skips.len(), 2);
    assert!(skips.iter().all(|s| s.reason == SkipReason::TooDeep));
    // Just under the limit decodes, and dropping it is fine.
    let ok = format!("{}1{}", "[".repeat(126), "]".repeat(126));
    let v = decode_bytes(format!("{{\"a\":{ok}}}").as_bytes()).unwrap();
    drop(v);
}

#[test]
fn numbers_out_of_range_and_non_finite() {
    let text = b"{\"a\":1e400}\n{\"a\":-1e400}\n{\"a\":NaN}\n{\"a\":Infinity}\n{\"a\":-Infinity}\n{\"a\":123456789012345678901234567890}\n{\"a\":18446744073709551615}\n{\"a\":-9223372036854775808}\n";
    let (events, skips, _) = run(text);
    assert_eq!(
        reasons(&skips),
        vec![
            (1, SkipReason::NumberOutOfRange),
            (2, SkipReason::NumberOutOfRange),
            (3, SkipReason::NonFiniteNumber),
            (4, SkipReason::NonFiniteNumber),
            (5, SkipReason::NonFiniteNumber)
        ]
    );
    // Integers beyond 64 bits become floats (serde_json's behaviour);
    // the u64 and i64 extremes are exact.
    assert_eq!(lines(&events), vec![6, 7, 8]);
    assert!(events[0].doc["a"].is_f64());
    assert_eq!(events[1].doc["a"], json!(u64::MAX));
    assert_eq!(events[2].doc["a"], json!(i64::MIN));
}

#[test]
fn two_megabyte_string_is_fine() {
    let big = "A".repeat(2 << 20);
    let text = format!("{{\"blob\":\"{big}\"}}\n{{\"a\":2}}\n");
    let (events, skips, _) = run(text.as_bytes());
    assert!(skips.is_empty());
    assert_eq!(events[0].doc["blob"].as_str().unwrap().len(), 2 << 20);
    assert_eq!(lines(&events), vec![1, 2]);
}

#[test]
fn over_long_record_is_skipped_not_kept() {
    let limits = Limits {
        max_record_bytes: 100,
        ..Limits::default()
    };
    let long = format!("{{\"a\":\"{}\"}}", "x".repeat(500));
    let text = format!("{{\"a\":1}}\n{long}\n{{\"a\":3}}\n{long}");
    let (events, skips, _) = run_limits(text.as_bytes(), limits);
    assert_eq!(lines(&events), vec![1, 3]);
    assert_eq!(
        reasons(&skips),
        vec![(2, SkipReason::TooLarge), (4, SkipReason::TooLarge)]
    );
    let text = format!("[{{\"a\":1}},\n{long},\n{{\"a\":3}}]");
    let (events, skips, _) = run_limits(text.as_bytes(), limits);
    assert_eq!(lines(&events), vec![1, 3]);
    assert_eq!(reasons(&skips), vec![(2, SkipReason::TooLarge)]);
}

#[test]
fn valid_json_that_is_not_an_object() {
    let (events, skips, _) = run(b"{\"a\":1}\n[1,2]\n\"s\"\n42\nnull\ntrue\n{\"a\":7}\n");
    assert_eq!(lines(&events), vec![1, 7]);
    assert_eq!(skips.len(), 5);
    assert!(skips.iter().all(|s| s.reason == SkipReason::NotAnObject));
    assert_eq!(skips[0].message, "expected a JSON object, found an array");
    // In a JSON array file, a non-object element.
    let (events, skips, _) = run(b"[{\"a\":1}, 2, \"x\", {\"a\":3}]");
    assert_eq!(events.len(), 2);
    assert_eq!(skips.len(), 2);
}

#[test]
fn truncated_and_broken_arrays() {
    // Cut off inside an element: the element is truncated, and so is the array.
    let (events, skips, _) = run(b"[\n{\"a\":1},\n{\"a\":");
    assert_eq!(lines(&events), vec![2]);
    assert_eq!(
        reasons(&skips),
        vec![(3, SkipReason::Truncated), (3, SkipReason::Truncated)]
    );
    // Cut off after a complete element.
    let (events, skips, _) = run(b"[{\"a\":1},{\"a\":2}");
    assert_eq!(events.len(), 2);
    assert_eq!(reasons(&skips), vec![(1, SkipReason::Truncated)]);
    // An empty element and stray content after the array.
    let (events, skips, _) = run(b"[{\"a\":1},,{\"a\":2}]\nxyz\n");
    assert_eq!(events.len(), 2);
    assert_eq!(
        reasons(&skips),
        vec![(1, SkipReason::InvalidJson), (2, SkipReason::InvalidJson)]
    );
    // Concatenated arrays (e.g. `cat a.json b.json`) read as one stream.
    let (events, skips, _) = run(b"[{\"a\":1}]\n[{\"a\":2}]\n");
    assert!(skips.is_empty());
    assert_eq!(lines(&events), vec![1, 2]);
}

#[test]
fn gzip_single_and_multi_member() {
    let dir = tmpdir("gz");
    let a = write(&dir, "a.ndjson.gz", &gz(b"{\"a\":1}\n{\"a\":2}\n"));
    let mut multi = gz(b"{\"m\":1}\n");
    multi.extend(gz(b"{\"m\":2}\n"));
    multi.extend(gz(b"[{\"m\":3}]"));
    let b = write(&dir, "b.gz", &multi);
    // gzip is recognised by its magic, whatever the name.
    let c = write(&dir, "c.json", &gz(b"[{\"c\":1}]"));
    let mut skips: Vec<Skip> = Vec::new();
    let (events, stats) = read_all(
        vec![
            Input::from_arg(&a),
            Input::from_arg(&b),
            Input::from_arg(&c),
        ],
        &mut skips,
    );
    // The third member starts with `[` but the input is already NDJSON.
    assert_eq!(reasons(&skips), vec![(3, SkipReason::NotAnObject)]);
    let got: Vec<(u32, u64)> = events
        .iter()
        .map(|e| (e.origin.file, e.origin.line))
        .collect();
    assert_eq!(got, vec![(0, 1), (0, 2), (1, 1), (1, 2), (2, 1)]);
    assert_eq!(stats.inputs, 3);
}

#[test]
fn truncated_gzip_reports_the_line_and_stops_that_file_only() {
    let dir = tmpdir("gztrunc");
    let mut text = Vec::new();
    for i in 0..5000 {
        writeln!(text, "{{\"i\":{i},\"pad\":\"{}\"}}", "y".repeat(i % 97)).unwrap();
    }
    let full = gz(&text);
    let cut = write(&dir, "cut.ndjson.gz", &full[..full.len() / 2]);
    let next = write(&dir, "next.ndjson", b"{\"after\":1}\n");
    let mut skips: Vec<Skip> = Vec::new();
    let (events, _) = read_all(
        vec![Input::from_arg(&cut), Input::from_arg(&next)],
        &mut skips,
    );
    assert_eq!(skips.len(), 1, "{skips:?}");
    let s = &skips[0];
    assert_eq!(s.reason, SkipReason::CorruptGzip);
    let from_cut = events.iter().filter(|e| e.origin.file == 0).count() as u64;
    assert!(from_cut > 100 && from_cut < 5000);
    // Every line before the break was delivered; the break is the next line.
    assert_eq!(s.origin.line, from_cut + 1);
    assert!(s.to_string().starts_with(&format!(
        "{}:{}: corrupt-gzip: ",
        cut.display(),
        from_cut + 1
    )));
    assert_eq!(events.last().unwrap().doc, json!({"after": 1}));
}

#[test]
fn corrupt_gzip_is_reported_and_not_silent() {
    let mut text = Vec::new();
    for i in 0..2000 {
        writeln!(text, "{{\"i\":{i}}}").unwrap();
    }
    let mut bad = gz(&text);
    let n = bad.len();
    for b in &mut bad[n / 2..n / 2 + 16] {
        *b ^= 0xA5;
    }
    let (events, skips, _) = run(&bad);
    assert!(events.len() < 2000);
    assert_eq!(skips.last().unwrap().reason, SkipReason::CorruptGzip);
    // Header damage: not even a stream.
    let mut hdr = gz(&text);
    hdr[3] = 0xFF; // reserved flag bits set
    let (events, skips, _) = run(&hdr);
    assert!(events.is_empty());
    assert_eq!(skips.last().unwrap().reason, SkipReason::CorruptGzip);
}

#[test]
fn gz_name_without_gzip_data_is_reported() {
    let dir = tmpdir("gzname");
    let p = write(&dir, "plain.gz", b"{\"a\":1}\n");
    let mut skips: Vec<Skip> = Vec::new();
    let (events, _) = read_all(vec![Input::from_arg(&p)], &mut skips);
    assert!(events.is_empty());
    assert_eq!(reasons(&skips), vec![(0, SkipReason::CorruptGzip)]);
}

#[test]
fn missing_file_and_directory_do_not_stop_the_rest() {
    let dir = tmpdir("missing");
    let ok = write(&dir, "ok.ndjson", b"{\"a\":1}\n");
    let mut skips: Vec<Skip> = Vec::new();
    let (events, stats) = read_all(
        vec![
            Input::from_arg(dir.join("nope.ndjson")),
            Input::from_arg(&dir),
            Input::from_arg(&ok),
        ],
        &mut skips,
    );
    assert_eq!(
        reasons(&skips),
        vec![(0, SkipReason::Io), (0, SkipReason::Io)]
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].origin.file, 2);
    assert_eq!(stats.inputs, 3);
    assert!(skips[0]
        .to_string()
        .contains("nope.ndjson: io-error: cannot read"));
}

#[test]
fn stdin_argument_and_names() {
    assert!(matches!(Input::from_arg("-"), Input::Stdin));
    assert_eq!(Input::Stdin.name(), "<stdin>");
    assert!(matches!(Input::from_arg("a.json"), Input::Path(_)));
    let r = Reader::from_args(["a.json", "-"]);
    let names: Vec<&str> = r.file_names().iter().map(|s| &**s).collect();
    assert_eq!(names, vec!["a.json", "<stdin>"]);
}

#[test]
fn read_errors_mid_stream_are_reported() {
    /// Yields some data, then fails.
    struct Failing(std::io::Cursor<&'static [u8]>);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::other("disk on fire")),
                n => Ok(n),
            }
        }
    }
    let mut skips: Vec<Skip> = Vec::new();
    let (events, _) = read_all(
        vec![Input::stream(
            "f",
            Failing(std::io::Cursor::new(b"{\"a\":1}\n{\"a\":2}\n{\"par")),
        )],
        &mut skips,
    );
    assert_eq!(lines(&events), vec![1, 2]);
    assert_eq!(reasons(&skips), vec![(3, SkipReason::Io)]);
    assert!(skips[0].message.contains("disk on fire"));
}

#[test]
fn timestamp_check_becomes_a_skip() {
    let (events, _, _) =
        run(b"{\"@timestamp\":\"2024-01-01T00:00:00Z\"}\n{\"x\":1}\n{\"@timestamp\":\"soon\"}\n");
    let path = FieldPath::dotted("@timestamp");
    let mut stats = ReadStats::default();
    let mut skips = Vec::new();
    for e in &events {
        match event_timestamp(&e.doc, &path) {
            Ok(_) => stats.count_event(),
            Err(err) => {
                stats.count_skip(err.reason());
                skips.push(err.into_skip("mem".into(), e.origin));
            }
        }
    }
    assert_eq!(
        skips.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        vec![
            "mem:2: missing-timestamp: no `@timestamp` field".to_string(),
            "mem:3: bad-timestamp: `@timestamp` is \"soon\": not an ISO 8601 date or epoch milliseconds".to_string(),
        ]
    );
    assert_eq!(stats.skipped_for(SkipReason::MissingTimestamp), 1);
}

#[test]
fn reporter_caps_and_summarises() {
    let mut text = Vec::new();
    for i in 0..30 {
        writeln!(text, "{{\"i\":{i}}}").unwrap();
        text.extend_from_slice(b"oops\n");
    }
    let mut reader = Reader::new(vec![Input::stream(
        "dump.ndjson",
        std::io::Cursor::new(text),
    )]);
    let mut rep = SkipReporter::new(Vec::new(), 3);
    let mut batch = Vec::new();
    while reader.next_batch(&mut batch, &mut rep) {}
    assert_eq!(rep.total(), 30);
    rep.finish(reader.stats());
    let out = String::from_utf8(rep.into_inner()).unwrap();
    assert_eq!(
        out,
        "dump.ndjson:2: invalid-json: expected value at column 1\n\
         dump.ndjson:4: invalid-json: expected value at column 1\n\
         dump.ndjson:6: invalid-json: expected value at column 1\n\
         ... and 27 more skipped\n\
         30 events read from 1 input, 30 skipped (invalid-json: 30)\n"
    );
    // Nothing hidden: no "... and" line.
    let mut rep = SkipReporter::new(Vec::new(), 20);
    let stats = ReadStats {
        inputs: 2,
        events: 1,
        ..ReadStats::default()
    };
    rep.finish(&stats);
    assert_eq!(
        String::from_utf8(rep.into_inner()).unwrap(),
        "1 event read from 2 inputs, 0 skipped\n"
    );
}

#[test]
fn stats_merge() {
    let mut a = ReadStats::default();
    a.count_event();
    a.count_skip(SkipReason::TooDeep);
    let mut b = ReadStats {
        inputs: 1,
        ..ReadStats::default()
    };
    b.count_skip(SkipReason::TooDeep);
    b.count_skip(SkipReason::Io);
    a.merge(&b);
    assert_eq!(a.events, 1);
    assert_eq!(a.inputs, 1);
    assert_eq!(a.skipped_for(SkipReason::TooDeep), 2);
    assert_eq!(a.skipped_total(), 3);
}

#[test]
fn reader_and_batches_can_move_between_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Reader>();
    send::<RawBatch>();
    sync::<RawBatch>();
    send::<Skip>();
}

/// Delivers its bytes one at a time, as a slow pipe may.
struct Trickle(Vec<u8>, usize);

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.1 >= self.0.len() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[self.1];
        self.1 += 1;
        Ok(1)
    }
}

#[test]
fn one_byte_reads_detect_gzip_bom_and_format() {
    let text = b"\xEF\xBB\xBF// c\n[{\"a\":1},\n{\"a\":2}]\n".to_vec();
    for bytes in [text.clone(), gz(&text)] {
        let mut skips: Vec<Skip> = Vec::new();
        let (events, _) = read_all(vec![Input::stream("t", Trickle(bytes, 0))], &mut skips);
        assert!(skips.is_empty(), "{skips:?}");
        assert_eq!(lines(&events), vec![2, 3]);
    }
    let text = b"\xEF\xBB\xBF{\"a\":1}\r\n/x\n".to_vec();
    let mut skips: Vec<Skip> = Vec::new();
    let (events, _) = read_all(vec![Input::stream("t", Trickle(text, 0))], &mut skips);
    assert_eq!(lines(&events), vec![1]);
    assert_eq!(reasons(&skips), vec![(2, SkipReason::InvalidJson)]);
}

#[test]
fn carriage_returns_at_line_ends() {
    // Only one CR is a line ending; an empty line after a record that ends
    // in CR must not eat into that record.
    let (events, skips, _) = run(b"{\"a\":1}\r\r\n\n\r\n{\"a\":2}\r\n");
    assert!(skips.is_empty());
    assert_eq!(lines(&events), vec![1, 4]);
    let (events, skips, _) = run(b"{\"a\":1}\r\n{\"a\":2}\r");
    assert!(skips.is_empty());
    assert_eq!(lines(&events), vec![1, 2]);
}

/// Runs in a child process (see `stdin_dash_reads_standard_input`): reads
/// `-` and prints what it got.
#[test]
fn stdin_child() {
    if std::env::var_os("FERRET_EVENT_STDIN_CHILD").is_none() {
        return;
    }
    let mut skips: Vec<Skip> = Vec::new();
    let (events, _) = read_all(vec![Input::from_arg("-")], &mut skips);
    let lines: Vec<String> = events.iter().map(|e| e.origin.line.to_string()).collect();
    println!(
        "STDIN-RESULT events={} skips={}",
        lines.join(","),
        skips.len()
    );
}

#[test]
fn stdin_dash_reads_standard_input() {
    use std::process::{Command, Stdio};
    let text = b"{\"a\":1}\nbad\n{\"a\":3}\n".to_vec();
    for input in [text.clone(), gz(&text)] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "stdin_child", "--nocapture", "--test-threads=1"])
            .env("FERRET_EVENT_STDIN_CHILD", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(out.contains("STDIN-RESULT events=1,3 skips=1"), "{out}");
    }
}

#[test]
fn array_recovers_after_an_unclosed_string() {
    let text = b"[\n  {\"a\": \"abc},\n  {\"b\": 1},\n  {\"c\": 2}\n]\n";
    let (events, skips, _) = run(text);
    assert_eq!(lines(&events), vec![3, 4]);
    assert_eq!(reasons(&skips), vec![(2, SkipReason::InvalidJson)]);
    assert!(
        skips[0].message.contains("string not closed"),
        "{}",
        skips[0].message
    );
    // Broken in the middle of a pretty-printed element: the rest of that
    // element is reported too, and the next element reads fine.
    let text = b"[\n  {\n    \"a\": \"abc,\n    \"b\": 1\n  },\n  {\"c\": 2}\n]\n";
    let (events, skips, _) = run(text);
    assert_eq!(lines(&events), vec![6]);
    assert_eq!(
        reasons(&skips),
        vec![(2, SkipReason::InvalidJson), (4, SkipReason::InvalidJson)]
    );
}

#[test]
fn raw_batches_decode_projected() {
    use ferret_event::Projection;
    let text = b"{\"process\":{\"name\":\"sh\",\"pid\":1},\"x\":2}\nbad\n";
    let mut reader = Reader::new(vec![Input::stream(
        "x",
        std::io::Cursor::new(text.to_vec()),
    )]);
    let mut batch = RawBatch::new();
    assert!(reader.next_raw_batch(&mut batch));
    let proj = Projection::new(&[FieldPath::dotted("process.name")]);
    let e = batch.decode_projected(0, &proj).unwrap();
    // The values live in the event's field table, not its document.
    assert!(e.has_table());
    assert_eq!(e.values(&FieldPath::dotted("process.name")), [json!("sh")]);
    assert!(e.values(&FieldPath::dotted("process.pid")).is_empty());
    assert_eq!(e.doc, json!({}));
    assert_eq!(e.origin, Origin { file: 0, line: 1 });
    let s = batch.decode_projected(1, &proj).unwrap_err();
    assert_eq!(s, batch.decode(1).unwrap_err());
}

#[test]
fn ordering_time_and_the_timestamp_check_agree_on_nulls() {
    let path = FieldPath::dotted("@timestamp");
    let event = |doc: Value| ferret_event::Event::new(doc, Origin::default());
    // A null before the one time: the check accepts the event, and ordering
    // must see the same time, not the null.
    let e = event(json!({"@timestamp": [null, "2024-01-01T00:00:01Z"]}));
    let checked = e.timestamp(&path).expect("one non-null value");
    assert_eq!(e.first_timestamp(&path), Some(checked));
    let e = event(json!({"@timestamp": null}));
    assert!(e.timestamp(&path).is_err());
    assert_eq!(e.first_timestamp(&path), None);
}
