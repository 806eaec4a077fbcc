// SPDX-License-Identifier: GPL-2.0

//! 64-bit statistics counters, read consistently on every architecture.
//!
//! C header: [`include/linux/u64_stats_sync.h`](srctree/include/linux/u64_stats_sync.h)
//!
//! A [`Counter`] is written by one context at a time (a queue's NAPI poll, or its transmit
//! path under the queue's lock) inside an update of the [`U64StatsSync`] that covers it, and
//! read from anywhere inside [`U64StatsSync::read`]. On 64-bit architectures updates and reads
//! are plain loads and stores (local64 operations); on 32-bit ones a sequence count makes
//! readers retry instead of seeing half of a 64-bit value.
//!
//! Writers must be exclusive, and on 32-bit ones not preempted, or readers may spin forever:
//! [`U64StatsSync::begin`] is `unsafe`, for the abstractions that own a single writing context
//! (a NAPI poll, a transmit queue under its lock) to wrap.
//!
//! # Examples
//!
//! ```
//! use kernel::prelude::*;
//! use kernel::sync::u64_stats::{Counter, U64StatsSync};
//!
//! #[pin_data]
//! struct RxStats {
//!     #[pin]
//!     sync: U64StatsSync,
//!     packets: Counter,
//!     bytes: Counter,
//! }
//!
//! let stats = KBox::pin_init(
//!     pin_init!(RxStats {
//!         sync <- U64StatsSync::new(),
//!         packets: Counter::new(),
//!         bytes: Counter::new(),
//!     }),
//!     GFP_KERNEL,
//! )?;
//! {
//!     // SAFETY: This is the only writer; it is not preempted (the doctest may be preempted
//!     // only on 32-bit architectures, where readers would retry until it resumes).
//!     let update = unsafe { stats.sync.begin() };
//!     stats.packets.inc(&update);
//!     stats.bytes.add(&update, 1514);
//! }
//! let (packets, bytes) = stats.sync.read(|| (stats.packets.get(), stats.bytes.get()));
//! assert_eq!((packets, bytes), (1, 1514));
//!
//! // Past 32 bits.
//! for _ in 0..3 {
//!     // SAFETY: As above.
//!     stats.bytes.add(unsafe { &stats.sync.begin() }, u32::MAX as usize);
//! }
//! assert_eq!(stats.sync.read(|| stats.bytes.get()), 1514 + 3 * u64::from(u32::MAX));
//! # Ok::<(), Error>(())
//! ```

use crate::{bindings, init::PinInit, pin_init, types::Opaque};
use core::marker::PhantomData;
use macros::pin_data;

/// The synchronization of a group of [`Counter`]s (`struct u64_stats_sync`).
///
/// # Invariants
///
/// `inner` is initialized (`u64_stats_init()`).
#[pin_data]
pub struct U64StatsSync {
    #[pin]
    inner: Opaque<bindings::u64_stats_sync>,
}

// SAFETY: Updates and reads may happen on any CPU; the C primitive is made for that.
unsafe impl Send for U64StatsSync {}

// SAFETY: As above: readers on any CPU; writers are exclusive by the contract of `begin()`.
unsafe impl Sync for U64StatsSync {}

impl U64StatsSync {
    /// Initializes the synchronization (`u64_stats_init()`).
    pub fn new() -> impl PinInit<Self> {
        // INVARIANT: Initialized by the closure.
        pin_init!(Self {
            inner <- Opaque::ffi_init(|slot: *mut bindings::u64_stats_sync| {
                // SAFETY: `slot` is valid for writes, pinned, and not used before this.
                unsafe { bindings::u64_stats_init(slot) }
            }),
        })
    }

    /// Begins an update of the counters this covers (`u64_stats_update_begin()`), ended when
    /// the returned guard is dropped.
    ///
    /// # Safety
    ///
    /// No other update of `self` may run concurrently, nor preempt this one on its CPU until the
    /// guard is dropped (softirq context, bottom halves off, or a lock that disables preemption;
    /// on PREEMPT_RT, where bottom halves off does not, `u64_stats_update_begin()` disables
    /// preemption itself when the counter needs it), and the caller must not leak the guard.
    pub unsafe fn begin(&self) -> Update<'_> {
        // SAFETY: Initialized, by the type invariants; ended by `Update::drop()`.
        unsafe { bindings::u64_stats_update_begin(self.inner.get()) };
        Update {
            sync: self,
            _not_send: PhantomData,
        }
    }

    /// Runs `read`, which reads counters this covers, until it ran without a concurrent update
    /// (`u64_stats_fetch_begin()` / `u64_stats_fetch_retry()`), and returns its result.
    pub fn read<R>(&self, read: impl Fn() -> R) -> R {
        loop {
            // SAFETY: Initialized, by the type invariants.
            let start = unsafe { bindings::u64_stats_fetch_begin(self.inner.get()) };
            let r = read();
            // SAFETY: As above.
            if !unsafe { bindings::u64_stats_fetch_retry(self.inner.get(), start) } {
                return r;
            }
        }
    }
}

/// An update of the counters covered by a [`U64StatsSync`], in progress until dropped.
pub struct Update<'a> {
    sync: &'a U64StatsSync,
    _not_send: PhantomData<*mut ()>,
}

impl Drop for Update<'_> {
    fn drop(&mut self) {
        // SAFETY: The update began in `U64StatsSync::begin()`.
        unsafe { bindings::u64_stats_update_end(self.sync.inner.get()) };
    }
}

/// A 64-bit statistics counter (`u64_stats_t`), starting at 0.
#[repr(transparent)]
pub struct Counter(Opaque<bindings::u64_stats_t>);

// SAFETY: Any CPU may read it; updates need an `Update`, which `begin()` makes exclusive.
unsafe impl Send for Counter {}

// SAFETY: As above.
unsafe impl Sync for Counter {}

impl Counter {
    /// Creates a counter at 0.
    pub const fn new() -> Self {
        // SAFETY: All-zeroes is a `u64_stats_t` of 0.
        Self(Opaque::new(unsafe { core::mem::zeroed() }))
    }

    /// Adds `value` (`u64_stats_add()`).
    pub fn add(&self, _update: &Update<'_>, value: usize) {
        // SAFETY: The counter is valid; an update is in progress.
        unsafe { bindings::u64_stats_add(self.0.get(), value as _) }
    }

    /// Adds one (`u64_stats_inc()`).
    pub fn inc(&self, _update: &Update<'_>) {
        // SAFETY: As in `add()`.
        unsafe { bindings::u64_stats_inc(self.0.get()) }
    }

    /// Returns the value (`u64_stats_read()`): consistent with the other counters of its
    /// [`U64StatsSync`] inside [`U64StatsSync::read`].
    pub fn get(&self) -> u64 {
        // SAFETY: The counter is valid.
        unsafe { bindings::u64_stats_read(self.0.get()) }
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}
