// SPDX-License-Identifier: GPL-2.0

//! KUnit self-test of the Rust suite mechanism ([`kunit_test_suite!`] and the check macros).
//!
//! Checks that are meant to fail are made against a separate, nested `struct kunit`, so the
//! failure they record can itself be checked without failing this suite.

use super::{suite::Location, CaseResult, Status, Test};
use crate::{
    bindings, c_str, kunit_expect, kunit_expect_eq, kunit_expect_ne, kunit_test_suite, prelude::*,
    str::CStr, types::Opaque,
};
use core::{
    pin::Pin,
    ptr,
    sync::atomic::{AtomicUsize, Ordering},
};

/// Cases run so far in this run of the suite; checks registration and order.
static RAN: AtomicUsize = AtomicUsize::new(0);

/// The number of cases in the suite below.
const CASES: usize = 9;

/// Checks that the case with index `index` is the next one to run.
fn enter(test: &Test, index: usize) {
    // The first case resets the count, so the suite can be re-run through debugfs.
    if index == 0 {
        RAN.store(0, Ordering::Relaxed);
    }
    kunit_expect_eq!(test, RAN.fetch_add(1, Ordering::Relaxed), index);
}

/// A `struct kunit` that is not the running case, for checks that must fail.
///
/// # Invariants
///
/// `test` was initialised by `kunit_init_test()` and is cleaned up on drop.
struct Nested {
    test: Pin<KBox<Opaque<bindings::kunit>>>,
}

impl Nested {
    fn new() -> Result<Self> {
        let init = Opaque::ffi_init(|slot: *mut bindings::kunit| {
            // SAFETY: `slot` is valid for writes of a `struct kunit`, which is pinned in the box.
            // The name is a `'static` NUL-terminated string and no log is attached.
            unsafe {
                bindings::kunit_init_test(
                    slot,
                    c_str!("nested (failures expected)").as_char_ptr(),
                    ptr::null_mut(),
                )
            }
        });
        // INVARIANT: `kunit_init_test()` ran on the pinned structure.
        Ok(Self {
            test: KBox::pin_init(init, GFP_KERNEL)?,
        })
    }

    fn get(&self) -> &Test {
        // SAFETY: By the type invariants the structure is initialised; it lives as long as
        // `self`, which the returned reference borrows.
        unsafe { Test::from_raw(self.test.get()) }
    }

    fn status_comment(&self) -> &CStr {
        // SAFETY: By the type invariants the structure is initialised, and `kunit_init_test()`
        // and `scnprintf()` keep `status_comment` NUL-terminated.
        unsafe { CStr::from_char_ptr(ptr::addr_of!((*self.test.get()).status_comment).cast()) }
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        // SAFETY: FFI call without safety requirements.
        let running = unsafe { bindings::kunit_get_current_test() };
        // SAFETY: By the type invariants the structure is initialised; nothing uses it after.
        unsafe { bindings::kunit_cleanup(self.test.get()) };
        // `kunit_cleanup()` ends by detaching the current task from any test; reattach it to
        // the running case, so later failures (and KASAN, UBSAN) are still reported to it.
        // SAFETY: `current` is valid; `running` is the case this task runs, which outlives us.
        unsafe { (*bindings::get_current()).kunit_test = running };
    }
}

const HERE: Location = Location::new(c_str!(file!()), line!());

fn cases_are_registered(test: &Test) {
    enter(test, 0);
}

fn name_is_case_name(test: &Test) {
    enter(test, 1);
    kunit_expect_eq!(test, test.name().to_str(), Ok("name_is_case_name"));
}

fn expect_true_passes(test: &Test) -> Result {
    enter(test, 2);
    let nested = Nested::new()?;
    let n = nested.get();
    let one = core::hint::black_box(1);
    kunit_expect!(test, kunit_expect!(n, one + 1 == 2));
    kunit_expect!(test, kunit_expect_eq!(n, 3 * 3, 9));
    kunit_expect!(test, kunit_expect_ne!(n, "a", "b"));
    kunit_expect_eq!(test, n.status(), Status::Success);
    Ok(())
}

fn expect_false_fails(test: &Test) -> Result {
    enter(test, 3);
    let nested = Nested::new()?;
    let n = nested.get();
    kunit_expect!(
        test,
        !kunit_expect!(n, 1 + 1 == 3, "arithmetic is {}", "broken")
    );
    kunit_expect_eq!(test, n.status(), Status::Failure);
    kunit_expect!(test, !test.failed());
    Ok(())
}

fn expect_eq_and_ne_fail(test: &Test) -> Result {
    enter(test, 4);
    let a = Nested::new()?;
    kunit_expect!(test, !kunit_expect_eq!(a.get(), 2 + 2, 5));
    kunit_expect!(test, a.get().failed());

    let b = Nested::new()?;
    let (x, y) = ([1u8, 2], [1u8, 2]);
    kunit_expect!(test, !kunit_expect_ne!(b.get(), x, y));
    kunit_expect!(test, b.get().failed());
    Ok(())
}

fn case_result_reports(test: &Test) -> Result {
    enter(test, 5);
    let ok = Nested::new()?;
    let passed: Result = Ok(());
    ().report(ok.get(), &HERE);
    passed.report(ok.get(), &HERE);
    kunit_expect_eq!(test, ok.get().status(), Status::Success);

    let err = Nested::new()?;
    let failed: Result = Err(ENOMEM);
    failed.report(err.get(), &HERE);
    kunit_expect_eq!(test, err.get().status(), Status::Failure);
    Ok(())
}

fn skip_records_reason(test: &Test) -> Result {
    enter(test, 6);
    let nested = Nested::new()?;
    nested.get().skip(format_args!("needs {} queues", 4));
    kunit_expect_eq!(test, nested.get().status(), Status::Skipped);
    kunit_expect_eq!(test, nested.status_comment().to_str(), Ok("needs 4 queues"));
    Ok(())
}

fn result_case_can_allocate(test: &Test) -> Result {
    enter(test, 7);
    let mut v = KVec::with_capacity(64, GFP_KERNEL)?;
    for i in 0..64u32 {
        v.push(i * i, GFP_KERNEL)?;
    }
    kunit_expect_eq!(test, v.iter().sum::<u32>(), 85344);
    Ok(())
}

fn cases_ran_in_order(test: &Test) {
    enter(test, 8);
    kunit_expect_eq!(test, RAN.load(Ordering::Relaxed), CASES);
}

kunit_test_suite!(
    rust_kunit,
    [
        cases_are_registered,
        name_is_case_name,
        expect_true_passes,
        expect_false_fails,
        expect_eq_and_ne_fail,
        case_result_reports,
        skip_records_reason,
        result_case_can_allocate,
        cases_ran_in_order,
    ]
);
