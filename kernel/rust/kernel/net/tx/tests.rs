// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_tx`: the transmit queue engine on a registered device whose
//! "hardware" is a software descriptor ring: the test plays the device, reading the packets at
//! the descriptors' DMA addresses and completing them, then schedules the NAPI instance that
//! cleans the ring.

use super::{Config, Desc, Queue, Ring, START_THRESHOLD, STOP_THRESHOLD};
use crate::{
    bindings, device,
    kunit::Test,
    kunit_expect, kunit_expect_eq, kunit_test_suite,
    net::{
        napi::{Napi, Poll, PollContext},
        netdev::{
            tests::{close, open, settle},
            Device, NetDevice, Operations, Registration, Rtnl, TxQueue, TxResult, TxSkb,
            Unregistered, Xmit,
        },
        page_pool::{tests::dma_device, PagePool, Params},
        skbuff::SkBuff,
    },
    new_spinlock,
    prelude::*,
    sync::{Arc, SpinLock},
    types::ARef,
};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The EtherType of the test frames (IEEE 802 local experimental).
const ETHERTYPE: u16 = 0x88b5;

/// Runs `f` with bottom halves off, so that the poll (which takes the ring's lock in softirq
/// context) cannot interrupt it on this CPU while it holds the lock.
fn bh_off<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: Balanced below.
    unsafe { bindings::local_bh_disable() };
    let r = f();
    // SAFETY: Balanced above; pending softirqs run here.
    unsafe { bindings::local_bh_enable() };
    r
}

/// The device side of the ring.
struct HwRing {
    descs: KVec<Option<Desc>>,
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
                let Some(d) = hw.descs[head].take() else {
                    break;
                };
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
                    hw.buffers = 0;
                }
                hw.partial.extend_from_slice(bytes, GFP_ATOMIC)?;
                hw.buffers += 1;
                if d.last {
                    let pkt = core::mem::take(&mut hw.partial);
                    hw.sent.push(pkt, GFP_ATOMIC)?;
                    hw.last_buffers = hw.buffers;
                }
                if complete {
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

impl Ring for SwRing {
    fn write(&mut self, index: u32, desc: &Desc) {
        let mut hw = self.0.inner.lock();
        hw.descs[index as usize] = Some(*desc);
        hw.done[index as usize] = false;
    }

    fn completed(&mut self, index: u32) -> bool {
        core::mem::take(&mut self.0.inner.lock().done[index as usize])
    }

    fn doorbell(&mut self, tail: u32) {
        let mut hw = self.0.inner.lock();
        hw.tail = tail;
        hw.doorbells += 1;
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
}

impl Poll for Chan {
    type State = ();

    fn poll(&self, _state: Pin<&mut ()>, ctx: &mut PollContext<'_>) -> u32 {
        self.txq.complete(ctx);
        ctx.complete_done(0);
        0
    }
}

#[pin_data]
struct Priv {
    #[pin]
    napi: Napi<Chan>,
    /// Start the engine in `open`.
    auto_start: AtomicBool,
}

struct Drv;

#[vtable]
impl Operations for Drv {
    type Data = Priv;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        let ch = napi.data();
        if dev.data().auto_start.load(Relaxed) {
            let config = Config::new(ch.size, 0, &ch.dma);
            ch.txq.start(dev, rtnl, SwRing(ch.hw.clone()), &config)?;
        }
        napi.enable(rtnl)
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        napi.disable(rtnl);
        if napi.data().txq.is_started() {
            napi.data().txq.stop(dev, rtnl)?;
        }
        Ok(())
    }

    fn start_xmit(dev: &NetDevice<Self>, skb: TxSkb, xmit: &Xmit<'_>) -> TxResult {
        dev.data().get_ref().napi.data().txq.xmit(skb, xmit)
    }
}

struct Rig {
    dev: Registration<Drv>,
    hw: Arc<Hw>,
}

impl Rig {
    fn new(test: &Test, size: u32, auto_start: bool) -> Result<Self> {
        let dma: ARef<device::Device> = dma_device(test)?.into();
        let hw = Hw::new(size)?;
        let hw0 = hw.clone();
        let mut dev = Unregistered::<Drv>::new_with(1, 1, |dev, slot| {
            slot.init(try_pin_init!(Priv {
                napi <- Napi::new(dev, try_pin_init!(Chan {
                    txq <- Queue::new(),
                    hw: hw0,
                    dma,
                    size,
                }? Error), ()),
                auto_start: AtomicBool::new(auto_start),
            }? Error))
        })?;
        dev.set_random_mac_address();
        // Scatter-gather, so that the core hands over fragments instead of linearizing; and an
        // MTU below IPv6's minimum, so that the stack sends nothing of its own (no IPv6 on the
        // device, hence no neighbour discovery) and the ring holds the test's packets only.
        // SAFETY: The device is not registered yet; its features and MTU are ours to set.
        unsafe {
            let raw = dev.as_ptr();
            (*raw).mtu = 1000;
            (*raw).features |= 1 << bindings::NETIF_F_SG_BIT;
            (*raw).hw_features |= 1 << bindings::NETIF_F_SG_BIT;
        }
        let dev = dev.register()?;
        Ok(Self { dev, hw })
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

/// Transmits a frame of `len` bytes (pattern `seed`) through `dev_queue_xmit()`, with its last
/// `frag_len * frags` bytes in page fragments from `pool`.
fn send(
    dev: &Device,
    len: usize,
    seed: u8,
    frags: u32,
    frag_len: u32,
    pool: Option<&mut PagePool>,
) -> Result<i32> {
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
    data[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
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
    // SAFETY: `dev` outlives the call; the skb is handed to the core before it returns.
    unsafe { skb.eth_type_trans(dev) }?;
    skb.push(14)?;
    // SAFETY: The skb is valid and has a device; the core takes ownership.
    Ok(unsafe { bindings::__dev_queue_xmit(skb.into_raw().as_ptr(), core::ptr::null_mut()) })
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
    let rig = Rig::new(test, 64, true)?;
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
    let rig = Rig::new(test, 64, true)?;
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
    let rig = Rig::new(test, size, true)?;
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

fn stop_frees_in_flight(test: &Test) -> Result {
    let rig = Rig::new(test, 64, true)?;
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

fn misuse_is_refused(test: &Test) -> Result {
    let rig = Rig::new(test, 64, false)?;
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
    kunit_expect!(test, ch.txq.stop(&rig.dev, &rtnl).is_err());
    ch.txq.start(&rig.dev, &rtnl, ring(), &cfg)?;
    kunit_expect_eq!(
        test,
        ch.txq.start(&rig.dev, &rtnl, ring(), &cfg),
        Err(EBUSY)
    );
    kunit_expect!(test, ch.txq.stop(&rig.dev, &rtnl).is_ok());
    drop(rtnl);
    // Packets given to a stopped engine are dropped and counted.
    rig.dev.data().auto_start.store(false, Relaxed);
    open(&rig.dev)?;
    kunit_expect_eq!(test, send(&rig.dev, 60, 1, 0, 0, None)?, 0);
    kunit_expect_eq!(test, ch.txq.stats().dropped, 1);
    close(&rig.dev);
    Ok(())
}

kunit_test_suite!(
    rust_net_tx,
    [
        xmit_and_complete,
        fragments_are_mapped,
        full_ring_stops_and_wakes,
        stop_frees_in_flight,
        misuse_is_refused,
    ]
);
