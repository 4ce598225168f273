//! The raw records of projected events, for showing them in full.
//!
//! Rules run on projected events (only the fields some rule reads, see
//! [`ferret_event::Projection`]); output shows whole events. So the raw
//! bytes of every event a runner keeps are kept beside it, dropped when no
//! runner holds the event any more, and decoded in full only for output.
//!
//! Most held events are held briefly: a sequence rule's reorder buffer keeps
//! every candidate for the length of the window. Copying each of their
//! records cost more than the rules' work on them, so a batch whose events
//! are held keeps its whole read buffer ("pinned") and records are found in
//! it by offset. Pinned buffers are bounded ([`DEFAULT_PINNED_BUDGET`]):
//! past it the oldest buffer is released and the records of its events
//! still held are copied out. Those are the long-held ones (samples keep
//! events per key to the end, sequences without `maxspan` keep partials);
//! past a memory budget they go to an anonymous temporary file, written a
//! chunk at a time, and are read back only for output. Samples hold
//! stand-ins without fields rather than the events themselves (see
//! [`ferret_engine::StandIn`]); a stand-in's record is kept under its own
//! identity, so a sample's memory is its records on disk, not its events.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;
use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};

use ferret_event::canonical::canonical_text;
use ferret_event::{decode_bytes, Event, RawBatch, Value};

/// Bytes of copied-out records kept in memory before new ones go to disk.
pub const DEFAULT_MEMORY_BUDGET: usize = 16 << 20;

/// Bytes of pinned read buffers (a few batches: a reorder window's worth of
/// events at ordinary rates).
pub const DEFAULT_PINNED_BUDGET: usize = 32 << 20;

/// Bytes gathered before one write to the spill file.
const SPILL_CHUNK: usize = 1 << 20;

/// Raw bytes of the events some runner still holds, by the event's address,
/// so alerts can show the full event although runners saw a projection.
/// The `Weak` keeps the address from being reused and tells when no runner
/// holds the event any more.
pub struct Originals {
    map: HashMap<usize, (Weak<Event>, Place, Canonical), BuildHasherDefault<AddressHasher>>,
    /// Read buffers of recent batches with held events, oldest first; the
    /// front one has id `first_pinned`.
    pinned: VecDeque<Pinned>,
    first_pinned: u64,
    pinned_bytes: usize,
    pinned_budget: usize,
    /// A released buffer, handed back to the reader to fill.
    spare: Option<Vec<u8>>,
    prune_at: usize,
    budget: usize,
    in_memory: usize,
    /// Where records past the budget go; `None` until needed.
    spill: Option<Spill>,
    spill_chunk: usize,
    /// The spill file could not be created or written: new records stay
    /// in memory (those already written are still read from it).
    spill_failed: bool,
}

enum Place {
    /// `range` of pinned buffer `batch`.
    Pinned {
        batch: u64,
        range: Range<usize>,
    },
    Memory(Box<[u8]>),
    /// `len` bytes at `offset` of the spill file (or of its pending chunk).
    Disk {
        offset: u64,
        len: u32,
    },
}

/// Whether a kept record is in serde_json's form ([`canonical_text`]),
/// once some alert has asked: set through a shared reference, since
/// alerts are made on several threads at once.
#[derive(Default)]
struct Canonical(AtomicU8);

impl Canonical {
    const UNKNOWN: u8 = 0;
    const YES: u8 = 1;
    const NO: u8 = 2;
}

struct Pinned {
    buf: Vec<u8>,
    /// Map keys of the events whose records are in `buf`.
    events: Vec<usize>,
}

struct Spill {
    file: File,
    /// Bytes in the file.
    written: u64,
    /// The bytes after `written`, not yet written. Kept if a write fails:
    /// the records in it are then read from here.
    pending: Vec<u8>,
}

/// Map keys are addresses of live allocations: distinct, and only their
/// low bits vary, so a multiply spreads them well enough.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(26);
    }
}

impl Default for Originals {
    fn default() -> Self {
        Originals::with_budgets(DEFAULT_PINNED_BUDGET, DEFAULT_MEMORY_BUDGET)
    }
}

impl Originals {
    /// Pins up to `pinned_budget` bytes of read buffers and keeps up to
    /// `budget` bytes of copied-out records in memory, the rest on disk.
    pub fn with_budgets(pinned_budget: usize, budget: usize) -> Self {
        Originals {
            map: HashMap::default(),
            pinned: VecDeque::new(),
            first_pinned: 0,
            pinned_bytes: 0,
            pinned_budget,
            spare: None,
            prune_at: 4096,
            budget,
            in_memory: 0,
            spill: None,
            spill_chunk: SPILL_CHUNK,
            spill_failed: false,
        }
    }

    /// Keeps the raw records of the events of `raw` that something holds
    /// besides `events` (each event with the batch entry it came from):
    /// call it once the batch's events have been offered to every runner,
    /// with their only other references. `stand_ins` pairs events held in
    /// place of some of them (see [`ferret_engine::StandIn`]) with the event
    /// each stands for: the record is kept for the stand-in, found by it in
    /// [`Originals::full_doc`], and released when it is dropped. Empties
    /// `raw` when it keeps its buffer.
    pub fn keep_held(
        &mut self,
        raw: &mut RawBatch,
        events: &[(Arc<Event>, usize)],
        stand_ins: Vec<(Weak<Event>, Arc<Event>)>,
    ) {
        let mut held: Vec<(usize, Weak<Event>, Range<usize>)> = Vec::new();
        if !stand_ins.is_empty() {
            let item_of: HashMap<usize, usize, BuildHasherDefault<AddressHasher>> = events
                .iter()
                .map(|(ev, item)| (Arc::as_ptr(ev) as usize, *item))
                .collect();
            // The events stood for are released here, before the count
            // below: only what runners hold themselves counts.
            for (stand_in, stood_for) in stand_ins {
                let item = item_of.get(&(Arc::as_ptr(&stood_for) as usize));
                if let Some(range) = item.and_then(|i| raw.record_span(*i)) {
                    if stand_in.strong_count() > 0 {
                        held.push((stand_in.as_ptr() as usize, stand_in, range));
                    }
                }
            }
        }
        held.extend(
            events
                .iter()
                .filter(|(ev, _)| Arc::strong_count(ev) > 1)
                .filter_map(|(ev, item)| {
                    let range = raw.record_span(*item)?;
                    Some((Arc::as_ptr(ev) as usize, Arc::downgrade(ev), range))
                }),
        );
        self.release_dead_front();
        if held.is_empty() {
            return;
        }
        let batch = self.first_pinned + self.pinned.len() as u64;
        let mut keys = Vec::with_capacity(held.len());
        for (key, ev, range) in held {
            self.insert(key, ev, Place::Pinned { batch, range });
            keys.push(key);
        }
        let buf = raw.take_buffer(self.spare.take().unwrap_or_default());
        self.pinned_bytes += buf.capacity();
        self.pinned.push_back(Pinned { buf, events: keys });
        while self.pinned_bytes > self.pinned_budget && self.pinned.len() > 1 {
            self.release_front(true);
        }
        self.prune();
    }

    fn insert(&mut self, key: usize, ev: Weak<Event>, place: Place) {
        if let Some((_, Place::Memory(old), _)) =
            self.map.insert(key, (ev, place, Canonical::default()))
        {
            self.in_memory -= old.len();
        }
    }

    /// Drops the entries of events no longer held, once the map has doubled.
    fn prune(&mut self) {
        if self.map.len() <= self.prune_at {
            return;
        }
        let mut freed = 0;
        self.map.retain(|_, (w, place, _)| {
            let live = w.strong_count() > 0;
            if let (false, Place::Memory(b)) = (live, place) {
                freed += b.len();
            }
            live
        });
        self.in_memory -= freed;
        self.prune_at = (self.map.len() * 2).max(4096);
    }

    /// Releases the oldest pinned buffers while none of their events is
    /// held any more.
    fn release_dead_front(&mut self) {
        while let Some(front) = self.pinned.front() {
            let batch = self.first_pinned;
            let live = front.events.iter().any(|key| {
                matches!(self.map.get(key), Some((w, Place::Pinned { batch: b, .. }, _))
                    if *b == batch && w.strong_count() > 0)
            });
            if live {
                return;
            }
            self.release_front(false);
        }
    }

    /// Releases the oldest pinned buffer; with `copy`, the records of its
    /// events still held are copied out first.
    fn release_front(&mut self, copy: bool) {
        let Some(front) = self.pinned.pop_front() else {
            return;
        };
        let batch = self.first_pinned;
        self.first_pinned += 1;
        self.pinned_bytes -= front.buf.capacity();
        for key in &front.events {
            let Some((w, Place::Pinned { batch: b, range }, _)) = self.map.get(key) else {
                continue;
            };
            if *b != batch {
                continue;
            }
            if copy && w.strong_count() > 0 {
                let range = range.clone();
                let place = self.store(&front.buf[range]);
                self.map.get_mut(key).expect("looked up above").1 = place;
            } else {
                self.map.remove(key);
            }
        }
        self.spare = Some(front.buf);
    }

    fn store(&mut self, bytes: &[u8]) -> Place {
        if self.in_memory + bytes.len() <= self.budget || self.spill_failed {
            self.in_memory += bytes.len();
            return Place::Memory(bytes.into());
        }
        match self.write(bytes) {
            Ok(place) => place,
            Err(_) => {
                // A full or read-only temp dir costs memory, not records;
                // the file stays for the records already in it.
                self.spill_failed = true;
                self.in_memory += bytes.len();
                Place::Memory(bytes.into())
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<Place> {
        let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
        if self.spill.is_none() {
            self.spill = Some(Spill {
                file: tempfile::tempfile()?,
                written: 0,
                pending: Vec::new(),
            });
        }
        let spill = self.spill.as_mut().expect("just set");
        if spill.pending.len() + bytes.len() > self.spill_chunk && !spill.pending.is_empty() {
            spill.file.write_all(&spill.pending)?;
            spill.written += spill.pending.len() as u64;
            spill.pending.clear();
        }
        let offset = spill.written + spill.pending.len() as u64;
        spill.pending.extend_from_slice(bytes);
        Ok(Place::Disk { offset, len })
    }

    /// The event as read: its full document when it was projected.
    pub fn full_doc(&self, ev: &Arc<Event>) -> Option<Value> {
        self.with_record(ev, |bytes| decode_bytes(bytes).ok())?
    }

    /// Calls `f` with the event's raw record, if it was kept.
    pub fn with_record<R>(&self, ev: &Arc<Event>, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let (_, place, _) = self.map.get(&(Arc::as_ptr(ev) as usize))?;
        self.read(place, f)
    }

    /// Calls `f` with the event's raw record, if it was kept: as text when
    /// it is what serde_json writes for it ([`canonical_text`]), else as
    /// bytes. The check is made once per record (a quarter of the records
    /// in alerts are in more than one, and checking one cost more than
    /// all else in making its alert).
    pub fn with_canonical<R>(
        &self,
        ev: &Arc<Event>,
        f: impl FnOnce(Result<&str, &[u8]>) -> R,
    ) -> Option<R> {
        let (_, place, canonical) = self.map.get(&(Arc::as_ptr(ev) as usize))?;
        self.read(place, |bytes| {
            let text = match canonical.0.load(Ordering::Relaxed) {
                Canonical::UNKNOWN => {
                    let text = canonical_text(bytes);
                    let known = if text.is_some() {
                        Canonical::YES
                    } else {
                        Canonical::NO
                    };
                    canonical.0.store(known, Ordering::Relaxed);
                    text
                }
                // Checked before: only the UTF-8 is checked again.
                Canonical::YES => std::str::from_utf8(bytes).ok(),
                _ => None,
            };
            f(text.ok_or(bytes))
        })
    }

    fn read<R>(&self, place: &Place, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        match place {
            Place::Pinned { batch, range } => {
                let pinned = self
                    .pinned
                    .get(batch.checked_sub(self.first_pinned)? as usize)?;
                Some(f(&pinned.buf[range.clone()]))
            }
            Place::Memory(bytes) => Some(f(bytes)),
            Place::Disk { offset, len } => {
                let spill = self.spill.as_ref()?;
                let len = *len as usize;
                if let Some(at) = offset.checked_sub(spill.written) {
                    let at = at as usize;
                    return Some(f(spill.pending.get(at..at + len)?));
                }
                let mut buf = vec![0u8; len];
                read_at(&spill.file, &mut buf, *offset).ok()?;
                Some(f(&buf))
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
    use ferret_event::{Input, Limits, Origin, Reader};
    use serde_json::json;

    /// Keeps `bytes` as the raw record of `ev`, as if its pinned buffer
    /// had been released: the copied-out store on its own.
    fn keep(originals: &mut Originals, ev: &Arc<Event>, bytes: &[u8]) {
        let place = originals.store(bytes);
        originals.insert(Arc::as_ptr(ev) as usize, Arc::downgrade(ev), place);
    }

    /// The canonical check is made once and remembered per record: asked
    /// again, a record in serde_json's form still comes as its text and
    /// one that is not as its bytes.
    #[test]
    fn canonical_records_are_told_apart_once() {
        let mut originals = Originals::default();
        let (a, b) = (
            Arc::new(Event::new(json!({"a": 1}), Origin::default())),
            Arc::new(Event::new(json!({"a": 1}), Origin::default())),
        );
        keep(&mut originals, &a, br#"{"a":1}"#);
        keep(&mut originals, &b, br#"{ "a": 1 }"#);
        let ask = |ev: &Arc<Event>| {
            originals
                .with_canonical(ev, |r| r.map(str::to_string).map_err(<[u8]>::to_vec))
                .unwrap()
        };
        let known = |ev: &Arc<Event>| {
            originals.map[&(Arc::as_ptr(ev) as usize)]
                .2
                 .0
                .load(Ordering::Relaxed)
        };
        assert_eq!(known(&a), Canonical::UNKNOWN);
        for _ in 0..2 {
            assert_eq!(ask(&a), Ok(r#"{"a":1}"#.to_string()));
            assert_eq!(ask(&b), Err(br#"{ "a": 1 }"#.to_vec()));
        }
        assert_eq!((known(&a), known(&b)), (Canonical::YES, Canonical::NO));
    }

    #[test]
    fn records_past_the_budget_come_back_from_disk() {
        let mut originals = Originals::with_budgets(0, 40);
        // Several writes to the file, and records still in the last chunk.
        originals.spill_chunk = 100;
        let events: Vec<Arc<Event>> = (0..50)
            .map(|i| Arc::new(Event::new(json!({ "n": i }), Origin::default())))
            .collect();
        for (i, ev) in events.iter().enumerate() {
            let text = json!({ "n": i, "pad": "x".repeat(i) }).to_string();
            keep(&mut originals, ev, text.as_bytes());
        }
        let spill = originals.spill.as_ref().unwrap();
        assert!(spill.written > 0 && !spill.pending.is_empty());
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
        let mut originals = Originals::with_budgets(0, 0);
        originals.spill_chunk = 0;
        originals.spill = Some(Spill {
            file: named.reopen().unwrap(),
            written: 0,
            pending: Vec::new(),
        });
        let ev = |i: i32| Arc::new(Event::new(json!({ "n": i }), Origin::default()));
        let first = ev(1);
        keep(&mut originals, &first, br#"{"n":1}"#);
        let second = ev(2);
        keep(&mut originals, &second, br#"{"n":2}"#);
        // The file turns read-only: writing the pending second record fails.
        originals.spill.as_mut().unwrap().file = std::fs::File::open(named.path()).unwrap();
        let third = ev(3);
        keep(&mut originals, &third, br#"{"n":3}"#);
        assert!(originals.spill_failed);
        assert_eq!(originals.full_doc(&first), Some(json!({ "n": 1 })));
        assert_eq!(originals.full_doc(&second), Some(json!({ "n": 2 })));
        assert_eq!(originals.full_doc(&third), Some(json!({ "n": 3 })));
    }

    /// Batches of `per_batch` records `{"n": i}` read from memory, as a scan
    /// reads them.
    fn batches(records: usize, per_batch: usize) -> (Reader, RawBatch) {
        let text: String = (0..records).map(|i| format!("{{\"n\":{i}}}\n")).collect();
        let reader = Reader::new(vec![Input::stream("mem", std::io::Cursor::new(text))])
            .with_limits(Limits {
                batch_records: per_batch,
                ..Limits::default()
            });
        (reader, RawBatch::new())
    }

    #[test]
    fn held_records_come_from_pinned_buffers_then_from_copies() {
        let (mut reader, mut raw) = batches(40, 10);
        // Room for two pinned buffers of the reader's size.
        let mut originals = Originals::with_budgets(2 * ((4 << 20) + (1 << 16)), 1 << 20);
        let mut held: Vec<Arc<Event>> = Vec::new();
        while reader.next_raw_batch(&mut raw) {
            let events: Vec<(Arc<Event>, usize)> = (0..raw.len())
                .map(|i| (Arc::new(raw.decode(i).unwrap()), i))
                .collect();
            // Every third event is held by "a runner".
            held.extend(events.iter().step_by(3).map(|(e, _)| e.clone()));
            originals.keep_held(&mut raw, &events, Vec::new());
            assert!(raw.is_empty(), "a kept batch hands over its buffer");
        }
        // Four batches with held events, two pinned: the older two were
        // released and their held records copied out.
        assert_eq!(originals.pinned.len(), 2);
        assert_eq!(originals.first_pinned, 2);
        let copied = originals
            .map
            .values()
            .filter(|(_, p, _)| matches!(p, Place::Memory(_)))
            .count();
        assert_eq!(
            copied,
            held.iter()
                .filter(|e| e.doc["n"].as_u64() < Some(20))
                .count()
        );
        for ev in &held {
            assert_eq!(originals.full_doc(ev).as_ref(), Some(&ev.doc));
        }
    }

    #[test]
    fn a_buffer_is_released_once_none_of_its_events_is_held() {
        let (mut reader, mut raw) = batches(30, 10);
        let mut originals = Originals::default();
        let mut held: Vec<Arc<Event>> = Vec::new();
        while reader.next_raw_batch(&mut raw) {
            let events: Vec<(Arc<Event>, usize)> = (0..raw.len())
                .map(|i| (Arc::new(raw.decode(i).unwrap()), i))
                .collect();
            // Only the newest batch's first event is held.
            held.clear();
            held.push(events[0].0.clone());
            originals.keep_held(&mut raw, &events, Vec::new());
        }
        // Each batch found the one before it unheld and released it.
        assert_eq!(originals.pinned.len(), 1);
        assert_eq!(originals.first_pinned, 2);
        assert_eq!(originals.map.len(), 1);
        assert_eq!(originals.full_doc(&held[0]), Some(json!({ "n": 20 })));
    }
}
