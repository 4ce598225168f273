//! Rule files in TOML: the elastic/detection-rules layout and the Elastic
//! Defend behavior-rule layout.
//!
//! detection-rules: `[metadata]` (creation dates, `maturity`, …) and `[rule]`
//! with `rule_id`, `name`, `type`, `language`, `query`, `severity`,
//! `risk_score`, `index`, `from`, `interval`, `max_signals`, `tags`,
//! `timestamp_override`, `event_category_override`, `building_block_type`
//! and `[[rule.threat]]`. `rule_id`, `name`, `type`, `severity` and
//! `risk_score` are required (the repository's schema requires them).
//!
//! Behavior rules (elastic/protections-artifacts `behavior/rules/*.toml`): a
//! top-level `[rule]` with `id`, `name`, `description`, `os_list`, `version`,
//! `query` (always EQL, in the endpoint dialect), followed by top-level
//! `[[actions]]`, `[[optional_actions]]`, `[[threat]]` and `[internal]`. The
//! layout is recognised by `[rule]` having `id` and no `rule_id`. Mapping
//! choices: `rule_id` = `id`; `language` = `eql`; `type` = `eql` (ferret runs
//! them as EQL rules, and Kibana alert consumers know that type; the format
//! is kept in `RuleSource::kind`); the files carry no severity or risk
//! score, so `medium`/47 are used, the defaults of Kibana's Elastic Defend
//! alert-promotion rule, unless the file states them.

use crate::escape::{self, Dialect};
use crate::rule::{
    LoadError, QueryMap, Rule, RuleMeta, RuleSource, SourceKind, Threat, Unsupported,
};
use crate::unread::{self, Shortened};
use crate::Loaded;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

#[derive(Deserialize)]
struct TomlFile {
    metadata: Option<Metadata>,
    rule: Option<Spanned<TomlRule>>,
    /// Behavior rules keep their ATT&CK mapping at the top level.
    threat: Option<Threat>,
}

#[derive(Deserialize)]
struct Metadata {
    maturity: Option<String>,
}

#[derive(Deserialize)]
struct TomlRule {
    rule_id: Option<String>,
    id: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    rule_type: Option<String>,
    language: Option<String>,
    query: Option<Spanned<String>>,
    severity: Option<String>,
    risk_score: Option<i64>,
    index: Option<Vec<String>>,
    from: Option<String>,
    interval: Option<String>,
    max_signals: Option<u64>,
    tags: Option<Vec<String>>,
    threat: Option<Threat>,
    timestamp_override: Option<String>,
    event_category_override: Option<String>,
    tiebreaker_field: Option<String>,
    building_block_type: Option<String>,
    os_list: Option<Vec<String>>,
    description: Option<String>,
    version: Option<serde_json::Value>,
    /// Extra Elasticsearch filters ANDed with the query; ferret cannot
    /// apply them, so a rule with filters is reported unsupported.
    filters: Option<Vec<IgnoredAny>>,
    /// Kibana alert suppression changes which alerts appear; not done yet.
    alert_suppression: Option<IgnoredAny>,
}

/// Loads one TOML rule file whose text is `text`.
pub(crate) fn load(path: &Path, text: &str) -> Loaded {
    let err = |code, msg: String, span| {
        Loaded::Error(LoadError::new(
            path.to_path_buf(),
            code,
            msg,
            Some(text),
            span,
        ))
    };
    // The parser sees the file without the long texts ferret never reads;
    // should that fail, the original is parsed for its error.
    let short = unread::shorten(text);
    let parsed = match toml::from_str::<TomlFile>(&short.text) {
        Err(_) if short.is_cut() => toml::from_str(text).map(|f| (f, Shortened::whole(text))),
        parsed => parsed.map(|f| (f, short)),
    };
    let (file, short) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            // `message()` is the reason without toml's own rendering of the
            // place (we render it); it may span lines, so join them.
            let msg = e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            let code = if msg.starts_with("invalid type")
                || msg.starts_with("invalid value")
                || msg.starts_with("missing field")
            {
                "invalid-field"
            } else {
                "toml-syntax"
            };
            let msg = if code == "invalid-field" {
                // Name the key: the text before `=` on the error's line.
                match e.span().and_then(|s| key_at(text, s.start)) {
                    Some(key) => format!("`{key}`: {msg}"),
                    None => msg,
                }
            } else {
                format!("invalid TOML: {msg}")
            };
            return err(code, msg, e.span());
        }
    };
    let Some(rule_sp) = file.rule else {
        return err(
            "missing-field",
            "no [rule] table: not a detection-rules or behavior rule file".into(),
            Some(0..0),
        );
    };
    let rule_span = short.original_range(rule_sp.span());
    let rule_header = find_header(text).unwrap_or(rule_span.start);
    let rule = rule_sp.into_inner();
    let missing = |field: &str| {
        err(
            "missing-field",
            format!("[rule] has no `{field}`"),
            Some(rule_header..rule_header),
        )
    };

    let behavior = rule.rule_id.is_none() && rule.id.is_some();
    let (kind, rule_id) = if behavior {
        (SourceKind::Behavior, rule.id.clone().unwrap_or_default())
    } else {
        match rule.rule_id.clone() {
            Some(id) => (SourceKind::DetectionRules, id),
            None => return missing("rule_id"),
        }
    };
    let Some(name) = rule.name.clone() else {
        return with_ids(missing("name"), &rule_id, None);
    };

    let mut meta = RuleMeta::new(rule_id.clone(), name.clone());
    meta.maturity = file.metadata.and_then(|m| m.maturity);
    if behavior {
        meta.rule_type = rule.rule_type.clone().unwrap_or_else(|| "eql".into());
        meta.language = Some(rule.language.clone().unwrap_or_else(|| "eql".into()));
        meta.severity = rule.severity.clone().unwrap_or_else(|| "medium".into());
        meta.risk_score = rule.risk_score.unwrap_or(47);
        meta.threat = file.threat.or(rule.threat).unwrap_or_default();
    } else {
        let Some(t) = rule.rule_type.clone() else {
            return with_ids(missing("type"), &rule_id, Some(&name));
        };
        meta.rule_type = t;
        meta.language = rule.language.clone();
        let Some(sev) = rule.severity.clone() else {
            return with_ids(missing("severity"), &rule_id, Some(&name));
        };
        meta.severity = sev;
        let Some(risk) = rule.risk_score else {
            return with_ids(missing("risk_score"), &rule_id, Some(&name));
        };
        meta.risk_score = risk;
        meta.threat = rule.threat.unwrap_or_default();
    }
    meta.index = rule.index.unwrap_or_default();
    meta.from = rule.from;
    meta.interval = rule.interval;
    meta.max_signals = rule.max_signals;
    meta.tags = rule.tags.unwrap_or_default();
    meta.timestamp_override = rule.timestamp_override;
    meta.event_category_override = rule.event_category_override;
    meta.tiebreaker_field = rule.tiebreaker_field;
    meta.building_block_type = rule.building_block_type;
    meta.os_list = rule.os_list.unwrap_or_default();
    meta.description = rule.description;
    meta.version = rule.version;

    let source = RuleSource {
        path: path.to_path_buf(),
        kind,
        line: 1,
    };
    if let Some(reason) = crate::unsupported_reason(&meta) {
        return Loaded::Unsupported(Box::new(Unsupported {
            meta,
            source,
            reason,
        }));
    }
    if rule.filters.as_ref().is_some_and(|f| !f.is_empty()) {
        return Loaded::Unsupported(Box::new(Unsupported {
            meta,
            source,
            reason: "rule filters not supported yet".into(),
        }));
    }
    if rule.alert_suppression.is_some() {
        return Loaded::Unsupported(Box::new(Unsupported {
            meta,
            source,
            reason: "alert suppression not supported yet".into(),
        }));
    }
    let Some(query) = rule.query else {
        return with_ids(missing("query"), &meta.rule_id, Some(&meta.name));
    };
    let span = short.original_range(query.span());
    let query = query.into_inner();
    let query_map = query_map(text, span, &query);
    Loaded::Rule(Box::new(Rule {
        meta,
        query_offset: query_map.start(),
        query,
        query_map,
        source,
    }))
}

fn with_ids(loaded: Loaded, rule_id: &str, name: Option<&str>) -> Loaded {
    match loaded {
        Loaded::Error(mut e) => {
            e.rule_id = Some(rule_id.to_string());
            e.name = name.map(str::to_string);
            Loaded::Error(e)
        }
        other => other,
    }
}

/// The key assigned on the line holding byte `offset`, if that line is a
/// plain `key = value`.
fn key_at(text: &str, offset: usize) -> Option<&str> {
    let start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let line = &text[start..];
    let key = line[..line.find('=')?].trim();
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    plain.then_some(key)
}

/// Byte offset of the `[rule]` header line, for errors about the table.
fn find_header(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if unread::is_rule_header(&line.as_bytes()[indent..]) {
            return Some(offset + indent);
        }
        offset += line.len();
    }
    None
}

/// Where the text of the `query` value starts in the file, given the span of
/// the whole TOML value (delimiters included).
///
/// Literal strings (`'…'`, `'''…'''`) are verbatim, so the query starts right
/// after the delimiter, minus the newline TOML trims after an opening `'''`.
/// Basic strings (`"…"`, `"""…"""`) are re-decoded to map every offset past
/// escapes exactly. If anything disagrees with what the TOML parser produced
/// (which would be a bug here), the map falls back to the value's first
/// character: still the right line, perhaps not the right column.
fn query_map(text: &str, span: std::ops::Range<usize>, query: &str) -> QueryMap {
    let fallback = QueryMap::verbatim(span.start);
    let Some(raw) = text.get(span.clone()) else {
        return fallback;
    };
    let (delim, multiline) = if raw.starts_with("'''") {
        ("'''", true)
    } else if raw.starts_with("\"\"\"") {
        ("\"\"\"", true)
    } else if raw.starts_with('\'') {
        ("'", false)
    } else if raw.starts_with('"') {
        ("\"", false)
    } else {
        return fallback;
    };
    if raw.len() < 2 * delim.len() || !raw.ends_with(delim) {
        return fallback;
    }
    let mut start = delim.len();
    let body_end = raw.len() - delim.len();
    if multiline {
        if raw[start..].starts_with("\r\n") {
            start += 2;
        } else if raw[start..].starts_with('\n') {
            start += 1;
        }
    }
    let body = &raw[start.min(body_end)..body_end];
    let base = span.start + start;
    if delim.starts_with('\'') {
        if body == query {
            return QueryMap::verbatim(base);
        }
        return fallback;
    }
    match escape::decode(body, base, Dialect::Toml { multiline }) {
        Some((decoded, map)) if decoded == query => map,
        _ => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::line_col;

    fn rule(text: &str) -> Rule {
        match load(Path::new("x.toml"), text) {
            Loaded::Rule(r) => *r,
            Loaded::Unsupported(u) => panic!("unsupported: {}", u.reason),
            Loaded::Error(e) => panic!("error: {e}"),
        }
    }

    const HEAD: &str = "[metadata]\nmaturity = \"production\"\n[rule]\nrule_id = \"r1\"\nname = \"N\"\ntype = \"eql\"\nlanguage = \"eql\"\nseverity = \"high\"\nrisk_score = 73\n";

    #[test]
    fn literal_multiline_query_offset_skips_delimiter_and_newline() {
        let text = format!("{HEAD}query = '''\nprocess where true\n'''\n");
        let r = rule(&text);
        assert_eq!(r.query, "process where true\n");
        let off = r.query_offset.unwrap();
        assert_eq!(&text[off..off + 7], "process");
        assert_eq!(line_col(&text, r.file_offset(8).unwrap()), (11, 9));
    }

    #[test]
    fn literal_single_line_query() {
        let text = format!("{HEAD}query = 'any where true'\n");
        let r = rule(&text);
        assert_eq!(&text[r.query_offset.unwrap()..][..3], "any");
    }

    #[test]
    fn basic_string_with_escapes_maps_exactly() {
        let text = format!(
            "{HEAD}query = \"\"\"\nprocess where name == \\\"a\\\" and \\\n   x == \\\"b\\\"\n\"\"\"\n"
        );
        let r = rule(&text);
        assert_eq!(r.query, "process where name == \"a\" and x == \"b\"\n");
        let q = r.query.find("x ==").unwrap();
        let f = r.file_offset(q).unwrap();
        assert_eq!(&text[f..f + 4], "x ==");
        let q = r.query.find("\"b").unwrap() + 1;
        assert_eq!(&text[r.file_offset(q).unwrap()..][..1], "b");
    }

    #[test]
    fn meta_fields_are_read() {
        let text = format!(
            "{HEAD}index = [\"logs-*\"]\nfrom = \"now-9m\"\ninterval = \"5m\"\nmax_signals = 7\ntags = [\"a\", \"b\"]\ntimestamp_override = \"event.ingested\"\nevent_category_override = \"ev.cat\"\nbuilding_block_type = \"default\"\nquery = 'any where true'\n[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n[rule.threat.tactic]\nid = \"TA0003\"\nname = \"Persistence\"\n"
        );
        let r = rule(&text);
        let m = &r.meta;
        assert_eq!(m.rule_id, "r1");
        assert_eq!(m.name, "N");
        assert_eq!(m.rule_type, "eql");
        assert_eq!(m.language.as_deref(), Some("eql"));
        assert_eq!(m.severity, "high");
        assert_eq!(m.risk_score, 73);
        assert_eq!(m.index, ["logs-*"]);
        assert_eq!(m.from.as_deref(), Some("now-9m"));
        assert_eq!(m.interval.as_deref(), Some("5m"));
        assert_eq!(m.max_signals, Some(7));
        assert_eq!(m.tags, ["a", "b"]);
        assert_eq!(m.timestamp_override.as_deref(), Some("event.ingested"));
        assert_eq!(m.event_category_override.as_deref(), Some("ev.cat"));
        assert!(m.is_building_block());
        assert_eq!(m.maturity.as_deref(), Some("production"));
        assert_eq!(m.tactics(), ["Persistence"]);
        assert_eq!(m.threat.entries()[0]["tactic"]["id"], "TA0003");
        assert_eq!(r.source.kind, SourceKind::DetectionRules);
    }

    #[test]
    fn non_eql_is_unsupported_with_reason() {
        let text = "[rule]\nrule_id = \"k\"\nname = \"K\"\ntype = \"query\"\nlanguage = \"kuery\"\nseverity = \"low\"\nrisk_score = 21\nquery = 'a:b'\n";
        match load(Path::new("k.toml"), text) {
            Loaded::Unsupported(u) => assert_eq!(u.reason, "language kuery not supported yet"),
            _ => panic!("expected unsupported"),
        }
        let ml = "[rule]\nrule_id = \"m\"\nname = \"M\"\ntype = \"machine_learning\"\nseverity = \"low\"\nrisk_score = 21\n";
        match load(Path::new("m.toml"), ml) {
            Loaded::Unsupported(u) => {
                assert_eq!(u.reason, "rule type machine_learning not supported yet")
            }
            _ => panic!("expected unsupported"),
        }
    }

    #[test]
    fn filters_make_an_eql_rule_unsupported() {
        let text = format!("{HEAD}query = 'any where true'\n[[rule.filters]]\nx = 1\n");
        match load(Path::new("f.toml"), &text) {
            Loaded::Unsupported(u) => assert_eq!(u.reason, "rule filters not supported yet"),
            _ => panic!("expected unsupported"),
        }
    }

    #[test]
    fn errors_have_positions() {
        let bad = format!("{HEAD}query = '''\nany where true\n");
        let Loaded::Error(e) = load(Path::new("b.toml"), &bad) else {
            panic!("expected error")
        };
        assert_eq!(e.code, "toml-syntax");
        assert!(e.line.is_some());

        let no_query = HEAD.to_string();
        let Loaded::Error(e) = load(Path::new("b.toml"), &no_query) else {
            panic!("expected error")
        };
        assert_eq!(e.code, "missing-field");
        assert_eq!(e.message, "[rule] has no `query`");
        assert_eq!((e.line, e.column), (Some(3), Some(1)));
        assert_eq!(e.rule_id.as_deref(), Some("r1"));
        // An indented header with a comment, after a string that mentions it.
        let indented = HEAD
            .replace("[rule]\n", "\t [rule]  # the rule\n")
            .replace("maturity = \"production\"", "maturity = \"[rule]\"");
        let Loaded::Error(e) = load(Path::new("b.toml"), &indented) else {
            panic!("expected error")
        };
        assert_eq!((e.line, e.column), (Some(3), Some(3)));

        let wrong_type = HEAD.replace("risk_score = 73", "risk_score = \"x\"");
        let Loaded::Error(e) = load(Path::new("b.toml"), &format!("{wrong_type}query='a'")) else {
            panic!("expected error")
        };
        assert_eq!(e.code, "invalid-field");
        assert_eq!(e.line, Some(9));
        assert!(
            e.message.starts_with("`risk_score`: invalid type"),
            "{}",
            e.message
        );
        // The ATT&CK mapping must be a list, as when it was read as one.
        let not_list = format!("{HEAD}query = 'any where true'\nthreat = \"x\"\n");
        let Loaded::Error(e) = load(Path::new("b.toml"), &not_list) else {
            panic!("expected error")
        };
        assert_eq!((e.code, e.line), ("invalid-field", Some(11)));
        assert_eq!(
            e.message,
            "`threat`: invalid type: string \"x\", expected a sequence"
        );
    }

    /// The mapping's JSON text holds its values (numbers, booleans, nested
    /// lists) with keys in the order the TOML reader gives them (sorted), as
    /// the JSON values did.
    #[test]
    fn threat_text_is_the_mappings_json() {
        let text = format!(
            "{HEAD}query = 'any where true'\n[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n\
             [rule.threat.tactic]\nname = \"Persistence\"\nid = \"TA0003\"\n\
             [[rule.threat.technique]]\nname = \"T\"\nid = \"T1\"\nsubtechnique = []\n\
             [[rule.threat]]\nz = 1\na = [true, 2.5, \"q\\\"\"]\n"
        );
        let Loaded::Rule(r) = load(Path::new("t.toml"), &text) else {
            panic!("expected a rule")
        };
        assert_eq!(
            r.meta.threat.json(),
            r#"[{"framework":"MITRE ATT&CK","tactic":{"id":"TA0003","name":"Persistence"},"technique":[{"id":"T1","name":"T","subtechnique":[]}]},{"a":[true,2.5,"q\""],"z":1}]"#
        );
        assert_eq!(r.meta.tactics(), ["Persistence"]);
        assert!(RuleMeta::new("x", "y").threat.is_empty());
    }

    #[test]
    fn behavior_layout() {
        let text = "[rule]\ndescription = \"d\"\nid = \"b-1\"\nname = \"B\"\nos_list = [\"linux\"]\nversion = \"1.0.2\"\n\nquery = '''\nprocess where true\n'''\n\n[[actions]]\naction = \"kill_process\"\n\n[[threat]]\nframework = \"MITRE ATT&CK\"\n[threat.tactic]\nid = \"TA0002\"\nname = \"Execution\"\n\n[internal]\nmin_endpoint_version = \"8.0.0\"\n";
        let r = rule(text);
        assert_eq!(r.source.kind, SourceKind::Behavior);
        assert_eq!(r.meta.rule_id, "b-1");
        assert_eq!(r.meta.rule_type, "eql");
        assert_eq!(r.meta.language.as_deref(), Some("eql"));
        assert_eq!(
            (r.meta.severity.as_str(), r.meta.risk_score),
            ("medium", 47)
        );
        assert_eq!(r.meta.os_list, ["linux"]);
        assert_eq!(r.meta.version, Some(serde_json::json!("1.0.2")));
        assert_eq!(r.meta.tactics(), ["Execution"]);
        assert_eq!(line_col(text, r.query_offset.unwrap()), (9, 1));
    }
}
