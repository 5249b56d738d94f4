//! The few synchronisation primitives the core uses: a spin lock and the
//! atomics, swapped for shuttle's under the `shuttle` feature so that the
//! randomized scheduler sees every shared access.

#[cfg(not(feature = "shuttle"))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8};
#[cfg(feature = "shuttle")]
pub(crate) use shuttle::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8};

pub(crate) use core::sync::atomic::Ordering;

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
    }
}

pub(crate) use imp::SpinLock;
