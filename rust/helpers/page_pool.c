// SPDX-License-Identifier: GPL-2.0

#include <linux/dma-mapping.h>
#include <linux/rcupdate.h>
#include <net/page_pool/helpers.h>

dma_addr_t rust_helper_page_pool_get_dma_addr(const struct page *page)
{
	return page_pool_get_dma_addr(page);
}

void rust_helper_page_pool_put_full_page(struct page_pool *pool,
					 struct page *page, bool allow_direct)
{
	page_pool_put_full_page(pool, page, allow_direct);
}

/*
 * page_pool_dma_sync_for_cpu() in one call, for @len bytes at @offset from the
 * page's start (not from pool->p.offset), and nothing for a pool that does not
 * map its pages; dma_sync_single_range_for_cpu() itself skips devices that
 * need no sync.
 */
void rust_helper_page_pool_sync_for_cpu(const struct page_pool *pool,
					struct page *page, u32 offset, u32 len)
{
	if (!pool->dma_map)
		return;
	dma_sync_single_range_for_cpu(pool->p.dev, page_pool_get_dma_addr(page),
				      offset, len, page_pool_get_dma_dir(pool));
}

/*
 * What the pool does with a page that comes back to it before it hands the
 * page out again, for a driver that puts a page it owns straight back on
 * its ring instead: false if the pool would not keep the page (another
 * reference on it, or a page from the emergency reserves), else the part
 * of the buffer at @offset, @len bytes, that lies in the device's range
 * (pool->p.offset, max_len bytes) is synced for the device, as the pool's
 * page_pool_dma_sync_for_device() (private to it) syncs that range.
 */
bool rust_helper_page_pool_prepare_reuse(const struct page_pool *pool,
					 struct page *page, u32 offset, u32 len)
{
	u32 start, end;

	if (page_ref_count(page) != 1 || page_is_pfmemalloc(page))
		return false;
	if (!pool->dma_sync || !dma_dev_need_sync(pool->p.dev))
		return true;
	start = max(offset, pool->p.offset);
	end = min(offset + len, pool->p.offset + pool->p.max_len);
	if (start >= end)
		return true;
	rcu_read_lock();
	/* Re-checked under RCU, as the pool does: page_pool_scrub() clears it. */
	if (pool->dma_sync)
		dma_sync_single_range_for_device(pool->p.dev,
						 page_pool_get_dma_addr(page),
						 start, end - start,
						 pool->p.dma_dir);
	rcu_read_unlock();
	return true;
}
