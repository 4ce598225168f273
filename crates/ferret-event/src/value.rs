//! [`FieldValue`]: one value of a field, as an event yields it to readers.
//!
//! An event's projected values live in its [`crate::FieldTable`] as compact
//! cells over one text buffer (not a `serde_json::Value` with its own
//! `String` each): allocating and freeing a string per value per event was a
//! fifth of a scan's time, and the scattered strings of held events kept
//! the allocator from returning memory. Readers get a borrowed view that is
//! the same whether the value comes from the table or from walking the
//! document.

use std::fmt;

use serde_json::{Number, Value};

/// A field value borrowed from an event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue<'a> {
    Null,
    Bool(bool),
    Number(FieldNumber),
    Str(&'a str),
    /// An object or an array (arrays met while resolving a path are
    /// flattened, so only arrays nested in objects arrive here).
    Json(&'a Value),
}

impl<'a> FieldValue<'a> {
    /// The view of a document value.
    #[inline]
    pub fn from_json(v: &'a Value) -> Self {
        match v {
            Value::Null => FieldValue::Null,
            Value::Bool(b) => FieldValue::Bool(*b),
            Value::Number(n) => FieldValue::Number(FieldNumber::of(n)),
            Value::String(s) => FieldValue::Str(s),
            Value::Array(_) | Value::Object(_) => FieldValue::Json(v),
        }
    }

    /// The text of a string value.
    #[inline]
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            FieldValue::Str(s) => Some(s),
            _ => None,
        }
    }

    #[inline]
    pub fn is_null(self) -> bool {
        matches!(self, FieldValue::Null)
    }

    /// An owned JSON copy (for output and tests; readers should not need it).
    pub fn to_json(self) -> Value {
        match self {
            FieldValue::Null => Value::Null,
            FieldValue::Bool(b) => Value::Bool(b),
            FieldValue::Number(n) => Value::Number(n.to_json()),
            FieldValue::Str(s) => Value::String(s.to_string()),
            FieldValue::Json(v) => v.clone(),
        }
    }
}

/// As JSON text (a string shows with its quotes).
impl fmt::Display for FieldValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Null => f.write_str("null"),
            FieldValue::Bool(b) => write!(f, "{b}"),
            FieldValue::Number(n) => write!(f, "{}", n.to_json()),
            FieldValue::Str(s) => write!(f, "{}", Value::from(*s)),
            FieldValue::Json(v) => write!(f, "{v}"),
        }
    }
}

/// A JSON number as serde_json keeps one, by value: a field value's number
/// is its cell's, and a cell holding a `serde_json::Number` (16 bytes and a
/// tag of its own) was half as large again as one holding this.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldNumber {
    /// A non-negative integer.
    PosInt(u64),
    /// A negative integer.
    NegInt(i64),
    /// Any other number (finite: JSON has no others).
    Float(f64),
}

impl FieldNumber {
    /// The number `n` is.
    #[inline]
    pub fn of(n: &Number) -> FieldNumber {
        if let Some(u) = n.as_u64() {
            FieldNumber::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            FieldNumber::NegInt(i)
        } else {
            FieldNumber::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    /// As `serde_json::Number::as_i64`.
    #[inline]
    pub fn as_i64(self) -> Option<i64> {
        match self {
            FieldNumber::PosInt(u) => i64::try_from(u).ok(),
            FieldNumber::NegInt(i) => Some(i),
            FieldNumber::Float(_) => None,
        }
    }

    /// As `serde_json::Number::as_u64`.
    #[inline]
    pub fn as_u64(self) -> Option<u64> {
        match self {
            FieldNumber::PosInt(u) => Some(u),
            _ => None,
        }
    }

    /// As `serde_json::Number::as_f64`.
    #[inline]
    pub fn as_f64(self) -> Option<f64> {
        Some(match self {
            FieldNumber::PosInt(u) => u as f64,
            FieldNumber::NegInt(i) => i as f64,
            FieldNumber::Float(f) => f,
        })
    }

    /// The `serde_json::Number` it came from.
    pub fn to_json(self) -> Number {
        match self {
            FieldNumber::PosInt(u) => Number::from(u),
            FieldNumber::NegInt(i) => Number::from(i),
            FieldNumber::Float(f) => Number::from_f64(f).unwrap_or_else(|| Number::from(0)),
        }
    }
}

impl PartialEq<Value> for FieldValue<'_> {
    fn eq(&self, other: &Value) -> bool {
        *self == FieldValue::from_json(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn views_and_copies_agree_with_the_document() {
        for v in [
            json!(null),
            json!(true),
            json!(-3),
            json!(u64::MAX),
            json!(1.5),
            json!("a \"quoted\" word"),
            json!({"a": [1, "x"]}),
            json!([1, 2]),
        ] {
            let view = FieldValue::from_json(&v);
            assert_eq!(view.to_json(), v);
            assert_eq!(view.to_string(), v.to_string());
            assert!(view == v);
        }
        // Numbers keep serde_json's kind and conversions.
        for v in [
            json!(0),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(-1),
            json!(i64::MIN),
            json!(-0.0),
            json!(1e300),
            json!(2.5),
        ] {
            let Value::Number(n) = &v else { unreachable!() };
            let m = FieldNumber::of(n);
            assert_eq!(&m.to_json(), n);
            assert_eq!(
                (m.as_i64(), m.as_u64(), m.as_f64()),
                (n.as_i64(), n.as_u64(), n.as_f64())
            );
            assert_eq!(FieldValue::Number(m).to_string(), v.to_string());
        }
        assert_eq!(FieldValue::Str("x").as_str(), Some("x"));
        assert_eq!(FieldValue::Bool(true).as_str(), None);
        assert!(FieldValue::Null.is_null());
    }
}
