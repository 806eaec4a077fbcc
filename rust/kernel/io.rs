// SPDX-License-Identifier: GPL-2.0

//! Memory-mapped I/O.
//!
//! A device's registers, once mapped (for a PCI device, by [`crate::pci::Bar`]), are reached
//! through an [`Io`]: accessors of 8, 16 and 32 bits whose offsets are checked against the
//! mapping's size. With a constant offset inside the size known at compile time (`SIZE`), the
//! check is made by the compiler and costs nothing; the `try_` variants check at run time, for
//! offsets computed while the driver runs.
//!
//! C header: [`include/asm-generic/io.h`](srctree/include/asm-generic/io.h)

use crate::{bindings, build_assert, error::code::EINVAL, error::Result};

/// A mapped range of I/O memory: its address and its size, at least `SIZE` bytes.
///
/// # Invariants
///
/// `maxsize >= SIZE`, and `addr + maxsize` does not overflow.
pub struct IoRaw<const SIZE: usize = 0> {
    addr: usize,
    maxsize: usize,
}

impl<const SIZE: usize> IoRaw<SIZE> {
    /// Describes the `maxsize` bytes at `addr`; fails with `EINVAL` if that is less than
    /// `SIZE`, or the range wraps around.
    pub fn new(addr: usize, maxsize: usize) -> Result<Self> {
        if maxsize < SIZE || addr.checked_add(maxsize).is_none() {
            return Err(EINVAL);
        }
        // INVARIANT: Checked above.
        Ok(Self { addr, maxsize })
    }

    /// Returns the address of the range.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// Returns the size of the range, at least `SIZE`.
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }
}

/// Access to a mapped range of I/O memory with offsets checked against its size: at compile
/// time for offsets below `SIZE`, at run time (the `try_` accessors) up to the range's full size.
///
/// Every access is a single load or store of its width at a naturally aligned offset (`readl()`
/// and friends); the ordinary ones are ordered against the CPU's accesses to DMA memory as the
/// C accessors are (a write follows the memory writes before it, so a doorbell needs no barrier
/// of its own), the `_relaxed` ones are not.
///
/// # Invariants
///
/// The range of the [`IoRaw`] is mapped I/O memory for as long as the `Io` lives.
#[repr(transparent)]
pub struct Io<const SIZE: usize = 0>(IoRaw<SIZE>);

macro_rules! define_accessors {
    ($(($read:ident, $try_read:ident, $write:ident, $try_write:ident, $c_read:ident,
        $c_write:ident, $ty:ty, $doc:literal)),* $(,)?) => {
        $(
            #[doc = concat!("Reads the ", $doc, " register at `offset`, checked at compile time.")]
            #[inline(always)]
            pub fn $read(&self, offset: usize) -> $ty {
                let addr = self.io_addr_assert::<$ty>(offset);
                // SAFETY: By the type invariants and the check, `addr` is a naturally aligned
                // address of mapped I/O memory.
                unsafe { bindings::$c_read(addr as _) }
            }

            #[doc = concat!("Reads the ", $doc, " register at `offset`, or fails with `EINVAL` if")]
            /// the offset is outside the range or not aligned to the width.
            #[inline]
            pub fn $try_read(&self, offset: usize) -> Result<$ty> {
                let addr = self.io_addr::<$ty>(offset)?;
                // SAFETY: As in the accessor checked at compile time.
                Ok(unsafe { bindings::$c_read(addr as _) })
            }

            #[doc = concat!("Writes `value` to the ", $doc, " register at `offset`, checked at")]
            /// compile time.
            #[inline(always)]
            pub fn $write(&self, value: $ty, offset: usize) {
                let addr = self.io_addr_assert::<$ty>(offset);
                // SAFETY: As for reads.
                unsafe { bindings::$c_write(value, addr as _) }
            }

            #[doc = concat!("Writes `value` to the ", $doc, " register at `offset`, or fails")]
            /// with `EINVAL` if the offset is outside the range or not aligned to the width.
            #[inline]
            pub fn $try_write(&self, value: $ty, offset: usize) -> Result {
                let addr = self.io_addr::<$ty>(offset)?;
                // SAFETY: As for reads.
                unsafe { bindings::$c_write(value, addr as _) };
                Ok(())
            }
        )*
    };
}

impl<const SIZE: usize> Io<SIZE> {
    /// Views `raw` as accessible I/O memory.
    ///
    /// # Safety
    ///
    /// The range of `raw` must be mapped I/O memory (or memory the CPU may access as such) for
    /// as long as the returned reference lives.
    pub unsafe fn from_raw(raw: &IoRaw<SIZE>) -> &Self {
        // SAFETY: `Io` is a transparent wrapper of `IoRaw`; the invariant is the caller's
        // promise.
        unsafe { &*(raw as *const IoRaw<SIZE>).cast::<Self>() }
    }

    /// Returns the address of the range.
    pub fn addr(&self) -> usize {
        self.0.addr
    }

    /// Returns the size of the range, at least `SIZE`.
    pub fn maxsize(&self) -> usize {
        self.0.maxsize
    }

    /// Returns whether an access of type `U` at `offset` lies inside `size` bytes and is
    /// naturally aligned.
    #[inline]
    const fn offset_valid<U>(offset: usize, size: usize) -> bool {
        let width = core::mem::size_of::<U>();
        match offset.checked_add(width) {
            Some(end) => end <= size && offset % width == 0,
            None => false,
        }
    }

    #[inline]
    fn io_addr<U>(&self, offset: usize) -> Result<usize> {
        if !Self::offset_valid::<U>(offset, self.maxsize()) {
            return Err(EINVAL);
        }
        // No overflow: the range does not wrap, by the invariants of `IoRaw`.
        Ok(self.addr() + offset)
    }

    #[inline(always)]
    fn io_addr_assert<U>(&self, offset: usize) -> usize {
        build_assert!(Self::offset_valid::<U>(offset, SIZE));
        // No overflow: `offset` lies inside `SIZE <= maxsize` bytes of a range that does not
        // wrap.
        self.addr() + offset
    }

    define_accessors!(
        (read8, try_read8, write8, try_write8, readb, writeb, u8, "8-bit"),
        (
            read16,
            try_read16,
            write16,
            try_write16,
            readw,
            writew,
            u16,
            "16-bit"
        ),
        (
            read32,
            try_read32,
            write32,
            try_write32,
            readl,
            writel,
            u32,
            "32-bit"
        ),
        (
            read32_relaxed,
            try_read32_relaxed,
            write32_relaxed,
            try_write32_relaxed,
            readl_relaxed,
            writel_relaxed,
            u32,
            "32-bit (unordered against DMA memory)"
        ),
    );

    /// Waits for the writes before it to reach the device, by reading the 32-bit register at
    /// `offset` (PCI writes are posted; a read from the device flushes them). The register must
    /// be one whose read has no side effect.
    #[inline(always)]
    pub fn flush(&self, offset: usize) {
        let _ = self.read32(offset);
    }
}

#[cfg(CONFIG_RUST_DRIVER_KUNIT_TEST)]
mod tests;
