// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_rx`: the receive queue engine on a registered device whose "hardware"
//! is a software descriptor ring: the test plays the device, writing frames into the posted
//! buffers at their DMA addresses and completing descriptors, then schedules the NAPI instance.
//! A packet handler on the device captures what reaches the stack.

use super::{
    Completion, Config, HasShared, Queue, Ring, Shared, XdpTx, XdpTxFrame, MAX_BUF_LEN,
    MAX_COPYBREAK,
};
use crate::{
    bindings, c_str, device,
    dma::DmaAddr,
    kunit::Test,
    kunit_expect, kunit_expect_eq, kunit_test_suite,
    net::{
        napi::{bh_off, Napi, Poll, PollContext},
        netdev::{
            tests::{close, open, settle},
            ExtAck, NetDevice, Operations, Registration, Rtnl, TxResult, TxSkb, Unregistered, Xmit,
        },
        page_pool::tests::dma_device,
        skbuff::{Checksum, HashType, SkBuff},
        xdp::tests::returning,
    },
    new_spinlock,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, SpinLock},
    types::{ARef, Opaque},
};
use core::{
    mem::ManuallyDrop,
    ptr::NonNull,
    sync::atomic::{AtomicU32, Ordering::Relaxed},
};

/// The EtherType of the test frames (IEEE 802 local experimental): only the tap takes it.
const ETHERTYPE: u16 = 0x88b5;

/// Frames the XDP transmit "queue" holds before it is full.
const XDP_TX_ROOM: usize = 4;

/// One descriptor of the software ring.
#[derive(Clone, Copy)]
struct Desc {
    addr: DmaAddr,
    len: u32,
    done: Option<Completion>,
}

/// The device side of the ring.
pub(super) struct HwRing {
    descs: KVec<Desc>,
    /// The next descriptor the device fills.
    head: u32,
    /// The doorbell: descriptors before it are posted.
    tail: u32,
    posts: u32,
    doorbells: u32,
    xdp_tx: KVec<XdpTxFrame>,
    xdp_tx_flushes: u32,
    /// Whether the device writes into its posted buffers until it is quiesced.
    dma_until_quiesced: bool,
    quiesced: u32,
    /// Posted buffers still allocated when the device was quiesced, and written then.
    late_writes: u32,
}

#[pin_data]
pub(crate) struct Hw {
    #[pin]
    inner: SpinLock<HwRing>,
}

/// What a frame's descriptors report besides the lengths.
#[derive(Clone, Copy)]
pub(crate) struct Meta {
    error: bool,
    csum: Checksum,
    hash: Option<(u32, HashType)>,
    vlan: Option<u16>,
    /// Report one byte more than the buffer holds in the first descriptor.
    lie: bool,
}

pub(crate) const PLAIN: Meta = Meta {
    error: false,
    csum: Checksum::None,
    hash: None,
    vlan: None,
    lie: false,
};

/// The byte at `offset` of a test frame.
pub(crate) fn pattern(offset: usize, seed: u8) -> u8 {
    (offset as u8).wrapping_mul(7).wrapping_add(seed)
}

impl Hw {
    pub(crate) fn new(size: u32) -> Result<Arc<Self>> {
        let mut descs = KVec::with_capacity(size as usize, GFP_KERNEL)?;
        for _ in 0..size {
            descs.push(
                Desc {
                    addr: 0,
                    len: 0,
                    done: None,
                },
                GFP_KERNEL,
            )?;
        }
        let xdp_tx = KVec::with_capacity(XDP_TX_ROOM, GFP_KERNEL)?;
        Arc::pin_init(
            try_pin_init!(Self {
                inner <- new_spinlock!(HwRing {
                    descs,
                    head: 0,
                    tail: 0,
                    posts: 0,
                    doorbells: 0,
                    xdp_tx,
                    xdp_tx_flushes: 0,
                    dma_until_quiesced: false,
                    quiesced: 0,
                    late_writes: 0,
                }),
            }? Error),
            GFP_KERNEL,
        )
    }

    /// Receives a frame of `len` bytes (pattern `seed`, Ethernet header for the test), split
    /// over buffers of `buf_len`; returns `false` (the device drops it) if too few buffers are
    /// posted.
    pub(crate) fn receive(
        &self,
        dst: &[u8; 6],
        len: usize,
        seed: u8,
        buf_len: u32,
        meta: Meta,
    ) -> bool {
        let mut frame = KVec::new();
        for i in 0..len {
            if frame.push(pattern(i, seed), GFP_KERNEL).is_err() {
                return false;
            }
        }
        if len >= 14 {
            frame[..6].copy_from_slice(dst);
            frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
            frame[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
        }
        bh_off(|| {
            let mut hw = self.inner.lock();
            let size = hw.descs.len() as u32;
            let avail = (hw.tail + size - hw.head) % size;
            let chunks = len.div_ceil(buf_len as usize).max(1);
            if chunks > avail as usize {
                return false;
            }
            for (n, i) in (0..chunks).zip(0..) {
                let start = n * buf_len as usize;
                let end = (start + buf_len as usize).min(len);
                let head = hw.head;
                let d = &mut hw.descs[head as usize];
                if d.len < buf_len {
                    return false;
                }
                // The device "DMA-writes" the chunk: with the DMA device's 64-bit mask and no
                // IOMMU, the DMA address is the physical one, in the kernel's direct map.
                // SAFETY: `d.addr` is the DMA address of a posted buffer of `d.len` bytes the
                // device may write, and the chunk is not longer.
                unsafe {
                    let va = (d.addr + bindings::page_offset_base as u64) as *mut u8;
                    core::ptr::copy_nonoverlapping(frame[start..].as_ptr(), va, end - start);
                }
                let last = n + 1 == chunks;
                d.done = Some(Completion {
                    len: if meta.lie && i == 0 {
                        buf_len + 1
                    } else {
                        (end - start) as u32
                    },
                    eop: last,
                    error: meta.error && last,
                    csum: meta.csum,
                    hash: meta.hash,
                    vlan: meta.vlan,
                });
                hw.head = (head + 1) % size;
            }
            true
        })
    }

    /// Returns the number of completed descriptors the driver has not read yet.
    pub(crate) fn pending(&self) -> usize {
        bh_off(|| {
            let hw = self.inner.lock();
            hw.descs.iter().filter(|d| d.done.is_some()).count()
        })
    }

    pub(crate) fn posted(&self) -> u32 {
        bh_off(|| {
            let hw = self.inner.lock();
            let size = hw.descs.len() as u32;
            (hw.tail + size - hw.head) % size
        })
    }
}

/// The driver's half of the ring.
pub(crate) struct SwRing(pub(crate) Arc<Hw>);

// The poll takes the ring's lock in softirq context, and `Queue::start()` (its first refill) in
// process context: bottom halves are off while it is held.
impl Ring for SwRing {
    fn post(&mut self, index: u32, addr: DmaAddr, len: u32) {
        bh_off(|| {
            let mut hw = self.0.inner.lock();
            hw.descs[index as usize] = Desc {
                addr,
                len,
                done: None,
            };
            hw.posts += 1;
        })
    }

    fn completed(&mut self, index: u32) -> Option<Completion> {
        bh_off(|| self.0.inner.lock().descs[index as usize].done.take())
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
            if !hw.dma_until_quiesced {
                return;
            }
            // A device that keeps writing into its posted buffers until it is stopped: one
            // last "DMA write" into each, into a page that must still be allocated (the pool
            // holds a reference on its pages until it frees them). Were any freed already,
            // KASAN would also report the write (and fail the test).
            let size = hw.descs.len() as u32;
            let mut i = hw.head;
            while i != hw.tail {
                let d = hw.descs[i as usize];
                if d.len > 0 && d.done.is_none() {
                    // SAFETY: With the DMA device's 64-bit mask and no IOMMU the DMA address is
                    // the physical one; its page's `struct page` is in the virtual memory map,
                    // which is never freed, and the reference count is read atomically.
                    let refs = unsafe {
                        let page = (bindings::vmemmap_base as *const bindings::page)
                            .add((d.addr >> bindings::PAGE_SHIFT) as usize);
                        core::ptr::addr_of!((*page)._refcount.counter).read_volatile()
                    };
                    if refs > 0 {
                        // SAFETY: As in `Hw::receive()`: a posted buffer the device may write.
                        unsafe {
                            let va = (d.addr + bindings::page_offset_base as u64) as *mut u8;
                            va.write_volatile(0x5a);
                        }
                        hw.late_writes += 1;
                    }
                }
                i = (i + 1) % size;
            }
        })
    }
}

/// A channel: one NAPI instance with a receive queue.
#[pin_data]
pub(super) struct Chan {
    #[pin]
    pub(super) rx: Shared,
    hw: Arc<Hw>,
    pub(super) dma: ARef<device::Device>,
    size: u32,
    buf_len: u32,
    /// The queue's [`Config::copybreak`] at its next start.
    copybreak: AtomicU32,
    pub(super) polls: AtomicU32,
    max_done: AtomicU32,
}

/// The channel's `XDP_TX` "queue": holds the frames, up to `XDP_TX_ROOM`.
impl XdpTx for Chan {
    fn xdp_tx(&self, frame: XdpTxFrame) -> Result<(), XdpTxFrame> {
        let mut hw = self.hw.inner.lock();
        if hw.xdp_tx.len() >= XDP_TX_ROOM {
            return Err(frame);
        }
        // Within the capacity reserved up front: does not allocate.
        let _ = hw.xdp_tx.push(frame, GFP_ATOMIC);
        Ok(())
    }

    fn xdp_tx_flush(&self) {
        self.hw.inner.lock().xdp_tx_flushes += 1;
    }
}

impl HasShared for Chan {
    fn rx_shared(&self) -> &Shared {
        &self.rx
    }
}

impl Poll for Chan {
    type State = Queue<SwRing>;

    fn poll(&self, queue: Pin<&mut Queue<SwRing>>, ctx: &mut PollContext<'_>) -> u32 {
        self.polls.fetch_add(1, Relaxed);
        let done = queue.poll(Some(self), ctx);
        self.max_done.fetch_max(done, Relaxed);
        done
    }
}

#[pin_data]
pub(super) struct Priv {
    #[pin]
    pub(super) ch0: Napi<Chan>,
    #[pin]
    ch1: Napi<Chan>,
}

/// A driver whose channel 0 runs while the device is up; channel 1 is for misuse checks.
pub(super) struct Drv;

fn start(napi: &Napi<Chan>, rtnl: &Rtnl) -> Result {
    let ch = napi.data();
    let config = Config::new(ch.size, 0)
        .dma(&ch.dma)
        .buf_len(ch.buf_len)
        .copybreak(ch.copybreak.load(Relaxed))
        .xdp_tx();
    napi.with_state(rtnl, |q| {
        q.start(napi, rtnl, SwRing(ch.hw.clone()), &config)
    })?
}

#[vtable]
impl Operations for Drv {
    type Data = Priv;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().ch0;
        start(napi, rtnl)?;
        napi.enable(rtnl)
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().ch0;
        napi.disable(rtnl);
        napi.with_state(rtnl, |q| q.stop(rtnl).map(drop))?
    }

    fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        drop(skb);
        TxResult::Ok
    }
}

/// What the tap saw of a frame that reached the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    /// Frame length, with the Ethernet header.
    len: u32,
    nr_frags: u32,
    hash: u32,
    csum: Checksum,
    queue: Option<u16>,
    /// Whether every byte after the Ethernet header matched the pattern of `seed`.
    seed: Option<u8>,
    /// Whether the skb was built around a page-pool buffer (not copied).
    pp: bool,
    /// The memory the skb charges its socket for.
    truesize: u32,
}

/// A packet handler for the test EtherType on the test device.
#[pin_data(PinnedDrop)]
struct Tap {
    #[pin]
    pt: Opaque<bindings::packet_type>,
    #[pin]
    seen: SpinLock<KVec<Seen>>,
    /// Hold the skbs instead of freeing them.
    hold: bool,
    #[pin]
    held: SpinLock<KVec<usize>>,
}

impl Tap {
    fn new(dev: &crate::net::netdev::Device, hold: bool) -> Result<Pin<KBox<Self>>> {
        let tap = KBox::pin_init(
            pin_init!(Self {
                pt: Opaque::uninit(),
                seen <- new_spinlock!(KVec::new()),
                hold,
                held <- new_spinlock!(KVec::new()),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: The packet type is pinned with the tap and registered until it drops; it is
        // zeroed (unused fields) before the handler's fields are set.
        unsafe {
            let pt = tap.pt.get();
            pt.write_bytes(0, 1);
            (*pt).type_ = ETHERTYPE.to_be();
            (*pt).dev = dev.as_ptr();
            (*pt).func = Some(Self::func);
            bindings::dev_add_pack(pt);
        }
        Ok(tap)
    }

    /// The packet handler.
    ///
    /// # Safety
    ///
    /// Called by the stack with an skb reference it hands over and the `packet_type` registered
    /// by [`Tap::new`].
    unsafe extern "C" fn func(
        skb: *mut bindings::sk_buff,
        _dev: *mut bindings::net_device,
        pt: *mut bindings::packet_type,
        _orig: *mut bindings::net_device,
    ) -> i32 {
        // SAFETY: `pt` is the first field of a pinned, live `Tap`.
        let tap = unsafe { &*pt.cast::<Tap>() };
        // SAFETY: The stack hands over a valid skb, which we only read here (it may be shared,
        // but nothing changes it while the handler runs).
        let view = ManuallyDrop::new(unsafe { SkBuff::from_raw(NonNull::new_unchecked(skb)) });
        let len = view.len();
        // The Ethernet header was pulled: check the payload, in the head and the fragments.
        let mut seed = None;
        let mut buf = [0u8; 256];
        let mut first: Option<u8> = None;
        let mut ok = true;
        let mut off = 0;
        while off < len {
            let n = (len - off).min(buf.len() as u32);
            // SAFETY: `off + n` is within the skb; `buf` has room for `n` bytes.
            if unsafe {
                bindings::skb_copy_bits(skb, off as i32, buf.as_mut_ptr().cast(), n as i32)
            } != 0
            {
                ok = false;
                break;
            }
            for (i, b) in buf[..n as usize].iter().enumerate() {
                let at = 14 + off as usize + i;
                let s = *first.get_or_insert(b.wrapping_sub(pattern(at, 0)));
                ok &= *b == pattern(at, s);
            }
            off += n;
        }
        if ok {
            seed = first;
        }
        let seen = Seen {
            len: len + 14,
            nr_frags: view.nr_frags(),
            hash: view.hash(),
            csum: view.checksum(),
            queue: view.rx_queue(),
            seed,
            pp: view.is_pp_recycle(),
            // SAFETY: The skb is valid (see `view`); a plain field read.
            truesize: unsafe { (*skb).truesize },
        };
        let _ = tap.seen.lock().push(seen, GFP_ATOMIC);
        if tap.hold && tap.held.lock().push(skb as usize, GFP_ATOMIC).is_ok() {
            return 0;
        }
        // SAFETY: The reference handed to the handler is ours to free.
        unsafe { bindings::consume_skb(skb) };
        0
    }

    fn seen(&self) -> KVec<Seen> {
        bh_off(|| {
            let mut seen = self.seen.lock();
            core::mem::take(&mut *seen)
        })
    }

    /// Frees the skbs held so far.
    fn release(&self) {
        let held = bh_off(|| core::mem::take(&mut *self.held.lock()));
        for skb in held {
            // SAFETY: A held skb reference is ours to free.
            unsafe { bindings::consume_skb(skb as *mut bindings::sk_buff) };
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Tap {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered in `new`; removal waits until no handler runs.
        unsafe { bindings::dev_remove_pack(self.pt.get()) };
        self.release();
    }
}

pub(super) struct Rig {
    pub(super) dev: Registration<Drv>,
    pub(super) hw: Arc<Hw>,
    buf_len: u32,
    pub(super) mac: [u8; 6],
}

impl Rig {
    pub(super) fn new(size: u32, buf_len: u32) -> Result<Self> {
        let (dev, hw) = Self::unregistered(size, buf_len)?;
        let dev = dev.register()?;
        let mac = dev.mac_address();
        Ok(Self {
            dev,
            hw,
            buf_len,
            mac,
        })
    }

    /// The rig's device before it is registered, and channel 0's hardware.
    fn unregistered(size: u32, buf_len: u32) -> Result<(Unregistered<Drv>, Arc<Hw>)> {
        let dma: ARef<device::Device> = dma_device()?.into();
        let hw = Hw::new(size)?;
        let chan = |hw: Arc<Hw>, dma: ARef<device::Device>| {
            try_pin_init!(Chan {
                rx <- Shared::new(),
                hw,
                dma,
                size,
                buf_len,
                copybreak: AtomicU32::new(0),
                polls: AtomicU32::new(0),
                max_done: AtomicU32::new(0),
            }? Error)
        };
        let hw1 = Hw::new(size)?;
        let hw0 = hw.clone();
        let mut dev = Unregistered::<Drv>::new_with(1, 2, |dev, slot| {
            slot.init(try_pin_init!(Priv {
                ch0 <- Napi::new(dev, chan(hw0, dma.clone()), Queue::new()),
                ch1 <- Napi::new(dev, chan(hw1, dma.clone()), Queue::new()),
            }? Error))
        })?;
        dev.set_random_mac_address();
        Ok((dev, hw))
    }

    pub(super) fn chan(&self) -> &Chan {
        self.dev.data().get_ref().ch0.data()
    }

    pub(super) fn receive(&self, len: usize, seed: u8, meta: Meta) -> bool {
        self.hw.receive(&self.mac, len, seed, self.buf_len, meta)
    }

    /// Schedules the poll and waits until every completion was read and the ring refilled.
    /// From task context the poll runs on this CPU before `schedule()` returns; repolls run in
    /// softirq context on this CPU too.
    fn poll(&self) -> bool {
        self.dev.data().get_ref().ch0.schedule();
        let size = self.chan().size;
        settle(|| self.hw.pending() == 0 && self.hw.posted() == size - 1)
    }

    /// Returns `f` of the queue, with the NAPI paused.
    fn paused<R>(&self, f: impl FnOnce(&Queue<SwRing>) -> R) -> Result<R> {
        let rtnl = Rtnl::lock();
        let napi = &self.dev.data().get_ref().ch0;
        napi.disable(&rtnl);
        let r = napi.with_state(&rtnl, |q| f(&q));
        napi.enable(&rtnl)?;
        r
    }

    /// Pages the queue's pool has out and buffers posted.
    fn pool_state(&self) -> Result<(Option<i64>, u32)> {
        self.paused(|q| (q.pool_stats().map(|s| s.outstanding()), q.posted()))
    }

    /// Pages the queue's pool handed out so far.
    fn pool_allocs(&self) -> Result<Option<u64>> {
        self.paused(|q| {
            q.pool_stats()
                .map(|s| s.alloc_fast + s.alloc_slow + s.alloc_slow_high_order + s.alloc_refill)
        })
    }

    /// Schedules the poll and waits until every completion was read.
    fn kick(&self) -> bool {
        self.dev.data().get_ref().ch0.schedule();
        settle(|| self.hw.pending() == 0)
    }
}

fn sizes_and_metadata(test: &Test) -> Result {
    let rig = Rig::new(64, 2048)?;
    let tap = Tap::new(&rig.dev, false)?;
    open(&rig.dev)?;
    // The initial fill: every descriptor but one, one doorbell per batch of 16.
    let (posts, doorbells) = bh_off(|| {
        let hw = rig.hw.inner.lock();
        (hw.posts, hw.doorbells)
    });
    kunit_expect_eq!(test, posts, 63);
    kunit_expect_eq!(test, doorbells, 4);
    kunit_expect_eq!(test, rig.hw.posted(), 63);

    let l4 = Meta {
        csum: Checksum::Unnecessary { level: 0 },
        hash: Some((0x1234_5678, HashType::L4)),
        ..PLAIN
    };
    let vlan = Meta {
        vlan: Some(5),
        ..PLAIN
    };
    // (length, seed, metadata, fragments expected)
    let good: [(usize, u8, Meta, u32); 7] = [
        (60, 1, l4, 0),
        (14, 2, PLAIN, 0),
        (1514, 3, vlan, 0),
        (2048, 4, PLAIN, 0),
        (2049, 5, l4, 1),
        (9000, 6, PLAIN, 4),
        (MAX_BUF_LEN as usize, 7, PLAIN, 1),
    ];
    for &(len, seed, meta, _) in &good {
        kunit_expect!(test, rig.receive(len, seed, meta));
    }
    // Bad frames: a runt, one the device flagged, one whose length overflows its buffer.
    kunit_expect!(test, rig.receive(10, 8, PLAIN));
    kunit_expect!(
        test,
        rig.receive(
            3000,
            9,
            Meta {
                error: true,
                ..PLAIN
            }
        )
    );
    kunit_expect!(test, rig.receive(100, 10, Meta { lie: true, ..PLAIN }));
    // And a good one after them.
    kunit_expect!(test, rig.receive(64, 11, PLAIN));
    kunit_expect!(test, rig.poll());

    let seen = tap.seen();
    kunit_expect_eq!(test, seen.len(), good.len() + 1);
    for (s, &(len, seed, meta, frags)) in seen.iter().zip(good.iter()) {
        kunit_expect_eq!(test, s.len as usize, len);
        // A bare Ethernet header has no payload to check.
        kunit_expect_eq!(test, s.seed, (len > 14).then_some(seed));
        kunit_expect_eq!(test, s.nr_frags, frags);
        kunit_expect_eq!(test, s.hash, meta.hash.map_or(0, |h| h.0));
        kunit_expect_eq!(test, s.csum, meta.csum);
        kunit_expect_eq!(test, s.queue, Some(0));
    }
    kunit_expect_eq!(
        test,
        seen.last().map(|s| (s.len, s.seed)),
        Some((64, Some(11)))
    );

    let stats = rig.chan().rx.stats();
    kunit_expect_eq!(test, stats.packets, 8);
    let bytes: usize = good.iter().map(|g| g.0).sum::<usize>() + 64;
    kunit_expect_eq!(test, stats.bytes, bytes as u64);
    kunit_expect_eq!(test, stats.dropped, 2);
    kunit_expect_eq!(test, stats.hw_errors, 1);
    kunit_expect_eq!(test, stats.csum_unnecessary, 2);
    kunit_expect_eq!(test, stats.csum_none, 6);
    kunit_expect_eq!(test, stats.alloc_fail, 0);
    // Every buffer is posted again or back in the pool.
    let (out, posted) = rig.pool_state()?;
    kunit_expect_eq!(test, out, Some(i64::from(posted)));
    kunit_expect_eq!(test, posted, 63);
    close(&rig.dev);
    Ok(())
}

fn too_many_fragments(test: &Test) -> Result {
    let rig = Rig::new(64, 256)?;
    let tap = Tap::new(&rig.dev, false)?;
    open(&rig.dev)?;
    // 24 buffers: more than MAX_SKB_FRAGS + 1.
    kunit_expect!(test, rig.receive(6000, 1, PLAIN));
    kunit_expect!(test, rig.receive(4000, 2, PLAIN));
    kunit_expect!(test, rig.poll());
    let seen = tap.seen();
    kunit_expect_eq!(test, seen.len(), 1);
    kunit_expect_eq!(
        test,
        seen.first().map(|s| (s.len, s.nr_frags, s.seed)),
        Some((4000, 15, Some(2)))
    );
    let stats = rig.chan().rx.stats();
    kunit_expect_eq!(test, (stats.packets, stats.dropped), (1, 1));
    close(&rig.dev);
    Ok(())
}

/// Sets the MTU of `dev` as user space does (`dev_set_mtu()`).
fn set_mtu(dev: &crate::net::netdev::Device, mtu: u32) -> Result {
    let _rtnl = Rtnl::lock();
    // SAFETY: The device is registered; RTNL is held.
    crate::error::to_result(unsafe { bindings::dev_set_mtu(dev.as_ptr(), mtu as i32) })
}

/// Programs see single buffers only: attaching one, an MTU change and starting the queue are
/// refused while a frame of the MTU would span buffers.
fn xdp_single_buffer_only(test: &Test) -> Result {
    // 1024-byte buffers; the default MTU of 1500 takes 1518.
    let rig = Rig::new(64, 1024)?;
    let shared = &rig.chan().rx;
    let none = ExtAck::none();
    // Before the queue first starts, the largest buffer counts; then the queue's, also
    // while it is stopped.
    kunit_expect!(test, shared.fits(1500));
    open(&rig.dev)?;
    kunit_expect!(test, !shared.fits(1500));
    close(&rig.dev);
    kunit_expect!(test, !shared.fits(1500));
    // Announced by the driver, before any start.
    let announced = KBox::pin_init(Shared::with_buf_len(1024), GFP_KERNEL)?;
    kunit_expect!(test, !announced.fits(1500));
    kunit_expect!(test, announced.fits(1000));
    open(&rig.dev)?;
    let r = shared.set_prog(
        &rig.dev,
        Some(returning(bindings::xdp_action_XDP_PASS)?),
        &none,
    );
    kunit_expect_eq!(test, r.err(), Some(EINVAL));
    kunit_expect!(test, !shared.has_prog());
    // With an MTU whose frames fit, it attaches; a larger MTU is then refused.
    set_mtu(&rig.dev, 1000)?;
    drop(shared.set_prog(
        &rig.dev,
        Some(returning(bindings::xdp_action_XDP_PASS)?),
        &none,
    )?);
    kunit_expect!(test, shared.has_prog());
    kunit_expect_eq!(test, shared.check_mtu(1500), Err(EINVAL));
    kunit_expect_eq!(test, shared.check_mtu(1000), Ok(()));
    close(&rig.dev);
    // A device whose MTU grew meanwhile (a driver that did not check) cannot start the queue
    // with the program attached.
    set_mtu(&rig.dev, 1500)?;
    kunit_expect_eq!(test, open(&rig.dev), Err(EINVAL));
    drop(shared.set_prog(&rig.dev, None, &none)?);
    open(&rig.dev)?;
    kunit_expect!(test, rig.receive(1500, 3, PLAIN));
    kunit_expect!(test, rig.poll());
    kunit_expect_eq!(test, shared.stats().packets, 1);
    close(&rig.dev);
    Ok(())
}

fn budget_is_respected(test: &Test) -> Result {
    let rig = Rig::new(256, 2048)?;
    let tap = Tap::new(&rig.dev, false)?;
    open(&rig.dev)?;
    for i in 0..150 {
        kunit_expect!(test, rig.receive(100, i as u8, PLAIN));
    }
    kunit_expect!(test, rig.poll());
    let ch = rig.chan();
    // 64 + 64 + 22 frames: three polls, none above the budget.
    kunit_expect_eq!(test, ch.polls.load(Relaxed), 3);
    kunit_expect_eq!(test, ch.max_done.load(Relaxed), 64);
    kunit_expect_eq!(test, ch.rx.stats().packets, 150);
    kunit_expect_eq!(test, tap.seen().len(), 150);
    close(&rig.dev);
    Ok(())
}

fn xdp_verdicts(test: &Test) -> Result {
    let rig = Rig::new(64, 2048)?;
    let tap = Tap::new(&rig.dev, false)?;
    open(&rig.dev)?;
    let shared = &rig.chan().rx;
    let run = |act: u32, frames: u32| -> Result {
        drop(shared.set_prog(&rig.dev, Some(returning(act)?), &ExtAck::none())?);
        for i in 0..frames {
            kunit_expect!(test, rig.receive(200, i as u8, PLAIN));
        }
        kunit_expect!(test, rig.poll());
        Ok(())
    };
    run(bindings::xdp_action_XDP_PASS, 3)?;
    run(bindings::xdp_action_XDP_DROP, 5)?;
    run(bindings::xdp_action_XDP_TX, 6)?;
    run(bindings::xdp_action_XDP_ABORTED, 2)?;
    run(bindings::xdp_action_XDP_REDIRECT, 2)?;
    run(99, 1)?;
    // Multi-buffer frames are not for programs yet: dropped.
    kunit_expect!(test, rig.receive(3000, 1, PLAIN));
    kunit_expect!(test, rig.poll());
    drop(shared.set_prog(&rig.dev, None, &ExtAck::none())?);
    kunit_expect!(test, rig.receive(3000, 2, PLAIN));
    kunit_expect!(test, rig.poll());

    let s = shared.stats();
    kunit_expect_eq!(test, s.xdp_pass, 3);
    kunit_expect_eq!(test, s.xdp_drop, 5);
    kunit_expect_eq!(test, (s.xdp_tx, s.xdp_tx_err), (XDP_TX_ROOM as u64, 2));
    kunit_expect_eq!(test, s.xdp_aborted, 3);
    kunit_expect_eq!(test, (s.xdp_redirect, s.xdp_redirect_err), (0, 2));
    kunit_expect_eq!(test, s.dropped, 1);
    // The frames XDP consumed count as received (rx-packets), beside the 4 that reached the
    // stack; the multi-buffer frame dropped before the program does not.
    kunit_expect_eq!(test, s.packets, 20);
    kunit_expect_eq!(test, s.bytes, 19 * 200 + 3000);
    let seen = tap.seen();
    kunit_expect_eq!(test, seen.len(), 4);
    kunit_expect_eq!(
        test,
        seen.last().map(|s| (s.len, s.seed)),
        Some((3000, Some(2)))
    );

    // The transmitted frames are the received ones; one doorbell for the poll that sent them.
    let (frames, flushes) = bh_off(|| {
        let mut hw = rig.hw.inner.lock();
        (core::mem::take(&mut hw.xdp_tx), hw.xdp_tx_flushes)
    });
    kunit_expect_eq!(test, flushes, 1);
    // SAFETY: `test` is the running case; the name is a `'static` NUL-terminated string.
    let other = unsafe {
        bindings::kunit_device_register(test.as_ptr(), c_str!("rust-rx-other").as_char_ptr())
    };
    // SAFETY: KUnit keeps the device until the case ends.
    let other = unsafe { device::Device::as_ref(crate::error::from_err_ptr(other)?) };
    for (i, f) in frames.iter().enumerate() {
        let data = f.frame().data();
        kunit_expect_eq!(test, data.len(), 200);
        kunit_expect_eq!(test, data.get(20).copied(), Some(pattern(20, i as u8)));
        // Where the device finds the frame: the pool's mapping, for its device only.
        kunit_expect_eq!(test, f.dma_addr(other), None);
        let Some(addr) = f.dma_addr(&rig.chan().dma) else {
            kunit_expect!(test, false);
            continue;
        };
        // SAFETY: The address maps the frame's data, which the frame keeps alive; with the DMA
        // device's 64-bit mask and no IOMMU it is the physical one, in the direct map.
        let at = unsafe {
            core::slice::from_raw_parts(
                (addr + bindings::page_offset_base as u64) as *const u8,
                data.len(),
            )
        };
        kunit_expect!(test, at == data);
    }
    drop(frames);
    let (out, posted) = rig.pool_state()?;
    kunit_expect_eq!(test, out, Some(i64::from(posted)));
    close(&rig.dev);
    Ok(())
}

fn dropped_buffers_go_back_on_the_ring(test: &Test) -> Result {
    let rig = Rig::new(64, 2048)?;
    let tap = Tap::new(&rig.dev, false)?;
    let ch = rig.chan();
    ch.copybreak.store(256, Relaxed);
    open(&rig.dev)?;
    let shared = &ch.rx;
    let before = rig.pool_allocs()?;
    kunit_expect_eq!(test, before, Some(63));
    // Buffers whose contents are dropped or copied are posted again without a trip through
    // the pool: three rounds of the ring's worth of XDP_DROP frames, bad frames, and copies.
    drop(shared.set_prog(
        &rig.dev,
        Some(returning(bindings::xdp_action_XDP_DROP)?),
        &ExtAck::none(),
    )?);
    for i in 0..150 {
        kunit_expect!(test, rig.receive(200, i as u8, PLAIN));
        if i % 50 == 49 {
            kunit_expect!(test, rig.poll());
        }
    }
    drop(shared.set_prog(&rig.dev, None, &ExtAck::none())?);
    let bad = Meta {
        error: true,
        ..PLAIN
    };
    for i in 0..10 {
        kunit_expect!(test, rig.receive(1000, i, bad));
        kunit_expect!(test, rig.receive(100, i, PLAIN));
    }
    kunit_expect!(test, rig.poll());
    kunit_expect_eq!(test, rig.pool_allocs()?, before);
    let s = shared.stats();
    kunit_expect_eq!(test, (s.xdp_drop, s.hw_errors, s.packets), (150, 10, 160));
    // What the device writes into a buffer posted again is what the stack gets.
    for i in 0..20 {
        kunit_expect!(test, rig.receive(1000, 100 + i, PLAIN));
    }
    kunit_expect!(test, rig.poll());
    let seen = tap.seen();
    kunit_expect_eq!(test, seen.len(), 30);
    for (i, s) in seen.iter().skip(10).enumerate() {
        kunit_expect_eq!(
            test,
            (s.len, s.seed, s.pp),
            (1000, Some(100 + i as u8), true)
        );
    }
    // The frames built around their buffers took new ones; every page is posted or back.
    kunit_expect_eq!(test, rig.pool_allocs()?, before.map(|n| n + 20));
    drop(seen);
    let (out, posted) = rig.pool_state()?;
    kunit_expect_eq!(test, (out, posted), (Some(63), 63));
    close(&rig.dev);
    Ok(())
}

fn alloc_failure_recovers(test: &Test) -> Result {
    let rig = Rig::new(16, 2048)?;
    let tap = Tap::new(&rig.dev, false)?;
    open(&rig.dev)?;
    let ch = rig.chan();
    // Every refill fails for a while. Each poll delivers its frame and tries to refill once
    // (the ring drains by one descriptor per frame); the poll that empties the ring cannot
    // count on a completion to be scheduled again, so it keeps polling until allocations
    // succeed, and refills the whole ring, with nothing else scheduling it.
    ch.rx.inject_alloc_failures(100);
    for i in 0..15 {
        kunit_expect!(test, rig.receive(100, i as u8, PLAIN));
        kunit_expect!(test, rig.kick());
    }
    kunit_expect!(test, settle(|| rig.hw.posted() == 15));
    let stats = ch.rx.stats();
    kunit_expect_eq!(test, stats.alloc_fail, 100);
    kunit_expect_eq!(test, stats.packets, 15);
    kunit_expect_eq!(test, tap.seen().len(), 15);
    // Frames flow again.
    kunit_expect!(test, rig.receive(100, 1, PLAIN));
    kunit_expect!(test, rig.poll());
    kunit_expect_eq!(test, ch.rx.stats().packets, 16);
    let (out, _) = rig.pool_state()?;
    kunit_expect_eq!(test, out, Some(15));
    close(&rig.dev);
    Ok(())
}

fn copybreak(test: &Test) -> Result {
    let rig = Rig::new(64, 2048)?;
    let tap = Tap::new(&rig.dev, false)?;
    let ch = rig.chan();
    ch.copybreak.store(256, Relaxed);
    open(&rig.dev)?;
    let l4 = Meta {
        csum: Checksum::Unnecessary { level: 0 },
        hash: Some((0x1234_5678, HashType::L4)),
        vlan: Some(7),
        ..PLAIN
    };
    // (length, metadata, copied): up to the copybreak a frame is copied, with its metadata.
    let frames: [(usize, Meta, bool); 5] = [
        (60, l4, true),
        (256, PLAIN, true),
        (257, l4, false),
        (1514, PLAIN, false),
        (60, PLAIN, false),
    ];
    for (i, &(len, meta, _)) in frames.iter().enumerate() {
        if i == frames.len() - 1 {
            // No memory for the last one's copy: it goes up in its buffer.
            ch.rx.inject_copy_failures(1);
        }
        kunit_expect!(test, rig.receive(len, i as u8, meta));
        kunit_expect!(test, rig.poll());
    }
    let seen = tap.seen();
    kunit_expect_eq!(test, seen.len(), frames.len());
    for (i, (s, &(len, meta, copied))) in seen.iter().zip(frames.iter()).enumerate() {
        kunit_expect_eq!(test, (s.len as usize, s.seed), (len, Some(i as u8)));
        kunit_expect_eq!(
            test,
            (s.hash, s.csum),
            (meta.hash.map_or(0, |h| h.0), meta.csum)
        );
        kunit_expect_eq!(test, s.pp, !copied);
        // A copy charges about its own size; a buffer, its page.
        if copied {
            kunit_expect!(test, s.truesize < PAGE_SIZE as u32 / 2);
        } else {
            kunit_expect!(test, s.truesize >= PAGE_SIZE as u32);
        }
    }
    let stats = ch.rx.stats();
    kunit_expect_eq!(
        test,
        (stats.packets, stats.dropped, stats.alloc_fail),
        (5, 0, 1)
    );
    // The copied frames' buffers were posted again: every page is posted or back in the pool.
    let (out, posted) = rig.pool_state()?;
    kunit_expect_eq!(test, (out, posted), (Some(63), 63));
    close(&rig.dev);
    Ok(())
}

fn teardown_with_frames_in_flight(test: &Test) -> Result {
    let rig = Rig::new(64, 2048)?;
    let tap = Tap::new(&rig.dev, true)?;
    open(&rig.dev)?;
    for i in 0..10 {
        kunit_expect!(test, rig.receive(1000, i, PLAIN));
    }
    kunit_expect!(test, rig.poll());
    kunit_expect_eq!(test, tap.seen().len(), 10);
    let (out, _) = rig.pool_state()?;
    // The ring's buffers and the ten held by the stack.
    kunit_expect_eq!(test, out, Some(63 + 10));
    // Stopping destroys the pool with ten pages out; it goes once they come back.
    close(&rig.dev);
    kunit_expect!(
        test,
        !rig.dev
            .data()
            .ch0
            .with_state(&Rtnl::lock(), |q| q.is_started())?
    );
    tap.release();
    Ok(())
}

/// The device stops writing into the ring before any of its buffers goes back: on `stop()`,
/// and when a started queue is dropped with its device.
fn device_quiesced_before_buffers_go(test: &Test) -> Result {
    let rig = Rig::new(64, 2048)?;
    let ch1 = &rig.dev.data().get_ref().ch1;
    let hw1 = ch1.data().hw.clone();
    for hw in [&rig.hw, &hw1] {
        bh_off(|| hw.inner.lock().dma_until_quiesced = true);
    }
    let state = |hw: &Hw| {
        bh_off(|| {
            let hw = hw.inner.lock();
            (hw.quiesced, hw.late_writes)
        })
    };
    open(&rig.dev)?;
    kunit_expect!(test, rig.receive(100, 1, PLAIN));
    kunit_expect!(test, rig.poll());
    close(&rig.dev);
    // Every posted buffer was still the queue's when the device last wrote it.
    kunit_expect_eq!(test, state(&rig.hw), (1, 63));
    {
        let rtnl = Rtnl::lock();
        let config = Config::new(64, 1).dma(&ch1.data().dma);
        ch1.with_state(&rtnl, |q| q.start(ch1, &rtnl, SwRing(hw1.clone()), &config))??;
    }
    drop(rig);
    kunit_expect_eq!(test, state(&hw1), (1, 63));
    Ok(())
}

/// A queue of a device that is not registered works, and its pool is not listed on the
/// device (only a registered device has a list to take it off again).
fn unregistered_device(test: &Test) -> Result {
    let (dev, hw) = Rig::unregistered(64, 2048)?;
    let listed = |dev: &crate::net::netdev::Device| {
        let _rtnl = Rtnl::lock();
        // SAFETY: The device is valid; the list changes only under RTNL, which is held.
        !unsafe { (*dev.as_ptr()).page_pools.first }.is_null()
    };
    let ch0 = &dev.data().get_ref().ch0;
    start(ch0, &Rtnl::lock())?;
    kunit_expect_eq!(test, hw.posted(), 63);
    kunit_expect!(test, !listed(&dev));
    {
        let rtnl = Rtnl::lock();
        ch0.with_state(&rtnl, |q| q.stop(&rtnl).map(drop))??;
    }
    let dev = dev.register()?;
    open(&dev)?;
    kunit_expect!(test, listed(&dev));
    close(&dev);
    kunit_expect!(test, !listed(&dev));
    Ok(())
}

/// A channel whose shared part does not lie in its data: a queue could outlive it.
#[pin_data]
struct Elsewhere {
    rx: Pin<KBox<Shared>>,
}

impl HasShared for Elsewhere {
    fn rx_shared(&self) -> &Shared {
        &self.rx
    }
}

impl Poll for Elsewhere {
    type State = Queue<SwRing>;

    fn poll(&self, queue: Pin<&mut Queue<SwRing>>, ctx: &mut PollContext<'_>) -> u32 {
        queue.poll(None, ctx)
    }
}

#[pin_data]
struct ElsewherePriv {
    #[pin]
    napi: Napi<Elsewhere>,
}

struct ElsewhereDrv;

#[vtable]
impl Operations for ElsewhereDrv {
    type Data = ElsewherePriv;

    fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        drop(skb);
        TxResult::Ok
    }
}

fn shared_lies_in_the_instance(test: &Test) -> Result {
    let rx = KBox::pin_init(Shared::new(), GFP_KERNEL)?;
    let dev = Unregistered::<ElsewhereDrv>::new_with(1, 1, |dev, slot| {
        slot.init(try_pin_init!(ElsewherePriv {
            napi <- Napi::new(dev, Elsewhere { rx }, Queue::new()),
        }? Error))
    })?;
    let napi = &dev.data().get_ref().napi;
    let hw = Hw::new(64)?;
    let dma: ARef<device::Device> = dma_device()?.into();
    let rtnl = Rtnl::lock();
    let config = Config::new(64, 0).dma(&dma);
    let r = napi.with_state(&rtnl, |q| q.start(napi, &rtnl, SwRing(hw.clone()), &config))?;
    kunit_expect_eq!(test, r, Err(EINVAL));
    kunit_expect_eq!(test, hw.posted(), 0);
    Ok(())
}

fn misuse_is_refused(test: &Test) -> Result {
    let rig = Rig::new(64, 2048)?;
    let (ch0, ch1) = (&rig.dev.data().get_ref().ch0, &rig.dev.data().get_ref().ch1);
    let rtnl = Rtnl::lock();
    fn cfg(ch: &Chan) -> Config<'_> {
        Config::new(64, 1).dma(&ch.dma)
    }
    let ring = |ch: &Chan| SwRing(ch.hw.clone());
    // Another instance's state.
    let r = ch1.with_state(&rtnl, |q| {
        q.start(ch0, &rtnl, ring(ch1.data()), &cfg(ch1.data()))
    })?;
    kunit_expect_eq!(test, r, Err(EINVAL));
    // Bad configurations.
    for bad in [
        Config::new(1, 1),
        Config::new(64, 2),
        Config::new(64, 1).buf_len(0),
        Config::new(64, 1).buf_len(MAX_BUF_LEN + 1),
        Config::new(64, 1).batch(64),
        Config::new(64, 1).copybreak(MAX_COPYBREAK + 1),
    ] {
        let r = ch1.with_state(&rtnl, |q| q.start(ch1, &rtnl, ring(ch1.data()), &bad))?;
        kunit_expect_eq!(test, r, Err(EINVAL));
    }
    ch0.with_state(&rtnl, |q| {
        q.start(ch0, &rtnl, ring(ch0.data()), &cfg(ch0.data()))
    })??;
    // Started twice.
    let r = ch0.with_state(&rtnl, |q| {
        q.start(ch0, &rtnl, ring(ch0.data()), &cfg(ch0.data()))
    })?;
    kunit_expect_eq!(test, r, Err(EBUSY));
    // Not reachable while enabled; stopping a stopped queue.
    ch0.enable(&rtnl)?;
    kunit_expect_eq!(test, ch0.with_state(&rtnl, |q| q.is_started()), Err(EBUSY));
    ch0.disable(&rtnl);
    kunit_expect!(test, ch0.with_state(&rtnl, |q| q.stop(&rtnl).is_ok())?);
    kunit_expect_eq!(
        test,
        ch0.with_state(&rtnl, |q| q.stop(&rtnl).err())?,
        Some(EINVAL)
    );
    // Both started and left for the device's teardown.
    ch0.with_state(&rtnl, |q| {
        q.start(ch0, &rtnl, ring(ch0.data()), &cfg(ch0.data()))
    })??;
    ch1.with_state(&rtnl, |q| {
        q.start(ch1, &rtnl, ring(ch1.data()), &cfg(ch1.data()))
    })??;
    kunit_expect_eq!(test, ch1.data().hw.posted(), 63);
    Ok(())
}

kunit_test_suite!(
    rust_net_rx,
    [
        sizes_and_metadata,
        too_many_fragments,
        budget_is_respected,
        xdp_verdicts,
        xdp_single_buffer_only,
        dropped_buffers_go_back_on_the_ring,
        alloc_failure_recovers,
        copybreak,
        teardown_with_frames_in_flight,
        device_quiesced_before_buffers_go,
        unregistered_device,
        shared_lies_in_the_instance,
        misuse_is_refused,
    ]
);
