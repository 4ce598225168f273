//! Event ordering: Elasticsearch orders events by timestamp, then by the
//! tiebreaker field (nulls last), then by an implicit per-document order.
//! Here the implicit order is the order events were pushed, so equal
//! timestamps and tiebreakers keep input order and results are deterministic.

use std::cmp::Ordering;

use ferret_event::{Event, FieldPath, FieldValue, Timestamp};

/// A tiebreaker value. Numbers compare numerically (integers and floats
/// alike), strings lexicographically after numbers, null (missing) last.
#[derive(Clone, Debug)]
pub enum Tie {
    Num(f64),
    Str(String),
    Null,
}

impl Tie {
    pub fn from_event(event: &Event, path: &FieldPath) -> Tie {
        match event.first(path) {
            Some(FieldValue::Number(n)) => n.as_f64().map(Tie::Num).unwrap_or(Tie::Null),
            // A keyword tiebreaker sorts as text in Elasticsearch, digits or not.
            Some(FieldValue::Str(s)) => Tie::Str(s.to_string()),
            Some(FieldValue::Bool(b)) => Tie::Num(if b { 1.0 } else { 0.0 }),
            _ => Tie::Null,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Tie::Num(_) => 0,
            Tie::Str(_) => 1,
            Tie::Null => 2,
        }
    }
}

impl PartialEq for Tie {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Tie {}
impl PartialOrd for Tie {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Tie {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Tie::Num(a), Tie::Num(b)) => a.total_cmp(b),
            (Tie::Str(a), Tie::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// The total order of events: timestamp (missing last), tiebreaker, input
/// position.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ordinal {
    /// `(false, ts)` for a timestamped event, `(true, 0)` for one without, so
    /// events lacking a timestamp sort last (Elasticsearch's `missing: _last`).
    pub ts: (bool, Timestamp),
    pub tie: Tie,
    pub seq: u64,
}

impl Ordinal {
    pub fn timestamp(&self) -> Option<Timestamp> {
        if self.ts.0 {
            None
        } else {
            Some(self.ts.1)
        }
    }
}

/// Reads the ordering fields of an event.
#[derive(Clone, Debug)]
pub struct OrderFields {
    pub timestamp: FieldPath,
    /// Read when `timestamp` gives no usable time (Kibana's
    /// `timestamp_override` falls back to `@timestamp` this way).
    pub timestamp_fallback: Option<FieldPath>,
    pub tiebreaker: Option<FieldPath>,
}

impl OrderFields {
    /// The event's time: the timestamp field, else the fallback.
    pub fn timestamp(&self, event: &Event) -> Option<Timestamp> {
        self.timestamp_by(|path| event.first_timestamp(path))
    }

    /// [`OrderFields::timestamp`] of whatever `first` reads the first time
    /// at a path of (an event, or a record's [`ferret_event::project::Fields`]).
    pub fn timestamp_by(
        &self,
        first: impl Fn(&FieldPath) -> Option<Timestamp>,
    ) -> Option<Timestamp> {
        first(&self.timestamp).or_else(|| first(self.timestamp_fallback.as_ref()?))
    }

    pub fn ordinal(&self, event: &Event, seq: u64) -> Ordinal {
        let ts = self.timestamp(event);
        Ordinal {
            ts: match ts {
                Some(t) => (false, t),
                None => (true, Timestamp::default()),
            },
            tie: match &self.tiebreaker {
                Some(p) => Tie::from_event(event, p),
                None => Tie::Null,
            },
            seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_event::{Origin, Value};
    use serde_json::json;

    fn event(doc: Value) -> Event {
        Event::new(doc, Origin::default())
    }

    #[test]
    fn tiebreaker_nulls_last_numbers_numeric() {
        let p = FieldPath::dotted("tb");
        let t = |d: Value| Tie::from_event(&event(d), &p);
        let mut v = [
            t(json!({})),
            t(json!({"tb": "a"})),
            t(json!({"tb": 10})),
            t(json!({"tb": 9.5})),
        ];
        v.sort();
        assert_eq!(
            v,
            [
                Tie::Num(9.5),
                Tie::Num(10.0),
                Tie::Str("a".into()),
                Tie::Null
            ]
        );
    }

    #[test]
    fn missing_timestamps_sort_last_then_input_order() {
        let order = OrderFields {
            timestamp: FieldPath::dotted("@timestamp"),
            timestamp_fallback: None,
            tiebreaker: None,
        };
        let a = order.ordinal(&event(json!({})), 0);
        let b = order.ordinal(&event(json!({"@timestamp": "2024-01-01T00:00:00.5Z"})), 1);
        let c = order.ordinal(&event(json!({"@timestamp": 1704067200500i64})), 2);
        assert!(b < c && c < a);
        assert_eq!(b.timestamp(), c.timestamp());
        assert_eq!(a.timestamp(), None);
    }

    #[test]
    fn timestamp_fallback_is_read_when_the_field_is_absent() {
        let order = OrderFields {
            timestamp: FieldPath::dotted("event.ingested"),
            timestamp_fallback: Some(FieldPath::dotted("@timestamp")),
            tiebreaker: None,
        };
        let only_ts = order.ordinal(&event(json!({"@timestamp": 5})), 0);
        assert_eq!(only_ts.timestamp(), Some(Timestamp::from_millis(5)));
        let both = order.ordinal(
            &event(json!({"@timestamp": 5, "event": {"ingested": 9}})),
            1,
        );
        assert_eq!(both.timestamp(), Some(Timestamp::from_millis(9)));
    }
}
