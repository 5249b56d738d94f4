//! Scope helpers: functions that open an allocation scope for their caller
//! and functions that close it, so that the scope spans the caller's code
//! between the two calls.
//!
//! The kernel's largest scopes are opened this way: a jbd2 handle raises
//! `PF_MEMALLOC_NOFS` from `jbd2_journal_start()` to `jbd2_journal_stop()`,
//! an XFS transaction from `xfs_trans_alloc()` to its commit or cancel, and
//! lock wrappers such as `cifs_server_lock()` pair a mutex with a NOFS
//! scope. An explicit `GFP_NOFS` between such a pair is redundant: the
//! analysis' direction, a scope at the transaction boundary, is already
//! there. The helpers come from two places: a built-in table of the APIs
//! whose bodies open the scope several calls deep or on their success paths
//! only ([`builtin`]), and the headers' static inlines that save into their
//! object and return with the scope open on every path, read from the
//! headers themselves ([`derived`]).

use crate::cond_keys::balanced;
use crate::facts::Function;

/// Where the scope's saved state lives, as the caller sees it: what a
/// closing call must be given for the two to pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// The value the opener returns (`handle = jbd2_journal_start(...)`,
    /// closed by `jbd2_journal_stop(handle)`).
    Returned,
    /// The opener's or closer's argument at this index (`&tp` of
    /// `xfs_trans_alloc()`, `server` of `cifs_server_lock(server)`).
    Arg(u8),
}

/// How an opener tells its caller it failed, and so opened nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// It always opens the scope.
    Never,
    /// It returns an error pointer (`IS_ERR(handle)`).
    ErrPtr,
    /// It returns a non-zero error code (`if (error) return error;`).
    NonZero,
}

/// A function that opens a scope for its caller, or closes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeHelper {
    /// The function's name.
    pub function: String,
    /// Whether it opens the scope (else it closes it).
    pub opens: bool,
    /// The `PF_MEMALLOC_*` flags the scope raises (openers only).
    pub flags: Vec<String>,
    /// Where the saved state lives.
    pub object: Object,
    /// How an opener reports that it opened nothing.
    pub fails: Failure,
}

impl ScopeHelper {
    fn opener(function: &str, flags: &[&str], object: Object, fails: Failure) -> ScopeHelper {
        ScopeHelper {
            function: function.to_string(),
            opens: true,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            object,
            fails,
        }
    }

    fn closer(function: &str, object: Object) -> ScopeHelper {
        ScopeHelper {
            function: function.to_string(),
            opens: false,
            flags: Vec::new(),
            object,
            fails: Failure::Never,
        }
    }
}

/// The APIs that open a scope for their caller in a way a reading of their
/// own bodies cannot show (the scope is opened calls deep, or a path that
/// opens nothing still leaves the task in an outer scope), checked
/// against Linux 6.12:
///
/// * jbd2: `start_this_handle()` saves the NOFS state into the handle once
///   the handle has joined a transaction, and `stop_this_handle()` (from
///   `jbd2_journal_stop()`) restores it. `jbd2__journal_start()` returns
///   an error pointer when it fails; when the task already holds a handle
///   it returns that one, inside the outer handle's scope.
/// * XFS: `xfs_trans_alloc()` sets the transaction's context
///   (`xfs_trans_set_context()`) before it reserves space, cancels the
///   transaction (restoring the context) when the reservation fails, and
///   hands it out through its last argument on success only. The
///   `xfs_trans_alloc_*()` variants return through `xfs_trans_alloc()`'s
///   result the same way. `xfs_trans_commit()` and `xfs_trans_cancel()`
///   free the transaction, which clears the context.
/// * OCFS2: `ocfs2_start_trans()` returns `jbd2_journal_start()`'s handle
///   or an error pointer; `ocfs2_commit_trans()` stops it.
///
/// Not here: ext4's `ext4_journal_start()`, whose handle opens no scope on
/// a file system without a journal (`ext4_get_nojournal()`), so an explicit
/// `GFP_NOFS` under it is not redundant there.
pub fn builtin() -> Vec<ScopeHelper> {
    use Failure::*;
    use Object::*;
    const NOFS: &[&str] = &["PF_MEMALLOC_NOFS"];
    vec![
        ScopeHelper::opener("jbd2__journal_start", NOFS, Returned, ErrPtr),
        ScopeHelper::opener("jbd2_journal_start", NOFS, Returned, ErrPtr),
        ScopeHelper::closer("jbd2_journal_stop", Arg(0)),
        ScopeHelper::opener("ocfs2_start_trans", NOFS, Returned, ErrPtr),
        ScopeHelper::closer("ocfs2_commit_trans", Arg(1)),
        ScopeHelper::opener("xfs_trans_alloc", NOFS, Arg(5), NonZero),
        ScopeHelper::opener("xfs_trans_alloc_empty", NOFS, Arg(1), NonZero),
        ScopeHelper::opener("xfs_trans_alloc_inode", NOFS, Arg(5), NonZero),
        ScopeHelper::opener("xfs_trans_alloc_icreate", NOFS, Arg(6), NonZero),
        ScopeHelper::opener("xfs_trans_alloc_ichange", NOFS, Arg(5), NonZero),
        ScopeHelper::closer("xfs_trans_commit", Arg(0)),
        ScopeHelper::closer("xfs_trans_cancel", Arg(0)),
    ]
}

/// The helpers a header function is, read from its facts: an opener saves
/// a scope into a member of a parameter (`server->nofs_flag =
/// memalloc_nofs_save()`) or returns the saved state, and leaves the scope
/// open at every exit; a closer restores state read from a parameter
/// (`memalloc_nofs_restore(server->nofs_flag)`, or the parameter itself).
/// A wrapper that opens the scope on some paths only (a trylock's) is
/// neither: which paths its caller is in cannot be told from the call.
pub fn derived(f: &Function) -> Vec<ScopeHelper> {
    // The save and restore calls themselves are read as such.
    if crate::vocab::scope_op(&f.name).is_some() {
        return Vec::new();
    }
    let param_of = |expr: &str| -> Option<u8> {
        let e = expr.trim_start_matches('&');
        let base = e
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or(e);
        let i = f
            .params
            .iter()
            .position(|p| !p.name.is_empty() && p.name == base)?;
        u8::try_from(i).ok()
    };
    let mut out = Vec::new();
    for &s in &f.left_open {
        let Some(scope) = f.scopes.get(s as usize) else {
            continue;
        };
        if !scope.escapes || scope.discarded || scope.flags.is_empty() {
            continue;
        }
        let object = match scope.saved_in() {
            None => Object::Returned,
            Some(var) => match param_of(var) {
                Some(i) if var.contains("->") || var.contains('.') => Object::Arg(i),
                _ => continue,
            },
        };
        let flags: Vec<&str> = scope.flags.iter().map(String::as_str).collect();
        out.push(ScopeHelper::opener(&f.name, &flags, object, Failure::Never));
    }
    for r in &f.foreign_restores {
        if !r.op.starts_with("memalloc_") {
            continue;
        }
        if let Some(i) = param_of(&r.saved) {
            out.push(ScopeHelper::closer(&f.name, Object::Arg(i)));
            break;
        }
    }
    out
}

/// What one side of a branch knows of an opener's success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The opener failed on this side: no scope.
    Failed,
    /// The opener succeeded, or the condition does not test it.
    Open,
    /// The condition tests the opener's result among other things
    /// (`IS_ERR(handle) || ret`): the scope may be missing on this side.
    Unknown,
}

/// What the two sides of `if (cond)` know of the opener whose result is in
/// `status`: (the then side, the else side). The whole condition may be a
/// failure test (`IS_ERR(handle)`, `error`), or be made of them (`error ==
/// -EDQUOT || error == -ENOSPC`: every part a failure). Otherwise a part of
/// `A && B` that says success holds on the then side and a part of `A ||
/// B` that says failure is false on the else side; a side where a failure
/// part may hold, or a success part may not, is unknown. A condition with
/// no failure or success test of `status` says nothing: a later test will.
pub fn branch_sides(cond: &str, status: &str, fails: Failure) -> (Side, Side) {
    if fails == Failure::Never {
        return (Side::Open, Side::Open);
    }
    match tests_failure(cond, status, fails) {
        Some(true) => return (Side::Failed, Side::Open),
        Some(false) => return (Side::Open, Side::Failed),
        None => {}
    }
    let any = |parts: &[String], want: bool| {
        parts
            .iter()
            .any(|p| tests_failure(p, status, fails) == Some(want))
    };
    let ors = crate::cond_keys::disjuncts(cond);
    let ands = crate::cond_keys::conjuncts(cond);
    if !ors.is_empty()
        && ors
            .iter()
            .all(|p| tests_failure(p, status, fails) == Some(true))
    {
        return (Side::Failed, Side::Open);
    }
    let then_side = if any(&ands, false) || !any(&ors, true) {
        Side::Open
    } else {
        Side::Unknown
    };
    let else_side = if any(&ors, true) || !any(&ands, false) {
        Side::Open
    } else {
        Side::Unknown
    };
    (then_side, else_side)
}

/// Whether a branch condition, as written, says that the opener whose
/// result is in `status` failed: `Some(true)` when the condition holds on
/// failure (`IS_ERR(handle)`, `error`, `error < 0`), `Some(false)` when it
/// holds on success (`!IS_ERR(handle)`, `!error`), `None` when it does not
/// test the result.
pub fn tests_failure(cond: &str, status: &str, fails: Failure) -> Option<bool> {
    let mut c: String = cond.chars().filter(|c| !c.is_whitespace()).collect();
    let mut failed_if_true = true;
    loop {
        let before = c.len();
        if let Some(inner) = c.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            if balanced(inner) {
                c = inner.to_string();
            }
        }
        for w in ["unlikely(", "likely(", "WARN_ON(", "WARN_ON_ONCE("] {
            if let Some(inner) = c.strip_prefix(w).and_then(|r| r.strip_suffix(')')) {
                if balanced(inner) {
                    c = inner.to_string();
                }
            }
        }
        if let Some(inner) = c.strip_prefix('!') {
            c = inner.to_string();
            failed_if_true = !failed_if_true;
        }
        if c.len() == before {
            break;
        }
    }
    let failure = match fails {
        Failure::Never => return None,
        Failure::ErrPtr => {
            c == format!("IS_ERR({status})") || c == format!("IS_ERR_OR_NULL({status})")
        }
        Failure::NonZero => {
            let error_code = c.strip_prefix(&format!("{status}==-")).is_some_and(|code| {
                !code.is_empty()
                    && code
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                    && code.chars().any(|ch| ch != '0')
            });
            if c == status
                || c == format!("{status}<0")
                || c == format!("{status}!=0")
                || error_code
            {
                true
            } else if c == format!("{status}==0") {
                failed_if_true = !failed_if_true;
                true
            } else {
                false
            }
        }
    };
    failure.then_some(failed_if_true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_test_is_read_in_each_form() {
        use Failure::*;
        assert_eq!(
            tests_failure("IS_ERR(handle)", "handle", ErrPtr),
            Some(true)
        );
        assert_eq!(
            tests_failure("(unlikely(IS_ERR(handle)))", "handle", ErrPtr),
            Some(true)
        );
        assert_eq!(
            tests_failure("!IS_ERR(handle)", "handle", ErrPtr),
            Some(false)
        );
        assert_eq!(tests_failure("IS_ERR(other)", "handle", ErrPtr), None);
        assert_eq!(tests_failure("error", "error", NonZero), Some(true));
        assert_eq!(tests_failure("error < 0", "error", NonZero), Some(true));
        assert_eq!(tests_failure("!error", "error", NonZero), Some(false));
        assert_eq!(tests_failure("error == 0", "error", NonZero), Some(false));
        assert_eq!(
            tests_failure("error == -ENOSPC", "error", NonZero),
            Some(true)
        );
        assert_eq!(tests_failure("error != -ENOSPC", "error", NonZero), None);
        assert_eq!(tests_failure("error", "error", Never), None);
        // Parentheses that do not enclose the whole condition stay.
        assert_eq!(tests_failure("(a) && (error)", "error", NonZero), None);
    }

    #[test]
    fn a_compound_test_of_the_result_leaves_the_side_it_may_fail_on_unknown() {
        use Failure::*;
        use Side::*;
        let sides = |c: &str| branch_sides(c, "handle", ErrPtr);
        assert_eq!(sides("(IS_ERR(handle))"), (Failed, Open));
        assert_eq!(sides("!IS_ERR(handle)"), (Open, Failed));
        // Either part may hold on the then side; both are false on the else.
        assert_eq!(sides("IS_ERR(handle) || ret"), (Unknown, Open));
        // Both hold on the then side; either may be false on the else.
        assert_eq!(sides("!IS_ERR(handle) && ret"), (Open, Unknown));
        // No test of the result: a later one decides.
        assert_eq!(sides("check(handle) > 0"), (Open, Open));
        assert_eq!(sides("IS_ERR(handle2)"), (Open, Open));
        assert_eq!(sides("ret"), (Open, Open));
        assert_eq!(branch_sides("error", "error", Never), (Open, Open));
        // Every part a failure: the then side failed; the else side may
        // hold another error, which a later test decides.
        let err = |c: &str| branch_sides(c, "error", NonZero);
        assert_eq!(err("error == -EDQUOT || error == -ENOSPC"), (Failed, Open));
        assert_eq!(err("error == -ENOSPC && retry"), (Open, Open));
        assert_eq!(err("error == 0"), (Open, Failed));
    }
}
