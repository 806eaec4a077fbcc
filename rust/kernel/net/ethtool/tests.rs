// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_ethtool`: a registered device's ethtool operations, reached through
//! the ethtool core's ioctl handler (`dev_ethtool()`) with requests in user memory, as the
//! `ethtool` tool sends them.

use super::{
    coalesce, Channels, Coalesce, DrvInfo, LinkSettings, Operations, RingParam, GSTRING_LEN,
};
use crate::{
    bindings,
    error::to_result,
    kunit::Test,
    kunit_expect, kunit_expect_eq, kunit_test_suite,
    net::netdev::{
        self, Device, NetDevice, Registration, Rtnl, TxResult, TxSkb, Unregistered, Xmit,
    },
    prelude::*,
};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

/// Maximum ring size the test device reports.
const RING_MAX: u32 = 4096;

/// Maximum number of combined channels the test device reports.
const CHANNELS_MAX: u32 = 4;

struct EthData {
    link: AtomicBool,
    rx_ring: AtomicU32,
    tx_ring: AtomicU32,
    combined: AtomicU32,
    rx_usecs: AtomicU32,
    set_calls: AtomicU32,
}

/// A device with every ethtool operation the trait has except `set_link_settings`.
struct Eth;

#[vtable]
impl netdev::Operations for Eth {
    type Data = EthData;

    fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        drop(skb);
        TxResult::Ok
    }
}

#[vtable]
impl Operations for Eth {
    const STAT_NAMES: &'static [&'static str] = &[
        "rx_polls",
        "tx_doorbells",
        "a_statistic_name_longer_than_ethtool_allows",
    ];

    const SUPPORTED_COALESCE: u32 = coalesce::RX_USECS;

    fn get_drvinfo(_dev: &NetDevice<Self>, info: &mut DrvInfo<'_>) {
        info.set_driver("rnetcore_test");
        info.set_fw_version("1.2");
        info.set_bus_info("virtual");
    }

    fn get_link(dev: &NetDevice<Self>) -> bool {
        dev.data().link.load(Relaxed)
    }

    fn get_ringparam(dev: &NetDevice<Self>, ring: &mut RingParam) {
        ring.rx_max_pending = RING_MAX;
        ring.tx_max_pending = RING_MAX;
        ring.rx_pending = dev.data().rx_ring.load(Relaxed);
        ring.tx_pending = dev.data().tx_ring.load(Relaxed);
    }

    fn set_ringparam(dev: &NetDevice<Self>, _rtnl: &Rtnl, ring: &RingParam) -> Result {
        dev.data().set_calls.fetch_add(1, Relaxed);
        dev.data().rx_ring.store(ring.rx_pending, Relaxed);
        dev.data().tx_ring.store(ring.tx_pending, Relaxed);
        Ok(())
    }

    fn get_channels(dev: &NetDevice<Self>, channels: &mut Channels) {
        channels.max_combined = CHANNELS_MAX;
        channels.combined_count = dev.data().combined.load(Relaxed);
    }

    fn set_channels(dev: &NetDevice<Self>, _rtnl: &Rtnl, channels: &Channels) -> Result {
        dev.data().set_calls.fetch_add(1, Relaxed);
        // The "hardware" cannot do three.
        if channels.combined_count == 3 {
            return Err(EBUSY);
        }
        dev.data().combined.store(channels.combined_count, Relaxed);
        Ok(())
    }

    fn get_coalesce(dev: &NetDevice<Self>, c: &mut Coalesce) -> Result {
        c.rx_coalesce_usecs = dev.data().rx_usecs.load(Relaxed);
        Ok(())
    }

    fn set_coalesce(dev: &NetDevice<Self>, _rtnl: &Rtnl, c: &Coalesce) -> Result {
        dev.data().set_calls.fetch_add(1, Relaxed);
        dev.data().rx_usecs.store(c.rx_coalesce_usecs, Relaxed);
        Ok(())
    }

    fn get_stats(_dev: &NetDevice<Self>, values: &mut [u64]) {
        for (i, v) in values.iter_mut().enumerate() {
            *v = 10 + i as u64;
        }
    }

    fn get_link_settings(_dev: &NetDevice<Self>, settings: &mut LinkSettings) -> Result {
        settings.speed = 1000;
        settings.duplex = bindings::DUPLEX_FULL as u8;
        settings.port = bindings::PORT_TP as u8;
        settings.autoneg = bindings::AUTONEG_ENABLE as u8;
        Ok(())
    }
}

fn device() -> Result<Registration<Eth>> {
    let mut dev = Unregistered::<Eth>::new(
        1,
        1,
        EthData {
            link: AtomicBool::new(true),
            rx_ring: AtomicU32::new(256),
            tx_ring: AtomicU32::new(256),
            combined: AtomicU32::new(1),
            rx_usecs: AtomicU32::new(50),
            set_calls: AtomicU32::new(0),
        },
    )?;
    dev.set_ethtool_ops();
    dev.set_random_mac_address();
    dev.register()
}

/// User memory for the requests: one page, mapped for the test.
fn user_page(test: &Test) -> Result<usize> {
    const PROT_READ_WRITE: crate::ffi::c_ulong = 0x3;
    const MAP_PRIVATE_ANONYMOUS: crate::ffi::c_ulong = 0x22;
    // SAFETY: The test is running; the mapping lives until it ends.
    let addr = unsafe {
        bindings::kunit_vm_mmap(
            test.as_ptr(),
            core::ptr::null_mut(),
            0,
            crate::page::PAGE_SIZE as crate::ffi::c_ulong,
            PROT_READ_WRITE,
            MAP_PRIVATE_ANONYMOUS,
            0,
        )
    };
    // `IS_ERR_VALUE()`: the last page of the address space holds error codes.
    if addr == 0 || addr >= (-4095i64) as crate::ffi::c_ulong {
        return Err(ENOMEM);
    }
    Ok(addr as usize)
}

/// A C ethtool request structure, starting with its `u32` command.
///
/// # Safety
///
/// Every bit pattern must be a valid value of the type, which must start with its command.
unsafe trait Request: Sized {}

// SAFETY: C structures of integers and byte arrays, each starting with `__u32 cmd`.
unsafe impl Request for bindings::ethtool_drvinfo {}
// SAFETY: As above.
unsafe impl Request for bindings::ethtool_value {}
// SAFETY: As above.
unsafe impl Request for bindings::ethtool_cmd {}
// SAFETY: As above.
unsafe impl Request for bindings::ethtool_ringparam {}
// SAFETY: As above.
unsafe impl Request for bindings::ethtool_channels {}
// SAFETY: As above.
unsafe impl Request for bindings::ethtool_gstrings {}
// SAFETY: As above.
unsafe impl Request for bindings::ethtool_stats {}
// SAFETY: As above.
unsafe impl Request for bindings::ethtool_coalesce {}

/// Sends the ethtool request `req`, followed by `extra`, from user memory at `user` to the
/// device through `dev_ethtool()`, and reads the reply back into both.
fn ethtool<T: Request>(dev: &Device, user: usize, req: &mut T, extra: &mut [u8]) -> Result {
    let size = core::mem::size_of::<T>();
    if size + extra.len() > crate::page::PAGE_SIZE {
        return Err(EINVAL);
    }
    let ubuf = user as *mut crate::ffi::c_void;
    // SAFETY: All-zeroes is a valid `ifreq`.
    let mut ifr: bindings::ifreq = unsafe { core::mem::zeroed() };
    // SAFETY: The name comes first in `ifreq`, with room for `IFNAMSIZ` bytes, as in the
    // device.
    unsafe {
        core::ptr::copy_nonoverlapping(
            (*dev.as_ptr()).name.as_ptr(),
            core::ptr::addr_of_mut!(ifr).cast(),
            bindings::IFNAMSIZ as usize,
        )
    };
    // SAFETY: `ubuf` is a user page of the test with room for both parts, checked above;
    // `req` and `extra` are valid for their sizes, and any bytes are a valid `T` (`Request`).
    unsafe {
        if bindings::copy_to_user(ubuf, (req as *mut T).cast(), size as _) != 0
            || bindings::copy_to_user(ubuf.add(size), extra.as_ptr().cast(), extra.len() as _) != 0
        {
            return Err(EFAULT);
        }
        to_result(bindings::dev_ethtool(
            core::ptr::addr_of_mut!(bindings::init_net),
            &mut ifr,
            ubuf,
        ))?;
        if bindings::copy_from_user((req as *mut T).cast(), ubuf, size as _) != 0
            || bindings::copy_from_user(extra.as_mut_ptr().cast(), ubuf.add(size), extra.len() as _)
                != 0
        {
            return Err(EFAULT);
        }
    }
    Ok(())
}

/// Returns a request of type `T` for command `cmd`.
fn request<T: Request>(cmd: u32) -> T {
    // SAFETY: All-zeroes is a valid `T`, by the contract of `Request`.
    let mut req: T = unsafe { core::mem::zeroed() };
    // SAFETY: `T` starts with the command, by the contract of `Request`.
    unsafe { (&mut req as *mut T).cast::<u32>().write(cmd) };
    req
}

fn drvinfo_link_and_settings(test: &Test) -> Result {
    let dev = device()?;
    let user = user_page(test)?;
    let mut info: bindings::ethtool_drvinfo = request(bindings::ETHTOOL_GDRVINFO);
    ethtool(&dev, user, &mut info, &mut [])?;
    // SAFETY: The core NUL-terminates the strings.
    let (driver, fw, bus) = unsafe {
        (
            CStr::from_char_ptr(info.driver.as_ptr()),
            CStr::from_char_ptr(info.fw_version.as_ptr()),
            CStr::from_char_ptr(info.bus_info.as_ptr()),
        )
    };
    kunit_expect_eq!(test, driver.as_bytes(), b"rnetcore_test");
    kunit_expect_eq!(test, fw.as_bytes(), b"1.2");
    kunit_expect_eq!(test, bus.as_bytes(), b"virtual");
    kunit_expect_eq!(test, info.n_stats, 3);

    // The core reports a link only for a device that is up.
    netdev::tests::open(&dev)?;
    let mut link: bindings::ethtool_value = request(bindings::ETHTOOL_GLINK);
    ethtool(&dev, user, &mut link, &mut [])?;
    kunit_expect_eq!(test, link.data, 1);
    dev.data().link.store(false, Relaxed);
    ethtool(&dev, user, &mut link, &mut [])?;
    kunit_expect_eq!(test, link.data, 0);

    // The legacy request, converted by the core from the link settings.
    let mut cmd: bindings::ethtool_cmd = request(bindings::ETHTOOL_GSET);
    ethtool(&dev, user, &mut cmd, &mut [])?;
    kunit_expect_eq!(
        test,
        u32::from(cmd.speed) | (u32::from(cmd.speed_hi) << 16),
        1000
    );
    kunit_expect_eq!(test, u32::from(cmd.duplex), bindings::DUPLEX_FULL);
    kunit_expect_eq!(test, u32::from(cmd.autoneg), bindings::AUTONEG_ENABLE);
    // Not implemented: the core's answer.
    cmd.cmd = bindings::ETHTOOL_SSET;
    let res = ethtool(&dev, user, &mut cmd, &mut []);
    kunit_expect_eq!(test, res, Err(EOPNOTSUPP));
    Ok(())
}

fn rings_and_channels(test: &Test) -> Result {
    let dev = device()?;
    let user = user_page(test)?;
    let mut ring: bindings::ethtool_ringparam = request(bindings::ETHTOOL_GRINGPARAM);
    ethtool(&dev, user, &mut ring, &mut [])?;
    kunit_expect_eq!(test, ring.rx_max_pending, RING_MAX);
    kunit_expect_eq!(test, ring.rx_pending, 256);

    // Beyond the maximum: refused by the core, the driver not called.
    ring.cmd = bindings::ETHTOOL_SRINGPARAM;
    ring.rx_pending = RING_MAX + 1;
    kunit_expect_eq!(test, ethtool(&dev, user, &mut ring, &mut []), Err(EINVAL));
    kunit_expect_eq!(test, dev.data().set_calls.load(Relaxed), 0);
    ring.rx_pending = 1024;
    ring.tx_pending = 512;
    ethtool(&dev, user, &mut ring, &mut [])?;
    kunit_expect_eq!(test, dev.data().rx_ring.load(Relaxed), 1024);
    kunit_expect_eq!(test, dev.data().tx_ring.load(Relaxed), 512);
    let mut ch: bindings::ethtool_channels = request(bindings::ETHTOOL_GCHANNELS);
    ethtool(&dev, user, &mut ch, &mut [])?;
    kunit_expect_eq!(test, ch.max_combined, CHANNELS_MAX);
    kunit_expect_eq!(test, ch.combined_count, 1);
    ch.cmd = bindings::ETHTOOL_SCHANNELS;
    ch.combined_count = CHANNELS_MAX + 1;
    kunit_expect_eq!(test, ethtool(&dev, user, &mut ch, &mut []), Err(EINVAL));
    // Refused by the driver: unchanged.
    ch.combined_count = 3;
    kunit_expect_eq!(test, ethtool(&dev, user, &mut ch, &mut []), Err(EBUSY));
    kunit_expect_eq!(test, dev.data().combined.load(Relaxed), 1);
    ch.combined_count = 2;
    ethtool(&dev, user, &mut ch, &mut [])?;
    ch.cmd = bindings::ETHTOOL_GCHANNELS;
    ethtool(&dev, user, &mut ch, &mut [])?;
    kunit_expect_eq!(test, ch.combined_count, 2);
    Ok(())
}

fn statistics(test: &Test) -> Result {
    let dev = device()?;
    let user = user_page(test)?;
    let mut strings: bindings::ethtool_gstrings = request(bindings::ETHTOOL_GSTRINGS);
    strings.string_set = bindings::ethtool_stringset_ETH_SS_STATS;
    let mut names = [0u8; 3 * GSTRING_LEN];
    ethtool(&dev, user, &mut strings, &mut names)?;
    kunit_expect_eq!(test, strings.len, 3);
    kunit_expect!(test, names[..GSTRING_LEN].starts_with(b"rx_polls\0"));
    kunit_expect!(test, names[GSTRING_LEN..].starts_with(b"tx_doorbells\0"));
    // Truncated, and terminated.
    let last = &names[2 * GSTRING_LEN..];
    kunit_expect!(test, last.starts_with(b"a_statistic_name_longer_than_e"));
    kunit_expect_eq!(test, last[GSTRING_LEN - 1], 0);
    let mut stats: bindings::ethtool_stats = request(bindings::ETHTOOL_GSTATS);
    let mut values = [0u8; 3 * 8];
    ethtool(&dev, user, &mut stats, &mut values)?;
    kunit_expect_eq!(test, stats.n_stats, 3);
    for (i, v) in values.chunks_exact(8).enumerate() {
        let v = u64::from_ne_bytes(v.try_into().map_err(|_| EINVAL)?);
        kunit_expect_eq!(test, v, 10 + i as u64);
    }
    Ok(())
}

fn coalescing(test: &Test) -> Result {
    let dev = device()?;
    let user = user_page(test)?;
    let mut c: bindings::ethtool_coalesce = request(bindings::ETHTOOL_GCOALESCE);
    ethtool(&dev, user, &mut c, &mut [])?;
    kunit_expect_eq!(test, c.rx_coalesce_usecs, 50);
    c.cmd = bindings::ETHTOOL_SCOALESCE;
    c.rx_coalesce_usecs = 20;
    ethtool(&dev, user, &mut c, &mut [])?;
    kunit_expect_eq!(test, dev.data().rx_usecs.load(Relaxed), 20);
    kunit_expect_eq!(test, dev.data().set_calls.load(Relaxed), 1);
    // A parameter the driver does not take: refused by the core, the driver not called.
    c.rx_coalesce_usecs = 30;
    c.tx_coalesce_usecs = 10;
    kunit_expect_eq!(test, ethtool(&dev, user, &mut c, &mut []), Err(EOPNOTSUPP));
    kunit_expect_eq!(test, dev.data().rx_usecs.load(Relaxed), 20);
    kunit_expect_eq!(test, dev.data().set_calls.load(Relaxed), 1);
    Ok(())
}

fn absent_operations(test: &Test) -> Result {
    // A device without ethtool operations: the core's defaults answer.
    let mut dev = Unregistered::<Eth>::new(
        1,
        1,
        EthData {
            link: AtomicBool::new(true),
            rx_ring: AtomicU32::new(0),
            tx_ring: AtomicU32::new(0),
            combined: AtomicU32::new(0),
            rx_usecs: AtomicU32::new(0),
            set_calls: AtomicU32::new(0),
        },
    )?;
    dev.set_random_mac_address();
    let dev = dev.register()?;
    let user = user_page(test)?;
    let mut ring: bindings::ethtool_ringparam = request(bindings::ETHTOOL_GRINGPARAM);
    kunit_expect_eq!(
        test,
        ethtool(&dev, user, &mut ring, &mut []),
        Err(EOPNOTSUPP)
    );
    let mut c: bindings::ethtool_coalesce = request(bindings::ETHTOOL_GCOALESCE);
    kunit_expect_eq!(test, ethtool(&dev, user, &mut c, &mut []), Err(EOPNOTSUPP));
    Ok(())
}

kunit_test_suite!(
    rust_net_ethtool,
    [
        drvinfo_link_and_settings,
        rings_and_channels,
        statistics,
        coalescing,
        absent_operations,
    ]
);
