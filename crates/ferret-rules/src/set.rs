//! Loading many rule paths at once: folder walking in a deterministic order,
//! format detection, duplicate rule ids, and filters (rule id, tag,
//! severity, building blocks). This is what `ferret check` and `ferret scan`
//! call.

use crate::rule::{LoadError, Rule, RuleMeta, Unsupported};
use crate::Loaded;
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
        let entries = load_entries(paths);
        // Rules are moved out of their boxes: sized once, not regrown
        // (copying a thousand rules again and again).
        let rules = entries.iter().filter(|e| matches!(e, Loaded::Rule(_)));
        set.rules.reserve_exact(rules.count());
        for entry in entries {
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
    let paths: Vec<&Path> = paths.iter().map(AsRef::as_ref).collect();
    let mut out = Vec::new();
    // Parsing dominates loading (TOML) and files are independent: each is
    // parsed on the thread pool as soon as the walk finds it (walking two
    // thousand files alone was a twentieth of a thousand rules' start-up),
    // and the results are put back in walk order.
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<Loaded>)>();
    // Only several paths can name one file twice.
    let mut seen = (paths.len() > 1).then(SeenFiles::default);
    let mut found = 0;
    rayon::scope(|s| {
        for p in &paths {
            let errors = visit_files(p, &mut |file| {
                if seen.as_mut().is_some_and(|seen| !seen.first(&file)) {
                    return;
                }
                let (tx, at) = (tx.clone(), found);
                found += 1;
                s.spawn(move |_| {
                    // The receiver outlives the scope.
                    let _ = tx.send((at, crate::load_file(&file)));
                });
            });
            out.extend(errors.into_iter().map(Loaded::Error));
        }
    });
    drop(tx);
    let mut loaded: Vec<(usize, Vec<Loaded>)> = rx.into_iter().collect();
    loaded.sort_unstable_by_key(|(at, _)| *at);
    out.reserve(loaded.iter().map(|(_, l)| l.len()).sum());
    // By rule id, two thousand of them, on the thread that waits for the
    // rules: foldhash rather than SipHash.
    let mut first_seen: foldhash::HashMap<String, (PathBuf, usize)> = Default::default();
    for entry in loaded.into_iter().flat_map(|(_, l)| l) {
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

/// Files already seen, by real folder and name: the same file named twice
/// (a folder and a file inside it) loads once. The real folder is asked of
/// the system once per folder, not once per file.
#[derive(Default)]
struct SeenFiles {
    files: HashSet<PathBuf>,
    real_dirs: HashMap<PathBuf, PathBuf>,
}

impl SeenFiles {
    /// Whether `file` is seen for the first time.
    fn first(&mut self, file: &Path) -> bool {
        let parent = file.parent().unwrap_or(Path::new(""));
        let dir = match self.real_dirs.get(parent) {
            Some(dir) => dir,
            None => {
                let p = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                let real = std::fs::canonicalize(p).unwrap_or_else(|_| parent.to_path_buf());
                self.real_dirs.entry(parent.to_path_buf()).or_insert(real)
            }
        };
        self.files
            .insert(dir.join(file.file_name().unwrap_or_default()))
    }
}

/// The rule files a path stands for: the path itself if it is a file (any
/// extension: naming a file is asking for it), or every rule file below it
/// if it is a folder, depth first, entries sorted by name so the order never
/// depends on the file system. Hidden entries (`.git`, …) are skipped.
/// Unreadable paths are returned as errors beside the files that were found.
pub fn collect_files(path: &Path) -> (Vec<PathBuf>, Vec<LoadError>) {
    let mut out = Vec::new();
    let errors = visit_files(path, &mut |f| out.push(f));
    (out, errors)
}

/// [`collect_files`], handing each file to `found` as the walk reaches it.
fn visit_files(path: &Path, found: &mut dyn FnMut(PathBuf)) -> Vec<LoadError> {
    let mut errors = Vec::new();
    match std::fs::metadata(path) {
        Err(e) => errors.push(io_error(path, &e)),
        Ok(m) if !m.is_dir() => found(path.to_path_buf()),
        Ok(_) => walk(path, found, &mut errors, &mut HashSet::new()),
    }
    errors
}

fn walk(
    dir: &Path,
    found: &mut dyn FnMut(PathBuf),
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
    let mut entries: Vec<(std::ffi::OsString, PathBuf, Option<std::fs::FileType>)> = read
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name(), e.path(), e.file_type().ok()))
        .filter(|(name, _, _)| !name.as_encoded_bytes().starts_with(b"."))
        .collect();
    // Entries share their folder: their names order them (comparing whole
    // paths component by component was a tenth of loading's own work).
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (_, p, kind) in entries {
        let is_dir = match kind {
            Some(k) if !k.is_symlink() => Ok(k.is_dir()),
            _ => std::fs::metadata(&p).map(|m| m.is_dir()),
        };
        match is_dir {
            Ok(true) => walk(&p, found, errors, visited),
            Ok(false) if is_rule_file(&p) => found(p),
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
