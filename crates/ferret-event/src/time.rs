//! Event timestamps.
//!
//! Elasticsearch's default date format is `strict_date_optional_time ||
//! epoch_millis`: an ISO 8601 string, or epoch milliseconds given as a number
//! or as a numeric string. Timestamps keep nanosecond precision so events
//! that share a millisecond still order correctly.

use serde_json::Value;

/// Nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i128);

impl Timestamp {
    pub const NANOS_PER_MILLI: i128 = 1_000_000;

    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms as i128 * Self::NANOS_PER_MILLI)
    }

    /// Whole milliseconds since the epoch (floor).
    pub fn millis(self) -> i64 {
        self.0.div_euclid(Self::NANOS_PER_MILLI) as i64
    }

    /// RFC 3339 text with as many fraction digits as needed.
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(1_000_000_000) as i64;
        let nanos = self.0.rem_euclid(1_000_000_000) as u32;
        match chrono::DateTime::from_timestamp(secs, nanos) {
            Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            None => self.millis().to_string(),
        }
    }
}

/// Parses a timestamp value: ISO 8601 text, epoch millis as a number, or a
/// numeric string of epoch millis. `None` if it is none of these.
pub fn parse_timestamp(v: &Value) -> Option<Timestamp> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Timestamp::from_millis(i))
            } else {
                let f = n.as_f64()?;
                if !f.is_finite() {
                    return None;
                }
                Some(Timestamp((f * 1e6).round() as i128))
            }
        }
        Value::String(s) => parse_timestamp_str(s),
        _ => None,
    }
}

pub fn parse_timestamp_str(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-') && s[1..].bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().map(Timestamp::from_millis);
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        let nanos = dt.timestamp() as i128 * 1_000_000_000 + dt.timestamp_subsec_nanos() as i128;
        return Some(Timestamp(nanos));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms() {
        assert_eq!(parse_timestamp(&json!(1000)), Some(Timestamp::from_millis(1000)));
        assert_eq!(parse_timestamp(&json!("1000")), Some(Timestamp::from_millis(1000)));
        let a = parse_timestamp(&json!("2024-01-01T00:00:00.000000001Z")).unwrap();
        let b = parse_timestamp(&json!("2024-01-01T00:00:00Z")).unwrap();
        assert_eq!(a.0 - b.0, 1);
        let c = parse_timestamp(&json!("2024-01-01T01:00:00+01:00")).unwrap();
        assert_eq!(b, c);
    }
}
