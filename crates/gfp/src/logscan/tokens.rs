//! The tokens of a line: bare masks, version banners, the mask tokens of
//! each message family, and the per-line context that decodes them.

use super::*;

/// Longest line text (trimmed) that may be a bare mask: `0x` and 8 hex
/// digits, or 10 decimal digits, with room for a leading `0`.
pub(super) const MAX_BARE_LEN: usize = 12;

/// Whether a line without trigger tokens may be a bare mask (a cheap test
/// for readers that skip such lines: only these need scanning).
pub fn maybe_bare(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    !t.is_empty() && t.len() <= MAX_BARE_LEN && t[0].is_ascii_digit()
}

/// A line that holds nothing but a mask as `gfp decode MASK` takes a
/// number (`0xcc0`, `0XCC0`, `3264`), with blanks around it.
pub(super) fn bare_mask(line: &str) -> Option<Hit<'_>> {
    if !maybe_bare(line.as_bytes()) {
        return None;
    }
    let start = line.len() - line.trim_start().len();
    let t = line.trim();
    let v = crate::parse::parse_number(t).ok()?;
    Some(Hit {
        start,
        end: start + t.len(),
        family: Family::Bare,
        hex: Some(v),
        printed: None,
        perf: false,
        truncated: false,
        hint: Hint::None,
    })
}

/// A line that holds nothing but gfp names joined by `|`
/// (`GFP_KERNEL|__GFP_NOWARN`), with blanks around it.
pub(super) fn bare_names(line: &str) -> Option<Hit<'_>> {
    let start = line.len() - line.trim_start().len();
    let t = line.trim();
    let named = |p: &str| p.starts_with("GFP_") || p.starts_with("__GFP_");
    if !looks_like_gfp_names(t) || !t.split('|').all(|p| named(p) || is_hex_token(p)) {
        return None;
    }
    Some(Hit {
        start,
        end: start + t.len(),
        family: Family::Bare,
        hex: None,
        printed: Some(t),
        perf: false,
        truncated: false,
        hint: Hint::None,
    })
}

// ---------------------------------------------------------------------------
// Banners
// ---------------------------------------------------------------------------

pub(super) fn version_token(s: &str) -> Option<KernelVersion> {
    let tok = s.split(|c: char| c.is_ascii_whitespace()).next()?;
    if !tok.as_bytes().first()?.is_ascii_digit() {
        return None;
    }
    let v: KernelVersion = tok.parse().ok()?;
    if !(2..=9).contains(&v.major) || v.minor > 99 {
        return None;
    }
    Some(v)
}

/// The kernel release a banner line names, if it is one.
pub(super) fn parse_banner(line: &str) -> Option<KernelVersion> {
    if let Some(p) = line.find("Linux version ") {
        if let Some(v) = version_token(&line[p + 14..]) {
            return Some(v);
        }
    }
    if let Some(p) = line.find("Not tainted ") {
        if let Some(v) = version_token(line[p + 12..].trim_start()) {
            return Some(v);
        }
    }
    if let Some(p) = line.find("Tainted: ") {
        // Taint letters (`G        W  O     `), then the release.
        let mut rest = &line[p + 9..];
        loop {
            rest = rest.trim_start();
            let end = rest.find(' ').unwrap_or(rest.len());
            let tok = &rest[..end];
            if tok.is_empty() {
                return None;
            }
            if tok.bytes().all(|b| b.is_ascii_uppercase()) {
                rest = &rest[end..];
                continue;
            }
            return version_token(tok);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/// Which message a mask token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Family {
    AllocWarn,
    Oom,
    Slab,
    PageOwner,
    DumpPage,
    UnexpectedGfp,
    FixedGfp,
    DmaPool,
    Offline,
    TestLockup,
    Trace,
    Synthetic,
    Xfs,
    Spl,
    Field,
    /// A line that holds nothing but a mask: a number (`0xcc0`, `3264`)
    /// or names (`GFP_KERNEL|__GFP_NOWARN`).
    Bare,
}

impl Family {
    pub(super) fn has_order(self) -> bool {
        !matches!(
            self,
            Family::UnexpectedGfp
                | Family::FixedGfp
                | Family::DmaPool
                | Family::Offline
                | Family::Spl
                | Family::Bare
        )
    }

    pub(super) fn notes(self, mask: u32, order: Option<i32>, notes: &mut Vec<String>) {
        match self {
            Family::AllocWarn | Family::Oom => {
                notes.push(
                    "the mask is printed after current_gfp_context() and gfp_allowed_mask: memalloc_nofs/noio_save() scopes clear __GFP_FS/__GFP_IO, early boot and suspend strip the reclaim, IO and FS bits".to_string(),
                );
                if self == Family::Oom {
                    if order == Some(-1) {
                        notes.push(
                            "order=-1: the OOM killer was invoked by hand (sysrq-f), not by a failing allocation".to_string(),
                        );
                    } else if mask == 0 {
                        notes.push(
                            "gfp_mask=0x0: pagefault_out_of_memory() (a page fault ended in VM_FAULT_OOM), not a real allocation".to_string(),
                        );
                    } else {
                        notes.push("for a memory cgroup OOM this is the gfp of the charge".to_string());
                    }
                }
            }
            Family::UnexpectedGfp => notes.push(
                "only the illegal bits (GFP_SLAB_BUG_MASK: __GFP_DMA32, __GFP_HIGHMEM and bits above __GFP_BITS_MASK); the allocation goes on with the fixed-up mask".to_string(),
            ),
            Family::FixedGfp => notes.push(
                "the caller's mask with the illegal bits removed; the caller needs fixing".to_string(),
            ),
            Family::DmaPool | Family::Offline | Family::TestLockup => {
                notes.push("the line prints names only; the mask is rebuilt from them".to_string())
            }
            Family::Synthetic => notes.push(
                "a gfp_t field of a synthetic event: `%u` decimal value with the %pGg names".to_string(),
            ),
            Family::Spl => notes.push(
                "OpenZFS/SPL: lflags is the gfp_t built by kmem_flags_convert() for this kernel".to_string(),
            ),
            _ => {}
        }
    }
}

/// The period a hex-only message format dates from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Hint {
    None = 0,
    /// `page allocation failure. order:`, `oomkilladj`: up to 2.6.38.
    Ancient = 1,
    /// Hex without `(%pGg)` in warn_alloc, OOM, SLUB, page_owner: up to 4.5.
    Pre46 = 2,
    /// XFS's hex-only deadlock message: up to about 6.7.
    Xfs = 3,
}

impl Hint {
    pub(super) fn range(self) -> Option<(KernelVersion, KernelVersion)> {
        let lo = KernelVersion::new(3, 0);
        match self {
            Hint::None => None,
            Hint::Ancient => Some((lo, lo)),
            Hint::Pre46 => Some((lo, KernelVersion::new(4, 5))),
            Hint::Xfs => Some((lo, KernelVersion::new(6, 7))),
        }
    }

    pub(super) fn describe(self) -> &'static str {
        match self {
            Hint::None => "",
            Hint::Ancient => "this message format is from 2.6 kernels",
            Hint::Pre46 => "a mask without names is from before 4.6 (no %pGg)",
            Hint::Xfs => "XFS printed this message, hex only, up to about 6.7",
        }
    }
}

pub(super) struct Hit<'a> {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) family: Family,
    pub(super) hex: Option<u32>,
    pub(super) printed: Option<&'a str>,
    /// `perf script` form (`sys:event`).
    pub(super) perf: bool,
    pub(super) truncated: bool,
    pub(super) hint: Hint,
}

impl Hit<'_> {
    pub(super) fn class(&self) -> RenderClass {
        match self.family {
            Family::Trace => RenderClass::Trace,
            Family::Synthetic => RenderClass::Synthetic,
            _ => RenderClass::Printk,
        }
    }

    pub(super) fn render_bits(&self) -> u8 {
        self.class() as u8 | u8::from(self.perf) << 2 | u8::from(self.truncated) << 3
    }
}

pub(super) fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'|'
}

/// `0x` and up to 16 hex digits at `i`: the value (if it fits 32 bits) and
/// the end.
pub(super) fn hex_at(b: &[u8], i: usize) -> Option<(u32, usize)> {
    if !at(b, i, b"0x") {
        return None;
    }
    let s = i + 2;
    let mut e = s;
    while e < b.len() && b[e].is_ascii_hexdigit() && e - s <= 16 {
        e += 1;
    }
    if e == s || e - s > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &b[s..e] {
        let d = (c as char).to_digit(16)? as u64;
        v = v.checked_mul(16)?.checked_add(d)?;
    }
    Some((u32::try_from(v).ok()?, e))
}

pub(super) fn dec_at(b: &[u8], i: usize) -> Option<(u32, usize)> {
    let mut e = i;
    while e < b.len() && b[e].is_ascii_digit() && e - i < 11 {
        e += 1;
    }
    if e == i || b.get(e).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &b[i..e] {
        v = v * 10 + u64::from(c - b'0');
    }
    Some((u32::try_from(v).ok()?, e))
}

/// A run of name characters at `i` (may be empty).
pub(super) fn names_end(b: &[u8], i: usize) -> usize {
    let mut e = i;
    while e < b.len() && is_name_byte(b[e]) && e - i <= MAX_NAMES_LEN {
        e += 1;
    }
    e
}

/// Whether `t` looks like the output of a gfp renderer: `|`-separated names
/// and hex numbers.
pub(super) fn valid_names(t: &str) -> bool {
    if t.len() > MAX_NAMES_LEN {
        return false;
    }
    if t.is_empty() {
        return true;
    }
    t.split('|').all(|p| {
        !p.is_empty()
            && (is_hex_token(p)
                || (p.as_bytes()[0].is_ascii_alphabetic() || p.as_bytes()[0] == b'_')
                    && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'))
    })
}

pub(super) fn looks_like_gfp_names(t: &str) -> bool {
    valid_names(t) && (t.contains("GFP") || t == "none")
}

pub(super) enum Paren<'a> {
    None,
    Names(&'a str, usize),
    Truncated,
}

/// `(names)` at `i`.
pub(super) fn paren_at<'a>(line: &'a str, i: usize) -> Paren<'a> {
    let b = line.as_bytes();
    if b.get(i) != Some(&b'(') {
        return Paren::None;
    }
    let s = i + 1;
    let e = names_end(b, s);
    match b.get(e) {
        Some(b')') => {
            let t = &line[s..e];
            if valid_names(t) {
                Paren::Names(t, e + 1)
            } else {
                Paren::None
            }
        }
        None => Paren::Truncated,
        Some(_) => Paren::None,
    }
}

/// `0x..(names)` (or `0x.. (names)` with `space`) at `i`.
pub(super) fn hex_names_at(
    line: &str,
    i: usize,
    space: bool,
) -> Option<(u32, Option<&str>, usize, bool)> {
    let b = line.as_bytes();
    let (v, e) = hex_at(b, i)?;
    let p = if space && b.get(e) == Some(&b' ') {
        e + 1
    } else {
        e
    };
    Some(match paren_at(line, p) {
        Paren::Names(t, end) => (v, Some(t), end, false),
        Paren::Truncated => (v, None, e, true),
        Paren::None => (v, None, e, false),
    })
}

/// A trace value at `i`: names, `none` or hex, up to the next space.
pub(super) fn trace_value_at(line: &str, i: usize) -> Option<(&str, usize)> {
    let b = line.as_bytes();
    let e = names_end(b, i);
    if e == i {
        return None;
    }
    if let Some(&c) = b.get(e) {
        if !(c == b' ' || c == b'\t' || c == b',' || c == b'\r' || c == b'\n') {
            return None;
        }
    }
    let t = &line[i..e];
    if !valid_names(t) {
        return None;
    }
    Some((t, e))
}

// ---------------------------------------------------------------------------
// Per-line context (computed once per line, only for lines with a token)
// ---------------------------------------------------------------------------

pub(super) struct TraceInfo<'a> {
    pub(super) event: Option<&'a str>,
    pub(super) perf: bool,
    /// The text before ` [cpu]`: `comm-pid` or `comm pid`.
    pub(super) task: &'a str,
}

/// Phrases tested once per line.
pub(super) const PHRASES: [&str; 14] = [
    "invoked oom-killer",
    "oomkilladj",
    "SLUB:",
    "SLAB:",
    "ALLOCATE PAGES",
    "XFS",
    "memory allocation deadlock",
    "allocation failure",
    "alloc failure",
    "page allocation stalls",
    "vmalloc",
    "page allocation failure. order",
    "allocated via order",
    "deadlock",
];
pub(super) const P_OOM: usize = 0;
pub(super) const P_OOMKILLADJ: usize = 1;
pub(super) const P_SLUB: usize = 2;
pub(super) const P_SLAB: usize = 3;
pub(super) const P_LOCKUP: usize = 4;
pub(super) const P_XFS: usize = 5;
pub(super) const P_DEADLOCK_MSG: usize = 6;
pub(super) const P_ALLOC_FAILURE: usize = 7;
pub(super) const P_ALLOC_FAILURE2: usize = 8;
pub(super) const P_STALLS: usize = 9;
pub(super) const P_VMALLOC: usize = 10;
pub(super) const P_ANCIENT: usize = 11;
pub(super) const P_OWNER: usize = 12;
pub(super) const P_DEADLOCK: usize = 13;

pub(super) struct LineCtx<'a> {
    pub(super) line: &'a str,
    pub(super) known: u32,
    pub(super) value: u32,
    pub(super) trace: Option<Option<TraceInfo<'a>>>,
    pub(super) order: Option<Option<i32>>,
}

/// Tracepoints that carry a gfp mask, with their message names.
pub(super) const EVENTS: &[(&str, &str)] = &[
    ("kmalloc", "tracepoint kmalloc"),
    ("kmalloc_node", "tracepoint kmalloc_node"),
    ("kmem_cache_alloc", "tracepoint kmem_cache_alloc"),
    ("kmem_cache_alloc_node", "tracepoint kmem_cache_alloc_node"),
    ("mm_page_alloc", "tracepoint mm_page_alloc"),
    (
        "mm_vmscan_wakeup_kswapd",
        "tracepoint mm_vmscan_wakeup_kswapd",
    ),
    (
        "mm_vmscan_node_reclaim_begin",
        "tracepoint mm_vmscan_node_reclaim_begin",
    ),
    (
        "mm_vmscan_direct_reclaim_begin",
        "tracepoint mm_vmscan_direct_reclaim_begin",
    ),
    (
        "mm_vmscan_memcg_reclaim_begin",
        "tracepoint mm_vmscan_memcg_reclaim_begin",
    ),
    (
        "mm_vmscan_memcg_softlimit_reclaim_begin",
        "tracepoint mm_vmscan_memcg_softlimit_reclaim_begin",
    ),
    ("mm_shrink_slab_start", "tracepoint mm_shrink_slab_start"),
    (
        "mm_compaction_try_to_compact_pages",
        "tracepoint mm_compaction_try_to_compact_pages",
    ),
    ("percpu_alloc_percpu", "tracepoint percpu_alloc_percpu"),
    ("dma_alloc", "tracepoint dma_alloc"),
    ("dma_alloc_pages", "tracepoint dma_alloc_pages"),
    ("dma_alloc_sgt", "tracepoint dma_alloc_sgt"),
    ("dma_alloc_sgt_err", "tracepoint dma_alloc_sgt_err"),
    ("alloc_extent_state", "tracepoint alloc_extent_state"),
];

/// Tracepoints of [`EVENTS`] without an `order` field.
pub(super) const EVENTS_WITHOUT_ORDER: &[&str] = &[
    "kmalloc",
    "kmalloc_node",
    "kmem_cache_alloc",
    "kmem_cache_alloc_node",
    "mm_shrink_slab_start",
    "percpu_alloc_percpu",
    "dma_alloc",
    "dma_alloc_pages",
    "dma_alloc_sgt",
    "dma_alloc_sgt_err",
    "alloc_extent_state",
];

impl<'a> LineCtx<'a> {
    pub(super) fn new(line: &'a str) -> Self {
        LineCtx {
            line,
            known: 0,
            value: 0,
            trace: None,
            order: None,
        }
    }

    /// Whether the line contains `PHRASES[i]` (searched once per line).
    pub(super) fn has(&mut self, i: usize) -> bool {
        let bit = 1u32 << i;
        if self.known & bit == 0 {
            self.known |= bit;
            if self.line.contains(PHRASES[i]) {
                self.value |= bit;
            }
        }
        self.value & bit != 0
    }

    pub(super) fn trace(&mut self) -> Option<&TraceInfo<'a>> {
        if self.trace.is_none() {
            self.trace = Some(find_trace(self.line));
        }
        self.trace.as_ref().and_then(Option::as_ref)
    }

    pub(super) fn event(&mut self) -> Option<&'a str> {
        self.trace().and_then(|t| t.event)
    }

    pub(super) fn is_perf(&mut self) -> bool {
        self.trace().is_some_and(|t| t.perf)
    }

    pub(super) fn order(&mut self) -> Option<i32> {
        if self.order.is_none() {
            self.order = Some(find_order(self.line));
        }
        self.order.flatten()
    }

    pub(super) fn message(&mut self, hit: &Hit<'_>) -> Cow<'static, str> {
        let line = self.line;
        Cow::Borrowed(match hit.family {
            Family::AllocWarn => {
                if line.contains("page allocation stalls") {
                    "page allocation stall"
                } else if line.contains("page allocation failure") {
                    "page allocation failure"
                } else if line.contains("vmalloc") {
                    "vmalloc allocation failure"
                } else if line.contains("vmemmap alloc failure") {
                    "vmemmap allocation failure"
                } else {
                    "allocation warning"
                }
            }
            Family::Oom => "oom-killer",
            Family::Slab => {
                if line.contains("SLAB:") {
                    "slab"
                } else {
                    "slub"
                }
            }
            Family::PageOwner => "page_owner",
            Family::DumpPage => "dump_page owner",
            Family::UnexpectedGfp => "unexpected gfp",
            Family::FixedGfp => "unexpected gfp fixed up",
            Family::DmaPool => "dma atomic pool",
            Family::Offline => "allocation from offline node",
            Family::TestLockup => "test_lockup",
            Family::Xfs => "xfs allocation deadlock",
            Family::Spl => "spl allocation deadlock",
            Family::Field => "gfp field",
            Family::Bare => "bare mask",
            Family::Trace | Family::Synthetic => {
                let synth = hit.family == Family::Synthetic;
                let prefix = if synth {
                    "synthetic event"
                } else {
                    "tracepoint"
                };
                return match self.event() {
                    Some(ev) if !synth => match EVENTS.iter().find(|(n, _)| *n == ev) {
                        Some((_, m)) => Cow::Borrowed(m),
                        None => Cow::Owned(format!("{prefix} {ev}")),
                    },
                    Some(ev) => Cow::Owned(format!("{prefix} {ev}")),
                    None => Cow::Borrowed(prefix),
                };
            }
        })
    }

    pub(super) fn comm(&mut self, hit: &Hit<'_>) -> Option<&'a str> {
        let line = self.line;
        let c = match hit.family {
            Family::AllocWarn => [
                ": page allocation",
                ": vmalloc",
                ": vmemmap",
                ": warn_alloc",
            ]
            .iter()
            .filter_map(|m| line.find(m))
            .min()
            .and_then(|p| comm_before(line, p)),
            Family::Oom => line
                .find(" invoked oom-killer")
                .and_then(|p| comm_before(line, p)),
            Family::PageOwner | Family::DumpPage => comm_after_tgid(line),
            Family::Xfs => {
                let p = line.find("XFS: ")? + 5;
                let q = line.find(") possible memory allocation deadlock")?;
                let seg = line.get(p..q)?;
                seg.rfind('(').map(|k| &seg[..k])
            }
            Family::Trace | Family::Synthetic => {
                let task = self.trace()?.task.trim();
                task_comm(task)
            }
            _ => None,
        }?;
        let c = c.trim();
        if c.is_empty() {
            None
        } else {
            Some(c)
        }
    }
}

/// The message's comm: the text between the log prefix and `end`.
pub(super) fn comm_before(line: &str, end: usize) -> Option<&str> {
    let head = line.get(..end)?;
    let mut start = 0;
    if let Some(p) = head.rfind("] ") {
        start = p + 2;
    }
    if let Some(p) = head.rfind(": ") {
        start = start.max(p + 2);
    }
    head.get(start..)
}

pub(super) fn comm_after_tgid(line: &str) -> Option<&str> {
    let p = line.find("tgid ")? + 5;
    let b = line.as_bytes();
    let mut i = p;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if !at(b, i, b" (") {
        return None;
    }
    let s = i + 2;
    let rest = &line[s..];
    let e = rest.find("), ").or_else(|| rest.rfind(')'))?;
    Some(&rest[..e])
}

/// `comm-pid` (kernel, trace-cmd) or `comm pid` / `comm pid/tid` (perf).
pub(super) fn task_comm(task: &str) -> Option<&str> {
    let b = task.as_bytes();
    let mut i = b.len();
    while i > 0 && (b[i - 1].is_ascii_digit() || b[i - 1] == b'/') {
        i -= 1;
    }
    if i == b.len() || i == 0 {
        return Some(task);
    }
    match b[i - 1] {
        b'-' | b' ' => Some(task[..i - 1].trim()),
        _ => Some(task),
    }
}

/// The first `order:N`, `order=N` or `order N` in the line.
pub(super) fn find_order(line: &str) -> Option<i32> {
    let b = line.as_bytes();
    for p in occurrences(line, 0, b"order") {
        let mut i = p + 5;
        match b.get(i) {
            Some(b':' | b'=' | b' ') => i += 1,
            _ => continue,
        }
        let neg = b.get(i) == Some(&b'-');
        if neg {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() && i - s < 6 {
            i += 1;
        }
        if i == s {
            continue;
        }
        let mut v: i32 = 0;
        for &c in &b[s..i] {
            v = v * 10 + i32::from(c - b'0');
        }
        return Some(if neg { -v } else { v });
    }
    None
}

/// Finds `<timestamp>: <event>:` in a trace line.
pub(super) fn find_trace(line: &str) -> Option<TraceInfo<'_>> {
    let b = line.as_bytes();
    let mut from = 0;
    for _ in 0..16 {
        let Some(k) = find_from(line, from, b": ") else {
            break;
        };
        from = k + 2;
        // Timestamp: digits '.' digits, right before the colon.
        let mut j = k;
        while j > 0 && b[j - 1].is_ascii_digit() {
            j -= 1;
        }
        if j == k || j == 0 || b[j - 1] != b'.' {
            continue;
        }
        let frac = j;
        j -= 1;
        while j > 0 && b[j - 1].is_ascii_digit() {
            j -= 1;
        }
        if j + 1 == frac {
            continue;
        }
        if j > 0 && !(b[j - 1] == b' ' || b[j - 1] == b']') {
            continue;
        }
        let ts_start = j;
        // Event token.
        let mut s = k + 2;
        while s < b.len() && b[s] == b' ' {
            s += 1;
        }
        let mut e = s;
        while e < b.len() && b[e] != b' ' {
            e += 1;
        }
        let tok = &line[s..e];
        let (event, perf) = match tok.strip_suffix(':') {
            Some(t) if !t.is_empty() => match t.rfind(':') {
                Some(c) => (Some(&t[c + 1..]), true),
                None => (Some(t), false),
            },
            _ => (None, false),
        };
        let head = &line[..ts_start];
        let hb = head.as_bytes();
        let mut p = hb.len();
        while p >= 2 && !(hb[p - 2] == b' ' && hb[p - 1] == b'[') {
            p -= 1;
        }
        let task = if p >= 2 { &head[..p - 2] } else { head };
        return Some(TraceInfo { event, perf, task });
    }
    // No timestamp (custom perf fields): a known event name followed by ':'.
    for (name, _) in EVENTS {
        for (p, _) in line.match_indices(name) {
            let e = p + name.len();
            if b.get(e) != Some(&b':') {
                continue;
            }
            if p > 0 && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'_') {
                continue;
            }
            let perf = p > 0 && b[p - 1] == b':';
            return Some(TraceInfo {
                event: Some(&line[p..e]),
                perf,
                task: "",
            });
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Collecting the tokens of one line
// ---------------------------------------------------------------------------

/// Appends the mask tokens of `ctx`'s line to `hits`, family by family, as
/// the prefilter's keys in `pre` allow, up to [`MAX_FINDINGS_PER_LINE`].
pub(super) fn collect<'a>(ctx: &mut LineCtx<'a>, pre: &Pre, hits: &mut Vec<Hit<'a>>) {
    let keys = pre.keys;

    if keys & K_GFP != 0 {
        let from = if keys & K_GFP_LC != 0 {
            pre.first[0]
        } else {
            ctx.line.len()
        };
        gfp_tokens(ctx, from, hits);
        // Names-only sites; a line whose names were already read through a
        // `gfp...` token is none of them.
        if hits.is_empty() {
            names_only_tokens(ctx, hits);
        }
    }

    if keys & K_OFFLINE != 0 {
        offline_node_token(ctx.line, hits);
    }

    if keys & K_MODE != 0 {
        mode_tokens(ctx, pre.first[1], hits);
    }

    if keys & K_MASK != 0 {
        mask_tokens(ctx, pre.first[2], hits);
    }

    if keys & K_FLAGS != 0 {
        flags_tokens(ctx, pre.first[3], hits);
    }
}

/// Appends `h` unless the line already has [`MAX_FINDINGS_PER_LINE`] hits.
fn push_hit<'a>(hits: &mut Vec<Hit<'a>>, h: Hit<'a>) {
    if hits.len() < MAX_FINDINGS_PER_LINE {
        hits.push(h);
    }
}

/// A hit at `start..end` that is not perf's, not cut, and has no hint.
fn plain_hit(
    start: usize,
    end: usize,
    family: Family,
    hex: Option<u32>,
    printed: Option<&str>,
) -> Hit<'_> {
    Hit {
        start,
        end,
        family,
        hex,
        printed,
        perf: false,
        truncated: false,
        hint: Hint::None,
    }
}

/// A printed mask at `start..end`: its value `hex`, the names printed
/// after it (cut short when `truncated`), and what its form hints at.
fn mask_hit(
    start: usize,
    end: usize,
    family: Family,
    hex: u32,
    names: Option<&str>,
    truncated: bool,
    hint: Hint,
) -> Hit<'_> {
    Hit {
        truncated,
        hint,
        ..plain_hit(start, end, family, Some(hex), names)
    }
}

/// A tracepoint field's value `t` at `start..end`, in perf's form when the
/// line is perf's.
fn trace_hit<'a>(ctx: &mut LineCtx<'a>, start: usize, end: usize, t: &'a str) -> Hit<'a> {
    let perf = ctx.is_perf();
    Hit {
        perf,
        ..plain_hit(start, end, Family::Trace, None, Some(t))
    }
}

/// The `gfp...` tokens from `from` on: `gfp_mask=`, `gfp_mask 0x`,
/// `gfp_flags=`, `gfp=` and `gfp: 0x`.
fn gfp_tokens<'a>(ctx: &mut LineCtx<'a>, from: usize, hits: &mut Vec<Hit<'a>>) {
    let line = ctx.line;
    let b = line.as_bytes();
    for p in occurrences(line, from, b"gfp") {
        if hits.len() >= MAX_FINDINGS_PER_LINE {
            break;
        }
        if p > 0 && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'_') {
            // `lgfp=`, `xgfp_mask`: someone else's field.
            continue;
        }
        if at(b, p, b"gfp_mask=") {
            gfp_mask_field(ctx, p + 9, hits);
        } else if at(b, p, b"gfp_mask 0x") {
            if let Some((m, names, end, trunc)) = hex_names_at(line, p + 9, false) {
                let hint = if names.is_none() && !trunc {
                    Hint::Pre46
                } else {
                    Hint::None
                };
                push_hit(
                    hits,
                    mask_hit(p + 9, end, Family::DumpPage, m, names, trunc, hint),
                );
            }
        } else if at(b, p, b"gfp_flags=") || at(b, p, b"gfp_flags ") {
            let v = p + 10;
            if let Some((t, e)) = trace_value_at(line, v) {
                let h = trace_hit(ctx, v, e, t);
                push_hit(hits, h);
            }
        } else if at(b, p, b"gfp=") {
            gfp_field(ctx, p, hits);
        } else if at(b, p, b"gfp: 0x") {
            let v = p + 5;
            if let Some((m, names, end, trunc)) = hex_names_at(line, v, true) {
                let family = if before(b, p, b"Unexpected ") {
                    Family::UnexpectedGfp
                } else if before(b, p, b"up to ") {
                    Family::FixedGfp
                } else {
                    Family::Field
                };
                push_hit(hits, mask_hit(v, end, family, m, names, trunc, Hint::None));
            }
        }
    }
}

/// The value at `v` of a `gfp_mask=` field: the OOM killer's report, a
/// tracepoint's (hex from libtraceevent, names from compaction), or some
/// other message's field.
fn gfp_mask_field<'a>(ctx: &mut LineCtx<'a>, v: usize, hits: &mut Vec<Hit<'a>>) {
    let line = ctx.line;
    let oom = ctx.has(P_OOM);
    if let Some((m, names, end, trunc)) = hex_names_at(line, v, false) {
        if names.is_none() && !trunc && !oom && ctx.trace().is_some() {
            // libtraceevent's hex (6.10 to 6.13).
            if let Some((t, e)) = trace_value_at(line, v) {
                let h = trace_hit(ctx, v, e, t);
                push_hit(hits, h);
            }
            return;
        }
        let family = if oom { Family::Oom } else { Family::Field };
        let hint = if names.is_none() && !trunc && oom {
            if ctx.has(P_OOMKILLADJ) {
                Hint::Ancient
            } else {
                Hint::Pre46
            }
        } else {
            Hint::None
        };
        push_hit(hits, mask_hit(v, end, family, m, names, trunc, hint));
    } else if let Some((t, e)) = trace_value_at(line, v) {
        // Compaction tracepoint: names.
        let h = trace_hit(ctx, v, e, t);
        push_hit(hits, h);
    }
}

/// The value of the `gfp=` token at `p`: slab's report (hex), a synthetic
/// event's `gfp=3264 (GFP_KERNEL)`, or names (test_lockup, a tracepoint,
/// some other message's field).
fn gfp_field<'a>(ctx: &mut LineCtx<'a>, p: usize, hits: &mut Vec<Hit<'a>>) {
    let line = ctx.line;
    let b = line.as_bytes();
    let v = p + 4;
    if let Some((m, names, end, trunc)) = hex_names_at(line, v, false) {
        let slab = ctx.has(P_SLUB) || ctx.has(P_SLAB);
        let family = if slab { Family::Slab } else { Family::Field };
        let old = p > 0 && b[p - 1] == b'(';
        let hint = if names.is_none() && !trunc && slab && old {
            Hint::Pre46
        } else {
            Hint::None
        };
        push_hit(hits, mask_hit(v, end, family, m, names, trunc, hint));
    } else if let Some((n, e)) = dec_at(b, v) {
        // Synthetic event: `gfp=3264 (GFP_KERNEL)`.
        if b.get(e) == Some(&b' ') {
            if let Paren::Names(t, end) = paren_at(line, e + 1) {
                push_hit(hits, plain_hit(v, end, Family::Synthetic, Some(n), Some(t)));
            }
        }
    } else if let Some((t, e)) = trace_value_at(line, v) {
        if !looks_like_gfp_names(t) {
            return;
        }
        if ctx.has(P_LOCKUP) {
            push_hit(hits, plain_hit(v, e, Family::TestLockup, None, Some(t)));
        } else if ctx.trace().is_some() {
            let h = trace_hit(ctx, v, e, t);
            push_hit(hits, h);
        } else {
            push_hit(hits, plain_hit(v, e, Family::Field, None, Some(t)));
        }
    }
}

/// The sites that print names only, for a line whose `gfp...` tokens gave
/// none: the DMA atomic pool's size line, and synthetic events under any
/// field name.
fn names_only_tokens<'a>(ctx: &mut LineCtx<'a>, hits: &mut Vec<Hit<'a>>) {
    let line = ctx.line;
    let b = line.as_bytes();
    if let Some(d) = line.find("DMA: ") {
        let rest = &line[d..];
        if let Some(k) = rest.find(" KiB ") {
            let s = d + k + 5;
            let e = names_end(b, s);
            if at(b, e, b" pool") {
                let t = &line[s..e];
                if valid_names(t) {
                    push_hit(hits, plain_hit(s, e, Family::DmaPool, None, Some(t)));
                }
            }
        }
    }
    // Synthetic events under any field name: `name=%u (FLAGS)`.
    if line.contains(" (") && ctx.trace().is_some() {
        for p in occurrences(line, 0, b" (") {
            if hits.len() >= MAX_FINDINGS_PER_LINE {
                break;
            }
            let mut j = p;
            while j > 0 && b[j - 1].is_ascii_digit() {
                j -= 1;
            }
            if j == p || j == 0 || b[j - 1] != b'=' || before(b, j, b"gfp=") {
                continue;
            }
            if let Paren::Names(t, end) = paren_at(line, p + 1) {
                if !t.contains("GFP") {
                    continue;
                }
                if let Some((n, _)) = dec_at(b, j) {
                    push_hit(hits, plain_hit(j, end, Family::Synthetic, Some(n), Some(t)));
                }
            }
        }
    }
}

/// The mask before ` allocation from offline node`, names or hex.
fn offline_node_token<'a>(line: &'a str, hits: &mut Vec<Hit<'a>>) {
    let b = line.as_bytes();
    if let Some(q) = line.find(" allocation from offline node") {
        let mut s = q;
        while s > 0 && is_name_byte(b[s - 1]) && q - s <= MAX_NAMES_LEN {
            s -= 1;
        }
        let t = &line[s..q];
        if valid_names(t) {
            let hex = hex_token(t);
            let printed = if hex.is_some() { None } else { Some(t) };
            push_hit(hits, plain_hit(s, q, Family::Offline, hex, printed));
        }
    }
}

/// The `mode:` tokens from `from` on: allocation warnings and XFS's
/// allocation deadlock.
fn mode_tokens<'a>(ctx: &mut LineCtx<'a>, from: usize, hits: &mut Vec<Hit<'a>>) {
    let line = ctx.line;
    for p in occurrences(line, from, b"mode:") {
        if hits.len() >= MAX_FINDINGS_PER_LINE {
            break;
        }
        let v = p + 5;
        let Some((m, names, end, trunc)) = hex_names_at(line, v, false) else {
            continue;
        };
        let xfs = ctx.has(P_XFS) && ctx.has(P_DEADLOCK_MSG);
        let alloc = ctx.has(P_ALLOC_FAILURE)
            || ctx.has(P_ALLOC_FAILURE2)
            || ctx.has(P_STALLS)
            || ctx.has(P_VMALLOC);
        if !(xfs || alloc || names.is_some()) {
            continue;
        }
        let family = if xfs && !alloc {
            Family::Xfs
        } else {
            Family::AllocWarn
        };
        let hint = if names.is_some() || trunc {
            Hint::None
        } else if family == Family::Xfs {
            Hint::Xfs
        } else if ctx.has(P_ANCIENT) {
            Hint::Ancient
        } else {
            Hint::Pre46
        };
        push_hit(hits, mask_hit(v, end, family, m, names, trunc, hint));
    }
}

/// The `mask` tokens from `from` on: page_owner's `mask 0x`, and the
/// `mask=` field of the alloc_extent_state tracepoint.
fn mask_tokens<'a>(ctx: &mut LineCtx<'a>, from: usize, hits: &mut Vec<Hit<'a>>) {
    let line = ctx.line;
    let b = line.as_bytes();
    for p in occurrences(line, from, b"mask") {
        if hits.len() >= MAX_FINDINGS_PER_LINE {
            break;
        }
        if p > 0 && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'_') {
            continue;
        }
        if at(b, p, b"mask 0x") {
            if let Some((m, names, end, trunc)) = hex_names_at(line, p + 5, false) {
                let owner = ctx.has(P_OWNER);
                if !owner && names.is_none() {
                    continue;
                }
                let family = if owner {
                    Family::PageOwner
                } else {
                    Family::Field
                };
                let hint = if names.is_none() && !trunc {
                    Hint::Pre46
                } else {
                    Hint::None
                };
                push_hit(hits, mask_hit(p + 5, end, family, m, names, trunc, hint));
            }
        } else if at(b, p, b"mask=") && ctx.event() == Some("alloc_extent_state") {
            if let Some((t, e)) = trace_value_at(line, p + 5) {
                let h = trace_hit(ctx, p + 5, e, t);
                push_hit(hits, h);
            }
        }
    }
}

/// The `flags=` tokens from `from` on: SPL's `l flags=` in its deadlock
/// message, and the `flags=` field of the `dma_*` tracepoints.
fn flags_tokens<'a>(ctx: &mut LineCtx<'a>, from: usize, hits: &mut Vec<Hit<'a>>) {
    let line = ctx.line;
    let b = line.as_bytes();
    for p in occurrences(line, from, b"flags=") {
        if hits.len() >= MAX_FINDINGS_PER_LINE {
            break;
        }
        let v = p + 6;
        if before(b, p, b"gfp_") {
            continue;
        }
        if before(b, p, b"l") {
            if !before(b, p, b" l") {
                continue;
            }
            if let Some((m, e)) = hex_at(b, v) {
                if ctx.has(P_DEADLOCK) {
                    push_hit(hits, plain_hit(v, e, Family::Spl, Some(m), None));
                }
            }
            continue;
        }
        if p > 0 && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'_') {
            continue;
        }
        if ctx.event().is_some_and(|e| e.starts_with("dma_")) {
            if let Some((t, e)) = trace_value_at(line, v) {
                let h = trace_hit(ctx, v, e, t);
                push_hit(hits, h);
            }
        }
    }
}
