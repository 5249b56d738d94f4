//! The branch conditions each call of a reported chain is made under,
//! read back from the source: `if (!vdev->stats)` above a lazy allocation,
//! the `case` of a switch, the `if (ret) return ret;` a call comes after.
//!
//! A finding's chain says which calls reach the allocation; these say on
//! which paths. They are what a reviewer checks first (is the slot ever
//! empty here, can the fast path fail for this object, is this mode ever
//! set), so the text, JSON and SARIF outputs show them beside each hop.
//! They explain; they decide nothing: the rules read the flow facts of
//! [`crate::flow`], which keep only the conditions they can reason with.
//!
//! The reading is lexical, over the function's text as written (comments
//! and literals set aside): an `if` whose statement holds the call, the
//! `else` of one, an `if` whose statement always jumps away (`return`,
//! `goto`, `break`, `continue`) earlier in the call's block with no label
//! in between, the test of a `while` or `for` loop whose body holds the
//! call, and the `case` labels the call's statements follow.

use std::collections::HashMap;
use std::path::Path;

use crate::extract::balanced;
use crate::lexical::{
    code_only, ident_end, keyword_parens, label_bounded_end, matching, regions, skip_blank,
    stmt_end, RegionKind,
};
use crate::preproc::BuildFacts;
use crate::report::Finding;

/// The longest condition shown; longer ones are cut with an ellipsis.
const MAX_SHOWN: usize = 100;

/// The most conditions shown for one call (the innermost are kept).
const MAX_PER_CALL: usize = 6;

/// A source file read for its conditions.
struct Source {
    src: Vec<u8>,
    code: Vec<u8>,
    /// The function bodies: (`{` offset, one past `}`).
    bodies: Vec<(usize, usize)>,
    /// The offset each line starts at.
    line_starts: Vec<usize>,
}

impl Source {
    /// Reads the file with the text of the preprocessor branches no build
    /// compiles blanked, as the scan blanked it (less the names its
    /// headers `#undef`, which this reading does not know), so a
    /// condition shown is one the compiled code tests.
    fn read(path: &Path, build: &BuildFacts<'_>) -> Option<Source> {
        let mut src = std::fs::read(path).ok()?;
        let mut code = code_only(&src);
        if let Some(live) = crate::preproc::blank_dead_branches(&src, &code, build) {
            code = code_only(&live);
            src = live;
        }
        let bodies = regions(&code)
            .into_iter()
            .filter(|r| r.kind == RegionKind::Function)
            .map(|r| (r.open, r.end))
            .collect();
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', &src).map(|i| i + 1));
        Some(Source {
            src,
            code,
            bodies,
            line_starts,
        })
    }

    /// Where `callee` is called on the 1-based `line` (its name), or the
    /// line's first token when the name is not on it (a macro's rename).
    fn call_at(&self, line: u32, callee: &str) -> Option<usize> {
        let start = *self.line_starts.get(line.checked_sub(1)? as usize)?;
        let end = self
            .line_starts
            .get(line as usize)
            .copied()
            .unwrap_or(self.code.len());
        let text = &self.code[start..end];
        let named = memchr::memmem::find_iter(text, callee.as_bytes()).find(|&at| {
            let word_start =
                at == 0 || !(text[at - 1].is_ascii_alphanumeric() || text[at - 1] == b'_');
            let e = at + callee.len();
            word_start && ident_end(text, at) == e && text.get(skip_blank(text, e)) == Some(&b'(')
        });
        Some(start + named.unwrap_or_else(|| skip_blank(text, 0).min(text.len())))
    }

    /// The conditions the call at `pos` is made under, outermost first.
    fn conditions_at(&self, pos: usize) -> Vec<String> {
        let Some(&(open, end)) = self.bodies.iter().find(|(o, e)| (*o..*e).contains(&pos)) else {
            return Vec::new();
        };
        conditions(&self.src[open..end], &self.code[open..end], pos - open)
    }
}

/// Fills in [`crate::report::Hop::when`] for every hop of `findings`,
/// reading the files under `base` one at a time (a proposal's output may
/// run through thousands of them) with the dead branches of `build`
/// blanked, as the scan read them.
pub fn annotate(base: &Path, build: &BuildFacts<'_>, findings: &mut [Finding]) {
    let mut by_file: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
    for (fi, f) in findings.iter().enumerate() {
        for (hi, h) in f.chain.iter().enumerate() {
            by_file.entry(h.file.clone()).or_default().push((fi, hi));
        }
    }
    for (file, hops) in by_file {
        let Some(s) = Source::read(&base.join(&file), build) else {
            continue;
        };
        for (fi, hi) in hops {
            let h = &mut findings[fi].chain[hi];
            if let Some(pos) = s.call_at(h.line, &h.call) {
                h.when = s.conditions_at(pos);
            }
        }
    }
}

/// The conditions that hold at offset `pos` of a function body (`src` as
/// written, `code` its [`code_only`] copy, both from the `{`), outermost
/// first.
pub fn conditions(src: &[u8], code: &[u8], pos: usize) -> Vec<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    for (open, close) in keyword_parens(code, b"if") {
        if pos <= close {
            continue;
        }
        let cond = shown(src, code, open + 1, close);
        if cond.is_empty() {
            continue;
        }
        let then_end = if_extent(code, close + 1);
        if pos < then_end {
            found.push((open, cond));
            continue;
        }
        let e = skip_blank(code, then_end);
        if starts_word(code, e, b"else") {
            if (e + 4..if_extent(code, e + 4)).contains(&pos) {
                found.push((open, negated(&cond)));
            }
        } else if always_jumps(&code[close + 1..then_end])
            && pos < label_bounded_end(code, then_end, false)
        {
            found.push((open, negated(&cond)));
        }
    }
    // A loop's body runs while its condition holds (`do ... while` runs
    // its body first: its `while (...)` has no body of its own here).
    for kw in [&b"while"[..], b"for"] {
        for (open, close) in keyword_parens(code, kw) {
            if pos <= close || pos >= if_extent(code, close + 1) {
                continue;
            }
            let cond = if kw == b"for" {
                loop_test(src, code, open + 1, close)
            } else {
                shown(src, code, open + 1, close)
            };
            if !cond.is_empty() {
                found.push((open, cond));
            }
        }
    }
    for (open, close) in keyword_parens(code, b"switch") {
        let b = skip_blank(code, close + 1);
        if code.get(b) != Some(&b'{') || pos <= b {
            continue;
        }
        let Some(e) = matching(code, b, b'{', b'}') else {
            continue;
        };
        if pos >= e {
            continue;
        }
        let on = shown(src, code, open + 1, close);
        let labels = case_labels(src, code, b + 1, pos);
        if labels.is_empty() {
            continue;
        }
        let text = if labels.iter().any(|l| l == "default") {
            format!("{on}: default")
        } else {
            labels
                .iter()
                .map(|l| format!("{on} == {l}"))
                .collect::<Vec<_>>()
                .join(" || ")
        };
        found.push((open, text));
    }
    found.sort_by_key(|(at, _)| *at);
    let mut out: Vec<String> = Vec::new();
    for (_, c) in found {
        let c = cut(c);
        if !out.contains(&c) {
            out.push(c);
        }
    }
    if out.len() > MAX_PER_CALL {
        out.drain(..out.len() - MAX_PER_CALL);
    }
    out
}

/// The test of a `for (init; test; step)` header between `from` and `to`
/// (empty when it has none, `for (;;)`, or is a macro's argument list).
fn loop_test(src: &[u8], code: &[u8], from: usize, to: usize) -> String {
    let mut depth = 0i32;
    let mut semis = Vec::new();
    for (i, &c) in code.iter().enumerate().take(to).skip(from) {
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b';' if depth == 0 => semis.push(i),
            _ => {}
        }
    }
    match semis[..] {
        [a, b] => shown(src, code, a + 1, b),
        _ => String::new(),
    }
}

fn starts_word(b: &[u8], i: usize, w: &[u8]) -> bool {
    b[i.min(b.len())..].starts_with(w) && ident_end(b, i) == i + w.len()
}

/// One past the statement starting at `i`, an `if` with its `else` chain
/// included (`if (a) x(); else if (b) y(); else z();` is one statement).
fn if_extent(b: &[u8], i: usize) -> usize {
    let i = skip_blank(b, i);
    if !starts_word(b, i, b"if") {
        return stmt_end(b, i);
    }
    let open = skip_blank(b, i + 2);
    let Some(close) = (b.get(open) == Some(&b'('))
        .then(|| matching(b, open, b'(', b')'))
        .flatten()
    else {
        return stmt_end(b, i);
    };
    let then_end = if_extent(b, close + 1);
    let e = skip_blank(b, then_end);
    if starts_word(b, e, b"else") {
        if_extent(b, e + 4)
    } else {
        then_end
    }
}

/// Whether a statement never falls through to what follows it: a jump, or
/// a block whose last statement is one.
fn always_jumps(stmt: &[u8]) -> bool {
    let s = skip_blank(stmt, 0);
    let mut t = &stmt[s..];
    while let Some(inner) = t.strip_prefix(b"{") {
        let inner = inner.strip_suffix(b"}").unwrap_or(inner);
        let inner = crate::preproc::trim_ascii(inner);
        // The last statement at the block's top level.
        let mut depth = 0i32;
        let mut last = 0;
        for (i, &c) in inner.iter().enumerate() {
            match c {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b'{' => {
                    if depth == 0 {
                        last = i;
                    }
                    depth += 1;
                }
                b'}' => {
                    depth -= 1;
                    if depth == 0 && i + 1 < inner.len() {
                        last = i + 1;
                    }
                }
                b';' if depth == 0 && i + 1 < inner.len() => last = i + 1,
                _ => {}
            }
        }
        t = crate::preproc::trim_ascii(&inner[last..]);
        if !t.starts_with(b"{") {
            break;
        }
    }
    let t = crate::preproc::trim_ascii(t);
    [&b"return"[..], b"goto", b"break", b"continue"]
        .iter()
        .any(|w| starts_word(t, 0, w))
}

/// The labels (`case X:`, `default:`) that the statements at `pos` of a
/// switch body starting at `from` follow: the last run of labels before
/// `pos` at the body's top level.
fn case_labels(src: &[u8], code: &[u8], from: usize, pos: usize) -> Vec<String> {
    let mut labels = Vec::new();
    let mut statement_since = false;
    let mut depth = 0i32;
    let mut i = from;
    while i < pos {
        let c = code[i];
        match c {
            b'{' | b'(' => {
                depth += 1;
                statement_since = true;
            }
            b'}' | b')' => depth -= 1,
            _ if c.is_ascii_whitespace() => {}
            _ if depth == 0
                && (starts_word(code, i, b"case") || starts_word(code, i, b"default")) =>
            {
                let start = if code[i] == b'c' { i + 4 } else { i + 7 };
                let Some(colon) = label_colon(code, start) else {
                    return Vec::new();
                };
                if statement_since {
                    labels.clear();
                    statement_since = false;
                }
                labels.push(if code[i] == b'd' {
                    "default".to_string()
                } else {
                    shown(src, code, start, colon)
                });
                i = colon + 1;
                continue;
            }
            _ if c.is_ascii_alphanumeric() || c == b'_' => {
                statement_since = true;
                i = ident_end(code, i);
                continue;
            }
            _ => statement_since = true,
        }
        i += 1;
    }
    labels
}

/// The `:` that ends a case label starting at `i` (not one of `::` or a
/// `?:` inside it).
fn label_colon(code: &[u8], i: usize) -> Option<usize> {
    let mut questions = 0;
    for (j, &c) in code.iter().enumerate().skip(i) {
        match c {
            b'?' => questions += 1,
            b':' if questions > 0 => questions -= 1,
            b':' => return Some(j),
            b';' | b'{' | b'}' => return None,
            _ => {}
        }
    }
    None
}

/// The text of `code[from..to]` as written: literals from `src`, comments
/// left out, blanks collapsed, `likely()`/`unlikely()` taken off.
fn shown(src: &[u8], code: &[u8], from: usize, to: usize) -> String {
    let mut raw = Vec::with_capacity(to - from);
    let mut i = from;
    while i < to {
        let c = code[i];
        if c == b'"' || c == b'\'' {
            let close = code[i + 1..to]
                .iter()
                .position(|&x| x == c)
                .map_or(to, |p| i + 1 + p + 1);
            raw.extend_from_slice(&src[i..close]);
            i = close;
            continue;
        }
        raw.push(c);
        i += 1;
    }
    let text = String::from_utf8_lossy(&raw);
    let mut out = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for wrapper in ["unlikely(", "likely("] {
        if out.starts_with(wrapper) && out.ends_with(')') {
            let inner = &out[wrapper.len()..out.len() - 1];
            if balanced(inner) {
                out = inner.trim().to_string();
            }
        }
    }
    out
}

/// `c` cut to [`MAX_SHOWN`] characters, with an ellipsis.
fn cut(c: String) -> String {
    if c.chars().count() > MAX_SHOWN {
        c.chars().take(MAX_SHOWN - 1).collect::<String>() + "…"
    } else {
        c
    }
}

/// The condition false, written as a reader would: `!x` for `x`, `x` for
/// `!x`, `a >= b` for `a < b`, `!a && b` for `a || !b`, `!(...)` for the
/// rest.
fn negated(c: &str) -> String {
    let parts = split_top(c, "||");
    if parts.len() > 1 {
        return parts
            .iter()
            .map(|p| {
                let n = negated(p);
                if split_top(&n, "||").len() > 1 || n.contains('?') {
                    format!("({n})")
                } else {
                    n
                }
            })
            .collect::<Vec<_>>()
            .join(" && ");
    }
    if let Some(rest) = c.strip_prefix('!') {
        if !rest.starts_with('=') {
            if whole_group(rest) {
                return rest[1..rest.len() - 1].to_string();
            }
            if member_path(rest) || one_call(rest) {
                return rest.to_string();
            }
        }
    }
    if whole_group(c) {
        return negated(&c[1..c.len() - 1]);
    }
    if split_top(c, "&&").len() == 1 && !c.contains('?') {
        for (op, not) in [
            (" == ", " != "),
            (" != ", " == "),
            (" <= ", " > "),
            (" >= ", " < "),
            (" < ", " >= "),
            (" > ", " <= "),
        ] {
            let sides = split_top(c, op.trim());
            if sides.len() == 2
                && !sides[1].starts_with('=')
                && !sides[0].ends_with(['<', '>', '=', '!'])
            {
                return format!("{}{not}{}", sides[0], sides[1]);
            }
        }
    }
    if member_path(c) || one_call(c) {
        format!("!{c}")
    } else {
        format!("!({c})")
    }
}

/// `s` split at each top-level `op` (outside parentheses and brackets),
/// the parts trimmed.
fn split_top<'s>(s: &'s str, op: &str) -> Vec<&'s str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            _ if depth == 0 && b[i..].starts_with(op.as_bytes()) => {
                // `<` is not the start of `<=` or `<<`, nor the end of `->`.
                let next = b.get(i + op.len()).copied();
                let prev = i.checked_sub(1).map(|p| b[p]);
                let longer = op.len() == 1
                    && (matches!(next, Some(b'=' | b'<' | b'>'))
                        || matches!(prev, Some(b'<' | b'>' | b'-' | b'=' | b'!')));
                if !longer {
                    out.push(s[start..i].trim());
                    i += op.len();
                    start = i;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push(s[start..].trim());
    out
}

/// Whether `s` is a name or a member path (`a`, `p->q.r`, `*p` not).
fn member_path(s: &str) -> bool {
    let s = s.replace("->", ".");
    !s.is_empty()
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// Whether `s` is one call, `name(args)` (or `p->f(args)`), whose first
/// `(` closes at its end.
fn one_call(s: &str) -> bool {
    let Some(p) = s.find('(') else {
        return false;
    };
    member_path(&s[..p]) && matching(s.as_bytes(), p, b'(', b')') == Some(s.len() - 1)
}

/// Whether `s` is `( ... )` with the first parenthesis closing at its end.
fn whole_group(s: &str) -> bool {
    s.starts_with('(') && matching(s.as_bytes(), 0, b'(', b')') == Some(s.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(body: &str, marker: &str) -> Vec<String> {
        let code = code_only(body.as_bytes());
        let pos = body.find(marker).expect("marker in body");
        conditions(body.as_bytes(), &code, pos)
    }

    #[test]
    fn the_if_a_call_is_under_and_the_else_of_one() {
        let body = "{\n\tif (!vdev->stats) {\n\t\tvdev->stats = alloc(GFP_KERNEL);\n\t}\n\tif (x == 3)\n\t\ta();\n\telse if (y)\n\t\tb();\n\telse\n\t\tc();\n}";
        assert_eq!(at(body, "alloc"), ["!vdev->stats"]);
        assert_eq!(at(body, "a()"), ["x == 3"]);
        assert_eq!(at(body, "b()"), ["x != 3", "y"]);
        assert_eq!(at(body, "c()"), ["x != 3", "!y"]);
    }

    #[test]
    fn an_early_exit_holds_to_the_end_of_its_block_or_a_label() {
        let body = "{\n\tif (unlikely(!fast(pfn)))\n\t\treturn false;\n\tslow();\n\tif (ret) {\n\t\tlog();\n\t\tgoto out;\n\t}\n\tmore();\nout:\n\tlast();\n}";
        assert_eq!(at(body, "slow"), ["fast(pfn)"]);
        assert_eq!(at(body, "more"), ["fast(pfn)", "!ret"]);
        // A jump to `out` may come with `ret` true (and, read lexically,
        // from anywhere: nothing is kept past a label).
        assert!(at(body, "last").is_empty());
        // A statement that falls through says nothing after it.
        let body = "{\n\tif (a)\n\t\tx();\n\ty();\n}";
        assert!(at(body, "y()").is_empty());
    }

    #[test]
    fn a_loop_body_runs_while_its_test_holds() {
        let body = "{\n\twhile (!list_empty(&q))\n\t\ta();\n\tfor (i = 0; i < n; i++) {\n\t\tb();\n\t}\n\tfor (;;)\n\t\tc();\n\tdo {\n\t\td();\n\t} while (more);\n\te();\n}";
        assert_eq!(at(body, "a()"), ["!list_empty(&q)"]);
        assert_eq!(at(body, "b()"), ["i < n"]);
        assert!(at(body, "c()").is_empty());
        assert!(at(body, "d()").is_empty());
        assert!(at(body, "e()").is_empty());
    }

    #[test]
    fn case_labels_with_fall_through_and_default() {
        let body = "{\n\tswitch (type) {\n\tcase A:\n\tcase B:\n\t\tone();\n\t\tbreak;\n\tcase C: {\n\t\ttwo();\n\t\tbreak;\n\t}\n\tdefault:\n\t\tthree();\n\t}\n}";
        assert_eq!(at(body, "one"), ["type == A || type == B"]);
        assert_eq!(at(body, "two"), ["type == C"]);
        assert_eq!(at(body, "three"), ["type: default"]);
    }

    #[test]
    fn literals_are_shown_and_comments_are_not() {
        let body = "{\n\tif (c == 's' /* string */ && strcmp(n, \"a b\"))\n\t\tx();\n}";
        assert_eq!(at(body, "x()"), ["c == 's' && strcmp(n, \"a b\")"]);
    }

    #[test]
    fn negation_reads_naturally() {
        assert_eq!(negated("!p"), "p");
        assert_eq!(negated("p->q"), "!p->q");
        assert_eq!(negated("!(a && b)"), "a && b");
        assert_eq!(negated("a == B"), "a != B");
        assert_eq!(negated("a && b"), "!(a && b)");
        assert_eq!(negated("f(x)"), "!f(x)");
        assert_eq!(negated("f(x) || !g(y)"), "!f(x) && g(y)");
        assert_eq!(negated("!size || last < phys"), "size && last >= phys");
        assert_eq!(negated("(a <= b)"), "a > b");
        assert_eq!(negated("p->n < 2"), "p->n >= 2");
        assert_eq!(negated("x << 2"), "!(x << 2)");
        assert_eq!(negated("a == b || c && d"), "a != b && !(c && d)");
    }
}
