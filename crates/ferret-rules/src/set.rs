//! Loading many rule paths at once: folder walking in a deterministic order,
//! format detection, duplicate rule ids, and filters (rule id, tag,
//! severity, building blocks). This is what `ferret check` and `ferret scan`
//! call.

use crate::rule::{LoadError, Rule, RuleMeta, Unsupported};
use crate::Loaded;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Which rules to keep. Each non-empty criterion must hold (they are ANDed);
/// within one criterion any listed value matches (ORed). The default keeps
/// everything.
#[derive(Clone, Debug, Default)]
pub struct RuleFilter {
    /// Keep only these rule ids (exact).
    pub rule_ids: Vec<String>,
    /// Keep only rules carrying one of these tags (case-insensitive).
    pub tags: Vec<String>,
    /// Keep only these severities (case-insensitive).
    pub severities: Vec<String>,
    /// Drop building-block rules.
    pub exclude_building_blocks: bool,
}

impl RuleFilter {
    /// Whether a rule with this metadata is kept.
    pub fn matches(&self, meta: &RuleMeta) -> bool {
        (self.rule_ids.is_empty() || self.rule_ids.contains(&meta.rule_id))
            && (self.tags.is_empty()
                || self
                    .tags
                    .iter()
                    .any(|t| meta.tags.iter().any(|m| m.eq_ignore_ascii_case(t))))
            && (self.severities.is_empty()
                || self
                    .severities
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&meta.severity)))
            && !(self.exclude_building_blocks && meta.is_building_block())
    }
}

/// The outcome of loading rule paths: runnable rules, rules read but not
/// runnable (with the reason), and files or lines that could not be read.
/// Each list is in load order (paths in the order given, folders walked in
/// sorted order).
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub unsupported: Vec<Unsupported>,
    pub errors: Vec<LoadError>,
}

impl RuleSet {
    /// Loads every rule under `paths` (files or folders) and keeps those the
    /// filter matches. Errors are always kept: they have no trustworthy
    /// metadata to filter on.
    pub fn load<P: AsRef<Path>>(paths: &[P], filter: &RuleFilter) -> RuleSet {
        let mut set = RuleSet::default();
        for entry in load_entries(paths) {
            match entry {
                Loaded::Rule(r) if filter.matches(&r.meta) => set.rules.push(*r),
                Loaded::Unsupported(u) if filter.matches(&u.meta) => set.unsupported.push(*u),
                Loaded::Error(e) => set.errors.push(e),
                _ => {}
            }
        }
        set
    }
}

/// Loads every rule under `paths`, in order, as one entry per rule (or per
/// unreadable file / NDJSON line). A rule id seen before becomes an error
/// entry (`duplicate-rule-id`) so the same rule never runs twice.
pub fn load_entries<P: AsRef<Path>>(paths: &[P]) -> Vec<Loaded> {
    let mut files = Vec::new();
    let mut out = Vec::new();
    for p in paths {
        let (found, errors) = collect_files(p.as_ref());
        files.extend(found);
        out.extend(errors.into_iter().map(Loaded::Error));
    }
    // The same file named twice (a folder and a file inside it) loads once.
    // Keyed by the canonical parent folder (few, cached) and the file name,
    // which avoids a canonicalize system call per file.
    let mut seen_files = HashSet::new();
    let mut canonical_dirs: HashMap<PathBuf, PathBuf> = HashMap::new();
    files.retain(|file| {
        let parent = file.parent().unwrap_or(Path::new("")).to_path_buf();
        let dir = canonical_dirs
            .entry(parent.clone())
            .or_insert_with(|| {
                let p = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    &parent
                };
                std::fs::canonicalize(p).unwrap_or(parent)
            })
            .clone();
        seen_files.insert(dir.join(file.file_name().unwrap_or_default()))
    });
    // Parsing dominates loading (TOML); files are independent, so they are
    // parsed in parallel and the results kept in file order.
    let loaded: Vec<Vec<Loaded>> = files.par_iter().map(|f| crate::load_file(f)).collect();
    let mut first_seen: HashMap<String, (PathBuf, usize)> = HashMap::new();
    for entry in loaded.into_iter().flatten() {
        let meta = match &entry {
            Loaded::Rule(r) => Some((&r.meta, &r.source)),
            Loaded::Unsupported(u) => Some((&u.meta, &u.source)),
            Loaded::Error(_) => None,
        };
        if let Some((meta, source)) = meta {
            if let Some((path, line)) = first_seen.get(&meta.rule_id) {
                let text = std::fs::read_to_string(&source.path).ok();
                let start = text
                    .as_deref()
                    .map(|t| line_offset(t, source.line))
                    .unwrap_or(0);
                let mut e = LoadError::new(
                    source.path.clone(),
                    "duplicate-rule-id",
                    format!(
                        "rule_id {} was already loaded from {}{}",
                        meta.rule_id,
                        path.display(),
                        if *line > 1 {
                            format!(":{line}")
                        } else {
                            String::new()
                        }
                    ),
                    text.as_deref(),
                    text.as_ref().map(|_| start..start),
                );
                e.rule_id = Some(meta.rule_id.clone());
                e.name = Some(meta.name.clone());
                out.push(Loaded::Error(e));
                continue;
            }
            first_seen.insert(meta.rule_id.clone(), (source.path.clone(), source.line));
        }
        out.push(entry);
    }
    out
}

fn line_offset(text: &str, line: usize) -> usize {
    text.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum()
}

/// Whether a file found while walking a folder is a rule file: `.toml`
/// (detection-rules or behavior) or `.ndjson` (Kibana export). Other files
/// (READMEs, licences, `.gitkeep`) are not rules and are passed over.
fn is_rule_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("toml") | Some("ndjson")
    )
}

/// The rule files a path stands for: the path itself if it is a file (any
/// extension: naming a file is asking for it), or every rule file below it
/// if it is a folder, depth first, entries sorted by name so the order never
/// depends on the file system. Hidden entries (`.git`, …) are skipped.
/// Unreadable paths are returned as errors beside the files that were found.
pub fn collect_files(path: &Path) -> (Vec<PathBuf>, Vec<LoadError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    match std::fs::metadata(path) {
        Err(e) => errors.push(io_error(path, &e)),
        Ok(m) if !m.is_dir() => out.push(path.to_path_buf()),
        Ok(_) => walk(path, &mut out, &mut errors, &mut HashSet::new()),
    }
    (out, errors)
}

fn walk(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    errors: &mut Vec<LoadError>,
    visited: &mut HashSet<PathBuf>,
) {
    // Symlinked folders are followed, but each real folder only once, so a
    // link cycle cannot loop forever.
    let real = match std::fs::canonicalize(dir) {
        Ok(r) => r,
        Err(e) => return errors.push(io_error(dir, &e)),
    };
    if !visited.insert(real) {
        return;
    }
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => return errors.push(io_error(dir, &e)),
    };
    // The entry's own type comes with the listing on most file systems; a
    // stat per entry (for symlinks only) keeps a 2,000-file walk cheap.
    let mut entries: Vec<(PathBuf, Option<std::fs::FileType>)> = read
        .filter_map(|e| e.ok())
        .map(|e| (e.path(), e.file_type().ok()))
        .filter(|(p, _)| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    // Entries share their folder: their names order them (comparing whole
    // paths component by component was a tenth of loading's own work).
    entries.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
    for (p, kind) in entries {
        let is_dir = match kind {
            Some(k) if !k.is_symlink() => Ok(k.is_dir()),
            _ => std::fs::metadata(&p).map(|m| m.is_dir()),
        };
        match is_dir {
            Ok(true) => walk(&p, out, errors, visited),
            Ok(false) if is_rule_file(&p) => out.push(p),
            Ok(false) => {}
            // A dangling symlink named like a rule file is worth a word.
            Err(e) if is_rule_file(&p) => errors.push(io_error(&p, &e)),
            Err(_) => {}
        }
    }
}

pub(crate) fn io_error(path: &Path, e: &std::io::Error) -> LoadError {
    LoadError::new(
        path.to_path_buf(),
        "io",
        format!("cannot read {}: {e}", path.display()),
        None,
        None,
    )
}
