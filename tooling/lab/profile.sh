#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the lab guest for `make profile` (../profile.sh), which boots
# QEMU with the tbprof plugin writing to $LABOUT/blocks.txt: moves the lab's
# NICs to $DRIVER, warms up, then opens the plugin's window
# (blocks.txt.start), sends PROFILE_BYTES of iperf3 TCP from A to B, and
# closes it (blocks.txt.stop). Saves the packet and byte counts of both
# NICs over the window (counts.txt: "rx_a tx_a rx_b tx_b bytes_b") and the
# kernel's symbols (kallsyms), which the table needs.
set -u
OUTDIR=${LABOUT:?}
HERE=$(dirname "$0")
. "$HERE/nics.sh"

fail() {
	echo "profile: $*" >&2
	touch "$OUTDIR/done"
	exit 1
}

lab_bind "$DRIVER" && lab_nics "$DRIVER" && lab_netns && lab_carrier ||
	fail "no A and B $DRIVER NICs with carrier"
iperf3_server
ip netns exec nsA iperf3 -c 192.0.2.2 -t 2 >/dev/null 2>&1
iperf3_server
counts() {
	echo "$(rx_packets nsA "$A") $(lab_stat nsA "$A" tx packets)" \
		"$(rx_packets nsB "$B") $(lab_stat nsB "$B" tx packets) $(rx_bytes nsB "$B")"
}
read -r ra0 ta0 rb0 tb0 bb0 < <(counts)
touch "$OUTDIR/blocks.txt.start"
sleep 0.2
ip netns exec nsA iperf3 -c 192.0.2.2 -n "${PROFILE_BYTES:-500M}" -J >"$OUTDIR/tcp.json" 2>&1
touch "$OUTDIR/blocks.txt.stop"
sleep 0.2
read -r ra1 ta1 rb1 tb1 bb1 < <(counts)
echo "$((ra1 - ra0)) $((ta1 - ta0)) $((rb1 - rb0)) $((tb1 - tb0)) $((bb1 - bb0))" >"$OUTDIR/counts.txt"
iperf3_received "$OUTDIR/tcp.json" >"$OUTDIR/rate.txt"
cat /proc/kallsyms >"$OUTDIR/kallsyms"
touch "$OUTDIR/done"
