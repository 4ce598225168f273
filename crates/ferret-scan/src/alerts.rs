//! Alerts in output order without holding them all in memory.
//!
//! Output is sorted by alert time (then rule name, rule id and content), and
//! a late hit of an event rule can belong anywhere in that order, so nothing
//! can be written before the input ends. Alerts are kept as compact records
//! ([`Alert`]); once those in memory pass a budget they are sorted and
//! written to an anonymous temporary file as one run (on a thread of its
//! own, while the next alerts gather), and [`Alerts::iter`] merges the runs.
//! Memory stays within twice the budget whatever the number of alerts.
//!
//! A run holds its number of alerts, then each alert in a length-prefixed
//! binary form (`write_alert`), its matched documents as their bytes: a
//! hundred thousand alerts of the standard corpus are half a gigabyte of
//! documents, and escaping them into a JSON string and parsing them back
//! was most of the time spent on alerts (on the scanning thread, leaving
//! the pool idle).

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::thread::JoinHandle;

use ferret_event::{Timestamp, Value};

use crate::scan::Alert;

/// Bytes of alerts held in memory before a run is written out.
pub const DEFAULT_MEMORY_BUDGET: usize = 16 << 20;

/// The order of output: time, then the rule's rank (its place by name and
/// id), then content.
fn cmp(a: &Alert, b: &Alert, rank: &[u32]) -> Ordering {
    (a.time, rank[a.rule], &a.tie).cmp(&(b.time, rank[b.rule], &b.tie))
}

/// Collects alerts during a scan (see the module documentation).
pub(crate) struct AlertSink {
    rank: Arc<Vec<u32>>,
    budget: usize,
    mem: Vec<Alert>,
    mem_bytes: usize,
    runs: Vec<File>,
    /// The run being sorted and written on a thread of its own: the
    /// scanning thread, which hands out the rules' work, goes on meanwhile
    /// (written on it, 16 MiB runs left the pool idle for their writing).
    writing: Option<JoinHandle<Result<File, Unwritten>>>,
    len: usize,
    /// A run could not be written; everything stays in memory from then on.
    spill_failed: Option<String>,
    /// Where runs go (a test makes it fail).
    new_file: fn() -> std::io::Result<File>,
}

impl AlertSink {
    /// `rank[rule]` orders rules among alerts of the same time.
    pub(crate) fn new(rank: Vec<u32>, budget: usize) -> AlertSink {
        AlertSink {
            rank: Arc::new(rank),
            budget,
            mem: Vec::new(),
            mem_bytes: 0,
            runs: Vec::new(),
            writing: None,
            len: 0,
            spill_failed: None,
            new_file: tempfile::tempfile,
        }
    }

    pub(crate) fn extend(&mut self, alerts: impl IntoIterator<Item = Alert>) {
        for a in alerts {
            self.mem_bytes += a.approx_bytes();
            self.mem.push(a);
            self.len += 1;
        }
        if self.mem_bytes > self.budget && self.spill_failed.is_none() {
            // One run in writing at a time: memory stays within twice the
            // budget.
            self.wait_for_run();
            if self.spill_failed.is_none() {
                let alerts = std::mem::take(&mut self.mem);
                self.mem_bytes = 0;
                let rank = self.rank.clone();
                let new_file = self.new_file;
                // The alerts go to the thread once it exists, so that they
                // stay here if none can be had.
                let (hand, take) = std::sync::mpsc::channel::<Vec<Alert>>();
                let spawned = std::thread::Builder::new()
                    .name("ferret-alert-run".into())
                    .spawn(move || {
                        let alerts = take.recv().unwrap_or_default();
                        write_run(alerts, &rank, new_file)
                    });
                // No thread to be had (or, which cannot be, none to take
                // them): the run is written here.
                let unsent = match spawned {
                    Ok(writing) => {
                        self.writing = Some(writing);
                        hand.send(alerts).err().map(|back| back.0)
                    }
                    Err(_) => Some(alerts),
                };
                if let Some(alerts) = unsent {
                    let run = write_run(alerts, &self.rank, new_file);
                    self.keep_run(run);
                }
            }
        }
    }

    /// Waits for the run in writing, if any, and keeps its file; if it
    /// could not be written, its alerts come back to memory and the sink
    /// stops spilling (the error is reported with the alerts, see
    /// [`Alerts::spill_error`]).
    fn wait_for_run(&mut self) {
        let Some(writing) = self.writing.take() else {
            return;
        };
        match writing.join() {
            Ok(run) => self.keep_run(run),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Keeps a written run's file, or takes back the alerts of one that
    /// could not be written.
    fn keep_run(&mut self, run: Result<File, Unwritten>) {
        match run {
            Ok(file) => self.runs.push(file),
            Err(Unwritten { error, alerts }) => {
                self.spill_failed = Some(error.to_string());
                self.mem_bytes += alerts.iter().map(Alert::approx_bytes).sum::<usize>();
                self.mem.extend(alerts);
            }
        }
    }

    pub(crate) fn finish(mut self) -> Alerts {
        self.wait_for_run();
        let rank = Arc::try_unwrap(self.rank).unwrap_or_else(|shared| (*shared).clone());
        sort(&mut self.mem, &rank);
        Alerts {
            rank,
            mem: self.mem,
            runs: self.runs,
            len: self.len,
            spill_failed: self.spill_failed,
        }
    }
}

fn sort(alerts: &mut [Alert], rank: &[u32]) {
    alerts.sort_by(|a, b| cmp(a, b, rank));
}

/// A run that could not be written, with its alerts.
struct Unwritten {
    error: std::io::Error,
    alerts: Vec<Alert>,
}

/// Sorts `alerts` and writes them to a new file as one run.
fn write_run(
    mut alerts: Vec<Alert>,
    rank: &[u32],
    new_file: fn() -> std::io::Result<File>,
) -> Result<File, Unwritten> {
    sort(&mut alerts, rank);
    let write = |alerts: &[Alert]| -> std::io::Result<File> {
        let mut file = new_file()?;
        let mut w = BufWriter::new(&mut file);
        // The count first: a run cut short between two alerts is then
        // damaged, not shorter.
        w.write_all(&(alerts.len() as u64).to_le_bytes())?;
        for a in alerts {
            write_alert(&mut w, a)?;
        }
        w.flush()?;
        drop(w);
        file.seek(SeekFrom::Start(0))?;
        Ok(file)
    };
    write(&alerts).map_err(|error| Unwritten { error, alerts })
}

/// A scan's alerts, in output order.
#[derive(Debug, Default)]
pub struct Alerts {
    rank: Vec<u32>,
    mem: Vec<Alert>,
    runs: Vec<File>,
    len: usize,
    spill_failed: Option<String>,
}

impl Alerts {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Temporary files written (0 when every alert fit in memory).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Why alerts could not be written to a temporary file, if they could
    /// not (they were then all kept in memory).
    pub fn spill_error(&self) -> Option<&str> {
        self.spill_failed.as_deref()
    }

    /// The alerts in output order. Reading a run back can only fail if the
    /// temporary file is damaged under us; that is an error item.
    pub fn iter(&self) -> impl Iterator<Item = std::io::Result<Alert>> + '_ {
        let mut sources: Vec<Source> = Vec::with_capacity(self.runs.len() + 1);
        sources.push(Source::Mem(self.mem.iter()));
        for f in &self.runs {
            sources.push(Source::run(f));
        }
        Merge::new(sources, &self.rank)
    }
}

enum Source<'a> {
    Mem(std::slice::Iter<'a, Alert>),
    /// A run being read, with how many alerts it has left.
    Run(Result<(BufReader<File>, u64), Option<std::io::Error>>),
}

impl Source<'_> {
    /// Opens a run written by [`write_run`].
    fn run(file: &File) -> Source<'static> {
        let opened = file
            .try_clone()
            .and_then(|mut f| f.seek(SeekFrom::Start(0)).map(|_| f))
            .and_then(|f| {
                let mut run = BufReader::with_capacity(1 << 16, f);
                let mut count = [0; 8];
                run.read_exact(&mut count)?;
                Ok((run, u64::from_le_bytes(count)))
            });
        Source::Run(opened.map_err(Some))
    }

    fn next(&mut self, rules: usize) -> Option<std::io::Result<Alert>> {
        match self {
            Source::Mem(it) => it.next().cloned().map(Ok),
            Source::Run(Err(e)) => e.take().map(Err),
            Source::Run(Ok((run, left))) => {
                let read = if *left == 0 {
                    // Past its last alert a run has nothing more.
                    match run.fill_buf() {
                        Ok([]) => return None,
                        Ok(_) => Err(damaged()),
                        Err(e) => Err(e),
                    }
                } else {
                    *left -= 1;
                    read_alert(run, rules).and_then(|a| a.ok_or_else(damaged))
                };
                if read.is_err() {
                    // One error, then the run is done.
                    *self = Source::Run(Err(None));
                }
                Some(read)
            }
        }
    }
}

fn damaged() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "a temporary alert file was damaged",
    )
}

/// Writes one alert of a run: the rule as a `u64`, times as `i128` (an
/// optional one after a 0/1 byte), lengths and offsets as `u64`, all
/// little-endian; the join keys as JSON text (they are few and small), the
/// matched documents as their bytes, then where each ends.
fn write_alert(w: &mut impl Write, a: &Alert) -> std::io::Result<()> {
    let maybe_time = |w: &mut dyn Write, t: Option<Timestamp>| match t {
        None => w.write_all(&[0]),
        Some(t) => {
            w.write_all(&[1])?;
            w.write_all(&t.0.to_le_bytes())
        }
    };
    let len = |w: &mut dyn Write, n: usize| w.write_all(&(n as u64).to_le_bytes());
    let bytes = |w: &mut dyn Write, b: &[u8]| {
        len(w, b.len())?;
        w.write_all(b)
    };
    len(w, a.rule)?;
    w.write_all(&a.time.0.to_le_bytes())?;
    maybe_time(w, a.original_time)?;
    maybe_time(w, a.last_time)?;
    match &a.join_keys {
        None => w.write_all(&[0])?,
        Some(keys) => {
            w.write_all(&[1])?;
            bytes(w, serde_json::to_string(keys)?.as_bytes())?;
        }
    }
    len(w, a.tie.0.len())?;
    for t in &a.tie.0 {
        maybe_time(w, *t)?;
    }
    bytes(w, a.tie.1.as_bytes())?;
    len(w, a.item_ends.len())?;
    for &end in &a.item_ends {
        len(w, end)?;
    }
    Ok(())
}

/// Reads the next alert of a run ([`write_alert`]) of a scan with `rules`
/// rules; `None` at the end.
fn read_alert(r: &mut impl BufRead, rules: usize) -> std::io::Result<Option<Alert>> {
    if r.fill_buf()?.is_empty() {
        return Ok(None);
    }
    fn array<const N: usize>(r: &mut impl Read) -> std::io::Result<[u8; N]> {
        let mut b = [0; N];
        r.read_exact(&mut b)?;
        Ok(b)
    }
    fn flag(r: &mut impl Read) -> std::io::Result<bool> {
        match array::<1>(r)? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(damaged()),
        }
    }
    fn time(r: &mut impl Read) -> std::io::Result<Timestamp> {
        Ok(Timestamp(i128::from_le_bytes(array(r)?)))
    }
    fn maybe_time(r: &mut impl Read) -> std::io::Result<Option<Timestamp>> {
        flag(r)?.then(|| time(r)).transpose()
    }
    fn len(r: &mut impl Read) -> std::io::Result<usize> {
        usize::try_from(u64::from_le_bytes(array(r)?)).map_err(|_| damaged())
    }
    fn text(r: &mut impl Read) -> std::io::Result<String> {
        let n = len(r)?;
        // A damaged length must not reserve memory it does not back: room
        // for a megabyte at most, then read what is there and compare.
        // (Grown from empty, each alert's documents were copied a dozen
        // times over as they were read back.)
        let mut b = Vec::with_capacity(n.min(1 << 20));
        r.take(n as u64).read_to_end(&mut b)?;
        if b.len() != n {
            return Err(damaged());
        }
        String::from_utf8(b).map_err(|_| damaged())
    }
    let rule = len(r)?;
    if rule >= rules {
        return Err(damaged());
    }
    let time = time(r)?;
    let original_time = maybe_time(r)?;
    let last_time = maybe_time(r)?;
    let join_keys = if flag(r)? {
        Some(serde_json::from_str::<Vec<Value>>(&text(r)?).map_err(|_| damaged())?)
    } else {
        None
    };
    let mut times = Vec::new();
    for _ in 0..len(r)? {
        times.push(maybe_time(r)?);
    }
    let docs = text(r)?;
    let mut item_ends = Vec::new();
    for _ in 0..len(r)? {
        item_ends.push(len(r)?);
    }
    Ok(Some(Alert {
        rule,
        time,
        original_time,
        last_time,
        join_keys,
        tie: (times, docs),
        item_ends,
    }))
}

struct Head {
    alert: Alert,
    source: usize,
}

struct Merge<'a> {
    sources: Vec<Source<'a>>,
    heads: Vec<Head>,
    pending_error: Option<std::io::Error>,
    rank: &'a [u32],
}

impl<'a> Merge<'a> {
    fn new(mut sources: Vec<Source<'a>>, rank: &'a [u32]) -> Self {
        let mut heads = Vec::new();
        let mut pending_error = None;
        for (i, s) in sources.iter_mut().enumerate() {
            match s.next(rank.len()) {
                Some(Ok(alert)) => heads.push(Head { alert, source: i }),
                Some(Err(e)) => pending_error = Some(e),
                None => {}
            }
        }
        Merge {
            sources,
            heads,
            pending_error,
            rank,
        }
    }
}

impl Iterator for Merge<'_> {
    type Item = std::io::Result<Alert>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending_error.take() {
            return Some(Err(e));
        }
        // Few runs: a linear scan for the smallest head is enough.
        let rank = self.rank;
        let best = (0..self.heads.len())
            .min_by(|&i, &j| cmp(&self.heads[i].alert, &self.heads[j].alert, rank))?;
        let source = self.heads[best].source;
        let next = self.sources[source].next(rank.len());
        let head = match next {
            Some(Ok(alert)) => std::mem::replace(&mut self.heads[best], Head { alert, source }),
            Some(Err(e)) => {
                self.pending_error = Some(e);
                self.heads.swap_remove(best)
            }
            None => self.heads.swap_remove(best),
        };
        Some(Ok(head.alert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: usize, time: i128, docs: &str) -> Alert {
        Alert {
            rule,
            time: Timestamp(time),
            original_time: Some(Timestamp(-time)),
            last_time: None,
            join_keys: Some(vec![Value::from("host-1"), Value::Null, Value::from(7)]),
            tie: (vec![None, Some(Timestamp(i128::MAX))], docs.to_string()),
            item_ends: vec![docs.len().saturating_sub(1)],
        }
    }

    fn bytes_of(alerts: &[Alert]) -> Vec<u8> {
        let mut out = Vec::new();
        for a in alerts {
            write_alert(&mut out, a).unwrap();
        }
        out
    }

    fn read_all(mut bytes: &[u8], rules: usize) -> std::io::Result<Vec<Alert>> {
        let mut out = Vec::new();
        while let Some(a) = read_alert(&mut bytes, rules)? {
            out.push(a);
        }
        Ok(out)
    }

    fn same(a: &Alert, b: &Alert) -> bool {
        (
            a.rule,
            a.time,
            a.original_time,
            a.last_time,
            &a.join_keys,
            &a.tie,
            &a.item_ends,
        ) == (
            b.rule,
            b.time,
            b.original_time,
            b.last_time,
            &b.join_keys,
            &b.tie,
            &b.item_ends,
        )
    }

    #[test]
    fn a_run_gives_back_the_alerts_written() {
        let mut plain = alert(0, 1, "[null]");
        plain.join_keys = None;
        plain.original_time = None;
        plain.last_time = Some(Timestamp(5));
        plain.tie.0.clear();
        let alerts = [
            alert(
                2,
                1_700_000_000_000_000_000,
                r#"[{"a":"\"quoted\"\n","b":"é中"}]"#,
            ),
            plain,
            alert(1, -3, ""),
        ];
        let back = read_all(&bytes_of(&alerts), 3).unwrap();
        assert_eq!(back.len(), alerts.len());
        for (a, b) in alerts.iter().zip(&back) {
            assert!(same(a, b), "{a:?} came back as {b:?}");
        }
    }

    #[test]
    fn alerts_of_a_run_that_cannot_be_written_are_kept() {
        let mut sink = AlertSink::new(vec![0, 1, 2], 1);
        sink.extend([alert(1, 5, "[1]"), alert(0, 5, "[2]")]);
        sink.new_file = || Err(std::io::Error::other("disk full"));
        sink.extend([alert(2, 3, "[3]")]);
        sink.extend([alert(0, 4, "[4]")]);
        let alerts = sink.finish();
        assert_eq!(alerts.runs(), 1);
        assert_eq!(alerts.spill_error(), Some("disk full"));
        let times: Vec<(i128, String)> = alerts
            .iter()
            .map(|a| a.map(|a| (a.time.0, a.tie.1)).unwrap())
            .collect();
        let expected = [(3, "[3]"), (4, "[4]"), (5, "[2]"), (5, "[1]")];
        let expected: Vec<(i128, String)> =
            expected.iter().map(|(t, d)| (*t, d.to_string())).collect();
        assert_eq!(times, expected);
        assert_eq!(alerts.len(), 4);
    }

    /// Every alert of a run comes back, and a run cut anywhere, even
    /// between two alerts, is an error rather than a shorter run.
    #[test]
    fn a_run_cut_between_alerts_is_damaged() {
        let alerts = vec![alert(0, 1, "[1]"), alert(1, 2, "[2]")];
        let first = bytes_of(&alerts[..1]).len() as u64;
        let read = |file: &File| {
            let mut source = Source::run(file);
            std::iter::from_fn(|| source.next(2)).collect::<Vec<_>>()
        };
        let file = write_run(alerts, &[0, 1], tempfile::tempfile)
            .map_err(|u| u.error)
            .unwrap();
        let whole = read(&file);
        assert_eq!(whole.len(), 2);
        assert!(whole.iter().all(Result::is_ok));
        file.set_len(8 + first).unwrap();
        let cut = read(&file);
        assert_eq!(cut.len(), 2);
        assert!(cut[0].is_ok() && cut[1].is_err());
        file.set_len(4).unwrap();
        assert!(read(&file).iter().all(Result::is_err));
    }

    #[test]
    fn item_ends_give_the_documents_or_nothing() {
        let mut a = alert(0, 1, r#"[{"a":"é"},null]"#);
        a.item_ends = vec![11, 16];
        assert_eq!(a.items(), Some(vec![r#"{"a":"é"}"#, "null"]));
        // Ends that do not fit the array: the caller scans it instead.
        for ends in [
            vec![],
            vec![11],
            vec![11, 17],
            vec![8, 16],
            vec![17, 16],
            vec![10, 16],
            vec![1, 11, 16],
            vec![usize::MAX],
            vec![11, usize::MAX],
        ] {
            a.item_ends = ends;
            assert_eq!(a.items(), None, "{:?}", a.item_ends);
        }
    }

    #[test]
    fn a_damaged_run_is_an_error_not_a_panic() {
        let good = bytes_of(&[alert(1, 10, "[{\"x\":1}]")]);
        // Cut anywhere inside the record.
        for cut in 1..good.len() {
            assert!(read_all(&good[..cut], 2).is_err(), "cut at {cut}");
        }
        // A rule the scan does not have.
        assert!(read_all(&good, 1).is_err());
        // An option flag that is neither 0 nor 1.
        let mut bad = good.clone();
        bad[8 + 16] = 7;
        assert!(read_all(&bad, 2).is_err());
        // After the documents (9 bytes): one item end.
        let ends = 8 + 8;
        // A document length past the end (no allocation of that size).
        let mut bad = good.clone();
        let at = bad.len() - ends - 9 - 8;
        bad[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read_all(&bad, 2).is_err());
        // Documents that are not UTF-8.
        let mut bad = good;
        let last = bad.len() - ends - 1;
        bad[last] = 0xff;
        assert!(read_all(&bad, 2).is_err());
    }
}
