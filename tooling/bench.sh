#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: a benchmark, not a test. Builds the production kernel
# (configs/profile/bench.config: no debug options, its own build
# directory, the same sources) and boots it twice:
#   1. time: the benchmark KUnit suites run at boot (only they: kunit's
#      filter_glob), each alternating the Rust path and the C path over many
#      rounds; then lab/bench.sh times the lab NICs under the C e1000 and
#      e1000_rust in turn (iperf3 TCP, and UDP and XDP_DROP receive rates
#      fed by a generator on the host: native XDP on e1000_rust, generic
#      on e1000);
#   2. instructions: the same suites under QEMU's instruction counter
#      (-icount shift=0: the guest's clock advances 1 ns per instruction),
#      so that the engines' times become instructions per packet, which the
#      host's load does not change.
# bench-table.py prints the table (workload | Rust | C | Rust/C, medians and
# spread) and saves it to out/bench.txt and out/bench.json.
set -euo pipefail
export RNETCORE_PROFILE=bench
. "$(dirname "$0")/env.sh"

"$TOP/tooling/build.sh"
B=$OUT/bench
rm -rf "$B"
mkdir -p "$CACHE/bench"

# The host's generator and the XDP program (uapi headers of this kernel).
cc -O2 -Wall -o "$CACHE/bench/udpgen" "$TOP/tooling/bench/udpgen.c"
"${KMAKE[@]}" -s headers >/dev/null
clang -O2 -target bpf -I"$BUILD/usr/include" -c "$TOP/tooling/bench/xdp_drop.c" \
	-o "$CACHE/bench/xdp_drop.o"

# Frames from the generator reach a third NIC of the lab's model, G, through
# a QEMU backend of its own (through the lab's hub, to B, most generator
# runs delivered no frame at all: QEMU 7.2 stopped reading the backend once
# B's ring was full). A tap device (BENCH_GEN=tap, the default where the
# host lets us create one): QEMU reads up to 50 frames from it per wakeup,
# so that the guest, not the backend, limits the receive rate. The dgram
# backend on the loopback (BENCH_GEN=udp) reads one datagram per wakeup
# and caps the rate near 30k frames/s whatever the guest does.
GPORT=${BENCH_PORT:-47300}
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
# The generator's rate (frames/s; 0: as fast as it can). Unpaced, it keeps
# one of the host's two cores busy, which QEMU then lacks: the rate is about
# twice what QEMU's model delivers to the guest here (dgram), or what the
# guest receives at most (tap).
if [ "$GEN" = tap ]; then
	GEN_PPS=${BENCH_GEN_PPS:-400000}
	GEN_TARGET=dev:$GTAP
	GEN_NETDEV="-netdev tap,id=gen,ifname=$GTAP,script=no,downscript=no"
else
	GEN_PPS=${BENCH_GEN_PPS:-60000}
	GEN_TARGET=$GPORT/$((GPORT + 1))
	GEN_NETDEV="-netdev socket,id=gen,udp=127.0.0.1:$((GPORT + 1)),localaddr=127.0.0.1:$GPORT"
fi
GEN_NETDEV+=" -device ${LAB_NIC:-e1000},netdev=gen,mac=52:54:00:00:00:c1"

# Serves the guest's requests (lab/bench.sh: gen, in the lab's result
# directory, which lab.sh creates afresh) until told to stop.
gen_server() {
	local dir=$1 n=1 secs mac
	while [ ! -f "$B/gen.stop" ]; do
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

GLOB='rust_net_*bench*'
log "boot 1: timing (benchmark suites, then the lab NICs)"
gen_server "$B/time/gen" &
gen_pid=$!
cleanup() {
	touch "$B/gen.stop"
	wait $gen_pid 2>/dev/null
	[ "$GEN" != tap ] || ip link del "$GTAP" 2>/dev/null || true
}
trap cleanup EXIT
rc=0
LAB_OUT=$B/time LAB_SCRIPT=$TOP/tooling/lab/bench.sh LAB_QEMU="$GEN_NETDEV" \
	LAB_APPEND="kunit.filter_glob=$GLOB" LAB_ENV="XDP_OBJ=$CACHE/bench/xdp_drop.o BENCH_ROUNDS=${BENCH_ROUNDS:-5}" \
	"$TOP/tooling/lab.sh" all || rc=$?
touch "$B/gen.stop"
wait $gen_pid || true

log "boot 2: instructions (benchmark suites under -icount shift=0)"
LAB_OUT=$B/icount LAB_SCRIPT=$TOP/tooling/lab/bench.sh LAB_QEMU="-icount shift=0" \
	LAB_APPEND="kunit.filter_glob=$GLOB" "$TOP/tooling/lab.sh" engines || rc=$?

python3 "$TOP/tooling/bench-table.py" --time "$B/time" --icount "$B/icount" \
	--json "$OUT/bench.json" | tee "$OUT/bench.txt"
exit $rc
