// SPDX-License-Identifier: GPL-2.0

//! XDP: running BPF programs on received buffers before any skb exists.
//!
//! C headers: [`include/net/xdp.h`](srctree/include/net/xdp.h),
//! [`include/linux/filter.h`](srctree/include/linux/filter.h)
//!
//! - [`RxqInfo`] registers a receive queue with the XDP core, with the page-pool memory model.
//! - [`ProgSlot`] is the RCU-protected attach point of a program ([`Prog`]) that `ndo_bpf`
//!   updates; readers borrow the program for the length of an RCU read-side section.
//! - [`XdpBuff`] owns a page-pool buffer while a program runs on it and, afterwards, hands the
//!   buffer on as the verdict requires: back as a buffer (pass, drop), as an [`XdpFrame`] (to
//!   transmit), or to `xdp_do_redirect()`.
//! - Programs run, and buffers are redirected, only under a [`RunContext`]: bottom halves off and
//!   a `bpf_net_context` installed, which is what the NAPI poll loop provides. Redirects are
//!   flushed before the context ends.

use crate::{
    bindings,
    error::{code::*, to_result, Error, Result},
    init::{pin_init_from_closure, PinInit},
    net::{netdev::Device, page_pool::PagePool, page_pool::PoolPage, skbuff::SHARED_INFO_SIZE},
    sync::rcu,
    types::Opaque,
};
use core::{
    marker::PhantomData,
    ptr::{self, NonNull},
    slice,
    sync::atomic::{AtomicPtr, Ordering},
};

/// The headroom XDP programs may grow packets into (`XDP_PACKET_HEADROOM`).
pub const PACKET_HEADROOM: u32 = bindings::XDP_PACKET_HEADROOM;

/// The verdict of an XDP program (`enum xdp_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The program failed; drop the packet and trace the exception.
    Aborted,
    /// Drop the packet.
    Drop,
    /// Hand the packet to the stack.
    Pass,
    /// Transmit the packet back out of the receiving device.
    Tx,
    /// Send the packet where the program's redirect helper pointed.
    Redirect,
}

impl Action {
    fn from_raw(act: u32) -> Option<Self> {
        match act {
            bindings::xdp_action_XDP_ABORTED => Some(Self::Aborted),
            bindings::xdp_action_XDP_DROP => Some(Self::Drop),
            bindings::xdp_action_XDP_PASS => Some(Self::Pass),
            bindings::xdp_action_XDP_TX => Some(Self::Tx),
            bindings::xdp_action_XDP_REDIRECT => Some(Self::Redirect),
            _ => None,
        }
    }

    /// Returns the C value of the verdict.
    pub fn as_raw(self) -> u32 {
        match self {
            Self::Aborted => bindings::xdp_action_XDP_ABORTED,
            Self::Drop => bindings::xdp_action_XDP_DROP,
            Self::Pass => bindings::xdp_action_XDP_PASS,
            Self::Tx => bindings::xdp_action_XDP_TX,
            Self::Redirect => bindings::xdp_action_XDP_REDIRECT,
        }
    }
}

/// A BPF program: one reference on a `struct bpf_prog`, put on drop.
///
/// # Invariants
///
/// `ptr` is a valid program on which this value owns one reference.
pub struct Prog {
    ptr: NonNull<bindings::bpf_prog>,
}

// SAFETY: Program references are taken and put from any context.
unsafe impl Send for Prog {}

// SAFETY: A program can be run by several threads at once.
unsafe impl Sync for Prog {}

impl Prog {
    /// Takes over one reference on a program.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid program on which the caller owns a reference (as `ndo_bpf` hands
    /// over with `XDP_SETUP_PROG`); the reference passes to the new value. It must be an XDP
    /// program (`BPF_PROG_TYPE_XDP`) for the receive path (not a devmap or cpumap program) and
    /// not bound to another device, which the C core checks before `ndo_bpf` sees it.
    pub unsafe fn from_raw(ptr: NonNull<bindings::bpf_prog>) -> Self {
        // INVARIANT: By the safety requirements of this function.
        Self { ptr }
    }

    /// Returns the raw pointer to the program.
    pub fn as_ptr(&self) -> *mut bindings::bpf_prog {
        self.ptr.as_ptr()
    }
}

impl Clone for Prog {
    fn clone(&self) -> Self {
        // SAFETY: By the type invariants the program is valid and we hold a reference.
        unsafe { bindings::bpf_prog_inc(self.as_ptr()) };
        // INVARIANT: We took a new reference.
        Self { ptr: self.ptr }
    }
}

impl Drop for Prog {
    /// Puts the reference; the last one frees the program after an RCU grace period.
    ///
    /// From process context the last put may sleep: do not drop a [`Prog`] inside an RCU
    /// read-side section or under a spinlock (softirq and hard IRQ context defer the work).
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own a reference. `bpf_prog_put()` frees the program
        // only after an RCU grace period.
        unsafe { bindings::bpf_prog_put(self.as_ptr()) };
    }
}

/// A program borrowed from a [`ProgSlot`] for an RCU read-side section (or from a [`Prog`]).
#[derive(Clone, Copy)]
pub struct ProgRef<'a> {
    ptr: NonNull<bindings::bpf_prog>,
    _p: PhantomData<&'a Prog>,
}

impl<'a> ProgRef<'a> {
    /// Borrows an owned program.
    pub fn new(prog: &'a Prog) -> Self {
        Self {
            ptr: prog.ptr,
            _p: PhantomData,
        }
    }

    /// Returns the raw pointer to the program.
    pub fn as_ptr(&self) -> *mut bindings::bpf_prog {
        self.ptr.as_ptr()
    }
}

/// The attach point of an XDP program, read under RCU and replaced with [`ProgSlot::replace`].
///
/// # Invariants
///
/// `ptr` is null or a program on which the slot owns one reference.
pub struct ProgSlot {
    ptr: AtomicPtr<bindings::bpf_prog>,
}

impl ProgSlot {
    /// Creates an empty slot.
    pub const fn new() -> Self {
        Self {
            ptr: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Installs `prog` (or detaches with `None`) and returns the previous program.
    ///
    /// Readers inside an RCU read-side section may still use the previous program; dropping it
    /// is safe because the C core frees programs only after a grace period (but drop it outside
    /// read-side sections: see [`Prog`]'s `Drop`).
    pub fn replace(&self, prog: Option<Prog>) -> Option<Prog> {
        let new = prog.map_or(ptr::null_mut(), |p| {
            let p = core::mem::ManuallyDrop::new(p);
            p.ptr.as_ptr()
        });
        // Release pairs with the acquire in `get()`, like `rcu_assign_pointer()`.
        // INVARIANT: The slot takes over the reference of `prog`, and hands out the old one.
        let old = self.ptr.swap(new, Ordering::AcqRel);
        // SAFETY: By the type invariants the slot owned a reference on `old`, now ours.
        NonNull::new(old).map(|p| unsafe { Prog::from_raw(p) })
    }

    /// Returns the attached program, borrowed for the RCU read-side section of `_guard`.
    pub fn get<'a>(&'a self, _guard: &'a rcu::Guard) -> Option<ProgRef<'a>> {
        // Acquire pairs with the release in `replace()`, like `rcu_dereference()`.
        let p = self.ptr.load(Ordering::Acquire);
        // The program stays valid until the end of the read-side section even if it is
        // replaced meanwhile: its memory is freed only after a grace period.
        NonNull::new(p).map(|ptr| ProgRef {
            ptr,
            _p: PhantomData,
        })
    }

    /// Returns `true` if a program is attached.
    pub fn is_attached(&self) -> bool {
        !self.ptr.load(Ordering::Relaxed).is_null()
    }
}

impl Default for ProgSlot {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ProgSlot {
    fn drop(&mut self) {
        drop(self.replace(None));
    }
}

/// The XDP features of a net device (`xdp_features_t`, `NETDEV_XDP_ACT_*`), as user space
/// reads them through the netdev netlink family.
///
/// # Examples
///
/// ```
/// use kernel::net::xdp::Features;
///
/// let f = Features::BASIC | Features::REDIRECT;
/// assert!(f.contains(Features::BASIC));
/// assert!(!f.contains(Features::NDO_XMIT));
/// assert_eq!(Features::from_raw(f.as_raw()), f);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features(u32);

impl Features {
    /// No XDP support.
    pub const NONE: Self = Self(0);
    /// Runs programs natively: pass, drop, aborted, and `XDP_TX` (`NETDEV_XDP_ACT_BASIC`).
    pub const BASIC: Self = Self(bindings::netdev_xdp_act_NETDEV_XDP_ACT_BASIC);
    /// Carries out `XDP_REDIRECT` (`NETDEV_XDP_ACT_REDIRECT`).
    pub const REDIRECT: Self = Self(bindings::netdev_xdp_act_NETDEV_XDP_ACT_REDIRECT);
    /// Transmits frames redirected to it (`ndo_xdp_xmit`, `NETDEV_XDP_ACT_NDO_XMIT`).
    pub const NDO_XMIT: Self = Self(bindings::netdev_xdp_act_NETDEV_XDP_ACT_NDO_XMIT);
    /// Runs programs on multi-buffer frames (`NETDEV_XDP_ACT_RX_SG`).
    pub const RX_SG: Self = Self(bindings::netdev_xdp_act_NETDEV_XDP_ACT_RX_SG);
    /// Transmits redirected multi-buffer frames (`NETDEV_XDP_ACT_NDO_XMIT_SG`).
    pub const NDO_XMIT_SG: Self = Self(bindings::netdev_xdp_act_NETDEV_XDP_ACT_NDO_XMIT_SG);

    /// Creates the set from the raw C bits, dropping unknown ones.
    pub fn from_raw(bits: u32) -> Self {
        Self(bits & bindings::netdev_xdp_act_NETDEV_XDP_ACT_MASK)
    }

    /// Returns the raw C bits.
    pub fn as_raw(self) -> u32 {
        self.0
    }

    /// Returns whether every feature of `other` is in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for Features {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// The frames the core hands to a driver's `ndo_xdp_xmit`, taken in order.
///
/// Frames the driver takes are its own (to transmit, or to drop); the core frees those left,
/// after the last one taken, as `ndo_xdp_xmit` requires.
///
/// # Invariants
///
/// `frames[taken..]` are valid frames owned by the core until taken.
pub struct XmitFrames<'a> {
    frames: &'a [*mut bindings::xdp_frame],
    taken: usize,
}

impl<'a> XmitFrames<'a> {
    /// # Safety
    ///
    /// `frames` must be valid frames whose ownership the caller passes on, in order, to those
    /// taken; the caller frees the rest, from [`XmitFrames::taken`] on.
    pub(crate) unsafe fn new(frames: &'a [*mut bindings::xdp_frame]) -> Self {
        Self { frames, taken: 0 }
    }

    /// Returns how many frames were taken.
    pub fn taken(&self) -> usize {
        self.taken
    }

    /// Returns how many frames are left.
    pub fn remaining(&self) -> usize {
        self.frames.len() - self.taken
    }
}

impl Iterator for XmitFrames<'_> {
    type Item = XdpFrame;

    fn next(&mut self) -> Option<XdpFrame> {
        let ptr = NonNull::new(*self.frames.get(self.taken)?)?;
        self.taken += 1;
        // SAFETY: By the type invariants the frame is valid and the core's until taken, now.
        Some(unsafe { XdpFrame::from_raw(ptr) })
    }
}

/// Evidence that XDP programs can run and buffers can be redirected on this CPU: bottom halves
/// are off and a `bpf_net_context` is installed for the task.
///
/// The NAPI poll loop provides that context; [`RunContext::with`] sets it up elsewhere.
pub struct RunContext {
    _not_send: PhantomData<*mut ()>,
}

impl RunContext {
    /// Runs `f` in a run context: disables bottom halves, installs a `bpf_net_context` (unless
    /// the task has one), and flushes pending redirects (`xdp_do_flush()`, also those of a
    /// context it found installed) before undoing both.
    ///
    /// Frames returned while `f` runs never go straight into a page pool's lockless cache
    /// (`xdp_set_return_frame_no_direct()`): this context is not the pools' NAPI context.
    ///
    /// Fails with `EINVAL`, without calling `f`, in hard interrupt context or with interrupts
    /// disabled: bottom halves cannot be enabled again there.
    pub fn with<R>(f: impl FnOnce(&RunContext) -> R) -> Result<R> {
        // SAFETY: FFI calls without requirements.
        if unsafe { bindings::irqs_disabled() || bindings::in_hardirq() } {
            return Err(EINVAL);
        }
        // SAFETY: All-zeroes is the state `bpf_net_ctx_set()` expects of a new context.
        let mut net_ctx: bindings::bpf_net_context = unsafe { core::mem::zeroed() };
        // SAFETY: Balanced below, where enabling them is allowed: interrupts are on and this is
        // not a hard interrupt.
        unsafe { bindings::local_bh_disable() };
        // SAFETY: `net_ctx` outlives its installation, which ends below, before it goes away.
        let installed = unsafe { bindings::bpf_net_ctx_set(&mut net_ctx) };
        // SAFETY: A net context is installed (ours or the task's); the flag is restored below.
        let no_direct = unsafe { bindings::xdp_return_frame_no_direct() };
        // SAFETY: As above.
        unsafe { bindings::xdp_set_return_frame_no_direct() };
        let ctx = RunContext {
            _not_send: PhantomData,
        };
        let ret = f(&ctx);
        // SAFETY: Bottom halves are off and a context is installed. The redirects `f` queued
        // are flushed here even in a context this did not install: its owner need not flush
        // (`net_rx_action()` does not), and a queue left on its lists would outlive it.
        unsafe { bindings::xdp_do_flush() };
        // SAFETY: Restores the flag, undoes `bpf_net_ctx_set()` (a no-op if it installed
        // nothing), then enables bottom halves again.
        unsafe {
            if !no_direct {
                bindings::xdp_clear_return_frame_no_direct();
            }
            bindings::bpf_net_ctx_clear(installed);
            bindings::local_bh_enable();
        }
        Ok(ret)
    }

    /// Creates the evidence for code already running in the context.
    ///
    /// # Safety
    ///
    /// Bottom halves must be disabled and a `bpf_net_context` installed for the current task
    /// for the lifetime of the returned value (as inside a NAPI poll), and frames returned
    /// directly (without `BPF_RI_F_RF_NO_DIRECT`) must belong to pools this context may recycle
    /// into: those of the NAPI instance being polled.
    pub(crate) unsafe fn assume() -> Self {
        Self {
            _not_send: PhantomData,
        }
    }

    /// Flushes the redirects queued so far (`xdp_do_flush()`), as at the end of a NAPI poll.
    pub fn flush(&self) {
        // SAFETY: The context guarantees bottom halves are off and a net context installed.
        unsafe { bindings::xdp_do_flush() };
    }
}

/// Reports an XDP exception on `dev` (`trace_xdp_exception()`): an aborted program, or a
/// verdict that could not be carried out, such as a frame that could not be transmitted.
pub fn trace_exception(dev: &Device, prog: ProgRef<'_>, action: Action) {
    // SAFETY: The device and the program are valid; the tracepoint only reads them.
    unsafe { bindings::trace_xdp_exception(dev.as_ptr(), prog.as_ptr(), action.as_raw()) };
}

/// The XDP registration of a receive queue (`struct xdp_rxq_info`), with the page-pool memory
/// model; unregistered on drop.
///
/// # Invariants
///
/// `inner` is registered, with the page pool `pool` as its memory model, until dropped.
pub struct RxqInfo {
    inner: Opaque<bindings::xdp_rxq_info>,
    pool: *mut bindings::page_pool,
}

// SAFETY: The registration is read concurrently by XDP and unregistered from any process context.
unsafe impl Sync for RxqInfo {}

// SAFETY: See above.
unsafe impl Send for RxqInfo {}

impl RxqInfo {
    /// Registers queue `queue` of `dev`, polled by the NAPI instance `napi_id` (0 if none),
    /// whose buffers come from `pool`. Registering and unregistering may sleep.
    ///
    /// The registration keeps the pool in use: the C pool is destroyed only when both its
    /// handle and this registration are gone.
    ///
    /// # Safety
    ///
    /// `dev` must stay valid while the registration exists and while frames received on the
    /// queue are in flight (the device's own teardown order ensures it for a driver's queues).
    pub unsafe fn new<'a>(
        dev: &'a Device,
        queue: u32,
        napi_id: u32,
        pool: &'a PagePool,
    ) -> impl PinInit<Self, Error> + 'a {
        let init = move |this: *mut Self| {
            // SAFETY: `this` is valid for writes.
            let slot = Opaque::raw_get(unsafe { ptr::addr_of_mut!((*this).inner) });
            // SAFETY: `this` is valid for writes.
            unsafe { ptr::addr_of_mut!((*this).pool).write(pool.as_ptr()) };
            // SAFETY: `slot` is valid for writes; all-zeroes is the state a new registration
            // must start from (`REG_STATE_NEW`).
            unsafe { slot.write_bytes(0, 1) };
            // SAFETY: `slot` is a zeroed `xdp_rxq_info` that stays pinned; `dev` is valid.
            to_result(unsafe {
                bindings::__xdp_rxq_info_reg(slot, dev.as_ptr(), queue, napi_id, 0)
            })?;
            // SAFETY: `slot` was just registered; the pool is valid and gains a user.
            let ret = unsafe {
                bindings::xdp_rxq_info_reg_mem_model(
                    slot,
                    bindings::xdp_mem_type_MEM_TYPE_PAGE_POOL,
                    pool.as_ptr().cast(),
                )
            };
            if let Err(e) = to_result(ret) {
                // SAFETY: Undo the registration on failure.
                unsafe { bindings::xdp_rxq_info_unreg(slot) };
                return Err(e);
            }
            // INVARIANT: Registered with `pool` as the memory model.
            Ok(())
        };
        // SAFETY: On success the closure registered the info in place; on error it left
        // nothing registered. The info is not moved once registered (it is pinned).
        unsafe { pin_init_from_closure(init) }
    }

    /// Returns the raw pointer to the registration.
    pub fn as_ptr(&self) -> *mut bindings::xdp_rxq_info {
        self.inner.get()
    }
}

impl Drop for RxqInfo {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the info is registered; unregistering also releases
        // the memory model's use of the page pool.
        unsafe { bindings::xdp_rxq_info_unreg(self.as_ptr()) };
    }
}

/// An error that gives the buffer back.
pub struct BuffError {
    /// What went wrong.
    pub error: Error,
    /// The buffer, still owned.
    pub page: PoolPage,
}

/// A page-pool buffer prepared for an XDP program (`struct xdp_buff`).
///
/// Owns the buffer; the data window is what the program left (it may move the head and tail).
pub struct XdpBuff<'a> {
    raw: bindings::xdp_buff,
    page: PoolPage,
    _rxq: PhantomData<&'a RxqInfo>,
}

impl<'a> XdpBuff<'a> {
    /// Prepares `len` bytes at `headroom` in `page`, received on `rxq`
    /// (`xdp_init_buff()` and `xdp_prepare_buff()`, without metadata).
    ///
    /// The buffer must come from the queue's page pool, leave [`SHARED_INFO_SIZE`] bytes of
    /// tailroom (as XDP and skbs built later expect), and be at most 64 KiB plus that tailroom
    /// (frames record headroom and length in 16 bits); otherwise it is given back with `EINVAL`.
    pub fn new(
        mut page: PoolPage,
        rxq: &'a RxqInfo,
        headroom: u32,
        len: u32,
    ) -> Result<Self, BuffError> {
        if page.pool_ptr() != rxq.pool
            || page.len() > usize::from(u16::MAX) + SHARED_INFO_SIZE
            || headroom as usize + len as usize + SHARED_INFO_SIZE > page.len()
        {
            return Err(BuffError {
                error: EINVAL,
                page,
            });
        }
        let hard_start = page.as_mut_slice().as_mut_ptr();
        // SAFETY: All-zeroes is a valid `xdp_buff` (pointers and integers).
        let mut raw: bindings::xdp_buff = unsafe { core::mem::zeroed() };
        raw.frame_sz = page.len() as u32;
        raw.rxq = rxq.as_ptr();
        raw.data_hard_start = hard_start.cast();
        // SAFETY: `headroom + len` lies within the buffer, checked above.
        let data = unsafe { hard_start.add(headroom as usize) };
        raw.data = data.cast();
        // Empty metadata, which programs may grow into the headroom.
        raw.data_meta = data.cast();
        // SAFETY: Within the buffer.
        raw.data_end = unsafe { data.add(len as usize) }.cast();
        Ok(Self {
            raw,
            page,
            _rxq: PhantomData,
        })
    }

    fn hard_start(&self) -> *mut u8 {
        self.raw.data_hard_start.cast()
    }

    /// Returns the space before the data.
    pub fn headroom(&self) -> u32 {
        (self.raw.data as usize - self.hard_start() as usize) as u32
    }

    /// Returns the length of the data.
    pub fn len(&self) -> u32 {
        (self.raw.data_end as usize - self.raw.data as usize) as u32
    }

    /// Returns `true` if the data is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the data window.
    pub fn data(&self) -> &[u8] {
        // SAFETY: `data..data_end` lies within the buffer we own: we set it up so, and the XDP
        // helpers that move it keep it inside the frame.
        unsafe { slice::from_raw_parts(self.raw.data.cast::<u8>(), self.len() as usize) }
    }

    /// Returns the data window for writing.
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: As in `data`, and `&mut self` makes this the only view.
        unsafe { slice::from_raw_parts_mut(self.raw.data.cast::<u8>(), self.len() as usize) }
    }

    /// Returns the metadata the program placed before the data, if any.
    pub fn meta(&self) -> &[u8] {
        let (meta, data) = (self.raw.data_meta as usize, self.raw.data as usize);
        if meta >= data {
            return &[];
        }
        // SAFETY: `data_meta..data` lies within the headroom of the buffer we own.
        unsafe { slice::from_raw_parts(meta as *const u8, data - meta) }
    }

    /// Runs `prog` on the buffer (`bpf_prog_run_xdp()`) and returns its verdict.
    ///
    /// A verdict the kernel does not know is reported with `bpf_warn_invalid_xdp_action()` and
    /// returned as [`Action::Aborted`].
    pub fn run(&mut self, _ctx: &RunContext, prog: ProgRef<'_>) -> Action {
        // SAFETY: The run context has bottom halves off and a net context installed; the
        // program is valid while borrowed; `raw` describes a buffer we own, registered queue.
        let act = unsafe { bindings::bpf_prog_run_xdp(prog.as_ptr(), &mut self.raw) };
        Action::from_raw(act).unwrap_or_else(|| {
            // SAFETY: The device of a registered queue and the program are valid.
            unsafe {
                bindings::bpf_warn_invalid_xdp_action((*self.raw.rxq).dev, prog.as_ptr(), act)
            };
            Action::Aborted
        })
    }

    /// Reports an XDP exception (`trace_xdp_exception()`): an aborted program, or a verdict
    /// that could not be carried out.
    pub fn trace_exception(&self, prog: ProgRef<'_>, action: Action) {
        // SAFETY: The device of a registered queue is valid.
        trace_exception(
            unsafe { Device::from_raw((*self.raw.rxq).dev) },
            prog,
            action,
        );
    }

    /// Gives the buffer back with the data window the program left: `(page, headroom, len)`,
    /// for building an skb ([`Action::Pass`]) or recycling ([`Action::Drop`]).
    pub fn into_page(self) -> (PoolPage, u32, u32) {
        let (headroom, len) = (self.headroom(), self.len());
        (self.page, headroom, len)
    }

    /// Hands the buffer to `xdp_do_redirect()`, towards the target the program chose.
    ///
    /// On success the target owns the buffer; on failure it is given back.
    pub fn redirect(mut self, _ctx: &RunContext, prog: ProgRef<'_>) -> Result<(), BuffError> {
        // SAFETY: The run context has bottom halves off and a net context installed; the
        // device of the registered queue, the buffer we own and the program are valid.
        let ret =
            unsafe { bindings::xdp_do_redirect((*self.raw.rxq).dev, &mut self.raw, prog.as_ptr()) };
        if ret != 0 {
            return Err(BuffError {
                error: Error::from_errno(ret),
                page: self.page,
            });
        }
        // The redirect target now owns the buffer; it returns it to the pool.
        let _ = self.page.into_raw();
        Ok(())
    }

    /// Turns the buffer into a frame for transmission (`xdp_convert_buff_to_frame()`).
    ///
    /// The frame's header is written into the headroom; fails with `ENOSPC` (giving the buffer
    /// back) if the headroom is too small for it.
    pub fn into_frame(mut self) -> Result<XdpFrame, BuffError> {
        // SAFETY: `raw` describes a page-pool buffer we own, with the tailroom checked in `new`.
        let frame = unsafe { bindings::xdp_convert_buff_to_frame(&mut self.raw) };
        let Some(ptr) = NonNull::new(frame) else {
            return Err(BuffError {
                error: ENOSPC,
                page: self.page,
            });
        };
        // The frame now owns the buffer's pool reference.
        let _ = self.page.into_raw();
        // INVARIANT: A new frame in a buffer we owned.
        Ok(XdpFrame { ptr })
    }
}

/// An XDP frame (`struct xdp_frame`): a packet on its way to transmission, owning its buffer.
///
/// Dropping it returns the buffer to its memory model (`xdp_return_frame()`).
///
/// # Context
///
/// For a page-pool buffer the return takes the pool's ring with bottom-half locking, as in C: a
/// frame may be dropped in task context and in softirq context, not in hard interrupt context
/// nor with interrupts off (netpoll: the transmit engine leaves frames to the next regular poll
/// there).
///
/// # Invariants
///
/// `ptr` is a valid frame that this value owns.
pub struct XdpFrame {
    ptr: NonNull<bindings::xdp_frame>,
}

// SAFETY: Frames are handed between CPUs (redirect) and returned from any context but hard IRQ.
unsafe impl Send for XdpFrame {}

impl XdpFrame {
    /// Takes ownership of a frame, such as one received through `ndo_xdp_xmit`.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid frame whose ownership passes to the new value.
    pub unsafe fn from_raw(ptr: NonNull<bindings::xdp_frame>) -> Self {
        // INVARIANT: By the safety requirements of this function.
        Self { ptr }
    }

    /// Gives up ownership of the frame.
    pub fn into_raw(self) -> NonNull<bindings::xdp_frame> {
        core::mem::ManuallyDrop::new(self).ptr
    }

    /// Returns the length of the packet.
    pub fn len(&self) -> u32 {
        // SAFETY: By the type invariants the frame is valid.
        unsafe { (*self.ptr.as_ptr()).len.into() }
    }

    /// Returns `true` if the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the packet's bytes.
    pub fn data(&self) -> &[u8] {
        // SAFETY: By the type invariants the frame is valid; `data` points to `len` bytes of the
        // buffer it owns.
        unsafe {
            slice::from_raw_parts((*self.ptr.as_ptr()).data.cast::<u8>(), self.len() as usize)
        }
    }

    /// Returns the frame to its memory model from the NAPI context of its receive queue
    /// (`xdp_return_frame_rx_napi()`), which may recycle straight into the page pool's cache.
    ///
    /// # Safety
    ///
    /// The caller must run in the NAPI context that owns the frame's page pool.
    pub unsafe fn return_rx_napi(self) {
        let ptr = self.into_raw();
        // SAFETY: We owned the frame; the caller guarantees the context.
        unsafe { bindings::xdp_return_frame_rx_napi(ptr.as_ptr()) };
    }
}

impl Drop for XdpFrame {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own the frame.
        unsafe { bindings::xdp_return_frame(self.ptr.as_ptr()) };
    }
}

/// Returns frames in bulk (`xdp_return_frame_bulk()`), flushing on drop.
///
/// Bulk return looks the memory model up under RCU, so it borrows an RCU read-side section.
pub struct FrameBulk<'a> {
    raw: bindings::xdp_frame_bulk,
    _guard: PhantomData<&'a rcu::Guard>,
}

impl<'a> FrameBulk<'a> {
    /// Starts a bulk return inside the RCU read-side section of `_guard`.
    pub fn new(_guard: &'a rcu::Guard) -> Self {
        Self {
            // SAFETY: All-zeroes is the initial state `xdp_frame_bulk_init()` sets up.
            raw: unsafe { core::mem::zeroed() },
            _guard: PhantomData,
        }
    }

    /// Adds a frame to the bulk; frames of one memory model are freed together.
    pub fn push(&mut self, frame: XdpFrame) {
        let ptr = frame.into_raw();
        // SAFETY: We owned the frame; the bulk is initialised and we are inside an RCU
        // read-side section for its lifetime.
        unsafe { bindings::xdp_return_frame_bulk(ptr.as_ptr(), &mut self.raw) };
    }
}

impl Drop for FrameBulk<'_> {
    fn drop(&mut self) {
        // SAFETY: The bulk is valid and still inside its RCU read-side section.
        unsafe { bindings::xdp_flush_frame_bulk(&mut self.raw) };
    }
}

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
pub(crate) mod tests;
