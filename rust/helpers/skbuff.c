// SPDX-License-Identifier: GPL-2.0

#include <linux/if_vlan.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/ip6_checksum.h>

void rust_helper_skb_reserve(struct sk_buff *skb, int len)
{
	skb_reserve(skb, len);
}

unsigned int rust_helper_skb_headroom(const struct sk_buff *skb)
{
	return skb_headroom(skb);
}

int rust_helper_skb_tailroom(const struct sk_buff *skb)
{
	return skb_tailroom(skb);
}

unsigned int rust_helper_skb_headlen(const struct sk_buff *skb)
{
	return skb_headlen(skb);
}

void *rust_helper_skb_put_zero(struct sk_buff *skb, unsigned int len)
{
	return skb_put_zero(skb, len);
}

struct skb_shared_info *rust_helper_skb_shinfo(const struct sk_buff *skb)
{
	return skb_shinfo(skb);
}

void rust_helper_skb_add_rx_frag(struct sk_buff *skb, int i, struct page *page,
				 int off, int size, unsigned int truesize)
{
	skb_add_rx_frag(skb, i, page, off, size, truesize);
}

void rust_helper_skb_mark_for_recycle(struct sk_buff *skb)
{
	skb_mark_for_recycle(skb);
}

void rust_helper_skb_set_hash(struct sk_buff *skb, __u32 hash,
			      enum pkt_hash_types type)
{
	skb_set_hash(skb, hash, type);
}

__u32 rust_helper_skb_get_hash_raw(const struct sk_buff *skb)
{
	return skb_get_hash_raw(skb);
}

void rust_helper_skb_record_rx_queue(struct sk_buff *skb, u16 rx_queue)
{
	skb_record_rx_queue(skb, rx_queue);
}

u16 rust_helper_skb_get_rx_queue(const struct sk_buff *skb)
{
	return skb_get_rx_queue(skb);
}

bool rust_helper_skb_rx_queue_recorded(const struct sk_buff *skb)
{
	return skb_rx_queue_recorded(skb);
}

void rust_helper___vlan_hwaccel_put_tag(struct sk_buff *skb, __be16 vlan_proto,
					u16 vlan_tci)
{
	__vlan_hwaccel_put_tag(skb, vlan_proto, vlan_tci);
}

int rust_helper___vlan_hwaccel_get_tag(const struct sk_buff *skb, u16 *vlan_tci)
{
	return __vlan_hwaccel_get_tag(skb, vlan_tci);
}

/*
 * Fields of struct sk_buff that live in bit-fields or anonymous struct
 * groups, which bindgen only reaches through generated names that change
 * with the configuration. They have no C accessor: drivers assign them.
 */
u8 rust_helper_skb_ip_summed(const struct sk_buff *skb)
{
	return skb->ip_summed;
}

u8 rust_helper_skb_csum_level(const struct sk_buff *skb)
{
	return skb->csum_level;
}

__wsum rust_helper_skb_csum(const struct sk_buff *skb)
{
	return skb->csum;
}

void rust_helper_skb_set_ip_summed(struct sk_buff *skb, u8 ip_summed)
{
	skb->ip_summed = ip_summed;
}

void rust_helper_skb_set_csum_level(struct sk_buff *skb, u8 level)
{
	skb->csum_level = level;
}

void rust_helper_skb_set_csum(struct sk_buff *skb, __wsum csum)
{
	skb->csum = csum;
}

__be16 rust_helper_skb_protocol(const struct sk_buff *skb)
{
	return skb->protocol;
}

void rust_helper_skb_set_protocol(struct sk_buff *skb, __be16 protocol)
{
	skb->protocol = protocol;
}

bool rust_helper_skb_pp_recycle(const struct sk_buff *skb)
{
	return skb->pp_recycle;
}

bool rust_helper_skb_shared(const struct sk_buff *skb)
{
	return skb_shared(skb);
}

int rust_helper_skb_cloned(const struct sk_buff *skb)
{
	return skb_cloned(skb);
}

unsigned int rust_helper_skb_frag_size(const skb_frag_t *frag)
{
	return skb_frag_size(frag);
}

dma_addr_t rust_helper_skb_frag_dma_map(struct device *dev,
					const skb_frag_t *frag, size_t offset,
					size_t size, enum dma_data_direction dir)
{
	return skb_frag_dma_map(dev, frag, offset, size, dir);
}

int rust_helper_skb_checksum_start_offset(const struct sk_buff *skb)
{
	return skb_checksum_start_offset(skb);
}

u16 rust_helper_skb_csum_offset(const struct sk_buff *skb)
{
	return skb->csum_offset;
}

int rust_helper_skb_transport_offset(const struct sk_buff *skb)
{
	return skb_transport_offset(skb);
}

int rust_helper_skb_tcp_all_headers(const struct sk_buff *skb)
{
	return skb_tcp_all_headers(skb);
}

int rust_helper_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
}

int rust_helper_skb_cow_head(struct sk_buff *skb, unsigned int headroom)
{
	return skb_cow_head(skb, headroom);
}

__sum16 rust_helper_csum_tcpudp_magic(__be32 saddr, __be32 daddr, __u32 len,
				      __u8 proto, __wsum sum)
{
	return csum_tcpudp_magic(saddr, daddr, len, proto, sum);
}

__sum16 rust_helper_csum_ipv6_magic(const struct in6_addr *saddr,
				    const struct in6_addr *daddr, __u32 len,
				    __u8 proto, __wsum sum)
{
	return csum_ipv6_magic(saddr, daddr, len, proto, sum);
}

void rust_helper_skb_set_network_header(struct sk_buff *skb, const int offset)
{
	skb_set_network_header(skb, offset);
}
