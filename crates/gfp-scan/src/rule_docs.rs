//! The long explanation of each rule, for `gfp scan --explain RULE` and
//! SARIF's `help` text: what the rule finds, why it matters, how to fix a
//! finding, and what the scanner leaves out on purpose.

use crate::rules::id::*;

/// The explanation of rule `id`, or `None` for an unknown id.
pub fn explain(id: &str) -> Option<&'static str> {
    Some(match id {
        SLEEP_IN_ATOMIC => SLEEP_IN_ATOMIC_DOC,
        NOFAIL_NO_RECLAIM => NOFAIL_NO_RECLAIM_DOC,
        UNPAIRED_SCOPE => UNPAIRED_SCOPE_DOC,
        REDUNDANT_NOFS | REDUNDANT_NOIO => REDUNDANT_DOC,
        NOFS_CANDIDATE | NOIO_CANDIDATE => CONVERSION_DOC,
        SCOPE_BREAKS | SCOPE_CHANGES => PROPOSAL_DOC,
        _ => return None,
    })
}

const SLEEP_IN_ATOMIC_DOC: &str = "\
sleep-in-atomic (error)

What it finds
  An allocation whose effective mask has __GFP_DIRECT_RECLAIM (GFP_KERNEL,
  GFP_NOFS, GFP_NOIO, GFP_KERNEL_ACCOUNT, ...) that runs in atomic context:
  inside a spinlock, rwlock or xa_lock, with interrupts, bottom halves or
  preemption disabled, in an RCU read-side section, or in a function the
  kernel calls in atomic context (a hard IRQ handler, a timer, a tasklet,
  an RCU callback, ndo_start_xmit, an irq_chip callback, ...). The
  allocation may be in the function itself or several calls below it; the
  finding shows the shortest chain, each call with the branch conditions
  it is made under.

Why it matters
  Direct reclaim may sleep (it writes back, waits for I/O, takes
  mutexes). Sleeping with a spinlock held or interrupts off can deadlock
  the CPU or the lock's other users, and CONFIG_DEBUG_ATOMIC_SLEEP reports
  it as \"BUG: sleeping function called from invalid context\" - but only
  on the paths a test happens to run. Most true findings are rare paths:
  an error handler, a reset, a fallback after a failed GFP_ATOMIC attempt.

How to fix
  Move the allocation out of the section (allocate before taking the
  lock, free the spare after dropping it), or let it fail fast with
  GFP_ATOMIC or GFP_NOWAIT and handle the failure, or move the work to
  process context (a work item, a threaded IRQ handler). Read the `when`
  conditions first: a finding that holds only when an object's slot is
  empty, a fast path failed or a mode is set is real only if that state
  can happen there.

What it leaves out
  A mask chosen at run time between a sleeping and a non-sleeping one
  that the scanner cannot bind; a callee handed a gfp_t that cannot sleep;
  functions that test their context (in_interrupt(), irqs_disabled(),
  gfpflags_allow_blocking()); functions that free memory (callable in any
  context by contract); a function that at least --trust-callers (3)
  distinct functions call inside atomic sections; chains longer than
  --max-chain (6) calls, which are counted in the summary; calls through
  function pointers unless --follow-ops finds their initialisers (one
  function per call, or up to --ops-targets). A chain through a function
  that is itself reported as an atomic entry point is folded into that
  finding, whose message counts the contexts that reach it.
";

const NOFAIL_NO_RECLAIM_DOC: &str = "\
nofail-no-reclaim (error)

What it finds
  A __GFP_NOFAIL allocation whose effective mask, after the task's
  scopes, lacks __GFP_DIRECT_RECLAIM: GFP_ATOMIC | __GFP_NOFAIL,
  GFP_NOWAIT | __GFP_NOFAIL, or a NOFAIL allocation inside a scope that
  clears direct reclaim (PF_MEMALLOC_NORECLAIM on 6.10 and 6.11).

Why it matters
  __GFP_NOFAIL promises the caller never sees NULL, which the page
  allocator can keep only by reclaiming and retrying. Without direct
  reclaim it cannot: the slow path warns and returns NULL (6.1 and 6.12
  alike) to a caller written not to check. This is the analysis' reason
  why a scope that clears direct reclaim cannot be offered: it would
  break every NOFAIL allocation below it.

How to fix
  Allocate with a sleeping mask outside the atomic section, or drop
  __GFP_NOFAIL and handle the failure.
";

const UNPAIRED_SCOPE_DOC: &str = "\
unpaired-scope (warning, or note)

What it finds
  A memalloc_noio_save(), memalloc_nofs_save(), memalloc_noreclaim_save(),
  memalloc_pin_save() or memalloc_flags_save() (or `current->flags |=
  PF_MEMALLOC_*`) that some path leaves without its restore. A warning when
  a return path really leaves the scope open; a note when the saved state
  leaves the function (stored in a structure, returned) and the matching
  restore is found in another function, which the note names.

Why it matters
  A scope that is never restored keeps the task's allocations restricted
  (NOFS, NOIO) or unrestricted (PF_MEMALLOC, which dips into the
  reserves) long after the region that needed it, and restores taken in
  the wrong order corrupt an outer scope's state.

How to fix
  Restore on every path, the error paths included (a `goto out` that
  restores), in the reverse order of the saves. A note needs no fix when
  the pairing it describes is intended.
";

const REDUNDANT_DOC: &str = "\
redundant-gfp-nofs, redundant-gfp-noio (note)

What it finds
  An explicit GFP_NOFS or GFP_NOIO (or __GFP_FS/__GFP_IO cleared by hand)
  inside a memalloc_nofs_save()/memalloc_noio_save() scope that already
  clears the bit on every path to it: in the same function, or at every
  call of the function (the chain shows one).
  The scope may be opened by a helper for its caller: a jbd2 handle
  (jbd2_journal_start() to jbd2_journal_stop()), an XFS transaction
  (xfs_trans_alloc() to its commit or cancel), an OCFS2 transaction, or a
  header's static inline that saves into its argument and returns with the
  scope open (cifs_server_lock(), fsnotify_group_lock()). The side of an
  `if (IS_ERR(handle))` or `if (error)` where the opener failed is outside
  the scope. ext4's handles are not counted: on a file system without a
  journal they open no scope.

Why it matters
  The scope API is the kernel's direction (Documentation/core-api/
  gfp_mask-from-fs-io.rst): the scope marks the region that must not
  recurse into the filesystem or the block layer, once, and the
  allocations inside it use GFP_KERNEL. An explicit flag inside a scope is
  noise that hides where the real constraint starts.

How to fix
  Use GFP_KERNEL at the allocation; the scope keeps it safe.
";

const CONVERSION_DOC: &str = "\
nofs-conversion-candidate, noio-conversion-candidate (note, with --rules +conversion)

What it finds
  Explicit GFP_NOFS or GFP_NOIO allocations made outside any scope,
  grouped by the function that makes them: each group is a place where a
  memalloc_nofs_save()/memalloc_noio_save() scope around the region that
  must not recurse could replace the explicit flags, for these
  allocations and everything the region calls.

Why it matters
  An explicit NOFS flag protects one allocation; a helper called in the
  region still allocates with GFP_KERNEL and may recurse into the
  filesystem. A scope covers the whole region.

How to fix
  Find the lock or state that makes recursion unsafe, open the scope
  where it is taken and restore it where it is released, then turn the
  explicit flags inside into GFP_KERNEL (redundant-gfp-* then checks).
";

const PROPOSAL_DOC: &str = "\
scope-breaks (error), scope-changes (note): with --around F --propose SCOPE

What they find
  Every allocation reachable from F, with its mask before and after the
  proposed scope (set FLAG, clear FLAG, or noio, nofs, noreclaim, pin).
  scope-breaks: the policy table says the change breaks that allocation
  (clearing __GFP_DIRECT_RECLAIM breaks a nested __GFP_NOFAIL; setting
  __GFP_NOFAIL breaks a nested GFP_ATOMIC or GFP_NOWAIT; setting __GFP_IO
  or __GFP_FS breaks a nested NOIO or NOFS site). scope-changes: the mask
  changes without breaking it.

Why it matters
  This is the question of the scoped-GFP analysis asked of real code:
  before adding a scope around F, see what it would do to every allocation
  below F, through whole call chains. The verdicts are the ones `gfp
  scopes` prints and `gfp verify` re-derives.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_explained_under_its_own_name() {
        for (id, _, _) in ALL {
            let text = explain(id).unwrap_or_else(|| panic!("{id} has no explanation"));
            assert!(text.contains(id), "{id}'s explanation does not name it");
        }
        assert!(explain("no-such-rule").is_none());
    }

    #[test]
    fn the_defaults_the_text_names_are_the_scanners() {
        let doc = explain(SLEEP_IN_ATOMIC).expect("documented");
        let trust = format!("--trust-callers ({})", crate::DEFAULT_TRUST_CALLERS);
        let chain = format!("--max-chain ({})", crate::DEFAULT_MAX_CHAIN);
        assert!(doc.contains(&trust), "{doc}");
        assert!(doc.contains(&chain), "{doc}");
    }
}
