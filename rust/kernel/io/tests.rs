// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_io`: the accessors of [`Io`] over ordinary memory, which the CPU reaches
//! with the same instructions as I/O memory on the architectures that run the suite.

use super::{Io, IoRaw};
use crate::{kunit::Test, kunit_expect, kunit_expect_eq, kunit_test_suite, prelude::*};

/// Bytes of the pretend register window.
const LEN: usize = 64;

/// A register window in ordinary memory.
struct Window(KBox<[u32; LEN / 4]>);

impl Window {
    fn new() -> Result<Self> {
        Ok(Self(KBox::new([0; LEN / 4], GFP_KERNEL)?))
    }

    fn raw<const SIZE: usize>(&self, len: usize) -> Result<IoRaw<SIZE>> {
        IoRaw::new(self.0.as_ptr() as usize, len)
    }
}

fn checked_at_compile_time(test: &Test) -> Result {
    let win = Window::new()?;
    let raw = win.raw::<LEN>(LEN)?;
    // SAFETY: The window is memory the CPU may access as I/O memory, and outlives `io`.
    let io = unsafe { Io::from_raw(&raw) };
    io.write32(0x1234_5678, 0);
    io.write32(0xdead_beef, LEN - 4);
    io.write16(0xabcd, 8);
    io.write8(0x5a, 13);
    io.write32_relaxed(7, 16);
    kunit_expect_eq!(test, io.read32(0), 0x1234_5678);
    kunit_expect_eq!(test, io.read32(LEN - 4), 0xdead_beef);
    kunit_expect_eq!(test, io.read16(8), 0xabcd);
    kunit_expect_eq!(test, io.read8(13), 0x5a);
    kunit_expect_eq!(test, io.read32_relaxed(16), 7);
    // Little-endian registers, as on the hardware the suite runs on.
    kunit_expect_eq!(test, io.read8(0), 0x78);
    kunit_expect_eq!(test, io.read32(12), 0x5a00);
    io.flush(0);
    kunit_expect_eq!(test, win.0[0], 0x1234_5678);
    Ok(())
}

fn checked_at_run_time(test: &Test) -> Result {
    let win = Window::new()?;
    // Nothing known at compile time: every access is checked against the 32 bytes given.
    let raw = win.raw::<0>(32)?;
    // SAFETY: As above.
    let io = unsafe { Io::from_raw(&raw) };
    kunit_expect_eq!(test, io.maxsize(), 32);
    kunit_expect_eq!(test, io.try_write32(3, 28), Ok(()));
    kunit_expect_eq!(test, io.try_read32(28), Ok(3));
    // Past the end, straddling it, misaligned, and wrapping around.
    kunit_expect_eq!(test, io.try_read32(32), Err(EINVAL));
    kunit_expect_eq!(test, io.try_write32(1, 30), Err(EINVAL));
    kunit_expect_eq!(test, io.try_read32(2), Err(EINVAL));
    kunit_expect_eq!(test, io.try_read16(1), Err(EINVAL));
    kunit_expect_eq!(test, io.try_read8(31), Ok(0));
    kunit_expect_eq!(test, io.try_read8(usize::MAX), Err(EINVAL));
    kunit_expect_eq!(test, io.try_read32(usize::MAX - 3), Err(EINVAL));
    // Nothing outside the 32 bytes was written.
    kunit_expect!(test, win.0[8..].iter().all(|&w| w == 0));
    Ok(())
}

fn ranges(test: &Test) -> Result {
    let win = Window::new()?;
    // A range smaller than the size checked at compile time is refused.
    kunit_expect_eq!(test, win.raw::<LEN>(LEN - 4).err(), Some(EINVAL));
    // So is one that wraps around.
    kunit_expect_eq!(test, IoRaw::<0>::new(usize::MAX - 3, 8).err(), Some(EINVAL));
    let raw = win.raw::<16>(LEN)?;
    kunit_expect_eq!(
        test,
        (raw.addr(), raw.maxsize()),
        (win.0.as_ptr() as usize, LEN)
    );
    // SAFETY: As above.
    let io = unsafe { Io::from_raw(&raw) };
    // Beyond the compile-time size, the run-time checks reach the whole range.
    kunit_expect_eq!(test, io.try_write32(9, LEN - 4), Ok(()));
    kunit_expect_eq!(test, win.0[LEN / 4 - 1], 9);
    Ok(())
}

kunit_test_suite!(
    rust_io,
    [checked_at_compile_time, checked_at_run_time, ranges]
);
