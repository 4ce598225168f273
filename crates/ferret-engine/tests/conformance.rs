//! Elasticsearch's EQL conformance specs (`../shared/conformance/es-eql/`),
//! run exactly as that folder's `run.py` runs them through `ferret query`:
//! every event gets `@timestamp` = its Windows FILETIME `timestamp` as epoch
//! milliseconds, the category field is `event_type`, the tiebreaker
//! `serial_event_id` (also the id compared), `size` 50 unless the spec says
//! otherwise, bare `null`s in `join_keys` read as the string "null", and a
//! list of lists of expected ids means any one of them is accepted.
//!
//! The test prints `es-eql: P/T passed` and fails if a spec fails that is not
//! listed in `tests/conformance-known-failures.txt`, or if a listed one
//! passes (so the list never goes stale). Each listed spec carries a reason.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use ferret_engine::{PlanOptions, RunConfig};
use serde_json::Value;

const FILETIME_EPOCH_DIFF_MS: i64 = 11_644_473_600_000;

/// A JSON array file (lines starting with `//` are comments) or NDJSON.
fn load_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let stripped: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    match serde_json::from_str::<Value>(&stripped) {
        Ok(Value::Array(docs)) => docs,
        Ok(doc) => vec![doc],
        Err(_) => stripped
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("NDJSON line"))
            .collect(),
    }
}

/// `join_keys = [null]`: TOML has no null; Elasticsearch reports a null join
/// key as the string "null" (same fix as run.py).
fn fix_bare_nulls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("join_keys") && line.contains('=') {
            inside = true;
        }
        if inside {
            out.push_str(&replace_bare_null(line));
            if line.contains(']') {
                inside = false;
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

fn replace_bare_null(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if line[i..].starts_with("null") {
            let before = if i == 0 { b' ' } else { b[i - 1] };
            let after = b.get(i + 4).copied().unwrap_or(b' ');
            let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'"';
            if !word(before) && !word(after) {
                out.push_str("\"null\"");
                i += 4;
                continue;
            }
        }
        let ch = line[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

struct Spec {
    name: String,
    file: String,
    query: String,
    expected: Vec<Vec<i64>>,
    join_keys: Option<Vec<String>>,
    size: usize,
    max_samples_per_key: Option<usize>,
}

fn norm_key(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn load_specs(dir: &Path) -> Vec<Spec> {
    let mut specs = Vec::new();
    for file in [
        "test_queries.toml",
        "additional_test_queries.toml",
        "test_queries_date.toml",
    ] {
        let path = dir.join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: toml::Value =
            toml::from_str(&fix_bare_nulls(&text)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let queries = doc
            .get("queries")
            .and_then(|q| q.as_array())
            .cloned()
            .unwrap_or_default();
        for q in queries {
            let query = q
                .get("query")
                .and_then(|v| v.as_str())
                .expect("spec has a query")
                .to_string();
            let name = q
                .get("name")
                .or_else(|| q.get("note"))
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| query.chars().take(40).collect());
            let exp = q
                .get("expected_event_ids")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default();
            let as_ids = |a: &[toml::Value]| {
                a.iter()
                    .map(|v| v.as_integer().expect("integer id"))
                    .collect::<Vec<_>>()
            };
            let expected = if exp.first().is_some_and(|v| v.is_array()) {
                exp.iter()
                    .map(|v| as_ids(v.as_array().expect("list")))
                    .collect()
            } else {
                vec![as_ids(&exp)]
            };
            let join_keys = q.get("join_keys").and_then(|v| v.as_array()).map(|a| {
                a.iter()
                    .map(|k| match k {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Boolean(b) => b.to_string(),
                        other => other.to_string(),
                    })
                    .collect()
            });
            specs.push(Spec {
                name,
                file: file.to_string(),
                query: query.trim().to_string(),
                expected,
                join_keys,
                size: q
                    .get("size")
                    .and_then(|v| v.as_integer())
                    .map_or(50, |n| n as usize),
                max_samples_per_key: q
                    .get("max_samples_per_key")
                    .and_then(|v| v.as_integer())
                    .map(|n| n as usize),
            });
        }
    }
    specs
}

/// `name | reason` lines; `#` starts a comment line.
fn load_known_failures() -> BTreeMap<String, String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance-known-failures.txt"
    );
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, reason) = line
            .split_once('|')
            .unwrap_or_else(|| panic!("known-failures line without `| reason`: {line}"));
        assert!(
            !reason.trim().is_empty(),
            "known failure {name} has no reason"
        );
        out.insert(name.trim().to_string(), reason.trim().to_string());
    }
    out
}

#[test]
fn es_eql_conformance() {
    let dir = common::shared_dir().join("conformance/es-eql");
    let mut docs = load_docs(&dir.join("test_data.json"));
    for d in &mut docs {
        let ft = d
            .get("timestamp")
            .and_then(Value::as_i64)
            .expect("every test event has a timestamp");
        let ms = ft.div_euclid(10_000) - FILETIME_EPOCH_DIFF_MS;
        d.as_object_mut()
            .expect("object")
            .insert("@timestamp".into(), Value::from(ms));
    }
    let events = common::events(docs);
    let opts = PlanOptions {
        category_field: "event_type".into(),
        field_types: None,
    };
    let specs = load_specs(&dir);
    let known = load_known_failures();
    let only = std::env::var("CONFORMANCE_ONLY").ok();

    let mut passed = 0;
    let mut total = 0;
    let mut unexpected_fail = Vec::new();
    let mut unexpected_pass = Vec::new();
    for spec in &specs {
        if only.as_deref().is_some_and(|o| o != spec.name) {
            continue;
        }
        total += 1;
        let config = RunConfig {
            timestamp_field: "@timestamp".into(),
            tiebreaker_field: Some("serial_event_id".into()),
            size: Some(spec.size),
            max_samples_per_key: spec.max_samples_per_key.unwrap_or(1),
            ..RunConfig::default()
        };
        let result = common::try_run_query(&spec.query, &opts, &config, &events);
        let (ok, detail) = match result {
            Err(e) => (false, e),
            Ok(out) => {
                let ids: Vec<i64> = common::ids(&out.hits, "serial_event_id")
                    .iter()
                    .map(|v| v.as_i64().unwrap_or(i64::MIN))
                    .collect();
                let keys: Vec<String> = out
                    .hits
                    .iter()
                    .flat_map(|h| h.join_keys.iter().flatten())
                    .map(|k| norm_key(&k.to_json()))
                    .collect();
                let mut ok = spec.expected.contains(&ids);
                let mut detail = format!("expected {:?}\n  got      {:?}", spec.expected, ids);
                if ok {
                    if let Some(want) = &spec.join_keys {
                        ok = &keys == want;
                        detail = format!("join keys {keys:?}, expected {want:?}");
                    }
                }
                (ok, detail)
            }
        };
        let listed = known.contains_key(&spec.name);
        if ok {
            passed += 1;
            if listed {
                unexpected_pass.push(spec.name.clone());
            }
        } else if !listed {
            unexpected_fail.push(format!(
                "FAIL {} ({})\n  query: {}\n  {}",
                spec.name,
                spec.file,
                spec.query.split_whitespace().collect::<Vec<_>>().join(" "),
                detail
            ));
        }
    }
    // Written to the stderr handle, not through `println!`, so the count is
    // shown even though the test harness captures a passing test's output.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "es-eql: {passed}/{total} passed");
    let names: std::collections::HashSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let stale: Vec<&String> = known
        .keys()
        .filter(|k| !names.contains(k.as_str()))
        .collect();
    assert!(
        stale.is_empty(),
        "known failures not in the suite: {stale:?}"
    );
    assert!(
        unexpected_fail.is_empty(),
        "{} spec(s) failed that are not known failures:\n{}",
        unexpected_fail.len(),
        unexpected_fail.join("\n")
    );
    assert!(
        unexpected_pass.is_empty(),
        "listed as known failures but now pass (remove them from the list): {unexpected_pass:?}"
    );
}
