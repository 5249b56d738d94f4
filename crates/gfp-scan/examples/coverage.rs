//! How many of the call sites a textual search finds are in the scanner's
//! index: calls of the allocator table's functions and of the `memalloc_*`
//! scope API, inside function bodies, by file and line.
//!
//! `cargo run --release -p gfp-scan --example coverage -- DIR`
//!
//! The textual side is what grep would find (`NAME(` outside comments and
//! strings, in function bodies, not on preprocessor lines, not called as a
//! structure member `ops->NAME(`, not in `#if 0` text); the index side is
//! what `gfp scan` analyses, parse errors and all.

use std::collections::HashSet;
use std::path::Path;

use gfp_scan::{lexical, parse_file, preproc, Allocators};
use rayon::prelude::*;

fn files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                let top = d == root;
                let skip_arch = d == root.join("arch") && name != "x86";
                let not_kernel = top
                    && ["tools", "scripts", "Documentation", "usr", "samples"]
                        .contains(&name.as_str());
                if !(name.starts_with('.') || skip_arch || not_kernel) {
                    stack.push(p);
                }
            } else if name.ends_with(".c") || name.ends_with(".h") {
                out.push(p);
            }
        }
    }
    out
}

fn main() {
    let Some(root) = std::env::args().nth(1) else {
        eprintln!("usage: coverage DIR");
        std::process::exit(2);
    };
    let root = Path::new(&root);
    let alloc = Allocators::builtin();
    let (found, indexed, missed): (usize, usize, Vec<String>) = files(root)
        .par_iter()
        .map(|p| {
            let Ok(src) = std::fs::read(p) else {
                return (0, 0, Vec::new());
            };
            // Text `#if 0` (or a macro the file defines as 0) compiles out
            // is not a call site.
            let code = lexical::code_only(&src);
            let code =
                match preproc::blank_dead_branches(&src, &code, &preproc::BuildFacts::UNKNOWN) {
                    Some(live) => lexical::code_only(&live),
                    None => code,
                };
            let line_of =
                |pos: usize| src[..pos].iter().filter(|&&b| b == b'\n').count() as u32 + 1;
            let mut grep: Vec<(u32, String)> = Vec::new();
            for r in lexical::regions(&code)
                .iter()
                .filter(|r| r.kind == lexical::RegionKind::Function)
            {
                let body = &code[r.open..r.end];
                let mut i = 0;
                while i < body.len() {
                    let b = body[i];
                    if (b.is_ascii_alphabetic() || b == b'_')
                        && (i == 0 || !(body[i - 1].is_ascii_alphanumeric() || body[i - 1] == b'_'))
                    {
                        let st = i;
                        while i < body.len() && (body[i].is_ascii_alphanumeric() || body[i] == b'_')
                        {
                            i += 1;
                        }
                        let word = String::from_utf8_lossy(&body[st..i]).into_owned();
                        let mut j = i;
                        while j < body.len() && body[j].is_ascii_whitespace() {
                            j += 1;
                        }
                        // `ops->alloc_skb(...)` calls a member, not the
                        // allocator of that name.
                        let member = st >= 1
                            && (body[st - 1] == b'.' || (st >= 2 && &body[st - 2..st] == b"->"));
                        let interesting = !member && alloc.get(&word).is_some()
                            || (word.starts_with("memalloc_")
                                && (word.ends_with("_save") || word.ends_with("_restore")));
                        if interesting && j < body.len() && body[j] == b'(' {
                            let pos = r.open + st;
                            let ls = code[..pos]
                                .iter()
                                .rposition(|&c| c == b'\n')
                                .map_or(0, |x| x + 1);
                            let line_text = String::from_utf8_lossy(&code[ls..pos]);
                            if !line_text.trim_start().starts_with('#')
                                && !preproc_continuation(&code, ls)
                            {
                                grep.push((line_of(pos), word));
                            }
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            if grep.is_empty() {
                return (0, 0, Vec::new());
            }
            let rel = p
                .strip_prefix(root)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned();
            let Some(facts) = parse_file(rel.clone(), &src, false, &preproc::BuildFacts::UNKNOWN)
            else {
                return (grep.len(), 0, Vec::new());
            };
            let mut idx: HashSet<(u32, String)> = HashSet::new();
            for f in &facts.functions {
                for c in &f.calls {
                    idx.insert((c.line, c.callee.clone()));
                }
                for (n, l) in &f.scope_ops {
                    idx.insert((*l, n.clone()));
                }
            }
            let mut hit = 0;
            let mut miss = Vec::new();
            for g in &grep {
                if idx.contains(g) {
                    hit += 1;
                } else {
                    miss.push(format!("{rel}:{} {}", g.0, g.1));
                }
            }
            (grep.len(), hit, miss)
        })
        .reduce(
            || (0, 0, Vec::new()),
            |a, b| (a.0 + b.0, a.1 + b.1, [a.2, b.2].concat()),
        );
    println!(
        "{found} call sites found textually, {indexed} in the index: {:.2}%",
        100.0 * indexed as f64 / found.max(1) as f64
    );
    for m in missed.iter().take(40) {
        println!("missed: {m}");
    }
}

/// Whether the line starting at `ls` continues a preprocessor line (the
/// previous line ends with a backslash and belongs to a `#define`).
fn preproc_continuation(code: &[u8], ls: usize) -> bool {
    let mut end = ls;
    loop {
        if end < 2 || code[end - 2] != b'\\' {
            return false;
        }
        let prev_start = code[..end - 1]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |x| x + 1);
        if String::from_utf8_lossy(&code[prev_start..end])
            .trim_start()
            .starts_with('#')
        {
            return true;
        }
        end = prev_start;
    }
}
