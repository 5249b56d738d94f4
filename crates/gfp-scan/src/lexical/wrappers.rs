//! Lock wrappers: a file's functions that take a lock for their caller or
//! release the caller's lock, found from their tokens.

use std::collections::{HashMap, HashSet};

use crate::vocab::LockClass;

use super::{ident_end, Region, RegionKind};

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
/// `matters` says, per region, whether [`matters`](super::matters) holds for its text.
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
    // What each function calls, read once (only calls can make a function
    // a wrapper's caller).
    let mut called: Vec<Option<Vec<&str>>> = vec![None; functions.len()];
    for _level in 0..3 {
        relevant.extend(
            functions
                .iter()
                .zip(&wanted)
                .filter(|(_, w)| **w)
                .filter_map(|((r, _), _)| name_of(r)),
        );
        let mut grew = false;
        for (i, (_, body)) in functions.iter().enumerate() {
            if wanted[i] {
                continue;
            }
            let names = called[i].get_or_insert_with(|| called_names(body));
            if names.iter().any(|n| relevant.contains(n)) {
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

/// The names `body` calls (`name(`, blanks allowed before the parenthesis).
fn called_names(body: &[u8]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if !(b.is_ascii_alphabetic() || b == b'_') || (i > 0 && is_word(body[i - 1])) {
            i += 1;
            continue;
        }
        let end = ident_end(body, i);
        let after = end
            + body[end..]
                .iter()
                .take_while(|c| c.is_ascii_whitespace())
                .count();
        if body.get(after) == Some(&b'(') {
            if let Ok(name) = std::str::from_utf8(&body[i..end]) {
                out.push(name);
            }
        }
        i = end;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexical::{code_only, matters, regions};

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
}
