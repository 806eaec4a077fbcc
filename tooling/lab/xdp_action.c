// SPDX-License-Identifier: GPL-2.0
/*
 * The XDP program of the lab's XDP checks, built once per action (-DPASS,
 * -DDROP, -DTX or -DREDIRECT; lab/xdp.sh): it returns that action for every
 * frame. XDP_TX and XDP_REDIRECT send the frame back out of the NIC it came
 * in on, its Ethernet addresses swapped so that the sender's NIC takes it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>

#ifdef REDIRECT
static long (*bpf_redirect)(__u32 ifindex, __u64 flags) = (void *)BPF_FUNC_redirect;
#endif

static __attribute__((always_inline, unused)) int swap_macs(struct xdp_md *ctx)
{
	unsigned char *eth = (void *)(long)ctx->data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + ETH_HLEN) > (void *)(long)ctx->data_end)
		return 0;
	__builtin_memcpy(tmp, eth, ETH_ALEN);
	__builtin_memcpy(eth, eth + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(eth + ETH_ALEN, tmp, ETH_ALEN);
	return 1;
}

__attribute__((section("xdp"), used))
int xdp_action(struct xdp_md *ctx)
{
#if defined(PASS)
	return XDP_PASS;
#elif defined(DROP)
	return XDP_DROP;
#elif defined(TX)
	return swap_macs(ctx) ? XDP_TX : XDP_DROP;
#elif defined(REDIRECT)
	return swap_macs(ctx) ? bpf_redirect(ctx->ingress_ifindex, 0) : XDP_DROP;
#else
#error "no action"
#endif
}

char _license[] __attribute__((section("license"), used)) = "GPL";
