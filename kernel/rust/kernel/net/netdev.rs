// SPDX-License-Identifier: GPL-2.0

//! Network devices.
//!
//! C header: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h)

use crate::{bindings, types::Opaque};

/// A network device, borrowed from the C core.
///
/// Wraps the kernel's [`struct net_device`].
///
/// [`struct net_device`]: srctree/include/linux/netdevice.h
///
/// # Invariants
///
/// The wrapped `net_device` is valid for the lifetime of the reference.
#[repr(transparent)]
pub struct Device(Opaque<bindings::net_device>);

// SAFETY: The C core shares net devices between threads; `Device` only offers operations that
// are allowed from any thread.
unsafe impl Sync for Device {}

// SAFETY: A net device is not tied to the thread that created it.
unsafe impl Send for Device {}

impl Device {
    /// Creates a reference to a [`Device`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `net_device` that stays valid for the lifetime `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::net_device) -> &'a Self {
        // CAST: `Device` is `repr(transparent)` over `Opaque<net_device>`.
        // SAFETY: By the safety requirements of this function.
        // INVARIANT: The caller guarantees validity for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Returns the raw pointer to the device.
    pub fn as_ptr(&self) -> *mut bindings::net_device {
        self.0.get()
    }

    /// Returns the interface index (0 until the device is registered).
    pub fn ifindex(&self) -> i32 {
        // SAFETY: By the type invariants the device is valid; the index is set once, at
        // registration, and read with a single load.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.as_ptr()).ifindex)) }
    }
}

/// An Ethernet device that is allocated but never registered, freed on drop: enough for the
/// KUnit suites of the abstractions that take a [`Device`].
///
/// # Invariants
///
/// `self.0` was allocated by `alloc_etherdev_mqs()`, is never registered, and is owned here.
#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
pub(crate) struct TestDevice(core::ptr::NonNull<bindings::net_device>);

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
impl TestDevice {
    /// Allocates the device: no private area, one TX and one RX queue.
    pub(crate) fn new() -> crate::error::Result<Self> {
        // SAFETY: FFI call without safety requirements.
        let dev = unsafe { bindings::alloc_etherdev_mqs(0, 1, 1) };
        // INVARIANT: Freshly allocated, not registered, ours.
        Ok(Self(
            core::ptr::NonNull::new(dev).ok_or(crate::error::code::ENOMEM)?,
        ))
    }

    /// Returns the device.
    pub(crate) fn get(&self) -> &Device {
        // SAFETY: By the type invariants the device lives as long as `self`.
        unsafe { Device::from_raw(self.0.as_ptr()) }
    }
}

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
impl Drop for TestDevice {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the device was allocated by `alloc_etherdev_mqs()`,
        // never registered, and is ours.
        unsafe { bindings::free_netdev(self.0.as_ptr()) };
    }
}
