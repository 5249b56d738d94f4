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
use std::sync::OnceLock;

mod constants;
mod directives;
mod light;
mod registrations;
mod switch;
mod types;
mod wrappers;

pub use constants::*;
pub use directives::*;
pub use light::*;
pub use registrations::*;
pub use switch::*;
pub use types::*;
pub use wrappers::*;

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

pub(crate) fn skip_blank(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The offset of the bracket closing the one at `open`.
pub(crate) fn matching(b: &[u8], open: usize, o: u8, c: u8) -> Option<usize> {
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

/// Where what holds after offset `i` of a body stops holding for sure:
/// the closing brace of the block holding `i`, or the first label after
/// `i` that a jump from elsewhere may reach (`out:` at any depth; a
/// `case`/`default` of the same block, or of any depth with
/// `nested_cases`, for a caller that cannot tell a nested switch's labels
/// apart).
pub(crate) fn label_bounded_end(b: &[u8], i: usize, nested_cases: bool) -> usize {
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
                let word = &b[j..w];
                if word == b"case" || word == b"default" {
                    if depth == 0 || nested_cases {
                        return j;
                    }
                } else {
                    let after = skip_blank(b, w);
                    if b.get(after) == Some(&b':') && b.get(after + 1) != Some(&b':') {
                        return j;
                    }
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

/// Each `KW (...)` of `code` where `KW` is a whole word (`if`, `switch`):
/// the offsets of its opening and closing parentheses.
pub(crate) fn keyword_parens<'c>(
    code: &'c [u8],
    kw: &'static [u8],
) -> impl Iterator<Item = (usize, usize)> + 'c {
    memchr::memmem::find_iter(code, kw).filter_map(move |p| {
        let word = p == 0 || !(code[p - 1].is_ascii_alphanumeric() || code[p - 1] == b'_');
        if !word || ident_end(code, p) != p + kw.len() {
            return None;
        }
        let open = skip_blank(code, p + kw.len());
        if code.get(open) != Some(&b'(') {
            return None;
        }
        Some((open, matching(code, open, b'(', b')')?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
