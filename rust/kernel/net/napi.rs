// SPDX-License-Identifier: GPL-2.0

//! NAPI: polling a device's queues in softirq context.
//!
//! C header: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h)
//!
//! A [`Napi`] lives in the private data of the device it polls for, next to the state its
//! [`Poll`] implementation works on. Its life follows the C rules by construction: added when
//! initialized, enabled and disabled under RTNL ([`Napi::enable`], [`Napi::disable`], typically
//! from `open` and `stop`), and disabled if needed and deleted when dropped, which happens when
//! the device is freed, after it was unregistered.
//!
//! The poll callback receives a [`PollContext`], the evidence of running as this NAPI instance
//! in softirq context: it gives the NAPI-only paths (`napi_alloc_skb()`, `napi_build_skb()`,
//! `napi_consume_skb()`, GRO, running XDP). Completing is not the poll's to do: it returns how
//! much work it did, and when that is less than its budget the adapter completes the instance
//! (`napi_complete_done()`) after the poll returned, when nothing of the instance's state is
//! borrowed any more, and then calls [`Poll::rearm`], which sees only the shared data: that is
//! where a driver re-enables its interrupt. After `napi_complete_done()` the instance may be
//! polled again at once on another CPU, so nothing that ran before could still hold the state.
//!
//! netpoll polls with a budget of 0, with interrupts off and possibly in hard interrupt context:
//! such a poll goes to [`Poll::poll_tx`] with a [`CleanContext`], which allows transmit
//! completion only (no receive processing, skb allocation, GRO or XDP).
//!
//! Besides the data it shares with the rest of the driver, an instance owns a [`Poll::State`]:
//! what only the poll works on, such as a receive ring. The poll gets it mutably, without a
//! lock, because the C core never runs two polls of one instance at once; the driver's control
//! path reaches it with [`Napi::with_state`] under RTNL while the instance is disabled. The
//! state is pinned inside the instance: it is dropped in place, after the instance is disabled
//! and before it is deleted, which is the order page pools bound to it need.
//!
//! # Examples
//!
//! ```
//! use kernel::net::napi::{Napi, Poll, PollContext};
//! use kernel::net::netdev::{NetDevice, Operations, Rtnl, TxResult, TxSkb, Unregistered, Xmit};
//! use kernel::prelude::*;
//!
//! /// A receive queue with nothing to receive.
//! struct Rx;
//!
//! impl Poll for Rx {
//!     /// Packets received so far.
//!     type State = u64;
//!
//!     fn poll(&self, _received: Pin<&mut u64>, _ctx: &mut PollContext<'_>) -> u32 {
//!         // Less than the budget: the poll is over, and the adapter completes it.
//!         0
//!     }
//!
//!     fn rearm(&self) {
//!         // Re-enable the queue's interrupt here.
//!     }
//! }
//!
//! #[pin_data]
//! struct Priv {
//!     #[pin]
//!     napi: Napi<Rx>,
//! }
//!
//! struct Drv;
//!
//! #[vtable]
//! impl Operations for Drv {
//!     type Data = Priv;
//!
//!     fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
//!         // Set up the state while the instance cannot run, then let it.
//!         dev.data().napi.with_state(rtnl, |mut received| *received = 0)?;
//!         dev.data().napi.enable(rtnl)
//!     }
//!
//!     fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
//!         dev.data().napi.disable(rtnl);
//!         Ok(())
//!     }
//!
//!     fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
//!         drop(skb);
//!         TxResult::Ok
//!     }
//! }
//!
//! let dev = Unregistered::<Drv>::new_with(1, 1, |dev, slot| {
//!     slot.init(try_pin_init!(Priv {
//!         napi <- Napi::new(dev, Rx, 0),
//!     }? Error))
//! })?;
//! // Disabled until the device is opened: scheduling is refused.
//! assert!(!dev.data().napi.is_enabled());
//! assert!(!dev.data().napi.schedule());
//! // Its state is reachable under RTNL while it is disabled.
//! let rtnl = Rtnl::lock();
//! assert_eq!(dev.data().napi.with_state(&rtnl, |received| *received), Ok(0));
//! drop(rtnl);
//! # Ok::<(), Error>(())
//! ```

use crate::{
    bindings,
    error::{code::*, Error, Result},
    init::{self, PinInit},
    net::{
        netdev::{Device, Rtnl, TxSkb},
        page_pool::PoolPage,
        skbuff::{BuildError, DropReason, SkBuff},
        xdp::RunContext,
    },
    types::Opaque,
};
use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    mem::ManuallyDrop,
    pin::Pin,
    ptr::{addr_of_mut, NonNull},
    sync::atomic::{AtomicBool, Ordering::Relaxed},
};

/// The work of a NAPI instance.
pub trait Poll: Send + Sync + Sized {
    /// The state only the poll works on (and the control path, while the instance is
    /// disabled: [`Napi::with_state`]).
    type State: Send;

    /// Processes up to `ctx.budget()` units of work (received packets; transmit completions
    /// do not count) and returns how many it processed.
    ///
    /// Returning less than the budget ends the poll: once `poll` has returned, the adapter
    /// completes the instance (`napi_complete_done()`) and, if the core gave it up, calls
    /// [`Poll::rearm`]. Returning the budget (a value above it is taken as the budget) has the
    /// instance polled again.
    fn poll(&self, state: Pin<&mut Self::State>, ctx: &mut PollContext<'_>) -> u32;

    /// Called after a poll that did less than its budget was completed and the core gave up
    /// the instance (`napi_complete_done()` returned `true`): re-enables the device's
    /// interrupt. Not called when the instance stays scheduled (busy polling owns it, or a
    /// schedule came in meanwhile). Runs in softirq context; the instance may already be polled
    /// again on another CPU, which is why only the shared data is reachable here.
    fn rearm(&self) {}

    /// Cleans transmit rings for netpoll, which polls with a budget of 0, with interrupts off
    /// and possibly from a hard interrupt handler: only transmit completion is allowed there,
    /// which is all `ctx` offers. The default does nothing (netpoll then waits for the next
    /// regular poll to free room).
    fn poll_tx(&self, _state: Pin<&mut Self::State>, _ctx: &CleanContext<'_>) {}
}

/// The part of every [`Napi`] that does not depend on its data: what the device's `ndo_stop`
/// adapter needs to disable the instances a driver left enabled.
#[repr(C)]
struct Header {
    napi: Opaque<bindings::napi_struct>,
    enabled: AtomicBool,
    state_borrowed: AtomicBool,
}

/// A NAPI instance (`struct napi_struct`) with the data it polls.
///
/// # Invariants
///
/// - `hdr.napi` was added to the device whose private area holds `self`, with `T`'s poll
///   callback, and is deleted only when `self` is dropped, before the device is freed.
/// - `hdr.enabled` is whether `hdr.napi` is enabled; it changes only under RTNL or on drop.
/// - `state` is initialized and pinned until `self` is dropped. It is accessed only by the poll
///   (which owns the instance, so it is enabled), and under RTNL while the instance is disabled
///   with `hdr.state_borrowed` set; the instance is not enabled while `hdr.state_borrowed` is
///   set. It is dropped after the instance is disabled and before it is deleted.
#[repr(C)]
pub struct Napi<T: Poll> {
    hdr: Header,
    data: T,
    state: ManuallyDrop<UnsafeCell<T::State>>,
}

// SAFETY: The C core polls the instance on any CPU; `T` and `T::State` are `Send`.
unsafe impl<T: Poll> Send for Napi<T> {}

// SAFETY: Scheduling is allowed from any context, and enabling or disabling needs RTNL; `T`
// is `Sync`. `T::State` is only `Send`: it is reached by one context at a time (the poll, or
// the RTNL holder while the instance is disabled), never shared.
unsafe impl<T: Poll> Sync for Napi<T> {}

/// The kind of a device queue a NAPI instance serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueKind {
    /// A receive queue.
    Rx,
    /// A transmit queue.
    Tx,
}

impl<T: Poll> Napi<T> {
    /// Initializes a NAPI instance of `dev` with `data` and the poll's `state`
    /// (`netif_napi_add()`), disabled.
    ///
    /// Fails with `EINVAL` unless it is initialized inside the private data of `dev`, which
    /// ties its life to the device's: see
    /// [`Unregistered::new_with`](super::netdev::Unregistered::new_with).
    pub fn new<'a>(
        dev: &'a Device,
        data: impl PinInit<T, Error> + 'a,
        state: impl PinInit<T::State, Error> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        T: 'a,
    {
        let init = move |slot: *mut Self| {
            if !dev.holds(slot) {
                return Err(EINVAL);
            }
            let dev = dev.as_ptr();
            // SAFETY: `slot` is valid for writes of a `Self`, pinned, as the initializer contract
            // says.
            unsafe { data.__pinned_init(addr_of_mut!((*slot).data))? };
            // `ManuallyDrop` and `UnsafeCell` are `repr(transparent)`.
            // SAFETY: As above.
            let state_ptr = unsafe { addr_of_mut!((*slot).state) }.cast::<T::State>();
            // SAFETY: As above.
            if let Err(e) = unsafe { state.__pinned_init(state_ptr) } {
                // SAFETY: `data` was initialized above and is not used again.
                unsafe { core::ptr::drop_in_place(addr_of_mut!((*slot).data)) };
                return Err(e);
            }
            // SAFETY: As above; the NAPI structure is zeroed before it is added, as the C core
            // expects of one that is not in use. From here on nothing fails.
            unsafe {
                addr_of_mut!((*slot).hdr.enabled).write(AtomicBool::new(false));
                addr_of_mut!((*slot).hdr.state_borrowed).write(AtomicBool::new(false));
                let napi = Opaque::raw_get(addr_of_mut!((*slot).hdr.napi));
                napi.write_bytes(0, 1);
                bindings::netif_napi_add_weight(
                    dev,
                    napi,
                    Some(Self::poll_callback),
                    bindings::NAPI_POLL_WEIGHT as i32,
                );
            }
            // INVARIANT: Added to `dev`, in whose private area `slot` lies, disabled.
            Ok(())
        };
        // SAFETY: `init` initializes every field or fails with `data` dropped (or not
        // initialized) and nothing else done.
        unsafe { init::pin_init_from_closure(init) }
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::napi_struct {
        self.hdr.napi.get()
    }

    /// Returns where the poll's state lives, to recognise it.
    pub(crate) fn state_ptr(&self) -> *const T::State {
        self.state.get()
    }

    /// Returns the device the instance polls for.
    pub fn device(&self) -> &Device {
        // SAFETY: The instance is added to its device, which outlives it by the type
        // invariants; the pointer is set when it is added.
        unsafe { Device::from_raw((*self.as_ptr()).dev) }
    }

    /// Returns the data this instance polls.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// Returns the NAPI ID, by which user space and XDP receive queues name this instance
    /// (assigned when it is added; 0 without busy polling support).
    pub fn id(&self) -> u32 {
        // SAFETY: The instance is valid; the ID is set under RTNL and read with a single load.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.as_ptr()).napi_id)) }
    }

    /// Enables polling (`napi_enable()`); does nothing if enabled.
    ///
    /// Fails with `EBUSY` inside [`Napi::with_state`]: the poll must not run while the control
    /// path holds its state.
    pub fn enable(&self, _rtnl: &Rtnl) -> Result {
        if self.hdr.state_borrowed.load(Relaxed) {
            return Err(EBUSY);
        }
        if !self.hdr.enabled.load(Relaxed) {
            // SAFETY: The instance is added and disabled; RTNL serializes the state changes.
            unsafe { bindings::napi_enable(self.as_ptr()) };
            self.hdr.enabled.store(true, Relaxed);
        }
        Ok(())
    }

    /// Disables polling, waiting for a running poll to finish (`napi_disable()`) and for its
    /// [`Poll::rearm`]; does nothing if disabled. Sleeps.
    pub fn disable(&self, _rtnl: &Rtnl) {
        if self.hdr.enabled.load(Relaxed) {
            // SAFETY: The instance is added and enabled; RTNL serializes the state changes.
            unsafe { disable_raw(self.as_ptr()) };
            self.hdr.enabled.store(false, Relaxed);
        }
    }

    /// Returns whether the instance is enabled.
    pub fn is_enabled(&self) -> bool {
        self.hdr.enabled.load(Relaxed)
    }

    /// Runs `f` on the poll's state, from the control path: typically to set up a receive ring
    /// before [`Napi::enable`] and to tear it down after [`Napi::disable`].
    ///
    /// Fails with `EBUSY`, without calling `f`, if the instance is enabled (a poll may be
    /// running) or its state is already borrowed (a nested call).
    pub fn with_state<R>(
        &self,
        _rtnl: &Rtnl,
        f: impl FnOnce(Pin<&mut T::State>) -> R,
    ) -> Result<R> {
        if self.hdr.enabled.load(Relaxed) || self.hdr.state_borrowed.load(Relaxed) {
            return Err(EBUSY);
        }
        // Reset on the way out, also if `f` panics.
        struct Borrow<'a>(&'a AtomicBool);
        impl Drop for Borrow<'_> {
            fn drop(&mut self) {
                self.0.store(false, Relaxed);
            }
        }
        self.hdr.state_borrowed.store(true, Relaxed);
        let _borrow = Borrow(&self.hdr.state_borrowed);
        // SAFETY: By the type invariants the state is initialized. The instance is disabled, so
        // no poll runs (`napi_disable()` waited for the last one), and it cannot be enabled
        // while `state_borrowed` is set; RTNL, which every other caller holds, and the flag
        // exclude any other control-path access. The state is pinned inside the instance.
        Ok(f(unsafe { Pin::new_unchecked(&mut *self.state.get()) }))
    }

    /// Schedules a poll (`napi_schedule()`); returns `false` if one was already scheduled or
    /// the instance is disabled. Allowed in any context, typically the device's interrupt.
    /// From task context with interrupts on, the poll runs before this returns (bottom halves
    /// are disabled around the schedule, so that the raised softirq is not left pending); with
    /// interrupts off, `ksoftirqd` runs it (bottom halves cannot be enabled there).
    pub fn schedule(&self) -> bool {
        // SAFETY: The instance is added; scheduling is allowed in any context, and a disabled
        // instance refuses it.
        if !unsafe { bindings::napi_schedule_prep(self.as_ptr()) } {
            return false;
        }
        // SAFETY: FFI calls without requirements.
        let (task, irqs_off) = unsafe { (bindings::in_task(), bindings::irqs_disabled()) };
        // SAFETY: The instance is added and scheduled (`napi_schedule_prep()` succeeded). The
        // `irqoff` variant runs only with interrupts off; bottom halves are disabled and
        // enabled again only in task context with interrupts on, as `local_bh_enable()` needs.
        // In task context with interrupts off, raising the softirq (`raise_softirq_irqoff()`)
        // wakes `ksoftirqd`.
        unsafe {
            if irqs_off {
                bindings::__napi_schedule_irqoff(self.as_ptr());
            } else if task {
                bindings::local_bh_disable();
                bindings::__napi_schedule(self.as_ptr());
                bindings::local_bh_enable();
            } else {
                bindings::__napi_schedule(self.as_ptr());
            }
        }
        true
    }

    /// Schedules a poll as [`Napi::schedule`] does (the name of the C variant for handlers that
    /// run with interrupts off; both pick the right path themselves).
    pub fn schedule_irqoff(&self) -> bool {
        self.schedule()
    }

    /// Records the interrupt line that schedules this instance, for user space
    /// (`netif_napi_set_irq()`); `None` clears it.
    pub fn set_irq(&self, _rtnl: &Rtnl, irq: Option<u32>) {
        let irq = irq.and_then(|i| i32::try_from(i).ok()).unwrap_or(-1);
        // SAFETY: The instance is valid; RTNL serializes writers, and readers hold RTNL too.
        unsafe { (*self.as_ptr()).irq = irq };
    }

    /// Links queue `index` of kind `kind` of the instance's device to this instance, so that
    /// the netdev netlink family reports which NAPI serves which queue
    /// (`netif_queue_set_napi()`). Fails with `EINVAL` if the device has no such queue.
    pub fn set_queue(&self, _rtnl: &Rtnl, kind: QueueKind, index: u32) -> Result {
        // SAFETY: The instance is added to `dev`, which outlives it by the type invariants.
        let dev = unsafe { (*self.as_ptr()).dev };
        // SAFETY: `dev` is valid; the counts are fixed at allocation.
        let (count, kind) = unsafe {
            match kind {
                QueueKind::Rx => (
                    (*dev).num_rx_queues,
                    bindings::netdev_queue_type_NETDEV_QUEUE_TYPE_RX,
                ),
                QueueKind::Tx => (
                    (*dev).num_tx_queues,
                    bindings::netdev_queue_type_NETDEV_QUEUE_TYPE_TX,
                ),
            }
        };
        if index >= count {
            return Err(EINVAL);
        }
        // SAFETY: The queue exists and RTNL is held. The queue keeps a pointer to the instance,
        // which lives in the device's private data: it is read only while the device is
        // registered, and the instance is dropped only after the device is unregistered.
        unsafe { bindings::netif_queue_set_napi(dev, index, kind, self.as_ptr()) };
        Ok(())
    }

    /// # Safety
    ///
    /// Called by the C core with an instance added by [`Napi::new`] for `T`: from its poll
    /// context (softirq, a NAPI thread with bottom halves off, or busy polling with bottom
    /// halves off), owning the instance (`NAPI_STATE_SCHED`), with a non-zero budget; or from
    /// netpoll with a budget of 0 and interrupts off, holding `NAPI_STATE_NPSVC` and the
    /// instance's `poll_owner`.
    unsafe extern "C" fn poll_callback(
        napi: *mut bindings::napi_struct,
        budget: crate::ffi::c_int,
    ) -> crate::ffi::c_int {
        // SAFETY: `napi` is the first field of a `Napi<T>` (`repr(C)`, `Header` first), by the
        // safety requirements.
        let this = unsafe { &*napi.cast::<Self>() };
        let budget = u32::try_from(budget).unwrap_or(0);
        // SAFETY: The state is initialized. A poll with a budget owns the instance, which is
        // therefore enabled, so the control path does not hold the state (`with_state` needs it
        // disabled) and no other such poll runs. netpoll holds `NAPI_STATE_NPSVC`, which
        // `napi_disable()` waits for (so the state is not the control path's either), and the
        // instance's `poll_owner`, which the softirq's, threads' and busy polling's polls take
        // too once netpoll is set up on the device (`netpoll_poll_lock()`): one poll at a time.
        // The borrow ends before the instance is given up. The state is pinned inside the
        // instance.
        let state = unsafe { Pin::new_unchecked(&mut *this.state.get()) };
        if budget == 0 {
            // INVARIANT: netpoll's poll, budget 0.
            let ctx = CleanContext {
                napi,
                budget: 0,
                _p: PhantomData,
            };
            T::poll_tx(&this.data, state, &ctx);
            return 0;
        }
        // INVARIANT: A poll with a non-zero budget, in softirq context.
        let mut ctx = PollContext {
            clean: CleanContext {
                napi,
                budget,
                _p: PhantomData,
            },
            // SAFETY: Every caller of a poll with a non-zero budget (the softirq, NAPI threads
            // and busy polling) disables bottom halves and installs a `bpf_net_context`.
            xdp: unsafe { RunContext::assume() },
        };
        let work = T::poll(&this.data, state, &mut ctx).min(budget);
        // Redirects queued in this poll go out before the instance is given up.
        ctx.xdp.flush();
        // The state's borrow ended with the poll: completing gives up the instance, which may
        // be polled again on another CPU at once.
        // SAFETY: This poll owns the instance and did less work than its budget.
        if work < budget && unsafe { bindings::napi_complete_done(napi, work as i32) } {
            T::rearm(&this.data);
        }
        work as crate::ffi::c_int
    }
}

/// Runs `f` with bottom halves off: no softirq (a NAPI poll among them) runs on this CPU
/// meanwhile, so `f` may take locks that softirqs take too, and update counters that softirqs
/// update. With interrupts off (netpoll) or in a hard interrupt, softirqs cannot run anyway and
/// bottom halves must not be enabled again: `f` then runs as it is.
///
/// `f` must not sleep, and must leave the interrupt state as it found it.
pub fn bh_off<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: FFI calls without requirements.
    if unsafe { bindings::irqs_disabled() || bindings::in_hardirq() } {
        return f();
    }
    // SAFETY: Balanced below, where enabling bottom halves again is allowed: interrupts are on
    // and this is not a hard interrupt.
    unsafe { bindings::local_bh_disable() };
    let r = f();
    // SAFETY: Balances the call above; pending softirqs run here.
    unsafe { bindings::local_bh_enable() };
    r
}

/// Disables the instance `napi` (`napi_disable()`), then waits for a re-arm that may still be
/// running: `napi_complete_done()` gives the instance up before the adapter calls
/// [`Poll::rearm`], so `napi_disable()` can return meanwhile. Every poll runs with bottom halves
/// off, an RCU read-side critical section, which `synchronize_net()` waits for.
///
/// # Safety
///
/// `napi` must be added and enabled, and the caller must serialize state changes (RTNL) and be
/// allowed to sleep.
unsafe fn disable_raw(napi: *mut bindings::napi_struct) {
    // SAFETY: By the safety requirements.
    unsafe { bindings::napi_disable(napi) };
    // SAFETY: Process context, by the safety requirements.
    unsafe { bindings::synchronize_net() };
}

/// Returns whether the instance `napi` is enabled.
///
/// # Safety
///
/// `napi` must be the instance of a live [`Napi`].
pub(crate) unsafe fn is_enabled_raw(napi: *mut bindings::napi_struct) -> bool {
    // SAFETY: By the safety requirements `napi` is the start of the `Header` of a `Napi`.
    unsafe { (*napi.cast::<Header>()).enabled.load(Relaxed) }
}

/// Disables the NAPI instances of `dev` that are still enabled.
///
/// # Safety
///
/// `dev` must be a device whose instances were all added by [`Napi::new`], and RTNL held.
pub(crate) unsafe fn disable_all(dev: *mut bindings::net_device) {
    // SAFETY: `napi_list` is a valid list, changed only under RTNL, which is held.
    let head = unsafe { core::ptr::addr_of_mut!((*dev).napi_list) };
    // SAFETY: As above.
    let mut pos = unsafe { (*head).next };
    while pos != head {
        // SAFETY: Every entry is the `dev_list` of a `napi_struct` that is the `Header` of a
        // `Napi`, by the safety requirements.
        let hdr = unsafe {
            &*crate::container_of!(pos, bindings::napi_struct, dev_list).cast::<Header>()
        };
        if hdr.enabled.load(Relaxed) {
            // SAFETY: The instance is enabled; RTNL serializes the state changes, and the
            // device's `ndo_stop` runs in process context.
            unsafe { disable_raw(hdr.napi.get()) };
            hdr.enabled.store(false, Relaxed);
        }
        // SAFETY: As above.
        pos = unsafe { (*pos).next };
    }
}

impl<T: Poll> Drop for Napi<T> {
    fn drop(&mut self) {
        // SAFETY: The instance is added. Dropping happens in process context, when the device's
        // private data is freed: disabling (if needed) waits for a running poll, and deleting
        // waits for an RCU grace period, after which nothing refers to the instance.
        unsafe {
            if *self.hdr.enabled.get_mut() {
                disable_raw(self.as_ptr());
            }
        }
        // SAFETY: The state is initialized and, with the instance disabled, no longer used. It
        // goes before the instance is deleted: page pools bound to the instance must be
        // destroyed first, as in C.
        unsafe { ManuallyDrop::drop(&mut self.state) };
        // SAFETY: As above.
        unsafe { bindings::netif_napi_del(self.as_ptr()) };
    }
}

/// The evidence of running as a NAPI instance's poll, owning the instance, with what every
/// poll may do: clean transmit rings.
///
/// A poll with a budget gets it as part of its [`PollContext`] (which dereferences to it);
/// netpoll's polls, with a budget of 0, interrupts off and possibly in hard interrupt context,
/// get only this ([`Poll::poll_tx`]). Not `Send`, and does not outlive the call.
///
/// # Invariants
///
/// `napi` is the instance being polled, with `budget`, by the only poll that runs: its owner
/// (`NAPI_STATE_SCHED`), or netpoll (`NAPI_STATE_NPSVC` and `poll_owner`) with a budget of 0.
pub struct CleanContext<'a> {
    napi: *mut bindings::napi_struct,
    budget: u32,
    _p: PhantomData<&'a ()>,
}

impl CleanContext<'_> {
    /// Returns the instance being polled.
    pub(crate) fn napi_ptr(&self) -> *mut bindings::napi_struct {
        self.napi
    }

    /// Returns the budget of this poll: the most units of work it may process; 0 for netpoll,
    /// which allows transmit completions only.
    pub fn budget(&self) -> u32 {
        self.budget
    }

    /// Returns whether this is netpoll's poll (a budget of 0): interrupts are off, possibly in
    /// hard interrupt context, where only what this type offers is allowed; XDP frames, whose
    /// pages go back with bottom-half locks, are left for the next regular poll.
    pub fn is_netpoll(&self) -> bool {
        self.budget == 0
    }

    /// Returns the device the instance polls for.
    pub fn device(&self) -> &Device {
        // SAFETY: The instance is added to its device, which lives at least as long as it, and
        // so during the poll.
        unsafe { Device::from_raw((*self.napi).dev) }
    }

    /// Frees a transmitted packet (`napi_consume_skb()`): into the per-CPU NAPI cache in a
    /// poll with a budget; for netpoll, through the any-context path, which defers the free
    /// when interrupts are off. Drops this user's reference (other users keep theirs).
    pub fn consume_tx_skb(&self, skb: TxSkb) {
        let skb = core::mem::ManuallyDrop::new(skb);
        // SAFETY: We held one reference, which the call takes. With a non-zero budget this is
        // softirq context; with a budget of 0 (netpoll, interrupts off, maybe hard interrupt
        // context) the C function calls `dev_consume_skb_any()`, which allows any context.
        unsafe { bindings::napi_consume_skb(skb.as_ptr(), self.budget as i32) }
    }
}

/// The evidence of running as a NAPI instance's poll with a budget: softirq context (or bottom
/// halves off), owning the instance.
///
/// Given to [`Poll::poll`]; not `Send`, and does not outlive the call. Dereferences to the
/// [`CleanContext`] every poll has.
///
/// # Invariants
///
/// `clean.budget` is not 0.
pub struct PollContext<'a> {
    clean: CleanContext<'a>,
    xdp: RunContext,
}

impl<'a> core::ops::Deref for PollContext<'a> {
    type Target = CleanContext<'a>;

    fn deref(&self) -> &CleanContext<'a> {
        &self.clean
    }
}

/// What [`PollContext::gro_receive`] did with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroResult {
    /// Merged into a packet GRO holds.
    Merged,
    /// Merged, and this skb freed.
    MergedFree,
    /// Held by GRO to be merged with packets that follow.
    Held,
    /// Passed up the stack as it is.
    Normal,
    /// Dropped.
    Drop,
    /// Consumed by GRO.
    Consumed,
}

impl PollContext<'_> {
    /// Allocates an skb for `len` bytes from the per-CPU NAPI cache (`napi_alloc_skb()`), with
    /// the usual headroom and the device set.
    ///
    /// Fails with `ENOMEM`, and with `EINVAL` for lengths from 1 GiB on.
    pub fn alloc_skb(&self, len: u32) -> Result<SkBuff> {
        if len >= 1 << 30 {
            return Err(EINVAL);
        }
        // SAFETY: Softirq context, as `napi_alloc_skb()` requires; the instance is valid.
        let skb = unsafe { bindings::napi_alloc_skb(self.napi, len) };
        // SAFETY: A new skb with a single reference, which we take.
        Ok(unsafe { SkBuff::from_raw(NonNull::new(skb).ok_or(ENOMEM)?) })
    }

    /// Builds an skb around a page-pool buffer as [`SkBuff::build`] does, with the head from
    /// the per-CPU NAPI cache (`napi_build_skb()`).
    pub fn build_skb(&self, page: PoolPage, headroom: u32, len: u32) -> Result<SkBuff, BuildError> {
        // SAFETY: Softirq context, as `napi_build_skb()` requires.
        unsafe { SkBuff::build_with(page, headroom, len, bindings::napi_build_skb) }
    }

    /// Frees a packet that was handled successfully, into the per-CPU NAPI cache
    /// (`napi_consume_skb()`).
    pub fn consume_skb(&self, skb: SkBuff) {
        let skb = skb.into_raw();
        // SAFETY: We owned the only reference. Softirq context, with a non-zero budget by the
        // type invariants.
        unsafe { bindings::napi_consume_skb(skb.as_ptr(), self.budget as i32) }
    }

    /// Parses the Ethernet header of a received frame, as [`SkBuff::eth_type_trans`] does,
    /// for this instance's device.
    pub fn eth_type_trans(&self, skb: &mut SkBuff) -> Result<u16> {
        // SAFETY: Every received skb refers to its device, as in C. Unregistering closes the
        // device, which disables this instance (the `ndo_stop` adapter), then flushes the
        // backlogs and waits for an RCU grace period, so no skb from this poll is in flight
        // when the device goes away.
        unsafe { skb.eth_type_trans(self.device()) }
    }

    /// Hands a received packet to GRO (`napi_gro_receive()`).
    ///
    /// The packet must have been parsed for this instance's device
    /// ([`PollContext::eth_type_trans`]); otherwise it is dropped.
    pub fn gro_receive(&mut self, skb: SkBuff) -> GroResult {
        // SAFETY: The skb is valid and ours. `dev` shares a union with a scratch word that only
        // the stack's layers use, on skbs that are theirs.
        let dev = unsafe {
            (*skb.as_ptr())
                .__bindgen_anon_1
                .__bindgen_anon_1
                .__bindgen_anon_1
                .dev
        };
        if dev != self.device().as_ptr() {
            skb.drop_reason(DropReason::NotSpecified);
            return GroResult::Drop;
        }
        let skb = skb.into_raw().as_ptr();
        // SAFETY: This poll owns the instance; GRO takes the skb.
        match unsafe { bindings::napi_gro_receive(self.napi, skb) } {
            bindings::gro_result_GRO_MERGED => GroResult::Merged,
            bindings::gro_result_GRO_MERGED_FREE => GroResult::MergedFree,
            bindings::gro_result_GRO_HELD => GroResult::Held,
            bindings::gro_result_GRO_NORMAL => GroResult::Normal,
            bindings::gro_result_GRO_CONSUMED => GroResult::Consumed,
            _ => GroResult::Drop,
        }
    }

    /// Returns the context for running XDP programs and redirecting. Redirects are flushed when
    /// the poll returns, before the instance is completed.
    pub fn xdp(&self) -> &RunContext {
        &self.xdp
    }
}

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
pub(crate) mod tests;
