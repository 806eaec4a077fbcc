# SPDX-License-Identifier: GPL-2.0
#
# The lab's two NICs, for the guest scripts (guest.sh, bench.sh); sourced.
#
#   lab_bind DRIVER   moves the 82540EM NICs to DRIVER
#   lab_settle        waits until udev has renamed the new net devices
#   lab_nics DRIVER   A and B: the NICs bound to DRIVER with the MACs
#                     52:54:00:00:00:a1 and …:b1 (cabled to each other); G:
#                     the one with …:c1 (make bench's generator NIC), if
#                     any; NICS lists them all; fails unless A and B exist
#                     within 30 s
#   lab_netns         A in netns nsA (192.0.2.1, 2001:db8::1), B in nsB
#                     (192.0.2.2, 2001:db8::2), both up, IPv6 addresses
#                     kept over down and up
#   lab_carrier       waits up to 5 s for carrier on both
#   rx_packets NS DEV, rx_bytes NS DEV   the device's stats64 counters
#   iperf3_server     a one-shot iperf3 server in nsB, ready for a client
#   iperf3_received JSON   "Gbit/s bytes" the receiver got, from iperf3 -J
#   gen ID SECS       the host's generator (make bench, make profile) sends
#                     frames to G for SECS seconds; prints its rate
#   cpu_busy          the guest's busy and total CPU time, in clock ticks
#   lab_irq NS DEV    DEV's interrupt line (its device's IRQ number)
#   irq_count NS DEV  the interrupts DEV has raised, on all CPUs
#   xdp_mode DRIVER   the ip link XDP mode that runs a program with DRIVER:
#                     native where it has it, generic on the C e1000

# lab_bind DRIVER: the lab's NICs (82540EMs, 8086:100e) move to DRIVER
# through their driver_override; the C e1000 and e1000_rust match the same
# devices, and the one linked first takes them at boot.
lab_bind() {
	local d cur
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x8086 ] && [ "$(cat "$d/device")" = 0x100e ] || continue
		cur=$(readlink -f "$d/driver" 2>/dev/null)
		cur=${cur##*/}
		[ "$cur" = "$1" ] && continue
		echo "$1" >"$d/driver_override" || return 1
		if [ -n "$cur" ]; then
			echo "${d##*/}" >"/sys/bus/pci/drivers/$cur/unbind" || return 1
		fi
		echo "${d##*/}" >/sys/bus/pci/drivers_probe || return 1
	done
	lab_settle
}

# lab_settle: udev renames a new net device (eth0 -> enp0s10) some time
# after its probe, which on a slow guest can be seconds: a name read
# before then goes stale, or the device is missed while it moves.
lab_settle() {
	udevadm settle --timeout=60
}

lab_nics() {
	local d drv mac try
	for try in $(seq 30); do
		NICS=() A= B= G=
		for d in /sys/class/net/*; do
			drv=$(readlink -f "$d/device/driver" 2>/dev/null) || continue
			[ "${drv##*/}" = "$1" ] || continue
			mac=$(cat "$d/address" 2>/dev/null) || continue
			NICS+=("${d##*/}")
			case "$mac" in
			52:54:00:00:00:a1) A=${d##*/} ;;
			52:54:00:00:00:b1) B=${d##*/} ;;
			52:54:00:00:00:c1) G=${d##*/} ;;
			esac
		done
		[ -n "$A" ] && [ -n "$B" ] && return 0
		sleep 1
		lab_settle
	done
	return 1
}

# The namespaces keep static IPv6 addresses over a link down and up
# (keep_addr_on_down): by default the stack removes them, and the selftests
# that follow stats.py's check_down (which takes the NIC down and up) need
# 2001:db8::1.
lab_ns_setup() {
	local ns=$1 dev=$2 v4=$3 v6=$4
	ip netns add "$ns" &&
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 &&
		ip link set "$dev" netns "$ns" &&
		ip -n "$ns" link set lo up &&
		ip -n "$ns" addr add "$v4/24" dev "$dev" &&
		ip -n "$ns" addr add "$v6/64" dev "$dev" nodad &&
		ip -n "$ns" link set "$dev" up
}

lab_netns() {
	lab_ns_setup nsA "$A" 192.0.2.1 2001:db8::1 &&
		lab_ns_setup nsB "$B" 192.0.2.2 2001:db8::2
}

lab_carrier() {
	local i
	for i in $(seq 50); do
		ip -n nsA link show "$A" | grep -q LOWER_UP &&
			ip -n nsB link show "$B" | grep -q LOWER_UP && return 0
		sleep 0.1
	done
	return 1
}

# lab_stat NS DEV GROUP NAME: a counter of DEV in NS, e.g. "rx packets" or
# "rx length_errors" (-s twice: a single -s leaves the error details out).
lab_stat() {
	ip -n "$1" -s -s -j link show "$2" |
		"${PY:-python3}" -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"][sys.argv[1]][sys.argv[2]])' "$3" "$4"
}
rx_packets() { lab_stat "$1" "$2" rx packets; }
rx_bytes() { lab_stat "$1" "$2" rx bytes; }

iperf3_server() {
	ip netns exec nsB iperf3 -s -D -1 -I "$OUTDIR/iperf3.pid" >/dev/null 2>&1
	sleep 0.5
}

iperf3_received() {
	"${PY:-python3}" -c 'import json, sys
r = json.load(open(sys.argv[1]))["end"]["sum_received"]
print("%.3f %d" % (r["bits_per_second"] / 1e9, r["bytes"]))' "$1" 2>/dev/null
}

GMAC=52:54:00:00:00:c1

now() { date +%s.%N; }

# gen ID SECS: request ID (1, 2, ... in order) from the host, through
# $OUTDIR/gen (tooling/bench/gen.sh serves it).
gen() {
	local id=$1 i
	mkdir -p "$OUTDIR/gen"
	echo "$2 $GMAC" >"$OUTDIR/gen/req-$id.tmp"
	mv "$OUTDIR/gen/req-$id.tmp" "$OUTDIR/gen/req-$id"
	for i in $(seq $((($2 + 30) * 10))); do
		[ -f "$OUTDIR/gen/done-$id" ] && break
		sleep 0.1
	done
	sed -n 's/.*: \([0-9]*\) pps$/\1/p' "$OUTDIR/gen/done-$id" 2>/dev/null
}

# cpu_busy: /proc/stat's "cpu" line; all but idle and iowait is busy.
cpu_busy() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

lab_irq() {
	ip netns exec "$1" cat "/sys/class/net/$2/device/irq"
}

# irq_count NS DEV: the sum over the CPUs of DEV's line in
# /proc/interrupts, found by the device's IRQ number (its name there is
# the one it had when it asked for the interrupt).
irq_count() {
	local irq
	irq=$(lab_irq "$1" "$2") || return 1
	awk -v irq="$irq:" '$1 == irq { n = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i; print n }' \
		/proc/interrupts
}

xdp_mode() {
	if [ "$1" = e1000 ]; then echo xdpgeneric; else echo xdpdrv; fi
}
