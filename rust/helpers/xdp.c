// SPDX-License-Identifier: GPL-2.0

#include <linux/bottom_half.h>
#include <linux/filter.h>
#include <net/xdp.h>
#include <trace/events/xdp.h>

u32 rust_helper_bpf_prog_run_xdp(const struct bpf_prog *prog,
				 struct xdp_buff *xdp)
{
	return bpf_prog_run_xdp(prog, xdp);
}

struct bpf_net_context *
rust_helper_bpf_net_ctx_set(struct bpf_net_context *bpf_net_ctx)
{
	return bpf_net_ctx_set(bpf_net_ctx);
}

void rust_helper_bpf_net_ctx_clear(struct bpf_net_context *bpf_net_ctx)
{
	bpf_net_ctx_clear(bpf_net_ctx);
}

void rust_helper_local_bh_disable(void)
{
	local_bh_disable();
}

void rust_helper_local_bh_enable(void)
{
	local_bh_enable();
}

struct xdp_frame *rust_helper_xdp_convert_buff_to_frame(struct xdp_buff *xdp)
{
	return xdp_convert_buff_to_frame(xdp);
}

void rust_helper_trace_xdp_exception(const struct net_device *dev,
				     const struct bpf_prog *xdp, u32 act)
{
	trace_xdp_exception(dev, xdp, act);
}

bool rust_helper_xdp_return_frame_no_direct(void)
{
	return xdp_return_frame_no_direct();
}

void rust_helper_xdp_set_return_frame_no_direct(void)
{
	xdp_set_return_frame_no_direct();
}

void rust_helper_xdp_clear_return_frame_no_direct(void)
{
	xdp_clear_return_frame_no_direct();
}
