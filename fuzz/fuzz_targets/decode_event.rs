//! Fuzz target for event input: any bytes, read as an input file (NDJSON or
//! JSON array, gzip or not, detected as the reader does), must never panic
//! the reader, the full decoder, the projected decoder, field-path
//! resolution or timestamp parsing, and the full and projected decoders
//! must accept and reject the same records and agree on projected fields.

#![no_main]

use ferret_event::{
    decode_bytes, event_timestamp, parse_timestamp_str, FieldPath, Input, Limits, Projection,
    RawBatch, RawItem, ReadStats, Reader, Segment,
};
use libfuzzer_sys::fuzz_target;

fn paths() -> Vec<FieldPath> {
    vec![
        FieldPath::dotted("@timestamp"),
        FieldPath::dotted("event.category"),
        FieldPath::dotted("process.parent.name"),
        FieldPath::dotted("a.b"),
        FieldPath::new(vec![
            Segment::Key("process".into()),
            Segment::Key("args".into()),
            Segment::Index(0),
        ]),
    ]
}

fuzz_target!(|data: &[u8]| {
    let paths = paths();
    let projection = Projection::new(&paths);
    let ts = FieldPath::dotted("@timestamp");
    // Tiny limits so batch boundaries and the record cap are exercised.
    let limits = Limits {
        max_record_bytes: 4096,
        batch_records: 3,
        batch_bytes: 256,
    };
    let mut reader = Reader::new(vec![Input::stream(
        "fuzz",
        std::io::Cursor::new(data.to_vec()),
    )])
    .with_limits(limits);
    let mut batch = RawBatch::new();
    let mut stats = ReadStats::default();
    let mut entries = 0u64;
    while reader.next_raw_batch(&mut batch) {
        for i in 0..batch.len() {
            entries += 1;
            let full = batch.decode(i);
            stats.record(&full);
            if let RawItem::Record(rec) = batch.get(i) {
                let projected = projection.decode(rec);
                match (&full, &projected) {
                    (Ok(f), Ok(p)) => {
                        for path in &paths {
                            let mut a = Vec::new();
                            f.for_each(path, &mut |v| a.push(v.clone()));
                            let mut b = Vec::new();
                            p.for_each(path, &mut |v| b.push(v.clone()));
                            assert_eq!(a, b, "projection changed {path:?}");
                        }
                    }
                    (Err(f), Err(p)) => assert_eq!(f.reason, p.reason),
                    _ => panic!("full and projected decoders disagree"),
                }
            }
            if let Ok(event) = full {
                let _ = event_timestamp(&event.doc, &ts);
            }
        }
    }
    assert_eq!(stats.events + stats.skipped_total(), entries);
    // The decoders and the timestamp parser straight on the bytes.
    let _ = decode_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(t) = parse_timestamp_str(text) {
            let _ = t.to_rfc3339();
        }
    }
});
