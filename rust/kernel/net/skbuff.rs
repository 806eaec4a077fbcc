// SPDX-License-Identifier: GPL-2.0

//! Socket buffers (skbs): the packets of the networking stack.
//!
//! C header: [`include/linux/skbuff.h`](srctree/include/linux/skbuff.h)
//!
//! [`SkBuff`] owns an skb. Its operations check their bounds first, where C would `BUG()` (an
//! `skb_put()` past the end, a pull into the paged part), and return an error instead.
//!
//! Dropping an [`SkBuff`] frees it with `dev_kfree_skb_any_reason()`, which is correct in every
//! context, hard IRQ included, and counts as a drop (`SKB_DROP_REASON_NOT_SPECIFIED`) for drop
//! monitors. A packet that was handled is given up with [`SkBuff::consume`]; one dropped for a
//! known reason with [`SkBuff::drop_reason`].
//!
//! # Examples
//!
//! ```
//! use kernel::net::skbuff::{Checksum, SkBuff};
//!
//! let mut skb = SkBuff::alloc(128)?;
//! skb.reserve(16)?;
//! skb.put(4)?.copy_from_slice(&[1, 2, 3, 4]);
//! skb.push(2)?.copy_from_slice(&[0xa, 0xb]);
//! assert_eq!(skb.data(), &[0xa, 0xb, 1, 2, 3, 4]);
//! assert_eq!(skb.pull(2)?, &[1, 2, 3, 4]);
//! skb.set_checksum(Checksum::Unnecessary { level: 0 });
//! skb.consume();
//! # Ok::<(), Error>(())
//! ```

use crate::{
    bindings,
    error::{code::*, Error, Result},
    net::{netdev::Device, page_pool::PoolPage},
};
use core::{ptr::NonNull, slice};

/// The size the C core reserves after the data of an skb built around a buffer:
/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))`.
pub const SHARED_INFO_SIZE: usize = data_align(core::mem::size_of::<bindings::skb_shared_info>());

/// `SKB_DATA_ALIGN()`: rounds up to the cache line size.
pub const fn data_align(len: usize) -> usize {
    let align = bindings::SMP_CACHE_BYTES as usize;
    (len + align - 1) & !(align - 1)
}

/// The checksum state of a received packet (`skb->ip_summed` and its companions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// The device did not check the checksum (`CHECKSUM_NONE`).
    None,
    /// The device verified the checksums of the outermost `level + 1` headers
    /// (`CHECKSUM_UNNECESSARY` with `csum_level`); `level` is at most 3.
    Unnecessary {
        /// The number of verified checksums beyond the first.
        level: u8,
    },
    /// The device computed the ones' complement sum of the packet (`CHECKSUM_COMPLETE`).
    Complete(u32),
}

/// The kind of flow hash a device computed (`enum pkt_hash_types`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashType {
    /// Over the link-layer addresses.
    L2,
    /// Over the network-layer addresses.
    L3,
    /// Over addresses and ports.
    L4,
}

/// Why a packet was dropped (`enum skb_drop_reason`), for drop monitors and tracing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// No reason given.
    NotSpecified,
    /// The packet was shorter than its headers.
    PktTooSmall,
    /// The packet was longer than allowed.
    PktTooBig,
    /// An XDP program dropped the packet.
    Xdp,
    /// The device was not ready to receive or send.
    DevReady,
    /// A ring was full.
    FullRing,
    /// A memory allocation failed.
    NoMem,
    /// The device reported a bad header.
    DevHdr,
}

impl DropReason {
    fn as_raw(self) -> bindings::skb_drop_reason {
        match self {
            Self::NotSpecified => bindings::skb_drop_reason_SKB_DROP_REASON_NOT_SPECIFIED,
            Self::PktTooSmall => bindings::skb_drop_reason_SKB_DROP_REASON_PKT_TOO_SMALL,
            Self::PktTooBig => bindings::skb_drop_reason_SKB_DROP_REASON_PKT_TOO_BIG,
            Self::Xdp => bindings::skb_drop_reason_SKB_DROP_REASON_XDP,
            Self::DevReady => bindings::skb_drop_reason_SKB_DROP_REASON_DEV_READY,
            Self::FullRing => bindings::skb_drop_reason_SKB_DROP_REASON_FULL_RING,
            Self::NoMem => bindings::skb_drop_reason_SKB_DROP_REASON_NOMEM,
            Self::DevHdr => bindings::skb_drop_reason_SKB_DROP_REASON_DEV_HDR,
        }
    }
}

/// A buffer that could not become (part of) an skb, given back with the reason.
pub struct BuildError {
    /// `ENOMEM` if no skb could be allocated, `EINVAL` if the buffer is too small for the
    /// requested layout, `ENOSPC` if the skb has no free fragment slot.
    pub error: Error,
    /// The buffer, still owned, to be recycled or reused.
    pub page: PoolPage,
}

/// An owned socket buffer.
///
/// Wraps the kernel's [`struct sk_buff`].
///
/// [`struct sk_buff`]: srctree/include/linux/skbuff.h
///
/// # Invariants
///
/// `ptr` points to a valid skb to which this value holds the only reference; it is not shared
/// (not cloned, `skb->users == 1`), so its data and metadata may be changed.
pub struct SkBuff {
    ptr: NonNull<bindings::sk_buff>,
}

// SAFETY: An skb that nothing else references can be used and freed from any thread.
unsafe impl Send for SkBuff {}

// SAFETY: `&SkBuff` only gives read access to the data and metadata.
unsafe impl Sync for SkBuff {}

impl SkBuff {
    /// Allocates an skb with room for `len` bytes of data, and the usual `NET_SKB_PAD` of
    /// headroom, without a device (`netdev_alloc_skb(NULL, len)`).
    ///
    /// Does not sleep; fails with `ENOMEM`, and with `EINVAL` for lengths from 1 GiB on (the C
    /// size computations would overflow long before that is reasonable).
    pub fn alloc(len: u32) -> Result<Self> {
        if len >= 1 << 30 {
            return Err(EINVAL);
        }
        // SAFETY: A null device is allowed; the flags do not sleep.
        let skb = unsafe {
            bindings::__netdev_alloc_skb(core::ptr::null_mut(), len, bindings::GFP_ATOMIC)
        };
        // INVARIANT: A freshly allocated skb has a single reference.
        Ok(Self {
            ptr: NonNull::new(skb).ok_or(ENOMEM)?,
        })
    }

    /// Builds an skb around a page-pool buffer without copying (`build_skb()`), with the
    /// packet's `len` bytes at `headroom` bytes into the buffer, and marks it for page-pool
    /// recycling.
    ///
    /// The skb's shared info goes at the end of the buffer, cache-line aligned
    /// ([`SHARED_INFO_SIZE`] bytes); the buffer must have room for `headroom + len` bytes
    /// before it. Otherwise, or if no skb head can be allocated, the buffer is given back in
    /// the error.
    pub fn build(page: PoolPage, headroom: u32, len: u32) -> Result<Self, BuildError> {
        // SAFETY: `build_skb()` may be called in any context.
        unsafe { Self::build_with(page, headroom, len, bindings::build_skb) }
    }

    /// Builds an skb as [`SkBuff::build`] does, with `build`, a function with the signature and
    /// contract of `build_skb()`, for the head.
    ///
    /// # Safety
    ///
    /// `build` must be allowed in the caller's context (`napi_build_skb()` only in softirq
    /// context, for instance).
    pub(crate) unsafe fn build_with(
        mut page: PoolPage,
        headroom: u32,
        len: u32,
        build: unsafe extern "C" fn(*mut crate::ffi::c_void, u32) -> *mut bindings::sk_buff,
    ) -> Result<Self, BuildError> {
        let va = page.as_mut_slice().as_mut_ptr();
        // `build_skb()` puts the shared info at the end of `frag_size`: end the area on a cache
        // line so that the shared info (and its atomics) is aligned.
        let align = bindings::SMP_CACHE_BYTES as usize;
        let end = (va as usize + page.len()) & !(align - 1);
        let frag_size = end.saturating_sub(va as usize);
        if headroom as usize + len as usize + SHARED_INFO_SIZE > frag_size {
            return Err(BuildError {
                error: EINVAL,
                page,
            });
        }
        // SAFETY: `va` is the start of the buffer we own, of at least `frag_size` bytes, which
        // hold the data and then the aligned shared info as checked above. `build` takes over
        // nothing on failure, and may be called here by the safety requirements.
        let skb = unsafe { build(va.cast(), frag_size as u32) };
        let Some(ptr) = NonNull::new(skb) else {
            return Err(BuildError {
                error: ENOMEM,
                page,
            });
        };
        // The skb now owns the buffer and returns it to the pool when freed.
        let _ = page.into_raw();
        // INVARIANT: A freshly built skb has a single reference.
        let skb = Self { ptr };
        // SAFETY: We own the skb. Its data starts at the buffer and is empty, and the buffer
        // has room for `headroom + len`, checked above; the head is a page-pool page.
        unsafe {
            bindings::skb_reserve(skb.as_ptr(), headroom as i32);
            bindings::skb_put(skb.as_ptr(), len);
            bindings::skb_mark_for_recycle(skb.as_ptr());
        }
        Ok(skb)
    }

    /// Returns the raw pointer to the skb.
    pub fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.ptr.as_ptr()
    }

    /// Gives up ownership, returning the raw skb; the caller now owns the reference.
    pub fn into_raw(self) -> NonNull<bindings::sk_buff> {
        core::mem::ManuallyDrop::new(self).ptr
    }

    /// Takes ownership of a raw skb.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid, unshared skb whose only reference passes to the new value. If
    /// the skb is not marked for page-pool recycling, it must not hold page-pool pages (a
    /// later [`SkBuff::add_rx_frag`] marks it, and freeing would then return them).
    pub unsafe fn from_raw(ptr: NonNull<bindings::sk_buff>) -> Self {
        // INVARIANT: By the safety requirements of this function.
        Self { ptr }
    }

    /// Returns the length of the packet: linear data plus fragments.
    pub fn len(&self) -> u32 {
        // SAFETY: By the type invariants the skb is valid.
        unsafe { (*self.as_ptr()).len }
    }

    /// Returns `true` if the packet has no data.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the length of the linear data (the part in the skb head).
    pub fn headlen(&self) -> u32 {
        let skb = self.as_ptr();
        // SAFETY: By the type invariants the skb is valid. `skb_headlen()`, read in place.
        unsafe { (*skb).len - (*skb).data_len }
    }

    /// Returns the free space before the data.
    pub fn headroom(&self) -> u32 {
        // SAFETY: By the type invariants the skb is valid.
        unsafe { bindings::skb_headroom(self.as_ptr()) }
    }

    /// Returns the free space after the linear data (0 once the skb has fragments).
    pub fn tailroom(&self) -> u32 {
        // SAFETY: By the type invariants the skb is valid.
        unsafe { bindings::skb_tailroom(self.as_ptr()) as u32 }
    }

    /// Returns the number of page fragments.
    pub fn nr_frags(&self) -> u32 {
        // SAFETY: By the type invariants the skb is valid, and so is its shared info.
        unsafe { u32::from((*bindings::skb_shinfo(self.as_ptr())).nr_frags) }
    }

    /// Returns the linear data.
    pub fn data(&self) -> &[u8] {
        // SAFETY: By the type invariants the skb is valid and unshared; `data` points to
        // `headlen()` initialised bytes that stay put while `self` is borrowed.
        unsafe { slice::from_raw_parts((*self.as_ptr()).data, self.headlen() as usize) }
    }

    /// Returns the linear data for writing.
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: As in `data`, and `&mut self` makes this the only view of the data.
        unsafe { slice::from_raw_parts_mut((*self.as_ptr()).data, self.headlen() as usize) }
    }

    /// Moves the start of an empty skb's data `len` bytes on, making headroom
    /// (`skb_reserve()`).
    ///
    /// Fails with `EINVAL` if the skb has data or too little tailroom.
    pub fn reserve(&mut self, len: u32) -> Result {
        if !self.is_empty() || len > self.tailroom() {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariants we own the skb; the room was checked.
        unsafe { bindings::skb_reserve(self.as_ptr(), len as i32) };
        Ok(())
    }

    /// Appends `len` zeroed bytes to the linear data and returns them for filling
    /// (`skb_put_zero()`).
    ///
    /// Fails with `EINVAL` if the tailroom is too small or the skb has fragments (C would
    /// panic).
    pub fn put(&mut self, len: u32) -> Result<&mut [u8]> {
        if len > self.tailroom() || self.headlen() != self.len() {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariants we own the skb; it is linear and has the tailroom.
        let p = unsafe { bindings::skb_put_zero(self.as_ptr(), len) };
        // SAFETY: `skb_put_zero()` returned the start of the `len` zeroed bytes it appended.
        Ok(unsafe { slice::from_raw_parts_mut(p.cast::<u8>(), len as usize) })
    }

    /// Prepends `len` bytes to the data and returns them for filling (`skb_push()`).
    ///
    /// Fails with `EINVAL` if the headroom is too small (C would panic).
    pub fn push(&mut self, len: u32) -> Result<&mut [u8]> {
        if len > self.headroom() {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariants we own the skb; the headroom was checked.
        let p = unsafe { bindings::skb_push(self.as_ptr(), len) };
        // SAFETY: `skb_push()` returned the start of the `len` bytes it prepended.
        Ok(unsafe { slice::from_raw_parts_mut(p.cast::<u8>(), len as usize) })
    }

    /// Removes `len` bytes from the start of the data and returns the data that is left
    /// (`skb_pull()`).
    ///
    /// Fails with `EINVAL` if `len` goes past the linear data (C would pull into the
    /// fragments and panic).
    pub fn pull(&mut self, len: u32) -> Result<&[u8]> {
        if len > self.headlen() {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariants we own the skb; `len` is within the linear data.
        let p = unsafe { bindings::skb_pull(self.as_ptr(), len) };
        if p.is_null() {
            return Err(EINVAL);
        }
        Ok(self.data())
    }

    /// Appends `len` bytes at `offset` in a page-pool buffer as the next page fragment
    /// (`skb_add_rx_frag()`), for packets larger than one buffer; the skb takes the buffer and
    /// is marked for page-pool recycling.
    ///
    /// `truesize` is the memory the fragment occupies (usually the buffer size, at least
    /// `len`). Fails, giving the buffer back, with `ENOSPC` if all `MAX_SKB_FRAGS` slots are
    /// used and with `EINVAL` if `offset + len` is not within the buffer or `truesize < len`.
    pub fn add_rx_frag(
        &mut self,
        page: PoolPage,
        offset: u32,
        len: u32,
        truesize: u32,
    ) -> Result<(), BuildError> {
        if u64::from(offset) + u64::from(len) > page.len() as u64 || truesize < len {
            return Err(BuildError {
                error: EINVAL,
                page,
            });
        }
        let nr = self.nr_frags();
        if nr >= bindings::MAX_SKB_FRAGS {
            return Err(BuildError {
                error: ENOSPC,
                page,
            });
        }
        let (raw, _pool, base, _len) = page.into_raw();
        // SAFETY: By the type invariants we own the skb; slot `nr` is the next free one. The
        // pool reference on the page passes to the skb, which returns it to the pool when
        // freed because of the recycle mark.
        unsafe {
            bindings::skb_add_rx_frag(
                self.as_ptr(),
                nr as i32,
                raw.as_ptr(),
                (base + offset) as i32,
                len as i32,
                truesize,
            );
            bindings::skb_mark_for_recycle(self.as_ptr());
        }
        Ok(())
    }

    /// Returns `true` if freeing the skb returns its page-pool pages to their pools.
    pub fn is_pp_recycle(&self) -> bool {
        // SAFETY: By the type invariants the skb is valid.
        unsafe { bindings::skb_pp_recycle(self.as_ptr()) }
    }

    /// Returns the protocol (`skb->protocol`, network byte order).
    pub fn protocol(&self) -> u16 {
        // SAFETY: By the type invariants the skb is valid.
        unsafe { bindings::skb_protocol(self.as_ptr()) }
    }

    /// Sets the protocol (`skb->protocol`, network byte order).
    pub fn set_protocol(&mut self, protocol: u16) {
        // SAFETY: By the type invariants we own the skb.
        unsafe { bindings::skb_set_protocol(self.as_ptr(), protocol) }
    }

    /// Parses the Ethernet header of a received frame (`eth_type_trans()`): records `dev` as
    /// the receiving device, sets the packet type (host, broadcast, multicast, other host),
    /// pulls the header and sets and returns the protocol (network byte order).
    ///
    /// Fails with `EINVAL`, changing nothing, if the linear data is shorter than an Ethernet
    /// header.
    ///
    /// # Safety
    ///
    /// The skb refers to `dev` afterwards, as every received packet does: `dev` must stay valid
    /// until the skb is handed to the stack of a registered `dev` or freed.
    pub unsafe fn eth_type_trans(&mut self, dev: &Device) -> Result<u16> {
        if self.headlen() < bindings::ETH_HLEN {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariants we own the skb; its linear data holds a full Ethernet
        // header; `dev` is valid, and stays valid for the skb by the safety requirements.
        let proto = unsafe { bindings::eth_type_trans(self.as_ptr(), dev.as_ptr()) };
        // SAFETY: As above; `eth_type_trans()` does not set the field itself.
        unsafe { bindings::skb_set_protocol(self.as_ptr(), proto) };
        Ok(proto)
    }

    /// Returns the checksum state.
    pub fn checksum(&self) -> Checksum {
        let skb = self.as_ptr();
        // SAFETY: By the type invariants the skb is valid.
        unsafe {
            match u32::from(bindings::skb_ip_summed(skb)) {
                bindings::CHECKSUM_UNNECESSARY => Checksum::Unnecessary {
                    level: bindings::skb_csum_level(skb),
                },
                bindings::CHECKSUM_COMPLETE => Checksum::Complete(bindings::skb_csum(skb)),
                _ => Checksum::None,
            }
        }
    }

    /// Sets the checksum state from what the device reported.
    ///
    /// A level above 3 (`SKB_MAX_CSUM_LEVEL`) is capped at 3.
    pub fn set_checksum(&mut self, csum: Checksum) {
        let skb = self.as_ptr();
        // SAFETY: By the type invariants we own the skb.
        unsafe {
            match csum {
                Checksum::None => {
                    bindings::skb_set_ip_summed(skb, bindings::CHECKSUM_NONE as u8);
                    bindings::skb_set_csum_level(skb, 0);
                }
                Checksum::Unnecessary { level } => {
                    bindings::skb_set_ip_summed(skb, bindings::CHECKSUM_UNNECESSARY as u8);
                    bindings::skb_set_csum_level(
                        skb,
                        level.min(bindings::SKB_MAX_CSUM_LEVEL as u8),
                    );
                }
                Checksum::Complete(sum) => {
                    bindings::skb_set_ip_summed(skb, bindings::CHECKSUM_COMPLETE as u8);
                    bindings::skb_set_csum(skb, sum);
                }
            }
        }
    }

    /// Sets the flow hash the device computed (`skb_set_hash()`).
    pub fn set_hash(&mut self, hash: u32, kind: HashType) {
        let kind = match kind {
            HashType::L2 => bindings::pkt_hash_types_PKT_HASH_TYPE_L2,
            HashType::L3 => bindings::pkt_hash_types_PKT_HASH_TYPE_L3,
            HashType::L4 => bindings::pkt_hash_types_PKT_HASH_TYPE_L4,
        };
        // SAFETY: By the type invariants we own the skb.
        unsafe { bindings::skb_set_hash(self.as_ptr(), hash, kind) }
    }

    /// Returns the flow hash, without computing one (`skb_get_hash_raw()`); 0 if none is set.
    pub fn hash(&self) -> u32 {
        // SAFETY: By the type invariants the skb is valid.
        unsafe { bindings::skb_get_hash_raw(self.as_ptr()) }
    }

    /// Records the VLAN tag the device stripped (`__vlan_hwaccel_put_tag()`); `proto` is the
    /// tag protocol in network byte order (802.1Q or 802.1ad).
    pub fn set_vlan_tag(&mut self, proto: u16, tci: u16) {
        // SAFETY: By the type invariants we own the skb.
        unsafe { bindings::__vlan_hwaccel_put_tag(self.as_ptr(), proto, tci) }
    }

    /// Returns the VLAN tag recorded with [`SkBuff::set_vlan_tag`], if any.
    pub fn vlan_tag(&self) -> Option<u16> {
        let mut tci = 0u16;
        // SAFETY: By the type invariants the skb is valid; `tci` is valid for writes.
        let ret = unsafe { bindings::__vlan_hwaccel_get_tag(self.as_ptr(), &mut tci) };
        (ret == 0).then_some(tci)
    }

    /// Records the receive queue the packet came in on (`skb_record_rx_queue()`).
    pub fn record_rx_queue(&mut self, queue: u16) {
        // SAFETY: By the type invariants we own the skb.
        unsafe { bindings::skb_record_rx_queue(self.as_ptr(), queue) }
    }

    /// Returns the receive queue recorded with [`SkBuff::record_rx_queue`], if any.
    pub fn rx_queue(&self) -> Option<u16> {
        let skb = self.as_ptr();
        // SAFETY: By the type invariants the skb is valid.
        unsafe { bindings::skb_rx_queue_recorded(skb).then(|| bindings::skb_get_rx_queue(skb)) }
    }

    /// Frees a packet that was handled successfully (`dev_consume_skb_any()`); allowed in any
    /// context.
    pub fn consume(self) {
        let skb = self.into_raw();
        // SAFETY: We owned the only reference, which the call takes.
        unsafe {
            bindings::dev_kfree_skb_any_reason(skb.as_ptr(), bindings::skb_drop_reason_SKB_CONSUMED)
        }
    }

    /// Frees a dropped packet with the reason it was dropped (`dev_kfree_skb_any_reason()`);
    /// allowed in any context.
    pub fn drop_reason(self, reason: DropReason) {
        let skb = self.into_raw();
        // SAFETY: We owned the only reference, which the call takes.
        unsafe { bindings::dev_kfree_skb_any_reason(skb.as_ptr(), reason.as_raw()) }
    }
}

impl Drop for SkBuff {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own the only reference. This function is correct
        // in every context: from hard IRQ or with IRQs off it defers the free.
        unsafe {
            bindings::dev_kfree_skb_any_reason(
                self.as_ptr(),
                bindings::skb_drop_reason_SKB_DROP_REASON_NOT_SPECIFIED,
            )
        }
    }
}

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
mod tests;
