//! The kernel's three ways of turning a mask into text, byte for byte.
//!
//! * [`pgg`]: `%pGg` (`format_flags()` in `lib/vsprintf.c`), used by the
//!   allocation-failure warning, the OOM report, page_owner and slub.
//! * [`trace`]: the tracepoints' `show_gfp_flags()` as the kernel renders it
//!   (`trace_print_flags_seq()`), seen in `trace` and `trace_pipe`.
//! * [`libtraceevent`]: the same event as `trace-cmd report` and `perf script`
//!   print it, from the event's format file.
//!
//! All three walk a name table once, greedily: an entry matches when all of
//! its bits are still set, its name is printed and its bits are cleared. Bits
//! no entry covers are printed once at the end in hex.

use alloc::string::String;
use core::fmt::Write;

use crate::profile::{NamedMask, Profile};

/// Something that can serve as a name table: `(name, mask)` pairs in order.
pub trait NameTable {
    /// The entries, in the order the kernel tries them.
    fn entries(&self) -> impl Iterator<Item = (&str, u32)>;
}

impl NameTable for [NamedMask] {
    fn entries(&self) -> impl Iterator<Item = (&str, u32)> {
        self.iter().map(|e| (e.name.as_str(), e.mask))
    }
}

impl NameTable for [(&str, u32)] {
    fn entries(&self) -> impl Iterator<Item = (&str, u32)> {
        self.iter().map(|&(n, m)| (n, m))
    }
}

/// The kernel's greedy walk, shared by all renderers.
///
/// `skip_zero_masks` selects libtraceevent's behaviour (entries whose value is
/// not positive never match); the kernel instead lets a zero-mask entry match
/// whenever bits remain, which old trace tables relied on for `GFP_NOTRACK`.
fn walk<T: NameTable + ?Sized>(out: &mut String, mut flags: u32, table: &T, skip_zero_masks: bool) {
    let mut first = true;
    for (name, mask) in table.entries() {
        if flags == 0 && !skip_zero_masks {
            break;
        }
        if skip_zero_masks && mask == 0 {
            continue;
        }
        if flags & mask != mask {
            continue;
        }
        if !first {
            out.push('|');
        }
        first = false;
        out.push_str(name);
        flags &= !mask;
    }
    if flags != 0 {
        if !first {
            out.push('|');
        }
        // `%#lx`-style: lowercase, no padding.
        let _ = write!(out, "{flags:#x}");
    }
}

/// `%pGg` with an explicit table: the empty string for 0.
pub fn pgg_with<T: NameTable + ?Sized>(table: &T, mask: u32) -> String {
    let mut out = String::new();
    walk(&mut out, mask, table, false);
    out
}

/// `%pGg` as `profile`'s kernel prints it. Kernels before 4.6 had no `%pGg`;
/// for them the tracepoint table is used (their messages printed hex only).
pub fn pgg(profile: &Profile, mask: u32) -> String {
    match &profile.pgg_names {
        Some(t) => pgg_with(t.as_slice(), mask),
        None => pgg_with(profile.trace_names.as_slice(), mask),
    }
}

/// A tracepoint's `gfp_flags=` value as the kernel prints it (`trace_pipe`).
pub fn trace(profile: &Profile, mask: u32) -> String {
    if mask == 0 {
        return profile.trace_zero.clone();
    }
    let mut out = String::new();
    walk(&mut out, mask, profile.trace_names.as_slice(), false);
    out
}

/// A tracepoint's `gfp_flags=` value as `trace-cmd report` / `perf script`
/// print it. On kernels whose format files named unresolvable enum constants
/// (6.10 to 6.12.10, 6.13) those tools printed the raw value.
pub fn libtraceevent(profile: &Profile, mask: u32) -> String {
    if profile.trace_userspace_hex {
        let mut out = String::new();
        let _ = write!(out, "{mask:#x}");
        return out;
    }
    if mask == 0 {
        return profile.trace_zero.clone();
    }
    let mut out = String::new();
    walk(&mut out, mask, profile.trace_names.as_slice(), true);
    out
}

/// `%#x(%pGg)`, the form of the allocation-failure and OOM messages.
pub fn hex_and_pgg(profile: &Profile, mask: u32) -> String {
    let mut out = String::new();
    let _ = write!(out, "{mask:#x}({})", pgg(profile, mask));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &[(&str, u32)] = &[
        ("GFP_KERNEL", 0xcc0),
        ("__GFP_HIGH", 0x20),
        ("__GFP_NOWARN", 0x2000),
    ];

    #[test]
    fn greedy_walk_and_leftover() {
        assert_eq!(pgg_with(T, 0), "");
        assert_eq!(pgg_with(T, 0xcc0), "GFP_KERNEL");
        assert_eq!(pgg_with(T, 0x2cc0), "GFP_KERNEL|__GFP_NOWARN");
        assert_eq!(pgg_with(T, 0x1000cc0), "GFP_KERNEL|0x1000000");
        assert_eq!(pgg_with(T, 0x200), "0x200");
        assert_eq!(pgg_with(T, 0x8c0), "0x8c0");
    }

    #[test]
    fn zero_mask_entries_follow_each_renderer() {
        let t: &[(&str, u32)] = &[("A", 1), ("GFP_NOTRACK", 0), ("B", 2)];
        assert_eq!(pgg_with(t, 3), "A|GFP_NOTRACK|B");
        assert_eq!(pgg_with(t, 1), "A");
        let mut s = String::new();
        walk(&mut s, 3, t, true);
        assert_eq!(s, "A|B");
    }
}
