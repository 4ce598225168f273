//! Measures the reader on a file: `cargo run --release -p ferret-event
//! --example read_speed -- FILE [raw|decode|project|baseline]`. `raw` only splits records;
//! `decode` also parses each into a JSON document (on one thread);
//! `project` decodes only the seed rule's fields; `baseline` is std line splitting plus serde_json, for comparison.

use std::time::Instant;

use ferret_event::{RawBatch, ReadStats, Reader};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first() else {
        eprintln!("usage: read_speed FILE [raw|decode|project|baseline]");
        std::process::exit(2);
    };
    let mode = args.get(1).map(String::as_str).unwrap_or("decode");
    let start = Instant::now();
    if mode == "baseline" {
        // std line splitting + serde_json, for comparison in the same run.
        use std::io::BufRead;
        let f = std::io::BufReader::new(std::fs::File::open(file).unwrap());
        let mut n = 0u64;
        for line in f.split(b'\n') {
            let line = line.unwrap();
            if serde_json::from_slice::<serde_json::Value>(&line).is_ok() {
                n += 1;
            }
        }
        println!("baseline: {n} in {:.3} s", start.elapsed().as_secs_f64());
        return;
    }
    let decode = mode == "decode";
    // The seed rule's fields, as a typical projection.
    let fields: Vec<ferret_event::FieldPath> = [
        "@timestamp",
        "event.category",
        "event.type",
        "event.action",
        "host.id",
        "host.os.type",
        "process.name",
        "process.args",
        "process.entity_id",
        "process.parent.name",
        "process.parent.entity_id",
    ]
    .iter()
    .map(|f| ferret_event::FieldPath::dotted(f))
    .collect();
    let projection = ferret_event::Projection::new(&fields);
    let project = mode == "project";
    let mut reader = Reader::from_args([file]);
    let mut batch = RawBatch::new();
    let mut stats = ReadStats::default();
    let mut entries = 0u64;
    while reader.next_raw_batch(&mut batch) {
        entries += batch.len() as u64;
        if decode {
            for i in 0..batch.len() {
                stats.record(&batch.decode(i));
            }
        } else if project {
            for i in 0..batch.len() {
                stats.record(&batch.decode_projected(i, &projection));
            }
        }
    }
    stats.inputs = reader.stats().inputs;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{entries} entries in {secs:.3} s ({:.0} /s); decoded: {stats}",
        entries as f64 / secs
    );
}
