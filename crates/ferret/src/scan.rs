//! `ferret scan --rules PATH… EVENTS…`: run whole rule sets over event files
//! in one pass and emit Kibana-shaped alerts (see the `ferret-scan` crate).
//! Alerts go to stdout or `--output`; everything about the run (rules that
//! could not be loaded or run, lint warnings, skipped events, the progress
//! bar, the summary) goes to stderr, so the alert stream stays clean.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ferret_engine::FieldTypes;
use ferret_event::{Reader, SkipReporter};
use ferret_rules::{RuleFilter, RuleSet};
use ferret_scan::{compile, scan, CompileOptions, Compiled, ScanOptions, ScanOutcome, ScreenUse};
use rayon::prelude::*;
use serde_json::Value;

use crate::output::{Format, OutputArgs};

/// Alerts one job of the writer turns into lines, into one buffer (a
/// chunk of 2,048 is spread over the pool this many at a time).
const ALERTS_PER_RUN: usize = 64;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Rule sources: detection-rules TOML files and folders (searched recursively), \
Elastic Defend behavior-rule TOML, and Kibana rule exports (.ndjson). \
Non-EQL rules are listed as unsupported with the reason.

Each rule sees the events of its `index` patterns: an event's index is its \
`_index` field, else `<data_stream.type>-<data_stream.dataset>-<data_stream.namespace>`; \
events with neither are seen by every rule. Behavior rules see endpoint events \
of their `os_list`.

Exit status: 0 the scan ran (with or without alerts); 1 some rule failed to \
load or compile, or --strict and some event was skipped; 2 the scan could not run.")]
pub struct Args {
    /// Rule file or folder (repeatable)
    #[arg(long = "rules", short = 'r', value_name = "PATH", required = true)]
    pub rules: Vec<PathBuf>,
    /// Event files (NDJSON, JSON array, .gz); `-` reads stdin
    #[arg(value_name = "EVENTS", required = true)]
    pub events: Vec<String>,
    /// Run only the rule with this rule id (repeatable)
    #[arg(long = "rule-id", value_name = "ID")]
    pub rule_ids: Vec<String>,
    /// Run only rules carrying this tag, e.g. "OS: Linux" (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Run only rules of this severity: low, medium, high, critical (repeatable)
    #[arg(long = "severity", value_name = "LEVEL")]
    pub severities: Vec<String>,
    /// Skip building-block rules
    #[arg(long)]
    pub exclude_building_blocks: bool,
    /// Let every rule see every event, whatever its index patterns
    #[arg(long)]
    pub ignore_index: bool,
    /// ECS field-types file (JSON: {"field": {"type": "ip"}, …}) for typed comparisons
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Cap on live partial sequences per rule (evictions are reported)
    #[arg(long, alias = "max-partials", value_name = "N", default_value_t = ferret_engine::DEFAULT_MAX_LIVE_PARTIALS)]
    pub max_live_partials: usize,
    /// Worker threads [default: all cores]; output is identical for any N
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// Sequence rules: how far out of time order the events may be (e.g.
    /// `30s`, `5m`, `1h`), or `none` to order every candidate in memory (exact
    /// for any input, memory grows with it). Events later than the window
    /// are counted and reported [default: 5m]
    #[arg(long, value_name = "DURATION|none", value_parser = parse_window)]
    pub reorder_window: Option<Window>,
    /// Debugging aid: evaluate every rule on every fully decoded event (no
    /// projection, no category dispatch, exact ordering); the alerts must be
    /// identical to the normal path's
    #[arg(long, hide = true)]
    pub reference: bool,
    /// Decode every record in full: no record screen (records no rule can
    /// match are otherwise only checked for syntax and time); the alerts
    /// are the same either way
    #[arg(long)]
    pub no_screen: bool,
    /// Fail (exit 1) if any event had to be skipped
    #[arg(long)]
    pub strict: bool,
    /// List every unsupported rule and every lint warning, and show where
    /// the time went (phases, rule work per event, slowest rules) and which
    /// rules held the most partial sequences
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Print no summary or progress on stderr (problems are still reported)
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A `--reorder-window` value.
#[derive(Clone, Copy, Debug)]
pub enum Window {
    Bounded(Duration),
    Unbounded,
}

/// Parses `none` or a duration: a number with `ms`, `s`, `m`, `h` or `d`.
fn parse_window(text: &str) -> Result<Window, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(Window::Unbounded);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected `none` or a duration such as 30s or 5m, found `{t}`"))?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("unknown time unit `{unit}` (use ms, s, m, h or d)")),
    };
    Ok(Window::Bounded(Duration::from_millis(n.saturating_mul(ms))))
}

/// How many individual lines a list on stderr gets before it is summarised.
const LIST_CAP: usize = 20;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let filter = RuleFilter {
        rule_ids: args.rule_ids.clone(),
        tags: args.tags.clone(),
        severities: args.severities.clone(),
        exclude_building_blocks: args.exclude_building_blocks,
    };
    for path in &args.rules {
        anyhow::ensure!(path.exists(), "rule path {} does not exist", path.display());
    }
    let field_types = match &args.schema {
        Some(p) => Some(Arc::new(
            FieldTypes::load(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        )),
        None => None,
    };
    if let Some(n) = args.threads.filter(|&n| n > 0) {
        // Loading and compiling the rules run on rayon's global pool: with
        // N threads there too, the whole run keeps to N (and the scan reuses
        // those threads).
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .ok();
    }
    let clock = Instant::now();
    let set = RuleSet::load(&args.rules, &filter);
    let load_time = clock.elapsed();
    let load_errors = set.errors.len();
    // Not locked for the run: the progress bar draws on stderr from a
    // thread of its own, and a lock held here deadlocked it with this
    // thread on any terminal (each write locks stderr briefly instead).
    let mut stderr = std::io::stderr();
    report_load_problems(&mut stderr, &set, args.verbose)?;
    let unsupported = set.unsupported.len();
    let clock = Instant::now();
    let compiled = compile(
        RuleSet {
            rules: set.rules,
            unsupported: Vec::new(),
            errors: Vec::new(),
        },
        &CompileOptions {
            ignore_index: args.ignore_index,
            max_live_partials: args.max_live_partials,
            field_types,
        },
    );
    let compile_time = clock.elapsed();
    report_compile_problems(&mut stderr, &compiled, args.verbose)?;
    if compiled.rules.is_empty() {
        writeln!(
            stderr,
            "ferret: no runnable rule was loaded; nothing to scan"
        )?;
        return Ok(ExitCode::from(if load_errors + compiled.failed.len() > 0 {
            1
        } else {
            2
        }));
    }

    let reader = Reader::from_args(&args.events);
    let mut skips = SkipReporter::stderr(LIST_CAP);
    let started = Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let mut progress = |read: u64| {
        if !show_progress {
            return;
        }
        if bar.is_none() && started.elapsed() > Duration::from_millis(400) {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {elapsed} {human_pos} events ({per_sec})",
                )
                .expect("static template"),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(read);
        }
    };
    let outcome = scan(
        &compiled,
        reader,
        &ScanOptions {
            threads: args.threads.unwrap_or(0),
            reorder_window: match args.reorder_window {
                None => Some(ferret_scan::scan::DEFAULT_REORDER_WINDOW),
                Some(Window::Unbounded) => None,
                Some(Window::Bounded(d)) => Some(d),
            },
            reference: args.reference,
            screen: if args.no_screen {
                ScreenUse::Off
            } else {
                ScreenUse::Auto
            },
            ..ScanOptions::default()
        },
        &mut skips,
        &mut progress,
    );
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !args.quiet || outcome.read.skipped_total() > 0 {
        skips.finish(&outcome.read);
    }

    let mut out = args.output.open()?;
    match args.output.format() {
        Format::Ndjson => {
            // Documents are built in parallel, a chunk at a time, and
            // written in order: a chunk is written while the pool builds
            // the next one, and the one after is merged (and read back
            // from the spilled runs) meanwhile on a thread of its own.
            // Taken in turns, merging left the pool idle for a third of
            // the writing.
            let alerts = &outcome.alerts;
            std::thread::scope(|s| -> anyhow::Result<()> {
                let (chunks_tx, chunks_rx) = std::sync::mpsc::sync_channel(1);
                s.spawn(move || {
                    let mut alerts = alerts.iter();
                    loop {
                        let chunk: std::io::Result<Vec<_>> = alerts.by_ref().take(2048).collect();
                        let last = chunk.as_ref().map_or(true, Vec::is_empty);
                        if chunks_tx.send(chunk).is_err() || last {
                            break;
                        }
                    }
                });
                // Each job writes a run of alerts' lines into one buffer,
                // written out as it is: a string per alert, copied again
                // into the writer's buffer, was a tenth of the writing.
                let write_runs = |out: &mut dyn Write, runs: &[String]| -> std::io::Result<()> {
                    runs.iter()
                        .try_for_each(|run| out.write_all(run.as_bytes()))
                };
                let mut runs: Vec<String> = Vec::new();
                // The buffers of the runs written two chunks ago, filled
                // again: new ones, grown past their first guess, were
                // copied once a run (half a gigabyte of W2's alerts).
                let mut spare: Vec<String> = Vec::new();
                for chunk in chunks_rx {
                    let chunk = match chunk {
                        Ok(chunk) => chunk,
                        Err(e) => {
                            write_runs(&mut out, &runs)?;
                            return Err(e.into());
                        }
                    };
                    let mut next: Vec<String> = Vec::new();
                    let mut buffers = std::mem::take(&mut spare);
                    buffers.resize_with(chunk.len().div_ceil(ALERTS_PER_RUN), String::new);
                    rayon::in_place_scope(|s| {
                        s.spawn(|_| {
                            next = chunk
                                .par_chunks(ALERTS_PER_RUN)
                                .zip(buffers)
                                .map(|(alerts, mut run)| {
                                    run.clear();
                                    run.reserve(alerts.len() * 4096);
                                    for a in alerts {
                                        a.write_json(&compiled, &mut run);
                                        run.push('\n');
                                    }
                                    run
                                })
                                .collect()
                        });
                        write_runs(&mut out, &runs)
                    })?;
                    spare = std::mem::replace(&mut runs, next);
                }
                write_runs(&mut out, &runs)?;
                Ok(())
            })?;
        }
        Format::Table => write_table(&mut out, &compiled, &outcome, args.output.color())?,
    }
    out.flush().context("writing alerts")?;
    if !args.quiet {
        write_summary(
            &mut stderr,
            &compiled,
            &outcome,
            unsupported,
            started.elapsed(),
        )?;
    }
    if args.verbose {
        let offered: u64 = outcome.rule_stats.iter().map(|s| s.events_seen).sum();
        let events = outcome.read.events.max(1);
        writeln!(
            stderr,
            "rule work: {offered} (event, rule) pairs evaluated, {:.1} rules per event of {} loaded (index, category and value prefilters skip the rest)",
            offered as f64 / events as f64,
            compiled.rules.len()
        )?;
        writeln!(
            stderr,
            "verdicts: {} one-field conditions of the rules, worked out once per distinct value of their field",
            compiled.verdicts.len()
        )?;
        if outcome.screened_out > 0 {
            writeln!(
                stderr,
                "text screen: {} of {} events hold no text the rules need, checked only for syntax and time",
                outcome.screened_out, outcome.read.events
            )?;
        }
        let p = &outcome.phases;
        writeln!(
            stderr,
            "start-up: load {:.3}s, compile {:.3}s, scan set-up {:.3}s",
            load_time.as_secs_f64(),
            compile_time.as_secs_f64(),
            p.setup.as_secs_f64()
        )?;
        writeln!(
            stderr,
            "time: read {:.3}s, decode {:.3}s (a batch ahead, beside the rest), dispatch {:.3}s, rules {:.3}s, alerts {:.3}s",
            p.read.as_secs_f64(),
            p.decode.as_secs_f64(),
            p.dispatch.as_secs_f64(),
            p.rules.as_secs_f64(),
            p.alerts.as_secs_f64()
        )?;
        let mut busiest: Vec<(std::time::Duration, &str)> = outcome
            .rule_stats
            .iter()
            .zip(&compiled.rules)
            .map(|(s, r)| (s.busy, r.rule.meta.name.as_str()))
            .collect();
        busiest.sort_by(|a, b| b.cmp(a));
        writeln!(stderr, "slowest rules (time running them, all threads):")?;
        let total: f64 = busiest.iter().map(|b| b.0.as_secs_f64()).sum();
        writeln!(stderr, "  {total:>7.3}s  all rules")?;
        for (busy, name) in busiest.iter().take(5) {
            writeln!(stderr, "  {:>7.3}s  {name}", busy.as_secs_f64())?;
        }
        // Partial sequences hold their events: where a scan's memory goes.
        let mut holding: Vec<(u64, &str)> = outcome
            .rule_stats
            .iter()
            .zip(&compiled.rules)
            .filter(|(s, _)| s.engine.peak_live_partials > 0)
            .map(|(s, r)| (s.engine.peak_live_partials, r.rule.meta.name.as_str()))
            .collect();
        if !holding.is_empty() {
            holding.sort_by(|a, b| b.cmp(a));
            writeln!(
                stderr,
                "most partial sequences held at once (each holds its events):"
            )?;
            for (peak, name) in holding.iter().take(5) {
                writeln!(stderr, "  {peak:>8}  {name}")?;
            }
        }
    }
    if let Some(e) = outcome.alerts.spill_error() {
        writeln!(
            stderr,
            "warning: could not write alerts to a temporary file ({e}); they were kept in memory"
        )?;
    }
    // Reported even with --quiet: matches may have been missed.
    let late: u64 = outcome
        .rule_stats
        .iter()
        .map(|s| s.engine.late_events)
        .sum();
    if late > 0 {
        writeln!(
            stderr,
            "warning: {late} (rule, event) pairs reached sequence rules later than the reorder window allows and were not used; the events are out of time order: rerun with a larger --reorder-window, or --reorder-window none"
        )?;
    }
    let failed = load_errors + compiled.failed.len() > 0;
    let strict_fail = args.strict && outcome.read.skipped_total() > 0;
    // The process exits next: freeing a thousand compiled rules piece by
    // piece took 17 ms of W4's 170 ms, so they are left to the exit.
    std::mem::forget(compiled);
    std::mem::forget(set.unsupported);
    Ok(if failed || strict_fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn report_load_problems(w: &mut impl Write, set: &RuleSet, verbose: bool) -> anyhow::Result<()> {
    for err in &set.errors {
        let place = match (err.line, err.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", err.path.display()),
            _ => err.path.display().to_string(),
        };
        writeln!(w, "error: {place}: {} [{}]", err.message, err.code)?;
    }
    if set.unsupported.is_empty() {
        return Ok(());
    }
    if verbose || set.unsupported.len() <= LIST_CAP {
        for u in &set.unsupported {
            writeln!(
                w,
                "unsupported: {} ({}): {}",
                u.meta.name,
                u.source.path.display(),
                u.reason
            )?;
        }
    } else {
        let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
        for u in &set.unsupported {
            *by_reason.entry(u.reason.as_str()).or_default() += 1;
        }
        writeln!(
            w,
            "{} rules not run (--verbose lists them):",
            set.unsupported.len()
        )?;
        for (reason, n) in by_reason {
            writeln!(w, "  {n:>5}  {reason}")?;
        }
    }
    Ok(())
}

fn report_compile_problems(w: &mut impl Write, c: &Compiled, verbose: bool) -> anyhow::Result<()> {
    for f in &c.failed {
        write!(w, "{}", f.rule.render(&f.diagnostics, None, false))?;
    }
    let warned: Vec<_> = c.rules.iter().filter(|r| !r.warnings.is_empty()).collect();
    for (i, r) in warned.iter().enumerate() {
        if !verbose && i == LIST_CAP {
            writeln!(
                w,
                "... lint warnings in {} more rules (--verbose, or `ferret check` for details)",
                warned.len() - LIST_CAP
            )?;
            break;
        }
        let d = &r.warnings[0];
        let more = match r.warnings.len() {
            1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        let text = std::fs::read_to_string(&r.rule.source.path).ok();
        let (line, col) = match &text {
            Some(t) => r.rule.position(d, t),
            None => (0, 0),
        };
        writeln!(
            w,
            "warning[{}]: {}:{line}:{col}: {} — in rule \"{}\"{more}",
            d.code,
            r.rule.source.path.display(),
            d.message,
            r.rule.meta.name
        )?;
    }
    Ok(())
}

/// The alert table: one line per alert, newest information last.
fn write_table(
    w: &mut dyn Write,
    compiled: &Compiled,
    o: &ScanOutcome,
    color: bool,
) -> anyhow::Result<()> {
    if o.alerts.is_empty() {
        writeln!(w, "no alerts")?;
        return Ok(());
    }
    let mut rows: Vec<[String; 6]> = Vec::with_capacity(o.alerts.len());
    for a in o.alerts.iter() {
        let a = a.context("reading back sorted alerts")?;
        rows.push({
            let doc = a.doc(compiled);
            let s = |k: &str| {
                doc.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_string()
            };
            let events = doc
                .get("ferret.events")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            [
                s("@timestamp"),
                s("kibana.alert.severity"),
                s("kibana.alert.rule.name"),
                s("host.name"),
                s("user.name"),
                format!("{} ({})", s("process.name"), plural(events, "event")),
            ]
        });
    }
    let head = ["TIME", "SEVERITY", "RULE", "HOST", "USER", "PROCESS"];
    let mut widths = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count()).min(60);
        }
    }
    let line = |cells: [&str; 6], sev_color: Option<&str>| -> String {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            let text = truncate(c, widths[i]);
            let pad = widths[i] - text.chars().count();
            match (i, sev_color) {
                (1, Some(code)) => out.push_str(&format!("\x1b[{code}m{text}\x1b[0m")),
                _ => out.push_str(&text),
            }
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out
    };
    let head_line = line(head, None);
    if color {
        writeln!(w, "\x1b[1m{head_line}\x1b[0m")?;
    } else {
        writeln!(w, "{head_line}")?;
    }
    for r in &rows {
        let code = color.then(|| severity_color(&r[1]));
        let cells = [&*r[0], &*r[1], &*r[2], &*r[3], &*r[4], &*r[5]];
        writeln!(w, "{}", line(cells, code))?;
    }
    Ok(())
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn severity_color(sev: &str) -> &'static str {
    match sev {
        "critical" => "1;35",
        "high" => "1;31",
        "medium" => "33",
        _ => "36",
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn write_summary(
    w: &mut impl Write,
    c: &Compiled,
    o: &ScanOutcome,
    unsupported: usize,
    elapsed: Duration,
) -> anyhow::Result<()> {
    writeln!(
        w,
        "\n{} from {} of {} in {:.2}s ({} not supported, {} failed to compile)",
        plural(o.alerts.len(), "alert"),
        o.rule_stats.iter().filter(|s| s.alerts > 0).count(),
        plural(c.rules.len(), "rule"),
        elapsed.as_secs_f64(),
        unsupported,
        c.failed.len(),
    )?;
    let mut by_rule: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut by_severity: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_tactic: BTreeMap<String, usize> = BTreeMap::new();
    for (stats, rule) in o.rule_stats.iter().zip(&c.rules) {
        let n = stats.alerts as usize;
        if n == 0 {
            continue;
        }
        let meta = &rule.rule.meta;
        *by_rule
            .entry((meta.severity.as_str(), meta.name.as_str()))
            .or_default() += n;
        *by_severity.entry(meta.severity.as_str()).or_default() += n;
        for t in meta.tactics() {
            *by_tactic.entry(t).or_default() += n;
        }
    }
    fn join<K: std::fmt::Display>(m: &BTreeMap<K, usize>) -> String {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
    if !o.alerts.is_empty() {
        writeln!(w, "  by severity: {}", join(&by_severity))?;
        writeln!(w, "  by tactic:   {}", join(&by_tactic))?;
        writeln!(w, "  by rule:")?;
        for ((sev, name), n) in &by_rule {
            writeln!(w, "    {n:>5}  {sev:<8}  {name}")?;
        }
    }
    let evicted: u64 = o.rule_stats.iter().map(|s| s.engine.partials_evicted).sum();
    let no_time: u64 = o
        .rule_stats
        .iter()
        .map(|s| s.engine.missing_timestamp)
        .sum();
    if evicted > 0 {
        writeln!(
            w,
            "  note: {evicted} partial sequences were evicted by the --max-live-partials cap; matches may be missed"
        )?;
    }
    if no_time > 0 {
        writeln!(
            w,
            "  note: {no_time} (rule, event) pairs were skipped by sequence rules for lack of a usable timestamp"
        )?;
    }
    Ok(())
}
