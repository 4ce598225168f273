//! `ferret check [PATHS]…`: load rule files (detection-rules TOML, Elastic
//! Defend behavior rules, Kibana NDJSON exports; folders recursively), parse
//! and validate every EQL query, and report each diagnostic at its place in
//! the rule file. Human output by default (even when piped: `check` is read
//! by people and CI logs; ask for `--format json` to get one JSON object per
//! rule). Exit status 1 if any rule has an error, else 0.

use crate::output::{Format, OutputArgs};
use ferret_eql::{Diagnostic, Severity};
use ferret_rules::{line_col, load_entries, LoadError, Loaded, Rule, RuleMeta, Unsupported};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rule files or folders to check (at least one; folders are searched
    /// recursively for .toml and .ndjson files)
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// List every unsupported rule with its reason (default: a count by reason)
    #[arg(long, short = 'v')]
    pub verbose: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Error,
    Unsupported,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Unsupported => "unsupported",
        }
    }
}

/// One diagnostic, placed in its file.
struct Placed {
    /// Span in file coordinates (None: the error has no position).
    diag: Diagnostic,
    has_span: bool,
    line: Option<usize>,
    column: Option<usize>,
}

/// The verdict on one rule (or one unreadable file / NDJSON line).
struct Checked<'a> {
    path: &'a Path,
    meta: Option<&'a RuleMeta>,
    /// For load errors the file did not get far enough to give full metadata.
    rule_id: Option<&'a str>,
    name: Option<&'a str>,
    status: Status,
    reason: Option<&'a str>,
    diagnostics: Vec<Placed>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // `check` is for people first: human output unless --format says otherwise.
    let format = args.output.format.unwrap_or(Format::Table);
    let color = args.output.color();
    let entries = load_entries(&args.paths);
    let mut files = FileCache::default();
    let mut out = args.output.open()?;

    let mut counts = [0usize; 3];
    let mut warnings = 0usize;
    let mut unsupported_by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unsupported_lines = Vec::new();
    let mut any_error = false;

    for entry in &entries {
        let checked = check_entry(entry, &mut files);
        counts[checked.status as usize] += 1;
        any_error |= checked.status == Status::Error;
        warnings += checked
            .diagnostics
            .iter()
            .filter(|p| p.diag.severity == Severity::Warning)
            .count();
        match format {
            Format::Ndjson => writeln!(out, "{}", to_json(&checked))?,
            Format::Table => {
                let text = files.get(checked.path);
                for p in &checked.diagnostics {
                    writeln!(out, "{}", render_human(&checked, p, text, color))?;
                }
                if let Some(reason) = checked.reason {
                    *unsupported_by_reason.entry(reason).or_default() += 1;
                    if args.verbose {
                        unsupported_lines.push(format!(
                            "unsupported: {}{}: {} ({})",
                            checked.path.display(),
                            line_suffix(entry),
                            checked.name.unwrap_or("?"),
                            reason
                        ));
                    }
                }
            }
        }
    }

    if format == Format::Table {
        for line in &unsupported_lines {
            writeln!(out, "{line}")?;
        }
        let unsupported = counts[Status::Unsupported as usize];
        if unsupported > 0 && !args.verbose {
            // Most common reason first; "language kuery: 792".
            let mut by_reason: Vec<(&str, usize)> = unsupported_by_reason
                .iter()
                .map(|(r, n)| (r.trim_end_matches(" not supported yet"), *n))
                .collect();
            by_reason.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let by_reason: Vec<String> =
                by_reason.iter().map(|(r, n)| format!("{r}: {n}")).collect();
            writeln!(
                out,
                "{unsupported} rule{} not supported yet ({}); --verbose lists them",
                plural(unsupported),
                by_reason.join(", ")
            )?;
        }
        let total = entries.len();
        writeln!(
            out,
            "{total} rule{} checked: {} ok, {} with errors, {unsupported} unsupported; {warnings} warning{}",
            plural(total),
            counts[Status::Ok as usize],
            counts[Status::Error as usize],
            plural(warnings)
        )?;
    }
    out.flush()?;
    Ok(if any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn line_suffix(entry: &Loaded) -> String {
    let line = match entry {
        Loaded::Rule(r) => r.source.line,
        Loaded::Unsupported(u) => u.source.line,
        Loaded::Error(_) => 1,
    };
    if line > 1 {
        format!(":{line}")
    } else {
        String::new()
    }
}

fn check_entry<'a>(entry: &'a Loaded, files: &mut FileCache) -> Checked<'a> {
    match entry {
        Loaded::Rule(rule) => check_rule(rule, files),
        Loaded::Unsupported(u) => unsupported(u),
        Loaded::Error(e) => load_error(e),
    }
}

fn check_rule<'a>(rule: &'a Rule, files: &mut FileCache) -> Checked<'a> {
    let analysis = rule.analyze();
    let text = files.get(&rule.source.path);
    let mut diags = analysis.diagnostics.clone();
    // Errors first, then warnings, each in source order: the way a reader
    // fixes them.
    diags.sort_by_key(|d| (d.severity, d.span.start, d.span.end));
    let placed_diags = rule.file_diagnostics(&diags);
    let diagnostics = diags
        .iter()
        .zip(placed_diags)
        .map(|(orig, placed)| {
            let (line, column) = match text {
                Some(t) => rule.position(orig, t),
                None => line_col(&rule.query, orig.span.start as usize),
            };
            Placed {
                diag: placed,
                has_span: text.is_some(),
                line: Some(line),
                column: Some(column),
            }
        })
        .collect();
    Checked {
        path: &rule.source.path,
        meta: Some(&rule.meta),
        rule_id: Some(&rule.meta.rule_id),
        name: Some(&rule.meta.name),
        status: if analysis.has_errors() {
            Status::Error
        } else {
            Status::Ok
        },
        reason: None,
        diagnostics,
    }
}

fn unsupported(u: &Unsupported) -> Checked<'_> {
    Checked {
        path: &u.source.path,
        meta: Some(&u.meta),
        rule_id: Some(&u.meta.rule_id),
        name: Some(&u.meta.name),
        status: Status::Unsupported,
        reason: Some(&u.reason),
        diagnostics: Vec::new(),
    }
}

fn load_error(e: &LoadError) -> Checked<'_> {
    let diag = e.diagnostic();
    let has_span = diag.is_some();
    let diag = diag.unwrap_or_else(|| Diagnostic {
        severity: Severity::Error,
        code: e.code,
        message: e.message.clone(),
        span: Default::default(),
        label: None,
        help: None,
    });
    Checked {
        path: &e.path,
        meta: None,
        rule_id: e.rule_id.as_deref(),
        name: e.name.as_deref(),
        status: Status::Error,
        reason: None,
        diagnostics: vec![Placed {
            diag,
            has_span,
            line: e.line,
            column: e.column,
        }],
    }
}

fn render_human(c: &Checked, p: &Placed, text: Option<&str>, color: bool) -> String {
    match text {
        Some(t) if p.has_span => ferret_eql::render(
            std::slice::from_ref(&p.diag),
            &c.path.display().to_string(),
            t,
            0,
            color,
        ),
        // No place to point at (an unreadable file): the header alone.
        _ => {
            let (on, off) = if color {
                ("\x1b[1;31m", "\x1b[0m")
            } else {
                ("", "")
            };
            format!(
                "{on}{}[{}]{off}: {}\n",
                p.diag.severity.as_str(),
                p.diag.code,
                p.diag.message
            )
        }
    }
}

fn to_json(c: &Checked) -> Value {
    let diagnostics: Vec<Value> = c
        .diagnostics
        .iter()
        .map(|p| {
            json!({
                "severity": p.diag.severity.as_str(),
                "code": p.diag.code,
                "message": p.diag.message,
                "line": p.line,
                "column": p.column,
            })
        })
        .collect();
    let mut obj = json!({
        "path": c.path.display().to_string(),
        "rule_id": c.rule_id,
        "name": c.name,
        "type": c.meta.map(|m| m.rule_type.as_str()),
        "language": c.meta.and_then(|m| m.language.as_deref()),
        "status": c.status.as_str(),
        "diagnostics": diagnostics,
    });
    if let Some(reason) = c.reason {
        obj["reason"] = Value::from(reason);
    }
    obj
}

/// The text of the rule file being reported on. Entries come file by file
/// (an NDJSON export yields many in a row), so remembering the last file is
/// enough.
#[derive(Default)]
struct FileCache {
    path: Option<PathBuf>,
    text: Option<String>,
}

impl FileCache {
    fn get(&mut self, path: &Path) -> Option<&str> {
        if self.path.as_deref() != Some(path) {
            self.path = Some(path.to_path_buf());
            self.text = std::fs::read(path)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
        }
        self.text.as_deref()
    }
}
