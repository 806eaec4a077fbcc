// SPDX-License-Identifier: GPL-2.0

#include <linux/netdevice.h>

void rust_helper_netif_napi_del(struct napi_struct *napi)
{
	netif_napi_del(napi);
}
