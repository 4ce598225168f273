//! Offset maps for queries stored in strings with escapes.
//!
//! A query in a TOML basic string (`"…"`, `"""…"""`) or a JSON string is not
//! a verbatim slice of the file: `\n`, `\"`, `\u00e9` and TOML's
//! line-ending backslash change lengths. These decoders re-read the raw
//! string body, producing the decoded text and an anchor after each escape,
//! so a byte offset in the query maps to the exact file offset. The caller
//! checks that the decoded text equals what the real TOML/JSON parser
//! produced and otherwise falls back to pointing at the start of the value.

use crate::rule::QueryMap;

/// Which escape rules the raw string body follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// TOML basic string; `multiline` enables the line-ending backslash.
    Toml { multiline: bool },
    /// JSON string (`\uXXXX` with surrogate pairs, `\/`).
    Json,
}

/// Decodes `raw` (the string body without its delimiters), which starts at
/// byte `base` of the file. Returns the decoded text and the offset map, or
/// `None` on an escape this decoder does not understand.
pub(crate) fn decode(raw: &str, base: usize, dialect: Dialect) -> Option<(String, QueryMap)> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut anchors = vec![(0usize, base)];
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            // Copy the run up to the next backslash verbatim.
            let next = memchr_backslash(&bytes[i..]).map_or(bytes.len(), |n| i + n);
            out.push_str(&raw[i..next]);
            i = next;
            continue;
        }
        let esc = *bytes.get(i + 1)?;
        let consumed = match esc {
            b'b' => push(&mut out, '\u{8}', 2),
            b't' => push(&mut out, '\t', 2),
            b'n' => push(&mut out, '\n', 2),
            b'f' => push(&mut out, '\u{c}', 2),
            b'r' => push(&mut out, '\r', 2),
            b'"' => push(&mut out, '"', 2),
            b'\\' => push(&mut out, '\\', 2),
            b'/' if dialect == Dialect::Json => push(&mut out, '/', 2),
            b'e' if matches!(dialect, Dialect::Toml { .. }) => push(&mut out, '\u{1b}', 2),
            b'u' => {
                let (c, used) = match dialect {
                    Dialect::Json => json_unicode(raw, i)?,
                    Dialect::Toml { .. } => (hex_char(raw.get(i + 2..i + 6)?)?, 6),
                };
                push(&mut out, c, used)
            }
            b'U' if matches!(dialect, Dialect::Toml { .. }) => {
                push(&mut out, hex_char(raw.get(i + 2..i + 10)?)?, 10)
            }
            b' ' | b'\t' | b'\r' | b'\n' if dialect == (Dialect::Toml { multiline: true }) => {
                // Line-ending backslash: the backslash, trailing blanks, the
                // newline and all whitespace up to the next visible
                // character vanish.
                let mut j = i + 1;
                while j < bytes.len() && matches!(bytes[j], b' ' | b'\t') {
                    j += 1;
                }
                if !(bytes.get(j) == Some(&b'\n')
                    || (bytes.get(j) == Some(&b'\r') && bytes.get(j + 1) == Some(&b'\n')))
                {
                    return None;
                }
                while j < bytes.len() && matches!(bytes[j], b' ' | b'\t' | b'\r' | b'\n') {
                    j += 1;
                }
                j - i
            }
            _ => return None,
        };
        i += consumed;
        anchors.push((out.len(), base + i));
    }
    Some((out, QueryMap::from_anchors(anchors)))
}

fn push(out: &mut String, c: char, consumed: usize) -> usize {
    out.push(c);
    consumed
}

fn memchr_backslash(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\\')
}

fn hex_char(hex: &str) -> Option<char> {
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    char::from_u32(u32::from_str_radix(hex, 16).ok()?)
}

/// A JSON `\uXXXX` escape at `raw[i..]`, joining a UTF-16 surrogate pair.
fn json_unicode(raw: &str, i: usize) -> Option<(char, usize)> {
    let hi = u32::from_str_radix(raw.get(i + 2..i + 6)?, 16).ok()?;
    if (0xD800..0xDC00).contains(&hi) {
        if raw.get(i + 6..i + 8)? != "\\u" {
            return None;
        }
        let lo = u32::from_str_radix(raw.get(i + 8..i + 12)?, 16).ok()?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        let c = char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?;
        Some((c, 12))
    } else {
        Some((char::from_u32(hi)?, 6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_keep_offsets_exact() {
        // raw body of "a\"b\nc\u00e9d\ud83d\ude00e" at file offset 100
        let raw = r#"a\"b\nc\u00e9d\ud83d\ude00e"#;
        let (text, map) = decode(raw, 100, Dialect::Json).unwrap();
        assert_eq!(text, "a\"b\ncéd😀e");
        assert_eq!(map.to_file(0), Some(100)); // a
        assert_eq!(map.to_file(2), Some(103)); // b after \"
        assert_eq!(map.to_file(4), Some(106)); // c after \n
        let d = text.find('d').unwrap();
        assert_eq!(map.to_file(d), Some(100 + raw.find('d').unwrap()));
        let e = text.find('e').unwrap();
        assert_eq!(map.to_file(e), Some(100 + raw.rfind('e').unwrap()));
    }

    #[test]
    fn toml_line_ending_backslash_is_removed() {
        let raw = "ab \\\n    cd\\tx";
        let (text, map) = decode(raw, 10, Dialect::Toml { multiline: true }).unwrap();
        assert_eq!(text, "ab cd\tx");
        assert_eq!(map.to_file(3), Some(10 + raw.find("cd").unwrap()));
        assert_eq!(map.to_file(6), Some(10 + raw.len() - 1));
        // Not allowed in single-line strings.
        assert!(decode(raw, 10, Dialect::Toml { multiline: false }).is_none());
    }

    #[test]
    fn unknown_escape_gives_up() {
        assert!(decode(r"a\qb", 0, Dialect::Json).is_none());
        assert!(decode(r"a\u12", 0, Dialect::Json).is_none());
    }
}
