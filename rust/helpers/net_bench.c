// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of the queue engines' benchmarks (rust/kernel/net/bench.rs):
 * a receive and a transmit path written the way a C driver writes them,
 * on the descriptor format the benchmarks' software device speaks (the
 * 8254x legacy descriptors), so that the engines are measured against
 * compiled C with its static inlines inlined, doing the same checks of
 * what the device reports and keeping the same counters.
 */

#include <linux/bpf.h>
#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/netdevice.h>
#include <linux/nsproxy.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <net/netdev_queues.h>
#include <net/page_pool/helpers.h>

#if IS_ENABLED(CONFIG_RUST_NET_CORE_KUNIT_TEST)

/* Receive descriptor: the driver writes addr, the device the rest. */
struct rnet_bench_rx_desc {
	__le64 addr;
	__le16 len;
	__le16 csum;
	u8 status;
	u8 errors;
	__le16 special;
};

/* Transmit descriptor: the driver writes all but status. */
struct rnet_bench_tx_desc {
	__le64 addr;
	__le16 len;
	u8 cso;
	u8 cmd;
	u8 status;
	u8 css;
	__le16 special;
};

#define RNET_BENCH_STAT_DD	BIT(0)
#define RNET_BENCH_STAT_EOP	BIT(1)
#define RNET_BENCH_CMD_EOP	BIT(0)
#define RNET_BENCH_CMD_IFCS	BIT(1)
#define RNET_BENCH_CMD_RS	BIT(3)
#define RNET_BENCH_RX_BATCH	16

/**
 * struct rnet_bench_rxq - a C driver's receive queue
 * @ring: the descriptors, @size of them (a power of two)
 * @tail: the device's tail register
 * @pages: the page posted at each descriptor
 * @pool: the page pool the buffers come from, bound to the queue's NAPI
 * @dev: the device the buffers are mapped for
 * @size: number of descriptors
 * @ntc: next descriptor to clean
 * @ntu: next descriptor to use
 * @posted: descriptors holding a buffer
 * @headroom: bytes before the frame in each buffer
 * @buf_len: bytes the device may write in each buffer
 * @packets: frames passed up
 * @bytes: their bytes
 * @drops: frames dropped (device error, bad length, no skb)
 * @discard: dropping the buffers of a frame until its last one
 */
struct rnet_bench_rxq {
	struct rnet_bench_rx_desc *ring;
	u32 *tail;
	struct page **pages;
	struct page_pool *pool;
	struct device *dev;
	u32 size, ntc, ntu, posted, headroom, buf_len;
	u64 packets, bytes, drops;
	bool discard;
};

void *rust_helper_rnet_bench_rxq_new(void *ring, u32 *tail, u32 size,
				     struct page_pool *pool, struct device *dev,
				     u32 headroom, u32 buf_len)
{
	struct rnet_bench_rxq *q = kzalloc(sizeof(*q), GFP_KERNEL);

	if (!q)
		return NULL;
	q->pages = kcalloc(size, sizeof(*q->pages), GFP_KERNEL);
	if (!q->pages) {
		kfree(q);
		return NULL;
	}
	q->ring = ring;
	q->tail = tail;
	q->size = size;
	q->pool = pool;
	q->dev = dev;
	q->headroom = headroom;
	q->buf_len = buf_len;
	return q;
}

/* Posts buffers until the ring is full, one doorbell per batch. */
u32 rust_helper_rnet_bench_rx_refill(void *queue)
{
	struct rnet_bench_rxq *q = queue;
	u32 n = 0;

	while (q->posted < q->size - 1) {
		struct rnet_bench_rx_desc *d = &q->ring[q->ntu];
		struct page *page;

		page = page_pool_dev_alloc_pages(q->pool);
		if (unlikely(!page))
			break;
		q->pages[q->ntu] = page;
		d->addr = cpu_to_le64(page_pool_get_dma_addr(page) + q->headroom);
		WRITE_ONCE(d->status, 0);
		q->ntu = (q->ntu + 1) & (q->size - 1);
		q->posted++;
		if (++n % RNET_BENCH_RX_BATCH == 0) {
			dma_wmb();
			WRITE_ONCE(*q->tail, q->ntu);
		}
	}
	if (n % RNET_BENCH_RX_BATCH) {
		dma_wmb();
		WRITE_ONCE(*q->tail, q->ntu);
	}
	return n;
}

/* The poll: receive up to @budget frames into skbs built around the buffers. */
u32 rust_helper_rnet_bench_rx_poll(void *queue, struct napi_struct *napi,
				   u32 budget)
{
	struct rnet_bench_rxq *q = queue;
	unsigned int truesize = SKB_DATA_ALIGN(PAGE_SIZE);
	u32 done = 0, packets = 0, bytes = 0;

	/* netpoll: no receive work (and no allocation) with budget 0. */
	if (!budget)
		return 0;
	while (done < budget && q->posted) {
		struct rnet_bench_rx_desc *d = &q->ring[q->ntc];
		struct page *page;
		struct sk_buff *skb;
		u8 status;
		u32 len;

		status = READ_ONCE(d->status);
		if (!(status & RNET_BENCH_STAT_DD))
			break;
		/* Read the rest of the descriptor after its done bit. */
		dma_rmb();
		len = le16_to_cpu(d->len);
		page = q->pages[q->ntc];
		q->ntc = (q->ntc + 1) & (q->size - 1);
		q->posted--;
		done++;

		/*
		 * One buffer per frame: a frame that spans buffers is
		 * dropped, up to and with its last buffer.
		 */
		if (unlikely(q->discard || !(status & RNET_BENCH_STAT_EOP) ||
			     d->errors || len < ETH_HLEN || len > q->buf_len)) {
			page_pool_put_full_page(q->pool, page, true);
			if (!q->discard)
				q->drops++;
			q->discard = !(status & RNET_BENCH_STAT_EOP);
			goto refill;
		}
		/* The pool adds its offset (the headroom) to the range. */
		page_pool_dma_sync_for_cpu(q->pool, page, 0, len);
		skb = napi_build_skb(page_address(page), truesize);
		if (unlikely(!skb)) {
			page_pool_put_full_page(q->pool, page, true);
			q->drops++;
			goto refill;
		}
		skb_mark_for_recycle(skb);
		skb_reserve(skb, q->headroom);
		__skb_put(skb, len);
		skb->protocol = eth_type_trans(skb, napi->dev);
		skb_record_rx_queue(skb, 0);
		napi_gro_receive(napi, skb);
		packets++;
		bytes += len;
refill:
		if (q->size - 1 - q->posted >= RNET_BENCH_RX_BATCH)
			rust_helper_rnet_bench_rx_refill(q);
	}
	rust_helper_rnet_bench_rx_refill(q);
	q->packets += packets;
	q->bytes += bytes;
	return done;
}

/*
 * Attaches @prog to @dev as generic XDP (the stack runs it on the skbs the
 * driver passes up, as for a driver without native XDP), through an XDP
 * link, as "ip link set ... xdpgeneric" does with a program's fd. Takes a
 * reference of its own on @prog. Returns the link, which
 * rust_helper_rnet_bench_xdp_detach() detaches and puts, or an ERR_PTR.
 * Called without RTNL (the link takes it), from a task in @dev's
 * namespace (the link finds the device by its index there).
 */
struct bpf_link *rust_helper_rnet_bench_xdp_generic(struct net_device *dev,
						    struct bpf_prog *prog)
{
	union bpf_attr attr = {};
	struct bpf_link *link;
	int fd;

	if (!net_eq(dev_net(dev), current->nsproxy->net_ns))
		return ERR_PTR(-EINVAL);
	attr.link_create.target_ifindex = dev->ifindex;
	attr.link_create.attach_type = BPF_XDP;
	attr.link_create.flags = XDP_FLAGS_SKB_MODE;
	bpf_prog_inc(prog);
	fd = bpf_xdp_link_attach(&attr, prog);
	/* On success the link owns the reference; on failure it is ours. */
	if (fd < 0) {
		bpf_prog_put(prog);
		return ERR_PTR(fd);
	}
	/*
	 * Keep a reference to the link, not the fd: a kernel thread's fd
	 * table is every kernel thread's, and the file's last fput() is
	 * deferred. The detach below is then ours, whoever holds the file.
	 */
	link = bpf_link_get_from_fd(fd);
	close_fd(fd);
	return link;
}

/* Detaches @link's program now (under RTNL) and puts the link. */
void rust_helper_rnet_bench_xdp_detach(struct bpf_link *link)
{
	link->ops->detach(link);
	bpf_link_put(link);
}

/* The frames the stack dropped (dev_get_stats()). */
u64 rust_helper_rnet_bench_rx_dropped(struct net_device *dev)
{
	struct rtnl_link_stats64 stats;

	dev_get_stats(dev, &stats);
	return stats.rx_dropped;
}

/* Returns the posted buffers and frees the queue (the NAPI instance is off). */
void rust_helper_rnet_bench_rxq_free(void *queue)
{
	struct rnet_bench_rxq *q = queue;

	if (!q)
		return;
	while (q->posted) {
		page_pool_put_full_page(q->pool, q->pages[q->ntc], false);
		q->ntc = (q->ntc + 1) & (q->size - 1);
		q->posted--;
	}
	kfree(q->pages);
	kfree(q);
}

/**
 * struct rnet_bench_tx_buf - what a transmit descriptor holds
 * @skb: the packet, on the descriptor that ends it
 * @dma: the buffer's DMA address
 * @len: its length
 * @page: whether it was mapped as a page fragment
 */
struct rnet_bench_tx_buf {
	struct sk_buff *skb;
	dma_addr_t dma;
	u32 len;
	bool page;
};

/**
 * struct rnet_bench_txq - a C driver's transmit queue
 * @ring: the descriptors, @size of them (a power of two)
 * @tail: the device's tail register
 * @bufs: what each descriptor holds
 * @dev: the device the buffers are mapped for
 * @txq: the stack's queue
 * @size: number of descriptors
 * @ntc: next descriptor to clean
 * @ntu: next descriptor to use
 * @packets: packets completed
 * @bytes: their bytes
 * @drops: packets dropped (mapping failed)
 */
struct rnet_bench_txq {
	struct rnet_bench_tx_desc *ring;
	u32 *tail;
	struct rnet_bench_tx_buf *bufs;
	struct device *dev;
	struct netdev_queue *txq;
	u32 size, ntc, ntu;
	u64 packets, bytes, drops;
};

#define RNET_BENCH_TX_STOP	(MAX_SKB_FRAGS + 2)
#define RNET_BENCH_TX_START	(2 * RNET_BENCH_TX_STOP)

/*
 * Free descriptors. ndo_start_xmit (under the queue's lock, on any CPU)
 * owns ntu, the poll owns ntc: each reads the other's with READ_ONCE().
 */
static u32 rnet_bench_tx_free(const struct rnet_bench_txq *q)
{
	return q->size - 1 -
	       ((READ_ONCE(q->ntu) - READ_ONCE(q->ntc)) & (q->size - 1));
}

void *rust_helper_rnet_bench_txq_new(void *ring, u32 *tail, u32 size,
				     struct device *dev,
				     struct netdev_queue *txq)
{
	struct rnet_bench_txq *q = kzalloc(sizeof(*q), GFP_KERNEL);

	if (!q)
		return NULL;
	q->bufs = kcalloc(size, sizeof(*q->bufs), GFP_KERNEL);
	if (!q->bufs) {
		kfree(q);
		return NULL;
	}
	q->ring = ring;
	q->tail = tail;
	q->size = size;
	q->dev = dev;
	q->txq = txq;
	netdev_tx_reset_queue(txq);
	return q;
}

static void rnet_bench_tx_unmap(struct rnet_bench_txq *q,
				struct rnet_bench_tx_buf *b)
{
	if (b->page)
		dma_unmap_page(q->dev, b->dma, b->len, DMA_TO_DEVICE);
	else
		dma_unmap_single(q->dev, b->dma, b->len, DMA_TO_DEVICE);
}

/* ndo_start_xmit: one descriptor for the head, one per fragment. */
netdev_tx_t rust_helper_rnet_bench_xmit(void *queue, struct sk_buff *skb)
{
	struct rnet_bench_txq *q = queue;
	u32 nr = skb_shinfo(skb)->nr_frags, first = q->ntu, i, idx;
	struct rnet_bench_tx_buf *b;
	dma_addr_t dma;
	bool ring;
	u32 len;

	if (unlikely(rnet_bench_tx_free(q) < nr + 1)) {
		netif_tx_stop_queue(q->txq);
		/* Earlier packets may have left the doorbell to this one. */
		dma_wmb();
		WRITE_ONCE(*q->tail, q->ntu);
		return NETDEV_TX_BUSY;
	}
	idx = first;
	for (i = 0; i <= nr; i++) {
		struct rnet_bench_tx_desc *d = &q->ring[idx];

		if (i == 0) {
			len = skb_headlen(skb);
			if (unlikely(!len))
				goto unwind;
			dma = dma_map_single(q->dev, skb->data, len, DMA_TO_DEVICE);
		} else {
			const skb_frag_t *frag = &skb_shinfo(skb)->frags[i - 1];

			len = skb_frag_size(frag);
			dma = skb_frag_dma_map(q->dev, frag, 0, len, DMA_TO_DEVICE);
		}
		if (unlikely(dma_mapping_error(q->dev, dma)))
			goto unwind;
		b = &q->bufs[idx];
		b->skb = NULL;
		b->dma = dma;
		b->len = len;
		b->page = i > 0;
		d->addr = cpu_to_le64(dma);
		d->len = cpu_to_le16(len);
		d->cso = 0;
		d->css = 0;
		d->special = 0;
		d->cmd = RNET_BENCH_CMD_IFCS |
			 (i == nr ? RNET_BENCH_CMD_EOP | RNET_BENCH_CMD_RS : 0);
		WRITE_ONCE(d->status, 0);
		idx = (idx + 1) & (q->size - 1);
	}
	q->bufs[(idx - 1) & (q->size - 1)].skb = skb;
	/* Descriptors and buffers before the poll may see them. */
	smp_store_release(&q->ntu, idx);
	skb_tx_timestamp(skb);
	ring = __netdev_tx_sent_queue(q->txq, skb->len, netdev_xmit_more());
	if (netif_txq_maybe_stop(q->txq, rnet_bench_tx_free(q),
				 RNET_BENCH_TX_STOP, RNET_BENCH_TX_START) != 1)
		ring = true;
	if (ring) {
		/* The descriptors before the tail register is written. */
		dma_wmb();
		WRITE_ONCE(*q->tail, q->ntu);
	}
	return NETDEV_TX_OK;

unwind:
	while (idx != first) {
		idx = (idx - 1) & (q->size - 1);
		rnet_bench_tx_unmap(q, &q->bufs[idx]);
	}
	dev_kfree_skb_any(skb);
	q->drops++;
	if (!netdev_xmit_more()) {
		dma_wmb();
		WRITE_ONCE(*q->tail, q->ntu);
	}
	return NETDEV_TX_OK;
}

/* The poll's transmit completion: unmap and free what the device sent. */
u32 rust_helper_rnet_bench_tx_clean(void *queue, int budget)
{
	struct rnet_bench_txq *q = queue;
	u32 packets = 0, bytes = 0, n = 0;
	/* Pairs with ndo_start_xmit's release: its descriptors are written. */
	u32 ntu = smp_load_acquire(&q->ntu);

	while (q->ntc != ntu) {
		struct rnet_bench_tx_desc *d = &q->ring[q->ntc];
		struct rnet_bench_tx_buf *b = &q->bufs[q->ntc];

		if (!(READ_ONCE(d->status) & RNET_BENCH_STAT_DD))
			break;
		dma_rmb();
		rnet_bench_tx_unmap(q, b);
		if (b->skb) {
			packets++;
			bytes += b->skb->len;
			napi_consume_skb(b->skb, budget);
			b->skb = NULL;
		}
		WRITE_ONCE(q->ntc, (q->ntc + 1) & (q->size - 1));
		n++;
	}
	q->packets += packets;
	q->bytes += bytes;
	netif_txq_completed_wake(q->txq, packets, bytes, rnet_bench_tx_free(q),
				 RNET_BENCH_TX_START);
	return n;
}

/* Frees what is still on the ring (the device stopped) and the queue. */
void rust_helper_rnet_bench_txq_free(void *queue)
{
	struct rnet_bench_txq *q = queue;

	if (!q)
		return;
	while (q->ntc != q->ntu) {
		struct rnet_bench_tx_buf *b = &q->bufs[q->ntc];

		rnet_bench_tx_unmap(q, b);
		if (b->skb)
			dev_kfree_skb_any(b->skb);
		q->ntc = (q->ntc + 1) & (q->size - 1);
	}
	netdev_tx_reset_queue(q->txq);
	kfree(q->bufs);
	kfree(q);
}

u64 rust_helper_rnet_bench_tx_packets(void *queue)
{
	return ((struct rnet_bench_txq *)queue)->packets;
}

/*
 * Allocates @n packets of @len bytes for @dev (Ethernet header, then a
 * pattern), as a socket would hand them down; returns how many it did.
 */
u32 rust_helper_rnet_bench_alloc_skbs(struct net_device *dev,
				      struct sk_buff **skbs, u32 n, u32 len,
				      u16 ethertype)
{
	u32 i;

	for (i = 0; i < n; i++) {
		struct sk_buff *skb = netdev_alloc_skb(dev, len);
		struct ethhdr *eth;

		if (!skb)
			break;
		eth = skb_put(skb, len);
		memset(eth, 0x5a, len);
		eth_broadcast_addr(eth->h_dest);
		ether_addr_copy(eth->h_source, dev->dev_addr);
		eth->h_proto = htons(ethertype);
		skb_reset_mac_header(skb);
		skb->protocol = eth->h_proto;
		skbs[i] = skb;
	}
	return i;
}

void rust_helper_rnet_bench_free_skbs(struct sk_buff **skbs, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		kfree_skb(skbs[i]);
}

/*
 * The benchmark's sender, the same for both paths: hands @n packets to
 * @dev's queue 0 the way pktgen does (the driver's ndo_start_xmit under
 * the queue's lock, no qdisc), with xmit_more set on all but the last.
 * Returns how many the driver took, in order; the caller keeps the rest.
 */
u32 rust_helper_rnet_bench_send(struct net_device *dev, struct sk_buff **skbs,
				u32 n)
{
	struct netdev_queue *txq = netdev_get_tx_queue(dev, 0);
	u32 i, sent = 0;

	local_bh_disable();
	__netif_tx_lock(txq, smp_processor_id());
	for (i = 0; i < n; i++) {
		/* Stopped (ring or BQL) or busy: the rest stay the caller's. */
		if (netif_xmit_frozen_or_stopped(txq) ||
		    netdev_start_xmit(skbs[i], dev, txq, i + 1 < n) != NETDEV_TX_OK)
			break;
		sent++;
	}
	__netif_tx_unlock(txq);
	local_bh_enable();
	return sent;
}

#endif /* CONFIG_RUST_NET_CORE_KUNIT_TEST */
