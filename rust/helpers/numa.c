// SPDX-License-Identifier: GPL-2.0

#include <linux/mm.h>
#include <linux/nodemask.h>

int rust_helper_node_state(int node, enum node_states state)
{
	return node_state(node, state);
}

int rust_helper_page_to_nid(const struct page *page)
{
	return page_to_nid(page);
}
