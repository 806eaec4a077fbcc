// SPDX-License-Identifier: GPL-2.0

#include <linux/u64_stats_sync.h>

void rust_helper_u64_stats_init(struct u64_stats_sync *syncp)
{
	u64_stats_init(syncp);
}

void rust_helper_u64_stats_update_begin(struct u64_stats_sync *syncp)
{
	u64_stats_update_begin(syncp);
}

void rust_helper_u64_stats_update_end(struct u64_stats_sync *syncp)
{
	u64_stats_update_end(syncp);
}

unsigned int rust_helper_u64_stats_fetch_begin(const struct u64_stats_sync *syncp)
{
	return u64_stats_fetch_begin(syncp);
}

bool rust_helper_u64_stats_fetch_retry(const struct u64_stats_sync *syncp,
				       unsigned int start)
{
	return u64_stats_fetch_retry(syncp, start);
}

u64 rust_helper_u64_stats_read(const u64_stats_t *p)
{
	return u64_stats_read(p);
}

void rust_helper_u64_stats_add(u64_stats_t *p, unsigned long val)
{
	u64_stats_add(p, val);
}

void rust_helper_u64_stats_inc(u64_stats_t *p)
{
	u64_stats_inc(p);
}
