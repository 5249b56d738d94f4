//! Functions read from their tokens alone: their calls with arguments,
//! branch facts and gfp locals, for the functions that matter only through
//! their calls.

use crate::facts::{Call, Function, IndirectCall, Param};

use super::switch::{never_assigned, switch_facts};
use super::{ident_end, keyword_parens, matching, skip_blank, Region, KEYWORDS};

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
    let (mut is_static, mut is_weak) = (false, false);
    for w in head[..s].split(|b| !(b.is_ascii_alphanumeric() || *b == b'_')) {
        is_static |= w == b"static";
        is_weak |= w == b"__weak";
    }
    let params = head_params(&head[p..]);
    let returns_bool = !head[..s].contains(&b'*')
        && head[..s]
            .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .any(|w| w == b"bool");
    let mut f = Function {
        name,
        is_static,
        is_weak,
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
                    let before = if body[st - 1] == b'.' { st - 1 } else { st - 2 };
                    let receiver = super::receiver_of(
                        &String::from_utf8_lossy(receiver_text(body, before)),
                        &code[r.start..r.end],
                    );
                    f.indirect_calls.push(IndirectCall {
                        member: Some(String::from_utf8_lossy(word).into_owned()),
                        receiver,
                        call: Call {
                            line: line_of(base + st),
                            args: args.into(),
                            inherited: true,
                            ..Call::default()
                        },
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
    for (open, close) in keyword_parens(body, b"if") {
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
            let end = super::label_bounded_end(body, then_end, true);
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

/// The end of the statement starting at (or after blanks from) `i`: a block
/// to its closing brace, anything else to its `;` (or a block it ends with).
pub(crate) fn stmt_end(b: &[u8], i: usize) -> usize {
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

/// Whether the body branches on one of the parameters as a whole
/// (`if (nofail)`, `if (!atomic)`, `switch (mode)`): such a function is
/// parsed, so that what each branch does is tied to the parameter's value.
pub fn branches_on_param(f: &Function, body: &[u8]) -> bool {
    let compact = compact_keeping_words(body);
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

/// The expression a member is read from, ending at `end` (the `.` or
/// `->`): identifiers, `.`, `->` and brackets, back to anything else.
fn receiver_text(body: &[u8], end: usize) -> &[u8] {
    let mut b = end;
    while b > 0
        && (body[b - 1].is_ascii_alphanumeric()
            || matches!(body[b - 1], b'_' | b'.' | b'[' | b']')
            || (body[b - 1] == b'>' && b >= 2 && body[b - 2] == b'-')
            || (body[b - 1] == b'-' && body.get(b) == Some(&b'>')))
    {
        b -= 1;
    }
    &body[b..end]
}

/// `body` without its blanks, except one space where blanks part two
/// words: `#ifdef CONFIG_X` on the line above `if (p)` must not make
/// `CONFIG_Xif(p)`.
fn compact_keeping_words(body: &[u8]) -> Vec<u8> {
    let word = super::wrappers::is_word;
    let mut out = Vec::with_capacity(body.len());
    let mut blank = false;
    for &b in body {
        if b.is_ascii_whitespace() {
            blank = true;
            continue;
        }
        if blank && word(b) && out.last().is_some_and(|&l| word(l)) {
            out.push(b' ');
        }
        blank = false;
        out.push(b);
    }
    out
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
