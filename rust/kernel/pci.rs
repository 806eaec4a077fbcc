// SPDX-License-Identifier: GPL-2.0

//! PCI devices and drivers.
//!
//! A driver implements [`Driver`]: an ID table, a `probe` that returns the driver's data for a
//! device it matched, and an optional `unbind`. [`module_pci_driver!`] registers it. The adapter
//! enables the device's memory space before `probe`; there the driver gets the device as a
//! [`Device<Core>`], with the calls that set it up (make it a bus master, set its DMA mask, map
//! its BARs). The adapter disables the device when it is unbound, after the driver's data is
//! gone. What belongs to the binding (a BAR's mapping) comes as a [`Devres`], released at
//! unbind even if the driver kept it.
//!
//! C header: [`include/linux/pci.h`](srctree/include/linux/pci.h)
//!
//! [`module_pci_driver!`]: crate::module_pci_driver

use crate::{
    bindings, device,
    devres::{BoundDevice, Devres},
    error::{code::*, from_result, to_result, Error, Result},
    init,
    io::{Io, IoRaw},
    prelude::*,
    str::CStr,
    types::{ARef, AlwaysRefCounted, Opaque},
    ThisModule,
};
use core::{marker::PhantomData, ops::Deref, ptr::NonNull};

/// The state a [`Device`] is seen in: [`Normal`] anywhere, [`Core`] in the driver's `probe`
/// and `unbind`.
pub trait DeviceContext: private::Sealed {}

/// Any reference to a device.
pub struct Normal;

/// A device in its driver's `probe` or `unbind`: the driver core holds the device's lock, and
/// the device is bound to this driver or being bound to it.
pub struct Core;

mod private {
    pub trait Sealed {}
    impl Sealed for super::Normal {}
    impl Sealed for super::Core {}
}

impl DeviceContext for Normal {}
impl DeviceContext for Core {}

/// A PCI device (`struct pci_dev`).
///
/// # Invariants
///
/// The `pci_dev` is valid, and holds a reference for as long as the `Device` is used; with
/// [`Core`], the caller is the device's driver in `probe` or `unbind`.
#[repr(transparent)]
pub struct Device<Ctx: DeviceContext = Normal>(Opaque<bindings::pci_dev>, PhantomData<Ctx>);

impl<Ctx: DeviceContext> Device<Ctx> {
    /// Views `ptr` as a device.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid `pci_dev` for `'a`; with [`Core`], the caller must be its driver's
    /// `probe` or `remove` callback.
    unsafe fn from_raw<'a>(ptr: *mut bindings::pci_dev) -> &'a Self {
        // SAFETY: `Device` is a transparent wrapper of the C struct; validity is the caller's
        // promise.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `pci_dev`.
    pub fn as_raw(&self) -> *mut bindings::pci_dev {
        self.0.get()
    }

    /// Returns the vendor ID.
    pub fn vendor_id(&self) -> u16 {
        // SAFETY: By the type invariants the device is valid; the field is set at enumeration.
        unsafe { (*self.as_raw()).vendor }
    }

    /// Returns the device ID.
    pub fn device_id(&self) -> u16 {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).device }
    }

    /// Returns the revision ID.
    pub fn revision(&self) -> u8 {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).revision }
    }

    /// Returns the interrupt line of the device's legacy (INTx) interrupt, 0 if it has none.
    pub fn irq(&self) -> u32 {
        // SAFETY: As above; the field is set before drivers probe.
        unsafe { (*self.as_raw()).irq }
    }

    /// Returns the size of BAR `bar` in bytes, or `EINVAL` if there is no such BAR.
    pub fn resource_len(&self, bar: u32) -> Result<u64> {
        if bar >= bindings::PCI_STD_NUM_BARS {
            return Err(EINVAL);
        }
        // SAFETY: The device is valid and `bar` indexes one of its standard resources.
        Ok(unsafe { bindings::pci_resource_len(self.as_raw(), bar as i32) })
    }
}

impl Device<Core> {
    /// Lets the device master the bus, which DMA needs (`pci_set_master()`); undone when the
    /// device is unbound. Its memory space is enabled already, by the adapter, before `probe`.
    pub fn set_master(&self) {
        // SAFETY: As above.
        unsafe { bindings::pci_set_master(self.as_raw()) }
    }

    /// Sets the device's streaming and coherent DMA masks to `bits` address bits.
    pub fn dma_set_mask_and_coherent(&self, bits: u32) -> Result {
        if bits > 64 {
            return Err(EINVAL);
        }
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let dev = self.as_ref().as_raw();
        // SAFETY: The device is valid; while its driver probes, nothing maps memory for it
        // concurrently.
        unsafe {
            to_result(bindings::dma_set_mask(dev, mask))?;
            to_result(bindings::dma_set_coherent_mask(dev, mask))
        }
    }

    /// Requests BAR `bar` for `name` and maps it: its first `SIZE` bytes are checked at compile
    /// time. Fails with `EINVAL` if the BAR is not memory or is smaller than `SIZE`, `EBUSY` if
    /// another driver holds it, `ENOMEM` if it cannot be mapped.
    ///
    /// The BAR belongs to the device's binding to this driver: it is unmapped and released
    /// when the [`Devres`] is dropped, or at unbind at the latest, after which
    /// [`Devres::try_access`] finds nothing.
    pub fn iomap_region_sized<const SIZE: usize>(
        &self,
        bar: u32,
        name: &'static CStr,
    ) -> Result<Devres<Bar<SIZE>>> {
        Devres::new(self, Bar::new(self, bar, name)?, GFP_KERNEL)
    }
}

// SAFETY: A `Device<Core>` is only given to its driver's `probe` and `remove`, which the driver
// core calls with the device's lock held, before it releases the binding's resources.
unsafe impl BoundDevice for Device<Core> {
    fn device(&self) -> &device::Device {
        self.as_ref()
    }
}

impl Deref for Device<Core> {
    type Target = Device;

    fn deref(&self) -> &Device {
        // SAFETY: The same device, seen in less context.
        unsafe { Device::from_raw(self.as_raw()) }
    }
}

impl<Ctx: DeviceContext> AsRef<device::Device> for Device<Ctx> {
    fn as_ref(&self) -> &device::Device {
        // SAFETY: The `struct device` of a valid `pci_dev` is valid for as long as it is.
        unsafe { device::Device::as_ref(core::ptr::addr_of_mut!((*self.as_raw()).dev)) }
    }
}

// SAFETY: The C device is reference counted (`pci_dev_get()`/`pci_dev_put()`).
unsafe impl AlwaysRefCounted for Device {
    fn inc_ref(&self) {
        // SAFETY: The device is valid, so its count is not zero.
        unsafe { bindings::pci_dev_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it holds.
        unsafe { bindings::pci_dev_put(obj.cast().as_ptr()) }
    }
}

// SAFETY: A `pci_dev` may be used and its reference put from any thread.
unsafe impl Send for Device {}

// SAFETY: The methods of `&Device` are safe from any thread.
unsafe impl Sync for Device {}

/// A requested and mapped memory BAR of a PCI device; registers in its first `SIZE` bytes are
/// reached with offsets checked at compile time (see [`Io`]).
///
/// A driver has it as a [`Devres<Bar>`](Devres), from [`Device::iomap_region_sized`]: the BAR
/// stays requested and mapped until that is dropped or the device is unbound.
///
/// # Invariants
///
/// `io` describes the mapping at `io.addr()` of BAR `bar` of `pdev`, which this requested for
/// itself; both are undone only on drop.
pub struct Bar<const SIZE: usize = 0> {
    pdev: ARef<Device>,
    io: IoRaw<SIZE>,
    bar: u32,
}

impl<const SIZE: usize> Bar<SIZE> {
    fn new(pdev: &Device<Core>, bar: u32, name: &'static CStr) -> Result<Self> {
        let len = pdev.resource_len(bar)?;
        if len < SIZE as u64 {
            return Err(EINVAL);
        }
        // SAFETY: The device is valid and `bar` one of its standard resources.
        let flags = unsafe { bindings::pci_resource_flags(pdev.as_raw(), bar as i32) };
        if flags & bindings::IORESOURCE_MEM as usize == 0 {
            return Err(EINVAL);
        }
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: As above; `name` lives for good, as the resource keeps it.
        to_result(unsafe {
            bindings::pci_request_region(pdev.as_raw(), bar as i32, name.as_char_ptr())
        })?;
        // SAFETY: The region is requested for this BAR.
        let addr = unsafe { bindings::pci_iomap(pdev.as_raw(), bar as i32, 0) };
        let io = match NonNull::new(addr).map(|a| IoRaw::new(a.as_ptr() as usize, len)) {
            Some(Ok(io)) => io,
            other => {
                // SAFETY: Undoes what succeeded above.
                unsafe {
                    if !addr.is_null() {
                        bindings::pci_iounmap(pdev.as_raw(), addr);
                    }
                    bindings::pci_release_region(pdev.as_raw(), bar as i32);
                }
                return Err(match other {
                    Some(Err(e)) => e,
                    _ => ENOMEM,
                });
            }
        };
        // INVARIANT: Requested and mapped above, `len` bytes.
        Ok(Self {
            pdev: (&**pdev).into(),
            io,
            bar,
        })
    }
}

impl<const SIZE: usize> Deref for Bar<SIZE> {
    type Target = Io<SIZE>;

    fn deref(&self) -> &Io<SIZE> {
        // SAFETY: By the type invariants the range is mapped I/O memory until `self` drops.
        unsafe { Io::from_raw(&self.io) }
    }
}

impl<const SIZE: usize> Drop for Bar<SIZE> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, the mapping and the region are this BAR's, and
        // nothing uses them after this.
        unsafe {
            bindings::pci_iounmap(self.pdev.as_raw(), self.io.addr() as *mut _);
            bindings::pci_release_region(self.pdev.as_raw(), self.bar as i32);
        }
    }
}

/// One entry of an ID table: the vendor and device a driver takes (`struct pci_device_id`).
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct DeviceId(bindings::pci_device_id);

impl DeviceId {
    /// Matches vendor `vendor`'s device `device`, with any subsystem and class.
    pub const fn from_id(vendor: u32, device: u32) -> Self {
        Self(bindings::pci_device_id {
            vendor,
            device,
            subvendor: !0,
            subdevice: !0,
            class: 0,
            class_mask: 0,
            driver_data: 0,
            override_only: 0,
        })
    }
}

/// The IDs a driver matches, each with the driver's information about that device, laid out
/// as the C driver core reads them: a zero-terminated array whose `driver_data` indexes the
/// information. Made by [`pci_device_table!`](crate::pci_device_table).
#[repr(C)]
pub struct IdArray<T: 'static, const N: usize> {
    ids: [DeviceId; N],
    sentinel: DeviceId,
    infos: [T; N],
}

impl<T: 'static, const N: usize> IdArray<T, N> {
    /// Creates the table: entry `i` matches `ids[i]` and gives `infos[i]` to `probe`.
    pub const fn new(mut ids: [DeviceId; N], infos: [T; N]) -> Self {
        let mut i = 0;
        while i < N {
            ids[i].0.driver_data = i as _;
            i += 1;
        }
        Self {
            ids,
            sentinel: DeviceId(bindings::pci_device_id {
                vendor: 0,
                device: 0,
                subvendor: 0,
                subdevice: 0,
                class: 0,
                class_mask: 0,
                driver_data: 0,
                override_only: 0,
            }),
            infos,
        }
    }

    /// Returns the table as a driver declares it.
    pub const fn table(&'static self) -> IdTable<T> {
        IdTable {
            ids: self.ids.as_ptr().cast(),
            infos: &self.infos,
        }
    }
}

/// A driver's ID table (see [`IdArray`]).
///
/// # Invariants
///
/// `ids` is a zero-terminated array of entries whose `driver_data` indexes `infos`.
pub struct IdTable<T: 'static> {
    ids: *const bindings::pci_device_id,
    infos: &'static [T],
}

impl<T: 'static> IdTable<T> {
    /// Returns the information of the entry `id`, if it is one of this table: the PCI core
    /// passes its own catch-all entry for a device bound through `driver_override` that the
    /// table does not list, or a copy for an ID added through `new_id`.
    fn info(&self, id: *const bindings::pci_device_id) -> Option<&'static T> {
        let n = self.infos.len();
        // SAFETY: `ids` has `n` entries and a sentinel, by the type invariants; only addresses
        // are computed.
        let end = unsafe { self.ids.add(n) };
        if id < self.ids || id >= end {
            return None;
        }
        // SAFETY: `id` is one of the table's entries, which are valid for good.
        let index = unsafe { (*id).driver_data };
        self.infos.get(index)
    }
}

/// Declares `$name`, an [`IdTable`] of `$info` entries, from `(DeviceId, info)` pairs.
///
/// # Examples
///
/// ```
/// kernel::pci_device_table!(TABLE, u32, [(kernel::pci::DeviceId::from_id(0x8086, 0x100e), 7)]);
/// ```
#[macro_export]
macro_rules! pci_device_table {
    ($name:ident, $info:ty, [$(($id:expr, $data:expr)),+ $(,)?]) => {
        const $name: $crate::pci::IdTable<$info> = {
            static ARRAY: $crate::pci::IdArray<$info, { [$(stringify!($id)),+].len() }> =
                $crate::pci::IdArray::new([$($id),+], [$($data),+]);
            ARRAY.table()
        };
    };
}

/// A PCI driver.
pub trait Driver: Send + Sync + Sized + 'static {
    /// What the driver knows of each device of its ID table.
    type IdInfo: Sync + 'static;

    /// The devices the driver takes.
    const ID_TABLE: IdTable<Self::IdInfo>;

    /// Sets up `dev`, which matched the entry with `info`, and returns the driver's data for it,
    /// which lives until the device is unbound. The device's memory space is enabled; devices
    /// the table does not list (bound through `driver_override`) are refused with `ENODEV`
    /// before this is called.
    fn probe(dev: &Device<Core>, info: &Self::IdInfo) -> Result<Pin<KBox<Self>>>;

    /// Called when the device is unbound, before the driver's data is dropped.
    fn unbind(_dev: &Device<Core>, _this: Pin<&Self>) {}
}

/// The registration of driver `T` with the PCI core, as a module (see
/// [`module_pci_driver!`](crate::module_pci_driver)).
///
/// # Invariants
///
/// `drv` is registered with the PCI core until drop.
#[pin_data(PinnedDrop)]
pub struct Registration<T: Driver> {
    #[pin]
    drv: Opaque<bindings::pci_driver>,
    _p: PhantomData<T>,
}

// SAFETY: The registration is only unregistered from the thread that drops it; the C core
// serializes every other use of it.
unsafe impl<T: Driver> Send for Registration<T> {}

// SAFETY: `&Registration` allows nothing.
unsafe impl<T: Driver> Sync for Registration<T> {}

impl<T: Driver> Registration<T> {
    /// Registers driver `T` as `name` for `module`.
    pub fn new(name: &'static CStr, module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            drv <- Self::register(name, module),
            _p: PhantomData,
        })
    }

    /// Fills in the C driver and registers it.
    fn register(
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> impl PinInit<Opaque<bindings::pci_driver>, Error> {
        let init = move |slot: *mut Opaque<bindings::pci_driver>| {
            let drv = Opaque::raw_get(slot);
            // SAFETY: `drv` is valid for writes; all-zeroes is an empty `pci_driver`.
            unsafe {
                drv.write(core::mem::zeroed());
                (*drv).name = name.as_char_ptr();
                (*drv).id_table = T::ID_TABLE.ids;
                (*drv).probe = Some(Self::probe_callback);
                (*drv).remove = Some(Self::remove_callback);
            }
            // SAFETY: `drv` is pinned (the slot is), filled in, and unregistered when the
            // registration is dropped.
            to_result(unsafe {
                bindings::__pci_register_driver(drv, module.as_ptr(), name.as_char_ptr())
            })
        };
        // SAFETY: The closure initializes the slot, or fails leaving nothing to drop.
        unsafe { init::pin_init_from_closure(init) }
    }

    extern "C" fn probe_callback(
        pdev: *mut bindings::pci_dev,
        id: *const bindings::pci_device_id,
    ) -> crate::ffi::c_int {
        from_result(|| {
            // SAFETY: The PCI core calls this with a valid device it holds locked for probe.
            let dev = unsafe { Device::<Core>::from_raw(pdev) };
            let info = T::ID_TABLE.info(id).ok_or(ENODEV)?;
            // SAFETY: As above; disabled again at remove or below, exactly once.
            to_result(unsafe { bindings::pci_enable_device_mem(pdev) })?;
            match T::probe(dev, info) {
                Ok(data) => {
                    // SAFETY: The data stays pinned: it is only dropped, at remove, from
                    // this pointer.
                    let ptr = KBox::into_raw(unsafe { Pin::into_inner_unchecked(data) });
                    // SAFETY: The device is valid; its driver data is ours.
                    unsafe { bindings::pci_set_drvdata(pdev, ptr.cast()) };
                    Ok(0)
                }
                Err(e) => {
                    Self::disable(dev);
                    Err(e)
                }
            }
        })
    }

    extern "C" fn remove_callback(pdev: *mut bindings::pci_dev) {
        // SAFETY: The PCI core calls this with a valid device it holds locked, bound to this
        // driver by a successful probe.
        let dev = unsafe { Device::<Core>::from_raw(pdev) };
        // SAFETY: Set by the probe, to a pinned `KBox<T>` nothing else frees.
        let data = unsafe { KBox::from_raw(bindings::pci_get_drvdata(pdev).cast::<T>()) };
        // SAFETY: Not moved: it is dropped in place below.
        T::unbind(dev, unsafe { Pin::new_unchecked(&*data) });
        drop(data);
        Self::disable(dev);
    }

    /// Disables the device, which the probe enabled, after the driver's data (which holds its
    /// BARs and stops its DMA) is gone; that also ends its bus mastering.
    fn disable(dev: &Device<Core>) {
        // SAFETY: The device is valid and locked; the probe enabled it once, undone here once.
        unsafe { bindings::pci_disable_device(dev.as_raw()) };
    }
}

#[pinned_drop]
impl<T: Driver> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered since `new`, by the type invariants; this unbinds every device.
        unsafe { bindings::pci_unregister_driver(self.drv.get()) };
    }
}

/// A module whose one job is to register the PCI driver `T` (see
/// [`module_pci_driver!`](crate::module_pci_driver)).
pub struct Module<T: Driver> {
    _reg: Pin<KBox<Registration<T>>>,
}

/// The name a [`module_pci_driver!`](crate::module_pci_driver) registers its driver under.
pub trait DriverName {
    /// The driver's name.
    const NAME: &'static CStr;
}

impl<T: Driver + DriverName> crate::Module for Module<T> {
    fn init(module: &'static ThisModule) -> Result<Self> {
        Ok(Self {
            _reg: KBox::pin_init(Registration::new(T::NAME, module), GFP_KERNEL)?,
        })
    }
}

/// Declares a module that registers a PCI driver, with the fields of [`module!`].
///
/// # Examples
///
/// ```ignore
/// kernel::module_pci_driver! {
///     type: MyDriver,
///     name: "my_driver",
///     author: "...",
///     description: "...",
///     license: "GPL",
/// }
/// ```
#[macro_export]
macro_rules! module_pci_driver {
    (type: $type:ty, name: $name:tt, $($f:tt)*) => {
        impl $crate::pci::DriverName for $type {
            const NAME: &'static $crate::str::CStr = $crate::c_str!($name);
        }
        type __ModulePciDriver = $crate::pci::Module<$type>;
        $crate::prelude::module! {
            type: __ModulePciDriver,
            name: $name,
            $($f)*
        }
    };
}
