// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_page_pool`: real page pools, thousands of pages.

use super::{PagePool, Params, Stats};
use crate::{
    bindings, c_str, device::Device, dma::DataDirection, kunit::Test, kunit_expect,
    kunit_expect_eq, kunit_expect_ne, kunit_test_suite, page::PAGE_SIZE, prelude::*,
};
use core::{
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};

/// Returns a device that can do 64-bit DMA, for the net suites' page pools.
///
/// It is a root device registered on first use and never unregistered. A page pool maps and
/// unmaps with the device it was created with, without holding a reference on it, and unmaps
/// the pages that come back after `page_pool_destroy()` from a deferred worker; a
/// KUnit-managed device is freed when its case ends, possibly before that worker ran.
///
/// KUnit runs the cases one at a time, so the first use does not race with another.
pub(crate) fn dma_device() -> Result<&'static Device> {
    static DEV: AtomicPtr<bindings::device> = AtomicPtr::new(ptr::null_mut());
    let mut dev = DEV.load(Ordering::Acquire);
    if dev.is_null() {
        // SAFETY: FFI call; the name is a `'static` NUL-terminated string and the device is
        // built in (no owning module).
        let new = unsafe {
            bindings::__root_device_register(c_str!("rust-net-dma").as_char_ptr(), ptr::null_mut())
        };
        dev = crate::error::from_err_ptr(new)?;
        // SAFETY: `dev` is a registered device nothing else uses yet. Pointing `dma_mask` at the
        // device's own coherent mask is what `dma_coerce_mask_and_coherent()` does for devices
        // without a bus-provided mask.
        unsafe {
            (*dev).dma_mask = ptr::addr_of_mut!((*dev).coherent_dma_mask);
            crate::error::to_result(bindings::dma_set_mask(dev, u64::MAX))?;
            crate::error::to_result(bindings::dma_set_coherent_mask(dev, u64::MAX))?;
        }
        DEV.store(dev, Ordering::Release);
    }
    // SAFETY: The device stays registered, and valid, for good.
    Ok(unsafe { Device::as_ref(dev) })
}

fn create_and_destroy(test: &Test) -> Result {
    let pool = PagePool::new(&Params::new(256))?;
    kunit_expect_eq!(test, pool.inflight(), 0);
    kunit_expect_eq!(test, pool.stats(), Stats::default());
    Ok(())
}

fn alloc_recycle_thousands(test: &Test) -> Result {
    const ROUNDS: usize = 64;
    const BATCH: usize = 64;
    let mut pool = PagePool::new(&Params::new(256))?;
    let mut held = KVec::with_capacity(BATCH, GFP_KERNEL)?;
    for _ in 0..ROUNDS {
        for _ in 0..BATCH {
            let mut page = pool.alloc_page()?;
            page.as_mut_slice()[0] = 0xa5;
            held.push(page, GFP_KERNEL)?;
        }
        if !kunit_expect_eq!(test, pool.stats().outstanding(), BATCH as i64) {
            return Ok(());
        }
        // Dropping the vector drops the pages.
        held = KVec::with_capacity(BATCH, GFP_KERNEL)?;
        if !kunit_expect_eq!(test, pool.stats().outstanding(), 0) {
            return Ok(());
        }
    }
    let s = pool.stats();
    // Every allocation is served by exactly one of the three paths.
    kunit_expect_eq!(
        test,
        s.alloc_fast + s.alloc_refill + s.alloc_slow,
        (ROUNDS * BATCH) as u64
    );
    // Later rounds reuse pages: the allocator saw far fewer calls than allocations.
    kunit_expect!(test, s.alloc_slow < (ROUNDS * BATCH / 2) as u64, "{:?}", s);
    // Dropped pages went back through the ring, none was freed for lack of room.
    kunit_expect_eq!(test, s.recycle_ring, (ROUNDS * BATCH) as u64);
    kunit_expect_eq!(test, s.recycle_ring_full, 0);
    // The pool still holds the pages it recycled, in its cache and ring.
    kunit_expect!(test, pool.inflight() >= BATCH as i64, "{}", pool.inflight());
    Ok(())
}

fn direct_recycle_hits_cache(test: &Test) -> Result {
    let mut pool = PagePool::new(&Params::new(64))?;
    let page = pool.alloc_page()?;
    let raw = page.as_page_ptr();
    page.recycle(&mut pool);
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    let s = pool.stats();
    kunit_expect_eq!(test, s.recycle_cached, 1);
    kunit_expect_eq!(test, s.recycle_ring, 0);

    let fast = s.alloc_fast;
    let again = pool.alloc_page()?;
    // The last page recycled into the cache is the next one handed out.
    kunit_expect_eq!(test, again.as_page_ptr(), raw);
    kunit_expect_eq!(test, pool.stats().alloc_fast, fast + 1);
    Ok(())
}

fn recycle_into_other_pool_is_plain_put(test: &Test) -> Result {
    let mut a = PagePool::new(&Params::new(64))?;
    let mut b = PagePool::new(&Params::new(64))?;
    let page = a.alloc_page()?;
    page.recycle(&mut b);
    kunit_expect_eq!(test, a.stats().outstanding(), 0);
    kunit_expect_eq!(test, a.stats().recycle_cached, 0);
    kunit_expect_eq!(test, a.stats().recycle_ring, 1);
    kunit_expect_eq!(test, b.stats().recycle_cached, 0);
    Ok(())
}

fn fragments_share_pages(test: &Test) -> Result {
    const FRAG: usize = 1024;
    let per_page = PAGE_SIZE / FRAG;
    let mut pool = PagePool::new(&Params::new(64))?;
    let mut first = pool.alloc_frag(FRAG as u32)?;
    let mut rest = KVec::new();
    for _ in 1..per_page {
        rest.push(pool.alloc_frag(FRAG as u32)?, GFP_KERNEL)?;
    }
    kunit_expect_eq!(test, first.offset(), 0);
    kunit_expect_eq!(test, first.len(), FRAG);
    for (i, f) in rest.iter().enumerate() {
        kunit_expect_eq!(test, f.as_page_ptr(), first.as_page_ptr());
        kunit_expect_eq!(test, f.offset() as usize, (i + 1) * FRAG);
        kunit_expect_eq!(test, f.len(), FRAG);
    }
    // The page is full: the next fragment starts a new one.
    let mut next = pool.alloc_frag(FRAG as u32)?;
    kunit_expect_ne!(test, next.as_page_ptr(), first.as_page_ptr());
    kunit_expect_eq!(test, next.offset(), 0);
    // Two pages taken from the page allocator, the first in a bulk of many.
    kunit_expect_eq!(test, pool.stats().alloc_slow, 1);

    // Fragments write their own bytes of the shared page.
    first.as_mut_slice().fill(0);
    for (i, f) in rest.iter_mut().enumerate() {
        f.as_mut_slice().fill(i as u8 + 1);
    }
    next.as_mut_slice().fill(0xff);
    kunit_expect!(test, first.as_slice().iter().all(|&b| b == 0));
    kunit_expect!(test, rest[0].as_slice().iter().all(|&b| b == 1));

    // The page the pool is still carving stays with the pool ...
    drop(next);
    kunit_expect_eq!(test, pool.stats().recycle_ring, 0);
    // ... and a full page returns with its last fragment, not before.
    drop(rest);
    kunit_expect_eq!(test, pool.stats().recycle_ring, 0);
    drop(first);
    kunit_expect_eq!(test, pool.stats().recycle_ring, 1);
    Ok(())
}

fn dma_mapped_pages(test: &Test) -> Result {
    let dev = dma_device()?;
    let params = Params::new(64)
        .dma(dev, DataDirection::FromDevice)
        .sync_for_device(256, 2048);
    let mut pool = PagePool::new(&params)?;
    let mut page = pool.alloc_page()?;
    let dma = page.dma_addr();
    kunit_expect_ne!(test, dma, 0);
    kunit_expect_eq!(test, dma % PAGE_SIZE as u64, 0);

    let frag = pool.alloc_frag(512)?;
    kunit_expect_eq!(
        test,
        frag.dma_addr() % PAGE_SIZE as u64,
        u64::from(frag.offset())
    );

    kunit_expect!(test, page.sync_for_cpu(&pool, 256, 64).is_ok());
    kunit_expect_eq!(test, page.sync_for_cpu(&pool, 4000, 200), Err(EINVAL));
    // Only through the page's own pool, whose handle keeps the mapping.
    let other = PagePool::new(&params)?;
    kunit_expect_eq!(test, page.sync_for_cpu(&other, 256, 64), Err(EINVAL));
    drop(other);
    page.as_mut_slice()[256] = 0x5a;
    kunit_expect_eq!(test, page.as_slice()[256], 0x5a);

    // A recycled page keeps its mapping.
    let raw = page.as_page_ptr();
    page.recycle(&mut pool);
    let page = pool.alloc_page()?;
    kunit_expect_eq!(test, page.as_page_ptr(), raw);
    kunit_expect_eq!(test, page.dma_addr(), dma);
    let ring = pool.stats().recycle_ring;
    drop(page);
    kunit_expect_eq!(test, pool.stats().recycle_ring, ring + 1);
    // The page the pool is carving fragments from stays with it.
    drop(frag);
    kunit_expect_eq!(test, pool.stats().recycle_ring, ring + 1);
    Ok(())
}

fn invalid_params_fail(test: &Test) -> Result {
    let dev = dma_device()?;
    let to_device = Params::new(64).dma(dev, DataDirection::ToDevice);
    kunit_expect_eq!(test, PagePool::new(&to_device).err(), Some(EINVAL));
    let sync_unmapped = Params::new(64).sync_for_device(0, 2048);
    kunit_expect_eq!(test, PagePool::new(&sync_unmapped).err(), Some(EINVAL));
    let sync_nothing = Params::new(64)
        .dma(dev, DataDirection::FromDevice)
        .sync_for_device(0, 0);
    kunit_expect_eq!(test, PagePool::new(&sync_nothing).err(), Some(EINVAL));
    let bidi = Params::new(64).dma(dev, DataDirection::Bidirectional);
    kunit_expect!(test, PagePool::new(&bidi).is_ok());
    for nid in [-2, bindings::MAX_NUMNODES as i32, i32::MAX] {
        kunit_expect_eq!(
            test,
            PagePool::new(&Params::new(64).nid(nid)).err(),
            Some(EINVAL)
        );
    }
    let beyond = Params::new(64)
        .order(1)
        .dma(dev, DataDirection::FromDevice)
        .sync_for_device(4096, 4097);
    kunit_expect_eq!(test, PagePool::new(&beyond).err(), Some(EINVAL));
    kunit_expect_eq!(
        test,
        PagePool::new(&Params::new(64).order(16)).err(),
        Some(EINVAL)
    );
    // Node 0 always has memory here; pages come from it.
    let mut on_node0 = PagePool::new(&Params::new(64).nid(0))?;
    let page = on_node0.alloc_page()?;
    // SAFETY: The page is valid while we hold it.
    let nid = unsafe { bindings::page_to_nid(page.as_page_ptr()) };
    kunit_expect_eq!(test, nid, 0);
    Ok(())
}

fn alloc_failure_is_clean(test: &Test) -> Result {
    // No allocator can satisfy an order above MAX_PAGE_ORDER: every allocation fails.
    let mut pool = PagePool::new(&Params::new(64).order(bindings::MAX_PAGE_ORDER + 1))?;
    for _ in 0..16 {
        kunit_expect_eq!(test, pool.alloc_page().err(), Some(ENOMEM));
        kunit_expect_eq!(test, pool.alloc_frag(128).err(), Some(ENOMEM));
    }
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    kunit_expect_eq!(test, pool.stats().alloc_slow_high_order, 0);

    // The pool still works for sizes it can serve after failures elsewhere.
    let mut ok = PagePool::new(&Params::new(64))?;
    let page = ok.alloc_page()?;
    kunit_expect_eq!(test, ok.stats().outstanding(), 1);
    drop(page);
    kunit_expect_eq!(test, ok.stats().outstanding(), 0);
    Ok(())
}

fn pages_outlive_pool_handle(test: &Test) -> Result {
    let mut pool = PagePool::new(&Params::new(64))?;
    let mut pages = KVec::new();
    for _ in 0..8 {
        pages.push(pool.alloc_page()?, GFP_KERNEL)?;
    }
    kunit_expect_eq!(test, pool.stats().outstanding(), 8);
    kunit_expect!(test, pool.inflight() >= 8);
    // `page_pool_destroy()` defers the release while pages are out ...
    drop(pool);
    // ... and the pages can still be used and returned.
    for p in pages.iter_mut() {
        p.as_mut_slice().fill(0x3c);
    }
    kunit_expect!(test, pages.iter().all(|p| p.as_slice()[100] == 0x3c));
    drop(pages);
    Ok(())
}

kunit_test_suite!(
    rust_net_page_pool,
    [
        create_and_destroy,
        alloc_recycle_thousands,
        direct_recycle_hits_cache,
        recycle_into_other_pool_is_plain_put,
        fragments_share_pages,
        dma_mapped_pages,
        invalid_params_fail,
        alloc_failure_is_clean,
        pages_outlive_pool_handle,
    ]
);
