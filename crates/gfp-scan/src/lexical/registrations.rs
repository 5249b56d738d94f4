//! Registrations read from tokens: initialisers' `.member = function`
//! pairs, members assigned a function, notifier blocks, and names whose
//! address is taken.

use super::{ident_end, skip_blank};

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
