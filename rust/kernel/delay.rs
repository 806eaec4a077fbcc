// SPDX-License-Identifier: GPL-2.0

//! Delays: busy-waiting in any context, sleeping in process context.
//!
//! C header: [`include/linux/delay.h`](srctree/include/linux/delay.h)

use crate::bindings;

/// Busy-waits for at least `us` microseconds (`udelay()`). Allowed in any context; for short
/// waits (at most a few hundred microseconds), as on hardware that answers quickly.
pub fn udelay(us: u32) {
    // SAFETY: FFI call without requirements.
    unsafe { bindings::udelay(us as _) }
}

/// Sleeps for at least `min` and at most about `max` microseconds (`usleep_range()`). Process
/// context only: it may sleep.
pub fn usleep_range(min: u32, max: u32) {
    // SAFETY: FFI call; the task state is one `schedule()` accepts.
    unsafe {
        bindings::usleep_range_state(min as _, max.max(min) as _, bindings::TASK_UNINTERRUPTIBLE)
    }
}

/// Sleeps for at least `ms` milliseconds (`msleep()`). Process context only: it may sleep.
pub fn msleep(ms: u32) {
    // SAFETY: FFI call without requirements.
    unsafe { bindings::msleep(ms) }
}
