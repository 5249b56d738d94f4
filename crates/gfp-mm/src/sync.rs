//! The few synchronisation primitives the core uses: a spin lock and the
//! atomics, swapped for shuttle's under the `shuttle` feature so that the
//! randomized scheduler sees every shared access.

#[cfg(not(feature = "shuttle"))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8};
#[cfg(feature = "shuttle")]
pub(crate) use shuttle::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8};

pub(crate) use core::sync::atomic::Ordering;

/// The calling thread's words: its CPU number (see `rt`), and its owner
/// token (see [`CpuLock`]) packed with the CPU number, so that the
/// runtime's fast paths find the CPU and the owner test's operand in one
/// load.
#[cfg(feature = "std")]
pub(crate) struct ThreadWords {
    /// `usize::MAX` until the thread is bound or given a CPU.
    pub(crate) cpu: core::cell::Cell<usize>,
    /// [`owner_word`] of the thread's token and of its CPU number
    /// (`u32::MAX`, no CPU, when the number does not fit).
    word: core::cell::Cell<u64>,
}

/// The token of a thread that is not bound: no list's owner (the tokens
/// handed out count up from 1 and stay below it, and an ownerless list
/// holds 0).
pub(crate) const NO_TOKEN: u64 = u32::MAX as u64;

/// The word that records the ownership of CPU `cpu`'s lists by the thread
/// whose token is `token` (below 2^32): the token in the high half, the
/// CPU number in the low one. A lock's owner word equals the owner's own
/// thread word when the owner is bound to that CPU, so that the fast path
/// compares the two without taking them apart.
#[inline(always)]
pub(crate) const fn owner_word(token: u64, cpu: u32) -> u64 {
    token << 32 | cpu as u64
}

#[cfg(feature = "std")]
std::thread_local! {
    /// No destructor, so that reading it needs no registration check.
    pub(crate) static THREAD: ThreadWords = const {
        ThreadWords {
            cpu: core::cell::Cell::new(usize::MAX),
            word: core::cell::Cell::new(owner_word(NO_TOKEN, u32::MAX)),
        }
    };
}

#[cfg(feature = "std")]
impl ThreadWords {
    /// Sets the CPU number; returns the previous one.
    pub(crate) fn set_cpu(&self, cpu: usize) -> usize {
        let cpu32 = u32::try_from(cpu).unwrap_or(u32::MAX);
        self.word.set(owner_word(self.word.get() >> 32, cpu32));
        self.cpu.replace(cpu)
    }

    #[cfg_attr(feature = "shuttle", allow(dead_code))]
    fn set_token(&self, token: u64) {
        debug_assert!(token <= NO_TOKEN);
        self.word.set(owner_word(token, self.word.get() as u32));
    }
}

/// The calling thread's word: [`owner_word`] of its token and its CPU
/// number (`u32::MAX` when it has none, or one past 32 bits). One load
/// gives the CPU (`as u32`) and the operand of [`CpuLock::try_own_as`].
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) fn thread_word() -> u64 {
    THREAD.with(|t| t.word.get())
}

/// The calling thread's owner token ([`NO_TOKEN`] unless it is bound).
#[inline(always)]
pub(crate) fn thread_token() -> u64 {
    #[cfg(feature = "std")]
    {
        thread_word() >> 32
    }
    #[cfg(not(feature = "std"))]
    NO_TOKEN
}

#[cfg(not(feature = "shuttle"))]
mod imp {
    use core::cell::UnsafeCell;
    use core::ops::{Deref, DerefMut};
    use core::sync::atomic::{AtomicBool, Ordering};

    /// A test-and-test-and-set spin lock. With `std` it yields the CPU after
    /// a short spin, so that an oversubscribed machine does not burn the
    /// holder's time slice.
    pub(crate) struct SpinLock<T> {
        locked: AtomicBool,
        value: UnsafeCell<T>,
    }

    // SAFETY: the lock hands out access to `value` to one holder at a time
    // (the `locked` flag is taken with Acquire and released with Release), so
    // sharing the lock between threads only moves `T` between them.
    unsafe impl<T: Send> Sync for SpinLock<T> {}
    // SAFETY: the lock owns its `T`.
    unsafe impl<T: Send> Send for SpinLock<T> {}

    impl<T> SpinLock<T> {
        pub(crate) const fn new(value: T) -> Self {
            SpinLock {
                locked: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        #[inline]
        pub(crate) fn lock(&self) -> Guard<'_, T> {
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                self.lock_contended();
            }
            Guard { lock: self }
        }

        #[cold]
        fn lock_contended(&self) {
            let mut spins = 0u32;
            loop {
                while self.locked.load(Ordering::Relaxed) {
                    spins += 1;
                    relax(spins);
                }
                if self
                    .locked
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return;
                }
            }
        }

        #[allow(dead_code)]
        #[inline]
        pub(crate) fn try_lock(&self) -> Option<Guard<'_, T>> {
            self.locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .ok()
                .map(|_| Guard { lock: self })
        }
    }

    #[inline]
    fn relax(spins: u32) {
        #[cfg(feature = "std")]
        if spins > 64 {
            std::thread::yield_now();
            return;
        }
        let _ = spins;
        core::hint::spin_loop();
    }

    /// Holds a [`SpinLock`]; releases it when dropped.
    pub(crate) struct Guard<'a, T> {
        lock: &'a SpinLock<T>,
    }

    impl<T> Deref for Guard<'_, T> {
        type Target = T;
        #[inline]
        fn deref(&self) -> &T {
            // SAFETY: a guard exists only while `locked` is held by it, so no
            // other reference to the value is live.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for Guard<'_, T> {
        #[inline]
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`; `&mut self` makes this the only access
            // through this guard.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for Guard<'_, T> {
        #[inline]
        fn drop(&mut self) {
            self.lock.locked.store(false, Ordering::Release);
        }
    }
}

#[cfg(feature = "shuttle")]
mod imp {
    /// The shuttle-backed lock with the same interface.
    pub(crate) struct SpinLock<T>(shuttle::sync::Mutex<T>);

    pub(crate) type Guard<'a, T> = shuttle::sync::MutexGuard<'a, T>;

    impl<T> SpinLock<T> {
        pub(crate) fn new(value: T) -> Self {
            SpinLock(shuttle::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> Guard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
        pub(crate) fn try_lock(&self) -> Option<Guard<'_, T>> {
            self.0.try_lock().ok()
        }
        pub(crate) fn try_own_as(&self, _me: u64) -> Option<Guard<'_, T>> {
            None
        }
        pub(crate) fn for_cpu(value: T, _cpu: u32) -> Self {
            SpinLock::new(value)
        }
    }
}

pub(crate) use imp::SpinLock;

#[cfg(not(feature = "shuttle"))]
pub(crate) use cpu::CpuLock;
#[cfg(feature = "shuttle")]
pub(crate) use imp::SpinLock as CpuLock;

/// The lock of one CPU's per-CPU lists.
///
/// The kernel touches a CPU's lists from that CPU with preemption disabled,
/// and from other CPUs only to drain them. Here a thread bound to a CPU
/// with [`crate::rt::bind_current_thread`] becomes the *owner* of that
/// CPU's lists (of every machine it uses) and enters them without an atomic
/// read-modify-write: it raises its `active` flag with a plain store and
/// checks that no other thread holds `locked`. Every other thread, and the
/// owner when a remote holder is in, takes `locked` like a spin lock; when
/// the lists have a live owner it then issues a process-wide memory barrier
/// (`membarrier(2)`, the heavy half of an asymmetric barrier: folly's and
/// liburcu's scheme) and waits for `active` to drop. Either the owner's
/// store of `active` is visible to the remote holder after the barrier, or
/// the owner's later load of `locked` sees the remote holder: the two never
/// run at once.
///
/// Ownership changes only under `locked`: a bound thread claims lists that
/// have no owner, or whose owner has exited or rebound (its liveness flag
/// is cleared by the thread itself, after its last critical section).
#[cfg(not(feature = "shuttle"))]
mod cpu {
    use core::cell::UnsafeCell;
    use core::ops::{Deref, DerefMut};
    use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    pub(crate) struct CpuLock<T> {
        locked: AtomicBool,
        /// The CPU whose lists these are.
        cpu: u32,
        /// The owner's word, [`super::owner_word`] of its token and `cpu`
        /// (0: none; an unbound thread's token, [`super::NO_TOKEN`], never
        /// appears). Written only under `locked`.
        owner: AtomicU64,
        /// Raised (1) by the owner while inside; written only by the
        /// owner. A word of its own rather than a byte beside `locked`: the
        /// owner's load of `locked` right after its store here then ran
        /// measurably slower (about 1 of 40 TSC ticks per alloc+free pair
        /// on the development VM).
        active: AtomicU64,
        /// The owner's liveness flag. Read and written only under `locked`.
        #[cfg(feature = "std")]
        owner_live: UnsafeCell<Option<std::sync::Arc<AtomicBool>>>,
        value: UnsafeCell<T>,
    }

    // SAFETY: the value is reached only through a `CpuGuard`, and guards
    // are exclusive: a remote guard holds `locked` (taken with Acquire,
    // released with Release) and waits for the owner's `active` flag to be
    // down (read with Acquire, lowered with Release) after the heavy
    // barrier; an owner guard raises `active` and then sees `locked` free
    // (Acquire). `owner_live` is touched only with `locked` held.
    unsafe impl<T: Send> Sync for CpuLock<T> {}
    // SAFETY: the lock owns its `T`.
    unsafe impl<T: Send> Send for CpuLock<T> {}

    impl<T> CpuLock<T> {
        /// The lock of CPU `cpu`'s lists.
        pub(crate) fn for_cpu(value: T, cpu: u32) -> Self {
            CpuLock {
                cpu,
                locked: AtomicBool::new(false),
                owner: AtomicU64::new(0),
                active: AtomicU64::new(0),
                #[cfg(feature = "std")]
                owner_live: UnsafeCell::new(None),
                value: UnsafeCell::new(value),
            }
        }

        /// Whether some thread owns the lists (for tests).
        #[cfg(test)]
        pub(crate) fn has_owner(&self) -> bool {
            self.owner.load(Ordering::Relaxed) != 0
        }

        /// Enters as the owner: no read-modify-write, no fence instruction.
        #[inline(always)]
        fn enter_owned(&self) -> Option<CpuGuard<'_, T>> {
            self.active.store(1, Ordering::Relaxed);
            // The light half of the asymmetric barrier: keeps the compiler
            // from moving the load of `locked` above the store of `active`;
            // the remote holder's membarrier() orders them on the CPU.
            core::sync::atomic::compiler_fence(Ordering::SeqCst);
            if self.locked.load(Ordering::Acquire) {
                self.active.store(0, Ordering::Release);
                return None;
            }
            Some(CpuGuard {
                lock: self,
                owned: true,
            })
        }

        /// Whether the thread whose [`super::owner_word`] for this CPU is
        /// `me` owns these lists (an unbound thread's token, `NO_TOKEN`, is
        /// no owner's; without `std` no list has an owner).
        #[inline(always)]
        fn owned_by(&self, me: u64) -> bool {
            self.owner.load(Ordering::Relaxed) == me
        }

        /// The calling thread's [`super::owner_word`] for this CPU.
        #[inline(always)]
        fn my_word(&self) -> u64 {
            super::owner_word(super::thread_token(), self.cpu)
        }

        /// Whether the calling thread owns these lists.
        #[inline(always)]
        fn owned_by_me(&self) -> bool {
            self.owned_by(self.my_word())
        }

        #[inline]
        pub(crate) fn lock(&self) -> CpuGuard<'_, T> {
            if self.owned_by_me() {
                loop {
                    if let Some(g) = self.enter_owned() {
                        return g;
                    }
                    let mut spins = 0;
                    while self.locked.load(Ordering::Relaxed) {
                        spins += 1;
                        super::relax_spin(spins);
                    }
                }
            }
            self.lock_remote(false).unwrap_or_else(|| unreachable!())
        }

        #[inline]
        pub(crate) fn try_lock(&self) -> Option<CpuGuard<'_, T>> {
            if self.owned_by_me() {
                return self.enter_owned();
            }
            self.lock_remote(true)
        }

        /// Enters the lists if the calling thread, whose
        /// [`super::owner_word`] for this CPU is `me` (for a thread bound
        /// to this CPU, its [`super::thread_word`]), owns them and no
        /// remote holder is in; `None` otherwise (then
        /// [`CpuLock::try_lock`] decides). The guard knows statically how
        /// it was entered, so the owner's fast paths carry no flag.
        #[inline(always)]
        pub(crate) fn try_own_as(&self, me: u64) -> Option<OwnerGuard<'_, T>> {
            debug_assert_eq!(me, self.my_word());
            if !self.owned_by(me) {
                return None;
            }
            self.active.store(1, Ordering::Relaxed);
            // As in `enter_owned`.
            core::sync::atomic::compiler_fence(Ordering::SeqCst);
            if self.locked.load(Ordering::Acquire) {
                self.active.store(0, Ordering::Release);
                return None;
            }
            Some(OwnerGuard { lock: self })
        }

        /// Takes `locked`, then makes sure the owner (if any, alive, and
        /// not the caller) is out; claims the lists for a bound caller when
        /// they have no live owner.
        #[cold]
        #[inline(never)]
        fn lock_remote(&self, try_only: bool) -> Option<CpuGuard<'_, T>> {
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                if try_only
                    && self
                        .locked
                        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                        .is_err()
                {
                    return None;
                }
                if !try_only {
                    let mut spins = 0u32;
                    loop {
                        while self.locked.load(Ordering::Relaxed) {
                            spins += 1;
                            super::relax_spin(spins);
                        }
                        if self
                            .locked
                            .compare_exchange_weak(
                                false,
                                true,
                                Ordering::Acquire,
                                Ordering::Relaxed,
                            )
                            .is_ok()
                        {
                            break;
                        }
                    }
                }
            }
            #[cfg(feature = "std")]
            self.settle_owner();
            Some(CpuGuard {
                lock: self,
                owned: false,
            })
        }

        /// With `locked` held: forgets a dead owner, waits for a live one,
        /// claims ownerless lists for a bound caller.
        #[cfg(feature = "std")]
        fn settle_owner(&self) {
            // SAFETY: `locked` is held by the caller; `owner_live` is only
            // touched with it held.
            let live = unsafe { &mut *self.owner_live.get() };
            let o = self.owner.load(Ordering::Relaxed);
            let me = self.my_word();
            if o != 0 && o != me {
                let alive = live.as_ref().is_some_and(|l| l.load(Ordering::Acquire));
                if alive {
                    owner::heavy_barrier();
                    let mut spins = 0u32;
                    while self.active.load(Ordering::Acquire) != 0 {
                        spins += 1;
                        super::relax_spin(spins);
                    }
                    return;
                }
                // The owner exited or rebound after its last critical
                // section (its Release store of `live`, read with Acquire
                // above, follows its Release store of `active`).
                self.owner.store(0, Ordering::Relaxed);
                *live = None;
            }
            if o != me && me >> 32 != super::NO_TOKEN {
                if let Some(flag) = owner::claimable() {
                    *live = Some(flag);
                    self.owner.store(me, Ordering::Relaxed);
                }
            }
        }
    }

    /// Exclusive access to a [`CpuLock`]'s value; lets go when dropped.
    pub(crate) struct CpuGuard<'a, T> {
        lock: &'a CpuLock<T>,
        owned: bool,
    }

    impl<T> Deref for CpuGuard<'_, T> {
        type Target = T;
        #[inline(always)]
        fn deref(&self) -> &T {
            // SAFETY: a guard is exclusive (see `CpuLock`'s Sync impl).
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for CpuGuard<'_, T> {
        #[inline(always)]
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`; `&mut self` makes this the only access
            // through this guard.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    /// The owner's exclusive access to a [`CpuLock`]'s value (see
    /// [`CpuLock::try_own_as`]); lowers `active` when dropped.
    pub(crate) struct OwnerGuard<'a, T> {
        lock: &'a CpuLock<T>,
    }

    impl<T> Deref for OwnerGuard<'_, T> {
        type Target = T;
        #[inline(always)]
        fn deref(&self) -> &T {
            // SAFETY: an owner guard exists only while the owner's `active`
            // flag is up and no remote holder is in (see `Sync`).
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for OwnerGuard<'_, T> {
        #[inline(always)]
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`; `&mut self` makes this the only access
            // through this guard.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for OwnerGuard<'_, T> {
        #[inline(always)]
        fn drop(&mut self) {
            self.lock.active.store(0, Ordering::Release);
        }
    }

    impl<T> Drop for CpuGuard<'_, T> {
        #[inline(always)]
        fn drop(&mut self) {
            if self.owned {
                self.lock.active.store(0, Ordering::Release);
            } else {
                self.lock.locked.store(false, Ordering::Release);
            }
        }
    }

    /// The calling thread's ownership token and the process-wide barrier.
    #[cfg(feature = "std")]
    pub(crate) mod owner {
        use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
        use std::cell::RefCell;
        use std::sync::Arc;

        use crate::sync::{NO_TOKEN, THREAD};

        static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);
        /// 0: not tried, 1: membarrier registered, 2: unavailable.
        static BARRIER: AtomicU8 = AtomicU8::new(0);

        /// The liveness flag of the calling thread's current binding,
        /// cleared when the thread rebinds or exits.
        struct Live(RefCell<Option<Arc<AtomicBool>>>);

        impl Drop for Live {
            fn drop(&mut self) {
                // Stop entering as owner before giving the lists up, should
                // a later thread-local destructor still free pages.
                THREAD.with(|t| t.set_token(NO_TOKEN));
                if let Some(l) = self.0.get_mut().take() {
                    l.store(false, Ordering::Release);
                }
            }
        }

        std::thread_local! {
            static LIVE: Live = const { Live(RefCell::new(None)) };
        }

        /// Makes the calling thread eligible to own per-CPU lists under a
        /// fresh token; lists it owned before become claimable.
        pub(crate) fn bind() {
            let _ = LIVE.try_with(|live| {
                if let Some(l) = live.0.borrow_mut().take() {
                    l.store(false, Ordering::Release);
                }
                // Tokens fit 32 bits (see `owner_word`); once they are
                // spent, binding no longer makes owners.
                let token = match barrier_available() {
                    true => NEXT_TOKEN.fetch_add(1, Ordering::Relaxed).min(NO_TOKEN),
                    false => NO_TOKEN,
                };
                if token != NO_TOKEN {
                    *live.0.borrow_mut() = Some(Arc::new(AtomicBool::new(true)));
                }
                THREAD.with(|t| t.set_token(token));
            });
        }

        /// The liveness flag to record when claiming lists.
        pub(crate) fn claimable() -> Option<Arc<AtomicBool>> {
            LIVE.try_with(|l| l.0.borrow().clone()).ok().flatten()
        }

        fn barrier_available() -> bool {
            match BARRIER.load(Ordering::Acquire) {
                1 => true,
                2 => false,
                _ => {
                    let ok = std::env::var_os("GFP_MM_NO_CPU_OWNER").is_none_or(|v| v == "0")
                        // SAFETY: membarrier(2) takes integer arguments and
                        // touches no memory of ours.
                        && unsafe {
                            libc::syscall(
                                libc::SYS_membarrier,
                                MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                                0,
                                0,
                            )
                        } == 0;
                    BARRIER.store(if ok { 1 } else { 2 }, Ordering::Release);
                    ok
                }
            }
        }

        const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
        const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

        /// A full memory barrier on every running thread of the process.
        /// Only called while some list has a live owner, which implies the
        /// registration succeeded.
        #[cold]
        pub(crate) fn heavy_barrier() {
            // SAFETY: as in `barrier_available`.
            let r = unsafe {
                libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)
            };
            assert_eq!(r, 0, "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed");
        }
    }
}

#[cfg(not(feature = "shuttle"))]
#[inline]
fn relax_spin(spins: u32) {
    #[cfg(feature = "std")]
    if spins > 64 {
        std::thread::yield_now();
        return;
    }
    let _ = spins;
    core::hint::spin_loop();
}

/// Makes the calling thread eligible to own the per-CPU lists of the CPU it
/// is bound to (see [`CpuLock`]).
#[cfg(all(feature = "std", not(feature = "shuttle")))]
pub(crate) fn bind_current_thread_owner() {
    cpu::owner::bind();
}
#[cfg(feature = "shuttle")]
pub(crate) fn bind_current_thread_owner() {}

/// Whether the calling thread may own per-CPU lists (it is bound).
#[cfg(all(feature = "std", not(feature = "shuttle")))]
pub(crate) fn bound_as_owner() -> bool {
    thread_token() != NO_TOKEN
}
#[cfg(feature = "shuttle")]
pub(crate) fn bound_as_owner() -> bool {
    false
}
