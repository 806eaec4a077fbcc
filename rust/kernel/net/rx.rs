// SPDX-License-Identifier: GPL-2.0

//! The receive queue engine: everything between a driver's descriptor ring and the stack.
//!
//! A driver describes its receive ring with [`Ring`]: write a descriptor that posts a buffer,
//! read a completed descriptor back, ring the doorbell. A [`Queue`] does the rest, in the NAPI
//! poll of the instance whose state it is:
//!
//! - a page pool per queue (DMA-mapped by the pool, synced for the device on recycling, bound
//!   to the NAPI instance for direct recycling), an XDP receive queue registration, and the
//!   fill ring: the initial fill, refills in batches, one doorbell per batch; a buffer whose
//!   contents were dropped (`XDP_DROP`, a bad frame) or copied goes straight back on the ring,
//!   without a return to the pool and an allocation;
//! - per completed buffer: DMA sync for the CPU; with an XDP program attached, run it and carry
//!   out its verdict (pass, drop, `XDP_TX` to the driver's [`XdpTx`] queue, redirect,
//!   aborted);
//!   otherwise, or on pass, build an skb around the buffer without copying, apply the
//!   descriptor's metadata and hand it to GRO;
//! - frames spread over several buffers, as page fragments of one skb;
//! - counted outcomes ([`Shared`], [`Stats`]), standard queue statistics, and allocation
//!   failures that leave the ring consistent and are retried.
//!
//! Buffers are order-0 pages with [`HEADROOM`] bytes reserved in front (room for XDP to grow
//! the packet, and for the skb headers) and the skb shared info at the end.
//!
//! The queue is the [`Poll::State`] of its NAPI instance, so that it only ever runs in that
//! instance's poll, or under RTNL while the instance is disabled: [`Queue::start`] from `open`
//! before the instance is enabled, [`Queue::stop`] from `stop` after it is disabled. The
//! device-lifetime part, the XDP program and the counters, is a [`Shared`] that stays with the
//! device across stop and start.
//!
//! # Examples
//!
//! A driver's poll: transmit completions would go first, then the receive queue.
//!
//! ```
//! use kernel::net::napi::{Poll, PollContext};
//! use kernel::net::rx::{self, Completion};
//! use kernel::prelude::*;
//! # use kernel::dma::DmaAddr;
//!
//! /// The hardware side of the ring (here, a device that never receives anything).
//! struct HwRing;
//!
//! impl rx::Ring for HwRing {
//!     fn post(&mut self, _index: u32, _addr: DmaAddr, _len: u32) {}
//!     fn completed(&mut self, _index: u32) -> Option<Completion> {
//!         None
//!     }
//!     fn doorbell(&mut self, _tail: u32) {}
//!     fn quiesce(&mut self) {}
//! }
//!
//! #[pin_data]
//! struct Channel {
//!     #[pin]
//!     rx: rx::Shared,
//! }
//!
//! impl rx::HasShared for Channel {
//!     fn rx_shared(&self) -> &rx::Shared {
//!         &self.rx
//!     }
//! }
//!
//! impl Poll for Channel {
//!     type State = rx::Queue<HwRing>;
//!
//!     fn poll(&self, queue: Pin<&mut rx::Queue<HwRing>>, ctx: &mut PollContext<'_>) -> u32 {
//!         // No `XDP_TX` queue: such verdicts are counted as errors.
//!         queue.poll(None, ctx)
//!     }
//!
//!     fn rearm(&self) {
//!         // Re-enable the queue's interrupt.
//!     }
//! }
//! ```

use crate::{
    bindings, device,
    dma::{DataDirection, DmaAddr},
    error::{code::*, Result},
    init::PinInit,
    net::{
        napi::{self, Napi, Poll, PollContext},
        netdev::{Device, ExtAck, LinkStats64, QueueStatsRx, Rtnl},
        page_pool::{PagePool, Params, PoolPage},
        skbuff::{Checksum, DropReason, HashType, SkBuff, SHARED_INFO_SIZE},
        xdp::{self, Action, Prog, ProgSlot, RxqInfo, XdpBuff, XdpFrame},
    },
    page::PAGE_SIZE,
    pin_init,
    prelude::*,
    sync::{
        rcu,
        u64_stats::{Counter, U64StatsSync, Update},
        Arc,
    },
};
use core::{
    marker::PhantomPinned,
    pin::Pin,
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering},
};

/// The bytes reserved in front of the data in every receive buffer: what XDP programs may grow
/// the packet into (`XDP_PACKET_HEADROOM`), which also covers the skb's `NET_SKB_PAD`.
pub const HEADROOM: u32 = xdp::PACKET_HEADROOM;

/// The most bytes one buffer takes: an order-0 page without the headroom and the shared info.
pub const MAX_BUF_LEN: u32 = (PAGE_SIZE - HEADROOM as usize - SHARED_INFO_SIZE) as u32;

/// The most bytes a frame of a device with MTU `mtu` takes in a buffer: the Ethernet header
/// and one VLAN tag besides the payload (the device strips the FCS).
pub const fn frame_len(mtu: u32) -> u32 {
    mtu.saturating_add(bindings::VLAN_ETH_HLEN)
}

/// Whether a poll with the wrong instance or [`Shared`] was reported (once).
static MISUSE_REPORTED: AtomicBool = AtomicBool::new(false);

/// `ETH_P_8021Q` in network byte order.
const VLAN_PROTO: u16 = (bindings::ETH_P_8021Q as u16).to_be();

/// What the device reported for a completed descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The bytes the device wrote into the buffer.
    pub len: u32,
    /// Whether this buffer ends the frame; a frame larger than one buffer continues in the
    /// buffers of the following descriptors.
    pub eop: bool,
    /// Whether the device flagged the frame as bad (CRC, length, ...): it is dropped and
    /// counted. Set on the last buffer of a frame at the latest.
    pub error: bool,
    /// The checksum state the device determined (read from the last buffer of a frame).
    pub csum: Checksum,
    /// The flow hash the device computed, if any.
    pub hash: Option<(u32, HashType)>,
    /// The 802.1Q tag (TCI) the device stripped, if any.
    pub vlan: Option<u16>,
}

impl Completion {
    /// A good single-buffer frame of `len` bytes without metadata.
    pub const fn new(len: u32) -> Self {
        Self {
            len,
            eop: true,
            error: false,
            csum: Checksum::None,
            hash: None,
            vlan: None,
        }
    }
}

/// The hardware side of a receive ring: how a driver's descriptors are written and read.
///
/// Indices run from 0 to the ring size minus 1. The engine posts at most `size - 1` buffers,
/// so that a full ring and an empty one look different to devices that compare a head and a
/// tail.
pub trait Ring: Send {
    /// Writes the descriptor at `index`, posting the buffer of `len` bytes at DMA address
    /// `addr` for the device to receive into. The device may use it after the next doorbell.
    fn post(&mut self, index: u32, addr: DmaAddr, len: u32);

    /// Returns what the device reported for the descriptor at `index`, or `None` if it has not
    /// completed it yet. Called in ring order, for posted descriptors only; the descriptor is
    /// the driver's again afterwards (it is posted anew before the device sees it again).
    fn completed(&mut self, index: u32) -> Option<Completion>;

    /// Tells the device that the descriptors before `tail` are posted (`tail` is the index of
    /// the next one to be posted). Called once per batch of posted buffers.
    fn doorbell(&mut self, tail: u32);

    /// Stops the device's DMA into the ring: once this returns, the device writes no
    /// descriptor or buffer of it any more. Called when the queue stops or is dropped (in
    /// process context, where it may sleep), before any posted buffer is unmapped, recycled or
    /// freed.
    fn quiesce(&mut self);
}

/// The shared data of a NAPI instance whose state is a receive [`Queue`]: where the queue's
/// [`Shared`] part lives, so that the queue takes it from the instance, which outlives it.
pub trait HasShared {
    /// Returns the [`Shared`] part of the instance's receive queue; the same one every time.
    fn rx_shared(&self) -> &Shared;
}

/// A frame an XDP program sent back out with `XDP_TX`, in a buffer of the receive queue's page
/// pool.
///
/// With [`Config::xdp_tx`] and a DMA device, the pool maps its buffers in both directions, so
/// the frame is transmitted from where it was received ([`XdpTxFrame::dma_addr`]), without a
/// new mapping.
///
/// # Invariants
///
/// If `dev` is not null, the frame's data lies in a page-pool buffer that is mapped for the
/// device `dev` in both directions, at `dma`, and `lease` holds the pool's mapping: it stays
/// mapped for as long as the frame owns the buffer and the lease lives.
pub struct XdpTxFrame {
    frame: XdpFrame,
    dma: DmaAddr,
    dev: *const bindings::device,
    lease: Option<MappingLease>,
}

/// A hold on a receive queue's page pool mappings, carried by an `XDP_TX` frame sent from where
/// it was received ([`XdpTxFrame::dma_addr`]): a transmit queue keeps it until the device is
/// done with the frame. The receive queue does not destroy its pool, which unmaps every page
/// still out, while one lives.
///
/// # Invariants
///
/// Counted once in the counter it holds, which the queue checks before destroying its pool.
pub struct MappingLease(Arc<AtomicU32>);

impl Drop for MappingLease {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

// SAFETY: The frame is `Send`; `dev` is only compared, never dereferenced.
unsafe impl Send for XdpTxFrame {}

impl XdpTxFrame {
    /// Returns the frame.
    pub fn frame(&self) -> &XdpFrame {
        &self.frame
    }

    /// Returns the frame, giving up its DMA address.
    pub fn into_frame(self) -> XdpFrame {
        self.frame
    }

    /// Returns the frame and the hold on its mapping, which keeps
    /// [`XdpTxFrame::dma_addr`]'s address mapped while it lives: a transmit queue that sends
    /// the frame from there keeps both until the device is done with it.
    pub fn into_leased(self) -> (XdpFrame, Option<MappingLease>) {
        (self.frame, self.lease)
    }

    /// Wraps a frame that has no DMA address (it must be mapped to be transmitted).
    pub fn from_frame(frame: XdpFrame) -> Self {
        // INVARIANT: No device: nothing is claimed about the mapping.
        Self {
            frame,
            dma: 0,
            dev: ptr::null(),
            lease: None,
        }
    }

    /// Returns the DMA address of the frame's data if its buffer is mapped for `dev` in both
    /// directions. The data must be synced for the device before the device reads it.
    pub fn dma_addr(&self, dev: &device::Device) -> Option<DmaAddr> {
        (!self.dev.is_null() && ptr::eq(self.dev, dev.as_raw())).then_some(self.dma)
    }
}

/// The transmit queue `XDP_TX` frames go to, handed to [`Queue::poll`].
///
/// The transmit queue engine's `Queue` implements it; a driver may share one between the stack
/// and XDP, or keep one per receive queue. Frames sent from where they were received use the
/// receive queue's page pool mapping, which lasts as long as the pool: the driver stops this
/// queue before the receive queue ([`Queue::stop`]).
pub trait XdpTx: Sync {
    /// Queues `frame` for transmission; gives it back if it cannot (the ring is full), and the
    /// receive queue drops it and counts an error. Called from the NAPI poll.
    fn xdp_tx(&self, frame: XdpTxFrame) -> Result<(), XdpTxFrame>;

    /// Rings the doorbell for the frames queued by [`XdpTx::xdp_tx`]: once at the end of each
    /// poll that queued any.
    fn xdp_tx_flush(&self);
}

/// The parameters of a started [`Queue`].
#[derive(Clone, Copy)]
pub struct Config<'a> {
    size: u32,
    queue: u32,
    dma: Option<&'a device::Device>,
    buf_len: u32,
    batch: u32,
    xdp_tx: bool,
    copybreak: u32,
}

impl<'a> Config<'a> {
    /// A queue with `size` descriptors, the receive queue `queue` of its device, buffers of
    /// [`MAX_BUF_LEN`] bytes, refilled in batches of 16 (or of a quarter of the ring, if less).
    pub const fn new(size: u32, queue: u32) -> Self {
        let quarter = if size / 4 > 1 { size / 4 } else { 1 };
        Self {
            size,
            queue,
            dma: None,
            buf_len: MAX_BUF_LEN,
            batch: if quarter < 16 { quarter } else { 16 },
            xdp_tx: false,
            copybreak: 0,
        }
    }

    /// Has the page pool map buffers for DMA by `dev`.
    ///
    /// Without it the buffers are not mapped and their "DMA address" is 0: for software
    /// devices, which write received frames with the CPU.
    pub const fn dma(mut self, dev: &'a device::Device) -> Self {
        self.dma = Some(dev);
        self
    }

    /// Limits the bytes the device may write into one buffer (the hardware's buffer size);
    /// longer frames take several buffers. At most [`MAX_BUF_LEN`].
    pub const fn buf_len(mut self, len: u32) -> Self {
        self.buf_len = len;
        self
    }

    /// Posts buffers in batches of `batch` (one doorbell each).
    pub const fn batch(mut self, batch: u32) -> Self {
        self.batch = batch;
        self
    }

    /// Maps buffers in both directions, so that `XDP_TX` frames can be transmitted from where
    /// they were received ([`XdpTxFrame::dma_addr`]); without it, they are mapped anew.
    pub const fn xdp_tx(mut self) -> Self {
        self.xdp_tx = true;
        self
    }

    /// Copies frames of at most `len` bytes into a new skb of their size and gives their
    /// buffer back to the page pool at once, instead of building the skb around the buffer.
    ///
    /// A small frame built around a buffer charges its socket for the whole page (its
    /// truesize): a burst of small datagrams then fills a socket's receive buffer long before
    /// their bytes would. Copying costs a copy of at most `len` bytes; a frame the copy's
    /// allocation fails for is built around its buffer instead. 0 (the default) copies
    /// nothing; at most [`MAX_COPYBREAK`].
    pub const fn copybreak(mut self, len: u32) -> Self {
        self.copybreak = len;
        self
    }
}

/// Returns `true` if a failure injected by the tests is due, and counts it.
#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
fn injected_failure(fail: &core::sync::atomic::AtomicU32) -> bool {
    fail.load(Ordering::Relaxed) > 0
        && fail
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
}

/// Copies the `len` bytes at `headroom` in `page` into a new skb of their size.
fn copy_skb(
    _shared: &Shared,
    ctx: &PollContext<'_>,
    page: &PoolPage,
    headroom: u32,
    len: u32,
) -> Result<SkBuff> {
    #[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
    if injected_failure(&_shared.c.fail_copies) {
        return Err(ENOMEM);
    }
    let src = page
        .as_slice()
        .get(headroom as usize..(headroom + len) as usize)
        .ok_or(EINVAL)?;
    let mut skb = ctx.alloc_skb(len)?;
    skb.put(len)?.copy_from_slice(src);
    Ok(skb)
}

/// The largest [`Config::copybreak`]: frames longer than this are cheaper to build around their
/// buffer than to copy.
pub const MAX_COPYBREAK: u32 = 1024;

/// The counters of a receive queue, read from any context with [`Shared::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames received: handed to the stack, or consumed by the XDP program (transmitted,
    /// redirected or dropped by it: XDP is the stack's first layer, as netdev's queue
    /// statistics define rx-packets).
    pub packets: u64,
    /// Bytes of the frames counted in `packets`, as received (before XDP changed them).
    pub bytes: u64,
    /// Buffers that could not be allocated for the ring (retried later), and skbs that could
    /// not be allocated for frames to copy ([`Config::copybreak`]; those go up in their buffer).
    pub alloc_fail: u64,
    /// Frames the device flagged as bad.
    pub hw_errors: u64,
    /// Frames dropped by the engine: no memory for an skb, too many fragments, too short for
    /// an Ethernet header, too long for the buffer, multi-buffer with an XDP program.
    pub dropped: u64,
    /// Frames handed up with `CHECKSUM_UNNECESSARY`.
    pub csum_unnecessary: u64,
    /// Frames handed up with `CHECKSUM_NONE`.
    pub csum_none: u64,
    /// XDP verdicts: pass.
    pub xdp_pass: u64,
    /// XDP verdicts: drop.
    pub xdp_drop: u64,
    /// XDP verdicts: transmitted with `XDP_TX`.
    pub xdp_tx: u64,
    /// XDP verdicts: `XDP_TX` that could not be carried out (dropped).
    pub xdp_tx_err: u64,
    /// XDP verdicts: redirected.
    pub xdp_redirect: u64,
    /// XDP verdicts: redirects that failed (dropped).
    pub xdp_redirect_err: u64,
    /// XDP verdicts: aborted, or unknown (dropped and traced).
    pub xdp_aborted: u64,
}

/// The part of a receive queue that lives as long as its device: the attached XDP program and
/// the counters. It sits in the NAPI instance's shared data (found through [`HasShared`]), next
/// to the [`Queue`] in its state; only the queue that [`Queue::start`] bound it to updates it.
///
/// # Invariants
///
/// `owner` is null or the [`Queue`] that is the only writer of the counters, from its poll.
#[pin_data]
pub struct Shared {
    prog: ProgSlot,
    owner: AtomicPtr<core::ffi::c_void>,
    /// The buffer length of the started queue, else of the last one started, else the one
    /// [`Shared::with_buf_len`] announced; 0 if none is known.
    buf_len: AtomicU32,
    #[pin]
    sync: U64StatsSync,
    c: Counters,
    /// A started queue keeps a pointer to it: it does not move.
    #[pin]
    _pin: PhantomPinned,
}

/// The counters of [`Stats`], updated under [`Shared`]'s `sync`.
#[derive(Default)]
struct Counters {
    packets: Counter,
    bytes: Counter,
    alloc_fail: Counter,
    hw_errors: Counter,
    dropped: Counter,
    csum_unnecessary: Counter,
    csum_none: Counter,
    xdp_pass: Counter,
    xdp_drop: Counter,
    xdp_tx: Counter,
    xdp_tx_err: Counter,
    xdp_redirect: Counter,
    xdp_redirect_err: Counter,
    xdp_aborted: Counter,
    /// Buffer allocations still to fail: failures injected by the tests.
    #[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
    fail_allocs: core::sync::atomic::AtomicU32,
    /// Copybreak skb allocations still to fail: failures injected by the tests.
    #[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
    fail_copies: core::sync::atomic::AtomicU32,
}

impl Shared {
    /// Creates the shared part of a queue, without an XDP program and with zero counters.
    pub fn new() -> impl PinInit<Self> {
        Self::with_buf_len(0)
    }

    /// Creates the shared part of a queue as [`Shared::new`] does, for buffers of `buf_len`
    /// bytes ([`Config::buf_len`]): the MTU and XDP checks hold for them before the queue
    /// first starts, rather than for the largest buffer.
    pub fn with_buf_len(buf_len: u32) -> impl PinInit<Self> {
        pin_init!(Self {
            prog: ProgSlot::new(),
            owner: AtomicPtr::new(ptr::null_mut()),
            buf_len: AtomicU32::new(buf_len),
            sync <- U64StatsSync::new(),
            c: Counters::default(),
            _pin: PhantomPinned,
        })
    }

    /// Attaches `prog` (or detaches with `None`) for `dev`'s `ndo_bpf` with `XDP_SETUP_PROG`,
    /// and returns the previous program; polls running meanwhile finish with the one they
    /// started with. Drop the returned program outside RCU read-side sections.
    ///
    /// Programs see single buffers only: fails with `EINVAL`, saying so in `extack` and
    /// dropping `prog`, if a frame of `dev`'s MTU ([`frame_len`]) would not fit one buffer (of
    /// the started queue, or the largest one, [`MAX_BUF_LEN`], while it is stopped). A frame
    /// that does not fit anyway (beyond the MTU) is dropped and counted.
    pub fn set_prog(
        &self,
        dev: &Device,
        prog: Option<Prog>,
        extack: &ExtAck<'_>,
    ) -> Result<Option<Prog>> {
        if prog.is_some() && !self.fits(dev.mtu()) {
            extack.set_msg(crate::c_str!(
                "MTU too large for XDP: frames would span buffers"
            ));
            return Err(EINVAL);
        }
        Ok(self.prog.replace(prog))
    }

    /// Returns whether a frame of a device with MTU `mtu` fits one buffer of the queue: of the
    /// started queue, else of the last one started, else of [`Shared::with_buf_len`], else the
    /// largest the engine allows.
    pub fn fits(&self, mtu: u32) -> bool {
        let buf_len = match self.buf_len.load(Ordering::Relaxed) {
            0 => MAX_BUF_LEN,
            len => len,
        };
        frame_len(mtu) <= buf_len
    }

    /// Checks an MTU change (`ndo_change_mtu`): fails with `EINVAL` while an XDP program is
    /// attached if a frame of `mtu` would not fit one buffer. The driver calls it before it
    /// accepts the change.
    pub fn check_mtu(&self, mtu: u32) -> Result {
        if self.has_prog() && !self.fits(mtu) {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Returns whether an XDP program is attached.
    pub fn has_prog(&self) -> bool {
        self.prog.is_attached()
    }

    /// Returns the counters.
    pub fn stats(&self) -> Stats {
        self.sync.read(|| Stats {
            packets: self.c.packets.get(),
            bytes: self.c.bytes.get(),
            alloc_fail: self.c.alloc_fail.get(),
            hw_errors: self.c.hw_errors.get(),
            dropped: self.c.dropped.get(),
            csum_unnecessary: self.c.csum_unnecessary.get(),
            csum_none: self.c.csum_none.get(),
            xdp_pass: self.c.xdp_pass.get(),
            xdp_drop: self.c.xdp_drop.get(),
            xdp_tx: self.c.xdp_tx.get(),
            xdp_tx_err: self.c.xdp_tx_err.get(),
            xdp_redirect: self.c.xdp_redirect.get(),
            xdp_redirect_err: self.c.xdp_redirect_err.get(),
            xdp_aborted: self.c.xdp_aborted.get(),
        })
    }

    /// Makes the next `n` buffer allocations of the queue fail.
    #[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
    pub(crate) fn inject_alloc_failures(&self, n: u32) {
        self.c.fail_allocs.store(n, Ordering::Relaxed);
    }

    /// Makes the next `n` skb allocations for copied frames ([`Config::copybreak`]) fail.
    #[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
    pub(crate) fn inject_copy_failures(&self, n: u32) {
        self.c.fail_copies.store(n, Ordering::Relaxed);
    }

    /// Adds the counts of a poll to the counters.
    fn add(&self, update: &Update<'_>, t: &Stats) {
        let c = &self.c;
        for (counter, n) in [
            (&c.packets, t.packets),
            (&c.bytes, t.bytes),
            (&c.alloc_fail, t.alloc_fail),
            (&c.hw_errors, t.hw_errors),
            (&c.dropped, t.dropped),
            (&c.csum_unnecessary, t.csum_unnecessary),
            (&c.csum_none, t.csum_none),
            (&c.xdp_pass, t.xdp_pass),
            (&c.xdp_drop, t.xdp_drop),
            (&c.xdp_tx, t.xdp_tx),
            (&c.xdp_tx_err, t.xdp_tx_err),
            (&c.xdp_redirect, t.xdp_redirect),
            (&c.xdp_redirect_err, t.xdp_redirect_err),
            (&c.xdp_aborted, t.xdp_aborted),
        ] {
            if n != 0 {
                counter.add(update, n as usize);
            }
        }
    }

    /// Fills in the standard statistics of the queue (`netdev_stat_ops`).
    pub fn queue_stats(&self, qs: &mut QueueStatsRx) {
        fill_queue_stats(&self.stats(), qs);
    }
}

/// Sets the statistics [`Shared::queue_stats`] fills in to 0: the base statistics
/// (`get_base_stats`) of a device whose queues count everything. The core reports a
/// device-wide statistic only if its base statistics have it.
pub fn base_stats(qs: &mut QueueStatsRx) {
    fill_queue_stats(&Stats::default(), qs);
}

impl Stats {
    /// The names of the counters for `ethtool -S`, in the order of [`Stats::values`].
    pub const NAMES: [&'static str; 14] = [
        "rx_packets",
        "rx_bytes",
        "rx_alloc_fail",
        "rx_hw_errors",
        "rx_dropped",
        "rx_csum_unnecessary",
        "rx_csum_none",
        "rx_xdp_pass",
        "rx_xdp_drop",
        "rx_xdp_tx",
        "rx_xdp_tx_errors",
        "rx_xdp_redirect",
        "rx_xdp_redirect_errors",
        "rx_xdp_aborted",
    ];

    /// Returns the counters in the order of [`Stats::NAMES`].
    pub fn values(&self) -> [u64; 14] {
        [
            self.packets,
            self.bytes,
            self.alloc_fail,
            self.hw_errors,
            self.dropped,
            self.csum_unnecessary,
            self.csum_none,
            self.xdp_pass,
            self.xdp_drop,
            self.xdp_tx,
            self.xdp_tx_err,
            self.xdp_redirect,
            self.xdp_redirect_err,
            self.xdp_aborted,
        ]
    }

    /// Adds the counters to the device statistics (`ndo_get_stats64`): the frames and their
    /// bytes, the frames the device flagged as errors, and as dropped every frame the engine
    /// dropped or an XDP program's verdict did.
    pub fn add_to(&self, ls: &mut LinkStats64) {
        ls.rx_packets += self.packets;
        ls.rx_bytes += self.bytes;
        ls.rx_errors += self.hw_errors;
        ls.rx_dropped += self.dropped
            + self.xdp_drop
            + self.xdp_tx_err
            + self.xdp_redirect_err
            + self.xdp_aborted;
    }
}

fn fill_queue_stats(s: &Stats, qs: &mut QueueStatsRx) {
    qs.packets = s.packets;
    qs.bytes = s.bytes;
    qs.alloc_fail = s.alloc_fail;
    qs.hw_drops = s.hw_errors;
    qs.csum_unnecessary = s.csum_unnecessary;
    qs.csum_none = s.csum_none;
}

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
pub(crate) mod tests;

/// A receive queue: the [`Poll::State`] of its NAPI instance.
///
/// Created stopped ([`Queue::new`]); [`Queue::start`] allocates the page pool, registers the
/// queue with XDP and fills the ring, [`Queue::stop`] (or dropping the NAPI instance) tears it
/// down in the C order: the device's DMA into the ring ([`Ring::quiesce`]), then the buffers,
/// the XDP registration and the pool.
///
/// # Invariants
///
/// When `inner` is set, `self` is the state of the NAPI instance `inner.napi` (so it does not
/// move, and is dropped before that instance is deleted), and `inner.shared` is bound to it and
/// lies in that instance's data (so it outlives `self`).
#[pin_data(PinnedDrop)]
pub struct Queue<R: Ring> {
    inner: Option<Inner<R>>,
    #[pin]
    _pin: PhantomPinned,
}

/// The resources of a started queue, torn down by [`Inner::into_ring`].
struct Inner<R: Ring> {
    ring: R,
    partial: Partial,
    slots: KVec<Option<Slot>>,
    rxq: Pin<KBox<RxqInfo>>,
    pool: PagePool,
    napi: NonNull<bindings::napi_struct>,
    shared: NonNull<Shared>,
    /// The device the pool maps for in both directions, or null.
    xdp_tx_dev: *const bindings::device,
    /// The live [`MappingLease`]s of the pool: `XDP_TX` frames sent from its mappings.
    leases: Arc<AtomicU32>,
    size: u32,
    next_to_clean: u32,
    next_to_use: u32,
    posted: u32,
    /// Buffers posted since the last doorbell.
    unrung: u32,
    buf_len: u32,
    batch: u32,
    /// Frames up to this long are copied ([`Config::copybreak`]).
    copybreak: u32,
    queue: u16,
}

// SAFETY: The raw pointers name the NAPI instance and shared part the queue belongs to, which
// are `Sync`, and a device that is only compared; the rest is `Send`.
unsafe impl<R: Ring> Send for Inner<R> {}

/// A posted buffer.
struct Slot {
    page: PoolPage,
    /// The DMA address of the buffer (of its headroom, not of the data the device writes).
    dma: DmaAddr,
}

/// A frame larger than one buffer, between its first and last buffer.
enum Partial {
    /// No frame in progress.
    None,
    /// The skb being assembled, and the bytes received so far.
    Skb(SkBuff, u32),
    /// The rest of a dropped frame, up to its last buffer.
    Discard,
}

/// Where the poll sends `XDP_TX` frames, and whether it sent any.
struct TxTarget<'a> {
    target: Option<&'a dyn XdpTx>,
    used: bool,
}

/// The outcome of one completed buffer.
enum Outcome {
    /// A frame ended (delivered, or dropped and counted).
    Frame,
    /// A frame continues in the next buffer.
    More,
}

impl<R: Ring> Queue<R> {
    /// Creates a stopped queue.
    pub fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner: None,
            _pin: PhantomPinned,
        }? Error)
    }

    /// Returns whether the queue is started.
    pub fn is_started(&self) -> bool {
        self.inner.is_some()
    }

    /// Returns the driver's ring, if the queue is started.
    pub fn ring(&self) -> Option<&R> {
        self.inner.as_ref().map(|i| &i.ring)
    }

    /// Returns the bytes the device may write into one buffer, if the queue is started.
    pub fn buf_len(&self) -> Option<u32> {
        self.inner.as_ref().map(|i| i.buf_len)
    }

    /// Returns the number of buffers posted to the device.
    pub fn posted(&self) -> u32 {
        self.inner.as_ref().map_or(0, |i| i.posted)
    }

    /// Returns the number of pages the queue's pool holds from the page allocator (posted
    /// buffers, pages out in skbs and frames, and pages cached for reuse).
    pub fn pool_inflight(&self) -> i64 {
        self.inner.as_ref().map_or(0, |i| i.pool.inflight())
    }

    /// Returns the pool's allocation and recycling statistics, if the queue is started.
    #[cfg(CONFIG_PAGE_POOL_STATS)]
    pub fn pool_stats(&self) -> Option<crate::net::page_pool::Stats> {
        self.inner.as_ref().map(|i| i.pool.stats())
    }

    /// Starts the queue with the driver's `ring`: creates its page pool, registers it with XDP
    /// and posts buffers to the device (one doorbell).
    ///
    /// `napi` is the instance whose state this queue is, disabled (the queue is reached
    /// through [`Napi::with_state`]); the queue's [`Shared`] part is the one its data names
    /// ([`HasShared`]), which must lie in the data and not be bound to another started queue.
    /// The pool is listed among the device's page pools (for the netdev netlink family) if the
    /// device is registered.
    ///
    /// Fails with `EBUSY` if the queue is started, the shared part is in use or `napi` is
    /// enabled; with `EINVAL` if `self` is not `napi`'s state or the shared part does not lie
    /// in `napi`'s data, if an XDP program is attached and a frame of the device's MTU would
    /// not fit one buffer ([`Shared::set_prog`]), for a ring of fewer than 2
    /// descriptors, a buffer length of 0 or above [`MAX_BUF_LEN`], a batch of 0 or one the ring
    /// cannot hold, or a queue the device does not have; with `ENOMEM` if not even one buffer
    /// could be posted. On failure everything is undone and `ring` dropped.
    pub fn start<T: Poll<State = Self> + HasShared>(
        self: Pin<&mut Self>,
        napi: &Napi<T>,
        _rtnl: &Rtnl,
        ring: R,
        config: &Config<'_>,
    ) -> Result {
        if !ptr::eq(&*self, napi.state_ptr()) {
            return Err(EINVAL);
        }
        if self.inner.is_some() || napi.is_enabled() {
            return Err(EBUSY);
        }
        let dev = napi.device();
        if config.size < 2
            || config.buf_len == 0
            || config.buf_len > MAX_BUF_LEN
            || config.batch == 0
            || config.batch >= config.size
            || config.copybreak > MAX_COPYBREAK
            || config.queue >= dev.num_rx_queues()
            || config.queue > u32::from(u16::MAX)
        {
            return Err(EINVAL);
        }
        // The instance's data lives as long as the instance, which outlives its state; the
        // shared part must lie in it (not behind a pointer the data could let go of).
        let shared = napi.data().rx_shared();
        let (data, at) = (
            napi.data() as *const T as usize,
            shared as *const Shared as usize,
        );
        if at < data || at + core::mem::size_of::<Shared>() > data + core::mem::size_of::<T>() {
            return Err(EINVAL);
        }
        // Attached programs see single buffers only (RTNL serializes attaching and MTU changes).
        if shared.has_prog() && frame_len(dev.mtu()) > config.buf_len {
            return Err(EINVAL);
        }
        // SAFETY: The pinned queue is not moved: only the field is replaced.
        let this = unsafe { self.get_unchecked_mut() };
        let me = (this as *mut Self).cast();
        shared
            .owner
            .compare_exchange(ptr::null_mut(), me, Ordering::Acquire, Ordering::Relaxed)
            .map_err(|_| EBUSY)?;
        match Inner::new(napi, shared, ring, config) {
            Ok(inner) => {
                shared.buf_len.store(config.buf_len, Ordering::Relaxed);
                // INVARIANT: `self` is `napi`'s state (checked above), `shared` now bound and in
                // the instance's data.
                this.inner = Some(inner);
                Ok(())
            }
            Err(e) => {
                shared.owner.store(ptr::null_mut(), Ordering::Release);
                Err(e)
            }
        }
    }

    /// Stops the queue and returns the driver's ring: stops the device's DMA into it
    /// ([`Ring::quiesce`]), unregisters it from XDP, returns every buffer and destroys the
    /// page pool (which frees itself once the pages out in skbs and frames come back). Sleeps.
    ///
    /// Destroying the pool unmaps the pages still out: a transmit queue that sends `XDP_TX`
    /// frames from where they were received ([`Config::xdp_tx`]) is stopped first.
    ///
    /// Fails with `EBUSY` while the NAPI instance is enabled (from the poll) or such frames are
    /// still queued on a transmit ring, and with `EINVAL` if the queue is stopped.
    pub fn stop(self: Pin<&mut Self>, _rtnl: &Rtnl) -> Result<R> {
        // SAFETY: The pinned queue is not moved: only the field is taken.
        let this = unsafe { self.get_unchecked_mut() };
        let inner = this.inner.as_ref().ok_or(EINVAL)?;
        // SAFETY: By the type invariants the queue is the state of the instance, which lives
        // at least as long as the queue.
        if unsafe { napi::is_enabled_raw(inner.napi.as_ptr()) } {
            return Err(EBUSY);
        }
        // `XDP_TX` frames still queued on a transmit ring use the pool's mappings, which
        // destroying it would undo under the device. No poll adds any while the instance is
        // disabled.
        if inner.leases.load(Ordering::Acquire) != 0 {
            return Err(EBUSY);
        }
        let inner = this.inner.take().ok_or(EINVAL)?;
        Ok(inner.into_ring())
    }

    /// Processes up to `ctx.budget()` received frames and refills the ring; returns the number
    /// of frames processed, or the whole budget if the ring ran empty and could not be refilled
    /// (so that the instance is polled again until memory is available).
    ///
    /// The queue does nothing (and returns 0) from another instance's poll, or when stopped.
    /// Frames an XDP program sends back out go to `xdp_tx`, whose doorbell is rung once at the
    /// end; without it they are dropped and counted as errors.
    pub fn poll(
        self: Pin<&mut Self>,
        xdp_tx: Option<&dyn XdpTx>,
        ctx: &mut PollContext<'_>,
    ) -> u32 {
        // SAFETY: The pinned queue is not moved; `inner` is not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(inner) = this.inner.as_mut() else {
            return 0;
        };
        if inner.napi.as_ptr() != ctx.napi_ptr() {
            if !MISUSE_REPORTED.swap(true, Ordering::Relaxed) {
                crate::pr_warn!("rx: queue polled by another NAPI instance\n");
            }
            return 0;
        }
        // SAFETY: By the type invariants `shared` lies in the data of the instance whose state
        // this queue is, which outlives it.
        let shared = unsafe { inner.shared.as_ref() };
        // Counted per poll, as C drivers do, and added to the shared counters once.
        let mut t = Stats::default();
        let done = inner.poll(shared, &mut t, ctx, xdp_tx);
        // SAFETY: By the type invariants `shared` is bound to this queue, whose poll is its
        // only writer; a poll with a budget runs in softirq context (or with bottom halves
        // off), not preempted, and one at a time.
        let update = unsafe { shared.sync.begin() };
        shared.add(&update, &t);
        done
    }
}

#[pinned_drop]
impl<R: Ring> PinnedDrop for Queue<R> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The queue is not moved: only the field is taken.
        let this = unsafe { self.get_unchecked_mut() };
        if let Some(inner) = this.inner.take() {
            // By the type invariants, the NAPI instance is being dropped: it is disabled and
            // not yet deleted, which is when the pool may go.
            drop(inner.into_ring());
        }
    }
}

impl<R: Ring> Inner<R> {
    fn new<T: Poll>(napi: &Napi<T>, shared: &Shared, ring: R, config: &Config<'_>) -> Result<Self> {
        let dev = napi.device();
        // SAFETY: The device is valid; its registration state changes only under RTNL, which
        // the caller holds.
        let registered = unsafe { (*dev.as_ptr()).reg_state }
            == bindings::netdev_reg_state_NETREG_REGISTERED as u8;
        let dir = if config.xdp_tx {
            DataDirection::Bidirectional
        } else {
            DataDirection::FromDevice
        };
        let mut params = Params::new(config.size);
        if let Some(dma) = config.dma {
            params = params
                .dma(dma, dir)
                .sync_for_device(HEADROOM, config.buf_len);
        }
        // SAFETY: The instance is added and allocates from the pool only in its poll (or while
        // disabled, here); the pool is dropped with the queue, which is the instance's state:
        // before the instance is deleted, and only when it is disabled (`Queue::stop`, or the
        // instance's drop).
        params = unsafe { params.napi(napi.as_ptr()) };
        if registered {
            // SAFETY: The device is registered (checked under RTNL above) and outlives the
            // queue, which lives in its private data; unregistering moves the pools it lists
            // elsewhere, so the pool never names a device that is not registered.
            params = unsafe { params.netdev(dev.as_ptr(), config.queue) };
        }
        let pool = PagePool::new(&params)?;
        // SAFETY: The device outlives the registration, which lives in its private data; the
        // frames of the queue are back (or owned by the stack, which holds its own reference
        // on the device) before the device is freed.
        let rxq = KBox::pin_init(
            unsafe { RxqInfo::new(dev, config.queue, napi.id(), &pool) },
            GFP_KERNEL,
        )?;
        let mut slots = KVec::with_capacity(config.size as usize, GFP_KERNEL)?;
        for _ in 0..config.size {
            slots.push(None, GFP_KERNEL)?;
        }
        let mut inner = Self {
            ring,
            partial: Partial::None,
            slots,
            rxq,
            pool,
            napi: NonNull::new(napi.as_ptr()).ok_or(EINVAL)?,
            shared: NonNull::from(shared),
            // INVARIANT: With `xdp_tx`, the pool maps for `dma` in both directions.
            xdp_tx_dev: match config.dma {
                Some(dma) if config.xdp_tx => dma.as_raw(),
                _ => ptr::null(),
            },
            leases: Arc::new(AtomicU32::new(0), GFP_KERNEL)?,
            size: config.size,
            next_to_clean: 0,
            next_to_use: 0,
            posted: 0,
            unrung: 0,
            buf_len: config.buf_len,
            batch: config.batch,
            copybreak: config.copybreak,
            queue: config.queue as u16,
        };
        // The instance is disabled: no poll updates the counters meanwhile.
        let mut t = Stats::default();
        inner.refill(shared, &mut t);
        napi::bh_off(|| {
            // SAFETY: `shared` is bound to this queue and its poll cannot run; RTNL serializes
            // control-path callers, and with bottom halves off no softirq on this CPU writes
            // meanwhile.
            shared.add(unsafe { &shared.sync.begin() }, &t)
        });
        if inner.posted == 0 {
            return Err(ENOMEM);
        }
        Ok(inner)
    }

    /// Tears the queue down and unbinds its shared part: the device stops writing into the
    /// buffers before any of them goes back, and the pool goes last.
    fn into_ring(self) -> R {
        let Self {
            mut ring,
            partial,
            slots,
            rxq,
            pool,
            shared,
            leases,
            ..
        } = self;
        ring.quiesce();
        drop(partial);
        drop(slots);
        drop(rxq);
        if leases.load(Ordering::Acquire) == 0 {
            drop(pool);
        } else {
            // Dropped (with its device) while a transmit ring still holds frames sent from the
            // pool's mappings: destroying the pool would unmap them under the device. Keep it,
            // and its pages; `stop()` refuses this case.
            crate::pr_warn!("rx: queue dropped with XDP_TX frames in flight: page pool leaked\n");
            core::mem::forget(pool);
        }
        // SAFETY: By the type invariants `shared` lives in the instance's data, which outlives
        // its state.
        let shared = unsafe { shared.as_ref() };
        // `buf_len` stays: the next start most likely uses it again.
        shared.owner.store(ptr::null_mut(), Ordering::Release);
        ring
    }

    /// Posts buffers until the ring holds `size - 1`, or allocation fails; rings the doorbell
    /// once per `batch` buffers and once for the rest.
    fn refill(&mut self, shared: &Shared, t: &mut Stats) {
        while self.posted < self.size - 1 {
            let page = match self.alloc(shared) {
                Ok(page) => page,
                Err(_) => {
                    t.alloc_fail += 1;
                    break;
                }
            };
            let dma = page.dma_addr();
            self.post(Slot { page, dma });
        }
        self.doorbell();
    }

    /// Posts a buffer at the next free descriptor (there is one: `posted < size - 1`); rings the
    /// doorbell once `batch` buffers wait for it.
    fn post(&mut self, slot: Slot) {
        let index = self.next_to_use;
        debug_assert!(self.slots[index as usize].is_none());
        self.ring
            .post(index, slot.dma + DmaAddr::from(HEADROOM), self.buf_len);
        self.slots[index as usize] = Some(slot);
        self.next_to_use = self.next(index);
        self.posted += 1;
        self.unrung += 1;
        if self.unrung == self.batch {
            self.doorbell();
        }
    }

    /// Tells the device about the buffers posted since the last doorbell, if any.
    fn doorbell(&mut self) {
        if self.unrung > 0 {
            self.ring.doorbell(self.next_to_use);
            self.unrung = 0;
        }
    }

    /// Puts a buffer whose contents were dropped or copied straight back on the ring, synced
    /// for the device as the pool would: no return to the pool, no allocation. A page the pool
    /// would not keep goes back to it.
    fn reuse(&mut self, mut slot: Slot) {
        // Full only if not called for one of this poll's completions.
        if self.posted < self.size - 1 && slot.page.prepare_reuse() {
            self.post(slot);
        }
    }

    /// Returns the index after `index` in the ring.
    fn next(&self, index: u32) -> u32 {
        if index + 1 == self.size {
            0
        } else {
            index + 1
        }
    }

    fn alloc(&mut self, _shared: &Shared) -> Result<PoolPage> {
        #[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
        if injected_failure(&_shared.c.fail_allocs) {
            return Err(ENOMEM);
        }
        self.pool.alloc_page()
    }

    fn poll(
        &mut self,
        shared: &Shared,
        t: &mut Stats,
        ctx: &mut PollContext<'_>,
        target: Option<&dyn XdpTx>,
    ) -> u32 {
        let budget = ctx.budget();
        let guard = rcu::read_lock();
        let prog = shared.prog.get(&guard);
        let mut done = 0;
        let mut xdp_tx = TxTarget {
            target,
            used: false,
        };
        while done < budget && self.posted > 0 {
            let index = self.next_to_clean;
            let Some(c) = self.ring.completed(index) else {
                break;
            };
            let Some(slot) = self.slots[index as usize].take() else {
                // Posted slots hold a buffer; nothing to take means a bug in the engine.
                break;
            };
            self.next_to_clean = self.next(index);
            self.posted -= 1;
            let eop = c.eop;
            if let Outcome::Frame = self.buffer(shared, t, ctx, prog, slot, &c, &mut xdp_tx) {
                done += 1;
            }
            if eop {
                // A dropped frame's remaining buffers end here.
                if let Partial::Discard = self.partial {
                    self.partial = Partial::None;
                }
            }
            if self.size - 1 - self.posted >= self.batch {
                self.refill(shared, t);
            }
        }
        drop(guard);
        if let (Some(target), true) = (xdp_tx.target, xdp_tx.used) {
            target.xdp_tx_flush();
        }
        self.refill(shared, t);
        if self.posted == 0 {
            // Nothing posted and nothing could be: no completion will schedule the instance
            // again, so keep polling until the allocator has memory.
            return budget;
        }
        done
    }

    /// Handles one completed buffer.
    #[allow(clippy::too_many_arguments)]
    fn buffer(
        &mut self,
        _shared: &Shared,
        t: &mut Stats,
        ctx: &mut PollContext<'_>,
        prog: Option<xdp::ProgRef<'_>>,
        slot: Slot,
        c: &Completion,
        xdp_tx: &mut TxTarget<'_>,
    ) -> Outcome {
        let end = if c.eop { Outcome::Frame } else { Outcome::More };
        let partial = core::mem::replace(&mut self.partial, Partial::None);
        if let Partial::Discard = partial {
            self.partial = Partial::Discard;
            self.reuse(slot);
            return end;
        }
        if c.len > self.buf_len || c.error {
            // The frame is bad: drop what was assembled, and its remaining buffers.
            if c.error {
                t.hw_errors += 1;
            } else {
                t.dropped += 1;
            }
            drop(partial);
            if !c.eop {
                self.partial = Partial::Discard;
            }
            self.reuse(slot);
            return end;
        }
        let Slot { mut page, dma } = slot;
        // Only the bytes the device wrote are read.
        let _ = page.sync_for_cpu(&self.pool, HEADROOM, c.len);
        let (skb, received) = match partial {
            Partial::Skb(mut skb, received) => {
                let truesize = page.len() as u32;
                if skb.add_rx_frag(page, HEADROOM, c.len, truesize).is_err() {
                    // Out of fragment slots: a frame longer than the device should send.
                    t.dropped += 1;
                    drop(skb);
                    if !c.eop {
                        self.partial = Partial::Discard;
                    }
                    return end;
                }
                (skb, received + c.len)
            }
            _ => {
                let mut headroom = HEADROOM;
                let mut len = c.len;
                let mut csum = c.csum;
                if let Some(prog) = prog {
                    if !c.eop {
                        // Programs see single buffers only (no `xdp.frags` support yet).
                        t.dropped += 1;
                        self.partial = Partial::Discard;
                        return end;
                    }
                    let slot = Slot { page, dma };
                    let (p, h, l) = match self.xdp(t, ctx, prog, slot, c.len, xdp_tx) {
                        Some(pass) => pass,
                        None => return end,
                    };
                    page = p;
                    if (h, l) != (headroom, len) {
                        // The program changed the frame: a checksum over it no longer holds.
                        if let Checksum::Complete(_) = csum {
                            csum = Checksum::None;
                        }
                    }
                    (headroom, len) = (h, l);
                }
                if c.eop && len <= self.copybreak {
                    match copy_skb(_shared, ctx, &page, headroom, len) {
                        Ok(skb) => {
                            self.reuse(Slot { page, dma });
                            self.deliver(t, ctx, skb, c, csum, c.len);
                            return end;
                        }
                        // No memory for the copy: the frame goes up in its buffer.
                        Err(e) if e == ENOMEM => t.alloc_fail += 1,
                        Err(_) => (),
                    }
                }
                let skb = match ctx.build_skb(page, headroom, len) {
                    Ok(skb) => skb,
                    Err(_) => {
                        t.dropped += 1;
                        if !c.eop {
                            self.partial = Partial::Discard;
                        }
                        return end;
                    }
                };
                if c.eop {
                    self.deliver(t, ctx, skb, c, csum, c.len);
                    return end;
                }
                (skb, c.len)
            }
        };
        if !c.eop {
            self.partial = Partial::Skb(skb, received);
            return end;
        }
        self.deliver(t, ctx, skb, c, c.csum, received);
        end
    }

    /// Runs the XDP program on a single-buffer frame and carries out its verdict; returns the
    /// buffer and the data window the program left on `XDP_PASS`.
    #[allow(clippy::too_many_arguments)]
    fn xdp(
        &mut self,
        t: &mut Stats,
        ctx: &PollContext<'_>,
        prog: xdp::ProgRef<'_>,
        slot: Slot,
        len: u32,
        xdp_tx: &mut TxTarget<'_>,
    ) -> Option<(PoolPage, u32, u32)> {
        let run = ctx.xdp();
        // Where the buffer starts for the device: the data's address follows from the headroom.
        let start = slot.dma;
        let mut buff = match XdpBuff::new(slot.page, &self.rxq, HEADROOM, len) {
            Ok(buff) => buff,
            Err(_) => {
                t.dropped += 1;
                return None;
            }
        };
        let pass = match buff.run(run, prog) {
            Action::Pass => {
                t.xdp_pass += 1;
                Some(buff.into_page())
            }
            Action::Drop => {
                t.xdp_drop += 1;
                let (page, _, _) = buff.into_page();
                self.reuse(Slot { page, dma: start });
                None
            }
            Action::Tx => {
                let dma = start + DmaAddr::from(buff.headroom());
                let sent = match (xdp_tx.target, buff.into_frame()) {
                    (Some(target), Ok(frame)) => {
                        let lease = (!self.xdp_tx_dev.is_null()).then(|| {
                            self.leases.fetch_add(1, Ordering::Relaxed);
                            MappingLease(self.leases.clone())
                        });
                        // INVARIANT: The buffer came from the pool, which maps it at `start`
                        // for `xdp_tx_dev` in both directions if that is not null, and the
                        // frame owns it; the queue does not destroy the pool while the lease
                        // lives.
                        let frame = XdpTxFrame {
                            frame,
                            dma,
                            dev: self.xdp_tx_dev,
                            lease,
                        };
                        target.xdp_tx(frame).map_err(drop).is_ok()
                    }
                    _ => false,
                };
                if sent {
                    xdp_tx.used = true;
                    t.xdp_tx += 1;
                } else {
                    xdp::trace_exception(ctx.device(), prog, Action::Tx);
                    t.xdp_tx_err += 1;
                }
                None
            }
            Action::Redirect => {
                if buff.redirect(run, prog).is_ok() {
                    t.xdp_redirect += 1;
                } else {
                    xdp::trace_exception(ctx.device(), prog, Action::Redirect);
                    t.xdp_redirect_err += 1;
                }
                None
            }
            Action::Aborted => {
                buff.trace_exception(prog, Action::Aborted);
                t.xdp_aborted += 1;
                let (page, _, _) = buff.into_page();
                self.reuse(Slot { page, dma: start });
                None
            }
        };
        if pass.is_none() {
            // XDP is the stack's first layer: what it consumed was received (netdev's qstats
            // count it in rx-packets). Passed frames are counted when they reach the stack.
            t.packets += 1;
            t.bytes += u64::from(len);
        }
        pass
    }

    /// Applies the descriptor's metadata and hands a complete frame to GRO.
    fn deliver(
        &mut self,
        t: &mut Stats,
        ctx: &mut PollContext<'_>,
        mut skb: SkBuff,
        c: &Completion,
        csum: Checksum,
        len: u32,
    ) {
        if ctx.eth_type_trans(&mut skb).is_err() {
            // Shorter than an Ethernet header.
            t.dropped += 1;
            skb.drop_reason(DropReason::PktTooSmall);
            return;
        }
        if let Some((hash, kind)) = c.hash {
            skb.set_hash(hash, kind);
        }
        if let Some(tci) = c.vlan {
            skb.set_vlan_tag(VLAN_PROTO, tci);
        }
        skb.record_rx_queue(self.queue);
        // New skbs start with `CHECKSUM_NONE`.
        if csum != Checksum::None {
            skb.set_checksum(csum);
        }
        match csum {
            Checksum::Unnecessary { .. } => t.csum_unnecessary += 1,
            Checksum::None => t.csum_none += 1,
            Checksum::Complete(_) => (),
        }
        t.packets += 1;
        t.bytes += u64::from(len);
        ctx.gro_receive(skb);
    }
}
