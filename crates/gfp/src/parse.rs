//! Parsing masks as people write them: `GFP_KERNEL|__GFP_NOWARN`, `0x400cc0`,
//! `3264`, in any profile.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::profile::Profile;

/// Why a mask expression could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The expression was empty (or only separators).
    Empty,
    /// A name the profile does not define.
    UnknownName {
        /// The name as written.
        name: String,
        /// The profile it was looked up in.
        profile: String,
        /// A defined name that is spelled alike, if any.
        suggestion: Option<String>,
    },
    /// A number that does not fit in 32 bits or has bad digits.
    BadNumber(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str(
                "empty gfp mask: give a number (0xcc0, 3264) or names (GFP_KERNEL|__GFP_NOWARN)",
            ),
            ParseError::UnknownName {
                name,
                profile,
                suggestion,
            } => {
                write!(f, "unknown gfp flag `{name}` in {profile}")?;
                if let Some(s) = suggestion {
                    write!(f, "; did you mean `{s}`?")?;
                }
                Ok(())
            }
            ParseError::BadNumber(s) => write!(
                f,
                "`{s}` is not a 32-bit gfp mask (use hex with 0x, or decimal)"
            ),
        }
    }
}

impl core::error::Error for ParseError {}

/// Parses a number: `0x`-prefixed hex, or decimal. Bare hex with letters
/// (`cc0`) is accepted too, since kernel logs print masks that way.
pub fn parse_number(token: &str) -> Result<u32, ParseError> {
    let t = token.trim();
    let bad = || ParseError::BadNumber(t.to_string());
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if h.is_empty() {
            return Err(bad());
        }
        return u32::from_str_radix(h, 16).map_err(|_| bad());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty() {
        return t.parse().map_err(|_| bad());
    }
    if t.bytes().all(|b| b.is_ascii_hexdigit()) && !t.is_empty() {
        return u32::from_str_radix(t, 16).map_err(|_| bad());
    }
    Err(bad())
}

/// Parses `expr` in `profile`: names, numbers, joined by `|` (spaces allowed).
/// `none` and `0` mean the empty mask.
pub fn parse_mask(profile: &Profile, expr: &str) -> Result<u32, ParseError> {
    let mut mask = 0u32;
    let mut any = false;
    for token in expr.split('|').map(str::trim).filter(|t| !t.is_empty()) {
        any = true;
        let first = token.as_bytes()[0];
        if first.is_ascii_digit() {
            mask |= parse_number(token)?;
            continue;
        }
        if token == "none" {
            continue;
        }
        mask |= lookup_name(profile, token)?;
    }
    if !any {
        return Err(ParseError::Empty);
    }
    Ok(mask)
}

/// Parses `expr` in the in-process layout (Linux 6.12 names, every flag).
pub fn parse_native(expr: &str) -> Result<crate::flags::Gfp, ParseError> {
    use crate::flags::{Flag, Gfp};
    let mut mask = 0u32;
    let mut any = false;
    for token in expr.split('|').map(str::trim).filter(|t| !t.is_empty()) {
        any = true;
        if token.as_bytes()[0].is_ascii_digit() {
            mask |= parse_number(token)?;
            continue;
        }
        let upper = token.to_ascii_uppercase();
        let bare = upper.trim_start_matches('_');
        let bare = bare.strip_prefix("GFP_").unwrap_or(bare);
        if let Some(f) = Flag::from_kernel_name(bare) {
            mask |= f.mask().bits();
        } else if let Some((_, g)) = Gfp::COMPOSITES
            .iter()
            .find(|(n, _)| n.trim_start_matches('_').strip_prefix("GFP_") == Some(bare))
        {
            mask |= g.bits();
        } else if bare != "NONE" {
            return Err(ParseError::UnknownName {
                name: token.to_string(),
                profile: "the in-process layout".to_string(),
                suggestion: Flag::ALL
                    .iter()
                    .map(|f| (edit_distance(f.short_name(), bare), f.kernel_name()))
                    .filter(|(d, _)| *d <= 2)
                    .min_by_key(|(d, _)| *d)
                    .map(|(_, n)| n.to_string()),
            });
        }
    }
    if !any {
        return Err(ParseError::Empty);
    }
    Ok(crate::flags::Gfp::from_bits_retain(mask))
}

fn lookup_name(profile: &Profile, token: &str) -> Result<u32, ParseError> {
    if let Some(m) = profile.lookup(token) {
        return Ok(m);
    }
    // Friendly spellings: any case, and without the GFP_/__GFP_ prefix.
    let upper = token.to_ascii_uppercase();
    let bare = upper.trim_start_matches('_');
    let bare = bare.strip_prefix("GFP_").unwrap_or(bare);
    for candidate in [
        upper.clone(),
        ["GFP_", bare].concat(),
        ["__GFP_", bare].concat(),
    ] {
        if let Some(m) = profile.lookup(&candidate) {
            return Ok(m);
        }
    }
    Err(ParseError::UnknownName {
        name: token.to_string(),
        profile: profile.label.clone(),
        suggestion: suggest(profile, bare),
    })
}

/// The defined name closest to `bare` (edit distance at most 2), if any.
fn suggest(profile: &Profile, bare: &str) -> Option<String> {
    let names: Vec<&str> = profile
        .flags
        .iter()
        .chain(profile.composites.iter())
        .map(|e| e.name.as_str())
        .collect();
    names
        .into_iter()
        .map(|n| {
            let nb = n.trim_start_matches('_');
            let nb = nb.strip_prefix("GFP_").unwrap_or(nb);
            (edit_distance(nb, bare), n)
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<u8> = b.bytes().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_errors() {
        let p = Profile::native();
        assert_eq!(parse_mask(&p, "GFP_KERNEL|__GFP_NOWARN"), Ok(0x2cc0));
        assert_eq!(parse_mask(&p, " GFP_KERNEL | 0x2000 "), Ok(0x2cc0));
        assert_eq!(parse_mask(&p, "3264"), Ok(0xcc0));
        assert_eq!(parse_mask(&p, "kernel|nowarn"), Ok(0x2cc0));
        assert_eq!(parse_mask(&p, "none"), Ok(0));
        assert_eq!(parse_mask(&p, ""), Err(ParseError::Empty));
        let err = parse_mask(&p, "GFP_KERNEL|__GFP_NOWRAN").unwrap_err();
        assert!(
            matches!(&err, ParseError::UnknownName { name, suggestion: Some(s), .. }
            if name == "__GFP_NOWRAN" && s == "__GFP_NOWARN"),
            "{err:?}"
        );
        assert!(err.to_string().contains("__GFP_NOWRAN"));
        assert!(matches!(
            parse_mask(&p, "0x1ffffffff"),
            Err(ParseError::BadNumber(_))
        ));
    }
}
