//! Byte scans over a whole file's text: counting line ends, walking its lines.
//!
//! They run on one core before (and between) the parallel reads of a file's pieces, so on a
//! national file (172 MB, 3.6 M lines) each must run at memory speed: the crates of Medistock
//! keep overflow checks in release, and `iter().filter(..).count()` then compiles to one checked
//! add per byte (about 0.1 s a pass); the counts here add in a wrapping accumulator that cannot
//! overflow within a block, which the compiler vectorises.

use std::ops::Range;

/// Bytes counted per block: a block's count fits a `u32` whatever its bytes.
const BLOCK: usize = 1 << 16;

/// How many times `byte` occurs in `bytes`.
pub(crate) fn count_byte(bytes: &[u8], byte: u8) -> usize {
    bytes
        .chunks(BLOCK)
        .map(|block| {
            block
                .iter()
                .fold(0u32, |n, b| n.wrapping_add(u32::from(*b == byte))) as usize
        })
        .sum()
}

/// The byte ranges of the lines of `bytes` as `<[u8]>::split` on `\n` gives them (the last
/// one, after the last line end, included even when empty), found with `memchr` instead of a
/// byte-by-byte test. A `\n` is ASCII: each range starts and ends on a character boundary.
pub(crate) fn line_ranges(bytes: &[u8]) -> impl Iterator<Item = Range<usize>> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', bytes)
        .chain(std::iter::once(bytes.len()))
        .map(move |end| {
            let line = start..end;
            start = end + 1;
            line
        })
}

/// The lines of `bytes`, as [`line_ranges`] finds them.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    line_ranges(bytes).map(|range| &bytes[range])
}

/// The lines of `text`, as `str::split('\n')` gives them.
pub(crate) fn text_lines(text: &str) -> impl Iterator<Item = &str> {
    line_ranges(text.as_bytes()).map(|range| text.get(range).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_plain_count_across_block_boundaries() {
        // Line ends on both sides of a block's edge, and a text longer than several blocks.
        let mut text = vec![b'a'; 3 * BLOCK + 17];
        for i in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 3 * BLOCK + 16] {
            text[i] = b'\n';
        }
        let plain = text.iter().filter(|b| **b == b'\n').count();
        assert_eq!(count_byte(&text, b'\n'), plain);
        assert_eq!(plain, 7);
        assert_eq!(count_byte(&text, b'a'), text.len() - 7);
        assert_eq!(count_byte(&[], b'\n'), 0);
        // A block made only of the byte counted: the largest count a block can hold.
        assert_eq!(count_byte(&vec![b'\n'; BLOCK], b'\n'), BLOCK);
    }

    #[test]
    fn lines_are_those_split_gives() {
        for text in [
            "",
            "\n",
            "\n\n",
            "a",
            "a\n",
            "a\nb",
            "\na\n\nb\n",
            "cip13;stock\r\n1;2\r\n\r\n",
            "é\nü;€\n",
        ] {
            let expected: Vec<&[u8]> = text.as_bytes().split(|b| *b == b'\n').collect();
            let got: Vec<&[u8]> = lines(text.as_bytes()).collect();
            assert_eq!(got, expected, "{text:?}");
            let expected: Vec<&str> = text.split('\n').collect();
            assert_eq!(text_lines(text).collect::<Vec<_>>(), expected, "{text:?}");
        }
    }
}
