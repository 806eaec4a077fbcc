// SPDX-License-Identifier: GPL-2.0
/* The XDP program of the bench's XDP_DROP workload: drop every frame. */
#include <linux/bpf.h>

__attribute__((section("xdp"), used))
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
