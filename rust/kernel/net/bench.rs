// SPDX-License-Identifier: GPL-2.0

//! KUnit suites `rust_net_rx_bench` and `rust_net_tx_bench`: the per-packet cost of the queue
//! engines against a C driver's receive and transmit paths, on the same software device.
//!
//! The device speaks the 8254x legacy descriptor format: the engines reach it through
//! [`rx::Ring`] and [`tx::Ring`] implementations, the C side (`rust/helpers/net_bench.c`) is a
//! driver's loop written in C, with its static inlines inlined, the same checks of what the
//! device reports and the same counters. Each path has its own registered device and NAPI
//! instance; the rounds of the two paths alternate, after warm-up rounds that are not counted.
//!
//! - Receive: the device writes a ring's worth of 60-byte frames into the posted page-pool
//!   buffers (not timed), then the poll that receives them (skbs built around the buffers, GRO,
//!   the stack drops them: nothing handles their EtherType) and refills the ring is timed.
//! - Receive with `XDP_DROP`: the same, with a program that drops every frame: run by the engine
//!   on its buffers (native XDP), and by the stack on the C path's skbs (generic XDP, as for a C
//!   driver without native XDP: attached with an XDP link in `XDP_FLAGS_SKB_MODE`). The C path's
//!   buffers leave the full headroom generic XDP needs, so the stack does not copy them, as it
//!   copies a driver's with less (the C e1000's).
//! - Transmit: 60-byte packets are handed to the driver the way pktgen does (its
//!   `ndo_start_xmit` under the queue's lock, `xmit_more` on all but the last) and timed; the
//!   device completes them (not timed); then the poll that cleans the ring (unmap,
//!   `napi_consume_skb()`, BQL) is timed.
//!
//! What the comparison covers, and what it does not: both paths run behind the same Rust
//! `ndo_start_xmit` adapter and NAPI poll callback (the C path's per-packet work is all C, but
//! it pays one more call per packet, and one per poll); the C transmit path also takes software
//! timestamps (`skb_tx_timestamp()`), which the engine does not yet; the engines do work the C
//! paths skip (offload parsing, queue checks, the XDP program load, u64_stats counters, their
//! lock, multi-buffer frames).
//!
//! The results are reported, not asserted (only the packet counts are checked), one line per
//! path: `net_bench: <workload> <Rust|C> ns/pkt median <m> p10 <a> p90 <b> rounds <n>`, which
//! `make bench` turns into its table. Run in a guest under QEMU's instruction counter
//! (`-icount shift=0`) the nanoseconds are instructions.

use crate::{
    bindings, device,
    dma::{DataDirection, DmaAddr},
    kunit::Test,
    kunit_expect, kunit_expect_eq, kunit_test_suite,
    net::{
        napi::{Napi, Poll, PollContext},
        netdev::{
            tests::{close, open, settle},
            Device, ExtAck, NetDevice, Operations, Rtnl, TxResult, TxSkb, Unregistered, Xmit,
        },
        page_pool::{tests::dma_device, PagePool, Params},
        rx, tx,
        xdp::{tests::returning, Prog},
    },
    prelude::*,
    sync::Arc,
    types::{ARef, Opaque},
};
use core::{
    ffi::c_void,
    ptr::{self, NonNull},
    sync::atomic::{compiler_fence, AtomicPtr, AtomicU32, AtomicU64, Ordering},
};

/// Frame and packet length: the smallest Ethernet frame, where per-packet costs weigh most.
const LEN: u32 = 60;

/// Buffers' headroom and length on both receive paths.
const HEADROOM: u32 = rx::HEADROOM;
const BUF_LEN: u32 = 2048;

/// An EtherType nothing in the stack handles (IEEE 802 local experimental).
const ETHERTYPE: u16 = 0x88b5;

/// Descriptor status and command bits of the 8254x legacy format.
const STAT_DD: u8 = 1 << 0;
const STAT_EOP: u8 = 1 << 1;
const CMD_EOP: u8 = 1 << 0;
const CMD_IFCS: u8 = 1 << 1;
const CMD_RS: u8 = 1 << 3;

/// An 8254x legacy receive descriptor (`struct rnet_bench_rx_desc`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RxDesc {
    addr: u64,
    len: u16,
    csum: u16,
    status: u8,
    errors: u8,
    special: u16,
}

/// An 8254x legacy transmit descriptor (`struct rnet_bench_tx_desc`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TxDesc {
    addr: u64,
    len: u16,
    cso: u8,
    cmd: u8,
    status: u8,
    css: u8,
    special: u16,
}

/// The software device's descriptor ring and tail register: memory the driver and the device
/// share, as with a real NIC.
///
/// Who may touch a descriptor follows the ring protocol, as with real hardware: those from the
/// device's head up to the tail register are the device's, the others the driver's (which
/// writes them, then the tail register after a write barrier). The driver and the device each
/// run on one CPU at a time: the driver in its poll or under its queue's lock, the device in
/// the test's task.
///
/// # Invariants
///
/// `descs` holds `size` descriptors, `size` a power of two, and is never resized, so the
/// pointers handed to the C side stay valid while the ring lives.
struct DevRing<D> {
    descs: KVec<Opaque<D>>,
    size: u32,
    tail: AtomicU32,
    /// The next descriptor the device processes.
    head: AtomicU32,
}

// SAFETY: The descriptors are plain data in `Opaque` cells; which side may access one is decided
// by the ring protocol (see the type), which `read` and `write` require of their callers, and the
// head and tail are atomics: sharing the ring between threads races on nothing.
unsafe impl<D: Copy + Send> Send for DevRing<D> {}
// SAFETY: See `Send`.
unsafe impl<D: Copy + Send> Sync for DevRing<D> {}

impl<D: Copy + Default> DevRing<D> {
    fn new(size: u32) -> Result<Arc<Self>> {
        if !size.is_power_of_two() {
            return Err(EINVAL);
        }
        let mut descs = KVec::with_capacity(size as usize, GFP_KERNEL)?;
        for _ in 0..size {
            descs.push(Opaque::new(D::default()), GFP_KERNEL)?;
        }
        Ok(Arc::new(
            Self {
                descs,
                size,
                tail: AtomicU32::new(0),
                head: AtomicU32::new(0),
            },
            GFP_KERNEL,
        )?)
    }

    /// Reads descriptor `i` (modulo the size).
    ///
    /// # Safety
    ///
    /// The caller's side (driver or device) owns the descriptor under the ring protocol.
    unsafe fn read(&self, i: u32) -> D {
        // SAFETY: The index is within the ring; the caller owns the descriptor, so nothing
        // writes it meanwhile.
        unsafe {
            self.descs[(i & (self.size - 1)) as usize]
                .get()
                .read_volatile()
        }
    }

    /// Writes descriptor `i` (modulo the size).
    ///
    /// # Safety
    ///
    /// As for [`DevRing::read`].
    unsafe fn write(&self, i: u32, d: D) {
        // SAFETY: The index is within the ring; the caller owns the descriptor, so nothing
        // else accesses it meanwhile.
        unsafe {
            self.descs[(i & (self.size - 1)) as usize]
                .get()
                .write_volatile(d)
        }
    }

    /// The descriptors, for the C side.
    fn as_ptr(&self) -> *mut c_void {
        self.descs.as_ptr().cast_mut().cast()
    }

    /// The tail register, for the C side (which writes it with `WRITE_ONCE()`).
    fn tail_ptr(&self) -> *mut u32 {
        self.tail.as_ptr()
    }

    /// Descriptors the driver handed to the device and the device has not processed.
    fn posted(&self) -> u32 {
        self.tail
            .load(Ordering::Acquire)
            .wrapping_sub(self.head.load(Ordering::Relaxed))
            & (self.size - 1)
    }
}

/// Orders the reads of a descriptor after the read of its done bit, as `dma_rmb()` does (a
/// compiler barrier on x86, where the benchmark runs).
fn dma_rmb() {
    compiler_fence(Ordering::Acquire);
}

/// Orders descriptor writes before the tail register's, as `dma_wmb()` does (see [`dma_rmb`]).
fn dma_wmb() {
    compiler_fence(Ordering::Release);
}

/// The device receives `n` frames into the buffers posted at its head; returns `false` if
/// fewer are posted.
fn device_receive(ring: &DevRing<RxDesc>, n: u32, seed: u8) -> bool {
    if ring.posted() < n {
        return false;
    }
    let mut frame = [0u8; LEN as usize];
    for (i, b) in frame.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seed);
    }
    frame[..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    frame[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
    let mut head = ring.head.load(Ordering::Relaxed);
    for _ in 0..n {
        // SAFETY: Descriptors from the head up to the tail are the device's.
        let mut d = unsafe { ring.read(head) };
        // The device "DMA-writes" the frame: with the DMA device's 64-bit mask and no IOMMU,
        // the DMA address is the physical one, in the kernel's direct map.
        // SAFETY: `d.addr` is the DMA address of a posted buffer of at least `BUF_LEN` bytes the
        // device may write until it completes the descriptor.
        unsafe {
            let va = (d.addr + bindings::page_offset_base as u64) as *mut u8;
            ptr::copy_nonoverlapping(frame.as_ptr(), va, frame.len());
        }
        d.len = LEN as u16;
        d.errors = 0;
        d.status = STAT_DD | STAT_EOP;
        // SAFETY: As above; the driver owns it again once the device moved its head past it.
        unsafe { ring.write(head, d) };
        head = head.wrapping_add(1) & (ring.size - 1);
    }
    ring.head.store(head, Ordering::Relaxed);
    true
}

/// The device sends what the driver handed it and reports each descriptor done.
fn device_transmit(ring: &DevRing<TxDesc>) -> u32 {
    let mut n = 0;
    let mut head = ring.head.load(Ordering::Relaxed);
    let tail = ring.tail.load(Ordering::Acquire);
    while head != tail {
        // SAFETY: Descriptors from the head up to the tail are the device's.
        let mut d = unsafe { ring.read(head) };
        d.status = STAT_DD;
        // SAFETY: As above.
        unsafe { ring.write(head, d) };
        head = head.wrapping_add(1) & (ring.size - 1);
        n += 1;
    }
    ring.head.store(head, Ordering::Relaxed);
    n
}

/// Reports a path's per-packet costs (one per round): median, 10th and 90th percentiles.
fn report(work: &str, path: &str, t: &mut KVec<i64>) {
    if t.is_empty() {
        return;
    }
    t.sort_unstable();
    let n = t.len();
    pr_info!(
        "net_bench: {} {} ns/pkt median {} p10 {} p90 {} rounds {}\n",
        work,
        path,
        t[n / 2],
        t[n / 10],
        t[n * 9 / 10],
        n
    );
}

/// Nanoseconds since boot.
fn now() -> i64 {
    // SAFETY: FFI call without requirements.
    unsafe { bindings::ktime_get() }
}

/// Runs `rounds` rounds of `e` and `c` (each returning the nanoseconds and packets of a round,
/// or `None`), alternating which goes first, after `warmup` rounds that are not counted; returns
/// the per-packet nanoseconds of each path's rounds.
#[allow(clippy::type_complexity)]
fn alternate(
    warmup: u32,
    rounds: u32,
    mut e: impl FnMut(u32) -> Option<(i64, u32)>,
    mut c: impl FnMut(u32) -> Option<(i64, u32)>,
) -> Result<Option<(KVec<i64>, KVec<i64>)>> {
    let mut te = KVec::with_capacity(rounds as usize, GFP_KERNEL)?;
    let mut tc = KVec::with_capacity(rounds as usize, GFP_KERNEL)?;
    for r in 0..warmup + rounds {
        let (re, rc) = if r % 2 == 0 {
            let re = e(r);
            (re, c(r))
        } else {
            let rc = c(r);
            (e(r), rc)
        };
        let (Some((ne, pe)), Some((nc, pc))) = (re, rc) else {
            return Ok(None);
        };
        if r >= warmup && pe > 0 && pc > 0 {
            te.push(ne / i64::from(pe), GFP_KERNEL)?;
            tc.push(nc / i64::from(pc), GFP_KERNEL)?;
        }
    }
    Ok(Some((te, tc)))
}

/// Receive: descriptors per ring; one poll (budget 64) receives a full ring.
const RX_SIZE: u32 = 64;
const RX_FRAMES: u32 = RX_SIZE - 1;
const RX_ROUNDS: u32 = 300;

/// The engine's view of the receive ring.
struct EngineRxRing(Arc<DevRing<RxDesc>>);

impl rx::Ring for EngineRxRing {
    fn post(&mut self, index: u32, addr: DmaAddr, _len: u32) {
        let d = RxDesc {
            addr,
            ..RxDesc::default()
        };
        // SAFETY: The engine posts descriptors past the tail, which are the driver's.
        unsafe { self.0.write(index, d) };
    }

    fn completed(&mut self, index: u32) -> Option<rx::Completion> {
        // SAFETY: The engine asks about posted descriptors in ring order; the device writes
        // the done bit last, and one it reported done is the driver's again.
        let d = unsafe { self.0.read(index) };
        if d.status & STAT_DD == 0 {
            return None;
        }
        dma_rmb();
        // SAFETY: As above: the device is done with it.
        let d = unsafe { self.0.read(index) };
        Some(rx::Completion {
            len: u32::from(d.len),
            eop: d.status & STAT_EOP != 0,
            error: d.errors != 0,
            ..rx::Completion::new(0)
        })
    }

    fn doorbell(&mut self, tail: u32) {
        dma_wmb();
        self.0.tail.store(tail, Ordering::Release);
    }

    fn quiesce(&mut self) {
        // The "device" is the benchmark's task, which is done with the ring when it stops.
    }
}

/// The engine's receive channel.
#[pin_data]
struct EngineRxChan {
    #[pin]
    rx: rx::Shared,
    ring: Arc<DevRing<RxDesc>>,
    dma: ARef<device::Device>,
}

impl rx::HasShared for EngineRxChan {
    fn rx_shared(&self) -> &rx::Shared {
        &self.rx
    }
}

impl Poll for EngineRxChan {
    type State = rx::Queue<EngineRxRing>;

    fn poll(&self, queue: Pin<&mut Self::State>, ctx: &mut PollContext<'_>) -> u32 {
        queue.poll(None, ctx)
    }
}

#[pin_data]
struct EngineRxPriv {
    #[pin]
    napi: Napi<EngineRxChan>,
}

struct EngineRx;

#[vtable]
impl Operations for EngineRx {
    type Data = EngineRxPriv;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        let ch = napi.data();
        let config = rx::Config::new(RX_SIZE, 0).dma(&ch.dma).buf_len(BUF_LEN);
        let ring = EngineRxRing(ch.ring.clone());
        napi.with_state(rtnl, |q| q.start(napi, rtnl, ring, &config))??;
        napi.enable(rtnl)
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        napi.disable(rtnl);
        napi.with_state(rtnl, |q| q.stop(rtnl).map(drop))?
    }

    fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        drop(skb);
        TxResult::Ok
    }
}

/// The C driver's receive queue: its page pool and its `struct rnet_bench_rxq`.
struct CRxState {
    pool: Option<PagePool>,
    q: *mut c_void,
}

// SAFETY: The C queue is used by the instance's poll only, or while the instance is disabled.
unsafe impl Send for CRxState {}

impl CRxState {
    fn teardown(&mut self) {
        // SAFETY: The queue (or null) came from `rnet_bench_rxq_new`; the instance is disabled.
        unsafe { bindings::rnet_bench_rxq_free(self.q) };
        self.q = ptr::null_mut();
        self.pool = None;
    }
}

impl Drop for CRxState {
    fn drop(&mut self) {
        self.teardown();
    }
}

#[pin_data]
struct CRxChan {
    ring: Arc<DevRing<RxDesc>>,
    dma: ARef<device::Device>,
    frames: AtomicU64,
}

impl Poll for CRxChan {
    type State = CRxState;

    fn poll(&self, state: Pin<&mut CRxState>, ctx: &mut PollContext<'_>) -> u32 {
        let q = state.get_mut().q;
        if q.is_null() {
            return 0;
        }
        // SAFETY: The queue is live while the instance runs; this is its poll.
        let done = unsafe { bindings::rnet_bench_rx_poll(q, ctx.napi_ptr(), ctx.budget()) };
        self.frames.fetch_add(u64::from(done), Ordering::Relaxed);
        done
    }
}

#[pin_data]
struct CRxPriv {
    #[pin]
    napi: Napi<CRxChan>,
}

struct CRx;

#[vtable]
impl Operations for CRx {
    type Data = CRxPriv;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        let ch = napi.data();
        let params = Params::new(RX_SIZE)
            .dma(&ch.dma, DataDirection::FromDevice)
            .sync_for_device(HEADROOM, BUF_LEN);
        napi.with_state(rtnl, |mut s| -> Result {
            // SAFETY: The pool is used by the instance's poll only, and destroyed in `stop`
            // after the instance is disabled (or with the instance's state, before it is
            // deleted); it is created while the instance is disabled (in `with_state`).
            let pool = PagePool::new(&unsafe { params.napi(napi.as_ptr()) })?;
            // SAFETY: The ring and its tail register live as long as the channel, which
            // outlives the queue; the pool and the DMA device are valid.
            let q = unsafe {
                bindings::rnet_bench_rxq_new(
                    ch.ring.as_ptr(),
                    ch.ring.tail_ptr(),
                    RX_SIZE,
                    pool.as_ptr(),
                    ch.dma.as_raw(),
                    HEADROOM,
                    BUF_LEN,
                )
            };
            if q.is_null() {
                return Err(ENOMEM);
            }
            s.q = q;
            s.pool = Some(pool);
            // SAFETY: The new queue; the instance is disabled.
            unsafe { bindings::rnet_bench_rx_refill(q) };
            Ok(())
        })??;
        napi.enable(rtnl)
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        napi.disable(rtnl);
        napi.with_state(rtnl, |mut s| s.teardown())
    }

    fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        drop(skb);
        TxResult::Ok
    }
}

/// A ring's worth of frames received and the poll that takes them timed; returns the
/// nanoseconds and frames, or `None` if the ring was not full or was not refilled.
fn rx_round(ring: &DevRing<RxDesc>, schedule: impl Fn() -> bool, seed: u8) -> Option<(i64, u32)> {
    if !device_receive(ring, RX_FRAMES, seed) {
        pr_warn!(
            "net_bench: rx: {} buffers posted, not a ring's worth\n",
            ring.posted()
        );
        return None;
    }
    // From task context the poll runs before `schedule()` returns.
    let t0 = now();
    let scheduled = schedule();
    let t1 = now();
    if !scheduled {
        pr_warn!("net_bench: rx: the poll was scheduled already\n");
        return None;
    }
    if !settle(|| ring.posted() == RX_SIZE - 1) {
        pr_warn!(
            "net_bench: rx: ring not refilled: {} posted\n",
            ring.posted()
        );
        return None;
    }
    Some((t1 - t0, RX_FRAMES))
}

/// A program attached to a device as generic XDP, through an XDP link; detached on drop.
///
/// # Invariants
///
/// `link` is a reference to a live XDP link, owned by this object.
struct GenericXdp {
    link: NonNull<bindings::bpf_link>,
}

impl GenericXdp {
    /// Attaches `prog` to `dev`'s generic XDP hook (`XDP_FLAGS_SKB_MODE`).
    fn attach(dev: &Device, prog: &Prog) -> Result<Self> {
        // SAFETY: The device and the program are valid; no RTNL is held (the test holds none:
        // `&Device` does not prove RTNL) and the test runs in the initial namespace, where the
        // test's devices are; the helper takes its own reference on the program.
        let link = unsafe { bindings::rnet_bench_xdp_generic(dev.as_ptr(), prog.as_ptr()) };
        let link = crate::error::from_err_ptr(link)?;
        // INVARIANT: The helper returned a reference to the new link.
        Ok(Self {
            link: NonNull::new(link).ok_or(EINVAL)?,
        })
    }
}

impl Drop for GenericXdp {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own a reference to a live link; nothing holds RTNL
        // here (the link's detach takes it).
        unsafe { bindings::rnet_bench_xdp_detach(self.link.as_ptr()) };
    }
}

/// The receive benchmark: the stack takes the frames (`engine_rx`), or an `XDP_DROP` program
/// drops them (`engine_rx_xdp_drop`), in the engine (native XDP) and in the stack for the C
/// driver's skbs (generic XDP, as for a driver without native XDP).
fn rx_paths(test: &Test, xdp: bool) -> Result {
    let dma: ARef<device::Device> = dma_device()?.into();
    let e_ring = DevRing::<RxDesc>::new(RX_SIZE)?;
    let c_ring = DevRing::<RxDesc>::new(RX_SIZE)?;
    let (er, cr) = (e_ring.clone(), c_ring.clone());
    let (ed, cd) = (dma.clone(), dma);
    let mut e = Unregistered::<EngineRx>::new_with(1, 1, |dev, slot| {
        slot.init(try_pin_init!(EngineRxPriv {
            napi <- Napi::new(dev, try_pin_init!(EngineRxChan {
                rx <- rx::Shared::new(),
                ring: er,
                dma: ed,
            }? Error), rx::Queue::new()),
        }? Error))
    })?;
    e.set_random_mac_address();
    let e = e.register()?;
    let mut c = Unregistered::<CRx>::new_with(1, 1, |dev, slot| {
        slot.init(try_pin_init!(CRxPriv {
            napi <- Napi::new(dev, try_pin_init!(CRxChan {
                ring: cr,
                dma: cd,
                frames: AtomicU64::new(0),
            }? Error), CRxState { pool: None, q: ptr::null_mut() }),
        }? Error))
    })?;
    c.set_random_mac_address();
    let c = c.register()?;
    open(&e)?;
    open(&c)?;
    let e_napi = &e.data().get_ref().napi;
    let c_napi = &c.data().get_ref().napi;
    let mut link = None;
    if xdp {
        let prog = returning(bindings::xdp_action_XDP_DROP)?;
        // Native first: a failure here leaves nothing to undo.
        drop(
            e_napi
                .data()
                .rx
                .set_prog(&e, Some(prog.clone()), &ExtAck::none())?,
        );
        let attached = GenericXdp::attach(&c, &prog);
        kunit_expect!(test, attached.is_ok());
        link = Some(attached?);
    }
    let warmup = 10;
    let res = alternate(
        warmup,
        RX_ROUNDS,
        |r| rx_round(&e_ring, || e_napi.schedule(), r as u8),
        |r| rx_round(&c_ring, || c_napi.schedule(), r as u8),
    )?;
    kunit_expect!(test, res.is_some());
    let frames = u64::from((warmup + RX_ROUNDS) * RX_FRAMES);
    let stats = e_napi.data().rx.stats();
    kunit_expect_eq!(test, stats.packets, frames);
    kunit_expect_eq!(test, stats.xdp_drop, if xdp { frames } else { 0 });
    kunit_expect_eq!(test, c_napi.data().frames.load(Ordering::Relaxed), frames);
    // Nothing handles the frames' EtherType: the stack drops the C path's (and counts them)
    // unless the generic XDP program dropped them first.
    // SAFETY: The device is registered.
    let dropped = unsafe { bindings::rnet_bench_rx_dropped(c.as_ptr()) };
    kunit_expect_eq!(test, dropped, if xdp { 0 } else { frames });
    drop(link);
    if let Some((mut te, mut tc)) = res {
        let work = if xdp {
            "engine_rx_xdp_drop"
        } else {
            "engine_rx"
        };
        report(work, "Rust", &mut te);
        report(work, "C", &mut tc);
    }
    drop(e_napi.data().rx.set_prog(&e, None, &ExtAck::none())?);
    close(&c);
    close(&e);
    Ok(())
}

fn rx_engine_vs_c(test: &Test) -> Result {
    rx_paths(test, false)
}

fn rx_xdp_drop_native_vs_generic(test: &Test) -> Result {
    rx_paths(test, true)
}

/// Transmit: descriptors per ring, packets per round.
const TX_SIZE: u32 = 256;
const TX_PACKETS: u32 = 63;
const TX_ROUNDS: u32 = 300;

/// The engine's view of the transmit ring.
struct EngineTxRing(Arc<DevRing<TxDesc>>);

impl tx::Ring for EngineTxRing {
    fn write(&mut self, index: u32, desc: &tx::Desc) {
        let d = TxDesc {
            addr: desc.addr,
            len: desc.len as u16,
            cmd: CMD_IFCS | if desc.last { CMD_EOP | CMD_RS } else { 0 },
            ..TxDesc::default()
        };
        // SAFETY: The engine writes descriptors past the tail, which are the driver's.
        unsafe { self.0.write(index, d) };
    }

    fn completed(&mut self, index: u32) -> bool {
        // SAFETY: The done bit of a descriptor the device may still own: the device writes it
        // from the test's task, which runs no poll meanwhile (the rounds are sequential).
        let done = unsafe { self.0.read(index) }.status & STAT_DD != 0;
        dma_rmb();
        done
    }

    fn doorbell(&mut self, tail: u32) {
        dma_wmb();
        self.0.tail.store(tail, Ordering::Release);
    }

    fn quiesce(&mut self) {
        // The "device" is the benchmark's task, which is done with the ring when it stops.
    }
}

#[pin_data]
struct EngineTxChan {
    #[pin]
    txq: tx::Queue<EngineTxRing>,
    ring: Arc<DevRing<TxDesc>>,
    dma: ARef<device::Device>,
}

impl Poll for EngineTxChan {
    type State = ();

    fn poll(&self, _state: Pin<&mut ()>, ctx: &mut PollContext<'_>) -> u32 {
        self.txq.complete(ctx);
        0
    }
}

#[pin_data]
struct EngineTxPriv {
    #[pin]
    napi: Napi<EngineTxChan>,
}

struct EngineTx;

#[vtable]
impl Operations for EngineTx {
    type Data = EngineTxPriv;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        let ch = napi.data();
        let config = tx::Config::new(TX_SIZE, 0, &ch.dma);
        ch.txq
            .start(dev, rtnl, EngineTxRing(ch.ring.clone()), &config)?;
        napi.enable(rtnl)
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        napi.disable(rtnl);
        napi.data().txq.stop(rtnl).map(drop)
    }

    fn start_xmit(dev: &NetDevice<Self>, skb: TxSkb, xmit: &Xmit<'_>) -> TxResult {
        dev.data().get_ref().napi.data().txq.xmit(skb, xmit)
    }
}

#[pin_data]
struct CTxChan {
    /// The C driver's `struct rnet_bench_txq`, while the device is up.
    q: AtomicPtr<c_void>,
    ring: Arc<DevRing<TxDesc>>,
    dma: ARef<device::Device>,
}

impl Poll for CTxChan {
    type State = ();

    fn poll(&self, _state: Pin<&mut ()>, ctx: &mut PollContext<'_>) -> u32 {
        let q = self.q.load(Ordering::Acquire);
        if !q.is_null() {
            // SAFETY: The queue is live while the instance is enabled; this is its poll.
            unsafe { bindings::rnet_bench_tx_clean(q, ctx.budget() as i32) };
        }
        0
    }
}

#[pin_data]
struct CTxPriv {
    #[pin]
    napi: Napi<CTxChan>,
}

struct CTx;

#[vtable]
impl Operations for CTx {
    type Data = CTxPriv;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        let ch = napi.data();
        // SAFETY: The ring and its tail register outlive the queue (freed in `stop`); the DMA
        // device and the device's transmit queue 0 are valid.
        let q = unsafe {
            bindings::rnet_bench_txq_new(
                ch.ring.as_ptr(),
                ch.ring.tail_ptr(),
                TX_SIZE,
                ch.dma.as_raw(),
                bindings::netdev_get_tx_queue(dev.as_ptr(), 0),
            )
        };
        if q.is_null() {
            return Err(ENOMEM);
        }
        ch.q.store(q, Ordering::Release);
        napi.enable(rtnl).inspect_err(|_| {
            ch.q.store(ptr::null_mut(), Ordering::Release);
            // SAFETY: The instance did not start and the device is not up: nothing uses it.
            unsafe { bindings::rnet_bench_txq_free(q) };
        })
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        napi.disable(rtnl);
        let q = napi.data().q.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: The device is down (no transmit) and the instance disabled (no poll).
        unsafe { bindings::rnet_bench_txq_free(q) };
        Ok(())
    }

    fn start_xmit(dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        let q = dev.data().get_ref().napi.data().q.load(Ordering::Acquire);
        if q.is_null() {
            drop(skb);
            return TxResult::Ok;
        }
        // SAFETY: The queue is live while the device is up; the core holds the queue's lock.
        // The C driver takes the skb unless it answers busy.
        if unsafe { bindings::rnet_bench_xmit(q, skb.as_ptr()) }
            == bindings::netdev_tx_NETDEV_TX_BUSY
        {
            return TxResult::Busy(skb);
        }
        core::mem::forget(skb);
        TxResult::Ok
    }
}

/// Sends a round of packets through `dev` (timed), lets the device complete them, and times
/// the poll that cleans the ring; returns the nanoseconds and the packets the driver took.
fn tx_round(
    dev: &Device,
    ring: &DevRing<TxDesc>,
    skbs: &mut [*mut bindings::sk_buff; TX_PACKETS as usize],
    schedule: impl Fn() -> bool,
) -> Option<(i64, u32)> {
    // SAFETY: `skbs` has room for `TX_PACKETS` pointers; the device is up.
    let n = unsafe {
        bindings::rnet_bench_alloc_skbs(dev.as_ptr(), skbs.as_mut_ptr(), TX_PACKETS, LEN, ETHERTYPE)
    };
    if n != TX_PACKETS {
        // SAFETY: The `n` skbs allocated are ours.
        unsafe { bindings::rnet_bench_free_skbs(skbs.as_mut_ptr(), n) };
        pr_warn!("net_bench: tx: {} of {} skbs allocated\n", n, TX_PACKETS);
        return None;
    }
    let t0 = now();
    // SAFETY: The skbs are ours; the driver takes those it accepts, the rest stay ours.
    let sent = unsafe { bindings::rnet_bench_send(dev.as_ptr(), skbs.as_mut_ptr(), n) };
    let t1 = now();
    // SAFETY: The skbs from `sent` on were not taken.
    unsafe { bindings::rnet_bench_free_skbs(skbs.as_mut_ptr().add(sent as usize), n - sent) };
    device_transmit(ring);
    let t2 = now();
    let scheduled = schedule();
    let t3 = now();
    if !scheduled {
        pr_warn!("net_bench: tx: the poll was scheduled already\n");
        return None;
    }
    // The stack may transmit on the device meanwhile (IPv6 address configuration): the device
    // sends that too.
    if !settle(|| {
        device_transmit(ring);
        ring.posted() == 0
    }) {
        pr_warn!(
            "net_bench: tx: {} of {} sent, {} not completed (a doorbell not rung?)\n",
            sent,
            n,
            ring.posted()
        );
        return None;
    }
    Some((t1 - t0 + t3 - t2, sent))
}

fn tx_engine_vs_c(test: &Test) -> Result {
    let dma: ARef<device::Device> = dma_device()?.into();
    let e_ring = DevRing::<TxDesc>::new(TX_SIZE)?;
    let c_ring = DevRing::<TxDesc>::new(TX_SIZE)?;
    let (er, cr) = (e_ring.clone(), c_ring.clone());
    let (ed, cd) = (dma.clone(), dma);
    let mut e = Unregistered::<EngineTx>::new_with(1, 1, |dev, slot| {
        slot.init(try_pin_init!(EngineTxPriv {
            napi <- Napi::new(dev, try_pin_init!(EngineTxChan {
                txq <- tx::Queue::new(),
                ring: er,
                dma: ed,
            }? Error), ()),
        }? Error))
    })?;
    e.set_random_mac_address();
    let e = e.register()?;
    let mut c = Unregistered::<CTx>::new_with(1, 1, |dev, slot| {
        slot.init(try_pin_init!(CTxPriv {
            napi <- Napi::new(dev, try_pin_init!(CTxChan {
                q: AtomicPtr::new(ptr::null_mut()),
                ring: cr,
                dma: cd,
            }? Error), ()),
        }? Error))
    })?;
    c.set_random_mac_address();
    let c = c.register()?;
    open(&e)?;
    open(&c)?;
    let e_napi = &e.data().get_ref().napi;
    let c_napi = &c.data().get_ref().napi;
    let mut e_skbs = [ptr::null_mut(); TX_PACKETS as usize];
    let mut c_skbs = [ptr::null_mut(); TX_PACKETS as usize];
    let e_sent = AtomicU64::new(0);
    let c_sent = AtomicU64::new(0);
    // Warm-up rounds: caches, the page allocator and the skb caches settle.
    let warmup = 30;
    let res = alternate(
        warmup,
        TX_ROUNDS,
        |_| {
            let r = tx_round(&e, &e_ring, &mut e_skbs, || e_napi.schedule())?;
            e_sent.fetch_add(u64::from(r.1), Ordering::Relaxed);
            Some(r)
        },
        |_| {
            let r = tx_round(&c, &c_ring, &mut c_skbs, || c_napi.schedule())?;
            c_sent.fetch_add(u64::from(r.1), Ordering::Relaxed);
            Some(r)
        },
    )?;
    kunit_expect!(test, res.is_some());
    // Every packet a driver took was completed and counted (with what the stack sent).
    let e_done = e_napi.data().txq.stats().packets;
    kunit_expect!(test, e_done >= e_sent.load(Ordering::Relaxed));
    let cq = c_napi.data().q.load(Ordering::Acquire);
    // SAFETY: The queue is live (the device is up); its poll is not running (the rounds
    // settled), and the counter is only read.
    let c_done = unsafe { bindings::rnet_bench_tx_packets(cq) };
    kunit_expect!(test, c_done >= c_sent.load(Ordering::Relaxed));
    kunit_expect!(test, e_sent.load(Ordering::Relaxed) > 0);
    if let Some((mut te, mut tc)) = res {
        report("engine_tx", "Rust", &mut te);
        report("engine_tx", "C", &mut tc);
    }
    close(&c);
    close(&e);
    Ok(())
}

kunit_test_suite!(
    rust_net_rx_bench,
    [rx_engine_vs_c, rx_xdp_drop_native_vs_generic]
);
kunit_test_suite!(rust_net_tx_bench, [tx_engine_vs_c]);
