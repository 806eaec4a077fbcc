// SPDX-License-Identifier: GPL-2.0

#include <linux/dma-mapping.h>

void rust_helper_dma_sync_single_range_for_cpu(struct device *dev,
					       dma_addr_t addr,
					       unsigned long offset,
					       size_t size,
					       enum dma_data_direction dir)
{
	dma_sync_single_range_for_cpu(dev, addr, offset, size, dir);
}
