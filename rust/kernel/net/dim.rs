// SPDX-License-Identifier: GPL-2.0

//! Dynamic interrupt moderation (DIM): the interrupt rate a queue's traffic needs.
//!
//! C header: [`include/linux/dim.h`](srctree/include/linux/dim.h)
//!
//! A [`Dim`] is sampled once per interrupt with a queue's packet and byte counts
//! ([`Dim::sample`], typically where the driver re-enables its interrupt after a poll). Every
//! 64 interrupts the networking core's algorithm (`net_dim()`) compares the traffic's rates
//! with the previous window's and steps through its receive profiles (an interval of 1, 8, 64,
//! 128 or 256 microseconds between interrupts): towards longer intervals while that costs no
//! throughput (fewer interrupts for the same traffic), back when it does. Each step reaches the
//! driver's [`Moderate::moderate`] in process context, which programs the device; no further
//! sample counts until it returned.
//!
//! # Examples
//!
//! ```
//! use kernel::net::dim::{Dim, Moderate, Moderation, DEFAULT_PROFILE};
//! use kernel::prelude::*;
//! use kernel::sync::Arc;
//! use core::sync::atomic::{AtomicU32, Ordering};
//!
//! /// What the device's interrupt throttling register would get.
//! struct Itr(Arc<AtomicU32>);
//!
//! impl Moderate for Itr {
//!     fn moderate(&self, m: Moderation) {
//!         self.0.store(u32::from(m.usecs), Ordering::Relaxed);
//!     }
//! }
//!
//! let itr = Arc::new(AtomicU32::new(0), GFP_KERNEL)?;
//! let dim = KBox::pin_init(Dim::new(Itr(itr.clone()), DEFAULT_PROFILE), GFP_KERNEL)?;
//! // Once per interrupt, with the queue's packet and byte counters so far.
//! dim.sample(|| (0, 0));
//! # Ok::<(), Error>(())
//! ```

use crate::{bindings, delay, net::netdev::Rtnl, prelude::*, types::Opaque};
use core::{
    marker::PhantomPinned,
    ptr,
    sync::atomic::{AtomicBool, AtomicU16, Ordering},
};

/// The number of receive profiles (`NET_DIM_PARAMS_NUM_PROFILES`).
pub const PROFILES: u8 = bindings::NET_DIM_PARAMS_NUM_PROFILES as u8;

/// The profile drivers start from (`NET_DIM_DEF_PROFILE_EQE`: 8 microseconds).
pub const DEFAULT_PROFILE: u8 = bindings::NET_DIM_DEF_PROFILE_EQE as u8;

/// An interrupt moderation the algorithm picked (`struct dim_cq_moder`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moderation {
    /// The least interval between interrupts, in microseconds.
    pub usecs: u16,
    /// The packets a device that counts them may wait for before it interrupts.
    pub packets: u16,
}

impl Moderation {
    /// Returns the moderation of receive profile `profile` (0 to [`PROFILES`] - 1, shortest
    /// interval first).
    pub fn of_profile(profile: u8) -> Option<Self> {
        if profile >= PROFILES {
            return None;
        }
        // SAFETY: FFI call with a valid mode and a profile index in range.
        let m = unsafe {
            bindings::net_dim_get_rx_moderation(
                bindings::dim_cq_period_mode_DIM_CQ_PERIOD_MODE_START_FROM_EQE as u8,
                i32::from(profile),
            )
        };
        Some(Self {
            usecs: m.usec,
            packets: m.pkts,
        })
    }
}

/// Applies the moderation a [`Dim`] picked: the driver's part.
pub trait Moderate: Send + Sync {
    /// Programs the device with `moderation`. Runs in process context, never twice at once for
    /// one [`Dim`]: from its work item, or from [`Dim::set_enabled`] under RTNL. It must not
    /// take RTNL itself: disabling the moderation waits for it with RTNL held.
    fn moderate(&self, moderation: Moderation);
}

/// A queue's dynamic interrupt moderation (`struct dim`), and where its steps go.
///
/// Dropping it waits for a step under way: it sleeps.
///
/// # Invariants
///
/// `raw` was set up by [`Dim::new`]: its work item runs `Dim::run`, in receive mode
/// (`DIM_CQ_PERIOD_MODE_START_FROM_EQE`), and is cancelled before `raw` goes away.
/// `raw`'s measurement (everything but the work item) is written only by the holder of
/// `sampling` (or, in state `DIM_APPLY_NEW_PROFILE`, by the work item, which no sample writes
/// then).
#[pin_data(PinnedDrop)]
pub struct Dim<T: Moderate> {
    #[pin]
    raw: Opaque<bindings::dim>,
    /// Taken by the one sample at work.
    sampling: AtomicBool,
    enabled: AtomicBool,
    /// Samples so far (the algorithm's event counter).
    events: AtomicU16,
    target: T,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: `T` is `Send + Sync`; the C structure is written under `sampling` or, in the state
// that keeps samples out, by the work item, which the workqueue runs on any thread.
unsafe impl<T: Moderate> Send for Dim<T> {}

// SAFETY: As above: every path through `&self` serializes its writes to `raw`.
unsafe impl<T: Moderate> Sync for Dim<T> {}

impl<T: Moderate> Dim<T> {
    /// Creates an enabled moderation that starts at `profile` (clamped to the last one) and
    /// hands its steps to `target`. The device should start with that profile's
    /// [`Moderation`]: the first step comes only after 64 samples.
    pub fn new(target: T, profile: u8) -> impl PinInit<Self> {
        let profile = profile.min(PROFILES - 1);
        pin_init!(Self {
            raw <- Opaque::ffi_init(move |slot: *mut bindings::dim| {
                // SAFETY: `slot` is valid for writes; all zeroes is a valid `struct dim` (the
                // state `DIM_START_MEASURE`, parked), as C drivers start it.
                unsafe {
                    ptr::write_bytes(slot, 0, 1);
                    (*slot).mode =
                        bindings::dim_cq_period_mode_DIM_CQ_PERIOD_MODE_START_FROM_EQE as u8;
                    (*slot).profile_ix = profile;
                    init_dim_work(ptr::addr_of_mut!((*slot).work), Self::run);
                }
            }),
            sampling: AtomicBool::new(false),
            enabled: AtomicBool::new(true),
            events: AtomicU16::new(0),
            target,
            _pin: PhantomPinned,
        })
    }

    /// Returns the driver's target.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// Counts an interrupt with the queue's packet and byte counters so far, as `counters`
    /// returns them (totals, not the interrupt's share; they may wrap), and lets the algorithm
    /// decide once 64 were counted since its last decision. A sample that finds another one at
    /// work (on another CPU, or one it interrupted), or the moderation disabled, is skipped
    /// without calling `counters`: the counters the algorithm sees never go back. Callable
    /// from any context but NMI.
    pub fn sample(&self, counters: impl FnOnce() -> (u64, u64)) {
        if !self.enabled.load(Ordering::Relaxed) || self.sampling.swap(true, Ordering::SeqCst) {
            return;
        }
        // Checked again with the flag held: either `set_enabled(false)` sees the flag and waits,
        // or this sees the moderation disabled.
        if !self.enabled.load(Ordering::SeqCst) {
            self.sampling.store(false, Ordering::Release);
            return;
        }
        let (packets, bytes) = counters();
        let events = self.events.load(Ordering::Relaxed).wrapping_add(1);
        self.events.store(events, Ordering::Relaxed);
        // The algorithm keeps 32 bits of each counter, and measures their differences.
        let sample = bindings::dim_sample {
            // SAFETY: FFI call without requirements.
            time: unsafe { bindings::ktime_get() },
            pkt_ctr: packets as u32,
            byte_ctr: bytes as u32,
            event_ctr: events,
            comp_ctr: 0,
        };
        // SAFETY: By the type invariants `raw` is set up, and this is its one writer: `sampling`
        // is held, and in the state where the work item writes, `net_dim()` writes nothing. It
        // may queue the work item, which is allowed in any context but NMI.
        unsafe { bindings::net_dim(self.raw.get(), sample) };
        self.sampling.store(false, Ordering::Release);
    }

    /// Stops or resumes the moderation, under RTNL (which orders the calls); sleeps. Stopped,
    /// samples are ignored and no step reaches the driver after this returns (it waits for one
    /// under way), so that the driver may program a moderation of its own. Resumed, it applies
    /// the profile it was at (the device may hold the driver's moderation) and measures afresh
    /// from there, as a new one does.
    pub fn set_enabled(&self, enabled: bool, _rtnl: &Rtnl) {
        if !enabled {
            self.enabled.store(false, Ordering::SeqCst);
            // A sample that took the flag before the store may queue the work item.
            while self.sampling.load(Ordering::SeqCst) {
                delay::msleep(1);
            }
            // SAFETY: By the type invariants the work item is set up.
            unsafe { bindings::cancel_work_sync(ptr::addr_of_mut!((*self.raw.get()).work)) };
            return;
        }
        if self.enabled.load(Ordering::Relaxed) {
            return;
        }
        // Disabled, samples take the flag only to find that out.
        while self.sampling.swap(true, Ordering::Acquire) {
            delay::msleep(1);
        }
        let raw = self.raw.get();
        // SAFETY: `sampling` is held, and no work item is queued or running (cancelled when
        // disabled, and no sample counted since; RTNL orders this after that): this is the only
        // user of `raw`. A step cancelled before it ran left the state at
        // `DIM_APPLY_NEW_PROFILE`; the measurement starts again, parked, as from `new()`.
        let profile = unsafe {
            ptr::write_bytes(ptr::addr_of_mut!((*raw).prev_stats), 0, 1);
            ptr::write_bytes(ptr::addr_of_mut!((*raw).start_sample), 0, 1);
            ptr::write_bytes(ptr::addr_of_mut!((*raw).measuring_sample), 0, 1);
            (*raw).state = bindings::dim_state_DIM_START_MEASURE as u8;
            (*raw).tune_state = bindings::dim_tune_state_DIM_PARKING_ON_TOP as u8;
            (*raw).steps_right = 0;
            (*raw).steps_left = 0;
            (*raw).tired = 0;
            (*raw).profile_ix
        };
        if let Some(m) = Moderation::of_profile(profile) {
            self.target.moderate(m);
        }
        self.enabled.store(true, Ordering::SeqCst);
        self.sampling.store(false, Ordering::Release);
    }

    /// Returns whether the moderation is enabled.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Waits for a step under way to reach the driver.
    #[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
    pub(crate) fn flush(&self) {
        // SAFETY: By the type invariants the work item is set up.
        unsafe { bindings::flush_work(ptr::addr_of_mut!((*self.raw.get()).work)) };
    }

    /// The work item: hands the profile `net_dim()` picked to the driver, then lets samples
    /// count again.
    ///
    /// # Safety
    ///
    /// `work` is the work item of the `raw` field of a `Dim<T>`.
    unsafe extern "C" fn run(work: *mut bindings::work_struct) {
        // SAFETY: By the safety requirements `work` lies in a `struct dim`, in the `raw` field
        // of a `Dim<T>` (`Opaque` is transparent), which stays valid while its work item runs:
        // dropping it waits for that.
        let (raw, this) = unsafe {
            let raw = crate::container_of!(work, bindings::dim, work).cast_mut();
            (raw, &*crate::container_of!(raw, Self, raw))
        };
        // SAFETY: `net_dim()` queued this in state `DIM_APPLY_NEW_PROFILE`, where no sample
        // writes: the profile is stable.
        let profile = unsafe { ptr::read_volatile(ptr::addr_of!((*raw).profile_ix)) };
        if let Some(m) = Moderation::of_profile(profile) {
            this.target.moderate(m);
        }
        // SAFETY: As above; a sample reads the state concurrently, as in C (`WRITE_ONCE()`).
        unsafe {
            ptr::write_volatile(
                ptr::addr_of_mut!((*raw).state),
                bindings::dim_state_DIM_START_MEASURE as u8,
            )
        };
    }
}

/// Initializes the work item of a [`Dim`] at `work` to run `func`, in the one lock class of
/// every `Dim`: not generic, so that the class has one name.
///
/// # Safety
///
/// `work` must be valid for writes, and not queued.
#[inline(never)]
unsafe fn init_dim_work(
    work: *mut bindings::work_struct,
    func: unsafe extern "C" fn(*mut bindings::work_struct),
) {
    // SAFETY: By the safety requirements; the name and the key are static.
    unsafe {
        bindings::init_work_with_key(
            work,
            Some(func),
            false,
            crate::c_str!("net_dim").as_char_ptr(),
            crate::static_lock_class!().as_ptr(),
        )
    }
}

// Dropping a `Dim` waits for a step under way: it sleeps.
#[pinned_drop]
impl<T: Moderate> PinnedDrop for Dim<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants the work item is set up. Nothing samples any more
        // (that needs `&self`); this waits for a step under way.
        unsafe { bindings::cancel_work_sync(ptr::addr_of_mut!((*self.raw.get()).work)) };
    }
}

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
#[path = "dim/tests.rs"]
mod tests;
