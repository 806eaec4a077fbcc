// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_dma`: coherent allocations for a device of the test's own.

use super::CoherentAllocation;
use crate::{
    bindings, c_str, device::Device, kunit::Test, kunit_expect, kunit_expect_eq, kunit_test_suite,
    prelude::*,
};
use core::{
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};

/// A device that can do DMA to all of memory, registered once for the suite.
fn device() -> Result<&'static Device> {
    static DEV: AtomicPtr<bindings::device> = AtomicPtr::new(ptr::null_mut());
    let mut dev = DEV.load(Ordering::Acquire);
    if dev.is_null() {
        // SAFETY: FFI call; the name is a `'static` NUL-terminated string and the device is
        // built in (no owning module).
        let new = unsafe {
            bindings::__root_device_register(c_str!("rust-dma-test").as_char_ptr(), ptr::null_mut())
        };
        dev = crate::error::from_err_ptr(new)?;
        // SAFETY: `dev` is a registered device nothing else uses yet. Pointing `dma_mask` at the
        // device's own coherent mask is what `dma_coerce_mask_and_coherent()` does for devices
        // without a bus-provided mask.
        unsafe {
            (*dev).dma_mask = ptr::addr_of_mut!((*dev).coherent_dma_mask);
            crate::error::to_result(bindings::dma_set_mask(dev, u64::MAX))?;
            crate::error::to_result(bindings::dma_set_coherent_mask(dev, u64::MAX))?;
        }
        DEV.store(dev, Ordering::Release);
    }
    // SAFETY: The device stays registered, and valid, for good.
    Ok(unsafe { Device::as_ref(dev) })
}

fn elements(test: &Test) -> Result {
    let ring = CoherentAllocation::<u64>::alloc_coherent(device()?, 256, GFP_KERNEL)?;
    kunit_expect_eq!(test, (ring.count(), ring.size()), (256, 2048));
    kunit_expect!(test, ring.dma_handle() != 0);
    // Zeroed, like every coherent allocation.
    kunit_expect!(test, (0..256).all(|i| ring.read(i) == Ok(0)));
    for i in 0..256 {
        ring.write(i, i as u64 * 3)?;
    }
    kunit_expect_eq!(test, ring.read(255), Ok(765));
    kunit_expect_eq!(test, ring.dma_handle_at(2), Ok(ring.dma_handle() + 16));
    // Out of range, nothing is touched.
    kunit_expect_eq!(test, ring.read(256), Err(EINVAL));
    kunit_expect_eq!(test, ring.write(256, 1), Err(EINVAL));
    kunit_expect_eq!(test, ring.dma_handle_at(256), Err(EINVAL));
    Ok(())
}

/// A descriptor as a device completes it: a status word written last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
struct Desc {
    addr: u64,
    len: u32,
    status: u32,
}

// SAFETY: Plain integers, no padding.
unsafe impl crate::types::FromBytes for Desc {}
// SAFETY: As above.
unsafe impl crate::types::AsBytes for Desc {}

fn completed_descriptors(test: &Test) -> Result {
    let ring = CoherentAllocation::<Desc>::alloc_coherent(device()?, 4, GFP_KERNEL)?;
    let done = |d: &Desc| d.status & 1 != 0;
    ring.write(
        0,
        Desc {
            addr: 0x1000,
            len: 60,
            status: 0,
        },
    )?;
    kunit_expect_eq!(test, ring.read_completed(0, done), Ok(None));
    let desc = Desc {
        addr: 0x1000,
        len: 60,
        status: 1,
    };
    ring.write(0, desc)?;
    kunit_expect_eq!(test, ring.read_completed(0, done), Ok(Some(desc)));
    kunit_expect_eq!(test, ring.read_completed(4, done), Err(EINVAL));
    Ok(())
}

fn bad_sizes(test: &Test) -> Result {
    let dev = device()?;
    kunit_expect_eq!(
        test,
        CoherentAllocation::<u32>::alloc_coherent(dev, 0, GFP_KERNEL).err(),
        Some(EINVAL)
    );
    kunit_expect_eq!(
        test,
        CoherentAllocation::<u64>::alloc_coherent(dev, usize::MAX / 4, GFP_KERNEL).err(),
        Some(EINVAL)
    );
    // Too large to be had: a clean failure.
    kunit_expect_eq!(
        test,
        CoherentAllocation::<u8>::alloc_coherent(dev, 1 << 40, GFP_KERNEL | __GFP_NOWARN).err(),
        Some(ENOMEM)
    );
    Ok(())
}

kunit_test_suite!(rust_dma, [elements, completed_descriptors, bad_sizes]);
