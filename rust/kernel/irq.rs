// SPDX-License-Identifier: GPL-2.0

//! Interrupt handlers.
//!
//! A [`Registration`] requests an interrupt line for a [`Handler`] it owns, and frees the line
//! when it is dropped; `free_irq()` waits for a handler still running on another CPU, so the
//! handler's data outlives every call of it.
//!
//! C header: [`include/linux/interrupt.h`](srctree/include/linux/interrupt.h)

use crate::{
    bindings,
    error::{to_result, Error},
    init,
    prelude::*,
    str::CStr,
};
use core::marker::PhantomPinned;

/// What a handler did about an interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqReturn {
    /// The interrupt was not from this handler's device (`IRQ_NONE`): on a shared line, another
    /// handler's.
    None,
    /// The interrupt was this handler's, and handled (`IRQ_HANDLED`).
    Handled,
}

impl IrqReturn {
    /// Returns the C value.
    pub const fn as_raw(self) -> bindings::irqreturn_t {
        match self {
            Self::None => bindings::irqreturn_IRQ_NONE,
            Self::Handled => bindings::irqreturn_IRQ_HANDLED,
        }
    }
}

/// Flags of an interrupt request (`IRQF_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    /// No flags: the line is the handler's alone.
    pub const NONE: Flags = Flags(0);
    /// The line may be shared with other devices' handlers (`IRQF_SHARED`), as legacy PCI
    /// interrupts are.
    pub const SHARED: Flags = Flags(bindings::IRQF_SHARED);

    /// Returns the C flags.
    pub const fn as_raw(self) -> u32 {
        self.0
    }
}

/// An interrupt handler. It runs in hard interrupt context with interrupts off: it may not
/// sleep, and typically acknowledges its device and schedules a NAPI poll.
///
/// It borrows nothing (`'static`): a registration that is leaked keeps its line, and its
/// handler runs for as long as the line raises interrupts.
pub trait Handler: Sync + 'static {
    /// Handles an interrupt on the line.
    fn handle(&self) -> IrqReturn;
}

/// A requested interrupt line, served by the handler it owns until it is dropped, which must be
/// in process context (`free_irq()` sleeps).
///
/// # Invariants
///
/// `irq` is requested with the address of this (pinned) registration as its cookie, and freed
/// only on drop.
#[pin_data(PinnedDrop)]
pub struct Registration<H: Handler> {
    irq: u32,
    #[pin]
    handler: H,
    #[pin]
    _pin: PhantomPinned,
}

impl<H: Handler> Registration<H> {
    /// Requests interrupt `irq` for `handler`, under `name` (as `/proc/interrupts` shows it).
    pub fn new(
        irq: u32,
        flags: Flags,
        name: &'static CStr,
        handler: H,
    ) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            // SAFETY: `slot` is valid for writes; the other fields are zero-sized.
            unsafe {
                core::ptr::addr_of_mut!((*slot).irq).write(irq);
                core::ptr::addr_of_mut!((*slot).handler).write(handler);
            }
            // SAFETY: `slot` is pinned and its handler initialized; the line is freed in drop,
            // before either goes. `name` lives for good.
            let res = to_result(unsafe {
                bindings::request_threaded_irq(
                    irq,
                    Some(Self::handle_callback),
                    None,
                    flags.as_raw() as _,
                    name.as_char_ptr(),
                    slot.cast(),
                )
            });
            if res.is_err() {
                // SAFETY: Initialized above, and not used again: the slot is left uninitialized.
                unsafe { core::ptr::drop_in_place(core::ptr::addr_of_mut!((*slot).handler)) };
            }
            res
        };
        // SAFETY: The closure initializes every field of the slot, or fails leaving nothing to
        // drop.
        unsafe { init::pin_init_from_closure(init) }
    }

    /// Returns the handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Returns the interrupt line.
    pub fn irq(&self) -> u32 {
        self.irq
    }

    /// Waits for a call of the handler running on another CPU to return
    /// (`synchronize_irq()`). Must not be called from the handler.
    pub fn synchronize(&self) {
        // SAFETY: The line is requested, by the type invariants; this may sleep, as its caller
        // may in process context.
        unsafe { bindings::synchronize_irq(self.irq) }
    }

    extern "C" fn handle_callback(_irq: i32, cookie: *mut crate::ffi::c_void) -> u32 {
        // SAFETY: The cookie is the registration, valid while the line is requested.
        let this = unsafe { &*cookie.cast::<Self>() };
        this.handler.handle().as_raw()
    }
}

#[pinned_drop]
impl<H: Handler> PinnedDrop for Registration<H> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Requested with this cookie, by the type invariants; `free_irq()` waits for a
        // running handler, after which none runs.
        unsafe { bindings::free_irq(self.irq, (&*self as *const Self).cast_mut().cast()) };
    }
}
