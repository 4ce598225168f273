//! The loaded form of a rule: its metadata (`RuleMeta`), its query text, where
//! the query sits inside the rule file (so diagnostics about the query can be
//! reported at file line:column), and which file and format it came from.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::path::PathBuf;

/// The rule file format a rule was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// elastic/detection-rules TOML (`[metadata]`, `[rule]`, `[[rule.threat]]`).
    DetectionRules,
    /// Elastic Defend behavior rule TOML (`[rule]` with `id`, top-level `[[threat]]`).
    Behavior,
    /// One line of a Kibana rule export (NDJSON).
    KibanaExport,
}

impl SourceKind {
    /// A short stable name, as printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::DetectionRules => "detection_rules",
            SourceKind::Behavior => "behavior",
            SourceKind::KibanaExport => "kibana_export",
        }
    }
}

/// A rule's ATT&CK mapping, a JSON array, kept as its JSON text: two
/// thousand rules' mappings as JSON values were a fifth of the memory of
/// loading them, and only rules with alerts read theirs (parsing it then).
/// Read from TOML, the text is written as the values are read, as
/// `serde_json` writes them.
#[derive(Clone, Debug)]
pub struct Threat(Box<str>);

impl Threat {
    /// The mapping as JSON text.
    pub fn json(&self) -> &str {
        &self.0
    }

    /// The mapping's entries.
    pub fn entries(&self) -> Vec<Value> {
        serde_json::from_str(&self.0).unwrap_or_default()
    }

    /// Whether the rule states no mapping.
    pub fn is_empty(&self) -> bool {
        &*self.0 == "[]"
    }
}

impl Default for Threat {
    fn default() -> Threat {
        Threat::from(Vec::new())
    }
}

impl From<Vec<Value>> for Threat {
    fn from(entries: Vec<Value>) -> Threat {
        let text = serde_json::to_string(&entries).expect("JSON values always serialize");
        Threat(text.into())
    }
}

impl PartialEq for Threat {
    fn eq(&self, other: &Threat) -> bool {
        self.0 == other.0
    }
}

impl Serialize for Threat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let raw: &RawValue = serde_json::from_str(&self.0).map_err(S::Error::custom)?;
        raw.serialize(s)
    }
}

/// A list of anything, written as JSON text while it is read; anything
/// but a list is the deserializer's "invalid type" error, as for a
/// `Vec<Value>`.
impl<'de> Deserialize<'de> for Threat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Threat, D::Error> {
        struct List;
        impl<'de> serde::de::Visitor<'de> for List {
            type Value = Threat;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Threat, A::Error> {
                use serde::de::Error;
                let mut text = b"[".to_vec();
                while seq.next_element_seed(Entry(&mut text))?.is_some() {}
                text.push(b']');
                // serde_json wrote it: JSON, in UTF-8.
                let text = String::from_utf8(text).map_err(A::Error::custom)?;
                Ok(Threat(text.into()))
            }
        }
        /// One entry of the list, appended to the text.
        struct Entry<'a>(&'a mut Vec<u8>);
        impl<'de> serde::de::DeserializeSeed<'de> for Entry<'_> {
            type Value = ();

            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                use serde::de::Error;
                if self.0.len() > 1 {
                    self.0.push(b',');
                }
                let mut writer = serde_json::Serializer::new(&mut *self.0);
                serde_transcode::transcode(d, &mut writer).map_err(D::Error::custom)
            }
        }
        d.deserialize_seq(List)
    }
}

/// Where a rule came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleSource {
    pub path: PathBuf,
    pub kind: SourceKind,
    /// 1-based line of the rule inside the file: the NDJSON line for a Kibana
    /// export, 1 for TOML files (one rule per file).
    pub line: usize,
}

/// Everything about a rule except its query. Field names follow Kibana's rule
/// schema; defaults for fields a format does not carry are documented on each
/// loader.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleMeta {
    pub name: String,
    /// Kibana's `rule_id`; for Elastic Defend behavior rules, their `id`.
    pub rule_id: String,
    /// Kibana rule type: `eql`, `query`, `esql`, `threshold`, `new_terms`,
    /// `machine_learning`, … Behavior rules are given `eql` (see `behavior`).
    #[serde(rename = "type")]
    pub rule_type: String,
    /// Query language (`eql`, `kuery`, `esql`, `lucene`); `None` for rule types
    /// without a query such as `machine_learning`.
    pub language: Option<String>,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// 0–100.
    pub risk_score: i64,
    /// Index patterns the rule searches; empty means "no restriction known".
    pub index: Vec<String>,
    /// Look-back, e.g. `now-9m`.
    pub from: Option<String>,
    /// Schedule, e.g. `5m`.
    pub interval: Option<String>,
    pub max_signals: Option<u64>,
    pub tags: Vec<String>,
    /// The MITRE ATT&CK mapping exactly as the rule states it (a list of
    /// `{framework, tactic, technique}` objects), copied into alerts as
    /// `kibana.alert.rule.threat`.
    pub threat: Threat,
    /// Timestamp field to use instead of `@timestamp` (Kibana falls back to
    /// `@timestamp` when an event lacks it).
    pub timestamp_override: Option<String>,
    /// Event-category field to use instead of `event.category`.
    pub event_category_override: Option<String>,
    /// Tiebreaker field for EQL sequences (Kibana's `tiebreaker_field`).
    pub tiebreaker_field: Option<String>,
    /// `default` for building-block rules, whose alerts are hidden by default.
    pub building_block_type: Option<String>,
    /// Elastic Defend behavior rules: operating systems the rule applies to
    /// (`windows`, `linux`, `macos`); empty for other formats.
    pub os_list: Vec<String>,
    pub description: Option<String>,
    /// Rule version: an integer in detection-rules/Kibana, a dotted string in
    /// behavior rules; kept as written.
    pub version: Option<Value>,
    /// detection-rules `[metadata] maturity` (`production`, `deprecated`, …).
    pub maturity: Option<String>,
}

impl RuleMeta {
    /// An empty record for a rule id, with the defaults the loaders use when a
    /// format omits a field (severity `low`, risk score 21: Kibana's defaults
    /// for a new rule).
    pub fn new(rule_id: impl Into<String>, name: impl Into<String>) -> RuleMeta {
        RuleMeta {
            name: name.into(),
            rule_id: rule_id.into(),
            rule_type: String::new(),
            language: None,
            severity: "low".to_string(),
            risk_score: 21,
            index: Vec::new(),
            from: None,
            interval: None,
            max_signals: None,
            tags: Vec::new(),
            threat: Threat::default(),
            timestamp_override: None,
            event_category_override: None,
            tiebreaker_field: None,
            building_block_type: None,
            os_list: Vec::new(),
            description: None,
            version: None,
            maturity: None,
        }
    }

    /// Whether this is a building-block rule.
    pub fn is_building_block(&self) -> bool {
        self.building_block_type.is_some()
    }

    /// The ATT&CK tactic names of the rule's threat mapping, in order, without
    /// duplicates (for summaries by tactic).
    pub fn tactics(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for entry in self.threat.entries() {
            if let Some(name) = entry
                .get("tactic")
                .and_then(|t| t.get("name"))
                .and_then(Value::as_str)
            {
                if !out.iter().any(|o| o == name) {
                    out.push(name.to_string());
                }
            }
        }
        out
    }
}

/// Maps byte offsets in a rule's query string to byte offsets in its file.
///
/// A query written verbatim in the file (a TOML literal string) is one
/// contiguous run, so a single anchor suffices. A query in a string with
/// escapes (TOML basic strings, JSON) gets one anchor after every escape, so
/// offsets after `\n` or `\"` still land on the right file column.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryMap {
    /// `(query_offset, file_offset)` pairs, sorted by both; empty when the
    /// query's position in the file is unknown.
    anchors: Vec<(usize, usize)>,
}

impl QueryMap {
    /// A query copied verbatim from the file, starting at `file_offset`.
    pub fn verbatim(file_offset: usize) -> QueryMap {
        QueryMap {
            anchors: vec![(0, file_offset)],
        }
    }

    /// A map from explicit anchors (as built by the escape decoders).
    pub(crate) fn from_anchors(anchors: Vec<(usize, usize)>) -> QueryMap {
        QueryMap { anchors }
    }

    /// Where the query text starts in the file, if known.
    pub fn start(&self) -> Option<usize> {
        self.anchors.first().map(|a| a.1)
    }

    /// The file offset of byte `query_offset` of the query, if known.
    pub fn to_file(&self, query_offset: usize) -> Option<usize> {
        let idx = self.anchors.partition_point(|a| a.0 <= query_offset);
        let (q, f) = *self.anchors.get(idx.checked_sub(1)?)?;
        Some(f + (query_offset - q))
    }
}

/// A rule ferret can run: its metadata and its EQL query.
#[derive(Clone, Debug)]
pub struct Rule {
    pub meta: RuleMeta,
    pub query: String,
    /// Byte offset of the query text inside the rule file (its first
    /// character), so diagnostics can point at file line:column. `None` when
    /// it cannot be known.
    pub query_offset: Option<usize>,
    /// Precise query-to-file offset mapping (differs from `query_offset +
    /// n` only for queries in strings with escapes).
    pub query_map: QueryMap,
    pub source: RuleSource,
}

impl Rule {
    /// The file byte offset of query byte `offset` (see `QueryMap`).
    pub fn file_offset(&self, offset: usize) -> Option<usize> {
        self.query_map.to_file(offset)
    }
}

/// A rule that was read correctly but that ferret cannot run yet.
#[derive(Clone, Debug)]
pub struct Unsupported {
    pub meta: RuleMeta,
    pub source: RuleSource,
    /// Why, e.g. "language kuery not supported yet".
    pub reason: String,
}

/// A rule file (or NDJSON line) that could not be read as a rule: bad syntax,
/// a missing or mistyped required field, an unreadable file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub path: PathBuf,
    /// Stable code: `io`, `toml-syntax`, `json-syntax`, `missing-field`,
    /// `invalid-field`.
    pub code: &'static str,
    pub message: String,
    /// Byte range in the file the error is about, when known.
    pub span: Option<std::ops::Range<usize>>,
    /// 1-based line and column (in characters) of `span.start`, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// What the rule is, when the file got far enough to say.
    pub rule_id: Option<String>,
    pub name: Option<String>,
}

impl LoadError {
    pub(crate) fn new(
        path: PathBuf,
        code: &'static str,
        message: impl Into<String>,
        text: Option<&str>,
        span: Option<std::ops::Range<usize>>,
    ) -> LoadError {
        let (line, column) = match (text, &span) {
            (Some(text), Some(span)) => {
                let (l, c) = line_col(text, span.start);
                (Some(l), Some(c))
            }
            _ => (None, None),
        };
        LoadError {
            path,
            code,
            message: message.into(),
            span,
            line,
            column,
            rule_id: None,
            name: None,
        }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// 1-based line and 1-based column (in characters) of byte `offset` in
/// `text`; the same function the EQL diagnostics renderer uses, so load errors
/// and query diagnostics count columns alike.
pub use ferret_eql::line_col;
