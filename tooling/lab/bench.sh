#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the bench guest (see ../bench.sh), after the benchmark
# KUnit suites ran at boot: saves the kernel log (their results), then,
# unless "engines" is asked, times the lab NICs, moving them between the
# C e1000 and e1000_rust every round, so that both drivers are timed in
# the same boot on the same NICs:
#   tcp       iperf3 TCP from A to B (Gbit/s)
#   udp       60-byte UDP frames from the host's generator to G, a third NIC
#             of the same model in its own namespace (nsG, 192.0.2.2): its
#             receive rate (packets/s) with the stack delivering them
#   xdp_drop  the same frames dropped by an XDP program on G: in the
#             driver (native XDP) where the driver has it, else generic
# For udp and xdp_drop also the packets per busy guest CPU-second
# (udp_cpu, xdp_drop_cpu): what each packet costs the guest, which a rate
# capped by the sender or by QEMU (its dgram backend delivers about 30k
# frames/s whatever the driver does) cannot tell.
# Every workload runs BENCH_ROUNDS times per driver, one round of each in
# turn. The generator runs on the host (tooling/bench/udpgen.c) and feeds G
# through a QEMU tap (or dgram) backend: a request file in $LABOUT/gen starts it,
# the host writes back what it sent. Results: $LABOUT/bench-<driver>.txt,
# a line per round: "<workload> <path> <round> <value> <unit> <sender pps
# or ->", the path being C for e1000 and Rust for e1000_rust.
#
#   bench.sh [engines|all]
set -u
MODE=${1:-all}
OUTDIR=${LABOUT:?}
DRIVERS=${BENCH_DRIVERS:-e1000 e1000_rust}
ROUNDS=${BENCH_ROUNDS:-5}
T=${BENCH_TIME:-3}
HERE=$(dirname "$0")
. "$HERE/nics.sh"

dmesg >"$OUTDIR/dmesg.txt"
if [ "$MODE" = engines ]; then
	touch "$OUTDIR/done"
	exit 0
fi
mkdir -p "$OUTDIR/gen"

# use DRIVER: the lab's NICs move to DRIVER, A and B in nsA and nsB, G in
# nsG, all with carrier.
# Unbinding a NIC unregisters its netdev from whichever namespace it is
# in; the namespaces are deleted after that, so that no NIC is on its way
# back to the initial namespace while lab_nics looks for it.
use() {
	lab_bind "$1" || return 1
	ip netns del nsA 2>/dev/null
	ip netns del nsB 2>/dev/null
	ip netns del nsG 2>/dev/null
	lab_nics "$1" && [ -n "$G" ] && lab_netns &&
		lab_ns_setup nsG "$G" 192.0.2.2 2001:db8::2 && lab_carrier && return 0
	echo "bench: no A, B and G $1 NICs with carrier (${NICS[*]})" >&2
	return 1
}

# rx_rate: G's receive rate (packets/s) over T seconds in the middle of a
# generator run; prints "rate sender_rate packets_per_busy_cpu_second".
rx_rate() {
	local p0 p1 t0 t1 c0 c1 sent id
	# The next request's number (this runs in a subshell: count the files).
	id=$(($(find "$OUTDIR/gen" -name 'req-*' | wc -l) + 1))
	gen "$id" $((T + 2)) >"$OUTDIR/gen/sent" &
	sleep 1
	p0=$(rx_packets nsG "$G") t0=$(now) c0=$(cpu_busy)
	sleep "$T"
	p1=$(rx_packets nsG "$G") t1=$(now) c1=$(cpu_busy)
	wait
	sent=$(cat "$OUTDIR/gen/sent")
	"$PY" -c '
import os, sys
p0, p1, t0, t1 = map(float, sys.argv[1:5])
busy = (float(sys.argv[7].split()[0]) - float(sys.argv[6].split()[0])) / os.sysconf("SC_CLK_TCK")
print("%.0f" % ((p1 - p0) / (t1 - t0)), sys.argv[5] or "-", "%.0f" % ((p1 - p0) / busy if busy else 0))' \
		"$p0" "$p1" "$t0" "$t1" "${sent:-}" "$c0" "$c1"
}

tcp() {
	local json=$OUTDIR/bench-tcp.json rate
	iperf3_server
	ip netns exec nsA iperf3 -c 192.0.2.2 -t "$T" -J >"$json" 2>&1
	rate=$(iperf3_received "$json") && [ -n "$rate" ] && echo "${rate% *}"
}

for d in $DRIVERS; do
	: >"$OUTDIR/bench-$d.txt"
done
for r in $(seq "$ROUNDS"); do
	for d in $DRIVERS; do
		R=$OUTDIR/bench-$d.txt
		P=Rust XDP=$(xdp_mode "$d")
		[ "$d" = e1000 ] && P=C
		use "$d" || exit 1
		v=$(tcp) && echo "tcp $P $r $v Gbit/s -" >>"$R"
		read -r v s c < <(rx_rate) && echo "udp $P $r $v pps $s" >>"$R" &&
			echo "udp_cpu $P $r $c pkt/cpu-s -" >>"$R"
		ip -n nsG link set dev "$G" $XDP obj "$XDP_OBJ" sec xdp &&
			read -r v s c < <(rx_rate) &&
			echo "xdp_drop $P $r $v pps $s" >>"$R" &&
			echo "xdp_drop_cpu $P $r $c pkt/cpu-s -" >>"$R"
		ip -n nsG link set dev "$G" $XDP off
		echo "bench round $r, $d: $(grep -c " $r " "$R") results"
	done
done
dmesg >"$OUTDIR/dmesg-end.txt"
touch "$OUTDIR/done"
