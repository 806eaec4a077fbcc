// SPDX-License-Identifier: GPL-2.0

#include <linux/netdevice.h>
#include <net/netdev_queues.h>

void *rust_helper_netdev_priv(const struct net_device *dev)
{
	return netdev_priv(dev);
}

bool rust_helper_netif_running(const struct net_device *dev)
{
	return netif_running(dev);
}

bool rust_helper_netif_carrier_ok(const struct net_device *dev)
{
	return netif_carrier_ok(dev);
}

struct netdev_queue *rust_helper_netdev_get_tx_queue(const struct net_device *dev,
						     unsigned int index)
{
	return netdev_get_tx_queue(dev, index);
}

void rust_helper_netif_tx_stop_queue(struct netdev_queue *dev_queue)
{
	netif_tx_stop_queue(dev_queue);
}

void rust_helper_netif_tx_start_queue(struct netdev_queue *dev_queue)
{
	netif_tx_start_queue(dev_queue);
}

bool rust_helper_netif_tx_queue_stopped(const struct netdev_queue *dev_queue)
{
	return netif_tx_queue_stopped(dev_queue);
}

bool rust_helper___netdev_tx_sent_queue(struct netdev_queue *dev_queue,
					unsigned int bytes, bool xmit_more)
{
	return __netdev_tx_sent_queue(dev_queue, bytes, xmit_more);
}

void rust_helper_netdev_txq_completed_mb(struct netdev_queue *dev_queue,
					 unsigned int pkts, unsigned int bytes)
{
	netdev_txq_completed_mb(dev_queue, pkts, bytes);
}

bool rust_helper_netdev_xmit_more(void)
{
	return netdev_xmit_more();
}

void rust_helper_txq_trans_cond_update(struct netdev_queue *txq)
{
	txq_trans_cond_update(txq);
}

void rust_helper___netif_tx_lock(struct netdev_queue *txq)
{
	__netif_tx_lock(txq, smp_processor_id());
}

bool rust_helper___netif_tx_trylock(struct netdev_queue *txq)
{
	return __netif_tx_trylock(txq);
}

void rust_helper___netif_tx_unlock(struct netdev_queue *txq)
{
	__netif_tx_unlock(txq);
}
