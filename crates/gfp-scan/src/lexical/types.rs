//! Structure types read from tokens, for following calls through ops
//! structures: which structures declare a function-pointer member, and
//! which structure an initialiser fills.

use super::wrappers::is_word;
use super::{ident_end, matching, skip_blank};

/// What the structures `code` defines say about their members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StructFacts {
    /// (structure, member) for each member declared a function pointer:
    /// `struct NAME { ... (*member)(...) ... }`.
    pub fn_members: Vec<(String, String)>,
    /// (structure, member, its structure type) for each member declared
    /// as a structure or a pointer to one: `const struct il_ops *ops;` in
    /// `struct il_priv` gives (`il_priv`, `ops`, `il_ops`).
    pub struct_members: Vec<(String, String, String)>,
    /// (variable, its structure type) for each file-scope variable
    /// declared as a structure or a pointer to one, on a line of its own
    /// at the left margin: `static struct cpci_hp_controller *controller;`.
    pub globals: Vec<(String, String)>,
}

/// The members of the structures `code` defines ([`StructFacts`]). A
/// member of a structure or union nested in a named one counts for the
/// named one too (the kernel nests anonymous unions of callbacks). `code`
/// is the text with comments and literals blanked
/// ([`code_only`](super::code_only)).
pub fn struct_facts(code: &[u8]) -> StructFacts {
    let mut out = StructFacts::default();
    for at in memchr::memmem::find_iter(code, b"struct") {
        let Some((name_at, name_end)) = struct_name_after(code, at) else {
            continue;
        };
        let open = skip_blank(code, name_end);
        if code.get(open) != Some(&b'{') {
            continue;
        }
        let Some(close) = matching(code, open, b'{', b'}') else {
            continue;
        };
        let name = String::from_utf8_lossy(&code[name_at..name_end]).into_owned();
        let body = &code[open + 1..close];
        for member in members_called_through(body) {
            if !out
                .fn_members
                .iter()
                .any(|(s, m)| *s == name && *m == member)
            {
                out.fn_members.push((name.clone(), member));
            }
        }
        for (m, ty) in members_of_struct_type(body) {
            let triple = (name.clone(), m, ty);
            if !out.struct_members.contains(&triple) {
                out.struct_members.push(triple);
            }
        }
    }
    out.globals = file_scope_variables(code);
    out
}

/// The file-scope `[static] [const] struct T [*]name [;=[]` declarations
/// of `code` that start a line: (name, T). Kernel style indents every
/// declaration inside a function, so the left margin is file scope.
fn file_scope_variables(code: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut line_start = 0;
    while line_start < code.len() {
        let line_end =
            memchr::memchr(b'\n', &code[line_start..]).map_or(code.len(), |i| line_start + i);
        let line = &code[line_start..line_end];
        line_start = line_end + 1;
        let mut i = 0;
        for word in [&b"static"[..], b"const"] {
            if line[i..].starts_with(word)
                && line
                    .get(i + word.len())
                    .is_some_and(|b| b.is_ascii_whitespace())
            {
                i = skip_blank(line, i + word.len());
            }
        }
        let Some((ty_at, ty_end)) =
            struct_name_after(line, i).filter(|_| line[i..].starts_with(b"struct"))
        else {
            continue;
        };
        let Some((j, name_end)) = declared_name(line, ty_end, b";=[") else {
            continue;
        };
        let pair = (
            String::from_utf8_lossy(&line[j..name_end]).into_owned(),
            String::from_utf8_lossy(&line[ty_at..ty_end]).into_owned(),
        );
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

/// The name after the `struct` keyword at `at` (`struct NAME`), as a
/// range, when `at` starts the keyword.
fn struct_name_after(code: &[u8], at: usize) -> Option<(usize, usize)> {
    let word_start = at == 0 || !is_word(code[at - 1]);
    let after = at + b"struct".len();
    if !word_start || !code.get(after).is_some_and(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let name_at = skip_blank(code, after);
    let name_end = ident_end(code, name_at);
    (name_end > name_at && !code[name_at].is_ascii_digit()).then_some((name_at, name_end))
}

/// The name a declaration declares after its type ends at `ty_end`
/// (`struct T` then `*`s, `const`, the name), as a range, when one of
/// `ends` follows it.
fn declared_name(text: &[u8], ty_end: usize, ends: &[u8]) -> Option<(usize, usize)> {
    let mut i = skip_blank(text, ty_end);
    while text.get(i) == Some(&b'*') {
        i = skip_blank(text, i + 1);
    }
    if text[i..].starts_with(b"const") && !text.get(i + 5).is_some_and(|&b| is_word(b)) {
        i = skip_blank(text, i + 5);
    }
    let name_end = ident_end(text, i);
    let named = name_end > i && !text[i].is_ascii_digit();
    let ended = text
        .get(skip_blank(text, name_end))
        .is_some_and(|b| ends.contains(b));
    (named && ended).then_some((i, name_end))
}

/// The `struct T *name;` and `struct T name;` declarations of a
/// structure's body: (name, T).
fn members_of_struct_type(body: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(body, b"struct") {
        let Some((ty_at, ty_end)) = struct_name_after(body, at) else {
            continue;
        };
        // A member ends its declaration here (an array's brackets, a bit
        // field or the next declarator may follow).
        let Some((i, name_end)) = declared_name(body, ty_end, b";[,") else {
            continue;
        };
        out.push((
            String::from_utf8_lossy(&body[i..name_end]).into_owned(),
            String::from_utf8_lossy(&body[ty_at..ty_end]).into_owned(),
        ));
    }
    out
}

/// The structure type `name` is declared with in `text` (a function's
/// parameters and body): `struct T *name`, `const struct T *name`,
/// `struct T name` (the first such declaration).
pub fn declared_struct(text: &[u8], name: &str) -> Option<String> {
    let n = name.as_bytes();
    for at in memchr::memmem::find_iter(text, n) {
        if at > 0 && is_word(text[at - 1]) {
            continue;
        }
        if text.get(at + n.len()).is_some_and(|&b| is_word(b)) {
            continue;
        }
        // Back over blanks, stars and `const`, to the type's name.
        let mut j = at;
        loop {
            while j > 0 && (text[j - 1].is_ascii_whitespace() || text[j - 1] == b'*') {
                j -= 1;
            }
            if j >= 5 && &text[j - 5..j] == b"const" && (j == 5 || !is_word(text[j - 6])) {
                j -= 5;
                continue;
            }
            break;
        }
        let ty_end = j;
        while j > 0 && is_word(text[j - 1]) {
            j -= 1;
        }
        if j == ty_end {
            continue;
        }
        let ty = &text[j..ty_end];
        let mut k = j;
        while k > 0 && text[k - 1].is_ascii_whitespace() {
            k -= 1;
        }
        if k >= 6 && &text[k - 6..k] == b"struct" && (k == 6 || !is_word(text[k - 7])) {
            return Some(String::from_utf8_lossy(ty).into_owned());
        }
    }
    None
}

/// What a call through a member says of the structure it reads the
/// member from ([`Receiver`](crate::facts::Receiver)), from the
/// expression before `->member` / `.member` and the calling function's
/// text (for the variable's declaration). Array subscripts are read
/// through (`dev->ops[i]` reads `ops`); an expression with a call or a
/// cast says nothing.
pub fn receiver_of(receiver: &str, text: &[u8]) -> Option<crate::facts::Receiver> {
    let mut r = String::with_capacity(receiver.len());
    let mut depth = 0usize;
    for c in receiver.trim().chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.checked_sub(1)?,
            _ if depth > 0 => {}
            c if c.is_whitespace() => {}
            c => r.push(c),
        }
    }
    if depth != 0 {
        return None;
    }
    let r = r.replace("->", ".");
    let mut parts = r.split('.');
    let root = parts.next()?;
    let ident =
        |s: &str| !s.is_empty() && !s.as_bytes()[0].is_ascii_digit() && s.bytes().all(is_word);
    if !ident(root) {
        return None;
    }
    let path: Vec<String> = parts.map(str::to_string).collect();
    if !path.iter().all(|p| ident(p)) {
        return None;
    }
    let var = root;
    let root = declared_struct(text, root);
    let var = root.is_none().then(|| var.to_string());
    Some(crate::facts::Receiver { root, path, var })
}

/// The names declared `(*name)(` in a structure's body.
fn members_called_through(body: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for at in memchr::memchr_iter(b'(', body) {
        let star = skip_blank(body, at + 1);
        if body.get(star) != Some(&b'*') {
            continue;
        }
        let name_at = skip_blank(body, star + 1);
        let name_end = ident_end(body, name_at);
        if name_end == name_at || body[name_at].is_ascii_digit() {
            continue;
        }
        let close = skip_blank(body, name_end);
        if body.get(close) != Some(&b')') {
            continue;
        }
        if body.get(skip_blank(body, close + 1)) != Some(&b'(') {
            continue;
        }
        out.push(String::from_utf8_lossy(&body[name_at..name_end]).into_owned());
    }
    out
}

/// The structure a file-scope initialiser fills, from its head (`static
/// const struct il_ops il4965_ops =` gives `il_ops`): the first `struct
/// NAME` of the head, if any (a typedef'd type gives none).
pub fn initializer_type(head: &[u8]) -> Option<String> {
    memchr::memmem::find_iter(head, b"struct")
        .find_map(|at| struct_name_after(head, at))
        .map(|(a, e)| String::from_utf8_lossy(&head[a..e]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_of_named_structures() {
        let code = b"struct il_ops {\n\tvoid (*dump_fh)(struct il_priv *il, char **buf, bool display);\n\tint (* send_tx_power) (struct il_priv *);\n\tunion { void (*a)(void); int b; };\n\tint (*table)[4];\n\tvoid *(*alloc)(size_t);\n};\nstruct only_data { int x; void *p; };\nstruct il_ops *ops;\nstructure (*f)(void);\n";
        let got = struct_facts(code).fn_members;
        let want: Vec<(String, String)> = ["dump_fh", "send_tx_power", "a", "alloc"]
            .iter()
            .map(|m| ("il_ops".to_string(), m.to_string()))
            .collect();
        assert_eq!(got, want);
        // An unclosed body gives nothing, and no panic.
        assert_eq!(
            struct_facts(b"struct x { void (*f)(void);"),
            StructFacts::default()
        );
        assert_eq!(struct_facts(b"struct"), StructFacts::default());
    }

    #[test]
    fn members_of_structure_type() {
        let code = b"struct il_priv {\n\tconst struct il_ops *ops;\n\tstruct list_head list, other;\n\tstruct dev **devs[4];\n\tstruct x (*make)(void);\n};\n";
        let f = struct_facts(code);
        let pairs: Vec<(&str, &str, &str)> = f
            .struct_members
            .iter()
            .map(|(s, m, t)| (s.as_str(), m.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("il_priv", "ops", "il_ops"),
                ("il_priv", "list", "list_head"),
                ("il_priv", "devs", "dev")
            ]
        );
        assert_eq!(f.fn_members, [("il_priv".to_string(), "make".to_string())]);
    }

    #[test]
    fn declared_types_and_receivers() {
        use crate::facts::Receiver;
        let text = b"static void f(struct pps_device *pps, int n)\n{\n\tconst struct il_ops * const ops = pps->ops;\n\tstruct foo bar;\n\tint pps2;\n}";
        assert_eq!(declared_struct(text, "pps"), Some("pps_device".into()));
        assert_eq!(declared_struct(text, "ops"), Some("il_ops".into()));
        assert_eq!(declared_struct(text, "bar"), Some("foo".into()));
        assert_eq!(declared_struct(text, "n"), None);
        assert_eq!(declared_struct(text, "pps2"), None);
        let rec = |root: Option<&str>, path: &[&str], var: Option<&str>| {
            Some(Receiver {
                root: root.map(str::to_string),
                path: path.iter().map(|p| p.to_string()).collect(),
                var: var.map(str::to_string),
            })
        };
        assert_eq!(receiver_of("pps", text), rec(Some("pps_device"), &[], None));
        assert_eq!(
            receiver_of("pps->ops", text),
            rec(Some("pps_device"), &["ops"], None)
        );
        // Not declared by the function: the variable is kept for the file's
        // declarations to type.
        assert_eq!(
            receiver_of("il->ops", text),
            rec(None, &["ops"], Some("il"))
        );
        assert_eq!(
            receiver_of("dev->ops[i]", text),
            rec(None, &["ops"], Some("dev"))
        );
        assert_eq!(
            receiver_of("a->b.info", text),
            rec(None, &["b", "info"], Some("a"))
        );
        assert_eq!(receiver_of("n", text), rec(None, &[], Some("n")));
        assert_eq!(receiver_of("get_ops(x)", text), None);
        assert_eq!(receiver_of("(*p).info", text), None);
        assert_eq!(receiver_of("a[", text), None);
        assert_eq!(receiver_of("a]]", text), None);
        assert_eq!(receiver_of("", text), None);
    }

    #[test]
    fn file_scope_variables_at_the_left_margin() {
        let code = b"static struct cpci_hp_controller *controller;\nstatic const struct il_ops il_ops_v2 = {\nstruct foo **table[4];\nstruct bar;\nstruct baz *make(void);\n\tstruct local *inside;\nstatic struct const_t *const fixed;\nstruct\n";
        let got = struct_facts(code).globals;
        let want: Vec<(String, String)> = [
            ("controller", "cpci_hp_controller"),
            ("il_ops_v2", "il_ops"),
            ("table", "foo"),
            ("fixed", "const_t"),
        ]
        .iter()
        .map(|(v, t)| (v.to_string(), t.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn initializer_heads() {
        let t = |h: &str| initializer_type(h.as_bytes());
        assert_eq!(
            t("static const struct il_ops il4965_ops ="),
            Some("il_ops".into())
        );
        assert_eq!(
            t("const struct file_operations foo_fops __read_mostly ="),
            Some("file_operations".into())
        );
        assert_eq!(t("static nfs_ops_t ops ="), None);
        assert_eq!(t("static int construct ="), None);
        assert_eq!(t("struct"), None);
    }
}
