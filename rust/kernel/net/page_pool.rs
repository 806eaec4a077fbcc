// SPDX-License-Identifier: GPL-2.0

//! Page pools: per-queue page allocators that keep pages DMA-mapped and recycle them.
//!
//! C headers: [`include/net/page_pool/types.h`](srctree/include/net/page_pool/types.h),
//! [`include/net/page_pool/helpers.h`](srctree/include/net/page_pool/helpers.h)
//!
//! A [`PagePool`] hands out [`PoolPage`]s: whole pages or fragments of a page, each owned by
//! exactly one value, which returns it to its pool when dropped. Returning never needs the
//! [`PagePool`] handle: like in C, a pool whose handle is dropped while pages are still out
//! (`page_pool_destroy()`) stays alive until the last page comes back.
//!
//! The allocation side of a pool is lockless and must be used by one context at a time; here
//! that is expressed by `&mut PagePool`. Returning a page is allowed from any context but hard
//! IRQ, as in C. Creating and dropping a pool may sleep.
//!
//! A pool that maps pages for DMA holds a reference on its device while its handle lives.
//! Dropping the handle (`page_pool_destroy()`) unmaps at once every page still out in skbs and
//! frames (the pool scrubs its mappings), so the device must be done with all of them first:
//! stop its DMA, and the transmission of frames sent from where they were received, before the
//! handle goes. Pages that come back later are freed without a mapping.
//!
//! # Examples
//!
//! ```
//! use kernel::net::page_pool::{PagePool, Params};
//!
//! let mut pool = PagePool::new(&Params::new(64))?;
//! let page = pool.alloc_page()?;
//! assert_eq!(page.len(), kernel::page::PAGE_SIZE);
//! assert_eq!(pool.stats().outstanding(), 1);
//! drop(page);
//! assert_eq!(pool.stats().outstanding(), 0);
//! # Ok::<(), Error>(())
//! ```

use crate::{
    bindings,
    device::Device,
    dma::{DataDirection, DmaAddr},
    error::{code::*, from_err_ptr, Result},
    ffi::c_uint,
    page::PAGE_SIZE,
    types::ARef,
};
use core::{marker::PhantomData, ptr, ptr::NonNull, slice};

/// `GFP_ATOMIC | __GFP_NOWARN`, what `page_pool_dev_alloc_*()` use: allocation runs in softirq
/// context and failure is an expected, counted outcome.
const ALLOC_GFP: bindings::gfp_t = bindings::GFP_ATOMIC | bindings::__GFP_NOWARN;

/// Parameters of a new [`PagePool`].
///
/// Wraps the kernel's [`struct page_pool_params`]; built with the methods below, starting from
/// [`Params::new`].
///
/// [`struct page_pool_params`]: srctree/include/net/page_pool/types.h
#[derive(Clone, Copy)]
pub struct Params<'a> {
    order: u32,
    pool_size: u32,
    nid: i32,
    dev: Option<&'a Device>,
    dma_dir: DataDirection,
    flags: u32,
    offset: u32,
    max_len: u32,
    napi: *mut bindings::napi_struct,
    netdev: *mut bindings::net_device,
    queue_idx: u32,
}

impl<'a> Params<'a> {
    /// Parameters for a pool of order-0 pages whose ring holds `pool_size` pages, on any NUMA
    /// node, without DMA mapping.
    ///
    /// The C pool caps the ring at 16384 pages and uses 1024 for a size of 0.
    pub const fn new(pool_size: u32) -> Self {
        Self {
            order: 0,
            pool_size,
            nid: bindings::NUMA_NO_NODE,
            dev: None,
            dma_dir: DataDirection::FromDevice,
            flags: 0,
            offset: 0,
            max_len: 0,
            napi: ptr::null_mut(),
            netdev: ptr::null_mut(),
            queue_idx: 0,
        }
    }

    /// Allocates compound pages of `2^order` pages instead of single pages.
    ///
    /// Orders the page allocator cannot serve (above `MAX_PAGE_ORDER`) are accepted, as in C,
    /// and every allocation then fails; orders from 16 on are rejected.
    pub const fn order(mut self, order: u32) -> Self {
        self.order = order;
        self
    }

    /// Allocates pages on NUMA node `nid` (by default, the node of the allocating CPU).
    ///
    /// The node must exist and have memory.
    pub const fn nid(mut self, nid: i32) -> Self {
        self.nid = nid;
        self
    }

    /// Has the pool DMA-map its pages for `dev`, in direction `dir` (`PP_FLAG_DMA_MAP`).
    ///
    /// The device must have a DMA mask.
    ///
    /// Pages stay mapped while they are recycled. The C pool accepts only
    /// [`DataDirection::FromDevice`] and [`DataDirection::Bidirectional`] (the latter for pools
    /// whose pages are also transmitted with `XDP_TX`).
    pub const fn dma(mut self, dev: &'a Device, dir: DataDirection) -> Self {
        self.dev = Some(dev);
        self.dma_dir = dir;
        self.flags |= bindings::PP_FLAG_DMA_MAP;
        self
    }

    /// Has the pool sync recycled pages for the device (`PP_FLAG_DMA_SYNC_DEV`), from `offset`
    /// for at most `max_len` bytes: the area the device may write.
    ///
    /// Needs [`Params::dma`], and `offset + max_len` must lie within a page of the pool's order.
    pub const fn sync_for_device(mut self, offset: u32, max_len: u32) -> Self {
        self.flags |= bindings::PP_FLAG_DMA_SYNC_DEV;
        self.offset = offset;
        self.max_len = max_len;
        self
    }

    /// Binds the pool to the NAPI instance that allocates from it (`page_pool_params.napi`):
    /// pages freed in that instance's softirq context then go straight back into the pool's
    /// lockless cache.
    ///
    /// # Safety
    ///
    /// `napi` must be an added NAPI instance that only allocates from the pool in its poll (or
    /// while it is disabled), and the pool must be dropped while the instance is disabled and
    /// before it is deleted (`netif_napi_del()`).
    pub unsafe fn napi(mut self, napi: *mut bindings::napi_struct) -> Self {
        self.napi = napi;
        self
    }

    /// Reports the pool to user space as serving receive queue `queue_idx` of `netdev`
    /// (`page_pool_params.netdev` and `queue_idx`, listed by the netdev netlink family).
    ///
    /// # Safety
    ///
    /// `netdev` must be registered when the pool is created and stay allocated until the pool
    /// is dropped (unregistering moves its pools to the loopback device, but a device freed
    /// without being unregistered would leave the pool on its list).
    pub unsafe fn netdev(mut self, netdev: *mut bindings::net_device, queue_idx: u32) -> Self {
        self.netdev = netdev;
        self.queue_idx = queue_idx;
        self
    }

    fn to_raw(self) -> bindings::page_pool_params {
        // SAFETY: `page_pool_params` is a C struct of integers and pointers for which all-zeroes
        // is valid and means "not set".
        let mut p: bindings::page_pool_params = unsafe { core::mem::zeroed() };
        p.__bindgen_anon_1.fast.order = self.order;
        p.__bindgen_anon_1.fast.pool_size = self.pool_size;
        p.__bindgen_anon_1.fast.nid = self.nid;
        p.__bindgen_anon_1.fast.dev = self.dev.map_or(ptr::null_mut(), |d| d.as_raw());
        p.__bindgen_anon_1.fast.dma_dir = self.dma_dir.as_raw();
        p.__bindgen_anon_1.fast.max_len = self.max_len;
        p.__bindgen_anon_1.fast.offset = self.offset;
        p.__bindgen_anon_1.fast.napi = self.napi;
        p.__bindgen_anon_2.slow.netdev = self.netdev;
        p.__bindgen_anon_2.slow.queue_idx = self.queue_idx;
        p.__bindgen_anon_2.slow.flags = self.flags;
        p
    }
}

/// A page pool.
///
/// Wraps the kernel's [`struct page_pool`]. Dropping it calls `page_pool_destroy()`, which
/// frees the pool once every page it handed out has come back.
///
/// [`struct page_pool`]: srctree/include/net/page_pool/types.h
///
/// # Invariants
///
/// `ptr` points to a pool created by `page_pool_create()` that has not been destroyed; this
/// value owns the reference that `page_pool_destroy()` gives up.
pub struct PagePool {
    ptr: NonNull<bindings::page_pool>,
    has_napi: bool,
    _dev: Option<ARef<Device>>,
}

// SAFETY: A page pool can be used and destroyed from any thread; the allocation side, which is
// not thread-safe, needs `&mut PagePool`.
unsafe impl Send for PagePool {}

// SAFETY: The methods taking `&PagePool` only read counters with single loads.
unsafe impl Sync for PagePool {}

// The handle is a pointer and may be moved; only the `PhantomData` of `ARef<Device>` would
// make it `!Unpin`.
impl Unpin for PagePool {}

#[cfg(CONFIG_RUST_NET_CORE_KUNIT_TEST)]
pub(crate) mod tests;

impl PagePool {
    /// Creates a page pool.
    ///
    /// Fails with `EINVAL` for invalid parameters (those the C pool rejects: a DMA direction
    /// it does not support, syncing for the device without DMA mapping or with a `max_len` of
    /// 0; and those it would misuse: an order from 16 on, a sync range beyond the page, a
    /// device without a DMA mask, a NUMA node without memory), and with `ENOMEM`. May sleep.
    pub fn new(params: &Params<'_>) -> Result<Self> {
        if params.order >= 16 {
            return Err(EINVAL);
        }
        if params.nid != bindings::NUMA_NO_NODE {
            let valid = (0..bindings::MAX_NUMNODES as i32).contains(&params.nid)
                // SAFETY: FFI call; the node index is within the node masks.
                && unsafe { bindings::node_state(params.nid, bindings::node_states_N_MEMORY) } != 0;
            if !valid {
                return Err(EINVAL);
            }
        }
        let page_size = (PAGE_SIZE as u64) << params.order;
        if u64::from(params.offset) + u64::from(params.max_len) > page_size {
            return Err(EINVAL);
        }
        if let Some(dev) = params.dev {
            // SAFETY: `dev` is a valid device; the mask pointer is only compared with null.
            if unsafe { (*dev.as_raw()).dma_mask.is_null() } {
                return Err(EINVAL);
            }
        }
        let raw = params.to_raw();
        // SAFETY: `raw` is a valid parameter block that lives across the call; the pool copies
        // it. The device, if any, is valid for the call, and the pool takes its own reference.
        let ptr = from_err_ptr(unsafe { bindings::page_pool_create(&raw) })?;
        // INVARIANT: `page_pool_create()` returned a valid pool.
        Ok(Self {
            ptr: NonNull::new(ptr).ok_or(ENOMEM)?,
            has_napi: !params.napi.is_null(),
            _dev: params.dev.map(ARef::from),
        })
    }

    /// Returns the raw pointer to the pool.
    pub fn as_ptr(&self) -> *mut bindings::page_pool {
        self.ptr.as_ptr()
    }

    /// Allocates a whole page (of the pool's order).
    ///
    /// Allocation does not sleep and fails with `ENOMEM` when the pool is empty and the page
    /// allocator has nothing either.
    pub fn alloc_page(&mut self) -> Result<PoolPage> {
        // SAFETY: By the type invariants the pool is valid; `&mut self` serialises the
        // allocation side, which C requires.
        let page = unsafe { bindings::page_pool_alloc_pages(self.as_ptr(), ALLOC_GFP) };
        let page = NonNull::new(page).ok_or(ENOMEM)?;
        // SAFETY: By the type invariants the pool is valid.
        let order = unsafe { (*self.as_ptr()).p.order };
        // INVARIANT: The page comes from this pool and the pool's reference to it is now ours.
        Ok(PoolPage {
            page,
            pool: self.ptr,
            offset: 0,
            len: PAGE_SIZE << order,
            _not_sync: PhantomData,
        })
    }

    fn page_size(&self) -> usize {
        // SAFETY: By the type invariants the pool is valid; the order does not change.
        PAGE_SIZE << unsafe { (*self.as_ptr()).p.order }
    }

    /// Allocates `size` bytes from a page the pool splits into fragments.
    ///
    /// Fragments of one page are handed out at increasing offsets, each with its own reference
    /// on the page; the page goes back to the pool when its last fragment is dropped and the
    /// pool has moved on to another page. Fails with `EINVAL` for a size of 0 or larger than a
    /// page of the pool's order.
    pub fn alloc_frag(&mut self, size: u32) -> Result<PoolPage> {
        if size == 0 || size as usize > self.page_size() {
            return Err(EINVAL);
        }
        let mut offset: c_uint = 0;
        // SAFETY: By the type invariants the pool is valid; `&mut self` serialises the
        // allocation side. `offset` is valid for writes.
        let page =
            unsafe { bindings::page_pool_alloc_frag(self.as_ptr(), &mut offset, size, ALLOC_GFP) };
        let page = NonNull::new(page).ok_or(ENOMEM)?;
        // INVARIANT: The fragment comes from this pool and its reference is now ours.
        Ok(PoolPage {
            page,
            pool: self.ptr,
            offset,
            len: size as usize,
            _not_sync: PhantomData,
        })
    }

    /// Returns the number of pages the pool holds from the page allocator: pages in use and
    /// pages waiting in its cache and ring, as C's `page_pool_inflight()` counts them.
    ///
    /// The pages in use alone are [`Stats::outstanding`].
    pub fn inflight(&self) -> i64 {
        let pool = self.as_ptr();
        // SAFETY: By the type invariants the pool is valid. The allocating context updates the
        // hold count with plain stores and returns update the release count atomically; each is
        // read with a single load, as C's `page_pool_inflight()` does.
        let (hold, release) = unsafe {
            (
                ptr::read_volatile(ptr::addr_of!((*pool).pages_state_hold_cnt)),
                ptr::read_volatile(ptr::addr_of!((*pool).pages_state_release_cnt.counter)),
            )
        };
        // The counters wrap; their distance is the number of pages out.
        i64::from(hold.wrapping_sub(release as u32) as i32)
    }

    /// Returns the pool's allocation and recycling statistics.
    #[cfg(CONFIG_PAGE_POOL_STATS)]
    pub fn stats(&self) -> Stats {
        // SAFETY: All-zeroes is a valid `page_pool_stats` (all counters).
        let mut raw: bindings::page_pool_stats = unsafe { core::mem::zeroed() };
        // SAFETY: By the type invariants the pool is valid; `raw` is valid for writes. The
        // function only adds the pool's counters to `raw` and fails only for a null pool.
        unsafe { bindings::page_pool_get_stats(self.as_ptr(), &mut raw) };
        Stats {
            alloc_fast: raw.alloc_stats.fast,
            alloc_slow: raw.alloc_stats.slow,
            alloc_slow_high_order: raw.alloc_stats.slow_high_order,
            alloc_empty: raw.alloc_stats.empty,
            alloc_refill: raw.alloc_stats.refill,
            alloc_waive: raw.alloc_stats.waive,
            recycle_cached: raw.recycle_stats.cached,
            recycle_cache_full: raw.recycle_stats.cache_full,
            recycle_ring: raw.recycle_stats.ring,
            recycle_ring_full: raw.recycle_stats.ring_full,
            recycle_released_refcnt: raw.recycle_stats.released_refcnt,
        }
    }

    /// Returns `true` if pages may be recycled straight into the pool's lockless cache by a
    /// holder of `&mut self`.
    ///
    /// That is the case for a pool without a NAPI instance: the C core never recycles directly
    /// into it on its own, so exclusive access to the allocation side is enough. For a pool with
    /// a NAPI instance, the C core recycles directly whenever it runs in that NAPI's context.
    fn direct_ok(&self) -> bool {
        !self.has_napi
    }
}

impl Drop for PagePool {
    /// Destroys the pool (`page_pool_destroy()`); may sleep.
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own the pool's creation reference. Pages still out
        // keep the pool alive; `page_pool_destroy()` frees it when they are all back.
        unsafe { bindings::page_pool_destroy(self.as_ptr()) };
    }
}

/// Allocation and recycling counters of a [`PagePool`] (`struct page_pool_stats`).
#[cfg(CONFIG_PAGE_POOL_STATS)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Allocations served from the lockless cache.
    pub alloc_fast: u64,
    /// Order-0 allocations that went to the page allocator.
    pub alloc_slow: u64,
    /// Higher-order allocations that went to the page allocator.
    pub alloc_slow_high_order: u64,
    /// Allocations that found both the cache and the ring empty.
    pub alloc_empty: u64,
    /// Cache refills from the ring.
    pub alloc_refill: u64,
    /// Pages dropped at refill because they were on the wrong NUMA node.
    pub alloc_waive: u64,
    /// Pages recycled into the lockless cache.
    pub recycle_cached: u64,
    /// Direct recycles that found the cache full.
    pub recycle_cache_full: u64,
    /// Pages recycled into the ring.
    pub recycle_ring: u64,
    /// Recycles that found the ring full (the page was freed).
    pub recycle_ring_full: u64,
    /// Pages released because something else still held a reference.
    pub recycle_released_refcnt: u64,
}

#[cfg(CONFIG_PAGE_POOL_STATS)]
impl Stats {
    /// Returns the number of pages handed out and not returned yet: each page handed out is
    /// counted by exactly one allocation counter, and each returned page by exactly one of the
    /// terminal recycle counters.
    ///
    /// Only meaningful for pools used for whole pages: the C pool counts each fragment as an
    /// allocation, but a fragmented page comes back once.
    pub fn outstanding(&self) -> i64 {
        let out =
            self.alloc_fast + self.alloc_slow + self.alloc_slow_high_order + self.alloc_refill;
        let back = self.recycle_cached
            + self.recycle_ring
            + self.recycle_ring_full
            + self.recycle_released_refcnt;
        out as i64 - back as i64
    }
}

/// A page, or a fragment of one, from a [`PagePool`].
///
/// Owns one pool reference on the page; dropping it returns that reference to the pool.
///
/// # Context
///
/// The return takes the pool's ring with bottom-half locking (`spin_lock_bh()` outside
/// softirq context), as in C: a page may be dropped in task context and in softirq context,
/// not in hard interrupt context nor with interrupts off (netpoll's `Poll::poll_tx` and its
/// transmissions), where `local_bh_enable()` must not run. The value may move between threads
/// (`Send`): the rule is about the context of the drop, which the engines keep (they release
/// pages only from the poll with a budget and the control path).
///
/// # Invariants
///
/// `page` was allocated from `pool`, this value owns one pool reference on it, and
/// `offset..offset + len` lies within the page (of the pool's order).
pub struct PoolPage {
    page: NonNull<bindings::page>,
    pool: NonNull<bindings::page_pool>,
    offset: u32,
    len: usize,
    // Not `Sync`: handing out `&[u8]` views across threads is left to owners that know when
    // the device is done with the buffer.
    _not_sync: PhantomData<*mut u8>,
}

// SAFETY: The pool reference can be returned from any thread (not hard IRQ), and the page is
// owned memory.
unsafe impl Send for PoolPage {}

impl PoolPage {
    /// Returns the raw pointer to the page.
    pub fn as_page_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// Returns the raw pointer to the pool the page belongs to.
    pub fn pool_ptr(&self) -> *mut bindings::page_pool {
        self.pool.as_ptr()
    }

    /// Returns the offset of the buffer within the page.
    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// Returns the length of the buffer, in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns `true` if the buffer is empty (never, for a valid allocation).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Returns the DMA address of the start of the buffer, for a pool that maps its pages.
    ///
    /// For a pool without [`Params::dma`] this is 0 plus the offset.
    pub fn dma_addr(&self) -> DmaAddr {
        // SAFETY: By the type invariants the page is a pool page we hold a reference on.
        let base = unsafe { bindings::page_pool_get_dma_addr(self.page.as_ptr()) };
        base + DmaAddr::from(self.offset)
    }

    /// Makes `len` bytes from `offset` within the buffer visible to the CPU after the device
    /// wrote them (`dma_sync_single_range_for_cpu()`); a no-op for pools that do not map and
    /// for coherent DMA.
    ///
    /// `pool` is the pool the page came from: destroying a pool unmaps the pages it still has
    /// out, so a page is synced only while its pool's handle lives, which the borrow ensures.
    ///
    /// Fails with `EINVAL` if `pool` is not the page's, or the range is not inside the buffer.
    pub fn sync_for_cpu(&mut self, pool: &PagePool, offset: u32, len: u32) -> Result {
        let end = u64::from(offset) + u64::from(len);
        if pool.ptr != self.pool || end > self.len as u64 {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariants of `PagePool` the pool, our page's, is not destroyed
        // while `pool` is borrowed, so if it maps its pages, the page (one of its pages, which we
        // hold a reference on) is mapped at its DMA address for the pool's device and direction.
        // The range lies within our buffer, which lies within the page.
        unsafe {
            bindings::page_pool_sync_for_cpu(
                self.pool.as_ptr(),
                self.page.as_ptr(),
                self.offset + offset,
                len,
            )
        };
        Ok(())
    }

    /// Makes the buffer the device's again, as the pool does before it hands a page that came
    /// back out again, for an owner that puts it straight back where the device writes instead
    /// of returning it and allocating another. Returns `false` if the pool would not keep the
    /// page (something else holds a reference on it, or it comes from the emergency reserves,
    /// which an skb built around it would have to be dropped for): return it to the pool then.
    /// Otherwise the part of the buffer in the device's range ([`Params::sync_for_device`]; for
    /// a fragment, only its own part) is synced for the device; CPU writes after this may not
    /// reach it.
    pub fn prepare_reuse(&mut self) -> bool {
        // SAFETY: By the type invariants the pool is valid while it has pages out, the page is
        // one of its pages, which we hold a reference on, and `offset..offset + len` is our
        // buffer within it: the sync stays inside the buffer we own.
        unsafe {
            bindings::page_pool_prepare_reuse(
                self.pool.as_ptr(),
                self.page.as_ptr(),
                self.offset,
                self.len as u32,
            )
        }
    }

    fn data_ptr(&self) -> *mut u8 {
        // SAFETY: By the type invariants the page is valid; pool pages are never highmem.
        let base = unsafe { bindings::page_address(self.page.as_ptr()) }.cast::<u8>();
        // SAFETY: By the type invariants `offset` lies within the page.
        unsafe { base.add(self.offset as usize) }
    }

    /// Returns the buffer's bytes: what the device or a previous user left there.
    ///
    /// For memory the device writes, call [`PoolPage::sync_for_cpu`] first.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: By the type invariants the `len` bytes at `data_ptr()` are within the page we
        // hold, and no other Rust value can reach them while `self` is borrowed.
        unsafe { slice::from_raw_parts(self.data_ptr(), self.len) }
    }

    /// Returns the buffer's bytes for writing.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: As in `as_slice`, and `&mut self` makes this the only view.
        unsafe { slice::from_raw_parts_mut(self.data_ptr(), self.len) }
    }

    /// Gives up ownership without returning the page; the caller now owns the pool reference.
    ///
    /// Returns the page, its pool, and the buffer's offset and length.
    pub fn into_raw(
        self,
    ) -> (
        NonNull<bindings::page>,
        NonNull<bindings::page_pool>,
        u32,
        usize,
    ) {
        let me = core::mem::ManuallyDrop::new(self);
        (me.page, me.pool, me.offset, me.len)
    }

    /// Rebuilds a [`PoolPage`] from the parts [`PoolPage::into_raw`] returned.
    ///
    /// # Safety
    ///
    /// The parts must come from `into_raw` (or describe a pool page, and a range within it,
    /// on which the caller owns one pool reference), and that reference passes to the new value.
    pub unsafe fn from_raw(
        page: NonNull<bindings::page>,
        pool: NonNull<bindings::page_pool>,
        offset: u32,
        len: usize,
    ) -> Self {
        // INVARIANT: By the safety requirements of this function.
        Self {
            page,
            pool,
            offset,
            len,
            _not_sync: PhantomData,
        }
    }

    /// Returns the page to `pool`, straight into its lockless cache when that is allowed.
    ///
    /// Direct recycling is allowed for a pool without a NAPI instance (`&mut PagePool` gives
    /// exclusive use of the cache). For other pools, and for a page of another pool, this is the
    /// same as dropping the page, where the C core recycles directly only in the pool's NAPI
    /// context.
    pub fn recycle(self, pool: &mut PagePool) {
        let direct = self.pool == pool.ptr && pool.direct_ok();
        let (page, pool_ptr, _, _) = self.into_raw();
        // SAFETY: We owned one pool reference on `page`, from `pool_ptr`, which is alive while
        // it has pages out. Direct recycling is only asked for under `&mut` to the pool's only
        // handle when the C core never recycles directly into it itself.
        unsafe { bindings::page_pool_put_full_page(pool_ptr.as_ptr(), page.as_ptr(), direct) };
    }
}

impl Drop for PoolPage {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own one pool reference on the page. The pool stays
        // alive while it has pages out. Not asking for direct recycling is allowed in any
        // context but hard IRQ.
        unsafe { bindings::page_pool_put_full_page(self.pool.as_ptr(), self.page.as_ptr(), false) };
    }
}
