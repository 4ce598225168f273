//! Alerts in output order without holding them all in memory.
//!
//! Output is sorted by alert time (then rule name, rule id and content), and
//! a late hit of an event rule can belong anywhere in that order, so nothing
//! can be written before the input ends. Alerts are kept as compact records
//! ([`Alert`]); once those in memory pass a budget they are sorted and
//! written to an anonymous temporary file as one run, and [`Alerts::iter`]
//! merges the runs. Memory stays bounded by the budget whatever the number
//! of alerts.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

use ferret_event::Value;

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
    rank: Vec<u32>,
    budget: usize,
    mem: Vec<Alert>,
    mem_bytes: usize,
    runs: Vec<File>,
    len: usize,
    /// A run could not be written; everything stays in memory from then on.
    spill_failed: Option<String>,
}

impl AlertSink {
    /// `rank[rule]` orders rules among alerts of the same time.
    pub(crate) fn new(rank: Vec<u32>, budget: usize) -> AlertSink {
        AlertSink {
            rank,
            budget,
            mem: Vec::new(),
            mem_bytes: 0,
            runs: Vec::new(),
            len: 0,
            spill_failed: None,
        }
    }

    pub(crate) fn extend(&mut self, alerts: impl IntoIterator<Item = Alert>) {
        for a in alerts {
            self.mem_bytes += a.approx_bytes();
            self.mem.push(a);
            self.len += 1;
        }
        if self.mem_bytes > self.budget && self.spill_failed.is_none() {
            if let Err(e) = self.spill() {
                self.spill_failed = Some(e.to_string());
            }
        }
    }

    fn sort(&mut self) {
        let rank = &self.rank;
        self.mem.sort_by(|a, b| cmp(a, b, rank));
    }

    fn spill(&mut self) -> std::io::Result<()> {
        self.sort();
        let mut file = tempfile::tempfile()?;
        {
            let mut w = BufWriter::new(&mut file);
            for a in &self.mem {
                serde_json::to_writer(&mut w, &a.to_record())?;
                w.write_all(b"\n")?;
            }
            w.flush()?;
        }
        file.seek(SeekFrom::Start(0))?;
        self.runs.push(file);
        self.mem = Vec::new();
        self.mem_bytes = 0;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Alerts {
        self.sort();
        Alerts {
            rank: self.rank,
            mem: self.mem,
            runs: self.runs,
            len: self.len,
            spill_failed: self.spill_failed,
        }
    }
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
            let reader = f
                .try_clone()
                .and_then(|mut f| f.seek(SeekFrom::Start(0)).map(|_| f))
                .map(|f| BufReader::new(f).lines());
            sources.push(Source::Run(reader.map_err(Some)));
        }
        Merge::new(sources, &self.rank)
    }
}

enum Source<'a> {
    Mem(std::slice::Iter<'a, Alert>),
    Run(Result<std::io::Lines<BufReader<File>>, Option<std::io::Error>>),
}

impl Source<'_> {
    fn next(&mut self) -> Option<std::io::Result<Alert>> {
        match self {
            Source::Mem(it) => it.next().cloned().map(Ok),
            Source::Run(Err(e)) => e.take().map(Err),
            Source::Run(Ok(lines)) => lines.next().map(|line| {
                let line = line?;
                serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| Alert::from_record(&v))
                    .ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "a temporary alert file was damaged",
                        )
                    })
            }),
        }
    }
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
            match s.next() {
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
        let next = self.sources[source].next();
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
