//! Branch conditions as keys: the normalised text the flow correlates two
//! tests by (`cond_key`), what a condition says of a parameter
//! (`param_truth`), its top-level `&&` and `||` parts, and the constant a
//! stub returns (`constant_return`). Shared by the tree-sitter walk
//! ([`crate::extract`]) and the lexical reader ([`crate::lexical`]).

use crate::extract::plausible_function_name;
use crate::facts::Param;

/// A branch condition the flow can correlate with another test of it: the
/// text without outer parentheses, `likely()`/`unlikely()` and whitespace,
/// and whether it was negated. Only conditions without assignments or side
/// effects, and without calls other than one plain call as the whole
/// condition: `shared`, `!ovr`, `phba->sli_rev == LPFC_SLI_REV4`,
/// `!btrfs_is_subpage(fs_info,folio->mapping)`.
pub(crate) fn cond_key(t: &str) -> Option<(String, bool)> {
    let mut t: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    let mut neg = false;
    loop {
        let before = t.len();
        if let Some(r) = t.strip_prefix('!') {
            neg = !neg;
            t = r.to_string();
        }
        // Branch hints, and the warnings that return their condition's
        // truth (`if (WARN_ON_ONCE(!p)) return;`).
        for w in [
            "likely(",
            "unlikely(",
            "WARN_ON(",
            "WARN_ON_ONCE(",
            "WARN_ON_SMP(",
        ] {
            if let Some(r) = t
                .strip_prefix(w)
                .and_then(|r| r.strip_suffix(')'))
                .filter(|r| balanced(r))
            {
                t = r.to_string();
            }
        }
        if t.starts_with('(') && t.ends_with(')') && balanced(&t[1..t.len() - 1]) {
            t = t[1..t.len() - 1].to_string();
        }
        if t.len() == before {
            break;
        }
    }
    // `IS_ENABLED(CONFIG_X)` and its kin are constants of the build: two
    // tests of one have one truth (`if (!IS_ENABLED(X)) local_irq_enable();
    // ... if (IS_ENABLED(X)) local_irq_enable();` enables on every path).
    for w in crate::preproc::CONFIG_TESTS {
        let inner = t
            .strip_prefix(w)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'));
        if let Some(sym) = inner.filter(|i| {
            i.starts_with("CONFIG_") && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }) {
            return Some((format!("{w}.{sym}"), neg));
        }
    }
    let ok = !t.is_empty()
        && t.len() <= 200
        && t.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'-' | b'>' | b'.' | b'=' | b'!' | b'&' | b'|' | b'<'
                )
        })
        && !t.contains("++")
        && !t.contains("--")
        && t.bytes().any(|b| b.is_ascii_alphabetic())
        && t.match_indices('=').all(|(i, _)| {
            let b = t.as_bytes();
            let prev = if i > 0 { b[i - 1] } else { 0 };
            let next = b.get(i + 1).copied().unwrap_or(0);
            matches!(prev, b'=' | b'!' | b'<' | b'>') || next == b'='
        });
    if ok {
        return Some((t, neg));
    }
    call_key(&t).then_some((t, neg))
}

/// Whether a [`cond_key`] is a configuration test (`IS_ENABLED.CONFIG_X`):
/// a constant of the build, the same truth wherever it is tested.
pub(crate) fn is_config_key(k: &str) -> bool {
    k.split_once(".CONFIG_")
        .is_some_and(|(w, _)| crate::preproc::CONFIG_TESTS.contains(&w))
}

/// Whether a condition is one plain call, `f(a, b->c)` (whitespace
/// removed): its truth is what `f` returned, which the graph can decide
/// where `f` returns a constant (a configuration stub `return false;`).
/// Arguments with calls, assignments or side effects are not plain.
fn call_key(t: &str) -> bool {
    let Some((name, rest)) = t.split_once('(') else {
        return false;
    };
    let Some(args) = rest.strip_suffix(')') else {
        return false;
    };
    t.len() <= 200
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && plausible_function_name(name)
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !matches!(name, "sizeof" | "likely" | "unlikely" | "defined")
        && args.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b',' | b'-' | b'>' | b'.' | b'&' | b'*')
        })
        && !args.contains("--")
        && !args.contains(">>")
}

/// The truth of what a function returns when its whole body is `return` of
/// a constant (`code` is the body without comments): `{ return false; }`,
/// `{ return 0; }` and `{ return NULL; }` are false, `{ return true; }`
/// and `{ return -ENODEV; }` true. Configuration stubs are written so.
pub(crate) fn constant_return(code: &[u8]) -> Option<bool> {
    if code.len() > 256 {
        return None;
    }
    let t: String = String::from_utf8_lossy(code)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut v = t.strip_prefix("{return")?.strip_suffix(";}")?;
    while v.starts_with('(') && v.ends_with(')') && balanced(&v[1..v.len() - 1]) {
        v = &v[1..v.len() - 1];
    }
    match v {
        "false" | "NULL" => Some(false),
        "true" => Some(true),
        _ => {
            if let Some(errno) = v.strip_prefix('-') {
                let named = errno.starts_with('E')
                    && errno
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
                if named {
                    return Some(true);
                }
            }
            crate::preproc::integer(v.trim_start_matches('-')).map(|n| n != 0)
        }
    }
}

/// The called function's name when `key` is a [`cond_key`] that is one
/// plain call.
pub(crate) fn called_in_key(key: &str) -> Option<&str> {
    key.ends_with(')')
        .then(|| key.split_once('('))
        .flatten()
        .map(|(n, _)| n)
}

/// A condition that is the truth of one of the function's parameters, as
/// (its index, whether the condition holds when the parameter is false):
/// `p`, `!p`, `p != NULL`, `p == NULL` (and with `0`, or the constant
/// first). `gfp_t` parameters are masks, not truths.
pub(crate) fn param_truth(cond: &str, params: &[Param]) -> Option<(u8, bool)> {
    let mut t: String = cond.chars().filter(|c| !c.is_whitespace()).collect();
    while t.starts_with('(') && t.ends_with(')') && balanced(&t[1..t.len() - 1]) {
        t = t[1..t.len() - 1].to_string();
    }
    let (neg, name) = if let Some(r) = t.strip_prefix('!') {
        (true, r.to_string())
    } else {
        let zero = |s: &str| matches!(s, "NULL" | "0");
        match (t.split_once("!="), t.split_once("==")) {
            (Some((a, b)), None) if zero(b) => (false, a.to_string()),
            (Some((a, b)), None) if zero(a) => (false, b.to_string()),
            (None, Some((a, b))) if zero(b) => (true, a.to_string()),
            (None, Some((a, b))) if zero(a) => (true, b.to_string()),
            _ => (false, t.clone()),
        }
    };
    params
        .iter()
        .position(|p| p.name == name && !p.is_gfp && !name.is_empty())
        .filter(|&i| i < 256)
        .map(|i| (i as u8, neg))
}

/// The parts of a condition joined by a top-level `&&`, all true when the
/// condition is (none unless there are two or more, and none for a negated
/// whole `!(A && B)`).
pub(crate) fn conjuncts(t: &str) -> Vec<String> {
    split_top(t, b'&')
}

/// The parts of a condition joined by a top-level `||`, all false when the
/// condition is (none unless there are two or more).
pub(crate) fn disjuncts(t: &str) -> Vec<String> {
    split_top(t, b'|')
}

/// `t` split at its top-level `&&` (`op` b'&') or `||` (b'|'); nothing when
/// the other operator also joins parts at the top level (`||` binds looser
/// than `&&`, so `A && B || C` is no conjunction), or there is one part.
fn split_top(t: &str, op: u8) -> Vec<String> {
    let mut t = t.trim();
    while t.starts_with('(') && t.ends_with(')') && balanced(&t[1..t.len() - 1]) {
        t = t[1..t.len() - 1].trim();
    }
    let b = t.as_bytes();
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'|' if op == b'&' && depth == 0 && b.get(i + 1) == Some(&b'|') => return Vec::new(),
            c if c == op && depth == 0 && b.get(i + 1) == Some(&op) => {
                out.push(t[start..i].to_string());
                i += 2;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if out.is_empty() {
        return out;
    }
    out.push(t[start..].to_string());
    out
}

/// Whether the parentheses of `s` pair up, none closing before it opens.
pub(crate) fn balanced(s: &str) -> bool {
    let mut d = 0i32;
    for c in s.chars() {
        match c {
            '(' => d += 1,
            ')' => {
                d -= 1;
                if d < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    d == 0
}
