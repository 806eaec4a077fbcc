#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the lab guest for `make profile` (../profile.sh), which boots
# QEMU with the tbprof plugin writing to $LABOUT/blocks.txt: moves the lab's
# NICs to $DRIVER, sets up PROFILE_WORKLOAD, then opens the plugin's window
# (blocks.txt.start), runs the load, and closes it (blocks.txt.stop):
#   tcp       PROFILE_BYTES of iperf3 TCP from A to B; B is measured
#   xdp_drop  the host's generator sends frames to G (make bench's third
#             NIC), whose XDP program drops them: in the driver (native)
#             where the driver has it, else generic; G is measured over
#             PROFILE_SECS seconds of it
# Saves what the measured NIC received over the window and the interrupts
# of its line (counts.txt: "workload packets bytes interrupts line
# shared", shared being 1 if another lab NIC has the same line), and the
# kernel's symbols (kallsyms), which the table needs.
set -u
OUTDIR=${LABOUT:?}
HERE=$(dirname "$0")
WORKLOAD=${PROFILE_WORKLOAD:-tcp}
. "$HERE/nics.sh"

fail() {
	echo "profile: $*" >&2
	touch "$OUTDIR/done"
	exit 1
}

lab_bind "$DRIVER" && lab_nics "$DRIVER" && lab_netns && lab_carrier ||
	fail "no A and B $DRIVER NICs with carrier"

# counts NS DEV: "packets bytes interrupts" of DEV so far (sysfs: quicker
# to read than ip's JSON, where the window's edges lie).
counts() {
	ip netns exec "$1" cat "/sys/class/net/$2/statistics/rx_packets" \
		"/sys/class/net/$2/statistics/rx_bytes" | tr '\n' ' '
	irq_count "$1" "$2"
}

# The measured NIC's line, and whether another lab NIC shares it.
line() {
	local irq self n shared=0
	irq=$(lab_irq "$1" "$2")
	self=$(ip netns exec "$1" readlink -f "/sys/class/net/$2/device")
	for n in /sys/bus/pci/drivers/"$DRIVER"/0000:*; do
		[ "$(readlink -f "$n")" = "$self" ] && continue
		[ "$(cat "$n/irq")" = "$irq" ] && shared=1
	done
	echo "$irq $shared"
}

case $WORKLOAD in
tcp)
	NS=nsB DEV=$B
	iperf3_server
	ip netns exec nsA iperf3 -c 192.0.2.2 -t 2 >/dev/null 2>&1
	iperf3_server
	;;
xdp_drop)
	[ -n "$G" ] || fail "no G NIC (make profile adds it for xdp_drop)"
	NS=nsG DEV=$G
	XDP=$(xdp_mode "$DRIVER")
	lab_ns_setup nsG "$G" 192.0.2.2 2001:db8::2 ||
		fail "cannot set up $G in nsG"
	sleep 2
	ip -n nsG link set dev "$G" $XDP obj "${XDP_OBJ:?}" sec xdp ||
		fail "cannot attach $XDP_OBJ to $G ($XDP)"
	SECS=${PROFILE_SECS:-5}
	gen 1 $((SECS + 3)) >"$OUTDIR/sent.txt" &
	sleep 1.5
	;;
*)
	fail "unknown workload $WORKLOAD"
	;;
esac

read -r p0 b0 i0 < <(counts "$NS" "$DEV")
touch "$OUTDIR/blocks.txt.start"
sleep 0.2
case $WORKLOAD in
tcp)
	ip netns exec nsA iperf3 -c 192.0.2.2 -n "${PROFILE_BYTES:-500M}" -J >"$OUTDIR/tcp.json" 2>&1
	;;
xdp_drop)
	sleep "$SECS"
	;;
esac
touch "$OUTDIR/blocks.txt.stop"
read -r p1 b1 i1 < <(counts "$NS" "$DEV")
echo "$WORKLOAD $((p1 - p0)) $((b1 - b0)) $((i1 - i0)) $(line "$NS" "$DEV")" >"$OUTDIR/counts.txt"
case $WORKLOAD in
tcp) iperf3_received "$OUTDIR/tcp.json" >"$OUTDIR/rate.txt" ;;
xdp_drop)
	wait
	ip -n nsG link set dev "$G" $XDP off
	;;
esac
cat /proc/kallsyms >"$OUTDIR/kallsyms"
touch "$OUTDIR/done"
