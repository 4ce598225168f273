//! Kibana-shaped alert documents.
//!
//! One alert is a flat JSON object with the dotted keys Kibana writes into its
//! `.alerts-security.alerts-*` indices, so ferret's alerts can be indexed and
//! queried next to Kibana's own: `@timestamp`, `kibana.alert.rule.*`,
//! `kibana.alert.severity`, `kibana.alert.risk_score`,
//! `kibana.alert.reason`, `kibana.alert.original_time`, the `host.*`,
//! `user.*` and `process.*` fields of the last matched event (flattened to
//! dotted keys, as Kibana's alert documents carry them), and ferret's own
//! `ferret.events` (every matched event in order; `{"missing": true}` for a
//! missing-event stage) and `ferret.join_keys`.
//!
//! This is a pure function of the rule's metadata and one match: the engine
//! supplies the events, join keys and times; nothing here reads a clock.

use crate::rule::RuleMeta;
use serde_json::{Map, Value};

/// One match of a rule, as the engine reports it.
#[derive(Clone, Copy, Debug)]
pub struct AlertMatch<'a> {
    /// The matched events in order; `None` for a missing-event stage.
    pub events: &'a [Option<&'a Value>],
    /// The join-key values of a sequence or sample; `None` for a plain event
    /// query (no `ferret.join_keys` key is written then).
    pub join_keys: Option<&'a [Value]>,
    /// Alert time, written as `@timestamp`: the last matched event's time.
    pub timestamp: &'a str,
    /// Written as `kibana.alert.original_time`: the time of the first matched
    /// event (for a single event the same as `timestamp`), so a sequence's
    /// alert shows both ends of the match.
    pub original_time: &'a str,
}

/// The field groups copied from the last event, as Kibana copies the source
/// event's ECS fields into the alert.
const COPIED_GROUPS: [&str; 3] = ["host", "user", "process"];

/// Builds the alert document for one match of the rule `meta`.
pub fn build_alert(meta: &RuleMeta, m: &AlertMatch<'_>) -> Map<String, Value> {
    let last = m.events.iter().rev().find_map(|e| *e);
    let mut doc = build_alert_head(meta, last, m.timestamp, m.original_time);
    let events: Vec<Value> = m
        .events
        .iter()
        .map(|e| match e {
            Some(doc) => (*doc).clone(),
            None => missing_event(),
        })
        .collect();
    doc.insert("ferret.events".into(), Value::Array(events));
    if let Some(keys) = m.join_keys {
        doc.insert("ferret.join_keys".into(), Value::Array(keys.to_vec()));
    }
    doc
}

/// What `ferret.events` shows for a missing-event stage.
pub fn missing_event() -> Value {
    serde_json::json!({ "missing": true })
}

/// The alert document without its last two keys, `ferret.events` and
/// `ferret.join_keys` (which [`build_alert`] adds in that order): for a
/// writer that has the matched events as JSON text already. Of the events
/// it needs only the last one (`last`), whose groups it copies.
///
/// Its members come in three runs: `@timestamp`, then the rule's own
/// ([`rule_members`], the same for every alert of the rule), then the
/// match's ([`match_members`]); no key occurs in two runs, so a writer may
/// encode the rule's run once and splice it.
pub fn build_alert_head(
    meta: &RuleMeta,
    last: Option<&Value>,
    timestamp: &str,
    original_time: &str,
) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), Value::from(timestamp));
    rule_members(meta, &mut doc);
    match_members(meta, last, original_time, &mut doc);
    doc
}

/// The alert members that depend on the rule alone: its id, name, type,
/// tags, threat, severity, risk score and building-block type.
pub fn rule_members(meta: &RuleMeta, doc: &mut Map<String, Value>) {
    doc.insert(
        "kibana.alert.rule.rule_id".into(),
        Value::from(meta.rule_id.as_str()),
    );
    doc.insert(
        "kibana.alert.rule.name".into(),
        Value::from(meta.name.as_str()),
    );
    doc.insert(
        "kibana.alert.rule.type".into(),
        Value::from(meta.rule_type.as_str()),
    );
    if !meta.tags.is_empty() {
        doc.insert(
            "kibana.alert.rule.tags".into(),
            Value::from(meta.tags.clone()),
        );
    }
    doc.insert(
        "kibana.alert.rule.threat".into(),
        Value::Array(meta.threat.clone()),
    );
    doc.insert(
        "kibana.alert.severity".into(),
        Value::from(meta.severity.as_str()),
    );
    doc.insert(
        "kibana.alert.risk_score".into(),
        Value::from(meta.risk_score),
    );
    if let Some(bb) = &meta.building_block_type {
        doc.insert(
            "kibana.alert.building_block_type".into(),
            Value::from(bb.as_str()),
        );
    }
}

/// The alert members that depend on the match: the reason, the original
/// time and the last event's copied groups (`host.*`, `user.*`,
/// `process.*`).
pub fn match_members(
    meta: &RuleMeta,
    last: Option<&Value>,
    original_time: &str,
    doc: &mut Map<String, Value>,
) {
    doc.insert(
        "kibana.alert.reason".into(),
        Value::from(reason(meta, last)),
    );
    doc.insert(
        "kibana.alert.original_time".into(),
        Value::from(original_time),
    );
    if let Some(event) = last.and_then(Value::as_object) {
        for group in COPIED_GROUPS {
            copy_group(event, group, doc);
        }
    }
}

/// Copies every field of `group` in `event` into `doc` as flat dotted keys,
/// whether the event nests them (`{"host": {"name": …}}`) or already uses
/// dotted keys (`{"host.name": …}`). Arrays are copied whole, as Kibana does;
/// a scalar at the group name itself (`"host": "x"`, not ECS) is skipped
/// because it would clash with the object fields in an index mapping.
fn copy_group(event: &Map<String, Value>, group: &str, doc: &mut Map<String, Value>) {
    for (key, value) in event {
        if key == group {
            if let Value::Object(inner) = value {
                flatten(group, inner, doc);
            }
        } else if key.len() > group.len()
            && key.starts_with(group)
            && key.as_bytes()[group.len()] == b'.'
        {
            match value {
                Value::Object(inner) => flatten(key, inner, doc),
                other => {
                    doc.insert(key.clone(), other.clone());
                }
            }
        }
    }
}

fn flatten(prefix: &str, obj: &Map<String, Value>, doc: &mut Map<String, Value>) {
    for (k, v) in obj {
        let key = format!("{prefix}.{k}");
        match v {
            // An empty object carries no field; Kibana would not show one.
            Value::Object(inner) => flatten(&key, inner, doc),
            other => {
                doc.insert(key, other.clone());
            }
        }
    }
}

/// Looks up a dotted field in an event that may nest objects, use flat
/// dotted keys, or mix both (`{"process": {"parent.name": …}}`).
fn field<'v>(event: &'v Value, path: &str) -> Option<&'v Value> {
    let obj = event.as_object()?;
    if let Some(v) = obj.get(path) {
        return Some(v);
    }
    // Try every split point: "a.b.c" as "a" → "b.c", then "a.b" → "c".
    let mut search = 0;
    while let Some(dot) = path[search..].find('.') {
        let at = search + dot;
        if let Some(inner) = obj.get(&path[..at]) {
            if let Some(v) = field(inner, &path[at + 1..]) {
                return Some(v);
            }
        }
        search = at + 1;
    }
    None
}

/// A field's value as reason text: strings as they are, numbers and booleans
/// printed, arrays joined with ", "; empty and null values count as absent.
fn text(event: Option<&Value>, path: &str) -> Option<String> {
    let v = field(event?, path)?;
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// The one-sentence `kibana.alert.reason`, in the shape Kibana writes for
/// query and EQL rules: "<category> event with process P, parent process Q,
/// file F, source A:P, destination B:Q, by U on H created <severity> alert
/// <name>." Each part appears only when the event has the field; "with"
/// only when at least one of process/parent/file/source/destination does.
pub fn reason(meta: &RuleMeta, event: Option<&Value>) -> String {
    let mut s = String::new();
    if let Some(cat) = text(event, "event.category") {
        s.push_str(&cat);
        s.push(' ');
    }
    s.push_str("event");
    let mut parts = Vec::new();
    if let Some(p) = text(event, "process.name") {
        parts.push(format!("process {p}"));
    }
    if let Some(p) = text(event, "process.parent.name") {
        parts.push(format!("parent process {p}"));
    }
    if let Some(f) = text(event, "file.name") {
        parts.push(format!("file {f}"));
    }
    for (side, label) in [("source", "source"), ("destination", "destination")] {
        if let Some(addr) =
            text(event, &format!("{side}.ip")).or_else(|| text(event, &format!("{side}.address")))
        {
            match text(event, &format!("{side}.port")) {
                Some(port) => parts.push(format!("{label} {addr}:{port}")),
                None => parts.push(format!("{label} {addr}")),
            }
        }
    }
    if !parts.is_empty() {
        s.push_str(" with ");
        s.push_str(&parts.join(", "));
        s.push(',');
    }
    if let Some(u) = text(event, "user.name") {
        s.push_str(" by ");
        s.push_str(&u);
    }
    if let Some(h) = text(event, "host.name") {
        s.push_str(" on ");
        s.push_str(&h);
    }
    s.push_str(&format!(" created {} alert {}.", meta.severity, meta.name));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta() -> RuleMeta {
        let mut m = RuleMeta::new("f3818c85", "Suspicious Network Connection via systemd");
        m.rule_type = "eql".into();
        m.language = Some("eql".into());
        m.severity = "medium".into();
        m.risk_score = 47;
        m.threat = vec![
            json!({"framework": "MITRE ATT&CK", "tactic": {"id": "TA0003", "name": "Persistence"}}),
        ];
        m
    }

    #[test]
    fn sequence_alert_has_kibana_fields_and_last_event_copies() {
        let e1 = json!({
            "@timestamp": "2024-05-01T10:00:00Z",
            "event": {"category": ["process"], "id": "a"},
            "host": {"id": "h1", "name": "web-01"},
            "process": {"name": "python3", "entity_id": "p1", "parent": {"name": "systemd"}},
            "user": {"name": "root"}
        });
        let e2 = json!({
            "@timestamp": "2024-05-01T10:00:03Z",
            "event": {"category": ["network"], "id": "b"},
            "host": {"id": "h1", "name": "web-01", "ip": ["10.0.0.5", "fe80::1"]},
            "process": {"name": "curl", "parent": {"name": "python3", "entity_id": "p1"}},
            "user.name": "svc",
            "destination": {"ip": "203.0.113.9", "port": 443}
        });
        let keys = [json!("h1"), json!("p1")];
        let events = [Some(&e1), Some(&e2)];
        let doc = build_alert(
            &meta(),
            &AlertMatch {
                events: &events,
                join_keys: Some(&keys),
                timestamp: "2024-05-01T10:00:03Z",
                original_time: "2024-05-01T10:00:00Z",
            },
        );
        assert_eq!(doc["@timestamp"], "2024-05-01T10:00:03Z");
        assert_eq!(doc["kibana.alert.original_time"], "2024-05-01T10:00:00Z");
        assert_eq!(doc["kibana.alert.rule.rule_id"], "f3818c85");
        assert_eq!(
            doc["kibana.alert.rule.name"],
            "Suspicious Network Connection via systemd"
        );
        assert_eq!(doc["kibana.alert.rule.type"], "eql");
        assert_eq!(doc["kibana.alert.severity"], "medium");
        assert_eq!(doc["kibana.alert.risk_score"], 47);
        assert_eq!(
            doc["kibana.alert.rule.threat"][0]["tactic"]["name"],
            "Persistence"
        );
        // host/user/process come from the last event, flattened.
        assert_eq!(doc["host.name"], "web-01");
        assert_eq!(doc["host.ip"], json!(["10.0.0.5", "fe80::1"]));
        assert_eq!(doc["process.name"], "curl");
        assert_eq!(doc["process.parent.entity_id"], "p1");
        assert_eq!(doc["user.name"], "svc");
        assert!(!doc.contains_key("destination.ip"));
        assert!(!doc.contains_key("process.entity_id"));
        assert_eq!(doc["ferret.events"], json!([e1, e2]));
        assert_eq!(doc["ferret.join_keys"], json!(["h1", "p1"]));
        assert_eq!(
            doc["kibana.alert.reason"],
            "network event with process curl, parent process python3, destination 203.0.113.9:443, by svc on web-01 created medium alert Suspicious Network Connection via systemd."
        );
    }

    #[test]
    fn missing_stage_and_event_query() {
        let e = json!({"event": {"category": "process"}, "process": {"name": "sh"}});
        let events = [Some(&e), None];
        let doc = build_alert(
            &meta(),
            &AlertMatch {
                events: &events,
                join_keys: Some(&[]),
                timestamp: "t2",
                original_time: "t1",
            },
        );
        assert_eq!(doc["ferret.events"], json!([e, {"missing": true}]));
        assert_eq!(doc["ferret.join_keys"], json!([]));
        // The last *present* event supplies the copies.
        assert_eq!(doc["process.name"], "sh");

        let events = [Some(&e)];
        let doc = build_alert(
            &meta(),
            &AlertMatch {
                events: &events,
                join_keys: None,
                timestamp: "t",
                original_time: "t",
            },
        );
        assert!(!doc.contains_key("ferret.join_keys"));
    }

    #[test]
    fn reason_matches_kibana_shape() {
        let m = meta();
        let e = json!({
            "event": {"category": ["process"]},
            "process": {"name": "python3", "parent": {"name": "systemd"}},
            "user": {"name": "root"},
            "host": {"name": "web-01"}
        });
        assert_eq!(
            reason(&m, Some(&e)),
            "process event with process python3, parent process systemd, by root on web-01 created medium alert Suspicious Network Connection via systemd."
        );
        // No fields of interest: no "with".
        let e = json!({"event": {"category": "iam"}, "host.name": "dc1"});
        assert_eq!(
            reason(&m, Some(&e)),
            "iam event on dc1 created medium alert Suspicious Network Connection via systemd."
        );
        assert_eq!(
            reason(&m, None),
            "event created medium alert Suspicious Network Connection via systemd."
        );
        // Mixed nesting and source without port.
        let e = json!({"process": {"parent.name": "init"}, "source": {"ip": "1.2.3.4"}});
        assert_eq!(
            reason(&m, Some(&e)),
            "event with parent process init, source 1.2.3.4, created medium alert Suspicious Network Connection via systemd."
        );
    }
}
