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

/// [`match_members`] written straight from the last event's JSON text `last`,
/// as serde_json writes the members' map (without its braces), for a writer
/// that has each event as text already: the copied fields' values are
/// copied as text, not decoded and encoded again.
///
/// `last` must be serde_json's own encoding of the event, so that every
/// value's text in it is that value's encoding too. `None` (nothing
/// written) when the text is not an object, or when two fields of the groups
/// read flatten to one key (`{"host": {"name": …}, "host.name": …}`), where
/// the map keeps one of them: the caller builds the map then.
pub fn write_match_members(
    meta: &RuleMeta,
    last: &str,
    original_time: &str,
    out: &mut String,
) -> Option<()> {
    // Every field of the groups the members read, flattened, in order; the
    // objects on the way too, for the reason's lookups (which may end on
    // one, as `field` does). One walk over the text: a group's objects are
    // read member by member, so their ends are found on the way.
    let b = last.as_bytes();
    let mut walk = FlatWalk {
        text: last,
        // Names are about as long as the text they come from.
        names: String::with_capacity(last.len()),
        fields: Vec::with_capacity(64),
        dotted: false,
    };
    let end = container_at(b, 0, b'{', b'}', |at| {
        let (key, value) = member_name(b, at)?;
        let key_text = &last[key.clone()];
        let group = READ_GROUPS
            .iter()
            .position(|g| key_text == *g || dotted_in(key_text, g));
        let end = match group {
            None => value_end(b, value)?,
            Some(group) => {
                let inside = key_text != READ_GROUPS[group];
                walk.dotted |= inside;
                let name = walk.name(None, key);
                if b.get(value) == Some(&b'{') {
                    walk.object(group, name, value)?
                } else {
                    let end = value_end(b, value)?;
                    if inside {
                        walk.push(group, name, value..end, true);
                    }
                    end
                }
            }
        };
        Some(end)
    })?;
    if end != b.len() {
        return None;
    }
    // Fields are in the order written; the map's order is by group (that
    // of `READ_GROUPS`), then as written. Only a group's own fields can
    // have a name in the group, so a lookup by name finds the same first
    // field either way.
    let FlatWalk {
        names,
        fields,
        dotted,
        ..
    } = walk;
    let name = |f: &Flat| &names[f.name.clone()];
    // One name twice: the map keeps one, `field` finds the first; both
    // are for the general way. Names are unique when no member name but a
    // group's own has a dot (an object has no name twice), as in events
    // written the nested way; otherwise they are compared.
    if dotted {
        let mut all: Vec<&str> = fields.iter().map(name).collect();
        all.sort_unstable();
        if all.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
    }
    let reason = reason_by(meta, |path| {
        let group = READ_GROUPS.iter().position(|g| dotted_in(path, g))?;
        let f = fields
            .iter()
            .find(|f| f.group == group && name(f) == path)?;
        let text = &last[f.text.clone()];
        match text.as_bytes() {
            // A string without escapes is its text: most of what the reason
            // reads, not worth a parse.
            [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => {
                Some(Value::String(text[1..text.len() - 1].to_string()))
            }
            _ => serde_json::from_str::<Value>(text).ok(),
        }
    });
    out.push_str("\"kibana.alert.reason\":");
    out.push_str(&serde_json::to_string(&reason).ok()?);
    out.push_str(",\"kibana.alert.original_time\":");
    out.push_str(&serde_json::to_string(original_time).ok()?);
    for group in (0..READ_GROUPS.len()).filter(|&g| COPIED_GROUPS.contains(&READ_GROUPS[g])) {
        for f in fields.iter().filter(|f| f.leaf && f.group == group) {
            out.push_str(",\"");
            out.push_str(name(f));
            out.push_str("\":");
            out.push_str(&last[f.text.clone()]);
        }
    }
    Some(())
}

/// A field of the last event in [`write_match_members`]: its dotted name
/// (a range of [`FlatWalk::names`]) and value as written (escapes and
/// all; a range of the text), its group (an index into [`READ_GROUPS`])
/// and whether it is a leaf (not an object).
struct Flat {
    name: std::ops::Range<usize>,
    text: std::ops::Range<usize>,
    group: usize,
    leaf: bool,
}

/// The flattening of an event's text by [`write_match_members`]: the
/// fields found so far, their dotted names kept in one string, and whether
/// a member name has a dot.
struct FlatWalk<'t> {
    text: &'t str,
    names: String,
    fields: Vec<Flat>,
    dotted: bool,
}

impl FlatWalk<'_> {
    /// Adds the dotted name `parent.member` (just `member` at the top),
    /// `member` being a range of the text.
    fn name(
        &mut self,
        parent: Option<std::ops::Range<usize>>,
        member: std::ops::Range<usize>,
    ) -> std::ops::Range<usize> {
        let start = self.names.len();
        if let Some(parent) = parent {
            self.names.extend_from_within(parent);
            self.names.push('.');
        }
        self.names.push_str(&self.text[member]);
        start..self.names.len()
    }

    fn push(
        &mut self,
        group: usize,
        name: std::ops::Range<usize>,
        text: std::ops::Range<usize>,
        leaf: bool,
    ) {
        self.fields.push(Flat {
            name,
            text,
            group,
            leaf,
        });
    }

    /// Flattens the object starting at `at` (named `name`): its leaves and
    /// inner objects by dotted name, then itself, as [`flatten`] does; the
    /// offset just past it.
    fn object(&mut self, group: usize, name: std::ops::Range<usize>, at: usize) -> Option<usize> {
        let text = self.text;
        let b = text.as_bytes();
        let end = container_at(b, at, b'{', b'}', |i| {
            let (member, value) = member_name(b, i)?;
            self.dotted |= text[member.clone()].contains('.');
            let path = self.name(Some(name.clone()), member);
            if b.get(value) == Some(&b'{') {
                self.object(group, path, value)
            } else {
                let end = value_end(b, value)?;
                self.push(group, path, value..end, true);
                Some(end)
            }
        })?;
        self.push(group, name, at..end, false);
        Some(end)
    }
}

/// The member whose name's opening quote is at `at`: its name as written
/// (a range, without the quotes) and where its value starts.
fn member_name(b: &[u8], at: usize) -> Option<(std::ops::Range<usize>, usize)> {
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let name_end = string_end(b, at)?;
    if b.get(name_end) != Some(&b':') {
        return None;
    }
    Some((at + 1..name_end - 1, name_end + 1))
}

/// The top-level field groups [`match_members`] reads of the last event:
/// the copied groups, and those of the fields the reason shows.
const READ_GROUPS: [&str; 7] = [
    "host",
    "user",
    "process",
    "event",
    "file",
    "source",
    "destination",
];

/// The items of the array whose text (compact JSON, as serde_json writes
/// it) is `text`, as texts; `None` if it is not one such array. Like
/// [`write_match_members`], this finds where items start and end and takes
/// the text to be valid: for a writer holding JSON it wrote itself (an
/// alert's matched events), which a validating parse would only read again.
pub fn array_items(text: &str) -> Option<Vec<&str>> {
    let mut items = Vec::new();
    let end = container_at(text.as_bytes(), 0, b'[', b']', |at| {
        let end = value_end(text.as_bytes(), at)?;
        items.push(text.get(at..end).filter(|i| !i.is_empty())?);
        Some(end)
    })?;
    (end == text.len()).then_some(items)
}

/// The container starting at `b[at]` (`open` … `close`, entries separated
/// by commas), each entry read by `entry` from where it starts (giving
/// where it ends); the offset just past the container.
fn container_at(
    b: &[u8],
    at: usize,
    open: u8,
    close: u8,
    mut entry: impl FnMut(usize) -> Option<usize>,
) -> Option<usize> {
    if b.get(at) != Some(&open) {
        return None;
    }
    let mut at = at + 1;
    if b.get(at) == Some(&close) {
        return Some(at + 1);
    }
    loop {
        let end = entry(at)?;
        match b.get(end) {
            Some(b',') => at = end + 1,
            Some(&c) if c == close => return Some(end + 1),
            _ => return None,
        }
    }
}

/// The offset just past the string whose opening quote is at `at`.
fn string_end(b: &[u8], at: usize) -> Option<usize> {
    let mut from = at + 1;
    loop {
        let p = from + memchr::memchr2(b'"', b'\\', b.get(from..)?)?;
        if b[p] == b'"' {
            return Some(p + 1);
        }
        from = p + 2;
    }
}

/// The offset just past the value starting at `at`.
fn value_end(b: &[u8], at: usize) -> Option<usize> {
    match *b.get(at)? {
        b'"' => string_end(b, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match *b.get(i)? {
                    b'"' => {
                        i = string_end(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => Some(
            at + b[at..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']'))
                .unwrap_or(b.len() - at),
        ),
    }
}

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
        Value::Array(meta.threat.entries()),
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
        } else if dotted_in(key, group) {
            match value {
                Value::Object(inner) => flatten(key, inner, doc),
                other => {
                    doc.insert(key.clone(), other.clone());
                }
            }
        }
    }
}

/// Whether `key` is a dotted key inside `group` (`"host.name"` in `host`).
fn dotted_in(key: &str, group: &str) -> bool {
    key.strip_prefix(group)
        .is_some_and(|rest| rest.starts_with('.'))
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
fn text_of(v: &Value) -> Option<String> {
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
/// query and EQL rules: `"<category> event with process P, parent process
/// Q, file F, source A:P, destination B:Q, by U on H created <severity>
/// alert <name>."` Each part appears only when the event has the field; "with"
/// only when at least one of process/parent/file/source/destination does.
pub fn reason(meta: &RuleMeta, event: Option<&Value>) -> String {
    reason_by(meta, |path| event.and_then(|e| field(e, path)).cloned())
}

/// [`reason`] with the event's fields given by `field_of` (a dotted path's
/// value, if the event has one).
fn reason_by(meta: &RuleMeta, field_of: impl Fn(&str) -> Option<Value>) -> String {
    let text = |path: &str| field_of(path).as_ref().and_then(text_of);
    let mut s = String::new();
    if let Some(cat) = text("event.category") {
        s.push_str(&cat);
        s.push(' ');
    }
    s.push_str("event");
    let mut parts = Vec::new();
    if let Some(p) = text("process.name") {
        parts.push(format!("process {p}"));
    }
    if let Some(p) = text("process.parent.name") {
        parts.push(format!("parent process {p}"));
    }
    if let Some(f) = text("file.name") {
        parts.push(format!("file {f}"));
    }
    for (side, label) in [("source", "source"), ("destination", "destination")] {
        if let Some(addr) = text(&format!("{side}.ip")).or_else(|| text(&format!("{side}.address")))
        {
            match text(&format!("{side}.port")) {
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
    if let Some(u) = text("user.name") {
        s.push_str(" by ");
        s.push_str(&u);
    }
    if let Some(h) = text("host.name") {
        s.push_str(" on ");
        s.push_str(&h);
    }
    s.push_str(&format!(" created {} alert {}.", meta.severity, meta.name));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn meta() -> RuleMeta {
        let mut m = RuleMeta::new("f3818c85", "Suspicious Network Connection via systemd");
        m.rule_type = "eql".into();
        m.language = Some("eql".into());
        m.severity = "medium".into();
        m.risk_score = 47;
        m.threat = vec![
            json!({"framework": "MITRE ATT&CK", "tactic": {"id": "TA0003", "name": "Persistence"}}),
        ]
        .into();
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

    /// The members as the general path writes them: the map's JSON
    /// without its braces.
    fn members_by_map(m: &RuleMeta, last: &Value) -> String {
        let mut map = Map::new();
        match_members(m, Some(last), "t", &mut map);
        let text = serde_json::to_string(&map).unwrap();
        text[1..text.len() - 1].to_string()
    }

    fn members_by_text(m: &RuleMeta, last: &Value) -> Option<String> {
        let mut out = String::new();
        write_match_members(m, &serde_json::to_string(last).unwrap(), "t", &mut out)?;
        Some(out)
    }

    #[test]
    fn members_written_from_text_are_the_maps() {
        let m = meta();
        for text in [
            r#"{"@timestamp":"x","agent":{"id":"a"},"event":{"category":["process"]},"process":{"name":"python3","parent":{"name":"systemd"},"args":["a",{"b":1}],"x":{}},"processes":1,"user":{"name":"root"},"host":{"name":"web-01","ip":["10.0.0.1"]},"hostile":true}"#,
            r#"{"process":{"parent.name":"init"},"process.pid":7,"source":{"ip":"1.2.3.4"},"sourcey":{"ip":"x"},"destination.port":80,"destination":{"ip":"::1"}}"#,
            r#"{"file.name":"f","host":"flat","user":{"na\"me":"q\u0001","é":1.5e300},"event.category":"iam","x":{"event":{"category":"no"}}}"#,
            r#"{"source":{"ip":null,"address":"h","port":0},"host":{"name":""}}"#,
            r#"{}"#,
        ] {
            let last: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                members_by_text(&m, &last),
                Some(members_by_map(&m, &last)),
                "{text}"
            );
        }
        // Two fields flattening to one key, or not an object: left to the map.
        for text in [
            r#"{"host":{"name":"a"},"host.name":"b"}"#,
            r#"{"process":{"parent.name":"a","parent":{"name":"b"}}}"#,
            r#"{"file":{"name":"a"},"file.name":"b"}"#,
            // An object and a field of one name: `field` finds the object
            // for the reason ("on" no host), the flat fields the leaf.
            r#"{"host.name":{},"host":{"name":"h"}}"#,
        ] {
            let last: Value = serde_json::from_str(text).unwrap();
            assert_eq!(members_by_text(&m, &last), None, "{text}");
        }
        let mut out = String::new();
        assert!(write_match_members(&m, "[1]", "t", &mut out).is_none());
        assert!(write_match_members(&m, "{\"host\":1} x", "t", &mut out).is_none());
        assert!(out.is_empty());
    }

    #[test]
    fn array_items_are_the_items_serde_json_finds() {
        for text in [
            "[]",
            "[null]",
            r#"[{"a":[1,{"b":"]"}],"c":"x\"]"},null,{"d":{}}]"#,
            r#"["a,b",2.5e10,true,[],{}]"#,
        ] {
            let raw: Vec<&serde_json::value::RawValue> = serde_json::from_str(text).unwrap();
            let expected: Vec<&str> = raw.iter().map(|r| r.get()).collect();
            assert_eq!(array_items(text), Some(expected), "{text}");
        }
        // Not arrays, or not ended where they must: no items (what is
        // between the delimiters is not checked: `[1 2]` is one item).
        for text in [
            "", "{}", "[1,]", "[1] ", "[,1]", "[\"x]", "[[1]", "[\"\\", "[{\"a\\",
        ] {
            assert_eq!(array_items(text), None, "{text:?}");
        }
        let mut out = String::new();
        for text in ["{\"\\", "{\"host\":\"a\\", "{\"host\":{\"\\"] {
            assert!(
                write_match_members(&meta(), text, "t", &mut out).is_none(),
                "{text:?}"
            );
        }
    }

    fn event_value() -> impl Strategy<Value = Value> {
        let name = prop::sample::select(vec![
            "host",
            "host.name",
            "user",
            "process",
            "process.parent",
            "process.name",
            "parent",
            "name",
            "event",
            "category",
            "file",
            "source",
            "ip",
            "port",
            "address",
            "destination",
            "agent",
            "hostile",
            "na\"me",
            "é",
            "",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-c\"\\\\\u{1}é ]{0,4}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 40, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::vec((name.clone(), inner), 0..6).prop_map(|members| {
                    Value::Object(
                        members
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    fn leaf_names(prefix: &str, object: &Map<String, Value>, out: &mut Vec<String>) {
        for (k, v) in object {
            let name = format!("{prefix}.{k}");
            if let Value::Object(inner) = v {
                leaf_names(&name, inner, out);
            }
            out.push(name);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn array_items_of_written_arrays(items in prop::collection::vec(event_value(), 0..4)) {
            let texts: Vec<String> = items.iter().map(|v| v.to_string()).collect();
            let text = format!("[{}]", texts.join(","));
            let found = array_items(&text);
            proptest::prop_assert_eq!(
                found,
                Some(texts.iter().map(String::as_str).collect::<Vec<_>>())
            );
        }

        /// Text that is not what the scanners expect gives `None` or some
        /// split, never a panic.
        #[test]
        fn broken_text_does_not_panic(text in "[\\[{]?([\\[\\]{}\":,\\\\ ]|host|user|process|name|\\.|1|é){0,40}") {
            let _ = array_items(&text);
            let mut out = String::new();
            let _ = write_match_members(&meta(), &text, "t", &mut out);
        }

        #[test]
        fn members_from_text_agree_with_the_map(last in event_value()) {
            let m = meta();
            if let Some(text) = members_by_text(&m, &last) {
                proptest::prop_assert_eq!(text, members_by_map(&m, &last));
            } else {
                // Only a name (of a field or an object) read twice sends
                // the alert the general way.
                let mut names = Vec::new();
                if let Value::Object(top) = &last {
                    for group in READ_GROUPS {
                        for (key, value) in top {
                            let inside = key.len() > group.len()
                                && key.starts_with(group)
                                && key.as_bytes()[group.len()] == b'.';
                            match value {
                                Value::Object(o) if key == group || inside => {
                                    names.push(key.clone());
                                    leaf_names(key, o, &mut names)
                                }
                                _ if inside => names.push(key.clone()),
                                _ => {}
                            }
                        }
                    }
                }
                let all = names.len();
                names.sort();
                names.dedup();
                proptest::prop_assert!(!last.is_object() || names.len() < all, "{last}");
            }
        }
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
