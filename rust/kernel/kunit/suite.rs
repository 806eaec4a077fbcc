// SPDX-License-Identifier: GPL-2.0

//! KUnit test suites written in Rust.
//!
//! C header: [`include/kunit/test.h`](srctree/include/kunit/test.h)
//!
//! [`kunit_test_suite!`](crate::kunit_test_suite) declares a suite of Rust test functions and
//! registers it with KUnit, exactly like `kunit_test_suite()` does for C: a built-in suite runs
//! at boot, a suite in a loadable module runs when the module is loaded, and each case is
//! reported in KTAP.
//!
//! A case is a function taking a [`&Test`](Test) and returning `()` or [`Result`]; returning an
//! error fails the case. Checks are made with [`kunit_expect!`](crate::kunit_expect),
//! [`kunit_expect_eq!`](crate::kunit_expect_eq) and [`kunit_expect_ne!`](crate::kunit_expect_ne),
//! which record a failure (with the source location and, for the comparisons, both values) and
//! let the case go on. They never abort the case thread, so destructors always run and nothing a
//! case allocated is leaked by a failure; a case that cannot go on after a failed check returns
//! early:
//!
//! ```ignore
//! use kernel::prelude::*;
//! use kernel::kunit::Test;
//!
//! fn add_works(test: &Test) {
//!     kernel::kunit_expect_eq!(test, 1 + 1, 2);
//! }
//!
//! fn alloc_works(test: &Test) -> Result {
//!     let v = KVec::<u8>::with_capacity(16, GFP_KERNEL)?;
//!     if !kernel::kunit_expect!(test, v.capacity() >= 16) {
//!         return Ok(());
//!     }
//!     Ok(())
//! }
//!
//! kernel::kunit_test_suite!(example, [add_works, alloc_works]);
//! ```
//!
//! Suites need `CONFIG_KUNIT=y`. Reference: <https://docs.kernel.org/dev-tools/kunit/index.html>

use crate::{bindings, error::Result, ffi::c_char, str::CStr, types::Opaque};
use core::{ffi::c_void, fmt, mem, ptr};

/// A running KUnit test case.
///
/// Wraps the kernel's [`struct kunit`]. Test functions registered with
/// [`kunit_test_suite!`](crate::kunit_test_suite)
/// receive a `&Test` for the case being run.
///
/// [`struct kunit`]: srctree/include/kunit/test.h
///
/// # Invariants
///
/// The wrapped `struct kunit` was initialised by `kunit_init_test()` and stays valid for as long
/// as the `&Test` exists.
#[repr(transparent)]
pub struct Test(Opaque<bindings::kunit>);

/// The outcome of a test case, as KUnit records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The case has neither failed nor been skipped.
    Success,
    /// The case has failed.
    Failure,
    /// The case has been skipped.
    Skipped,
}

/// The source location of a check, for failure reports.
#[doc(hidden)]
pub struct Location {
    file: &'static CStr,
    line: u32,
}

impl Location {
    /// Creates a location; used by the check macros through `file!()` and `line!()`.
    #[doc(hidden)]
    pub const fn new(file: &'static CStr, line: u32) -> Self {
        Self { file, line }
    }
}

// SAFETY: `Test` only exposes operations that KUnit allows from any thread of a running case
// (in process context: failure reports allocate with `GFP_KERNEL`): the status is updated with
// single-word writes and failure reports take `test->lock`.
unsafe impl Sync for Test {}

impl Test {
    /// Creates a reference to a [`Test`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a `struct kunit` initialised by `kunit_init_test()` that stays valid
    /// for the lifetime `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::kunit) -> &'a Self {
        // CAST: `Test` is `repr(transparent)` over `Opaque<bindings::kunit>`, which has the
        // layout of `bindings::kunit`.
        let ptr = ptr.cast::<Self>();
        // SAFETY: By the safety requirements of this function, `ptr` is valid for `'a`, and
        // `Opaque` allows the C side to keep using the structure through shared references.
        // INVARIANT: The caller guarantees the structure is initialised and valid for `'a`.
        unsafe { &*ptr }
    }

    /// Returns the raw pointer to the wrapped `struct kunit`.
    pub fn as_ptr(&self) -> *mut bindings::kunit {
        self.0.get()
    }

    /// Returns the name of the running case.
    pub fn name(&self) -> &CStr {
        // SAFETY: By the type invariants the structure is initialised; `kunit_init_test()` sets
        // `name` to a NUL-terminated string that outlives the test, and it is read-only after
        // initialisation.
        unsafe { CStr::from_char_ptr((*self.as_ptr()).name) }
    }

    /// Returns the status recorded so far for this case.
    pub fn status(&self) -> Status {
        // SAFETY: By the type invariants the pointer is valid. C updates the field with
        // `WRITE_ONCE()`, so it is read with a single volatile load.
        let status = unsafe { ptr::read_volatile(ptr::addr_of!((*self.as_ptr()).status)) };
        match status {
            bindings::kunit_status_KUNIT_FAILURE => Status::Failure,
            bindings::kunit_status_KUNIT_SKIPPED => Status::Skipped,
            _ => Status::Success,
        }
    }

    /// Returns `true` if a check of this case has failed.
    pub fn failed(&self) -> bool {
        self.status() == Status::Failure
    }

    /// Marks the case as skipped, with a reason shown in the KTAP output.
    ///
    /// The case should return right after; a case that failed before being skipped is still
    /// reported as skipped, as with C's `kunit_skip()`.
    pub fn skip(&self, reason: fmt::Arguments<'_>) {
        let test = self.as_ptr();
        // SAFETY: By the type invariants `test` is valid. `status_comment` is a buffer of
        // `KUNIT_STATUS_COMMENT_SIZE` bytes owned by the test, the format string is
        // NUL-terminated, and `%pA` matches the `fmt::Arguments` pointer passed with it.
        unsafe {
            ptr::write_volatile(
                ptr::addr_of_mut!((*test).status),
                bindings::kunit_status_KUNIT_SKIPPED,
            );
            bindings::scnprintf(
                ptr::addr_of_mut!((*test).status_comment).cast::<c_char>(),
                bindings::KUNIT_STATUS_COMMENT_SIZE as usize,
                c"%pA".as_ptr().cast::<c_char>(),
                ptr::from_ref(&reason).cast::<c_void>(),
            );
        }
    }

    /// Records a failed expectation at `loc`, with an optional message.
    ///
    /// Used by the check macros; prints KUnit's usual failure report and marks the case failed.
    #[doc(hidden)]
    pub fn fail_expectation(
        &self,
        loc: &'static Location,
        condition: &'static CStr,
        msg: Option<fmt::Arguments<'_>>,
    ) {
        let kloc = bindings::kunit_loc {
            file: loc.file.as_char_ptr(),
            line: loc.line as i32,
        };
        let assert = bindings::kunit_unary_assert {
            assert: bindings::kunit_assert {},
            condition: condition.as_char_ptr(),
            expected_true: true,
        };
        let (fmt, args) = match &msg {
            Some(args) => (
                c"%pA".as_ptr().cast::<c_char>(),
                ptr::from_ref(args).cast::<c_void>(),
            ),
            None => (ptr::null(), ptr::null()),
        };
        // SAFETY:
        // - By the type invariants the test pointer is valid.
        // - `kloc` and `assert` live across the call, which only reads them to print the
        //   report; their string pointers are NUL-terminated `'static` strings.
        // - `kunit_unary_assert_format` expects an assert embedded in a `kunit_unary_assert`,
        //   which is what `assert.assert` is.
        // - The format is null, or `%pA` with a matching pointer to `fmt::Arguments` that
        //   outlives the call.
        // - The type is `KUNIT_EXPECTATION`, so the call returns instead of aborting the case.
        unsafe {
            bindings::__kunit_do_failed_assertion(
                self.as_ptr(),
                &kloc,
                bindings::kunit_assert_type_KUNIT_EXPECTATION,
                &assert.assert,
                Some(bindings::kunit_unary_assert_format),
                fmt,
                args,
            );
        }
    }
}

/// The return type of a test case: `()` or [`Result`].
///
/// Returning an error fails the case, with the error in the report.
pub trait CaseResult {
    /// Records the outcome of a case that returned `self`.
    fn report(self, test: &Test, loc: &'static Location);
}

impl CaseResult for () {
    fn report(self, _test: &Test, _loc: &'static Location) {}
}

impl CaseResult for Result {
    fn report(self, test: &Test, loc: &'static Location) {
        if let Err(e) = self {
            test.fail_expectation(
                loc,
                crate::c_str!("case returned Ok(())"),
                Some(format_args!("case returned {e:?}")),
            );
        }
    }
}

/// Builds the `struct kunit_case` of one test function.
#[doc(hidden)]
pub const fn __case(
    name: &'static CStr,
    run: unsafe extern "C" fn(*mut bindings::kunit),
    module: &'static CStr,
) -> bindings::kunit_case {
    // SAFETY: `kunit_case` is a C struct of pointers, integers and enums for which all-zeroes
    // is valid (and is what C's `KUNIT_CASE()` leaves in the fields it does not name).
    let mut case: bindings::kunit_case = unsafe { mem::MaybeUninit::zeroed().assume_init() };
    case.run_case = Some(run);
    case.name = name.as_char_ptr();
    case.module_name = module.as_char_ptr().cast_mut();
    case
}

/// Builds the all-zero `struct kunit_case` that ends a case array.
#[doc(hidden)]
pub const fn __case_end() -> bindings::kunit_case {
    // SAFETY: All-zeroes is valid for `kunit_case`, and is the terminator KUnit looks for.
    unsafe { mem::MaybeUninit::zeroed().assume_init() }
}

/// Builds the `struct kunit_suite` named `name` running the cases at `cases`.
///
/// Fails the build (in the `static` initialiser) if the name does not fit the C array.
#[doc(hidden)]
pub const fn __suite(name: &str, cases: *mut bindings::kunit_case) -> bindings::kunit_suite {
    // SAFETY: `kunit_suite` is a C struct of arrays, pointers and integers for which all-zeroes
    // is valid (and is what C leaves in the fields a suite definition does not name).
    let mut suite: bindings::kunit_suite = unsafe { mem::MaybeUninit::zeroed().assume_init() };
    let bytes = name.as_bytes();
    // The name must leave room for the NUL terminator. Suites are built in `static`
    // initialisers, so this fails the build, never a running kernel.
    if bytes.len() >= suite.name.len() {
        panic!("KUnit suite name too long");
    }
    let mut i = 0;
    while i < bytes.len() {
        suite.name[i] = bytes[i];
        i += 1;
    }
    suite.test_cases = cases;
    suite
}

/// Runs one case function and reports its result; the body of each generated `run_case`.
///
/// # Safety
///
/// `raw` must be the `struct kunit` KUnit passed to `run_case`.
#[doc(hidden)]
pub unsafe fn __run_case<R: CaseResult>(
    raw: *mut bindings::kunit,
    loc: &'static Location,
    case: fn(&Test) -> R,
) {
    // SAFETY: By the safety requirements of this function `raw` is the `struct kunit` of the
    // running case, initialised by `kunit_init_test()` and valid until the case returns.
    let test = unsafe { Test::from_raw(raw) };
    case(test).report(test, loc);
}

/// Checks that a boolean expression is `true`, recording a failure otherwise.
///
/// Evaluates to the value of the expression, so a case can stop after a failed check. Extra
/// arguments are a format string and its arguments, printed with the failure.
///
/// ```ignore
/// if !kernel::kunit_expect!(test, pool.in_flight() == 0, "pool {}", id) {
///     return;
/// }
/// ```
#[macro_export]
macro_rules! kunit_expect {
    (@check $test:expr, $cond:expr, $text:expr, $msg:expr) => {{
        let ok: bool = $cond;
        if !ok {
            const LOC: $crate::kunit::suite::Location = $crate::kunit::suite::Location::new(
                $crate::c_str!(::core::file!()),
                ::core::line!(),
            );
            $crate::kunit::Test::fail_expectation($test, &LOC, $crate::c_str!($text), $msg);
        }
        ok
    }};
    (@cmp $test:expr, $left:expr, $op:tt, $right:expr) => {
        match (&$left, &$right) {
            (left, right) => $crate::kunit_expect!(
                @check $test,
                *left $op *right,
                ::core::concat!(
                    ::core::stringify!($left),
                    " ",
                    ::core::stringify!($op),
                    " ",
                    ::core::stringify!($right)
                ),
                ::core::option::Option::Some(::core::format_args!(
                    "    left: {:?}\n    right: {:?}",
                    left, right
                ))
            ),
        }
    };
    ($test:expr, $cond:expr $(,)?) => {
        $crate::kunit_expect!(@check $test, $cond, ::core::stringify!($cond),
            ::core::option::Option::None)
    };
    ($test:expr, $cond:expr, $($arg:tt)+) => {
        $crate::kunit_expect!(@check $test, $cond, ::core::stringify!($cond),
            ::core::option::Option::Some(::core::format_args!($($arg)+)))
    };
}

/// Checks that two expressions are equal (using [`PartialEq`]), recording a failure otherwise.
///
/// Both values are printed with [`Debug`](core::fmt::Debug) on failure. Evaluates to `true` if
/// the check passed.
#[macro_export]
macro_rules! kunit_expect_eq {
    ($test:expr, $left:expr, $right:expr $(,)?) => {
        $crate::kunit_expect!(@cmp $test, $left, ==, $right)
    };
}

/// Checks that two expressions differ (using [`PartialEq`]), recording a failure otherwise.
///
/// Both values are printed with [`Debug`](core::fmt::Debug) on failure. Evaluates to `true` if
/// the check passed.
#[macro_export]
macro_rules! kunit_expect_ne {
    ($test:expr, $left:expr, $right:expr $(,)?) => {
        $crate::kunit_expect!(@cmp $test, $left, !=, $right)
    };
}

/// Declares a KUnit suite of Rust test functions and registers it with KUnit.
///
/// The first argument is the suite name (as in the KTAP output and `kunit.filter_glob`), then
/// the case functions in the order they run. Each case is a function `fn(&Test) -> R` where `R`
/// is `()` or [`Result`]; see [`kernel::kunit::suite`](crate::kunit::suite).
///
/// The suite is placed in the `.kunit_test_suites` section, like C's `kunit_test_suite()`: it
/// runs at boot when built in and on module load in a module.
#[macro_export]
macro_rules! kunit_test_suite {
    ($suite:ident, [$($case:ident),+ $(,)?]) => {
        const _: () = {
            const COUNT: usize = [$(::core::stringify!($case)),+].len();

            static mut CASES: [$crate::bindings::kunit_case; COUNT + 1] = [
                $(
                    $crate::kunit::suite::__case(
                        $crate::c_str!(::core::stringify!($case)),
                        {
                            /// Runs the case for KUnit.
                            ///
                            /// # Safety
                            ///
                            /// Only KUnit calls it, with the `struct kunit` of the running case.
                            unsafe extern "C" fn run_case(raw: *mut $crate::bindings::kunit) {
                                use $crate::kunit::suite::Location;
                                const LOC: Location = Location::new(
                                    $crate::c_str!(::core::file!()),
                                    ::core::line!(),
                                );
                                // SAFETY: KUnit calls `run_case` with the running case.
                                unsafe { $crate::kunit::suite::__run_case(raw, &LOC, $case) };
                            }
                            run_case
                        },
                        $crate::c_str!(::core::module_path!()),
                    ),
                )+
                $crate::kunit::suite::__case_end(),
            ];

            // Taking the address of a `static mut` is safe from Rust 1.82 on, `unsafe` before.
            #[allow(unused_unsafe)]
            static mut SUITE: $crate::bindings::kunit_suite = $crate::kunit::suite::__suite(
                ::core::stringify!($suite),
                // CAST: An array pointer to its first element.
                // SAFETY: Only the address of the array is taken; KUnit alone accesses it.
                unsafe { ::core::ptr::addr_of_mut!(CASES) }.cast(),
            );

            #[allow(unused_unsafe)]
            #[used(compiler)]
            #[link_section = ".kunit_test_suites"]
            static mut SUITES: [*mut $crate::bindings::kunit_suite; 1] = [
                // SAFETY: Only the address of the suite is taken; KUnit alone accesses it.
                unsafe { ::core::ptr::addr_of_mut!(SUITE) },
            ];
        };
    };
}
