# SPDX-License-Identifier: GPL-2.0
#
# The host's frame generator for the lab's third NIC, G, shared by `make
# bench` and `make profile`; sourced after env.sh.
#
#   gen_build         builds the generator (udpgen) and the XDP program
#                     (xdp_drop.o, against this kernel's uapi headers) into
#                     $CACHE/bench
#   gen_setup         chooses the backend that feeds G and sets GEN,
#                     GEN_PPS, GEN_TARGET and GEN_NETDEV (QEMU options: the
#                     backend and G)
#   gen_server DIR STOP   serves the guest's requests in DIR (req-N:
#                     "SECS MAC", answered by done-N with what was sent)
#                     until the file STOP exists
#   gen_cleanup       removes the tap device gen_setup created

gen_build() {
	mkdir -p "$CACHE/bench"
	cc -O2 -Wall -o "$CACHE/bench/udpgen" "$TOP/tooling/bench/udpgen.c"
	"${KMAKE[@]}" -s headers >/dev/null
	clang -O2 -target bpf -I"$BUILD/usr/include" -c "$TOP/tooling/bench/xdp_drop.c" \
		-o "$CACHE/bench/xdp_drop.o"
}

# Frames from the generator reach G through a QEMU backend of its own
# (through the lab's hub, to B, most generator runs delivered no frame at
# all: QEMU 7.2 stopped reading the backend once B's ring was full). A tap
# device (BENCH_GEN=tap, the default where the host lets us create one):
# QEMU reads up to 50 frames from it per wakeup, so that the guest, not the
# backend, limits the receive rate. The dgram backend on the loopback
# (BENCH_GEN=udp) reads one datagram per wakeup and caps the rate near 30k
# frames/s whatever the guest does.
gen_setup() {
	local port=${BENCH_PORT:-47300}
	GTAP=${BENCH_TAP:-rnetgen0}
	GEN=${BENCH_GEN:-tap}
	if [ "$GEN" = tap ]; then
		ip link del "$GTAP" 2>/dev/null || true
		if ip tuntap add dev "$GTAP" mode tap 2>/dev/null; then
			sysctl -qw "net.ipv6.conf.$GTAP.disable_ipv6=1" || true
			ip link set "$GTAP" up
		else
			log "no tap device (needs CAP_NET_ADMIN): the generator uses the dgram backend"
			GEN=udp
		fi
	fi
	# The generator's rate (frames/s; 0: as fast as it can). Unpaced, it
	# keeps one of the host's two cores busy, which QEMU then lacks: the
	# rate is about twice what QEMU's model delivers to the guest here
	# (dgram), or what the guest receives at most (tap).
	if [ "$GEN" = tap ]; then
		GEN_PPS=${BENCH_GEN_PPS:-400000}
		GEN_TARGET=dev:$GTAP
		GEN_NETDEV="-netdev tap,id=gen,ifname=$GTAP,script=no,downscript=no"
	else
		GEN_PPS=${BENCH_GEN_PPS:-60000}
		GEN_TARGET=$port/$((port + 1))
		GEN_NETDEV="-netdev socket,id=gen,udp=127.0.0.1:$((port + 1)),localaddr=127.0.0.1:$port"
	fi
	GEN_NETDEV+=" -device ${LAB_NIC:-e1000},netdev=gen,mac=52:54:00:00:00:c1"
}

gen_server() {
	local dir=$1 stop=$2 n=1 secs mac
	while [ ! -f "$stop" ]; do
		if [ -f "$dir/req-$n" ]; then
			read -r secs mac <"$dir/req-$n"
			"$CACHE/bench/udpgen" "$GEN_TARGET" "$mac" "$secs" 60 "$GEN_PPS" \
				>"$dir/done-$n.tmp" 2>&1
			mv "$dir/done-$n.tmp" "$dir/done-$n"
			n=$((n + 1))
		else
			sleep 0.05
		fi
	done
}

gen_cleanup() {
	[ "$GEN" != tap ] || ip link del "$GTAP" 2>/dev/null || true
}
