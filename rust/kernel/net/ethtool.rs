// SPDX-License-Identifier: GPL-2.0

//! Ethtool operations of network devices.
//!
//! C header: [`include/linux/ethtool.h`](srctree/include/linux/ethtool.h)
//!
//! A driver implements [`Operations`] next to its [`netdev::Operations`] and installs the table
//! with [`Unregistered::set_ethtool_ops`]. The ethtool core (ioctl and netlink) validates
//! requests against what the driver reports (ring sizes and channel counts within their
//! maximums, for instance) before it calls the driver's `set_*` methods, under RTNL.

use crate::{
    bindings,
    error::{code::*, from_result, Result, VTABLE_DEFAULT_ERROR},
    net::netdev::{self, NetDevice, Rtnl, Unregistered},
};
use core::marker::PhantomData;
use macros::vtable;

/// Ring sizes: current and maximum numbers of descriptors (`struct ethtool_ringparam`).
pub type RingParam = bindings::ethtool_ringparam;

/// Channel counts: current and maximum numbers of queues of each kind
/// (`struct ethtool_channels`).
pub type Channels = bindings::ethtool_channels;

/// Link settings: speed in Mb/s (`SPEED_UNKNOWN` if unknown), duplex, port, autonegotiation
/// (`struct ethtool_link_settings`, the base of `struct ethtool_link_ksettings`).
pub type LinkSettings = bindings::ethtool_link_settings;

/// Interrupt coalescing parameters (`struct ethtool_coalesce`): how long, in microseconds, and
/// after how many frames, a device delays its interrupts.
pub type Coalesce = bindings::ethtool_coalesce;

/// Coalescing parameters a driver takes ([`Operations::SUPPORTED_COALESCE`]), bits of
/// `ETHTOOL_COALESCE_*`.
pub mod coalesce {
    /// `rx_usecs`: the delay of receive interrupts.
    pub const RX_USECS: u32 = 1 << 0;
    /// `rx_max_coalesced_frames`: the frames a receive interrupt waits for.
    pub const RX_MAX_FRAMES: u32 = 1 << 1;
    /// `tx_usecs`: the delay of transmit completion interrupts.
    pub const TX_USECS: u32 = 1 << 4;
    /// `tx_max_coalesced_frames`: the completions a transmit interrupt waits for.
    pub const TX_MAX_FRAMES: u32 = 1 << 5;
    /// `use_adaptive_rx_coalesce`: the driver adapts the receive interrupt rate to the
    /// traffic (`adaptive-rx`).
    pub const USE_ADAPTIVE_RX: u32 = 1 << 9;
}

/// Length of a statistic's name, NUL included (`ETH_GSTRING_LEN`).
pub const GSTRING_LEN: usize = bindings::ETH_GSTRING_LEN as usize;

/// Returns the statistics names of `lists` one after the other, for
/// [`Operations::STAT_NAMES`]; `N` must be their total number (the build fails otherwise).
///
/// # Examples
///
/// ```
/// use kernel::net::ethtool::concat_names;
///
/// const NAMES: [&str; 3] = concat_names(&[&["rx_a", "rx_b"], &["tx_a"]]);
/// assert_eq!(NAMES, ["rx_a", "rx_b", "tx_a"]);
/// ```
pub const fn concat_names<const N: usize>(lists: &[&[&'static str]]) -> [&'static str; N] {
    let mut names = [""; N];
    let (mut n, mut l) = (0, 0);
    while l < lists.len() {
        let mut i = 0;
        while i < lists[l].len() {
            assert!(n < N, "more statistics names than N");
            names[n] = lists[l][i];
            n += 1;
            i += 1;
        }
        l += 1;
    }
    assert!(n == N, "fewer statistics names than N");
    names
}

/// Copies the statistics of `lists`, one after the other, into `values` (in
/// [`Operations::get_stats`]), in the order of the names [`concat_names`] made of theirs.
///
/// # Examples
///
/// ```
/// use kernel::net::ethtool::copy_values;
///
/// let mut values = [0; 3];
/// copy_values(&mut values, &[&[1, 2], &[3]]);
/// assert_eq!(values, [1, 2, 3]);
/// ```
pub fn copy_values(values: &mut [u64], lists: &[&[u64]]) {
    for (v, x) in values.iter_mut().zip(lists.iter().flat_map(|l| l.iter())) {
        *v = *x;
    }
}

/// Driver information, as `ethtool -i` shows it (`struct ethtool_drvinfo`).
///
/// The core has set the version to the kernel's; fields left empty are not reported.
pub struct DrvInfo<'a>(&'a mut bindings::ethtool_drvinfo);

/// Copies `s` into the C string `dst`, truncated to leave room for the NUL.
fn set_str(dst: &mut [crate::ffi::c_char], s: &str) {
    let n = s.len().min(dst.len().saturating_sub(1));
    for (d, b) in dst.iter_mut().zip(s.bytes().take(n)) {
        *d = b as crate::ffi::c_char;
    }
    if let Some(nul) = dst.get_mut(n) {
        *nul = 0;
    }
}

impl DrvInfo<'_> {
    /// Sets the driver name.
    pub fn set_driver(&mut self, name: &str) {
        set_str(&mut self.0.driver, name);
    }

    /// Sets the driver version (by default the kernel's release).
    pub fn set_version(&mut self, version: &str) {
        set_str(&mut self.0.version, version);
    }

    /// Sets the firmware version.
    pub fn set_fw_version(&mut self, version: &str) {
        set_str(&mut self.0.fw_version, version);
    }

    /// Sets the bus address of the device, such as a PCI address.
    pub fn set_bus_info(&mut self, bus: &str) {
        set_str(&mut self.0.bus_info, bus);
    }
}

/// The ethtool operations of a network driver (`struct ethtool_ops`).
///
/// Methods not implemented are absent from the C table: the core answers `-EOPNOTSUPP`.
#[vtable]
pub trait Operations: netdev::Operations {
    /// Names of the driver's statistics (`ethtool -S`), in the order
    /// [`Operations::get_stats`] fills them in; at most [`GSTRING_LEN`]` - 1` bytes each.
    const STAT_NAMES: &'static [&'static str] = &[];

    /// The coalescing parameters [`Operations::set_coalesce`] takes, as bits of [`coalesce`]
    /// (`supported_coalesce_params`): the core refuses, without calling the driver, a request
    /// that sets any other one (through the ioctl: to a non-zero value; through netlink: at
    /// all). A driver with `set_coalesce` must name at least one, and only bits of
    /// [`coalesce`].
    const SUPPORTED_COALESCE: u32 = 0;

    /// Fills in driver information (`get_drvinfo`).
    fn get_drvinfo(_dev: &NetDevice<Self>, _info: &mut DrvInfo<'_>) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Returns whether the link is up (`get_link`). May be called in atomic context (bonding
    /// polls it under RCU): must not sleep.
    fn get_link(_dev: &NetDevice<Self>) -> bool {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Fills in the ring sizes and their maximums (`get_ringparam`).
    fn get_ringparam(_dev: &NetDevice<Self>, _ring: &mut RingParam) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Resizes the rings to `ring`, within the reported maximums (`set_ringparam`).
    fn set_ringparam(_dev: &NetDevice<Self>, _rtnl: &Rtnl, _ring: &RingParam) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Fills in the channel counts and their maximums (`get_channels`).
    fn get_channels(_dev: &NetDevice<Self>, _channels: &mut Channels) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Changes the channel counts to `channels`, within the reported maximums
    /// (`set_channels`).
    fn set_channels(_dev: &NetDevice<Self>, _rtnl: &Rtnl, _channels: &Channels) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Fills in the values of the statistics named by [`Operations::STAT_NAMES`]
    /// (`get_ethtool_stats`); `values` has one entry per name.
    fn get_stats(_dev: &NetDevice<Self>, _values: &mut [u64]) {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Fills in the interrupt coalescing parameters (`get_coalesce`), all zero until then:
    /// those the device does not have must stay zero, or the ioctl refuses every change.
    fn get_coalesce(_dev: &NetDevice<Self>, _coalesce: &mut Coalesce) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Applies interrupt coalescing parameters (`set_coalesce`): those of
    /// [`Operations::SUPPORTED_COALESCE`] as requested, the others as
    /// [`Operations::get_coalesce`] reported them.
    fn set_coalesce(_dev: &NetDevice<Self>, _rtnl: &Rtnl, _coalesce: &Coalesce) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Fills in the link settings (`get_link_ksettings`, without link-mode masks).
    fn get_link_settings(_dev: &NetDevice<Self>, _settings: &mut LinkSettings) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Applies link settings (`set_link_ksettings`, without link-mode masks).
    fn set_link_settings(_dev: &NetDevice<Self>, _rtnl: &Rtnl, _settings: &LinkSettings) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }
}

impl<T: Operations> Unregistered<T> {
    /// Installs `T`'s ethtool operations.
    pub fn set_ethtool_ops(&mut self) {
        #[allow(clippy::let_unit_value)]
        let () = Adapter::<T>::STATS_NAMED;
        #[allow(clippy::let_unit_value)]
        let () = Adapter::<T>::COALESCE_NAMED;
        // SAFETY: The device is ours and not registered: nothing reads the pointer
        // concurrently. The table is a constant (`'static`).
        unsafe { (*self.as_ptr()).ethtool_ops = &Adapter::<T>::OPS };
    }
}

/// Builds the C ethtool table of `T` at compile time.
struct Adapter<T: Operations>(PhantomData<T>);

impl<T: Operations> Adapter<T> {
    /// Statistics without names would make the core warn: `get_stats` needs `STAT_NAMES`.
    const STATS_NAMED: () = assert!(!T::HAS_GET_STATS || !T::STAT_NAMES.is_empty());

    /// The core refuses to register a device whose table has `set_coalesce` without supported
    /// parameters, and asks for `get_coalesce` before every `set_coalesce`. Parameters beyond
    /// [`coalesce`] live in `struct kernel_ethtool_coalesce`, which drivers do not see: the core
    /// would accept changes to them that nothing applies.
    const COALESCE_NAMED: () = assert!(
        (!T::HAS_SET_COALESCE || (T::SUPPORTED_COALESCE != 0 && T::HAS_GET_COALESCE))
            && T::SUPPORTED_COALESCE
                & !(coalesce::RX_USECS
                    | coalesce::RX_MAX_FRAMES
                    | coalesce::TX_USECS
                    | coalesce::TX_MAX_FRAMES
                    | coalesce::USE_ADAPTIVE_RX)
                == 0
    );

    const OPS: bindings::ethtool_ops = bindings::ethtool_ops {
        get_drvinfo: if T::HAS_GET_DRVINFO {
            Some(Self::get_drvinfo)
        } else {
            None
        },
        get_link: if T::HAS_GET_LINK {
            Some(Self::get_link)
        } else {
            None
        },
        get_ringparam: if T::HAS_GET_RINGPARAM {
            Some(Self::get_ringparam)
        } else {
            None
        },
        set_ringparam: if T::HAS_SET_RINGPARAM {
            Some(Self::set_ringparam)
        } else {
            None
        },
        get_channels: if T::HAS_GET_CHANNELS {
            Some(Self::get_channels)
        } else {
            None
        },
        set_channels: if T::HAS_SET_CHANNELS {
            Some(Self::set_channels)
        } else {
            None
        },
        get_sset_count: if T::HAS_GET_STATS {
            Some(Self::get_sset_count)
        } else {
            None
        },
        get_strings: if T::HAS_GET_STATS {
            Some(Self::get_strings)
        } else {
            None
        },
        get_ethtool_stats: if T::HAS_GET_STATS {
            Some(Self::get_ethtool_stats)
        } else {
            None
        },
        supported_coalesce_params: T::SUPPORTED_COALESCE,
        get_coalesce: if T::HAS_GET_COALESCE {
            Some(Self::get_coalesce)
        } else {
            None
        },
        set_coalesce: if T::HAS_SET_COALESCE {
            Some(Self::set_coalesce)
        } else {
            None
        },
        get_link_ksettings: if T::HAS_GET_LINK_SETTINGS {
            Some(Self::get_link_ksettings)
        } else {
            None
        },
        set_link_ksettings: if T::HAS_SET_LINK_SETTINGS {
            Some(Self::set_link_ksettings)
        } else {
            None
        },
        // SAFETY: All-zeroes is a valid `ethtool_ops`: no capability, every other callback
        // absent.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// # Safety
    ///
    /// The ethtool core calls this with a device of `T` (one whose ethtool table is `T`'s),
    /// under RTNL, and valid storage for the call.
    unsafe fn dev<'a>(dev: *mut bindings::net_device) -> &'a NetDevice<T> {
        // SAFETY: Only `set_ethtool_ops()` installs this table, on devices of `T`, which stay
        // valid during the call.
        unsafe { NetDevice::from_raw(dev) }
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`].
    unsafe extern "C" fn get_drvinfo(
        dev: *mut bindings::net_device,
        info: *mut bindings::ethtool_drvinfo,
    ) {
        // SAFETY: By the safety requirements.
        let (dev, info) = unsafe { (Self::dev(dev), &mut *info) };
        T::get_drvinfo(dev, &mut DrvInfo(info));
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`].
    unsafe extern "C" fn get_link(dev: *mut bindings::net_device) -> u32 {
        // SAFETY: By the safety requirements.
        T::get_link(unsafe { Self::dev(dev) }).into()
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`].
    unsafe extern "C" fn get_ringparam(
        dev: *mut bindings::net_device,
        ring: *mut bindings::ethtool_ringparam,
        _kring: *mut bindings::kernel_ethtool_ringparam,
        _extack: *mut bindings::netlink_ext_ack,
    ) {
        // SAFETY: By the safety requirements.
        let (dev, ring) = unsafe { (Self::dev(dev), &mut *ring) };
        T::get_ringparam(dev, ring);
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`].
    unsafe extern "C" fn set_ringparam(
        dev: *mut bindings::net_device,
        ring: *mut bindings::ethtool_ringparam,
        _kring: *mut bindings::kernel_ethtool_ringparam,
        _extack: *mut bindings::netlink_ext_ack,
    ) -> crate::ffi::c_int {
        // SAFETY: By the safety requirements, RTNL included.
        let (dev, rtnl, ring) = unsafe { (Self::dev(dev), Rtnl::assume(), &*ring) };
        from_result(|| T::set_ringparam(dev, rtnl, ring).map(|()| 0))
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`].
    unsafe extern "C" fn get_channels(
        dev: *mut bindings::net_device,
        channels: *mut bindings::ethtool_channels,
    ) {
        // SAFETY: By the safety requirements.
        let (dev, channels) = unsafe { (Self::dev(dev), &mut *channels) };
        T::get_channels(dev, channels);
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`].
    unsafe extern "C" fn set_channels(
        dev: *mut bindings::net_device,
        channels: *mut bindings::ethtool_channels,
    ) -> crate::ffi::c_int {
        // SAFETY: By the safety requirements, RTNL included.
        let (dev, rtnl, channels) = unsafe { (Self::dev(dev), Rtnl::assume(), &*channels) };
        from_result(|| T::set_channels(dev, rtnl, channels).map(|()| 0))
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`].
    unsafe extern "C" fn get_sset_count(
        _dev: *mut bindings::net_device,
        sset: crate::ffi::c_int,
    ) -> crate::ffi::c_int {
        if sset == bindings::ethtool_stringset_ETH_SS_STATS as crate::ffi::c_int {
            T::STAT_NAMES.len() as crate::ffi::c_int
        } else {
            EOPNOTSUPP.to_errno()
        }
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`]; `buf` has room for [`GSTRING_LEN`] bytes per statistic.
    unsafe extern "C" fn get_strings(_dev: *mut bindings::net_device, sset: u32, buf: *mut u8) {
        if sset != bindings::ethtool_stringset_ETH_SS_STATS {
            return;
        }
        for (i, name) in T::STAT_NAMES.iter().enumerate() {
            // SAFETY: `buf` has `GSTRING_LEN` bytes for each of the statistics counted by
            // `get_sset_count()`.
            let dst =
                unsafe { core::slice::from_raw_parts_mut(buf.add(i * GSTRING_LEN), GSTRING_LEN) };
            dst.fill(0);
            let n = name.len().min(GSTRING_LEN - 1);
            dst[..n].copy_from_slice(&name.as_bytes()[..n]);
        }
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`]; `data` has room for one value per statistic.
    unsafe extern "C" fn get_ethtool_stats(
        dev: *mut bindings::net_device,
        _stats: *mut bindings::ethtool_stats,
        data: *mut u64,
    ) {
        // SAFETY: By the safety requirements; the core sized `data` with `get_sset_count()`.
        let (dev, values) = unsafe {
            (
                Self::dev(dev),
                core::slice::from_raw_parts_mut(data, T::STAT_NAMES.len()),
            )
        };
        values.fill(0);
        T::get_stats(dev, values);
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`].
    unsafe extern "C" fn get_coalesce(
        dev: *mut bindings::net_device,
        coalesce: *mut bindings::ethtool_coalesce,
        _kcoalesce: *mut bindings::kernel_ethtool_coalesce,
        _extack: *mut bindings::netlink_ext_ack,
    ) -> crate::ffi::c_int {
        // SAFETY: By the safety requirements. The ioctl's set path passes a structure it did not
        // initialize (it reads the request over it afterwards): every field but the command is
        // zeroed before the driver sees it, which also makes what it does not fill in zero.
        let (dev, coalesce) = unsafe {
            let cmd = (*coalesce).cmd;
            core::ptr::write_bytes(coalesce, 0, 1);
            (*coalesce).cmd = cmd;
            (Self::dev(dev), &mut *coalesce)
        };
        from_result(|| T::get_coalesce(dev, coalesce).map(|()| 0))
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`].
    unsafe extern "C" fn set_coalesce(
        dev: *mut bindings::net_device,
        coalesce: *mut bindings::ethtool_coalesce,
        _kcoalesce: *mut bindings::kernel_ethtool_coalesce,
        _extack: *mut bindings::netlink_ext_ack,
    ) -> crate::ffi::c_int {
        // SAFETY: By the safety requirements, RTNL included.
        let (dev, rtnl, coalesce) = unsafe { (Self::dev(dev), Rtnl::assume(), &*coalesce) };
        from_result(|| T::set_coalesce(dev, rtnl, coalesce).map(|()| 0))
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`].
    unsafe extern "C" fn get_link_ksettings(
        dev: *mut bindings::net_device,
        ks: *mut bindings::ethtool_link_ksettings,
    ) -> crate::ffi::c_int {
        // SAFETY: By the safety requirements.
        let (dev, ks) = unsafe { (Self::dev(dev), &mut *ks) };
        from_result(|| T::get_link_settings(dev, &mut ks.base).map(|()| 0))
    }

    /// # Safety
    ///
    /// See [`Adapter::dev`].
    unsafe extern "C" fn set_link_ksettings(
        dev: *mut bindings::net_device,
        ks: *const bindings::ethtool_link_ksettings,
    ) -> crate::ffi::c_int {
        // SAFETY: By the safety requirements, RTNL included.
        let (dev, rtnl, ks) = unsafe { (Self::dev(dev), Rtnl::assume(), &*ks) };
        from_result(|| T::set_link_settings(dev, rtnl, &ks.base).map(|()| 0))
    }
}

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
mod tests;
