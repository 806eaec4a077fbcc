// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_netdev`: real net devices, registered, opened and transmitting
//! through the core, with a datapath that only counts.

use super::{
    is_valid_ether_addr, Device, Features, LinkStats64, MacAddress, NetDevice, Operations,
    QueueStatsRx, QueueStatsTx, Reset, Rtnl, StopResult, TxQueue, TxResult, TxSkb, Unregistered,
    WakeResult, Xmit,
};
use crate::{
    bindings, c_str, error::to_result, kunit::Test, kunit_expect, kunit_expect_eq,
    kunit_test_suite, net::skbuff::SkBuff, prelude::*,
};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

/// Private data dropped so far, by any device of this suite.
static DROPPED: AtomicU32 = AtomicU32::new(0);

/// `ndo_stop` calls so far, by any device of this suite.
static STOPS: AtomicU32 = AtomicU32::new(0);

/// Counts its drop in [`DROPPED`].
struct Tracker;

impl Drop for Tracker {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Relaxed);
    }
}

/// The EtherType of the test's frames: IEEE 802 local experimental.
const ETHERTYPE: [u8; 2] = [0x88, 0xb5];

/// Slots of the pretend transmit ring.
const RING: u32 = 3;

/// The private data of [`Dummy`]: what the core asked of the device.
struct DummyData {
    _tracker: Tracker,
    fail_open: AtomicBool,
    opened: AtomicU32,
    stopped: AtomicU32,
    busy: AtomicU32,
    xmitted: AtomicU32,
    tx_bytes: AtomicU32,
    ring_free: AtomicU32,
    doorbells: AtomicU32,
    mtu: AtomicU32,
    mac_set: AtomicU32,
    timeouts: AtomicU32,
    features_set: AtomicU32,
}

impl DummyData {
    fn new() -> Self {
        Self {
            _tracker: Tracker,
            fail_open: AtomicBool::new(false),
            opened: AtomicU32::new(0),
            stopped: AtomicU32::new(0),
            busy: AtomicU32::new(0),
            xmitted: AtomicU32::new(0),
            tx_bytes: AtomicU32::new(0),
            ring_free: AtomicU32::new(RING),
            doorbells: AtomicU32::new(0),
            mtu: AtomicU32::new(0),
            mac_set: AtomicU32::new(0),
            timeouts: AtomicU32::new(0),
            features_set: AtomicU32::new(0),
        }
    }
}

/// A driver whose transmit ring has [`RING`] slots, completed only by the test.
struct Dummy;

#[vtable]
impl Operations for Dummy {
    type Data = DummyData;

    fn open(dev: &NetDevice<Self>, _rtnl: &Rtnl) -> Result {
        if dev.data().fail_open.load(Relaxed) {
            return Err(EIO);
        }
        dev.data().opened.fetch_add(1, Relaxed);
        dev.carrier_on();
        Ok(())
    }

    fn stop(dev: &NetDevice<Self>, _rtnl: &Rtnl) -> Result {
        dev.data().stopped.fetch_add(1, Relaxed);
        STOPS.fetch_add(1, Relaxed);
        dev.carrier_off();
        Ok(())
    }

    fn start_xmit(dev: &NetDevice<Self>, skb: TxSkb, xmit: &Xmit<'_>) -> TxResult {
        let d = dev.data();
        // Only the test's frames: the stack sends its own (IPv6 neighbour discovery, for one)
        // once the device is up.
        if skb.data().get(12..14) != Some(&ETHERTYPE[..]) {
            skb.consume();
            return TxResult::Ok;
        }
        if d.busy.load(Relaxed) > 0 {
            d.busy.fetch_sub(1, Relaxed);
            return TxResult::Busy(skb);
        }
        d.xmitted.fetch_add(1, Relaxed);
        d.tx_bytes.fetch_add(skb.len(), Relaxed);
        d.ring_free.fetch_sub(1, Relaxed);
        if xmit.sent(skb.len()) {
            d.doorbells.fetch_add(1, Relaxed);
        }
        xmit.maybe_stop(|| d.ring_free.load(Relaxed), 1, 2);
        skb.consume();
        TxResult::Ok
    }

    fn get_stats64(dev: &NetDevice<Self>, stats: &mut LinkStats64) {
        stats.tx_packets = dev.data().xmitted.load(Relaxed).into();
        stats.tx_bytes = dev.data().tx_bytes.load(Relaxed).into();
    }

    fn set_mac_address(dev: &NetDevice<Self>, _rtnl: &Rtnl, _addr: &MacAddress) -> Result {
        dev.data().mac_set.fetch_add(1, Relaxed);
        Ok(())
    }

    fn change_mtu(dev: &NetDevice<Self>, _rtnl: &Rtnl, mtu: u32) -> Result {
        // The "hardware" cannot do 1300.
        if mtu == 1300 {
            return Err(EBUSY);
        }
        dev.data().mtu.store(mtu, Relaxed);
        Ok(())
    }

    fn tx_timeout(dev: &NetDevice<Self>, queue: u32) {
        dev.data().timeouts.fetch_add(queue + 1, Relaxed);
    }

    fn set_features(dev: &NetDevice<Self>, _rtnl: &Rtnl, features: Features) -> Result {
        // The "hardware" cannot do without scatter-gather once it has it.
        if dev.features().contains(Features::SG) && !features.contains(Features::SG) {
            return Err(EBUSY);
        }
        // Called before the core records the new features.
        if dev.features() == features {
            return Err(EINVAL);
        }
        dev.data().features_set.fetch_add(1, Relaxed);
        Ok(())
    }

    fn queue_stats_rx(_dev: &NetDevice<Self>, queue: u32, stats: &mut QueueStatsRx) {
        stats.packets = 100 + u64::from(queue);
    }

    fn queue_stats_tx(dev: &NetDevice<Self>, _queue: u32, stats: &mut QueueStatsTx) {
        stats.packets = dev.data().xmitted.load(Relaxed).into();
    }
}

/// A driver with only the one mandatory operation.
struct Minimal;

#[vtable]
impl Operations for Minimal {
    type Data = ();

    fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        drop(skb);
        TxResult::Ok
    }
}

/// Resets carried out so far, by any device of [`Resetting`], and those without RTNL held.
static RESETS: AtomicU32 = AtomicU32::new(0);
static RESETS_UNLOCKED: AtomicU32 = AtomicU32::new(0);

#[pin_data]
struct ResetData {
    #[pin]
    reset: Reset<Resetting>,
}

/// A driver that counts its resets.
struct Resetting;

#[vtable]
impl Operations for Resetting {
    type Data = ResetData;

    fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        drop(skb);
        TxResult::Ok
    }

    fn reset(_dev: &NetDevice<Self>, _rtnl: &Rtnl) {
        RESETS.fetch_add(1, Relaxed);
        // SAFETY: FFI call without requirements.
        if unsafe { bindings::rtnl_is_locked() } == 0 {
            RESETS_UNLOCKED.fetch_add(1, Relaxed);
        }
    }
}

fn resets_run_later_under_rtnl(test: &Test) -> Result {
    let mut dev = Unregistered::<Resetting>::new(
        1,
        1,
        try_pin_init!(ResetData {
            reset <- Reset::new(),
        }? Error),
    )?;
    dev.set_random_mac_address();
    let before = RESETS.load(Relaxed);
    // Not registered, then registered but down: nothing to reset.
    dev.data().reset.schedule(&dev)?;
    dev.data().reset.flush();
    let dev = dev.register()?;
    dev.data().reset.schedule(&dev)?;
    dev.data().reset.flush();
    kunit_expect_eq!(test, RESETS.load(Relaxed), before);
    // Up: reset once, in process context, under RTNL.
    open(&dev)?;
    dev.data().reset.schedule(&dev)?;
    dev.data().reset.flush();
    kunit_expect_eq!(test, RESETS.load(Relaxed), before + 1);
    kunit_expect_eq!(test, RESETS_UNLOCKED.load(Relaxed), 0);
    // A reset outside the device's private data is refused.
    let stray = KBox::pin_init(Reset::<Resetting>::new(), GFP_KERNEL)?;
    kunit_expect_eq!(test, stray.schedule(&dev), Err(EINVAL));
    // Scheduled as the device goes away: done before it is unregistered, or not at all, and
    // waited for before its data goes.
    dev.data().reset.schedule(&dev)?;
    drop(dev);
    kunit_expect!(test, RESETS.load(Relaxed) <= before + 2);
    kunit_expect_eq!(test, RESETS_UNLOCKED.load(Relaxed), 0);
    Ok(())
}

/// A `Dummy` device with an address, which `dev_open()` requires.
fn dummy() -> Result<Unregistered<Dummy>> {
    let mut dev = Unregistered::new(1, 1, DummyData::new())?;
    dev.set_random_mac_address();
    Ok(dev)
}

/// Returns whether a device with index `ifindex` exists in the initial namespace.
fn lookup(ifindex: i32) -> bool {
    let _rtnl = Rtnl::lock();
    // SAFETY: `init_net` is static; RTNL is held, as the lookup requires.
    let dev = unsafe {
        bindings::__dev_get_by_index(core::ptr::addr_of_mut!(bindings::init_net), ifindex)
    };
    !dev.is_null()
}

/// Lets softirqs run on this CPU until `cond` holds; returns whether it did.
pub(crate) fn settle(cond: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if cond() {
            return true;
        }
        // SAFETY: Balanced; enabling bottom halves runs the softirqs raised meanwhile.
        unsafe {
            bindings::local_bh_disable();
            bindings::local_bh_enable();
            bindings::msleep(5);
        }
    }
    cond()
}

/// Transmits a minimal IPv4 frame of `len` bytes on `dev` through `dev_queue_xmit()`.
fn send(dev: &Device, len: u32) -> Result<i32> {
    let mut skb = SkBuff::alloc(len + 64)?;
    skb.reserve(32)?;
    let frame = skb.put(len)?;
    frame[..6].fill(0xff);
    frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    frame[12..14].copy_from_slice(&ETHERTYPE);
    // SAFETY: `dev` outlives the call; the skb is handed to the core before it returns.
    unsafe { skb.eth_type_trans(dev) }?;
    skb.push(14)?;
    // SAFETY: The skb is valid and has a device; the core takes ownership.
    Ok(unsafe { bindings::__dev_queue_xmit(skb.into_raw().as_ptr(), core::ptr::null_mut()) })
}

/// Lets BQL admit `bytes` in flight on `queue` from the start, as
/// `/sys/class/net/*/queues/tx-*/byte_queue_limits/limit_min` does: the driver of this suite
/// completes only when the test says so.
fn bql_limit_min(queue: &TxQueue, bytes: u32) {
    // SAFETY: The queue is valid and not transmitting yet.
    unsafe {
        let dql = &mut (*queue.as_ptr()).dql;
        dql.min_limit = bytes;
        dql.limit = bytes;
        dql.adj_limit = dql.num_completed + bytes;
    }
}

/// Brings `dev` up (`dev_open()`).
pub(crate) fn open(dev: &Device) -> Result {
    let _rtnl = Rtnl::lock();
    // SAFETY: The device is registered and RTNL held.
    to_result(unsafe { bindings::dev_open(dev.as_ptr(), core::ptr::null_mut()) })
}

/// Brings `dev` down (`dev_close()`).
pub(crate) fn close(dev: &Device) {
    let _rtnl = Rtnl::lock();
    // SAFETY: The device is registered and RTNL held.
    unsafe { bindings::dev_close(dev.as_ptr()) };
}

fn set_mac(dev: &Device, addr: &MacAddress) -> Result {
    // SAFETY: All-zeroes is a valid `sockaddr`.
    let mut sa: bindings::sockaddr = unsafe { core::mem::zeroed() };
    // SAFETY: The device is valid; its type is fixed at allocation.
    sa.sa_family = unsafe { (*dev.as_ptr()).type_ };
    // SAFETY: `sa_data` has room for an Ethernet address.
    unsafe {
        let data = core::ptr::addr_of_mut!(sa.__bindgen_anon_1).cast::<u8>();
        core::ptr::copy_nonoverlapping(addr.as_ptr(), data, addr.len());
    }
    let _rtnl = Rtnl::lock();
    // SAFETY: The device is registered, `sa` valid, RTNL held.
    to_result(unsafe {
        bindings::dev_set_mac_address(dev.as_ptr(), &mut sa, core::ptr::null_mut())
    })
}

fn set_mtu(dev: &Device, mtu: i32) -> Result {
    let _rtnl = Rtnl::lock();
    // SAFETY: The device is registered and RTNL held.
    to_result(unsafe { bindings::dev_set_mtu(dev.as_ptr(), mtu) })
}

/// Asks for offloads `features` on or off, as `ethtool -K` does: only those the device
/// declared changeable.
fn want_features(dev: &Device, features: Features, on: bool) {
    let _rtnl = Rtnl::lock();
    // SAFETY: The device is registered and RTNL held, under which the wanted features change.
    unsafe {
        let raw = dev.as_ptr();
        let asked = features.as_raw() & (*raw).hw_features;
        if on {
            (*raw).wanted_features |= asked;
        } else {
            (*raw).wanted_features &= !asked;
        }
        bindings::netdev_update_features(raw);
    }
}

fn features_changes(test: &Test) -> Result {
    let mut dev = dummy()?;
    // Receive checksums and scatter-gather on; VLAN tag stripping off, but changeable.
    let hw = Features::SG | Features::RXCSUM | Features::HW_VLAN_CTAG_RX;
    dev.set_features(hw, Features::SG | Features::RXCSUM);
    let dev = dev.register()?;
    let set = dev.data().features_set.load(Relaxed);
    kunit_expect!(
        test,
        dev.features().contains(Features::SG | Features::RXCSUM)
    );
    kunit_expect!(test, !dev.features().contains(Features::HW_VLAN_CTAG_RX));
    // Receive checksums off: the driver applies it, then the core records it.
    want_features(&dev, Features::RXCSUM, false);
    kunit_expect_eq!(test, dev.data().features_set.load(Relaxed), set + 1);
    kunit_expect!(test, !dev.features().contains(Features::RXCSUM));
    kunit_expect!(test, dev.features().contains(Features::SG));
    // Refused by the driver: nothing changes.
    want_features(&dev, Features::SG, false);
    kunit_expect_eq!(test, dev.data().features_set.load(Relaxed), set + 1);
    kunit_expect!(test, dev.features().contains(Features::SG));
    // Wanted again: the features are what the device has, so the driver is not asked.
    want_features(&dev, Features::SG, true);
    kunit_expect_eq!(test, dev.data().features_set.load(Relaxed), set + 1);
    // Turned on.
    want_features(&dev, Features::HW_VLAN_CTAG_RX, true);
    kunit_expect_eq!(test, dev.data().features_set.load(Relaxed), set + 2);
    kunit_expect!(test, dev.features().contains(Features::HW_VLAN_CTAG_RX));
    // Not declared: never asked for.
    want_features(&dev, Features::HW_CSUM, true);
    kunit_expect_eq!(test, dev.data().features_set.load(Relaxed), set + 2);
    kunit_expect!(test, !dev.features().contains(Features::HW_CSUM));
    Ok(())
}

fn alloc_and_setup(test: &Test) -> Result {
    let dropped = DROPPED.load(Relaxed);
    let mut dev = Unregistered::<Dummy>::new(4, 2, DummyData::new())?;
    kunit_expect_eq!(test, dev.num_tx_queues(), 4);
    kunit_expect_eq!(test, dev.num_rx_queues(), 2);
    kunit_expect!(test, dev.tx_queue(3).is_some());
    kunit_expect!(test, dev.tx_queue(4).is_none());
    kunit_expect_eq!(test, dev.tx_queue(3).map(|q| q.index()), Some(3));
    kunit_expect_eq!(test, dev.data().ring_free.load(Relaxed), RING);
    kunit_expect_eq!(test, dev.ifindex(), 0);

    kunit_expect_eq!(
        test,
        dev.set_mac_address(&[1, 0, 0, 0, 0, 1]),
        Err(EADDRNOTAVAIL)
    );
    kunit_expect_eq!(test, dev.set_mac_address(&[0; 6]), Err(EADDRNOTAVAIL));
    dev.set_mac_address(&[2, 0, 0, 0, 0, 7])?;
    kunit_expect_eq!(test, dev.mac_address(), [2, 0, 0, 0, 0, 7]);
    dev.set_random_mac_address();
    let mac = dev.mac_address();
    kunit_expect!(test, is_valid_ether_addr(&mac));
    // Locally administered.
    kunit_expect_eq!(test, mac[0] & 2, 2);

    kunit_expect_eq!(test, dev.set_mtu_limits(60, 1500), Err(EINVAL));
    kunit_expect_eq!(test, dev.set_mtu_limits(2000, 1500), Err(EINVAL));
    dev.set_mtu_limits(68, 1000)?;
    kunit_expect_eq!(test, dev.mtu(), 1000);
    kunit_expect_eq!(test, dev.set_name(c_str!("a/b")), Err(EINVAL));
    kunit_expect_eq!(test, dev.set_name(c_str!("0123456789abcdef")), Err(EINVAL));

    drop(dev);
    kunit_expect_eq!(test, DROPPED.load(Relaxed), dropped + 1);
    // No queues: refused; the data given (a value) is dropped unused.
    kunit_expect_eq!(
        test,
        Unregistered::<Dummy>::new(0, 1, DummyData::new()).err(),
        Some(EINVAL)
    );
    kunit_expect_eq!(test, DROPPED.load(Relaxed), dropped + 2);
    Ok(())
}

fn init_failure_drops_partial_data(test: &Test) -> Result {
    let dropped = DROPPED.load(Relaxed);
    let fail = || -> Result<AtomicU32> { Err(ENOSPC) };
    let res = Unregistered::<Dummy>::new(1, 1, {
        try_init!(DummyData {
            _tracker: Tracker,
            fail_open: AtomicBool::new(false),
            opened: fail()?,
            stopped: AtomicU32::new(0),
            busy: AtomicU32::new(0),
            xmitted: AtomicU32::new(0),
            tx_bytes: AtomicU32::new(0),
            ring_free: AtomicU32::new(RING),
            doorbells: AtomicU32::new(0),
            mtu: AtomicU32::new(0),
            mac_set: AtomicU32::new(0),
            timeouts: AtomicU32::new(0),
            features_set: AtomicU32::new(0),
        })
    });
    kunit_expect_eq!(test, res.err(), Some(ENOSPC));
    // The field initialized before the failure was dropped, once.
    kunit_expect_eq!(test, DROPPED.load(Relaxed), dropped + 1);

    // Data initialized, then a failure: the data is dropped with the device.
    let res = Unregistered::<Dummy>::new_with(1, 1, |_, slot| {
        slot.init(DummyData::new())?;
        Err(ENOSPC)
    });
    kunit_expect_eq!(test, res.err(), Some(ENOSPC));
    kunit_expect_eq!(test, DROPPED.load(Relaxed), dropped + 2);
    Ok(())
}

fn register_appears_and_disappears(test: &Test) -> Result {
    let dropped = DROPPED.load(Relaxed);
    let mut dev = dummy()?;
    dev.set_name(c_str!("rnctest%d"))?;
    let reg = dev.register()?;
    let ifindex = reg.ifindex();
    kunit_expect!(test, ifindex > 0);
    kunit_expect!(test, lookup(ifindex));
    // The core replaced `%d`.
    // SAFETY: `name` is NUL-terminated, and stable while RTNL is not taken by the test.
    let name = unsafe { CStr::from_char_ptr((*reg.as_ptr()).name.as_ptr()) };
    kunit_expect!(test, name.as_bytes().starts_with(b"rnctest"));
    kunit_expect!(test, name.as_bytes() != b"rnctest%d");
    kunit_expect!(test, !reg.is_running());
    drop(reg);
    kunit_expect!(test, !lookup(ifindex));
    kunit_expect_eq!(test, DROPPED.load(Relaxed), dropped + 1);
    Ok(())
}

fn register_failure(test: &Test) -> Result {
    let dropped = DROPPED.load(Relaxed);
    let mut first = dummy()?;
    first.set_name(c_str!("rncdup"))?;
    let first = first.register()?;
    let mut second = dummy()?;
    second.set_name(c_str!("rncdup"))?;
    kunit_expect_eq!(test, second.register().err(), Some(EEXIST));
    // The failed device was freed with its data; the first is untouched.
    kunit_expect_eq!(test, DROPPED.load(Relaxed), dropped + 1);
    kunit_expect!(test, lookup(first.ifindex()));
    drop(first);
    kunit_expect_eq!(test, DROPPED.load(Relaxed), dropped + 2);
    Ok(())
}

fn open_and_stop(test: &Test) -> Result {
    let reg = dummy()?.register()?;
    let d = reg.data();
    d.fail_open.store(true, Relaxed);
    kunit_expect_eq!(test, open(&reg), Err(EIO));
    kunit_expect!(test, !reg.is_running());
    kunit_expect_eq!(test, d.opened.load(Relaxed), 0);

    d.fail_open.store(false, Relaxed);
    open(&reg)?;
    kunit_expect!(test, reg.is_running());
    kunit_expect!(test, reg.carrier_ok());
    kunit_expect_eq!(test, d.opened.load(Relaxed), 1);
    close(&reg);
    kunit_expect!(test, !reg.is_running());
    kunit_expect_eq!(test, d.stopped.load(Relaxed), 1);

    // Unregistering an open device stops it first.
    open(&reg)?;
    let stops = STOPS.load(Relaxed);
    drop(reg);
    kunit_expect_eq!(test, STOPS.load(Relaxed), stops + 1);
    Ok(())
}

fn xmit_and_stats(test: &Test) -> Result {
    let reg = dummy()?.register()?;
    let d = reg.data();
    bql_limit_min(reg.tx_queue(0).ok_or(EINVAL)?, 1 << 16);
    open(&reg)?;
    kunit_expect_eq!(test, send(&reg, 60)?, 0);
    kunit_expect_eq!(test, send(&reg, 100)?, 0);
    kunit_expect!(test, settle(|| d.xmitted.load(Relaxed) == 2));
    kunit_expect_eq!(test, d.tx_bytes.load(Relaxed), 160);
    // One doorbell per packet: nothing else was queued behind them.
    kunit_expect_eq!(test, d.doorbells.load(Relaxed), 2);

    // SAFETY: All-zeroes is a valid `rtnl_link_stats64`.
    let mut stats: LinkStats64 = unsafe { core::mem::zeroed() };
    // SAFETY: The device is registered; `stats` is valid storage.
    unsafe { bindings::dev_get_stats(reg.as_ptr(), &mut stats) };
    kunit_expect_eq!(test, stats.tx_packets, 2);
    kunit_expect_eq!(test, stats.tx_bytes, 160);

    // SAFETY: Both are made of `u64`s only; the sums start at zero.
    let (mut rx, mut tx): (QueueStatsRx, QueueStatsTx) =
        unsafe { (core::mem::zeroed(), core::mem::zeroed()) };
    // SAFETY: The device is registered and has `stat_ops`; the sums are valid storage.
    unsafe { bindings::netdev_stat_queue_sum(reg.as_ptr(), 0, 1, &mut rx, 0, 1, &mut tx) };
    kunit_expect_eq!(test, rx.packets, 100);
    kunit_expect_eq!(test, tx.packets, 2);
    // Not reported by the driver: nothing added.
    kunit_expect_eq!(test, rx.bytes, 0);
    close(&reg);
    Ok(())
}

fn queue_stop_wake_bql(test: &Test) -> Result {
    let reg = dummy()?.register()?;
    let d = reg.data();
    let queue = reg.tx_queue(0).ok_or(EINVAL)?;
    bql_limit_min(queue, 1 << 16);
    open(&reg)?;
    for _ in 0..RING {
        send(&reg, 64)?;
    }
    kunit_expect!(test, settle(|| d.xmitted.load(Relaxed) == RING));
    // The ring is full: the driver stopped the queue.
    kunit_expect!(test, queue.is_stopped());
    // The core keeps this one while the queue is stopped.
    send(&reg, 64)?;
    settle(|| false);
    kunit_expect_eq!(test, d.xmitted.load(Relaxed), RING);

    // SAFETY: The queue is valid; `dql` is only read.
    let (queued, completed) = unsafe {
        let dql = &(*queue.as_ptr()).dql;
        (dql.num_queued, dql.num_completed)
    };
    kunit_expect_eq!(test, queued - completed, RING * 64);

    // Complete one: still below the start threshold, the queue stays stopped.
    d.ring_free.fetch_add(1, Relaxed);
    // SAFETY: This test is the only completion context of the queue; 64 bytes were sent.
    let wake = unsafe { queue.completed_wake(1, 64, || d.ring_free.load(Relaxed), 2, || false) };
    kunit_expect_eq!(test, wake, WakeResult::NoRoom);
    kunit_expect!(test, queue.is_stopped());
    // Complete the rest: woken, and the held packet goes out.
    d.ring_free.fetch_add(RING - 1, Relaxed);
    // SAFETY: As above.
    let wake = unsafe {
        queue.completed_wake(
            RING - 1,
            (RING - 1) * 64,
            || d.ring_free.load(Relaxed),
            2,
            || false,
        )
    };
    kunit_expect_eq!(test, wake, WakeResult::Woken);
    kunit_expect!(test, settle(|| d.xmitted.load(Relaxed) == RING + 1));
    kunit_expect!(test, !queue.is_stopped());
    d.ring_free.fetch_add(1, Relaxed);
    // SAFETY: As above.
    let wake = unsafe { queue.completed_wake(1, 64, || d.ring_free.load(Relaxed), 2, || false) };
    kunit_expect_eq!(test, wake, WakeResult::Running);

    // BQL balanced: everything queued was completed.
    // SAFETY: As above.
    let (queued, completed) = unsafe {
        let dql = &(*queue.as_ptr()).dql;
        (dql.num_queued, dql.num_completed)
    };
    kunit_expect_eq!(test, queued, completed);
    kunit_expect_eq!(test, queued, (RING + 1) * 64);

    // `maybe_stop()` itself: room, none, and room that appears in between.
    kunit_expect_eq!(test, queue.maybe_stop(|| 5, 1, 2), StopResult::Running);
    kunit_expect_eq!(test, queue.maybe_stop(|| 0, 1, 2), StopResult::Stopped);
    kunit_expect!(test, queue.is_stopped());
    let calls = AtomicU32::new(0);
    let res = queue.maybe_stop(
        || {
            if calls.fetch_add(1, Relaxed) == 0 {
                0
            } else {
                4
            }
        },
        1,
        2,
    );
    kunit_expect_eq!(test, res, StopResult::Restarted);
    kunit_expect!(test, !queue.is_stopped());
    close(&reg);
    Ok(())
}

fn xmit_busy_is_retried(test: &Test) -> Result {
    let reg = dummy()?.register()?;
    let d = reg.data();
    open(&reg)?;
    d.busy.store(1, Relaxed);
    kunit_expect_eq!(test, send(&reg, 80)?, 0);
    // The core kept the packet it was told to keep and sent it again.
    kunit_expect!(test, settle(|| d.xmitted.load(Relaxed) == 1));
    kunit_expect_eq!(test, d.busy.load(Relaxed), 0);
    kunit_expect_eq!(test, d.tx_bytes.load(Relaxed), 80);
    close(&reg);
    Ok(())
}

fn mtu_and_mac_changes(test: &Test) -> Result {
    let mut dev = dummy()?;
    dev.set_mtu_limits(68, 9000)?;
    let reg = dev.register()?;
    let d = reg.data();
    kunit_expect_eq!(test, set_mtu(&reg, 9001), Err(EINVAL));
    kunit_expect_eq!(test, d.mtu.load(Relaxed), 0);
    set_mtu(&reg, 1280)?;
    kunit_expect_eq!(test, d.mtu.load(Relaxed), 1280);
    kunit_expect_eq!(test, reg.mtu(), 1280);
    // Refused by the driver: the MTU is unchanged.
    kunit_expect_eq!(test, set_mtu(&reg, 1300), Err(EBUSY));
    kunit_expect_eq!(test, reg.mtu(), 1280);

    kunit_expect_eq!(test, set_mac(&reg, &[3, 0, 0, 0, 0, 1]), Err(EADDRNOTAVAIL));
    kunit_expect_eq!(test, d.mac_set.load(Relaxed), 0);
    set_mac(&reg, &[2, 0, 0, 0, 0, 9])?;
    kunit_expect_eq!(test, d.mac_set.load(Relaxed), 1);
    kunit_expect_eq!(test, reg.mac_address(), [2, 0, 0, 0, 0, 9]);

    // A driver without `set_mac_address`: the core's answer; without `change_mtu`: the core
    // changes the MTU alone.
    let min = Unregistered::<Minimal>::new(1, 1, ())?.register()?;
    kunit_expect_eq!(test, set_mac(&min, &[2, 0, 0, 0, 0, 10]), Err(EOPNOTSUPP));
    set_mtu(&min, 1400)?;
    kunit_expect_eq!(test, min.mtu(), 1400);
    Ok(())
}

fn ops_tables(test: &Test) -> Result {
    let full = dummy()?;
    let min = Unregistered::<Minimal>::new(1, 1, ())?;
    // SAFETY: Both devices are valid; their tables are static.
    let (f, m) = unsafe { (&*(*full.as_ptr()).netdev_ops, &*(*min.as_ptr()).netdev_ops) };
    kunit_expect!(test, f.ndo_open.is_some() && f.ndo_stop.is_some());
    kunit_expect!(
        test,
        f.ndo_set_mac_address.is_some() && f.ndo_change_mtu.is_some()
    );
    kunit_expect!(test, m.ndo_start_xmit.is_some());
    kunit_expect!(test, m.ndo_open.is_none());
    kunit_expect!(
        test,
        m.ndo_get_stats64.is_none() && m.ndo_tx_timeout.is_none()
    );
    kunit_expect!(
        test,
        m.ndo_set_mac_address.is_none() && m.ndo_change_mtu.is_none()
    );
    kunit_expect!(
        test,
        f.ndo_set_features.is_some() && m.ndo_set_features.is_none()
    );
    // SAFETY: As above.
    kunit_expect!(test, unsafe { (*min.as_ptr()).stat_ops }.is_null());
    // SAFETY: As above.
    kunit_expect!(test, !unsafe { (*full.as_ptr()).stat_ops }.is_null());

    // The watchdog's callback reaches the driver with the queue index.
    if let Some(timeout) = f.ndo_tx_timeout {
        // SAFETY: The device is `Dummy`'s; the callback only counts.
        unsafe { timeout(full.as_ptr(), 2) };
    }
    kunit_expect_eq!(test, full.data().timeouts.load(Relaxed), 3);
    Ok(())
}

kunit_test_suite!(
    rust_net_netdev,
    [
        alloc_and_setup,
        init_failure_drops_partial_data,
        register_appears_and_disappears,
        register_failure,
        open_and_stop,
        xmit_and_stats,
        queue_stop_wake_bql,
        xmit_busy_is_retried,
        mtu_and_mac_changes,
        features_changes,
        resets_run_later_under_rtnl,
        ops_tables,
    ]
);
