// SPDX-License-Identifier: GPL-2.0

//! Network devices.
//!
//! A driver describes its devices with an [`Operations`] implementation: the private data each
//! device carries ([`Operations::Data`]) and the `net_device_ops` callbacks it provides.
//! [`Unregistered::new`] allocates an Ethernet device with that data pinned in the device's
//! private area; [`Unregistered::register`] turns it into a [`Registration`], which unregisters
//! and frees the device when dropped. Callbacks and both owners hand out [`NetDevice`], the
//! driver's typed view of its device.
//!
//! # Examples
//!
//! ```
//! use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
//! use kernel::net::netdev::{NetDevice, Operations, TxResult, TxSkb, Unregistered, Xmit};
//! use kernel::prelude::*;
//!
//! /// Drops everything it is given, and counts it.
//! struct Sink;
//!
//! struct SinkData {
//!     dropped: AtomicU64,
//! }
//!
//! #[vtable]
//! impl Operations for Sink {
//!     type Data = SinkData;
//!
//!     fn start_xmit(dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
//!         dev.data().dropped.fetch_add(1, Relaxed);
//!         drop(skb);
//!         TxResult::Ok
//!     }
//! }
//!
//! let mut dev = Unregistered::<Sink>::new(1, 1, SinkData {
//!     dropped: AtomicU64::new(0),
//! })?;
//! dev.set_random_mac_address();
//! dev.set_mtu_limits(68, 9000)?;
//! assert_eq!(dev.num_tx_queues(), 1);
//! assert_eq!(dev.data().dropped.load(Relaxed), 0);
//! // `dev.register()?` would return a `Registration`; dropping `dev` frees the device.
//! # Ok::<(), Error>(())
//! ```
//!
//! C headers: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/etherdevice.h`](srctree/include/linux/etherdevice.h),
//! [`include/net/netdev_queues.h`](srctree/include/net/netdev_queues.h).

use crate::{
    bindings, device,
    error::{code::*, from_result, to_result, Error, Result, VTABLE_DEFAULT_ERROR},
    init::PinInit,
    irq::IrqReturn,
    net::{
        skbuff::SkBuff,
        xdp::{Features as XdpFeatures, Prog, XmitFrames},
    },
    str::CStr,
    types::Opaque,
};
use core::{marker::PhantomData, ops::Deref, pin::Pin, ptr::NonNull};
use macros::{pin_data, pinned_drop, vtable};

/// Length of an Ethernet (MAC) address.
pub const ETH_ALEN: usize = bindings::ETH_ALEN as usize;

/// Smallest MTU an Ethernet device may be given (`ETH_MIN_MTU`).
pub const ETH_MIN_MTU: u32 = bindings::ETH_MIN_MTU;

/// An Ethernet (MAC) address.
pub type MacAddress = [u8; ETH_ALEN];

/// Returns whether `addr` may be a device's address: not multicast, not all zeroes
/// (`is_valid_ether_addr()`).
pub fn is_valid_ether_addr(addr: &MacAddress) -> bool {
    addr[0] & 1 == 0 && addr.iter().any(|&b| b != 0)
}

/// Device statistics as `ndo_get_stats64` reports them (`struct rtnl_link_stats64`).
pub type LinkStats64 = bindings::rtnl_link_stats64;

/// Statistics of one receive queue (`struct netdev_queue_stats_rx`), read through the netdev
/// netlink family. Fields a driver does not set are reported as absent.
pub type QueueStatsRx = bindings::netdev_queue_stats_rx;

/// Statistics of one transmit queue (`struct netdev_queue_stats_tx`); see [`QueueStatsRx`].
pub type QueueStatsTx = bindings::netdev_queue_stats_tx;

/// A network device, borrowed from the C core.
///
/// Wraps the kernel's [`struct net_device`].
///
/// [`struct net_device`]: srctree/include/linux/netdevice.h
///
/// # Invariants
///
/// The wrapped `net_device` is valid for the lifetime of the reference.
#[repr(transparent)]
pub struct Device(Opaque<bindings::net_device>);

// SAFETY: The C core shares net devices between threads; `Device` only offers operations that
// are allowed from any thread.
unsafe impl Sync for Device {}

// SAFETY: A net device is not tied to the thread that created it.
unsafe impl Send for Device {}

impl Device {
    /// Creates a reference to a [`Device`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `net_device` that stays valid for the lifetime `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::net_device) -> &'a Self {
        // CAST: `Device` is `repr(transparent)` over `Opaque<net_device>`.
        // SAFETY: By the safety requirements of this function.
        // INVARIANT: The caller guarantees validity for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Returns the raw pointer to the device.
    pub fn as_ptr(&self) -> *mut bindings::net_device {
        self.0.get()
    }

    /// Returns whether an object of type `U` at `ptr` lies in the device's private data area,
    /// which is fixed when the device is allocated and lives as long as the device: what an
    /// object that the core reaches through the device (a NAPI instance, a queue engine, a work
    /// item) relies on to outlive its registration with the core.
    pub(crate) fn holds<U>(&self, ptr: *const U) -> bool {
        let dev = self.as_ptr();
        // SAFETY: By the type invariants the device is valid; the private area's place and
        // length do not change after allocation.
        let (start, len) = unsafe { (bindings::netdev_priv(dev) as usize, (*dev).priv_len) };
        let at = ptr as usize;
        at >= start
            && at
                .checked_add(core::mem::size_of::<U>())
                .is_some_and(|end| end <= start + len as usize)
    }

    /// Returns the interface index (0 until the device is registered).
    pub fn ifindex(&self) -> i32 {
        // SAFETY: By the type invariants the device is valid; the index is set once, at
        // registration, and read with a single load.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.as_ptr()).ifindex)) }
    }

    /// Returns the MTU.
    pub fn mtu(&self) -> u32 {
        // SAFETY: The device is valid; the MTU is written with `WRITE_ONCE()` under RTNL and
        // read with a single load, as `READ_ONCE()` does.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.as_ptr()).mtu)) }
    }

    /// Returns the device's MAC address.
    pub fn mac_address(&self) -> MacAddress {
        let mut addr = [0; ETH_ALEN];
        // SAFETY: `dev_addr` of an Ethernet device points to at least `ETH_ALEN` bytes for the
        // device's lifetime; it changes only under RTNL, as in C readers without the lock.
        unsafe {
            let src = (*self.as_ptr()).dev_addr;
            core::ptr::copy_nonoverlapping(src, addr.as_mut_ptr(), ETH_ALEN);
        }
        addr
    }

    /// Returns whether the device is up (`netif_running()`).
    pub fn is_running(&self) -> bool {
        // SAFETY: The device is valid.
        unsafe { bindings::netif_running(self.as_ptr()) }
    }

    /// Returns whether the device reports a carrier (`netif_carrier_ok()`).
    pub fn carrier_ok(&self) -> bool {
        // SAFETY: The device is valid.
        unsafe { bindings::netif_carrier_ok(self.as_ptr()) }
    }

    /// Returns the offloads turned on (`features`). They change under RTNL, after
    /// [`Operations::set_features`] applied them.
    pub fn features(&self) -> Features {
        // SAFETY: The device is valid; the features are read with a single load.
        Features(unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!((*self.as_ptr()).features))
        })
    }

    /// Returns the XDP features the device advertises.
    pub fn xdp_features(&self) -> XdpFeatures {
        // SAFETY: The device is valid; the features change under RTNL and are read with a
        // single load.
        XdpFeatures::from_raw(unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!((*self.as_ptr()).xdp_features))
        })
    }

    /// Returns the number of transmit queues the device was allocated with.
    pub fn num_tx_queues(&self) -> u32 {
        // SAFETY: The device is valid; the count never changes after allocation.
        unsafe { (*self.as_ptr()).num_tx_queues }
    }

    /// Returns the number of receive queues the device was allocated with.
    pub fn num_rx_queues(&self) -> u32 {
        // SAFETY: The device is valid; the count never changes after allocation.
        unsafe { (*self.as_ptr()).num_rx_queues }
    }

    /// Returns transmit queue `index`, or `None` if the device has no such queue.
    pub fn tx_queue(&self, index: u32) -> Option<&TxQueue> {
        if index >= self.num_tx_queues() {
            return None;
        }
        // SAFETY: `index` is below the number of queues allocated with the device, which live
        // as long as it.
        Some(unsafe { TxQueue::from_raw(bindings::netdev_get_tx_queue(self.as_ptr(), index)) })
    }
}

/// Evidence that the current thread holds the RTNL lock.
///
/// Callbacks the C core makes under RTNL receive a `&Rtnl`; elsewhere [`Rtnl::lock`] takes the
/// lock.
pub struct Rtnl {
    _not_send: PhantomData<*mut ()>,
}

impl Rtnl {
    /// Takes the RTNL lock (`rtnl_lock()`), held until the guard is dropped.
    ///
    /// Must not be called while the lock is held, for instance from a callback given a `&Rtnl`:
    /// the lock is not recursive.
    pub fn lock() -> RtnlGuard {
        // SAFETY: FFI call; the guard unlocks.
        unsafe { bindings::rtnl_lock() };
        RtnlGuard(Rtnl {
            _not_send: PhantomData,
        })
    }

    /// Creates the evidence for code that runs under RTNL.
    ///
    /// # Safety
    ///
    /// The current thread must hold RTNL for the lifetime `'a`.
    pub unsafe fn assume<'a>() -> &'a Rtnl {
        &Rtnl {
            _not_send: PhantomData,
        }
    }
}

/// The RTNL lock, taken by [`Rtnl::lock`] and released on drop.
pub struct RtnlGuard(Rtnl);

/// The extended acknowledgment of the netlink request a callback serves
/// (`struct netlink_ext_ack`): where it says why it refused, for user space to report with the
/// error.
///
/// # Invariants
///
/// `ack` is null (a request without one) or valid for writes of its message for `'a`.
pub struct ExtAck<'a> {
    ack: *mut bindings::netlink_ext_ack,
    _p: PhantomData<&'a mut bindings::netlink_ext_ack>,
}

impl ExtAck<'_> {
    /// An acknowledgment that reports nowhere, for a request that did not come with one.
    pub fn none() -> Self {
        // INVARIANT: Null.
        Self {
            ack: core::ptr::null_mut(),
            _p: PhantomData,
        }
    }

    /// Sets the message reported with the error (`NL_SET_ERR_MSG()`).
    pub fn set_msg(&self, msg: &'static CStr) {
        if !self.ack.is_null() {
            // SAFETY: By the type invariants `ack` is valid for writes of its message, which
            // the core reads while sending the acknowledgment; `msg` lives forever.
            unsafe { (*self.ack)._msg = msg.as_char_ptr() };
        }
    }
}

impl Deref for RtnlGuard {
    type Target = Rtnl;

    fn deref(&self) -> &Rtnl {
        &self.0
    }
}

impl Drop for RtnlGuard {
    fn drop(&mut self) {
        // SAFETY: The guard exists only while this thread holds the lock it took.
        unsafe { bindings::rtnl_unlock() };
    }
}

/// A transmit queue of a network device (`struct netdev_queue`).
///
/// Stopping and waking are allowed from any context. The byte queue limit (BQL) accounting of
/// the transmit path is on [`Xmit`]; its completion side is [`TxQueue::completed_wake`].
///
/// # Invariants
///
/// The wrapped queue is valid for the lifetime of the reference.
#[repr(transparent)]
pub struct TxQueue(Opaque<bindings::netdev_queue>);

// SAFETY: Transmit queues are shared by the C core between CPUs; every method is allowed
// concurrently.
unsafe impl Sync for TxQueue {}

/// What [`Xmit::maybe_stop`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopResult {
    /// There was room for another packet: the queue was left running.
    Running,
    /// The queue was stopped; a completion wakes it.
    Stopped,
    /// The queue was stopped, but room appeared meanwhile and it was started again.
    Restarted,
}

/// What [`TxQueue::completed_wake`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeResult {
    /// Nothing was completed, or there is still not room for another packet.
    NoRoom,
    /// There is room; the queue was running (or the device is going down).
    Running,
    /// There is room and the stopped queue was woken.
    Woken,
}

impl TxQueue {
    /// Creates a reference from a valid pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a transmit queue that stays valid for the lifetime `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::netdev_queue) -> &'a Self {
        // CAST: `TxQueue` is `repr(transparent)` over `Opaque<netdev_queue>`.
        // SAFETY: By the safety requirements of this function.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Returns the raw pointer to the queue.
    pub fn as_ptr(&self) -> *mut bindings::netdev_queue {
        self.0.get()
    }

    /// Returns the queue's index in its device.
    pub fn index(&self) -> u32 {
        // SAFETY: The queue is valid and belongs to `dev`, whose `_tx` array holds it.
        let base = unsafe { (*(*self.as_ptr()).dev)._tx };
        let offset = self.as_ptr() as usize - base as usize;
        (offset / core::mem::size_of::<bindings::netdev_queue>()) as u32
    }

    /// Stops the queue: the core stops calling `start_xmit` for it (`netif_tx_stop_queue()`).
    pub fn stop(&self) {
        // SAFETY: The queue is valid.
        unsafe { bindings::netif_tx_stop_queue(self.as_ptr()) }
    }

    /// Starts a stopped queue without scheduling it (`netif_tx_start_queue()`).
    pub fn start(&self) {
        // SAFETY: The queue is valid.
        unsafe { bindings::netif_tx_start_queue(self.as_ptr()) }
    }

    /// Starts a stopped queue and schedules it to send what it holds (`netif_tx_wake_queue()`).
    ///
    /// Before registration the queue has no qdisc to schedule: it is only started.
    pub fn wake(&self) {
        // SAFETY: The queue is valid; `qdisc` is set once at registration, before which there
        // is nothing to schedule, and never cleared while the queue can be reached.
        let has_qdisc = unsafe {
            !core::ptr::read_volatile(core::ptr::addr_of!((*self.as_ptr()).qdisc)).is_null()
        };
        if has_qdisc {
            // SAFETY: The queue is valid and has a qdisc.
            unsafe { bindings::netif_tx_wake_queue(self.as_ptr()) }
        } else {
            self.start();
        }
    }

    /// Returns whether the driver stopped the queue (`netif_tx_queue_stopped()`).
    pub fn is_stopped(&self) -> bool {
        // SAFETY: The queue is valid.
        unsafe { bindings::netif_tx_queue_stopped(self.as_ptr()) }
    }

    /// Stops the queue if fewer than `stop_thrs` descriptors are free, as
    /// `netif_txq_maybe_stop()`: after stopping, `free()` is read again behind a full barrier
    /// and the queue restarted if a completion made at least `start_thrs` free meanwhile.
    ///
    /// Pairs with [`TxQueue::completed_wake`] on the completion side. Drivers call it through
    /// [`Xmit::maybe_stop`]: outside the transmit path the queue could be left started but
    /// never scheduled.
    pub(crate) fn maybe_stop(
        &self,
        free: impl Fn() -> u32,
        stop_thrs: u32,
        start_thrs: u32,
    ) -> StopResult {
        if free() >= stop_thrs {
            return StopResult::Running;
        }
        self.stop();
        // SAFETY: FFI call without requirements. Orders the stop bit before re-reading the
        // consumer index; pairs with the barrier in `completed_wake()`.
        unsafe { bindings::smp_mb__after_atomic() };
        if free() >= start_thrs {
            self.start();
            return StopResult::Restarted;
        }
        StopResult::Stopped
    }

    /// Reports `pkts` packets and `bytes` bytes completed to BQL and wakes the queue if it is
    /// stopped and at least `start_thrs` descriptors are free, as `__netif_txq_completed_wake()`.
    /// The queue is not woken when `down()`, read after the barrier, says the device is going
    /// down.
    ///
    /// # Safety
    ///
    /// Completions of one queue must be serialized (the NAPI instance that cleans the queue
    /// provides that), and `bytes` must not exceed what [`Xmit::sent`] reported and no earlier
    /// completion covered.
    pub unsafe fn completed_wake(
        &self,
        pkts: u32,
        bytes: u32,
        free: impl Fn() -> u32,
        start_thrs: u32,
        down: impl FnOnce() -> bool,
    ) -> WakeResult {
        // SAFETY: The queue is valid; the caller serializes completions and reports only bytes
        // that were sent. Includes the full barrier that pairs with `maybe_stop()`.
        unsafe { bindings::netdev_txq_completed_mb(self.as_ptr(), pkts, bytes) };
        if pkts == 0 || free() < start_thrs {
            return WakeResult::NoRoom;
        }
        if self.is_stopped() && !down() {
            self.wake();
            return WakeResult::Woken;
        }
        WakeResult::Running
    }
}

/// The transmit context of one [`Operations::start_xmit`] call: the queue the packet goes to,
/// whose transmit lock the core holds, and whether more packets follow.
pub struct Xmit<'a> {
    queue: &'a TxQueue,
    more: bool,
}

impl<'a> Xmit<'a> {
    /// Returns the queue the packet was given to.
    pub fn queue(&self) -> &'a TxQueue {
        self.queue
    }

    /// Returns whether the core has more packets for this queue right away
    /// (`netdev_xmit_more()`): the doorbell may wait for the last one.
    pub fn more(&self) -> bool {
        self.more
    }

    /// Stops the queue if fewer than `stop_thrs` descriptors are free, as
    /// `netif_txq_maybe_stop()`; see [`TxQueue::completed_wake`] for the other side.
    pub fn maybe_stop(
        &self,
        free: impl Fn() -> u32,
        stop_thrs: u32,
        start_thrs: u32,
    ) -> StopResult {
        self.queue.maybe_stop(free, stop_thrs, start_thrs)
    }

    /// Reports `bytes` queued to the hardware to BQL (`__netdev_tx_sent_queue()`); returns
    /// whether the driver must ring its doorbell now (no more packets follow, or the queue
    /// was stopped).
    pub fn sent(&self, bytes: u32) -> bool {
        // SAFETY: The core holds the queue's transmit lock for the duration of `start_xmit`,
        // which serializes the BQL producer side.
        unsafe { bindings::__netdev_tx_sent_queue(self.queue.as_ptr(), bytes, self.more) }
    }
}

/// A packet the core gives to [`Operations::start_xmit`].
///
/// Unlike a received [`SkBuff`], it may be a clone (TCP keeps the original for
/// retransmission) or have several users (pktgen sends one skb repeatedly), so its data and
/// metadata are only read here. Dropping it releases this user's reference in any context.
///
/// # Invariants
///
/// `ptr` points to a valid skb on which this value holds one reference.
pub struct TxSkb {
    ptr: NonNull<bindings::sk_buff>,
}

// SAFETY: The reference may be released on any thread; only reads are offered.
unsafe impl Send for TxSkb {}

impl TxSkb {
    /// Returns the raw pointer to the skb.
    pub fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.ptr.as_ptr()
    }

    /// Returns the length of the packet, linear data and fragments.
    pub fn len(&self) -> u32 {
        // SAFETY: By the type invariants the skb is valid; the length of a packet in flight
        // does not change.
        unsafe { (*self.as_ptr()).len }
    }

    /// Returns whether the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the length of the linear data.
    pub fn headlen(&self) -> u32 {
        // SAFETY: By the type invariants the skb is valid.
        unsafe { bindings::skb_headlen(self.as_ptr()) }
    }

    /// Returns the linear data.
    pub fn data(&self) -> &[u8] {
        // SAFETY: By the type invariants the skb is valid; `data` points to `headlen()`
        // bytes, which the transmit path does not change while the driver holds the packet.
        unsafe { core::slice::from_raw_parts((*self.as_ptr()).data, self.headlen() as usize) }
    }

    /// Returns the packet as an [`SkBuff`] that may be changed (to pad a runt, for instance),
    /// if this is its only user and its data is not shared with a clone; otherwise gives it
    /// back.
    pub fn into_exclusive(self) -> Result<SkBuff, Self> {
        // SAFETY: By the type invariants the skb is valid.
        let shared = unsafe {
            bindings::skb_shared(self.as_ptr()) || bindings::skb_cloned(self.as_ptr()) != 0
        };
        if shared {
            return Err(self);
        }
        let ptr = self.ptr;
        core::mem::forget(self);
        // SAFETY: Our reference is the only one and the data is not shared, as `SkBuff`
        // requires; it moves to the new owner.
        Ok(unsafe { SkBuff::from_raw(ptr) })
    }

    /// Frees a packet that was sent (`dev_consume_skb_any()`).
    pub fn consume(self) {
        let ptr = self.ptr.as_ptr();
        core::mem::forget(self);
        // SAFETY: We held one reference, which the call takes; allowed in any context.
        unsafe { bindings::dev_kfree_skb_any_reason(ptr, bindings::skb_drop_reason_SKB_CONSUMED) }
    }
}

impl Drop for TxSkb {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we hold one reference; allowed in any context,
        // including netpoll's with interrupts off.
        unsafe {
            bindings::dev_kfree_skb_any_reason(
                self.as_ptr(),
                bindings::skb_drop_reason_SKB_DROP_REASON_NOT_SPECIFIED,
            )
        }
    }
}

/// Offloads of a net device (`netdev_features_t`, `NETIF_F_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features(u64);

impl Features {
    /// Packets in page fragments (`NETIF_F_SG`).
    pub const SG: Self = Self::bit(bindings::NETIF_F_SG_BIT);
    /// Transport checksums inserted at any offset (`NETIF_F_HW_CSUM`).
    pub const HW_CSUM: Self = Self::bit(bindings::NETIF_F_HW_CSUM_BIT);
    /// TCP and UDP checksums over IPv4 inserted (`NETIF_F_IP_CSUM`).
    pub const IP_CSUM: Self = Self::bit(bindings::NETIF_F_IP_CSUM_BIT);
    /// TCP and UDP checksums over IPv6 inserted (`NETIF_F_IPV6_CSUM`).
    pub const IPV6_CSUM: Self = Self::bit(bindings::NETIF_F_IPV6_CSUM_BIT);
    /// Received checksums verified (`NETIF_F_RXCSUM`).
    pub const RXCSUM: Self = Self::bit(bindings::NETIF_F_RXCSUM_BIT);
    /// TCP over IPv4 segmented (`NETIF_F_TSO`).
    pub const TSO: Self = Self::bit(bindings::NETIF_F_TSO_BIT);
    /// TCP over IPv6 segmented (`NETIF_F_TSO6`).
    pub const TSO6: Self = Self::bit(bindings::NETIF_F_TSO6_BIT);
    /// 802.1Q tags inserted on transmit (`NETIF_F_HW_VLAN_CTAG_TX`).
    pub const HW_VLAN_CTAG_TX: Self = Self::bit(bindings::NETIF_F_HW_VLAN_CTAG_TX_BIT);
    /// 802.1Q tags stripped on receive (`NETIF_F_HW_VLAN_CTAG_RX`).
    pub const HW_VLAN_CTAG_RX: Self = Self::bit(bindings::NETIF_F_HW_VLAN_CTAG_RX_BIT);

    const fn bit(bit: u32) -> Self {
        Self(1 << bit)
    }

    /// No offload.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Returns whether every offload of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Returns the C flags.
    pub const fn as_raw(self) -> u64 {
        self.0
    }
}

impl core::ops::BitOr for Features {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The receive filter the stack asks a device for, given to [`Operations::set_rx_mode`].
///
/// # Invariants
///
/// The device's address lock is held for the lifetime `'a`: its address lists do not change.
pub struct RxMode<'a> {
    dev: &'a Device,
}

impl<'a> RxMode<'a> {
    fn flags(&self) -> u32 {
        // SAFETY: The device is valid; `flags` changes only under RTNL, before the core asks
        // for the new mode, and is read with one load.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.dev.as_ptr()).flags)) }
    }

    /// Whether the device is to take every frame (`IFF_PROMISC`).
    pub fn promisc(&self) -> bool {
        self.flags() & bindings::net_device_flags_IFF_PROMISC != 0
    }

    /// Whether the device is to take every multicast frame (`IFF_ALLMULTI`).
    pub fn allmulti(&self) -> bool {
        self.flags() & bindings::net_device_flags_IFF_ALLMULTI != 0
    }

    /// The number of multicast addresses to take.
    pub fn mc_count(&self) -> usize {
        // SAFETY: The list is valid and, by the type invariants, does not change meanwhile.
        unsafe { (*self.dev.as_ptr()).mc.count as usize }
    }

    /// The multicast addresses to take (`netdev_for_each_mc_addr()`).
    pub fn mc_addrs(&self) -> McAddrs<'a> {
        // SAFETY: As above.
        let head = unsafe { core::ptr::addr_of_mut!((*self.dev.as_ptr()).mc.list) };
        // INVARIANT: The list of a device whose address lock is held for `'a`.
        McAddrs {
            head,
            // SAFETY: The list head is valid.
            next: unsafe { (*head).next },
            _p: PhantomData,
        }
    }
}

/// An iterator over the multicast addresses of an [`RxMode`].
///
/// # Invariants
///
/// `head` is a device's multicast list, which does not change for `'a`; `next` is `head` or
/// the `list` member of one of its entries.
pub struct McAddrs<'a> {
    head: *mut bindings::list_head,
    next: *mut bindings::list_head,
    _p: PhantomData<&'a ()>,
}

impl<'a> Iterator for McAddrs<'a> {
    type Item = &'a MacAddress;

    fn next(&mut self) -> Option<&'a MacAddress> {
        if self.next == self.head {
            return None;
        }
        let offset = core::mem::offset_of!(bindings::netdev_hw_addr, list);
        // SAFETY: By the type invariants `next` is the `list` member of an entry that stays
        // valid for `'a`; its address holds at least an Ethernet address.
        unsafe {
            let entry = self
                .next
                .byte_sub(offset)
                .cast::<bindings::netdev_hw_addr>();
            self.next = (*entry).list.next;
            Some(&*core::ptr::addr_of!((*entry).addr).cast::<MacAddress>())
        }
    }
}

/// What a driver's [`Operations::start_xmit`] did with a packet.
pub enum TxResult {
    /// The packet was taken: queued to the hardware or dropped (`NETDEV_TX_OK`).
    Ok,
    /// The queue is full: the core keeps the packet and retries later (`NETDEV_TX_BUSY`).
    /// Must be the packet of this call; drivers should stop their queue before it fills.
    Busy(TxSkb),
}

/// The operations of a network driver: its devices' private data and `net_device_ops`.
///
/// Methods not implemented are absent from the C table, so the core applies its defaults
/// (for instance `-EOPNOTSUPP` for a MAC address change).
#[vtable]
pub trait Operations: Sized + 'static {
    /// The private data of each device, pinned in the device's private area.
    type Data: Send + Sync;

    /// Brings the device up (`ndo_open`).
    fn open(_dev: &NetDevice<Self>, _rtnl: &Rtnl) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Brings the device down (`ndo_stop`).
    fn stop(_dev: &NetDevice<Self>, _rtnl: &Rtnl) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Transmits `skb` on `xmit.queue()` (`ndo_start_xmit`).
    ///
    /// May be called with interrupts disabled (netpoll): dropping `skb` is correct there.
    fn start_xmit(dev: &NetDevice<Self>, skb: TxSkb, xmit: &Xmit<'_>) -> TxResult;

    /// Fills in the device statistics, which the core zeroed (`ndo_get_stats64`). May be
    /// called in atomic context: must not sleep.
    fn get_stats64(_dev: &NetDevice<Self>, _stats: &mut LinkStats64) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Programs a new MAC address, already validated, into the hardware
    /// (`ndo_set_mac_address`); the core records it if this succeeds.
    fn set_mac_address(_dev: &NetDevice<Self>, _rtnl: &Rtnl, _addr: &MacAddress) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Changes the MTU to `mtu`, already checked against the device's limits
    /// (`ndo_change_mtu`); the core records it if this succeeds.
    fn change_mtu(_dev: &NetDevice<Self>, _rtnl: &Rtnl, _mtu: u32) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Called by the watchdog when transmit queue `queue` has been stopped for longer than
    /// the device's watchdog timeout (`ndo_tx_timeout`). Called from the watchdog timer
    /// (softirq) with the device's `tx_global_lock` held and its transmit queues frozen, not
    /// under their locks: must not sleep.
    fn tx_timeout(_dev: &NetDevice<Self>, _queue: u32) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Resets the device, which is registered and up, under RTNL, in process context: what a
    /// [`Reset`] scheduled from a context that cannot sleep ([`Operations::tx_timeout`], the
    /// interrupt handler, the poll) carries out.
    fn reset(_dev: &NetDevice<Self>, _rtnl: &Rtnl) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Attaches the native XDP program `prog`, replacing the current one, or detaches it
    /// (`None`) (`ndo_bpf` with `XDP_SETUP_PROG`). The driver owns `prog` from here, typically
    /// in a [`ProgSlot`](super::xdp::ProgSlot); on error the core keeps the old program, and
    /// `extack` says why.
    fn xdp_setup_prog(
        _dev: &NetDevice<Self>,
        _rtnl: &Rtnl,
        _prog: Option<Prog>,
        _extack: &ExtAck<'_>,
    ) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Transmits frames redirected to the device (`ndo_xdp_xmit`), taking them from `frames` in
    /// order until out of room; the core frees those not taken. `flush` asks for the doorbell.
    ///
    /// Called in softirq context, from any CPU.
    fn xdp_xmit(_dev: &NetDevice<Self>, _frames: &mut XmitFrames<'_>, _flush: bool) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Programs the device's receive filter to what `mode` asks for (`ndo_set_rx_mode`): the
    /// multicast addresses to take, or all multicast, or everything. Called with the device's
    /// address lock held and bottom halves off: must not sleep. Not serialized with `open` and
    /// `stop` (multicast joins do not take RTNL): registers it shares with them need a lock.
    ///
    /// Devices without it take only their own unicast address and broadcasts, which breaks
    /// IPv6 (neighbour discovery is multicast).
    fn set_rx_mode(_dev: &NetDevice<Self>, _mode: &RxMode<'_>) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Applies `features` (`ndo_set_features`), which differ from the current ones in offloads
    /// the user switched ([`Unregistered::set_features`] declares which may be), or in ones the
    /// core adds or drops itself (GSO and GRO, those whose dependencies went); the core records
    /// them if this succeeds. [`Device::features`] still returns the old ones here. Called under
    /// RTNL, also during [`Unregistered::register`], before the device is first opened.
    fn set_features(_dev: &NetDevice<Self>, _rtnl: &Rtnl, _features: Features) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Handles an interrupt of the line [`NetDevice::request_irq`] requested for the device: in
    /// hard interrupt context, with interrupts off, from the request in `open` until the core
    /// frees the line after `stop` (so also while the device is being brought up or down, and,
    /// on a shared line with `CONFIG_DEBUG_SHIRQ`, once more as the line is freed). Typically
    /// acknowledges the device's interrupt, masks it and schedules the NAPI poll, whose
    /// [`Poll::rearm`](super::napi::Poll::rearm) unmasks it.
    fn interrupt(_dev: &NetDevice<Self>) -> IrqReturn {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Fills in the statistics of receive queue `queue` (`netdev_stat_ops`).
    fn queue_stats_rx(_dev: &NetDevice<Self>, _queue: u32, _stats: &mut QueueStatsRx) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Fills in the statistics of transmit queue `queue` (`netdev_stat_ops`).
    fn queue_stats_tx(_dev: &NetDevice<Self>, _queue: u32, _stats: &mut QueueStatsTx) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Fills in the device-wide statistics not covered by the queues, such as counts of
    /// queues that no longer exist (`netdev_stat_ops`).
    fn base_stats(_dev: &NetDevice<Self>, _rx: &mut QueueStatsRx, _tx: &mut QueueStatsTx) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }
}

/// A network device of driver `T`: a [`Device`] with `T`'s private data.
///
/// # Invariants
///
/// The device was allocated by [`Unregistered::new`] for `T`: its private area holds an
/// initialized `T::Data` and its `netdev_ops` are `T`'s, for the lifetime of the reference.
#[repr(transparent)]
pub struct NetDevice<T: Operations>(Device, PhantomData<T>);

impl<T: Operations> NetDevice<T> {
    /// # Safety
    ///
    /// `ptr` must point to a device allocated by [`Unregistered::new`] for `T` that stays
    /// valid for the lifetime `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::net_device) -> &'a Self {
        // CAST: `NetDevice<T>` is `repr(transparent)` over `Device`.
        // SAFETY: By the safety requirements of this function.
        // INVARIANT: The caller guarantees the device is `T`'s.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Returns the device's private data.
    pub fn data(&self) -> Pin<&T::Data> {
        // SAFETY: By the type invariants the private area holds an initialized `T::Data`; it
        // is pinned: it is dropped in place, before the device is freed.
        unsafe { Pin::new_unchecked(&*bindings::netdev_priv(self.as_ptr()).cast::<T::Data>()) }
    }

    /// Tells the core the link is up (`netif_carrier_on()`).
    pub fn carrier_on(&self) {
        // SAFETY: The device is valid; allowed from any context.
        unsafe { bindings::netif_carrier_on(self.as_ptr()) }
    }

    /// Tells the core the link is down (`netif_carrier_off()`).
    pub fn carrier_off(&self) {
        // SAFETY: The device is valid; allowed from any context.
        unsafe { bindings::netif_carrier_off(self.as_ptr()) }
    }

    /// Stops all transmit queues (`netif_tx_stop_all_queues()`).
    pub fn stop_all_queues(&self) {
        // SAFETY: The device is valid.
        unsafe { bindings::netif_tx_stop_all_queues(self.as_ptr()) }
    }

    /// Wakes all transmit queues (`netif_tx_wake_all_queues()`).
    pub fn wake_all_queues(&self) {
        for i in 0..self.num_tx_queues() {
            if let Some(queue) = self.tx_queue(i) {
                queue.wake();
            }
        }
    }

    /// Sets the XDP features the device advertises (`xdp_set_features_flag()`), notifying user
    /// space of the change.
    ///
    /// `NDO_XMIT` and `NDO_XMIT_SG` are dropped unless `T` implements
    /// [`Operations::xdp_xmit`]: redirects trust them.
    pub fn set_xdp_features(&self, _rtnl: &Rtnl, features: XdpFeatures) {
        // SAFETY: The device is valid and RTNL is held, as the notifiers need.
        unsafe { bindings::xdp_set_features_flag(self.as_ptr(), supported::<T>(features)) }
    }

    /// Requests interrupt line `irq` for the device (`request_irq()`, under the device's name),
    /// served by [`Operations::interrupt`] until the device stops: the core frees the line after
    /// [`Operations::stop`], or when [`Operations::open`] fails. So the handler only runs while
    /// the device, and its data, are up.
    ///
    /// Fails with `EINVAL` if `T` has no handler, `irq` is 0 or the device is not being brought
    /// up or up (call it from `open`), and with `EBUSY` if the device already has a line.
    pub fn request_irq(&self, _rtnl: &Rtnl, irq: u32, flags: crate::irq::Flags) -> Result {
        let ptr = self.as_ptr();
        let num = i32::try_from(irq).map_err(|_| EINVAL)?;
        if !T::HAS_INTERRUPT || num == 0 || !self.is_running() {
            return Err(EINVAL);
        }
        // SAFETY: RTNL is held, which every writer of `irq` holds (here and in the adapter).
        if unsafe { (*ptr).irq } != 0 {
            return Err(EBUSY);
        }
        // SAFETY: The device is running, under RTNL: it stops (and the adapter frees the line,
        // waiting for the handler) before its data goes. The cookie is the device, as the
        // handler expects; the name lives in the device.
        to_result(unsafe {
            bindings::request_threaded_irq(
                irq,
                Some(Adapter::<T>::interrupt),
                None,
                flags.as_raw() as _,
                (*ptr).name.as_ptr(),
                ptr.cast(),
            )
        })?;
        // SAFETY: Under RTNL, as above; read back by the adapter to free the line. The core
        // reads it without locks (`READ_ONCE()`): one store.
        unsafe { core::ptr::write_volatile(core::ptr::addr_of_mut!((*ptr).irq), num) };
        Ok(())
    }

    /// Switches the device's NAPI instances to threaded polling, or back to softirq
    /// (`dev_set_threaded()`).
    pub fn set_threaded(&self, _rtnl: &Rtnl, threaded: bool) -> Result {
        // SAFETY: The device is valid and RTNL is held.
        to_result(unsafe { bindings::dev_set_threaded(self.as_ptr(), threaded) })
    }
}

impl<T: Operations> Deref for NetDevice<T> {
    type Target = Device;

    fn deref(&self) -> &Device {
        &self.0
    }
}

/// The private area of a device being allocated by [`Unregistered::new_with`], to be
/// initialized with [`PrivSlot::init`].
///
/// # Invariants
///
/// `ptr` is the private area of the device, with room for a `D` at its alignment, pinned and
/// uninitialized while `initialized` is `false`.
pub struct PrivSlot<'a, D> {
    ptr: *mut D,
    initialized: &'a core::cell::Cell<bool>,
    _p: PhantomData<fn(&'a ()) -> &'a ()>,
}

/// Proof that the [`PrivSlot`] of lifetime `'a` was initialized.
pub struct PrivInit<'a>(PhantomData<fn(&'a ()) -> &'a ()>);

impl<'a, D> PrivSlot<'a, D> {
    /// Initializes the private data with `init`.
    pub fn init(self, init: impl PinInit<D, Error>) -> Result<PrivInit<'a>> {
        // SAFETY: By the type invariants the slot is valid for a `D`, pinned (the device never
        // moves, and the data is dropped in place before it is freed), and uninitialized: the
        // slot is consumed here.
        unsafe { init.__pinned_init(self.ptr)? };
        self.initialized.set(true);
        Ok(PrivInit(PhantomData))
    }
}

/// An Ethernet device of driver `T`, allocated but not registered; freed on drop.
///
/// # Invariants
///
/// `dev` was allocated by [`Unregistered::new`] for `T` (so its private data is initialized),
/// is not registered, and is owned by this value.
pub struct Unregistered<T: Operations> {
    dev: NonNull<bindings::net_device>,
    _p: PhantomData<T>,
}

// SAFETY: The owner may be moved between threads: the device is not tied to one and `T::Data`
// is `Send`.
unsafe impl<T: Operations> Send for Unregistered<T> {}

// SAFETY: Shared references only give `&NetDevice<T>`, which is `Sync` (`T::Data: Sync`).
unsafe impl<T: Operations> Sync for Unregistered<T> {}

impl<T: Operations> Unregistered<T> {
    /// The private area is aligned as `struct net_device` is; `T::Data` must not need more.
    const DATA_ALIGN_OK: () =
        assert!(core::mem::align_of::<T::Data>() <= core::mem::align_of::<bindings::net_device>());

    /// Allocates an Ethernet device with `txqs` transmit and `rxqs` receive queues
    /// (`alloc_etherdev_mqs()`), and initializes its private data in place with `init`.
    pub fn new(txqs: u32, rxqs: u32, init: impl PinInit<T::Data, Error>) -> Result<Self> {
        Self::new_with(txqs, rxqs, |_, slot| slot.init(init))
    }

    /// Allocates an Ethernet device as [`Unregistered::new`] does, and has `init` initialize
    /// its private data through `slot`, for data that refers to the device (such as a
    /// [`Napi`](super::napi::Napi)). If `init` fails after initializing the data, the data is
    /// dropped.
    pub fn new_with(
        txqs: u32,
        rxqs: u32,
        init: impl for<'a> FnOnce(&'a Device, PrivSlot<'a, T::Data>) -> Result<PrivInit<'a>>,
    ) -> Result<Self> {
        #[allow(clippy::let_unit_value)]
        let () = Self::DATA_ALIGN_OK;
        if txqs == 0 || rxqs == 0 {
            return Err(EINVAL);
        }
        let size = i32::try_from(core::mem::size_of::<T::Data>()).map_err(|_| EINVAL)?;
        // SAFETY: FFI call; the queue counts are non-zero.
        let dev = NonNull::new(unsafe { bindings::alloc_etherdev_mqs(size, txqs, rxqs) })
            .ok_or(ENOMEM)?;
        let ptr = dev.as_ptr();
        // SAFETY: The device is new and ours; the tables are constants (`'static`).
        unsafe {
            (*ptr).netdev_ops = &Adapter::<T>::OPS;
            if T::HAS_QUEUE_STATS_RX || T::HAS_QUEUE_STATS_TX || T::HAS_BASE_STATS {
                (*ptr).stat_ops = &Adapter::<T>::STAT_OPS;
            }
        }
        let initialized = core::cell::Cell::new(false);
        let slot = PrivSlot {
            // SAFETY: The device is valid.
            ptr: unsafe { bindings::netdev_priv(ptr) }.cast::<T::Data>(),
            initialized: &initialized,
            _p: PhantomData,
        };
        // SAFETY: The device is valid until freed below or by `Drop`, after `init` returned.
        let res = init(unsafe { Device::from_raw(ptr) }, slot);
        if let Err(e) = res {
            // SAFETY: The device is ours and nothing else refers to it. Data that was
            // initialized is dropped first; a failed initializer left nothing to drop.
            unsafe {
                if initialized.get() {
                    core::ptr::drop_in_place(bindings::netdev_priv(ptr).cast::<T::Data>());
                }
                bindings::free_netdev(ptr);
            }
            return Err(e);
        }
        // INVARIANT: Allocated for `T`, data initialized (`PrivInit` only comes from a
        // successful `PrivSlot::init()` of this call's slot), not registered, ours.
        Ok(Self {
            dev,
            _p: PhantomData,
        })
    }

    /// Sets the MAC address; fails with `EADDRNOTAVAIL` if it is not a valid unicast address.
    pub fn set_mac_address(&mut self, addr: &MacAddress) -> Result {
        if !is_valid_ether_addr(addr) {
            return Err(EADDRNOTAVAIL);
        }
        // SAFETY: The device is ours and not registered: nothing reads the address
        // concurrently.
        unsafe { bindings::eth_hw_addr_set(self.dev.as_ptr(), addr.as_ptr()) };
        Ok(())
    }

    /// Sets a random, locally administered MAC address (`eth_hw_addr_random()`).
    pub fn set_random_mac_address(&mut self) {
        // SAFETY: As in `set_mac_address()`.
        unsafe { bindings::eth_hw_addr_random(self.dev.as_ptr()) };
    }

    /// Sets the range of MTUs the device accepts, and clamps its MTU into it; fails with
    /// `EINVAL` unless `ETH_MIN_MTU <= min <= max`.
    pub fn set_mtu_limits(&mut self, min: u32, max: u32) -> Result {
        if min < ETH_MIN_MTU || min > max {
            return Err(EINVAL);
        }
        let ptr = self.dev.as_ptr();
        // SAFETY: The device is ours and not registered.
        unsafe {
            (*ptr).min_mtu = min;
            (*ptr).max_mtu = max;
            (*ptr).mtu = (*ptr).mtu.clamp(min, max);
        }
        Ok(())
    }

    /// Sets the name, which may contain one `%d` for the core to replace with a free number;
    /// fails with `EINVAL` if it is not a valid interface name (`dev_valid_name()`).
    pub fn set_name(&mut self, name: &CStr) -> Result {
        // SAFETY: FFI call; `name` is NUL-terminated.
        if !unsafe { bindings::dev_valid_name(name.as_char_ptr()) } {
            return Err(EINVAL);
        }
        let bytes = name.as_bytes_with_nul();
        // SAFETY: The device is ours and not registered; `dev_valid_name()` accepted fewer
        // than `IFNAMSIZ` bytes, so the name and its NUL fit in `name`.
        unsafe {
            let dst = core::ptr::addr_of_mut!((*self.dev.as_ptr()).name).cast::<u8>();
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
        }
        Ok(())
    }

    /// Sets the XDP features the device advertises.
    ///
    /// `NDO_XMIT` and `NDO_XMIT_SG` are dropped unless `T` implements
    /// [`Operations::xdp_xmit`]: redirects trust them.
    pub fn set_xdp_features(&mut self, features: XdpFeatures) {
        // SAFETY: The device is ours and not registered: no notifier runs, no RTNL needed.
        unsafe { bindings::xdp_set_features_flag(self.dev.as_ptr(), supported::<T>(features)) }
    }

    /// Declares the offloads the device can do, `hw`, which the user may turn on and off
    /// (`ethtool -K`, through [`Operations::set_features`] if the device needs to know), and
    /// turns on those of `on` among them. The stack gives the device only packets its turned-on
    /// offloads cover.
    pub fn set_features(&mut self, hw: Features, on: Features) {
        // SAFETY: The device is ours and not registered: nothing reads its features yet.
        unsafe {
            let ptr = self.dev.as_ptr();
            (*ptr).hw_features |= hw.0;
            (*ptr).features |= hw.0 & on.0;
        }
    }

    /// Declares the offloads that VLAN devices on top of this one may use (`vlan_features`):
    /// those the device also does for packets it sends with an 802.1Q tag.
    pub fn set_vlan_features(&mut self, features: Features) {
        // SAFETY: The device is ours and not registered: nothing reads its features yet.
        unsafe { (*self.dev.as_ptr()).vlan_features |= features.0 };
    }

    /// Limits the segments of one segmentation-offload packet the stack gives the device
    /// (`netif_set_tso_max_segs()`): what the device can segment, or what its transmit queues
    /// can describe ([`tx::tso_max_segs()`](super::tx::tso_max_segs)).
    pub fn set_tso_max_segs(&mut self, segs: u16) {
        // SAFETY: The device is ours and not registered: nothing reads its limits yet.
        unsafe { bindings::netif_set_tso_max_segs(self.dev.as_ptr(), segs.into()) };
    }

    /// Sets how long a transmit queue may stay stopped before [`Operations::tx_timeout`] is
    /// called, in jiffies.
    pub fn set_watchdog_timeout(&mut self, jiffies: i32) {
        // SAFETY: The device is ours and not registered.
        unsafe { (*self.dev.as_ptr()).watchdog_timeo = jiffies };
    }

    /// Makes `parent` the device's parent (`SET_NETDEV_DEV()`): the bus device the driver
    /// drives, which sysfs shows as the device's `device`, and ethtool and power management
    /// use. The device holds a reference to it.
    pub fn set_parent(&mut self, parent: &device::Device) {
        let ptr = self.dev.as_ptr();
        // SAFETY: The device is ours and not registered; the reference taken on `parent` is
        // put when the device is freed or registered (registration takes one of its own), or
        // when another parent replaces it.
        unsafe {
            let old = (*ptr).dev.parent;
            (*ptr).dev.parent = bindings::get_device(parent.as_raw());
            if !old.is_null() {
                bindings::put_device(old);
            }
        }
    }

    /// Registers the device (`register_netdev()`); on failure the device is freed.
    ///
    /// Must not be called with RTNL held.
    pub fn register(self) -> Result<Registration<T>> {
        // SAFETY: The device is ours, allocated and set up, and not registered.
        to_result(unsafe { bindings::register_netdev(self.dev.as_ptr()) })?;
        let dev = self.dev;
        core::mem::forget(self);
        // SAFETY: Registered: the device holds its own reference to its parent now, taken by
        // `device_add()`; the one `set_parent()` took is put.
        unsafe {
            let parent = (*dev.as_ptr()).dev.parent;
            if !parent.is_null() {
                bindings::put_device(parent);
            }
        }
        // INVARIANT: Registered just now; ownership moves from `self`, forgotten.
        Ok(Registration {
            dev,
            _p: PhantomData,
        })
    }
}

impl<T: Operations> Deref for Unregistered<T> {
    type Target = NetDevice<T>;

    fn deref(&self) -> &NetDevice<T> {
        // SAFETY: By the type invariants the device is `T`'s and lives as long as `self`.
        unsafe { NetDevice::from_raw(self.dev.as_ptr()) }
    }
}

/// Returns the raw bits of `features` that `T` supports: devmap redirects to a device that
/// advertises `NDO_XMIT` without checking for `ndo_xdp_xmit`.
fn supported<T: Operations>(features: XdpFeatures) -> u32 {
    let mut bits = features.as_raw();
    if !T::HAS_XDP_XMIT {
        bits &= !(XdpFeatures::NDO_XMIT | XdpFeatures::NDO_XMIT_SG).as_raw();
    }
    bits
}

/// Frees the interrupt line [`NetDevice::request_irq`] requested for `dev`, if any, waiting for
/// its handler to return.
///
/// # Safety
///
/// `dev` must be valid, RTNL held, and the device not running.
unsafe fn free_irq(dev: *mut bindings::net_device) {
    // SAFETY: By the safety requirements; `irq` is only written under RTNL.
    unsafe {
        let irq = (*dev).irq;
        if irq != 0 {
            bindings::free_irq(irq as u32, dev.cast());
            core::ptr::write_volatile(core::ptr::addr_of_mut!((*dev).irq), 0);
        }
    }
}

/// Drops the private data of `dev` in place, then frees it.
///
/// # Safety
///
/// `dev` must be a device allocated by [`Unregistered::new`] for `T`, not registered, and owned
/// by the caller, which does not use it afterwards.
unsafe fn free<T: Operations>(dev: *mut bindings::net_device) {
    // SAFETY: The private data is initialized and no longer used by the core or the driver.
    unsafe { core::ptr::drop_in_place(bindings::netdev_priv(dev).cast::<T::Data>()) };
    // SAFETY: The device is ours and unregistered.
    unsafe { bindings::free_netdev(dev) };
}

impl<T: Operations> Drop for Unregistered<T> {
    fn drop(&mut self) {
        let dev = self.dev.as_ptr();
        // SAFETY: By the type invariants the device is ours and not registered: the only
        // reference to its parent is the one `set_parent()` took.
        unsafe {
            let parent = (*dev).dev.parent;
            if !parent.is_null() {
                bindings::put_device(parent);
            }
            free::<T>(dev);
        }
    }
}

/// A registered network device of driver `T`; dropping it unregisters and frees the device.
///
/// Must not be dropped with RTNL held (`unregister_netdev()` takes it).
///
/// # Invariants
///
/// `dev` was allocated by [`Unregistered::new`] for `T`, is registered, and is owned here.
pub struct Registration<T: Operations> {
    dev: NonNull<bindings::net_device>,
    _p: PhantomData<T>,
}

// SAFETY: As for `Unregistered`.
unsafe impl<T: Operations> Send for Registration<T> {}

// SAFETY: As for `Unregistered`.
unsafe impl<T: Operations> Sync for Registration<T> {}

impl<T: Operations> Deref for Registration<T> {
    type Target = NetDevice<T>;

    fn deref(&self) -> &NetDevice<T> {
        // SAFETY: By the type invariants the device is `T`'s and lives as long as `self`.
        unsafe { NetDevice::from_raw(self.dev.as_ptr()) }
    }
}

impl<T: Operations> Drop for Registration<T> {
    fn drop(&mut self) {
        let dev = self.dev.as_ptr();
        // SAFETY: The device is registered and ours. Unregistering closes it and waits until
        // the core holds no more references, so no callback runs after this.
        unsafe { bindings::unregister_netdev(dev) };
        // SAFETY: Allocated for `T`, no longer registered, ours.
        unsafe { free::<T>(dev) };
    }
}

/// A reset of a device, carried out later in process context: [`Reset::schedule`] may be called
/// from any context, and queues a work item that takes RTNL and calls [`Operations::reset`] if
/// the device is still registered and up. A reset scheduled while one is pending is the same
/// reset.
///
/// It lives in the private data of the device it resets, which [`Reset::schedule`] checks:
/// the data is dropped before the device is freed, and dropping a `Reset` cancels its work item
/// and waits for it to finish. So it must not be dropped with RTNL held, which the private data
/// never is.
///
/// # Invariants
///
/// `work` was initialized with `Reset::run` as its function. Once it was queued, `dev` is the
/// device whose private data holds `self`.
#[pin_data(PinnedDrop)]
pub struct Reset<T: Operations> {
    #[pin]
    work: Opaque<bindings::work_struct>,
    dev: core::sync::atomic::AtomicPtr<bindings::net_device>,
    _p: PhantomData<T>,
}

// SAFETY: The work item is queued and run by the workqueue, from any thread; `dev` is atomic.
unsafe impl<T: Operations> Send for Reset<T> {}

// SAFETY: As above: `schedule` may race with itself and with the work item, which only load
// and store `dev` (atomically, and always the same value) and queue the work item, which the
// workqueue allows from any thread.
unsafe impl<T: Operations> Sync for Reset<T> {}

impl<T: Operations> Reset<T> {
    /// A reset needs `T` to implement [`Operations::reset`].
    const HAS_RESET: () = assert!(T::HAS_RESET, "a Reset needs Operations::reset");

    /// Creates a reset, not scheduled, for the private data of a device of `T`.
    pub fn new() -> impl PinInit<Self> {
        #[allow(clippy::let_unit_value)]
        let () = Self::HAS_RESET;
        crate::pin_init!(Self {
            // SAFETY: `slot` is valid for writes, and the work item is not queued before this
            // returns.
            work <- Opaque::ffi_init(|slot| unsafe { init_reset_work(slot, Self::run) }),
            dev: core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
            _p: PhantomData,
        })
    }

    /// Schedules a reset of `dev`, whose private data must hold `self`; fails with `EINVAL`
    /// otherwise (and then nothing is scheduled). A device that is not registered has nothing
    /// to reset: nothing is scheduled either. Callable from any context.
    pub fn schedule(&self, dev: &NetDevice<T>) -> Result {
        if !dev.holds(self) {
            return Err(EINVAL);
        }
        let ptr = dev.as_ptr();
        // Nor is the work item queued for a device that is not registered, whose data may be
        // dropped with RTNL held (the work item's drop would then wait for the lock).
        if !registered(ptr) {
            return Ok(());
        }
        // INVARIANT: `self` lies in the private data of `dev`, the only device it can be
        // scheduled for: every store writes the same value.
        self.dev.store(ptr, core::sync::atomic::Ordering::Relaxed);
        // SAFETY: The work item was initialized by `new()`; queueing releases the store
        // above to `run()`. It lives in the device's private data, which is dropped (and this
        // cancelled) before the device is freed.
        unsafe {
            bindings::queue_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as _,
                bindings::system_wq,
                self.work.get(),
            )
        };
        Ok(())
    }

    /// Waits until the reset scheduled last, if any, is done.
    #[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
    pub(crate) fn flush(&self) {
        // SAFETY: The work item was initialized by `new()`.
        unsafe { bindings::flush_work(self.work.get()) };
    }

    /// # Safety
    ///
    /// `work` is the `work` field of a `Reset<T>`, queued by [`Reset::schedule`].
    unsafe extern "C" fn run(work: *mut bindings::work_struct) {
        // SAFETY: By the safety requirements, `work` lies in a `Reset<T>`, which stays valid
        // while its work item runs: dropping it waits for that.
        let this = unsafe { &*crate::container_of!(work, Self, work) };
        let dev = this.dev.load(core::sync::atomic::Ordering::Relaxed);
        let rtnl = Rtnl::lock();
        // By the type invariants `dev` is the device whose private data holds `this`: it is
        // freed only after `this` is dropped, which waits for this function. It becomes
        // registered, and stops being so, under RTNL.
        if !registered(dev) {
            return;
        }
        // SAFETY: As above; registered, so its data is initialized and not being dropped.
        let dev = unsafe { NetDevice::<T>::from_raw(dev) };
        if dev.is_running() {
            T::reset(dev, &rtnl);
        }
    }
}

/// Initializes the work item of a [`Reset`] at `work` to run `func`, in the one lock class of
/// every `Reset`: not generic, so that the class has one name, wherever `Reset::new()` is
/// instantiated (lockdep warns about a key seen with two names).
///
/// # Safety
///
/// `work` must be valid for writes, and not queued.
#[inline(never)]
unsafe fn init_reset_work(
    work: *mut bindings::work_struct,
    func: unsafe extern "C" fn(*mut bindings::work_struct),
) {
    // SAFETY: By the safety requirements; the name and the key are static.
    unsafe {
        bindings::init_work_with_key(
            work,
            Some(func),
            false,
            crate::c_str!("net_device_reset").as_char_ptr(),
            crate::static_lock_class!().as_ptr(),
        )
    }
}

/// Returns whether `dev`, a valid device, is registered. Only under RTNL does the answer hold.
fn registered(dev: *mut bindings::net_device) -> bool {
    // SAFETY: The device is valid; its state is written once at a time (`WRITE_ONCE()`, the
    // last one without RTNL), read the same way.
    let state = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*dev).reg_state)) };
    u32::from(state) == bindings::netdev_reg_state_NETREG_REGISTERED
}

#[pinned_drop]
impl<T: Operations> PinnedDrop for Reset<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The work item was initialized by `new()`. This waits for a running one: the
        // caller does not hold RTNL, which it takes.
        unsafe { bindings::cancel_work_sync(self.work.get()) };
    }
}

/// Builds the C operation tables of `T` at compile time.
struct Adapter<T: Operations>(PhantomData<T>);

impl<T: Operations> Adapter<T> {
    const OPS: bindings::net_device_ops = bindings::net_device_ops {
        ndo_open: if T::HAS_OPEN { Some(Self::open) } else { None },
        // Always: the adapter disables the NAPI instances the driver left enabled.
        ndo_stop: Some(Self::stop),
        ndo_start_xmit: Some(Self::start_xmit),
        ndo_get_stats64: if T::HAS_GET_STATS64 {
            Some(Self::get_stats64)
        } else {
            None
        },
        ndo_set_mac_address: if T::HAS_SET_MAC_ADDRESS {
            Some(Self::set_mac_address)
        } else {
            None
        },
        ndo_validate_addr: Some(bindings::eth_validate_addr),
        ndo_change_mtu: if T::HAS_CHANGE_MTU {
            Some(Self::change_mtu)
        } else {
            None
        },
        ndo_set_rx_mode: if T::HAS_SET_RX_MODE {
            Some(Self::set_rx_mode)
        } else {
            None
        },
        ndo_set_features: if T::HAS_SET_FEATURES {
            Some(Self::set_features)
        } else {
            None
        },
        ndo_tx_timeout: if T::HAS_TX_TIMEOUT {
            Some(Self::tx_timeout)
        } else {
            None
        },
        ndo_bpf: if T::HAS_XDP_SETUP_PROG {
            Some(Self::bpf)
        } else {
            None
        },
        ndo_xdp_xmit: if T::HAS_XDP_XMIT {
            Some(Self::xdp_xmit)
        } else {
            None
        },
        // SAFETY: All-zeroes is a valid `net_device_ops`: every other callback absent.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const STAT_OPS: bindings::netdev_stat_ops = bindings::netdev_stat_ops {
        get_queue_stats_rx: if T::HAS_QUEUE_STATS_RX {
            Some(Self::queue_stats_rx)
        } else {
            None
        },
        get_queue_stats_tx: if T::HAS_QUEUE_STATS_TX {
            Some(Self::queue_stats_tx)
        } else {
            None
        },
        get_base_stats: if T::HAS_BASE_STATS {
            Some(Self::base_stats)
        } else {
            None
        },
    };

    /// # Safety
    ///
    /// Called by the core with one of `T`'s devices, under RTNL.
    unsafe extern "C" fn open(dev: *mut bindings::net_device) -> crate::ffi::c_int {
        // SAFETY: The device is `T`'s (its ops are `T`'s) and valid during the call, which the
        // core makes under RTNL.
        let (ndev, rtnl) = unsafe { (NetDevice::<T>::from_raw(dev), Rtnl::assume()) };
        let res = T::open(ndev, rtnl);
        if res.is_err() {
            // SAFETY: The device is valid; RTNL is held; it does not come up.
            unsafe { free_irq(dev) };
        }
        from_result(|| res.map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the core with one of `T`'s devices, holding its address lock.
    unsafe extern "C" fn set_rx_mode(dev: *mut bindings::net_device) {
        // SAFETY: The device is `T`'s and valid during the call.
        let ndev = unsafe { NetDevice::<T>::from_raw(dev) };
        // INVARIANT: The core holds the address lock for the call, which the borrow lasts.
        T::set_rx_mode(ndev, &RxMode { dev: ndev })
    }

    /// # Safety
    ///
    /// Called by the core with one of `T`'s devices, under RTNL.
    unsafe extern "C" fn set_features(
        dev: *mut bindings::net_device,
        features: bindings::netdev_features_t,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `open()`.
        let (ndev, rtnl) = unsafe { (NetDevice::<T>::from_raw(dev), Rtnl::assume()) };
        from_result(|| {
            T::set_features(ndev, rtnl, Features(features))?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the interrupt core for a line [`NetDevice::request_irq`] requested, with its
    /// cookie: one of `T`'s devices.
    unsafe extern "C" fn interrupt(
        _irq: crate::ffi::c_int,
        cookie: *mut crate::ffi::c_void,
    ) -> bindings::irqreturn_t {
        // SAFETY: The cookie is `T`'s device, and its line is only requested while the device
        // is up, so its data is initialized and stays so for the call.
        let dev = unsafe { NetDevice::<T>::from_raw(cookie.cast()) };
        T::interrupt(dev).as_raw()
    }

    /// # Safety
    ///
    /// Called by the core with one of `T`'s devices, under RTNL.
    unsafe extern "C" fn stop(dev: *mut bindings::net_device) -> crate::ffi::c_int {
        // SAFETY: As in `open()`.
        let (ndev, rtnl) = unsafe { (NetDevice::<T>::from_raw(dev), Rtnl::assume()) };
        let res = if T::HAS_STOP {
            T::stop(ndev, rtnl)
        } else {
            Ok(())
        };
        // SAFETY: Every NAPI instance of the device was added by `Napi::new()` (the only way
        // for a Rust driver); RTNL is held.
        unsafe { super::napi::disable_all(dev) };
        // SAFETY: The device is valid and RTNL held; it is down.
        unsafe { free_irq(dev) };
        from_result(|| res.map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the core with an skb it gives up and one of `T`'s devices, holding the
    /// transmit lock of the skb's queue.
    unsafe extern "C" fn start_xmit(
        skb: *mut bindings::sk_buff,
        dev: *mut bindings::net_device,
    ) -> bindings::netdev_tx_t {
        // SAFETY: The device is `T`'s and valid during the call.
        let dev = unsafe { NetDevice::<T>::from_raw(dev) };
        // SAFETY: The core picked the queue for this skb: the mapping is a queue of `dev`.
        let queue = unsafe {
            TxQueue::from_raw(bindings::netdev_get_tx_queue(
                dev.as_ptr(),
                (*skb).queue_mapping.into(),
            ))
        };
        // SAFETY: Reads this CPU's transmit state, set by the core for this call.
        let more = unsafe { bindings::netdev_xmit_more() };
        // SAFETY: The core passes a valid, so non-null, skb.
        let ptr = unsafe { NonNull::new_unchecked(skb) };
        // INVARIANT: The core passes a reference to a valid skb; it is ours until returned.
        let orig = TxSkb { ptr };
        match T::start_xmit(dev, orig, &Xmit { queue, more }) {
            TxResult::Ok => bindings::netdev_tx_NETDEV_TX_OK,
            TxResult::Busy(ret) if ret.as_ptr() == skb => {
                // The core keeps the skb and requeues it.
                core::mem::forget(ret);
                bindings::netdev_tx_NETDEV_TX_BUSY
            }
            TxResult::Busy(other) => {
                // Another packet: the core must forget this call's skb, which the driver kept
                // or freed, and the one returned is freed here.
                crate::pr_warn!("start_xmit returned busy with another packet\n");
                drop(other);
                bindings::netdev_tx_NETDEV_TX_OK
            }
        }
    }

    /// # Safety
    ///
    /// Called by the core with one of `T`'s devices and zeroed statistics storage.
    unsafe extern "C" fn get_stats64(
        dev: *mut bindings::net_device,
        stats: *mut bindings::rtnl_link_stats64,
    ) {
        // SAFETY: The device is `T`'s; `stats` is valid and exclusively ours during the call.
        let (dev, stats) = unsafe { (NetDevice::<T>::from_raw(dev), &mut *stats) };
        T::get_stats64(dev, stats);
    }

    /// # Safety
    ///
    /// Called by the core with one of `T`'s devices and a `struct sockaddr`, under RTNL.
    unsafe extern "C" fn set_mac_address(
        dev: *mut bindings::net_device,
        addr: *mut crate::ffi::c_void,
    ) -> crate::ffi::c_int {
        from_result(|| {
            // SAFETY: The device is valid and `addr` a `struct sockaddr`; checks validity, and
            // that the device is down or supports live changes.
            to_result(unsafe { bindings::eth_prepare_mac_addr_change(dev, addr) })?;
            let mut mac = [0; ETH_ALEN];
            // SAFETY: `sa_data` of a `struct sockaddr` holds at least `ETH_ALEN` bytes.
            unsafe {
                let sa = addr.cast::<bindings::sockaddr>();
                let data = core::ptr::addr_of!((*sa).__bindgen_anon_1).cast::<u8>();
                core::ptr::copy_nonoverlapping(data, mac.as_mut_ptr(), ETH_ALEN);
            }
            // SAFETY: As in `open()`.
            let (ndev, rtnl) = unsafe { (NetDevice::<T>::from_raw(dev), Rtnl::assume()) };
            T::set_mac_address(ndev, rtnl, &mac)?;
            // SAFETY: As above; records the address the hardware now has.
            unsafe { bindings::eth_commit_mac_addr_change(dev, addr) };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the core with one of `T`'s devices and an MTU within its limits, under RTNL.
    unsafe extern "C" fn change_mtu(
        dev: *mut bindings::net_device,
        mtu: crate::ffi::c_int,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `open()`.
        let (ndev, rtnl) = unsafe { (NetDevice::<T>::from_raw(dev), Rtnl::assume()) };
        from_result(|| {
            let mtu = u32::try_from(mtu).map_err(|_| EINVAL)?;
            T::change_mtu(ndev, rtnl, mtu)?;
            // SAFETY: RTNL is held; lockless readers load the MTU once, as `WRITE_ONCE()`
            // expects.
            unsafe { core::ptr::write_volatile(core::ptr::addr_of_mut!((*dev).mtu), mtu) };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the core's watchdog with one of `T`'s devices.
    unsafe extern "C" fn tx_timeout(dev: *mut bindings::net_device, queue: crate::ffi::c_uint) {
        // SAFETY: The device is `T`'s and valid during the call.
        T::tx_timeout(unsafe { NetDevice::<T>::from_raw(dev) }, queue);
    }

    /// # Safety
    ///
    /// Called by the core with one of `T`'s devices and a command, under RTNL.
    unsafe extern "C" fn bpf(
        dev: *mut bindings::net_device,
        bpf: *mut bindings::netdev_bpf,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `open()`; `bpf` is valid during the call.
        let (ndev, rtnl, bpf) = unsafe { (NetDevice::<T>::from_raw(dev), Rtnl::assume(), &*bpf) };
        if bpf.command != bindings::bpf_netdev_command_XDP_SETUP_PROG {
            // Offload and AF_XDP are not supported.
            return EOPNOTSUPP.to_errno();
        }
        // SAFETY: `XDP_SETUP_PROG` uses the `prog` and `extack` members of the union.
        let (raw, ack) = unsafe {
            (
                bpf.__bindgen_anon_1.__bindgen_anon_1.prog,
                bpf.__bindgen_anon_1.__bindgen_anon_1.extack,
            )
        };
        // INVARIANT: The request's acknowledgment (or null), valid during the call.
        let extack = ExtAck {
            ack,
            _p: PhantomData,
        };
        // The core moves a reference to the driver only if this succeeds, and puts it itself
        // otherwise; the driver gets a reference of its own, which it may drop on error.
        let prog = NonNull::new(raw).map(|p| {
            // SAFETY: The core holds a reference to the program for the call.
            unsafe {
                bindings::bpf_prog_inc(p.as_ptr());
                Prog::from_raw(p)
            }
        });
        from_result(|| {
            T::xdp_setup_prog(ndev, rtnl, prog, &extack)?;
            if !raw.is_null() {
                // SAFETY: Success: the reference the core moved is ours, and the driver holds
                // its own.
                unsafe { bindings::bpf_prog_put(raw) };
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the core with one of `T`'s devices and `n` frames it gives up, in softirq
    /// context.
    unsafe extern "C" fn xdp_xmit(
        dev: *mut bindings::net_device,
        n: crate::ffi::c_int,
        frames: *mut *mut bindings::xdp_frame,
        flags: u32,
    ) -> crate::ffi::c_int {
        let n = usize::try_from(n).unwrap_or(0);
        if n == 0 || frames.is_null() {
            return 0;
        }
        // SAFETY: The device is `T`'s; `frames` holds `n` valid frames for the call.
        let (ndev, frames) = unsafe {
            (
                NetDevice::<T>::from_raw(dev),
                core::slice::from_raw_parts(frames, n),
            )
        };
        // SAFETY: The frames are the driver's once taken; the core frees the others, from the
        // count returned on.
        let mut frames = unsafe { XmitFrames::new(frames) };
        T::xdp_xmit(ndev, &mut frames, flags & bindings::XDP_XMIT_FLUSH != 0);
        frames.taken() as crate::ffi::c_int
    }

    /// # Safety
    ///
    /// Called by the core with one of `T`'s devices, a queue index and statistics storage.
    unsafe extern "C" fn queue_stats_rx(
        dev: *mut bindings::net_device,
        idx: crate::ffi::c_int,
        stats: *mut bindings::netdev_queue_stats_rx,
    ) {
        // SAFETY: The device is `T`'s; `stats` is valid and exclusively ours during the call.
        let (dev, stats) = unsafe { (NetDevice::<T>::from_raw(dev), &mut *stats) };
        T::queue_stats_rx(dev, idx as u32, stats);
    }

    /// # Safety
    ///
    /// As for `queue_stats_rx()`.
    unsafe extern "C" fn queue_stats_tx(
        dev: *mut bindings::net_device,
        idx: crate::ffi::c_int,
        stats: *mut bindings::netdev_queue_stats_tx,
    ) {
        // SAFETY: As in `queue_stats_rx()`.
        let (dev, stats) = unsafe { (NetDevice::<T>::from_raw(dev), &mut *stats) };
        T::queue_stats_tx(dev, idx as u32, stats);
    }

    /// # Safety
    ///
    /// As for `queue_stats_rx()`, with storage for both directions.
    unsafe extern "C" fn base_stats(
        dev: *mut bindings::net_device,
        rx: *mut bindings::netdev_queue_stats_rx,
        tx: *mut bindings::netdev_queue_stats_tx,
    ) {
        // SAFETY: As in `queue_stats_rx()`.
        let (dev, rx, tx) = unsafe { (NetDevice::<T>::from_raw(dev), &mut *rx, &mut *tx) };
        T::base_stats(dev, rx, tx);
    }
}

/// An Ethernet device that is allocated but never registered, freed on drop: enough for the
/// KUnit suites of the abstractions that take a [`Device`].
///
/// # Invariants
///
/// `self.0` was allocated by `alloc_etherdev_mqs()`, is never registered, and is owned here.
#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
pub(crate) struct TestDevice(core::ptr::NonNull<bindings::net_device>);

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
impl TestDevice {
    /// Allocates the device: no private area, one TX and one RX queue.
    pub(crate) fn new() -> crate::error::Result<Self> {
        // SAFETY: FFI call without safety requirements.
        let dev = unsafe { bindings::alloc_etherdev_mqs(0, 1, 1) };
        // INVARIANT: Freshly allocated, not registered, ours.
        Ok(Self(
            core::ptr::NonNull::new(dev).ok_or(crate::error::code::ENOMEM)?,
        ))
    }

    /// Returns the device.
    pub(crate) fn get(&self) -> &Device {
        // SAFETY: By the type invariants the device lives as long as `self`.
        unsafe { Device::from_raw(self.0.as_ptr()) }
    }
}

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
impl Drop for TestDevice {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the device was allocated by `alloc_etherdev_mqs()`,
        // never registered, and is ours.
        unsafe { bindings::free_netdev(self.0.as_ptr()) };
    }
}

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
pub(crate) mod tests;
