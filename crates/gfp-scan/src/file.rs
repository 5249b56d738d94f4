//! One file's facts: its text preprocessed, the functions that matter only
//! through their calls read from their tokens (see [`crate::lexical`]),
//! and the rest parsed with tree-sitter and walked (see [`crate::extract`]).

use crate::facts::{EntryPoint, FileFacts, Function};
use crate::headers::HeaderFacts;
use crate::{extract, kconfig, lexical, preproc, vocab};

/// Parses one file's text into its facts. Functions that can matter only
/// through their calls are read lexically and blanked before tree-sitter
/// parses the rest (see [`lexical`]); `parse_all` parses every function.
/// Preprocessor branches that `build` says no build compiles are not read.
pub fn parse_file(
    rel: String,
    src: &[u8],
    parse_all: bool,
    build: &preproc::BuildFacts<'_>,
) -> Option<FileFacts> {
    parse_file_with(rel, src, parse_all, build, &HeaderFacts::default())
}

/// [`parse_file`], with what the headers the file may include tell it
/// (see [`HeaderFacts`]): their lock wrappers (a wrapper of the file's own
/// takes precedence over one of the same name in a header), and the names
/// they undefine.
pub fn parse_file_with(
    rel: String,
    src: &[u8],
    parse_all: bool,
    build: &preproc::BuildFacts<'_>,
    outside: &HeaderFacts,
) -> Option<FileFacts> {
    let mut code = lexical::code_only(src);
    // A quoted include names a header relative to the file's directory.
    let dir = rel.rsplit_once('/').map_or("", |(d, _)| d).to_string();
    let header_undefs = |written: &str| outside.undefs(&kconfig::join(&dir, written));
    let preproc::Preprocessed {
        live,
        uncertain,
        undefs,
    } = preproc::preprocess_with(src, &code, build, &header_undefs);
    if let Some(l) = &live {
        code = lexical::code_only(l);
    }
    let src = live.as_deref().unwrap_or(src);
    let regions = lexical::regions(&code);
    let newlines: Vec<usize> = memchr_newlines(src);
    let line_of = |pos: usize| newlines.partition_point(|&n| n < pos) as u32 + 1;
    // Whether each region holds a lock, scope or registration name: read
    // once, for the lock wrappers and for the choice of parser.
    let matters: Vec<bool> = regions
        .iter()
        .map(|r| r.kind == lexical::RegionKind::Function && lexical::matters(&code[r.start..r.end]))
        .collect();
    let includes = lexical::includes(src);
    let helpers = file_lock_helpers(&code, &regions, &matters, &includes, outside);
    let scope_helpers = file_scope_helpers(&code, &includes, outside);
    let calls_helper = |body: &[u8]| {
        let named = |name: &str| memchr::memmem::find(body, name.as_bytes()).is_some();
        helpers.iter().any(|h| named(&h.function))
            || scope_helpers.iter().any(|h| named(&h.function))
    };
    let mut read = LexicalRead::default();
    let mut masked: Option<Vec<u8>> = None;
    for (ri, r) in regions.iter().enumerate() {
        let blank = match r.kind {
            lexical::RegionKind::Function => {
                let must_parse = parse_all || matters[ri] || calls_helper(&code[r.open..r.end]);
                read.function(src, &code, r, must_parse, &line_of)
            }
            lexical::RegionKind::Initializer => {
                read.initializer(&code, r, &line_of);
                true
            }
            lexical::RegionKind::Other => true,
        };
        if blank {
            let m = masked.get_or_insert_with(|| src.to_vec());
            blank_keeping_lines(&mut m[r.start..r.end]);
        }
    }
    if !parse_all {
        let m = masked.get_or_insert_with(|| src.to_vec());
        blank_outside_functions(m, &code, &regions, &newlines);
    }
    let text = masked.as_deref().unwrap_or(src);
    let tree = parse_c(text, &newlines)?;
    let mut facts = extract::file_facts(
        rel,
        text,
        tree.root_node(),
        lexical::releases(&code),
        helpers,
        scope_helpers,
    );
    facts.bytes = src.len();
    read.into_facts(&mut facts, &code);
    facts.includes = includes;
    facts.local_includes = lexical::local_includes(src);
    facts.renames = lexical::renames(&code);
    facts.exports = lexical::exports(&code);
    facts.constants = lexical::constants(&code, &regions);
    facts.structs = lexical::struct_facts(&code);
    if facts.path.ends_with(".h") {
        facts.undefs = undefs;
        facts.scope_helpers = facts
            .functions
            .iter()
            .flat_map(crate::scope_helpers::derived)
            .collect();
    }
    forget_uncertain_constants(&mut facts.functions, &uncertain, &newlines, src.len());
    Some(facts)
}

/// The file's lock wrappers, with those of the headers it includes that it
/// names at all (most files call few of them), unless it defines its own.
fn file_lock_helpers(
    code: &[u8],
    regions: &[lexical::Region],
    matters: &[bool],
    includes: &[String],
    outside: &HeaderFacts,
) -> Vec<lexical::LockHelper> {
    let mut helpers = lexical::lock_helpers(code, regions, matters);
    if !outside.has_no_helpers() {
        let own: std::collections::HashSet<String> =
            helpers.iter().map(|h| h.function.clone()).collect();
        helpers.extend(outside.offered(includes, code, &own));
    }
    helpers
}

/// The scope helpers the file names: the built-in ones, and those of the
/// headers it includes (a built-in helper takes precedence over a header's
/// of the same name).
fn file_scope_helpers(
    code: &[u8],
    includes: &[String],
    outside: &HeaderFacts,
) -> Vec<crate::scope_helpers::ScopeHelper> {
    use std::sync::OnceLock;
    /// The table, an automaton over its names, and the names' distinct
    /// prefixes up to their first `_` (`jbd2_`): most files mention none,
    /// which a search for a few plain strings tells faster than the
    /// automaton.
    type Builtin = (
        Vec<crate::scope_helpers::ScopeHelper>,
        aho_corasick::AhoCorasick,
        Vec<memchr::memmem::Finder<'static>>,
        std::collections::HashSet<String>,
    );
    static BUILTIN: OnceLock<Builtin> = OnceLock::new();
    let (builtin, matcher, prefixes, names) = BUILTIN.get_or_init(|| {
        let table = crate::scope_helpers::builtin();
        let names: Vec<&str> = table.iter().map(|h| h.function.as_str()).collect();
        let matcher = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&names)
            .expect("the helper names build");
        let mut heads: Vec<&str> = names
            .iter()
            .map(|n| n.find('_').map_or(*n, |i| &n[..=i]))
            .collect();
        heads.sort_unstable();
        heads.dedup();
        let prefixes = heads
            .into_iter()
            .map(|h| memchr::memmem::Finder::new(h.as_bytes()).into_owned())
            .collect();
        let own = table.iter().map(|h| h.function.clone()).collect();
        (table, matcher, prefixes, own)
    });
    let mut named = vec![false; builtin.len()];
    if prefixes.iter().any(|p| p.find(code).is_some()) {
        for m in matcher.find_iter(code) {
            named[m.pattern().as_usize()] = true;
        }
    }
    let mut out: Vec<_> = builtin
        .iter()
        .zip(&named)
        .filter(|(_, n)| **n)
        .map(|(h, _)| h.clone())
        .collect();
    out.extend(outside.scope_helpers(includes, code, names));
    out
}

/// What the lexical pass reads from the regions the parser does not see:
/// functions that matter only through their calls, and initialisers.
#[derive(Default)]
struct LexicalRead {
    /// The functions read from their tokens.
    light: Vec<Function>,
    /// Names whose address the text may take.
    taken: Vec<String>,
    /// Initialisers' `.member = function` pairs.
    ops: Vec<(String, String)>,
    /// The pairs of initialisers that name their structure, with it.
    typed_ops: Vec<(String, String, String)>,
    /// Functions registered as atomic entry points by an initialiser's
    /// member or an assignment to one.
    atomic_members: Vec<EntryPoint>,
    /// Notifier blocks and the function each is given: (block, function).
    notifier_blocks: Vec<(String, String)>,
}

impl LexicalRead {
    /// Reads a function region: the notifier blocks it fills, and unless
    /// `must_parse` (or it branches on a parameter) the function itself,
    /// from its tokens. Whether the parser may skip the region.
    fn function(
        &mut self,
        src: &[u8],
        code: &[u8],
        r: &lexical::Region,
        must_parse: bool,
        line_of: &dyn Fn(usize) -> u32,
    ) -> bool {
        let body = &code[r.open..r.end];
        self.notifier_blocks
            .extend(lexical::notifier_assignments(body));
        if must_parse {
            return false;
        }
        let Some(f) = lexical::light_function(src, code, r, line_of)
            .filter(|f| !lexical::branches_on_param(f, body))
        else {
            return false;
        };
        for c in &f.calls {
            for a in &c.args {
                if a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    self.taken.push(a.trim_start_matches('&').to_string());
                }
            }
        }
        lexical::assigned_names(body, &mut self.taken);
        for (lhs, function, kind, at) in lexical::member_registrations(body) {
            self.atomic_members.push(EntryPoint {
                function,
                kind,
                call: format!("{lhs} ="),
                registrar: f.name.clone(),
                line: line_of(r.open + at),
            });
        }
        self.light.push(f);
        true
    }

    /// Reads an initialiser: its `.member = function` pairs, the names in
    /// it, the function a notifier block is given, and the members that
    /// register atomic entry points (unless the initialiser opts out).
    fn initializer(&mut self, code: &[u8], r: &lexical::Region, line_of: &dyn Fn(usize) -> u32) {
        let body = &code[r.open..r.end];
        let before = self.ops.len();
        lexical::initializer_names(body, &mut self.ops, &mut self.taken);
        if let Some(ty) = lexical::initializer_type(&code[r.start..r.open]) {
            for (m, f) in &self.ops[before..] {
                self.typed_ops.push((ty.clone(), m.clone(), f.clone()));
            }
        }
        let head = String::from_utf8_lossy(&code[r.start..r.open]);
        if let Some(name) = lexical::notifier_block_name(&head) {
            for (m, f) in &self.ops[before..] {
                if m == "notifier_call" {
                    self.notifier_blocks.push((name.to_string(), f.clone()));
                }
            }
        }
        for (m, f) in &self.ops[before..] {
            let kind = vocab::atomic_member(m, &head)
                .filter(|_| !vocab::opted_out(m, &String::from_utf8_lossy(body)));
            if let Some(kind) = kind {
                let at = memchr::memmem::find(body, format!(".{m}").as_bytes())
                    .map_or(r.open, |o| r.open + o);
                self.atomic_members.push(EntryPoint {
                    function: f.clone(),
                    kind,
                    call: format!(".{m} ="),
                    registrar: String::new(),
                    line: line_of(at),
                });
            }
        }
    }

    /// Adds what was read to the parsed facts of the file (`code` is its
    /// text without comments, for the file-wide opt-outs).
    fn into_facts(self, facts: &mut FileFacts, code: &[u8]) {
        facts.functions.extend(self.light);
        facts.ops.extend(self.ops);
        facts.typed_ops.extend(self.typed_ops);
        facts.entry_points.extend(self.atomic_members);
        resolve_notifier_blocks(&mut facts.entry_points, &self.notifier_blocks);
        facts
            .entry_points
            .retain(|e| !vocab::file_opted_out(&e.call, code));
        facts.address_taken.extend(self.taken);
    }
}

/// Of the text outside function bodies the parser needs only the
/// file-scope registrations (DEFINE_TIMER, DECLARE_TASKLET): blanks the
/// rest too (prototypes, macros, comments), keeping lines and columns.
fn blank_outside_functions(
    m: &mut [u8],
    code: &[u8],
    regions: &[lexical::Region],
    newlines: &[usize],
) {
    let len = m.len();
    // The kept stretches, in order: function regions and the lines that
    // register at file scope.
    let mut keep: Vec<(usize, usize)> = regions
        .iter()
        .filter(|r| r.kind == lexical::RegionKind::Function)
        .map(|r| (r.start, r.end))
        .collect();
    for at in lexical::file_scope_registrations(code) {
        let row = newlines.partition_point(|&n| n < at);
        let start = if row == 0 { 0 } else { newlines[row - 1] + 1 };
        let end = newlines.get(row).map_or(len, |&n| n + 1);
        keep.push((start, end));
    }
    keep.sort_unstable();
    let mut from = 0;
    for (a, b) in keep.into_iter().chain([(len, len)]) {
        if a > from {
            blank_keeping_lines(&mut m[from..a]);
        }
        from = from.max(b);
    }
}

/// Parses `text` with tree-sitter's C grammar. The parser reads only the
/// text that is left: long blank stretches (the functions and declarations
/// blanked before) are not even lexed.
fn parse_c(text: &[u8], newlines: &[usize]) -> Option<tree_sitter::Tree> {
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&tree_sitter_c::LANGUAGE.into()).ok()?;
    let ranges = parse_ranges(text, newlines);
    if !ranges.is_empty() {
        parser.set_included_ranges(&ranges).ok()?;
    }
    parser.parse(text, None)
}

/// Gives each entry point registered through a notifier block (named by
/// the block) the function the file puts in the block; one whose block the
/// file does not fill is not followed.
fn resolve_notifier_blocks(entry_points: &mut Vec<EntryPoint>, blocks: &[(String, String)]) {
    entry_points.retain_mut(|e| {
        if e.kind != vocab::ATOMIC_NOTIFIER {
            return true;
        }
        match blocks.iter().find(|(b, _)| *b == e.function) {
            Some((_, f)) => {
                e.function.clone_from(f);
                true
            }
            None => false,
        }
    });
}

/// A constant function defined under a condition the build leaves open is
/// one of two definitions (`#ifdef CONFIG_ACPI` ... `#else` stub), the other
/// perhaps a macro: what it returns decides nothing.
fn forget_uncertain_constants(
    functions: &mut [Function],
    uncertain: &[std::ops::Range<usize>],
    newlines: &[usize],
    len: usize,
) {
    if uncertain.is_empty() {
        return;
    }
    let line_start = |l: u32| match l {
        0 | 1 => 0,
        l => newlines.get(l as usize - 2).map_or(len, |&n| n + 1),
    };
    for f in functions {
        let at = line_start(f.line);
        if f.returns_constant.is_some() && uncertain.iter().any(|r| r.contains(&at)) {
            f.returns_constant = None;
        }
    }
}

/// Turns every byte but the line breaks into a space.
fn blank_keeping_lines(text: &mut [u8]) {
    let mut from = 0;
    while from < text.len() {
        let end = memchr::memchr(b'\n', &text[from..]).map_or(text.len(), |p| from + p);
        text[from..end].fill(b' ');
        from = end + 1;
    }
}

fn memchr_newlines(src: &[u8]) -> Vec<usize> {
    memchr::memchr_iter(b'\n', src).collect()
}

/// The stretches of `text` the parser must read: everything but the inside
/// of runs of blank lines at least `MIN_SKIP` bytes long (no token, not even
/// a string literal, runs through a blank line). Empty when nothing is worth
/// skipping.
fn parse_ranges(text: &[u8], newlines: &[usize]) -> Vec<tree_sitter::Range> {
    const MIN_SKIP: usize = 256;
    let point = |pos: usize| {
        let row = newlines.partition_point(|&n| n < pos);
        let line_start = if row == 0 { 0 } else { newlines[row - 1] + 1 };
        tree_sitter::Point {
            row,
            column: pos - line_start,
        }
    };
    let blank = |b: u8| b == b' ' || b == b'\n' || b == b'\t' || b == b'\r';
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        if !blank(text[i]) {
            i += 1;
            continue;
        }
        let run = i;
        while i < text.len() && blank(text[i]) {
            i += 1;
        }
        if i - run < MIN_SKIP {
            continue;
        }
        // Skip from after the run's first line break to its last one: the
        // line before keeps its end (a directive ends there) and the line
        // after starts a line.
        let (Some(first), Some(last)) = (
            memchr::memchr(b'\n', &text[run..i]),
            memchr::memrchr(b'\n', &text[run..i]),
        ) else {
            continue;
        };
        let (cut, resume) = (run + first + 1, run + last);
        if resume >= cut + MIN_SKIP {
            out.push(tree_sitter::Range {
                start_byte: start,
                end_byte: cut,
                start_point: point(start),
                end_point: point(cut),
            });
            start = resume;
        }
    }
    if out.is_empty() {
        return out;
    }
    if start < text.len() {
        out.push(tree_sitter::Range {
            start_byte: start,
            end_byte: text.len(),
            start_point: point(start),
            end_point: point(text.len()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser skips only the inside of long blank stretches: each range
    /// ends just after a line break and the next starts at one, and what is
    /// left out is blank.
    #[test]
    fn parse_ranges_skip_only_blank_lines() {
        let blank = " ".repeat(300);
        let text = format!("#if X\n{blank}\n{blank}\n#endif\nint f(void)\n{{\n}}\n");
        let newlines = memchr_newlines(text.as_bytes());
        let ranges = parse_ranges(text.as_bytes(), &newlines);
        assert_eq!(ranges.len(), 2, "{ranges:?}");
        assert_eq!(&text[..ranges[0].end_byte], "#if X\n");
        assert!(text[ranges[1].start_byte..].starts_with("\n#endif"));
        assert!(text[ranges[0].end_byte..ranges[1].start_byte]
            .bytes()
            .all(|b| b == b' ' || b == b'\n'));
        assert_eq!(ranges[1].start_point.column, 300);
        // Short blanks, or none: the whole text.
        let short = "int f(void)\n{\n}\n";
        assert!(parse_ranges(short.as_bytes(), &memchr_newlines(short.as_bytes())).is_empty());
        // The same facts with and without the skipping.
        let src = format!("static DEFINE_SPINLOCK(l);\n{blank}\n{blank}\nvoid g(void)\n{{\n\tspin_lock(&l);\n\tkmalloc(8, GFP_KERNEL);\n\tspin_unlock(&l);\n}}\n");
        let facts = parse_file(
            "g.c".into(),
            src.as_bytes(),
            false,
            &preproc::BuildFacts::UNKNOWN,
        )
        .expect("parses");
        let g = facts.functions.iter().find(|f| f.name == "g").expect("g");
        let k = g
            .calls
            .iter()
            .find(|c| c.callee == "kmalloc")
            .expect("kmalloc");
        assert_eq!((k.line, k.sections.len()), (7, 1));
    }
}
