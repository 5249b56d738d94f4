//! A fast lexical pass over a file, before any parsing: where each function
//! definition is, and which of them can matter to the rules.
//!
//! Most kernel functions take no lock, open no scope, register no callback
//! and mention no gfp mask: their only part in the analysis is the calls
//! they make, which link the call graph. For those the pass reads the calls
//! directly from the tokens (names, lines, arguments), and the parser never
//! sees them: their text is blanked (newlines kept, so lines stay true)
//! before tree-sitter parses what is left. That is most of the bytes of a
//! kernel tree, and parsing is most of the scan's time.
//!
//! The pass relies on the kernel's own style where C alone does not say
//! enough: a function's closing brace is the only `}` in column 0.

use aho_corasick::AhoCorasick;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::facts::{Call, CaseLabels, Function, IndirectCall, Param, SwitchOn};
use crate::vocab::LockClass;

/// A top-level region of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// Where its first token starts.
    pub start: usize,
    /// The `{` that opens its body.
    pub open: usize,
    /// One past its closing `}`.
    pub end: usize,
    /// What it is.
    pub kind: RegionKind,
}

/// What a braced top-level region is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// A function definition.
    Function,
    /// An initialiser (`= { ... }`).
    Initializer,
    /// Anything else (a type definition).
    Other,
}

/// Words whose presence makes a function matter to the rules: lock and
/// scope operations, masks, registrations, guard macros.
const NEEDLES: &[&str] = &[
    // scopes (a function that only passes masks is read lexically, its
    // gfp_t locals included)
    "memalloc",
    "PF_MEMALLOC",
    "current_restore_flags",
    // atomic sections (see vocab::lock_op: every name there contains one)
    "spin_",
    "read_lock",
    "read_unlock",
    "write_lock",
    "write_unlock",
    "read_trylock",
    "write_trylock",
    "seqlock",
    "sequnlock",
    "xa_lock",
    "xa_unlock",
    "xas_lock",
    "xas_unlock",
    "task_lock",
    "task_unlock",
    "local_lock",
    "local_unlock",
    "lock_sock_fast",
    "bl_lock",
    "bl_unlock",
    "rq_lock",
    "rq_unlock",
    "raw_lock",
    "raw_unlock",
    "local_irq",
    "local_bh",
    "preempt",
    "get_cpu",
    "pte_offset_map_lock",
    "netif_tx_",
    "netif_addr_",
    "kmap_atomic",
    "kunmap_atomic",
    "lock_task_sighand",
    "pmd_lock",
    "pud_lock",
    "pte_lock",
    "pte_unmap_unlock",
    "put_cpu",
    "rcu_read",
    "guard",
    // registrations (see vocab::registration)
    "request_irq",
    "request_threaded_irq",
    "request_any_context_irq",
    "request_percpu",
    "request_nmi",
    "timer_setup",
    "setup_timer",
    "DEFINE_TIMER",
    "hrtimer",
    "function",
    "tasklet",
    "TASKLET",
    "call_rcu",
    "irq_work",
    "IRQ_WORK",
    "smp_call_function",
    "on_each_cpu",
    "CSD_INIT",
    "INIT_CSD",
    "napi_add",
    "stop_machine",
    "stop_core",
    "usb_fill_",
    "waitqueue_func",
    "WAIT_FUNC",
    "open_softirq",
    "irq_poll_init",
    "cpuhp_setup_state",
    "alarm_init",
    "dma_fence_add_callback",
    "register_nmi_handler",
    "perf_event_create_kernel_counter",
    "register_trace",
    "tracepoint_probe_register",
    "bi_end_io",
    // atomic notifier chains (see vocab::registration)
    "atomic_notifier_chain_register",
    "register_die_notifier",
    "inet6addr_notifier",
    "netevent_notifier",
    "switchdev_notifier",
    "keyboard_notifier",
    "vt_notifier",
    "dcbevent_notifier",
    "register_restart_handler",
];

fn needles() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| AhoCorasick::new(NEEDLES).expect("the needles build"))
}

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

/// What `switch (cond)` tests, when the function's callers can decide which
/// case runs: one of its `params`, a member path, or the characters of a
/// string parameter that a pointer walks (`for (p = fmt; *p; p++)` in
/// `body`, the function's text).
pub fn switch_subject(cond: &str, params: &[Param], body: &[u8]) -> Option<SwitchOn> {
    let mut t: String = cond.chars().filter(|c| !c.is_whitespace()).collect();
    while t.starts_with('(') && t.ends_with(')') && t.len() >= 2 {
        t = t[1..t.len() - 1].to_string();
    }
    let param = |name: &str| {
        params
            .iter()
            .position(|p| p.name == name && !p.is_gfp)
            .filter(|&i| i < 256)
            .map(|i| i as u8)
    };
    let is_ident = |v: &str| {
        !v.is_empty()
            && v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if let Some(i) = param(&t) {
        return Some(SwitchOn::Param(i));
    }
    if let Some(v) = t.strip_prefix('*') {
        if !is_ident(v) {
            return None;
        }
        if let Some(i) = param(v) {
            return Some(SwitchOn::ParamChar(i));
        }
        // Every assignment of the pointer must start it at one parameter.
        let mut from: Option<u8> = None;
        let vb = v.as_bytes();
        let mut at = 0;
        while let Some(p) = memchr::memmem::find(&body[at..], vb).map(|p| p + at) {
            at = p + vb.len();
            let word = (p == 0 || !(body[p - 1].is_ascii_alphanumeric() || body[p - 1] == b'_'))
                && ident_end(body, p) == at;
            let eq = skip_blank(body, at);
            if !word || body.get(eq) != Some(&b'=') || body.get(eq + 1) == Some(&b'=') {
                continue;
            }
            let w = skip_blank(body, eq + 1);
            let we = ident_end(body, w);
            let rhs = std::str::from_utf8(&body[w..we]).unwrap_or_default();
            let after = skip_blank(body, we);
            match (param(rhs), body.get(after)) {
                (Some(i), Some(b';' | b',' | b')')) if from.is_none_or(|f| f == i) => {
                    from = Some(i);
                }
                _ => return None,
            }
        }
        return from.map(SwitchOn::ParamChar);
    }
    let member = (t.contains("->") || t.contains('.'))
        && t.len() <= 80
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'>' | b'.'));
    member.then_some(SwitchOn::Member(t))
}

/// The `case` labels of the switches in a lexically read function's body
/// whose subject its callers can decide (see [`switch_subject`]), given to
/// the calls under them. `code` is the body without comments and literals,
/// `src` the same bytes as written (for the labels), `base` their offset.
fn switch_facts(
    f: &mut Function,
    src: &[u8],
    code: &[u8],
    base: usize,
    line_of: &dyn Fn(usize) -> u32,
) {
    let mut at = 0;
    while let Some(p) = memchr::memmem::find(&code[at..], b"switch").map(|p| p + at) {
        at = p + 6;
        let word = p == 0 || !(code[p - 1].is_ascii_alphanumeric() || code[p - 1] == b'_');
        if !word || ident_end(code, p) != p + 6 {
            continue;
        }
        let open = skip_blank(code, p + 6);
        if code.get(open) != Some(&b'(') {
            continue;
        }
        let Some(close) = matching(code, open, b'(', b')') else {
            continue;
        };
        let cond = String::from_utf8_lossy(&src[base + open + 1..base + close]);
        let Some(on) = switch_subject(&cond, &f.params, code) else {
            continue;
        };
        let lb = skip_blank(code, close + 1);
        if code.get(lb) != Some(&b'{') {
            continue;
        }
        let Some(rb) = matching(code, lb, b'{', b'}') else {
            continue;
        };
        for (from, to, labels) in case_segments(src, code, base, lb + 1, rb) {
            let (l0, l1) = (line_of(base + from), line_of(base + to));
            for c in &mut f.calls {
                if (l0..=l1).contains(&c.line) {
                    c.case_labels = labels.clone().map(|labels| {
                        Box::new(CaseLabels {
                            on: on.clone(),
                            labels,
                        })
                    });
                }
            }
        }
    }
}

/// The cases of a switch body `code[from..to]`: each one's stretch and its
/// labels with those of the cases that fall through into it (`None` from a
/// `default:` on, which any value may reach).
fn case_segments(
    src: &[u8],
    code: &[u8],
    base: usize,
    from: usize,
    to: usize,
) -> Vec<(usize, usize, Option<Vec<String>>)> {
    // Labels at the switch's own depth: (start of `case`, end of `:`, label).
    let mut marks: Vec<(usize, usize, Option<String>)> = Vec::new();
    let (mut i, mut depth) = (from, 0i32);
    while i < to {
        let b = code[i];
        match b {
            b'{' | b'(' => depth += 1,
            b'}' | b')' => depth -= 1,
            _ => {}
        }
        if depth == 0 && (b.is_ascii_alphabetic() || b == b'_') {
            let e = ident_end(code, i);
            let word = &code[i..e];
            let first = i == 0 || !(code[i - 1].is_ascii_alphanumeric() || code[i - 1] == b'_');
            if first && (word == b"case" || word == b"default") {
                let Some(colon) = code[e..to].iter().position(|&c| c == b':').map(|c| c + e) else {
                    break;
                };
                let label = (word == b"case").then(|| {
                    String::from_utf8_lossy(&src[base + e..base + colon])
                        .trim()
                        .to_string()
                });
                marks.push((i, colon + 1, label));
                i = colon + 1;
                continue;
            }
            i = e;
            continue;
        }
        i += 1;
    }
    let mut out = Vec::new();
    let mut labels: Option<Vec<String>> = Some(Vec::new());
    let mut falls = false;
    for (k, (_, start, label)) in marks.iter().enumerate() {
        let end = marks.get(k + 1).map_or(to, |m| m.0);
        // A case that does not fall into this one: its labels start over
        // (after a `default:` they stay unknown).
        if !falls && labels.is_some() {
            labels = Some(Vec::new());
        }
        match (label, &mut labels) {
            (Some(l), Some(v)) if v.len() < crate::facts::MAX_CASE_LABELS => v.push(l.clone()),
            _ => labels = None,
        }
        let seg = &code[*start..end];
        falls = !ends_case(seg);
        out.push((*start, end, labels.clone().filter(|v| !v.is_empty())));
    }
    out
}

/// Whether a case's statements end it (`break;`, `return ...;`, `goto`,
/// `continue;`) rather than fall through into the next case.
fn ends_case(seg: &[u8]) -> bool {
    let t = seg.trim_ascii_end();
    let Some(body) = t.strip_suffix(b";") else {
        return false;
    };
    // The last statement: after the previous `;`, `{`, `}` or `:`.
    let start = body
        .iter()
        .rposition(|&b| matches!(b, b';' | b'{' | b'}' | b':'))
        .map_or(0, |p| p + 1);
    let stmt = body[start..].trim_ascii_start();
    let kw = &stmt[..ident_end(stmt, 0)];
    matches!(kw, b"break" | b"return" | b"goto" | b"continue")
}

/// Whether no variable a branch condition reads (`shared`, `phba->sli_rev`)
/// is assigned, incremented or has its address taken in `body`: then two
/// tests of the condition in one call of the function agree.
pub fn never_assigned(cond: &str, body: &[u8]) -> bool {
    let c = cond.as_bytes();
    let mut atoms: Vec<&[u8]> = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if !(c[i].is_ascii_alphabetic() || c[i] == b'_') {
            i += 1;
            continue;
        }
        let start = i;
        loop {
            i = ident_end(c, i);
            if c[i..].starts_with(b"->") {
                i += 2;
            } else if c[i..].starts_with(b".") {
                i += 1;
            } else {
                break;
            }
        }
        let atom = &c[start..i];
        // Upper-case words are constants (LPFC_SLI_REV4, GFP_KERNEL).
        if atom.iter().any(|b| b.is_ascii_lowercase()) {
            atoms.push(atom);
        }
    }
    !atoms.is_empty() && atoms.iter().all(|a| !assigned_in(a, body))
}

fn assigned_in(atom: &[u8], body: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = memchr::memmem::find(&body[from..], atom).map(|p| p + from) {
        from = p + 1;
        let end = p + atom.len();
        let before = if p > 0 { body[p - 1] } else { b' ' };
        if before.is_ascii_alphanumeric() || before == b'_' || before == b'.' || before == b'>' {
            continue;
        }
        if body
            .get(end)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
        {
            continue;
        }
        let mut r = end;
        while r < body.len() && body[r].is_ascii_whitespace() {
            r += 1;
        }
        let post = &body[r..];
        // `&c->lock`, `++c->n`, `c->n = 0`: the operator applies to the
        // member (or element), and `c` itself is left as it was.
        if post.starts_with(b"->") || post.starts_with(b".") || post.starts_with(b"[") {
            continue;
        }
        let mut q = p;
        while q > 0 && body[q - 1].is_ascii_whitespace() {
            q -= 1;
        }
        let pre = &body[..q];
        if pre.ends_with(b"&") && !pre.ends_with(b"&&")
            || pre.ends_with(b"++")
            || pre.ends_with(b"--")
        {
            return true;
        }
        let assigns = (post.starts_with(b"=") && !post.starts_with(b"=="))
            || post.starts_with(b"++")
            || post.starts_with(b"--")
            || [b"+=", b"-=", b"|=", b"&=", b"^=", b"*=", b"/=", b"%="]
                .iter()
                .any(|op| post.starts_with(*op))
            || post.starts_with(b"<<=")
            || post.starts_with(b">>=");
        if assigns {
            return true;
        }
    }
    false
}

/// A function of the file that takes a lock and returns with it held (`static
/// void ath_txq_lock(...) { spin_lock_bh(&txq->axq_lock); }`), or releases,
/// on every path, a lock it does not take: its caller's (`wake_futex_pi()`
/// drops the `wait_lock` that `futex_unlock_pi()` took). A call of it opens
/// or ends the caller's section as the lock call itself would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHelper {
    /// The function's name.
    pub function: String,
    /// The lock call it makes (`raw_spin_unlock_irq`).
    pub op: String,
    /// Whether it takes the lock (else it releases it).
    pub takes: bool,
    /// The class taken or released.
    pub class: LockClass,
    /// The lock as written in the function (empty for a class without
    /// one), in terms of its parameters.
    pub lock: String,
    /// Its parameters' names, in order, to put the caller's arguments in
    /// their place.
    pub params: Vec<String>,
}

/// A function body's calls that could matter to its callers' locks, read
/// once: (position, callee, arguments, whether at the outermost level as
/// a statement of its own).
struct Body<'c> {
    name: String,
    params: Vec<String>,
    text: &'c [u8],
    first_return: usize,
    calls: Vec<BodyCall>,
}

/// The classes a function may take and may release, anywhere.
type MayLock = (Vec<LockClass>, Vec<LockClass>);

/// A call in a body: (position, callee, arguments, whether at the
/// outermost level as a statement of its own).
type BodyCall = (usize, String, Vec<String>, bool);

/// The file's [`LockHelper`]s: functions whose body makes a lock or
/// release call at its outermost level with no `return` before it, and no
/// call of the other kind (nor a trylock) of that class anywhere. A call of
/// another helper of the file counts as the lock call it stands for
/// (`scx_task_iter_stop()` releases through `scx_task_iter_unlock()`), to a
/// fixed point.
///
/// `matters` says, per region, whether [`matters`] holds for its text.
pub fn lock_helpers(code: &[u8], regions: &[Region], matters: &[bool]) -> Vec<LockHelper> {
    // Only the functions that make a lock call, and those that call them
    // (to a few levels), can be wrappers or disqualify one: most files
    // have none.
    if !matters.contains(&true) {
        return Vec::new();
    }
    let (functions, mut wanted): (Vec<(&Region, &[u8])>, Vec<bool>) = regions
        .iter()
        .zip(matters)
        .filter(|(r, _)| r.kind == RegionKind::Function)
        .map(|(r, &m)| {
            (
                (
                    r,
                    &code[r.open + 1..r.end.saturating_sub(1).max(r.open + 1)],
                ),
                m,
            )
        })
        .unzip();
    // The names of the wanted functions (read from their heads only when
    // wanted: most functions of a file are not).
    let name_of = |r: &Region| head_name(&code[r.start..r.open]);
    let mut relevant: HashSet<&str> = HashSet::new();
    for _level in 0..3 {
        relevant.extend(
            functions
                .iter()
                .zip(&wanted)
                .filter(|(_, w)| **w)
                .filter_map(|((r, _), _)| name_of(r)),
        );
        let names: Vec<&str> = relevant.iter().copied().collect();
        let Ok(ac) = AhoCorasick::new(&names) else {
            break;
        };
        let mut grew = false;
        for (i, (_, body)) in functions.iter().enumerate() {
            if !wanted[i] && ac.is_match(body) {
                wanted[i] = true;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    let mut bodies: Vec<Body<'_>> = Vec::new();
    for (i, (_, text)) in functions.iter().enumerate() {
        if !wanted[i] {
            continue;
        }
        let Some((name, params)) =
            head_name_and_params(&code[functions[i].0.start..functions[i].0.open])
        else {
            continue;
        };
        let (first_return, calls) = outer_calls(text, &relevant);
        bodies.push(Body {
            name,
            params,
            text,
            first_return,
            calls,
        });
    }
    // What each function of the file may take or release anywhere,
    // through the file's other functions too: a wrapper that takes a lock
    // and calls one that may drop it is no lock wrapper
    // (`kvm_update_masterclock()` starts and ends a pvclock update).
    let mut may: HashMap<&str, MayLock> = HashMap::new();
    for body in &bodies {
        let entry = may.entry(body.name.as_str()).or_default();
        for (_, name, _, _) in &body.calls {
            match crate::vocab::lock_op(name) {
                Some(crate::vocab::LockOp::Acquire(c)) => entry.0.push(c),
                Some(crate::vocab::LockOp::Release(c)) => entry.1.push(c),
                _ => {}
            }
        }
    }
    for _round in 0..4 {
        let mut changed = false;
        for body in &bodies {
            let mut add: MayLock = Default::default();
            for (_, name, _, _) in &body.calls {
                if let Some((t, r)) = may.get(name.as_str()) {
                    add.0.extend(t);
                    add.1.extend(r);
                }
            }
            let entry = may.entry(body.name.as_str()).or_default();
            for c in add.0 {
                if !entry.0.contains(&c) {
                    entry.0.push(c);
                    changed = true;
                }
            }
            for c in add.1 {
                if !entry.1.contains(&c) {
                    entry.1.push(c);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut out: Vec<LockHelper> = Vec::new();
    // Rounds: a helper found in one may make its callers helpers in the next.
    for _round in 0..4 {
        let before = out.len();
        for body in &bodies {
            if out.iter().any(|h| h.function == body.name) {
                continue;
            }
            let found = helper_effects(body, &out, &may);
            for (op, takes, class, lock) in found {
                out.push(LockHelper {
                    function: body.name.clone(),
                    op,
                    takes,
                    class,
                    lock,
                    params: body.params.clone(),
                });
            }
        }
        if out.len() == before {
            break;
        }
    }
    out
}

/// The calls of a function body: (position, callee, arguments, whether it
/// is at the outermost level and a statement of its own, not the body of
/// a braceless `if (...)` or `else`), and where its first `return` is.
fn outer_calls(body: &[u8], relevant: &HashSet<&str>) -> (usize, Vec<BodyCall>) {
    let mut depth = 0i32;
    let mut first_return = usize::MAX;
    let mut calls = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'{' {
            depth += 1;
        } else if b == b'}' {
            depth -= 1;
        }
        if !(b.is_ascii_alphabetic() || b == b'_') || (i > 0 && is_word(body[i - 1])) {
            i += 1;
            continue;
        }
        let end = ident_end(body, i);
        let word = &body[i..end];
        if word == b"return" && first_return == usize::MAX {
            first_return = i;
        }
        let after = end
            + body[end..]
                .iter()
                .take_while(|c| c.is_ascii_whitespace())
                .count();
        let name = std::str::from_utf8(word).unwrap_or("");
        if body.get(after) == Some(&b'(')
            && (relevant.contains(name) || crate::vocab::lock_op(name).is_some())
        {
            let before = body[..i].trim_ascii_end();
            let own_statement =
                before.is_empty() || matches!(before.last(), Some(b';' | b'{' | b'}' | b':'));
            calls.push((
                i,
                name.to_string(),
                arguments(&body[after + 1..]),
                depth == 0 && own_statement,
            ));
        }
        i = end;
    }
    (first_return, calls)
}

/// What a body does to its caller's locks, given the helpers known so far:
/// (lock call, takes, class, lock in the body's parameters' terms).
fn helper_effects(
    body: &Body<'_>,
    known: &[LockHelper],
    may: &HashMap<&str, MayLock>,
) -> Vec<(String, bool, LockClass, String)> {
    use crate::vocab::{keyed, lock_op, LockOp};
    let (text, first_return, calls, params) =
        (body.text, body.first_return, &body.calls, &body.params);
    // Per class: taken anywhere, released anywhere, tried anywhere.
    let mut taken = Vec::new();
    let mut released = Vec::new();
    let mut tried = Vec::new();
    let mut outer = Vec::new();
    for (at, name, args, top) in calls {
        // A callee that may release the class disqualifies a lock wrapper;
        // one that takes and drops locks of its own does not disqualify an
        // unlock wrapper (`wake_futex_pi()` takes other raw spinlocks in
        // the functions it calls).
        if let Some((_, r)) = may.get(name.as_str()) {
            released.extend(r);
        }
        let effects: Vec<(String, bool, LockClass, String)> = match lock_op(name) {
            Some(LockOp::Acquire(c)) => vec![(
                name.clone(),
                true,
                c,
                args.first().cloned().unwrap_or_default(),
            )],
            Some(LockOp::Release(c)) => vec![(
                name.clone(),
                false,
                c,
                args.first().cloned().unwrap_or_default(),
            )],
            Some(LockOp::TryAcquire(c)) => {
                tried.push(c);
                continue;
            }
            None => known
                .iter()
                .filter(|h| h.function == *name)
                .map(|h| {
                    (
                        h.op.clone(),
                        h.takes,
                        h.class,
                        substituted(&h.lock, &h.params, args),
                    )
                })
                .collect(),
        };
        for (op, takes, class, lock) in effects {
            if takes {
                taken.push(class);
            } else {
                released.push(class);
            }
            if *top && *at < first_return {
                outer.push((op, takes, class, lock));
            }
        }
    }
    outer
        .into_iter()
        .filter(|(_, takes, c, lock)| {
            let other = if *takes { &released } else { &taken };
            if other.contains(c) || tried.contains(c) {
                return false;
            }
            // The lock must be the caller's too: reached from a parameter
            // or a global, not from a local the wrapper computed
            // (`krcp = this_cpu_ptr(&krc); raw_spin_lock(&krcp->lock);`).
            let base = lock_base(lock);
            !keyed(*c)
                || base.is_empty()
                || params.iter().any(|p| p == base)
                || !stored_to(base.as_bytes(), text)
        })
        .map(|(op, takes, c, lock)| {
            let lock = if keyed(c) { lock } else { String::new() };
            (op, takes, c, lock)
        })
        .collect()
}

/// A lock written in a callee's terms with the caller's arguments in place
/// of the parameter it starts from (`&ps->wait_lock`, `ps` the second
/// parameter, called with `pi_state`: `&(pi_state)->wait_lock`).
pub(crate) fn substituted(lock: &str, params: &[String], args: &[String]) -> String {
    let start = lock
        .find(|c: char| c.is_ascii_alphabetic() || c == '_')
        .unwrap_or(lock.len());
    let end = start
        + lock[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(lock.len() - start);
    let base = &lock[start..end];
    match params
        .iter()
        .position(|p| p == base)
        .and_then(|i| args.get(i))
    {
        Some(arg) if !base.is_empty() => {
            format!("{}({}){}", &lock[..start], arg.trim(), &lock[end..])
        }
        _ => lock.to_string(),
    }
}

/// Whether `name` is stored to in `body` (`name = ...`): a local the body
/// computes, not one it only reads or takes the address of.
fn stored_to(name: &[u8], body: &[u8]) -> bool {
    memchr::memmem::find_iter(body, name).any(|p| {
        let end = p + name.len();
        if (p > 0 && (is_word(body[p - 1]) || body[p - 1] == b'.' || body[p - 1] == b'>'))
            || body.get(end).is_some_and(|&b| is_word(b))
        {
            return false;
        }
        let rest = body[end..].trim_ascii_start();
        rest.starts_with(b"=") && !rest.starts_with(b"==")
    })
}

/// The arguments of a call whose `(` was just passed, each without
/// whitespace (up to a `;` at most).
pub(crate) fn arguments(rest: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for &b in rest {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => break,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            b';' => break,
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            cur.push(b as char);
        }
        if cur.len() > 200 {
            break;
        }
    }
    if !cur.is_empty() || !out.is_empty() {
        out.push(cur);
    }
    out
}

/// The name a lock expression starts from: `q` in `&q->lock`, `conf` in
/// `conf->hash_locks + hash`.
fn lock_base(lock: &str) -> &str {
    let t = lock.trim_start_matches(|c: char| !(c.is_ascii_alphabetic() || c == '_'));
    let end = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(t.len());
    &t[..end]
}

/// Whether `b` can be part of a C identifier (or a number).
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A definition's name, from its head: the word before the head's first
/// `(`.
fn head_name(head: &[u8]) -> Option<&str> {
    let open = head.iter().position(|&b| b == b'(')?;
    let end = head[..open].trim_ascii_end().len();
    let start = head[..end]
        .iter()
        .rposition(|&b| !is_word(b))
        .map_or(0, |p| p + 1);
    std::str::from_utf8(&head[start..end])
        .ok()
        .filter(|n| !n.is_empty() && !n.as_bytes()[0].is_ascii_digit())
}

/// A definition's name and parameter names, from its head (`static int
/// f(struct x *a, int b)`): the name is the word before the head's first
/// `(`, each parameter's name the last word of its part.
fn head_name_and_params(head: &[u8]) -> Option<(String, Vec<String>)> {
    let name = head_name(head)?;
    let open = head.iter().position(|&b| b == b'(')?;
    let mut depth = 0i32;
    let mut close = None;
    for (k, &b) in head[open..].iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + k);
                    break;
                }
            }
            _ => {}
        }
    }
    let list = &head[open + 1..close?];
    let mut params = Vec::new();
    let mut part_start = 0;
    let mut d = 0i32;
    for k in 0..=list.len() {
        let b = list.get(k).copied().unwrap_or(b',');
        match b {
            b'(' | b'[' => d += 1,
            b')' | b']' => d -= 1,
            b',' if d == 0 => {
                let part = &list[part_start..k];
                let words: Vec<&[u8]> = part
                    .split(|c| !is_word(*c))
                    .filter(|w| !w.is_empty())
                    .collect();
                params.push(
                    words
                        .last()
                        .map(|w| String::from_utf8_lossy(w).into_owned())
                        .unwrap_or_default(),
                );
                part_start = k + 1;
            }
            _ => {}
        }
    }
    Some((name.to_string(), params))
}

/// Where the text registers atomic entry points at file scope
/// (`DEFINE_TIMER`, `DECLARE_TASKLET`, `DEFINE_IRQ_WORK`, an
/// `IRQ_WORK_INIT()` or `CSD_INIT()` initialiser): the offsets of the macro
/// names.
pub fn file_scope_registrations(code: &[u8]) -> impl Iterator<Item = usize> + '_ {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasick::new([
            "DEFINE_TIMER",
            "DECLARE_TASKLET",
            "DEFINE_IRQ_WORK",
            "IRQ_WORK_INIT",
            "CSD_INIT",
        ])
        .expect("the needles build")
    })
    .find_iter(code)
    .map(|m| m.start())
}

/// Whether a function's text can matter to the rules beyond its calls.
pub fn matters(text: &[u8]) -> bool {
    needles().is_match(text)
}

/// The end of the identifier (or number) that starts at `i`.
pub(crate) fn ident_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    i
}

/// A copy of `src` with comments and string and character literals turned
/// into spaces (newlines kept), so that braces and words in them count for
/// nothing.
pub fn code_only(src: &[u8]) -> Vec<u8> {
    let mut out = src.to_vec();
    let n = src.len();
    let mut i = 0;
    while i < n {
        match src[i] {
            b'/' if i + 1 < n && src[i + 1] == b'/' => {
                while i < n && src[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            b'/' if i + 1 < n && src[i + 1] == b'*' => {
                out[i] = b' ';
                out[i + 1] = b' ';
                i += 2;
                while i < n && !(src[i] == b'*' && i + 1 < n && src[i + 1] == b'/') {
                    if src[i] != b'\n' {
                        out[i] = b' ';
                    }
                    i += 1;
                }
                if i < n {
                    out[i] = b' ';
                    if i + 1 < n {
                        out[i + 1] = b' ';
                    }
                    i += 2;
                }
            }
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < n && src[i] != q && src[i] != b'\n' {
                    if src[i] == b'\\' && i + 1 < n {
                        out[i] = b' ';
                        i += 1;
                    }
                    out[i] = b' ';
                    i += 1;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// The braced top-level regions of `code` (a [`code_only`] copy).
pub fn regions(code: &[u8]) -> Vec<Region> {
    let n = code.len();
    let mut out = Vec::new();
    let mut i = 0;
    let mut stmt_start = 0;
    let mut paren = 0i32;
    let mut line_start = true;
    while i < n {
        let c = code[i];
        if line_start && c == b'#' {
            // A preprocessor line (with continuations) ends a statement.
            while i < n && !(code[i] == b'\n' && code[i - 1] != b'\\') {
                i += 1;
            }
            stmt_start = i;
            continue;
        }
        line_start = c == b'\n' || (line_start && (c == b' ' || c == b'\t'));
        match c {
            b'(' => paren += 1,
            b')' => paren -= 1,
            b';' if paren <= 0 => {
                paren = 0;
                stmt_start = i + 1;
            }
            b'{' if paren <= 0 => {
                let head = &code[stmt_start..i];
                let kind = classify(head);
                let end = close(code, i);
                out.push(Region {
                    start: first_token(code, stmt_start, i),
                    open: i,
                    end,
                    kind,
                });
                i = end;
                stmt_start = end;
                paren = 0;
                continue;
            }
            b'}' => stmt_start = i + 1,
            _ => {}
        }
        i += 1;
    }
    out
}

fn first_token(code: &[u8], from: usize, to: usize) -> usize {
    let mut i = from;
    while i < to && code[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn classify(head: &[u8]) -> RegionKind {
    let mut depth = 0;
    for &b in head {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'=' if depth == 0 => return RegionKind::Initializer,
            _ => {}
        }
    }
    let last = head.iter().rev().find(|b| !b.is_ascii_whitespace());
    let has_paren = head.contains(&b'(');
    let first = head
        .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .find(|w| !w.is_empty());
    let typey = !has_paren && matches!(first, Some(b"struct" | b"union" | b"enum"));
    if typey {
        return RegionKind::Other;
    }
    match last {
        Some(b')') if has_paren => RegionKind::Function,
        Some(b) if has_paren && (b.is_ascii_alphanumeric() || *b == b'_') => RegionKind::Function,
        _ => RegionKind::Other,
    }
}

/// The end of the braced body opening at `open`: its matching `}`, or the
/// first `}` in column 0 (the kernel's closing brace) if the count is
/// thrown off by preprocessor branches.
fn close(code: &[u8], open: usize) -> usize {
    let mut depth = 0i32;
    let mut i = open;
    while i < code.len() {
        match code[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                let col0 = i == 0 || code[i - 1] == b'\n';
                if depth == 0 || col0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    code.len()
}

const KEYWORDS: &[&[u8]] = &[
    b"if",
    b"for",
    b"while",
    b"switch",
    b"return",
    b"sizeof",
    b"typeof",
    b"__typeof__",
    b"do",
    b"case",
    b"else",
    b"goto",
    b"defined",
    b"__attribute__",
    b"alignof",
    b"_Alignof",
    b"offsetof",
    b"__builtin_expect",
    b"likely",
    b"unlikely",
    b"ARRAY_SIZE",
    b"container_of",
    b"READ_ONCE",
    b"WRITE_ONCE",
];

/// The `.member = function` pairs of an initialiser, and every name in it
/// (any of which may be a function whose address is taken).
pub fn initializer_names(body: &[u8], ops: &mut Vec<(String, String)>, taken: &mut Vec<String>) {
    let mut i = 0;
    let mut last_member: Option<String> = None;
    while i < body.len() {
        let b = body[i];
        if b.is_ascii_alphabetic() || b == b'_' {
            let st = i;
            i = ident_end(body, i);
            let word = String::from_utf8_lossy(&body[st..i]).into_owned();
            let is_member = st > 0 && body[st - 1] == b'.';
            let mut j = i;
            while j < body.len() && body[j].is_ascii_whitespace() {
                j += 1;
            }
            let ends_value = j >= body.len() || matches!(body[j], b',' | b'}');
            if is_member {
                last_member = Some(word);
            } else if ends_value {
                if let Some(m) = last_member.take() {
                    ops.push((m, word.clone()));
                }
                taken.push(word);
            }
        } else if b.is_ascii_digit() {
            i = ident_end(body, i);
        } else {
            if b == b',' {
                last_member = None;
            }
            i += 1;
        }
    }
}

/// A function that does not matter beyond its calls, read from its tokens.
pub fn light_function(
    src: &[u8],
    code: &[u8],
    r: &Region,
    line_of: &dyn Fn(usize) -> u32,
) -> Option<Function> {
    let head = &code[r.start..r.open];
    // The name: the identifier before the first top-level `(` of the head.
    let p = head.iter().position(|&b| b == b'(')?;
    let mut e = p;
    while e > 0 && head[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    let mut s = e;
    while s > 0 && (head[s - 1].is_ascii_alphanumeric() || head[s - 1] == b'_') {
        s -= 1;
    }
    if s == e {
        return None;
    }
    let name = String::from_utf8_lossy(&head[s..e]).into_owned();
    // A definition starts in column 0; anything else is a statement the
    // brace count misplaced.
    let col0 = r.start == 0 || code[r.start - 1] == b'\n';
    if !col0 || !crate::extract::plausible_function_name(&name) {
        return None;
    }
    let is_static = head[..s]
        .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .any(|w| w == b"static");
    let params = head_params(&head[p..]);
    let returns_bool = !head[..s].contains(&b'*')
        && head[..s]
            .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .any(|w| w == b"bool");
    let mut f = Function {
        name,
        is_static,
        returns_bool,
        line: line_of(r.start + s),
        params,
        ..Function::default()
    };
    let body = &code[r.open..r.end];
    f.returns_constant = crate::extract::constant_return(body);
    let base = r.open;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b.is_ascii_alphabetic() || b == b'_' {
            let st = i;
            i = ident_end(body, i);
            let word = &body[st..i];
            let mut j = i;
            while j < body.len() && (body[j] == b' ' || body[j] == b'\t') {
                j += 1;
            }
            if j < body.len() && body[j] == b'(' && !KEYWORDS.contains(&word) {
                let member =
                    st >= 1 && (body[st - 1] == b'.' || (st >= 2 && &body[st - 2..st] == b"->"));
                let args = split_args(src, code, base + j);
                if member {
                    f.indirect_calls.push(IndirectCall {
                        member: Some(String::from_utf8_lossy(word).into_owned()),
                        args,
                        line: line_of(base + st),
                        sections: Vec::new(),
                        inherited: true,
                        scopes_must: Vec::new(),
                    });
                } else {
                    f.calls.push(Call {
                        callee: String::from_utf8_lossy(word).into_owned(),
                        line: line_of(base + st),
                        args: args.into(),
                        inherited: true,
                        ..Call::default()
                    });
                }
            }
        } else if b.is_ascii_digit() {
            i = ident_end(body, i);
        } else {
            i += 1;
        }
    }
    f.locals = gfp_locals(src, body, base, line_of);
    branch_facts(&mut f, body, base, line_of);
    switch_facts(&mut f, src, body, base, line_of);
    f.shrink();
    Some(f)
}

/// The branch conditions each call of a lexically read function is made
/// under (`if (x->state == A) call();`, its `else`), as the flow records them
/// for parsed functions: conditions on what the body never assigns.
fn branch_facts(f: &mut Function, body: &[u8], base: usize, line_of: &dyn Fn(usize) -> u32) {
    use crate::extract::{cond_key, conjuncts, disjuncts};
    let mut facts: Vec<(usize, usize, String, bool)> = Vec::new();
    let mut at = 0;
    while let Some(p) = memchr::memmem::find(&body[at..], b"if").map(|p| p + at) {
        at = p + 2;
        let word = p == 0 || !(body[p - 1].is_ascii_alphanumeric() || body[p - 1] == b'_');
        if !word || ident_end(body, p) != p + 2 {
            continue;
        }
        let open = skip_blank(body, p + 2);
        if body.get(open) != Some(&b'(') {
            continue;
        }
        let Some(close) = matching(body, open, b'(', b')') else {
            continue;
        };
        let cond = String::from_utf8_lossy(&body[open + 1..close]).into_owned();
        let then_end = stmt_end(body, close + 1);
        let mut keys: Vec<(String, bool)> = cond_key(&cond).into_iter().collect();
        keys.extend(conjuncts(&cond).iter().filter_map(|c| cond_key(c)));
        for (k, neg) in &keys {
            facts.push((close + 1, then_end, k.clone(), !neg));
        }
        let e = skip_blank(body, then_end);
        if body[e..].starts_with(b"else") && ident_end(body, e) == e + 4 {
            if let Some((k, neg)) = cond_key(&cond) {
                facts.push((e + 4, stmt_end(body, e + 4), k, neg));
            }
        } else if returns_at_once(&body[close + 1..then_end]) {
            // `if (!stub(x) || busy) return 0;`: what follows, up to the end
            // of the block or a label a jump could reach, runs with the
            // condition false, and so each part of an `||`.
            let end = block_end(body, then_end);
            let mut parts: Vec<(String, bool)> = cond_key(&cond).into_iter().collect();
            parts.extend(disjuncts(&cond).iter().filter_map(|c| cond_key(c)));
            for (k, neg) in parts {
                facts.push((then_end, end, k, neg));
            }
        }
    }
    // Only conditions on what the body never assigns, each checked once.
    facts.retain(|(_, _, k, _)| never_assigned(k, body));
    if facts.is_empty() {
        return;
    }
    let mut keys: Vec<String> = Vec::new();
    for c in &mut f.calls {
        let Some(pos) = body_offset(body, base, c.line, line_of) else {
            continue;
        };
        for (a, b, k, t) in &facts {
            if !(*a..*b).contains(&pos) {
                continue;
            }
            let i = match keys.iter().position(|x| x == k) {
                Some(i) => i,
                None => {
                    keys.push(k.clone());
                    keys.len() - 1
                }
            };
            if i < 64 && !c.conds.iter().any(|x| x.0 == i as u16) {
                c.conds.push((i as u16, *t));
            }
        }
    }
    f.cond_keys = keys;
}

/// The first offset of the body on the call's line (calls keep only their
/// line): good enough to place a call inside or outside a branch, which
/// kernel style writes on lines of their own.
fn body_offset(
    body: &[u8],
    base: usize,
    line: u32,
    line_of: &dyn Fn(usize) -> u32,
) -> Option<usize> {
    // Binary search over offsets: line_of is monotonic.
    let (mut lo, mut hi) = (0usize, body.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if line_of(base + mid) < line {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    (lo < body.len() && line_of(base + lo) == line).then(|| {
        // The first non-blank byte of that line.
        let mut p = lo;
        while p < body.len() && (body[p] == b' ' || body[p] == b'\t') {
            p += 1;
        }
        p
    })
}

fn skip_blank(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The offset of the bracket closing the one at `open`.
fn matching(b: &[u8], open: usize, o: u8, c: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &x) in b.iter().enumerate().skip(open) {
        if x == o {
            depth += 1;
        } else if x == c {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// The end of the statement starting at (or after blanks from) `i`: a block
/// to its closing brace, anything else to its `;` (or a block it ends with).
fn stmt_end(b: &[u8], i: usize) -> usize {
    let i = skip_blank(b, i);
    if b.get(i) == Some(&b'{') {
        return matching(b, i, b'{', b'}').map_or(b.len(), |e| e + 1);
    }
    let mut depth = 0i32;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'{' if depth == 0 => return matching(b, j, b'{', b'}').map_or(b.len(), |e| e + 1),
            b';' if depth <= 0 => return j + 1,
            b'}' if depth <= 0 => return j,
            _ => {}
        }
        j += 1;
    }
    b.len()
}

/// Whether a statement is a bare `return` (`return -EINVAL;`, `{ return 0; }`).
fn returns_at_once(stmt: &[u8]) -> bool {
    let mut t = crate::preproc::trim_ascii(stmt);
    if let Some(inner) = t.strip_prefix(b"{").and_then(|r| r.strip_suffix(b"}")) {
        t = crate::preproc::trim_ascii(inner);
    }
    t.starts_with(b"return")
        && ident_end(t, 0) == 6
        && t.iter().filter(|&&b| b == b';').count() == 1
        && t.ends_with(b";")
}

/// Where the block holding offset `i` ends (its closing brace), or the
/// first label after `i` (`out:`, `case X:`), which a jump may reach with
/// other truths.
fn block_end(b: &[u8], i: usize) -> usize {
    let mut depth = 0i32;
    let mut j = i;
    let mut line_start = true;
    while j < b.len() {
        match b[j] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth < 0 {
                    return j;
                }
            }
            b'\n' => line_start = true,
            c if line_start && (c.is_ascii_alphabetic() || c == b'_') => {
                line_start = false;
                let w = ident_end(b, j);
                let after = skip_blank(b, w);
                if b.get(after) == Some(&b':') && b.get(after + 1) != Some(&b':') {
                    return j;
                }
                if &b[j..w] == b"case" || &b[j..w] == b"default" {
                    return j;
                }
                j = w;
                continue;
            }
            c if !c.is_ascii_whitespace() => line_start = false,
            _ => {}
        }
        j += 1;
    }
    b.len()
}

/// Whether the body branches on one of the parameters as a whole
/// (`if (nofail)`, `if (!atomic)`, `switch (mode)`): such a function is
/// parsed, so that what each branch does is tied to the parameter's value.
pub fn branches_on_param(f: &Function, body: &[u8]) -> bool {
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let switch = f
        .params
        .iter()
        .filter(|p| !p.is_gfp && !p.name.is_empty())
        .any(|p| {
            memchr::memmem::find(&compact, format!("switch({})", p.name).as_bytes()).is_some()
        });
    if switch {
        return true;
    }
    // `if (p)`, `if (!p)`, `if (p != NULL)`, `if (x && p)`, `if (x || !p)`.
    memchr::memmem::find_iter(&compact, b"if(").any(|at| {
        let word = at == 0 || !(compact[at - 1].is_ascii_alphanumeric() || compact[at - 1] == b'_');
        let Some(close) = word
            .then(|| matching(&compact, at + 2, b'(', b')'))
            .flatten()
        else {
            return false;
        };
        let cond = String::from_utf8_lossy(&compact[at + 3..close]);
        crate::extract::param_truth(&cond, &f.params).is_some()
            || crate::extract::conjuncts(&cond)
                .iter()
                .chain(&crate::extract::disjuncts(&cond))
                .any(|c| crate::extract::param_truth(c, &f.params).is_some())
    })
}

/// The atomic entry points a lexically read body registers by assigning a
/// function to a structure member (`sk->sk_data_ready = conn_ready;`,
/// `d->kp.pre_handler = probe;`), as the parser's walk finds them: (member
/// path as written, function, offset of the assignment in `body`).
pub fn member_registrations(body: &[u8]) -> Vec<(String, String, &'static str, usize)> {
    let mut out = Vec::new();
    for i in memchr::memchr_iter(b'=', body) {
        if i == 0 || body.get(i + 1) == Some(&b'=') {
            continue;
        }
        if matches!(
            body[i - 1],
            b'=' | b'!' | b'<' | b'>' | b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^'
        ) {
            continue;
        }
        // The function assigned: one identifier, then the statement's end.
        let mut j = skip_blank(body, i + 1);
        let st = j;
        j = ident_end(body, j);
        if j == st || body[st].is_ascii_digit() || body.get(skip_blank(body, j)) != Some(&b';') {
            continue;
        }
        // The member path it is assigned to.
        let mut e = i;
        while e > 0 && body[e - 1].is_ascii_whitespace() {
            e -= 1;
        }
        let mut b = e;
        while b > 0
            && (body[b - 1].is_ascii_alphanumeric()
                || matches!(body[b - 1], b'_' | b'.' | b'>' | b'-' | b'[' | b']'))
        {
            b -= 1;
        }
        let lhs = String::from_utf8_lossy(&body[b..e]).into_owned();
        let member = lhs.rsplit(['.', '>']).next().unwrap_or("");
        if member.len() == lhs.len() || member.is_empty() {
            continue;
        }
        let kind = crate::vocab::atomic_member(member, &lhs)
            .filter(|_| !crate::vocab::opted_out(member, &String::from_utf8_lossy(body)));
        if let Some(kind) = kind {
            let f = String::from_utf8_lossy(&body[st..j]).into_owned();
            out.push((lhs.clone(), f, kind, b));
        }
    }
    out
}

/// The name a `struct notifier_block` initialiser declares, from the text
/// before its brace (`static struct notifier_block foo_nb __read_mostly =`).
pub fn notifier_block_name(head: &str) -> Option<&str> {
    if !head.contains("notifier_block") {
        return None;
    }
    head.split('=')
        .next()?
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .rfind(|w| !w.is_empty() && !w.starts_with("__") && !w.bytes().all(|b| b.is_ascii_digit()))
}

/// The notifier blocks a body fills by assignment (`priv->nb.notifier_call =
/// handler;`): (the block's last member, `nb`, and the function).
pub fn notifier_assignments(body: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(body, b"notifier_call") {
        let end = at + "notifier_call".len();
        if at < 2 || ident_end(body, at) != end {
            continue;
        }
        // `base.notifier_call` or `base->notifier_call`.
        let b = if body[at - 1] == b'.' {
            at - 1
        } else if body[at - 2..at] == *b"->" {
            at - 2
        } else {
            continue;
        };
        let mut s = b;
        while s > 0 && (body[s - 1].is_ascii_alphanumeric() || body[s - 1] == b'_') {
            s -= 1;
        }
        let eq = skip_blank(body, end);
        if s == b || body.get(eq) != Some(&b'=') || body.get(eq + 1) == Some(&b'=') {
            continue;
        }
        let st = skip_blank(body, eq + 1);
        let fe = ident_end(body, st);
        if fe == st || body[st].is_ascii_digit() || body.get(skip_blank(body, fe)) != Some(&b';') {
            continue;
        }
        out.push((
            String::from_utf8_lossy(&body[s..b]).into_owned(),
            String::from_utf8_lossy(&body[st..fe]).into_owned(),
        ));
    }
    out
}

/// Names assigned as values (`x->fn = name;`): functions whose address may
/// be taken in a function the lexical pass reads.
pub fn assigned_names(body: &[u8], taken: &mut Vec<String>) {
    let mut i = 0;
    while i + 1 < body.len() {
        if body[i] == b'='
            && body[i + 1] != b'='
            && i > 0
            && !matches!(body[i - 1], b'=' | b'!' | b'<' | b'>')
        {
            let mut j = i + 1;
            while j < body.len() && body[j].is_ascii_whitespace() {
                j += 1;
            }
            let st = j;
            while j < body.len() && (body[j].is_ascii_alphanumeric() || body[j] == b'_') {
                j += 1;
            }
            let mut k = j;
            while k < body.len() && body[k].is_ascii_whitespace() {
                k += 1;
            }
            if j > st
                && !body[st].is_ascii_digit()
                && k < body.len()
                && matches!(body[k], b';' | b',')
            {
                taken.push(String::from_utf8_lossy(&body[st..j]).into_owned());
            }
        }
        i += 1;
    }
}

/// The values assigned to local variables in masks: `gfp_t v = EXPR;` and
/// `v = EXPR;` where EXPR names a gfp flag or mask.
fn gfp_locals(
    src: &[u8],
    body: &[u8],
    base: usize,
    line_of: &dyn Fn(usize) -> u32,
) -> Vec<crate::facts::Local> {
    let mut out = Vec::new();
    let mut level = BodyLevel::default();
    let mut i = 0;
    let mut stmt_start = true;
    while i < body.len() {
        let b = body[i];
        if b.is_ascii_alphabetic() || b == b'_' {
            let st = i;
            i = ident_end(body, i);
            let mut word = &body[st..i];
            let at_start = stmt_start;
            stmt_start = matches!(word, b"else" | b"do");
            let mut j = i;
            let skip_ws = |j: &mut usize| {
                while *j < body.len() && body[*j].is_ascii_whitespace() {
                    *j += 1;
                }
            };
            skip_ws(&mut j);
            if word == b"gfp_t" {
                // `gfp_t name = ...`
                let ns = j;
                while j < body.len() && (body[j].is_ascii_alphanumeric() || body[j] == b'_') {
                    j += 1;
                }
                word = &body[ns..j];
                skip_ws(&mut j);
            } else if !at_start {
                continue;
            }
            let compound = if j + 1 < body.len()
                && (body[j] == b'|' || body[j] == b'&')
                && body[j + 1] == b'='
            {
                let op = body[j] as char;
                j += 1;
                Some(op)
            } else {
                None
            };
            if word.is_empty() || j + 1 >= body.len() || body[j] != b'=' || body[j + 1] == b'=' {
                continue;
            }
            let vs = j + 1;
            let mut depth = 0i32;
            let mut k = vs;
            while k < body.len() {
                match body[k] {
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    b';' | b',' if depth <= 0 => break,
                    _ => {}
                }
                k += 1;
            }
            let raw = String::from_utf8_lossy(&src[base + vs..base + k]);
            let value: Vec<&str> = raw.split_whitespace().collect();
            let value = value.join(" ");
            let guarded = compound.is_some() && {
                // `if (gfp & __GFP_DIRECT_RECLAIM) gfp |= __GFP_NOFAIL;`
                let before = String::from_utf8_lossy(&body[st.saturating_sub(120)..st]);
                let last_if = before.rfind("if");
                last_if.is_some_and(|i| {
                    let cond = &before[i..];
                    !cond.contains(';')
                        && (cond.contains("DIRECT_RECLAIM") || cond.contains("allow_blocking"))
                })
            };
            if !guarded && (value.contains("GFP") || value.contains("gfp")) {
                let var = String::from_utf8_lossy(word).into_owned();
                let value = match compound {
                    Some(op) => format!("{var} {op} ({value})"),
                    None => value,
                };
                out.push(crate::facts::Local {
                    var,
                    value,
                    line: line_of(base + st),
                    always: level.at_body_level(body, st),
                });
            }
            i = k;
        } else {
            if matches!(b, b';' | b'{' | b'}' | b')') {
                stmt_start = true;
            } else if !b.is_ascii_whitespace() {
                stmt_start = false;
            }
            i += 1;
        }
    }
    out
}

/// The brace depth of a body read forwards, counted once.
#[derive(Default)]
struct BodyLevel {
    pos: usize,
    depth: i32,
}

impl BodyLevel {
    /// Whether the statement starting at `st` (at or after the last one
    /// asked about) is one of the body's own: at its first brace depth,
    /// after a `;` or a brace (not the lone statement of a braceless `if`,
    /// `else` or loop).
    fn at_body_level(&mut self, body: &[u8], st: usize) -> bool {
        for &b in &body[self.pos.min(st)..st] {
            match b {
                b'{' => self.depth += 1,
                b'}' => self.depth -= 1,
                _ => {}
            }
        }
        self.pos = self.pos.max(st);
        let prev = body[..st].iter().rev().find(|b| !b.is_ascii_whitespace());
        self.depth == 1 && matches!(prev, Some(b';' | b'{' | b'}'))
    }
}

fn head_params(list: &[u8]) -> Vec<Param> {
    // `(type name, type name)`: the last word of each top-level piece.
    let mut out = Vec::new();
    let mut depth = 0;
    let mut piece = Vec::new();
    for &b in list {
        match b {
            b'(' => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => {
                out.push(param(&piece));
                piece.clear();
                continue;
            }
            _ => {}
        }
        piece.push(b);
    }
    if !piece.iter().all(|b| b.is_ascii_whitespace()) {
        out.push(param(&piece));
    }
    out
}

fn param(piece: &[u8]) -> Param {
    let words: Vec<&[u8]> = piece
        .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .filter(|w| !w.is_empty())
        .collect();
    Param {
        name: words
            .last()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .unwrap_or_default(),
        is_gfp: words.contains(&&b"gfp_t"[..]),
    }
}

/// The arguments of the call whose `(` is at `open`, as written (with
/// whitespace collapsed).
fn split_args(src: &[u8], code: &[u8], open: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = open + 1;
    let mut i = open;
    while i < code.len() {
        match code[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    push_arg(src, start, i, &mut out);
                    break;
                }
            }
            b',' if depth == 1 => {
                push_arg(src, start, i, &mut out);
                start = i + 1;
            }
            b';' => break,
            _ => {}
        }
        i += 1;
    }
    out
}

fn push_arg(src: &[u8], from: usize, to: usize, out: &mut Vec<String>) {
    let s = String::from_utf8_lossy(&src[from..to]);
    let collapsed: Vec<&str> = s.split_whitespace().collect();
    if !collapsed.is_empty() {
        out.push(collapsed.join(" "));
    }
}

#[cfg(test)]
mod tests {

    fn helpers_of(code: &[u8]) -> Vec<LockHelper> {
        let regions = regions(code);
        let matters: Vec<bool> = regions
            .iter()
            .map(|r| matters(&code[r.start..r.end]))
            .collect();
        lock_helpers(code, &regions, &matters)
    }

    #[test]
    fn helpers_that_take_or_release_their_callers_lock() {
        let src = b"static int wake(u32 v, struct pi_state *ps)\n{\n\tint ret = 0;\n\tif (v)\n\t\tgoto out;\n\tret = f(ps);\nout:\n\traw_spin_unlock_irq(&ps->pi_mutex.wait_lock);\n\treturn ret;\n}\n\nstatic void pair(struct d *d)\n{\n\tspin_lock(&d->lock);\n\tspin_unlock(&d->lock);\n}\n\nstatic void early(struct d *d)\n{\n\tif (!d)\n\t\treturn;\n\tspin_unlock(&d->lock);\n}\n\nstatic void nested(struct d *d)\n{\n\tif (d->x) {\n\t\tspin_unlock(&d->lock);\n\t}\n}\n\nstatic struct k *this_lock(unsigned long *flags)\n{\n\tstruct k *k;\n\n\tlocal_irq_save(*flags);\n\tk = this_cpu_ptr(&kk);\n\traw_spin_lock(&k->lock);\n\treturn k;\n}\n\nstatic void braceless(struct d *d)\n{\n\tif (d->x)\n\t\tspin_unlock(&d->lock);\n\telse\n\t\tspin_unlock(&d->lock);\n}\n\nstatic void stop(struct d *d)\n{\n\td->n = 0;\n\twake(0, d);\n}\n\nstatic void irqs_on(unsigned long w)\n{\n\tlocal_irq_enable();\n}\n";
        let code = code_only(src);
        let h = helpers_of(&code);
        let names: Vec<&str> = h.iter().map(|h| h.function.as_str()).collect();
        // `this_lock` disables interrupts for its caller; the spinlock it
        // takes is reached from a local it computed, which is not the
        // caller's to name.
        assert_eq!(names, ["wake", "this_lock", "stop", "irqs_on"]);
        assert_eq!(h[0].lock, "&ps->pi_mutex.wait_lock");
        assert_eq!(h[0].params, ["v", "ps"]);
        assert_eq!(h[0].op, "raw_spin_unlock_irq");
        assert!(!h[0].takes);
        assert_eq!((h[1].op.as_str(), h[1].takes), ("local_irq_save", true));
        // Through `wake()`, in its own terms.
        assert_eq!(h[2].lock, "&(d)->pi_mutex.wait_lock");
        assert!(!h[2].takes);
        assert_eq!(h[3].lock, "");
        let src = b"static void q_lock(struct q *q)\n{\n\tspin_lock_bh(&q->lock);\n}\n\nstatic bool q_try(struct q *q)\n{\n\treturn spin_trylock(&q->lock);\n}\n\nstatic void q_maybe(struct q *q)\n{\n\tif (q->x)\n\t\tspin_lock(&q->lock);\n}\n";
        let code = code_only(src);
        let h = helpers_of(&code);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h[0].takes);
        assert_eq!(
            (h[0].function.as_str(), h[0].op.as_str()),
            ("q_lock", "spin_lock_bh")
        );
    }

    #[test]
    fn a_condition_is_assigned_only_by_writes_of_itself() {
        let body =
            b"if (c) spin_lock(&c->lock); c->n++; ++c->m; c->x = 1; if (c) spin_unlock(&c->lock);";
        assert!(never_assigned("c", body));
        assert!(!never_assigned("c->n", body));
        assert!(!never_assigned("c->x", body));
        assert!(!never_assigned("c", b"if (c) f(&c); if (c) g();"));
        assert!(!never_assigned("c", b"c = next(c);"));
        assert!(!never_assigned("c", b"c++;"));
        assert!(never_assigned("c", b"if (a && c) f(c[0]);"));
    }

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

    const SRC: &str = "/* { comment */\nstatic const struct ops o = {\n\t.open = f,\n};\n\nstatic int __init light(int a, gfp_t g)\n{\n\tfoo(a, \"}\");\n\tif (x)\n\t\tbar(b->c(1));\n\treturn 0;\n}\n\nstruct s {\n\tint x;\n};\n";

    #[test]
    fn regions_skip_comments_and_strings() {
        let code = code_only(SRC.as_bytes());
        let rs = regions(&code);
        let kinds: Vec<_> = rs.iter().map(|r| r.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                RegionKind::Initializer,
                RegionKind::Function,
                RegionKind::Other
            ]
        );
        assert_eq!(&SRC[rs[1].start..rs[1].start + 6], "static");
        assert!(SRC[..rs[1].end].ends_with("return 0;\n}"));
    }

    #[test]
    fn switch_subjects_callers_can_decide() {
        let params = |names: &[&str]| -> Vec<Param> {
            names
                .iter()
                .map(|n| Param {
                    name: n.to_string(),
                    is_gfp: false,
                })
                .collect()
        };
        let ps = params(&["pdu", "fmt", "mode"]);
        assert_eq!(
            switch_subject("( mode )", &ps, b""),
            Some(SwitchOn::Param(2))
        );
        assert_eq!(
            switch_subject("*fmt", &ps, b""),
            Some(SwitchOn::ParamChar(1))
        );
        let walk = b"for (p = fmt; *p; p++) switch (*p) {}";
        assert_eq!(
            switch_subject("*p", &ps, walk),
            Some(SwitchOn::ParamChar(1))
        );
        // A pointer that also starts somewhere else decides nothing.
        let two = b"p = fmt; p = other; switch (*p) {}";
        assert_eq!(switch_subject("*p", &ps, two), None);
        assert_eq!(
            switch_subject("msg->hbm_cmd", &ps, b""),
            Some(SwitchOn::Member("msg->hbm_cmd".into()))
        );
        assert_eq!(switch_subject("f(x)", &ps, b""), None);
    }

    #[test]
    fn case_segments_follow_fall_through_and_default() {
        let src = b"{ case A: case B: x(); break; case C: y(); case D: z(); return 0; default: w(); case E: v(); }";
        let segs = case_segments(src, src, 0, 1, src.len() - 1);
        let labels: Vec<Option<Vec<String>>> = segs.into_iter().map(|s| s.2).collect();
        let v = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            labels,
            vec![
                v(&["A"]),
                v(&["A", "B"]),
                v(&["C"]),
                v(&["C", "D"]),
                None,
                None
            ]
        );
    }

    #[test]
    fn light_functions_keep_their_calls() {
        let src = SRC.as_bytes();
        let code = code_only(src);
        let rs = regions(&code);
        let line_of = |pos: usize| src[..pos].iter().filter(|&&b| b == b'\n').count() as u32 + 1;
        let f = light_function(src, &code, &rs[1], &line_of).unwrap();
        assert_eq!(f.name, "light");
        assert!(f.is_static);
        assert_eq!(f.line, 6);
        assert_eq!(f.params.len(), 2);
        assert!(f.params[1].is_gfp && f.params[1].name == "g");
        let calls: Vec<(&str, u32)> = f
            .calls
            .iter()
            .map(|c| (c.callee.as_str(), c.line))
            .collect();
        assert_eq!(calls, [("foo", 8), ("bar", 10)]);
        assert_eq!(f.calls[0].args, ["a", "\"}\""]);
        assert_eq!(f.indirect_calls.len(), 1);
        assert_eq!(f.indirect_calls[0].member.as_deref(), Some("c"));
    }

    #[test]
    fn gfp_locals_are_read_lexically() {
        let src = b"static void *f(bool atomic)\n{\n\tgfp_t gfp = atomic ? GFP_ATOMIC :\n\t\tGFP_KERNEL;\n\tint n = 3;\n\tif (x)\n\t\tmask = GFP_NOFS;\n\treturn kmalloc(n, gfp);\n}\n";
        let code = code_only(src);
        let rs = regions(&code);
        let f = light_function(src, &code, &rs[0], &|_| 1).unwrap();
        let locals: Vec<(&str, &str, bool)> = f
            .locals
            .iter()
            .map(|l| (l.var.as_str(), l.value.as_str(), l.always))
            .collect();
        // The second is made only when `x` holds.
        assert_eq!(
            locals,
            [
                ("gfp", "atomic ? GFP_ATOMIC : GFP_KERNEL", true),
                ("mask", "GFP_NOFS", false)
            ]
        );
        let src2 = b"void g(void)\n{\n\tgfp_t gfp = GFP_NOFS;\n\tif (nofail)\n\t\tgfp |= __GFP_NOFAIL;\n\tops->fn = handler;\n}\n";
        let code = code_only(src2);
        let rs = regions(&code);
        let f = light_function(src2, &code, &rs[0], &|_| 1).unwrap();
        assert_eq!(
            (f.locals[1].var.as_str(), f.locals[1].value.as_str()),
            ("gfp", "gfp | (__GFP_NOFAIL)")
        );
        assert!(f.locals[0].always && !f.locals[1].always);
        let mut taken = Vec::new();
        assigned_names(&code[rs[0].open..rs[0].end], &mut taken);
        assert!(taken.contains(&"handler".to_string()), "{taken:?}");
    }

    #[test]
    fn what_matters() {
        assert!(matters(b"spin_lock(&x)"));
        assert!(matters(b"memalloc_nofs_save()"));
        assert!(!matters(b"kmalloc(n, GFP_KERNEL)"));
        assert!(!matters(b"return a + b(c);"));
    }
}
