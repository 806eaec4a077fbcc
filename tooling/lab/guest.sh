#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the lab guest (see ../lab.sh): saves the boot log with the
# KUnit results, puts the two NICs bound to $DRIVER into two network
# namespaces, checks traffic between them (also under allocation fault
# injection), and runs the kernel's drivers/net selftests against them.
# After every step the kernel log is checked for splats and kmemleak
# scans for leaks, each a check of its own. Results are KTAP, in
# $LABOUT/lab.ktap, one case per check; the selftests' own output goes to
# $LABOUT/ksft/ (turned into KTAP on the host by ../ksft-results.py).
#
#   guest.sh [test|run]     run: also print a short human summary
set -u
MODE=${1:-test}
OUTDIR=${LABOUT:?}
DRIVER=${DRIVER:-e1000}
T=${IPERF_TIME:-3}
SUITE=lab_$DRIVER
HERE=$(dirname "$0")
. "$HERE/faults.sh"
. "$HERE/nics.sh"
. "$HERE/xdp.sh"
. "$HERE/link.sh"

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
dmesg >"$OUTDIR/dmesg.txt"

N=0
RESULTS=()
SUMMARY=()
PASS=0
FAIL=0

# result NAME STATUS [DIAGNOSTIC]
result() {
	N=$((N + 1))
	if [ "$2" = 0 ]; then
		RESULTS+=("    ok $N $1")
		PASS=$((PASS + 1))
	else
		RESULTS+=("    not ok $N $1")
		FAIL=$((FAIL + 1))
	fi
	[ -n "${3:-}" ] && RESULTS+=("    # $1: $3")
	printf '%-22s %s %s\n' "$1" "$([ "$2" = 0 ] && echo ok || echo FAIL)" "${3:-}"
}

# check NAME COMMAND...: the command's output goes to checks.log.
check() {
	local name=$1
	shift
	echo "== $name: $*" >>"$OUTDIR/checks.log"
	"$@" >>"$OUTDIR/checks.log" 2>&1
	result "$name" $?
}

# What a debug kernel prints when it finds a bug: KASAN and other BUG:
# reports, WARN()s (lockdep's and RCU-lockdep's reports start with
# "WARNING:"), oopses, RCU stalls, refcount and ref_tracker reports,
# hung tasks, UBSAN.
SPLAT='BUG:|WARNING:|Oops|general protection fault|kernel BUG at|Kernel panic|'
SPLAT+='rcu: INFO: .* detected stall|detected stalls on CPUs|refcount_t: |ref_tracker: |'
SPLAT+='INFO: task .* blocked for more than|UBSAN:|KASAN:|unregister_netdevice: waiting for'
# What matches SPLAT and is not one: ref_tracker's note that it could not
# allocate a tracker, which the allocation fault window provokes.
NOT_SPLAT='ref_tracker: memory allocation failure'
LOG_SEEN=0

# splats FILE: the lines of FILE that report a splat.
splats() {
	grep -E "$SPLAT" "$1" | grep -v -E "$NOT_SPLAT"
}

# splat_check STEP: a check of its own: no splat in the kernel log since
# the previous splat_check (the first one covers the boot, with KUnit).
splat_check() {
	local log=$OUTDIR/dmesg-$1.txt n found
	dmesg >"$OUTDIR/dmesg-now.txt"
	n=$(wc -l <"$OUTDIR/dmesg-now.txt")
	tail -n +$((LOG_SEEN + 1)) "$OUTDIR/dmesg-now.txt" >"$log"
	LOG_SEEN=$n
	found=$(splats "$log" | wc -l)
	result "no_splat_$1" $((found > 0)) \
		"$([ "$found" = 0 ] || { echo "$found splat lines, first: "; splats "$log" | head -n 1; } | tr -d '\n')"
}

# kmemleak_check STEP: a check of its own: a kmemleak scan (two, so that
# a pointer only in flight during the first does not count) finds no
# unreferenced object. Reports go to kmemleak-STEP.txt.
kmemleak_check() {
	local f=/sys/kernel/debug/kmemleak rep=$OUTDIR/kmemleak-$1.txt n
	if [ ! -w $f ]; then
		result "kmemleak_$1" 1 "no $f (CONFIG_DEBUG_KMEMLEAK off, or kmemleak disabled itself)"
		return
	fi
	echo scan >$f && sleep 1 && echo scan >$f
	cat $f >"$rep"
	n=$(grep -c '^unreferenced object' "$rep")
	result "kmemleak_$1" $((n > 0)) "$n unreferenced objects$([ "$n" = 0 ] || echo " (see ${rep##*/})")"
}

finish() {
	{
		echo "KTAP version 1"
		echo "1..1"
		echo "    KTAP version 1"
		echo "    # Subtest: $SUITE"
		echo "    1..$N"
		printf '%s\n' "${RESULTS[@]}"
		echo "# $SUITE: pass:$PASS fail:$FAIL skip:0 total:$N"
		[ $FAIL = 0 ] && echo "ok 1 $SUITE" || echo "not ok 1 $SUITE"
	} >"$OUTDIR/lab.ktap"
	dmesg >"$OUTDIR/dmesg-end.txt"
	touch "$OUTDIR/done"
	if [ "$MODE" = run ]; then
		echo
		echo "Lab summary ($DRIVER):"
		printf '  %s\n' "${SUMMARY[@]}"
		for ns in nsA nsB; do
			dev=$A
			[ $ns = nsB ] && dev=$B
			ip -n $ns -s -j link show "$dev" 2>/dev/null | python3 -c '
import json, sys
l = json.load(sys.stdin)[0]; s = l["stats64"]
print("  %s %-8s rx %8d packets %12d bytes   tx %8d packets %12d bytes" % (
    sys.argv[1], l["ifname"], s["rx"]["packets"], s["rx"]["bytes"],
    s["tx"]["packets"], s["tx"]["bytes"]))' $ns
		done
	fi
	exit $((FAIL > 0))
}

splat_check boot
kmemleak_check boot

# The C e1000 and e1000_rust take the same NICs: those of the other move.
check nics_bound lab_bind "$DRIVER"
lab_nics "$DRIVER"
result nics_found $? "${#NICS[@]} NICs bound to $DRIVER: ${NICS[*]}"
[ -n "$B" ] || finish
check netns_setup lab_netns
check carrier_up lab_carrier
# Both drivers come up with TCP segmentation offload on (e1000_rust with
# the 8254x's errata handled by its transmit engine's configuration).
tso=$(ip netns exec nsA ethtool -k "$A" | awk '$1 == "tcp-segmentation-offload:" { print $2 }')
[ "$tso" = on ]
result tso_on_by_default $? "tcp-segmentation-offload on A: ${tso:-?}"

ping_check() {
	local ns=$1 dst=$2
	ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 "$dst"
}
check ping4_a_to_b ping_check nsA 192.0.2.2
check ping4_b_to_a ping_check nsB 192.0.2.1
check ping6_a_to_b ping_check nsA 2001:db8::2
check ping6_b_to_a ping_check nsB 2001:db8::1
splat_check ping
kmemleak_check ping

# iperf3 NAME [-R]: TCP from A to B (or B to A with -R) for $T seconds.
iperf() {
	local name=$1 json=$OUTDIR/$1.json rate rx0 rx1 st
	shift
	iperf3_server
	rx0=$(rx_bytes nsB "$B")
	ip netns exec nsA iperf3 -c 192.0.2.2 -t "$T" -J "$@" >"$json" 2>&1
	st=$?
	rx1=$(rx_bytes nsB "$B")
	rate=$(iperf3_received "$json")
	if [ $st = 0 ] && [ -n "$rate" ] && [ "${rate#* }" -gt 0 ]; then
		result "$name" 0 "${rate% *} Gbit/s, ${rate#* } bytes in ${T}s"
		SUMMARY+=("$name: ${rate% *} Gbit/s")
		# The first transfer A -> B: B's counters saw all its payload.
		if [ "$name" = iperf3_tcp_a_to_b ]; then
			[ $((rx1 - rx0)) -ge "${rate#* }" ]
			result rx_bytes_counted $? \
				"B counted $((rx1 - rx0)) bytes for ${rate#* } of payload"
		fi
	else
		result "$name" 1 "iperf3 exit $st"
		[ "$name" = iperf3_tcp_a_to_b ] && result rx_bytes_counted 1 "no transfer to count"
	fi
}
# tx_qstats NS DEV: the device's transmit queue statistics (netdev
# netlink, through the selftests' YNL library), as "name value" lines.
tx_qstats() {
	(cd "$KSFT/drivers/net" && ip netns exec "$1" "$PY" -c '
import socket, sys
sys.path.insert(0, ".")
from lib.py import NetdevFamily
q = NetdevFamily().qstats_get({"ifindex": socket.if_nametoindex(sys.argv[1])}, dump=True)
for k, v in (q[0] if q else {}).items():
    print(k, v)' "$2")
}
iperf iperf3_tcp_a_to_b
# A driver that reports segmentation offload (qstats tx-hw-gso-*) must have
# used it for that transfer: more segments on the wire than packets given.
QS=$(tx_qstats nsA "$A" 2>>"$OUTDIR/checks.log")
if grep -q '^tx-hw-gso-packets ' <<<"$QS"; then
	gso=$(awk '$1 == "tx-hw-gso-packets" { print $2 }' <<<"$QS")
	wire=$(awk '$1 == "tx-hw-gso-wire-packets" { print $2 }' <<<"$QS")
	[ "$gso" -gt 0 ] && [ "$wire" -gt "$gso" ]
	result tso_used $? "$gso packets segmented by the device into $wire"
	SUMMARY+=("TSO: $gso packets segmented by the device into $wire")
fi
iperf iperf3_tcp_b_to_a -R
splat_check iperf3
kmemleak_check iperf3

# Native XDP on A, every action observed (lab/xdp.sh).
if [ "$MODE" = test ]; then
	xdp_checks
	splat_check xdp
	kmemleak_check xdp
fi

# Interrupt coalescing, jumbo frames, oversize frames, a MAC address change
# (lab/link.sh).
if [ "$MODE" = test ]; then
	link_checks
	splat_check link
	kmemleak_check link
fi

# Allocation failure is a normal path: TCP from A to B while allocations
# that cannot sleep fail (the receive refill among them) for FAULT_SECS
# seconds, then the traffic must recover: the transfer completes, and a
# ping and a second transfer after the window pass.
FAULT_SECS=${FAULT_SECS:-4}
FAULT_PCT=${FAULT_PCT:-5}
faults() {
	local json=$OUTDIR/iperf3_faults.json st counts bytes pid i
	iperf3_server
	ip netns exec nsA iperf3 -c 192.0.2.2 -t $((FAULT_SECS + 4)) -J >"$json" 2>&1 &
	pid=$!
	# The window opens once the transfer runs (its control and data
	# connections established: on a slow guest setting them up took more
	# than 2 s, and a connect() that fails for want of memory ends iperf3
	# before any traffic), and a second into it.
	for i in $(seq 150); do
		[ "$(ip netns exec nsA ss -Htn state established '( dport = :5201 )' | wc -l)" -ge 2 ] && break
		sleep 0.1
	done
	sleep 1
	counts=$(fault_window "$FAULT_SECS" "$FAULT_PCT")
	wait $pid
	st=$?
	set -- $counts
	result faults_injected $((${1:-0} + ${2:-0} == 0)) \
		"$FAULT_PCT% for ${FAULT_SECS}s: ${1:-?} page and ${2:-?} slab allocations failed"
	bytes=$(iperf3_received "$json")
	bytes=${bytes#* }
	[ $st = 0 ] && [ "${bytes:-0}" -gt 0 ]
	result iperf3_under_faults $? "iperf3 exit $st, ${bytes:-no} bytes received"
	SUMMARY+=("under faults: ${1:-?} page + ${2:-?} slab allocation failures, ${bytes:-no} bytes")
}
# `make run` shows traffic; `make test` also runs the fault window and
# the selftests.
if [ "$MODE" = test ]; then
	faults
	check ping_after_faults ping_check nsA 192.0.2.2
	iperf iperf3_after_faults
	splat_check faults
	kmemleak_check faults
fi

# The kernel's drivers/net selftests against the NIC in nsA, its peer in
# nsB, configured as netdev's CI does (env vars of NetDrvEpEnv). Each
# file's KTAP goes to ksft/<file>.txt; ../ksft-results.py checks it
# against the driver's expectations on the host.
# The Python tests that apply to one NIC with a peer (hw/devlink_port_split.py
# needs devlink ports, which neither e1000 nor the lab kernel has; the
# shell tests need forwarding.sh's loopback topologies).
KSFT_TESTS=${KSFT_TESTS:-ping.py stats.py queues.py hw/csum.py hw/pp_alloc_fail.py hw/rss_ctx.py}
# hw/pp_alloc_fail.py reaches its verdict on e1000_rust (see
# tooling/ksft/expect-e1000_rust). Its iperf3 once found no route to the
# peer: stats.py's check_down had taken the NIC down and up, which removed
# its IPv6 address (lab_ns_setup now keeps it); 6.12's lib/py/utils.py then
# waited for iperf3 without a timeout (it passes the timeout of
# communicate() as its input), until the 600 s one here.
selftests() {
	local t out limit
	mkdir -p "$OUTDIR/ksft"
	# The QEMU 82540EM comes up with receive checksumming off: on, so
	# that hw/csum.py exercises it.
	ip netns exec nsA ethtool -K "$A" rx on >/dev/null 2>&1
	ip netns exec nsB ethtool -K "$B" rx on >/dev/null 2>&1
	# Unbuffered (-u): a test killed by its timeout still leaves what it
	# printed.
	for t in $KSFT_TESTS; do
		out=$OUTDIR/ksft/${t//\//_}.txt
		# hw/pp_alloc_fail.py reports in about 2 minutes; a cleanup
		# waiting for its iperf3 (see above) is cut short.
		limit=600
		[ "$t" = hw/pp_alloc_fail.py ] && limit=300
		ip netns exec nsA env NETIF="$A" LOCAL_V4=192.0.2.1 REMOTE_V4=192.0.2.2 \
			LOCAL_V6=2001:db8::1 REMOTE_V6=2001:db8::2 \
			REMOTE_TYPE=netns REMOTE_ARGS=nsB \
			timeout "$limit" "$PY" -u "$KSFT/drivers/net/$t" >"$out" 2>&1
		echo "# exit: $?" >>"$out"
		printf '%-22s %s\n' "ksft ${t##*/}" "$(grep -c '^ok' "$out") ok, $(grep -c '^not ok' "$out") not ok"
	done
}
if [ "$MODE" = test ]; then
	selftests
	splat_check selftests
	kmemleak_check selftests
fi

# Robustness: A taken down and up ROUNDS times, then unbound from its
# driver and bound again ROUNDS times (each time a new net device, moved
# back into nsA), with a ping through after each series.
ROUNDS=${ROUNDS:-50}
down_up() {
	local i
	for i in $(seq "$ROUNDS"); do
		ip -n nsA link set "$A" down && ip -n nsA link set "$A" up || return 1
	done
	lab_carrier && ping_check nsA 192.0.2.2
}
rebind() {
	local i bdf dev n
	bdf=$(ip netns exec nsA readlink -f "/sys/class/net/$A/device") || return 1
	bdf=${bdf##*/}
	for i in $(seq "$ROUNDS"); do
		echo "$bdf" >"/sys/bus/pci/drivers/$DRIVER/unbind" &&
			echo "$bdf" >/sys/bus/pci/drivers_probe || return 1
	done
	# The last one's device, in the initial namespace under a new name
	# once udev has renamed it.
	lab_settle
	for n in $(seq 50); do
		dev=$(ls "/sys/bus/pci/devices/$bdf/net" 2>/dev/null) && [ -n "$dev" ] && break
		sleep 0.1
	done
	[ -n "$dev" ] || return 1
	ip link set "$dev" netns nsA && ip -n nsA link set "$dev" name "$A" &&
		ip -n nsA addr add 192.0.2.1/24 dev "$A" &&
		ip -n nsA addr add 2001:db8::1/64 dev "$A" nodad &&
		ip -n nsA link set "$A" up && lab_carrier && ping_check nsA 192.0.2.2
}
# Ring resize: A's rings change size 20 times (128 and 256 descriptors
# in turn) while TCP runs through A; the transfer completes, the last size
# is the one reported, and A dropped nothing it was given to send (what
# comes meanwhile waits in the qdisc).
ring_resize() {
	local json=$OUTDIR/iperf3_resize.json i n fail=0 st bytes cur d0 d1
	d0=$(lab_stat nsA "$A" tx dropped)
	iperf3_server
	ip netns exec nsA iperf3 -c 192.0.2.2 -t 8 -J >"$json" 2>&1 &
	sleep 1
	for i in $(seq 20); do
		n=$((i % 2 ? 128 : 256))
		ip netns exec nsA ethtool -G "$A" rx $n tx $n 2>>"$OUTDIR/checks.log" ||
			fail=$((fail + 1))
	done
	wait $!
	st=$?
	bytes=$(iperf3_received "$json")
	bytes=${bytes#* }
	cur=$(ip netns exec nsA ethtool -g "$A" | awk '/^Current/ { c = 1 } c && /^RX:/ { print $2 }')
	d1=$(lab_stat nsA "$A" tx dropped)
	[ $fail = 0 ] && [ $st = 0 ] && [ "${bytes:-0}" -gt 0 ] && [ "$cur" = 256 ] &&
		[ "${d0:-x}" = "${d1:-y}" ] && ping_check nsA 192.0.2.2 >>"$OUTDIR/checks.log" 2>&1
	result ring_resize_x20 $? \
		"$fail failed resizes; iperf3 exit $st, ${bytes:-no} bytes received; RX ring now ${cur:-?}; $((${d1:-0} - ${d0:-0})) packets dropped"
}
if [ "$MODE" = test ]; then
	ring_resize
	check "down_up_x$ROUNDS" down_up
	check "unbind_rebind_x$ROUNDS" rebind
	splat_check robustness
	kmemleak_check robustness
fi

# The whole run once more, and what is still allocated at the end.
dmesg >"$OUTDIR/dmesg-end.txt"
[ -z "$(splats "$OUTDIR/dmesg-end.txt")" ]
result no_kernel_splat $?
kmemleak_check end

SUMMARY+=("ping v4/v6 both ways: $(grep -c '^    ok [0-9]* ping' <(printf '%s\n' "${RESULTS[@]}"))/4 ok")
finish
