//! Shared test helpers: locating `/work/shared` and loading the EQL queries
//! of the detection-rules corpus.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub use ferret_testkit::shared_dir;

/// One EQL rule of the corpus.
pub struct CorpusRule {
    pub path: PathBuf,
    pub file_text: String,
    pub query: String,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}

/// Every rule with `language = "eql"` under corpus/detection-rules
/// (rules, rules/_deprecated, rules_building_block), loaded once per test
/// binary.
pub fn corpus_eql_rules() -> &'static [CorpusRule] {
    static RULES: std::sync::OnceLock<Vec<CorpusRule>> = std::sync::OnceLock::new();
    RULES.get_or_init(load_corpus)
}

fn load_corpus() -> Vec<CorpusRule> {
    let root = shared_dir().join("corpus/detection-rules");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut out = Vec::new();
    for path in files {
        let file_text = std::fs::read_to_string(&path).expect("read rule");
        let Some(rule) = load_rule(&file_text) else {
            continue;
        };
        out.push(CorpusRule {
            path,
            file_text,
            query: rule,
        });
    }
    out
}

/// The EQL query of a detection-rules TOML file, if it is an EQL rule.
pub fn load_rule(file_text: &str) -> Option<String> {
    let v: toml::Value = toml::from_str(file_text).ok()?;
    let rule = v.get("rule")?;
    if rule.get("language")?.as_str()? != "eql" {
        return None;
    }
    Some(rule.get("query")?.as_str()?.to_string())
}

/// The `query` strings of Elasticsearch's conformance specs
/// (`conformance/es-eql/*.toml`), with the spec name.
pub fn conformance_queries() -> Vec<(String, String)> {
    let dir = shared_dir().join("conformance/es-eql");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for f in files {
        let v: toml::Value =
            toml::from_str(&std::fs::read_to_string(&f).expect("read spec")).expect("spec TOML");
        for q in v
            .get("queries")
            .and_then(|q| q.as_array())
            .into_iter()
            .flatten()
        {
            let name = q
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("?")
                .to_string();
            if let Some(query) = q.get("query").and_then(|s| s.as_str()) {
                out.push((name, query.to_string()));
            }
        }
    }
    out
}
