//! Test inputs shared by the JSON readers' property tests: JSON *text*,
//! not values, so duplicate keys, escapes, odd numbers, whitespace and
//! text that is not JSON at all reach the code under test.

use proptest::prelude::*;

/// Objects (other values are wrapped as `{"a": …}`) in many spellings.
pub(crate) fn json_texts() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "null",
        "true",
        "false",
        "0",
        "-0",
        "7",
        "-12",
        "1.5",
        "-0.25",
        "1e3",
        "1E-2",
        "2.5e+10",
        "1e400",
        "-1e400",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1234567890123456789",
        "12345678901234567890123",
        "\"\"",
        "\"a\"",
        "\"a.b\"",
        "\"\\n\"",
        "\"\\u00e9x\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud800\"",
        "\"é\"",
        "\"a\\\"b\"",
        "\"\\/\\\\\"",
        // The edges of serde_json's own encoding: numbers it writes
        // otherwise, its short escapes and `\u` forms, DEL (written
        // raw), a raw control character, and text that is not JSON.
        "1.0",
        "-0.0",
        "01",
        "123456789012345678",
        "\"\\n\\t\\r\\b\\f\"",
        "\"\\u0001\"",
        "\"é\u{7f}\"",
        "\"\u{1}\"",
        "tru",
        "",
    ])
    .prop_map(String::from);
    leaf.prop_recursive(5, 48, 5, |inner| {
        let ws = prop::sample::select(vec!["", "", " ", "\n\t"]);
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..4), ws.clone())
                .prop_map(|(items, ws)| format!("[{ws}{}{ws}]", items.join(","))),
            (
                prop::collection::vec(
                    (
                        prop::sample::select(vec!["a", "b", "c", "a.b", "b.c", "", "\\u0061"]),
                        inner
                    ),
                    0..5
                ),
                ws
            )
                .prop_map(|(members, ws)| {
                    let members: Vec<String> = members
                        .iter()
                        .map(|(k, v)| format!("{ws}\"{k}\"{ws}:{ws}{v}"))
                        .collect();
                    format!("{{{}{ws}}}", members.join(","))
                }),
        ]
    })
    .prop_map(|t| {
        if t.starts_with('{') {
            t
        } else {
            format!("{{\"a\":{t}}}")
        }
    })
}
