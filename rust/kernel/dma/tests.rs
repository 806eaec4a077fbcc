// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_dma`: coherent allocations for a device of the test's own, bound to a
//! driver of its own (a KUnit device: DMA to 32-bit addresses).

use super::CoherentAllocation;
use crate::{
    devres::tests::bound_device, kunit::Test, kunit_expect, kunit_expect_eq, kunit_test_suite,
    prelude::*,
};

fn elements(test: &Test) -> Result {
    let ring = CoherentAllocation::<u64>::alloc_coherent(&bound_device(test)?, 256, GFP_KERNEL)?;
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
    let ring = CoherentAllocation::<Desc>::alloc_coherent(&bound_device(test)?, 4, GFP_KERNEL)?;
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
    let dev = bound_device(test)?;
    kunit_expect_eq!(
        test,
        CoherentAllocation::<u32>::alloc_coherent(&dev, 0, GFP_KERNEL).err(),
        Some(EINVAL)
    );
    kunit_expect_eq!(
        test,
        CoherentAllocation::<u64>::alloc_coherent(&dev, usize::MAX / 4, GFP_KERNEL).err(),
        Some(EINVAL)
    );
    // Too large to be had: a clean failure.
    kunit_expect_eq!(
        test,
        CoherentAllocation::<u8>::alloc_coherent(&dev, 1 << 40, GFP_KERNEL | __GFP_NOWARN).err(),
        Some(ENOMEM)
    );
    Ok(())
}

fn freed_at_unbind(test: &Test) -> Result {
    let dev = bound_device(test)?;
    let ring = CoherentAllocation::<u32>::alloc_coherent(&dev, 16, GFP_KERNEL)?;
    ring.write(3, 7)?;
    // The driver core frees the memory before it tears down the device's DMA setup; the
    // allocation, kept past that, reaches nothing.
    dev.unbind();
    kunit_expect_eq!(test, ring.read(3), Err(ENXIO));
    kunit_expect_eq!(test, ring.write(3, 1), Err(ENXIO));
    kunit_expect_eq!(test, ring.read_completed(3, |_| true), Err(ENXIO));
    kunit_expect_eq!(test, ring.count(), 16);
    Ok(())
}

kunit_test_suite!(
    rust_dma,
    [elements, completed_descriptors, bad_sizes, freed_at_unbind]
);
