// SPDX-License-Identifier: GPL-2.0

//! Resources that belong to a device's binding to its driver.
//!
//! Some resources are only valid while a device is bound to a driver: an I/O mapping of its
//! BAR, coherent memory whose DMA address depends on the DMA setup the driver core tears down
//! at unbind (`device_unbind_cleanup()`). A [`Devres<T>`] holds such a `T` as a device-managed
//! resource (devres): the `T` is dropped when the `Devres` is, or when the device is unbound,
//! whichever comes first, and in either case before the unbind goes on past releasing the
//! device's resources. After an unbind, [`Devres::try_access`] finds nothing, so a driver that
//! kept a resource longer (say, in an `Arc` a work item holds) cannot reach what its device no
//! longer has.
//!
//! C header: [`include/linux/device.h`](srctree/include/linux/device.h)

use crate::{
    alloc::Flags,
    bindings,
    device::Device,
    error::{code::*, Result},
    ffi::{c_int, c_void},
    revocable::{Revocable, RevocableGuard},
    sync::Arc,
    types::{ARef, Opaque},
};

/// A device bound to the calling driver, whose binding's resources can be made.
///
/// # Safety
///
/// While a `&Self` exists, [`BoundDevice::device`] is bound to a driver, or being probed by
/// one, and its resources are not released (the driver core holds the device's lock, as in
/// `probe` and `remove`).
pub unsafe trait BoundDevice {
    /// Returns the device.
    fn device(&self) -> &Device;
}

/// A `T` that belongs to the binding of a device to its driver: dropped at unbind at the
/// latest.
///
/// The `T` is `'static`, as it may be dropped at unbind, after every borrow the driver had
/// ended; it is dropped in process context, by the last owner of the `Devres` or by the driver
/// core with the device's lock held (so its drop must not take that lock).
///
/// # Examples
///
/// ```ignore
/// // In a PCI driver's probe: the BAR comes as a `Devres<Bar<SIZE>>`.
/// let bar = pdev.iomap_region_sized::<0x100>(0, c_str!("my_driver"))?;
/// if let Some(regs) = bar.try_access() {
///     regs.write32(1, 0x10);
/// }
/// ```
///
/// # Invariants
///
/// A devres node of `dev`, released by `release`, holds a `Node` with a counted reference to
/// `inner` (an [`Arc::into_raw`] pointer) and `put::<T>`, until either [`Devres::drop`]
/// removes the node, or the driver core releases it, which calls `put::<T>`. `inner.revoked`
/// is an initialized completion.
pub struct Devres<T: Send + Sync + 'static> {
    inner: Arc<Inner<T>>,
    dev: ARef<Device>,
}

/// What a [`Devres`] shares with its devres node.
struct Inner<T> {
    data: Revocable<T>,
    /// Completed by a [`Devres::drop`] that revoked `data` itself, and dropped it, while the
    /// driver core was releasing the node: the release waits for it.
    revoked: Opaque<bindings::completion>,
}

/// What a devres node of a [`Devres`] holds.
///
/// The node's release function is [`release`] for every `T`: the driver core finds a node by
/// the address of its release function, which a generic function could have one of in each
/// crate that instantiates it.
struct Node {
    /// The node's reference to the shared part, an `Arc<Inner<T>>`.
    inner: *const c_void,
    /// Releases the node: see [`put`].
    put: unsafe fn(*const c_void),
}

/// Revokes the data of a node, or waits until its owner has, and puts the node's reference.
///
/// # Safety
///
/// `inner` is a reference to an `Arc<Inner<T>>` that the caller gives up. The caller may sleep
/// and is in no RCU read-side critical section.
unsafe fn put<T: Send + Sync + 'static>(inner: *const c_void) {
    // SAFETY: The caller's reference, given up.
    let inner = unsafe { Arc::from_raw(inner.cast::<Inner<T>>()) };
    // SAFETY: The caller may sleep, outside any read-side critical section.
    if !unsafe { inner.data.revoke() } {
        // `Devres::drop` revoked it first, and drops it: the unbind waits until it is gone.
        // SAFETY: The completion is initialized (type invariants of `Devres`).
        unsafe { bindings::wait_for_completion(inner.revoked.get()) };
    }
}

/// Releases a node at unbind, in process context.
///
/// Never inlined: the driver core matches nodes by this function's one address.
///
/// # Safety
///
/// `res` is the data of a devres node made by [`Devres::new`].
#[inline(never)]
unsafe extern "C" fn release(_dev: *mut bindings::device, res: *mut c_void) {
    // SAFETY: The node holds a `Node` (type invariants of `Devres`) whose reference the driver
    // core hands over here, once, in process context with the device's lock held.
    unsafe {
        let node = res.cast::<Node>().read();
        (node.put)(node.inner)
    }
}

/// Matches the node whose shared part is `inner`.
///
/// # Safety
///
/// `res` is the data of a devres node released by [`release`].
unsafe extern "C" fn matches(
    _dev: *mut bindings::device,
    res: *mut c_void,
    inner: *mut c_void,
) -> c_int {
    // SAFETY: Every node released by `release` holds a `Node`.
    let node = unsafe { res.cast::<Node>().read() };
    c_int::from(node.inner == inner.cast_const())
}

impl<T: Send + Sync + 'static> Devres<T> {
    /// Makes `data` a resource of the binding of `dev` to its driver. Sleeps if `flags` allow.
    pub fn new(dev: &impl BoundDevice, data: T, flags: Flags) -> Result<Self> {
        let dev = dev.device();
        let inner = Arc::new(
            Inner {
                data: Revocable::new(data),
                revoked: Opaque::uninit(),
            },
            flags,
        )?;
        // SAFETY: The completion is not shared yet; the `Arc` keeps it in place.
        unsafe { bindings::init_completion(inner.revoked.get()) };
        let name = crate::c_str!("Devres");
        // SAFETY: FFI call; `release` matches the node's contents, written below before the
        // node is added. `NUMA_NO_NODE` is -1.
        let node = unsafe {
            bindings::__devres_alloc_node(
                Some(release),
                core::mem::size_of::<Node>(),
                flags.as_raw(),
                -1,
                name.as_char_ptr(),
            )
        };
        if node.is_null() {
            return Err(ENOMEM);
        }
        let contents = Node {
            inner: Arc::into_raw(inner.clone()).cast(),
            put: put::<T>,
        };
        // SAFETY: The node's data has room for a `Node`, aligned as `kmalloc()` aligns (at
        // least `ARCH_KMALLOC_MINALIGN`, enough for pointers); the node is not added yet, so
        // it is ours to write.
        unsafe { node.cast::<Node>().write(contents) };
        // SAFETY: `dev` is valid and bound, and its resources not released, by the safety
        // requirements of `BoundDevice`: the node, filled in, is released at unbind at the
        // latest.
        unsafe { bindings::devres_add(dev.as_raw(), node) };
        // INVARIANT: The node, added above, holds a reference of its own to `inner`, whose
        // completion was initialized.
        Ok(Self {
            inner,
            dev: dev.into(),
        })
    }

    /// Returns the resource, held for as long as the guard lives (an RCU read-side critical
    /// section: no sleeping), or `None` once the device was unbound.
    pub fn try_access(&self) -> Option<RevocableGuard<'_, T>> {
        self.inner.data.try_access()
    }

    /// Calls `f` with the resource (in an RCU read-side critical section: `f` must not sleep),
    /// or returns `ENXIO` once the device was unbound.
    pub fn try_access_with<R>(&self, f: impl FnOnce(&T) -> R) -> Result<R> {
        self.try_access().map(|data| f(&data)).ok_or(ENXIO)
    }
}

impl<T: Send + Sync + 'static> Drop for Devres<T> {
    fn drop(&mut self) {
        // The data goes first, so that a release racing this one waits until it is gone.
        // SAFETY: No guard exists (they borrow `self`), and the node never reaches the data.
        if !unsafe { self.inner.data.revoke_nosync() } {
            // The driver core released the node (or is releasing it): the data is its to drop.
            return;
        }
        // The address `Arc::into_raw()` gave the node.
        let inner: *const Inner<T> = &*self.inner;
        // SAFETY: `dev` is valid; the node that holds `inner`, if still on the device's list,
        // is taken off it (under the device's devres lock), or the driver core has it already.
        let node = unsafe {
            bindings::devres_remove(
                self.dev.as_raw(),
                Some(release),
                Some(matches),
                inner.cast_mut().cast(),
            )
        };
        if node.is_null() {
            // The driver core is releasing the node: tell it the data is gone.
            // SAFETY: The completion is initialized (type invariants).
            unsafe { bindings::complete_all(self.inner.revoked.get()) };
        } else {
            // SAFETY: The node is ours again: its reference is put here, instead of by
            // `release`, and the node freed.
            unsafe {
                drop(Arc::from_raw(
                    node.cast::<Node>().read().inner.cast::<Inner<T>>(),
                ));
                bindings::devres_free(node);
            }
        }
    }
}

// SAFETY: `Inner` shares its completion with the driver core's release, which uses it from
// any thread (the C API is thread-safe); the data's own bounds are `Revocable`'s.
unsafe impl<T: Send + Sync> Send for Inner<T> {}

// SAFETY: As above.
unsafe impl<T: Send + Sync> Sync for Inner<T> {}

#[cfg(CONFIG_RUST_DRIVER_KUNIT_TEST)]
pub(crate) mod tests;
