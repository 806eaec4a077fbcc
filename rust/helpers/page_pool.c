// SPDX-License-Identifier: GPL-2.0

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
