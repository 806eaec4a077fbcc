// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_devres`: resources of a device of the test's own, dropped with their
//! [`Devres`] or when the device is unbound, whichever comes first, and exactly once.

use super::Devres;
use crate::{
    bindings, c_str, device::Device, error::from_err_ptr, kunit::Test, kunit_expect,
    kunit_expect_eq, kunit_test_suite, prelude::*, sync::Arc,
};
use core::sync::atomic::{AtomicU32, Ordering};

/// A device of the KUnit bus bound to a driver of the test's own, until [`TestDevice::unbind`].
pub(crate) struct TestDevice<'a>(&'a Device);

/// Returns a device of the KUnit bus, bound to a driver of the test's own; the test
/// unregisters both when it ends.
pub(crate) fn bound_device(test: &Test) -> Result<TestDevice<'_>> {
    let name = c_str!("rust-devres");
    // SAFETY: FFI calls for the running test, which owns the driver and the device and
    // unregisters them when it ends; the name is copied. The KUnit bus has no match function,
    // so registering the device binds it to the first driver on the bus that takes it: `drv`,
    // which has no probe to fail, if it is the only one (built-in suites run one at a time).
    // Otherwise the check below refuses it.
    unsafe {
        let drv = from_err_ptr(bindings::kunit_driver_create(
            test.as_ptr(),
            name.as_char_ptr(),
        ))?;
        let dev = from_err_ptr(bindings::kunit_device_register_with_driver(
            test.as_ptr(),
            name.as_char_ptr(),
            drv,
        ))?;
        if (*dev).driver.cast_const() != drv.cast_const() {
            return Err(ENODEV);
        }
        Ok(TestDevice(Device::as_ref(dev)))
    }
}

impl TestDevice<'_> {
    /// Unbinds the device from its driver, which releases the resources of the binding. The
    /// caller must not be in an RCU read-side critical section (hold no guard).
    pub(crate) fn unbind(&self) {
        // SAFETY: FFI call; the device is valid, and the caller holds none of its locks.
        unsafe { bindings::device_release_driver(self.0.as_raw()) };
    }
}

// SAFETY: Bound to the test's driver until `unbind`, which the test calls outside the calls
// that take the device as bound.
unsafe impl super::BoundDevice for TestDevice<'_> {
    fn device(&self) -> &Device {
        self.0
    }
}

/// A resource that counts its drops in `0`.
struct Counted(&'static AtomicU32, u32);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn revoked_at_unbind(test: &Test) -> Result {
    static DROPS: AtomicU32 = AtomicU32::new(0);
    DROPS.store(0, Ordering::Relaxed);
    let dev = bound_device(test)?;
    // Kept past the unbind, in an `Arc` as a work item would hold it.
    let res = Arc::new(
        Devres::new(&dev, Counted(&DROPS, 42), GFP_KERNEL)?,
        GFP_KERNEL,
    )?;
    let kept = res.clone();
    kunit_expect_eq!(test, res.try_access().map(|r| r.1), Some(42));
    kunit_expect_eq!(test, res.try_access_with(|r| r.1 + 1), Ok(43));
    drop(res);
    kunit_expect_eq!(test, DROPS.load(Ordering::Relaxed), 0);

    dev.unbind();
    kunit_expect_eq!(test, DROPS.load(Ordering::Relaxed), 1);
    kunit_expect!(test, kept.try_access().is_none());
    kunit_expect_eq!(test, kept.try_access_with(|r| r.1), Err(ENXIO));
    drop(kept);
    kunit_expect_eq!(test, DROPS.load(Ordering::Relaxed), 1);
    Ok(())
}

fn dropped_before_unbind(test: &Test) -> Result {
    static DROPS: AtomicU32 = AtomicU32::new(0);
    DROPS.store(0, Ordering::Relaxed);
    let dev = bound_device(test)?;
    let first = Devres::new(&dev, Counted(&DROPS, 1), GFP_KERNEL)?;
    let second = Devres::new(&dev, Counted(&DROPS, 2), GFP_KERNEL)?;
    // The node of the one dropped is found among the device's others, and removed.
    drop(first);
    kunit_expect_eq!(test, DROPS.load(Ordering::Relaxed), 1);
    kunit_expect_eq!(test, second.try_access().map(|r| r.1), Some(2));
    dev.unbind();
    // Only the second is released at unbind.
    kunit_expect_eq!(test, DROPS.load(Ordering::Relaxed), 2);
    drop(second);
    kunit_expect_eq!(test, DROPS.load(Ordering::Relaxed), 2);
    Ok(())
}

fn many_cycles(test: &Test) -> Result {
    static DROPS: AtomicU32 = AtomicU32::new(0);
    DROPS.store(0, Ordering::Relaxed);
    let dev = bound_device(test)?;
    // A driver that allocates on every `open` and frees on every `stop` leaves nothing behind
    // on the device.
    for i in 0..100 {
        drop(Devres::new(&dev, Counted(&DROPS, i), GFP_KERNEL)?);
    }
    kunit_expect_eq!(test, DROPS.load(Ordering::Relaxed), 100);
    dev.unbind();
    kunit_expect_eq!(test, DROPS.load(Ordering::Relaxed), 100);
    Ok(())
}

kunit_test_suite!(
    rust_devres,
    [revoked_at_unbind, dropped_before_unbind, many_cycles]
);
