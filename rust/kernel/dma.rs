// SPDX-License-Identifier: GPL-2.0

//! Direct memory access (DMA).
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use crate::{
    alloc::Flags,
    bindings, build_assert,
    device::Device,
    error::{code::*, Result},
    types::{ARef, AsBytes, FromBytes},
};
use core::ptr::NonNull;

/// A DMA address, as the device sees the memory.
pub type DmaAddr = bindings::dma_addr_t;

/// The direction of a DMA mapping: who writes the memory.
///
/// Mirrors the kernel's `enum dma_data_direction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataDirection {
    /// Both the device and the CPU write the memory (`DMA_BIDIRECTIONAL`).
    Bidirectional,
    /// The CPU writes, the device reads (`DMA_TO_DEVICE`).
    ToDevice,
    /// The device writes, the CPU reads (`DMA_FROM_DEVICE`).
    FromDevice,
}

impl DataDirection {
    /// Returns the C value of this direction.
    pub const fn as_raw(self) -> bindings::dma_data_direction {
        match self {
            Self::Bidirectional => bindings::dma_data_direction_DMA_BIDIRECTIONAL,
            Self::ToDevice => bindings::dma_data_direction_DMA_TO_DEVICE,
            Self::FromDevice => bindings::dma_data_direction_DMA_FROM_DEVICE,
        }
    }
}

/// Memory the CPU and a device share for as long as it lives: `count` elements of `T` mapped
/// coherently (`dma_alloc_coherent()`), typically a descriptor ring.
///
/// Both sides may write it at any time, so it is never seen as a Rust reference: elements are
/// copied in and out with volatile accesses ([`CoherentAllocation::read`],
/// [`CoherentAllocation::write`]), and the device finds it at [`CoherentAllocation::dma_handle`].
/// Its writes are ordered for the device by the write to the device that follows them (see
/// [`crate::io::Io`]); reading what the device completed takes a barrier, which
/// [`CoherentAllocation::read_completed`] provides.
///
/// It is dropped in process context with interrupts on (`dma_free_attrs()` may unmap), while
/// the device's driver is bound: a driver keeps its allocations in the data it drops at unbind.
///
/// # Invariants
///
/// `cpu_addr` is the start of a coherent allocation of `count * size_of::<T>()` bytes (`count`
/// at least 1, the size without overflow) for the device `dev`, at `dma_handle` for it, freed
/// only on drop.
pub struct CoherentAllocation<T: AsBytes + FromBytes> {
    dev: ARef<Device>,
    dma_handle: DmaAddr,
    count: usize,
    cpu_addr: NonNull<T>,
}

impl<T: AsBytes + FromBytes> CoherentAllocation<T> {
    /// Allocates `count` zeroed elements shared with `dev`. Fails with `EINVAL` if `count` is
    /// zero or their size overflows, and with `ENOMEM` if the memory cannot be had.
    pub fn alloc_coherent(dev: &Device, count: usize, gfp: Flags) -> Result<Self> {
        build_assert!(
            core::mem::size_of::<T>() > 0,
            "a coherent allocation of zero-sized elements"
        );
        let size = count
            .checked_mul(core::mem::size_of::<T>())
            .filter(|&s| s > 0)
            .ok_or(EINVAL)?;
        let mut dma_handle = 0;
        // SAFETY: `dev` is a valid device; the handle is written on success. The memory is
        // zeroed (`dma_alloc_attrs()` always zeroes it).
        let cpu_addr = unsafe {
            bindings::dma_alloc_attrs(dev.as_raw(), size, &mut dma_handle, gfp.as_raw(), 0)
        };
        let cpu_addr = NonNull::new(cpu_addr.cast::<T>()).ok_or(ENOMEM)?;
        // INVARIANT: Allocated above, of `size` bytes for `count` elements, at `dma_handle`.
        Ok(Self {
            dev: dev.into(),
            dma_handle,
            count,
            cpu_addr,
        })
    }

    /// Returns the number of elements.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Returns the size of the allocation in bytes.
    pub fn size(&self) -> usize {
        // No overflow, by the type invariants.
        self.count * core::mem::size_of::<T>()
    }

    /// Returns the device's address of the first element.
    pub fn dma_handle(&self) -> DmaAddr {
        self.dma_handle
    }

    /// Returns the device's address of element `index`, or `EINVAL` if there is none.
    pub fn dma_handle_at(&self, index: usize) -> Result<DmaAddr> {
        if index >= self.count {
            return Err(EINVAL);
        }
        // No overflow: inside the allocation.
        Ok(self.dma_handle + (index * core::mem::size_of::<T>()) as DmaAddr)
    }

    fn ptr(&self, index: usize) -> Result<*mut T> {
        if index >= self.count {
            return Err(EINVAL);
        }
        // SAFETY: `index` is inside the allocation, by the check and the type invariants.
        Ok(unsafe { self.cpu_addr.as_ptr().add(index) })
    }

    /// Returns a copy of element `index`, or `EINVAL` if there is none.
    pub fn read(&self, index: usize) -> Result<T> {
        let ptr = self.ptr(index)?;
        // SAFETY: `ptr` is an element of the allocation, aligned (the allocation is page
        // aligned, elements follow at their size), and any bit pattern is a `T`; the device
        // may write it meanwhile, hence the volatile access.
        Ok(unsafe { ptr.read_volatile() })
    }

    /// Writes `value` to element `index`, or fails with `EINVAL` if there is none.
    pub fn write(&self, index: usize, value: T) -> Result {
        let ptr = self.ptr(index)?;
        // SAFETY: As in `read`; no reference to the memory exists.
        unsafe { ptr.write_volatile(value) };
        Ok(())
    }

    /// Returns element `index` if `done` says the device completed it, and `None` otherwise:
    /// the element is read again after a read barrier (`dma_rmb()`), so that none of its fields
    /// is older than the one that says it is complete.
    pub fn read_completed(&self, index: usize, done: impl FnOnce(&T) -> bool) -> Result<Option<T>> {
        if !done(&self.read(index)?) {
            return Ok(None);
        }
        // SAFETY: FFI call without requirements.
        unsafe { bindings::dma_rmb() };
        self.read(index).map(Some)
    }
}

impl<T: AsBytes + FromBytes> Drop for CoherentAllocation<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, the allocation is this one, for `dev`, of `size()`
        // bytes at `dma_handle`, and nothing uses it after this.
        unsafe {
            bindings::dma_free_attrs(
                self.dev.as_raw(),
                self.size(),
                self.cpu_addr.as_ptr().cast(),
                self.dma_handle,
                0,
            )
        };
    }
}

// SAFETY: The allocation may be freed, and its elements copied in and out, from any thread;
// `T` is plain data.
unsafe impl<T: AsBytes + FromBytes + Send> Send for CoherentAllocation<T> {}

#[cfg(CONFIG_RUST_DRIVER_KUNIT_TEST)]
mod tests;
