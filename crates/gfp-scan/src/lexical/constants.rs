//! The integer constants a file names: enumerators and object-like macros
//! that stand for a number, so that a caller's `0` can be told apart from
//! `case RTM_DELADDR:` (20), and two names of one value are not taken for
//! two values.

use super::{Region, RegionKind};
use crate::preproc::{define_lines, integer, strip_parens};

/// The named integer constants of the file, in upper case (`RTM_DELADDR`,
/// `MAX_LEN`): the enumerators of its file-scope enums whose values it can
/// work out, and `#define NAME NUMBER`. A name given two values is left
/// out.
pub fn constants(code: &[u8], regions: &[Region]) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for r in regions {
        if r.kind != RegionKind::Other || !is_enum_head(&code[r.start..r.open]) {
            continue;
        }
        enumerators(
            &code[r.open + 1..r.end.saturating_sub(1).max(r.open + 1)],
            &mut out,
        );
    }
    defines(code, &mut out);
    out.sort();
    out.dedup();
    // A name with two values (two enums, or a macro under two conditions)
    // has none the scan can rely on.
    let mut i = 0;
    while i < out.len() {
        let j = out[i..].iter().take_while(|(n, _)| *n == out[i].0).count();
        if j > 1 {
            out.drain(i..i + j);
        } else {
            i += 1;
        }
    }
    out
}

/// Whether a region's head declares an enum (`enum state`, `typedef enum`).
fn is_enum_head(head: &[u8]) -> bool {
    head.split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .any(|w| w == b"enum")
}

/// Whether `name` is written as a named constant (upper case, digits, `_`:
/// `VMA_NEEDS_RESV`).
pub(crate) fn is_constant_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The enumerators of an enum body with their values. An enumerator
/// without `=` is one more than the one before; after a value it cannot
/// work out, or a conditional (`#ifdef`, which may leave enumerators
/// out), the implicit values are unknown until the next explicit one.
fn enumerators(body: &[u8], out: &mut Vec<(String, i64)>) {
    let mut next: Option<i64> = Some(0);
    let mut known: Vec<(String, i64)> = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut items: Vec<&[u8]> = Vec::new();
    for (i, &b) in body.iter().enumerate() {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                items.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    for item in items {
        let text = String::from_utf8_lossy(item);
        // A conditional before the enumerator: what came before may not be
        // compiled. (`#define RTM_NEWADDR RTM_NEWADDR` beside each
        // enumerator, as uapi headers write, changes nothing.)
        let mut lines: Vec<&str> = text.lines().map(str::trim).collect();
        let conditional = |l: &str| {
            l.strip_prefix('#')
                .is_some_and(|d| d.trim_start().starts_with(['i', 'e']))
        };
        if lines.iter().any(|l| conditional(l)) {
            next = None;
        }
        lines.retain(|l| !l.starts_with('#'));
        let item = lines.join(" ");
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n.trim(), evaluate(v.trim(), &known)),
            None => (item, next),
        };
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || name.is_empty() {
            next = None;
            continue;
        }
        next = value.and_then(|v| v.checked_add(1));
        if let Some(v) = value {
            known.push((name.to_string(), v));
            if is_constant_name(name) {
                out.push((name.to_string(), v));
            }
        }
    }
}

/// The value of an enumerator's initialiser (or a macro's body): an
/// integer (`20`, `0x10`, `-1`), an earlier enumerator (or macro), a shift
/// of integers (`1 << 4`, `BIT(4)`), an earlier name plus or minus an
/// integer, or an `|` of these.
fn evaluate(v: &str, known: &[(String, i64)]) -> Option<i64> {
    let v = v.trim();
    let v = strip_parens(v);
    let term = |t: &str| -> Option<i64> {
        let t = strip_parens(t.trim());
        if let Some(n) = t.strip_prefix('-') {
            return integer(n.trim()).map(|n| -n);
        }
        integer(t).or_else(|| known.iter().rev().find(|(n, _)| n == t).map(|(_, v)| *v))
    };
    // A union of flags (`I_DIRTY_SYNC | I_DIRTY_DATASYNC`), each part one
    // of the forms below.
    if v.contains('|') && !v.contains("||") {
        return v
            .split('|')
            .try_fold(0i64, |acc, part| Some(acc | evaluate(part, known)?));
    }
    if let Some(inner) = v.strip_prefix("BIT(").and_then(|r| r.strip_suffix(')')) {
        return term(inner)
            .filter(|s| (0..63).contains(s))
            .map(|s| 1i64 << s);
    }
    if let Some((a, b)) = v.split_once("<<") {
        let (a, s) = (term(a)?, term(b)?);
        return (0..63)
            .contains(&s)
            .then(|| a.checked_shl(s as u32))
            .flatten();
    }
    for op in ['+', '-'] {
        if let Some((a, b)) = v.rsplit_once(op).filter(|(a, _)| !a.trim().is_empty()) {
            let (a, b) = (term(a)?, term(b)?);
            return if op == '+' {
                a.checked_add(b)
            } else {
                a.checked_sub(b)
            };
        }
    }
    term(v)
}

/// `#define NAME NUMBER` lines (the number possibly in parentheses or
/// negative), for upper-case names.
fn defines(code: &[u8], out: &mut Vec<(String, i64)>) {
    let mut known: Vec<(String, i64)> = Vec::new();
    for (name, value) in define_lines(code) {
        // `#define F(x) ...` is a function-like macro.
        if value.first() == Some(&b'(') {
            continue;
        }
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if !is_constant_name(name) {
            continue;
        }
        let value = String::from_utf8_lossy(value.trim_ascii());
        // A shift or a union of the file's earlier macros, as enumerators
        // are read (`#define I_DIRTY_INODE (I_DIRTY_SYNC |
        // I_DIRTY_DATASYNC)`).
        if let Some(n) = evaluate(&value, &known) {
            known.push((name.to_string(), n));
            out.push((name.to_string(), n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexical::{code_only, regions};

    #[test]
    fn enumerators_and_number_macros() {
        let src = "enum { RTM_BASE = 16, RTM_NEWLINK = 16, RTM_DELLINK, RTM_NEWADDR = 20, RTM_DELADDR };\n\
                   typedef enum state { S_IDLE, S_RUN = (1 << 3), S_STOP = BIT(5), S_NEXT = S_RUN + 2, lower };\n\
                   enum cfg { C_A,\n#ifdef CONFIG_X\n C_B,\n#endif\n C_C, C_D = 7, C_E };\n\
                   enum uapi { U_NEW = 20,\n#define U_NEW U_NEW\n U_DEL,\n#define U_DEL U_DEL\n };\n\
                   enum opaque { O_A = sizeof(int), O_B };\n\
                   #define MAX_LEN 128\n#define NEG (-1)\n#define HEX 0x10UL\n#define F(x) 3\n#define ALIAS MAX_LEN\n\
                   #define TWICE 1\n#define TWICE 2\n\
                   #define I_A (1 << 3)\n#define I_B (1 << 4)\n#define I_AB (I_A | I_B)\n#define I_ODD (I_A | LATER)\n#define LATER 1\n";
        let code = code_only(src.as_bytes());
        let got = constants(&code, &regions(&code));
        let get = |n: &str| got.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
        assert_eq!(get("RTM_DELLINK"), Some(17));
        assert_eq!(get("RTM_DELADDR"), Some(21));
        assert_eq!(get("RTM_NEWLINK"), Some(16));
        assert_eq!(get("S_IDLE"), Some(0));
        assert_eq!(get("S_RUN"), Some(8));
        assert_eq!(get("S_STOP"), Some(32));
        assert_eq!(get("S_NEXT"), Some(10));
        // Lower-case names are not constants' names.
        assert_eq!(get("lower"), None);
        // After a preprocessor line, implicit values are unknown until an
        // explicit one.
        assert_eq!(get("C_A"), Some(0));
        assert_eq!(get("C_C"), None);
        assert_eq!(get("C_D"), Some(7));
        assert_eq!(get("C_E"), Some(8));
        // A `#define` beside an enumerator leaves the count alone.
        assert_eq!(get("U_DEL"), Some(21));
        // Values it cannot work out, and what follows them.
        assert_eq!(get("O_A"), None);
        assert_eq!(get("O_B"), None);
        assert_eq!(get("MAX_LEN"), Some(128));
        assert_eq!(get("NEG"), Some(-1));
        assert_eq!(get("HEX"), Some(16));
        assert_eq!(get("F"), None);
        // Another macro of the file, defined before.
        assert_eq!(get("ALIAS"), Some(128));
        assert_eq!(get("I_A"), Some(8));
        assert_eq!(get("I_AB"), Some(24));
        assert_eq!(get("I_ODD"), None);
        // Two values: none.
        assert_eq!(get("TWICE"), None);
    }
}
