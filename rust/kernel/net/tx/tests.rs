// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_tx`: the transmit queue engine on a registered device whose
//! "hardware" is a software descriptor ring: the test plays the device, reading the packets at
//! the descriptors' DMA addresses and completing them, then schedules the NAPI instance that
//! cleans the ring. XDP frames come through `ndo_xdp_xmit`, and from the receive engine's
//! `XDP_TX` on a device with both engines.

use super::{
    tso_max_segs, Config, CsumInsert, Desc, Gso, GsoKind, Offload, Queue, Ring, Stats, Timeout,
    MIN_DESC_LIMIT, START_THRESHOLD, STOP_THRESHOLD,
};
use crate::{
    bindings, device,
    kunit::Test,
    kunit_expect, kunit_expect_eq, kunit_test_suite,
    net::{
        napi::{bh_off, tests::netpoll, CleanContext, Napi, Poll, PollContext},
        netdev::{
            tests::{close, open, settle},
            Device, ExtAck, NetDevice, Operations, QueueStatsRx, QueueStatsTx, Registration, Rtnl,
            TxQueue, TxResult, TxSkb, Unregistered, Xmit,
        },
        page_pool::{tests::dma_device, PagePool, Params},
        rx,
        skbuff::SkBuff,
        xdp::{tests::returning, RxqInfo, XdpBuff, XdpFrame, XmitFrames, PACKET_HEADROOM},
    },
    new_spinlock,
    prelude::*,
    sync::{Arc, SpinLock},
    types::ARef,
};
use core::{
    ptr::NonNull,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering::Relaxed},
};

/// How far into a packet the device of `contexts_and_split_buffers` inserts checksums.
const CSUM_LIMIT: u32 = 200;

/// The EtherType of the test frames (IEEE 802 local experimental).
const ETHERTYPE: u16 = 0x88b5;

/// A descriptor as the device reads it.
#[derive(Clone, Copy)]
enum Entry {
    Buf(Desc),
    /// A context descriptor, for the offloads of the packet that follows.
    Ctx(Offload),
}

/// The device side of the ring. Like the 8254x with report-status on the last descriptor of a
/// packet only, it marks only the last descriptors done.
struct HwRing {
    descs: KVec<Option<Entry>>,
    done: KVec<bool>,
    /// The next descriptor the device reads.
    head: u32,
    /// The doorbell.
    tail: u32,
    doorbells: u32,
    /// The bytes of the packet being read.
    partial: KVec<u8>,
    /// The packets read so far.
    sent: KVec<KVec<u8>>,
    /// The buffers of the last packet read.
    last_buffers: u32,
    buffers: u32,
    /// The lengths of the buffer descriptors of the packet being read, and of every packet
    /// read.
    lens: KVec<u32>,
    shapes: KVec<KVec<u32>>,
    /// The offloads of the packets read.
    offloads: KVec<Offload>,
    /// The context descriptors read.
    contexts: KVec<Offload>,
    /// The longest buffer of a descriptor read.
    longest: u32,
    quiesced: u32,
    /// Buffers the device read when it was quiesced.
    late_reads: u32,
    /// Test packets freed (`TX_FREED`) when the device was quiesced.
    freed_at_quiesce: u32,
}

/// Test packets freed so far: see [`count_free`].
static TX_FREED: AtomicU32 = AtomicU32::new(0);

/// The destructor of test packets whose freeing is counted.
///
/// # Safety
///
/// Called by the core with an skb being freed.
unsafe extern "C" fn count_free(_skb: *mut bindings::sk_buff) {
    TX_FREED.fetch_add(1, Relaxed);
}

#[pin_data]
struct Hw {
    #[pin]
    inner: SpinLock<HwRing>,
}

impl Hw {
    fn new(size: u32) -> Result<Arc<Self>> {
        let mut descs = KVec::with_capacity(size as usize, GFP_KERNEL)?;
        let mut done = KVec::with_capacity(size as usize, GFP_KERNEL)?;
        for _ in 0..size {
            descs.push(None, GFP_KERNEL)?;
            done.push(false, GFP_KERNEL)?;
        }
        Arc::pin_init(
            try_pin_init!(Self {
                inner <- new_spinlock!(HwRing {
                    descs,
                    done,
                    head: 0,
                    tail: 0,
                    doorbells: 0,
                    partial: KVec::new(),
                    sent: KVec::new(),
                    last_buffers: 0,
                    buffers: 0,
                    lens: KVec::new(),
                    shapes: KVec::new(),
                    offloads: KVec::new(),
                    contexts: KVec::new(),
                    longest: 0,
                    quiesced: 0,
                    late_reads: 0,
                    freed_at_quiesce: 0,
                }),
            }? Error),
            GFP_KERNEL,
        )
    }

    /// Reads the descriptors the doorbell made visible, marking them done if `complete`;
    /// returns the number read.
    fn run(&self, complete: bool) -> Result<u32> {
        bh_off(|| {
            let mut hw = self.inner.lock();
            let size = hw.descs.len() as u32;
            let mut n = 0;
            while hw.head != hw.tail {
                let head = hw.head as usize;
                let d = match hw.descs[head].take() {
                    None => break,
                    Some(Entry::Ctx(offload)) => {
                        hw.contexts.push(offload, GFP_ATOMIC)?;
                        hw.head = (hw.head + 1) % size;
                        n += 1;
                        continue;
                    }
                    Some(Entry::Buf(d)) => d,
                };
                hw.longest = hw.longest.max(d.len);
                // The device "DMA-reads" the buffer: with the DMA device's 64-bit mask and no
                // IOMMU, the DMA address is the physical one, in the kernel's direct map.
                // SAFETY: `d.addr` maps `d.len` bytes the device may read until it completes
                // the descriptor.
                let bytes = unsafe {
                    core::slice::from_raw_parts(
                        (d.addr + bindings::page_offset_base as u64) as *const u8,
                        d.len as usize,
                    )
                };
                if d.first {
                    hw.partial = KVec::new();
                    hw.lens = KVec::new();
                    hw.buffers = 0;
                    hw.offloads.push(d.offload, GFP_ATOMIC)?;
                }
                hw.partial.extend_from_slice(bytes, GFP_ATOMIC)?;
                hw.lens.push(d.len, GFP_ATOMIC)?;
                hw.buffers += 1;
                if d.last {
                    let pkt = core::mem::take(&mut hw.partial);
                    hw.sent.push(pkt, GFP_ATOMIC)?;
                    let lens = core::mem::take(&mut hw.lens);
                    hw.shapes.push(lens, GFP_ATOMIC)?;
                    hw.last_buffers = hw.buffers;
                }
                if complete && d.last {
                    hw.done[head] = true;
                }
                hw.head = (hw.head + 1) % size;
                n += 1;
            }
            Ok(n)
        })
    }

    fn sent(&self) -> KVec<KVec<u8>> {
        bh_off(|| core::mem::take(&mut self.inner.lock().sent))
    }
}

/// The driver's half of the ring.
struct SwRing(Arc<Hw>);

// The ring's lock is taken in softirq context (the poll) and from the control path: bottom
// halves are off while it is held.
impl Ring for SwRing {
    fn write(&mut self, index: u32, desc: &Desc) {
        bh_off(|| {
            let mut hw = self.0.inner.lock();
            hw.descs[index as usize] = Some(Entry::Buf(*desc));
            hw.done[index as usize] = false;
        })
    }

    fn context(&mut self, offload: &Offload) -> bool {
        offload.csum.is_some() || offload.gso.is_some()
    }

    fn write_context(&mut self, index: u32, offload: &Offload) {
        bh_off(|| {
            let mut hw = self.0.inner.lock();
            hw.descs[index as usize] = Some(Entry::Ctx(*offload));
            hw.done[index as usize] = false;
        })
    }

    fn completed(&mut self, index: u32) -> bool {
        bh_off(|| self.0.inner.lock().done[index as usize])
    }

    fn doorbell(&mut self, tail: u32) {
        bh_off(|| {
            let mut hw = self.0.inner.lock();
            hw.tail = tail;
            hw.doorbells += 1;
        })
    }

    fn quiesce(&mut self) {
        bh_off(|| {
            let mut hw = self.0.inner.lock();
            hw.quiesced += 1;
            hw.freed_at_quiesce = TX_FREED.load(Relaxed);
            // A device that reads what it was given until it is stopped: one last "DMA read"
            // of each descriptor written and not read yet. Were any buffer unmapped or freed
            // already, KASAN would report it (and fail the test).
            let mut reads = 0;
            for d in hw.descs.iter().flatten().filter_map(|e| match e {
                Entry::Buf(d) => Some(d),
                Entry::Ctx(_) => None,
            }) {
                // SAFETY: As in `Hw::run()`: a written descriptor's buffer, which the device
                // may read until it completes the descriptor.
                let _ = unsafe {
                    ((d.addr + bindings::page_offset_base as u64) as *const u8).read_volatile()
                };
                reads += 1;
            }
            hw.late_reads += reads;
            // Stopped, the device forgets its ring: a restarted engine writes it from index 0.
            hw.descs.iter_mut().for_each(|d| *d = None);
            hw.done.iter_mut().for_each(|d| *d = false);
            hw.head = 0;
            hw.tail = 0;
        })
    }
}

/// The channel: the queue and the NAPI instance that cleans it.
#[pin_data]
struct Chan {
    #[pin]
    txq: Queue<SwRing>,
    hw: Arc<Hw>,
    dma: ARef<device::Device>,
    size: u32,
    /// Another device's queue this instance cleans too, as a pair of software devices does.
    foreign: AtomicPtr<Queue<SwRing>>,
    /// netpoll's polls.
    tx_polls: AtomicU32,
}

impl Chan {
    fn clean(&self, ctx: &CleanContext<'_>) {
        self.txq.complete(ctx);
        let foreign = self.foreign.load(Relaxed);
        if !foreign.is_null() {
            // SAFETY: The test clears `foreign` (with this instance disabled) before the queue
            // goes away.
            unsafe { &*foreign }.complete(ctx);
        }
    }
}

impl Poll for Chan {
    type State = ();

    fn poll(&self, _state: Pin<&mut ()>, ctx: &mut PollContext<'_>) -> u32 {
        self.clean(ctx);
        0
    }

    fn poll_tx(&self, _state: Pin<&mut ()>, ctx: &CleanContext<'_>) {
        self.tx_polls.fetch_add(1, Relaxed);
        self.clean(ctx);
    }
}

#[pin_data]
struct Priv {
    #[pin]
    napi: Napi<Chan>,
    /// Start the engine in `open`.
    auto_start: AtomicBool,
    /// Leave the engine started in `stop`, for the device's teardown.
    keep_started: AtomicBool,
    /// What `tx_timeout` found: descriptors in flight, plus one (0: not called).
    timeout_seen: AtomicU32,
    /// Context descriptors, this per-descriptor byte limit, a checksum limit and TSO headers
    /// rewritten, if not 0: the shapes of a real device.
    desc_limit: AtomicU32,
    /// With those, the 8254x's TSO errata: four segments per descriptor, sentinels.
    errata: AtomicBool,
}

struct Drv;

/// `config` with the shapes of a real device: context descriptors, at most `limit` bytes per
/// descriptor, a checksum limit and TSO headers rewritten; and with the 8254x's TSO errata if
/// `errata`: four segments per descriptor, sentinels.
fn device_shapes(config: Config<'_>, limit: u32, errata: bool) -> Config<'_> {
    let config = config
        .context()
        .desc_limit(limit)
        .csum_limit(CSUM_LIMIT)
        .tso_headers();
    if errata {
        config.gso_desc_segments(4).sentinel()
    } else {
        config
    }
}

#[vtable]
impl Operations for Drv {
    type Data = Priv;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        let ch = napi.data();
        if dev.data().auto_start.load(Relaxed) {
            let mut config = Config::new(ch.size, 0, &ch.dma);
            let limit = dev.data().desc_limit.load(Relaxed);
            if limit != 0 {
                config = device_shapes(config, limit, dev.data().errata.load(Relaxed));
            }
            ch.txq.start(dev, rtnl, SwRing(ch.hw.clone()), &config)?;
        }
        napi.enable(rtnl)
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        napi.disable(rtnl);
        if napi.data().txq.is_started() && !dev.data().keep_started.load(Relaxed) {
            napi.data().txq.stop(rtnl)?;
        }
        Ok(())
    }

    fn start_xmit(dev: &NetDevice<Self>, skb: TxSkb, xmit: &Xmit<'_>) -> TxResult {
        dev.data().get_ref().napi.data().txq.xmit(skb, xmit)
    }

    fn xdp_xmit(dev: &NetDevice<Self>, frames: &mut XmitFrames<'_>, flush: bool) {
        dev.data().get_ref().napi.data().txq.xdp_xmit(frames, flush);
    }

    fn tx_timeout(dev: &NetDevice<Self>, _queue: u32) {
        if let Some(t) = dev.data().get_ref().napi.data().txq.timeout(dev) {
            dev.data().timeout_seen.store(t.in_flight + 1, Relaxed);
        }
    }
}

struct Rig {
    dev: Registration<Drv>,
    hw: Arc<Hw>,
}

impl Rig {
    fn new(size: u32, auto_start: bool) -> Result<Self> {
        let dma: ARef<device::Device> = dma_device()?.into();
        let hw = Hw::new(size)?;
        let hw0 = hw.clone();
        let mut dev = Unregistered::<Drv>::new_with(1, 1, |dev, slot| {
            slot.init(try_pin_init!(Priv {
                napi <- Napi::new(dev, try_pin_init!(Chan {
                    txq <- Queue::new(),
                    hw: hw0,
                    dma,
                    size,
                    foreign: AtomicPtr::new(core::ptr::null_mut()),
                    tx_polls: AtomicU32::new(0),
                }? Error), ()),
                auto_start: AtomicBool::new(auto_start),
                keep_started: AtomicBool::new(false),
                timeout_seen: AtomicU32::new(0),
                desc_limit: AtomicU32::new(0),
                errata: AtomicBool::new(false),
            }? Error))
        })?;
        dev.set_random_mac_address();
        // The watchdog checks stopped queues every 50 ms.
        // SAFETY: FFI call without preconditions.
        dev.set_watchdog_timeout(unsafe { bindings::__msecs_to_jiffies(50) } as i32);
        // Scatter-gather, so that the core hands over fragments instead of linearizing, and the
        // offloads the engine describes; and an MTU below IPv6's minimum, so that the stack
        // sends nothing of its own (no IPv6 on the device, hence no neighbour discovery) and
        // the ring holds the test's packets only.
        let features = [
            bindings::NETIF_F_SG_BIT,
            bindings::NETIF_F_HW_CSUM_BIT,
            bindings::NETIF_F_TSO_BIT,
            bindings::NETIF_F_TSO6_BIT,
            bindings::NETIF_F_HW_VLAN_CTAG_TX_BIT,
        ]
        .iter()
        .fold(0u64, |f, bit| f | 1 << bit);
        // SAFETY: The device is not registered yet; its features and MTU are ours to set.
        unsafe {
            let raw = dev.as_ptr();
            (*raw).mtu = 1000;
            (*raw).features |= features;
            (*raw).hw_features |= features;
        }
        let dev = dev.register()?;
        Ok(Self { dev, hw })
    }

    fn doorbells(&self) -> u32 {
        bh_off(|| self.hw.inner.lock().doorbells)
    }

    fn txq(&self) -> &Queue<SwRing> {
        &self.dev.data().get_ref().napi.data().txq
    }

    fn queue(&self) -> Result<&TxQueue> {
        self.dev.tx_queue(0).ok_or(EINVAL)
    }

    /// Has the device read and complete what it was given, and the poll clean it up.
    fn complete(&self) -> Result<u32> {
        let n = self.hw.run(true)?;
        self.dev.data().get_ref().napi.schedule();
        Ok(n)
    }
}

/// The byte at `offset` of a test frame.
fn pattern(offset: usize, seed: u8) -> u8 {
    (offset as u8).wrapping_mul(13).wrapping_add(seed)
}

/// Lets BQL admit `bytes` in flight on `queue` from the start, as `limit_min` in sysfs does.
fn bql_limit_min(queue: &TxQueue, bytes: u32) {
    // SAFETY: The queue is valid and not transmitting yet.
    unsafe {
        let dql = &mut (*queue.as_ptr()).dql;
        dql.min_limit = bytes;
        dql.limit = bytes;
        dql.adj_limit = dql.num_completed + bytes;
    }
}

/// Returns the bytes BQL counts in flight on `queue`.
fn bql_in_flight(queue: &TxQueue) -> u32 {
    // SAFETY: The queue is valid; the counters are read with single loads.
    unsafe {
        let dql = &(*queue.as_ptr()).dql;
        dql.num_queued.wrapping_sub(dql.num_completed)
    }
}

/// Builds a frame of `len` bytes (pattern `seed`), with its last `frag_len * frags` bytes in
/// page fragments from `pool`; `l3` replaces the test EtherType and the bytes after the
/// Ethernet header.
fn build(
    len: usize,
    seed: u8,
    frags: u32,
    frag_len: u32,
    pool: Option<&mut PagePool>,
    l3: Option<(u16, &[u8])>,
) -> Result<SkBuff> {
    let in_frags = (frags * frag_len) as usize;
    let head = len - in_frags;
    let mut skb = SkBuff::alloc(head as u32 + 64)?;
    skb.reserve(32)?;
    let data = skb.put(head as u32)?;
    for (i, b) in data.iter_mut().enumerate() {
        *b = pattern(i, seed);
    }
    data[..6].fill(0xff);
    data[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    let (ethertype, hdr) = l3.unwrap_or((ETHERTYPE, &[]));
    data[12..14].copy_from_slice(&ethertype.to_be_bytes());
    data[14..14 + hdr.len()].copy_from_slice(hdr);
    if let Some(pool) = pool {
        for f in 0..frags as usize {
            let mut page = pool.alloc_page()?;
            for (i, b) in page.as_mut_slice()[..frag_len as usize]
                .iter_mut()
                .enumerate()
            {
                *b = pattern(head + f * frag_len as usize + i, seed);
            }
            skb.add_rx_frag(page, 0, frag_len, frag_len)
                .map_err(|e| e.error)?;
        }
    }
    Ok(skb)
}

/// Transmits `skb` through `dev_queue_xmit()`, after `prepare` set what a socket would have
/// (with the data at the Ethernet header).
fn xmit_skb(
    dev: &Device,
    mut skb: SkBuff,
    prepare: impl FnOnce(*mut bindings::sk_buff),
) -> Result<i32> {
    // SAFETY: `dev` outlives the call; the skb is handed to the core before it returns.
    unsafe { skb.eth_type_trans(dev) }?;
    skb.push(14)?;
    prepare(skb.as_ptr());
    // SAFETY: The skb is valid and has a device; the core takes ownership.
    Ok(unsafe { bindings::__dev_queue_xmit(skb.into_raw().as_ptr(), core::ptr::null_mut()) })
}

/// Transmits a test frame: see [`build`].
fn send(
    dev: &Device,
    len: usize,
    seed: u8,
    frags: u32,
    frag_len: u32,
    pool: Option<&mut PagePool>,
) -> Result<i32> {
    xmit_skb(dev, build(len, seed, frags, frag_len, pool, None)?, |_| ())
}

/// Checks that `pkt` is a test frame of `len` bytes with pattern `seed`.
fn is_frame(pkt: &[u8], len: usize, seed: u8) -> bool {
    pkt.len() == len
        && pkt[12..14] == ETHERTYPE.to_be_bytes()
        && pkt[14..]
            .iter()
            .enumerate()
            .all(|(i, b)| *b == pattern(14 + i, seed))
}

fn xmit_and_complete(test: &Test) -> Result {
    let rig = Rig::new(64, true)?;
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    let lens = [60usize, 100, 1514, 14, 800];
    for (i, &len) in lens.iter().enumerate() {
        kunit_expect_eq!(test, send(&rig.dev, len, i as u8, 0, 0, None)?, 0);
    }
    // Written, read by the device, not completed yet: BQL counts them in flight.
    kunit_expect_eq!(test, rig.txq().in_flight(), 5);
    let total: usize = lens.iter().sum();
    kunit_expect_eq!(test, bql_in_flight(rig.queue()?) as usize, total);
    kunit_expect_eq!(test, rig.complete()?, 5);
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    let sent = rig.hw.sent();
    kunit_expect_eq!(test, sent.len(), lens.len());
    for (i, (pkt, &len)) in sent.iter().zip(lens.iter()).enumerate() {
        kunit_expect!(test, is_frame(pkt, len, i as u8));
    }
    let stats = rig.txq().stats();
    kunit_expect_eq!(test, (stats.packets, stats.bytes), (5, total as u64));
    kunit_expect_eq!(test, (stats.dropped, stats.busy, stats.stops), (0, 0, 0));
    kunit_expect_eq!(test, bql_in_flight(rig.queue()?), 0);
    // One doorbell per packet: nothing else was queued behind them.
    kunit_expect_eq!(test, bh_off(|| rig.hw.inner.lock().doorbells), 5);
    close(&rig.dev);
    Ok(())
}

fn fragments_are_mapped(test: &Test) -> Result {
    let rig = Rig::new(64, true)?;
    let mut pool = PagePool::new(&Params::new(64))?;
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    // A head and three fragments: four descriptors.
    kunit_expect_eq!(
        test,
        send(&rig.dev, 100 + 3 * 1000, 7, 3, 1000, Some(&mut pool))?,
        0
    );
    kunit_expect_eq!(test, rig.txq().in_flight(), 4);
    kunit_expect_eq!(test, rig.complete()?, 4);
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    let sent = rig.hw.sent();
    kunit_expect_eq!(test, sent.len(), 1);
    kunit_expect!(test, sent.first().is_some_and(|p| is_frame(p, 3100, 7)));
    kunit_expect_eq!(test, bh_off(|| rig.hw.inner.lock().last_buffers), 4);
    // The completion freed the skb and its pages went back.
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    close(&rig.dev);
    Ok(())
}

fn full_ring_stops_and_wakes(test: &Test) -> Result {
    // 39 usable descriptors: the queue stops when fewer than STOP_THRESHOLD are free, after
    // 39 - STOP_THRESHOLD + 1 single-descriptor packets, and wakes at START_THRESHOLD free.
    let size = START_THRESHOLD + 4;
    let rig = Rig::new(size, true)?;
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    let fit = size - 1 - STOP_THRESHOLD + 1;
    let total = fit + 10;
    for i in 0..total {
        // The ones beyond the ring wait in the qdisc.
        kunit_expect_eq!(test, send(&rig.dev, 200, i as u8, 0, 0, None)?, 0);
    }
    kunit_expect!(test, rig.queue()?.is_stopped());
    kunit_expect_eq!(test, rig.txq().in_flight(), fit);
    kunit_expect_eq!(test, rig.txq().stats().stops, 1);
    // Completing them wakes the queue, and the qdisc hands over the rest.
    rig.complete()?;
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 10));
    kunit_expect!(test, !rig.queue()?.is_stopped());
    rig.complete()?;
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    let sent = rig.hw.sent();
    kunit_expect_eq!(test, sent.len() as u32, total);
    // In order, nothing lost.
    kunit_expect!(
        test,
        sent.iter()
            .enumerate()
            .all(|(i, p)| is_frame(p, 200, i as u8))
    );
    let stats = rig.txq().stats();
    kunit_expect_eq!(
        test,
        (stats.packets, stats.wakes, stats.dropped),
        (u64::from(total), 1, 0)
    );
    kunit_expect_eq!(test, bql_in_flight(rig.queue()?), 0);
    close(&rig.dev);
    Ok(())
}

/// A queue the full ring stopped is started again with the engine: a device brought down and
/// up, or whose rings are restarted while it is up (a reset, a resize), is not left stopped.
fn restart_wakes_stopped_queue(test: &Test) -> Result {
    let size = START_THRESHOLD + 4;
    let rig = Rig::new(size, true)?;
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    for i in 0..size - STOP_THRESHOLD {
        kunit_expect_eq!(test, send(&rig.dev, 200, i as u8, 0, 0, None)?, 0);
    }
    kunit_expect!(test, rig.queue()?.is_stopped());
    close(&rig.dev);
    open(&rig.dev)?;
    kunit_expect!(test, !rig.queue()?.is_stopped());
    kunit_expect_eq!(test, send(&rig.dev, 200, 0, 0, 0, None)?, 0);
    kunit_expect_eq!(test, rig.txq().in_flight(), 1);
    close(&rig.dev);
    Ok(())
}

/// Packets sent while the engine restarts on a device that stays up (a reset, a resize) wait in
/// the qdisc: stopping the engine stops the core's queue, and starting it hands them over.
fn restart_holds_packets(test: &Test) -> Result {
    let rig = Rig::new(64, true)?;
    let ch = rig.dev.data().get_ref().napi.data();
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    kunit_expect_eq!(test, send(&rig.dev, 200, 0, 0, 0, None)?, 0);
    drop(ch.txq.stop(&Rtnl::lock())?);
    kunit_expect!(test, rig.queue()?.is_stopped());
    for i in 1..4 {
        kunit_expect_eq!(test, send(&rig.dev, 200, i, 0, 0, None)?, 0);
    }
    kunit_expect_eq!(test, rig.txq().stats().dropped, 0);
    let cfg = Config::new(64, 0, &ch.dma);
    ch.txq
        .start(&rig.dev, &Rtnl::lock(), SwRing(ch.hw.clone()), &cfg)?;
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 3));
    rig.complete()?;
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    // The one the first ring held went with it, unsent; the three that waited went out.
    let sent = rig.hw.sent();
    kunit_expect_eq!(test, sent.len(), 3);
    kunit_expect!(
        test,
        sent.iter()
            .enumerate()
            .all(|(i, p)| is_frame(p, 200, i as u8 + 1))
    );
    let stats = rig.txq().stats();
    kunit_expect_eq!(test, (stats.packets, stats.dropped), (3, 0));
    close(&rig.dev);
    Ok(())
}

fn stop_frees_in_flight(test: &Test) -> Result {
    let rig = Rig::new(64, true)?;
    let mut pool = PagePool::new(&Params::new(64))?;
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    for i in 0..3 {
        kunit_expect_eq!(test, send(&rig.dev, 1100, i, 1, 1000, Some(&mut pool))?, 0);
    }
    // Read but never completed: the device is stopped with them in flight.
    kunit_expect_eq!(test, rig.hw.run(false)?, 6);
    kunit_expect_eq!(test, rig.txq().in_flight(), 6);
    kunit_expect_eq!(test, pool.stats().outstanding(), 3);
    close(&rig.dev);
    kunit_expect!(test, !rig.txq().is_started());
    // Unmapped and freed, and BQL starts over.
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    kunit_expect_eq!(test, bql_in_flight(rig.queue()?), 0);
    let stats = rig.txq().stats();
    kunit_expect_eq!(test, (stats.packets, stats.dropped), (0, 0));
    Ok(())
}

/// The device stops reading the ring before the buffers in flight are unmapped and freed: on
/// `stop()`, and when a started queue is dropped with its device (which frees them: nothing
/// leaks).
fn device_quiesced_before_buffers_go(test: &Test) -> Result {
    let state = |hw: &Hw| {
        bh_off(|| {
            let hw = hw.inner.lock();
            (hw.quiesced, hw.late_reads, hw.freed_at_quiesce)
        })
    };
    // Packets whose freeing is counted, never completed: `stop()` frees them.
    let send_counted = |dev: &Device, seed: u8| {
        let skb = build(100, seed, 0, 0, None, None)?;
        xmit_skb(dev, skb, |raw| {
            // SAFETY: The skb is ours until it is handed over; nothing else uses its destructor
            // (it has no socket, and the union's other members are unused on transmit).
            unsafe { (*raw).__bindgen_anon_3.__bindgen_anon_1.destructor = Some(count_free) }
        })
    };
    let rig = Rig::new(64, true)?;
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    TX_FREED.store(0, Relaxed);
    for i in 0..3 {
        kunit_expect_eq!(test, send_counted(&rig.dev, i)?, 0);
    }
    close(&rig.dev);
    // The device read each one last with nothing freed yet; then they were freed.
    kunit_expect_eq!(test, state(&rig.hw), (1, 3, 0));
    kunit_expect_eq!(test, TX_FREED.load(Relaxed), 3);
    kunit_expect_eq!(test, bql_in_flight(rig.queue()?), 0);
    // The same when a started queue is dropped with its device: nothing leaks.
    let rig = Rig::new(64, true)?;
    rig.dev.data().keep_started.store(true, Relaxed);
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    TX_FREED.store(0, Relaxed);
    for i in 0..3 {
        kunit_expect_eq!(test, send_counted(&rig.dev, i)?, 0);
    }
    let hw = rig.hw.clone();
    drop(rig);
    kunit_expect_eq!(test, state(&hw), (1, 3, 0));
    kunit_expect_eq!(test, TX_FREED.load(Relaxed), 3);
    Ok(())
}

/// Completions are reported to the byte queue limits of the queue the engine is bound to, also
/// when another device's NAPI instance cleans the ring (reporting them on the cleaning
/// device's queue would complete more than it sent there: `BUG_ON` in `dql_completed()`).
fn bql_bound_to_device(test: &Test) -> Result {
    let a = Rig::new(64, true)?;
    let b = Rig::new(64, true)?;
    let b_napi = &b.dev.data().get_ref().napi;
    b_napi
        .data()
        .foreign
        .store((a.txq() as *const Queue<SwRing>).cast_mut(), Relaxed);
    open(&a.dev)?;
    open(&b.dev)?;
    bql_limit_min(a.queue()?, 1 << 20);
    for i in 0..3 {
        kunit_expect_eq!(test, send(&a.dev, 100, i, 0, 0, None)?, 0);
    }
    kunit_expect_eq!(test, bql_in_flight(a.queue()?), 300);
    // The device completes them; `b`'s instance cleans `a`'s ring.
    kunit_expect_eq!(test, a.hw.run(true)?, 3);
    b_napi.schedule();
    kunit_expect!(test, settle(|| a.txq().in_flight() == 0));
    kunit_expect_eq!(test, bql_in_flight(a.queue()?), 0);
    kunit_expect_eq!(test, bql_in_flight(b.queue()?), 0);
    kunit_expect_eq!(test, a.txq().stats().packets, 3);
    close(&b.dev);
    b_napi.data().foreign.store(core::ptr::null_mut(), Relaxed);
    close(&a.dev);
    Ok(())
}

/// netpoll's poll (interrupts off, budget 0) cleans the stack's packets only: it stops at an
/// XDP frame, which the next regular poll returns, and leaves the ring alone when the queue's
/// lock is held on its CPU (which a hard interrupt can find) instead of deadlocking.
fn netpoll_cleans_safely(test: &Test) -> Result {
    let rig = Rig::new(64, true)?;
    let mut pool = PagePool::new(&Params::new(64))?;
    // SAFETY: The device outlives the registration, which is dropped first.
    let rxq = KBox::pin_init(unsafe { RxqInfo::new(&rig.dev, 0, 0, &pool) }, GFP_KERNEL)?;
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    let napi = &rig.dev.data().get_ref().napi;
    for i in 0..2 {
        kunit_expect_eq!(test, send(&rig.dev, 100, i, 0, 0, None)?, 0);
    }
    let mut batch = frames(&rxq, &mut pool, 1, 200, 2)?;
    kunit_expect_eq!(test, ndo_xdp_xmit(&rig.dev, &mut batch, true)?, 1);
    kunit_expect_eq!(test, send(&rig.dev, 100, 3, 0, 0, None)?, 0);
    kunit_expect_eq!(test, rig.hw.run(true)?, 4);
    // The lock is held on this CPU: netpoll finds it so, and cleans nothing.
    let work = bh_off(|| {
        let _held = rig.txq().inner.lock();
        // SAFETY: The instance is live.
        unsafe { netpoll(napi.as_ptr()) }
    });
    kunit_expect_eq!(test, work, 0);
    kunit_expect_eq!(test, rig.txq().in_flight(), 4);
    // The two packets ahead of the frame.
    // SAFETY: The instance is live.
    kunit_expect_eq!(test, unsafe { netpoll(napi.as_ptr()) }, 0);
    kunit_expect_eq!(test, rig.txq().in_flight(), 2);
    kunit_expect_eq!(test, napi.data().tx_polls.load(Relaxed), 2);
    kunit_expect_eq!(test, rig.txq().stats().packets, 2);
    // The regular poll cleans the rest.
    napi.schedule();
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    let stats = rig.txq().stats();
    kunit_expect_eq!(test, (stats.packets, stats.xdp_frames), (4, 1));
    kunit_expect_eq!(test, bql_in_flight(rig.queue()?), 0);
    close(&rig.dev);
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    drop(rxq);
    Ok(())
}

fn misuse_is_refused(test: &Test) -> Result {
    let rig = Rig::new(64, false)?;
    let ch = rig.dev.data().get_ref().napi.data();
    let rtnl = Rtnl::lock();
    let ring = || SwRing(ch.hw.clone());
    // Outside the device's private data.
    let stray = KBox::pin_init(Queue::<SwRing>::new(), GFP_KERNEL)?;
    let cfg = Config::new(64, 0, &ch.dma);
    kunit_expect_eq!(
        test,
        stray.start(&rig.dev, &rtnl, ring(), &cfg),
        Err(EINVAL)
    );
    // A queue the device does not have, a ring too small for the thresholds.
    let bad = Config::new(64, 1, &ch.dma);
    kunit_expect_eq!(
        test,
        ch.txq.start(&rig.dev, &rtnl, ring(), &bad),
        Err(EINVAL)
    );
    let small = Config::new(START_THRESHOLD, 0, &ch.dma);
    kunit_expect_eq!(
        test,
        ch.txq.start(&rig.dev, &rtnl, ring(), &small),
        Err(EINVAL)
    );
    // Stopping a stopped queue, starting twice.
    kunit_expect!(test, ch.txq.stop(&rtnl).is_err());
    ch.txq.start(&rig.dev, &rtnl, ring(), &cfg)?;
    kunit_expect_eq!(
        test,
        ch.txq.start(&rig.dev, &rtnl, ring(), &cfg),
        Err(EBUSY)
    );
    kunit_expect!(test, ch.txq.stop(&rtnl).is_ok());
    drop(rtnl);
    // The engine stopped the core's queue; packets that reach a stopped engine all the same
    // (a driver woke the queue) are dropped and counted.
    rig.dev.data().auto_start.store(false, Relaxed);
    open(&rig.dev)?;
    kunit_expect!(test, rig.queue()?.is_stopped());
    rig.queue()?.start();
    kunit_expect_eq!(test, send(&rig.dev, 60, 1, 0, 0, None)?, 0);
    kunit_expect_eq!(test, ch.txq.stats().dropped, 1);
    close(&rig.dev);
    Ok(())
}

/// Makes `n` frames of `len` bytes (patterns `seed0`, `seed0 + 1`, ...) in buffers of `pool`,
/// registered with `rxq`, as a redirecting device would; returns them as the core hands them
/// to `ndo_xdp_xmit`.
fn frames(
    rxq: &RxqInfo,
    pool: &mut PagePool,
    n: usize,
    len: usize,
    seed0: u8,
) -> Result<KVec<*mut bindings::xdp_frame>> {
    let mut out = KVec::with_capacity(n, GFP_KERNEL)?;
    for k in 0..n {
        let seed = seed0.wrapping_add(k as u8);
        let mut page = pool.alloc_page()?;
        let start = PACKET_HEADROOM as usize;
        let data = &mut page.as_mut_slice()[start..start + len];
        for (i, b) in data.iter_mut().enumerate() {
            *b = pattern(i, seed);
        }
        data[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
        let buff = XdpBuff::new(page, rxq, PACKET_HEADROOM, len as u32).map_err(|e| e.error)?;
        let frame = buff.into_frame().map_err(|e| e.error)?;
        out.push(frame.into_raw().as_ptr(), GFP_KERNEL)?;
    }
    Ok(out)
}

/// Calls the device's `ndo_xdp_xmit` as the core's redirect flush does; frees the frames the
/// driver did not take, as the core does. Returns the number taken.
fn ndo_xdp_xmit(dev: &Device, frames: &mut [*mut bindings::xdp_frame], flush: bool) -> Result<i32> {
    let flags = if flush { bindings::XDP_XMIT_FLUSH } else { 0 };
    // SAFETY: The test driver's table has `ndo_xdp_xmit`; the frames are valid and given up,
    // from bottom-half-disabled context as in the core.
    let sent = unsafe {
        let f = (*(*dev.as_ptr()).netdev_ops).ndo_xdp_xmit.ok_or(EINVAL)?;
        bh_off(|| {
            f(
                dev.as_ptr(),
                frames.len() as i32,
                frames.as_mut_ptr(),
                flags,
            )
        })
    };
    for raw in frames.iter().skip(sent.max(0) as usize) {
        // SAFETY: The frames not taken are still the caller's.
        drop(unsafe { XdpFrame::from_raw(NonNull::new(*raw).ok_or(EINVAL)?) });
    }
    Ok(sent)
}

fn offloads_reach_descriptors(test: &Test) -> Result {
    let rig = Rig::new(64, true)?;
    let mut pool = PagePool::new(&Params::new(64))?;
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    // Checksum insertion: sum from byte 34, result at 34 + 16 (TCP over IPv4's place).
    let skb = build(100, 1, 0, 0, None, None)?;
    // SAFETY: The skb is valid and ours; the range lies in its head.
    let partial = |raw| unsafe { bindings::skb_partial_csum_set(raw, 34, 16) };
    let csum_only = |raw| {
        kunit_expect!(test, partial(raw));
    };
    kunit_expect_eq!(test, xmit_skb(&rig.dev, skb, csum_only)?, 0);
    // A VLAN tag to insert.
    let mut skb = build(100, 2, 0, 0, None, None)?;
    skb.set_vlan_tag((bindings::ETH_P_8021Q as u16).to_be(), 42);
    kunit_expect_eq!(test, xmit_skb(&rig.dev, skb, |_| ())?, 0);
    // TCP over IPv4, 3000 bytes of payload in three page fragments, in segments of 1000.
    let mut hdr = [0u8; 40];
    hdr[0] = 0x45;
    hdr[2..4].copy_from_slice(&3040u16.to_be_bytes());
    // Don't fragment; TTL 64; TCP; TCP data offset 5 words.
    hdr[6] = 0x40;
    hdr[8] = 64;
    hdr[9] = 6;
    hdr[32] = 0x50;
    let l3 = Some((bindings::ETH_P_IP as u16, &hdr[..]));
    let skb = build(54 + 3000, 3, 3, 1000, Some(&mut pool), l3)?;
    let tso = |raw| {
        kunit_expect!(test, partial(raw));
        // SAFETY: The skb is valid and ours; this is what TCP sets up for a TSO packet.
        unsafe {
            bindings::skb_set_network_header(raw, 14);
            let sh = bindings::skb_shinfo(raw);
            (*sh).gso_size = 1000;
            (*sh).gso_segs = 3;
            (*sh).gso_type = bindings::SKB_GSO_TCPV4;
        }
    };
    kunit_expect_eq!(test, xmit_skb(&rig.dev, skb, tso)?, 0);
    // A plain packet asks for nothing.
    kunit_expect_eq!(test, send(&rig.dev, 60, 4, 0, 0, None)?, 0);
    // One descriptor each, four for the TSO packet.
    kunit_expect_eq!(test, rig.complete()?, 7);
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    let offloads = bh_off(|| core::mem::take(&mut rig.hw.inner.lock().offloads));
    let csum = Some(CsumInsert {
        start: 34,
        offset: 16,
    });
    let expected = [
        Offload {
            csum,
            ..Offload::default()
        },
        Offload {
            vlan: Some(42),
            ..Offload::default()
        },
        Offload {
            csum,
            gso: Some(Gso {
                kind: GsoKind::Tcp4,
                mss: 1000,
                segs: 3,
                header_len: 54,
                network: 14,
                transport: 34,
                payload_len: 3000,
            }),
            vlan: None,
        },
        Offload::default(),
    ];
    kunit_expect_eq!(test, &offloads[..], &expected[..]);
    // The device got the TSO packet whole, head and fragments.
    kunit_expect!(test, rig.hw.sent().get(2).is_some_and(|p| p.len() == 3054));
    kunit_expect_eq!(test, rig.txq().stats().dropped, 0);
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    close(&rig.dev);
    Ok(())
}

fn contexts_and_split_buffers(test: &Test) -> Result {
    // Room for the stop threshold twice: the largest packet split at 1 KiB takes 83.
    let rig = Rig::new(256, true)?;
    rig.dev.data().desc_limit.store(MIN_DESC_LIMIT, Relaxed);
    let mut pool = PagePool::new(&Params::new(64))?;
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    // SAFETY: The skb is valid and ours; the range lies in its head.
    let partial = |raw| unsafe { bindings::skb_partial_csum_set(raw, 34, 16) };
    // A 2500-byte head and two fragments of 3000 bytes, with a checksum to insert: a context
    // descriptor, then 3 + 3 + 3 buffer descriptors of at most 1024 bytes.
    let skb = build(8500, 5, 2, 3000, Some(&mut pool), None)?;
    kunit_expect_eq!(
        test,
        xmit_skb(&rig.dev, skb, |raw| {
            kunit_expect!(test, partial(raw));
        })?,
        0
    );
    // A plain packet: no context descriptor.
    kunit_expect_eq!(test, send(&rig.dev, 60, 6, 0, 0, None)?, 0);
    // A checksum the device cannot reach (at 226, past its 200 bytes): computed by the engine,
    // and no context descriptor.
    let skb = build(300, 9, 0, 0, None, None)?;
    kunit_expect_eq!(
        test,
        xmit_skb(&rig.dev, skb, |raw| {
            // SAFETY: The skb is valid and ours; the range lies in its head.
            kunit_expect!(test, unsafe {
                bindings::skb_partial_csum_set(raw, 210, 16)
            });
        })?,
        0
    );
    kunit_expect_eq!(test, rig.txq().in_flight(), 12);
    // Completions come on the last descriptors only, and clean whole packets.
    kunit_expect_eq!(test, rig.complete()?, 12);
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    let sent = rig.hw.sent();
    kunit_expect_eq!(test, sent.len(), 3);
    // The engine wrote the checksum over the test pattern.
    kunit_expect!(
        test,
        sent.get(2)
            .is_some_and(|p| p.len() == 300 && p[226..228] != [pattern(226, 9), pattern(227, 9)])
    );
    // The device got the split packet whole and in order.
    kunit_expect!(
        test,
        sent.first().is_some_and(|p| p.len() == 8500
            && p[14..]
                .iter()
                .enumerate()
                .all(|(i, b)| *b == pattern(14 + i, 5)))
    );
    kunit_expect!(test, sent.get(1).is_some_and(|p| is_frame(p, 60, 6)));
    let hw = bh_off(|| {
        let mut hw = rig.hw.inner.lock();
        (
            core::mem::take(&mut hw.contexts),
            hw.last_buffers,
            hw.longest,
            core::mem::take(&mut hw.offloads),
        )
    });
    let csum = Some(CsumInsert {
        start: 34,
        offset: 16,
    });
    kunit_expect_eq!(
        test,
        &hw.0[..],
        &[Offload {
            csum,
            ..Offload::default()
        }][..]
    );
    // The last packet's one buffer; no descriptor longer than the limit.
    kunit_expect_eq!(test, (hw.1, hw.2), (1, MIN_DESC_LIMIT));
    // Only the first packet asked the device for a checksum.
    kunit_expect!(
        test,
        hw.3.len() == 3 && hw.3[0].csum == csum && hw.3[1..].iter().all(|o| o.csum.is_none())
    );
    let stats = rig.txq().stats();
    kunit_expect_eq!(test, (stats.packets, stats.dropped), (3, 0));
    kunit_expect_eq!(test, bql_in_flight(rig.queue()?), 0);
    // XDP frames take one descriptor each: one longer than the limit is dropped (taken from
    // the core, freed and counted).
    {
        // SAFETY: The device outlives the registration, which is dropped first.
        let rxq = KBox::pin_init(unsafe { RxqInfo::new(&rig.dev, 0, 0, &pool) }, GFP_KERNEL)?;
        let mut long = frames(&rxq, &mut pool, 1, MIN_DESC_LIMIT as usize + 1, 7)?;
        kunit_expect_eq!(test, ndo_xdp_xmit(&rig.dev, &mut long, true)?, 1);
        kunit_expect_eq!(test, rig.txq().in_flight(), 0);
        let mut short = frames(&rxq, &mut pool, 1, MIN_DESC_LIMIT as usize, 8)?;
        kunit_expect_eq!(test, ndo_xdp_xmit(&rig.dev, &mut short, true)?, 1);
        kunit_expect_eq!(test, rig.complete()?, 1);
        kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
        let stats = rig.txq().stats();
        kunit_expect_eq!(test, (stats.xdp_frames, stats.xdp_dropped), (1, 1));
    }
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    close(&rig.dev);
    // A limit under the smallest is refused.
    rig.dev.data().desc_limit.store(MIN_DESC_LIMIT - 1, Relaxed);
    kunit_expect_eq!(test, open(&rig.dev), Err(EINVAL));
    Ok(())
}

/// Returns a clone of `skb`: a new skb that shares its data.
fn clone_of(skb: &SkBuff) -> Result<SkBuff> {
    // SAFETY: The skb is valid; the clone is a new skb with a single reference, ours.
    Ok(unsafe {
        SkBuff::from_raw(
            NonNull::new(bindings::skb_clone(skb.as_ptr(), bindings::GFP_KERNEL)).ok_or(ENOMEM)?,
        )
    })
}

/// Sends `skb` with segmentation offload of `kind` in segments of 1000 bytes, as TCP sets it
/// up: the IP header at 14, the TCP header at `l4`.
fn send_tso(dev: &Device, skb: SkBuff, kind: u32, l4: u16, segs: u16) -> Result<i32> {
    xmit_skb(dev, skb, |raw| {
        // SAFETY: The skb is valid and ours; this is what TCP sets up for a TSO packet.
        unsafe {
            bindings::skb_partial_csum_set(raw, l4, 16);
            bindings::skb_set_network_header(raw, 14);
            let sh = bindings::skb_shinfo(raw);
            (*sh).gso_size = 1000;
            (*sh).gso_segs = segs;
            (*sh).gso_type = kind;
        }
    })
}

/// Sends a clone of `skb` (see [`send_tso`]): its header is shared, so it is copied before the
/// engine writes it.
fn send_tso_clone(dev: &Device, skb: &SkBuff, kind: u32, l4: u16, segs: u16) -> Result<i32> {
    send_tso(dev, clone_of(skb)?, kind, l4, segs)
}

/// IPv4 and TCP headers from 192.0.2.1 to 192.0.2.2 as TCP leaves them, for 3000 bytes of
/// payload: the lengths of the whole packet and checksums over it (the engine's rewrite of a
/// segmentation-offload packet's headers sets them aside whatever they are).
fn tcp4_headers() -> [u8; 40] {
    let mut v4 = [0u8; 40];
    v4[..4].copy_from_slice(&[0x45, 0, 0x0b, 0xe0]);
    v4[6..12].copy_from_slice(&[0x40, 0, 64, 6, 0xab, 0xcd]);
    v4[12..20].copy_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
    v4[32] = 0x50;
    v4[36..38].copy_from_slice(&[0x12, 0x34]);
    v4
}

fn tso_errata_shapes(test: &Test) -> Result {
    let rig = Rig::new(256, true)?;
    rig.dev.data().desc_limit.store(4096, Relaxed);
    rig.dev.data().errata.store(true, Relaxed);
    let mut pool = PagePool::new(&Params::new(64))?;
    // Refused while the device takes packets of more segments than its descriptors hold.
    kunit_expect_eq!(test, open(&rig.dev), Err(EINVAL));
    // SAFETY: The device is down; the stack reads its limits under RTNL, which the test does
    // not need for a device nothing transmits on.
    unsafe { bindings::netif_set_tso_max_segs(rig.dev.as_ptr(), tso_max_segs(4096, 4).into()) };
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    let v4 = tcp4_headers();
    let ip = Some((bindings::ETH_P_IP as u16, &v4[..]));
    let gso = bindings::SKB_GSO_TCPV4;
    let tso = |len, seed, segs| -> Result<i32> {
        send_tso(&rig.dev, build(len, seed, 0, 0, None, ip)?, gso, 34, segs)
    };
    // Segments of 1000 bytes: 4000 bytes per descriptor (not 4096), and the last 4 bytes of
    // the linear packet on their own.
    kunit_expect_eq!(test, tso(9054, 1, 9)?, 0);
    // The first linear packet after it has its first descriptor cut short by 4 bytes, into a
    // descriptor of their own; the next does not.
    kunit_expect_eq!(test, send(&rig.dev, 60, 2, 0, 0, None)?, 0);
    kunit_expect_eq!(test, send(&rig.dev, 60, 3, 0, 0, None)?, 0);
    // With fragments, the sentinel ends the last one.
    let skb = build(8500, 4, 2, 3000, Some(&mut pool), ip)?;
    kunit_expect_eq!(test, send_tso(&rig.dev, skb, gso, 34, 9)?, 0);
    // A packet with fragments and no segmentation gets no sentinel, nor does it end the rule:
    // the linear one after it gets one.
    kunit_expect_eq!(test, send(&rig.dev, 1060, 5, 1, 1000, Some(&mut pool))?, 0);
    kunit_expect_eq!(test, send(&rig.dev, 100, 6, 0, 0, None)?, 0);
    // A multiple of the limit; then a linear packet over the limit (its first descriptor cut).
    kunit_expect_eq!(test, tso(8000, 7, 8)?, 0);
    kunit_expect_eq!(test, send(&rig.dev, 5000, 8, 0, 0, None)?, 0);
    // A last descriptor of 8 bytes or fewer keeps them; the linear packet after it is cut
    // where the limit would cut it.
    kunit_expect_eq!(test, tso(4005, 9, 4)?, 0);
    kunit_expect_eq!(test, send(&rig.dev, 4100, 10, 0, 0, None)?, 0);
    // XDP frames are linear packets too.
    kunit_expect_eq!(test, tso(3054, 11, 3)?, 0);
    {
        // SAFETY: The device outlives the registration, which is dropped first.
        let rxq = KBox::pin_init(unsafe { RxqInfo::new(&rig.dev, 0, 0, &pool) }, GFP_KERNEL)?;
        let mut f = frames(&rxq, &mut pool, 2, 200, 12)?;
        kunit_expect_eq!(test, ndo_xdp_xmit(&rig.dev, &mut f, true)?, 2);
        // Contexts for the five segmented packets, and the buffer descriptors below.
        kunit_expect_eq!(test, rig.complete()?, 5 + 29);
        kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    }
    let shapes = bh_off(|| core::mem::take(&mut rig.hw.inner.lock().shapes));
    let want: [&[u32]; 13] = [
        &[4000, 4000, 1050, 4],
        &[56, 4],
        &[60],
        &[2500, 3000, 2996, 4],
        &[60, 1000],
        &[96, 4],
        &[4000, 3996, 4],
        &[4092, 908],
        &[4000, 5],
        &[4092, 8],
        &[3050, 4],
        &[196, 4],
        &[200],
    ];
    kunit_expect_eq!(test, shapes.len(), want.len());
    for (got, want) in shapes.iter().zip(want.iter()) {
        kunit_expect_eq!(test, &got[..], *want);
    }
    // The device got every packet whole.
    let sent = rig.hw.sent();
    let want = [
        9054, 60, 60, 8500, 1060, 100, 8000, 5000, 4005, 4100, 3054, 200, 200,
    ];
    kunit_expect_eq!(test, sent.len(), want.len());
    kunit_expect!(
        test,
        sent.iter().zip(want.iter()).all(|(p, len)| p.len() == *len)
    );
    kunit_expect!(test, sent.get(1).is_some_and(|p| is_frame(p, 60, 2)));
    kunit_expect!(test, sent.get(7).is_some_and(|p| is_frame(p, 5000, 8)));
    kunit_expect!(
        test,
        sent.get(3).is_some_and(|p| p[54..]
            .iter()
            .enumerate()
            .all(|(i, b)| *b == pattern(54 + i, 4)))
    );
    let stats = rig.txq().stats();
    kunit_expect_eq!(test, (stats.dropped, stats.xdp_frames), (0, 2));
    kunit_expect_eq!(test, bql_in_flight(rig.queue()?), 0);
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    close(&rig.dev);
    Ok(())
}

fn tso_headers_rewritten(test: &Test) -> Result {
    let rig = Rig::new(256, true)?;
    rig.dev.data().desc_limit.store(4096, Relaxed);
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    // TCP over IPv4 from 192.0.2.1 to 192.0.2.2 and over IPv6 from 2001:db8::1 to
    // 2001:db8::2, 3000 bytes of payload each, their headers as TCP leaves them: the lengths
    // of the whole packet and checksums over it.
    let v4 = tcp4_headers();
    let mut v6 = [0u8; 60];
    v6[..8].copy_from_slice(&[0x60, 0, 0, 0, 0x0b, 0xcc, 6, 64]);
    v6[8..12].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    v6[23] = 1;
    v6[24..28].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    v6[39] = 2;
    v6[52] = 0x50;
    v6[56..58].copy_from_slice(&[0x12, 0x34]);
    let ip4 = build(
        3054,
        1,
        0,
        0,
        None,
        Some((bindings::ETH_P_IP as u16, &v4[..])),
    )?;
    let ip6 = build(
        3074,
        2,
        0,
        0,
        None,
        Some((bindings::ETH_P_IPV6 as u16, &v6[..])),
    )?;
    kunit_expect_eq!(
        test,
        send_tso_clone(&rig.dev, &ip4, bindings::SKB_GSO_TCPV4, 34, 3)?,
        0
    );
    kunit_expect_eq!(
        test,
        send_tso_clone(&rig.dev, &ip6, bindings::SKB_GSO_TCPV6, 54, 3)?,
        0
    );
    // An IPv6 header where IPv4 segmentation is asked for: dropped.
    kunit_expect_eq!(
        test,
        send_tso_clone(&rig.dev, &ip6, bindings::SKB_GSO_TCPV4, 54, 3)?,
        0
    );
    // A context descriptor and one buffer each.
    kunit_expect_eq!(test, rig.complete()?, 4);
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    let sent = rig.hw.sent();
    kunit_expect_eq!(test, sent.len(), 2);
    let (Some(p4), Some(p6)) = (sent.first(), sent.get(1)) else {
        return Ok(());
    };
    // IPv4: total length and header checksum 0; the TCP checksum field the sum of the
    // addresses' 16-bit words and the protocol (0xc000 + 0x0201 + 0xc000 + 0x0202 + 6,
    // folded).
    kunit_expect_eq!(test, p4.len(), 3054);
    kunit_expect_eq!(
        test,
        (&p4[16..18], &p4[24..26]),
        (&[0u8, 0][..], &[0u8, 0][..])
    );
    kunit_expect_eq!(test, &p4[50..52], &[0x84u8, 0x0a][..]);
    // IPv6: payload length 0; 0x2001 + 0x0db8 + 1 + 0x2001 + 0x0db8 + 2 + 6.
    kunit_expect_eq!(test, p6.len(), 3074);
    kunit_expect_eq!(test, &p6[18..20], &[0u8, 0][..]);
    kunit_expect_eq!(test, &p6[70..72], &[0x5bu8, 0x7b][..]);
    // The rest is what the stack gave.
    kunit_expect!(
        test,
        p4[54..]
            .iter()
            .enumerate()
            .all(|(i, b)| *b == pattern(54 + i, 1))
    );
    kunit_expect!(
        test,
        p6[74..]
            .iter()
            .enumerate()
            .all(|(i, b)| *b == pattern(74 + i, 2))
    );
    // The originals, which share their data with the clones sent, did not change.
    kunit_expect_eq!(test, &ip4.data()[14..54], &v4[..]);
    kunit_expect_eq!(test, &ip6.data()[14..74], &v6[..]);
    // Counted as the segments on the wire, each with its headers.
    let s = rig.txq().stats();
    let wire = 3054 + 2 * 54 + 3074 + 2 * 74;
    kunit_expect_eq!(test, (s.packets, s.bytes, s.dropped), (6, wire, 1));
    kunit_expect_eq!(
        test,
        (
            s.gso_packets,
            s.gso_bytes,
            s.gso_wire_packets,
            s.gso_wire_bytes
        ),
        (2, 3054 + 3074, 6, wire)
    );

    // TCP's own way: its original holds the payload only and gives its headroom up to its
    // clones (`__skb_header_release()`), which push their headers there. Such a header is
    // written in place, and the original's bytes stay what they were.
    let mut orig = SkBuff::alloc(3000 + 128)?;
    orig.reserve(96)?;
    for (i, b) in orig.put(3000)?.iter_mut().enumerate() {
        *b = pattern(54 + i, 3);
    }
    // SAFETY: The skb is ours alone; this is what `__skb_header_release()` does.
    unsafe {
        (*orig.as_ptr()).set_nohdr(1);
        (*bindings::skb_shinfo(orig.as_ptr())).dataref.counter += 1 << 16;
    }
    let mut clone = clone_of(&orig)?;
    let h = clone.push(54)?;
    h[..6].fill(0xff);
    h[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    h[12..14].copy_from_slice(&(bindings::ETH_P_IP as u16).to_be_bytes());
    h[14..].copy_from_slice(&v4);
    kunit_expect_eq!(
        test,
        send_tso(&rig.dev, clone, bindings::SKB_GSO_TCPV4, 34, 3)?,
        0
    );
    // A packet with another user, which would see the write: dropped.
    let shared = build(
        3054,
        4,
        0,
        0,
        None,
        Some((bindings::ETH_P_IP as u16, &v4[..])),
    )?;
    // SAFETY: The skb is valid; the reference taken goes to the second handle, which the core
    // takes over.
    let second = unsafe {
        bindings::refcount_inc(&mut (*shared.as_ptr()).users);
        SkBuff::from_raw(NonNull::new_unchecked(shared.as_ptr()))
    };
    kunit_expect_eq!(
        test,
        send_tso(&rig.dev, second, bindings::SKB_GSO_TCPV4, 34, 3)?,
        0
    );
    kunit_expect_eq!(test, rig.complete()?, 2);
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    let sent = rig.hw.sent();
    kunit_expect_eq!(test, sent.len(), 1);
    if let Some(p) = sent.first() {
        kunit_expect_eq!(test, p.len(), 3054);
        kunit_expect_eq!(
            test,
            (&p[16..18], &p[24..26]),
            (&[0u8, 0][..], &[0u8, 0][..])
        );
        kunit_expect_eq!(test, &p[50..52], &[0x84u8, 0x0a][..]);
    }
    kunit_expect!(
        test,
        orig.data()
            .iter()
            .enumerate()
            .all(|(i, b)| *b == pattern(54 + i, 3))
    );
    // The shared one came back whole, with its header as it was.
    kunit_expect_eq!(test, &shared.data()[14..54], &v4[..]);
    let s = rig.txq().stats();
    kunit_expect_eq!(test, (s.packets, s.dropped), (9, 2));
    kunit_expect_eq!(test, bql_in_flight(rig.queue()?), 0);
    close(&rig.dev);
    Ok(())
}

/// Returns which statistics of `qs` (a `netdev_queue_stats_*` of `u64`s) are set, and whether
/// those are all 0.
fn stats_set<T>(qs: &T) -> (u64, bool) {
    let n = core::mem::size_of::<T>() / 8;
    // SAFETY: The statistics structs are arrays of `u64` fields in all but name.
    let v = unsafe { core::slice::from_raw_parts((qs as *const T).cast::<u64>(), n) };
    let set = |x: &u64| *x != u64::MAX;
    let mask = v
        .iter()
        .enumerate()
        .filter(|(_, x)| set(x))
        .fold(0u64, |m, (i, _)| m | 1 << i);
    (mask, v.iter().filter(|x| set(x)).all(|x| *x == 0))
}

fn base_stats_cover_queue_stats(test: &Test) -> Result {
    // The core sums a device's statistics over its base and its queues only where the base
    // has them; the core marks what is not reported with all ones. Both must report these.
    macro_rules! fields {
        ($t:ty: $($f:ident),*) => {
            0u64 $(| 1 << (core::mem::offset_of!($t, $f) / 8))*
        };
    }
    let tx_fields = fields!(QueueStatsTx: packets, bytes, hw_gso_packets, hw_gso_bytes,
        hw_gso_wire_packets, hw_gso_wire_bytes, hw_drops, stop, wake);
    let rx_fields = fields!(QueueStatsRx: packets, bytes, alloc_fail, hw_drops,
        csum_unnecessary, csum_none);
    let rig = Rig::new(64, true)?;
    open(&rig.dev)?;
    // SAFETY: Plain data; all ones is "not reported".
    let unset = || unsafe { core::mem::transmute::<_, QueueStatsTx>([0xffu8; QSTATS_TX_SIZE]) };
    let (mut q, mut b) = (unset(), unset());
    rig.txq().queue_stats(&mut q);
    super::base_stats(&mut b);
    let (q, b) = (stats_set(&q), stats_set(&b));
    kunit_expect_eq!(test, (q.0, b.0, b.1), (tx_fields, tx_fields, true));
    let shared = KBox::pin_init(rx::Shared::new(), GFP_KERNEL)?;
    // SAFETY: As above.
    let unset = || unsafe { core::mem::transmute::<_, QueueStatsRx>([0xffu8; QSTATS_RX_SIZE]) };
    let (mut q, mut b) = (unset(), unset());
    shared.queue_stats(&mut q);
    rx::base_stats(&mut b);
    let (q, b) = (stats_set(&q), stats_set(&b));
    kunit_expect_eq!(test, (q.0, b.0, b.1), (rx_fields, rx_fields, true));
    close(&rig.dev);
    Ok(())
}

fn stats_for_ethtool_and_link(test: &Test) -> Result {
    let r = rx::Stats {
        packets: 1,
        bytes: 2,
        alloc_fail: 3,
        hw_errors: 4,
        dropped: 5,
        csum_unnecessary: 6,
        csum_none: 7,
        xdp_pass: 8,
        xdp_drop: 9,
        xdp_tx: 10,
        xdp_tx_err: 11,
        xdp_redirect: 12,
        xdp_redirect_err: 13,
        xdp_aborted: 14,
    };
    let t = Stats {
        packets: 21,
        bytes: 22,
        gso_packets: 23,
        gso_bytes: 24,
        gso_wire_packets: 25,
        gso_wire_bytes: 26,
        dropped: 27,
        busy: 28,
        stops: 29,
        wakes: 30,
        xdp_frames: 31,
        xdp_dropped: 32,
        timeouts: 33,
    };
    // Each name with its counter's value.
    let named = |names: &[&str], values: &[u64], name: &str| {
        names.iter().position(|n| *n == name).map(|i| values[i])
    };
    let (rn, rv, tn, tv) = (rx::Stats::NAMES, r.values(), Stats::NAMES, t.values());
    for (name, v) in [
        ("rx_packets", 1),
        ("rx_bytes", 2),
        ("rx_alloc_fail", 3),
        ("rx_hw_errors", 4),
        ("rx_dropped", 5),
        ("rx_csum_unnecessary", 6),
        ("rx_csum_none", 7),
        ("rx_xdp_pass", 8),
        ("rx_xdp_drop", 9),
        ("rx_xdp_tx", 10),
        ("rx_xdp_tx_errors", 11),
        ("rx_xdp_redirect", 12),
        ("rx_xdp_redirect_errors", 13),
        ("rx_xdp_aborted", 14),
    ] {
        kunit_expect_eq!(test, named(&rn, &rv, name), Some(v));
    }
    for (name, v) in [
        ("tx_packets", 21),
        ("tx_bytes", 22),
        ("tx_gso_packets", 23),
        ("tx_gso_bytes", 24),
        ("tx_gso_wire_packets", 25),
        ("tx_gso_wire_bytes", 26),
        ("tx_dropped", 27),
        ("tx_busy", 28),
        ("tx_stops", 29),
        ("tx_wakes", 30),
        ("tx_xdp_frames", 31),
        ("tx_xdp_dropped", 32),
        ("tx_timeouts", 33),
    ] {
        kunit_expect_eq!(test, named(&tn, &tv, name), Some(v));
    }
    // Names ethtool takes whole (shorter than ETH_GSTRING_LEN).
    let long = Iterator::chain(rn.iter(), tn.iter())
        .filter(|n| n.len() >= 32)
        .count();
    kunit_expect_eq!(test, long, 0);
    // Device statistics add up over queues.
    // SAFETY: Plain integers: all zeroes is valid.
    let mut ls: bindings::rtnl_link_stats64 = unsafe { core::mem::zeroed() };
    r.add_to(&mut ls);
    r.add_to(&mut ls);
    t.add_to(&mut ls);
    kunit_expect_eq!(
        test,
        (ls.rx_packets, ls.rx_bytes, ls.rx_errors, ls.rx_dropped),
        (2, 4, 8, 2 * (5 + 9 + 11 + 13 + 14))
    );
    kunit_expect_eq!(
        test,
        (ls.tx_packets, ls.tx_bytes, ls.tx_dropped),
        (21, 22, 27 + 32)
    );
    Ok(())
}

const QSTATS_TX_SIZE: usize = core::mem::size_of::<QueueStatsTx>();
const QSTATS_RX_SIZE: usize = core::mem::size_of::<QueueStatsRx>();

fn redirected_frames(test: &Test) -> Result {
    // 39 usable descriptors.
    let size = START_THRESHOLD + 4;
    let rig = Rig::new(size, true)?;
    let mut pool = PagePool::new(&Params::new(64))?;
    // SAFETY: The device outlives the registration, which is dropped first.
    let rxq = KBox::pin_init(unsafe { RxqInfo::new(&rig.dev, 0, 0, &pool) }, GFP_KERNEL)?;
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    let base = rig.doorbells();
    // The watchdog's timestamp: frames refresh it, as the stack's packets do, so that a queue
    // the stack stopped while XDP keeps the ring busy does not time out.
    // SAFETY: The queue is valid; the timestamp is a word the core reads and writes with
    // single accesses; `jiffies` is read with one load.
    let (stale, now) = unsafe {
        let at = core::ptr::addr_of_mut!((*rig.queue()?.as_ptr()).trans_start);
        let now = core::ptr::addr_of!(bindings::jiffies).read_volatile();
        at.write_volatile(now.wrapping_sub(1000));
        (now.wrapping_sub(1000), now)
    };
    // Without the flush flag the doorbell waits.
    let mut batch = frames(&rxq, &mut pool, 3, 200, 0)?;
    kunit_expect_eq!(test, ndo_xdp_xmit(&rig.dev, &mut batch, false)?, 3);
    // SAFETY: As above.
    let stamp =
        unsafe { core::ptr::addr_of!((*rig.queue()?.as_ptr()).trans_start).read_volatile() };
    kunit_expect!(test, stamp != stale && stamp.wrapping_sub(now) < 1000);
    kunit_expect_eq!(test, rig.doorbells(), base);
    kunit_expect_eq!(test, rig.txq().in_flight(), 3);
    // Frames are not the stack's: BQL does not count them.
    kunit_expect_eq!(test, bql_in_flight(rig.queue()?), 0);
    // The ring takes what fits; the core frees the rest. One doorbell for the batch.
    let mut batch = frames(&rxq, &mut pool, size as usize, 300, 3)?;
    let fit = size - 1 - 3;
    kunit_expect_eq!(test, ndo_xdp_xmit(&rig.dev, &mut batch, true)?, fit as i32);
    kunit_expect_eq!(test, rig.doorbells(), base + 1);
    kunit_expect_eq!(test, rig.txq().stats().xdp_dropped, u64::from(size - fit));
    // The stack's packets find the ring full: the queue stops and they wait in the qdisc.
    kunit_expect_eq!(test, send(&rig.dev, 60, 0xaa, 0, 0, None)?, 0);
    kunit_expect!(test, rig.queue()?.is_stopped());
    // The device sends them as they were.
    kunit_expect_eq!(test, rig.complete()?, size - 1);
    kunit_expect!(
        test,
        settle(|| rig.txq().stats().packets == u64::from(size - 1))
    );
    let sent = rig.hw.sent();
    kunit_expect_eq!(test, sent.len() as u32, size - 1);
    kunit_expect!(
        test,
        sent.iter()
            .enumerate()
            .all(|(i, p)| is_frame(p, if i < 3 { 200 } else { 300 }, i as u8))
    );
    // The completion woke the queue and the waiting packet went out.
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 1));
    rig.complete()?;
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    kunit_expect!(
        test,
        rig.hw.sent().first().is_some_and(|p| is_frame(p, 60, 0xaa))
    );
    let stats = rig.txq().stats();
    kunit_expect_eq!(
        test,
        (stats.xdp_frames, stats.packets),
        (u64::from(size - 1), u64::from(size))
    );
    // Every frame's buffer is back in its pool.
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    kunit_expect_eq!(test, bql_in_flight(rig.queue()?), 0);
    close(&rig.dev);
    drop(rxq);
    Ok(())
}

fn watchdog_reports_timeout(test: &Test) -> Result {
    let size = START_THRESHOLD + 4;
    let rig = Rig::new(size, true)?;
    open(&rig.dev)?;
    bql_limit_min(rig.queue()?, 1 << 20);
    // A device that takes packets and never completes them: the ring fills and the queue
    // stops for good.
    let fit = size - 1 - STOP_THRESHOLD + 1;
    for i in 0..fit {
        kunit_expect_eq!(test, send(&rig.dev, 100, i as u8, 0, 0, None)?, 0);
    }
    kunit_expect!(test, rig.queue()?.is_stopped());
    // The core's watchdog finds it and the driver reports the ring's state. The watchdog's
    // timer is rounded to whole seconds: allow a few.
    kunit_expect!(
        test,
        (0..4).any(|_| settle(|| rig.dev.data().timeout_seen.load(Relaxed) != 0))
    );
    kunit_expect_eq!(test, rig.dev.data().timeout_seen.load(Relaxed), fit + 1);
    kunit_expect!(test, rig.txq().stats().timeouts >= 1);
    // The device completed them but no interrupt came: the report tells the difference.
    rig.hw.run(true)?;
    let t = rig.txq().timeout(&rig.dev);
    kunit_expect_eq!(
        test,
        t,
        Some(Timeout {
            in_flight: fit,
            next_to_use: fit,
            next_to_clean: 0,
            oldest_completed: true,
        })
    );
    // The poll cleans up and the queue runs again.
    rig.dev.data().get_ref().napi.schedule();
    kunit_expect!(test, settle(|| rig.txq().in_flight() == 0));
    kunit_expect!(test, !rig.queue()?.is_stopped());
    close(&rig.dev);
    kunit_expect_eq!(test, rig.txq().timeout(&rig.dev), None);
    Ok(())
}

/// A channel with both engines: the frames an XDP program sends back go out on the transmit
/// ring, whose completions the same poll cleans.
#[pin_data]
struct XChan {
    #[pin]
    rx: rx::Shared,
    #[pin]
    txq: Queue<SwRing>,
    rx_hw: Arc<rx::tests::Hw>,
    tx_hw: Arc<Hw>,
    dma: ARef<device::Device>,
    /// The transmit ring's size.
    tx_size: u32,
    /// The transmit engine configured for the 8254x's descriptors and TSO errata.
    errata: bool,
}

impl rx::HasShared for XChan {
    fn rx_shared(&self) -> &rx::Shared {
        &self.rx
    }
}

impl Poll for XChan {
    type State = rx::Queue<rx::tests::SwRing>;

    fn poll(&self, queue: Pin<&mut Self::State>, ctx: &mut PollContext<'_>) -> u32 {
        self.txq.complete(ctx);
        queue.poll(Some(&self.txq), ctx)
    }

    fn poll_tx(&self, _queue: Pin<&mut Self::State>, ctx: &CleanContext<'_>) {
        self.txq.complete(ctx);
    }
}

#[pin_data]
struct XPriv {
    #[pin]
    napi: Napi<XChan>,
}

struct XDrv;

/// Receive and transmit ring sizes of `XDrv`.
const X_RX_SIZE: u32 = 64;
const X_TX_SIZE: u32 = START_THRESHOLD + 4;

#[vtable]
impl Operations for XDrv {
    type Data = XPriv;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        let ch = napi.data();
        let mut config = Config::new(ch.tx_size, 0, &ch.dma);
        if ch.errata {
            config = device_shapes(config, 4096, true);
        }
        ch.txq.start(dev, rtnl, SwRing(ch.tx_hw.clone()), &config)?;
        let config = rx::Config::new(X_RX_SIZE, 0)
            .dma(&ch.dma)
            .buf_len(2048)
            .xdp_tx();
        let ring = rx::tests::SwRing(ch.rx_hw.clone());
        let started = napi.with_state(rtnl, |q| q.start(napi, rtnl, ring, &config));
        if let Err(e) = started.and_then(|r| r) {
            ch.txq.stop(rtnl)?;
            return Err(e);
        }
        napi.enable(rtnl)
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        napi.disable(rtnl);
        // The transmit queue first: `XDP_TX` frames on it use the receive pool's mappings,
        // which destroying the pool undoes.
        napi.data().txq.stop(rtnl)?;
        napi.with_state(rtnl, |q| q.stop(rtnl).map(drop))?
    }

    fn start_xmit(dev: &NetDevice<Self>, skb: TxSkb, xmit: &Xmit<'_>) -> TxResult {
        dev.data().get_ref().napi.data().txq.xmit(skb, xmit)
    }
}

/// A registered `XDrv` device with a transmit ring of `tx_size` descriptors, configured for
/// the 8254x's TSO errata (and offering TSO) if `errata`; and its receive and transmit hardware.
fn xdev(tx_size: u32, errata: bool) -> Result<(Registration<XDrv>, Arc<rx::tests::Hw>, Arc<Hw>)> {
    let dma: ARef<device::Device> = dma_device()?.into();
    let rx_hw = rx::tests::Hw::new(X_RX_SIZE)?;
    let tx_hw = Hw::new(tx_size)?;
    let (rx_hw0, tx_hw0) = (rx_hw.clone(), tx_hw.clone());
    let mut dev = Unregistered::<XDrv>::new_with(1, 1, |dev, slot| {
        slot.init(try_pin_init!(XPriv {
            napi <- Napi::new(dev, try_pin_init!(XChan {
                rx <- rx::Shared::new(),
                txq <- Queue::new(),
                rx_hw: rx_hw0,
                tx_hw: tx_hw0,
                dma,
                tx_size,
                errata,
            }? Error), rx::Queue::new()),
        }? Error))
    })?;
    dev.set_random_mac_address();
    let features = if errata {
        1u64 << bindings::NETIF_F_SG_BIT
            | 1 << bindings::NETIF_F_HW_CSUM_BIT
            | 1 << bindings::NETIF_F_TSO_BIT
    } else {
        0
    };
    // SAFETY: Not registered yet: no IPv6 (see `Rig::new`), so only the test's frames flow; its
    // features and limits are ours to set.
    unsafe {
        let raw = dev.as_ptr();
        (*raw).mtu = 1000;
        (*raw).features |= features;
        (*raw).hw_features |= features;
        if errata {
            bindings::netif_set_tso_max_segs(raw, tso_max_segs(4096, 4).into());
        }
    }
    Ok((dev.register()?, rx_hw, tx_hw))
}

/// Checks that `p` is a frame of `len` bytes the receive test hardware made with `seed`.
fn is_rx_frame(p: &[u8], len: usize, seed: u8) -> bool {
    p.len() == len
        && p[14..]
            .iter()
            .enumerate()
            .all(|(j, b)| *b == rx::tests::pattern(14 + j, seed))
}

/// Returns whether every page of the receive queue's pool is back: none is out but the posted
/// buffers'.
fn pool_whole(napi: &Napi<XChan>) -> Result<bool> {
    let rtnl = Rtnl::lock();
    napi.disable(&rtnl);
    let state = napi.with_state(&rtnl, |q| {
        (q.pool_stats().map(|s| s.outstanding()), q.posted())
    });
    napi.enable(&rtnl)?;
    let (out, posted) = state?;
    Ok(out == Some(i64::from(posted)))
}

fn xdp_tx_through_both_engines(test: &Test) -> Result {
    let (dev, rx_hw, tx_hw) = xdev(X_TX_SIZE, false)?;
    let mac = dev.mac_address();
    let napi = &dev.data().get_ref().napi;
    let ch = napi.data();
    open(&dev)?;
    let none = ExtAck::none();
    drop(
        ch.rx
            .set_prog(&dev, Some(returning(bindings::xdp_action_XDP_TX)?), &none)?,
    );
    // One poll receives 45 frames; the transmit ring has room for 39 of them.
    let n = 45u32;
    let fit = X_TX_SIZE - 1;
    for i in 0..n {
        kunit_expect!(
            test,
            rx_hw.receive(&mac, 100 + i as usize, i as u8, 2048, rx::tests::PLAIN)
        );
    }
    napi.schedule();
    kunit_expect!(test, settle(|| rx_hw.pending() == 0));
    let rs = ch.rx.stats();
    kunit_expect_eq!(
        test,
        (rs.xdp_tx, rs.xdp_tx_err),
        (u64::from(fit), u64::from(n - fit))
    );
    kunit_expect_eq!(test, ch.txq.stats().xdp_dropped, u64::from(n - fit));
    kunit_expect_eq!(test, ch.txq.in_flight(), fit);
    // One doorbell for the whole poll.
    kunit_expect_eq!(test, bh_off(|| tx_hw.inner.lock().doorbells), 1);
    // The frames are sent from the receive pool's mappings: its queue does not stop (which
    // destroys the pool and unmaps them) before the transmit queue.
    {
        let rtnl = Rtnl::lock();
        napi.disable(&rtnl);
        let stopped = napi.with_state(&rtnl, |q| q.stop(&rtnl).err())?;
        kunit_expect_eq!(test, stopped, Some(EBUSY));
        kunit_expect!(test, napi.with_state(&rtnl, |q| q.is_started())?);
        napi.enable(&rtnl)?;
    }
    // Out they go, as they came in.
    kunit_expect_eq!(test, tx_hw.run(true)?, fit);
    let sent = tx_hw.sent();
    kunit_expect_eq!(test, sent.len() as u32, fit);
    kunit_expect!(
        test,
        sent.iter()
            .enumerate()
            .all(|(i, p)| p[..6] == mac && is_rx_frame(p, 100 + i, i as u8))
    );
    // The next poll cleans the ring and the pages go back to the receive queue's pool.
    napi.schedule();
    kunit_expect!(test, settle(|| ch.txq.in_flight() == 0));
    let ts = ch.txq.stats();
    kunit_expect_eq!(
        test,
        (ts.xdp_frames, ts.packets),
        (u64::from(fit), u64::from(fit))
    );
    kunit_expect!(test, pool_whole(napi)?);
    drop(ch.rx.set_prog(&dev, None, &none)?);
    close(&dev);
    Ok(())
}

/// An `XDP_TX` frame follows the 8254x's TSO errata as any linear packet does: after a
/// segmented packet its first descriptor is cut 4 bytes short, so the frame goes out of two
/// descriptors over one receive pool mapping, and its page goes back to the pool once.
fn xdp_tx_sentinel_after_tso(test: &Test) -> Result {
    let (dev, rx_hw, tx_hw) = xdev(256, true)?;
    let mac = dev.mac_address();
    let napi = &dev.data().get_ref().napi;
    let ch = napi.data();
    open(&dev)?;
    bql_limit_min(dev.tx_queue(0).ok_or(EINVAL)?, 1 << 20);
    let none = ExtAck::none();
    drop(
        ch.rx
            .set_prog(&dev, Some(returning(bindings::xdp_action_XDP_TX)?), &none)?,
    );
    let v4 = tcp4_headers();
    let ip = Some((bindings::ETH_P_IP as u16, &v4[..]));
    let skb = build(3054, 1, 0, 0, None, ip)?;
    let gso = bindings::SKB_GSO_TCPV4;
    kunit_expect_eq!(test, send_tso(&dev, skb, gso, 34, 3)?, 0);
    for i in 0..2 {
        kunit_expect!(test, rx_hw.receive(&mac, 200, i, 2048, rx::tests::PLAIN));
    }
    napi.schedule();
    kunit_expect!(test, settle(|| ch.txq.in_flight() == 3 + 3));
    kunit_expect_eq!(test, ch.rx.stats().xdp_tx, 2);
    // The segmented packet's context and two buffer descriptors, then the frames'.
    kunit_expect_eq!(test, tx_hw.run(true)?, 3 + 3);
    let shapes = bh_off(|| core::mem::take(&mut tx_hw.inner.lock().shapes));
    let want: [&[u32]; 3] = [&[3050, 4], &[196, 4], &[200]];
    kunit_expect_eq!(test, shapes.len(), want.len());
    for (got, want) in shapes.iter().zip(want.iter()) {
        kunit_expect_eq!(test, &got[..], *want);
    }
    let sent = tx_hw.sent();
    kunit_expect_eq!(test, sent.len(), 3);
    kunit_expect!(
        test,
        sent.iter()
            .skip(1)
            .enumerate()
            .all(|(i, p)| is_rx_frame(p, 200, i as u8))
    );
    napi.schedule();
    kunit_expect!(test, settle(|| ch.txq.in_flight() == 0));
    let ts = ch.txq.stats();
    kunit_expect_eq!(test, (ts.xdp_frames, ts.dropped), (2, 0));
    kunit_expect!(test, pool_whole(napi)?);
    drop(ch.rx.set_prog(&dev, None, &none)?);
    close(&dev);
    Ok(())
}

kunit_test_suite!(
    rust_net_tx,
    [
        xmit_and_complete,
        fragments_are_mapped,
        full_ring_stops_and_wakes,
        restart_wakes_stopped_queue,
        restart_holds_packets,
        stop_frees_in_flight,
        device_quiesced_before_buffers_go,
        bql_bound_to_device,
        netpoll_cleans_safely,
        misuse_is_refused,
        offloads_reach_descriptors,
        contexts_and_split_buffers,
        tso_headers_rewritten,
        tso_errata_shapes,
        base_stats_cover_queue_stats,
        stats_for_ethtool_and_link,
        redirected_frames,
        watchdog_reports_timeout,
        xdp_tx_through_both_engines,
        xdp_tx_sentinel_after_tso,
    ]
);
