//! Event timestamps.
//!
//! Elasticsearch's default date format is `strict_date_optional_time ||
//! epoch_millis`, tried in that order, and this module follows it:
//!
//! - **Strings** are first read as `strict_date_optional_time`: a 4-digit
//!   year, then optionally `-MM`, `-dd`, and after a `T` optionally `HH`,
//!   `:mm`, `:ss`, a fraction after `.` or `,`, and a zone (`Z`, `±HH`,
//!   `±HH:mm`, `±HHmm`, `±HH:mm:ss`, or `UTC`/`GMT`/`UT` optionally followed
//!   by an offset). Missing parts default to the start of the period; no
//!   zone means UTC. Elasticsearch allows 1–9 fraction digits; more are
//!   accepted here and truncated to nanoseconds. Region names such as
//!   `Europe/Paris` are not supported (reported as unparseable).
//! - Otherwise a string of the form `-?digits(.digits)?` is epoch
//!   milliseconds, with up to six fraction digits kept (nanoseconds).
//!   As in Elasticsearch, a 4-digit string such as `"2024"` or `"1000"` is
//!   a year, not milliseconds, because the date format is tried first.
//! - **JSON numbers** are always epoch milliseconds (integers, or floats
//!   whose fraction is kept to the nanosecond as far as the f64 holds it).
//!
//! Timestamps keep nanosecond precision so events that share a millisecond
//! still order correctly.

use std::fmt;

use serde_json::Value;

use crate::path::FieldPath;
use crate::read::SkipReason;
use crate::value::FieldValue;

/// Nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i128);

impl Timestamp {
    pub const NANOS_PER_MILLI: i128 = 1_000_000;
    pub const NANOS_PER_SEC: i128 = 1_000_000_000;

    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms as i128 * Self::NANOS_PER_MILLI)
    }

    pub fn from_nanos(ns: i128) -> Self {
        Timestamp(ns)
    }

    pub fn nanos(self) -> i128 {
        self.0
    }

    /// Whole milliseconds since the epoch (floor), saturating at the i64
    /// range.
    pub fn millis(self) -> i64 {
        let ms = self.0.div_euclid(Self::NANOS_PER_MILLI);
        ms.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// RFC 3339 text with as many fraction digits as needed (UTC, `Z`).
    /// Outside chrono's range (about ±262,000 years) the epoch milliseconds
    /// are printed instead.
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(Self::NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(Self::NANOS_PER_SEC) as u32;
        let dt = i64::try_from(secs)
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, nanos));
        match dt {
            Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            None => self.millis().to_string(),
        }
    }
}

/// Why a timestamp could not be read from an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimestampError {
    /// The field is absent or null.
    Missing { field: String },
    /// The field has a value that is not a date.
    Invalid {
        field: String,
        /// The value as JSON, shortened.
        value: String,
        why: String,
    },
}

impl TimestampError {
    /// [`SkipReason::MissingTimestamp`] or [`SkipReason::BadTimestamp`].
    pub fn reason(&self) -> SkipReason {
        match self {
            TimestampError::Missing { .. } => SkipReason::MissingTimestamp,
            TimestampError::Invalid { .. } => SkipReason::BadTimestamp,
        }
    }
}

impl TimestampError {
    /// The skip for the event at `origin` in input `file`.
    pub fn into_skip(self, file: std::sync::Arc<str>, origin: crate::Origin) -> crate::Skip {
        let reason = self.reason();
        crate::Skip::new(file, origin, reason, self.to_string())
    }
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampError::Missing { field } => write!(f, "no `{field}` field"),
            TimestampError::Invalid { field, value, why } => {
                write!(f, "`{field}` is {value}: {why}")
            }
        }
    }
}

/// The timestamp of `doc` at `path`, or why there is none: the per-query
/// check the engine runs (the timestamp field is a query setting). Turn an
/// error into a skip with [`TimestampError::into_skip`].
///
/// A field holding an array of exactly one value uses that value; several
/// values are an error, since which one orders the event is ambiguous.
pub fn event_timestamp(doc: &Value, path: &FieldPath) -> Result<Timestamp, TimestampError> {
    timestamp_of(path, |f| {
        path.for_each(doc, &mut |v| f(FieldValue::from_json(v)))
    })
}

/// The first value `resolve` gives that is not null, read as a time
/// (`None` if there is none or it is not one): how events are ordered.
pub(crate) fn first_timestamp_of<'a>(
    resolve: impl FnOnce(&mut dyn FnMut(FieldValue<'a>)),
) -> Option<Timestamp> {
    let mut first = None;
    resolve(&mut |v| {
        if first.is_none() && !v.is_null() {
            first = Some(v);
        }
    });
    first.and_then(|v| parse_field_timestamp(v).ok())
}

/// [`event_timestamp`] over any resolution of `path` (a document walk, or
/// an event's field table through [`crate::Event::timestamp`]).
pub(crate) fn timestamp_of<'a>(
    path: &FieldPath,
    resolve: impl FnOnce(&mut dyn FnMut(FieldValue<'a>)),
) -> Result<Timestamp, TimestampError> {
    // The first two values that are not null (more make no difference).
    let mut vals: [Option<FieldValue<'a>>; 2] = [None, None];
    let mut n = 0;
    resolve(&mut |v| {
        if !v.is_null() && n < 2 {
            vals[n] = Some(v);
            n += 1;
        }
    });
    let field = || display_path(path);
    match vals {
        [None, _] => Err(TimestampError::Missing { field: field() }),
        [Some(v), None] => parse_field_timestamp(v).map_err(|why| TimestampError::Invalid {
            field: field(),
            value: shorten(&v.to_string()),
            why,
        }),
        [Some(_), Some(_)] => Err(TimestampError::Invalid {
            field: field(),
            value: "an array".to_string(),
            why: "several values; expected one".to_string(),
        }),
    }
}

fn display_path(path: &FieldPath) -> String {
    let mut s = String::new();
    for seg in path.segments() {
        match seg {
            crate::Segment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            crate::Segment::Index(i) => {
                s.push_str(&format!("[{i}]"));
            }
        }
    }
    s
}

fn shorten(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Parses a timestamp value: ISO 8601 text, epoch millis as a number, or a
/// numeric string of epoch millis. `None` if it is none of these.
pub fn parse_timestamp(v: &Value) -> Option<Timestamp> {
    parse_timestamp_value(v).ok()
}

/// Like [`parse_timestamp`], with the reason on failure.
pub fn parse_timestamp_value(v: &Value) -> Result<Timestamp, String> {
    parse_field_timestamp(FieldValue::from_json(v))
}

/// [`parse_timestamp_value`] of an event's field value.
pub fn parse_field_timestamp(v: FieldValue<'_>) -> Result<Timestamp, String> {
    match v {
        FieldValue::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Timestamp::from_millis(i))
            } else if let Some(u) = n.as_u64() {
                Ok(Timestamp(u as i128 * Timestamp::NANOS_PER_MILLI))
            } else {
                let f = n.as_f64().ok_or("not a number")?;
                millis_f64(f)
            }
        }
        FieldValue::Str(s) => parse_timestamp_text(s),
        FieldValue::Null => Err("null".to_string()),
        FieldValue::Bool(_) => Err("a boolean is not a date".to_string()),
        FieldValue::Json(Value::Array(_)) => Err("an array is not a date".to_string()),
        FieldValue::Json(_) => Err("an object is not a date".to_string()),
    }
}

/// Epoch milliseconds as a float; the fraction is kept to the nanosecond
/// (as far as the f64 holds it).
fn millis_f64(f: f64) -> Result<Timestamp, String> {
    // ±1e20 ms is far beyond any real date and keeps the i128 math exact.
    if !f.is_finite() || f.abs() > 1e20 {
        return Err("epoch milliseconds out of range".to_string());
    }
    let whole = f.trunc();
    // `f - trunc(f)` is exact in binary floating point.
    let frac_ns = ((f - whole) * 1e6).round() as i128;
    Ok(Timestamp(
        whole as i128 * Timestamp::NANOS_PER_MILLI + frac_ns,
    ))
}

/// Parses timestamp text: `strict_date_optional_time`, then epoch millis.
pub fn parse_timestamp_str(s: &str) -> Option<Timestamp> {
    // Both forms start with a digit or a minus; every other text fails
    // here without the parsers' error messages being written (compiling
    // the rules asks this of each of their twenty-five thousand strings).
    if !s.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        return None;
    }
    parse_timestamp_text(s).ok()
}

fn parse_timestamp_text(s: &str) -> Result<Timestamp, String> {
    match parse_iso8601(s) {
        Ok(t) => Ok(t),
        Err(iso_err) => match parse_epoch_millis_str(s) {
            Some(t) => Ok(t),
            None => Err(iso_err),
        },
    }
}

/// A numeric string as epoch millis: `-?digits(.digits)?`, fraction kept to
/// six digits (nanoseconds), more digits truncated.
fn parse_epoch_millis_str(s: &str) -> Option<Timestamp> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || int.len() > 20 {
        return None;
    }
    let mut ns: i128 = int.parse::<i128>().ok()? * Timestamp::NANOS_PER_MILLI;
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut scale = 100_000i128;
        for b in f.bytes().take(6) {
            ns += (b - b'0') as i128 * scale;
            scale /= 10;
        }
    }
    Some(Timestamp(if neg { -ns } else { ns }))
}

/// A cursor over ASCII text for the date parser.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        self.i >= self.b.len()
    }

    /// Exactly `n` digits.
    fn digits(&mut self, n: usize, what: &str) -> Result<u32, String> {
        let end = self.i + n;
        if end > self.b.len() || !self.b[self.i..end].iter().all(u8::is_ascii_digit) {
            return Err(format!("expected {n} digits for the {what}"));
        }
        let v = self.b[self.i..end]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + (d - b'0') as u32);
        self.i = end;
        Ok(v)
    }

    fn at_digit(&self) -> bool {
        self.peek().is_some_and(|c| c.is_ascii_digit())
    }
}

/// Parses `strict_date_optional_time` (see the module doc).
pub fn parse_iso8601(s: &str) -> Result<Timestamp, String> {
    if let Some(t) = parse_utc_seconds(s.as_bytes()) {
        return Ok(t);
    }
    let not_date = || "not an ISO 8601 date or epoch milliseconds".to_string();
    let mut c = Cur {
        b: s.as_bytes(),
        i: 0,
    };
    if !c.at_digit() {
        return Err(not_date());
    }
    let year = c.digits(4, "year").map_err(|_| not_date())? as i64;
    if c.at_digit() {
        return Err(not_date());
    }
    let (mut month, mut day) = (1, 1);
    if c.eat(b'-') {
        month = c.digits(2, "month")?;
        if c.eat(b'-') {
            day = c.digits(2, "day")?;
        }
    }
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0u32);
    let mut offset_secs: i64 = 0;
    if c.eat(b'T') {
        if c.at_digit() {
            hour = c.digits(2, "hour")?;
            if c.eat(b':') {
                minute = c.digits(2, "minute")?;
                if c.eat(b':') {
                    second = c.digits(2, "second")?;
                    if c.eat(b'.') || c.eat(b',') {
                        nanos = fraction(&mut c)?;
                    }
                }
            }
        }
        if !c.done() {
            offset_secs = zone(&mut c)?;
        }
    }
    if !c.done() {
        return Err(format!(
            "unexpected `{}` at position {} of the date",
            String::from_utf8_lossy(&c.b[c.i..c.i + 1]),
            c.i + 1
        ));
    }
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} out of range"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(format!("day {day} out of range for month {month}"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!(
            "time {hour:02}:{minute:02}:{second:02} out of range"
        ));
    }
    Ok(instant(
        year,
        [month, day, hour, minute, second],
        nanos,
        offset_secs,
    ))
}

/// The instant of a checked civil date and time (`[month, day, hour,
/// minute, second]`) at `offset_secs` east of UTC.
fn instant(
    year: i64,
    [month, day, hour, minute, second]: [u32; 5],
    nanos: u32,
    offset_secs: i64,
) -> Timestamp {
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second)
        - offset_secs;
    Timestamp(secs as i128 * Timestamp::NANOS_PER_SEC + i128::from(nanos))
}

/// The shape of nearly every event's time, `YYYY-MM-DDTHH:MM:SS[.f]Z`
/// with one to nine fraction digits, read at fixed places; `None` for
/// anything else, and for values out of range, which [`parse_iso8601`]
/// then reads in full (and explains). Reading each event's time through
/// the general parser took 570 instructions.
fn parse_utc_seconds(b: &[u8]) -> Option<Timestamp> {
    let len = b.len();
    if !(len == 20 || (22..=30).contains(&len)) || b[len - 1] != b'Z' {
        return None;
    }
    let digit = |i: usize| {
        let d = b[i].wrapping_sub(b'0');
        (d < 10).then_some(u32::from(d))
    };
    let two = |i: usize| Some(digit(i)? * 10 + digit(i + 1)?);
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = i64::from(two(0)? * 100 + two(2)?);
    let (month, day) = (two(5)?, two(8)?);
    let (hour, minute, second) = (two(11)?, two(14)?, two(17)?);
    let mut nanos = 0u32;
    if len > 20 {
        if b[19] != b'.' {
            return None;
        }
        let fraction = &b[20..len - 1];
        for i in 0..fraction.len() {
            nanos = nanos * 10 + digit(20 + i)?;
        }
        nanos *= 10u32.pow(9 - fraction.len() as u32);
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(instant(year, [month, day, hour, minute, second], nanos, 0))
}

/// Fraction digits after `.` or `,`: at least one; beyond nine truncated.
fn fraction(c: &mut Cur<'_>) -> Result<u32, String> {
    let start = c.i;
    let mut nanos = 0u32;
    while c.at_digit() {
        let n = c.i - start;
        if n < 9 {
            nanos = nanos * 10 + (c.b[c.i] - b'0') as u32;
        }
        c.i += 1;
    }
    let n = c.i - start;
    if n == 0 {
        return Err("expected digits after the decimal separator".to_string());
    }
    for _ in n..9 {
        nanos *= 10;
    }
    Ok(nanos)
}

/// A zone: `Z`, `±HH`, `±HH:mm`, `±HHmm`, `±HH:mm:ss`, `±HHmmss`, or
/// `UTC`/`GMT`/`UT` optionally followed by an offset. Seconds east of UTC.
fn zone(c: &mut Cur<'_>) -> Result<i64, String> {
    if c.eat(b'Z') {
        return Ok(0);
    }
    let rest = &c.b[c.i..];
    for prefix in [&b"UTC"[..], b"GMT", b"UT"] {
        if rest.starts_with(prefix) {
            c.i += prefix.len();
            if c.done() {
                return Ok(0);
            }
            break;
        }
    }
    let sign = match c.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => {
            return Err(
                "unsupported time zone (expected Z, an offset such as +01:00, or UTC)".to_string(),
            )
        }
    };
    c.i += 1;
    let h = c.digits(2, "offset hours")? as i64;
    let mut m = 0;
    let mut s = 0;
    if c.eat(b':') {
        m = c.digits(2, "offset minutes")? as i64;
        if c.eat(b':') {
            s = c.digits(2, "offset seconds")? as i64;
        }
    } else if c.at_digit() {
        m = c.digits(2, "offset minutes")? as i64;
        if c.at_digit() {
            s = c.digits(2, "offset seconds")? as i64;
        }
    }
    if h > 18 || m > 59 || s > 59 || (h == 18 && (m > 0 || s > 0)) {
        return Err("offset out of range (at most ±18:00)".to_string());
    }
    Ok(sign * (h * 3600 + m * 60 + s))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The general reading of `s`, a text ending in `Z`, without the
    /// fixed-place one: with `Z` spelled `+00:00` the text is never that
    /// reading's shape, and means the same instant.
    fn parse_general(s: &str) -> Option<Timestamp> {
        let mut b = s.to_string();
        b.pop()?;
        b.push_str("+00:00");
        parse_iso8601(&b).ok()
    }

    proptest! {
        /// Where the fixed-place reading answers, the general one agrees;
        /// where it does not, the text is not its shape or out of range.
        #[test]
        fn utc_seconds_agrees_with_the_general_parser(
            year in prop::sample::select(vec!["0000", "1969", "1970", "2000", "2024", "2100", "9999", "20x4"]),
            month in prop::sample::select(vec!["00", "01", "02", "09", "12", "13", "1a"]),
            day in prop::sample::select(vec!["00", "01", "28", "29", "30", "31", "32"]),
            hour in prop::sample::select(vec!["00", "09", "23", "24"]),
            minute in prop::sample::select(vec!["00", "59", "60"]),
            second in prop::sample::select(vec!["00", "30", "59", "60"]),
            fraction in prop::sample::select(vec!["", ".", ".1", ".123", ".123456", ".123456789", ".1234567891", ".12a", ",5"]),
            seps in prop::sample::select(vec!["--T::", "-- ::", "/-T::", "--T:-"]),
        ) {
            let sep: Vec<char> = seps.chars().collect();
            let s = format!(
                "{year}{}{month}{}{day}{}{hour}{}{minute}{}{second}{fraction}Z",
                sep[0], sep[1], sep[2], sep[3], sep[4]
            );
            let general = parse_general(&s);
            match parse_utc_seconds(s.as_bytes()) {
                Some(t) => prop_assert_eq!(Some(t), general, "{}", s),
                None => prop_assert!(
                    general.is_none() || fraction.len() > 10 || fraction.starts_with(','),
                    "{} reads as {:?} in general", s, general
                ),
            }
            prop_assert_eq!(parse_iso8601(&s).ok(), general, "{}", s);
        }
    }

    fn iso(s: &str) -> Timestamp {
        parse_timestamp(&json!(s)).unwrap_or_else(|| panic!("{s} should parse"))
    }

    fn ms(s: &str) -> i64 {
        iso(s).millis()
    }

    fn rejects(s: &str) {
        assert_eq!(parse_timestamp(&json!(s)), None, "{s} should not parse");
    }

    const JAN1_2024: i64 = 1_704_067_200_000;

    #[test]
    fn numbers_are_epoch_millis() {
        assert_eq!(
            parse_timestamp(&json!(1000)),
            Some(Timestamp::from_millis(1000))
        );
        assert_eq!(
            parse_timestamp(&json!(-1000)),
            Some(Timestamp::from_millis(-1000))
        );
        assert_eq!(parse_timestamp(&json!(0)), Some(Timestamp(0)));
        // A 4-digit number is still millis (only strings go through the
        // date format first).
        assert_eq!(
            parse_timestamp(&json!(2024)),
            Some(Timestamp::from_millis(2024))
        );
        assert_eq!(
            parse_timestamp(&json!(u64::MAX)),
            Some(Timestamp(u64::MAX as i128 * 1_000_000))
        );
    }

    #[test]
    fn float_millis_keep_sub_millisecond_precision() {
        assert_eq!(parse_timestamp(&json!(1.5)), Some(Timestamp(1_500_000)));
        assert_eq!(parse_timestamp(&json!(-1.5)), Some(Timestamp(-1_500_000)));
        let a = parse_timestamp(&json!(1_700_000_000_000.25)).unwrap();
        let b = parse_timestamp(&json!(1_700_000_000_000.5)).unwrap();
        assert_eq!(b.0 - a.0, 250_000);
        assert!(a < b);
        assert_eq!(parse_timestamp(&json!(1e300)), None);
    }

    #[test]
    fn numeric_strings_are_epoch_millis() {
        assert_eq!(
            parse_timestamp(&json!("1704067200000")),
            Some(Timestamp::from_millis(JAN1_2024))
        );
        assert_eq!(
            parse_timestamp(&json!("100000")),
            Some(Timestamp::from_millis(100_000))
        );
        assert_eq!(
            parse_timestamp(&json!("-1000")),
            Some(Timestamp::from_millis(-1000))
        );
        assert_eq!(
            parse_timestamp(&json!("12.345678")),
            Some(Timestamp(12_345_678))
        );
        assert_eq!(
            parse_timestamp(&json!("12.3456789")),
            Some(Timestamp(12_345_678))
        );
        assert_eq!(parse_timestamp(&json!("-0.5")), Some(Timestamp(-500_000)));
        rejects("12.");
        rejects("1e5");
        rejects("--1");
        rejects("");
        rejects(" 1000");
    }

    #[test]
    fn four_digit_strings_are_years_as_in_elasticsearch() {
        // strict_date_optional_time is tried before epoch_millis.
        assert_eq!(ms("2024"), JAN1_2024);
        assert_eq!(ms("1000"), days_from_civil(1000, 1, 1) * 86_400_000);
        // Not 4 digits: millis.
        assert_eq!(ms("999"), 999);
        assert_eq!(ms("10000"), 10_000);
    }

    #[test]
    fn iso_forms() {
        assert_eq!(ms("2024-01-01T00:00:00Z"), JAN1_2024);
        assert_eq!(ms("2024-01-01T00:00:00.000Z"), JAN1_2024);
        assert_eq!(ms("2024-01-01"), JAN1_2024);
        assert_eq!(ms("2024-01"), JAN1_2024);
        assert_eq!(ms("2024-01-01T"), JAN1_2024);
        assert_eq!(ms("2024-01-01T10"), JAN1_2024 + 10 * 3_600_000);
        assert_eq!(
            ms("2024-01-01T10:15"),
            JAN1_2024 + 10 * 3_600_000 + 15 * 60_000
        );
        assert_eq!(
            ms("2024-01-01T10:15:30"),
            JAN1_2024 + 10 * 3_600_000 + 15 * 60_000 + 30_000
        );
        assert_eq!(ms("2024-01-01T00:00:00,5Z"), JAN1_2024 + 500);
        assert_eq!(ms("2024-01-01TZ"), JAN1_2024);
        assert_eq!(ms("1970-01-01T00:00:00Z"), 0);
        assert_eq!(ms("1969-12-31T23:59:59.999Z"), -1);
        assert_eq!(ms("2024-02-29T00:00:00Z"), JAN1_2024 + 59 * 86_400_000);
        assert_eq!(ms("2000-03-01"), 951_868_800_000);
        assert_eq!(ms("0001-01-01"), -62_135_596_800_000);
    }

    #[test]
    fn no_offset_means_utc_and_offsets_shift() {
        let utc = iso("2024-01-01T00:00:00Z");
        assert_eq!(iso("2024-01-01T00:00:00"), utc);
        for s in [
            "2024-01-01T01:00:00+01:00",
            "2024-01-01T01:00:00+0100",
            "2024-01-01T01:00:00+01",
            "2024-01-01T01:00:00+01:00:00",
            "2023-12-31T23:00:00-01:00",
            "2023-12-31T23:00:00-0100",
            "2024-01-01T05:30:00+05:30",
            "2024-01-01T00:00:00UTC",
            "2024-01-01T00:00:00GMT",
            "2024-01-01T01:00:00UTC+01:00",
            "2024-01-01T00:00:00+00:00",
            "2024-01-01T00:00:00-00:00",
        ] {
            assert_eq!(iso(s), utc, "{s}");
        }
    }

    #[test]
    fn fractions_of_any_precision() {
        let base = iso("2024-01-01T00:00:00Z").0;
        assert_eq!(iso("2024-01-01T00:00:00.1Z").0 - base, 100_000_000);
        assert_eq!(iso("2024-01-01T00:00:00.12Z").0 - base, 120_000_000);
        assert_eq!(iso("2024-01-01T00:00:00.123456Z").0 - base, 123_456_000);
        assert_eq!(iso("2024-01-01T00:00:00.000000001Z").0 - base, 1);
        // More than nine digits: truncated, not rounded.
        assert_eq!(iso("2024-01-01T00:00:00.1234567899Z").0 - base, 123_456_789);
        assert_eq!(
            iso("2024-01-01T00:00:00.999999999999Z").0 - base,
            999_999_999
        );
        assert_eq!(
            iso("2024-01-01T00:00:00.5+01:00").0 - base,
            500_000_000 - 3_600 * 1_000_000_000
        );
    }

    #[test]
    fn ordering_keeps_sub_millisecond_precision() {
        let a = iso("2024-01-01T00:00:00.000100Z");
        let b = iso("2024-01-01T00:00:00.000200Z");
        let c = iso("2024-01-01T00:00:00.001Z");
        assert!(a < b && b < c);
        assert_eq!(a.millis(), b.millis());
        // A float epoch and an ISO string of the same instant agree.
        assert_eq!(
            parse_timestamp(&json!(1_704_067_200_000.5)),
            Some(iso("2024-01-01T00:00:00.0005Z"))
        );
    }

    #[test]
    fn rejected_forms() {
        for s in [
            "24-01-01",
            "2024-1-01",
            "2024-01-1",
            "2024-13-01",
            "2024-00-01",
            "2023-02-29",
            "2024-04-31",
            "2024-01-00",
            "2024-01-01T24:00:00Z",
            "2024-01-01T10:60",
            "2024-01-01T10:00:60",
            "2024-01-01 10:00:00",
            "2024-01-01t10:00:00z",
            "2024-01-01Z",
            "2024-01-01T10:00:00.Z",
            "2024-01-01T10:00:00+19:00",
            "2024-01-01T10:00:00+1",
            "2024-01-01T10:00:00Europe/Paris",
            "2024-01-01T10:00:00Zjunk",
            "yesterday",
            "2024-01-01T1",
            "+2024-01-01",
            "\u{0661}\u{0669}\u{0667}\u{0660}",
        ] {
            rejects(s);
        }
        // Basic (compact) dates are not ISO here; digits alone are millis.
        assert_eq!(ms("20240101"), 20_240_101);
        assert!(parse_timestamp_value(&json!("2024-13-01"))
            .unwrap_err()
            .contains("month 13"));
        assert_eq!(parse_timestamp(&json!(null)), None);
        assert_eq!(parse_timestamp(&json!(true)), None);
        assert_eq!(parse_timestamp(&json!({"a": 1})), None);
    }

    #[test]
    fn days_from_civil_matches_chrono() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (1600, 3, 1),
            (1, 1, 1),
            (9999, 12, 31),
            (1900, 2, 28),
        ] {
            let want = chrono::NaiveDate::from_ymd_opt(y as i32, m, d)
                .unwrap()
                .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                .num_days();
            assert_eq!(days_from_civil(y, m, d), want, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn rfc3339_round_trip() {
        for s in [
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00.000000001Z",
            "1969-12-31T23:59:59.999Z",
        ] {
            assert_eq!(iso(s).to_rfc3339(), s);
        }
        // Out of chrono's range: millis, no panic.
        assert_eq!(Timestamp(i128::MAX).millis(), i64::MAX);
        let _ = Timestamp(i128::MAX).to_rfc3339();
        let _ = Timestamp(i128::MIN).to_rfc3339();
    }

    #[test]
    fn event_timestamp_reports_why() {
        let p = FieldPath::dotted("@timestamp");
        let ok = json!({"@timestamp": "2024-01-01T00:00:00Z"});
        assert_eq!(event_timestamp(&ok, &p).unwrap().millis(), JAN1_2024);
        let one = json!({"@timestamp": ["2024-01-01T00:00:00Z"]});
        assert_eq!(event_timestamp(&one, &p).unwrap().millis(), JAN1_2024);

        let missing = event_timestamp(&json!({"a": 1}), &p).unwrap_err();
        assert_eq!(missing.reason(), SkipReason::MissingTimestamp);
        assert_eq!(missing.to_string(), "no `@timestamp` field");
        let null = event_timestamp(&json!({"@timestamp": null}), &p).unwrap_err();
        assert_eq!(null.reason(), SkipReason::MissingTimestamp);

        let bad = event_timestamp(&json!({"@timestamp": "yesterday"}), &p).unwrap_err();
        assert_eq!(bad.reason(), SkipReason::BadTimestamp);
        assert!(
            bad.to_string()
                .starts_with("`@timestamp` is \"yesterday\": "),
            "{bad}"
        );
        let two = event_timestamp(&json!({"@timestamp": [1, 2]}), &p).unwrap_err();
        assert_eq!(two.reason(), SkipReason::BadTimestamp);
        let obj = event_timestamp(&json!({"@timestamp": {"x": 1}}), &p);
        assert_eq!(obj.unwrap_err().reason(), SkipReason::BadTimestamp);

        let nested = FieldPath::dotted("event.created");
        let doc = json!({"event": {"created": 5}});
        assert_eq!(
            event_timestamp(&doc, &nested).unwrap(),
            Timestamp::from_millis(5)
        );
        let long = "x".repeat(1000);
        let e = event_timestamp(&json!({"event.created": long}), &nested).unwrap_err();
        assert!(e.to_string().len() < 200, "value shortened: {e}");
    }
}
