//! What the preprocessor compiles: the branches of `#if`/`#ifdef` that no
//! build for the architecture compiles are blanked before anything reads
//! the text, and the ones compiled only under a condition the build leaves
//! open are marked, so that a definition there counts as one of two.

use crate::lexical::ident_end;

/// The macros that test a configuration symbol, in `#if` and in C
/// (`IS_ENABLED(CONFIG_X)`).
pub(crate) const CONFIG_TESTS: [&str; 4] =
    ["IS_ENABLED", "IS_BUILTIN", "IS_MODULE", "IS_REACHABLE"];

/// What a preprocessor condition is known to be, given the configuration
/// symbols no build sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    True,
    False,
    Unknown,
}

/// A copy of `src` with the text of every preprocessor branch that no build
/// compiles turned into spaces (newlines kept): `#ifdef CONFIG_X` where no
/// build sets `X` (as `never_set` says, given the bare symbol name), `#if 0`
/// and `#if NAME` where the file defines `NAME` as 0, the `#else` of a
/// condition that is certainly true (`#ifndef CONFIG_X`), a comparison of
/// numbers the build fixes that does not hold (`#if PAGE_SIZE > SZ_4K` on
/// x86, see [`BuildFacts::value`]), and `#elif` chains after either. The
/// directives themselves are kept. `None` when nothing is dead. `code` is
/// `src` without comments (same offsets).
pub fn blank_dead_branches(src: &[u8], code: &[u8], build: &BuildFacts<'_>) -> Option<Vec<u8>> {
    preprocess(src, code, build).live
}

/// What the preprocessor pass learns of a file.
#[derive(Debug, Default)]
pub struct Preprocessed {
    /// The text with dead branches blanked, as [`blank_dead_branches`]
    /// gives it (`None`: nothing is dead).
    pub live: Option<Vec<u8>>,
    /// The byte ranges compiled only under a condition the build leaves
    /// open (`#ifdef CONFIG_ACPI`, its `#else`): a definition there is one
    /// of two. An include guard and `#ifndef __ASSEMBLY__` are no such
    /// condition.
    pub uncertain: Vec<std::ops::Range<usize>>,
    /// The names the file `#undef`s where it is certainly compiled and
    /// never `#define`s (`#undef EXT2FS_DEBUG` in `ext2.h`): undefined for
    /// the rest of it, and for a file that includes it.
    pub undefs: Vec<String>,
}

/// [`blank_dead_branches`], and where the live text is compiled only under
/// an open condition.
pub fn preprocess(src: &[u8], code: &[u8], build: &BuildFacts<'_>) -> Preprocessed {
    preprocess_with(src, code, build, &|_| &[])
}

/// [`preprocess`], knowing what the headers the file includes by a quoted
/// path `#undef` (`header_undefs` is given the path as written, see
/// [`Preprocessed::undefs`]): after `#include "ext2.h"`, `#ifdef
/// EXT2FS_DEBUG` is dead unless the file itself defines the name.
pub fn preprocess_with<'h>(
    src: &[u8],
    code: &[u8],
    build: &BuildFacts<'_>,
    header_undefs: &dyn Fn(&str) -> &'h [String],
) -> Preprocessed {
    let mut done = Preprocessed::default();
    if memchr::memmem::find(code, b"#").is_none() {
        return done;
    }
    let never_set = build.never_set;
    let value = |w: &str| build.value(w);
    // `#define DUMP_IT_BACK 0` in the file: `#if DUMP_IT_BACK` is `#if 0`.
    // C is never compiled with `__ASSEMBLY__` defined.
    let zero = zero_defines(code);
    // Every name the file defines, read only once an `#undef` needs it
    // (most files have none).
    let defined: std::cell::OnceCell<std::collections::HashSet<String>> = Default::default();
    let defined = || defined.get_or_init(|| defined_names(code));
    // Where each name `#undef`'d and never defined becomes undefined.
    let mut undef_from: std::collections::HashMap<String, usize> = Default::default();
    let here = std::cell::Cell::new(0usize);
    let gone = |w: &str, undef_from: &std::collections::HashMap<String, usize>| {
        w == "__ASSEMBLY__" || undef_from.get(w).is_some_and(|&p| p <= here.get())
    };
    // One frame per open #if: whether the enclosing text is dead, whether a
    // branch so far was certainly taken, whether every branch so far was
    // certainly not, whether the current branch is dead, and whether it is
    // certainly compiled.
    struct Frame {
        outer_dead: bool,
        taken: bool,
        all_false: bool,
        dead: bool,
        certain: bool,
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut out: Option<Vec<u8>> = None;
    let mut open_since: Option<usize> = None;
    let mut pos = 0;
    while pos < code.len() {
        let end = line_end(code, pos);
        let line = &code[pos..end];
        let trimmed = trim_ascii(line);
        let dead_now = stack.last().is_some_and(|f| f.dead);
        here.set(pos);
        if let Some(rest) = trimmed.strip_prefix(b"#") {
            let rest = trim_ascii(rest);
            let word_end = rest
                .iter()
                .position(|b| !b.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let (word, arg) = rest.split_at(word_end);
            let arg = String::from_utf8_lossy(arg);
            let undefined = |w: &str| gone(w, &undef_from);
            let is_zero = |w: &str| w == "0" || zero.contains(w) || undefined(w);
            let eval = |kind: &[u8]| match kind {
                b"ifdef" => term(&arg, never_set, &undefined, &undefined),
                b"ifndef" => not(term(&arg, never_set, &undefined, &undefined)),
                _ => condition(&arg, never_set, &is_zero, &undefined, &value),
            };
            let certain_here = !dead_now && stack.iter().all(|f| f.certain);
            match word {
                b"if" | b"ifdef" | b"ifndef" => {
                    let k = if dead_now { Known::Unknown } else { eval(word) };
                    let guard = word == b"ifndef" && defines_next(code, end, arg.trim());
                    stack.push(Frame {
                        outer_dead: dead_now,
                        taken: k == Known::True,
                        all_false: k == Known::False,
                        dead: dead_now || k == Known::False,
                        certain: k == Known::True || guard,
                    });
                }
                b"elif" => {
                    if let Some(f) = stack.last_mut() {
                        let k = if f.outer_dead {
                            Known::Unknown
                        } else {
                            eval(b"if")
                        };
                        f.dead = f.outer_dead || f.taken || k == Known::False;
                        f.certain = f.all_false && k == Known::True;
                        f.taken |= f.all_false && k == Known::True;
                        f.all_false &= k == Known::False;
                    }
                }
                b"else" => {
                    if let Some(f) = stack.last_mut() {
                        f.dead = f.outer_dead || f.taken;
                        f.certain = f.all_false;
                    }
                }
                b"endif" => {
                    stack.pop();
                }
                _ => {}
            }
            // An `#undef` (or a header's) where the file is certainly
            // compiled, of a name the file never defines.
            let mut forget: Vec<String> = Vec::new();
            if certain_here && word == b"undef" {
                let a = arg.trim();
                let name = &a[..ident_end(a.as_bytes(), 0)];
                if !name.is_empty() {
                    forget.push(name.to_string());
                    done.undefs.push(name.to_string());
                }
            } else if certain_here && word == b"include" {
                // The path is a string literal: read from `src`, since
                // `code` has it blanked.
                let line = String::from_utf8_lossy(&src[pos..end]);
                let quoted = line.split_once("include").map_or("", |(_, r)| r.trim());
                if let Some(inner) = quoted.strip_prefix('"') {
                    let path = inner.split('"').next().unwrap_or("");
                    forget.extend(header_undefs(path).iter().cloned());
                }
            }
            for name in forget {
                if !defined().contains(&name) {
                    undef_from.entry(name).or_insert(pos);
                }
            }
            let open = stack.iter().any(|f| !f.certain);
            match (open, open_since) {
                (true, None) => open_since = Some(end),
                (false, Some(start)) => {
                    done.uncertain.push(start..pos);
                    open_since = None;
                }
                _ => {}
            }
        } else if dead_now {
            let m = out.get_or_insert_with(|| src.to_vec());
            for b in &mut m[pos..end] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        }
        pos = end;
    }
    if let Some(start) = open_since {
        done.uncertain.push(start..code.len());
    }
    if !done.undefs.is_empty() {
        done.undefs.retain(|n| !defined().contains(n));
    }
    done.undefs.sort();
    done.undefs.dedup();
    done.live = out;
    done
}

/// Whether the first directive after `pos` is `#define name`: `#ifndef
/// name` there is an include guard, always true the first time.
fn defines_next(code: &[u8], mut pos: usize, name: &str) -> bool {
    while pos < code.len() {
        let end = line_end(code, pos);
        let t = trim_ascii(&code[pos..end]);
        if !t.is_empty() {
            let Some(rest) = t.strip_prefix(b"#") else {
                return false;
            };
            let Some(rest) = trim_ascii(rest).strip_prefix(b"define") else {
                return false;
            };
            let rest = trim_ascii(rest);
            return !name.is_empty() && rest.get(..ident_end(rest, 0)) == Some(name.as_bytes());
        }
        pos = end;
    }
    false
}

/// The end of the line starting at `pos` (after its newline), joining lines
/// continued with a backslash.
pub(crate) fn line_end(code: &[u8], pos: usize) -> usize {
    let mut i = pos;
    while i < code.len() {
        if code[i] == b'\n' {
            let mut j = i;
            while j > pos && (code[j - 1] == b'\r' || code[j - 1] == b' ') {
                j -= 1;
            }
            if j > pos && code[j - 1] == b'\\' {
                i += 1;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    code.len()
}

pub(crate) fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

fn not(k: Known) -> Known {
    match k {
        Known::True => Known::False,
        Known::False => Known::True,
        Known::Unknown => Known::Unknown,
    }
}

/// The `#define` lines of `code`: each name with the rest of its line
/// (from just after the name: `(` there makes a function-like macro).
pub(crate) fn define_lines(code: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
    memchr::memmem::find_iter(code, b"define").filter_map(move |at| {
        // `#`, blanks, `define`, blanks, the name: at the start of a line.
        let line_start = code[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let before = trim_ascii(&code[line_start..at]);
        if before != b"#" {
            return None;
        }
        let rest = &code[at + b"define".len()..line_end(code, at)];
        if !rest.first().is_some_and(u8::is_ascii_whitespace) {
            return None;
        }
        let rest = trim_ascii(rest);
        let end = ident_end(rest, 0);
        (end > 0).then(|| (&rest[..end], &rest[end..]))
    })
}

/// The names the file defines as `0` (`#define NAME 0`), and never as
/// anything else.
fn zero_defines(code: &[u8]) -> std::collections::HashSet<String> {
    let mut zero = Vec::new();
    let mut other = std::collections::HashSet::new();
    for (name, value) in define_lines(code) {
        if trim_ascii(value) == b"0" {
            zero.push(name);
        } else {
            other.insert(name);
        }
    }
    zero.into_iter()
        .filter(|z| !other.contains(z))
        .map(|z| String::from_utf8_lossy(z).into_owned())
        .collect()
}

/// Every name the file defines.
fn defined_names(code: &[u8]) -> std::collections::HashSet<String> {
    define_lines(code)
        .map(|(name, _)| String::from_utf8_lossy(name).into_owned())
        .collect()
}

/// `CONFIG_X` (or `defined(CONFIG_X)`, `IS_ENABLED(CONFIG_X)`, ...), possibly
/// negated: false when no build sets X; a name `is_zero` says is 0 is false.
fn term(
    t: &str,
    never_set: &dyn Fn(&str) -> bool,
    is_zero: &dyn Fn(&str) -> bool,
    undefined: &dyn Fn(&str) -> bool,
) -> Known {
    let t: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(r) = t.strip_prefix('!') {
        return not(term(r, never_set, is_zero, undefined));
    }
    if is_zero(&t) {
        return Known::False;
    }
    let mut inner = t.as_str();
    let mut is_defined = false;
    for w in std::iter::once("defined").chain(CONFIG_TESTS) {
        if let Some(r) = inner.strip_prefix(w) {
            inner = r;
            is_defined = w == "defined";
            break;
        }
    }
    let inner = inner
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(inner);
    if is_defined && undefined(inner) {
        return Known::False;
    }
    match inner.strip_prefix("CONFIG_") {
        Some(sym)
            if !sym.is_empty()
                && sym.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && never_set(sym) =>
        {
            Known::False
        }
        _ => Known::Unknown,
    }
}

/// An `#if` condition: `||` of `&&` of terms, each a configuration test or
/// a comparison of two numbers `value` knows; anything with other
/// parentheses or operators is unknown.
fn condition(
    c: &str,
    never_set: &dyn Fn(&str) -> bool,
    is_zero: &dyn Fn(&str) -> bool,
    undefined: &dyn Fn(&str) -> bool,
    value: &dyn Fn(&str) -> Option<i64>,
) -> Known {
    let c = strip_parens(c.trim());
    if c.contains('?') {
        return Known::Unknown;
    }
    // Each term is a comparison, or a test free of other parentheses and
    // operators: `(A || B) && C` splits into pieces that are neither.
    let plain = |t: &str| {
        let t = strip_parens(t.trim());
        let mut bare = t.replace("defined(", "");
        for w in CONFIG_TESTS {
            bare = bare.replace(&format!("{w}("), "");
        }
        comparison(t, value).is_some() || !bare.contains(['(', '<', '>', '='])
    };
    if !c.split("||").flat_map(|p| p.split("&&")).all(plain) {
        return Known::Unknown;
    }
    let mut any_part_true = false;
    let mut all_parts_false = true;
    for part in c.split("||") {
        let mut all_true = true;
        let mut any_false = false;
        for t in part.split("&&") {
            let k = comparison(t, value).unwrap_or_else(|| term(t, never_set, is_zero, undefined));
            match k {
                Known::False => any_false = true,
                Known::True => {}
                Known::Unknown => all_true = false,
            }
        }
        let k = if any_false {
            Known::False
        } else if all_true {
            Known::True
        } else {
            Known::Unknown
        };
        any_part_true |= k == Known::True;
        all_parts_false &= k == Known::False;
    }
    if any_part_true {
        Known::True
    } else if all_parts_false {
        Known::False
    } else {
        Known::Unknown
    }
}

/// `t` without the parentheses around all of it.
pub(crate) fn strip_parens(mut t: &str) -> &str {
    while t.starts_with('(') && t.ends_with(')') && crate::extract::balanced(&t[1..t.len() - 1]) {
        t = t[1..t.len() - 1].trim();
    }
    t
}

/// A comparison of two numbers (`PAGE_SIZE > SZ_4K`, `PAGE_SHIFT == 12`):
/// its truth when `value` knows both sides, unknown when it does not;
/// `None` when `t` is no comparison of two plain operands.
fn comparison(t: &str, value: &dyn Fn(&str) -> Option<i64>) -> Option<Known> {
    let t = strip_parens(t.trim());
    for op in ["==", "!=", "<=", ">=", "<", ">"] {
        let Some((l, r)) = t.split_once(op) else {
            continue;
        };
        // `<<` and `>>` are shifts, not comparisons.
        if r.starts_with(['<', '>', '=']) || l.ends_with(['<', '>', '=', '!']) {
            return None;
        }
        let (l, r) = (operand(l)?, operand(r)?);
        let (Some(a), Some(b)) = (value(l), value(r)) else {
            return Some(Known::Unknown);
        };
        let holds = match op {
            "==" => a == b,
            "!=" => a != b,
            "<=" => a <= b,
            ">=" => a >= b,
            "<" => a < b,
            _ => a > b,
        };
        return Some(if holds { Known::True } else { Known::False });
    }
    None
}

/// A plain operand of a comparison: a word, possibly in parentheses.
fn operand(s: &str) -> Option<&str> {
    let s = strip_parens(s.trim());
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then_some(s)
}

/// The value of an integer literal (`4096`, `0x1000`, `12UL`).
pub(crate) fn integer(w: &str) -> Option<i64> {
    let w = w.trim_end_matches(['u', 'U', 'l', 'L']);
    match w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => w.parse().ok(),
    }
}

/// The value of a `SZ_*` size constant of `<linux/sizes.h>` (`SZ_4K`,
/// `SZ_64K`, `SZ_2M`, `SZ_512`).
fn size_constant(w: &str) -> Option<i64> {
    let s = w.strip_prefix("SZ_")?;
    let (digits, unit) = match s.strip_suffix(['K', 'M', 'G']) {
        Some(d) => (d, &s[d.len()..]),
        None => (s, ""),
    };
    let n: i64 = digits.parse().ok()?;
    let shift = match unit {
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => 0,
    };
    n.checked_mul(1 << shift)
}

/// What the build the scan models fixes for every configuration: which
/// configuration symbols no build sets, and the architecture's page size.
#[derive(Clone, Copy)]
pub struct BuildFacts<'a> {
    /// Whether no build sets the configuration symbol (named without
    /// `CONFIG_`).
    pub never_set: &'a (dyn Fn(&str) -> bool + Sync),
    /// The page shift every build of the architecture has (12 on x86);
    /// `None` where it is a configuration choice (arm64) or unknown.
    pub page_shift: Option<u32>,
}

fn nothing_is_never_set(_: &str) -> bool {
    false
}

impl BuildFacts<'static> {
    /// Nothing known: only `#if 0` and names the file defines as 0 are
    /// dead.
    pub const UNKNOWN: BuildFacts<'static> = BuildFacts {
        never_set: &nothing_is_never_set,
        page_shift: None,
    };
}

impl BuildFacts<'_> {
    /// The value of a preprocessor operand the build fixes: an integer
    /// literal, a `SZ_*` constant, and with the page shift known,
    /// `PAGE_SHIFT` and `PAGE_SIZE`.
    pub fn value(&self, w: &str) -> Option<i64> {
        match w {
            "PAGE_SHIFT" => self.page_shift.map(i64::from),
            "PAGE_SIZE" => self.page_shift.map(|s| 1i64 << s),
            _ => integer(w).or_else(|| size_constant(w)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexical::code_only;

    fn live(src: &str) -> String {
        let never = |s: &str| s == "PPC" || s == "ARCH_ACORN";
        let code = code_only(src.as_bytes());
        let build = BuildFacts {
            never_set: &never,
            page_shift: Some(12),
        };
        let out = blank_dead_branches(src.as_bytes(), &code, &build)
            .map(|v| String::from_utf8(v).unwrap())
            .unwrap_or_else(|| src.to_string());
        assert_eq!(out.len(), src.len(), "offsets kept");
        assert_eq!(
            out.matches('\n').count(),
            src.matches('\n').count(),
            "lines kept"
        );
        out
    }

    #[test]
    fn branches_no_build_compiles_are_blanked() {
        let src = "#ifdef CONFIG_PPC\nppc();\n#else\nother();\n#endif\n";
        let out = live(src);
        assert!(!out.contains("ppc()") && out.contains("other()"));
        // Certainly true: the #else is dead.
        let out = live("#ifndef CONFIG_PPC\nx86();\n#else\nppc();\n#endif\n");
        assert!(out.contains("x86()") && !out.contains("ppc()"));
        let out = live("#if IS_ENABLED(CONFIG_PPC) && defined(CONFIG_NET)\na();\n#elif defined(CONFIG_NET)\nb();\n#else\nc();\n#endif\n");
        assert!(!out.contains("a()") && out.contains("b()") && out.contains("c()"));
        let out =
            live("#if defined(CONFIG_PPC) || defined(CONFIG_ARCH_ACORN)\na();\n#endif\nb();\n");
        assert!(!out.contains("a()") && out.contains("b()"));
        // Nested: everything inside a dead branch, whatever it tests.
        let out =
            live("#ifdef CONFIG_PPC\n#ifdef CONFIG_NET\na();\n#else\nb();\n#endif\n#endif\nc();\n");
        assert!(!out.contains("a()") && !out.contains("b()") && out.contains("c()"));
        // Continued directive lines and comments after #endif.
        let out = live("#if defined(CONFIG_PPC) && \\\n    defined(CONFIG_NET)\na();\n#endif /* PPC */\nb();\n");
        assert!(!out.contains("a()") && out.contains("b()"));
    }

    #[test]
    fn names_undefined_for_good_are_false_after_the_undef() {
        let out = live("#undef DBG\n#ifdef DBG\na();\n#endif\n#ifndef DBG\nb();\n#else\nc();\n#endif\n#if defined(DBG) || DBG\nd();\n#endif\ne();\n");
        assert!(!out.contains("a()") && out.contains("b()") && !out.contains("c()"));
        assert!(!out.contains("d()") && out.contains("e()"));
        // Before the `#undef`, the name may still be defined (by the
        // command line or a header).
        let out = live("#ifdef DBG\na();\n#endif\n#undef DBG\n");
        assert!(out.contains("a()"));
        // A name the file defines somewhere, or undefines only under an
        // open condition, is not known undefined.
        let out = live("#undef DBG\n#ifdef DBG\na();\n#endif\n#define DBG 1\n");
        assert!(out.contains("a()"));
        let out = live("#ifdef CONFIG_NET\n#undef DBG\n#endif\n#ifdef DBG\na();\n#endif\n");
        assert!(out.contains("a()"));
        // An include guard is no open condition: a header's undefs count.
        let src = "#ifndef _H\n#define _H\n#undef DBG\n#undef ALSO\n#ifdef CONFIG_NET\n#undef NOT\n#endif\n#endif\n";
        let code = code_only(src.as_bytes());
        let got = preprocess(src.as_bytes(), &code, &BuildFacts::UNKNOWN).undefs;
        assert_eq!(got, ["ALSO", "DBG"]);
        // What a header included by a quoted path undefines, the file
        // that includes it sees from the include on.
        let src = "#ifdef DBG\na();\n#endif\n#include \"h.h\"\n#include <h.h>\n#ifdef DBG\nb();\n#endif\n";
        let code = code_only(src.as_bytes());
        let gone = ["DBG".to_string()];
        let header = |f: &str| -> &[String] {
            if f == "h.h" {
                &gone
            } else {
                &[]
            }
        };
        let out = preprocess_with(src.as_bytes(), &code, &BuildFacts::UNKNOWN, &header)
            .live
            .expect("a branch is dead");
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("a()") && !out.contains("b()"));
    }

    #[test]
    fn comparisons_of_numbers_the_build_fixes_are_decided() {
        // x86 has 4 KiB pages only: the subpage prototype is dead, the stub
        // that says "never" is what every build compiles.
        let out = live("#if PAGE_SIZE > SZ_4K\nbool real(void);\n#else\nstub();\n#endif\n");
        assert!(!out.contains("real") && out.contains("stub()"));
        let out = live("#if (PAGE_SHIFT == 12)\na();\n#elif PAGE_SIZE == SZ_64K\nb();\n#endif\n");
        assert!(out.contains("a()") && !out.contains("b()"));
        let out =
            live("#if PAGE_SIZE >= 0x1000UL && !defined(CONFIG_PPC)\na();\n#else\nb();\n#endif\n");
        assert!(out.contains("a()") && !out.contains("b()"));
        // Operands the build does not fix, shifts, arithmetic and negated
        // parentheses stay unknown: both branches are read.
        for src in [
            "#if PAGE_SIZE < PAGE_FRAG_CACHE_MAX_SIZE\na();\n#else\nb();\n#endif\n",
            "#if PAGE_SIZE == (1 << 12)\na();\n#else\nb();\n#endif\n",
            "#if THREAD_SIZE >= PAGE_SIZE * 2\na();\n#else\nb();\n#endif\n",
            "#if !(PAGE_SIZE > SZ_4K)\na();\n#else\nb();\n#endif\n",
            "#if (PAGE_SIZE > SZ_4K || X) && Y\na();\n#else\nb();\n#endif\n",
        ] {
            let out = live(src);
            assert!(out.contains("a()") && out.contains("b()"), "{src}");
        }
        // Without a known page size only literals and sizes are compared.
        let code =
            code_only(b"#if PAGE_SIZE > SZ_4K\na();\n#endif\n#if SZ_4K > 4096\nb();\n#endif\n");
        let out = blank_dead_branches(
            b"#if PAGE_SIZE > SZ_4K\na();\n#endif\n#if SZ_4K > 4096\nb();\n#endif\n",
            &code,
            &BuildFacts::UNKNOWN,
        )
        .expect("the second branch is dead");
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("a()") && !out.contains("b()"));
        assert_eq!(size_constant("SZ_2M"), Some(2 << 20));
        assert_eq!(size_constant("SZ_512"), Some(512));
        assert_eq!(size_constant("SZ_"), None);
    }

    #[test]
    fn unknown_conditions_stay() {
        for src in [
            "#ifdef CONFIG_NET\na();\n#endif\n",
            "#if defined(CONFIG_PPC) || defined(CONFIG_NET)\na();\n#endif\n",
            "#if (defined(CONFIG_PPC) || X) && Y\na();\n#endif\n",
            "#if CONFIG_PPC_LEVEL > 2\na();\n#endif\n",
            "#if !defined(CONFIG_PPC) && defined(CONFIG_NET)\na();\n#else\nb();\n#endif\n",
        ] {
            let out = live(src);
            assert!(out.contains("a()"), "{src}");
        }
        // An #endif without its #if, and a missing #endif, do not panic.
        live("#endif\n#else\n#elif x\na();\n");
        live("#ifdef CONFIG_PPC\na();\n");
    }
}
