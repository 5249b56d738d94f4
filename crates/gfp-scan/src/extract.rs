//! From a tree-sitter syntax tree to [`FileFacts`]: function definitions,
//! their calls in a control-flow graph, and the registrations and
//! initialisers the interprocedural rules need.
//!
//! Kernel C is parsed without its macros expanded, so the parser meets
//! statements it cannot place (`list_for_each_entry(...) { ... }`,
//! `scoped_guard(...) { ... }`, attribute macros) and recovers with ERROR
//! nodes or a missing `;`. The walk below reads through those: an ERROR
//! node's children are taken as statements and expressions in order, and a
//! macro call followed by a block is read as the loop or guard it is.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

pub(crate) use crate::cond_keys::{
    balanced, called_in_key, cond_key, conjuncts, constant_return, disjuncts, is_config_key,
    param_truth,
};
use std::sync::Arc;

use crate::facts::{EntryPoint, FileFacts, ForeignRestore, Function, Param, Scope, Section};
use crate::flow::{self, Block, Cfg, Ev};
use crate::scope_helpers::{Failure, ScopeHelper, Side};
use crate::vocab::{self, LockClass, LockOp};

mod scopes;

/// How deep the walk follows nested syntax before it stops descending: deep
/// enough for any hand-written kernel code, and a bound for generated code.
const MAX_DEPTH: u32 = 400;

/// Extracts the facts of one parsed file.
pub fn file_facts(
    path: String,
    src: &[u8],
    root: Node<'_>,
    releases: Vec<(String, String)>,
    helpers: Vec<crate::lexical::LockHelper>,
    scope_helpers: Vec<ScopeHelper>,
) -> FileFacts {
    let mut out = FileFacts {
        path,
        bytes: src.len(),
        releases,
        lock_helpers: helpers.into(),
        ..FileFacts::default()
    };
    let scope_helpers: Arc<[ScopeHelper]> = scope_helpers.into();
    let mut taken = HashSet::new();
    count_errors(root, &mut out.parse_errors);
    top_level(src, root, &mut out, &mut taken, &scope_helpers, 0);
    // Read by the walks only: not kept with a source file's facts (a
    // header's go to the files that include it).
    if !out.path.ends_with(".h") {
        out.lock_helpers = std::sync::Arc::new([]);
    }
    out.address_taken = taken.into_iter().collect();
    out.address_taken.sort();
    out
}

fn count_errors(n: Node<'_>, count: &mut u32) {
    if !n.has_error() {
        return;
    }
    if n.is_error() || n.is_missing() {
        *count += 1;
    }
    let mut c = n.walk();
    for ch in n.children(&mut c) {
        count_errors(ch, count);
    }
}

fn top_level(
    src: &[u8],
    n: Node<'_>,
    out: &mut FileFacts,
    taken: &mut HashSet<String>,
    scope_helpers: &Arc<[ScopeHelper]>,
    depth: u32,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let mut c = n.walk();
    let children: Vec<Node<'_>> = n.children(&mut c).collect();
    for (i, ch) in children.iter().enumerate() {
        match ch.kind() {
            "function_definition" => function(src, *ch, out, taken, scope_helpers),
            "ERROR" => {
                // A function whose header the parser could not place:
                // `NAME(args) { body }` inside the error.
                top_level(src, *ch, out, taken, scope_helpers, depth + 1);
            }
            "compound_statement" if n.kind() == "ERROR" => {
                // Only a header that starts a line (kernel style puts a
                // definition's first token in column 0): a macro loop inside
                // a body the parser lost is indented.
                if let Some(name) = children[..i]
                    .iter()
                    .rev()
                    .take(3)
                    .filter(|p| starts_line(src, **p))
                    .find_map(|p| header_name(src, *p))
                    .filter(|name| plausible_function_name(name))
                {
                    let mut w = Walker::new(src, name, false, *ch, Vec::new());
                    w.releases.clone_from(&out.releases);
                    w.helpers.clone_from(&out.lock_helpers);
                    w.scope_helpers.clone_from(scope_helpers);
                    w.body(*ch);
                    taken.extend(w.taken.drain());
                    let (f, regs, ops) = w.finish();
                    out.entry_points.extend(regs);
                    out.ops.extend(ops);
                    out.functions.push(f);
                }
            }
            "preproc_if"
            | "preproc_ifdef"
            | "preproc_else"
            | "preproc_elif"
            | "linkage_specification"
            | "declaration_list" => top_level(src, *ch, out, taken, scope_helpers, depth + 1),
            "declaration" | "expression_statement" => {
                // File-scope initialisers: ops tables and DEFINE_TIMER-style
                // registrations.
                let mut w = Walker::new(src, String::new(), false, *ch, Vec::new());
                w.expr(*ch, None);
                taken.extend(w.taken.drain());
                let (_, regs, ops) = w.finish();
                out.entry_points.extend(regs);
                out.ops.extend(ops);
            }
            _ => {}
        }
    }
}

/// Whether the statement holding `n` runs on every path through its
/// function: it is a statement of the body itself, not of a branch, a loop
/// or a nested block.
fn runs_always(n: Node<'_>) -> bool {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        match p.kind() {
            "expression_statement"
            | "declaration"
            | "init_declarator"
            | "assignment_expression"
            | "parenthesized_expression"
            | "comma_expression" => cur = p,
            "compound_statement" => {
                return p.parent().is_none_or(|pp| {
                    matches!(
                        pp.kind(),
                        "function_definition" | "ERROR" | "translation_unit"
                    )
                })
            }
            _ => return false,
        }
    }
    false
}

/// Whether the line holding `n` starts at column 0 with code.
fn starts_line(src: &[u8], n: Node<'_>) -> bool {
    let start = n.start_byte();
    let line_start = src[..start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    src.get(line_start)
        .is_some_and(|b| !b.is_ascii_whitespace())
}

/// Whether a name can be a function's: not a statement macro the parser
/// mistook for one.
pub fn plausible_function_name(name: &str) -> bool {
    !vocab::is_loop_macro(name)
        && !matches!(
            name,
            "if" | "for"
                | "while"
                | "switch"
                | "return"
                | "sizeof"
                | "do"
                | "scoped_guard"
                | "guard"
        )
}

/// The function name in an ERROR fragment that precedes a body.
fn header_name(src: &[u8], n: Node<'_>) -> Option<String> {
    match n.kind() {
        "function_declarator" => declarator_name(src, n),
        "call_expression" => {
            let f = n.child_by_field_name("function")?;
            (f.kind() == "identifier").then(|| text(src, f))
        }
        _ => {
            let mut c = n.walk();
            let found = n
                .children(&mut c)
                .filter(|x| x.kind() == "function_declarator")
                .find_map(|x| declarator_name(src, x));
            found
        }
    }
}

fn declarator_name(src: &[u8], mut n: Node<'_>) -> Option<String> {
    for _ in 0..16 {
        match n.kind() {
            "identifier" | "field_identifier" => return Some(text(src, n)),
            "function_declarator"
            | "pointer_declarator"
            | "parenthesized_declarator"
            | "attributed_declarator"
            | "array_declarator" => {
                n = n
                    .child_by_field_name("declarator")
                    .or_else(|| n.named_child(0))?;
            }
            _ => return None,
        }
    }
    None
}

fn find_function_declarator(n: Node<'_>) -> Option<Node<'_>> {
    let mut cur = n;
    for _ in 0..16 {
        if cur.kind() == "function_declarator" {
            // The innermost function declarator is the function's own (an
            // outer one would be a function returning a function pointer).
            if let Some(inner) = cur
                .child_by_field_name("declarator")
                .and_then(find_function_declarator)
            {
                return Some(inner);
            }
            return Some(cur);
        }
        cur = cur.child_by_field_name("declarator")?;
    }
    None
}

fn function(
    src: &[u8],
    n: Node<'_>,
    out: &mut FileFacts,
    taken: &mut HashSet<String>,
    scope_helpers: &Arc<[ScopeHelper]>,
) {
    let Some(decl) = n
        .child_by_field_name("declarator")
        .and_then(find_function_declarator)
    else {
        return;
    };
    let Some(name) = decl
        .child_by_field_name("declarator")
        .and_then(|d| declarator_name(src, d))
    else {
        return;
    };
    let Some(body) = n.child_by_field_name("body") else {
        return;
    };
    if !plausible_function_name(&name) {
        return;
    }
    let is_static = has_static(src, n);
    // The words of the head before the name (`static int __init`,
    // `__weak void __iomem *`), or just before the definition when a macro
    // split its head.
    let head = String::from_utf8_lossy(
        src.get(n.start_byte()..body.start_byte())
            .unwrap_or_default(),
    );
    let (mut is_init, mut is_weak) = (false, false);
    for w in head
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .take_while(|w| *w != name)
    {
        is_init |= w == "__init";
        is_weak |= w == "__weak";
    }
    let is_init = is_init || word_before(src, n, b"__init");
    let is_weak = is_weak || word_before(src, n, b"__weak");
    let mut params = Vec::new();
    if let Some(list) = decl.child_by_field_name("parameters") {
        let mut c = list.walk();
        for p in list.named_children(&mut c) {
            if p.kind() != "parameter_declaration" {
                continue;
            }
            let ty = p
                .child_by_field_name("type")
                .map(|t| text(src, t))
                .unwrap_or_default();
            let pname = p
                .child_by_field_name("declarator")
                .and_then(|d| declarator_name(src, d))
                .unwrap_or_default();
            let is_gfp = ty == "gfp_t" || ty.ends_with(" gfp_t");
            params.push(Param {
                name: pname,
                is_gfp,
            });
        }
    }
    // `bool f(...)`, not `bool *f(...)`: the function's own declarator is
    // the definition's.
    let returns_bool = n
        .child_by_field_name("type")
        .is_some_and(|t| text(src, t) == "bool")
        && n.child_by_field_name("declarator").map(|d| d.id()) == Some(decl.id());
    let mut w = Walker::new(src, name, is_static, decl, params);
    w.f.is_init = is_init;
    w.f.is_weak = is_weak;
    w.f.returns_bool = returns_bool;
    if body.end_byte() - body.start_byte() <= 256 {
        let code = crate::lexical::code_only(&src[body.start_byte()..body.end_byte()]);
        w.f.returns_constant = constant_return(&code);
    }
    w.releases.clone_from(&out.releases);
    w.helpers.clone_from(&out.lock_helpers);
    w.scope_helpers.clone_from(scope_helpers);
    w.body(body);
    taken.extend(w.taken.drain());
    let (f, regs, ops) = w.finish();
    out.entry_points.extend(regs);
    out.ops.extend(ops);
    out.functions.push(f);
}

/// Whether the definition is `static`: its own specifiers, or (when a macro
/// between `static` and the name split the header) the text just before it.
fn has_static(src: &[u8], n: Node<'_>) -> bool {
    let mut c = n.walk();
    let own = n
        .children(&mut c)
        .any(|ch| ch.kind() == "storage_class_specifier" && text(src, ch) == "static");
    if own {
        return true;
    }
    word_before(src, n, b"static")
}

/// Whether `word` is among the tokens just before `n` (back to the previous
/// `;`, brace or directive): a definition whose header a macro split.
fn word_before(src: &[u8], n: Node<'_>, word: &[u8]) -> bool {
    let start = n.start_byte();
    let from = start.saturating_sub(160);
    let before = &src[from..start];
    let cut = before
        .iter()
        .rposition(|&b| b == b';' || b == b'}' || b == b'{' || b == b'#')
        .map_or(0, |p| p + 1);
    before[cut..]
        .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .any(|w| w == word)
}

/// Source text with runs of whitespace collapsed to one space.
pub fn text(src: &[u8], n: Node<'_>) -> String {
    let raw = &src[n.start_byte()..n.end_byte()];
    let s = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for ch in s.chars() {
        if ch.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(ch);
        }
    }
    out
}

/// The lock argument as a key: `&inode->i_lock` and `&(inode->i_lock)` and
/// `&inode -> i_lock` are one lock.
fn lock_key(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')' && *c != '&')
        .collect()
}

fn line(n: Node<'_>) -> u32 {
    n.start_position().row as u32 + 1
}

const UNREACHABLE: usize = usize::MAX;

/// A guard opened in a block: released when the block ends.
struct Guard {
    class: LockClass,
    lock: String,
}

struct Walker<'s> {
    src: &'s [u8],
    f: Function,
    cfg: Cfg,
    cur: usize,
    exit: usize,
    loops: Vec<(usize, usize)>,
    breaks: Vec<usize>,
    labels: HashMap<String, usize>,
    gotos: Vec<(usize, String)>,
    guards: Vec<Vec<Guard>>,
    entry_points: Vec<EntryPoint>,
    ops: Vec<(String, String)>,
    taken: HashSet<String>,
    depth: u32,
    /// The bytes of the function's body (what an opting-out member beside
    /// an atomic one is looked for in).
    body_span: std::ops::Range<usize>,
    /// The function's text, head and body, in bytes of the source.
    fn_span: std::ops::Range<usize>,
    /// The kind of the node whose child [`Self::expr`] walks now: asking a
    /// node for its parent costs a walk down from the root.
    parent_kind: &'static str,
    /// The trylock seen in the condition being evaluated, with its class and lock.
    trylock: Option<(LockClass, String, u16)>,
    end_line: u32,
    /// The file's `__releases(lock)` functions.
    releases: Vec<(String, String)>,
    /// The file's functions that take a lock for their caller or release
    /// its lock (shared by the file's walks).
    helpers: std::sync::Arc<[crate::lexical::LockHelper]>,
    /// The functions that open a scope for their caller or close it.
    scope_helpers: Arc<[ScopeHelper]>,
    /// The scopes helpers opened whose success the function may test: the
    /// variable holding the opener's result, how it reports failure, and
    /// the scope.
    openers: Vec<(String, Failure, u16)>,
    /// The case labels in force, of a `switch` its callers can decide.
    case_labels: Option<crate::facts::CaseLabels>,
    /// The variable a lock-taking call that returns NULL without the lock
    /// was assigned to, with that lock.
    null_unlocked: Option<(String, LockClass, String)>,
    /// The plain copies of one variable into another (`fsn_mark =
    /// new_fsn_mark;`): a lock taken through one may be released through
    /// the other.
    aliases: Vec<(String, String)>,
    /// Locals given a member's value (`nofs_flag = server->nofs_flag`):
    /// a restore of such a local restores the member's saved state.
    member_copies: Vec<(String, String)>,
    /// Whether the body restores anything (only then are
    /// [`Self::member_copies`] kept).
    restores: bool,
}

impl<'s> Walker<'s> {
    fn new(src: &'s [u8], name: String, is_static: bool, at: Node<'_>, params: Vec<Param>) -> Self {
        let mut cfg = Cfg::default();
        cfg.blocks.push(Block::default());
        cfg.blocks.push(Block::default());
        Walker {
            src,
            f: Function {
                name,
                is_static,
                line: line(at),
                params,
                ..Function::default()
            },
            cfg,
            cur: 0,
            exit: 1,
            loops: Vec::new(),
            breaks: Vec::new(),
            labels: HashMap::new(),
            gotos: Vec::new(),
            guards: Vec::new(),
            entry_points: Vec::new(),
            ops: Vec::new(),
            taken: HashSet::new(),
            depth: 0,
            parent_kind: "",
            body_span: 0..0,
            aliases: Vec::new(),
            member_copies: Vec::new(),
            restores: false,
            fn_span: 0..0,
            trylock: None,
            end_line: line(at),
            releases: Vec::new(),
            helpers: std::sync::Arc::new([]),
            scope_helpers: Arc::new([]),
            openers: Vec::new(),
            case_labels: None,
            null_unlocked: None,
        }
    }

    fn new_block(&mut self) -> usize {
        self.cfg.blocks.push(Block::default());
        self.cfg.blocks.len() - 1
    }

    fn edge(&mut self, from: usize, to: usize) {
        if from != UNREACHABLE {
            self.cfg.blocks[from].succ.push(to as u32);
        }
    }

    fn emit(&mut self, ev: Ev) {
        if self.cur == UNREACHABLE {
            // Code after a return or goto with no label: still read it (a
            // label may lead into it), in a block no edge reaches.
            self.cur = self.new_block();
        }
        let b = self.cur;
        self.cfg.blocks[b].events.push(ev);
    }

    fn body(&mut self, body: Node<'_>) {
        self.end_line = body.end_position().row as u32 + 1;
        self.body_span = body.start_byte()..body.end_byte();
        self.restores = self
            .src
            .get(self.body_span.clone())
            .is_some_and(|b| memchr::memmem::find(b, b"restore").is_some());
        self.fn_span = body.parent().map_or(body.start_byte(), |p| p.start_byte())..body.end_byte();
        self.stmt(body);
        let (cur, exit) = (self.cur, self.exit);
        self.edge(cur, exit);
        self.cfg.exit_line.insert(cur as u32, self.end_line);
        for (from, label) in std::mem::take(&mut self.gotos) {
            if let Some(&to) = self.labels.get(&label) {
                self.cfg.blocks[from].succ.push(to as u32);
            }
        }
    }

    fn finish(mut self) -> (Function, Vec<EntryPoint>, Vec<(String, String)>) {
        // Assigned before its first test (`exists = lookup(...); if (exists)
        // lock; ... if (exists) unlock;`) is still one value for both.
        self.release_through_aliases();
        let src = self.src;
        self.cfg.stable = self
            .cfg
            .conds
            .iter()
            .zip(&self.cfg.spans)
            .map(|(k, &(a, b))| {
                is_config_key(k)
                    || crate::lexical::never_assigned(k, src.get(a..b).unwrap_or_default())
            })
            .collect();
        flow::analyse(&mut self.f, &self.cfg);
        for r in &mut self.f.foreign_restores {
            if let Some((_, member)) = self.member_copies.iter().find(|(l, _)| *l == r.saved) {
                r.saved.clone_from(member);
            }
        }
        if self.f.calls.iter().any(|c| !c.conds.is_empty()) {
            self.f.cond_keys = std::mem::take(&mut self.cfg.conds);
        }
        self.f.shrink();
        (self.f, self.entry_points, self.ops)
    }

    /// A release through a copy of the pointer a lock was taken through
    /// (`spin_lock(&new_fsn_mark->lock); fsn_mark = new_fsn_mark; ...
    /// spin_unlock(&fsn_mark->lock);`) releases that section too, where it
    /// is held: the kernel writes the copy on one path and takes the lock
    /// through the original name, and through the copy on another path.
    fn release_through_aliases(&mut self) {
        if self.aliases.is_empty() {
            return;
        }
        let sections = &self.f.sections;
        let aliases = &self.aliases;
        let others = |lock: &str| -> Vec<String> {
            let Some(base_end) = lock
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|&e| e > 0)
            else {
                return Vec::new();
            };
            let (base, rest) = lock.split_at(base_end);
            let mut out: Vec<String> = Vec::new();
            for (a, b) in aliases {
                let other = if a == base {
                    b
                } else if b == base {
                    a
                } else {
                    continue;
                };
                let cand = format!("{other}{rest}");
                for s in sections {
                    if flow::same_lock(&s.lock, &cand)
                        && !flow::same_lock(&s.lock, lock)
                        && !out.contains(&s.lock)
                    {
                        out.push(s.lock.clone());
                    }
                }
            }
            out
        };
        for b in &mut self.cfg.blocks {
            if !b.events.iter().any(|e| matches!(e, Ev::Release(..))) {
                continue;
            }
            let mut events = Vec::with_capacity(b.events.len() + 1);
            for ev in std::mem::take(&mut b.events) {
                let extra: Vec<Ev> = match &ev {
                    Ev::Release(class, lock) if !lock.is_empty() => others(lock)
                        .into_iter()
                        .map(|l| Ev::ReleaseHeld(*class, l))
                        .collect(),
                    _ => Vec::new(),
                };
                events.push(ev);
                events.extend(extra);
            }
            b.events = events;
        }
    }

    fn stmt(&mut self, n: Node<'_>) {
        if self.depth > MAX_DEPTH {
            return;
        }
        self.depth += 1;
        self.stmt_inner(n);
        self.depth -= 1;
    }

    fn stmt_inner(&mut self, n: Node<'_>) {
        match n.kind() {
            "compound_statement" => self.block(n),
            "expression_statement" => {
                if let Some(e) = n.named_child(0) {
                    self.expr(e, None);
                }
            }
            "declaration" => self.declaration(n),
            "if_statement" => self.if_stmt(n),
            "while_statement" => {
                let (head, after) = self.loop_head(n.child_by_field_name("condition"));
                self.loop_body(n.child_by_field_name("body"), head, after);
                let end = self.cur;
                self.edge(end, head);
                self.cur = after;
            }
            "do_statement" => {
                let body = self.new_block();
                let cur = self.cur;
                self.edge(cur, body);
                self.cur = body;
                let cond = self.new_block();
                let after = self.new_block();
                self.loop_body(n.child_by_field_name("body"), cond, after);
                let end = self.cur;
                self.edge(end, cond);
                self.cur = cond;
                if let Some(c) = n.child_by_field_name("condition") {
                    self.expr(c, None);
                }
                let ce = self.cur;
                self.edge(ce, body);
                self.edge(ce, after);
                self.cur = after;
            }
            "for_statement" => {
                if let Some(init) = n.child_by_field_name("initializer") {
                    if init.kind() == "declaration" {
                        self.declaration(init);
                    } else {
                        self.expr(init, None);
                    }
                }
                let (head, after) = self.loop_head(n.child_by_field_name("condition"));
                let update = self.new_block();
                self.loop_body(n.child_by_field_name("body"), update, after);
                let end = self.cur;
                self.edge(end, update);
                self.cur = update;
                if let Some(u) = n.child_by_field_name("update") {
                    self.expr(u, None);
                }
                let ue = self.cur;
                self.edge(ue, head);
                self.cur = after;
            }
            "switch_statement" => self.switch(n),
            "break_statement" => {
                if let Some(&to) = self.breaks.last() {
                    let cur = self.cur;
                    self.edge(cur, to);
                }
                self.cur = UNREACHABLE;
            }
            "continue_statement" => {
                if let Some(&(cont, _)) = self.loops.last() {
                    let cur = self.cur;
                    self.edge(cur, cont);
                }
                self.cur = UNREACHABLE;
            }
            "return_statement" => {
                if let Some(v) = n.named_child(0) {
                    self.expr_under("return_statement", v, Some("return"));
                }
                if self.cur == UNREACHABLE {
                    self.cur = self.new_block();
                }
                let (cur, exit) = (self.cur, self.exit);
                self.edge(cur, exit);
                self.cfg.exit_line.insert(cur as u32, line(n));
                self.cur = UNREACHABLE;
            }
            "goto_statement" => {
                if let Some(l) = n.child_by_field_name("label") {
                    if self.cur == UNREACHABLE {
                        self.cur = self.new_block();
                    }
                    self.gotos.push((self.cur, text(self.src, l)));
                }
                self.cur = UNREACHABLE;
            }
            "labeled_statement" => {
                let name = n
                    .child_by_field_name("label")
                    .map(|l| text(self.src, l))
                    .unwrap_or_default();
                let b = *self.labels.entry(name).or_insert_with(|| {
                    self.cfg.blocks.push(Block::default());
                    self.cfg.blocks.len() - 1
                });
                let cur = self.cur;
                self.edge(cur, b);
                self.cur = b;
                let mut c = n.walk();
                let rest: Vec<Node<'_>> = n.named_children(&mut c).skip(1).collect();
                for s in rest {
                    self.stmt(s);
                }
            }
            "preproc_if" | "preproc_ifdef" | "preproc_elif" | "preproc_else" => self.preproc(n),
            "attributed_statement" | "ERROR" | "case_statement" => {
                let mut c = n.walk();
                let kids: Vec<Node<'_>> = n.named_children(&mut c).collect();
                self.stmts(&kids);
            }
            "comment"
            | "type_definition"
            | "preproc_call"
            | "preproc_def"
            | "preproc_function_def"
            | "preproc_include" => {}
            _ => self.expr(n, None),
        }
    }

    /// A loop's head: a block that evaluates the condition (if any), with
    /// edges to a new body block (made current) and to the block after the
    /// loop. Returns (head, after).
    fn loop_head(&mut self, cond: Option<Node<'_>>) -> (usize, usize) {
        let head = self.new_block();
        let cur = self.cur;
        self.edge(cur, head);
        self.cur = head;
        if let Some(c) = cond {
            self.expr(c, None);
        }
        let cond_end = self.cur;
        let after = self.new_block();
        self.edge(cond_end, after);
        let body = self.new_block();
        self.edge(cond_end, body);
        self.cur = body;
        (head, after)
    }

    fn loop_body(&mut self, body: Option<Node<'_>>, cont: usize, after: usize) {
        self.loops.push((cont, after));
        self.breaks.push(after);
        if let Some(b) = body {
            self.stmt(b);
        }
        self.breaks.pop();
        self.loops.pop();
    }

    /// A statement list, reading `MACRO(...)` followed by a statement as
    /// the loop or scoped guard it is.
    fn stmts(&mut self, kids: &[Node<'_>]) {
        let mut i = 0;
        while i < kids.len() {
            let s = kids[i];
            if let Some(next) = kids.get(i + 1) {
                if let Some((name, call)) = macro_with_body(self.src, s) {
                    if is_statement(next.kind()) {
                        if name == "scoped_guard" || name == "scoped_cond_guard" {
                            self.scoped_guard(call, *next);
                            i += 2;
                            continue;
                        }
                        if vocab::is_loop_macro(&name) {
                            self.expr(call, None);
                            let (head, after) = self.loop_head(None);
                            self.loop_body(Some(*next), head, after);
                            let end = self.cur;
                            self.edge(end, head);
                            self.cur = after;
                            i += 2;
                            continue;
                        }
                    }
                }
            }
            if is_statement(s.kind()) || s.kind() == "ERROR" {
                self.stmt(s);
            } else {
                self.expr(s, None);
            }
            i += 1;
        }
    }

    fn block(&mut self, n: Node<'_>) {
        self.guards.push(Vec::new());
        let mut c = n.walk();
        let kids: Vec<Node<'_>> = n.named_children(&mut c).collect();
        self.stmts(&kids);
        for g in self.guards.pop().unwrap_or_default().into_iter().rev() {
            if self.cur != UNREACHABLE {
                self.emit(Ev::Release(g.class, g.lock));
            }
        }
    }

    fn scoped_guard(&mut self, call: Node<'_>, body: Node<'_>) {
        let args = call_args(call);
        let Some(kind) = args.first().map(|a| text(self.src, *a)) else {
            self.stmt(body);
            return;
        };
        let lock = args
            .get(1)
            .map(|a| lock_key(&text(self.src, *a)))
            .unwrap_or_default();
        for a in args.iter().skip(1) {
            self.expr_under("argument_list", *a, None);
        }
        match vocab::guard_class(&kind) {
            Some(class) => {
                let id = self.section(
                    class,
                    format!("scoped_guard({kind})"),
                    lock.clone(),
                    line(call),
                );
                self.emit(Ev::Acquire(id));
                self.stmt(body);
                if self.cur != UNREACHABLE {
                    self.emit(Ev::Release(class, lock));
                }
            }
            None => self.stmt(body),
        }
    }

    fn section(&mut self, class: LockClass, op: String, lock: String, line: u32) -> u16 {
        let id = self.f.sections.len().min(u16::MAX as usize - 1) as u16;
        if self.f.sections.len() < u16::MAX as usize - 1 {
            self.f.sections.push(Section {
                class,
                op,
                lock,
                line,
            });
        }
        id
    }

    fn declaration(&mut self, n: Node<'_>) {
        let ty = n
            .child_by_field_name("type")
            .map(|t| text(self.src, t))
            .unwrap_or_default();
        let is_gfp = ty == "gfp_t" || ty.ends_with(" gfp_t");
        // `scoped_guard(rcu) stmt;` without braces parses as a declaration
        // whose type is the macro: the rest is the guarded statement.
        let guard = n
            .child_by_field_name("type")
            .filter(|t| t.kind() == "macro_type_specifier")
            .and_then(|t| {
                let name = t.child_by_field_name("name").map(|x| text(self.src, x))?;
                let arg = t.child_by_field_name("type").map(|x| text(self.src, x))?;
                (name == "scoped_guard").then_some(arg)
            })
            .and_then(|kind| vocab::guard_class(&kind).map(|c| (kind, c)));
        if let Some((kind, class)) = &guard {
            let id = self.section(
                *class,
                format!("scoped_guard({kind})"),
                String::new(),
                line(n),
            );
            self.emit(Ev::Acquire(id));
        }
        let mut c = n.walk();
        let kids: Vec<Node<'_>> = n.named_children(&mut c).collect();
        for d in kids {
            if d.kind() == "init_declarator" {
                let var = d
                    .child_by_field_name("declarator")
                    .and_then(|x| declarator_name(self.src, x))
                    .unwrap_or_default();
                if let Some(v) = d.child_by_field_name("value") {
                    if is_gfp {
                        self.f.locals.push(crate::facts::Local {
                            var: var.clone(),
                            value: text(self.src, v),
                            line: line(d),
                            always: runs_always(d),
                        });
                    }
                    if self.restores && v.kind() == "field_expression" && !var.is_empty() {
                        self.member_copies
                            .push((var.clone(), lock_key(&text(self.src, v))));
                    }
                    if v.kind() == "identifier" && !var.is_empty() {
                        let pair = (var.clone(), text(self.src, v));
                        if !self.aliases.contains(&pair) {
                            self.aliases.push(pair);
                        }
                    }
                    self.expr_under("init_declarator", v, Some(&var));
                }
            } else if d.kind() == "ERROR" || d.kind() == "call_expression" {
                self.expr(d, None);
            }
        }
        if let Some((_, class)) = guard {
            if self.cur != UNREACHABLE {
                self.emit(Ev::Release(class, String::new()));
            }
        }
    }

    fn if_stmt(&mut self, n: Node<'_>) {
        self.trylock = None;
        if let Some(c) = n.child_by_field_name("condition") {
            self.expr(c, None);
        }
        let negated = n
            .child_by_field_name("condition")
            .map(|c| {
                text(self.src, c)
                    .trim_start_matches('(')
                    .trim_start()
                    .starts_with('!')
            })
            .unwrap_or(false);
        let trylock = self.trylock.take();
        // A branch on one of the function's parameters: each side assumes
        // its truth, so a mask chosen by it is known at each caller.
        let on_param = n
            .child_by_field_name("condition")
            .and_then(|c| param_truth(&text(self.src, c), &self.f.params));
        // The parameters among the parts of `A && p`: true on the then side.
        let then_params: Vec<(u8, bool)> = n
            .child_by_field_name("condition")
            .map(|c| {
                conjuncts(&text(self.src, c))
                    .iter()
                    .filter_map(|part| param_truth(part, &self.f.params))
                    .collect()
            })
            .unwrap_or_default();
        // A condition a later branch may test again: each side records its
        // truth, so the flow can keep the two branches' paths together. The
        // parts of an `A && B` hold on the then side too.
        let cond_text = n
            .child_by_field_name("condition")
            .map(|c| text(self.src, c))
            .unwrap_or_default();
        let key = cond_key(&cond_text).and_then(|(k, neg)| Some((self.cond_index(k, n)?, neg)));
        let conjuncts: Vec<(u16, bool)> = conjuncts(&cond_text)
            .into_iter()
            .filter_map(|c| cond_key(&c))
            .filter_map(|(k, neg)| Some((self.cond_index(k, n)?, neg)))
            .collect();
        // The parts of an `A || p` are all false on the else side.
        let disjuncts = disjuncts(&cond_text);
        let else_params: Vec<(u8, bool)> = disjuncts
            .iter()
            .filter_map(|part| param_truth(part, &self.f.params))
            .collect();
        let else_conds: Vec<(u16, bool)> = disjuncts
            .into_iter()
            .filter_map(|c| cond_key(&c))
            .filter_map(|(k, neg)| Some((self.cond_index(k, n)?, neg)))
            .collect();
        let head = self.cur;
        let then_b = self.new_block();
        self.edge(head, then_b);
        self.cur = then_b;
        if let Some((k, neg)) = key {
            self.emit(Ev::Cond(k, !neg));
        }
        for &(k, neg) in &conjuncts {
            self.emit(Ev::Cond(k, !neg));
        }
        // `if (IS_ERR(handle))` after `handle = jbd2_journal_start(...)`:
        // the side where the opener failed holds no scope of it.
        let sides: Vec<(Side, Side, u16)> = self
            .openers
            .iter()
            .map(|(status, fails, id)| {
                let (t, e) = crate::scope_helpers::branch_sides(&cond_text, status, *fails);
                (t, e, *id)
            })
            .filter(|&(t, e, _)| (t, e) != (Side::Open, Side::Open))
            .collect();
        for &(t, _, id) in &sides {
            if t != Side::Open {
                self.emit(Ev::Unopened(id, t == Side::Failed));
            }
        }
        // `if (!pte)` after `pte = pte_offset_map_lock(...)`: not locked.
        let unlocked = key.and_then(|(k, neg)| {
            let (var, class, lock) = self.null_unlocked.clone()?;
            (self.cfg.conds.get(k as usize) == Some(&var)).then_some((neg, class, lock))
        });
        if let Some((true, class, lock)) = &unlocked {
            self.emit(Ev::ReleaseHeld(*class, lock.clone()));
        }
        if let Some((p, neg)) = on_param {
            self.emit(Ev::Assume(p, !neg));
        }
        for &(p, neg) in &then_params {
            self.emit(Ev::Assume(p, !neg));
        }
        if let (Some((_, _, id)), false) = (&trylock, negated) {
            self.emit(Ev::Acquire(*id));
        }
        if let Some(t) = n.child_by_field_name("consequence") {
            self.stmt(t);
        }
        let then_end = self.cur;
        let else_b = self.new_block();
        self.edge(head, else_b);
        self.cur = else_b;
        if let Some((k, neg)) = key {
            self.emit(Ev::Cond(k, neg));
        }
        if let Some((false, class, lock)) = &unlocked {
            self.emit(Ev::ReleaseHeld(*class, lock.clone()));
        }
        for &(_, e, id) in &sides {
            if e != Side::Open {
                self.emit(Ev::Unopened(id, e == Side::Failed));
            }
        }
        if let Some((p, neg)) = on_param {
            self.emit(Ev::Assume(p, neg));
        }
        for &(k, neg) in &else_conds {
            self.emit(Ev::Cond(k, neg));
        }
        for &(p, neg) in &else_params {
            self.emit(Ev::Assume(p, neg));
        }
        if let (Some((_, _, id)), true) = (&trylock, negated) {
            self.emit(Ev::Acquire(*id));
        }
        if let Some(e) = n.child_by_field_name("alternative") {
            let mut c = e.walk();
            let kids: Vec<Node<'_>> = e.named_children(&mut c).collect();
            self.stmts(&kids);
        }
        let else_end = self.cur;
        if then_end == UNREACHABLE && else_end == UNREACHABLE {
            self.cur = UNREACHABLE;
            return;
        }
        let join = self.new_block();
        self.edge(then_end, join);
        self.edge(else_end, join);
        self.cur = join;
    }

    /// The index of a branch condition in the function's table, its span
    /// grown to cover the `if` statement `n` (`None` past 64 conditions).
    fn cond_index(&mut self, k: String, n: Node<'_>) -> Option<u16> {
        let (a, b) = (n.start_byte(), n.end_byte());
        let i = match self.cfg.conds.iter().position(|x| *x == k) {
            Some(i) => {
                let span = &mut self.cfg.spans[i];
                *span = (span.0.min(a), span.1.max(b));
                i
            }
            None => {
                self.cfg.conds.push(k);
                self.cfg.spans.push((a, b));
                self.cfg.conds.len() - 1
            }
        };
        (i < 64).then_some(i as u16)
    }

    fn switch(&mut self, n: Node<'_>) {
        if let Some(c) = n.child_by_field_name("condition") {
            self.expr(c, None);
        }
        if self.cur == UNREACHABLE {
            self.cur = self.new_block();
        }
        let head = self.cur;
        let after = self.new_block();
        self.breaks.push(after);
        let mut has_default = false;
        let mut prev_end = UNREACHABLE;
        // A switch its callers can decide: each case's calls remember its
        // labels.
        let on_param = n.child_by_field_name("condition").and_then(|c| {
            let mut body = n;
            while let Some(p) = body.parent() {
                body = p;
                if p.kind() == "function_definition" {
                    break;
                }
            }
            let body = self.src.get(body.start_byte()..body.end_byte())?;
            crate::lexical::switch_subject(&text(self.src, c), &self.f.params, body)
        });
        let outer_labels = self.case_labels.clone();
        let mut labels: Vec<String> = Vec::new();
        if let Some(body) = n.child_by_field_name("body") {
            let mut c = body.walk();
            let kids: Vec<Node<'_>> = body.named_children(&mut c).collect();
            for k in kids {
                if k.kind() == "case_statement" {
                    let b = self.new_block();
                    self.edge(head, b);
                    self.edge(prev_end, b);
                    self.cur = b;
                    if k.child_by_field_name("value").is_none() {
                        has_default = true;
                    }
                    if let Some(on) = &on_param {
                        if prev_end == UNREACHABLE {
                            labels.clear();
                        }
                        match k.child_by_field_name("value") {
                            Some(v)
                                if !has_default && labels.len() < crate::facts::MAX_CASE_LABELS =>
                            {
                                labels.push(text(self.src, v).trim().to_string());
                                self.case_labels = Some(crate::facts::CaseLabels {
                                    on: on.clone(),
                                    labels: labels.clone(),
                                });
                            }
                            _ => self.case_labels = outer_labels.clone(),
                        }
                    }
                    let value = k.child_by_field_name("value").map(|v| v.id());
                    let mut c2 = k.walk();
                    let stmts: Vec<Node<'_>> = k
                        .named_children(&mut c2)
                        .filter(|s| Some(s.id()) != value)
                        .collect();
                    self.stmts(&stmts);
                    prev_end = self.cur;
                } else {
                    self.cur = prev_end;
                    self.stmt(k);
                    prev_end = self.cur;
                }
            }
        }
        self.case_labels = outer_labels;
        self.edge(prev_end, after);
        if !has_default {
            self.edge(head, after);
        }
        self.breaks.pop();
        self.cur = after;
    }

    fn preproc(&mut self, n: Node<'_>) {
        // `#if 0`: only the other branch is compiled.
        if n.kind() == "preproc_if"
            && n.child_by_field_name("condition")
                .is_some_and(|c| text(self.src, c) == "0")
        {
            if let Some(a) = n.child_by_field_name("alternative") {
                self.stmt(a);
            }
            return;
        }
        // `#if A ... #else ... #endif` inside a body: either branch may be
        // the one compiled.
        let head = if self.cur == UNREACHABLE {
            self.new_block()
        } else {
            self.cur
        };
        let then_b = self.new_block();
        self.edge(head, then_b);
        self.cur = then_b;
        let alt = n.child_by_field_name("alternative");
        let cond = n
            .child_by_field_name("condition")
            .or_else(|| n.child_by_field_name("name"));
        let mut c = n.walk();
        let kids: Vec<Node<'_>> = n
            .named_children(&mut c)
            .filter(|k| Some(k.id()) != alt.map(|a| a.id()) && Some(k.id()) != cond.map(|a| a.id()))
            .collect();
        self.stmts(&kids);
        let then_end = self.cur;
        let else_b = self.new_block();
        self.edge(head, else_b);
        self.cur = else_b;
        if let Some(a) = alt {
            self.stmt(a);
        }
        let else_end = self.cur;
        let join = self.new_block();
        self.edge(then_end, join);
        self.edge(else_end, join);
        self.cur = join;
    }

    /// Walks an expression in evaluation order (arguments before the call).
    /// `target` is what the value is assigned to, for saved scope states.
    fn expr(&mut self, n: Node<'_>, target: Option<&str>) {
        if self.depth > MAX_DEPTH {
            return;
        }
        self.depth += 1;
        let parent = std::mem::replace(&mut self.parent_kind, n.kind());
        self.expr_inner(n, target, parent);
        self.parent_kind = parent;
        self.depth -= 1;
    }

    /// [`Self::expr`] of `n`, a child of a node of kind `parent` that the
    /// walk did not enter through `expr` (a call's argument list, a
    /// `return`, a declarator).
    fn expr_under(&mut self, parent: &'static str, n: Node<'_>, target: Option<&str>) {
        let saved = std::mem::replace(&mut self.parent_kind, parent);
        self.expr(n, target);
        self.parent_kind = saved;
    }

    fn expr_inner(&mut self, n: Node<'_>, target: Option<&str>, parent: &'static str) {
        match n.kind() {
            "call_expression" => self.call(n, target),
            "assignment_expression" => self.assignment(n),
            "compound_statement" => self.block(n),
            "parenthesized_expression" | "cast_expression" | "comma_expression" => {
                let mut c = n.walk();
                let kids: Vec<Node<'_>> = n.named_children(&mut c).collect();
                for k in kids {
                    self.expr(k, target);
                }
            }
            "initializer_pair" => {
                let member = n
                    .child_by_field_name("designator")
                    .map(|d| text(self.src, d).trim_start_matches('.').to_string());
                if let Some(v) = n.child_by_field_name("value") {
                    if let (Some(m), "identifier") = (&member, v.kind()) {
                        let f = text(self.src, v);
                        if let Some(kind) = vocab::atomic_member(m, "") {
                            self.entry_points.push(EntryPoint {
                                function: f.clone(),
                                kind,
                                call: format!(".{m} ="),
                                registrar: self.f.name.clone(),
                                line: n.start_position().row as u32 + 1,
                            });
                        }
                        self.ops.push((m.clone(), f.clone()));
                        self.taken.insert(f);
                    } else {
                        self.expr(v, None);
                    }
                }
            }
            "init_declarator" => {
                let var = n
                    .child_by_field_name("declarator")
                    .and_then(|x| declarator_name(self.src, x));
                if let Some(v) = n.child_by_field_name("value") {
                    self.expr(v, var.as_deref());
                }
            }
            "identifier" => {
                // A name used as a value: an argument, an initialiser, a
                // returned or assigned value, an address taken.
                let value = |kind: &str| {
                    matches!(
                        kind,
                        "argument_list"
                            | "initializer_list"
                            | "return_statement"
                            | "pointer_expression"
                            | "assignment_expression"
                            | "init_declarator"
                            | "conditional_expression"
                    )
                };
                debug_assert_eq!(
                    value(parent),
                    n.parent().is_some_and(|p| value(p.kind())),
                    "the walk's parent `{parent}` of `{}` at line {} (the tree's: {:?})",
                    text(self.src, n),
                    line(n),
                    n.parent().map(|p| p.kind())
                );
                if value(parent) {
                    self.taken.insert(text(self.src, n));
                }
            }
            "string_literal" | "number_literal" | "char_literal" | "comment"
            | "sizeof_expression" | "primitive_type" | "type_identifier" | "field_identifier" => {}
            _ => {
                let mut c = n.walk();
                let kids: Vec<Node<'_>> = n.named_children(&mut c).collect();
                if n.kind() == "ERROR" {
                    self.stmts(&kids);
                } else {
                    for k in kids {
                        self.expr(k, None);
                    }
                }
            }
        }
    }

    fn assignment(&mut self, n: Node<'_>) {
        let (Some(lhs), Some(rhs)) = (
            n.child_by_field_name("left"),
            n.child_by_field_name("right"),
        ) else {
            return;
        };
        let op = n
            .child_by_field_name("operator")
            .map(|o| text(self.src, o))
            .unwrap_or_default();
        let lhs_text = text(self.src, lhs);
        let rhs_text = text(self.src, rhs);
        let ln = line(n);
        // A new value of an opener's result: later tests of the variable
        // are of that value (`error = xfs_trans_alloc(...); ...; error =
        // xfs_bmapi_write(...); if (error)`). A new opener's result is
        // recorded after this, as its call is walked.
        if !self.openers.is_empty() {
            let key = lock_key(&lhs_text);
            self.openers.retain(|(status, _, _)| *status != key);
        }
        if self.restores
            && op == "="
            && lhs.kind() == "identifier"
            && rhs.kind() == "field_expression"
        {
            self.member_copies
                .push((lhs_text.clone(), lock_key(&rhs_text)));
        }
        if op == "="
            && lhs.kind() == "identifier"
            && rhs.kind() == "identifier"
            && !self.aliases.contains(&(lhs_text.clone(), rhs_text.clone()))
        {
            self.aliases.push((lhs_text.clone(), rhs_text.clone()));
        }
        if lhs_text.replace(' ', "") == "current->flags" {
            let pf: Vec<String> = pf_names(&rhs_text)
                .into_iter()
                .filter(|n| n.starts_with("PF_MEMALLOC"))
                .collect();
            if op == "=" && !self.f.scopes.is_empty() {
                // `current->flags = saved;` puts back every flag it saved.
                let all: Vec<String> = self.f.scopes.iter().flat_map(|s| s.flags.clone()).collect();
                self.emit(Ev::restore(None, all, ln, "current->flags =".into()));
                self.expr(rhs, None);
                return;
            }
            if !pf.is_empty() {
                if op == "|=" {
                    let id = self.f.scopes.len() as u16;
                    self.f.scopes.push(Scope::opened(
                        pf,
                        format!("current->flags |= {rhs_text}"),
                        ln,
                    ));
                    self.emit(Ev::Save(id));
                    return;
                }
                if op == "&=" {
                    self.emit(Ev::restore(None, pf, ln, "current->flags &=".into()));
                    return;
                }
            }
        }
        // `server->nofs_flag = flag;` after `flag = memalloc_nofs_save();`:
        // the saved state leaves the function through the structure.
        if op == "="
            && rhs.kind() == "identifier"
            && matches!(lhs.kind(), "field_expression" | "subscript_expression")
        {
            let var = lock_key(&rhs_text);
            if let Some(s) = self
                .f
                .scopes
                .iter_mut()
                .find(|s| !s.escapes && s.var.as_deref() == Some(var.as_str()))
            {
                s.escapes = true;
                s.stored = Some(lock_key(&lhs_text));
            }
        }
        if lhs.kind() == "field_expression" {
            if let Some(field) = lhs.child_by_field_name("field") {
                let member = text(self.src, field);
                if rhs.kind() == "identifier" {
                    let f = rhs_text.clone();
                    let body = self.src.get(self.body_span.clone()).unwrap_or_default();
                    let kind = vocab::atomic_member(&member, &lhs_text)
                        .filter(|_| !vocab::opted_out(&member, &String::from_utf8_lossy(body)));
                    if let Some(kind) = kind {
                        self.entry_points.push(EntryPoint {
                            function: f.clone(),
                            kind,
                            call: format!("{lhs_text} ="),
                            registrar: self.f.name.clone(),
                            line: ln,
                        });
                    }
                    self.ops.push((member, f.clone()));
                    self.taken.insert(f);
                }
            }
        }
        if lhs.kind() == "identifier"
            && (rhs_text.contains("GFP") || rhs_text.contains("gfp"))
            && !guarded_by_reclaim(self.src, n)
        {
            let value = match op.as_str() {
                "|=" => format!("{lhs_text} | ({rhs_text})"),
                "&=" => format!("{lhs_text} & ({rhs_text})"),
                "=" => rhs_text.clone(),
                // Other compound assignments do not make masks.
                _ => format!("{lhs_text} + 0"),
            };
            self.f.locals.push(crate::facts::Local {
                var: lhs_text.clone(),
                value,
                line: line(n),
                always: runs_always(n),
            });
        }
        self.expr(lhs, None);
        self.expr(rhs, Some(&lhs_text));
    }

    fn call(&mut self, n: Node<'_>, target: Option<&str>) {
        let Some(callee) = n.child_by_field_name("function") else {
            return;
        };
        let args = call_args(n);
        let ln = line(n);
        // guard(spinlock)(&lock): the callee is itself a call.
        if callee.kind() == "call_expression" && self.guard_call(callee, &args, ln) {
            return;
        }
        if callee.kind() != "identifier" {
            self.indirect_call(callee, &args, ln);
            return;
        }
        let name = text(self.src, callee);
        if let Some(op) = vocab::scope_op(&name) {
            self.f.scope_ops.push((name.clone(), ln));
            // A save whose result is a statement of its own is thrown away.
            let discarded = n
                .parent()
                .is_some_and(|p| p.kind() == "expression_statement");
            self.scope_call(op, &name, &args, (target, discarded), ln);
            return;
        }
        // `wait_event_lock_irq_cmd(wq, cond, lock, cmd)` runs `cmd` with the
        // lock released, and takes it again.
        let wait_cmd = vocab::wait_lock_cmd(&name).filter(|&(_, c)| c < args.len());
        for (i, a) in args.iter().enumerate() {
            match wait_cmd {
                Some((lock, cmd)) if i == cmd => {
                    let lock = lock_key(&text(self.src, args[lock]));
                    self.emit(Ev::Suspend(lock));
                    self.expr_under("argument_list", *a, None);
                    self.emit(Ev::Resume);
                }
                _ => self.expr_under("argument_list", *a, None),
            }
        }
        if let Some(h) = self.scope_helpers.iter().find(|h| h.function == name) {
            let h = h.clone();
            // A wrapper may take a lock and open a scope at once.
            if self.helpers.iter().any(|l| l.function == name) {
                self.lock_wrapper_call(name, &args, ln);
            } else {
                self.record_call(name, ln, &args);
            }
            self.helper_call(&h, &args, target, ln);
            return;
        }
        if let Some(op) = vocab::lock_op(&name) {
            self.lock_call(name, op, &args, target, ln);
            return;
        }
        // The file's own lock wrappers, read from their bodies (before a
        // `__releases()` annotation, which names only one of the locks a
        // wrapper may release).
        if self.helpers.iter().any(|h| h.function == name) {
            self.lock_wrapper_call(name, &args, ln);
            return;
        }
        if let Some((_, lock)) = self.releases.iter().find(|(f, _)| *f == name) {
            let lock = lock.clone();
            self.record_call(name, ln, &args);
            self.emit(Ev::ReleaseAny(lock));
            return;
        }
        self.registrations(&name, &args, ln);
        self.record_call(name, ln, &args);
    }

    /// `guard(kind)(&lock)`, with `callee` the inner `guard(kind)` call:
    /// opens a section the enclosing block closes. Whether the call was a
    /// guard.
    fn guard_call(&mut self, callee: Node<'_>, args: &[Node<'_>], ln: u32) -> bool {
        let inner = callee
            .child_by_field_name("function")
            .map(|f| text(self.src, f));
        if inner.as_deref() != Some("guard") {
            return false;
        }
        let kind = call_args(callee)
            .first()
            .map(|a| text(self.src, *a))
            .unwrap_or_default();
        for a in args {
            self.expr_under("argument_list", *a, None);
        }
        if let Some(class) = vocab::guard_class(&kind) {
            let lock = args
                .first()
                .map(|a| lock_key(&text(self.src, *a)))
                .unwrap_or_default();
            let id = self.section(class, format!("guard({kind})"), lock.clone(), ln);
            self.emit(Ev::Acquire(id));
            if let Some(frame) = self.guards.last_mut() {
                frame.push(crate::extract::Guard { class, lock });
            }
        }
        true
    }

    /// A call through a pointer (`ops->open(...)`, `(*fn)(...)`): recorded
    /// with its member name, not followed.
    fn indirect_call(&mut self, callee: Node<'_>, args: &[Node<'_>], ln: u32) {
        self.expr(callee, None);
        for a in args {
            self.expr_under("argument_list", *a, None);
        }
        let member = (callee.kind() == "field_expression")
            .then(|| {
                callee
                    .child_by_field_name("field")
                    .map(|f| text(self.src, f))
            })
            .flatten();
        let receiver = member.as_ref().and_then(|_| {
            let r = callee.child_by_field_name("argument")?;
            let text_of_fn = self.src.get(self.fn_span.clone()).unwrap_or_default();
            crate::lexical::receiver_of(&text(self.src, r), text_of_fn)
        });
        let id = self.f.indirect_calls.len() as u32;
        self.f.indirect_calls.push(crate::facts::IndirectCall {
            member,
            receiver,
            call: crate::facts::Call {
                line: ln,
                args: args.iter().map(|a| text(self.src, *a)).collect(),
                inherited: true,
                case_labels: self.case_labels.clone().map(Box::new),
                ..Default::default()
            },
        });
        self.emit(Ev::Indirect(id));
    }

    /// A lock call `name` (`spin_lock`, `spin_unlock_irqrestore`,
    /// `spin_trylock`, ...): opens or closes its section; `target` is what
    /// its result is stored to.
    fn lock_call(
        &mut self,
        name: String,
        op: LockOp,
        args: &[Node<'_>],
        target: Option<&str>,
        ln: u32,
    ) {
        let lock_of = |w: &Self, class| match vocab::lock_arg_index(&name) {
            Some(Some(i)) => args
                .get(i)
                .map(|a| lock_key(&text(w.src, *a)))
                .unwrap_or_default(),
            Some(None) => target.map(lock_key).unwrap_or_default(),
            None => lock_arg(w.src, class, args),
        };
        match op {
            LockOp::Acquire(class) => {
                let lock = lock_of(self, class);
                // `pte = pte_offset_map_lock(...)` takes the lock only
                // when it returns a table: `if (!pte)` is the branch
                // without it.
                if let (true, Some(t)) = (vocab::null_when_unlocked(&name), target) {
                    self.null_unlocked = Some((lock_key(t), class, lock.clone()));
                }
                let id = self.section(class, name, lock, ln);
                self.emit(Ev::Acquire(id));
            }
            LockOp::Release(class) => {
                let lock = lock_of(self, class);
                self.release_events(&name, class, lock);
            }
            LockOp::TryAcquire(class) => {
                let lock = lock_arg(self.src, class, args);
                let id = self.section(class, name, lock.clone(), ln);
                self.trylock = Some((class, lock, id));
            }
        }
    }

    /// A call of one of the file's lock wrappers: a call of the function,
    /// and the lock it takes or releases for its caller, in the caller's
    /// terms.
    fn lock_wrapper_call(&mut self, name: String, args: &[Node<'_>], ln: u32) {
        let written: Vec<String> = args.iter().map(|a| text(self.src, *a)).collect();
        let helpers: Vec<_> = self
            .helpers
            .iter()
            .filter(|h| h.function == name)
            .cloned()
            .collect();
        self.record_call(name.clone(), ln, args);
        for h in helpers {
            let lock = lock_key(&crate::lexical::substituted(&h.lock, &h.params, &written));
            if h.takes {
                let id = self.section(h.class, name.clone(), lock, ln);
                self.emit(Ev::Acquire(id));
            } else {
                self.release_events(&h.op, h.class, lock);
            }
        }
    }

    /// The atomic entry points a call `name` registers: CPU hotplug
    /// callbacks run on the starting CPU, and the table's registrations
    /// (`request_irq`'s handler, `timer_setup`'s callback, ...).
    fn registrations(&mut self, name: &str, args: &[Node<'_>], ln: u32) {
        let state = args.first().map(|a| text(self.src, *a)).unwrap_or_default();
        for &i in vocab::cpuhp_atomic_callbacks(name, state.trim()) {
            let Some(a) = args.get(i) else { continue };
            let f = text(self.src, *a);
            if plausible_function_name(&f)
                && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && f != "NULL"
            {
                self.entry_points.push(EntryPoint {
                    function: f,
                    kind: vocab::CPUHP_STARTING,
                    call: name.to_string(),
                    registrar: self.f.name.clone(),
                    line: ln,
                });
            }
        }
        let Some(reg) = vocab::registration(name) else {
            return;
        };
        let Some(a) = args.get(reg.arg) else {
            return;
        };
        let written = text(self.src, *a);
        let f = written.trim_start_matches('&').trim();
        // A notifier block is named by its last member
        // (`&priv->inet6_nb`); the file's blocks say its function.
        let f = if reg.via_block {
            f.rsplit(['.', '>']).next().unwrap_or(f)
        } else {
            f
        }
        .to_string();
        if f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !f.is_empty() && f != "NULL"
        {
            self.entry_points.push(EntryPoint {
                function: f,
                kind: reg.kind,
                call: name.to_string(),
                registrar: self.f.name.clone(),
                line: ln,
            });
        }
    }

    /// What the release call `op` of `lock` does: it closes the section
    /// (a caller's, if the function holds none), and `local_irq_save();
    /// spin_lock();` ... `spin_unlock_irqrestore()` ends both;
    /// `spin_unlock_bh()` after `local_bh_disable()` too.
    fn release_events(&mut self, op: &str, class: LockClass, lock: String) {
        self.emit(Ev::Release(class, lock));
        if op.ends_with("_irqrestore") || op.ends_with("_unlock_irq") {
            self.emit(Ev::ReleaseOwn(LockClass::Irq));
        } else if op.ends_with("_unlock_bh") {
            self.emit(Ev::ReleaseOwn(LockClass::Bh));
        }
    }

    fn record_call(&mut self, callee: String, ln: u32, args: &[Node<'_>]) {
        let id = self.f.calls.len() as u32;
        self.f.calls.push(crate::facts::Call {
            callee,
            line: ln,
            args: args.iter().map(|a| text(self.src, *a)).collect(),
            inherited: true,
            case_labels: self.case_labels.clone().map(Box::new),
            ..Default::default()
        });
        self.emit(Ev::Call(id));
    }
}

/// Whether an assignment sits under an `if` that tests for direct reclaim
/// (`if (gfp & __GFP_DIRECT_RECLAIM) gfp |= __GFP_NOFAIL;`): what it adds
/// only applies to masks that may reclaim, and the rules lose nothing by
/// leaving it out (a blocking mask with NOFAIL is neither atomic nor a NOFAIL
/// without reclaim).
fn guarded_by_reclaim(src: &[u8], n: Node<'_>) -> bool {
    let mut cur = n.parent();
    for _ in 0..4 {
        let Some(p) = cur else { return false };
        if p.kind() == "if_statement" {
            let cond = p
                .child_by_field_name("condition")
                .map(|c| text(src, c))
                .unwrap_or_default();
            return cond.contains("DIRECT_RECLAIM") || cond.contains("allow_blocking");
        }
        cur = p.parent();
    }
    false
}

/// Adds a restore with no save to the function's list (called by the flow
/// analysis, which is the one that knows no save matched).
pub(crate) fn foreign_restore(f: &mut Function, op: &str, saved: Option<&str>, line: u32) {
    f.foreign_restores.push(ForeignRestore {
        op: op.to_string(),
        saved: saved.unwrap_or("").to_string(),
        line,
    });
}

fn lock_arg(src: &[u8], class: LockClass, args: &[Node<'_>]) -> String {
    if !vocab::keyed(class) {
        return String::new();
    }
    args.first()
        .map(|a| lock_key(&text(src, *a)))
        .unwrap_or_default()
}

/// The `PF_*` names in a flags expression.
fn pf_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("PF_"))
        .map(str::to_string)
        .collect()
}

fn call_args(n: Node<'_>) -> Vec<Node<'_>> {
    let Some(list) = n.child_by_field_name("arguments") else {
        return Vec::new();
    };
    let mut c = list.walk();
    list.named_children(&mut c)
        .filter(|a| a.kind() != "comment")
        .collect()
}

/// `NAME(...)` as an expression statement with a missing `;`: a macro that
/// takes the next statement as its body.
fn macro_with_body<'t>(src: &[u8], s: Node<'t>) -> Option<(String, Node<'t>)> {
    let call = match s.kind() {
        "expression_statement" => {
            let last = s.child(s.child_count().checked_sub(1)?)?;
            if !last.is_missing() && last.kind() == ";" {
                return None;
            }
            s.named_child(0)?
        }
        "call_expression" => s,
        _ => return None,
    };
    if call.kind() != "call_expression" {
        return None;
    }
    let f = call.child_by_field_name("function")?;
    if f.kind() != "identifier" {
        return None;
    }
    Some((text(src, f), call))
}

fn is_statement(kind: &str) -> bool {
    matches!(
        kind,
        "compound_statement"
            | "expression_statement"
            | "if_statement"
            | "while_statement"
            | "do_statement"
            | "for_statement"
            | "switch_statement"
            | "return_statement"
            | "break_statement"
            | "continue_statement"
            | "goto_statement"
            | "labeled_statement"
            | "declaration"
            | "attributed_statement"
            | "case_statement"
            | "preproc_if"
            | "preproc_ifdef"
    )
}
