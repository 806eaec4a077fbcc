#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the lab guest (see ../lab.sh): saves the boot log with the
# KUnit results, puts the two NICs bound to $DRIVER into two network
# namespaces, and checks traffic between them. Results are KTAP, in
# $LABOUT/lab.ktap, one case per check.
#
#   guest.sh [test|run]     run: also print a short human summary
set -u
MODE=${1:-test}
OUTDIR=${LABOUT:?}
DRIVER=${DRIVER:-e1000}
T=${IPERF_TIME:-3}
SUITE=lab_$DRIVER

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

# The NICs bound to $DRIVER, ordered by MAC (…:a1 is A, …:b1 is B).
nics=()
for d in /sys/class/net/*; do
	drv=$(readlink -f "$d/device/driver" 2>/dev/null) || continue
	[ "${drv##*/}" = "$DRIVER" ] || continue
	nics+=("$(cat "$d/address") ${d##*/}")
done
mapfile -t nics < <(printf '%s\n' "${nics[@]}" | sort | cut -d' ' -f2)
[ ${#nics[@]} = 2 ]
result nics_found $? "${#nics[@]} NICs bound to $DRIVER: ${nics[*]}"
[ ${#nics[@]} = 2 ] || finish
A=${nics[0]}
B=${nics[1]}

setup() {
	local ns=$1 dev=$2 v4=$3 v6=$4
	ip netns add "$ns" &&
		ip link set "$dev" netns "$ns" &&
		ip -n "$ns" link set lo up &&
		ip -n "$ns" addr add "$v4/24" dev "$dev" &&
		ip -n "$ns" addr add "$v6/64" dev "$dev" nodad &&
		ip -n "$ns" link set "$dev" up
}
check netns_setup eval 'setup nsA "$A" 192.0.2.1 2001:db8::1 &&
	setup nsB "$B" 192.0.2.2 2001:db8::2'

carrier() {
	local i
	for i in $(seq 50); do
		ip -n nsA link show "$A" | grep -q LOWER_UP &&
			ip -n nsB link show "$B" | grep -q LOWER_UP && return 0
		sleep 0.1
	done
	return 1
}
check carrier_up carrier

ping_check() {
	local ns=$1 dst=$2
	ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 "$dst"
}
check ping4_a_to_b ping_check nsA 192.0.2.2
check ping4_b_to_a ping_check nsB 192.0.2.1
check ping6_a_to_b ping_check nsA 2001:db8::2
check ping6_b_to_a ping_check nsB 2001:db8::1

rx_bytes() {
	ip -n "$1" -s -j link show "$2" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["bytes"])'
}

# iperf3 NAME [-R]: TCP from A to B (or B to A with -R) for $T seconds.
iperf() {
	local name=$1 json=$OUTDIR/$1.json rate rx0 rx1 st
	shift
	ip netns exec nsB iperf3 -s -D -1 -I "$OUTDIR/iperf3.pid" >/dev/null 2>&1
	sleep 0.5
	rx0=$(rx_bytes nsB "$B")
	ip netns exec nsA iperf3 -c 192.0.2.2 -t "$T" -J "$@" >"$json" 2>&1
	st=$?
	rx1=$(rx_bytes nsB "$B")
	rate=$(python3 - "$json" <<-'PY' 2>/dev/null
	import json, sys
	r = json.load(open(sys.argv[1]))["end"]
	print("%.3f %d" % (r["sum_received"]["bits_per_second"] / 1e9,
	                   r["sum_received"]["bytes"]))
	PY
	)
	if [ $st = 0 ] && [ -n "$rate" ] && [ "${rate#* }" -gt 0 ]; then
		result "$name" 0 "${rate% *} Gbit/s, ${rate#* } bytes in ${T}s"
		SUMMARY+=("$name: ${rate% *} Gbit/s")
		# Without -R the payload went A -> B: B's counters saw it all.
		if [ $# = 0 ]; then
			[ $((rx1 - rx0)) -ge "${rate#* }" ]
			result rx_bytes_counted $? \
				"B counted $((rx1 - rx0)) bytes for ${rate#* } of payload"
		fi
	else
		result "$name" 1 "iperf3 exit $st"
		[ $# = 0 ] && result rx_bytes_counted 1 "no transfer to count"
	fi
}
iperf iperf3_tcp_a_to_b
iperf iperf3_tcp_b_to_a -R

# No warning, oops or lockdep splat in the whole run.
dmesg >"$OUTDIR/dmesg-end.txt"
! grep -E 'WARNING:|BUG:|Oops|Call Trace|UBSAN|KASAN' "$OUTDIR/dmesg-end.txt"
result no_kernel_splat $?

SUMMARY+=("ping v4/v6 both ways: $(grep -c '^    ok [0-9]* ping' <(printf '%s\n' "${RESULTS[@]}"))/4 ok")
finish
