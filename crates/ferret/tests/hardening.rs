//! Hardening tests of the `ferret` binary (issue 6): adversarial join keys
//! against the live-partials cap, every kind of hostile event input among
//! good events, byte-identical output across runs and thread counts, and
//! unsorted input giving the same alerts as sorted input.
//!
//! Inputs are written under `std::env::temp_dir()`; the generated telemetry
//! comes from `../shared/bench/gen_events.py` (shared path overridable with
//! `FERRET_SHARED`; the tests fail if it is missing).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use ferret_testkit::{fresh_temp_dir as tmpdir, shared_dir as shared, workspace_root as workspace};

fn command<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferret"));
    c.args(args).current_dir(workspace()).env("NO_COLOR", "1");
    c
}

fn ferret<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    command(args).output().expect("run ferret")
}

/// Runs several ferret invocations at once (they are independent; this
/// halves the wall time on two cores).
fn ferret_parallel(runs: &[Vec<String>]) -> Vec<Output> {
    let children: Vec<_> = runs
        .iter()
        .map(|args| {
            command(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn ferret")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait for ferret"))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .expect("utf-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

/// `event.id` of every event of every `ferret query` hit, one list per hit.
fn hit_ids(out: &Output) -> Vec<Vec<String>> {
    lines(out)
        .iter()
        .map(|h| {
            h["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| {
                    e["_source"]["event"]["id"]
                        .as_str()
                        .unwrap_or("<no id>")
                        .to_string()
                })
                .collect()
        })
        .collect()
}

/// `event.id`s of the alerts of `ferret scan`, one list per alert.
fn alert_ids(out: &Output) -> Vec<Vec<String>> {
    lines(out)
        .iter()
        .map(|a| {
            a["ferret.events"]
                .as_array()
                .expect("ferret.events")
                .iter()
                .map(|e| e["event"]["id"].as_str().unwrap_or("<no id>").to_string())
                .collect()
        })
        .collect()
}

// ----- a. adversarial join keys -------------------------------------------

/// 60,000 process events, each with its own `user.name`, and no `maxspan`:
/// every one opens a partial sequence that nothing expires. With a cap of
/// 1,000 the engine must evict exactly 59,000 (so never more than 1,000 are
/// live), say so on stderr, and still complete the sequences whose partials
/// survived (the most recently created keys) while the evicted ones cannot.
/// Both the default (sort in memory) and the streaming (`--reorder-window`)
/// modes are checked. Measured: about 2 s of CPU per run in a debug build.
#[test]
fn distinct_join_keys_are_capped_and_evictions_reported() {
    const N: u64 = 60_000;
    const CAP: u64 = 1_000;
    let dir = tmpdir("adversarial");
    let path = dir.join("keys.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let t0 = 1_700_000_000_000u64;
    for i in 0..N {
        writeln!(
            f,
            r#"{{"@timestamp":{},"event":{{"category":"process","id":"p{i}"}},"user":{{"name":"u{i}"}}}}"#,
            t0 + i
        )
        .unwrap();
    }
    // Network events for two evicted keys and three surviving ones.
    let keys = [5, 100, N - 3, N - 2, N - 1];
    for (j, k) in keys.iter().enumerate() {
        writeln!(
            f,
            r#"{{"@timestamp":{},"event":{{"category":"network","id":"n{k}"}},"user":{{"name":"u{k}"}}}}"#,
            t0 + N + j as u64
        )
        .unwrap();
    }
    drop(f);
    let query = "sequence by user.name [process where true] [network where true]";
    let cap = CAP.to_string();
    for extra in [&[][..], &["--reorder-window", "1s"][..]] {
        let mut args = vec![
            "query",
            "--format",
            "ndjson",
            "--max-live-partials",
            &cap,
            query,
            path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = ferret(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {err}");
        let expected = format!(
            "{} partial sequences evicted by the cap of {CAP} live partials",
            N - CAP
        );
        assert!(
            err.contains(&expected),
            "{extra:?}: eviction count not reported as `{expected}`: {err}"
        );
        let want: Vec<Vec<String>> = [N - 3, N - 2, N - 1]
            .iter()
            .map(|k| vec![format!("p{k}"), format!("n{k}")])
            .collect();
        assert_eq!(hit_ids(&out), want, "{extra:?}");
        let keys: Vec<Value> = lines(&out).iter().map(|h| h["join_keys"].clone()).collect();
        assert_eq!(
            keys,
            [N - 3, N - 2, N - 1]
                .iter()
                .map(|k| serde_json::json!([format!("u{k}")]))
                .collect::<Vec<_>>()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- b. hostile event input ---------------------------------------------

fn good(i: u32) -> String {
    format!(
        r#"{{"@timestamp":"2024-01-01T00:00:{i:02}.000Z","event":{{"category":"process","id":"g{i}"}},"process":{{"name":"p{i}"}}}}"#
    )
}

/// CRC-32 (IEEE), for writing a gzip file by hand.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A gzip member holding `data` in one stored (uncompressed) deflate block,
/// so the byte offset of every line inside the file is known.
fn gzip_stored(data: &[u8]) -> (Vec<u8>, usize) {
    assert!(data.len() < 65_536);
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.push(1); // BFINAL=1, BTYPE=00 (stored)
    let len = data.len() as u16;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    let data_start = out.len();
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    (out, data_start)
}

struct HostileInputs {
    dir: PathBuf,
    files: Vec<String>,
    /// `event.id` of every good event, in time order.
    good_ids: Vec<String>,
}

/// One NDJSON file with every kind of bad record between good events, a
/// gzip file cut off in the middle of its fourth line, and an empty file.
fn hostile_inputs(name: &str) -> HostileInputs {
    let dir = tmpdir(name);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut good_ids = Vec::new();
    let push_good = |lines: &mut Vec<Vec<u8>>, ids: &mut Vec<String>, i: u32| {
        lines.push(good(i).into_bytes());
        ids.push(format!("g{i}"));
    };
    push_good(&mut lines, &mut good_ids, 1);
    // line 2: not JSON at all
    lines.push(b"this is not json".to_vec());
    push_good(&mut lines, &mut good_ids, 3);
    // line 4: invalid UTF-8 inside a string
    lines.push(
        b"{\"@timestamp\":\"2024-01-01T00:00:04Z\",\"event\":{\"category\":\"process\",\"id\":\"bad-utf8\"},\"x\":\"\xff\xfe\"}"
            .to_vec(),
    );
    push_good(&mut lines, &mut good_ids, 5);
    // line 6: 20,000-deep nesting
    let mut deep = b"{\"@timestamp\":\"2024-01-01T00:00:06Z\",\"event\":{\"category\":\"process\",\"id\":\"deep\"},\"d\":".to_vec();
    deep.extend(vec![b'['; 20_000]);
    deep.extend(vec![b']'; 20_000]);
    deep.push(b'}');
    lines.push(deep);
    push_good(&mut lines, &mut good_ids, 7);
    // line 8: number out of range
    lines.push(
        br#"{"@timestamp":"2024-01-01T00:00:08Z","event":{"category":"process","id":"huge"},"n":1e999}"#
            .to_vec(),
    );
    push_good(&mut lines, &mut good_ids, 9);
    // line 10: NaN
    lines.push(
        br#"{"@timestamp":"2024-01-01T00:00:10Z","event":{"category":"process","id":"nan"},"n":NaN}"#
            .to_vec(),
    );
    push_good(&mut lines, &mut good_ids, 11);
    // line 12: a 2 MB string: valid JSON, so a good event
    let mut big = br#"{"@timestamp":"2024-01-01T00:00:12Z","event":{"category":"process","id":"big"},"blob":""#.to_vec();
    big.extend(vec![b'A'; 2 * 1024 * 1024]);
    big.extend_from_slice(b"\"}");
    lines.push(big);
    good_ids.push("big".into());
    push_good(&mut lines, &mut good_ids, 13);
    // line 14: a record cut off at the end of its line
    lines.push(br#"{"@timestamp":"2024-01-01T00:00:14Z","event":{"category":"#.to_vec());
    push_good(&mut lines, &mut good_ids, 15);
    let mut text = lines.join(&b'\n');
    text.push(b'\n');
    std::fs::write(dir.join("hostile.ndjson"), text).unwrap();

    // The gzip file: six events, cut in the middle of the fourth.
    let gz_lines: Vec<String> = (40..46).map(good).collect();
    let body = gz_lines.join("\n") + "\n";
    let (gz, data_start) = gzip_stored(body.as_bytes());
    let cut = data_start + gz_lines[..3].iter().map(|l| l.len() + 1).sum::<usize>() + 20;
    std::fs::write(dir.join("truncated.ndjson.gz"), &gz[..cut]).unwrap();
    good_ids.extend(["g40", "g41", "g42"].map(String::from));

    std::fs::write(dir.join("empty.ndjson"), b"").unwrap();
    let files = ["hostile.ndjson", "truncated.ndjson.gz", "empty.ndjson"]
        .iter()
        .map(|f| dir.join(f).to_str().unwrap().to_string())
        .collect();
    HostileInputs {
        dir,
        files,
        good_ids,
    }
}

/// What stderr must say about the hostile inputs: each problem with its
/// file and line, then a summary counting events and skips by reason.
fn assert_hostile_reported(err: &str, events: usize) {
    for needle in [
        "hostile.ndjson:2: invalid-json",
        "hostile.ndjson:4: invalid-utf8",
        "hostile.ndjson:6: too-deep",
        "hostile.ndjson:8: number-out-of-range",
        "hostile.ndjson:10: non-finite-number",
        "hostile.ndjson:14: truncated",
        "truncated.ndjson.gz:4: corrupt-gzip",
        "empty.ndjson: empty-input",
    ] {
        assert!(err.contains(needle), "stderr lacks `{needle}`:\n{err}");
    }
    let summary = format!(
        "{events} events read from 3 inputs, 8 skipped (invalid-json: 1, invalid-utf8: 1, \
         too-deep: 1, number-out-of-range: 1, non-finite-number: 1, truncated: 1, \
         corrupt-gzip: 1, empty-input: 1)"
    );
    assert!(err.contains(&summary), "stderr lacks `{summary}`:\n{err}");
}

#[test]
fn hostile_event_input_is_reported_and_every_good_event_processed() {
    let inputs = hostile_inputs("hostile");
    // The good ids are listed in time order (g40… come after g15).
    let sorted_good = inputs.good_ids.clone();

    // ferret query
    let query = |strict: bool| {
        let mut args = vec!["query", "--format", "ndjson", "process where true"];
        if strict {
            args.push("--strict");
        }
        args.extend(inputs.files.iter().map(String::as_str));
        ferret(&args)
    };
    let out = query(false);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let hits: Vec<String> = hit_ids(&out).into_iter().flatten().collect();
    assert_eq!(hits, sorted_good, "{err}");
    assert_hostile_reported(&err, sorted_good.len());
    let strict = query(true);
    assert_eq!(
        strict.status.code(),
        Some(1),
        "--strict: {}",
        stderr(&strict)
    );
    assert_eq!(strict.stdout, out.stdout, "--strict prints the same hits");

    // ferret scan
    let rules = inputs.dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("every_process.toml"),
        "[rule]\nrule_id = \"hardening-every-process\"\nname = \"Every process\"\n\
         description = \"test\"\ntype = \"eql\"\nlanguage = \"eql\"\nseverity = \"low\"\n\
         risk_score = 1\nquery = '''\nprocess where true\n'''\n",
    )
    .unwrap();
    let scan = |strict: bool| {
        let mut args = vec![
            "scan".to_string(),
            "--format".into(),
            "ndjson".into(),
            "--rules".into(),
            rules.to_str().unwrap().into(),
        ];
        if strict {
            args.push("--strict".into());
        }
        args.extend(inputs.files.iter().cloned());
        ferret(&args)
    };
    let out = scan(false);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let mut alerted: Vec<String> = alert_ids(&out).into_iter().flatten().collect();
    alerted.sort();
    let mut want = sorted_good.clone();
    want.sort();
    assert_eq!(alerted, want, "{err}");
    assert_hostile_reported(&err, sorted_good.len());
    let strict = scan(true);
    assert_eq!(
        strict.status.code(),
        Some(1),
        "--strict: {}",
        stderr(&strict)
    );
    assert_eq!(strict.stdout, out.stdout, "--strict prints the same alerts");
    let _ = std::fs::remove_dir_all(&inputs.dir);
}

/// Issue 6 item 1 also lists events whose timestamp is missing or cannot be
/// read: they must be reported with file and line (reasons
/// `missing-timestamp` / `bad-timestamp`, which `ferret_event::SkipReason`
/// already defines) and skipped (`ferret query`; see `scan.rs` for scan).
#[test]
fn missing_and_unparseable_timestamps_are_reported_and_skipped() {
    let dir = tmpdir("timestamps");
    let path = dir.join("ts.ndjson");
    let text = [
        good(1),
        r#"{"event":{"category":"process","id":"no-ts"}}"#.to_string(),
        good(3),
        r#"{"@timestamp":"not a date","event":{"category":"process","id":"bad-ts"}}"#.to_string(),
        good(5),
    ]
    .join("\n");
    std::fs::write(&path, text + "\n").unwrap();
    let out = ferret(&[
        "query",
        "--format",
        "ndjson",
        "process where true",
        path.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let hits: Vec<String> = hit_ids(&out).into_iter().flatten().collect();
    assert_eq!(hits, ["g1", "g3", "g5"], "{err}");
    assert!(err.contains("ts.ndjson:2: missing-timestamp"), "{err}");
    assert!(err.contains("ts.ndjson:4: bad-timestamp"), "{err}");
    let strict = ferret(&[
        "query",
        "--strict",
        "--format",
        "ndjson",
        "process where true",
        path.to_str().unwrap(),
    ]);
    assert_eq!(strict.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- c. determinism -----------------------------------------------------

/// `gen_events.py --events 3000 --hosts 20 --seed 9 --attacks 6` into `dir`.
fn generated_events(dir: &Path) -> PathBuf {
    let out = Command::new("python3")
        .arg(shared().join("bench/gen_events.py"))
        .args([
            "--events",
            "3000",
            "--hosts",
            "20",
            "--seed",
            "9",
            "--attacks",
            "6",
        ])
        .output()
        .expect("python3 runs gen_events.py");
    assert!(
        out.status.success(),
        "gen_events.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join("events.ndjson");
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

/// Every EQL rule of the shared corpus over generated telemetry: three
/// runs (one with `--threads 1`, two with `--threads 2`, at once) give
/// byte-identical alerts. Measured: about 15 s of CPU per run in a debug
/// build, which is why there are three and not more.
#[test]
fn scan_output_is_byte_identical_across_runs_and_threads() {
    let dir = tmpdir("determinism");
    let events = generated_events(&dir);
    let rules = shared().join("corpus/detection-rules");
    let args = |threads: &str| -> Vec<String> {
        vec![
            "scan".into(),
            "--format".into(),
            "ndjson".into(),
            "--threads".into(),
            threads.into(),
            "--rules".into(),
            rules.to_str().unwrap().into(),
            events.to_str().unwrap().into(),
        ]
    };
    let outs = ferret_parallel(&[args("1"), args("2"), args("2")]);
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    }
    let alerts = lines(&outs[0]);
    assert!(
        alerts.len() > 100,
        "expected many alerts from the corpus, got {}",
        alerts.len()
    );
    let rules_fired: std::collections::BTreeSet<&str> = alerts
        .iter()
        .filter_map(|a| a["kibana.alert.rule.rule_id"].as_str())
        .collect();
    assert!(rules_fired.len() > 10, "{rules_fired:?}");
    assert!(
        outs[0].stdout == outs[1].stdout,
        "--threads 1 and --threads 2 differ"
    );
    assert!(
        outs[1].stdout == outs[2].stdout,
        "two runs with --threads 2 differ"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `ferret query` (a sequence, a sample and an event query with a pipe)
/// gives byte-identical output across runs and `--threads` values.
#[test]
fn query_output_is_byte_identical_across_runs_and_threads() {
    let dir = tmpdir("query-determinism");
    let events = generated_events(&dir);
    for query in [
        "sequence by host.id with maxspan=30s [process where event.type == \"start\"] [network where true]",
        "sample by host.id [process where true] [network where true]",
        "any where true | tail 50",
    ] {
        let args = |threads: &str| -> Vec<String> {
            vec![
                "query".into(),
                "--format".into(),
                "ndjson".into(),
                "--threads".into(),
                threads.into(),
                query.into(),
                events.to_str().unwrap().into(),
            ]
        };
        let outs = ferret_parallel(&[args("1"), args("2"), args("2")]);
        for o in &outs {
            assert_eq!(o.status.code(), Some(0), "{query}: {}", stderr(o));
        }
        assert!(!outs[0].stdout.is_empty(), "{query}: no hits");
        assert!(outs[0].stdout == outs[1].stdout, "{query}: threads 1 vs 2");
        assert!(outs[1].stdout == outs[2].stdout, "{query}: run to run");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- d. unsorted input --------------------------------------------------

/// xorshift64*: a fixed shuffle without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Shuffles `lines` but keeps events with equal timestamps in their
/// original relative order: without a tiebreaker that order is what
/// decides between them (as in Elasticsearch), so it is part of the input's
/// meaning, not of its sortedness.
fn shuffle_keeping_ties(lines: &[&str], seed: u64) -> Vec<String> {
    let ts = |l: &str| -> String {
        let v: Value = serde_json::from_str(l).expect("generated line is JSON");
        v["@timestamp"].to_string()
    };
    let mut order: Vec<usize> = (0..lines.len()).collect();
    let mut rng = Rng(seed);
    for i in (1..order.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    // Positions each timestamp occupies after the shuffle, refilled with
    // that timestamp's lines in their original order.
    let mut by_ts: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        by_ts.entry(ts(l)).or_default().push(i);
    }
    let mut next: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(lines.len());
    for &i in &order {
        let t = ts(lines[i]);
        let k = next.entry(t.clone()).or_insert(0);
        out.push(lines[by_ts[&t][*k]].to_string());
        *k += 1;
    }
    out
}

/// Scans generated telemetry with injected attacks with the corpus's
/// sequence rules (the seed rule's upstream version and the SSH brute-force
/// `runs=` rule among them), once in time order and once shuffled; returns
/// both outputs.
fn sorted_and_shuffled_scans(name: &str) -> (Output, Output) {
    let dir = tmpdir(name);
    let events = generated_events(&dir);
    let text = std::fs::read_to_string(&events).unwrap();
    let sorted: Vec<&str> = text.lines().collect();
    let shuffled = shuffle_keeping_ties(&sorted, 0x5eed_1234_abcd_0001);
    assert_ne!(
        shuffled.iter().map(String::as_str).collect::<Vec<_>>(),
        sorted
    );
    let shuffled_path = dir.join("shuffled.ndjson");
    std::fs::write(&shuffled_path, shuffled.join("\n") + "\n").unwrap();

    // Sequence rules only: they are what input order can break.
    let rules_dir = dir.join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    let mut n_rules = 0;
    let mut stack = vec![shared().join("corpus/detection-rules/rules")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "toml") {
                let body = std::fs::read_to_string(&p).unwrap();
                let is_sequence = body.contains("language = \"eql\"")
                    && body
                        .split_once("query = '''")
                        .is_some_and(|(_, q)| q.trim_start().starts_with("sequence"));
                if is_sequence {
                    n_rules += 1;
                    std::fs::write(rules_dir.join(format!("r{n_rules}.toml")), body).unwrap();
                }
            }
        }
    }
    assert!(n_rules > 100, "only {n_rules} sequence rules found");
    let args = |file: &Path| -> Vec<String> {
        vec![
            "scan".into(),
            "--format".into(),
            "ndjson".into(),
            "--rules".into(),
            rules_dir.to_str().unwrap().into(),
            file.to_str().unwrap().into(),
        ]
    };
    let mut outs = ferret_parallel(&[args(&events), args(&shuffled_path)]);
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let shuffled_out = outs.pop().unwrap();
    (outs.pop().unwrap(), shuffled_out)
}

/// Shuffled input gives the same alerts as sorted input: the same alert
/// documents (same matched events, join keys, times), byte for byte, as a
/// multiset.
#[test]
fn shuffled_input_gives_the_same_alerts_as_sorted_input() {
    let (sorted, shuffled) = sorted_and_shuffled_scans("unsorted");
    let sorted_alerts = alert_ids(&sorted);
    assert!(
        sorted_alerts.iter().filter(|ids| ids.len() >= 2).count() >= 6,
        "too few multi-event sequence alerts on sorted input: {sorted_alerts:?}"
    );
    let a = ferret_testkit::sorted_stdout_lines(&sorted);
    let b = ferret_testkit::sorted_stdout_lines(&shuffled);
    assert_eq!(a.len(), b.len(), "alert counts differ");
    assert!(
        a == b,
        "alert documents differ between sorted and shuffled input"
    );
}

/// Stronger: the alert *order* does not depend on input order either, even
/// for two alerts of one rule with the same alert time (here SSH
/// brute-force windows ending on events with the same timestamp): ties are
/// broken by the matched events' times and contents, never by position.
#[test]
fn shuffled_input_gives_the_same_alert_order_as_sorted_input() {
    let (sorted, shuffled) = sorted_and_shuffled_scans("unsorted-order");
    assert_eq!(alert_ids(&shuffled), alert_ids(&sorted));
    assert!(sorted.stdout == shuffled.stdout);
}
