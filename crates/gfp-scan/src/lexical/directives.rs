//! The file-level directives and markers the pass reads: includes, renames
//! (`#define a b`), exports and `__releases()` annotations.

use aho_corasick::AhoCorasick;
use std::sync::OnceLock;

use super::ident_end;

/// The last path component of every `#include` in `src`.
pub fn includes(src: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = directives(src, b"include")
        .filter_map(|rest| {
            let rest = rest.trim_ascii();
            if rest.len() < 2 {
                return None;
            }
            let inner = &rest[1..];
            let end = inner
                .iter()
                .position(|&b| b == b'"' || b == b'>')
                .unwrap_or(inner.len());
            let path = &inner[..end];
            let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
            Some(String::from_utf8_lossy(base).into_owned())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The rest of the line after the directive `word` (`include`, `define`),
/// for each line of `text` that is `#word ...` (blanks allowed around the
/// `#`).
fn directives<'a>(text: &'a [u8], word: &'static [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    memchr::memmem::find_iter(text, word).filter_map(move |at| {
        // Back over blanks to the `#`, and from it to the line's start.
        let mut i = at;
        while i > 0 && matches!(text[i - 1], b' ' | b'\t') {
            i -= 1;
        }
        if i == 0 || text[i - 1] != b'#' {
            return None;
        }
        i -= 1;
        while i > 0 && matches!(text[i - 1], b' ' | b'\t') {
            i -= 1;
        }
        if i > 0 && text[i - 1] != b'\n' {
            return None;
        }
        let start = at + word.len();
        let end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |e| start + e);
        Some(&text[start..end])
    })
}

/// The paths of the `#include "..."` lines of `src`, as written.
pub fn local_includes(src: &[u8]) -> Vec<String> {
    directives(src, b"include")
        .filter_map(|rest| {
            let inner = rest.trim_ascii().strip_prefix(b"\"")?;
            let end = inner.iter().position(|&b| b == b'"')?;
            Some(String::from_utf8_lossy(&inner[..end]).into_owned())
        })
        .collect()
}

/// The object-like macros of `code` that stand for another identifier
/// (`#define ieee80211_rx ieee80211_rx_rsl`), for names with a lower-case
/// letter (functions, not constants); a name also defined otherwise, or
/// renamed two ways, is left out.
pub fn renames(code: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut other: std::collections::HashSet<String> = std::collections::HashSet::new();
    for rest in directives(code, b"define") {
        let rest = rest.trim_ascii_start();
        let end = ident_end(rest, 0);
        if end == 0 || !(rest[0].is_ascii_alphabetic() || rest[0] == b'_') {
            continue;
        }
        let name = &rest[..end];
        let value = rest[end..].trim_ascii();
        let is_ident = !value.is_empty()
            && (value[0].is_ascii_alphabetic() || value[0] == b'_')
            && ident_end(value, 0) == value.len();
        // `#define f(x) ...` (a parenthesis right after the name) is a
        // function-like macro, not a rename. Both names a function's:
        // `#define foo_handler NULL` is no rename.
        if is_ident
            && rest.get(end) != Some(&b'(')
            && value != name
            && name.iter().any(|b| b.is_ascii_lowercase())
            && value.iter().any(|b| b.is_ascii_lowercase())
        {
            out.push((
                String::from_utf8_lossy(name).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            ));
        } else if name.iter().any(|b| b.is_ascii_lowercase()) {
            other.insert(String::from_utf8_lossy(name).into_owned());
        }
    }
    if out.is_empty() {
        return out;
    }
    out.retain(|(n, _)| !other.contains(n));
    out.sort();
    out.dedup();
    // A name renamed two ways (in the two branches of an `#if`) is neither.
    let twice: std::collections::HashSet<String> = out
        .windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .map(|w| w[0].0.clone())
        .collect();
    out.retain(|(n, _)| !twice.contains(n));
    out
}

/// The names `EXPORT_SYMBOL(name)` and its variants export.
pub fn exports(code: &[u8]) -> Vec<String> {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    let ac = AC.get_or_init(|| AhoCorasick::new(["EXPORT_SYMBOL"]).expect("the needle builds"));
    let mut out = Vec::new();
    for m in ac.find_iter(code) {
        let rest = &code[m.end()..];
        let Some(open) = rest.iter().position(|&b| b == b'(') else {
            continue;
        };
        if open > 24 {
            continue;
        }
        let inner = &rest[open + 1..];
        let name: Vec<u8> = inner
            .iter()
            .copied()
            .skip_while(|b| b.is_ascii_whitespace())
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .collect();
        if !name.is_empty() {
            out.push(String::from_utf8_lossy(&name).into_owned());
        }
    }
    out
}

/// The functions declared or defined with a `__releases(lock)` annotation
/// (sparse's context marker): `(function, lock)` for each. A caller holding
/// that lock has it released by the call. A function also marked
/// `__acquires(lock)` drops the lock inside and takes it again before it
/// returns (`_ep_nuke()`): the caller holds it again after the call, so it
/// is not one of them.
pub fn releases(code: &[u8]) -> Vec<(String, String)> {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    let ac = AC.get_or_init(|| AhoCorasick::new(["__releases("]).expect("the needle builds"));
    let mut out = Vec::new();
    for m in ac.find_iter(code) {
        // The argument, up to its closing parenthesis.
        let mut depth = 1usize;
        let mut end = m.end();
        while end < code.len() && depth > 0 {
            match code[end] {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b';' | b'{' => break,
                _ => {}
            }
            end += 1;
        }
        if depth != 0 || end == 0 {
            continue;
        }
        let lock: String = String::from_utf8_lossy(&code[m.end()..end - 1])
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '&'))
            .collect();
        // The other annotations of the same declaration: up to its body or
        // its `;` after, back to the parameter list before.
        let after_end = code[end..]
            .iter()
            .position(|&b| b == b'{' || b == b';')
            .map_or(code.len(), |p| end + p);
        let before_start = code[..m.start()]
            .iter()
            .rposition(|&b| b == b';' || b == b'}' || b == b'{')
            .map_or(0, |p| p + 1);
        let retakes = |text: &[u8]| {
            memchr::memmem::find_iter(text, b"__acquires(").any(|at| {
                let arg = &text[at + b"__acquires(".len()..];
                let close = arg.iter().position(|&b| b == b')').unwrap_or(arg.len());
                let other: String = String::from_utf8_lossy(&arg[..close])
                    .chars()
                    .filter(|c| !c.is_whitespace() && !matches!(c, '(' | '&'))
                    .collect();
                other == lock
            })
        };
        if retakes(&code[end..after_end]) || retakes(&code[before_start..m.start()]) {
            continue;
        }
        // Backwards over the parameter list to the function's name.
        let mut i = m.start();
        while i > 0 && code[i - 1].is_ascii_whitespace() {
            i -= 1;
        }
        if i == 0 || code[i - 1] != b')' {
            continue;
        }
        let mut depth = 0usize;
        let mut j = i;
        while j > 0 {
            j -= 1;
            match code[j] {
                b')' => depth += 1,
                b'(' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                b';' | b'{' | b'}' => break,
                _ => {}
            }
        }
        if depth != 0 {
            continue;
        }
        let mut k = j;
        while k > 0 && code[k - 1].is_ascii_whitespace() {
            k -= 1;
        }
        let mut start = k;
        while start > 0 && (code[start - 1].is_ascii_alphanumeric() || code[start - 1] == b'_') {
            start -= 1;
        }
        if start < k && !lock.is_empty() {
            out.push((String::from_utf8_lossy(&code[start..k]).into_owned(), lock));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_and_define_directives() {
        let src = b"#include <linux/slab.h>\n#  include \"ieee80211/ieee.h\"\n\t# include \"../x.h\"\nint include = 1; /* not #include \"no.h\" */\n#define ieee80211_rx ieee80211_rx_rsl\n#define FOO_MAX 4\n#define handler NULL\n#define f(x) g(x)\n#define twice a\n#define twice b\n#define same same\n";
        assert_eq!(
            includes(src),
            vec![
                "ieee.h".to_string(),
                "slab.h".to_string(),
                "x.h".to_string()
            ]
        );
        assert_eq!(local_includes(src), vec!["ieee80211/ieee.h", "../x.h"]);
        // Only identifier-for-identifier renames of lower-case names, and
        // a name defined once.
        assert_eq!(
            renames(src),
            vec![("ieee80211_rx".to_string(), "ieee80211_rx_rsl".to_string())]
        );
        assert!(renames(b"").is_empty());
        assert!(local_includes(b"#include \"unterminated\n").is_empty());
    }
}
