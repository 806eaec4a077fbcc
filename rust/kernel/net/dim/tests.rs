// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_dim`: the core's moderation algorithm stepping a recording driver.

use super::{Dim, Moderate, Moderation, DEFAULT_PROFILE, PROFILES};
use crate::{
    delay, kunit::Test, kunit_expect, kunit_expect_eq, kunit_test_suite, net::netdev::Rtnl,
    prelude::*, sync::Arc,
};
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// What the driver was asked to do.
#[derive(Default)]
struct Steps {
    /// Steps begun and finished.
    begun: AtomicU32,
    done: AtomicU32,
    /// The interval of the last one.
    usecs: AtomicU32,
    /// How long each step takes, in milliseconds.
    slow: AtomicU32,
}

struct Recorder(Arc<Steps>);

impl Moderate for Recorder {
    fn moderate(&self, m: Moderation) {
        self.0.begun.fetch_add(1, Relaxed);
        let slow = self.0.slow.load(Relaxed);
        if slow > 0 {
            delay::msleep(slow);
        }
        self.0.usecs.store(u32::from(m.usecs), Relaxed);
        self.0.done.fetch_add(1, Relaxed);
    }
}

/// A moderation, what it asked of the driver, and the counters its samples reached.
type Measured = (Pin<KBox<Dim<Recorder>>>, Arc<Steps>, (u64, u64));

/// A moderation that took its first measurement: traffic where there was none, so its first
/// step is queued (each step taking `slow` milliseconds).
fn measured(slow: u32) -> Result<Measured> {
    let steps = Arc::new(Steps::default(), GFP_KERNEL)?;
    steps.slow.store(slow, Relaxed);
    let dim = KBox::pin_init(
        Dim::new(Recorder(steps.clone()), DEFAULT_PROFILE),
        GFP_KERNEL,
    )?;
    // The first sample starts the measurement; nothing is decided before 64 more.
    dim.sample(|| (0, 0));
    let at = window(&dim, (0, 0), 100_000);
    Ok((dim, steps, at))
}

/// Feeds the 64 samples of one measurement, `bytes` per sample and 50 us apart, after the
/// counters `at`; returns the counters after it.
fn window(dim: &Dim<Recorder>, at: (u64, u64), bytes: u64) -> (u64, u64) {
    let (mut packets, mut total) = at;
    for _ in 0..64 {
        delay::udelay(50);
        packets += bytes.div_ceil(1500);
        total += bytes;
        dim.sample(|| (packets, total));
    }
    (packets, total)
}

fn profiles(test: &Test) -> Result {
    // Receive profiles, in microseconds: shortest first, the default second.
    let usecs: [Option<u16>; PROFILES as usize] =
        core::array::from_fn(|i| Moderation::of_profile(i as u8).map(|m| m.usecs));
    kunit_expect_eq!(
        test,
        usecs,
        [Some(1), Some(8), Some(64), Some(128), Some(256)]
    );
    kunit_expect_eq!(test, DEFAULT_PROFILE, 1);
    kunit_expect_eq!(test, Moderation::of_profile(PROFILES), None);
    Ok(())
}

fn steps_follow_the_traffic(test: &Test) -> Result {
    let (dim, steps, at) = measured(0)?;
    dim.flush();
    // Traffic where there was none: the algorithm leaves its parking place, towards shorter
    // intervals from the default.
    kunit_expect_eq!(test, steps.done.load(Relaxed), 1);
    kunit_expect_eq!(test, steps.usecs.load(Relaxed), 1);
    // A hundredth of it: worse, so it turns back.
    dim.sample(|| at);
    window(&dim, at, 1000);
    dim.flush();
    kunit_expect_eq!(test, steps.done.load(Relaxed), 2);
    kunit_expect_eq!(test, steps.usecs.load(Relaxed), 8);
    Ok(())
}

fn disabled_takes_no_samples(test: &Test) -> Result {
    let (dim, steps, at) = measured(0)?;
    dim.flush();
    kunit_expect_eq!(test, steps.done.load(Relaxed), 1);
    {
        let rtnl = Rtnl::lock();
        dim.set_enabled(false, &rtnl);
        kunit_expect!(test, !dim.is_enabled());
    }
    // Whatever the traffic does, the driver keeps its own moderation.
    dim.sample(|| at);
    let at = window(&dim, at, 1000);
    let at = window(&dim, at, 1000);
    dim.flush();
    kunit_expect_eq!(test, steps.begun.load(Relaxed), 1);
    kunit_expect_eq!(test, steps.usecs.load(Relaxed), 1);
    {
        // The driver's own moderation meanwhile.
        steps.usecs.store(500, Relaxed);
        let rtnl = Rtnl::lock();
        dim.set_enabled(true, &rtnl);
        kunit_expect!(test, dim.is_enabled());
    }
    // Enabled again, it applies the profile it was at ...
    kunit_expect_eq!(test, steps.done.load(Relaxed), 2);
    kunit_expect_eq!(test, steps.usecs.load(Relaxed), 1);
    // ... and measures afresh: traffic where there was none, and it is at the shortest
    // interval: it leaves its parking place towards longer ones.
    dim.sample(|| at);
    window(&dim, at, 1000);
    dim.flush();
    kunit_expect_eq!(test, steps.done.load(Relaxed), 3);
    kunit_expect_eq!(test, steps.usecs.load(Relaxed), 8);
    Ok(())
}

fn drop_waits_for_a_step(test: &Test) -> Result {
    let (dim, steps, _) = measured(20)?;
    // The step is queued, or under way: dropping cancels it or waits for it.
    drop(dim);
    let (begun, done) = (steps.begun.load(Relaxed), steps.done.load(Relaxed));
    kunit_expect_eq!(test, begun, done);
    kunit_expect!(test, done <= 1);
    Ok(())
}

fn disabling_waits_for_a_step(test: &Test) -> Result {
    let (dim, steps, _) = measured(20)?;
    let rtnl = Rtnl::lock();
    dim.set_enabled(false, &rtnl);
    let (begun, done) = (steps.begun.load(Relaxed), steps.done.load(Relaxed));
    kunit_expect_eq!(test, begun, done);
    drop(rtnl);
    delay::msleep(50);
    kunit_expect_eq!(test, steps.begun.load(Relaxed), begun);
    Ok(())
}

kunit_test_suite!(
    rust_net_dim,
    [
        profiles,
        steps_follow_the_traffic,
        disabled_takes_no_samples,
        drop_waits_for_a_step,
        disabling_waits_for_a_step,
    ]
);
