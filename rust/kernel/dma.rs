// SPDX-License-Identifier: GPL-2.0

//! Direct memory access (DMA).
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use crate::{
    alloc::Flags,
    bindings, build_assert,
    device::Device,
    devres::{BoundDevice, Devres},
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
/// The memory belongs to the device's binding to its driver (a [`Devres`]): it is freed when
/// this is dropped, or when the device is unbound, before the driver core tears down the
/// device's DMA setup, whichever comes first. After an unbind, every access fails with `ENXIO`.
/// It must be dropped in process context with interrupts on (`dma_free_attrs()` may unmap).
pub struct CoherentAllocation<T: AsBytes + FromBytes + Send + Sync + 'static> {
    mem: Devres<Coherent<T>>,
    dma_handle: DmaAddr,
    count: usize,
}

/// The memory of a [`CoherentAllocation`].
///
/// # Invariants
///
/// `cpu_addr` is the start of a coherent allocation of `count * size_of::<T>()` bytes (`count`
/// at least 1, the size without overflow) for the device `dev`, at `dma_handle` for it, freed
/// only on drop.
struct Coherent<T> {
    dev: ARef<Device>,
    dma_handle: DmaAddr,
    count: usize,
    cpu_addr: NonNull<T>,
}

impl<T> Coherent<T> {
    fn size(&self) -> usize {
        // No overflow, by the type invariants.
        self.count * core::mem::size_of::<T>()
    }

    fn ptr(&self, index: usize) -> Result<*mut T> {
        if index >= self.count {
            return Err(EINVAL);
        }
        // SAFETY: `index` is inside the allocation, by the check and the type invariants.
        Ok(unsafe { self.cpu_addr.as_ptr().add(index) })
    }
}

impl<T> Drop for Coherent<T> {
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

// SAFETY: The allocation may be freed from any thread; `T` is plain data.
unsafe impl<T: AsBytes + FromBytes + Send> Send for Coherent<T> {}

// SAFETY: `&Coherent` only copies elements in and out with volatile accesses, which any thread
// may do (the device does too); `T` is plain data.
unsafe impl<T: AsBytes + FromBytes + Sync> Sync for Coherent<T> {}

impl<T: AsBytes + FromBytes + Send + Sync + 'static> CoherentAllocation<T> {
    /// Allocates `count` zeroed elements shared with `dev`, for as long as `dev` stays bound to
    /// the calling driver. Fails with `EINVAL` if `count` is zero or their size overflows, and
    /// with `ENOMEM` if the memory cannot be had.
    pub fn alloc_coherent(dev: &impl BoundDevice, count: usize, gfp: Flags) -> Result<Self> {
        let bound = dev;
        let dev = bound.device();
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
        let mem = Coherent {
            dev: dev.into(),
            dma_handle,
            count,
            cpu_addr,
        };
        Ok(Self {
            mem: Devres::new(bound, mem, gfp)?,
            dma_handle,
            count,
        })
    }

    /// Returns the number of elements.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Returns the size of the allocation in bytes.
    pub fn size(&self) -> usize {
        // No overflow: checked at allocation.
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

    /// Returns a copy of element `index`; `EINVAL` if there is none, `ENXIO` once the device
    /// was unbound.
    pub fn read(&self, index: usize) -> Result<T> {
        let mem = self.mem.try_access().ok_or(ENXIO)?;
        let ptr = mem.ptr(index)?;
        // SAFETY: `ptr` is an element of the allocation, which `mem` keeps, aligned (the
        // allocation is page aligned, elements follow at their size), and any bit pattern is a
        // `T`; the device may write it meanwhile, hence the volatile access.
        Ok(unsafe { ptr.read_volatile() })
    }

    /// Writes `value` to element `index`; fails with `EINVAL` if there is none, `ENXIO` once
    /// the device was unbound.
    pub fn write(&self, index: usize, value: T) -> Result {
        let mem = self.mem.try_access().ok_or(ENXIO)?;
        let ptr = mem.ptr(index)?;
        // SAFETY: As in `read`; no reference to the memory exists.
        unsafe { ptr.write_volatile(value) };
        Ok(())
    }

    /// Returns element `index` if `done` says the device completed it, and `None` otherwise:
    /// the element is read again after a read barrier (`dma_rmb()`), so that none of its fields
    /// is older than the one that says it is complete. Both reads happen under one access to the
    /// allocation, an RCU read-side critical section: `done` must not sleep.
    pub fn read_completed(&self, index: usize, done: impl FnOnce(&T) -> bool) -> Result<Option<T>> {
        let mem = self.mem.try_access().ok_or(ENXIO)?;
        let ptr = mem.ptr(index)?;
        // SAFETY: As in `read`: `ptr` is an aligned element of the allocation, which `mem`
        // keeps for both reads.
        if !done(&unsafe { ptr.read_volatile() }) {
            return Ok(None);
        }
        // SAFETY: FFI call without requirements.
        unsafe { bindings::dma_rmb() };
        // SAFETY: As above.
        Ok(Some(unsafe { ptr.read_volatile() }))
    }
}

#[cfg(CONFIG_RUST_DRIVER_KUNIT_TEST)]
mod tests;
