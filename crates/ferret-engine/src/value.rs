//! Runtime values of expression evaluation ([`Val`], [`Scalar`]), the value
//! comparisons every operator shares, and the hashable, totally ordered
//! [`KeyValue`] used for join keys, sorting and `unique`.
//!
//! Comparison rules (Elasticsearch compares by mapped type; events from files
//! carry no mapping, so types are inferred from the JSON values):
//! * numbers compare numerically, integers and floats mixed;
//! * strings compare by bytes (`==`) and lexicographically by bytes (`<`…),
//!   which is UTF-8 code-point order, as Lucene orders keyword terms;
//! * a string and a number compare as numbers when the string parses as one
//!   (Elasticsearch coerces numeric strings when it indexes a numeric field,
//!   and indexes a number sent to a keyword field as its text);
//! * a date-like string (`YYYY-MM-DD…`) compared with a number compares as
//!   epoch milliseconds, and two date-like strings that both parse compare as
//!   instants, so `@timestamp < "2017-08-30T20:47:32Z"` works whether the
//!   event stores an ISO string or epoch milliseconds;
//! * `"true"` / `"false"` strings compare with booleans as booleans;
//! * anything else is incomparable: not equal, and never less or greater.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use ferret_event::{parse_timestamp_str, FieldValue, Timestamp, Value};

/// One scalar value, borrowed from an event or a literal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar<'a> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl<'a> Scalar<'a> {
    /// The scalar view of a JSON value; `None` for null, objects and arrays.
    #[inline]
    pub fn from_json(v: &'a Value) -> Option<Scalar<'a>> {
        Scalar::from_field(FieldValue::from_json(v))
    }

    /// The scalar view of an event's field value; `None` for null,
    /// objects and arrays.
    #[inline]
    pub fn from_field(v: FieldValue<'a>) -> Option<Scalar<'a>> {
        match v {
            FieldValue::Str(s) => Some(Scalar::Str(s)),
            FieldValue::Number(n) => Some(match n.as_i64() {
                Some(i) => Scalar::Int(i),
                None => Scalar::Float(n.as_f64().unwrap_or(f64::NAN)),
            }),
            FieldValue::Bool(b) => Some(Scalar::Bool(b)),
            FieldValue::Null | FieldValue::Json(_) => None,
        }
    }

    /// The numeric value, parsing numeric strings.
    pub fn as_number(self) -> Option<Num> {
        match self {
            Scalar::Int(i) => Some(Num::Int(i)),
            Scalar::Float(f) => Some(Num::Float(f)),
            Scalar::Str(s) => parse_num(s),
            Scalar::Bool(_) => None,
        }
    }
}

/// A number: integer or float.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// Parses a decimal number as Elasticsearch coerces numeric strings
/// (surrounding whitespace not allowed; `+`/`-` sign, fraction, exponent).
pub fn parse_num(s: &str) -> Option<Num> {
    let b = s.as_bytes();
    let first = *b.first()?;
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Num::Int(i));
    }
    // Rust's float parser accepts "inf"/"nan"; Elasticsearch does not.
    if !b
        .iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Num::Float)
}

/// Numeric comparison with integers and floats mixed exactly.
pub fn cmp_num(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).map(Ordering::reverse),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
    }
}

fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // Compare in i128 when the float is integral and in range, so large
    // longs are not rounded through f64.
    if f.fract() == 0.0 && f.abs() < 1.7e38 {
        return Some((i as i128).cmp(&(f as i128)));
    }
    (i as f64).partial_cmp(&f)
}

/// True if `s` starts like an ISO 8601 date (`YYYY-MM-DD`).
#[inline]
pub fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// The instant of a date-like string.
pub fn parse_date(s: &str) -> Option<Timestamp> {
    if looks_like_date(s) {
        parse_timestamp_str(s)
    } else {
        None
    }
}

/// Epoch milliseconds as an instant (fractions keep sub-millisecond precision).
pub fn num_to_timestamp(n: Num) -> Option<Timestamp> {
    match n {
        Num::Int(i) => Some(Timestamp::from_millis(i)),
        Num::Float(f) if f.is_finite() && f.abs() < 9.2e15 => {
            Some(Timestamp((f * 1e6).round() as i128))
        }
        Num::Float(_) => None,
    }
}

fn str_bool(s: &str) -> Option<bool> {
    match s {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Orders two scalars by the rules in the module documentation; `None` if
/// they are incomparable.
pub fn cmp_scalars(a: Scalar, b: Scalar) -> Option<Ordering> {
    use Scalar::*;
    match (a, b) {
        (Str(x), Str(y)) => {
            if x == y {
                return Some(Ordering::Equal);
            }
            if looks_like_date(x) && looks_like_date(y) {
                if let (Some(tx), Some(ty)) = (parse_timestamp_str(x), parse_timestamp_str(y)) {
                    return Some(tx.cmp(&ty));
                }
            }
            Some(x.as_bytes().cmp(y.as_bytes()))
        }
        (Bool(x), Bool(y)) => Some(x.cmp(&y)),
        (Bool(x), Str(s)) => str_bool(s).map(|y| x.cmp(&y)),
        (Str(s), Bool(y)) => str_bool(s).map(|x| x.cmp(&y)),
        (Bool(_), _) | (_, Bool(_)) => None,
        (Str(s), n) => cmp_str_num(s, n.as_number()?),
        (n, Str(s)) => cmp_str_num(s, n.as_number()?).map(Ordering::reverse),
        (x, y) => cmp_num(x.as_number()?, y.as_number()?),
    }
}

/// Orders a string against a number (string on the left).
fn cmp_str_num(s: &str, n: Num) -> Option<Ordering> {
    if let Some(sn) = parse_num(s) {
        return cmp_num(sn, n);
    }
    let ts = parse_date(s)?;
    Some(ts.cmp(&num_to_timestamp(n)?))
}

/// Exact equality (`==`, `in`).
#[inline]
pub fn eq_scalars(a: Scalar, b: Scalar) -> bool {
    match (a, b) {
        (Scalar::Str(x), Scalar::Str(y)) if x == y => true,
        _ => cmp_scalars(a, b) == Some(Ordering::Equal),
    }
}

/// Case-insensitive equality (`:` without wildcards, `in~`): strings fold
/// case, everything else is as [`eq_scalars`].
pub fn eq_scalars_ci(a: Scalar, b: Scalar) -> bool {
    match (a, b) {
        (Scalar::Str(x), Scalar::Str(y)) => crate::matching::eq_fold(x, y) || eq_scalars(a, b),
        _ => eq_scalars(a, b),
    }
}

/// A value computed while evaluating an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// A multi-valued field: its non-null scalar values (at least two).
    Many(Vec<Scalar<'a>>),
}

impl<'a> Val<'a> {
    pub fn from_scalar(s: Scalar<'a>) -> Val<'a> {
        match s {
            Scalar::Bool(b) => Val::Bool(b),
            Scalar::Int(i) => Val::Int(i),
            Scalar::Float(f) => Val::Float(f),
            Scalar::Str(s) => Val::Str(Cow::Borrowed(s)),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    /// Calls `f` on each scalar (none for null) until it returns true;
    /// returns whether it did.
    pub fn any(&self, mut f: impl FnMut(Scalar) -> bool) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => f(Scalar::Bool(*b)),
            Val::Int(i) => f(Scalar::Int(*i)),
            Val::Float(x) => f(Scalar::Float(*x)),
            Val::Str(s) => f(Scalar::Str(s)),
            Val::Many(items) => items.iter().any(|s| f(*s)),
        }
    }

    /// The single scalar, or the first of a multi-valued field.
    pub fn first(&self) -> Option<Scalar<'_>> {
        match self {
            Val::Null => None,
            Val::Bool(b) => Some(Scalar::Bool(*b)),
            Val::Int(i) => Some(Scalar::Int(*i)),
            Val::Float(x) => Some(Scalar::Float(*x)),
            Val::Str(s) => Some(Scalar::Str(s)),
            Val::Many(items) => items.first().copied(),
        }
    }
}

/// Formats a float the way Java's `Double.toString` does for the common
/// range (`1.0`, `2.1828`, `1.0E10`), which is what Elasticsearch's
/// `string()` and `concat()` produce.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = if mant.contains('.') {
            mant.to_string()
        } else {
            format!("{mant}.0")
        };
        format!("{mant}E{exp}")
    }
}

/// The text of a scalar as `string()` renders it.
pub fn scalar_to_string(s: Scalar) -> Cow<str> {
    match s {
        Scalar::Str(s) => Cow::Borrowed(s),
        Scalar::Int(i) => Cow::Owned(i.to_string()),
        Scalar::Float(f) => Cow::Owned(format_float(f)),
        Scalar::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
    }
}

/// An `f64` with total ordering and hashing (`-0.0 == 0.0`, all NaNs equal),
/// so floats can be join and sort keys.
#[derive(Clone, Copy, Debug)]
pub struct FloatKey(pub f64);

impl FloatKey {
    pub(crate) fn canonical_bits(self) -> u64 {
        if self.0 == 0.0 {
            0
        } else if self.0.is_nan() {
            f64::NAN.to_bits()
        } else {
            self.0.to_bits()
        }
    }
}

impl PartialEq for FloatKey {
    fn eq(&self, other: &Self) -> bool {
        self.canonical_bits() == other.canonical_bits()
    }
}
impl Eq for FloatKey {}
impl Hash for FloatKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.canonical_bits().hash(state)
    }
}
impl PartialOrd for FloatKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for FloatKey {
    fn cmp(&self, other: &Self) -> Ordering {
        f64::from_bits(self.canonical_bits()).total_cmp(&f64::from_bits(other.canonical_bits()))
    }
}

/// A hashable, totally ordered scalar used for join keys, sort and unique.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(FloatKey),
    Str(String),
}

impl KeyValue {
    /// The key of a scalar. Integral floats become integers so `1` and
    /// `1.0` join alike (Elasticsearch keys come from one mapped type, where
    /// the two cannot differ).
    pub fn from_scalar(s: Scalar) -> KeyValue {
        match s {
            Scalar::Bool(b) => KeyValue::Bool(b),
            Scalar::Int(i) => KeyValue::Int(i),
            Scalar::Float(f) => {
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    KeyValue::Int(f as i64)
                } else {
                    KeyValue::Float(FloatKey(f))
                }
            }
            Scalar::Str(s) => KeyValue::Str(s.to_string()),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            KeyValue::Null => serde_json::Value::Null,
            KeyValue::Bool(b) => serde_json::Value::Bool(*b),
            KeyValue::Int(i) => serde_json::Value::from(*i),
            KeyValue::Float(f) => serde_json::Number::from_f64(f.0)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            KeyValue::Str(s) => serde_json::Value::String(s.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Scalar::*;

    #[test]
    fn numbers_compare_across_int_and_float() {
        assert_eq!(cmp_scalars(Int(3), Float(3.0)), Some(Ordering::Equal));
        assert_eq!(cmp_scalars(Int(3), Float(4.5)), Some(Ordering::Less));
        assert_eq!(cmp_scalars(Float(4.5), Int(3)), Some(Ordering::Greater));
        assert_eq!(
            cmp_scalars(Int(i64::MAX), Float(9.3e18)),
            Some(Ordering::Less)
        );
        assert_eq!(cmp_scalars(Float(f64::NAN), Int(1)), None);
    }

    #[test]
    fn strings_compare_by_bytes() {
        assert_eq!(
            cmp_scalars(Str("System"), Str("System Idle Process")),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp_scalars(Str("system"), Str("System")),
            Some(Ordering::Greater)
        );
        assert!(!eq_scalars(Str("a"), Str("A")));
        assert!(eq_scalars_ci(Str("a"), Str("A")));
    }

    #[test]
    fn numeric_strings_coerce() {
        assert!(eq_scalars(Str("5"), Int(5)));
        assert!(eq_scalars(Int(5), Str("5.0")));
        assert_eq!(cmp_scalars(Str("10"), Int(9)), Some(Ordering::Greater));
        assert_eq!(cmp_scalars(Str("abc"), Int(9)), None);
        assert!(!eq_scalars(Str("inf"), Float(f64::INFINITY)));
    }

    #[test]
    fn dates_compare_as_instants() {
        // 2017-08-30T20:47:33Z = 1504126053000 ms.
        assert!(eq_scalars(Int(1504126053000), Str("2017-08-30T20:47:33Z")));
        assert!(eq_scalars(
            Str("2017-08-30T20:47:33.000Z"),
            Str("2017-08-30T20:47:33Z")
        ));
        assert_eq!(
            cmp_scalars(Int(1504126052999), Str("2017-08-30T20:47:33Z")),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp_scalars(
                Str("2017-08-30T22:47:33+02:00"),
                Str("2017-08-30T20:47:34Z")
            ),
            Some(Ordering::Less)
        );
    }

    #[test]
    fn booleans_and_their_strings() {
        assert!(eq_scalars(Bool(true), Str("true")));
        assert!(!eq_scalars(Bool(true), Int(1)));
    }

    #[test]
    fn java_like_float_text() {
        assert_eq!(format_float(1.0), "1.0");
        assert_eq!(format_float(2.1828), "2.1828");
        assert_eq!(format_float(-0.5), "-0.5");
        assert_eq!(format_float(1e10), "1.0E10");
        assert_eq!(format_float(1.5e-5), "1.5E-5");
    }

    #[test]
    fn keys_normalize_integral_floats() {
        assert_eq!(KeyValue::from_scalar(Float(1.0)), KeyValue::Int(1));
        assert_eq!(
            KeyValue::from_scalar(Float(1.5)),
            KeyValue::Float(FloatKey(1.5))
        );
        assert_ne!(KeyValue::from_scalar(Str("1")), KeyValue::Int(1));
        assert_eq!(
            KeyValue::Float(FloatKey(0.0)),
            KeyValue::Float(FloatKey(-0.0))
        );
        assert_eq!(KeyValue::Int(2).to_json(), serde_json::json!(2));
    }
}
