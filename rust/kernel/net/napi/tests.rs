// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_napi`: NAPI instances of a registered device, scheduled and polled by
//! the core, handing packets to GRO.

use super::{Napi, Poll, PollContext, QueueKind};
use crate::{
    bindings,
    kunit::Test,
    kunit_expect, kunit_expect_eq, kunit_test_suite,
    net::{
        netdev::{
            tests::{close, open, settle},
            NetDevice, Operations, Registration, Rtnl, TxResult, TxSkb, Unregistered, Xmit,
        },
        page_pool::{PagePool, Params},
    },
    prelude::*,
};
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Length of the frames the poll receives.
const FRAME: u32 = 60;

/// Headroom of the frames built around pool pages.
const HEADROOM: u32 = 256;

/// Where the received frames come from.
const FROM_SKB: u32 = 1;
const FROM_POOL: u32 = 2;

/// The work of the test's NAPI instance: `work` units, each a received frame if `source`
/// says so. Its poll state is the page pool of the frames built around pool pages.
#[pin_data]
struct Rx {
    work: AtomicU32,
    source: AtomicU32,
    polls: AtomicU32,
    last_budget: AtomicU32,
    attempts: AtomicU32,
    completions: AtomicU32,
    refused: AtomicU32,
    received: AtomicU32,
    consumed: AtomicU32,
    bad_len_refused: AtomicU32,
}

impl Rx {
    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            work: AtomicU32::new(0),
            source: AtomicU32::new(0),
            polls: AtomicU32::new(0),
            last_budget: AtomicU32::new(0),
            attempts: AtomicU32::new(0),
            completions: AtomicU32::new(0),
            refused: AtomicU32::new(0),
            received: AtomicU32::new(0),
            consumed: AtomicU32::new(0),
            bad_len_refused: AtomicU32::new(0),
        }? Error)
    }

    /// Receives one frame through `ctx`.
    fn receive(&self, pool: &mut Option<PagePool>, ctx: &mut PollContext<'_>) -> Result {
        let mut skb = match self.source.load(Relaxed) {
            FROM_SKB => {
                let mut skb = ctx.alloc_skb(FRAME)?;
                skb.put(FRAME)?;
                skb
            }
            FROM_POOL => {
                let page = pool.as_mut().ok_or(EINVAL)?.alloc_page()?;
                ctx.build_skb(page, HEADROOM, FRAME).map_err(|e| e.error)?
            }
            _ => return Ok(()),
        };
        let frame = skb.data_mut();
        frame[..6].fill(0xff);
        frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        // IEEE 802 local experimental: no protocol handler takes it.
        frame[12..14].copy_from_slice(&[0x88, 0xb5]);
        ctx.eth_type_trans(&mut skb)?;
        ctx.gro_receive(skb);
        self.received.fetch_add(1, Relaxed);
        Ok(())
    }
}

impl Poll for Rx {
    type State = Option<PagePool>;

    fn poll(&self, mut pool: Pin<&mut Option<PagePool>>, ctx: &mut PollContext<'_>) -> u32 {
        self.polls.fetch_add(1, Relaxed);
        self.last_budget.store(ctx.budget(), Relaxed);
        // The NAPI skb cache: an skb allocated and consumed again.
        if let Ok(skb) = ctx.alloc_skb(128) {
            ctx.consume_skb(skb);
            self.consumed.fetch_add(1, Relaxed);
        }
        if ctx.alloc_skb(1 << 30).err() == Some(EINVAL) {
            self.bad_len_refused.fetch_add(1, Relaxed);
        }
        let mut done = 0;
        while done < ctx.budget() && self.work.load(Relaxed) > 0 {
            self.work.fetch_sub(1, Relaxed);
            done += 1;
            let _ = self.receive(&mut pool, ctx);
        }
        self.attempts.fetch_add(1, Relaxed);
        if ctx.complete_done(done) {
            self.completions.fetch_add(1, Relaxed);
        } else if done == ctx.budget() {
            self.refused.fetch_add(1, Relaxed);
        }
        done
    }
}

#[pin_data]
struct Priv {
    #[pin]
    napi: Napi<Rx>,
}

/// A driver whose device has one NAPI instance, enabled while the device is up.
struct Drv;

#[vtable]
impl Operations for Drv {
    type Data = Priv;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        dev.data().napi.enable(rtnl)
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        dev.data().napi.disable(rtnl);
        Ok(())
    }

    fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        drop(skb);
        TxResult::Ok
    }
}

fn device() -> Result<Registration<Drv>> {
    let mut dev = Unregistered::<Drv>::new_with(1, 1, |dev, slot| {
        slot.init(try_pin_init!(Priv {
            napi <- Napi::new(dev, Rx::new(), None),
        }? Error))
    })?;
    dev.set_random_mac_address();
    dev.register()
}

/// Runs `f` with bottom halves off: the poll does not run meanwhile on this CPU; it runs when
/// they are enabled again.
fn bh_off<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: Balanced below.
    unsafe { bindings::local_bh_disable() };
    let r = f();
    // SAFETY: Balanced above.
    unsafe { bindings::local_bh_enable() };
    r
}

fn lives_only_in_its_device(test: &Test) -> Result {
    let dev = device()?;
    // Anywhere else, the instance could outlive the device it was added to.
    let res = KBox::pin_init(Napi::new(&dev, Rx::new(), None), GFP_KERNEL);
    kunit_expect_eq!(test, res.err(), Some(EINVAL));
    kunit_expect!(test, !dev.data().napi.is_enabled());
    Ok(())
}

fn budgets_and_completion(test: &Test) -> Result {
    let dev = device()?;
    let napi = &dev.data().napi;
    let rx = napi.data();
    open(&dev)?;
    kunit_expect!(test, napi.is_enabled());

    // 150 units with a budget of 64: two full polls, which may not complete, then one that
    // completes.
    rx.work.store(150, Relaxed);
    kunit_expect!(test, napi.schedule());
    kunit_expect!(test, settle(|| rx.completions.load(Relaxed) == 1));
    kunit_expect_eq!(test, rx.polls.load(Relaxed), 3);
    kunit_expect_eq!(test, rx.last_budget.load(Relaxed), 64);
    kunit_expect_eq!(test, rx.refused.load(Relaxed), 2);
    kunit_expect_eq!(test, rx.work.load(Relaxed), 0);
    kunit_expect_eq!(test, rx.consumed.load(Relaxed), 3);
    kunit_expect_eq!(test, rx.bad_len_refused.load(Relaxed), 3);

    // Scheduled again while scheduled: the first completion reports that it missed a schedule
    // (no interrupt re-arm), and the core polls once more.
    let (first, second) = bh_off(|| (napi.schedule(), napi.schedule_irqoff()));
    kunit_expect!(test, first);
    kunit_expect!(test, !second);
    kunit_expect!(test, settle(|| rx.completions.load(Relaxed) == 2));
    kunit_expect_eq!(test, rx.polls.load(Relaxed), 5);
    kunit_expect_eq!(test, rx.attempts.load(Relaxed), 5);

    // Threaded: the core polls from a kernel thread.
    {
        let rtnl = Rtnl::lock();
        dev.set_threaded(&rtnl, true)?;
    }
    rx.work.store(70, Relaxed);
    kunit_expect!(test, napi.schedule());
    kunit_expect!(test, settle(|| rx.completions.load(Relaxed) == 3));
    kunit_expect_eq!(test, rx.polls.load(Relaxed), 7);
    {
        let rtnl = Rtnl::lock();
        dev.set_threaded(&rtnl, false)?;
    }

    close(&dev);
    kunit_expect!(test, !napi.is_enabled());
    // Disabled: not scheduled, never polled.
    kunit_expect!(test, !napi.schedule());
    settle(|| false);
    kunit_expect_eq!(test, rx.polls.load(Relaxed), 7);
    Ok(())
}

fn gro_receive_reaches_stack(test: &Test) -> Result {
    let dev = device()?;
    let napi = &dev.data().napi;
    let rx = napi.data();
    open(&dev)?;

    rx.source.store(FROM_SKB, Relaxed);
    rx.work.store(5, Relaxed);
    kunit_expect!(test, napi.schedule());
    kunit_expect!(test, settle(|| rx.completions.load(Relaxed) == 1));
    kunit_expect_eq!(test, rx.received.load(Relaxed), 5);

    // The poll's state is the control path's only while the instance is disabled.
    let pool = PagePool::new(&Params::new(64))?;
    {
        let rtnl = Rtnl::lock();
        kunit_expect_eq!(test, napi.with_state(&rtnl, |_| ()), Err(EBUSY));
        napi.disable(&rtnl);
        napi.with_state(&rtnl, |mut state| {
            *state = Some(pool);
            // Not while the state is held: the poll would get it too.
            kunit_expect_eq!(test, napi.enable(&rtnl), Err(EBUSY));
            kunit_expect_eq!(test, napi.with_state(&rtnl, |_| ()), Err(EBUSY));
        })?;
        kunit_expect!(test, !napi.is_enabled());
        napi.enable(&rtnl)?;
    }
    rx.source.store(FROM_POOL, Relaxed);
    rx.work.store(40, Relaxed);
    kunit_expect!(test, napi.schedule());
    kunit_expect!(test, settle(|| rx.completions.load(Relaxed) == 2));
    kunit_expect_eq!(test, rx.received.load(Relaxed), 45);

    // Every frame went through GRO to the stack, which found no handler for it.
    // SAFETY: All-zeroes is a valid `rtnl_link_stats64`.
    let mut stats: bindings::rtnl_link_stats64 = unsafe { core::mem::zeroed() };
    // SAFETY: The device is registered; `stats` is valid storage.
    unsafe { bindings::dev_get_stats(dev.as_ptr(), &mut stats) };
    kunit_expect_eq!(test, stats.rx_dropped + stats.rx_nohandler, 45);

    // The stack freed the skbs built around pool pages: every page came back.
    close(&dev);
    let rtnl = Rtnl::lock();
    let pool = napi.with_state(&rtnl, |mut s| s.take())?.ok_or(EINVAL)?;
    let stats = pool.stats();
    kunit_expect_eq!(test, stats.outstanding(), 0);
    kunit_expect_eq!(test, stats.alloc_slow + stats.alloc_fast, 40);
    Ok(())
}

fn queues_and_irq(test: &Test) -> Result {
    let dev = device()?;
    let napi = &dev.data().napi;
    let rtnl = Rtnl::lock();
    napi.set_queue(&rtnl, QueueKind::Rx, 0)?;
    napi.set_queue(&rtnl, QueueKind::Tx, 0)?;
    kunit_expect_eq!(test, napi.set_queue(&rtnl, QueueKind::Rx, 1), Err(EINVAL));
    kunit_expect_eq!(test, napi.set_queue(&rtnl, QueueKind::Tx, 1), Err(EINVAL));
    napi.set_irq(&rtnl, Some(42));
    // SAFETY: The device and its queues are valid; RTNL is held.
    let (txq, irq) = unsafe {
        (
            (*bindings::netdev_get_tx_queue(dev.as_ptr(), 0)).napi,
            (*napi.as_ptr()).irq,
        )
    };
    kunit_expect!(test, txq == napi.as_ptr());
    kunit_expect_eq!(test, irq, 42);
    kunit_expect!(test, napi.id() != 0);
    Ok(())
}

kunit_test_suite!(
    rust_net_napi,
    [
        lives_only_in_its_device,
        budgets_and_completion,
        gro_receive_reaches_stack,
        queues_and_irq,
    ]
);
