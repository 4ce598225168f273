//! Kibana's rule export: NDJSON, one rule object per line, as written by
//! Security → Rules → Export (or `POST /api/detection_engine/rules/_export`).
//!
//! Lines that are not rules are skipped on purpose: the trailing export
//! summary (`{"exported_count": …}`), and the exception lists, exception
//! items and action connectors an export can carry (objects with no
//! `rule_id`). Blank lines are skipped. A line that is not JSON, or a rule
//! object missing a required field (`rule_id`, `name`, `type`, `severity`,
//! `risk_score`; `query` for EQL), is an error at that line and the other
//! lines still load. Diagnostics in a query point into the NDJSON line,
//! escapes (`\n`, `\"`) accounted for.

use crate::escape::{self, Dialect};
use crate::rule::{LoadError, QueryMap, Rule, RuleMeta, RuleSource, SourceKind, Unsupported};
use crate::Loaded;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::path::Path;

#[derive(Deserialize)]
struct KibanaRule<'a> {
    rule_id: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    rule_type: Option<String>,
    language: Option<String>,
    #[serde(borrow)]
    query: Option<&'a RawValue>,
    severity: Option<String>,
    risk_score: Option<i64>,
    index: Option<Vec<String>>,
    from: Option<String>,
    interval: Option<String>,
    max_signals: Option<u64>,
    tags: Option<Vec<String>>,
    threat: Option<Vec<Value>>,
    timestamp_override: Option<String>,
    event_category_override: Option<String>,
    tiebreaker_field: Option<String>,
    building_block_type: Option<String>,
    description: Option<String>,
    version: Option<Value>,
    filters: Option<Vec<Value>>,
    alert_suppression: Option<Value>,
    /// Exported rules carry `"enabled"`; kept only to document that it is
    /// read and deliberately ignored (ferret runs whatever it is given).
    #[allow(dead_code)]
    enabled: Option<bool>,
}

/// Loads every rule of an NDJSON export whose text is `text`.
pub(crate) fn load(path: &Path, text: &str) -> Vec<Loaded> {
    let mut out = Vec::new();
    let mut line_start = 0;
    for (idx, raw_line) in text.split_inclusive('\n').enumerate() {
        let mut start = line_start;
        line_start += raw_line.len();
        let mut line = raw_line.trim_end_matches(['\n', '\r']);
        // Exports saved by Windows editors may begin with a byte-order mark.
        if idx == 0 {
            if let Some(rest) = line.strip_prefix('\u{feff}') {
                line = rest;
                start += '\u{feff}'.len_utf8();
            }
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some(l) = load_line(path, text, line, start, idx + 1) {
            out.push(l);
        }
    }
    out
}

fn load_line(path: &Path, text: &str, line: &str, start: usize, line_no: usize) -> Option<Loaded> {
    let err = |code, msg: String, span: std::ops::Range<usize>| {
        Loaded::Error(LoadError::new(
            path.to_path_buf(),
            code,
            msg,
            Some(text),
            Some(span),
        ))
    };
    // First as untyped JSON, to tell rules from the other kinds of lines and
    // to report syntax errors; then typed, for field-type errors.
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            let at = start + e.column().saturating_sub(1).min(line.len());
            return Some(err(
                "json-syntax",
                format!("invalid JSON: {}", strip_pos(&e)),
                at..at,
            ));
        }
    };
    let obj = match value.as_object() {
        Some(o) => o,
        None => {
            return Some(err(
                "invalid-field",
                "expected a JSON object (a Kibana rule) on this line".into(),
                start..start,
            ))
        }
    };
    if obj.contains_key("exported_count") || obj.contains_key("exported_rules_count") {
        return None;
    }
    if !obj.contains_key("rule_id") {
        return None;
    }
    let rule: KibanaRule = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => {
            let at = start + e.column().saturating_sub(1).min(line.len());
            return Some(err("invalid-field", strip_pos(&e), at..at));
        }
    };
    let rule_id = rule.rule_id.clone().unwrap_or_default();
    let missing = |field: &str| {
        let mut e = LoadError::new(
            path.to_path_buf(),
            "missing-field",
            format!("rule object has no `{field}`"),
            Some(text),
            Some(start..start),
        );
        e.rule_id = Some(rule_id.clone());
        e.name = rule.name.clone();
        Some(Loaded::Error(e))
    };
    let Some(name) = rule.name.clone() else {
        return missing("name");
    };
    let mut meta = RuleMeta::new(rule_id.clone(), name);
    let Some(t) = rule.rule_type.clone() else {
        return missing("type");
    };
    meta.rule_type = t;
    meta.language = rule.language.clone();
    let Some(sev) = rule.severity.clone() else {
        return missing("severity");
    };
    meta.severity = sev;
    let Some(risk) = rule.risk_score else {
        return missing("risk_score");
    };
    meta.risk_score = risk;
    meta.index = rule.index.clone().unwrap_or_default();
    meta.from = rule.from.clone();
    meta.interval = rule.interval.clone();
    meta.max_signals = rule.max_signals;
    meta.tags = rule.tags.clone().unwrap_or_default();
    meta.threat = rule.threat.clone().unwrap_or_default().into();
    meta.timestamp_override = rule.timestamp_override.clone();
    meta.event_category_override = rule.event_category_override.clone();
    meta.tiebreaker_field = rule.tiebreaker_field.clone();
    meta.building_block_type = rule.building_block_type.clone();
    meta.description = rule.description.clone();
    meta.version = rule.version.clone();

    let source = RuleSource {
        path: path.to_path_buf(),
        kind: SourceKind::KibanaExport,
        line: line_no,
    };
    let unsupported = |meta, reason: &str| {
        Some(Loaded::Unsupported(Box::new(Unsupported {
            meta,
            source: source.clone(),
            reason: reason.to_string(),
        })))
    };
    if let Some(reason) = crate::unsupported_reason(&meta) {
        return unsupported(meta, &reason);
    }
    if rule.filters.as_ref().is_some_and(|f| !f.is_empty()) {
        return unsupported(meta, "rule filters not supported yet");
    }
    if rule
        .alert_suppression
        .as_ref()
        .is_some_and(|v| !v.is_null())
    {
        return unsupported(meta, "alert suppression not supported yet");
    }
    let Some(raw) = rule.query else {
        return missing("query");
    };
    let raw_text = raw.get();
    // RawValue borrows from `line`, so its address gives its position.
    let value_start = start + (raw_text.as_ptr() as usize - line.as_ptr() as usize);
    let query: String = match serde_json::from_str(raw_text) {
        Ok(q) => q,
        Err(_) => {
            let mut e = LoadError::new(
                path.to_path_buf(),
                "invalid-field",
                "`query` is not a string",
                Some(text),
                Some(value_start..value_start),
            );
            e.rule_id = Some(meta.rule_id.clone());
            e.name = Some(meta.name.clone());
            return Some(Loaded::Error(e));
        }
    };
    let body = &raw_text[1..raw_text.len() - 1];
    let query_map = match escape::decode(body, value_start + 1, Dialect::Json) {
        Some((decoded, map)) if decoded == query => map,
        // Cannot happen for valid JSON; point at the value if it does.
        _ => QueryMap::verbatim(value_start),
    };
    Some(Loaded::Rule(Box::new(Rule {
        meta,
        query_offset: query_map.start(),
        query,
        query_map,
        source,
    })))
}

/// serde_json appends " at line L column C"; the position is reported
/// separately, relative to the file.
fn strip_pos(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::line_col;

    #[test]
    fn loads_rules_skips_summary_and_lists() {
        let text = concat!(
            r#"{"rule_id":"a","name":"A","type":"eql","language":"eql","severity":"high","risk_score":73,"query":"process where\n  name == \"x\"","threat":[{"framework":"MITRE ATT&CK","tactic":{"id":"TA0002","name":"Execution","reference":"r"},"technique":[]}],"index":["logs-*"],"max_signals":100}"#,
            "\n",
            r#"{"rule_id":"b","name":"B","type":"query","language":"kuery","severity":"low","risk_score":21,"query":"a:b"}"#,
            "\n\n",
            r#"{"list_id":"endpoint_list","type":"endpoint","name":"Endpoint Security Exception List"}"#,
            "\n",
            r#"{"exported_count":2,"exported_rules_count":2,"missing_rules":[],"missing_rules_count":0}"#,
            "\n"
        );
        let loaded = load(Path::new("e.ndjson"), text);
        assert_eq!(loaded.len(), 2);
        let Loaded::Rule(r) = &loaded[0] else {
            panic!("rule a")
        };
        assert_eq!(r.query, "process where\n  name == \"x\"");
        assert_eq!(r.source.line, 1);
        assert_eq!(r.meta.tactics(), ["Execution"]);
        let q = r.query.find("name").unwrap();
        let f = r.file_offset(q).unwrap();
        assert_eq!(&text[f..f + 4], "name");
        assert_eq!(line_col(text, f).0, 1);
        let Loaded::Unsupported(u) = &loaded[1] else {
            panic!("rule b")
        };
        assert_eq!(u.reason, "language kuery not supported yet");
        assert_eq!(u.source.line, 2);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let text = "\u{feff}{\"rule_id\":\"a\",\"name\":\"A\",\"type\":\"eql\",\"language\":\"eql\",\"severity\":\"low\",\"risk_score\":1,\"query\":\"any where true\"}\n";
        let loaded = load(Path::new("e.ndjson"), text);
        let Loaded::Rule(r) = &loaded[0] else {
            panic!("BOM line is a rule")
        };
        assert_eq!(&text[r.query_offset.unwrap()..][..3], "any");
    }

    #[test]
    fn bad_line_is_an_error_and_others_load() {
        let text = "{\"rule_id\":\"a\",\n{\"rule_id\":\"c\",\"name\":\"C\",\"type\":\"eql\",\"language\":\"eql\",\"severity\":\"low\",\"risk_score\":1,\"query\":\"any where true\"}\n{\"rule_id\":\"d\",\"name\":\"D\",\"type\":\"eql\",\"language\":\"eql\",\"severity\":\"low\",\"risk_score\":1}\n";
        let loaded = load(Path::new("e.ndjson"), text);
        assert_eq!(loaded.len(), 3);
        let Loaded::Error(e) = &loaded[0] else {
            panic!()
        };
        assert_eq!((e.code, e.line), ("json-syntax", Some(1)));
        assert!(matches!(&loaded[1], Loaded::Rule(_)));
        let Loaded::Error(e) = &loaded[2] else {
            panic!()
        };
        assert_eq!(
            (e.code, e.line, e.column),
            ("missing-field", Some(3), Some(1))
        );
        assert_eq!(e.rule_id.as_deref(), Some("d"));
    }
}
