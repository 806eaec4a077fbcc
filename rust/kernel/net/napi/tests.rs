// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_napi`: NAPI instances of a registered device, scheduled and polled by
//! the core, handing packets to GRO.

use super::{bh_off, CleanContext, Napi, Poll, PollContext, QueueKind};
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
use core::sync::atomic::{
    AtomicPtr, AtomicU32, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};

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
    checks: Checks,
}

/// What the poll and the re-arm found of the instance.
#[derive(Default)]
struct Checks {
    /// The instance.
    napi: AtomicPtr<bindings::napi_struct>,
    /// Polls that found the instance not owned (`NAPI_STATE_SCHED` clear).
    unowned_polls: AtomicU32,
    /// Re-arms that found the instance still owned.
    owned_rearms: AtomicU32,
    /// netpoll's polls.
    tx_polls: AtomicU32,
}

/// Returns the state bits of `napi`.
fn napi_state(napi: *mut bindings::napi_struct) -> usize {
    // SAFETY: The instance is live; its state word is only changed atomically.
    unsafe { AtomicUsize::from_ptr(core::ptr::addr_of_mut!((*napi).state).cast()) }.load(Relaxed)
}

/// Whether `napi` is owned by a poll (or disabled).
fn owned(napi: *mut bindings::napi_struct) -> bool {
    napi_state(napi) & (1 << bindings::NAPI_STATE_SCHED) != 0
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
            checks: Checks::default(),
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
        if !owned(self.checks.napi.load(Relaxed)) {
            self.checks.unowned_polls.fetch_add(1, Relaxed);
        }
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
        if done == ctx.budget() {
            self.refused.fetch_add(1, Relaxed);
        }
        done
    }

    fn rearm(&self) {
        // The adapter completed the instance after the poll returned: it is no longer owned.
        if owned(self.checks.napi.load(Relaxed)) {
            self.checks.owned_rearms.fetch_add(1, Relaxed);
        }
        self.completions.fetch_add(1, Relaxed);
    }

    fn poll_tx(&self, _pool: Pin<&mut Option<PagePool>>, ctx: &CleanContext<'_>) {
        if ctx.is_netpoll() && ctx.budget() == 0 {
            self.checks.tx_polls.fetch_add(1, Relaxed);
        }
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
    let napi = &dev.data().napi;
    napi.data().checks.napi.store(napi.as_ptr(), Relaxed);
    dev.register()
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

    // Every poll owned the instance; every re-arm came after it was given up.
    kunit_expect_eq!(test, rx.checks.unowned_polls.load(Relaxed), 0);
    kunit_expect_eq!(test, rx.checks.owned_rearms.load(Relaxed), 0);

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

/// Polls `napi` as netpoll does (`poll_one_napi()`): with interrupts off, `NAPI_STATE_NPSVC`
/// held and a budget of 0. Instead of netpoll's `poll_owner` (which only excludes the other
/// polls once netpoll is set up on the device), it also takes `NAPI_STATE_SCHED`, as a poll
/// owning the instance does, so that no other poll can run meanwhile. Returns what the poll
/// returned, or -1 if the instance was not idle and enabled.
///
/// # Safety
///
/// `napi` must be a live instance.
pub(crate) unsafe fn netpoll(napi: *mut bindings::napi_struct) -> i32 {
    let bits = (1usize << bindings::NAPI_STATE_NPSVC) | (1usize << bindings::NAPI_STATE_SCHED);
    // SAFETY: The instance is live, by the safety requirements; its state word is only changed
    // atomically. Interrupts are off around the call, as netpoll has them, and nothing here
    // sleeps. The poll runs only if both bits were clear: the instance is enabled (a disabled
    // one holds both) and no poll owns it, and none can start until they are cleared again.
    unsafe {
        let state = AtomicUsize::from_ptr(core::ptr::addr_of_mut!((*napi).state).cast());
        bindings::local_irq_disable();
        let prev = state.fetch_or(bits, SeqCst);
        let work = if prev & bits == 0 {
            let work = (*napi).poll.map_or(-1, |poll| poll(napi, 0));
            state.fetch_and(!bits, SeqCst);
            work
        } else {
            // Undo only what this call set.
            state.fetch_and(!(bits & !prev), SeqCst);
            -1
        };
        bindings::local_irq_enable();
        work
    }
}

/// Scheduling from task context with interrupts off: bottom halves cannot be enabled there
/// (`local_bh_enable()` warns), so the softirq is left to `ksoftirqd`.
fn schedule_with_irqs_off(test: &Test) -> Result {
    let dev = device()?;
    let napi = &dev.data().napi;
    let rx = napi.data();
    open(&dev)?;
    rx.work.store(3, Relaxed);
    // SAFETY: Balanced below; nothing here sleeps.
    unsafe { bindings::local_irq_disable() };
    let scheduled = napi.schedule();
    // SAFETY: Balances the call above.
    unsafe { bindings::local_irq_enable() };
    kunit_expect!(test, scheduled);
    kunit_expect!(test, settle(|| rx.completions.load(Relaxed) == 1));
    kunit_expect_eq!(test, rx.work.load(Relaxed), 0);
    close(&dev);
    Ok(())
}

/// netpoll's poll (budget 0, interrupts off) reaches only `poll_tx`, with a context that allows
/// transmit completion only; it neither completes nor re-arms.
fn netpoll_cleans_only(test: &Test) -> Result {
    let dev = device()?;
    let napi = &dev.data().napi;
    let rx = napi.data();
    open(&dev)?;
    // SAFETY: The instance is live.
    let work = unsafe { netpoll(napi.as_ptr()) };
    let polls = rx.polls.load(Relaxed);
    kunit_expect_eq!(test, work, 0);
    kunit_expect_eq!(test, rx.checks.tx_polls.load(Relaxed), 1);
    kunit_expect_eq!(test, polls, 0);
    kunit_expect_eq!(test, rx.completions.load(Relaxed), 0);
    close(&dev);
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
        schedule_with_irqs_off,
        netpoll_cleans_only,
        queues_and_irq,
    ]
);
