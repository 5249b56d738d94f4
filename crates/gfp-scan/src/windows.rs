//! Member windows: a struct member that code raises only around a call and
//! lowers again after it, so that a branch testing it is taken only below
//! such a call.
//!
//! regmap writes `map->async = true; ret = _regmap_raw_write(...);
//! map->async = false;` in `regmap_raw_write_async()`, and the allocation
//! in `_regmap_raw_write_impl()` sits under `if (map->async && ...)`. A
//! plain `regmap_write()` under a spinlock never reaches it: nothing on its
//! path raised the member. The member is a scope written by hand, with
//! the same shape as `memalloc_nofs_save()`/`restore()`.
//!
//! The scanner keeps no text once a file is parsed, and the question comes
//! up only for the few chains that would otherwise be findings, so the
//! writes of a member are read again from the files then, once per member.
//!
//! A member `(S, m)` has windows when, in every file that can see the
//! definition of `struct S`, each write of `m` that may be to an `S` (its
//! base is declared `struct S`, or the scanner cannot tell) either stores
//! `false`/`0`/`NULL` or is followed, later in the same function, by such
//! a store. Anything else (a raise left standing, a raise in an
//! initialiser, `++`, `|=`, a taken address) makes the member an ordinary
//! one, and nothing is decided by it.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::facts::FileFacts;
use crate::graph::{Graph, Step};
use crate::lexical::{self, is_word, RegionKind};

/// The most files read to settle one member: a struct every driver sees
/// (`struct device`) is not worth reading the tree for, and its members
/// are rarely raised around a call anyway.
const MAX_FILES_PER_MEMBER: usize = 2_000;

/// One window: in `file`, lines strictly between `raise` and `lower` run
/// with the member raised.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Window {
    file: u32,
    raise: u32,
    lower: u32,
}

/// A member's windows once settled; `None` for an ordinary member.
type Settled = Option<Arc<Vec<Window>>>;

/// A file's text with comments and literals blanked, its line starts and
/// its top-level regions.
struct Code {
    text: Vec<u8>,
    newlines: Vec<usize>,
    regions: Vec<lexical::Region>,
}

impl Code {
    fn line_of(&self, pos: usize) -> u32 {
        self.newlines.partition_point(|&n| n < pos) as u32 + 1
    }

    /// The function region holding `pos`.
    fn function_at(&self, pos: usize) -> Option<&lexical::Region> {
        let i = self.regions.partition_point(|r| r.end <= pos);
        self.regions
            .get(i)
            .filter(|r| r.kind == RegionKind::Function && r.start <= pos)
    }

    /// The function region whose head holds line `line` (a definition's
    /// name line).
    fn function_named_at(&self, line: u32) -> Option<&lexical::Region> {
        self.regions.iter().find(|r| {
            r.kind == RegionKind::Function
                && self.line_of(r.start) <= line
                && line <= self.line_of(r.open)
        })
    }
}

/// The member windows of a scanned tree, computed on demand.
pub struct MemberWindows<'a> {
    base: &'a Path,
    files: &'a [FileFacts],
    /// Header files by their last path component.
    headers: std::sync::OnceLock<HashMap<&'a str, Vec<u32>>>,
    /// Every file by its path.
    paths: std::sync::OnceLock<HashMap<&'a str, u32>>,
    code: Mutex<HashMap<u32, Option<Arc<Code>>>>,
    /// Per `(struct, member)`: its windows, or `None` for an ordinary member.
    members: Mutex<HashMap<(String, String), Settled>>,
}

impl<'a> MemberWindows<'a> {
    /// The windows of the tree whose files (paths relative to `base`) are
    /// `files`.
    pub fn new(base: &'a Path, files: &'a [FileFacts]) -> Self {
        MemberWindows {
            base,
            files,
            headers: std::sync::OnceLock::new(),
            paths: std::sync::OnceLock::new(),
            code: Mutex::new(HashMap::new()),
            members: Mutex::new(HashMap::new()),
        }
    }

    /// Whether some hop of `steps` is made only while a member with
    /// windows is raised (a branch on `p->m` being true) and no hop at or
    /// above it is made inside one of the member's windows: the chain
    /// cannot run.
    pub fn shut_on(&self, g: &Graph, steps: &[Step]) -> bool {
        for (j, s) in steps.iter().enumerate() {
            let f = g.func(s.func);
            let c = &f.calls[s.call as usize];
            for &(k, truth) in c.conds.iter() {
                if !truth {
                    continue;
                }
                let Some((var, member)) = f.cond_keys.get(k as usize).and_then(|k| member_test(k))
                else {
                    continue;
                };
                let file = g.fns[s.func as usize].0;
                let Some(ty) = self.struct_of(file, f.line, var) else {
                    continue;
                };
                let Some(windows) = self.windows(file, &ty, member) else {
                    continue;
                };
                let opened = steps[..=j].iter().any(|t| {
                    let at = g.fns[t.func as usize].0;
                    let line = g.func(t.func).calls[t.call as usize].line;
                    windows
                        .iter()
                        .any(|w| w.file == at && w.raise < line && line < w.lower)
                });
                if !opened {
                    return true;
                }
            }
        }
        false
    }

    /// The text of a file that holds a member test (few: kept).
    fn code(&self, file: u32) -> Option<Arc<Code>> {
        if let Some(c) = self.code.lock().expect("not poisoned").get(&file) {
            return c.clone();
        }
        let read = self.read(file).map(Arc::new);
        self.code
            .lock()
            .expect("not poisoned")
            .insert(file, read.clone());
        read
    }

    /// The text of a file, read again (not kept: the files that can see a
    /// struct may be many).
    fn read(&self, file: u32) -> Option<Code> {
        let src = std::fs::read(self.base.join(&self.files[file as usize].path)).ok()?;
        let text = lexical::code_only(&src);
        let regions = lexical::regions(&text);
        let newlines = memchr::memchr_iter(b'\n', &text).collect();
        Some(Code {
            text,
            newlines,
            regions,
        })
    }

    /// The struct `var` is declared as in the function defined at `line`
    /// of `file` (a parameter or a local).
    fn struct_of(&self, file: u32, line: u32, var: &str) -> Option<String> {
        let code = self.code(file)?;
        let r = code.function_named_at(line)?;
        declared_struct(&code.text[r.start..r.end], var).map(str::to_string)
    }

    /// The files that may define `struct ty` as seen from `file`: the file
    /// itself and the headers whose names it includes.
    fn definers(&self, file: u32, ty: &str) -> Vec<u32> {
        let headers = self.headers.get_or_init(|| {
            let mut m: HashMap<&str, Vec<u32>> = HashMap::new();
            for (i, f) in self.files.iter().enumerate() {
                if f.path.ends_with(".h") {
                    m.entry(base_name(&f.path)).or_default().push(i as u32);
                }
            }
            m
        });
        let mut out = Vec::new();
        let candidates = std::iter::once(file).chain(
            self.files[file as usize]
                .includes
                .iter()
                .flat_map(|h| headers.get(h.as_str()).into_iter().flatten().copied()),
        );
        for c in candidates {
            let defines = if c == file {
                self.code(c)
                    .is_some_and(|code| defines_struct(&code.text, ty))
            } else {
                self.read(c)
                    .is_some_and(|code| defines_struct(&code.text, ty))
            };
            if defines {
                out.push(c);
            }
        }
        out
    }

    /// The files that can see a definition in `definers`: a source file
    /// sees only its own. A header under an `include/` directory is seen by
    /// every file that includes a header of its name; any other header by
    /// the files whose `#include "..."` names it from their directory (or
    /// names a header of its name that is not beside them, which a `-I`
    /// may find). Headers that see it pass it on to the files that include
    /// them. More files than the compiler would take, never fewer.
    fn visible(&self, definers: &[u32]) -> Option<Vec<u32>> {
        let by_path = self.paths.get_or_init(|| {
            self.files
                .iter()
                .enumerate()
                .map(|(i, f)| (f.path.as_str(), i as u32))
                .collect()
        });
        let mut seen: HashSet<u32> = definers.iter().copied().collect();
        let headers: Vec<u32> = definers
            .iter()
            .copied()
            .filter(|&d| self.files[d as usize].path.ends_with(".h"))
            .collect();
        if headers.is_empty() {
            return Some(definers.to_vec());
        }
        let public = headers.iter().any(|&h| {
            self.files[h as usize]
                .path
                .split('/')
                .any(|c| c == "include")
        });
        let mut names: HashSet<&str> = headers
            .iter()
            .map(|&h| base_name(&self.files[h as usize].path))
            .collect();
        let mut targets: HashSet<u32> = headers.iter().copied().collect();
        let sees = |f: &FileFacts, names: &HashSet<&str>, targets: &HashSet<u32>| {
            if public {
                return f.includes.iter().any(|i| names.contains(i.as_str()));
            }
            let dir = f.path.rsplit_once('/').map_or("", |(d, _)| d);
            f.local_includes
                .iter()
                .any(|inc| match by_path.get(joined(dir, inc).as_str()) {
                    Some(i) => targets.contains(i),
                    None => names.contains(base_name(inc)),
                })
        };
        loop {
            let before = targets.len();
            for (i, f) in self.files.iter().enumerate() {
                if f.path.ends_with(".h")
                    && !targets.contains(&(i as u32))
                    && sees(f, &names, &targets)
                {
                    targets.insert(i as u32);
                    names.insert(base_name(&f.path));
                    if targets.len() > MAX_FILES_PER_MEMBER {
                        return None;
                    }
                }
            }
            if targets.len() == before {
                break;
            }
        }
        seen.extend(targets.iter().copied());
        for (i, f) in self.files.iter().enumerate() {
            if sees(f, &names, &targets) {
                seen.insert(i as u32);
                if seen.len() > MAX_FILES_PER_MEMBER {
                    return None;
                }
            }
        }
        let mut v: Vec<u32> = seen.into_iter().collect();
        v.sort_unstable();
        Some(v)
    }

    /// The windows of member `member` of `struct ty`, as `file` sees the
    /// struct; `None` when it is an ordinary member (or cannot be settled).
    fn windows(&self, file: u32, ty: &str, member: &str) -> Settled {
        let key = (ty.to_string(), member.to_string());
        if let Some(w) = self.members.lock().expect("not poisoned").get(&key) {
            return w.clone();
        }
        let found = self.settle(file, ty, member).map(Arc::new);
        self.members
            .lock()
            .expect("not poisoned")
            .insert(key, found.clone());
        found
    }

    fn settle(&self, file: u32, ty: &str, member: &str) -> Option<Vec<Window>> {
        let definers = self.definers(file, ty);
        let mut windows = Vec::new();
        for f in self.visible(&definers)? {
            let Some(code) = self.read(f) else { continue };
            windows.extend(file_windows(&code, f, ty, member)?);
        }
        // A member never raised at all is set some way the scanner does
        // not read (a copied struct, a macro): it decides nothing.
        (!windows.is_empty()).then_some(windows)
    }
}

/// The windows of `member` of `struct ty` in one file, or `None` when the
/// file writes it some other way.
fn file_windows(code: &Code, file: u32, ty: &str, member: &str) -> Option<Vec<Window>> {
    // Per function region (by its start): its raises and lowers, by offset.
    let mut writes: HashMap<usize, Vec<(usize, bool)>> = HashMap::new();
    let t = &code.text;
    for at in memchr::memmem::find_iter(t, member.as_bytes()) {
        let end = at + member.len();
        if (at > 0 && is_word(t[at - 1])) || t.get(end).is_some_and(|&b| is_word(b)) {
            continue;
        }
        let Some(write) = member_write(t, at, end) else {
            continue;
        };
        let region = code.function_at(at);
        if let Some(var) = write.base {
            let declared = region.and_then(|r| declared_struct(&t[r.start..r.end], var));
            if declared.is_some_and(|d| d != ty) {
                continue;
            }
        }
        match (region, write.raises) {
            (_, false) => {
                if let Some(r) = region {
                    writes.entry(r.start).or_default().push((at, false));
                }
            }
            (Some(r), true) => writes.entry(r.start).or_default().push((at, true)),
            (None, true) => return None,
        }
    }
    let mut out = Vec::new();
    for ws in writes.values() {
        for &(at, raise) in ws {
            if !raise {
                continue;
            }
            let lower = ws
                .iter()
                .filter(|&&(l, r)| !r && l > at && same_block(t, at, l))
                .map(|&(l, _)| l)
                .min()?;
            out.push(Window {
                file,
                raise: code.line_of(at),
                lower: code.line_of(lower),
            });
        }
    }
    Some(out)
}

/// Whether the text from `a` to `b` stays in `a`'s block and ends at its
/// depth: a store at `b` then follows one at `a` on every path that does
/// not leave the function (`p->on = true; call(); p->on = false;`), while
/// a store in an `else` or an error branch does not.
fn same_block(t: &[u8], a: usize, b: usize) -> bool {
    let mut depth = 0i32;
    for &c in &t[a..b] {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// A write of a member found in the text.
struct MemberWrite<'t> {
    /// The variable the member is reached from (`map` in `map->async`),
    /// when it is a plain name.
    base: Option<&'t str>,
    /// Whether it may store something other than false.
    raises: bool,
}

/// Whether the member name at `at..end` is written there, and how: `p->m =
/// v`, `p.m = v`, `.m = v` in an initialiser, `WRITE_ONCE(p->m, v)`, a
/// compound assignment, `++`/`--`, or its address taken.
fn member_write(t: &[u8], at: usize, end: usize) -> Option<MemberWrite<'_>> {
    let before = skip_back(t, at);
    let (access_start, arrow) = if before >= 2 && &t[before - 2..before] == b"->" {
        (before - 2, true)
    } else if before >= 1 && t[before - 1] == b'.' {
        (before - 1, false)
    } else {
        return None;
    };
    // The base: a name, or something the scanner does not type.
    let b_end = skip_back(t, access_start);
    let mut b_start = b_end;
    while b_start > 0 && is_word(t[b_start - 1]) {
        b_start -= 1;
    }
    let initialiser =
        !arrow && b_start == b_end && matches!(t.get(b_end.wrapping_sub(1)), Some(b'{' | b','));
    let plain_base = b_start < b_end
        && !t[b_start].is_ascii_digit()
        && !matches!(
            t.get(skip_back(t, b_start).wrapping_sub(1)),
            Some(b'>' | b'.' | b']' | b')')
        );
    let base = plain_base
        .then(|| std::str::from_utf8(&t[b_start..b_end]).ok())
        .flatten();
    let before_base = skip_back(t, b_start);
    let prev = |n: usize| t.get(before_base.wrapping_sub(n)).copied();
    // Its address taken (a unary `&`: no operand before it), or `++p->m`.
    let unary_and = prev(1) == Some(b'&') && {
        let p = skip_back(t, before_base - 1);
        !(p > 0 && (is_word(t[p - 1]) || matches!(t[p - 1], b')' | b']' | b'&')))
    };
    if !initialiser
        && (unary_and
            || (prev(1) == Some(b'+') && prev(2) == Some(b'+'))
            || (prev(1) == Some(b'-') && prev(2) == Some(b'-')))
    {
        return Some(MemberWrite { base, raises: true });
    }
    let next = skip_ahead(t, end);
    let rest = &t[next.min(t.len())..];
    let value_from = if rest.starts_with(b"==") {
        return None;
    } else if rest.starts_with(b"=") {
        next + 1
    } else if rest.starts_with(b"++")
        || rest.starts_with(b"--")
        || [
            &b"|="[..],
            b"&=",
            b"^=",
            b"+=",
            b"-=",
            b"*=",
            b"/=",
            b"%=",
            b"<<=",
            b">>=",
        ]
        .iter()
        .any(|op| rest.starts_with(op))
    {
        return Some(MemberWrite { base, raises: true });
    } else if rest.starts_with(b",") && written_once(t, before_base) {
        next + 1
    } else {
        return None;
    };
    // The value: the expression up to its `;`, or the `,`/`)` that ends
    // it inside `WRITE_ONCE()` or an initialiser.
    let value = lexical::arguments(&t[value_from.min(t.len())..])
        .into_iter()
        .next()
        .unwrap_or_default();
    let raises = !matches!(value.as_str(), "false" | "0" | "NULL" | "0U" | "0u");
    Some(MemberWrite { base, raises })
}

/// Whether the text just before `pos` is `WRITE_ONCE(`.
fn written_once(t: &[u8], pos: usize) -> bool {
    let p = skip_back(t, pos);
    p >= 1 && t[p - 1] == b'(' && t[..p - 1].trim_ascii_end().ends_with(b"WRITE_ONCE")
}

/// The position after the last non-blank byte before `pos`.
fn skip_back(t: &[u8], mut pos: usize) -> usize {
    while pos > 0 && t[pos - 1].is_ascii_whitespace() {
        pos -= 1;
    }
    pos
}

/// The first non-blank position at or after `pos`.
fn skip_ahead(t: &[u8], mut pos: usize) -> usize {
    while pos < t.len() && t[pos].is_ascii_whitespace() {
        pos += 1;
    }
    pos
}

/// `inc` taken from directory `dir`, with `.` and `..` resolved.
fn joined(dir: &str, inc: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in inc.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A condition key that tests one member of a variable: `map->async`,
/// `cfg.enabled`, as (variable, member).
fn member_test(key: &str) -> Option<(&str, &str)> {
    let (var, member) = key.split_once("->").or_else(|| key.split_once('.'))?;
    let ident =
        |s: &str| !s.is_empty() && !s.as_bytes()[0].is_ascii_digit() && s.bytes().all(is_word);
    (ident(var) && ident(member)).then_some((var, member))
}

/// The struct a variable is declared as in a function's text (`struct
/// regmap *map` among its parameters, `struct foo *p = ...` in its body).
fn declared_struct<'t>(text: &'t [u8], var: &str) -> Option<&'t str> {
    for at in memchr::memmem::find_iter(text, var.as_bytes()) {
        let end = at + var.len();
        if (at > 0 && is_word(text[at - 1])) || text.get(end).is_some_and(|&b| is_word(b)) {
            continue;
        }
        if !matches!(
            text.get(skip_ahead(text, end)),
            Some(b',' | b';' | b')' | b'=' | b'[')
        ) {
            continue;
        }
        // Back over `*` and qualifiers to the type's name.
        let mut p = skip_back(text, at);
        loop {
            if p > 0 && text[p - 1] == b'*' {
                p = skip_back(text, p - 1);
                continue;
            }
            let mut s = p;
            while s > 0 && is_word(text[s - 1]) {
                s -= 1;
            }
            if matches!(
                &text[s..p],
                b"const" | b"volatile" | b"__iomem" | b"__rcu" | b"__user"
            ) {
                p = skip_back(text, s);
                continue;
            }
            let name = &text[s..p];
            let kw_end = skip_back(text, s);
            let mut kw = kw_end;
            while kw > 0 && is_word(text[kw - 1]) {
                kw -= 1;
            }
            if s < p && &text[kw..kw_end] == b"struct" {
                return std::str::from_utf8(name).ok();
            }
            break;
        }
    }
    None
}

/// Whether `code` defines `struct ty { ... }`.
fn defines_struct(code: &[u8], ty: &str) -> bool {
    memchr::memmem::find_iter(code, ty.as_bytes()).any(|at| {
        let end = at + ty.len();
        if (at > 0 && is_word(code[at - 1])) || code.get(end).is_some_and(|&b| is_word(b)) {
            return false;
        }
        let kw_end = skip_back(code, at);
        kw_end >= 6
            && &code[kw_end - 6..kw_end] == b"struct"
            && (kw_end == 6 || !is_word(code[kw_end - 7]))
            && code.get(skip_ahead(code, end)) == Some(&b'{')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_includes_resolve_from_the_including_directory() {
        assert_eq!(
            joined("drivers/base/regmap", "internal.h"),
            "drivers/base/regmap/internal.h"
        );
        assert_eq!(joined("drivers/net/x", "../y/z.h"), "drivers/net/y/z.h");
        assert_eq!(joined("", "a.h"), "a.h");
    }

    #[test]
    fn a_lower_closes_a_window_only_in_the_raises_block() {
        let t = b"p->on = 1; f(); p->on = 0;";
        assert!(same_block(t, 0, 16));
        let t = b"if (x) { p->on = 1; } else { p->on = 0; }";
        assert!(!same_block(t, 9, 29));
        let t = b"p->on = 1; if (err) { p->on = 0; return; }";
        assert!(!same_block(t, 0, 22));
        let t = b"p->on = 1; if (err) goto out; g(); out: p->on = 0;";
        assert!(same_block(t, 0, 40));
    }

    #[test]
    fn member_tests_are_one_member_of_a_name() {
        assert_eq!(member_test("map->async"), Some(("map", "async")));
        assert_eq!(member_test("cfg.on"), Some(("cfg", "on")));
        assert_eq!(member_test("map->bus->async_write"), None);
        assert_eq!(member_test("async"), None);
        assert_eq!(member_test("map->async==1"), None);
    }

    #[test]
    fn declarations_give_the_struct() {
        let t = b"static int f(struct regmap *map, const struct foo *const p)\n{\n\tstruct bar b = {0};\n\tstruct baz *q = NULL;\n\tint map2;\n";
        assert_eq!(declared_struct(t, "map"), Some("regmap"));
        assert_eq!(declared_struct(t, "p"), Some("foo"));
        assert_eq!(declared_struct(t, "b"), Some("bar"));
        assert_eq!(declared_struct(t, "q"), Some("baz"));
        assert_eq!(declared_struct(t, "map2"), None);
        assert_eq!(declared_struct(t, "nothere"), None);
    }

    #[test]
    fn struct_definitions_are_told_from_uses() {
        assert!(defines_struct(
            b"struct regmap {\n\tbool async;\n};",
            "regmap"
        ));
        assert!(!defines_struct(b"struct regmap *map;", "regmap"));
        assert!(!defines_struct(b"struct regmap_bus {", "regmap"));
        assert!(!defines_struct(b"xstruct regmap {", "regmap"));
    }

    fn write(t: &str) -> Option<(Option<String>, bool)> {
        let b = t.as_bytes();
        let at = t.find("async").unwrap();
        member_write(b, at, at + 5).map(|w| (w.base.map(str::to_string), w.raises))
    }

    #[test]
    fn writes_of_a_member_are_read_with_their_value() {
        assert_eq!(
            write("map->async = true;"),
            Some((Some("map".into()), true))
        );
        assert_eq!(
            write("map->async = false;"),
            Some((Some("map".into()), false))
        );
        assert_eq!(write("map->async = 0;"), Some((Some("map".into()), false)));
        assert_eq!(
            write("map->async = async;"),
            Some((Some("map".into()), true))
        );
        assert_eq!(write("if (map->async == 1)"), None);
        assert_eq!(write("if (map->async && x)"), None);
        assert_eq!(write("a->b->async = false;"), Some((None, false)));
        assert_eq!(write("p[i]->async = 1;"), Some((None, true)));
        assert_eq!(write("{ .async = call_rcu, }"), Some((None, true)));
        assert_eq!(write("map->async |= 1;"), Some((Some("map".into()), true)));
        assert_eq!(write("map->async++;"), Some((Some("map".into()), true)));
        assert_eq!(write("set(&map->async);"), Some((Some("map".into()), true)));
        assert_eq!(write("x = a && map->async;"), None);
        assert_eq!(write("x = a & map->async;"), None);
        assert_eq!(write("x = !map->async;"), None);
        assert_eq!(
            write("WRITE_ONCE(map->async, 1);"),
            Some((Some("map".into()), true))
        );
        assert_eq!(
            write("WRITE_ONCE(map->async, false);"),
            Some((Some("map".into()), false))
        );
        assert_eq!(write("f(map->async, 1);"), None);
    }
}
