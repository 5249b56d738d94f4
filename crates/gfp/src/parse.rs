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
    /// Hex digits without `0x` (`cc0`): hex needs the prefix.
    BareHex(String),
    /// A `|` with nothing on one side (`GFP_KERNEL|`, `|GFP_KERNEL`, `A||B`).
    EmptyOperand(String),
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
            ParseError::BareHex(s) => write!(
                f,
                "`{s}` is not a gfp mask: digits alone are decimal and hex needs 0x; did you mean 0x{s}?"
            ),
            ParseError::EmptyOperand(s) => write!(
                f,
                "`{s}`: a `|` with no flag on one side; join names and numbers as A|B"
            ),
        }
    }
}

impl core::error::Error for ParseError {}

/// Parses a number: `0x`-prefixed hex, or decimal (digits only). Hex digits
/// without the prefix (`cc0`, `200da`) are refused with a suggestion: the
/// kernel prints masks with `0x`, and `20020` must not mean two things.
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
    if is_bare_hex(t) {
        return Err(ParseError::BareHex(t.to_string()));
    }
    Err(bad())
}

/// Hex digits, at least one of them a letter, and no `0x`.
fn is_bare_hex(t: &str) -> bool {
    !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_hexdigit())
        && t.bytes().any(|b| b.is_ascii_alphabetic())
}

/// The `|`-separated operands of `expr`, trimmed: an error for an empty
/// expression and for an empty operand beside a `|`.
fn operands(expr: &str) -> Result<Vec<&str>, ParseError> {
    if expr.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let ops: Vec<&str> = expr.split('|').map(str::trim).collect();
    if ops.iter().any(|t| t.is_empty()) {
        return Err(ParseError::EmptyOperand(expr.trim().to_string()));
    }
    Ok(ops)
}

/// Parses `expr` in `profile`: names, numbers, joined by `|` (spaces allowed).
/// `none` and `0` mean the empty mask.
pub fn parse_mask(profile: &Profile, expr: &str) -> Result<u32, ParseError> {
    let mut mask = 0u32;
    for token in operands(expr)? {
        let first = token.as_bytes()[0];
        if first.is_ascii_digit() {
            mask |= parse_number(token)?;
            continue;
        }
        if token == "none" {
            continue;
        }
        mask |= match lookup_name(profile, token) {
            Err(_) if is_bare_hex(token) => return Err(ParseError::BareHex(token.to_string())),
            r => r?,
        };
    }
    Ok(mask)
}

/// Parses `expr` in the in-process layout (Linux 6.12 names, every flag).
pub fn parse_native(expr: &str) -> Result<crate::flags::Gfp, ParseError> {
    use crate::flags::{Flag, Gfp};
    let mut mask = 0u32;
    for token in operands(expr)? {
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
        } else if is_bare_hex(token) {
            return Err(ParseError::BareHex(token.to_string()));
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
    use alloc::format;

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

    /// Digits alone are decimal, hex needs `0x`, and a hex word without it
    /// is refused with the spelling that works.
    #[test]
    fn number_bases() {
        let p = Profile::native();
        assert_eq!(parse_mask(&p, "20020"), Ok(20020));
        assert_eq!(parse_mask(&p, "0x20020"), Ok(0x20020));
        assert_eq!(parse_mask(&p, "0XCC0"), Ok(0xcc0));
        for bare in ["cc0", "200da", "CC0"] {
            let e = parse_mask(&p, bare).unwrap_err();
            assert_eq!(e, ParseError::BareHex(bare.into()));
            assert!(
                e.to_string().contains(&format!("did you mean 0x{bare}?")),
                "{e}"
            );
            assert_eq!(parse_native(bare), Err(ParseError::BareHex(bare.into())));
        }
        // A name that happens to be hex digits stays a name where one exists.
        assert!(matches!(
            parse_mask(&p, "dead"),
            Err(ParseError::BareHex(_))
        ));
    }

    /// A `|` needs an operand on each side.
    #[test]
    fn empty_operands_are_errors() {
        let p = Profile::native();
        for e in [
            "GFP_KERNEL|",
            "|GFP_KERNEL",
            "GFP_KERNEL||__GFP_NOWARN",
            " | ",
            "|",
        ] {
            assert!(
                matches!(parse_mask(&p, e), Err(ParseError::EmptyOperand(_))),
                "{e}: {:?}",
                parse_mask(&p, e)
            );
            assert!(
                matches!(parse_native(e), Err(ParseError::EmptyOperand(_))),
                "{e}"
            );
        }
        assert_eq!(parse_mask(&p, "  "), Err(ParseError::Empty));
        assert_eq!(parse_mask(&p, "GFP_KERNEL | __GFP_NOWARN"), Ok(0x2cc0));
    }
}
