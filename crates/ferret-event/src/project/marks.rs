//! Where a record's strings and structure lie, one bit per byte, for the
//! skimming reader ([`super::skim`]).
//!
//! One pass over the record, 32 bytes at a time (16 without AVX2), finds
//! its quotes and backslashes, and whether it is ASCII; a second pass over
//! the backslashes alone (most records have none) checks every escape and
//! drops the quotes they escape. What is left are the quotes that open and
//! close strings: the reader ends a string at the next one with a bit scan
//! instead of a pass over its bytes.
//!
//! Marks are only made for records the bit-wise reading can judge exactly:
//! none for a record holding a control byte (JSON strings may not hold one
//! raw, and between tokens only a control byte could be `\t`, `\n`, `\r`),
//! an escape JSON does not define or a `\u` escape of a surrogate. The
//! byte-wise reader handles those (and gives up on them where serde_json
//! must judge).

/// The marks of one record (see the module documentation).
#[derive(Default)]
pub(super) struct Marks {
    /// Quotes that open or close a string (not escaped).
    quotes: Vec<u64>,
    backslashes: Vec<u64>,
    any_backslash: bool,
    /// Every byte is below 0x80.
    ascii: bool,
}

impl Marks {
    /// Marks `b`; false if the record cannot be read by its marks (see the
    /// module documentation).
    pub(super) fn mark(&mut self, b: &[u8]) -> bool {
        // One word per 64 bytes, and one for the rest (padded with spaces).
        let words = b.len() / 64 + 1;
        self.quotes.clear();
        self.quotes.resize(words, 0);
        self.backslashes.clear();
        self.backslashes.resize(words, 0);
        let summary = mark_blocks(b, &mut self.quotes, &mut self.backslashes);
        self.ascii = summary.high == 0;
        if summary.controls != 0 {
            return false;
        }
        self.any_backslash = summary.backslashes != 0;
        if self.any_backslash && !self.unescape_quotes(b) {
            return false;
        }
        true
    }

    /// Checks every escape and clears the quote bits of escaped quotes;
    /// false for an escape JSON does not define or a surrogate `\u` escape.
    fn unescape_quotes(&mut self, b: &[u8]) -> bool {
        // Where the next byte that is not escaped may start.
        let mut free = 0;
        for w in 0..self.backslashes.len() {
            let mut bits = self.backslashes[w];
            while bits != 0 {
                let at = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if at < free {
                    // Escaped by the backslash before it.
                    continue;
                }
                let escaped = at + 1;
                free = escaped + 1;
                match b.get(escaped) {
                    Some(b'"') => self.quotes[escaped / 64] &= !(1u64 << (escaped % 64)),
                    Some(b'u') => {
                        if unicode_escape(b, escaped + 1).is_none() {
                            return false;
                        }
                        free = escaped + 5;
                    }
                    Some(&c) if short_escape(c).is_some() => {}
                    _ => return false,
                }
            }
        }
        true
    }

    /// Whether the record last marked is ASCII (so UTF-8), usable or not.
    #[inline]
    pub(super) fn is_ascii(&self) -> bool {
        self.ascii
    }

    /// The first string-delimiting quote at or after `from`.
    #[inline]
    pub(super) fn next_quote(&self, from: usize) -> Option<usize> {
        next_bit(&self.quotes, from)
    }

    /// Whether a backslash lies in `from..to`.
    #[inline]
    pub(super) fn backslash_in(&self, from: usize, to: usize) -> bool {
        self.any_backslash && from < to && any_bit(&self.backslashes, from, to)
    }
}

/// The first set bit at or after `from`.
#[inline]
fn next_bit(words: &[u64], from: usize) -> Option<usize> {
    let mut word = from / 64;
    let mut bits = *words.get(word)? & (!0u64 << (from % 64));
    while bits == 0 {
        word += 1;
        bits = *words.get(word)?;
    }
    Some(word * 64 + bits.trailing_zeros() as usize)
}

/// Whether a bit is set in `from..to` (`from < to`).
fn any_bit(words: &[u64], from: usize, to: usize) -> bool {
    let (first, last) = (from / 64, (to - 1) / 64);
    (first..=last).any(|w| {
        let mut bits = words[w];
        if w == first {
            bits &= !0u64 << (from % 64);
        }
        if w == last {
            bits &= !0u64 >> (63 - (to - 1) % 64);
        }
        bits != 0
    })
}

/// One block's bits, or (from [`mark_blocks`]) every block's ored.
#[derive(Default)]
struct BlockMarks {
    quotes: u64,
    backslashes: u64,
    /// Non-zero if the block holds a control byte.
    controls: u64,
    /// Non-zero if the block holds a byte of 0x80 or above.
    high: u64,
}

/// Writes the quote and backslash bits of `b`'s blocks into `quotes` and
/// `backslashes` (one word per block, the last one padded with spaces) and
/// returns all blocks' bits ored.
#[inline]
fn mark_blocks(b: &[u8], quotes: &mut [u64], backslashes: &mut [u64]) -> BlockMarks {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2, checked just above.
            return unsafe { mark_blocks_avx2(b, quotes, backslashes) };
        }
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { mark_blocks_sse2(b, quotes, backslashes) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // Elsewhere, a control byte for every record: marks are never used
        // and the byte-wise reader reads every record. Whether it is ASCII
        // must still be true: the reader trusts it instead of a UTF-8 check.
        let _ = (quotes, backslashes);
        BlockMarks {
            controls: 1,
            high: u64::from(!b.is_ascii()),
            ..BlockMarks::default()
        }
    }
}

/// The loop of [`mark_blocks`] around one block's marking, compiled into
/// each caller with its target features.
#[inline(always)]
fn each_block(
    b: &[u8],
    quotes: &mut [u64],
    backslashes: &mut [u64],
    block_marks: impl Fn(&[u8; 64]) -> BlockMarks,
) -> BlockMarks {
    let mut all = BlockMarks::default();
    let mut put = |w: usize, m: BlockMarks| {
        quotes[w] = m.quotes;
        backslashes[w] = m.backslashes;
        all.controls |= m.controls;
        all.backslashes |= m.backslashes;
        all.high |= m.high;
    };
    let mut blocks = b.chunks_exact(64);
    let mut w = 0;
    for block in &mut blocks {
        put(w, block_marks(block.try_into().expect("64 bytes")));
        w += 1;
    }
    let rest = blocks.remainder();
    let mut last = [b' '; 64];
    last[..rest.len()].copy_from_slice(rest);
    put(w, block_marks(&last));
    all
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mark_blocks_avx2(b: &[u8], quotes: &mut [u64], backslashes: &mut [u64]) -> BlockMarks {
    use std::arch::x86_64::{
        _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8,
        _mm256_set1_epi8,
    };
    let quote = _mm256_set1_epi8(b'"' as i8);
    let backslash = _mm256_set1_epi8(b'\\' as i8);
    let last_control = _mm256_set1_epi8(0x1f);
    each_block(b, quotes, backslashes, |block| {
        let mut m = BlockMarks::default();
        for (k, chunk) in block.chunks_exact(32).enumerate() {
            // SAFETY: `chunk` is 32 readable bytes; the load is unaligned.
            let v = unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) };
            let bits = |x| u64::from(_mm256_movemask_epi8(x) as u32) << (32 * k);
            m.quotes |= bits(_mm256_cmpeq_epi8(v, quote));
            m.backslashes |= bits(_mm256_cmpeq_epi8(v, backslash));
            // A byte is at most 0x1f where the unsigned minimum leaves it alone.
            m.controls |= bits(_mm256_cmpeq_epi8(_mm256_min_epu8(v, last_control), v));
            m.high |= bits(v);
        }
        m
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn mark_blocks_sse2(b: &[u8], quotes: &mut [u64], backslashes: &mut [u64]) -> BlockMarks {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let quote = _mm_set1_epi8(b'"' as i8);
    let backslash = _mm_set1_epi8(b'\\' as i8);
    let last_control = _mm_set1_epi8(0x1f);
    each_block(b, quotes, backslashes, |block| {
        let mut m = BlockMarks::default();
        for (k, chunk) in block.chunks_exact(16).enumerate() {
            // SAFETY: `chunk` is 16 readable bytes; the load is unaligned.
            let v = unsafe { _mm_loadu_si128(chunk.as_ptr().cast()) };
            let bits = |x| u64::from(_mm_movemask_epi8(x) as u16) << (16 * k);
            m.quotes |= bits(_mm_cmpeq_epi8(v, quote));
            m.backslashes |= bits(_mm_cmpeq_epi8(v, backslash));
            m.controls |= bits(_mm_cmpeq_epi8(_mm_min_epu8(v, last_control), v));
            m.high |= bits(v);
        }
        m
    })
}

/// The character a short escape (`\\n`, `\\"`, …) stands for, by the byte
/// after its backslash; `None` for a byte that starts no short escape.
pub(super) fn short_escape(c: u8) -> Option<char> {
    Some(match c {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        _ => return None,
    })
}

/// The character of the `\\u` escape whose four hex digits start at `at`;
/// `None` if they are not four hex digits, or for a surrogate (pair or
/// lone: serde_json's call).
pub(super) fn unicode_escape(b: &[u8], at: usize) -> Option<char> {
    let mut n = 0u32;
    for &h in b.get(at..at + 4)? {
        n = n * 16 + (h as char).to_digit(16)?;
    }
    char::from_u32(n)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Marks;

    /// Quotes no backslash escapes, found byte by byte.
    fn naive(b: &[u8]) -> Vec<usize> {
        let mut quotes = Vec::new();
        let mut escaped = false;
        for (i, &c) in b.iter().enumerate() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                b'\\' => escaped = true,
                b'"' => quotes.push(i),
                _ => {}
            }
        }
        quotes
    }

    fn bits(words: &[u64], len: usize) -> Vec<usize> {
        (0..len)
            .filter(|&i| words[i / 64] & (1 << (i % 64)) != 0)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// The marks agree with a byte-by-byte reading, across block edges,
        /// and are refused for control bytes and escapes JSON lacks.
        #[test]
        fn marks_agree_with_a_byte_scan(
            bytes in prop::collection::vec(
                prop::sample::select(vec![
                    b'a', b'a', b'a', b'"', b'"', b'\\', b'n', b'u', b'0', b'{', b'}', b'[', b']',
                    b':', b',', b' ', 0x1f, 0x80,
                ]),
                0..300,
            ),
            ranges in prop::collection::vec((0usize..310, 0usize..310), 8),
        ) {
            let mut marks = Marks::default();
            let usable = marks.mark(&bytes);
            let has_control = bytes.iter().any(|&b| b < 0x20);
            // Byte-wise: every backslash that is not itself escaped must
            // start a defined escape.
            let mut bad_escape = false;
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'\\' {
                    match bytes.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = bytes.get(i + 2..i + 6);
                            let n = hex.and_then(|h| u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
                            match n {
                                Some(n) if !(0xD800..=0xDFFF).contains(&n) => i += 6,
                                _ => { bad_escape = true; break; }
                            }
                        }
                        _ => { bad_escape = true; break; }
                    }
                } else {
                    i += 1;
                }
            }
            prop_assert_eq!(usable, !has_control && !bad_escape);
            prop_assert_eq!(marks.is_ascii(), bytes.is_ascii());
            // Without AVX2 the 16-byte pass marks alike.
            #[cfg(target_arch = "x86_64")]
            {
                let words = bytes.len() / 64 + 1;
                let (mut quotes, mut backslashes) = (vec![0; words], vec![0; words]);
                // SAFETY: SSE2 is part of the x86-64 baseline.
                let sse2 = unsafe { super::mark_blocks_sse2(&bytes, &mut quotes, &mut backslashes) };
                let (mut quotes2, mut backslashes2) = (vec![0; words], vec![0; words]);
                let chosen = super::mark_blocks(&bytes, &mut quotes2, &mut backslashes2);
                prop_assert_eq!((quotes, backslashes), (quotes2, backslashes2));
                prop_assert_eq!(
                    (sse2.controls != 0, sse2.backslashes != 0, sse2.high != 0),
                    (chosen.controls != 0, chosen.backslashes != 0, chosen.high != 0)
                );
            }
            if !usable {
                return Ok(());
            }
            let quotes = naive(&bytes);
            prop_assert_eq!(bits(&marks.quotes, bytes.len()), quotes.clone());
            for from in 0..=bytes.len() + 70 {
                prop_assert_eq!(marks.next_quote(from), quotes.iter().copied().find(|&q| q >= from));
            }
            for (a, b) in ranges {
                let (from, to) = (a.min(bytes.len()), b.min(bytes.len()));
                let naive = from < to && bytes[from..to].contains(&b'\\');
                prop_assert_eq!(marks.backslash_in(from, to), naive, "{}..{}", from, to);
            }
        }
    }
}
