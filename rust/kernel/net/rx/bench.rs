// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_rx_bench`: the per-packet cost of the receive path through the engine
//! against the same sequence of C calls made directly, as a C driver makes them.
//!
//! Both paths receive the same frames from the same software ring into DMA-mapped page-pool
//! buffers bound to their NAPI instance, build skbs around them, hand them to GRO (and the stack
//! drops them: nothing handles their EtherType) and refill their rings in batches. Each round
//! writes a ring's worth of frames (not timed), then times the poll that receives them; the
//! rounds of the two paths alternate. The results are reported, not asserted: only the frame
//! counts are checked.

use super::{
    tests::{Hw, Rig, SwRing, PLAIN},
    Ring, HEADROOM,
};
use crate::{
    bindings, device,
    dma::DataDirection,
    kunit::Test,
    kunit_expect, kunit_expect_eq, kunit_test_suite,
    net::{
        napi::{Napi, Poll, PollContext},
        netdev::{
            tests::{close, open, settle},
            NetDevice, Operations, Registration, Rtnl, TxResult, TxSkb, Unregistered, Xmit,
        },
        page_pool::{PagePool, Params},
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::Arc,
    types::ARef,
};
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Descriptors per ring: one poll (budget 64) receives a full ring.
const SIZE: u32 = 64;

/// Frames per round: the ring holds `SIZE - 1` buffers.
const FRAMES: u32 = SIZE - 1;

/// Rounds per path.
const ROUNDS: u32 = 300;

/// Frame length: the smallest Ethernet frame, where per-packet overhead weighs most.
const LEN: usize = 60;

/// The buffer length of both paths.
const BUF_LEN: u32 = 2048;

/// The baseline's ring state: what a C driver keeps per receive queue.
struct CQueue {
    pool: Option<PagePool>,
    ring: Option<SwRing>,
    pages: KVec<*mut bindings::page>,
    next_to_clean: u32,
    next_to_use: u32,
    posted: u32,
}

// SAFETY: The raw pages are owned pool pages, used only by the poll or while it cannot run.
unsafe impl Send for CQueue {}

impl CQueue {
    /// Posts buffers until the ring is full, one doorbell per 16, as a C driver's refill.
    fn refill(&mut self) {
        let (Some(pool), Some(ring)) = (self.pool.as_ref(), self.ring.as_mut()) else {
            return;
        };
        let mut batched = 0;
        while self.posted < SIZE - 1 {
            // SAFETY: The pool is valid; the poll (or the disabled instance's control path)
            // is its only allocating context.
            let page = unsafe {
                bindings::page_pool_alloc_pages(
                    pool.as_ptr(),
                    bindings::GFP_ATOMIC | bindings::__GFP_NOWARN,
                )
            };
            if page.is_null() {
                break;
            }
            // SAFETY: A mapped pool page.
            let dma = unsafe { bindings::page_pool_get_dma_addr(page) };
            ring.post(self.next_to_use, dma + u64::from(HEADROOM), BUF_LEN);
            self.pages[self.next_to_use as usize] = page;
            self.next_to_use = (self.next_to_use + 1) % SIZE;
            self.posted += 1;
            batched += 1;
            if batched == 16 {
                ring.doorbell(self.next_to_use);
                batched = 0;
            }
        }
        if batched > 0 {
            ring.doorbell(self.next_to_use);
        }
    }

    /// Returns the posted pages and destroys the pool.
    fn teardown(&mut self) {
        let Some(pool) = self.pool.take() else {
            return;
        };
        while self.posted > 0 {
            let page = self.pages[self.next_to_clean as usize];
            // SAFETY: A posted page, whose pool reference we own.
            unsafe { bindings::page_pool_put_full_page(pool.as_ptr(), page, false) };
            self.next_to_clean = (self.next_to_clean + 1) % SIZE;
            self.posted -= 1;
        }
        self.ring = None;
        drop(pool);
    }
}

impl Drop for CQueue {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// The baseline channel.
#[pin_data]
struct CChan {
    hw: Arc<Hw>,
    dma: ARef<device::Device>,
    frames: AtomicU32,
}

impl Poll for CChan {
    type State = CQueue;

    fn poll(&self, q: Pin<&mut CQueue>, ctx: &mut PollContext<'_>) -> u32 {
        let q = q.get_mut();
        let napi = ctx.napi_ptr();
        let dev = ctx.device().as_ptr();
        let dma_dev = self.dma.as_raw();
        let pool = q
            .pool
            .as_ref()
            .map_or(core::ptr::null_mut(), |p| p.as_ptr());
        // Where `build_skb()` puts the shared info, as the engine computes it.
        let frag_size = (PAGE_SIZE & !(bindings::SMP_CACHE_BYTES as usize - 1)) as u32;
        let mut done = 0;
        while done < ctx.budget() && q.posted > 0 {
            let Some(ring) = q.ring.as_mut() else {
                break;
            };
            let Some(c) = ring.completed(q.next_to_clean) else {
                break;
            };
            let page = q.pages[q.next_to_clean as usize];
            q.next_to_clean = (q.next_to_clean + 1) % SIZE;
            q.posted -= 1;
            // SAFETY: The sequence of a C driver's receive path on a page-pool buffer it owns:
            // sync the received bytes for the CPU, build an skb around the buffer, mark it for
            // recycling, parse the Ethernet header and hand it to GRO, in the instance's poll.
            unsafe {
                bindings::dma_sync_single_range_for_cpu(
                    dma_dev,
                    bindings::page_pool_get_dma_addr(page),
                    HEADROOM as usize,
                    c.len as usize,
                    bindings::dma_data_direction_DMA_FROM_DEVICE,
                );
                let va = bindings::page_address(page);
                let skb = bindings::napi_build_skb(va, frag_size);
                if skb.is_null() {
                    bindings::page_pool_put_full_page(pool, page, true);
                    continue;
                }
                bindings::skb_reserve(skb, HEADROOM as i32);
                bindings::skb_put(skb, c.len);
                bindings::skb_mark_for_recycle(skb);
                let proto = bindings::eth_type_trans(skb, dev);
                bindings::skb_set_protocol(skb, proto);
                bindings::skb_record_rx_queue(skb, 0);
                bindings::napi_gro_receive(napi, skb);
            }
            done += 1;
            if SIZE - 1 - q.posted >= 16 {
                q.refill();
            }
        }
        q.refill();
        self.frames.fetch_add(done, Relaxed);
        if done < ctx.budget() {
            ctx.complete_done(done);
        }
        done
    }
}

#[pin_data]
struct CPriv {
    #[pin]
    napi: Napi<CChan>,
}

struct CDrv;

#[vtable]
impl Operations for CDrv {
    type Data = CPriv;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        let ch = napi.data();
        let params = Params::new(SIZE)
            .dma(&ch.dma, DataDirection::FromDevice)
            .sync_for_device(HEADROOM, BUF_LEN);
        // SAFETY: The pool is used by the instance's poll only, and destroyed in `stop` after
        // the instance is disabled (or with the instance's state, before it is deleted).
        let pool = PagePool::new(&unsafe { params.napi(napi.as_ptr()) })?;
        napi.with_state(rtnl, |mut q| {
            q.pool = Some(pool);
            q.ring = Some(SwRing(ch.hw.clone()));
            q.refill();
        })?;
        napi.enable(rtnl)
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().get_ref().napi;
        napi.disable(rtnl);
        napi.with_state(rtnl, |mut q| q.teardown())
    }

    fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        drop(skb);
        TxResult::Ok
    }
}

fn c_device(hw: Arc<Hw>, dma: ARef<device::Device>) -> Result<Registration<CDrv>> {
    let mut pages = KVec::with_capacity(SIZE as usize, GFP_KERNEL)?;
    for _ in 0..SIZE {
        pages.push(core::ptr::null_mut(), GFP_KERNEL)?;
    }
    let q = CQueue {
        pool: None,
        ring: None,
        pages,
        next_to_clean: 0,
        next_to_use: 0,
        posted: 0,
    };
    let mut dev = Unregistered::<CDrv>::new_with(1, 1, |dev, slot| {
        slot.init(try_pin_init!(CPriv {
            napi <- Napi::new(dev, try_pin_init!(CChan {
                hw,
                dma,
                frames: AtomicU32::new(0),
            }? Error), q),
        }? Error))
    })?;
    dev.set_random_mac_address();
    dev.register()
}

/// Writes a ring's worth of frames, then times the poll that receives them; returns the
/// nanoseconds, or `None` if the frames could not all be written or received.
fn round(hw: &Hw, mac: &[u8; 6], napi_schedule: impl Fn() -> bool, seed: u8) -> Option<i64> {
    for i in 0..FRAMES {
        if !hw.receive(mac, LEN, seed.wrapping_add(i as u8), BUF_LEN, PLAIN) {
            return None;
        }
    }
    // From task context the poll runs before `schedule()` returns.
    // SAFETY: FFI call without requirements.
    let t0 = unsafe { bindings::ktime_get() };
    let scheduled = napi_schedule();
    // SAFETY: FFI call without requirements.
    let t1 = unsafe { bindings::ktime_get() };
    if !scheduled || !settle(|| hw.pending() == 0 && hw.posted() == SIZE - 1) {
        return None;
    }
    Some(t1 - t0)
}

fn rx_path_cost(test: &Test) -> Result {
    let rig = Rig::new(SIZE, BUF_LEN)?;
    let c_hw = Hw::new(SIZE)?;
    let c_dev = c_device(c_hw.clone(), rig.chan().dma.clone())?;
    let c_mac = c_dev.mac_address();
    open(&rig.dev)?;
    open(&c_dev)?;
    let engine = &rig.dev.data().get_ref().ch0;
    let c_napi = &c_dev.data().get_ref().napi;

    let mut t_engine = KVec::with_capacity(ROUNDS as usize, GFP_KERNEL)?;
    let mut t_c = KVec::with_capacity(ROUNDS as usize, GFP_KERNEL)?;
    let mut ok = true;
    // One warm-up round each, not counted; the order alternates between rounds.
    for r in 0..=ROUNDS {
        let e_round = || round(&rig.hw, &rig.mac, || engine.schedule(), r as u8);
        let c_round = || round(&c_hw, &c_mac, || c_napi.schedule(), r as u8);
        let (e, c) = if r % 2 == 0 {
            (e_round(), c_round())
        } else {
            let c = c_round();
            (e_round(), c)
        };
        let (Some(e), Some(c)) = (e, c) else {
            ok = false;
            break;
        };
        if r > 0 {
            t_engine.push(e, GFP_KERNEL)?;
            t_c.push(c, GFP_KERNEL)?;
        }
    }
    kunit_expect!(test, ok);
    let frames = u64::from((ROUNDS + 1) * FRAMES);
    kunit_expect_eq!(test, rig.chan().rx.stats().packets, frames);
    kunit_expect_eq!(test, u64::from(c_napi.data().frames.load(Relaxed)), frames);
    if ok {
        // Per-packet nanoseconds of the median and the fastest round: the mean would follow the
        // host's scheduling noise.
        let per = |t: &mut KVec<i64>| {
            t.sort_unstable();
            let f = i64::from(FRAMES);
            (t[t.len() / 2] / f, t[0] / f)
        };
        let (e_med, e_best) = per(&mut t_engine);
        let (c_med, c_best) = per(&mut t_c);
        // Parts per thousand, to print the ratio without floating point.
        let ratio = e_med * 1000 / c_med.max(1);
        pr_info!(
            "rx_bench: engine {} ns/pkt (best {}), C calls {} ns/pkt (best {}), ratio {}.{:03}\n",
            e_med,
            e_best,
            c_med,
            c_best,
            ratio / 1000,
            ratio % 1000
        );
        pr_info!(
            "rx_bench: median of {} rounds of {} frames of {} bytes per path\n",
            ROUNDS,
            FRAMES,
            LEN
        );
    }
    close(&c_dev);
    close(&rig.dev);
    Ok(())
}

kunit_test_suite!(rust_net_rx_bench, [rx_path_cost]);
