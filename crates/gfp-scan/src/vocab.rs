//! The kernel's vocabulary as the scanner reads it: which calls allocate
//! (and where their mask is), which open and close atomic sections and
//! allocation scopes, and which register a function to run in atomic context.
//!
//! The allocators are data (`data/allocators.txt`, extendable with
//! `--allocators FILE`); the rest is the kernel's fixed API.

use std::collections::HashMap;

/// Where an allocator takes its gfp mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GfpArg {
    /// The argument at this 0-based position.
    At(usize),
    /// The last argument.
    Last,
}

impl GfpArg {
    /// The argument's index in a call with `argc` arguments.
    pub fn index(self, argc: usize) -> Option<usize> {
        match self {
            GfpArg::At(i) if i < argc => Some(i),
            GfpArg::Last if argc > 0 => Some(argc - 1),
            _ => None,
        }
    }
}

/// One allocator of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocator {
    /// Where the mask is.
    pub gfp: GfpArg,
    /// The call drops its xarray's `xa_lock` to allocate when the mask may
    /// sleep (`__xa_store()` and the other `__xa_*` calls).
    pub drops_xa_lock: bool,
}

/// A line of an allocator table that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{origin}:{line}: {what}")]
pub struct AllocatorTableError {
    /// The file, or `built-in`.
    pub origin: String,
    /// The 1-based line.
    pub line: usize,
    /// What is wrong with it.
    pub what: String,
}

/// The allocator table: name to gfp position.
#[derive(Clone, Debug, Default)]
pub struct Allocators {
    map: HashMap<String, Allocator>,
}

/// The built-in table's text.
pub const BUILTIN_ALLOCATORS: &str = include_str!("../data/allocators.txt");

impl Allocators {
    /// The built-in table.
    pub fn builtin() -> Allocators {
        let mut a = Allocators::default();
        a.extend_from_text("built-in", BUILTIN_ALLOCATORS)
            .expect("the built-in allocator table parses");
        a
    }

    /// Adds (or replaces) the entries of a table in the documented format.
    pub fn extend_from_text(
        &mut self,
        origin: &str,
        text: &str,
    ) -> Result<(), AllocatorTableError> {
        for (i, raw) in text.lines().enumerate() {
            let err = |what: String| AllocatorTableError {
                origin: origin.to_string(),
                line: i + 1,
                what,
            };
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let name = words.next().unwrap_or_default();
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                || name.as_bytes()[0].is_ascii_digit()
            {
                return Err(err(format!("`{name}` is not a C function name")));
            }
            let Some(pos) = words.next() else {
                return Err(err(format!(
                    "`{name}` needs the position of its gfp argument (1-based, or `last`)"
                )));
            };
            let gfp = if pos == "last" {
                GfpArg::Last
            } else {
                match pos.parse::<usize>() {
                    Ok(n) if (1..=32).contains(&n) => GfpArg::At(n - 1),
                    _ => {
                        return Err(err(format!(
                            "`{pos}` is not a gfp argument position: give 1 to 32, or `last`"
                        )))
                    }
                }
            };
            let mut drops_xa_lock = false;
            for attr in words {
                match attr {
                    "drops-xa-lock" => drops_xa_lock = true,
                    other => {
                        return Err(err(format!(
                            "unknown attribute `{other}` (known: drops-xa-lock)"
                        )))
                    }
                }
            }
            self.map
                .insert(name.to_string(), Allocator { gfp, drops_xa_lock });
        }
        Ok(())
    }

    /// The allocator called `name`, looking through the `_noprof` suffix.
    pub fn get(&self, name: &str) -> Option<&Allocator> {
        self.map
            .get(name)
            .or_else(|| self.map.get(name.strip_suffix("_noprof")?))
    }

    /// How many allocators the table holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The kinds of atomic section, by what ends them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockClass {
    /// A spinlock (`spin_lock*`, `raw_spin_lock*`, `task_lock`, `bit_spin_lock`).
    Spin,
    /// An xarray's lock (`xa_lock*`): a spinlock that `__xa_*` calls drop to
    /// allocate.
    Xa,
    /// A reader-writer spinlock held for reading.
    Read,
    /// A reader-writer spinlock held for writing (also seqlock writers).
    Write,
    /// Interrupts disabled.
    Irq,
    /// Bottom halves disabled.
    Bh,
    /// Preemption disabled (also `get_cpu()`, `local_lock`).
    Preempt,
    /// An RCU read-side critical section.
    Rcu,
}

impl LockClass {
    /// A word for messages.
    pub fn describe(self) -> &'static str {
        match self {
            LockClass::Spin => "spinlock",
            LockClass::Xa => "xa_lock",
            LockClass::Read => "read lock",
            LockClass::Write => "write lock",
            LockClass::Irq => "interrupts disabled",
            LockClass::Bh => "bottom halves disabled",
            LockClass::Preempt => "preemption disabled",
            LockClass::Rcu => "RCU read-side section",
        }
    }
}

/// What a call does to atomic sections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockOp {
    /// Opens a section; the lock is the first argument (if `keyed`).
    Acquire(LockClass),
    /// Closes a section.
    Release(LockClass),
    /// Opens a section only when it returns true (`spin_trylock`).
    TryAcquire(LockClass),
}

/// The atomic-section effect of calling `name`, if any.
pub fn lock_op(name: &str) -> Option<LockOp> {
    use LockClass::*;
    use LockOp::*;
    Some(match name {
        "spin_lock"
        | "spin_lock_nested"
        | "spin_lock_irq"
        | "spin_lock_irqsave"
        | "spin_lock_irqsave_nested"
        | "spin_lock_bh"
        | "spin_lock_nest_lock"
        | "raw_spin_lock"
        | "raw_spin_lock_nested"
        | "raw_spin_lock_irq"
        | "raw_spin_lock_irqsave"
        | "raw_spin_lock_irqsave_nested"
        | "raw_spin_lock_bh"
        | "_raw_spin_lock"
        | "task_lock"
        | "bit_spin_lock"
        | "hlist_bl_lock"
        | "lock_sock_fast"
        | "raw_spin_rq_lock"
        | "double_raw_lock"
        | "arch_spin_lock"
        | "pte_offset_map_lock"
        | "pmd_lock"
        | "pud_lock"
        | "huge_pte_lock"
        // The networking core's wrappers around a device's TX queue locks
        // and its address list lock.
        | "netif_tx_lock"
        | "netif_tx_lock_bh"
        | "__netif_tx_lock"
        | "__netif_tx_lock_bh"
        | "netif_addr_lock"
        | "netif_addr_lock_bh" => Acquire(Spin),
        "spin_unlock"
        | "spin_unlock_irq"
        | "spin_unlock_irqrestore"
        | "spin_unlock_bh"
        | "raw_spin_unlock"
        | "raw_spin_unlock_irq"
        | "raw_spin_unlock_irqrestore"
        | "raw_spin_unlock_bh"
        | "_raw_spin_unlock"
        | "task_unlock"
        | "bit_spin_unlock"
        | "__bit_spin_unlock"
        | "hlist_bl_unlock"
        | "unlock_sock_fast"
        | "raw_spin_rq_unlock"
        | "arch_spin_unlock"
        | "pte_unmap_unlock"
        | "netif_tx_unlock"
        | "netif_tx_unlock_bh"
        | "__netif_tx_unlock"
        | "__netif_tx_unlock_bh"
        | "netif_addr_unlock"
        | "netif_addr_unlock_bh"
        | "unlock_task_sighand" => Release(Spin),
        "spin_trylock"
        | "spin_trylock_irq"
        | "spin_trylock_irqsave"
        | "spin_trylock_bh"
        | "raw_spin_trylock"
        | "raw_spin_trylock_irqsave"
        | "bit_spin_trylock"
        // Takes the task's siglock (interrupts off) unless the task has
        // already released its signal handlers; true when it did lock.
        | "lock_task_sighand" => TryAcquire(Spin),
        "xa_lock" | "xa_lock_irq" | "xa_lock_irqsave" | "xa_lock_bh" | "xas_lock"
        | "xas_lock_irq" | "xas_lock_irqsave" | "xas_lock_bh" | "xa_lock_nested" => Acquire(Xa),
        "xa_unlock"
        | "xa_unlock_irq"
        | "xa_unlock_irqrestore"
        | "xa_unlock_bh"
        | "xas_unlock"
        | "xas_unlock_irq"
        | "xas_unlock_irqrestore"
        | "xas_unlock_bh" => Release(Xa),
        "read_lock"
        | "read_lock_irq"
        | "read_lock_irqsave"
        | "read_lock_bh"
        | "read_seqlock_excl"
        | "read_seqlock_excl_irqsave"
        | "read_seqlock_excl_bh" => Acquire(Read),
        "read_unlock"
        | "read_unlock_irq"
        | "read_unlock_irqrestore"
        | "read_unlock_bh"
        | "read_sequnlock_excl"
        | "read_sequnlock_excl_irqrestore"
        | "read_sequnlock_excl_bh" => Release(Read),
        "read_trylock" => TryAcquire(Read),
        "write_lock"
        | "write_lock_irq"
        | "write_lock_irqsave"
        | "write_lock_bh"
        | "write_seqlock"
        | "write_seqlock_irq"
        | "write_seqlock_irqsave"
        | "write_seqlock_bh" => Acquire(Write),
        "write_unlock"
        | "write_unlock_irq"
        | "write_unlock_irqrestore"
        | "write_unlock_bh"
        | "write_sequnlock"
        | "write_sequnlock_irq"
        | "write_sequnlock_irqrestore"
        | "write_sequnlock_bh" => Release(Write),
        "write_trylock" => TryAcquire(Write),
        "local_irq_disable" | "local_irq_save" | "raw_local_irq_disable" | "raw_local_irq_save" => {
            Acquire(Irq)
        }
        "local_irq_enable"
        | "local_irq_restore"
        | "raw_local_irq_enable"
        | "raw_local_irq_restore" => Release(Irq),
        "local_bh_disable" => Acquire(Bh),
        "local_bh_enable" | "_local_bh_enable" => Release(Bh),
        "preempt_disable"
        | "preempt_disable_notrace"
        | "get_cpu"
        | "get_cpu_ptr"
        | "get_cpu_var"
        | "get_cpu_light"
        | "local_lock"
        | "local_lock_irq"
        | "local_lock_irqsave"
        // Disables preemption and page faults (a !PREEMPT_RT build).
        | "kmap_atomic" => Acquire(Preempt),
        "preempt_enable"
        | "preempt_enable_no_resched"
        | "preempt_enable_notrace"
        | "put_cpu"
        | "put_cpu_ptr"
        | "put_cpu_var"
        | "local_unlock"
        | "local_unlock_irq"
        | "local_unlock_irqrestore"
        | "kunmap_atomic" => Release(Preempt),
        "rcu_read_lock" | "rcu_read_lock_bh" | "rcu_read_lock_sched" => Acquire(Rcu),
        "rcu_read_unlock" | "rcu_read_unlock_bh" | "rcu_read_unlock_sched" => Release(Rcu),
        _ => return None,
    })
}

/// The functions that free memory, which the kernel documents as callable
/// in any context, interrupts included (`kfree()`, `__free_pages()`,
/// `folio_put()`, `kfree_skb()`, `mempool_free()`, ...). A sleep the
/// scanner finds below one is on a path the contract rules out, so it is
/// not followed through them: the debug_pagealloc unmapping splits no
/// large page (that mode maps the kernel with small pages), and a huge
/// folio freed in atomic context restores its vmemmap from a work item.
pub fn never_sleeps(name: &str) -> bool {
    matches!(
        name,
        "__free_pages"
            | "free_pages"
            | "__free_pages_ok"
            | "free_unref_page"
            | "free_unref_folios"
            | "free_pages_prepare"
            | "free_pages_exact"
            | "page_frag_free"
            | "put_page"
            | "folio_put"
            | "__folio_put"
            | "folios_put"
            | "folios_put_refs"
            | "release_pages"
            | "free_huge_folio"
            | "kfree"
            | "kfree_sensitive"
            | "kmem_cache_free"
            | "kmem_cache_free_bulk"
            | "mempool_free"
            | "kfree_skb"
            | "kfree_skb_reason"
            | "consume_skb"
            | "__kfree_skb"
            | "dev_kfree_skb_any"
            | "dev_kfree_skb_irq"
            | "skb_free_frag"
    )
}

/// Lock-taking calls that return NULL, without the lock, when there is
/// nothing to lock (`pte_offset_map_lock()` when the page table went away).
///
/// `kmap_atomic()` never returns NULL, so a pointer it set is NULL only
/// where it was not called: `if (p) kunmap_atomic(p);` after a loop that
/// maps page after page leaves nothing mapped on either side.
pub fn null_when_unlocked(name: &str) -> bool {
    matches!(name, "pte_offset_map_lock" | "kmap_atomic")
}

/// Which argument names the lock, for the calls that do not take it first:
/// `pte_offset_map_lock(mm, pmd, addr, &ptl)` and `pte_unmap_unlock(pte,
/// ptl)`; `None` for those that return it (`ptl = pmd_lock(mm, pmd)`).
pub fn lock_arg_index(name: &str) -> Option<Option<usize>> {
    match name {
        "pte_offset_map_lock" => Some(Some(3)),
        "pte_unmap_unlock" => Some(Some(1)),
        "pmd_lock" | "pud_lock" | "huge_pte_lock" => Some(None),
        _ => None,
    }
}

/// Whether the lock op's section is told apart by its first argument (a lock
/// object), rather than being one per CPU.
pub fn keyed(class: LockClass) -> bool {
    matches!(
        class,
        LockClass::Spin | LockClass::Xa | LockClass::Read | LockClass::Write
    )
}

/// The class of a `guard(NAME)` / `scoped_guard(NAME, ...)` lock type, if it
/// is an atomic one.
pub fn guard_class(name: &str) -> Option<LockClass> {
    use LockClass::*;
    Some(match name {
        "spinlock"
        | "spinlock_irq"
        | "spinlock_irqsave"
        | "spinlock_bh"
        | "raw_spinlock"
        | "raw_spinlock_irq"
        | "raw_spinlock_irqsave"
        | "raw_spinlock_bh"
        | "raw_spinlock_nested"
        | "spinlock_nested"
        | "task_lock"
        | "spinlock_try"
        | "spinlock_irq_try"
        | "spinlock_irqsave_try"
        | "raw_spinlock_try" => Spin,
        "read_lock" | "read_lock_irq" | "read_lock_irqsave" | "read_lock_bh" => Read,
        "write_lock" | "write_lock_irq" | "write_lock_irqsave" | "write_lock_bh" => Write,
        "irq" | "irqsave" => Irq,
        "preempt" | "preempt_notrace" | "local_lock" | "local_lock_irq" | "local_lock_irqsave" => {
            Preempt
        }
        "rcu" => Rcu,
        _ => return None,
    })
}

/// What a call does to allocation scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeOp {
    /// Opens a scope raising these task flags; returns the saved state.
    Save(&'static [&'static str]),
    /// Opens a scope raising the `PF_*` flags named in argument 1.
    SaveFlags,
    /// Closes the scope saved in argument 1.
    Restore,
    /// `current_restore_flags(old, PF_...)`: closes the scope of the named flags.
    RestoreFlags,
    /// A macro that runs argument 2 inside a scope raising the flags of
    /// argument 1 (bcachefs's `memalloc_flags_do()`).
    Do,
}

/// The scope effect of calling `name`, if any.
pub fn scope_op(name: &str) -> Option<ScopeOp> {
    Some(match name {
        "memalloc_noio_save" => ScopeOp::Save(&["PF_MEMALLOC_NOIO"]),
        "memalloc_nofs_save" => ScopeOp::Save(&["PF_MEMALLOC_NOFS"]),
        "memalloc_noreclaim_save" => ScopeOp::Save(&["PF_MEMALLOC"]),
        "memalloc_pin_save" => ScopeOp::Save(&["PF_MEMALLOC_PIN"]),
        "memalloc_nocma_save" => ScopeOp::Save(&["PF_MEMALLOC_NOCMA"]),
        "memalloc_flags_save" => ScopeOp::SaveFlags,
        "memalloc_noio_restore"
        | "memalloc_nofs_restore"
        | "memalloc_noreclaim_restore"
        | "memalloc_pin_restore"
        | "memalloc_nocma_restore"
        | "memalloc_flags_restore" => ScopeOp::Restore,
        "current_restore_flags" => ScopeOp::RestoreFlags,
        "memalloc_flags_do" => ScopeOp::Do,
        _ => return None,
    })
}

/// How a registration call makes one of its arguments an atomic entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The 0-based argument that names the function.
    pub arg: usize,
    /// What kind of atomic context the function runs in.
    pub kind: &'static str,
    /// The argument is a `struct notifier_block` (`&foo_nb`), whose
    /// `notifier_call` is the function.
    pub via_block: bool,
}

/// What a CPU hotplug callback of the STARTING section runs as: "invoked on
/// the hotplugged CPU from the low level hotplug startup/teardown code with
/// interrupts disabled" (<linux/cpuhotplug.h>).
pub const CPUHP_STARTING: &str = "CPU hotplug STARTING callback (interrupts disabled)";

/// The arguments of a call to `name` that are CPU hotplug callbacks run
/// with interrupts disabled, given the state it registers (`state`, its
/// first argument as written): the startup and teardown of
/// `cpuhp_setup_state*()` for a `CPUHP_AP_..._STARTING` or `_DYING` state.
pub fn cpuhp_atomic_callbacks(name: &str, state: &str) -> &'static [usize] {
    let starting = state.starts_with("CPUHP_AP_")
        && (state.ends_with("_STARTING") || state.ends_with("_DYING"));
    if name.starts_with("cpuhp_setup_state") && starting {
        &[2, 3]
    } else {
        &[]
    }
}

/// The kind of every callback of an atomic notifier chain.
pub const ATOMIC_NOTIFIER: &str = "atomic notifier callback (RCU read side)";

/// The atomic entry point a call to `name` registers, if any.
pub fn registration(name: &str) -> Option<Registration> {
    // The chains the kernel declares with ATOMIC_NOTIFIER_HEAD: their
    // callbacks run under rcu_read_lock() (the die chain from the trap
    // handlers themselves).
    let chain = match name {
        "atomic_notifier_chain_register" | "atomic_notifier_chain_register_unique_prio" => Some(1),
        "register_die_notifier"
        | "register_inet6addr_notifier"
        | "register_netevent_notifier"
        | "register_switchdev_notifier"
        | "register_keyboard_notifier"
        | "register_vt_notifier"
        | "register_dcbevent_notifier"
        | "register_restart_handler" => Some(0),
        _ => None,
    };
    if let Some(arg) = chain {
        return Some(Registration {
            arg,
            kind: ATOMIC_NOTIFIER,
            via_block: true,
        });
    }
    let (arg, kind) = match name {
        "request_irq"
        | "request_threaded_irq"
        | "request_any_context_irq"
        | "request_percpu_irq"
        | "request_nmi"
        | "request_percpu_nmi" => (1, "hard IRQ handler"),
        "devm_request_irq" | "devm_request_threaded_irq" | "devm_request_any_context_irq" => {
            (2, "hard IRQ handler")
        }
        "timer_setup" | "timer_setup_on_stack" | "setup_timer" => (1, "timer callback"),
        "DEFINE_TIMER" => (1, "timer callback"),
        "hrtimer_setup" | "hrtimer_init_on_stack_setup" => (1, "hrtimer callback"),
        "tasklet_init" | "tasklet_setup" => (1, "tasklet"),
        "DECLARE_TASKLET" | "DECLARE_TASKLET_OLD" | "DECLARE_TASKLET_DISABLED" => (1, "tasklet"),
        "call_rcu" | "call_rcu_hurry" => (1, "RCU callback"),
        // Hard IRQ context (or, for the lazy and non-hard kinds on PREEMPT_RT
        // only, a kthread with preemption disabled).
        "init_irq_work" | "DEFINE_IRQ_WORK" => (1, "irq_work callback"),
        "IRQ_WORK_INIT" | "IRQ_WORK_INIT_HARD" | "IRQ_WORK_INIT_LAZY" => (0, "irq_work callback"),
        // Cross-CPU calls run the function from the IPI handler, and on the
        // calling CPU with interrupts disabled.
        "smp_call_function" | "on_each_cpu" => (0, "cross-CPU function call"),
        "smp_call_function_single"
        | "smp_call_function_many"
        | "smp_call_function_any"
        | "on_each_cpu_mask"
        | "on_each_cpu_cond"
        | "INIT_CSD" => (1, "cross-CPU function call"),
        "CSD_INIT" => (0, "cross-CPU function call"),
        // NAPI polls run in softirq context (threaded NAPI with bottom
        // halves disabled).
        "netif_napi_add"
        | "netif_napi_add_weight"
        | "netif_napi_add_tx"
        | "netif_napi_add_tx_weight"
        | "netif_napi_add_config" => (2, "NAPI poll"),
        // Every CPU runs the function with interrupts disabled.
        "stop_machine" | "stop_machine_cpuslocked" | "stop_core_cpuslocked" => {
            (0, "stop_machine callback")
        }
        // A URB's completion handler runs in interrupt context, or in a
        // bottom half for host controllers that complete from a tasklet.
        "usb_fill_bulk_urb" | "usb_fill_int_urb" => (5, "URB completion handler"),
        "usb_fill_control_urb" => (6, "URB completion handler"),
        // A wait queue entry's function runs under the queue's spinlock.
        "init_waitqueue_func_entry" | "DEFINE_WAIT_FUNC" => (1, "wait queue wake function"),
        "open_softirq" => (1, "softirq handler"),
        // irq_poll runs its poll functions from the IRQ_POLL softirq.
        "irq_poll_init" => (2, "irq_poll handler (softirq)"),
        // An alarm timer's function runs from its hrtimer, in interrupt.
        "alarm_init" => (2, "alarm timer callback"),
        // A fence callback runs with the fence's spinlock held.
        "dma_fence_add_callback" => (2, "dma_fence callback"),
        "register_nmi_handler" => (1, "NMI handler"),
        // The overflow handler runs from the PMU interrupt (an NMI on x86).
        "perf_event_create_kernel_counter" => (3, "perf overflow handler"),
        // Tracepoint probes run with preemption disabled.
        "tracepoint_probe_register" | "tracepoint_probe_register_prio" => (1, "tracepoint probe"),
        _ if name.starts_with("register_trace_") && !name.starts_with("register_trace_event") => {
            (0, "tracepoint probe")
        }
        _ => return None,
    };
    Some(Registration {
        arg,
        kind,
        via_block: false,
    })
}

/// Structure members whose function the kernel calls only in atomic
/// context: (member, what the holder's text must contain (the structure
/// type, or a word of an assignment's target such as `timer` or `urb`), or
/// `None` for a member name no other structure uses, what the context is).
pub const ATOMIC_MEMBERS: &[(&str, Option<&str>, &str)] = &[
    // `t->timer.function = fn` after `hrtimer_init()` (6.12 has no
    // `hrtimer_setup()`), and a URB's handler set by hand.
    ("function", Some("timer"), "hrtimer callback"),
    ("complete", Some("urb"), "URB completion handler"),
    // `dev_hard_start_xmit()` runs under `rcu_read_lock_bh()` and the TX
    // queue lock.
    (
        "ndo_start_xmit",
        None,
        "ndo_start_xmit (bottom halves disabled)",
    ),
    // `__dev_set_rx_mode()` runs under `netif_addr_lock_bh()`.
    (
        "ndo_set_rx_mode",
        None,
        "ndo_set_rx_mode (address list lock held)",
    ),
    // `dev_get_stats()` is called under `rcu_read_lock()` (`/proc/net/dev`,
    // bonding's and the bridge's statistics): the documented context of
    // both is atomic.
    (
        "ndo_get_stats64",
        None,
        "ndo_get_stats64 (may run under RCU)",
    ),
    ("ndo_get_stats", None, "ndo_get_stats (may run under RCU)"),
    // The TX watchdog timer calls it with the TX queues locked.
    ("ndo_tx_timeout", None, "ndo_tx_timeout (watchdog timer)"),
    // netpoll polls the device with interrupts disabled.
    (
        "ndo_poll_controller",
        None,
        "ndo_poll_controller (interrupts disabled)",
    ),
    // The interrupt core calls an irq_chip's callbacks with the descriptor's
    // raw spinlock held and interrupts disabled (a chip on a slow bus defers
    // its bus writes to `irq_bus_sync_unlock`).
    ("irq_mask", Some("irq_chip"), IRQ_CHIP),
    ("irq_unmask", Some("irq_chip"), IRQ_CHIP),
    ("irq_mask_ack", Some("irq_chip"), IRQ_CHIP),
    ("irq_ack", Some("irq_chip"), IRQ_CHIP),
    ("irq_eoi", Some("irq_chip"), IRQ_CHIP),
    ("irq_enable", Some("irq_chip"), IRQ_CHIP),
    ("irq_disable", Some("irq_chip"), IRQ_CHIP),
    ("irq_set_type", Some("irq_chip"), IRQ_CHIP),
    ("irq_set_affinity", Some("irq_chip"), IRQ_CHIP),
    ("irq_set_wake", Some("irq_chip"), IRQ_CHIP),
    // A kprobe's handlers run from the breakpoint trap, preemption off; a
    // kretprobe's from the probe and the return trampoline.
    ("pre_handler", None, "kprobe handler"),
    ("post_handler", None, "kprobe handler"),
    ("handler", Some("kretprobe"), "kretprobe handler"),
    ("entry_handler", Some("kretprobe"), "kretprobe handler"),
    // serial_core calls these with the port's spinlock held.
    ("start_tx", Some("uart_ops"), UART),
    ("stop_tx", Some("uart_ops"), UART),
    ("stop_rx", Some("uart_ops"), UART),
    ("set_mctrl", Some("uart_ops"), UART),
    ("get_mctrl", Some("uart_ops"), UART),
    ("enable_ms", Some("uart_ops"), UART),
    ("start_rx", Some("uart_ops"), UART),
    ("flush_buffer", Some("uart_ops"), UART),
    // KGDB polls the console UART with every other CPU stopped and
    // interrupts disabled (<linux/serial_core.h>: "must not sleep").
    (
        "poll_put_char",
        Some("uart_ops"),
        "uart_ops poll callback (KGDB, interrupts disabled)",
    ),
    (
        "poll_get_char",
        Some("uart_ops"),
        "uart_ops poll callback (KGDB, interrupts disabled)",
    ),
    // A legacy console's write runs from printk with interrupts disabled.
    (
        "write",
        Some("struct console "),
        "console write (interrupts disabled)",
    ),
    // The clock framework enables and disables under its enable spinlock.
    (
        "enable",
        Some("clk_ops"),
        "clk_ops callback (enable lock held)",
    ),
    (
        "disable",
        Some("clk_ops"),
        "clk_ops callback (enable lock held)",
    ),
    // A fence's signalling is enabled with its spinlock held.
    (
        "enable_signaling",
        Some("dma_fence_ops"),
        "dma_fence_ops callback (fence lock held)",
    ),
    // The network stack's receive path and netfilter run in softirq
    // context; a qdisc's queue operations run under its root lock.
    ("hook", Some("nf_hook_ops"), "netfilter hook (softirq)"),
    ("func", Some("packet_type"), "packet_type handler (softirq)"),
    (
        "handler",
        Some("net_protocol"),
        "protocol handler (softirq)",
    ),
    (
        "err_handler",
        Some("net_protocol"),
        "protocol handler (softirq)",
    ),
    (
        "handler",
        Some("inet6_protocol"),
        "protocol handler (softirq)",
    ),
    (
        "err_handler",
        Some("inet6_protocol"),
        "protocol handler (softirq)",
    ),
    (
        "enqueue",
        Some("Qdisc_ops"),
        "Qdisc_ops callback (qdisc lock held)",
    ),
    (
        "dequeue",
        Some("Qdisc_ops"),
        "Qdisc_ops callback (qdisc lock held)",
    ),
    (
        "peek",
        Some("Qdisc_ops"),
        "Qdisc_ops callback (qdisc lock held)",
    ),
    // blk-mq completes requests from the interrupt or its softirq.
    (
        "complete",
        Some("blk_mq_ops"),
        "blk-mq completion (softirq)",
    ),
    // A bio may be ended from the driver's interrupt handler.
    (
        "bi_end_io",
        None,
        "bio completion (may run in interrupt context)",
    ),
    // ftrace calls its callbacks from traced functions with preemption off.
    ("func", Some("ftrace_ops"), "ftrace callback"),
    // The gadget core calls these from the controller's interrupt (its
    // lock held): "Called in_interrupt; this may not sleep"
    // (<linux/usb/gadget.h>). A function's `set_alt` runs from the
    // composite driver's `setup`, under the device's spinlock.
    (
        "setup",
        Some("usb_gadget_driver"),
        "usb_gadget_driver callback (in interrupt)",
    ),
    (
        "disconnect",
        Some("usb_gadget_driver"),
        "usb_gadget_driver callback (in interrupt)",
    ),
    (
        "suspend",
        Some("usb_gadget_driver"),
        "usb_gadget_driver callback (in interrupt)",
    ),
    (
        "resume",
        Some("usb_gadget_driver"),
        "usb_gadget_driver callback (in interrupt)",
    ),
    (
        "reset",
        Some("usb_gadget_driver"),
        "usb_gadget_driver callback (in interrupt)",
    ),
    (
        "set_alt",
        None,
        "usb_function set_alt (gadget setup, in interrupt)",
    ),
    // A socket's callbacks run from the protocol's receive path in softirq
    // context (TCP, UDP), under the socket's spinlock or `sk_callback_lock`.
    (
        "sk_data_ready",
        None,
        "socket callback (may run in softirq)",
    ),
    (
        "sk_state_change",
        None,
        "socket callback (may run in softirq)",
    ),
    (
        "sk_write_space",
        None,
        "socket callback (may run in softirq)",
    ),
    (
        "sk_error_report",
        None,
        "socket callback (may run in softirq)",
    ),
    // The input core calls a handler's event methods "with interrupts
    // disabled and dev->event_lock spinlock held" (<linux/input.h>).
    (
        "event",
        Some("input_handler"),
        "input_handler callback (event lock held, interrupts disabled)",
    ),
    (
        "events",
        Some("input_handler"),
        "input_handler callback (event lock held, interrupts disabled)",
    ),
    (
        "filter",
        Some("input_handler"),
        "input_handler callback (event lock held, interrupts disabled)",
    ),
    // "Must not sleep. Use brightness_set_blocking for drivers that can
    // sleep" (<linux/leds.h>): LED triggers call it from timers.
    (
        "brightness_set",
        None,
        "led brightness_set (must not sleep: triggers call it from timers)",
    ),
    // hid_input_report() runs a HID driver's report hooks; USB HID calls it
    // from its URB completion, in interrupt context.
    (
        "raw_event",
        Some("hid_driver"),
        "hid_driver report hook (may run in interrupt context)",
    ),
    (
        "event",
        Some("hid_driver"),
        "hid_driver report hook (may run in interrupt context)",
    ),
    // A mailbox controller's send_data runs "in atomic context" (with the
    // channel's spinlock held) <linux/mailbox_controller.h>.
    (
        "send_data",
        Some("mbox_chan_ops"),
        "mbox_chan_ops send_data (channel lock held)",
    ),
    // io-pgtable's TLB maintenance callbacks "can all be called in atomic
    // context and must therefore not block" <linux/io-pgtable.h>.
    (
        "tlb_flush_all",
        Some("iommu_flush_ops"),
        "iommu_flush_ops callback (may run in atomic context)",
    ),
    (
        "tlb_flush_walk",
        Some("iommu_flush_ops"),
        "iommu_flush_ops callback (may run in atomic context)",
    ),
    (
        "tlb_add_page",
        Some("iommu_flush_ops"),
        "iommu_flush_ops callback (may run in atomic context)",
    ),
    // A FireWire address handler "is called in RCU read-side context,
    // therefore must not sleep" <linux/firewire.h>.
    (
        "address_callback",
        None,
        "FireWire address handler (RCU read side)",
    ),
    // An input device's event method (LEDs, sound) "is protected by
    // @event_lock and must not sleep" (<linux/input.h>).
    (
        "event",
        Some("input"),
        "input_dev event (event lock held, interrupts disabled)",
    ),
    // "if brightness_set_blocking is not set this function must not
    // sleep!" (<linux/leds.h>): see [`MAY_SLEEP_OPT_OUTS`].
    (
        "blink_set",
        None,
        "led blink_set (must not sleep without brightness_set_blocking)",
    ),
    // syscore_suspend()/syscore_resume() run the operations on one CPU with
    // interrupts disabled (drivers/base/syscore.c warns otherwise).
    (
        "suspend",
        Some("syscore_ops"),
        "syscore_ops callback (interrupts disabled)",
    ),
    (
        "resume",
        Some("syscore_ops"),
        "syscore_ops callback (interrupts disabled)",
    ),
    // blk-mq dispatches under `rcu_read_lock()` unless the tag set is
    // BLK_MQ_F_BLOCKING, which the SCSI midlayer sets only for a host
    // template with `queuecommand_may_block` (see [`MAY_SLEEP_OPT_OUTS`]).
    (
        "queuecommand",
        Some("scsi_host_template"),
        "SCSI queuecommand (blk-mq dispatch under RCU)",
    ),
    // Any other blk-mq driver's queue_rq, under the same `rcu_read_lock()`
    // of blk-mq's dispatch, unless the tag set is BLK_MQ_F_BLOCKING (see
    // [`FILE_OPT_OUTS`]).
    (
        "queue_rq",
        Some("blk_mq_ops"),
        "blk-mq queue_rq (dispatch under RCU)",
    ),
    // The callbacks <net/mac80211.h> says "must be atomic" (or "must not
    // sleep"): mac80211 calls them from its TX path and its softirq
    // receive and power-save handling.
    ("tx", Some("ieee80211_ops"), MAC80211),
    ("prepare_multicast", Some("ieee80211_ops"), MAC80211),
    ("set_tim", Some("ieee80211_ops"), MAC80211),
    ("update_tkip_key", Some("ieee80211_ops"), MAC80211),
    ("get_key_seq", Some("ieee80211_ops"), MAC80211),
    ("sta_notify", Some("ieee80211_ops"), MAC80211),
    ("sta_rc_update", Some("ieee80211_ops"), MAC80211),
    ("sta_rate_tbl_update", Some("ieee80211_ops"), MAC80211),
    ("event_callback", Some("ieee80211_ops"), MAC80211),
    ("release_buffered_frames", Some("ieee80211_ops"), MAC80211),
    ("allow_buffered_frames", Some("ieee80211_ops"), MAC80211),
    ("ipv6_addr_change", Some("ieee80211_ops"), MAC80211),
];

/// What a mac80211 callback documented as atomic runs as.
const MAC80211: &str = "ieee80211_ops callback (must be atomic)";

/// Members of [`ATOMIC_MEMBERS`] whose atomic context a word anywhere in
/// the registering file may lift: (member, word). A blk-mq driver asks for
/// a sleeping dispatch with BLK_MQ_F_BLOCKING in its tag set, which it
/// fills elsewhere than its `blk_mq_ops` (nvme's transports say it as
/// NVME_F_BLOCKING), so any mention of `_F_BLOCKING` in the file opts out.
pub const FILE_OPT_OUTS: &[(&str, &str)] = &[("queue_rq", "_F_BLOCKING")];

/// Whether the registration written `call` (`.queue_rq =`, `ops->queue_rq
/// =`) is lifted out of its atomic context by a word of the file's `code`
/// ([`FILE_OPT_OUTS`]).
pub fn file_opted_out(call: &str, code: &[u8]) -> bool {
    let member = call
        .trim_end_matches('=')
        .trim_end()
        .rsplit(['.', '>'])
        .next()
        .unwrap_or("");
    FILE_OPT_OUTS
        .iter()
        .any(|&(m, word)| m == member && memchr::memmem::find(code, word.as_bytes()).is_some())
}

/// Members of [`ATOMIC_MEMBERS`] that a structure can declare are called
/// where sleeping is allowed, by the opting-out member set beside them:
/// (member, opting-out member, the value that opts out, `None` for any).
pub const MAY_SLEEP_OPT_OUTS: &[(&str, &str, Option<&str>)] = &[
    ("queuecommand", "queuecommand_may_block", Some("true")),
    // An LED with a blocking brightness setter gets its blink requests
    // from the LED core's work item.
    ("blink_set", "brightness_set_blocking", None),
];

/// Whether the text `init` (the initialiser, or the function that fills
/// the structure) opts member `member` out of its atomic context
/// ([`MAY_SLEEP_OPT_OUTS`]): `.queuecommand_may_block = true` beside
/// `.queuecommand`, `cdev->brightness_set_blocking = f;` beside
/// `cdev->blink_set = g;`.
pub fn opted_out(member: &str, init: &str) -> bool {
    MAY_SLEEP_OPT_OUTS.iter().any(|&(m, opt, value)| {
        m == member
            && init.match_indices(opt).any(|(i, _)| {
                let rest: String = init[i + opt.len()..]
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .take(6)
                    .collect();
                match (rest.strip_prefix('='), value) {
                    (Some(r), _) if r.starts_with('=') => false,
                    (Some(r), Some(v)) => r.starts_with(v) || (v == "true" && r.starts_with('1')),
                    (Some(_), None) => true,
                    (None, _) => false,
                }
            })
    })
}

const IRQ_CHIP: &str = "irq_chip callback (descriptor lock held)";
const UART: &str = "uart_ops callback (port lock held)";

/// The atomic context a function runs in when an initialiser or assignment
/// puts it in structure member `member` ([`ATOMIC_MEMBERS`]). `holder` is
/// what names the structure: the initialised declaration's head
/// (`static struct irq_chip foo_chip`) or the assignment's target
/// (`chip->irq_mask`); a member name other structures share counts only
/// when it names the right one (an `irq_chip` also when the target goes
/// through a `chip`).
pub fn atomic_member(member: &str, holder: &str) -> Option<&'static str> {
    let chip_target = holder.contains("chip.") || holder.contains("chip->");
    ATOMIC_MEMBERS
        .iter()
        .find(|(m, ty, _)| {
            *m == member
                && ty.is_none_or(|ty| holder.contains(ty) || (ty == "irq_chip" && chip_target))
        })
        .map(|&(_, _, kind)| kind)
}

/// For a wait macro that runs a command with its lock released
/// (`wait_event_lock_irq_cmd(wq, condition, lock, cmd)`): the 0-based
/// arguments of the lock and of the command.
pub fn wait_lock_cmd(name: &str) -> Option<(usize, usize)> {
    matches!(
        name,
        "wait_event_lock_irq_cmd" | "wait_event_interruptible_lock_irq_cmd"
    )
    .then_some((2, 3))
}

/// Whether a macro call named `name` followed by a statement is a loop over
/// that statement (`list_for_each_entry(...) { ... }`).
pub fn is_loop_macro(name: &str) -> bool {
    name.contains("for_each") || name.starts_with("xa_for_each") || name.ends_with("_foreach")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_reads_and_looks_through_noprof() {
        let a = Allocators::builtin();
        assert!(a.len() > 150);
        assert_eq!(a.get("kmalloc").unwrap().gfp, GfpArg::At(1));
        assert_eq!(a.get("kmalloc_noprof").unwrap().gfp, GfpArg::At(1));
        assert_eq!(a.get("krealloc").unwrap().gfp.index(3), Some(2));
        assert!(a.get("__xa_store").unwrap().drops_xa_lock);
        assert!(a.get("printk").is_none());
    }

    #[test]
    fn bad_table_lines_name_the_problem() {
        let mut a = Allocators::default();
        let e = a
            .extend_from_text("f.txt", "ok_alloc 2\nbad 0\n")
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("f.txt:2"), "{e}");
        assert!(a.extend_from_text("f", "x-y 1").is_err());
        assert!(a.extend_from_text("f", "lonely").is_err());
        assert!(a.extend_from_text("f", "f 1 sparkly").is_err());
        a.extend_from_text("f", "my_alloc last # comment\n\n")
            .unwrap();
        assert_eq!(a.get("my_alloc").unwrap().gfp, GfpArg::Last);
    }

    #[test]
    fn every_lock_and_registration_name_is_a_needle_of_the_lexical_pass() {
        // A function the lexical pass leaves unparsed must not hold one of
        // these: every name must contain a needle.
        let names = [
            "spin_lock",
            "raw_spin_lock_irqsave",
            "_raw_spin_lock",
            "task_lock",
            "bit_spin_lock",
            "hlist_bl_lock",
            "lock_sock_fast",
            "raw_spin_rq_lock",
            "double_raw_lock",
            "arch_spin_lock",
            "xa_lock_bh",
            "xas_unlock_irq",
            "read_seqlock_excl",
            "write_seqlock",
            "read_trylock",
            "local_irq_save",
            "raw_local_irq_disable",
            "local_bh_disable",
            "_local_bh_enable",
            "preempt_disable",
            "get_cpu_ptr",
            "put_cpu_var",
            "local_lock_irqsave",
            "rcu_read_lock_bh",
            "memalloc_flags_save",
            "current_restore_flags",
            "request_irq",
            "devm_request_threaded_irq",
            "request_percpu_nmi",
            "timer_setup",
            "hrtimer_setup",
            "tasklet_setup",
            "DECLARE_TASKLET",
            "call_rcu_hurry",
            "DEFINE_TIMER",
            "init_irq_work",
            "IRQ_WORK_INIT_HARD",
            "DEFINE_IRQ_WORK",
            "smp_call_function_single",
            "on_each_cpu_mask",
            "INIT_CSD",
            "netif_napi_add_weight",
            "stop_machine_cpuslocked",
            "stop_core_cpuslocked",
        ];
        for n in names {
            assert!(
                lock_op(n).is_some() || scope_op(n).is_some() || registration(n).is_some(),
                "{n} is not in the vocabulary"
            );
            assert!(crate::lexical::matters(n.as_bytes()), "{n} is no needle");
        }
    }

    #[test]
    fn lock_vocabulary() {
        assert_eq!(
            lock_op("spin_lock_irqsave"),
            Some(LockOp::Acquire(LockClass::Spin))
        );
        assert_eq!(
            lock_op("spin_trylock"),
            Some(LockOp::TryAcquire(LockClass::Spin))
        );
        assert_eq!(lock_op("mutex_lock"), None);
        assert_eq!(guard_class("mutex"), None);
        assert_eq!(guard_class("spinlock_irqsave"), Some(LockClass::Spin));
        assert!(is_loop_macro("list_for_each_entry_safe"));
    }
}
