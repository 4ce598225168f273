//! The guard that speed did not cost correctness (issue 5): the optimized
//! scan (projection decoding, category dispatch, streaming sequences with a
//! reorder window) must give byte-identical alerts to the reference path
//! (every rule offered every fully decoded event, exact ordering) with every
//! EQL rule of the shared corpus over generated telemetry with injected
//! attacks. Also: unsorted input (issue 6 item 3) — within the reorder window
//! it gives the same alerts as sorted input; beyond it the late events are
//! counted, and `reorder_window: None` orders any input exactly.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use ferret_event::{Reader, Skip};
use ferret_rules::{RuleFilter, RuleSet};
use ferret_scan::{compile, scan, CompileOptions, Compiled, ScanOptions, ScanOutcome, ScreenUse};

fn shared() -> PathBuf {
    let dir = std::env::var_os("FERRET_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    assert!(
        dir.join("bench/gen_events.py").exists(),
        "shared material not found at {} (set FERRET_SHARED)",
        dir.display()
    );
    dir
}

fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferret-equality-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Generated telemetry (sorted by time, as the generator writes it).
fn generate(dir: &Path, events: u32, attacks: u32) -> PathBuf {
    let out = Command::new("python3")
        .arg(shared().join("bench/gen_events.py"))
        .args([
            "--events",
            &events.to_string(),
            "--hosts",
            "50",
            "--seed",
            "3",
        ])
        .args(["--attacks", &attacks.to_string()])
        .output()
        .expect("python3 runs the generator");
    assert!(out.status.success(), "gen_events.py failed");
    let path = dir.join("events.ndjson");
    std::fs::write(&path, out.stdout).unwrap();
    path
}

fn load(paths: &[PathBuf]) -> Compiled {
    let set = RuleSet::load(paths, &RuleFilter::default());
    compile(set, &CompileOptions::default())
}

fn run(compiled: &Compiled, events: &Path, opts: &ScanOptions) -> ScanOutcome {
    let mut skips: Vec<Skip> = Vec::new();
    let out = scan(
        compiled,
        Reader::from_args([events]),
        opts,
        &mut skips,
        &mut |_| {},
    );
    assert!(
        skips.is_empty(),
        "generated events are all valid: {skips:?}"
    );
    out
}

/// Options for the straightforward path the optimized one is checked
/// against.
fn reference_path() -> ScanOptions {
    ScanOptions {
        reference: true,
        ..ScanOptions::default()
    }
}

/// Alerts as the CLI prints them (NDJSON lines, in output order), checked
/// against the document they write, and written after one another into one
/// buffer as the CLI writes them.
fn lines(compiled: &Compiled, out: &ScanOutcome) -> Vec<String> {
    let mut run = String::new();
    let lines: Vec<String> = out
        .alerts
        .iter()
        .map(|a| {
            let a = a.unwrap();
            let line = a.to_json(compiled);
            assert_eq!(line, serde_json::to_string(&a.doc(compiled)).unwrap());
            a.write_json(compiled, &mut run);
            run.push('\n');
            line
        })
        .collect();
    assert_eq!(
        run,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    lines
}

#[test]
fn optimized_scan_equals_reference_with_every_corpus_rule() {
    let dir = tmpdir("corpus");
    let events = generate(&dir, 5_000, 20);
    let compiled = load(&[shared().join("corpus/detection-rules")]);
    assert!(
        compiled.rules.len() >= 1_000,
        "expected the ~1,081 corpus EQL rules, compiled {}",
        compiled.rules.len()
    );
    // Each rule's verdicts are numbered together, rule after rule (what the
    // rule loop's prefetch of a rule's verdict words counts on), and a
    // rule's span two cache lines of verdict words at most.
    let mut next = 0;
    for rule in &compiled.rules {
        assert_eq!(rule.verdict_ids.start, next, "{}", rule.rule.meta.name);
        assert!(rule.verdict_ids.len() <= 512, "{}", rule.rule.meta.name);
        next = rule.verdict_ids.end;
    }
    assert_eq!(next as usize, compiled.verdicts.len());
    assert!(
        next > 1_000,
        "corpus rules have thousands of verdicts: {next}"
    );
    let fast = run(&compiled, &events, &ScanOptions::default());
    let reference = run(&compiled, &events, &reference_path());
    // Alerts spilled to temporary files (a tiny memory budget: a run per
    // batch) come back in the same order.
    let spilled = run(
        &compiled,
        &events,
        &ScanOptions {
            alert_memory: 1,
            ..ScanOptions::default()
        },
    );
    assert!(spilled.alerts.runs() >= 2, "{} runs", spilled.alerts.runs());
    assert_eq!(lines(&compiled, &spilled), lines(&compiled, &fast));
    let (fast, reference) = (lines(&compiled, &fast), lines(&compiled, &reference));
    assert!(
        reference.len() >= 20,
        "the injected attacks alone give alerts: {}",
        reference.len()
    );
    assert_eq!(fast.len(), reference.len(), "alert counts differ");
    for (i, (f, r)) in fast.iter().zip(&reference).enumerate() {
        assert_eq!(f, r, "alert {i} differs");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The record screen (issue 5) rules records out by their text before they
/// are decoded; whatever it rules out, no alert may change. Every corpus
/// rule that can be screened, and the seed rule, in groups small enough to
/// be screened together, with the screen forced on: each group's alerts are
/// the reference path's alerts of its rules.
#[test]
fn screened_scans_give_the_reference_alerts() {
    let dir = tmpdir("screen");
    let events = generate(&dir, 5_000, 20);
    let all = RuleSet::load(
        &[
            shared().join("corpus/detection-rules"),
            shared().join("seed/persistence_systemd_netcon.toml"),
        ],
        &RuleFilter::default(),
    );
    let compiled = compile(all, &CompileOptions::default());
    let reference = run(&compiled, &events, &reference_path());
    let id = |c: &Compiled, a: &ferret_scan::Alert| c.rules[a.rule].rule.meta.rule_id.clone();
    let screenable: Vec<_> = compiled
        .rules
        .iter()
        .filter(|r| r.plan.screen() != ferret_engine::Screen::Always)
        .map(|r| r.rule.clone())
        .collect();
    assert!(
        screenable.len() >= 300,
        "most corpus rules can be screened: {}",
        screenable.len()
    );
    let (mut groups, mut alerts, mut quiet) = (0, 0, 0);
    for group in screenable.chunks(24) {
        let ids: Vec<String> = group.iter().map(|r| r.meta.rule_id.clone()).collect();
        let one = compile(
            RuleSet {
                rules: group.to_vec(),
                ..RuleSet::default()
            },
            &CompileOptions::default(),
        );
        let fast = run(
            &one,
            &events,
            &ScanOptions {
                screen: ScreenUse::Always,
                ..ScanOptions::default()
            },
        );
        if fast.screened_out > 0 {
            groups += 1;
        }
        quiet += fast.screened_out;
        let expected: Vec<String> = reference
            .alerts
            .iter()
            .map(|a| a.unwrap())
            .filter(|a| ids.contains(&id(&compiled, a)))
            .map(|a| a.to_json(&compiled))
            .collect();
        alerts += expected.len();
        assert_eq!(lines(&one, &fast), expected, "rules {ids:?}");
    }
    assert!(
        groups * 2 >= screenable.len().div_ceil(24),
        "most groups were screened: {groups}"
    );
    assert!(alerts >= 10, "the screened rules alert: {alerts}");
    eprintln!(
        "screen: {} rules in {groups} screened groups, {quiet} records ruled out, {alerts} alerts unchanged",
        screenable.len()
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A rule file for the tests below: `query` (EQL), `extra` lines added to
/// its `[rule]` table.
fn test_rule(name: &str, extra: &str, query: &str) -> String {
    format!(
        "[metadata]\nmaturity = \"production\"\n\n[rule]\n\
         rule_id = \"6d1f4c1e-0000-4000-8000-000000000001\"\n\
         name = \"{name}\"\ndescription = \"Test rule.\"\n\
         type = \"eql\"\nlanguage = \"eql\"\nseverity = \"low\"\nrisk_score = 21\n\
         {extra}\nquery = '''\n{query}\n'''\n"
    )
}

/// Alert lines of one rule (TOML text) over `records`, by the optimized
/// path and by the reference path.
fn both_paths(name: &str, rule_toml: &str, records: &[String]) -> (Vec<String>, Vec<String>) {
    let dir = tmpdir(name);
    let rule = dir.join("rule.toml");
    std::fs::write(&rule, rule_toml).unwrap();
    let events = dir.join("events.ndjson");
    std::fs::write(&events, records.join("\n") + "\n").unwrap();
    let compiled = load(&[rule]);
    assert_eq!(compiled.rules.len(), 1, "the rule compiles");
    let fast = lines(&compiled, &run(&compiled, &events, &ScanOptions::default()));
    let reference = lines(&compiled, &run(&compiled, &events, &reference_path()));
    let _ = std::fs::remove_dir_all(dir);
    (fast, reference)
}

/// Samples hold stand-ins for their events on the optimized path (without
/// fields: their records give their times); the alerts still show every
/// event in full, with their times, as the
/// reference path (which holds the events themselves) does. The corpus's
/// samples find nothing in the generated telemetry, so this rule and these
/// events are made to.
#[test]
fn samples_holding_stand_ins_give_the_reference_alerts() {
    let rule = test_rule(
        "Sample of a shell, a connection and a marker",
        "index = [\"logs-*\"]\ntimestamp_override = \"event.ingested\"",
        r#"sample by host.id
  [process where process.name == "sh"]
  [network where destination.port == 4444]
  [any where event.action == "marker"]"#,
    );
    let mut records = Vec::new();
    for i in 0..3_000u32 {
        let host = format!("h{}", i % 7);
        // Only host h3 has all three stages. One of its events matches two
        // stages (a process named sh, marked), and every event carries
        // fields the stand-ins do not keep.
        let mut doc = match (i % 7, i % 50) {
            (3, 10) => json!({"event": {"category": ["network"]}, "destination": {"port": 4444}}),
            (3, 24) => json!({
                "event": {"category": ["process"], "action": "marker"},
                "process": {"name": "sh", "command_line": format!("sh -c 'job {i}'")}
            }),
            (_, 30) => json!({
                "event": {"category": ["process"]},
                "process": {"name": "sh", "command_line": format!("sh -c 'job {i}'")}
            }),
            _ => json!({"event": {"category": ["file"]}, "file": {"path": format!("/tmp/f{i}")}}),
        };
        let clock = format!("{:02}:{:02}", i / 60 % 60, i % 60);
        doc["@timestamp"] = json!(format!("2026-01-01T00:{clock}.000Z"));
        doc["event"]["ingested"] = json!(format!("2026-01-01T01:{clock}.000Z"));
        doc["host"] = json!({"id": host, "name": format!("{host}.example")});
        doc["data_stream"] =
            json!({"type": "logs", "dataset": "endpoint.events", "namespace": "default"});
        doc["message"] = json!(format!("event {i}"));
        records.push(doc.to_string());
    }
    let (fast, reference) = both_paths("sample", &rule, &records);
    assert!(!reference.is_empty(), "the sample finds host h3");
    assert_eq!(fast, reference);
    // Whole events, with fields no rule reads, from the kept records.
    assert!(fast
        .iter()
        .any(|l| l.contains("h3.example") && l.contains("sh -c 'job ")));
}

/// An event with a field both nested and dotted (`host.name` twice) has its
/// members copied through a document rather than from its text: alerts of
/// such events, between others, are written as their documents.
#[test]
fn alerts_of_events_with_a_field_written_twice_are_their_documents() {
    let rule = test_rule(
        "A shell",
        "index = [\"logs-*\"]",
        r#"process where process.name == "sh""#,
    );
    let records: Vec<String> = (0..6)
        .map(|i| {
            let mut doc = json!({
                "@timestamp": format!("2026-01-01T00:00:0{i}.000Z"),
                "event": {"category": ["process"]},
                "process": {"name": "sh", "pid": i},
                "host": {"name": "nested", "id": "h"},
                "data_stream": {"type": "logs", "dataset": "x", "namespace": "default"},
            });
            if i % 2 == 1 {
                doc["host.name"] = json!("dotted");
            }
            doc.to_string()
        })
        .collect();
    let (fast, reference) = both_paths("twice", &rule, &records);
    assert_eq!(fast.len(), 6);
    assert_eq!(fast, reference);
    assert!(fast.iter().any(|l| l.contains("dotted")));
}

/// Alerts of sequences with a missing-event stage: written the same by
/// both paths, with `{"missing":true}` for the stage that found nothing.
#[test]
fn missing_stages_are_written_alike_by_both_paths() {
    let rule = test_rule(
        "Shell not followed by a connection",
        "",
        r#"sequence by host.id with maxspan=30s
  [process where process.name == "sh"]
  ![network where true]"#,
    );
    let mut records = Vec::new();
    for i in 0..600u32 {
        let host = format!("h{}", i % 3);
        let mut doc = match i % 10 {
            0 => {
                json!({"event": {"category": ["process"]}, "process": {"name": "sh", "args": ["sh", "-c", format!("x{i}")]}})
            }
            // Host h1 connects after its shells; the others do not.
            1 if i % 3 == 1 => json!({"event": {"category": ["network"]}}),
            _ => json!({"event": {"category": ["file"]}}),
        };
        doc["@timestamp"] = json!(format!("2026-01-01T00:{:02}:{:02}.000Z", i / 60, i % 60));
        doc["host"] = json!({"id": host});
        records.push(doc.to_string());
    }
    let (fast, reference) = both_paths("missing", &rule, &records);
    assert!(!reference.is_empty());
    assert_eq!(fast, reference);
    assert!(fast.iter().all(|l| l.contains(r#"{"missing":true}"#)));
    assert!(fast.iter().all(|l| l.contains(r#""ferret.join_keys":["#)));
}

/// Reorders the lines of `src`: blocks of `block` lines reversed (bounded
/// disorder), or (`block == 0`) the whole file reversed.
fn reorder(src: &Path, dst: &Path, block: usize) {
    let text = std::fs::read_to_string(src).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    if block == 0 {
        lines.reverse();
    } else {
        for chunk in lines.chunks_mut(block) {
            chunk.reverse();
        }
    }
    std::fs::write(dst, lines.join("\n") + "\n").unwrap();
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn unsorted_input_within_the_window_or_without_one_gives_the_same_alerts() {
    let dir = tmpdir("unsorted");
    let events = generate(&dir, 3_000, 12);
    // Events with equal timestamps keep input order (Elasticsearch's implicit
    // document order), so reordered input may legitimately pick another of
    // two simultaneous events; the generator's unique `event.sequence` as
    // tiebreaker makes the order total.
    let mut set = RuleSet::load(
        &[shared().join("corpus/detection-rules/rules/linux")],
        &RuleFilter::default(),
    );
    for r in &mut set.rules {
        r.meta.tiebreaker_field = Some("event.sequence".to_string());
    }
    let compiled = compile(set, &CompileOptions::default());
    let sequences = compiled
        .rules
        .iter()
        .filter(|r| matches!(r.plan.body, ferret_engine::plan::Body::Sequence(_)))
        .count();
    assert!(
        sequences >= 5,
        "the Linux rules include sequences: {sequences}"
    );
    let base = run(&compiled, &events, &ScanOptions::default());
    let base_lines = sorted(lines(&compiled, &base));
    assert!(
        base.alerts
            .iter()
            .any(|a| a.unwrap().doc(&compiled)["ferret.events"]
                .as_array()
                .unwrap()
                .len()
                > 1),
        "some sequence fires on the injected attacks"
    );

    // Bounded disorder (a few hundred ms here) is absorbed by the window.
    let shuffled = dir.join("blocks.ndjson");
    reorder(&events, &shuffled, 16);
    let out = run(&compiled, &shuffled, &ScanOptions::default());
    assert_eq!(
        out.rule_stats
            .iter()
            .map(|s| s.engine.late_events)
            .sum::<u64>(),
        0
    );
    assert_eq!(sorted(lines(&compiled, &out)), base_lines);

    // Fully reversed input: with a window the late events are counted (not
    // silently lost); with no window every candidate is ordered in memory
    // and the alerts are those of the sorted input.
    let reversed = dir.join("reversed.ndjson");
    reorder(&events, &reversed, 0);
    // (3,000 events span about a minute: a one-second window.)
    let windowed = run(
        &compiled,
        &reversed,
        &ScanOptions {
            reorder_window: Some(std::time::Duration::from_secs(1)),
            ..ScanOptions::default()
        },
    );
    let late: u64 = windowed
        .rule_stats
        .iter()
        .map(|s| s.engine.late_events)
        .sum();
    assert!(late > 0, "reversed input is later than the window allows");
    let exact = run(
        &compiled,
        &reversed,
        &ScanOptions {
            reorder_window: None,
            ..ScanOptions::default()
        },
    );
    assert_eq!(
        exact
            .rule_stats
            .iter()
            .map(|s| s.engine.late_events)
            .sum::<u64>(),
        0
    );
    assert_eq!(sorted(lines(&compiled, &exact)), base_lines);
    let _ = std::fs::remove_dir_all(dir);
}
