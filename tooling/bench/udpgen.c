// SPDX-License-Identifier: GPL-2.0
/*
 * udpgen: a traffic source outside the lab guest, for `make bench`.
 *
 * Sends Ethernet frames carrying IPv4/UDP, one per datagram, to a QEMU
 * "-netdev dgram" backend on the loopback, which hands them to the guest's
 * NIC as received frames. The guest's own sender (pktgen, iperf3) would cap
 * the receive rates it is meant to measure; this does not share the
 * guest's CPUs.
 *
 *   udpgen PORT DST_MAC SECONDS [FROM_PORT [LEN [PPS]]]
 *
 * FROM_PORT: the local port to send from, the backend's "remote" port, so
 * that the datagrams come from the peer it expects. PPS: the rate to send
 * at (0, the default: as fast as it can). The host has as few cores as the
 * guest has CPUs: a sender that keeps one busy takes it from QEMU.
 * Prints "sent N frames in S s: R pps". Datagrams the backend cannot take
 * are dropped by the host's socket buffer, so the receiver's rate is what
 * the guest kept up with, and the sender's rate is printed beside it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

int main(int argc, char **argv)
{
	static const uint8_t src_mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0xee };
	uint8_t frame[1514] = { 0 };
	struct sockaddr_in to = { .sin_family = AF_INET };
	unsigned int mac[6];
	size_t len = 60, iplen;
	double secs, pps = 0, t0, t;
	uint64_t sent = 0;
	uint16_t sum;
	int fd, i;

	if (argc < 4 || argc > 7 || sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1],
			       &mac[2], &mac[3], &mac[4], &mac[5]) != 6) {
		fprintf(stderr, "usage: %s PORT DST_MAC SECONDS [FROM_PORT [LEN [PPS]]]\n",
			argv[0]);
		return 2;
	}
	secs = atof(argv[3]);
	if (argc > 5)
		len = atoi(argv[5]);
	if (argc > 6)
		pps = atof(argv[6]);
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

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	to.sin_port = htons(atoi(argv[1]));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc > 4) {
		struct sockaddr_in from = { .sin_family = AF_INET };
		int one = 1;

		from.sin_port = htons(atoi(argv[4]));
		from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
			perror("bind");
			return 1;
		}
	}

	t0 = now();
	do {
		for (i = 0; i < 256; i++)
			if (sendto(fd, frame, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len)
				sent++;
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
