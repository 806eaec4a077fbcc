// SPDX-License-Identifier: GPL-2.0

//! The transmit queue engine: everything between `ndo_start_xmit` and a driver's descriptor
//! ring.
//!
//! A driver describes its transmit ring with [`Ring`]: write a descriptor for a buffer (and a
//! context descriptor ahead of a packet, if its device takes them), tell whether the device
//! completed a packet, ring the doorbell. A [`Queue`] does the rest:
//!
//! - DMA mapping of the skb's head and page fragments for the device, and unmapping when the
//!   device is done with them;
//! - free-descriptor accounting: the queue stops when a packet of the most fragments might not
//!   fit and wakes when completions made room for two (`netif_txq_maybe_stop()` and
//!   `__netif_txq_completed_wake()` semantics);
//! - byte queue limits, and doorbell batching with `xmit_more`;
//! - XDP frames: sent back out by the receive engine (`XDP_TX`, from where they were received
//!   when its page pool maps for this device in both directions), and redirected to the device
//!   (`ndo_xdp_xmit`, mapped);
//! - completion in NAPI context with `napi_consume_skb()` and bulk frame return, counted
//!   outcomes, and a report of the ring's state for the watchdog's `ndo_tx_timeout`.
//!
//! The queue lives in the device's private data, and [`Queue::start`] binds it to one transmit
//! queue of that device: byte queue limits, stopping and waking always name that queue, also
//! when another device's NAPI instance cleans the ring (as a pair of software devices does).
//! [`Queue::xmit`] runs from `start_xmit`, [`Queue::complete`] from the NAPI poll that cleans
//! the ring, [`Queue::start`] and [`Queue::stop`] from `open` and `stop`. The descriptor ring
//! is shared by transmission and completion, which run concurrently on different CPUs; a
//! spinlock, taken once per packet and once per completion batch with bottom halves off,
//! serializes them. netpoll transmits and cleans with interrupts off, possibly from a hard
//! interrupt handler that interrupted the lock's holder: there the lock is only tried, and a
//! packet that finds it held is handed back (`NETDEV_TX_BUSY`, which netpoll retries).
//!
//! XDP frames share the ring with the stack's packets but not byte queue limits, and a full ring
//! drops them (counted) instead of stopping the queue.
//!
//! The first descriptor of a packet carries the offloads it asks for ([`Offload`]: checksum
//! insertion, segmentation, VLAN tag insertion).
//!
//! Not yet covered: multi-buffer XDP frames (refused).
//!
//! # Examples
//!
//! ```
//! use kernel::net::netdev::{NetDevice, Operations, Rtnl, TxResult, TxSkb, Xmit};
//! use kernel::net::tx::{self, Desc};
//! use kernel::prelude::*;
//!
//! /// The hardware side of the ring (here, a device that never completes anything).
//! struct HwRing;
//!
//! impl tx::Ring for HwRing {
//!     fn write(&mut self, _index: u32, _desc: &Desc) {}
//!     fn completed(&mut self, _index: u32) -> bool {
//!         false
//!     }
//!     fn doorbell(&mut self, _tail: u32) {}
//!     fn quiesce(&mut self) {}
//! }
//!
//! #[pin_data]
//! struct Priv {
//!     #[pin]
//!     txq: tx::Queue<HwRing>,
//! }
//!
//! struct Drv;
//!
//! #[vtable]
//! impl Operations for Drv {
//!     type Data = Priv;
//!
//!     fn start_xmit(dev: &NetDevice<Self>, skb: TxSkb, xmit: &Xmit<'_>) -> TxResult {
//!         dev.data().get_ref().txq.xmit(skb, xmit)
//!     }
//! }
//! ```

use crate::{
    bindings, c_str, device,
    dma::DmaAddr,
    error::{code::*, to_result, Result},
    init::PinInit,
    net::{
        napi::{self, CleanContext},
        netdev::{
            Device, LinkStats64, QueueStatsTx, Rtnl, StopResult, TxQueue, TxResult, TxSkb,
            WakeResult, Xmit,
        },
        rx::{MappingLease, XdpTx, XdpTxFrame},
        xdp::{FrameBulk, XdpFrame, XmitFrames},
    },
    prelude::*,
    static_lock_class,
    sync::{
        lock::{spinlock::SpinLockBackend, Guard},
        rcu,
        u64_stats::{Counter, U64StatsSync, Update},
        LockClassKey, SpinLock,
    },
    types::ARef,
};
use core::{
    ptr::NonNull,
    sync::atomic::{AtomicPtr, AtomicU32, Ordering},
};

/// The descriptors a packet of the most fragments takes: its head and `MAX_SKB_FRAGS`
/// fragments. A queue without context descriptors or a descriptor limit stops when fewer than
/// this many are free ([`Config::stop_threshold`] otherwise).
pub const STOP_THRESHOLD: u32 = bindings::MAX_SKB_FRAGS + 1;

/// The free descriptors at which a stopped queue is woken: room for two of the largest
/// packets, so that it does not stop again right away (twice [`Config::stop_threshold`] with
/// context descriptors or a descriptor limit).
pub const START_THRESHOLD: u32 = 2 * STOP_THRESHOLD;

/// A buffer for the device to transmit, as the engine hands it to [`Ring::write`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    /// The DMA address of the buffer.
    pub addr: DmaAddr,
    /// Its length in bytes.
    pub len: u32,
    /// Whether it is the packet's first buffer (a context descriptor may come before it).
    pub first: bool,
    /// Whether it ends a packet: the device reports the packet's completion on it.
    pub last: bool,
    /// What the device does to the packet besides sending it; set on its first descriptor.
    pub offload: Offload,
}

/// Work a packet asks the device to do besides sending it, from its skb.
///
/// The stack asks only for what the device advertises: checksums with `NETIF_F_HW_CSUM` (or
/// `NETIF_F_IP_CSUM` and `NETIF_F_IPV6_CSUM`), segmentation with `NETIF_F_TSO`,
/// `NETIF_F_TSO6` and `NETIF_F_GSO_UDP_L4`, VLAN tags with `NETIF_F_HW_VLAN_CTAG_TX`; without
/// those features it does the work in software and the packet asks for nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offload {
    /// Insert the transport checksum (`CHECKSUM_PARTIAL`).
    pub csum: Option<CsumInsert>,
    /// Split the packet into segments.
    pub gso: Option<Gso>,
    /// Insert an 802.1Q tag with this tag control information.
    pub vlan: Option<u16>,
}

/// Where the device inserts a checksum: it sums the packet's bytes from `start` to the end and
/// stores the result at `start + offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsumInsert {
    /// Where the summed bytes start, from the start of the packet.
    pub start: u16,
    /// Where the checksum goes, from `start`.
    pub offset: u16,
}

/// The protocol a segmented packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GsoKind {
    /// TCP over IPv4 (`SKB_GSO_TCPV4`).
    Tcp4,
    /// TCP over IPv6 (`SKB_GSO_TCPV6`).
    Tcp6,
    /// UDP, segmented into datagrams (`SKB_GSO_UDP_L4`).
    Udp,
}

/// How to segment a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gso {
    /// The protocol.
    pub kind: GsoKind,
    /// Payload bytes per segment (the last one may be shorter).
    pub mss: u16,
    /// The number of segments.
    pub segs: u16,
    /// The bytes of headers every segment repeats: up to the end of the TCP or UDP header.
    pub header_len: u16,
    /// Where the IP header starts, from the start of the packet.
    pub network: u16,
    /// Where the TCP or UDP header starts, from the start of the packet.
    pub transport: u16,
    /// The payload bytes to segment: the packet's length without `header_len`.
    pub payload_len: u32,
}

impl Offload {
    /// Reads what `skb` asks for; fails with `EOPNOTSUPP` for a segmentation this type does not
    /// describe (tunnels, for instance, which a device only gets if it advertises them).
    fn of(skb: &TxSkb) -> Result<Self> {
        let raw = skb.as_ptr();
        // SAFETY: The skb is valid; its metadata does not change during the call.
        let (summed, shinfo) = unsafe { (bindings::skb_ip_summed(raw), bindings::skb_shinfo(raw)) };
        let csum = if u32::from(summed) == bindings::CHECKSUM_PARTIAL {
            // SAFETY: As above; a `CHECKSUM_PARTIAL` skb has its checksum start and offset set.
            let (start, offset) = unsafe {
                (
                    bindings::skb_checksum_start_offset(raw),
                    bindings::skb_csum_offset(raw),
                )
            };
            Some(CsumInsert {
                start: u16::try_from(start).map_err(|_| EINVAL)?,
                offset,
            })
        } else {
            None
        };
        // SAFETY: As above.
        let (size, segs, gso_type) =
            unsafe { ((*shinfo).gso_size, (*shinfo).gso_segs, (*shinfo).gso_type) };
        let gso = if size == 0 {
            None
        } else {
            let kind = if gso_type & bindings::SKB_GSO_TCPV4 != 0 {
                GsoKind::Tcp4
            } else if gso_type & bindings::SKB_GSO_TCPV6 != 0 {
                GsoKind::Tcp6
            } else if gso_type & bindings::SKB_GSO_UDP_L4 != 0 {
                GsoKind::Udp
            } else {
                return Err(EOPNOTSUPP);
            };
            let known = bindings::SKB_GSO_TCPV4
                | bindings::SKB_GSO_TCPV6
                | bindings::SKB_GSO_UDP_L4
                | bindings::SKB_GSO_DODGY
                | bindings::SKB_GSO_TCP_ECN
                | bindings::SKB_GSO_TCP_FIXEDID;
            if gso_type & !known != 0 {
                return Err(EOPNOTSUPP);
            }
            // SAFETY: As above; a segmentation-offload skb has its network and transport headers
            // set.
            let (network, transport) = unsafe {
                (
                    bindings::skb_network_offset(raw),
                    bindings::skb_transport_offset(raw),
                )
            };
            let header_len = match kind {
                // The UDP header: 8 bytes.
                GsoKind::Udp => transport + 8,
                // SAFETY: As above.
                _ => unsafe { bindings::skb_tcp_all_headers(raw) },
            };
            let header_len = u16::try_from(header_len).map_err(|_| EINVAL)?;
            Some(Gso {
                kind,
                mss: size,
                segs,
                header_len,
                network: u16::try_from(network).map_err(|_| EINVAL)?,
                transport: u16::try_from(transport).map_err(|_| EINVAL)?,
                payload_len: skb.len().checked_sub(header_len.into()).ok_or(EINVAL)?,
            })
        };
        let mut tci = 0u16;
        // SAFETY: As above; `tci` is written only if the skb carries a tag.
        let vlan = (unsafe { bindings::__vlan_hwaccel_get_tag(raw, &mut tci) } == 0).then_some(tci);
        Ok(Self { csum, gso, vlan })
    }
}

/// The hardware side of a transmit ring: how a driver's descriptors are written and read.
///
/// Indices run from 0 to the ring size minus 1. The engine uses at most `size - 1`
/// descriptors at a time, so that a full ring and an empty one look different to devices that
/// compare a head and a tail.
pub trait Ring: Send {
    /// Writes the descriptor at `index` for `desc`. The device may read it after the next
    /// doorbell.
    fn write(&mut self, index: u32, desc: &Desc);

    /// Returns whether the device is done with the packet whose last descriptor is at
    /// `index`, and so with every descriptor of it (devices report a packet on its last
    /// descriptor, as with the 8254x's report-status bit set there only). Called in ring order
    /// for the last descriptor of each packet written, possibly more than once for one (the
    /// answer stays `true` until the descriptor is written again).
    fn completed(&mut self, index: u32) -> bool;

    /// Returns whether a packet with `offload` needs a context descriptor ahead of its buffers
    /// (how devices such as the 8254x learn where to insert checksums), which
    /// [`Ring::write_context`] then writes. Only asked of queues started with
    /// [`Config::context`]; a query, possibly made for a packet that is not sent after all (the
    /// ring is full), so it changes nothing. By default, never.
    fn context(&mut self, _offload: &Offload) -> bool {
        false
    }

    /// Writes the context descriptor for a packet with `offload` at `index`, ahead of the
    /// packet's first buffer descriptor. Its completion is reported with the packet's.
    fn write_context(&mut self, _index: u32, _offload: &Offload) {}

    /// Tells the device that the descriptors before `tail` are written (`tail` is the index of
    /// the next one to be written).
    fn doorbell(&mut self, tail: u32);

    /// Stops the device's DMA from the ring: once this returns, the device reads no descriptor
    /// or buffer of it any more. Called when the queue stops or is dropped (in process context,
    /// where it may sleep), before the buffers of the descriptors in flight are unmapped and
    /// freed.
    fn quiesce(&mut self);
}

/// The parameters of a started [`Queue`].
#[derive(Clone, Copy)]
pub struct Config<'a> {
    size: u32,
    queue: u32,
    dma: &'a device::Device,
    context: bool,
    desc_limit: u32,
    csum_limit: u32,
    tso_headers: bool,
    gso_desc_segments: u32,
    sentinel: bool,
}

/// What the completed packets of one clean-up put on the wire.
#[derive(Default)]
struct Wire {
    packets: u32,
    bytes: u64,
    gso_packets: u32,
    gso_bytes: u64,
    gso_wire_packets: u32,
    gso_wire_bytes: u64,
}

impl Wire {
    /// Adds a completed packet of `len` bytes: one, or a segmentation-offload packet's
    /// segments, each with a copy of its headers.
    fn add(&mut self, len: u32, s: Segs) {
        let segs = s.segs;
        let bytes = u64::from(len) + u64::from(segs - 1) * u64::from(s.header_len);
        self.packets += segs;
        self.bytes += bytes;
        // Segmentation-offload packets are the ones with headers to repeat.
        if s.header_len != 0 {
            self.gso_packets += 1;
            self.gso_bytes += u64::from(len);
            self.gso_wire_packets += segs;
            self.gso_wire_bytes += bytes;
        }
    }
}

/// The segments a packet makes on the wire (at least 1), and the bytes of headers each
/// repeats.
#[derive(Clone, Copy)]
struct Segs {
    segs: u32,
    header_len: u16,
}

impl Segs {
    const ONE: Self = Self {
        segs: 1,
        header_len: 0,
    };
}

/// The length of a TCP header without options.
const TCP_HEADER_LEN: usize = 20;

/// The IP protocol number of TCP.
const IPPROTO_TCP: u8 = 6;

/// Returns the first `len` bytes of `skb`'s linear data for writing, after making them the
/// skb's own (`skb_cow_head()`); fails for an skb with other users or shorter headers.
fn header_mut(skb: &mut TxSkb, len: usize) -> Result<&mut [u8]> {
    let raw = skb.as_ptr();
    // SAFETY: The skb is valid.
    if unsafe { bindings::skb_shared(raw) } {
        // Another user holds this very skb: it would see the write (and copying its head,
        // which `skb_cow_head()` may do, is not allowed then).
        return Err(EBUSY);
    }
    if len > skb.headlen() as usize {
        return Err(EINVAL);
    }
    // SAFETY: The skb is valid and ours alone (not shared), not yet given to the device.
    to_result(unsafe { bindings::skb_cow_head(raw, 0) })?;
    // SAFETY: `skb_cow_head()` left the head writable for this skb: copied if a clone shares
    // it, or shared only with clones that gave up its header area (`skb->nohdr`: TCP keeps an
    // original whose data starts after the headers its clones push); copying keeps the linear
    // length, so the `len` bytes at `data` lie in it. The skb is borrowed mutably for the
    // slice's life: no other view of it exists, and nothing frees or moves its head meanwhile.
    Ok(unsafe { core::slice::from_raw_parts_mut((*raw).data, len) })
}

/// The bytes of a sentinel descriptor ([`Config::sentinel`]).
pub const SENTINEL: u32 = 4;

/// The most bytes of a buffer's last descriptor that stay with it: with more, a sentinel splits
/// them.
const SENTINEL_MIN_LAST: u32 = 8;

/// Where a packet's sentinel descriptor goes ([`Config::sentinel`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sentinel {
    None,
    /// The last [`SENTINEL`] bytes of the packet's last buffer (segmentation-offload packets).
    Tail,
    /// Cut from the first descriptor of the packet's head (the first linear packet after a
    /// segmentation-offload one), as the C driver does.
    Head,
}

/// How a packet's buffers are split over descriptors.
#[derive(Clone, Copy)]
struct Split {
    /// The most bytes per descriptor, 0 for no limit.
    limit: u32,
    sentinel: Sentinel,
}

impl Split {
    /// Returns the bytes cut off the first and off the last descriptor of a buffer of `len`
    /// bytes into the sentinel, the buffer being the packet's head if `head` and its last if
    /// `last`.
    fn cuts(&self, len: u32, head: bool, last: bool) -> (u32, u32) {
        let step = if self.limit == 0 { len } else { self.limit };
        match self.sentinel {
            Sentinel::Head if head && len.min(step) > SENTINEL => (SENTINEL, 0),
            Sentinel::Tail if last && len > 0 => {
                // What the last descriptor would carry without a sentinel.
                let last_desc = len - (len - 1) / step * step;
                if last_desc > SENTINEL_MIN_LAST {
                    (0, SENTINEL)
                } else {
                    (0, 0)
                }
            }
            _ => (0, 0),
        }
    }

    /// Calls `f(offset, length)` for each descriptor of a buffer of `len` bytes, in order (see
    /// [`Split::cuts`] for `head` and `last`), and returns their number: one per `limit` bytes
    /// (at least one), and the sentinel if the buffer has it.
    #[inline]
    fn pieces(&self, len: u32, head: bool, last: bool, mut f: impl FnMut(u32, u32)) -> u32 {
        if self.sentinel == Sentinel::None && (self.limit == 0 || len <= self.limit) {
            // One piece: most buffers of most devices.
            f(0, len);
            return 1;
        }
        let (cut, tail) = self.cuts(len, head, last);
        let body = len - tail;
        let step = if self.limit == 0 { body } else { self.limit };
        let (mut off, mut n) = (0, 0);
        loop {
            let piece = if off < body {
                // `cut` is less than the first piece (`cuts()`), and `tail` less than the last.
                (body - off).min(step) - if off == 0 { cut } else { 0 }
            } else {
                tail
            };
            f(off, piece);
            n += 1;
            off += piece;
            if off >= len {
                return n;
            }
        }
    }

    /// Returns the descriptors a buffer of `len` bytes takes (see [`Split::pieces`]).
    #[inline]
    fn descs(&self, len: u32, head: bool, last: bool) -> u32 {
        self.pieces(len, head, last, |_, _| ())
    }
}

/// Returns the most segments a device whose transmit queues split buffers at `desc_limit`
/// bytes ([`Config::desc_limit`]), and segmentation-offload packets at `segments` segments
/// per descriptor ([`Config::gso_desc_segments`]), may take in one packet
/// (`netif_set_tso_max_segs()`) for the packets the stack builds to fit the queues' stop
/// threshold, headers of up to four segments' payload included. (Packets the stack does not
/// build, or with a smaller MSS, may take more: see [`Config::gso_desc_segments`].)
pub const fn tso_max_segs(desc_limit: u32, segments: u32) -> u16 {
    // Buffers of `desc_limit` bytes take one descriptor per `desc_limit` bytes of a
    // `GSO_LEGACY_MAX_SIZE` packet and one more per buffer; in pieces of `segments` segments,
    // at most as many, one being left for the headers.
    let per_packet = match GSO_LEGACY_MAX_SIZE.checked_div(desc_limit) {
        Some(n) if n > 1 => n - 1,
        _ => 1,
    };
    let segs = segments.saturating_mul(per_packet);
    if segs > u16::MAX as u32 {
        u16::MAX
    } else {
        segs as u16
    }
}

/// The smallest per-descriptor byte limit ([`Config::desc_limit`]).
pub const MIN_DESC_LIMIT: u32 = 1024;

/// The largest packet the stack gives a device that does not raise its limits (C's
/// `GSO_LEGACY_MAX_SIZE`).
const GSO_LEGACY_MAX_SIZE: u32 = 65536;

impl<'a> Config<'a> {
    /// A queue with `size` descriptors, transmit queue `queue` of its device, whose buffers are
    /// mapped for DMA by `dma`.
    pub const fn new(size: u32, queue: u32, dma: &'a device::Device) -> Self {
        Self {
            size,
            queue,
            dma,
            context: false,
            desc_limit: 0,
            csum_limit: 0,
            tso_headers: false,
            gso_desc_segments: 0,
            sentinel: false,
        }
    }

    /// Rewrites the headers of a TCP segmentation-offload packet as devices that fill in each
    /// segment's lengths and checksums expect (the 8254x, and Intel's later NICs), before its
    /// descriptors are written: the IPv4 total length and header checksum, or the IPv6 payload
    /// length, become 0, and the TCP checksum field holds the pseudo-header's sum without a
    /// length (the device adds each segment's). Other holders of the data do not see the
    /// change: a header a clone shares is copied first (`skb_cow_head()`); TCP's own clones
    /// are written in place, in the headroom its original gave up (`__skb_header_release()`).
    /// A packet whose headers cannot be rewritten (not in the linear part, an IP version its
    /// segmentation kind does not name, the skb itself shared, no memory for the copy) is
    /// dropped and counted; so is a UDP one, which devices segment differently.
    pub const fn tso_headers(mut self) -> Self {
        self.tso_headers = true;
        self
    }

    /// Computes in software the checksums a packet asks to have inserted beyond its first
    /// `bytes` bytes, which the device cannot reach (the 8254x's context descriptor holds byte
    /// offsets: 256). A segmentation-offload packet whose checksum or headers reach that far
    /// is dropped.
    pub const fn csum_limit(mut self, bytes: u32) -> Self {
        self.csum_limit = bytes;
        self
    }

    /// Lets the ring put a context descriptor ahead of a packet ([`Ring::context`]).
    pub const fn context(mut self) -> Self {
        self.context = true;
        self
    }

    /// Splits buffers over descriptors of at most `bytes` each, for devices that take no more
    /// per descriptor (the 8254x: 4 KiB with segmentation offload). At least
    /// [`MIN_DESC_LIMIT`].
    pub const fn desc_limit(mut self, bytes: u32) -> Self {
        self.desc_limit = bytes;
        self
    }

    /// Puts at most `segments` segments' payload (`segments` times the MSS) in one descriptor
    /// of a segmentation-offload packet, for devices that check their transmit FIFO's room
    /// that way before fetching a buffer (the 8254x: 4). Needs a descriptor limit
    /// ([`Config::desc_limit`]), and the device's segments per packet limited to
    /// [`tso_max_segs()`] (`netif_set_tso_max_segs()`, before it is registered), so that the
    /// packets the stack builds fit the stop threshold: [`Queue::start`] refuses the
    /// configuration otherwise. A packet that takes more (one from an untrusted source,
    /// `SKB_GSO_DODGY`, whose segments the stack does not count against the limit, or one
    /// whose MSS is too small for its headers) waits for the ring to drain further; one that
    /// takes more than the whole ring is dropped and counted.
    pub const fn gso_desc_segments(mut self, segments: u32) -> Self {
        self.gso_desc_segments = segments;
        self
    }

    /// Gives every segmentation-offload packet a descriptor of its own for the last
    /// [`SENTINEL`] bytes of its last buffer (not where that buffer's last descriptor would
    /// carry 8 bytes or fewer), and cuts the first descriptor of the first packet after one
    /// whose data is all in its head (XDP frames included) [`SENTINEL`] bytes short, into
    /// another, as the C driver does: the 8254x family otherwise reports descriptors done
    /// before it fetched their data.
    pub const fn sentinel(mut self) -> Self {
        self.sentinel = true;
        self
    }

    /// Returns the free descriptors under which a queue of this configuration stops: room for
    /// the largest packet the stack sends (`GSO_LEGACY_MAX_SIZE` bytes over the head and
    /// `MAX_SKB_FRAGS` fragments, each split at the descriptor limit), its context descriptor
    /// and its sentinel. It is woken at twice as many.
    pub const fn stop_threshold(&self) -> u32 {
        let split = if self.desc_limit == 0 {
            0
        } else {
            GSO_LEGACY_MAX_SIZE.div_ceil(self.desc_limit)
        };
        STOP_THRESHOLD + self.context as u32 + split + self.sentinel as u32
    }
}

/// The counters of a transmit queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets the device completed, as sent on the wire: a segmentation-offload packet counts
    /// once per segment.
    pub packets: u64,
    /// Bytes of the packets the device completed, as sent on the wire (each segment with its
    /// headers).
    pub bytes: u64,
    /// Segmentation-offload packets the device completed (also counted in `packets`, per
    /// segment).
    pub gso_packets: u64,
    /// Bytes of those packets, as the stack gave them.
    pub gso_bytes: u64,
    /// The segments the device made of them.
    pub gso_wire_packets: u64,
    /// Bytes of those segments, each with its headers.
    pub gso_wire_bytes: u64,
    /// Packets dropped by the engine: a mapping failed, the packet asked for an unknown
    /// segmentation, needed more descriptors than the ring has or a checksum the engine could
    /// not compute for it, the queue was not started, or the packet was given to the wrong
    /// queue.
    pub dropped: u64,
    /// Packets handed back to the core because the ring was full (`NETDEV_TX_BUSY`).
    pub busy: u64,
    /// Times the queue was stopped for lack of descriptors.
    pub stops: u64,
    /// Times completions woke the stopped queue.
    pub wakes: u64,
    /// XDP frames the device completed (also counted in `packets` and `bytes`).
    pub xdp_frames: u64,
    /// XDP frames refused: the ring was full, the frame could not be mapped, had fragments or
    /// was longer than a descriptor takes, or the queue was not started.
    pub xdp_dropped: u64,
    /// Times the watchdog found the queue stuck ([`Queue::timeout`]).
    pub timeouts: u64,
}

/// The counters of [`Stats`], updated under the queue's lock.
#[derive(Default)]
struct Counters {
    packets: Counter,
    bytes: Counter,
    gso_packets: Counter,
    gso_bytes: Counter,
    gso_wire_packets: Counter,
    gso_wire_bytes: Counter,
    dropped: Counter,
    busy: Counter,
    stops: Counter,
    wakes: Counter,
    xdp_frames: Counter,
    xdp_dropped: Counter,
    timeouts: Counter,
}

/// How a descriptor's buffer was mapped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Map {
    /// Not mapped (a free descriptor).
    None,
    /// The skb head (`dma_map_single()`).
    Single,
    /// A page fragment (`skb_frag_dma_map()`).
    Page,
    /// A page-pool buffer the pool mapped in both directions: synced, not ours to unmap.
    Pool,
}

/// What a packet's last descriptor holds until the device completes it.
enum Packet {
    /// Nothing (not a last descriptor, or a free one).
    None,
    /// A packet from the stack, and its segments on the wire with the length of the headers
    /// each repeats (recorded when it was sent: a clone's owner may change the shared info).
    Skb(TxSkb, Segs),
    /// An XDP frame.
    Frame(XdpFrame),
}

/// A descriptor's buffer, and on a packet's last descriptor, the packet; for a buffer of a
/// receive pool, the hold that keeps it mapped.
struct Slot {
    /// The descriptor's buffer.
    addr: DmaAddr,
    len: u32,
    /// How the buffer from `addr` is mapped, for `map_len` bytes (a buffer split over several
    /// descriptors is mapped by its first one).
    map: Map,
    map_len: u32,
    packet: Packet,
    /// The hold on a pool buffer's mapping for an XDP frame: on the slot of the frame, the
    /// packet's last.
    lease: Option<MappingLease>,
    /// On the first descriptor of a packet: the packet's descriptors, its context descriptor
    /// included.
    descs: u32,
}

impl Slot {
    const EMPTY: Self = Self {
        addr: 0,
        len: 0,
        map: Map::None,
        map_len: 0,
        packet: Packet::None,
        lease: None,
        descs: 0,
    };
}

/// The resources of a started queue.
///
/// # Invariants
///
/// The `used` slots from `next_to_clean` on are the descriptors of whole packets: the first of
/// each packet holds the packet's descriptor count, its last the skb or frame, and the first
/// descriptor of each buffer the buffer's live mapping for `dev` (a context descriptor has
/// none); the other slots are empty. `txq` is transmit queue `queue` of the
/// net device in whose private data the [`Queue`] lies (so it outlives `self`).
struct Inner<R: Ring> {
    ring: R,
    slots: KVec<Slot>,
    dev: ARef<device::Device>,
    txq: NonNull<bindings::netdev_queue>,
    size: u32,
    next_to_use: u32,
    next_to_clean: u32,
    used: u32,
    queue: u32,
    /// Descriptors were written since the last doorbell.
    pending: bool,
    /// The ring may ask for context descriptors.
    context: bool,
    /// The most bytes per descriptor, 0 for no limit.
    desc_limit: u32,
    /// The end of the furthest checksum the device inserts, 0 for no limit.
    csum_limit: u32,
    /// Rewrite TCP segmentation-offload headers ([`Config::tso_headers`]).
    tso_headers: bool,
    /// Segments per descriptor of segmentation-offload packets, 0 for no limit
    /// ([`Config::gso_desc_segments`]).
    gso_desc_segments: u32,
    /// End packets with a sentinel where [`Config::sentinel`] says.
    sentinel: bool,
    /// The last packet written was a segmentation-offload one, and no linear packet followed.
    after_gso: bool,
    /// The free descriptors under which the queue stops, and at which it is woken.
    stop_at: u32,
    start_at: u32,
}

// SAFETY: `txq` names a transmit queue, which the C core shares between CPUs; the rest is
// `Send`.
unsafe impl<R: Ring> Send for Inner<R> {}

impl<R: Ring> Inner<R> {
    fn free(&self) -> u32 {
        self.size - 1 - self.used
    }

    /// Returns the transmit queue the engine is bound to.
    fn txq(&self) -> &TxQueue {
        // SAFETY: By the type invariants the queue outlives `self`.
        unsafe { TxQueue::from_raw(self.txq.as_ptr()) }
    }

    /// Returns the descriptor count of the oldest packet in flight and the index of its last
    /// descriptor, where the device reports it done (with `used > 0`).
    fn oldest(&self) -> (u32, u32) {
        let n = self.slots[self.next_to_clean as usize].descs.max(1);
        (n, (self.next_to_clean + n - 1) % self.size)
    }

    /// Releases every descriptor in flight, unmapping its buffer and freeing its packet; the
    /// device no longer reads them ([`Ring::quiesce`]). Returns the packets of the stack freed
    /// and their bytes, as reported to byte queue limits when they were sent.
    fn release_all(&mut self) -> (u32, u32) {
        let (mut pkts, mut bytes) = (0, 0);
        while self.used > 0 {
            let i = self.next_to_clean as usize;
            if let Packet::Skb(skb, _) = Self::release(&self.dev, &mut self.slots[i]) {
                pkts += 1;
                bytes += skb.len();
            }
            self.next_to_clean = (self.next_to_clean + 1) % self.size;
            self.used -= 1;
        }
        (pkts, bytes)
    }

    /// Unmaps the buffer of `slot` (`map_len` bytes from `addr`) and empties it, returning its
    /// packet.
    fn release(dev: &device::Device, slot: &mut Slot) -> Packet {
        let dir = bindings::dma_data_direction_DMA_TO_DEVICE;
        // SAFETY: By the type invariants a used slot whose `map` is not `None` (the first slot
        // of a buffer) holds a live mapping of `map_len` bytes at `addr` for `dev`, made the
        // way `map` says, and the device is done with it; the other slots hold none.
        unsafe {
            match slot.map {
                Map::None | Map::Pool => (),
                Map::Single => {
                    bindings::dma_unmap_single(dev.as_raw(), slot.addr, slot.map_len as usize, dir)
                }
                Map::Page => bindings::dma_unmap_page_attrs(
                    dev.as_raw(),
                    slot.addr,
                    slot.map_len as usize,
                    dir,
                    0,
                ),
            }
        }
        slot.map = Map::None;
        slot.lease = None;
        slot.descs = 0;
        core::mem::replace(&mut slot.packet, Packet::None)
    }

    /// Undoes the mappings of a packet whose descriptors were not written: the `n` slots from
    /// `first`.
    fn unwind(&mut self, first: u32, n: u32) {
        for k in 0..n {
            let i = ((first + k) % self.size) as usize;
            drop(Self::release(&self.dev, &mut self.slots[i]));
        }
    }

    /// Returns `offload`, with its checksum computed here instead if the device cannot reach
    /// it (beyond `csum_limit`); fails if that fails, or for a segmentation-offload packet.
    fn csum_in_reach(&self, skb: &TxSkb, mut offload: Offload) -> Result<Offload> {
        if let (Some(g), true) = (offload.gso, self.csum_limit != 0) {
            // The device describes the headers by byte offsets too, whether or not the stack
            // asked for a checksum (a packet from an untrusted source may not).
            if u32::from(g.header_len) >= self.csum_limit {
                return Err(EOPNOTSUPP);
            }
        }
        let Some(c) = offload.csum else {
            return Ok(offload);
        };
        if self.csum_limit == 0 || u32::from(c.start) + u32::from(c.offset) + 2 <= self.csum_limit {
            return Ok(offload);
        }
        // SAFETY: The skb is valid.
        if offload.gso.is_some() || unsafe { bindings::skb_shared(skb.as_ptr()) } {
            // Another user of the skb would see the data change (and `skb_checksum_help()` may
            // have to copy the head, which a shared skb must not have done to it).
            return Err(EOPNOTSUPP);
        }
        // SAFETY: The skb is valid, ours alone (not shared) and not yet given to the device:
        // its data may be written; the call copies a head a clone shares before writing it.
        to_result(unsafe { bindings::skb_checksum_help(skb.as_ptr()) })?;
        offload.csum = None;
        Ok(offload)
    }

    /// Rewrites the headers of a segmentation-offload packet if the configuration asks for it
    /// ([`Config::tso_headers`]).
    fn tso_headers(&self, skb: &mut TxSkb, gso: &Gso) -> Result {
        if !self.tso_headers {
            return Ok(());
        }
        let (net, l4) = (usize::from(gso.network), usize::from(gso.transport));
        // IP before TCP, with room for a TCP header.
        if net > l4 || l4 + TCP_HEADER_LEN > usize::from(gso.header_len) {
            return Err(EINVAL);
        }
        let h = header_mut(skb, gso.header_len.into())?;
        let (ip, tcp) = h.split_at_mut(l4);
        let ip = &mut ip[net..];
        // The pseudo-header's sum without a length, as the stack's checksum helpers compute it
        // (a partial checksum: not inverted), in the header's byte order.
        let sum = match gso.kind {
            GsoKind::Tcp4 if ip.len() >= 20 && ip[0] >> 4 == 4 => {
                // Total length and header checksum.
                ip[2..4].fill(0);
                ip[10..12].fill(0);
                let addr =
                    |at: usize| u32::from_ne_bytes([ip[at], ip[at + 1], ip[at + 2], ip[at + 3]]);
                // SAFETY: FFI call on plain values.
                unsafe { bindings::csum_tcpudp_magic(addr(12), addr(16), 0, IPPROTO_TCP, 0) }
            }
            GsoKind::Tcp6 if ip.len() >= 40 && ip[0] >> 4 == 6 => {
                // Payload length.
                ip[4..6].fill(0);
                // SAFETY: The addresses lie in `ip` (40 bytes or more); `in6_addr` has no
                // alignment beyond 4 bytes, which the casts do not need: the callee reads them
                // through `const struct in6_addr *` the way the stack reads them in headers.
                unsafe {
                    bindings::csum_ipv6_magic(
                        ip[8..24].as_ptr().cast(),
                        ip[24..40].as_ptr().cast(),
                        0,
                        IPPROTO_TCP,
                        0,
                    )
                }
            }
            _ => return Err(EINVAL),
        };
        tcp[16..18].copy_from_slice(&(!sum).to_ne_bytes());
        Ok(())
    }

    /// Returns how the buffers of a packet with `offload` are split over descriptors, the
    /// packet's data being all in its head if `linear`.
    fn split(&self, offload: &Offload, linear: bool) -> Split {
        let mut limit = self.desc_limit;
        if let (Some(g), true) = (&offload.gso, self.gso_desc_segments != 0) {
            let most = u32::from(g.mss).saturating_mul(self.gso_desc_segments);
            if limit == 0 || most < limit {
                limit = most;
            }
        }
        let sentinel = match (self.sentinel, offload.gso.is_some()) {
            (true, true) => Sentinel::Tail,
            (true, false) if self.after_gso && linear => Sentinel::Head,
            _ => Sentinel::None,
        };
        Split { limit, sentinel }
    }

    /// Notes that a packet with `offload`, split as `split`, was written.
    fn written(&mut self, offload: &Offload, split: Split) {
        if offload.gso.is_some() {
            self.after_gso = self.sentinel;
        } else if split.sentinel == Sentinel::Head {
            self.after_gso = false;
        }
    }

    /// Returns the number of fragments of `skb`.
    fn nr_frags(skb: &TxSkb) -> u32 {
        // SAFETY: The skb is valid; its shared info is not changed while it is in flight.
        u32::from(unsafe { (*bindings::skb_shinfo(skb.as_ptr())).nr_frags })
    }

    /// Returns the buffer descriptors `skb`, with `nr_frags` fragments, takes when split as
    /// `split`.
    fn descs_for_skb(skb: &TxSkb, nr_frags: u32, split: Split) -> u32 {
        let raw = skb.as_ptr();
        let headlen = skb.headlen();
        let mut n = if headlen > 0 {
            split.descs(headlen, true, nr_frags == 0)
        } else {
            0
        };
        for f in 0..nr_frags {
            // SAFETY: Fragment `f` exists.
            let len = unsafe {
                bindings::skb_frag_size(
                    core::ptr::addr_of_mut!((*bindings::skb_shinfo(raw)).frags)
                        .cast::<bindings::skb_frag_t>()
                        .add(f as usize),
                )
            };
            n += split.descs(len, false, f + 1 == nr_frags);
        }
        n
    }

    /// Maps `len` bytes at `map(...)` into the next free slots after `n` taken ones, split as
    /// `split` ([`Split::pieces`]), counting them in `n`.
    #[allow(clippy::too_many_arguments)]
    fn map_into(
        &mut self,
        first: u32,
        n: &mut u32,
        addr: DmaAddr,
        len: u32,
        map: Map,
        split: Split,
        (head, last): (bool, bool),
    ) -> Result {
        // SAFETY: FFI call: it compares `addr` (returned by a mapping call for `dev`, or a
        // pool's mapping plus an offset) with the error value, and looks it up in debug builds.
        if unsafe { bindings::dma_mapping_error(self.dev.as_raw(), addr) } != 0 {
            return Err(ENOMEM);
        }
        let (slots, size) = (&mut self.slots, self.size);
        split.pieces(len, head, last, |off, piece| {
            let slot = &mut slots[((first + *n) % size) as usize];
            // A free slot is empty (type invariants): only the buffer's fields are written, the
            // packet, lease and count stay empty (and nothing needs dropping).
            debug_assert!(
                matches!(slot.packet, Packet::None)
                    && slot.lease.is_none()
                    && slot.descs == 0
                    && slot.map == Map::None
            );
            // INVARIANT: The slot is about to be used; the first of the buffer's slots holds
            // the live mapping.
            slot.addr = addr + DmaAddr::from(off);
            slot.len = piece;
            slot.map = if off == 0 { map } else { Map::None };
            slot.map_len = if off == 0 { len } else { 0 };
            *n += 1;
        });
        Ok(())
    }

    /// Rings the doorbell for the descriptors written since the last one.
    fn flush(&mut self) {
        if self.pending {
            self.ring.doorbell(self.next_to_use);
            self.pending = false;
        }
    }

    /// Writes `frame` into one descriptor (two where it ends with a sentinel), without ringing
    /// the doorbell. `pool` is the DMA address of its data in a buffer mapped for `dev` in both
    /// directions, if it is in one, with the hold on that mapping; otherwise the frame is
    /// mapped. Gives the frame back if the ring is full, the frame has fragments, is longer than
    /// a descriptor takes or cannot be mapped.
    ///
    /// # Safety
    ///
    /// If `pool` is set, its address maps the frame's data for `dev` in both directions for as
    /// long as the frame lives and its lease is held.
    unsafe fn push_frame(
        &mut self,
        frame: XdpFrame,
        pool: Option<(DmaAddr, Option<MappingLease>)>,
    ) -> Result<(), XdpFrame> {
        let raw = frame.into_raw();
        // SAFETY: The frame is valid; we gave up ownership just above and take it back below.
        let frags = unsafe { (*raw.as_ptr()).flags } & bindings::xdp_buff_flags_XDP_FLAGS_HAS_FRAGS;
        // SAFETY: `raw` is the frame given up above: ownership comes back.
        let frame = unsafe { XdpFrame::from_raw(raw) };
        let too_long = self.desc_limit != 0 && frame.len() > self.desc_limit;
        let split = self.split(&Offload::default(), true);
        let descs = split.descs(frame.len(), true, true);
        if self.free() < descs || frags != 0 || frame.is_empty() || too_long {
            return Err(frame);
        }
        let len = frame.len();
        let dev = self.dev.as_raw();
        let (addr, map, lease) = if let Some((addr, lease)) = pool {
            // SAFETY: By the safety requirements `addr` maps the frame's `len` bytes for `dev` in
            // both directions; the CPU is done writing them.
            unsafe {
                bindings::dma_sync_single_for_device(
                    dev,
                    addr,
                    len as usize,
                    bindings::dma_data_direction_DMA_BIDIRECTIONAL,
                )
            };
            (addr, Map::Pool, lease)
        } else {
            let data = frame.data().as_ptr().cast_mut();
            // SAFETY: The frame's `len` bytes at `data` stay in place while the frame lives,
            // which it does until its slot is released (and unmapped).
            let addr = unsafe {
                bindings::dma_map_single(
                    dev,
                    data.cast(),
                    len as usize,
                    bindings::dma_data_direction_DMA_TO_DEVICE,
                )
            };
            (addr, Map::Single, None)
        };
        let index = self.next_to_use;
        let last = (index + descs - 1) % self.size;
        let mut n = 0;
        // Checks the mapping (a failed one leaves nothing to unmap), then fills the slots.
        if self
            .map_into(index, &mut n, addr, len, map, split, (true, true))
            .is_err()
        {
            return Err(frame);
        }
        debug_assert_eq!(n, descs);
        // INVARIANT: The first slot holds the live mapping (`map_into`) and the packet's
        // descriptor count, the last one (the same, or the sentinel's) the frame and the lease
        // that keeps a pool buffer's mapping.
        self.slots[index as usize].descs = descs;
        self.slots[last as usize].packet = Packet::Frame(frame);
        self.slots[last as usize].lease = lease;
        for k in 0..descs {
            let i = (index + k) % self.size;
            let slot = &self.slots[i as usize];
            let desc = Desc {
                addr: slot.addr,
                len: slot.len,
                first: k == 0,
                last: i == last,
                offload: Offload::default(),
            };
            self.ring.write(i, &desc);
        }
        self.written(&Offload::default(), split);
        self.next_to_use = (last + 1) % self.size;
        self.used += descs;
        self.pending = true;
        // XDP transmissions bypass the stack, which refreshes the watchdog's timestamp for its
        // own: without this a queue the stack stopped while XDP keeps it busy would time out.
        // SAFETY: By the type invariants the queue is valid.
        unsafe { bindings::txq_trans_cond_update(self.txq.as_ptr()) };
        Ok(())
    }

    /// Maps the packet's buffers (its head and `nr_frags` fragments) into the slots from
    /// `first`, split as `split`; returns how many.
    fn map(&mut self, skb: &TxSkb, nr_frags: u32, first: u32, split: Split) -> Result<u32> {
        let dev = self.dev.as_raw();
        let raw = skb.as_ptr();
        let dir = bindings::dma_data_direction_DMA_TO_DEVICE;
        let mut n = 0;
        let headlen = skb.headlen();
        if headlen > 0 {
            // SAFETY: The head holds `headlen` bytes at `data`, which the core does not change
            // or free while the driver holds the packet.
            let addr =
                unsafe { bindings::dma_map_single(dev, (*raw).data.cast(), headlen as usize, dir) };
            let at = (true, nr_frags == 0);
            self.map_into(first, &mut n, addr, headlen, Map::Single, split, at)?;
        }
        for f in 0..nr_frags {
            // SAFETY: Fragment `f` exists; its page stays referenced by the skb we hold.
            let (addr, len) = unsafe {
                let frag = core::ptr::addr_of_mut!((*bindings::skb_shinfo(raw)).frags)
                    .cast::<bindings::skb_frag_t>()
                    .add(f as usize);
                let len = bindings::skb_frag_size(frag);
                (
                    bindings::skb_frag_dma_map(dev, frag, 0, len as usize, dir),
                    len,
                )
            };
            let at = (false, f + 1 == nr_frags);
            if let Err(e) = self.map_into(first, &mut n, addr, len, Map::Page, split, at) {
                self.unwind(first, n);
                return Err(e);
            }
        }
        Ok(n)
    }
}

/// A transmit queue, in the private data of its device.
///
/// Created stopped ([`Queue::new`]); [`Queue::start`] gives it the driver's ring and binds it
/// to a transmit queue of its device, [`Queue::stop`] takes the ring back, unmapping and
/// freeing what the device did not complete (as dropping a started queue does).
///
/// # Invariants
///
/// The counters are only updated under `inner`'s lock. `bound` is the transmit queue of a
/// started `inner` (null when stopped), and `used` mirrors its descriptors in use; both are
/// written under `inner`'s lock.
#[pin_data(PinnedDrop)]
pub struct Queue<R: Ring> {
    #[pin]
    inner: SpinLock<Option<Inner<R>>>,
    bound: AtomicPtr<bindings::netdev_queue>,
    used: AtomicU32,
    #[pin]
    sync: U64StatsSync,
    c: Counters,
}

/// The lock of a transmit queue (`_xmit_lock`, which the core holds around `ndo_start_xmit`).
///
/// The engine holds it (before its own lock, in the core's order) to report completions to
/// byte queue limits and to wake the queue: that serializes BQL's consumer side with its
/// producer side and with any other engine a driver bound to the same queue, so that
/// completions never exceed what was sent (`BUG_ON` in `dql_completed()`).
///
/// # Invariants
///
/// The lock of `txq` is held by this CPU; `bh` is whether bottom halves are to be enabled
/// again on unlock.
struct XmitLock<'a> {
    txq: &'a TxQueue,
    bh: bool,
}

impl<'a> XmitLock<'a> {
    /// Takes the lock of `txq`: only tries with interrupts off (netpoll, which may have
    /// interrupted its holder on this CPU), waits otherwise, disabling bottom halves in task
    /// context.
    fn new(txq: &'a TxQueue) -> Option<Self> {
        // SAFETY: FFI calls without requirements; the lock is a valid queue's. The lock is
        // taken with bottom halves off, as everywhere else (the core's transmit path); in task
        // context with interrupts on they are disabled first and enabled by `drop`.
        unsafe {
            if bindings::irqs_disabled() {
                // INVARIANT: Held if the attempt succeeded.
                return bindings::__netif_tx_trylock(txq.as_ptr())
                    .then_some(Self { txq, bh: false });
            }
            let bh = bindings::in_task();
            if bh {
                bindings::local_bh_disable();
            }
            bindings::__netif_tx_lock(txq.as_ptr());
            // INVARIANT: Held.
            Some(Self { txq, bh })
        }
    }
}

impl Drop for XmitLock<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants this CPU holds the lock, and disabled bottom halves if
        // `bh`.
        unsafe {
            bindings::__netif_tx_unlock(self.txq.as_ptr());
            if self.bh {
                bindings::local_bh_enable();
            }
        }
    }
}

/// Takes the queue's lock from any context: with interrupts on (bottom halves off), waiting
/// for it; with interrupts off (netpoll, maybe in a hard interrupt handler that interrupted the
/// lock's holder on this CPU), only trying, so that it cannot deadlock.
fn lock_any<T>(lock: &SpinLock<T>) -> Option<Guard<'_, T, SpinLockBackend>> {
    // SAFETY: FFI call without requirements.
    if unsafe { bindings::irqs_disabled() } {
        lock.try_lock()
    } else {
        Some(lock.lock())
    }
}

/// The name and lockdep class of every engine's lock. `new_spinlock!` in the generic
/// [`Queue::new`] would give one class key (a static is not duplicated per instance) but a name
/// string per crate that instantiates it, which lockdep reports as a class with two names: the
/// name lives here, in a function that is never inlined.
#[inline(never)]
fn inner_lock_class() -> (&'static CStr, &'static LockClassKey) {
    (c_str!("tx::Queue::inner"), static_lock_class!())
}

impl<R: Ring> Queue<R> {
    /// Creates a stopped queue.
    pub fn new() -> impl PinInit<Self, Error> {
        let (name, key) = inner_lock_class();
        try_pin_init!(Self {
            inner <- SpinLock::new(None, name, key),
            bound: AtomicPtr::new(core::ptr::null_mut()),
            used: AtomicU32::new(0),
            sync <- U64StatsSync::new(),
            c: Counters::default(),
        }? Error)
    }

    /// Returns the transmit queue the engine is bound to, if it is started.
    fn bound(&self) -> Option<&TxQueue> {
        let txq = self.bound.load(Ordering::Acquire);
        // SAFETY: A bound queue belongs to the device in whose private data `self` lies
        // (checked by `start()`), which outlives `self`.
        (!txq.is_null()).then(|| unsafe { TxQueue::from_raw(txq) })
    }

    /// Starts the queue with the driver's `ring`, bound to transmit queue `config.queue` of
    /// `dev`, and wakes that queue, which the engine stopped if its ring was full when it last
    /// stopped: a device brought up again, or whose rings restart while it is up, sends.
    ///
    /// Byte queue limits are not reset: the engine reports every byte it sent as completed,
    /// also the packets it drops when it stops, so nothing it sent is left in flight.
    ///
    /// Fails with `EINVAL` unless the queue lies in the private data of `dev` (which then
    /// outlives it), for a queue index the device does not have, for a ring of no more than
    /// twice [`Config::stop_threshold`] descriptors ([`START_THRESHOLD`] without a context
    /// descriptor or a descriptor limit), for a descriptor limit under [`MIN_DESC_LIMIT`], for
    /// segments per descriptor ([`Config::gso_desc_segments`]) without a descriptor limit or on
    /// a device that allows more segments per packet than [`tso_max_segs()`]; with `EBUSY` if
    /// it is started.
    pub fn start(&self, dev: &Device, _rtnl: &Rtnl, ring: R, config: &Config<'_>) -> Result {
        if !dev.holds(self) {
            return Err(EINVAL);
        }
        if config.gso_desc_segments != 0 {
            // SAFETY: The device is valid. Its own limit is written before it is registered
            // (`Unregistered::set_tso_max_segs()`, which excludes every `&Device`); the core
            // writes the limits of upper devices only (`netif_inherit_tso_max()`).
            let segs = unsafe { (*dev.as_ptr()).tso_max_segs };
            if config.desc_limit == 0
                || segs > tso_max_segs(config.desc_limit, config.gso_desc_segments)
            {
                return Err(EINVAL);
            }
        }
        let txq = dev.tx_queue(config.queue).ok_or(EINVAL)?;
        let stop_at = config.stop_threshold();
        if config.size <= 2 * stop_at
            || (config.desc_limit != 0 && config.desc_limit < MIN_DESC_LIMIT)
        {
            return Err(EINVAL);
        }
        let mut slots = KVec::with_capacity(config.size as usize, GFP_KERNEL)?;
        for _ in 0..config.size {
            slots.push(Slot::EMPTY, GFP_KERNEL)?;
        }
        // INVARIANT: `txq` is queue `config.queue` of `dev`, in whose private data `self` lies
        // (checked above).
        let inner = Inner {
            ring,
            slots,
            dev: config.dma.into(),
            txq: NonNull::new(txq.as_ptr()).ok_or(EINVAL)?,
            size: config.size,
            next_to_use: 0,
            next_to_clean: 0,
            used: 0,
            queue: config.queue,
            pending: false,
            context: config.context,
            desc_limit: config.desc_limit,
            csum_limit: config.csum_limit,
            tso_headers: config.tso_headers,
            gso_desc_segments: config.gso_desc_segments,
            sentinel: config.sentinel,
            after_gso: false,
            stop_at,
            start_at: 2 * stop_at,
        };
        napi::bh_off(|| {
            let mut guard = self.inner.lock();
            if guard.is_some() {
                return Err(EBUSY);
            }
            *guard = Some(inner);
            self.bound.store(txq.as_ptr(), Ordering::Release);
            self.used.store(0, Ordering::Relaxed);
            Ok(())
        })?;
        txq.wake();
        Ok(())
    }

    /// Stops the queue and returns the driver's ring: stops the core's transmission to the
    /// queue, stops the device's DMA from the ring ([`Ring::quiesce`], in process context, where
    /// it may sleep), unmaps and frees the packets the device did not complete and reports them
    /// to byte queue limits as completed.
    ///
    /// The core's queue is stopped under its lock (`netif_tx_disable()` for the one queue):
    /// once that is done no `start_xmit` runs for it, so that packets sent while the engine
    /// restarts on a device that stays up (a reset, a ring resize) wait in the qdisc, and
    /// [`Queue::start`] wakes the queue for them. Fails with `EINVAL` if the queue is stopped.
    pub fn stop(&self, _rtnl: &Rtnl) -> Result<R> {
        if let Some(txq) = self.bound() {
            if let Some(_lock) = XmitLock::new(txq) {
                txq.stop();
            }
        }
        let mut inner = napi::bh_off(|| {
            let inner = self.inner.lock().take();
            self.bound.store(core::ptr::null_mut(), Ordering::Release);
            self.used.store(0, Ordering::Relaxed);
            inner
        })
        .ok_or(EINVAL)?;
        // Nothing reaches the ring any more: transmission and completion find the engine
        // stopped.
        inner.ring.quiesce();
        let (pkts, bytes) = inner.release_all();
        let txq = inner.txq();
        if let Some(_lock) = XmitLock::new(txq) {
            // SAFETY: Under the queue's lock, which serializes every completion of it; the
            // packets were sent by this engine on this queue and never reported completed.
            unsafe { txq.completed_wake(pkts, bytes, || 0, inner.start_at, || true) };
        }
        Ok(inner.ring)
    }

    /// Returns whether the queue is started.
    pub fn is_started(&self) -> bool {
        self.bound().is_some()
    }

    /// Returns the number of descriptors in use.
    pub fn in_flight(&self) -> u32 {
        self.used.load(Ordering::Relaxed)
    }

    /// Drops the packet being sent (the caller's, freed on return) and counts it; rings the
    /// doorbell for the packets queued before it unless more follow.
    fn drop_packet(&self, inner: &mut Inner<R>, update: &Update<'_>, more: bool) -> TxResult {
        if !more {
            inner.flush();
        }
        self.c.dropped.inc(update);
        TxResult::Ok
    }

    /// Transmits `skb`: maps its buffers, writes their descriptors, reports it to byte
    /// queue limits and rings the doorbell unless more packets follow. Stops the queue when a
    /// packet of the most fragments might not fit any more.
    ///
    /// Returns [`TxResult::Busy`] with the packet if the ring is full (the queue is stopped
    /// then, and the core retries after a completion woke it), and from netpoll, with
    /// interrupts off, if the queue's lock is held (netpoll retries). A packet whose buffers
    /// cannot be mapped or asks for a segmentation [`Offload`] does not describe, given to a
    /// queue other than the bound one, or given to a stopped engine is dropped and counted.
    /// Either way, descriptors written for earlier packets reach the device: the doorbell is
    /// rung when no packet follows.
    pub fn xmit(&self, mut skb: TxSkb, xmit: &Xmit<'_>) -> TxResult {
        let Some(mut guard) = lock_any(&self.inner) else {
            return TxResult::Busy(skb);
        };
        // SAFETY: `start_xmit` runs with bottom halves (or interrupts) off; the counters are
        // only updated under the lock, which is held, so this is their only writer and it is
        // not preempted.
        let update = unsafe { self.sync.begin() };
        let Some(inner) = guard.as_mut() else {
            self.c.dropped.inc(&update);
            return TxResult::Ok;
        };
        let txq: &TxQueue = xmit.queue();
        if txq.as_ptr() != inner.txq.as_ptr() {
            self.c.dropped.inc(&update);
            return TxResult::Ok;
        }
        let Ok(offload) = Offload::of(&skb).and_then(|o| inner.csum_in_reach(&skb, o)) else {
            return self.drop_packet(inner, &update, xmit.more());
        };
        let ctx = u32::from(inner.context && inner.ring.context(&offload));
        let nr_frags = Inner::<R>::nr_frags(&skb);
        let split = inner.split(&offload, nr_frags == 0);
        let needed = ctx + Inner::<R>::descs_for_skb(&skb, nr_frags, split);
        if needed > inner.size - 1 {
            // Larger than the ring: it would never fit.
            return self.drop_packet(inner, &update, xmit.more());
        }
        if inner.free() < needed {
            txq.stop();
            inner.flush();
            self.c.busy.inc(&update);
            self.c.stops.inc(&update);
            return TxResult::Busy(skb);
        }
        // Only now that the packet goes out: one handed back must come back unchanged.
        if let Some(gso) = &offload.gso {
            if inner.tso_headers(&mut skb, gso).is_err() {
                return self.drop_packet(inner, &update, xmit.more());
            }
        }
        let first = inner.next_to_use;
        let n = match inner.map(&skb, nr_frags, (first + ctx) % inner.size, split) {
            Ok(n) if n > 0 => n,
            _ => {
                return self.drop_packet(inner, &update, xmit.more());
            }
        };
        if ctx == 1 {
            // INVARIANT: The context descriptor's slot has no buffer.
            inner.slots[first as usize] = Slot::EMPTY;
            inner.ring.write_context(first, &offload);
        }
        for k in 0..n {
            let i = (first + ctx + k) % inner.size;
            let slot = &inner.slots[i as usize];
            let desc = Desc {
                addr: slot.addr,
                len: slot.len,
                first: k == 0,
                last: k + 1 == n,
                offload: if k == 0 { offload } else { Offload::default() },
            };
            inner.ring.write(i, &desc);
        }
        debug_assert_eq!(n + ctx, needed);
        inner.written(&offload, split);
        let n = n + ctx;
        inner.slots[first as usize].descs = n;
        let bytes = skb.len();
        let last = ((first + n - 1) % inner.size) as usize;
        // What the device makes of it: `gso_segs` may be unset (`SKB_GSO_DODGY` packets).
        let segs = offload.gso.map_or(Segs::ONE, |g| Segs {
            segs: g.payload_len.div_ceil(u32::from(g.mss)).max(1),
            header_len: g.header_len,
        });
        inner.slots[last].packet = Packet::Skb(skb, segs);
        inner.next_to_use = (first + n) % inner.size;
        inner.used += n;
        self.used.store(inner.used, Ordering::Relaxed);
        inner.pending = true;
        let ring_now = xmit.sent(bytes);
        let free = inner.free();
        let stopped = xmit.maybe_stop(|| free, inner.stop_at, inner.start_at);
        if stopped != StopResult::Running {
            self.c.stops.inc(&update);
        }
        if ring_now || stopped != StopResult::Running {
            inner.flush();
        }
        TxResult::Ok
    }

    /// Transmits frames redirected to the device (`ndo_xdp_xmit`): maps each and writes it
    /// into one descriptor (two where it ends with a sentinel), while there is room, and rings
    /// the doorbell if `flush`. Returns the number taken; the core frees the rest. A frame that
    /// cannot be mapped (or has fragments) is dropped and ends the batch. Frames are not
    /// reported to byte queue limits, and a full ring does not stop the queue.
    ///
    /// Called from the driver's [`Operations::xdp_xmit`](super::netdev::Operations::xdp_xmit),
    /// with bottom halves off.
    pub fn xdp_xmit(&self, frames: &mut XmitFrames<'_>, flush: bool) -> u32 {
        let mut guard = self.inner.lock();
        // SAFETY: `ndo_xdp_xmit` runs with bottom halves off and the lock is held: the only
        // writer, not preempted.
        let update = unsafe { self.sync.begin() };
        let mut taken = 0;
        let Some(inner) = guard.as_mut() else {
            self.c.xdp_dropped.add(&update, frames.remaining());
            return 0;
        };
        while inner.free() > 0 {
            let Some(frame) = frames.next() else {
                break;
            };
            // SAFETY: No pool address: the frame is mapped.
            match unsafe { inner.push_frame(frame, None) } {
                Ok(()) => taken += 1,
                Err(frame) => {
                    // Taken from the core, so ours to free; the rest stay the core's.
                    drop(frame);
                    self.c.xdp_dropped.inc(&update);
                    break;
                }
            }
        }
        self.c.xdp_dropped.add(&update, frames.remaining());
        self.used.store(inner.used, Ordering::Relaxed);
        if flush {
            inner.flush();
        }
        taken
    }

    /// Reports the queue's state when the watchdog found it stuck (call from the driver's
    /// [`Operations::tx_timeout`](super::netdev::Operations::tx_timeout)): logs the
    /// descriptors in flight and whether the device completed the oldest packet without the
    /// completion being cleaned (a lost interrupt), counts the timeout and returns that state,
    /// or `None` if the queue is stopped. Recovering (resetting the device) is the driver's.
    pub fn timeout(&self, dev: &Device) -> Option<Timeout> {
        napi::bh_off(|| {
            let mut guard = self.inner.lock();
            let inner = guard.as_mut()?;
            let t = Timeout {
                in_flight: inner.used,
                next_to_use: inner.next_to_use,
                next_to_clean: inner.next_to_clean,
                oldest_completed: inner.used > 0 && {
                    let (_, last) = inner.oldest();
                    inner.ring.completed(last)
                },
            };
            // SAFETY: The device is valid and its name NUL-terminated within the array (C's
            // messages read it the same way).
            let name = unsafe { CStr::from_char_ptr((*dev.as_ptr()).name.as_ptr()) };
            crate::pr_warn!(
                "{}: tx queue {}: {} descriptors in flight, next to use {}, next to clean {}{}\n",
                name,
                inner.queue,
                t.in_flight,
                t.next_to_use,
                t.next_to_clean,
                if t.oldest_completed {
                    ", oldest completed but not cleaned"
                } else {
                    ""
                }
            );
            // SAFETY: Bottom halves are off and the lock is held: the only writer.
            let update = unsafe { self.sync.begin() };
            self.c.timeouts.inc(&update);
            Some(t)
        })
    }

    /// Cleans the descriptors the device completed, in NAPI context: unmaps their buffers,
    /// frees their packets with `napi_consume_skb()` and returns their frames in bulk, reports
    /// the packets to byte queue limits of the bound queue and wakes it if it was stopped and
    /// has room again. Returns the packets and frames completed (transmit completions do not
    /// count against the poll's budget).
    ///
    /// From netpoll (interrupts off, maybe in hard interrupt context) it cleans only while the
    /// lock is free and up to the first XDP frame, whose page goes back with bottom-half locks:
    /// the next regular poll cleans the rest.
    pub fn complete(&self, ctx: &CleanContext<'_>) -> u32 {
        let netpoll = ctx.is_netpoll();
        let Some(txq) = self.bound() else {
            return 0;
        };
        // The queue's lock first, as in the core's transmit path.
        let Some(_xmit_lock) = XmitLock::new(txq) else {
            return 0;
        };
        let Some(mut guard) = lock_any(&self.inner) else {
            return 0;
        };
        // Stopped (and maybe started again on another queue) meanwhile: nothing of ours here.
        let Some(inner) = guard.as_mut().filter(|i| i.txq.as_ptr() == txq.as_ptr()) else {
            return 0;
        };
        let (mut pkts, mut bytes) = (0u32, 0u32);
        let (mut frames, mut frame_bytes) = (0u32, 0u32);
        let mut wire = Wire::default();
        let rcu = rcu::read_lock();
        let mut bulk = FrameBulk::new(&rcu);
        while inner.used > 0 {
            // The device reports a packet on its last descriptor.
            let (n, last) = inner.oldest();
            if !inner.ring.completed(last) {
                break;
            }
            if netpoll && matches!(inner.slots[last as usize].packet, Packet::Frame(_)) {
                break;
            }
            for _ in 0..n {
                let i = inner.next_to_clean as usize;
                match Inner::<R>::release(&inner.dev, &mut inner.slots[i]) {
                    Packet::None => (),
                    Packet::Skb(skb, segs) => {
                        pkts += 1;
                        bytes += skb.len();
                        wire.add(skb.len(), segs);
                        ctx.consume_tx_skb(skb);
                    }
                    Packet::Frame(frame) => {
                        frames += 1;
                        frame_bytes += frame.len();
                        bulk.push(frame);
                    }
                }
                inner.next_to_clean = (inner.next_to_clean + 1) % inner.size;
                inner.used -= 1;
            }
        }
        drop(bulk);
        drop(rcu);
        self.used.store(inner.used, Ordering::Relaxed);
        let free = inner.free();
        // SAFETY: Under the queue's lock, which serializes every completion of it (any engine
        // bound to it takes the lock too) with transmission; the packets were sent by this
        // engine on this queue, and each is reported once.
        let mut woke =
            unsafe { txq.completed_wake(pkts, bytes, || free, inner.start_at, || false) };
        // Frames alone (nothing for BQL) make room too. Transmission, which stops the queue,
        // waits for the queue's lock held here.
        if pkts == 0 && frames > 0 && free >= inner.start_at && txq.is_stopped() {
            txq.wake();
            woke = WakeResult::Woken;
        }
        // SAFETY: The poll runs with bottom halves (or interrupts) off and the lock is held:
        // the only writer, not preempted.
        let update = unsafe { self.sync.begin() };
        wire.packets += frames;
        wire.bytes += u64::from(frame_bytes);
        self.count(&update, &wire, frames);
        if woke == WakeResult::Woken {
            self.c.wakes.inc(&update);
        }
        pkts + frames
    }

    fn count(&self, update: &Update<'_>, wire: &Wire, frames: u32) {
        if wire.packets > 0 {
            self.c.packets.add(update, wire.packets as usize);
            self.c.bytes.add(update, wire.bytes as usize);
        }
        if wire.gso_packets > 0 {
            self.c.gso_packets.add(update, wire.gso_packets as usize);
            self.c.gso_bytes.add(update, wire.gso_bytes as usize);
            self.c
                .gso_wire_packets
                .add(update, wire.gso_wire_packets as usize);
            self.c
                .gso_wire_bytes
                .add(update, wire.gso_wire_bytes as usize);
        }
        if frames > 0 {
            self.c.xdp_frames.add(update, frames as usize);
        }
    }

    /// Returns the counters.
    pub fn stats(&self) -> Stats {
        self.sync.read(|| Stats {
            packets: self.c.packets.get(),
            bytes: self.c.bytes.get(),
            gso_packets: self.c.gso_packets.get(),
            gso_bytes: self.c.gso_bytes.get(),
            gso_wire_packets: self.c.gso_wire_packets.get(),
            gso_wire_bytes: self.c.gso_wire_bytes.get(),
            dropped: self.c.dropped.get(),
            busy: self.c.busy.get(),
            stops: self.c.stops.get(),
            wakes: self.c.wakes.get(),
            xdp_frames: self.c.xdp_frames.get(),
            xdp_dropped: self.c.xdp_dropped.get(),
            timeouts: self.c.timeouts.get(),
        })
    }

    /// Fills in the standard statistics of the queue (`netdev_stat_ops`).
    pub fn queue_stats(&self, qs: &mut QueueStatsTx) {
        fill_queue_stats(&self.stats(), qs);
    }
}

/// Sets the statistics [`Queue::queue_stats`] fills in to 0: the base statistics
/// (`get_base_stats`) of a device whose queues count everything. The core reports a
/// device-wide statistic only if its base statistics have it.
pub fn base_stats(qs: &mut QueueStatsTx) {
    fill_queue_stats(&Stats::default(), qs);
}

impl Stats {
    /// The names of the counters for `ethtool -S`, in the order of [`Stats::values`].
    pub const NAMES: [&'static str; 13] = [
        "tx_packets",
        "tx_bytes",
        "tx_gso_packets",
        "tx_gso_bytes",
        "tx_gso_wire_packets",
        "tx_gso_wire_bytes",
        "tx_dropped",
        "tx_busy",
        "tx_stops",
        "tx_wakes",
        "tx_xdp_frames",
        "tx_xdp_dropped",
        "tx_timeouts",
    ];

    /// Returns the counters in the order of [`Stats::NAMES`].
    pub fn values(&self) -> [u64; 13] {
        [
            self.packets,
            self.bytes,
            self.gso_packets,
            self.gso_bytes,
            self.gso_wire_packets,
            self.gso_wire_bytes,
            self.dropped,
            self.busy,
            self.stops,
            self.wakes,
            self.xdp_frames,
            self.xdp_dropped,
            self.timeouts,
        ]
    }

    /// Adds the counters to the device statistics (`ndo_get_stats64`): the packets and bytes
    /// sent on the wire, and as dropped the packets and XDP frames the engine dropped.
    pub fn add_to(&self, ls: &mut LinkStats64) {
        ls.tx_packets += self.packets;
        ls.tx_bytes += self.bytes;
        ls.tx_dropped += self.dropped + self.xdp_dropped;
    }
}

fn fill_queue_stats(s: &Stats, qs: &mut QueueStatsTx) {
    qs.packets = s.packets;
    qs.bytes = s.bytes;
    qs.hw_gso_packets = s.gso_packets;
    qs.hw_gso_bytes = s.gso_bytes;
    qs.hw_gso_wire_packets = s.gso_wire_packets;
    qs.hw_gso_wire_bytes = s.gso_wire_bytes;
    qs.hw_drops = s.dropped;
    qs.stop = s.stops;
    qs.wake = s.wakes;
}

#[pinned_drop]
impl<R: Ring> PinnedDrop for Queue<R> {
    fn drop(self: Pin<&mut Self>) {
        // A started queue dropped without `stop()` (the device is being freed): the device
        // stops reading the ring before its buffers are unmapped and its packets freed.
        let inner = napi::bh_off(|| self.inner.lock().take());
        if let Some(mut inner) = inner {
            inner.ring.quiesce();
            // The device goes away with the queue: its byte queue limits do not matter.
            let _ = inner.release_all();
        }
    }
}

/// `XDP_TX` frames from the receive engine. A frame in a buffer its page pool maps for this
/// queue's DMA device in both directions is transmitted from there (synced); others are mapped.
impl<R: Ring> XdpTx for Queue<R> {
    fn xdp_tx(&self, frame: XdpTxFrame) -> Result<(), XdpTxFrame> {
        let mut guard = self.inner.lock();
        // SAFETY: The receive engine calls this from its NAPI poll, with bottom halves off; the
        // lock is held: the only writer, not preempted.
        let update = unsafe { self.sync.begin() };
        let Some(inner) = guard.as_mut() else {
            self.c.xdp_dropped.inc(&update);
            return Err(frame);
        };
        let addr = frame.dma_addr(&inner.dev);
        let (frame, lease) = frame.into_leased();
        // SAFETY: `dma_addr()` returns an address only for a buffer mapped for `inner.dev` in
        // both directions, which the frame owns, and which stays mapped while the lease lives:
        // the slot keeps it until the device is done with the frame.
        let r = unsafe { inner.push_frame(frame, addr.map(|a| (a, lease))) };
        self.used.store(inner.used, Ordering::Relaxed);
        r.map_err(|frame| {
            self.c.xdp_dropped.inc(&update);
            // Dropped by the caller, which counts the failed verdict.
            XdpTxFrame::from_frame(frame)
        })
    }

    fn xdp_tx_flush(&self) {
        if let Some(inner) = self.inner.lock().as_mut() {
            inner.flush();
        }
    }
}

/// The state of a stuck transmit queue, as [`Queue::timeout`] found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout {
    /// Descriptors written and not cleaned.
    pub in_flight: u32,
    /// The next descriptor to be written.
    pub next_to_use: u32,
    /// The oldest descriptor in flight.
    pub next_to_clean: u32,
    /// Whether the device completed the oldest packet (so completions are not being
    /// cleaned: a lost interrupt) rather than not getting to it (a stuck device).
    pub oldest_completed: bool,
}

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
mod tests;
