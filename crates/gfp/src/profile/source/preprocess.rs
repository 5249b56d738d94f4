//! The preprocessor of the header reader: directives, conditionals and
//! macro expansion over the lexer's tokens.

use super::*;

/// Macro expansion stops past this many nested argument expansions.
pub(super) const MAX_DEPTH: u32 = 64;
/// One evaluation may process at most this many tokens.
pub(super) const MAX_STEPS: u64 = 400_000;
/// One expansion may hold at most this many tokens.
pub(super) const MAX_TOKENS: usize = 100_000;
/// Parenthesised expressions may nest this deep.
pub(super) const MAX_EXPR_DEPTH: u32 = 100;

/// The macros every kernel header can rely on but that live in headers this
/// module does not read (`bits.h`, `const.h`, `compiler_types.h`, ...).
pub(super) const PRELUDE: &str = "\
#define __KERNEL__ 1
#define __force
#define __bitwise
#define __bitwise__
#define _AC(X, Y) X
#define _AT(T, X) X
#define _UL(x) x
#define _ULL(x) x
#define UL(x) x
#define ULL(x) x
#define _BITUL(x) (1UL << (x))
#define _BITULL(x) (1ULL << (x))
#define BIT(nr) (1UL << (nr))
#define BIT_ULL(nr) (1ULL << (nr))
#define __stringify_1(x...) #x
#define __stringify(x...) __stringify_1(x)
";

pub(super) struct Macro {
    pub(super) id: u32,
    pub(super) params: Option<Vec<String>>,
    pub(super) variadic: bool,
    pub(super) body: Vec<Tok>,
    pub(super) file: String,
    pub(super) line: u32,
}

pub(super) struct Cond {
    /// The enclosing region is active.
    pub(super) parent: bool,
    /// A branch of this conditional has been taken.
    pub(super) taken: bool,
    /// The current branch is active.
    pub(super) active: bool,
    pub(super) else_seen: bool,
    pub(super) line: u32,
}

/// What to do with the text (non-directive) lines of a file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum TextUse {
    /// Keep them, to read `enum` blocks.
    Enums,
    /// Expand them and record `TRACE_DEFINE_ENUM(x)` calls.
    TraceEnums,
}

pub(super) struct Pp {
    pub(super) macros: BTreeMap<String, Macro>,
    pub(super) next_id: u32,
    /// Macro names in order of first definition.
    pub(super) order: Vec<String>,
    /// The names in `order`.
    pub(super) ordered: BTreeSet<String>,
    pub(super) enums: BTreeMap<String, i128>,
    /// The enum constants exported to user-space trace tools.
    pub(super) trace_enums: BTreeSet<String>,
    /// A text chunk of the table file could not be expanded.
    pub(super) trace_scan_failed: Option<String>,
    pub(super) notes: Vec<String>,
    pub(super) steps: Cell<u64>,
}

/// `IS_ENABLED()` and its relatives, evaluated without kconfig.h.
#[derive(Clone, Copy)]
pub(super) enum ConfigTest {
    Enabled,
    BuiltIn,
    Module,
}

pub(super) fn builtin(name: &str) -> Option<ConfigTest> {
    match name {
        "IS_ENABLED" | "IS_REACHABLE" => Some(ConfigTest::Enabled),
        "IS_BUILTIN" => Some(ConfigTest::BuiltIn),
        "IS_MODULE" => Some(ConfigTest::Module),
        _ => None,
    }
}

pub(super) fn number(v: i128, line: u32) -> Tok {
    Tok::new(Kind::Number, v.to_string(), true, line)
}

/// Pops a macro call's arguments off `stack` (reversed input), the opening
/// parenthesis already taken. `None` if the input ends first.
pub(super) fn collect_args(stack: &mut Vec<Tok>) -> Option<Vec<Vec<Tok>>> {
    let mut args = vec![Vec::new()];
    let mut depth = 0usize;
    while let Some(t) = stack.pop() {
        if t.is("(") {
            depth += 1;
        } else if t.is(")") {
            if depth == 0 {
                return Some(args);
            }
            depth -= 1;
        } else if t.is(",") && depth == 0 {
            args.push(Vec::new());
            continue;
        }
        if let Some(last) = args.last_mut() {
            last.push(t);
        }
    }
    None
}

/// `#x`: the spelling of the tokens as a string literal.
pub(super) fn stringify(toks: &[Tok], space: bool, line: u32) -> Tok {
    let mut s = String::from("\"");
    for (k, t) in toks
        .iter()
        .filter(|t| t.kind != Kind::Placemarker)
        .enumerate()
    {
        if k > 0 && t.space {
            s.push(' ');
        }
        if matches!(t.kind, Kind::Str | Kind::Char) {
            for c in t.text.chars() {
                if c == '"' || c == '\\' {
                    s.push('\\');
                }
                s.push(c);
            }
        } else {
            s.push_str(&t.text);
        }
    }
    s.push('"');
    Tok::new(Kind::Str, s, space, line)
}

/// `a ## b`.
pub(super) fn paste(left: Tok, right: Tok) -> Vec<Tok> {
    if left.kind == Kind::Placemarker {
        let mut r = right;
        r.space = left.space;
        return vec![r];
    }
    if right.kind == Kind::Placemarker {
        return vec![left];
    }
    let joined = format!("{}{}", left.text, right.text);
    let mut toks = tokenize(&joined, left.line);
    if toks.len() == 1 {
        if let Some(mut t) = toks.pop() {
            t.space = left.space;
            return vec![t];
        }
    }
    // Not one token: GCC rejects it; keep both.
    vec![left, right]
}

impl Pp {
    pub(super) fn new() -> Pp {
        let mut pp = Pp {
            macros: BTreeMap::new(),
            next_id: 0,
            order: Vec::new(),
            ordered: BTreeSet::new(),
            enums: BTreeMap::new(),
            trace_enums: BTreeSet::new(),
            trace_scan_failed: None,
            notes: Vec::new(),
            steps: Cell::new(0),
        };
        // The prelude is well formed, so this cannot fail.
        let _ = pp.run_file("<built-in>", PRELUDE, TextUse::Enums);
        pp
    }

    pub(super) fn tick(&self) -> Result<(), String> {
        let n = self.steps.get() + 1;
        self.steps.set(n);
        if n > MAX_STEPS {
            Err(format!(
                "macro expansion takes more than {MAX_STEPS} steps (recursive or exponential macros?)"
            ))
        } else {
            Ok(())
        }
    }

    /// Runs one file: directives update the macro table, text lines are kept
    /// or scanned according to `text_use`. Returns the active text tokens.
    pub(super) fn run_file(
        &mut self,
        file: &str,
        src: &str,
        text_use: TextUse,
    ) -> Result<Vec<Tok>, SourceError> {
        let mut conds: Vec<Cond> = Vec::new();
        let mut text: Vec<Tok> = Vec::new();
        for (no, line) in logical_lines(src) {
            let toks = tokenize(&line, no);
            let Some(first) = toks.first() else {
                continue;
            };
            let active = conds.last().is_none_or(|c| c.active);
            if !first.is("#") {
                if active {
                    text.extend(toks);
                }
                continue;
            }
            if text_use == TextUse::TraceEnums && !text.is_empty() {
                let chunk = core::mem::take(&mut text);
                self.scan_trace_enums(file, chunk);
            }
            let name = toks.get(1).and_then(Tok::ident).unwrap_or("");
            let rest = toks.get(2..).unwrap_or(&[]);
            let dir_err = |reason: &str| SourceError::Directive {
                file: file.to_string(),
                line: no,
                reason: reason.to_string(),
            };
            match name {
                "if" | "ifdef" | "ifndef" => {
                    let v = active && self.condition(file, no, name, rest);
                    conds.push(Cond {
                        parent: active,
                        taken: v,
                        active: v,
                        else_seen: false,
                        line: no,
                    });
                }
                "elif" | "elifdef" | "elifndef" => {
                    let Some(top) = conds.last() else {
                        return Err(dir_err(&format!("#{name} without #if")));
                    };
                    if top.else_seen {
                        return Err(dir_err(&format!("#{name} after #else")));
                    }
                    let (parent, taken) = (top.parent, top.taken);
                    let kind = match name {
                        "elif" => "if",
                        "elifdef" => "ifdef",
                        _ => "ifndef",
                    };
                    let v = parent && !taken && self.condition(file, no, kind, rest);
                    if let Some(top) = conds.last_mut() {
                        top.active = v;
                        top.taken |= v;
                    }
                }
                "else" => {
                    let Some(top) = conds.last_mut() else {
                        return Err(dir_err("#else without #if"));
                    };
                    if top.else_seen {
                        return Err(dir_err("second #else for the same #if"));
                    }
                    top.active = top.parent && !top.taken;
                    top.taken = true;
                    top.else_seen = true;
                }
                // The guard closes the conditional; it fails only without one.
                "endif" if conds.pop().is_none() => {
                    return Err(dir_err("#endif without #if"));
                }
                "endif" => {}
                _ if !active => {}
                "define" => self.define(file, no, rest),
                "undef" => {
                    if let Some(n) = rest.first().and_then(Tok::ident) {
                        self.macros.remove(n);
                    }
                }
                // #include, #error, #warning, #pragma, #line, null directive
                _ => {}
            }
        }
        if text_use == TextUse::TraceEnums && !text.is_empty() {
            let chunk = core::mem::take(&mut text);
            self.scan_trace_enums(file, chunk);
        }
        if let Some(c) = conds.last() {
            return Err(SourceError::Directive {
                file: file.to_string(),
                line: c.line,
                reason: "this #if is never closed by #endif".to_string(),
            });
        }
        Ok(text)
    }

    pub(super) fn is_defined(&self, name: &str) -> bool {
        self.macros.contains_key(name) || builtin(name).is_some()
    }

    /// The value of an `#if`, `#ifdef` or `#ifndef` (in an active region).
    /// An expression that cannot be evaluated counts as false, with a note.
    pub(super) fn condition(&mut self, file: &str, line: u32, kind: &str, rest: &[Tok]) -> bool {
        match kind {
            "ifdef" | "ifndef" => {
                let Some(name) = rest.first().and_then(Tok::ident) else {
                    self.notes.push(format!(
                        "{file}:{line}: #{kind} without a macro name, taken as false"
                    ));
                    return false;
                };
                self.is_defined(name) == (kind == "ifdef")
            }
            _ => match self.eval_if(rest) {
                Ok(v) => v,
                Err(e) => {
                    self.notes.push(format!(
                        "{file}:{line}: could not evaluate this #if ({e}); taken as false"
                    ));
                    false
                }
            },
        }
    }

    pub(super) fn eval_if(&self, toks: &[Tok]) -> Result<bool, String> {
        let mut pre = Vec::with_capacity(toks.len());
        let mut i = 0;
        while let Some(t) = toks.get(i) {
            if t.ident() == Some("defined") {
                let (name, adv) = match (toks.get(i + 1), toks.get(i + 2), toks.get(i + 3)) {
                    (Some(a), _, _) if a.kind == Kind::Ident => (a.text.as_str(), 2),
                    (Some(p), Some(a), Some(q))
                        if p.is("(") && a.kind == Kind::Ident && q.is(")") =>
                    {
                        (a.text.as_str(), 4)
                    }
                    _ => return Err("`defined` without a macro name".to_string()),
                };
                pre.push(number(i128::from(self.is_defined(name)), t.line));
                i += adv;
                continue;
            }
            if t.ident().is_some_and(|n| n.starts_with("__has_"))
                && toks.get(i + 1).is_some_and(|p| p.is("("))
            {
                // __has_include(), __has_attribute(), ...: not known here.
                let mut depth = 0usize;
                i += 1;
                while let Some(u) = toks.get(i) {
                    i += 1;
                    if u.is("(") {
                        depth += 1;
                    } else if u.is(")") {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            break;
                        }
                    }
                }
                pre.push(number(0, t.line));
                continue;
            }
            pre.push(t.clone());
            i += 1;
        }
        self.steps.set(0);
        let out = self.expand(pre, 0)?;
        let mut used = Vec::new();
        let v = eval_expr(&out, None, &mut used)?;
        Ok(v != 0)
    }

    pub(super) fn define(&mut self, file: &str, line: u32, rest: &[Tok]) {
        let Some(name) = rest.first().and_then(Tok::ident) else {
            self.notes.push(format!(
                "{file}:{line}: #define without a macro name, ignored"
            ));
            return;
        };
        let mut i = 1;
        let mut params = None;
        let mut variadic = false;
        if rest.get(1).is_some_and(|p| p.is("(") && !p.space) {
            let mut ps = Vec::new();
            i = 2;
            loop {
                match rest.get(i) {
                    Some(t) if t.is(")") => {
                        i += 1;
                        break;
                    }
                    Some(t) if t.is("...") => {
                        ps.push("__VA_ARGS__".to_string());
                        variadic = true;
                        i += 1;
                    }
                    Some(t) if t.kind == Kind::Ident => {
                        ps.push(t.text.clone());
                        i += 1;
                        if rest.get(i).is_some_and(|t| t.is("...")) {
                            variadic = true;
                            i += 1;
                        }
                    }
                    Some(t) if t.is(",") => i += 1,
                    _ => {
                        self.notes.push(format!(
                            "{file}:{line}: #define {name}: bad parameter list, ignored"
                        ));
                        return;
                    }
                }
            }
            params = Some(ps);
        }
        let mut body = rest.get(i..).unwrap_or(&[]).to_vec();
        if let Some(f) = body.first_mut() {
            f.space = false;
        }
        if self.ordered.insert(name.to_string()) {
            self.order.push(name.to_string());
        }
        self.next_id = self.next_id.wrapping_add(1);
        self.macros.insert(
            name.to_string(),
            Macro {
                id: self.next_id,
                params,
                variadic,
                body,
                file: file.to_string(),
                line,
            },
        );
    }

    /// Expands every macro in `input` (the usual rescanning rules, with
    /// hide sets against recursion).
    pub(super) fn expand(&self, input: Vec<Tok>, depth: u32) -> Result<Vec<Tok>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("macro arguments nested more than {MAX_DEPTH} deep"));
        }
        let mut stack = input;
        stack.reverse();
        let mut out = Vec::new();
        while let Some(t) = stack.pop() {
            self.tick()?;
            if stack.len() + out.len() > MAX_TOKENS {
                return Err(format!("macro expansion grows past {MAX_TOKENS} tokens"));
            }
            if t.kind != Kind::Ident {
                out.push(t);
                continue;
            }
            if let Some(b) = builtin(&t.text) {
                if stack.last().is_some_and(|n| n.is("(")) {
                    stack.pop();
                    let args = collect_args(&mut stack)
                        .ok_or_else(|| format!("unterminated call of {}", t.text))?;
                    let v = self.builtin_value(b, &args);
                    out.push(number(v, t.line));
                    continue;
                }
                out.push(t);
                continue;
            }
            let Some(m) = self.macros.get(&t.text) else {
                out.push(t);
                continue;
            };
            if t.hide.contains(&m.id) {
                out.push(t);
                continue;
            }
            let mut hide = t.hide.clone();
            hide.push(m.id);
            let body = match &m.params {
                None => self.subst(m, &[], &hide, t.space, depth)?,
                Some(_) => {
                    if !stack.last().is_some_and(|n| n.is("(")) {
                        out.push(t);
                        continue;
                    }
                    stack.pop();
                    let args = collect_args(&mut stack)
                        .ok_or_else(|| format!("unterminated call of macro `{}`", t.text))?;
                    let args = fit_args(m, &t.text, args)?;
                    self.subst(m, &args, &hide, t.space, depth)?
                }
            };
            stack.extend(body.into_iter().rev());
        }
        Ok(out)
    }

    pub(super) fn builtin_value(&self, b: ConfigTest, args: &[Vec<Tok>]) -> i128 {
        let name = match args {
            [one] => match one.as_slice() {
                [t] => t.text.as_str(),
                _ => return 0,
            },
            _ => return 0,
        };
        let is_one = |n: &str| {
            self.macros.get(n).is_some_and(|m| {
                m.params.is_none() && m.body.len() == 1 && m.body.iter().all(|t| t.text == "1")
            })
        };
        let module = format!("{name}_MODULE");
        let v = match b {
            ConfigTest::Enabled => is_one(name) || is_one(&module),
            ConfigTest::BuiltIn => is_one(name),
            ConfigTest::Module => is_one(&module),
        };
        i128::from(v)
    }

    /// A macro's replacement list with the arguments put in.
    pub(super) fn subst(
        &self,
        m: &Macro,
        args: &[Vec<Tok>],
        hide: &[u32],
        space: bool,
        depth: u32,
    ) -> Result<Vec<Tok>, String> {
        let params: &[String] = m.params.as_deref().unwrap_or(&[]);
        let param = |t: &Tok| -> Option<usize> {
            if t.kind == Kind::Ident {
                params.iter().position(|p| *p == t.text)
            } else {
                None
            }
        };
        let raw = |p: usize, line: u32| -> Vec<Tok> {
            match args.get(p) {
                Some(a) if !a.is_empty() => a.clone(),
                _ => vec![Tok::new(Kind::Placemarker, "", false, line)],
            }
        };
        let mut expanded: Vec<Option<Vec<Tok>>> = vec![None; args.len()];
        let mut out: Vec<Tok> = Vec::new();
        let body = &m.body;
        let mut i = 0;
        while let Some(t) = body.get(i) {
            self.tick()?;
            if m.params.is_some() && t.is("#") {
                if let Some(p) = body.get(i + 1).and_then(param) {
                    let arg = args.get(p).map(Vec::as_slice).unwrap_or(&[]);
                    out.push(stringify(arg, t.space, t.line));
                    i += 2;
                    continue;
                }
            }
            if t.is("##") {
                let next = body.get(i + 1);
                i += 2;
                let (rhs, from_variadic) = match next {
                    Some(n) => match param(n) {
                        Some(p) => (raw(p, n.line), m.variadic && p + 1 == params.len()),
                        None => (vec![n.clone()], false),
                    },
                    None => (Vec::new(), false),
                };
                let rhs_empty = rhs.iter().all(|r| r.kind == Kind::Placemarker);
                if rhs_empty && from_variadic && out.last().is_some_and(|l| l.is(",")) {
                    // GNU `, ## __VA_ARGS__` with no variadic arguments.
                    out.pop();
                    continue;
                }
                let mut rhs = rhs.into_iter();
                if let Some(first) = rhs.next() {
                    match out.pop() {
                        Some(left) => out.extend(paste(left, first)),
                        None => out.push(first),
                    }
                }
                out.extend(rhs);
                continue;
            }
            if let Some(p) = param(t) {
                let mut toks = if body.get(i + 1).is_some_and(|n| n.is("##")) {
                    raw(p, t.line)
                } else {
                    if expanded.get(p).is_some_and(Option::is_none) {
                        let arg = args.get(p).cloned().unwrap_or_default();
                        let e = self.expand(arg, depth + 1)?;
                        if let Some(slot) = expanded.get_mut(p) {
                            *slot = Some(e);
                        }
                    }
                    expanded.get(p).cloned().flatten().unwrap_or_default()
                };
                if let Some(f) = toks.first_mut() {
                    f.space = t.space;
                }
                out.extend(toks);
                i += 1;
                continue;
            }
            out.push(t.clone());
            i += 1;
        }
        out.retain(|t| t.kind != Kind::Placemarker);
        for t in &mut out {
            for id in hide {
                if !t.hide.contains(id) {
                    t.hide.push(*id);
                }
            }
        }
        if let Some(f) = out.first_mut() {
            f.space = space;
        }
        Ok(out)
    }

    /// Expands a text chunk of the table file and records the enum constants
    /// it exports with `TRACE_DEFINE_ENUM(x)`.
    pub(super) fn scan_trace_enums(&mut self, file: &str, chunk: Vec<Tok>) {
        let line = chunk.first().map_or(0, |t| t.line);
        self.steps.set(0);
        let toks = match self.expand(chunk.clone(), 0) {
            Ok(t) => t,
            Err(e) => {
                if self.trace_scan_failed.is_none() {
                    self.trace_scan_failed = Some(format!("{file}:{line}: {e}"));
                }
                chunk
            }
        };
        for w in toks.windows(4) {
            if let [a, b, c, d] = w {
                if a.ident() == Some("TRACE_DEFINE_ENUM") && b.is("(") && d.is(")") {
                    if let Some(name) = c.ident() {
                        self.trace_enums.insert(name.to_string());
                    }
                }
            }
        }
    }

    /// Reads the `enum { ... }` blocks of a file's text and records their
    /// constants. A constant whose value cannot be evaluated ends its enum,
    /// with a note.
    pub(super) fn read_enums(&mut self, file: &str, text: &[Tok]) {
        let mut i = 0;
        while let Some(t) = text.get(i) {
            i += 1;
            if t.ident() != Some("enum") {
                continue;
            }
            let mut j = i;
            if text.get(j).is_some_and(|t| t.kind == Kind::Ident) {
                j += 1;
            }
            if !text.get(j).is_some_and(|t| t.is("{")) {
                continue;
            }
            j += 1;
            // The body, up to the matching brace.
            let start = j;
            let mut depth = 0usize;
            while let Some(u) = text.get(j) {
                if u.is("{") || u.is("(") || u.is("[") {
                    depth += 1;
                } else if u.is("}") || u.is(")") || u.is("]") {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                j += 1;
            }
            let body = text.get(start..j).unwrap_or(&[]);
            i = j + 1;
            let mut next: i128 = 0;
            for entry in split_top(body) {
                let Some(name) = entry.first().and_then(Tok::ident) else {
                    continue;
                };
                let value = if entry.get(1).is_some_and(|t| t.is("=")) {
                    let expr = entry.get(2..).unwrap_or(&[]).to_vec();
                    self.steps.set(0);
                    let r = self.expand(expr, 0).and_then(|e| {
                        let mut used = Vec::new();
                        eval_expr(&e, Some(&self.enums), &mut used)
                    });
                    match r {
                        Ok(v) => v,
                        Err(e) => {
                            let line = entry.first().map_or(0, |t| t.line);
                            self.notes.push(format!(
                                "{file}:{line}: could not evaluate the enum constant {name} ({e}); it and the rest of its enum are unknown"
                            ));
                            break;
                        }
                    }
                } else {
                    next
                };
                self.enums.insert(name.to_string(), value);
                next = value.wrapping_add(1);
            }
        }
    }

    /// Expands and evaluates an object-like macro.
    pub(super) fn eval_macro(&self, name: &str, used: &mut Vec<String>) -> Result<i128, String> {
        self.steps.set(0);
        let toks = self.expand(vec![Tok::new(Kind::Ident, name, false, 0)], 0)?;
        eval_expr(&toks, Some(&self.enums), used)
    }

    pub(super) fn unevaluable(&self, name: &str, reason: String) -> SourceError {
        let (file, line) = self
            .macros
            .get(name)
            .map_or((String::from("?"), 0), |m| (m.file.clone(), m.line));
        SourceError::Unevaluable {
            name: name.to_string(),
            file,
            line,
            reason,
        }
    }
}

/// Matches a call's arguments to the macro's parameters.
fn fit_args(m: &Macro, name: &str, mut args: Vec<Vec<Tok>>) -> Result<Vec<Vec<Tok>>, String> {
    let n = m.params.as_ref().map_or(0, Vec::len);
    if n == 0 && args.len() == 1 && args.first().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    if m.variadic && args.len() > n && n > 0 {
        // Fold the extra arguments into the variadic one, commas included.
        let extra = args.split_off(n - 1);
        let mut va = Vec::new();
        for (k, a) in extra.into_iter().enumerate() {
            if k > 0 {
                va.push(Tok::new(Kind::Punct, ",", false, 0));
            }
            va.extend(a);
        }
        args.push(va);
    }
    if m.variadic && args.len() + 1 == n {
        args.push(Vec::new());
    }
    if args.len() != n {
        return Err(format!(
            "macro `{name}` takes {n} argument(s), {} given",
            args.len()
        ));
    }
    Ok(args)
}

/// Splits at the commas that are not inside parentheses, braces or brackets.
pub(super) fn split_top(toks: &[Tok]) -> Vec<&[Tok]> {
    let mut pieces = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (k, t) in toks.iter().enumerate() {
        if t.is("(") || t.is("{") || t.is("[") {
            depth += 1;
        } else if t.is(")") || t.is("}") || t.is("]") {
            depth = depth.saturating_sub(1);
        } else if t.is(",") && depth == 0 {
            pieces.push(toks.get(start..k).unwrap_or(&[]));
            start = k + 1;
        }
    }
    pieces.push(toks.get(start..).unwrap_or(&[]));
    pieces
}
