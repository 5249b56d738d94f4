//! Which C files of a kernel tree no build for one architecture compiles,
//! judged from the tree's Kconfig and Makefiles alone, without a configured
//! build.
//!
//! A config symbol is *possible* on the architecture when one of its
//! definitions outside `arch/<other>/` has dependencies that can hold and
//! something that can give it a value: a prompt, a default, or a `select`
//! from a possible symbol. `COMPILE_TEST` is impossible (a real build is
//! modelled, not a compile-test one). Expressions are evaluated
//! conservatively: `!A`, comparisons other than `A = y`/`A = m`/`A != n`,
//! macros and unknown symbols are all possible. Possibility is computed to
//! a fixed point, downwards from "everything possible".
//!
//! A Makefile object or directory listed only under impossible symbols is
//! never built: a directory's whole subtree is excluded, an object's `.c`
//! file is. Anything the Makefiles do not mention is buildable, and so is
//! every header.

use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Files (paths relative to the root, '/' separated, e.g.
/// "drivers/scsi/arm/fas216.c") that no build for `arch` compiles.
#[derive(Clone, Debug, Default)]
pub struct Unbuildable {
    /// The architecture's directory name under `arch/`.
    arch: String,
    /// Directories no build enters, with the symbol that guards them.
    dirs: HashMap<String, String>,
    /// Objects (`dir/name.o`) no build compiles, with a guarding symbol.
    objs: HashMap<String, String>,
    /// How many defined symbols are impossible.
    impossible: usize,
    /// The impossible symbols themselves.
    impossible_names: HashSet<String>,
    /// Every object some Makefile lists (`dir/name.o`), buildable or not.
    listed: HashSet<String>,
}

impl Unbuildable {
    /// Reads every Kconfig* and Makefile/Kbuild file of the tree at `root`.
    /// Never fails: unreadable files are skipped.
    pub fn read(root: &Path, arch: &str) -> Unbuildable {
        let arch = arch_dir(arch).to_string();
        let mut files = TreeFiles::default();
        walk(root, "", &mut files);
        // Kconfig and the Makefiles are independent until the end: read
        // them side by side.
        let ((kc, possible), mk) = rayon::join(
            || {
                let texts: Vec<(&str, String)> = files
                    .kconfig
                    .iter()
                    .filter_map(|rel| {
                        Some((rel.as_str(), std::fs::read_to_string(root.join(rel)).ok()?))
                    })
                    .collect();
                let scope = sourced_scope(&texts, &arch);
                let mut kc = Kconfig::default();
                for (rel, text) in &texts {
                    kc.parse_file(text, scope.get(*rel).copied().unwrap_or(true));
                }
                let possible = kc.solve(forced_off(&arch));
                (kc, possible)
            },
            || {
                let mut mk = Makefiles::default();
                for rel in &files.makefiles {
                    let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
                    if is_other_arch(dir, &arch) {
                        continue;
                    }
                    if let Ok(text) = std::fs::read_to_string(root.join(rel)) {
                        mk.parse(dir, &text);
                    }
                }
                mk
            },
        );
        let impossible_names: HashSet<String> = (0..kc.names.len())
            .filter(|&i| kc.defined[i] && !possible[i])
            .map(|i| kc.names[i].clone())
            .collect();
        let impossible = impossible_names.len();
        let on = forced_on(&arch);
        let is_possible = |sym: &str| {
            if let Some(s) = sym.strip_prefix('!') {
                return !on.contains(&s);
            }
            match kc.ids.get(sym) {
                Some(&id) => possible[id as usize],
                None => sym != "COMPILE_TEST",
            }
        };
        let (dirs, objs) = mk.resolve(&is_possible);
        let listed = mk.objs.keys().cloned().collect();
        Unbuildable {
            arch,
            dirs,
            objs,
            impossible,
            impossible_names,
            listed,
        }
    }

    /// Whether some Makefile lists the C file at `rel` as an object. One no
    /// Makefile lists is compiled only where another file includes it
    /// (`#include "lib82596.c"`).
    pub fn listed(&self, rel: &str) -> bool {
        let rel = rel.trim_start_matches("./");
        rel.strip_suffix(".c")
            .is_some_and(|stem| self.listed.contains(&format!("{stem}.o")))
    }

    /// Whether the C file at `rel` (relative path) can never be built for
    /// the arch.
    pub fn excludes(&self, rel: &str) -> bool {
        self.reason(rel).is_some()
    }

    /// Why [`Unbuildable::excludes`] holds for `rel`: the config symbol
    /// that guards it (or `ARCH` for another architecture's directory);
    /// `None` when the file may be built.
    pub fn reason(&self, rel: &str) -> Option<&str> {
        let rel = rel.trim_start_matches("./");
        let stem = rel.strip_suffix(".c")?;
        if is_other_arch(rel, &self.arch) {
            return Some("ARCH");
        }
        if let Some(sym) = self.objs.get(&format!("{stem}.o")) {
            return Some(sym);
        }
        let mut dir = rel;
        while let Some((parent, _)) = dir.rsplit_once('/') {
            if let Some(sym) = self.dirs.get(parent) {
                return Some(sym);
            }
            dir = parent;
        }
        None
    }

    /// How many config symbols were found impossible (for a summary line).
    pub fn impossible_symbols(&self) -> usize {
        self.impossible
    }

    /// The page shift every build for the architecture has: x86 has only
    /// 4 KiB pages, where arm64 or powerpc let the configuration choose.
    pub fn page_shift(&self) -> Option<u32> {
        (self.arch == "x86").then_some(12)
    }

    /// Whether the config symbol `sym` (without `CONFIG_`) was found
    /// impossible; `false` for symbols the tree does not define.
    pub fn is_impossible(&self, sym: &str) -> bool {
        self.impossible_names.contains(sym)
    }
}

/// Symbols no build of the architecture the scan models sets: the gfp
/// profiles describe x86_64, so a 32-bit x86 build is not one of them.
fn forced_off(arch: &str) -> &'static [&'static str] {
    match arch {
        "x86" => &["X86_32"],
        _ => &[],
    }
}

/// Symbols every build of the architecture sets (`def_bool y` with no
/// dependency): a Makefile list that `:=` replaces under one of them is
/// never built as first written.
fn forced_on(arch: &str) -> &'static [&'static str] {
    match arch {
        "x86" => &["MMU", "X86_64", "64BIT"],
        _ => &[],
    }
}

/// The directory under `arch/` of an architecture name.
fn arch_dir(arch: &str) -> &str {
    match arch {
        "x86_64" | "i386" | "amd64" => "x86",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Whether `rel` lies under `arch/<name>/` for a name other than `arch`.
fn is_other_arch(rel: &str, arch: &str) -> bool {
    match rel.strip_prefix("arch/") {
        Some(rest) => match rest.split_once('/') {
            Some((name, _)) => name != arch,
            None => false,
        },
        None => false,
    }
}

/// Whether each Kconfig file's definitions count for `arch`: not under
/// another architecture's directory, and, when other Kconfig files
/// `source` it, sourced by at least one that counts (`drivers/parisc/Kconfig`
/// is sourced only by `arch/parisc/Kconfig`, so its `GSC` bus is no x86_64
/// option). A file nothing sources counts, as the root `Kconfig` does.
fn sourced_scope<'a>(texts: &[(&'a str, String)], arch: &str) -> HashMap<&'a str, bool> {
    let known: HashSet<&str> = texts.iter().map(|(r, _)| *r).collect();
    let mut sourced_by: HashMap<String, Vec<&'a str>> = HashMap::new();
    for (rel, text) in texts {
        let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
        for line in text.lines() {
            let t = line.trim_start();
            let (relative, rest) = if let Some(r) = t.strip_prefix("rsource") {
                (true, r)
            } else if let Some(r) = t.strip_prefix("osource") {
                (false, r)
            } else if let Some(r) = t.strip_prefix("source") {
                (false, r)
            } else {
                continue;
            };
            let Some(path) = rest
                .trim()
                .strip_prefix('"')
                .and_then(|r| r.split('"').next())
            else {
                continue;
            };
            let path = path.replace("$(SRCARCH)", arch).replace("$SRCARCH", arch);
            let full = if relative && !dir.is_empty() {
                format!("{dir}/{path}")
            } else {
                path
            };
            sourced_by.entry(full).or_default().push(rel);
        }
    }
    let mut scope: HashMap<&'a str, bool> = HashMap::new();
    // Downwards from "everything counts" to a fixed point: a file counts
    // while some file counting sources it.
    for (rel, _) in texts {
        scope.insert(rel, !is_other_arch(rel, arch));
    }
    loop {
        let mut changed = false;
        for (rel, _) in texts {
            if !scope[rel] {
                continue;
            }
            let Some(by) = sourced_by.get(*rel) else {
                continue;
            };
            let by_known: Vec<&&str> = by.iter().filter(|b| known.contains(**b)).collect();
            if !by_known.is_empty()
                && by_known
                    .iter()
                    .all(|b| !scope.get(**b).copied().unwrap_or(true))
            {
                scope.insert(rel, false);
                changed = true;
            }
        }
        if !changed {
            return scope;
        }
    }
}

#[derive(Default)]
struct TreeFiles {
    kconfig: Vec<String>,
    makefiles: Vec<String>,
}

/// Collects the Kconfig and Makefile paths under `root/rel`, sorted.
fn walk(root: &Path, rel: &str, out: &mut TreeFiles) {
    let rel_of = |p: &Path| {
        p.strip_prefix(root)
            .ok()
            .and_then(Path::to_str)
            .map(str::to_string)
    };
    let found = crate::walk_dirs(
        &root.join(rel),
        &|dir, name| {
            !(name.starts_with('.')
                || (dir == root && (name == "tools" || name == "Documentation"))
                || dir.join(name) == root.join("scripts/kconfig/tests"))
        },
        &|path, name| {
            let kconfig = name.starts_with("Kconfig");
            (kconfig || name == "Makefile" || name == "Kbuild")
                .then(|| rel_of(path).map(|r| (kconfig, r)))
                .flatten()
        },
    );
    for (kconfig, path) in found {
        if kconfig {
            out.kconfig.push(path);
        } else {
            out.makefiles.push(path);
        }
    }
    out.kconfig.sort();
    out.makefiles.sort();
}

// ---------------------------------------------------------------- Kconfig

/// A dependency expression, reduced to what possibility needs. `And`
/// and `Or` are kept flat, so only parentheses nest.
#[derive(Clone, Debug, PartialEq)]
enum Expr {
    True,
    False,
    Sym(u32),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

fn and(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (Expr::True, x) | (x, Expr::True) => x,
        (Expr::False, _) | (_, Expr::False) => Expr::False,
        (Expr::And(mut v), Expr::And(w)) => {
            v.extend(w);
            Expr::And(v)
        }
        (Expr::And(mut v), x) | (x, Expr::And(mut v)) => {
            v.push(x);
            Expr::And(v)
        }
        (a, b) => Expr::And(vec![a, b]),
    }
}

fn or(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (Expr::True, _) | (_, Expr::True) => Expr::True,
        (Expr::False, x) | (x, Expr::False) => x,
        (Expr::Or(mut v), Expr::Or(w)) => {
            v.extend(w);
            Expr::Or(v)
        }
        (Expr::Or(mut v), x) | (x, Expr::Or(mut v)) => {
            v.push(x);
            Expr::Or(v)
        }
        (a, b) => Expr::Or(vec![a, b]),
    }
}

impl Expr {
    fn eval(&self, possible: &[bool]) -> bool {
        match self {
            Expr::True => true,
            Expr::False => false,
            Expr::Sym(s) => possible.get(*s as usize).copied().unwrap_or(true),
            Expr::And(v) => v.iter().all(|e| e.eval(possible)),
            Expr::Or(v) => v.iter().any(|e| e.eval(possible)),
        }
    }
}

/// One `config`/`menuconfig` entry.
#[derive(Debug)]
struct Def {
    sym: u32,
    in_scope: bool,
    /// Its own `depends on` lines and those of the enclosing blocks.
    deps: Expr,
    /// What can give it a value: prompts and defaults, each with its
    /// condition (an OR of them).
    value: Expr,
    /// `select` targets with their conditions.
    selects: Vec<(u32, Expr)>,
}

#[derive(Default)]
struct Kconfig {
    ids: HashMap<String, u32>,
    names: Vec<String>,
    defined: Vec<bool>,
    defs: Vec<Def>,
}

/// What a `depends on` line applies to.
enum Current {
    None,
    Entry(Def),
    Block,
}

/// Parsing state of one Kconfig file.
struct FileState {
    in_scope: bool,
    stack: Vec<Expr>,
    current: Current,
}

impl Kconfig {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.defined.push(false);
        self.ids.insert(name.to_string(), id);
        id
    }

    /// Reads one file's entries; `in_scope`: whether they count for the
    /// architecture.
    fn parse_file(&mut self, text: &str, in_scope: bool) {
        let mut st = FileState {
            in_scope,
            stack: Vec::new(),
            current: Current::None,
        };
        for line in logical_lines(text) {
            self.line(&mut st, &line);
        }
        self.finish(&mut st);
    }

    fn finish(&mut self, st: &mut FileState) {
        if let Current::Entry(mut def) = std::mem::replace(&mut st.current, Current::None) {
            let deps = st
                .stack
                .iter()
                .cloned()
                .fold(std::mem::replace(&mut def.deps, Expr::True), and);
            def.deps = deps;
            self.defs.push(def);
        }
    }

    fn line(&mut self, st: &mut FileState, line: &str) {
        let (word, rest) = split_word(line);
        match word {
            "config" | "menuconfig" => {
                self.finish(st);
                let name = rest.trim();
                if name.is_empty() {
                    return;
                }
                let sym = self.intern(name);
                self.defined[sym as usize] = true;
                st.current = Current::Entry(Def {
                    sym,
                    in_scope: st.in_scope,
                    deps: Expr::True,
                    value: Expr::False,
                    selects: Vec::new(),
                });
            }
            "menu" | "choice" | "if" => {
                self.finish(st);
                let cond = if word == "if" {
                    self.expr(rest)
                } else {
                    Expr::True
                };
                st.stack.push(cond);
                st.current = if word == "if" {
                    Current::None
                } else {
                    Current::Block
                };
            }
            "endmenu" | "endchoice" | "endif" => {
                self.finish(st);
                st.stack.pop();
            }
            "comment" | "source" | "rsource" | "osource" | "orsource" | "mainmenu" => {
                self.finish(st);
            }
            "depends" => {
                let Some(e) = rest.trim_start().strip_prefix("on") else {
                    return;
                };
                let e = self.expr(e);
                match &mut st.current {
                    Current::Entry(def) => {
                        def.deps = and(std::mem::replace(&mut def.deps, Expr::True), e)
                    }
                    Current::Block => {
                        if let Some(top) = st.stack.pop() {
                            st.stack.push(and(top, e));
                        }
                    }
                    Current::None => {}
                }
            }
            _ => self.attribute(st, word, rest),
        }
    }

    /// Type, prompt, default and select lines of an entry.
    fn attribute(&mut self, st: &mut FileState, word: &str, rest: &str) {
        if !matches!(st.current, Current::Entry(_)) {
            return;
        }
        let (head, cond) = split_if(rest);
        let cond = cond.map_or(Expr::True, |c| self.expr(c));
        let value = match word {
            "bool" | "tristate" | "string" | "int" | "hex" | "prompt"
                if head.trim_start().starts_with(['"', '\'']) =>
            {
                Some(cond)
            }
            "default" | "def_bool" | "def_tristate" => Some(and(self.value_expr(head), cond)),
            "select" | "imply" if !head.trim().is_empty() => {
                let target = self.intern(head.trim());
                if let Current::Entry(def) = &mut st.current {
                    def.selects.push((target, cond));
                }
                None
            }
            _ => None,
        };
        if let (Some(v), Current::Entry(def)) = (value, &mut st.current) {
            def.value = or(std::mem::replace(&mut def.value, Expr::False), v);
        }
    }

    /// A default's value: `n` gives nothing, a symbol gives its own
    /// possibility, anything else (y, m, numbers, strings) a value.
    fn value_expr(&mut self, text: &str) -> Expr {
        let t = text.trim();
        if t == "n" || t == "\"n\"" {
            return Expr::False;
        }
        if t.starts_with('"') || t.starts_with('$') || t.parse::<i64>().is_ok() {
            return Expr::True;
        }
        self.expr(t)
    }

    fn expr(&mut self, text: &str) -> Expr {
        let toks = tokenize(text);
        let mut p = ExprParser {
            toks: &toks,
            pos: 0,
            depth: 0,
            too_deep: false,
            kc: self,
        };
        let e = p.or_expr();
        if p.pos == toks.len() && !p.too_deep {
            e
        } else {
            Expr::True
        }
    }

    /// Possibility of every interned symbol, to a fixed point.
    fn solve(&self, off: &[&str]) -> Vec<bool> {
        let n = self.names.len();
        let compile_test = self.ids.get("COMPILE_TEST").copied();
        let mut possible = vec![true; n];
        // A real build, not a compile test, whether or not the tree defines it.
        if let Some(ct) = compile_test {
            possible[ct as usize] = false;
        }
        let forced: Vec<u32> = off
            .iter()
            .filter_map(|s| self.ids.get(*s).copied())
            .collect();
        for &f in &forced {
            possible[f as usize] = false;
        }
        let mut by_sym: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut selected_by: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        for (i, d) in self.defs.iter().enumerate() {
            if !d.in_scope {
                continue;
            }
            by_sym[d.sym as usize].push(i);
            for (k, (t, _)) in d.selects.iter().enumerate() {
                selected_by[*t as usize].push((i, k));
            }
        }
        loop {
            let mut changed = false;
            for s in 0..n {
                if !possible[s] || !self.defined[s] {
                    continue;
                }
                let ok = Some(s as u32) != compile_test
                    && (by_sym[s].iter().any(|&i| {
                        let d = &self.defs[i];
                        d.deps.eval(&possible) && d.value.eval(&possible)
                    }) || selected_by[s].iter().any(|&(i, k)| {
                        let d = &self.defs[i];
                        possible[d.sym as usize]
                            && d.deps.eval(&possible)
                            && d.selects[k].1.eval(&possible)
                    }));
                if !ok {
                    possible[s] = false;
                    changed = true;
                }
            }
            if !changed {
                return possible;
            }
        }
    }
}

/// Splits `text` at a top-level `if` word: (before, condition).
fn split_if(text: &str) -> (&str, Option<&str>) {
    let bytes = text.as_bytes();
    let (mut depth, mut quoted) = (0i32, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b'i' if !quoted && depth == 0 => {
                let before_ok = i == 0 || bytes[i - 1].is_ascii_whitespace();
                let after_ok = bytes.get(i + 2).is_none_or(|c| c.is_ascii_whitespace());
                if before_ok && after_ok && bytes.get(i + 1) == Some(&b'f') {
                    return (&text[..i], Some(&text[i + 2..]));
                }
            }
            _ => {}
        }
    }
    (text, None)
}

fn split_word(line: &str) -> (&str, &str) {
    let t = line.trim_start();
    match t.find(|c: char| c.is_whitespace()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    }
}

/// Width of a line's leading whitespace, tabs to 8.
fn indent(line: &str) -> usize {
    let mut w = 0;
    for c in line.chars() {
        match c {
            ' ' => w += 1,
            '\t' => w = (w / 8 + 1) * 8,
            _ => break,
        }
    }
    w
}

/// Removes a `#` comment outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

/// A Kconfig file's lines with continuations joined, comments and help
/// text removed.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    // Some(help keyword indent, text indent once known).
    let mut help: Option<(usize, Option<usize>)> = None;
    while let Some(raw) = lines.next() {
        if let Some((kw, body)) = help {
            if raw.trim().is_empty() {
                continue;
            }
            let ind = indent(raw);
            match body {
                None if ind > kw => {
                    help = Some((kw, Some(ind)));
                    continue;
                }
                Some(b) if ind >= b => continue,
                _ => help = None,
            }
        }
        let mut line = strip_comment(raw).to_string();
        while line.trim_end().ends_with('\\') {
            let keep = line.trim_end().len() - 1;
            line.truncate(keep);
            match lines.next() {
                Some(next) => {
                    line.push(' ');
                    line.push_str(strip_comment(next));
                }
                None => break,
            }
        }
        let word = line.trim();
        if word == "help" || word == "---help---" {
            help = Some((indent(raw), None));
            continue;
        }
        if !word.is_empty() {
            out.push(line);
        }
    }
    out
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    /// A quoted string or a `$(...)` macro: a value, never a symbol.
    Lit,
    Op(&'static str),
}

fn tokenize(text: &str) -> Vec<Tok> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'"' || c == b'\'' {
            let end = b[i + 1..].iter().position(|&x| x == c);
            i = end.map_or(b.len(), |e| i + e + 2);
            out.push(Tok::Lit);
        } else if c == b'$' && b.get(i + 1) == Some(&b'(') {
            let mut depth = 0;
            let mut j = i + 1;
            while j < b.len() {
                match b[j] {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            i = j + 1;
            out.push(Tok::Lit);
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b"_-.".contains(&b[i])) {
                i += 1;
            }
            out.push(Tok::Word(text[start..i].to_string()));
        } else {
            let two = b.get(i..i + 2).unwrap_or(&[]);
            let op = match two {
                b"&&" => "&&",
                b"||" => "||",
                b"!=" => "!=",
                b"<=" => "<=",
                b">=" => ">=",
                _ => match c {
                    b'!' => "!",
                    b'(' => "(",
                    b')' => ")",
                    b'=' => "=",
                    b'<' => "<",
                    b'>' => ">",
                    _ => "?",
                },
            };
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    out
}

/// How deep parentheses and `!` may nest before an expression is taken
/// as possible unread (keeps the recursion bounded on any input).
const MAX_NESTING: usize = 64;

struct ExprParser<'a> {
    toks: &'a [Tok],
    pos: usize,
    depth: usize,
    /// Set when nesting went past [`MAX_NESTING`].
    too_deep: bool,
    kc: &'a mut Kconfig,
}

impl ExprParser<'_> {
    fn peek_op(&self) -> Option<&'static str> {
        match self.toks.get(self.pos) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    fn or_expr(&mut self) -> Expr {
        let mut e = self.and_expr();
        while self.peek_op() == Some("||") {
            self.pos += 1;
            let r = self.and_expr();
            e = or(e, r);
        }
        e
    }

    fn and_expr(&mut self) -> Expr {
        let mut e = self.unary();
        while self.peek_op() == Some("&&") {
            self.pos += 1;
            let r = self.unary();
            e = and(e, r);
        }
        e
    }

    fn unary(&mut self) -> Expr {
        if self.depth >= MAX_NESTING {
            self.too_deep = true;
            self.pos = self.toks.len();
            return Expr::True;
        }
        self.depth += 1;
        let e = self.unary_inner();
        self.depth -= 1;
        e
    }

    fn unary_inner(&mut self) -> Expr {
        match self.peek_op() {
            Some("!") => {
                self.pos += 1;
                let _ = self.unary();
                Expr::True
            }
            Some("(") => {
                self.pos += 1;
                let e = self.or_expr();
                if self.peek_op() == Some(")") {
                    self.pos += 1;
                }
                e
            }
            _ => self.comparison(),
        }
    }

    /// An atom, optionally compared with another.
    fn comparison(&mut self) -> Expr {
        let left = self.atom();
        let Some(op @ ("=" | "!=" | "<" | ">" | "<=" | ">=")) = self.peek_op() else {
            return left.map_or(Expr::True, |l| self.kc.sym_expr(&l));
        };
        self.pos += 1;
        let right = self.atom();
        match (left, op, right.as_deref()) {
            (Some(l), "=", Some("y" | "m")) | (Some(l), "!=", Some("n")) => self.kc.sym_expr(&l),
            _ => Expr::True,
        }
    }

    /// A word (`Some`), or a literal / missing operand (`None`).
    fn atom(&mut self) -> Option<String> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => {
                self.pos += 1;
                Some(w.clone())
            }
            Some(Tok::Lit) => {
                self.pos += 1;
                None
            }
            _ => None,
        }
    }
}

impl Kconfig {
    fn sym_expr(&mut self, name: &str) -> Expr {
        match name {
            "y" | "m" => Expr::True,
            "n" => Expr::False,
            _ if name.bytes().all(|b| b.is_ascii_digit() || b == b'-') => Expr::True,
            _ if name.starts_with("0x") => Expr::True,
            _ => Expr::Sym(self.intern(name)),
        }
    }
}

// ---------------------------------------------------------------- Makefiles

/// The condition of a Makefile line: `None` unconditional (or not a plain
/// `$(CONFIG_X)`), else the symbol.
type Cond = Option<String>;

/// One place an object or directory is listed.
#[derive(Debug)]
struct Mention {
    /// The directory of the Makefile that lists it.
    from: String,
    cond: Cond,
    /// The composite object it is part of, if any.
    parent: Option<String>,
}

#[derive(Default)]
struct Makefiles {
    objs: HashMap<String, Vec<Mention>>,
    dirs: HashMap<String, Vec<Mention>>,
}

/// Lists of objects or directories, relative to the Makefile.
const LOCAL_LISTS: &[&str] = &["obj", "lib", "subdir"];
/// Lists of the top-level and arch Makefiles, relative to the root.
const ROOT_LISTS: &[&str] = &["core", "drivers", "libs", "net", "virt", "head", "init"];
/// Variables whose values are no objects.
const NOT_OBJECTS: &[&str] = &[
    "ccflags",
    "asflags",
    "ldflags",
    "cflags",
    "subdir-ccflags",
    "subdir-asflags",
    "ccflags-remove",
    "asflags-remove",
    "dtb",
    "always",
    "extra",
    "hostprogs",
    "userprogs",
    "clean-files",
];

impl Makefiles {
    /// Reads one Makefile of directory `dir` ("" for the root).
    fn parse(&mut self, dir: &str, text: &str) {
        // Objects of `name-y := ...` lists, by name: a later
        // `name-$(CONFIG_X) := ...` replaces them when X is set
        // (mm/Makefile's `mmu-y := nommu.o`).
        let mut plain: HashMap<String, Vec<String>> = HashMap::new();
        for line in make_lines(text) {
            let Some((lhs, rhs)) = split_assign(&line) else {
                continue;
            };
            let Some((name, cond)) = split_lhs(lhs) else {
                continue;
            };
            if NOT_OBJECTS.contains(&name) {
                continue;
            }
            let replaces = line
                .split_once('=')
                .is_some_and(|(l, _)| l.ends_with(':') && !l.ends_with("::"));
            if replaces {
                match &cond {
                    None => {
                        plain.remove(name);
                    }
                    Some(sym) => {
                        let parent = join(dir, &format!("{name}.o"));
                        for o in plain.remove(name).unwrap_or_default() {
                            for m in self.objs.get_mut(&o).into_iter().flatten() {
                                if m.from == dir
                                    && m.cond.is_none()
                                    && m.parent.as_deref() == Some(&parent)
                                {
                                    m.cond = Some(format!("!{sym}"));
                                }
                            }
                        }
                    }
                }
            }
            let local = LOCAL_LISTS.contains(&name);
            let rooted = ROOT_LISTS.contains(&name);
            let parent = (!local && !rooted).then(|| join(dir, &format!("{name}.o")));
            for word in rhs.split_whitespace() {
                if word.contains('$') || word.starts_with('-') || word.contains('=') {
                    continue;
                }
                let base = if rooted { "" } else { dir };
                let mention = Mention {
                    from: dir.to_string(),
                    cond: cond.clone(),
                    parent: parent.clone(),
                };
                if word.ends_with(".o") {
                    if cond.is_none() && parent.is_some() {
                        plain
                            .entry(name.to_string())
                            .or_default()
                            .push(join(base, word));
                    }
                    self.objs.entry(join(base, word)).or_default().push(mention);
                } else if parent.is_none() && (word.ends_with('/') || name == "subdir") {
                    let d = join(base, word.trim_end_matches('/'));
                    self.dirs.entry(d).or_default().push(mention);
                }
            }
        }
    }

    /// The directories and objects no build reaches, each with a symbol
    /// that guards it.
    fn resolve(
        &self,
        possible: &dyn Fn(&str) -> bool,
    ) -> (HashMap<String, String>, HashMap<String, String>) {
        let mut dead_dirs: HashMap<String, String> = HashMap::new();
        loop {
            let mut changed = false;
            for (d, ms) in &self.dirs {
                if dead_dirs.contains_key(d) {
                    continue;
                }
                if let Some(sym) = all_dead(ms, &dead_dirs, possible, &|_| None) {
                    dead_dirs.insert(d.clone(), sym);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut memo: HashMap<String, Option<String>> = HashMap::new();
        let mut dead_objs = HashMap::new();
        for o in self.objs.keys() {
            let mut visiting = HashSet::new();
            if let Some(sym) = self.obj_dead(o, &dead_dirs, possible, &mut memo, &mut visiting) {
                dead_objs.insert(o.clone(), sym);
            }
        }
        (dead_dirs, dead_objs)
    }

    /// Whether every listing of object `o` is dead; the guarding symbol.
    fn obj_dead(
        &self,
        o: &str,
        dead_dirs: &HashMap<String, String>,
        possible: &dyn Fn(&str) -> bool,
        memo: &mut HashMap<String, Option<String>>,
        visiting: &mut HashSet<String>,
    ) -> Option<String> {
        if let Some(r) = memo.get(o) {
            return r.clone();
        }
        let ms = self.objs.get(o)?;
        // Most objects are parts of no composite: nothing to recurse into
        // or remember.
        if ms.iter().all(|m| m.parent.is_none()) {
            return all_dead(ms, dead_dirs, possible, &|_| None);
        }
        if visiting.len() >= MAX_NESTING || !visiting.insert(o.to_string()) {
            return None;
        }
        let mut parent_dead: HashMap<String, Option<String>> = HashMap::new();
        for p in ms.iter().filter_map(|m| m.parent.as_deref()) {
            if !parent_dead.contains_key(p) {
                let r = self.obj_dead(p, dead_dirs, possible, memo, visiting);
                parent_dead.insert(p.to_string(), r);
            }
        }
        let parent_check = |p: &str| parent_dead.get(p).cloned().flatten();
        let r = all_dead(ms, dead_dirs, possible, &parent_check);
        visiting.remove(o);
        memo.insert(o.to_string(), r.clone());
        r
    }
}

/// When every mention in `ms` is dead (impossible symbol, dead composite
/// parent, or listed by a Makefile no build reads), a symbol that kills
/// one of them. Mentions that are not composite parts with unknown parents
/// are live.
fn all_dead(
    ms: &[Mention],
    dead_dirs: &HashMap<String, String>,
    possible: &dyn Fn(&str) -> bool,
    parent_dead: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let mut why = None;
    for m in ms {
        let reason = if let Some(sym) = under_dead(&m.from, dead_dirs) {
            Some(sym.to_string())
        } else if let Some(sym) = m.cond.as_deref().filter(|s| !possible(s)) {
            Some(sym.to_string())
        } else {
            m.parent.as_deref().and_then(parent_dead)
        };
        match reason {
            Some(r) => {
                why.get_or_insert(r);
            }
            None => return None,
        }
    }
    why
}

/// The symbol of the nearest dead directory at or above `dir`.
fn under_dead<'a>(dir: &str, dead_dirs: &'a HashMap<String, String>) -> Option<&'a str> {
    let mut d = dir;
    loop {
        if let Some(s) = dead_dirs.get(d) {
            return Some(s);
        }
        d = d.rsplit_once('/')?.0;
    }
}

/// `dir` joined with the relative path `rel`, `.` and `..` resolved
/// (`/`-separated paths relative to the tree).
pub(crate) fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(p),
        }
    }
    parts.join("/")
}

/// A Makefile's lines with continuations joined and comments removed.
fn make_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("");
        let t = line.trim_end();
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
        } else {
            cur.push_str(t);
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `lhs op rhs` for the operators `+=`, `:=`, `?=`, `=`.
fn split_assign(line: &str) -> Option<(&str, &str)> {
    let eq = line.find('=')?;
    let lhs = line[..eq].trim_end_matches([':', '+', '?']).trim();
    if lhs.is_empty() || lhs.contains(char::is_whitespace) {
        return None;
    }
    Some((lhs, &line[eq + 1..]))
}

/// `name-suffix` into the name and the condition of the suffix; `None` for
/// a left-hand side that is no list.
fn split_lhs(lhs: &str) -> Option<(&str, Cond)> {
    if let Some(i) = lhs.find("-$(") {
        let name = lhs[..i].trim_end_matches("-objs");
        let sfx = &lhs[i + 1..];
        let cond = sfx
            .strip_prefix("$(CONFIG_")
            .and_then(|s| s.strip_suffix(')'))
            .filter(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .map(str::to_string);
        return (!name.is_empty()).then_some((name, cond));
    }
    for sfx in ["-objs", "-y", "-m"] {
        if let Some(name) = lhs.strip_suffix(sfx) {
            let name = name.trim_end_matches("-objs");
            if !name.is_empty() && !name.contains('$') {
                return Some((name, None));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fixture tree in the temp directory, removed on drop.
    struct Tree(PathBuf);

    impl Tree {
        fn new(tag: &str, files: &[(&str, &str)]) -> Tree {
            let root = std::env::temp_dir().join(format!(
                "gfp-scan-kconfig-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&root);
            for (rel, text) in files {
                let p = root.join(rel);
                if let Some(d) = p.parent() {
                    std::fs::create_dir_all(d).expect("mkdir");
                }
                std::fs::write(&p, text).expect("write");
            }
            Tree(root)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const ARCHES: &[(&str, &str)] = &[
        (
            "arch/x86/Kconfig",
            "config X86\n\tdef_bool y\n\nconfig PCI\n\tbool \"PCI\"\n",
        ),
        (
            "arch/powerpc/Kconfig",
            "config PPC\n\tdef_bool y\n\nconfig PPC_PSERIES\n\tbool \"pSeries\"\n",
        ),
        (
            "init/Kconfig",
            "config COMPILE_TEST\n\tbool \"compile test\"\n",
        ),
    ];

    fn tree(tag: &str, extra: &[(&str, &str)]) -> (Tree, Unbuildable) {
        let mut files = ARCHES.to_vec();
        files.extend_from_slice(extra);
        let t = Tree::new(tag, &files);
        let u = Unbuildable::read(&t.0, "x86");
        (t, u)
    }

    #[test]
    fn arch_only_symbol_excludes_a_directory() {
        let (_t, u) = tree(
            "dir",
            &[
                (
                    "drivers/Kconfig",
                    "config FOO\n\ttristate \"foo\"\n\tdepends on PPC_PSERIES\n",
                ),
                ("drivers/Makefile", "obj-$(CONFIG_FOO) += foo/\n"),
                ("drivers/foo/Makefile", "obj-y += a.o\n"),
            ],
        );
        assert!(u.excludes("drivers/foo/a.c"));
        assert!(u.excludes("drivers/foo/sub/b.c"));
        assert!(!u.excludes("drivers/foo/a.h"));
        assert!(u.impossible_symbols() >= 2);
        assert_eq!(u.reason("drivers/foo/a.c"), Some("FOO"));
    }

    #[test]
    fn compile_test_alternative_is_still_excluded_and_x86_is_not() {
        let (_t, u) = tree(
            "ct",
            &[
                (
                    "drivers/Kconfig",
                    "config A\n\ttristate \"a\"\n\tdepends on PPC || COMPILE_TEST\n\
                     config B\n\ttristate \"b\"\n\tdepends on PPC || X86\n",
                ),
                (
                    "drivers/Makefile",
                    "obj-$(CONFIG_A) += a.o\nobj-$(CONFIG_B) += b.o\n",
                ),
            ],
        );
        assert!(u.excludes("drivers/a.c"));
        assert!(!u.excludes("drivers/b.c"));
    }

    #[test]
    fn if_block_and_menu_depends() {
        let (_t, u) = tree(
            "blocks",
            &[
                (
                    "drivers/Kconfig",
                    "if PPC\nconfig A\n\tbool \"a\"\nendif\n\
                     menu \"m\"\n\tdepends on PPC_PSERIES\nconfig B\n\tbool \"b\"\nendmenu\n\
                     config C\n\tbool \"c\"\n",
                ),
                (
                    "drivers/Makefile",
                    "obj-$(CONFIG_A) += a.o\nobj-$(CONFIG_B) += b.o\nobj-$(CONFIG_C) += c.o\n",
                ),
            ],
        );
        assert!(u.excludes("drivers/a.c"));
        assert!(u.excludes("drivers/b.c"));
        assert!(!u.excludes("drivers/c.c"));
    }

    #[test]
    fn help_text_is_not_parsed() {
        let (_t, u) = tree(
            "help",
            &[
                (
                    "drivers/Kconfig",
                    "config A\n\ttristate \"a\"\n\thelp\n\t  Say Y.\n\n\t  depends on PPC\n\
                     \t  if PPC\n\nconfig B\n\tbool \"b\"\n\tdepends on PPC\n\thelp\n\t  text\n",
                ),
                (
                    "drivers/Makefile",
                    "obj-$(CONFIG_A) += a.o\nobj-$(CONFIG_B) += b.o\n",
                ),
            ],
        );
        assert!(!u.excludes("drivers/a.c"));
        assert!(u.excludes("drivers/b.c"));
    }

    #[test]
    fn composite_objects() {
        let (_t, u) = tree(
            "composite",
            &[
                (
                    "drivers/Kconfig",
                    "config A\n\ttristate \"a\"\n\tdepends on PPC\n\
                     config B\n\ttristate \"b\"\n",
                ),
                (
                    "drivers/Makefile",
                    "foo-objs := f1.o f2.o\nobj-$(CONFIG_A) += foo.o\n\
                     bar-y := b1.o\nbar-$(CONFIG_A) += b2.o\nobj-$(CONFIG_B) += bar.o\n",
                ),
            ],
        );
        assert!(u.excludes("drivers/f1.c"));
        assert!(u.excludes("drivers/f2.c"));
        assert!(!u.excludes("drivers/b1.c"));
        assert!(u.excludes("drivers/b2.c"));
    }

    #[test]
    fn a_list_replaced_under_a_symbol_every_build_sets_is_not_built() {
        let (_t, u) = tree(
            "replaced",
            &[
                (
                    "mm/Makefile",
                    "mmu-y := nommu.o\nmmu-$(CONFIG_MMU) := memory.o\n\
                     other-y := keep.o\nother-$(CONFIG_SWAP) := swap.o\n\
                     obj-y := slab.o $(mmu-y) $(other-y)\n",
                ),
                ("mm/Kconfig", "config SWAP\n\tbool \"swap\"\n"),
            ],
        );
        assert_eq!(u.reason("mm/nommu.c"), Some("!MMU"));
        assert!(!u.excludes("mm/memory.c"));
        // SWAP may be off: the first list is still built then.
        assert!(!u.excludes("mm/keep.c"));
        assert!(!u.excludes("mm/swap.c"));
    }

    #[test]
    fn listed_under_possible_and_impossible_stays_buildable() {
        let (_t, u) = tree(
            "both",
            &[
                (
                    "drivers/Kconfig",
                    "config A\n\ttristate \"a\"\n\tdepends on PPC\n\
                     config B\n\ttristate \"b\"\n\tdepends on PCI\n",
                ),
                (
                    "drivers/Makefile",
                    "obj-$(CONFIG_A) += lib.o only.o sub/\nobj-$(CONFIG_B) += lib.o sub/\n",
                ),
            ],
        );
        assert!(!u.excludes("drivers/lib.c"));
        assert!(u.excludes("drivers/only.c"));
        assert!(!u.excludes("drivers/sub/x.c"));
        assert!(!u.excludes("drivers/unmentioned.c"));
    }

    #[test]
    fn continuation_lines() {
        let (_t, u) = tree(
            "cont",
            &[
                (
                    "drivers/Kconfig",
                    "config A\n\ttristate \"a\"\n\tdepends on PCI && \\\n\t\tPPC_PSERIES\n",
                ),
                ("drivers/Makefile", "obj-$(CONFIG_A) += a.o \\\n\tb.o\n"),
            ],
        );
        assert!(u.excludes("drivers/a.c"));
        assert!(u.excludes("drivers/b.c"));
    }

    #[test]
    fn promptless_symbol_only_selected_elsewhere_is_impossible() {
        let (_t, u) = tree(
            "select",
            &[
                ("arch/x86/Kconfig.bus", "config SBUS\n\tbool\n"),
                (
                    "arch/powerpc/Kconfig.sel",
                    "config PPC_X\n\tdef_bool y\n\tselect SBUS\n",
                ),
                (
                    "drivers/Kconfig",
                    "config S\n\ttristate \"s\"\n\tdepends on SBUS\n\
                     config HAS\n\tbool\n\
                     config T\n\ttristate \"t\"\n\tselect HAS\n\
                     config U\n\ttristate \"u\"\n\tdepends on HAS\n",
                ),
                (
                    "drivers/Makefile",
                    "obj-$(CONFIG_S) += s.o\nobj-$(CONFIG_U) += u.o\n",
                ),
            ],
        );
        assert!(u.excludes("drivers/s.c"));
        assert!(!u.excludes("drivers/u.c"));
    }

    #[test]
    fn other_arch_sources_and_odd_input() {
        let (_t, u) = tree(
            "odd",
            &[
                (
                    "drivers/Kconfig",
                    "config\nif\nendif\nendif\ndepends on ((\n\"\n",
                ),
                ("drivers/Makefile", "obj-$(CONFIG_) += x.o\n= y\nobj-$(\n"),
            ],
        );
        assert!(u.excludes("arch/powerpc/kernel/setup.c"));
        assert!(!u.excludes("arch/x86/kernel/setup.c"));
        assert!(!u.excludes("drivers/x.c"));
        assert!(!u.excludes(""));
    }

    #[test]
    fn a_kconfig_sourced_only_by_another_arch_defines_nothing_here() {
        let (_t, u) = tree(
            "sourced",
            &[
                ("arch/parisc/Kconfig", "source \"drivers/parisc/Kconfig\"\n"),
                ("drivers/parisc/Kconfig", "config GSC\n\tbool \"GSC bus\"\n\tdefault y\n"),
                (
                    "drivers/net/Kconfig",
                    "config LASI\n\ttristate \"lasi\"\n\tdepends on GSC\n\nconfig OTHER\n\ttristate \"other\"\n\tdepends on SHARED\n",
                ),
                (
                    "drivers/shared/Kconfig",
                    "config SHARED\n\tbool \"shared\"\n",
                ),
                ("arch/x86/Kconfig.shared", "source \"drivers/shared/Kconfig\"\n"),
                ("arch/parisc/Kconfig.shared", "source \"drivers/shared/Kconfig\"\n"),
                ("drivers/net/Makefile", "obj-$(CONFIG_LASI) += lasi.o\nobj-$(CONFIG_OTHER) += other.o\n"),
            ],
        );
        // GSC comes only from parisc's Kconfig, so what needs it is out.
        assert!(u.is_impossible("GSC"));
        assert!(u.excludes("drivers/net/lasi.c"));
        // A file x86 sources too still counts.
        assert!(!u.is_impossible("SHARED"));
        assert!(!u.excludes("drivers/net/other.c"));
        // What the Makefiles list, and what they do not.
        assert!(u.listed("drivers/net/lasi.c"));
        assert!(!u.listed("drivers/net/lib.c"));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let deep = format!(
            "config A\n\tbool \"a\"\n\tdepends on {}PPC{}\n{}",
            "(!".repeat(100_000),
            ")".repeat(100_000),
            "if PPC\n".repeat(50_000)
        );
        let mut chain = String::from("obj-$(CONFIG_A) += c0.o\n");
        for i in 0..10_000 {
            chain.push_str(&format!("c{i}-y := c{}.o\n", i + 1));
        }
        let (_t, u) = tree(
            "deep",
            &[("drivers/Kconfig", &deep), ("drivers/Makefile", &chain)],
        );
        assert!(!u.excludes("drivers/c0.c"));
        assert!(!u.excludes("drivers/c9000.c"));
    }

    /// Reads the kernel tree at /work/linux/linux-source-6.12, when there,
    /// and prints what it finds. Run with `--ignored --nocapture`.
    #[test]
    #[ignore]
    fn real_tree() {
        let root = Path::new("/work/linux/linux-source-6.12");
        if !root.is_dir() {
            return;
        }
        let t = std::time::Instant::now();
        let u = Unbuildable::read(root, "x86");
        println!("read in {:?}", t.elapsed());
        println!(
            "impossible symbols {}, dead dirs {}, dead objects {}",
            u.impossible_symbols(),
            u.dirs.len(),
            u.objs.len()
        );
        let mut files = Vec::new();
        collect_c(root, "", &mut files);
        let excluded: Vec<&String> = files.iter().filter(|f| u.excludes(f)).collect();
        let outside_arch = excluded.iter().filter(|f| !f.starts_with("arch/")).count();
        println!(
            "c files {}, excluded {}, excluded outside arch/ {}",
            files.len(),
            excluded.len(),
            outside_arch
        );
        for s in std::env::var("KCONFIG_SYMS").unwrap_or_default().split(',') {
            println!("symbol {s} impossible: {}", u.is_impossible(s));
        }
        for f in std::env::var("KCONFIG_CHECK")
            .unwrap_or_default()
            .split(',')
        {
            if !f.is_empty() {
                println!("check {f}: {:?}", u.reason(f));
            }
        }
        if let Ok(path) = std::env::var("KCONFIG_DUMP") {
            let text: Vec<String> = excluded
                .iter()
                .map(|f| format!("{f} {}", u.reason(f).unwrap_or("")))
                .collect();
            let _ = std::fs::write(path, text.join("\n"));
        }
        let list: Vec<&&String> = excluded
            .iter()
            .filter(|f| !f.starts_with("arch/"))
            .collect();
        let step = (list.len() / 15).max(1);
        for f in list.iter().step_by(step).take(15) {
            println!("sample {f}: {:?}", u.reason(f));
        }
    }

    fn collect_c(root: &Path, rel: &str, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            match e.file_type() {
                Ok(ft)
                    if ft.is_dir()
                        && !name.starts_with('.')
                        && !(rel.is_empty() && (name == "tools" || name == "Documentation")) =>
                {
                    collect_c(root, &path, out)
                }
                Ok(ft) if ft.is_file() && name.ends_with(".c") => out.push(path),
                _ => {}
            }
        }
    }
}
