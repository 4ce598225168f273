//! The raw records of projected events, for showing them in full.
//!
//! Rules run on projected events (only the fields some rule reads, see
//! [`ferret_event::Projection`]); output shows whole events. So the raw
//! bytes of every event a runner keeps are kept beside it, dropped when no
//! runner holds the event any more, and decoded in full only for output.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use ferret_event::{decode_bytes, Event, RawBatch, RawItem, Value};

/// Raw bytes of the events some runner still holds, by the event's address,
/// so alerts can show the full event although runners saw a projection.
/// The `Weak` keeps the address from being reused and tells when no runner
/// holds the event any more.
#[derive(Default)]
pub struct Originals {
    map: HashMap<usize, (Weak<Event>, Box<[u8]>)>,
    prune_at: usize,
}

impl Originals {
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
        self.map
            .insert(Arc::as_ptr(ev) as usize, (Arc::downgrade(ev), bytes.into()));
        if self.map.len() > self.prune_at {
            self.map.retain(|_, (w, _)| w.strong_count() > 0);
            self.prune_at = (self.map.len() * 2).max(4096);
        }
    }

    /// The event as read: its full document when it was projected.
    pub fn full_doc(&self, ev: &Arc<Event>) -> Option<Value> {
        let (_, bytes) = self.map.get(&(Arc::as_ptr(ev) as usize))?;
        decode_bytes(bytes).ok()
    }
}
