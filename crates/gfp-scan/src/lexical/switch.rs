//! What a `switch` or a condition tests, when a function's callers can
//! decide it: the subject, the case segments, and whether a name is ever
//! assigned.

use crate::facts::{CaseLabels, Function, Param, SwitchOn};

use super::{ident_end, keyword_parens, matching, skip_blank};

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
pub(super) fn switch_facts(
    f: &mut Function,
    src: &[u8],
    code: &[u8],
    base: usize,
    line_of: &dyn Fn(usize) -> u32,
) {
    for (open, close) in keyword_parens(code, b"switch") {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
