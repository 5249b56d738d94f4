//! What the scanner keeps of each file once it is parsed and each function's
//! flow is analysed: no syntax tree survives, only these facts.

use thin_vec::ThinVec;

use crate::vocab::LockClass;

/// One function definition.
#[derive(Clone, Debug, Default)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// Whether it is `static` (it then belongs to its file).
    pub is_static: bool,
    /// The 1-based line of its name.
    pub line: u32,
    /// Whether it is marked `__init` (boot or module-load code).
    pub is_init: bool,
    /// Whether it is a weak definition (`__weak`): another, strong
    /// definition of the name replaces it at link time.
    pub is_weak: bool,
    /// Whether it returns `bool` (a predicate).
    pub returns_bool: bool,
    /// The truth of what it returns when its whole body returns one
    /// constant (`return false;`, `return -ENODEV;`): a branch on a call
    /// of it is decided.
    pub returns_constant: Option<bool>,
    /// Its parameters in order.
    pub params: Vec<Param>,
    /// Every direct call that is not a lock or scope operation, in source
    /// order, with the context in force where it is made.
    pub calls: Vec<Call>,
    /// The atomic sections opened in the function; calls refer to them by index.
    pub sections: Vec<Section>,
    /// The scopes opened in the function; calls refer to them by index.
    pub scopes: Vec<Scope>,
    /// Scopes that some path leaves open at the function's end.
    pub unpaired: Vec<Unpaired>,
    /// The scopes whose saved state leaves the function ([`Scope::escapes`])
    /// and that every path leaves open at the function's end: it opens them
    /// for its caller (see [`crate::scope_helpers::derived`]).
    pub left_open: ThinVec<u16>,
    /// Restores of a scope this function did not save (`memalloc_*_restore(x)`
    /// with no save of `x` in the function): the other half of a pair.
    pub foreign_restores: Vec<ForeignRestore>,
    /// Every scope save and restore call, as (name, line): the index of
    /// scope operations, paired or not.
    pub scope_ops: Vec<(String, u32)>,
    /// The branch conditions [`Call::conds`] refers to, normalised
    /// (`chip->can_sleep`, `shared`); only conditions the function never
    /// assigns.
    pub cond_keys: Vec<String>,
    /// Local `gfp_t` values: each assignment or initialiser of a variable
    /// (or of a `gfp_t` parameter), in source order.
    pub locals: Vec<Local>,
    /// Calls through a pointer, which the scanner does not follow (unless
    /// `--follow-ops` finds an initialiser for the member).
    pub indirect_calls: Vec<IndirectCall>,
}

impl Function {
    /// Gives back the spare capacity of the function's lists: the facts of
    /// a whole tree stay in memory until the rules have run, and the lists
    /// grew by doubling.
    pub fn shrink(&mut self) {
        self.calls.shrink_to_fit();
        for c in &mut self.calls {
            c.args.shrink_to_fit();
        }
        self.indirect_calls.shrink_to_fit();
        self.locals.shrink_to_fit();
        self.cond_keys.shrink_to_fit();
        self.params.shrink_to_fit();
    }
}

/// An assignment of a mask to a variable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Local {
    /// The variable.
    pub var: String,
    /// The value as written; `x |= A` is kept as `x | (A)` and `x &= A` as
    /// `x & (A)`.
    pub value: String,
    /// The 1-based line.
    pub line: u32,
    /// Made on every path through the function: a statement of the body
    /// itself, not of a branch or a loop. Such an assignment replaces the
    /// variable's earlier values; any other adds to them.
    pub always: bool,
}

#[cfg(test)]
impl Local {
    /// An assignment made on some paths only, at line 0.
    pub(crate) fn maybe(var: &str, value: &str) -> Local {
        Local {
            var: var.into(),
            value: value.into(),
            line: 0,
            always: false,
        }
    }
}

/// A parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Param {
    /// Its name (empty when unnamed).
    pub name: String,
    /// Whether its type is `gfp_t`.
    pub is_gfp: bool,
}

/// A call site and the context in force there. Its lists are thin (one
/// pointer each, most of them empty): a whole tree holds millions of calls.
#[derive(Clone, Debug, Default)]
pub struct Call {
    /// The called function's name; a call `--follow-ops` adds to another
    /// file's `static` function names it `name@path` (see [`Call::name`]).
    pub callee: String,
    /// The 1-based line.
    pub line: u32,
    /// The argument expressions as written (whitespace collapsed).
    pub args: ThinVec<String>,
    /// The sections of this function that may be held here (indexes into
    /// [`Function::sections`]).
    pub sections: ThinVec<u16>,
    /// Whether the caller's own atomic section may still be held here: false
    /// once the function released, on every path, a lock it did not take.
    pub inherited: bool,
    /// The classes of section (bits of [`crate::vocab::LockClass`] as
    /// `1 << class as u8`) the function released on some path to the call
    /// without having taken them: a caller's section of such a class may have
    /// been dropped before the call.
    pub dropped: u16,
    /// The scopes held on every path to the call.
    pub scopes_must: ThinVec<u16>,
    /// The scopes held on some path to the call.
    pub scopes_may: ThinVec<u16>,
    /// The truths of the function's stable branch conditions on every path
    /// to the call (indexes into [`Function::cond_keys`]).
    pub conds: ThinVec<(u16, bool)>,
    /// The `case` labels of a `switch` a caller can decide that the call is
    /// under, with the cases that fall through to it: a caller passing
    /// another constant, or knowing the member holds another one, does not
    /// reach the call.
    pub case_labels: Option<Box<CaseLabels>>,
    /// What every path to the call assumed of the function's parameters
    /// (`if (!nofail) return ...;` leaves `nofail` true after it): the
    /// parameter's index and its truth.
    pub assumes: ThinVec<(u8, bool)>,
    /// For a call `--follow-ops` added for a call through a member made at
    /// this line (the [`IndirectCall`] of the same line says which member),
    /// how many functions that call became (1 to 16); 0 for a direct call.
    pub indirect: u8,
}

impl Call {
    /// The called function's name, without the file `--follow-ops` may
    /// add to it.
    pub fn name(&self) -> &str {
        self.callee.split_once('@').map_or(&self.callee, |(n, _)| n)
    }

    /// Whether `followed` is a copy `--follow-ops` made of this call (an
    /// [`IndirectCall::call`]) for one of its targets: the same line,
    /// arguments and flow facts. Two member calls on one line usually
    /// differ in one of these; those alike in all (`ops->a(x) ||
    /// ops->b(x)`) are told apart by the member the target is put in.
    pub fn is_copied_as(&self, followed: &Call) -> bool {
        self.line == followed.line
            && self.args == followed.args
            && self.conds == followed.conds
            && self.sections == followed.sections
            && self.assumes == followed.assumes
            && self.scopes_may == followed.scopes_may
    }
}

/// What a `switch` tests, when the function's callers can decide which of
/// its cases runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwitchOn {
    /// A parameter (by index): `switch (mode)`.
    Param(u8),
    /// A member path: `switch (msg->cmd)`, decided by what a caller knows of
    /// the same member (`if (msg->cmd == A || msg->cmd == B) dispatch(msg);`).
    Member(String),
    /// The characters of a string parameter (by index), walked by a
    /// pointer: `for (p = fmt; *p; p++) switch (*p)`. A caller that passes a
    /// string literal reaches only the cases of the characters it holds.
    ParamChar(u8),
}

/// The most labels a call keeps of the cases that fall through to it:
/// past that the call is taken as reached by any value (a switch of
/// thousands of cases would otherwise cost the square of its length).
pub const MAX_CASE_LABELS: usize = 64;

/// The `case` labels a call is under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseLabels {
    /// What the switch tests.
    pub on: SwitchOn,
    /// The labels of the case, and of the cases that fall through to it.
    pub labels: Vec<String>,
}

/// An atomic section opened by a call.
#[derive(Clone, Debug)]
pub struct Section {
    /// What closes it.
    pub class: LockClass,
    /// The call that opened it, e.g. `spin_lock_irqsave` or `guard(spinlock)`.
    pub op: String,
    /// The lock, as written (empty for per-CPU sections).
    pub lock: String,
    /// The 1-based line.
    pub line: u32,
}

/// A scope opened by a save call or by setting `current->flags`.
#[derive(Clone, Debug)]
pub struct Scope {
    /// The `PF_*` flags it raises, as written.
    pub flags: Vec<String>,
    /// The call or statement that opened it, e.g. `memalloc_nofs_save`.
    pub op: String,
    /// The variable the saved state went to, if any.
    pub var: Option<String>,
    /// The saved state leaves the function (stored in a structure or
    /// returned), so its restore is elsewhere.
    pub escapes: bool,
    /// Where the saved state was put when it went through a local first
    /// (`flag = memalloc_nofs_save(); ...; server->nofs_flag = flag;`).
    pub stored: Option<String>,
    /// The saved state is thrown away (`memalloc_nofs_save();` as a
    /// statement): the scope is meant to last as long as the task.
    pub discarded: bool,
    /// Opened by a call of a [scope helper](crate::scope_helpers)
    /// (`handle = jbd2_journal_start(...)`): its object may be closed by
    /// another function, so a path leaving it open is no finding.
    pub helper: bool,
    /// The 1-based line.
    pub line: u32,
}

impl Scope {
    /// A scope `op` opened at `line`, raising `flags`, whose saved state
    /// stays in the function (the fields a save into a variable, a helper
    /// or a stored state sets are set over it).
    pub fn opened(flags: Vec<String>, op: String, line: u32) -> Scope {
        Scope {
            flags,
            op,
            var: None,
            escapes: false,
            stored: None,
            discarded: false,
            helper: false,
            line,
        }
    }

    /// Where the saved state ends up: the structure field it was stored
    /// in, or the variable it was saved into.
    pub fn saved_in(&self) -> Option<&str> {
        self.stored.as_deref().or(self.var.as_deref())
    }
}

/// A scope left open at some exit of its function.
#[derive(Clone, Debug)]
pub struct Unpaired {
    /// The scope (index into [`Function::scopes`]).
    pub scope: u16,
    /// The line of the exit (a `return`, or the closing brace).
    pub exit_line: u32,
}

/// A restore whose save is in another function.
#[derive(Clone, Debug)]
pub struct ForeignRestore {
    /// The restore call.
    pub op: String,
    /// The saved state's expression, as written.
    pub saved: String,
    /// The 1-based line.
    pub line: u32,
}

/// A call through a pointer.
#[derive(Clone, Debug)]
pub struct IndirectCall {
    /// The member called through (`open` in `ops->open(...)`), if the callee
    /// is a structure member.
    pub member: Option<String>,
    /// What the expression the member is read from says of its structure.
    pub receiver: Option<Receiver>,
    /// The call as a direct one is kept, without a callee: its line, its
    /// arguments and what the flow knows at it. `--follow-ops` copies it
    /// for each function the member may be.
    pub call: Call,
}

/// The structure a call through a member reads it from, as far as the
/// calling function says: the members read on the way from a variable
/// (`vf_info->mbx.ops` is `mbx`, then `ops`), and the variable's
/// structure type when the function declares it (`struct fm10k_vf_info
/// *vf_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receiver {
    /// The variable's structure type, if the function declares it.
    pub root: Option<String>,
    /// The members read from it, in order (empty for the variable itself).
    pub path: Vec<String>,
    /// The variable, when the function does not declare it (a file-scope
    /// variable's type is read from the file's declarations).
    pub var: Option<String>,
}

/// A function registered to run in atomic context.
#[derive(Clone, Debug)]
pub struct EntryPoint {
    /// The registered function's name.
    pub function: String,
    /// What it runs as (`hard IRQ handler`, `timer callback`, ...).
    pub kind: &'static str,
    /// The registering call, e.g. `request_irq`.
    pub call: String,
    /// The function that registers it (empty at file scope).
    pub registrar: String,
    /// The 1-based line.
    pub line: u32,
}

/// Everything kept of one file.
#[derive(Clone, Debug, Default)]
pub struct FileFacts {
    /// The path relative to the scanned root.
    pub path: String,
    /// Its size.
    pub bytes: usize,
    /// Its function definitions.
    pub functions: Vec<Function>,
    /// Functions registered here as atomic entry points.
    pub entry_points: Vec<EntryPoint>,
    /// `.member = function` initialisers (and assignments), for `--follow-ops`.
    pub ops: Vec<(String, String)>,
    /// The file-scope initialisers' pairs of [`ops`](Self::ops) whose
    /// structure the initialiser names: (structure, member, function).
    pub typed_ops: Vec<(String, String, String)>,
    /// What the structures it defines say about their members.
    pub structs: crate::lexical::StructFacts,
    /// Names used as values rather than called (function pointers taken).
    pub address_taken: Vec<String>,
    /// The syntax errors the parser recovered from.
    pub parse_errors: u32,
    /// The file names its `#include` lines name (the last path component).
    pub includes: Vec<String>,
    /// The `#include "path"` lines, as written (the headers a file takes
    /// from its own directory or one relative to it).
    pub local_includes: Vec<String>,
    /// Object-like macros that rename an identifier (`#define ieee80211_rx
    /// ieee80211_rx_rsl`): a definition or call of the first name in this
    /// file, or in one including it, is of the second.
    pub renames: Vec<(String, String)>,
    /// The names it exports to modules (`EXPORT_SYMBOL*(name)`).
    pub exports: Vec<String>,
    /// Functions it declares with `__releases(lock)`: (name, lock key).
    pub releases: Vec<(String, String)>,
    /// Its functions that take a lock for their caller or release its
    /// lock, while its functions are walked (emptied after).
    pub lock_helpers: std::sync::Arc<[crate::lexical::LockHelper]>,
    /// For a header, its functions that open an allocation scope for their
    /// caller or close it (taken by the files that include it).
    pub scope_helpers: Vec<crate::scope_helpers::ScopeHelper>,
    /// The names a header `#undef`s where it is certainly compiled and
    /// never defines (kept for headers only, taken by the files that
    /// include them).
    pub undefs: Vec<String>,
    /// The named integer constants it defines (enumerators, `#define NAME
    /// NUMBER`), see [`crate::lexical::constants`].
    pub constants: Vec<(String, i64)>,
}
