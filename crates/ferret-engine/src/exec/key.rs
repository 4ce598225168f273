//! Join keys of sequences and samples as one byte string each.
//!
//! A partial sequence is found by its join key for every event a stage
//! takes, and a sample groups its events by key. Held as a list of
//! [`KeyValue`]s, a key cost an allocation per string value on every
//! evaluation, and a hash and a comparison per value on every lookup. Here
//! the values are written one after another into a single buffer, in an
//! encoding whose byte order is the values' order ([`KeyValue`]'s `Ord`,
//! element by element), so a key is one allocation, one hash over bytes and
//! one `memcmp`, and sorting keys (samples run in ascending key order) sorts
//! them as the values would sort.
//!
//! Each value starts with a tag in variant order, then:
//! * `Bool`: one byte;
//! * `Int`: eight bytes big-endian with the sign bit flipped;
//! * `Float`: the canonical bits (see [`FloatKey`]) big-endian, with every
//!   bit flipped when negative and only the sign bit otherwise (the order of
//!   `f64::total_cmp`);
//! * `Str`: the bytes, a zero byte escaped as `00 FF`, ended by `00 01` (so
//!   a string sorts before any string it is a prefix of).

use crate::value::{FloatKey, KeyValue, Scalar};

const NULL: u8 = 0;
const BOOL: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 3;
const STR: u8 = 4;

/// A join key: the encoded values of a stage's key expressions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Box<[u8]>);

impl Key {
    /// The key of `bytes` written by [`KeyWriter`].
    pub(crate) fn from_bytes(bytes: &[u8]) -> Key {
        Key(bytes.into())
    }

    /// The key's values, in order.
    pub fn values(&self) -> Vec<KeyValue> {
        let mut out = Vec::new();
        let mut b = &self.0[..];
        while let Some((&tag, rest)) = b.split_first() {
            let (value, rest) = match tag {
                NULL => (KeyValue::Null, rest),
                BOOL => (KeyValue::Bool(rest[0] != 0), &rest[1..]),
                INT => {
                    let (n, rest) = rest.split_at(8);
                    let n = u64::from_be_bytes(n.try_into().expect("eight bytes"));
                    (KeyValue::Int((n ^ 1 << 63) as i64), rest)
                }
                FLOAT => {
                    let (n, rest) = rest.split_at(8);
                    let n = u64::from_be_bytes(n.try_into().expect("eight bytes"));
                    let bits = if n & 1 << 63 != 0 { n ^ 1 << 63 } else { !n };
                    (KeyValue::Float(FloatKey(f64::from_bits(bits))), rest)
                }
                _ => {
                    let mut s = Vec::new();
                    let mut i = 0;
                    loop {
                        match (rest[i], rest[i + 1]) {
                            (0, 1) => break,
                            (0, _) => {
                                s.push(0);
                                i += 2;
                            }
                            (c, _) => {
                                s.push(c);
                                i += 1;
                            }
                        }
                    }
                    let s = String::from_utf8(s).expect("keys are written from strings");
                    (KeyValue::Str(s), &rest[i + 2..])
                }
            };
            out.push(value);
            b = rest;
        }
        out
    }
}

/// Writes the values of a key, in order, into a reused buffer.
pub(crate) struct KeyWriter<'b>(pub(crate) &'b mut Vec<u8>);

impl KeyWriter<'_> {
    pub(crate) fn null(&mut self) {
        self.0.push(NULL);
    }

    /// A scalar as [`KeyValue::from_scalar`] keys it: integral floats as
    /// integers.
    pub(crate) fn scalar(&mut self, s: Scalar<'_>) {
        let out = &mut *self.0;
        match s {
            Scalar::Bool(b) => out.extend_from_slice(&[BOOL, u8::from(b)]),
            Scalar::Int(i) => int(out, i),
            Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => int(out, f as i64),
            Scalar::Float(f) => {
                let bits = FloatKey(f).canonical_bits();
                let ordered = if bits & 1 << 63 != 0 {
                    !bits
                } else {
                    bits ^ 1 << 63
                };
                out.push(FLOAT);
                out.extend_from_slice(&ordered.to_be_bytes());
            }
            Scalar::Str(s) => {
                out.push(STR);
                let mut rest = s.as_bytes();
                while let Some(z) = memchr::memchr(0, rest) {
                    out.extend_from_slice(&rest[..z]);
                    out.extend_from_slice(&[0, 0xFF]);
                    rest = &rest[z + 1..];
                }
                out.extend_from_slice(rest);
                out.extend_from_slice(&[0, 1]);
            }
        }
    }
}

fn int(out: &mut Vec<u8>, i: i64) {
    out.push(INT);
    out.extend_from_slice(&((i as u64) ^ 1 << 63).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key_of(values: &[Scalar<'_>]) -> Key {
        let mut buf = Vec::new();
        for s in values {
            KeyWriter(&mut buf).scalar(*s);
        }
        Key::from_bytes(&buf)
    }

    fn scalar() -> impl Strategy<Value = (u8, bool, i64, f64, String)> {
        (
            0u8..4,
            any::<bool>(),
            prop_oneof![any::<i64>(), -3i64..3],
            prop_oneof![any::<f64>(), Just(0.0), Just(-0.0), Just(1.5), Just(-1.5)],
            prop_oneof!["[a\\x00b]{0,4}", ".{0,6}"],
        )
    }

    fn as_scalar(v: &(u8, bool, i64, f64, String)) -> Scalar<'_> {
        match v.0 {
            0 => Scalar::Bool(v.1),
            1 => Scalar::Int(v.2),
            2 => Scalar::Float(v.3),
            _ => Scalar::Str(&v.4),
        }
    }

    proptest! {
        /// Keys decode to the values `KeyValue::from_scalar` makes, and sort
        /// and compare as those lists of values do.
        #[test]
        fn keys_order_and_equal_as_their_values(
            a in proptest::collection::vec(scalar(), 1..4),
            b in proptest::collection::vec(scalar(), 1..4),
        ) {
            let (sa, sb): (Vec<_>, Vec<_>) =
                (a.iter().map(as_scalar).collect(), b.iter().map(as_scalar).collect());
            let (ka, kb) = (key_of(&sa), key_of(&sb));
            let va: Vec<KeyValue> = sa.iter().map(|s| KeyValue::from_scalar(*s)).collect();
            let vb: Vec<KeyValue> = sb.iter().map(|s| KeyValue::from_scalar(*s)).collect();
            prop_assert_eq!(ka.values(), va.clone());
            prop_assert_eq!(ka.cmp(&kb), va.cmp(&vb));
            prop_assert_eq!(ka == kb, va == vb);
        }
    }

    #[test]
    fn null_and_the_edges_of_each_type_decode() {
        let mut buf = Vec::new();
        let mut w = KeyWriter(&mut buf);
        w.null();
        w.scalar(Scalar::Int(i64::MIN));
        w.scalar(Scalar::Float(f64::NEG_INFINITY));
        w.scalar(Scalar::Str("a\0"));
        w.scalar(Scalar::Str(""));
        let key = Key::from_bytes(&buf);
        assert_eq!(
            key.values(),
            vec![
                KeyValue::Null,
                KeyValue::Int(i64::MIN),
                KeyValue::Float(FloatKey(f64::NEG_INFINITY)),
                KeyValue::Str("a\0".into()),
                KeyValue::Str(String::new()),
            ]
        );
        // Null sorts first, as the enum's first variant.
        assert!(key_of(&[Scalar::Bool(false)]) > Key::from_bytes(&[NULL]));
    }
}
