//! The raw records of projected events, for showing them in full.
//!
//! Rules run on projected events (only the fields some rule reads, see
//! [`ferret_event::Projection`]); output shows whole events. So the raw
//! bytes of every event a runner keeps are kept beside it, dropped when no
//! runner holds the event any more, and decoded in full only for output.
//!
//! Runners can hold many events for long (samples keep events per key to
//! the end, sequences without `maxspan` keep partials), so past a memory
//! budget new records go to an anonymous temporary file and are read back
//! only for output.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Weak};

use ferret_event::{decode_bytes, Event, RawBatch, RawItem, Value};

/// Bytes of raw records kept in memory before new ones go to disk.
pub const DEFAULT_MEMORY_BUDGET: usize = 16 << 20;

/// Raw bytes of the events some runner still holds, by the event's address,
/// so alerts can show the full event although runners saw a projection.
/// The `Weak` keeps the address from being reused and tells when no runner
/// holds the event any more.
pub struct Originals {
    map: HashMap<usize, (Weak<Event>, Stored)>,
    prune_at: usize,
    budget: usize,
    in_memory: usize,
    /// Where records past the budget go; `None` until needed.
    spill: Option<Spill>,
    /// The spill file could not be created or written: new records stay
    /// in memory (those already written are still read from it).
    spill_failed: bool,
}

enum Stored {
    Memory(Box<[u8]>),
    /// `len` bytes at `offset` of the spill file.
    Disk {
        offset: u64,
        len: u32,
    },
}

struct Spill {
    file: File,
    len: u64,
}

impl Default for Originals {
    fn default() -> Self {
        Originals::with_budget(DEFAULT_MEMORY_BUDGET)
    }
}

impl Originals {
    /// Keeps up to `budget` bytes of records in memory, the rest on disk.
    pub fn with_budget(budget: usize) -> Self {
        Originals {
            map: HashMap::new(),
            prune_at: 4096,
            budget,
            in_memory: 0,
            spill: None,
            spill_failed: false,
        }
    }

    /// Keeps the raw record of `ev` (entry `item` of `raw`) if something
    /// besides the caller's `Arc` holds the event: the caller offers each
    /// event, right after pushing it to the runners, with its only other
    /// reference.
    pub fn keep_if_held(&mut self, ev: &Arc<Event>, raw: &RawBatch, item: usize) {
        if Arc::strong_count(ev) > 1 {
            if let RawItem::Record(rec) = raw.get(item) {
                self.keep(ev, rec.bytes);
            }
        }
    }

    /// Keeps `bytes` as the raw record of `ev` while some `Arc` of it lives.
    pub fn keep(&mut self, ev: &Arc<Event>, bytes: &[u8]) {
        let stored = self.store(bytes);
        if let Some((_, Stored::Memory(old))) = self
            .map
            .insert(Arc::as_ptr(ev) as usize, (Arc::downgrade(ev), stored))
        {
            self.in_memory -= old.len();
        }
        if self.map.len() > self.prune_at {
            let mut freed = 0;
            self.map.retain(|_, (w, stored)| {
                let live = w.strong_count() > 0;
                if let (false, Stored::Memory(b)) = (live, stored) {
                    freed += b.len();
                }
                live
            });
            self.in_memory -= freed;
            self.prune_at = (self.map.len() * 2).max(4096);
        }
    }

    fn store(&mut self, bytes: &[u8]) -> Stored {
        if self.in_memory + bytes.len() <= self.budget || self.spill_failed {
            self.in_memory += bytes.len();
            return Stored::Memory(bytes.into());
        }
        match self.write(bytes) {
            Ok(stored) => stored,
            Err(_) => {
                // A full or read-only temp dir costs memory, not records;
                // the file stays for the records already in it.
                self.spill_failed = true;
                self.in_memory += bytes.len();
                Stored::Memory(bytes.into())
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<Stored> {
        let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
        if self.spill.is_none() {
            self.spill = Some(Spill {
                file: tempfile::tempfile()?,
                len: 0,
            });
        }
        let spill = self.spill.as_mut().expect("just set");
        spill.file.write_all(bytes)?;
        let offset = spill.len;
        spill.len += u64::from(len);
        Ok(Stored::Disk { offset, len })
    }

    /// The event as read: its full document when it was projected.
    pub fn full_doc(&self, ev: &Arc<Event>) -> Option<Value> {
        let (_, stored) = self.map.get(&(Arc::as_ptr(ev) as usize))?;
        match stored {
            Stored::Memory(bytes) => decode_bytes(bytes).ok(),
            Stored::Disk { offset, len } => {
                let mut buf = vec![0u8; *len as usize];
                read_at(&self.spill.as_ref()?.file, &mut buf, *offset).ok()?;
                decode_bytes(&buf).ok()
            }
        }
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_event::Origin;
    use serde_json::json;

    #[test]
    fn records_past_the_budget_come_back_from_disk() {
        let mut originals = Originals::with_budget(40);
        let events: Vec<Arc<Event>> = (0..50)
            .map(|i| Arc::new(Event::new(json!({ "n": i }), Origin::default())))
            .collect();
        for (i, ev) in events.iter().enumerate() {
            let text = json!({ "n": i, "pad": "x".repeat(i) }).to_string();
            originals.keep(ev, text.as_bytes());
        }
        assert!(originals.spill.as_ref().is_some_and(|s| s.len > 0));
        assert!(originals.in_memory <= 40);
        for (i, ev) in events.iter().enumerate() {
            assert_eq!(
                originals.full_doc(ev),
                Some(json!({ "n": i, "pad": "x".repeat(i) }))
            );
        }
        let stranger = Arc::new(Event::new(json!({}), Origin::default()));
        assert_eq!(originals.full_doc(&stranger), None);
    }

    #[test]
    fn a_failed_spill_keeps_what_was_written_and_new_records_in_memory() {
        let named = tempfile::NamedTempFile::new().unwrap();
        let mut originals = Originals::with_budget(0);
        originals.spill = Some(Spill {
            file: named.reopen().unwrap(),
            len: 0,
        });
        let ev = |i: i32| Arc::new(Event::new(json!({ "n": i }), Origin::default()));
        let first = ev(1);
        originals.keep(&first, br#"{"n":1}"#);
        // The file turns read-only: the next write fails.
        originals.spill.as_mut().unwrap().file = std::fs::File::open(named.path()).unwrap();
        let second = ev(2);
        originals.keep(&second, br#"{"n":2}"#);
        assert!(originals.spill_failed);
        assert_eq!(originals.full_doc(&first), Some(json!({ "n": 1 })));
        assert_eq!(originals.full_doc(&second), Some(json!({ "n": 2 })));
    }
}
