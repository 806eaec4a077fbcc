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
