// SPDX-License-Identifier: GPL-2.0

//! Objects that can be taken away from their users.
//!
//! A [`Revocable<T>`] holds a `T` that users reach through [`Revocable::try_access`], inside an
//! RCU read-side critical section. [`Revocable::revoke`] makes it unreachable, waits until every
//! user already inside is done (`synchronize_rcu()`) and drops it. The next `try_access` finds
//! nothing.

use crate::{bindings, sync::rcu};
use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    mem::ManuallyDrop,
    ops::Deref,
    sync::atomic::{AtomicBool, Ordering},
};

/// A `T` that its users reach until it is revoked.
///
/// # Examples
///
/// ```
/// use kernel::revocable::Revocable;
///
/// let r = Revocable::new(7u32);
/// assert_eq!(r.try_access().map(|v| *v), Some(7));
/// // SAFETY: This thread may sleep, and holds no guard.
/// assert!(unsafe { r.revoke() });
/// assert!(r.try_access().is_none());
/// // SAFETY: As above.
/// assert!(!unsafe { r.revoke() });
/// ```
///
/// # Invariants
///
/// While `available` is true, `data` holds a `T` that has not been dropped. It is dropped once:
/// by the call that sets `available` to false, after an RCU grace period, or on drop.
pub struct Revocable<T> {
    available: AtomicBool,
    data: UnsafeCell<ManuallyDrop<T>>,
}

// SAFETY: The `T` moves with the `Revocable`, and is dropped by the thread that owns or revokes
// it.
unsafe impl<T: Send> Send for Revocable<T> {}

// SAFETY: `&Revocable` gives other threads `&T` (`try_access`), which needs `T: Sync`, and lets
// any of them drop the `T` (`revoke`), which needs `T: Send`.
unsafe impl<T: Send + Sync> Sync for Revocable<T> {}

impl<T> Revocable<T> {
    /// Makes `data` available until it is revoked.
    pub const fn new(data: T) -> Self {
        // INVARIANT: Available, with `data` in place.
        Self {
            available: AtomicBool::new(true),
            data: UnsafeCell::new(ManuallyDrop::new(data)),
        }
    }

    /// Returns the object, held for as long as the guard lives, unless it was revoked.
    ///
    /// The guard is an RCU read-side critical section: the thread must not sleep while it holds
    /// one.
    pub fn try_access(&self) -> Option<RevocableGuard<'_, T>> {
        let rcu = rcu::read_lock();
        if !self.available.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: Available, so not dropped (type invariants); a revocation that starts now
        // waits for `rcu` to end before it drops the object.
        let data: *const T = unsafe { &**self.data.get() };
        // INVARIANT: Found available inside `rcu`.
        Some(RevocableGuard {
            data,
            _rcu: rcu,
            _p: PhantomData,
        })
    }

    /// Revokes the object: new accesses fail, and once those already made are done, it is
    /// dropped. Returns whether this call revoked it (false if it was revoked before).
    ///
    /// # Safety
    ///
    /// The caller may sleep (`synchronize_rcu()`), and is not in an RCU read-side critical
    /// section: one that holds a guard would see the grace period end, and the object dropped,
    /// while it still uses it.
    pub unsafe fn revoke(&self) -> bool {
        if !self.available.swap(false, Ordering::AcqRel) {
            return false;
        }
        // SAFETY: FFI call; the caller may sleep, outside any read-side critical section.
        unsafe { bindings::synchronize_rcu() };
        // SAFETY: This call made the object unavailable, so it is the one to drop it; no access
        // made before that is still running after the grace period, and none made after it
        // reaches the object.
        unsafe { ManuallyDrop::drop(&mut *self.data.get()) };
        true
    }

    /// Revokes the object and drops it at once. Returns whether this call revoked it.
    ///
    /// # Safety
    ///
    /// No guard of the object exists, and none is made while this runs.
    pub unsafe fn revoke_nosync(&self) -> bool {
        if !self.available.swap(false, Ordering::AcqRel) {
            return false;
        }
        // SAFETY: This call made the object unavailable, so it is the one to drop it; nothing
        // reaches it, by the safety requirements.
        unsafe { ManuallyDrop::drop(&mut *self.data.get()) };
        true
    }
}

impl<T> Drop for Revocable<T> {
    fn drop(&mut self) {
        if *self.available.get_mut() {
            // SAFETY: Available, so not dropped yet, and no guard borrows `self` any more.
            unsafe { ManuallyDrop::drop(self.data.get_mut()) };
        }
    }
}

/// Access to the object of a [`Revocable`], which is not dropped while this lives.
///
/// # Invariants
///
/// `data` is the object of a [`Revocable`] that lives for `'a`, found available in the RCU
/// read-side critical section `_rcu`.
pub struct RevocableGuard<'a, T> {
    data: *const T,
    _rcu: rcu::Guard,
    _p: PhantomData<&'a T>,
}

impl<T> Deref for RevocableGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: By the type invariants, a revocation waits for `_rcu`, which ends after the
        // borrow of `self`.
        unsafe { &*self.data }
    }
}
