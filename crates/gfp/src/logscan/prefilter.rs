//! The byte-level prefilter: which lines, and which places in a line, are
//! worth reading.

/// The byte strings that make a line worth scanning: every line with a
/// finding, and every version banner, contains one of them, and the
/// scanner's own byte filter tests exactly these. A caller that searches a
/// large input with a faster multi-pattern engine may skip all other lines.
pub const TRIGGERS: &[&str] = &[
    "gfp",
    "GFP",
    "mode:0x",
    "mask ",
    "mask=",
    "flags=",
    "offline node",
    "Tainted: ",
    "Not tainted ",
    "Linux version ",
];

pub(super) const K_GFP: u32 = 1; // "gfp" or "GFP"
pub(super) const K_MODE: u32 = 2; // "mode:"
pub(super) const K_MASK: u32 = 4; // "mask " or "mask="
pub(super) const K_FLAGS: u32 = 8; // "flags="
pub(super) const K_OFFLINE: u32 = 16; // "offline node"
pub(super) const K_BANNER: u32 = 32; // "Linux version ", "Tainted: ", "Not tainted "
pub(super) const K_GFP_LC: u32 = 64; // "gfp" in lower case

/// What [`prefilter`] found: the trigger tokens, and where the first
/// `gfp`, `mode:`, `mask` and `flags=` tokens start (so that the parsers
/// skip the rest of the line).
pub(super) struct Pre {
    pub(super) keys: u32,
    pub(super) first: [usize; 4],
}

impl Pre {
    /// No trigger token.
    pub(super) const NONE: Pre = Pre {
        keys: 0,
        first: [0; 4],
    };
}

/// The index in [`Pre::first`] of a key's first position, and the offset
/// from the anchor pair to the token's start.
pub(super) fn first_slot(key: u32) -> Option<(usize, usize)> {
    match key {
        K_GFP_LC => Some((0, 0)),
        K_MODE => Some((1, 4)),
        K_MASK => Some((2, 2)),
        K_FLAGS => Some((3, 0)),
        _ => None,
    }
}

#[inline]
pub(super) fn at(b: &[u8], i: usize, pat: &[u8]) -> bool {
    b.get(i..i.saturating_add(pat.len())) == Some(pat)
}

#[inline]
pub(super) fn before(b: &[u8], i: usize, pat: &[u8]) -> bool {
    i >= pat.len() && i <= b.len() && &b[i - pat.len()..i] == pat
}

/// For each of the 16 positions of a chunk (plus two bytes of look-ahead),
/// 1 in its byte lane when a trigger token may start there: `gf` (any
/// case), `:0x`, `sk`, `fl`, `Ta`, `No`, `Li`. Written without branches so
/// that the compiler turns it into vector compares.
#[inline(always)]
pub(super) fn chunk_lanes(c: &[u8; 18]) -> u128 {
    let mut lanes = [0u8; 16];
    for j in 0..16 {
        let (a, n, m) = (c[j], c[j + 1], c[j + 2]);
        let hit = ((a | 0x20) == b'g') & ((n | 0x20) == b'f')
            | (a == b':') & (n == b'0') & (m == b'x')
            | (a == b's') & (n == b'k')
            | (a == b'f') & (n == b'l')
            | (a == b'T') & (n == b'a')
            | (a == b'N') & (n == b'o')
            | (a == b'L') & (n == b'i');
        lanes[j] = u8::from(hit);
    }
    u128::from_le_bytes(lanes)
}

/// One pass over the line: which trigger tokens it contains.
#[inline]
pub(super) fn prefilter(b: &[u8]) -> Pre {
    prefilter_from(b, 0)
}

/// The trigger lanes of the 16 bytes at `i` (zero-padded past the end).
#[inline(always)]
pub(super) fn lanes_at(b: &[u8], i: usize) -> u128 {
    match b.get(i..i + 18).and_then(|c| <&[u8; 18]>::try_from(c).ok()) {
        Some(c) => chunk_lanes(c),
        None => {
            let mut buf = [0u8; 18];
            let tail = b.get(i..).unwrap_or(&[]);
            let r = tail.len().min(18);
            buf[..r].copy_from_slice(&tail[..r]);
            chunk_lanes(&buf)
        }
    }
}

/// [`prefilter`] for a line known to have no trigger token before `from`.
#[inline]
pub(super) fn prefilter_from(b: &[u8], from: usize) -> Pre {
    let mut keys = 0u32;
    let mut first = [usize::MAX; 4];
    let n = b.len();
    let mut i = from;
    while i < n {
        let mut lanes = lanes_at(b, i);
        while lanes != 0 {
            let t = lanes.trailing_zeros();
            lanes &= !(0xffu128 << (t & !7));
            let j = i + (t / 8) as usize;
            let k = pair_hit(b, j);
            let mut new = k & !keys;
            while new != 0 {
                let bit = new & new.wrapping_neg();
                new &= !bit;
                if let Some((slot, back)) = first_slot(bit) {
                    first[slot] = j.saturating_sub(back);
                }
            }
            keys |= k;
        }
        i += 16;
    }
    Pre { keys, first }
}

/// The position of the first verified trigger token in `b` at or after
/// `from` (the same test as [`prefilter`], over a whole buffer).
pub(super) fn next_trigger(b: &[u8], from: usize) -> Option<usize> {
    let n = b.len();
    let mut i = from;
    while i < n {
        let mut lanes = lanes_at(b, i);
        while lanes != 0 {
            let t = lanes.trailing_zeros();
            lanes &= !(0xffu128 << (t & !7));
            let j = i + (t / 8) as usize;
            if pair_hit(b, j) != 0 {
                return Some(j);
            }
        }
        i += 16;
    }
    None
}

/// The position of the first `\n` in `b`, testing 16 bytes at a time.
pub(super) fn first_newline(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    for block in b.chunks_exact(16) {
        if block.iter().fold(false, |a, &c| a | (c == b'\n')) {
            break;
        }
        i += 16;
    }
    b[i..].iter().position(|&c| c == b'\n').map(|k| i + k)
}

/// The position of the last `\n` in `b`, testing 16 bytes at a time.
pub(super) fn last_newline(b: &[u8]) -> Option<usize> {
    let mut end = b.len();
    for block in b.rchunks_exact(16) {
        if block.iter().fold(false, |a, &c| a | (c == b'\n')) {
            break;
        }
        end -= 16;
    }
    b[..end].iter().rposition(|&c| c == b'\n')
}

/// The number of `\n` in `b` (a loop the compiler vectorizes).
pub(super) fn count_newlines(b: &[u8]) -> usize {
    let mut blocks = b.chunks_exact(64);
    let mut n = 0;
    for block in &mut blocks {
        // At most 64 per block: the sum fits a byte, which vectorizes well.
        n += usize::from(block.iter().fold(0u8, |a, &c| a + u8::from(c == b'\n')));
    }
    n + blocks.remainder().iter().filter(|&&c| c == b'\n').count()
}

/// The first occurrence of the ASCII `needle` in `s` at or after `from`
/// (a character boundary). Skips to the needle's first byte with the
/// standard library's `memchr`, which beats a general substring search on
/// short lines.
#[inline]
pub(super) fn find_from(s: &str, from: usize, needle: &[u8]) -> Option<usize> {
    let (&head, rest) = needle.split_first()?;
    let b = s.as_bytes();
    let mut i = from;
    loop {
        let k = s.get(i..)?.find(char::from(head))?;
        i += k;
        if b.get(i + 1..i + needle.len())? == rest {
            return Some(i);
        }
        i += 1;
    }
}

/// Every occurrence of the ASCII `needle` in `s` from `from` on
/// (overlapping ones included), in order.
pub(super) fn occurrences<'b>(
    s: &'b str,
    from: usize,
    needle: &'b [u8],
) -> impl Iterator<Item = usize> + 'b {
    let mut next = from;
    core::iter::from_fn(move || {
        let p = find_from(s, next, needle)?;
        next = p + 1;
        Some(p)
    })
}

/// The trigger token starting at `j`, checked in full.
#[inline]
pub(super) fn pair_hit(b: &[u8], j: usize) -> u32 {
    let a = b.get(j).copied().unwrap_or(0);
    let n = b.get(j + 1).copied().unwrap_or(0);
    let m = b.get(j + 2).copied().unwrap_or(0);
    match (a, n) {
        (b'g', b'f') if m == b'p' => K_GFP | K_GFP_LC,
        (b'G', b'F') if m == b'P' => K_GFP,
        (b':', b'0') if m == b'x' && before(b, j, b"mode") => K_MODE,
        (b's', b'k') if (m == b' ' || m == b'=') && before(b, j, b"ma") => K_MASK,
        (b'f', b'l') => {
            let mut k = 0;
            if at(b, j, b"flags=") {
                k |= K_FLAGS;
            }
            if j >= 2 && at(b, j - 2, b"offline node") {
                k |= K_OFFLINE;
            }
            k
        }
        (b'T', b'a') if at(b, j, b"Tainted: ") => K_BANNER,
        (b'N', b'o') if at(b, j, b"Not tainted ") => K_BANNER,
        (b'L', b'i') if at(b, j, b"Linux version ") => K_BANNER,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------
