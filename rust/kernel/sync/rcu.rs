// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

use crate::bindings;
use core::marker::PhantomData;

/// Evidence that the current thread is inside an RCU read-side critical section.
///
/// Data that RCU protects may be borrowed for the lifetime of a `&Guard`: it is not freed before
/// the critical section ends. A [`Guard`] is created by [`read_lock`] and ends the section when
/// dropped; it cannot move to another thread.
///
/// # Invariants
///
/// The current thread is in an RCU read-side critical section for as long as the guard lives.
pub struct Guard(PhantomData<*mut ()>);

impl Guard {
    /// Enters an RCU read-side critical section (`rcu_read_lock()`).
    #[inline]
    pub fn new() -> Self {
        // SAFETY: FFI call without safety requirements; it is balanced by `Drop`.
        unsafe { bindings::rcu_read_lock() };
        // INVARIANT: The section was just entered.
        Self(PhantomData)
    }

    /// Ends the section explicitly; the same as dropping the guard.
    pub fn unlock(self) {}
}

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariants this thread entered the section in `new()`.
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// Enters an RCU read-side critical section, ended when the returned [`Guard`] is dropped.
///
/// # Examples
///
/// ```
/// let guard = kernel::sync::rcu::read_lock();
/// drop(guard);
/// ```
#[inline]
pub fn read_lock() -> Guard {
    Guard::new()
}
