//! Property test for projections: on random documents (nested objects,
//! flat dotted keys, arrays), every projected path resolves to the same
//! values on the pruned document as on the full one, and a projection
//! accepts or rejects any bytes exactly as the full decoder does. Events
//! decoded with a field table resolve every projected path as the full
//! document does too.

use std::sync::Arc;

use ferret_event::{decode_bytes, Event, FieldPath, Origin, Projection, RawRecord, Segment, Value};
use proptest::prelude::*;
use serde_json::{json, Map};

/// Keys from a tiny alphabet so paths and documents overlap often; some
/// keys are dotted.
fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "a.b", "b.c", "a.b.c", ""]).prop_map(String::from)
}

fn doc() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z]{0,3}".prop_map(Value::String),
        Just(json!("2026-11-01T00:00:00.036Z")),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .prop_map(|v| match v {
        Value::Object(_) => v,
        other => json!({ "a": other }),
    })
}

fn path() -> impl Strategy<Value = FieldPath> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec!["a", "b", "c", ""]).prop_map(|k| Segment::Key(k.into())),
            1 => (0i64..3).prop_map(Segment::Index),
        ],
        1..5,
    )
    .prop_map(|mut segs| {
        // Paths start with a key, as EQL fields do.
        if matches!(segs[0], Segment::Index(_)) {
            segs[0] = Segment::Key("a".into());
        }
        FieldPath::new(segs)
    })
}

fn tabled(proj: &Projection, text: &str) -> Event {
    let file: Arc<str> = "mem".into();
    proj.decode(RawRecord {
        file: &file,
        origin: Origin::default(),
        bytes: text.as_bytes(),
    })
    .unwrap()
}

#[test]
fn tables_and_their_fallbacks() {
    let paths = [
        FieldPath::dotted("process.name"),
        FieldPath::dotted("process.args"),
        FieldPath::new(vec![
            Segment::Key("process".into()),
            Segment::Key("args".into()),
            Segment::Index(1),
        ]),
    ];
    let proj = Projection::new(&paths);
    let check = |text: &str, want_table: bool| {
        let ev = tabled(&proj, text);
        assert_eq!(ev.has_table(), want_table, "{text}");
        let full = Event::new(decode_bytes(text.as_bytes()).unwrap(), Origin::default());
        for p in &paths {
            assert_eq!(ev.values(p), full.values(p), "{text}: {p:?}");
        }
    };
    // Nested keys: a table, and the indexed path still reads the document.
    check(
        r#"{"process":{"name":"sh","args":["a",["b","c"]],"pid":1}}"#,
        true,
    );
    // A flat dotted key or a duplicate key: resolution order or last-wins
    // would differ from document order, so no table.
    check(r#"{"process":{"name":"sh"},"process.name":"bash"}"#, false);
    check(r#"{"process":{"name":"sh","name":"zsh"}}"#, false);
    check(
        r#"{"process":{"name":"sh"},"process":{"name":"zsh"}}"#,
        false,
    );
    // Not an object on the way: nothing, as in the full document.
    check(r#"{"process":"sh"}"#, true);
}

fn resolve(doc: &Value, p: &FieldPath) -> Vec<Value> {
    let mut out = Vec::new();
    p.for_each(doc, &mut |v| out.push(v.clone()));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn projected_paths_resolve_the_same(doc in doc(), paths in prop::collection::vec(path(), 0..4)) {
        let text = doc.to_string();
        let proj = Projection::new(&paths);
        let pruned = proj.decode_bytes(text.as_bytes()).unwrap();
        let full = decode_bytes(text.as_bytes()).unwrap();
        for p in &paths {
            prop_assert_eq!(resolve(&pruned, p), resolve(&full, p), "path {:?}", p);
        }
    }

    #[test]
    fn tabled_events_resolve_the_same(doc in doc(), paths in prop::collection::vec(path(), 0..4)) {
        let text = doc.to_string();
        let proj = Projection::new(&paths);
        let ev = tabled(&proj, &text);
        let full = Event::new(decode_bytes(text.as_bytes()).unwrap(), Origin::default());
        for p in &paths {
            prop_assert_eq!(ev.values(p), full.values(p), "path {:?}", p);
        }
    }

    /// A record's fields, decoded without an event, resolve every path and
    /// read every time as the full event does.
    #[test]
    fn decoded_fields_resolve_the_same(doc in doc(), paths in prop::collection::vec(path(), 0..4)) {
        let text = doc.to_string();
        let proj = Projection::new(&paths);
        let full = Event::new(decode_bytes(text.as_bytes()).unwrap(), Origin::default());
        let file: Arc<str> = "mem".into();
        let record = RawRecord { file: &file, origin: Origin::default(), bytes: text.as_bytes() };
        let read = proj.decode_fields(record, |fields| {
            paths
                .iter()
                .map(|p| {
                    let mut values = Vec::new();
                    fields.for_each(p, &mut |v| values.push(v.to_json()));
                    (values, fields.timestamp(p), fields.first_timestamp(p))
                })
                .collect::<Vec<_>>()
        });
        for (p, (values, ts, first)) in paths.iter().zip(read.unwrap()) {
            let expected: Vec<Value> = full.values(p).iter().map(|v| v.to_json()).collect();
            prop_assert_eq!(values, expected, "path {:?}", p);
            prop_assert_eq!(ts, full.timestamp(p), "path {:?}", p);
            prop_assert_eq!(first, full.first_timestamp(p), "path {:?}", p);
        }
    }

    /// Both projected decodes (the pruned document, and the tabled event
    /// the skimming reader makes where it can) accept and reject what the
    /// full decoder does, with its reasons: random bytes, documents cut
    /// anywhere, and documents with a byte replaced (a high or invalid
    /// UTF-8 byte among them).
    #[test]
    fn projection_accepts_and_rejects_like_full_decode(
        bytes in prop::collection::vec(any::<u8>(), 0..80),
        doc in doc(),
        cut in any::<prop::sample::Index>(),
        swap in (any::<prop::sample::Index>(), any::<u8>()),
    ) {
        let proj = Projection::new(&[FieldPath::dotted("a.b")]);
        let text = doc.to_string().into_bytes();
        let cut_text = text[..cut.index(text.len() + 1).min(text.len())].to_vec();
        let mut swapped = text.clone();
        if !swapped.is_empty() {
            let at = swap.0.index(swapped.len());
            swapped[at] = swap.1;
        }
        let file: Arc<str> = "mem".into();
        for input in [bytes, text, cut_text, swapped] {
            let full = decode_bytes(&input);
            let projected = proj.decode_bytes(&input);
            match (&full, &projected) {
                (Ok(_), Ok(_)) => {}
                (Err(f), Err(p)) => prop_assert_eq!(f.reason, p.reason),
                _ => prop_assert!(false, "full {:?} vs projected {:?}", full, projected),
            }
            let record = RawRecord { file: &file, origin: Origin::default(), bytes: &input };
            let tabled = proj.decode(record).map(|_| ()).map_err(|s| s.reason);
            prop_assert_eq!(&tabled, &full.as_ref().map(|_| ()).map_err(|e| e.reason));
            let fields = proj.decode_fields(record, |_| ()).map_err(|s| s.reason);
            prop_assert_eq!(fields, tabled);
        }
    }
}
