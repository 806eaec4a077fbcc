// SPDX-License-Identifier: GPL-2.0
/*
 * udpgen: a traffic source outside the lab guest, for `make bench`.
 *
 * Sends Ethernet frames carrying IPv4/UDP to a QEMU network backend on the
 * host, which hands them to the guest's NIC as received frames. The
 * guest's own sender (pktgen, iperf3) would cap the receive rates it is
 * meant to measure; this does not share the guest's CPUs.
 *
 *   udpgen TARGET DST_MAC SECONDS [LEN [PPS]]
 *
 * TARGET: "PORT/FROM_PORT", a QEMU "-netdev dgram" (or socket udp=)
 * backend on the loopback listening on PORT, whose remote port is
 * FROM_PORT (one frame per datagram); or "dev:IFNAME", a host network
 * device (the host side of a QEMU "-netdev tap" backend), through a packet
 * socket. PPS: the rate to send at (0, the default: as fast as it can).
 * The host has as few cores as the guest has CPUs: a sender that keeps
 * one busy takes it from QEMU.
 * Prints "sent N frames in S s: R pps". Frames the backend cannot take
 * are dropped by the host (socket buffer, tap queue), so the receiver's
 * rate is what the guest kept up with, and the sender's rate is printed
 * beside it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t csum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (p[0] << 8) | p[1];
	if (len)
		sum += p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* A socket that sends to TARGET (see above); fills *to and *tolen. */
static int open_target(const char *target, struct sockaddr_storage *to, socklen_t *tolen)
{
	int fd, one = 1;

	if (!strncmp(target, "dev:", 4)) {
		struct sockaddr_ll *ll = (struct sockaddr_ll *)to;

		fd = socket(AF_PACKET, SOCK_RAW, 0);
		if (fd < 0) {
			perror("socket(AF_PACKET)");
			return -1;
		}
		memset(ll, 0, sizeof(*ll));
		ll->sll_family = AF_PACKET;
		ll->sll_protocol = htons(ETH_P_IP);
		ll->sll_ifindex = if_nametoindex(target + 4);
		if (!ll->sll_ifindex) {
			perror(target + 4);
			return -1;
		}
		/* Straight to the device: its queue is the only one. */
		setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
		*tolen = sizeof(*ll);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)to;
		struct sockaddr_in from = { .sin_family = AF_INET };
		unsigned int port, from_port;

		if (sscanf(target, "%u/%u", &port, &from_port) != 2) {
			fprintf(stderr, "udpgen: TARGET is PORT/FROM_PORT or dev:IFNAME\n");
			return -1;
		}
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0) {
			perror("socket");
			return -1;
		}
		memset(in, 0, sizeof(*in));
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		/* From the peer the backend expects. */
		from.sin_port = htons(from_port);
		from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
			perror("bind");
			return -1;
		}
		*tolen = sizeof(*in);
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const uint8_t src_mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0xee };
	enum { BATCH = 64 };
	uint8_t frame[1514] = { 0 };
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	struct sockaddr_storage to;
	socklen_t tolen;
	unsigned int mac[6];
	size_t len = 60, iplen;
	double secs, pps = 0, t0, t;
	uint64_t sent = 0;
	uint16_t sum;
	int fd, i, n;

	if (argc < 4 || argc > 6 || sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1],
			       &mac[2], &mac[3], &mac[4], &mac[5]) != 6) {
		fprintf(stderr, "usage: %s PORT/FROM_PORT|dev:IFNAME DST_MAC SECONDS [LEN [PPS]]\n",
			argv[0]);
		return 2;
	}
	secs = atof(argv[3]);
	if (argc > 4)
		len = atoi(argv[4]);
	if (argc > 5)
		pps = atof(argv[5]);
	if (len < 60 || len > sizeof(frame)) {
		fprintf(stderr, "%s: LEN must be 60..%zu\n", argv[0], sizeof(frame));
		return 2;
	}
	/* Ethernet: to the NIC under test, from a MAC no NIC in the guest has. */
	for (i = 0; i < 6; i++)
		frame[i] = mac[i];
	memcpy(frame + 6, src_mac, 6);
	frame[12] = 0x08;
	frame[13] = 0x00;
	/* IPv4 192.0.2.254 -> 192.0.2.2, UDP 9 -> 9 (discard). */
	iplen = len - 14;
	frame[14] = 0x45;
	frame[16] = iplen >> 8;
	frame[17] = iplen & 0xff;
	frame[22] = 64;
	frame[23] = 17;
	frame[26] = 192; frame[27] = 0; frame[28] = 2; frame[29] = 254;
	frame[30] = 192; frame[31] = 0; frame[32] = 2; frame[33] = 2;
	sum = csum(frame + 14, 20);
	frame[24] = sum >> 8;
	frame[25] = sum & 0xff;
	frame[35] = 9;
	frame[37] = 9;
	frame[38] = (iplen - 20) >> 8;
	frame[39] = (iplen - 20) & 0xff;
	/* UDP checksum 0: none. */

	fd = open_target(argv[1], &to, &tolen);
	if (fd < 0)
		return 1;
	iov.iov_base = frame;
	iov.iov_len = len;
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = tolen;
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	t0 = now();
	do {
		for (i = 0; i < 4; i++) {
			n = sendmmsg(fd, msgs, BATCH, 0);
			if (n > 0)
				sent += n;
		}
		t = now();
		/* Paced: wait until the frames sent so far are due. */
		if (pps > 0 && sent / pps > t - t0) {
			double d = sent / pps - (t - t0);
			struct timespec ts = { (time_t)d, (long)((d - (time_t)d) * 1e9) };

			nanosleep(&ts, NULL);
			t = now();
		}
	} while (t - t0 < secs);
	printf("sent %llu frames in %.2f s: %.0f pps\n", (unsigned long long)sent,
	       t - t0, sent / (t - t0));
	return 0;
}
