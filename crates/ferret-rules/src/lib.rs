//! Rule files for ferret: the detection-rules TOML layout, Elastic Defend
//! behavior rules and Kibana's NDJSON rule export, loaded into
//! `Rule { meta, query }`; and the Kibana-shaped alert documents built from
//! matches. The engine never sees TOML.
//!
//! Entry points: [`RuleSet::load`] (many paths, filters) or
//! [`load_entries`] (every rule in load order, for `ferret check`);
//! [`Rule::analyze`] to parse, validate and lint a rule's query, then
//! [`Rule::render`] / [`Rule::file_diagnostics`] / [`Rule::position`] to
//! report those diagnostics at rule-file line:column;
//! [`alert::build_alert`] for alert documents.

pub mod alert;
mod analysis;
mod escape;
pub mod fuzz_check;
mod kibana;
mod rule;
mod set;
mod toml_rules;
mod unread;

pub use ferret_eql::Analysis;
pub use rule::{
    line_col, LoadError, QueryMap, Rule, RuleMeta, RuleSource, SourceKind, Threat, Unsupported,
};
pub use set::{collect_files, load_entries, RuleFilter, RuleSet};

use std::path::Path;

/// One rule read from a file, or why it could not be.
#[derive(Debug)]
pub enum Loaded {
    /// An EQL rule ferret can run.
    Rule(Box<Rule>),
    /// A rule read correctly that ferret cannot run yet.
    Unsupported(Box<Unsupported>),
    /// A file or NDJSON line that is not a readable rule.
    Error(LoadError),
}

/// Loads every rule in one file: `.ndjson`, `.jsonl` and `.json` files are
/// read as Kibana exports, everything else as TOML.
pub fn load_file(path: &Path) -> Vec<Loaded> {
    match std::fs::read(path) {
        Err(e) => vec![Loaded::Error(set::io_error(path, &e))],
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => load_text(path, &text),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes());
                vec![Loaded::Error(LoadError::new(
                    path.to_path_buf(),
                    "invalid-utf8",
                    "rule file is not valid UTF-8",
                    Some(&text),
                    Some(at..at),
                ))]
            }
        },
    }
}

/// Loads the rules in `text`, read from `path` (whose extension picks the
/// format, as in [`load_file`]).
pub fn load_text(path: &Path, text: &str) -> Vec<Loaded> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("ndjson" | "jsonl" | "json") => kibana::load(path, text),
        _ => vec![toml_rules::load(path, text)],
    }
}

/// Why a rule with this metadata cannot run, or `None` if it is EQL.
/// The language decides; a rule with no language (machine learning) is
/// described by its type.
pub(crate) fn unsupported_reason(meta: &RuleMeta) -> Option<String> {
    match meta.language.as_deref() {
        Some(l) if l.eq_ignore_ascii_case("eql") => {
            if meta.rule_type.eq_ignore_ascii_case("eql") {
                None
            } else {
                Some(format!(
                    "rule type {} not supported yet (only eql rules run)",
                    meta.rule_type
                ))
            }
        }
        Some(l) => Some(format!("language {l} not supported yet")),
        None if meta.rule_type.eq_ignore_ascii_case("eql") => None,
        None => Some(format!("rule type {} not supported yet", meta.rule_type)),
    }
}
