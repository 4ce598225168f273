//! `ferret query [OPTIONS] QUERY FILE…`: run one EQL query over event files
//! and print the hits, in Elasticsearch's order.
//!
//! With `--format ndjson` each hit is one line of exactly this shape:
//!
//! ```text
//! {"events": [{"_source": {…}}, {"missing": true}, …], "join_keys": [k, …]}
//! ```
//!
//! `_source` is the event as read; `{"missing": true}` stands for a
//! missing-event stage; `join_keys` is present for sequences and samples
//! only. The legacy `count` / `unique_count` pipes add `"count"`,
//! `"percent"` and `"key"` members (a bare `count` hit has no events).
//! `--format table` prints compact columns instead.
//!
//! Problems with events (invalid JSON, …) are reported on stderr with file
//! and line, skipped, and counted in a summary; state given up because of the
//! live-partials cap is reported too.
//!
//! Exit status: 0 when the query ran (with or without hits); 1 when events
//! were skipped and `--strict` was given; 2 when the query is invalid (the
//! error is shown under the query with a caret) or the run could not be
//! carried out (unreadable output, bad arguments).

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use ferret_engine::plan::Body;
use ferret_engine::FieldTypes;
use ferret_engine::{
    Entry, Hit, KeyValue, PlanOptions, QueryRunner, RunConfig, DEFAULT_MAX_LIVE_PARTIALS,
};
use ferret_eql::diagnostic::{render, Diagnostic};
use ferret_event::{
    Event, FieldPath, Projection, RawBatch, RawItem, Reader, SkipReporter, SkipSink, Timestamp,
};
use ferret_scan::originals::Originals;
use ferret_scan::screen::{RecordScreen, ScreenScratch, ScreenSet};
use rayon::prelude::*;

use crate::output::{Format, OutputArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The EQL query (event query, sequence or sample, with pipes)
    pub query: String,
    /// Event files: NDJSON, JSON array, optionally gzipped; `-` reads stdin
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<OsString>,
    /// Field holding the event time
    #[arg(long, default_value = "@timestamp", value_name = "FIELD")]
    pub timestamp_field: String,
    /// Field holding the event category (`process where …` reads it)
    #[arg(long, default_value = "event.category", value_name = "FIELD")]
    pub category_field: String,
    /// Field ordering events that share a timestamp [default: none]
    #[arg(long, value_name = "FIELD")]
    pub tiebreaker_field: Option<String>,
    /// Maximum number of hits [default: unlimited]
    #[arg(long, value_name = "N")]
    pub size: Option<usize>,
    /// Samples returned per join key (sample queries)
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub max_samples_per_key: usize,
    /// Cap on live partial sequences; beyond it the least recently advanced is evicted (and reported)
    #[arg(long, default_value_t = DEFAULT_MAX_LIVE_PARTIALS, value_name = "N")]
    pub max_live_partials: usize,
    /// Sequences: match events in a streaming way, assuming input is out of
    /// time order by at most this much (e.g. `30s`, `500ms`, `5m`); later
    /// events are counted and ignored. Default: sort all candidates in memory
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub reorder_window: Option<std::time::Duration>,
    /// Exit with status 1 if any event was skipped
    #[arg(long)]
    pub strict: bool,
    /// ECS field-types file (JSON: {"field": {"type": "ip"}, …}) for typed comparisons
    #[arg(long, value_name = "FILE")]
    pub schema: Option<std::path::PathBuf>,
    /// Decode every record in full: no record screen (records the query
    /// cannot match are otherwise only checked for syntax and time); the
    /// output is the same either way
    #[arg(long)]
    pub no_screen: bool,
    /// Threads decoding events [default: all cores]; output is identical for any N
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A record decoded for the query, or ruled out by the record screen and
/// decoded only for its syntax and time.
// Boxing the event would cost an allocation per record; a batch's results
// live only until they are pushed.
#[allow(clippy::large_enum_variant)]
enum Decoded {
    Event(Event),
    Quiet(Option<Timestamp>),
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let color_err = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    // Syntax, semantic validation and lints: errors stop the run, warnings
    // (e.g. a wildcard in an exact `in` list) are shown and the query runs.
    let analysis = ferret_eql::analyze(&args.query);
    if !analysis.diagnostics.is_empty() {
        eprint!(
            "{}",
            render(&analysis.diagnostics, "<query>", &args.query, 0, color_err)
        );
    }
    let query = match analysis.valid_query() {
        Some(q) => q,
        None => return Ok(ExitCode::from(2)),
    };
    let field_types = match &args.schema {
        Some(p) => Some(Arc::new(
            FieldTypes::load(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        )),
        None => None,
    };
    let opts = PlanOptions {
        category_field: args.category_field.clone(),
        field_types,
    };
    let plan = match ferret_engine::plan(query, &opts) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            let diag = Diagnostic::error("E900", e.message, e.span);
            eprint!("{}", render(&[diag], "<query>", &args.query, 0, color_err));
            return Ok(ExitCode::from(2));
        }
    };
    let config = RunConfig {
        timestamp_field: args.timestamp_field.clone(),
        timestamp_fallback: None,
        tiebreaker_field: args.tiebreaker_field.clone(),
        size: args.size,
        max_samples_per_key: args.max_samples_per_key,
        max_live_partials: args.max_live_partials,
        reorder_window: args.reorder_window,
        // The table output reads any field of a hit's events.
        stand_in: None,
    };

    let mut runner = QueryRunner::new(plan, &config);
    let mut reader = Reader::from_args(&args.files);
    let mut skips = SkipReporter::stderr(SkipReporter::<std::io::Stderr>::DEFAULT_CAP);
    // Decoding is the costly step and records are independent: decode each
    // batch on the pool, then push in input order so results do not depend
    // on the thread count.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()?;
    // Elasticsearch orders (and so requires) every event by its timestamp;
    // only a sample does without one. An event without a usable timestamp
    // is reported at its line and skipped, like any other unusable record.
    let needs_time = !matches!(runner.plan().body, Body::Sample(_));
    let ts_path = FieldPath::dotted(&config.timestamp_field);
    // Decode only what the query reads; the raw record of every event the
    // runner keeps is kept beside it and decoded in full for output.
    let mut paths = runner.plan().field_paths();
    paths.push(ts_path.clone());
    paths.extend(config.tiebreaker_field.as_deref().map(FieldPath::dotted));
    let projection = Projection::new(&paths);
    // Records the query cannot match, by their text (see
    // `ferret_scan::screen`), are decoded only for their syntax and time.
    let quiet = Projection::new([&ts_path]);
    let query_screen = (!args.no_screen)
        .then(|| ScreenSet::of([runner.plan().screen()]))
        .flatten();
    let mut screen: Option<Option<RecordScreen>> = None;
    let clock = runner.order_fields().clone();
    let mut originals = Originals::default();
    let file_names = reader.file_names().to_vec();
    let mut raw = RawBatch::new();
    while reader.next_raw_batch(&mut raw) {
        let screen = &*screen.get_or_insert_with(|| {
            query_screen
                .as_ref()
                .and_then(|set| RecordScreen::for_batch(set, &raw, false))
        });
        let check_time = |event: Event| match event.timestamp(&ts_path) {
            Err(e) if needs_time => {
                let file = file_names[event.origin.file as usize].clone();
                Err(e.into_skip(file, event.origin))
            }
            _ => Ok(event),
        };
        let decoded: Vec<Result<Decoded, _>> = pool.install(|| {
            (0..raw.len())
                .into_par_iter()
                .map_init(ScreenScratch::default, |scratch, i| {
                    if let (Some(screen), RawItem::Record(r)) = (screen, raw.get(i)) {
                        if !screen.may_concern(r.bytes, scratch) {
                            let event = check_time(raw.decode_projected(i, &quiet)?)?;
                            return Ok(Decoded::Quiet(clock.timestamp(&event)));
                        }
                    }
                    check_time(raw.decode_projected(i, &projection)?).map(Decoded::Event)
                })
                .collect()
        });
        let mut events = Vec::with_capacity(decoded.len());
        let mut newest: Option<Timestamp> = None;
        for (i, result) in decoded.into_iter().enumerate() {
            reader.stats_mut().record(&result);
            match result {
                Ok(Decoded::Event(event)) => {
                    newest = newest.max(clock.timestamp(&event));
                    let event = Arc::new(event);
                    runner.push(&event);
                    events.push((event, i));
                }
                Ok(Decoded::Quiet(time)) => newest = newest.max(time),
                Err(skip) => skips.skip(skip),
            }
        }
        // Records ruled out by the screen were not pushed: the query learns
        // how far time has come from them all.
        if let Some(t) = newest {
            runner.advance(t);
        }
        originals.keep_held(&mut raw, &events, Vec::new());
    }
    let read_stats = reader.stats().clone();
    let out = runner.finish();

    let format = args.output.format();
    let mut w = args.output.open()?;
    match format {
        Format::Ndjson => {
            for hit in &out.hits {
                write_ndjson(&mut w, hit, &originals)?;
            }
        }
        Format::Table => write_table(
            &mut w,
            &out.hits,
            &originals,
            &config,
            &args.category_field,
            args.output.color(),
        )?,
    }
    w.flush()?;
    drop(w);

    let skipped = read_stats.skipped_total();
    if skipped > 0 || format == Format::Table {
        skips.finish(&read_stats);
    }
    let s = &out.stats;
    if s.partials_evicted > 0 {
        eprintln!(
            "warning: {} partial sequences evicted by the cap of {} live partials (--max-live-partials); results may be incomplete",
            s.partials_evicted, config.max_live_partials
        );
    }
    if s.sample_keys_dropped > 0 {
        eprintln!(
            "warning: {} sample join keys not tracked beyond the cap of {} keys (--max-live-partials); results may be incomplete",
            s.sample_keys_dropped, config.max_live_partials
        );
    }
    if s.late_events > 0 {
        eprintln!(
            "warning: {} sequence events arrived later than the reorder window allows and were ignored",
            s.late_events
        );
    }
    if s.missing_timestamp > 0 {
        eprintln!(
            "warning: {} events matched a sequence stage but have no usable `{}` and were ignored",
            s.missing_timestamp, config.timestamp_field
        );
    }
    if format == Format::Table {
        eprintln!(
            "{} hit{}",
            out.hits.len(),
            if out.hits.len() == 1 { "" } else { "s" }
        );
    }
    if args.strict && skipped > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `500ms`, `30s`, `5m`, `2h`, `1d` (a bare number is seconds).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s"))?;
    let ms = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("unknown unit `{unit}` (use ms, s, m, h or d)")),
    };
    Ok(std::time::Duration::from_millis(n.saturating_mul(ms)))
}

fn key_json(keys: &[KeyValue]) -> serde_json::Value {
    serde_json::Value::Array(keys.iter().map(KeyValue::to_json).collect())
}

/// Writes one hit as one NDJSON line (see the module documentation).
fn write_ndjson(w: &mut dyn Write, hit: &Hit, originals: &Originals) -> anyhow::Result<()> {
    w.write_all(b"{\"events\": [")?;
    for (i, entry) in hit.entries.iter().enumerate() {
        if i > 0 {
            w.write_all(b", ")?;
        }
        match entry {
            Entry::Event(e) => {
                w.write_all(b"{\"_source\": ")?;
                match originals.full_doc(e) {
                    Some(doc) => serde_json::to_writer(&mut *w, &doc)?,
                    None => serde_json::to_writer(&mut *w, &e.doc)?,
                }
                w.write_all(b"}")?;
            }
            Entry::Missing => w.write_all(b"{\"missing\": true}")?,
        }
    }
    w.write_all(b"]")?;
    if let Some(keys) = &hit.join_keys {
        w.write_all(b", \"join_keys\": ")?;
        serde_json::to_writer(&mut *w, &key_json(keys))?;
    }
    if let Some(agg) = &hit.aggregate {
        write!(w, ", \"count\": {}, \"percent\": ", agg.count)?;
        serde_json::to_writer(&mut *w, &serde_json::json!(agg.percent))?;
        w.write_all(b", \"key\": ")?;
        serde_json::to_writer(&mut *w, &key_json(&agg.key))?;
    }
    w.write_all(b"}\n")?;
    Ok(())
}

/// Fields shown in the table's summary column, first present wins per slot.
const SUMMARY_FIELDS: &[&str] = &[
    "host.name",
    "user.name",
    "process.name",
    "process.pid",
    "process.args",
    "destination.ip",
    "destination.port",
    "file.path",
    "dns.question.name",
];

fn scalar(v: ferret_event::FieldValue<'_>) -> String {
    match v {
        ferret_event::FieldValue::Str(s) => s.to_string(),
        other => other.to_string(),
    }
}

fn field_text(e: &Event, name: &str) -> Option<String> {
    let path = ferret_event::FieldPath::dotted(name);
    let vals = e.values(&path);
    match vals.len() {
        0 => None,
        1 => Some(scalar(vals[0])),
        _ => Some(format!(
            "[{}]",
            vals.iter()
                .map(|v| scalar(*v))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Human output: one line per hit header, one indented line per event with
/// its time, category and a few identifying fields.
fn write_table(
    w: &mut dyn Write,
    hits: &[Hit],
    originals: &Originals,
    config: &RunConfig,
    category_field: &str,
    color: bool,
) -> anyhow::Result<()> {
    let (bold, dim, reset) = if color {
        ("\x1b[1m", "\x1b[2m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    for (n, hit) in hits.iter().enumerate() {
        let mut header = format!("{bold}#{}{reset}", n + 1);
        if let Some(keys) = &hit.join_keys {
            header.push_str(&format!("  join_keys {}", key_json(keys)));
        }
        if let Some(agg) = &hit.aggregate {
            header.push_str(&format!(
                "  count {}  ({:.1}%)  key {}",
                agg.count,
                agg.percent * 100.0,
                key_json(&agg.key)
            ));
        }
        writeln!(w, "{header}")?;
        for entry in &hit.entries {
            match entry {
                Entry::Missing => writeln!(w, "  {dim}(missing event){reset}")?,
                Entry::Event(e) => {
                    // The event as read (runners saw a projection).
                    let full = originals.full_doc(e).map(|doc| Event::new(doc, e.origin));
                    let e = full.as_ref().unwrap_or(e);
                    let ts = field_text(e, &config.timestamp_field).unwrap_or_else(|| "-".into());
                    let cat = field_text(e, category_field).unwrap_or_else(|| "-".into());
                    let summary: Vec<String> = SUMMARY_FIELDS
                        .iter()
                        .filter_map(|f| field_text(e, f).map(|v| format!("{f}={}", clip(&v, 60))))
                        .collect();
                    writeln!(
                        w,
                        "  {:<26} {:<14} {}",
                        clip(&ts, 26),
                        clip(&cat, 14),
                        summary.join(" ")
                    )?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_engine::Aggregate;
    use ferret_event::Origin;
    use serde_json::json;

    fn line(hit: &Hit) -> String {
        let mut out = Vec::new();
        write_ndjson(&mut out, hit, &Originals::default()).expect("write");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn ndjson_shape_is_exact() {
        let e = Arc::new(Event::new(json!({"b": 1, "a": "x"}), Origin::default()));
        let event_hit = Hit {
            entries: vec![Entry::Event(e.clone())],
            join_keys: None,
            aggregate: None,
        };
        assert_eq!(
            line(&event_hit),
            "{\"events\": [{\"_source\": {\"b\":1,\"a\":\"x\"}}]}\n"
        );
        let seq_hit = Hit {
            entries: vec![Entry::Event(e), Entry::Missing],
            join_keys: Some(vec![
                KeyValue::Str("h".into()),
                KeyValue::Null,
                KeyValue::Int(3),
            ]),
            aggregate: None,
        };
        let text = line(&seq_hit);
        assert_eq!(
            text,
            "{\"events\": [{\"_source\": {\"b\":1,\"a\":\"x\"}}, {\"missing\": true}], \"join_keys\": [\"h\",null,3]}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["events"][1], json!({"missing": true}));
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("30s"),
            Ok(std::time::Duration::from_secs(30))
        );
        assert_eq!(
            parse_duration("500ms"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert_eq!(
            parse_duration("2m"),
            Ok(std::time::Duration::from_secs(120))
        );
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn count_hits_carry_their_aggregate() {
        let hit = Hit {
            entries: vec![],
            join_keys: None,
            aggregate: Some(Aggregate {
                key: vec![KeyValue::Str("a".into())],
                count: 2,
                percent: 0.5,
            }),
        };
        let v: serde_json::Value = serde_json::from_str(&line(&hit)).expect("valid JSON");
        assert_eq!(
            v,
            json!({"events": [], "count": 2, "percent": 0.5, "key": ["a"]})
        );
    }
}
