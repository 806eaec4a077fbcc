#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make profile`: where the guest kernel's instructions go per packet, for
# each driver, under the same load. Builds the production kernel (as `make
# bench` does) and QEMU's tbprof plugin (tooling/prof/tbprof.c), then boots
# the lab once per driver (PROFILE_DRIVERS, default the C e1000 and
# e1000_rust) with the plugin counting every kernel translation block
# (and, with PROFILE_MMIO=1, every access to device memory) over one
# workload (tooling/lab/profile.sh; PROFILE_WORKLOAD):
#   tcp       iperf3 sends PROFILE_BYTES (default 500M) from A to B
#   xdp_drop  make bench's generator sends 60-byte frames to G for
#             PROFILE_SECS (default 5) seconds, which an XDP program drops:
#             native XDP on e1000_rust, generic on e1000
# prof-table.py maps the blocks to the guest's symbols and prints
# instructions per packet received, side by side: the totals, what only one
# driver executes (its driver path), the symbols that differ most, and the
# interrupts per packet. Saved to out/profile.txt.
#
# Instructions, not time: they do not move with the host's load, but they
# leave out what QEMU spends emulating the device (MMIO, DMA, the e1000
# model's segmentation), which `make bench`'s times include; the MMIO
# accesses (PROFILE_MMIO=1) count how often the guest pays for it. Counting
# them calls the plugin on every memory access of the kernel, which slows
# the guest down several times over and so changes how the load runs.
set -euo pipefail
export RNETCORE_PROFILE=bench
. "$(dirname "$0")/env.sh"
. "$TOP/tooling/bench/gen.sh"

WORKLOAD=${PROFILE_WORKLOAD:-tcp}
case $WORKLOAD in
tcp | xdp_drop) ;;
*) die "PROFILE_WORKLOAD: tcp or xdp_drop, not $WORKLOAD" ;;
esac

"$TOP/tooling/build.sh"
P=$OUT/profile
rm -rf "$P"
mkdir -p "$P" "$CACHE/prof"
cc -O2 -Wall -shared -fPIC -o "$CACHE/prof/tbprof.so" "$TOP/tooling/prof/tbprof.c" -lpthread
PLUGIN_ARGS=
[ "${PROFILE_MMIO:-0}" = 1 ] && PLUGIN_ARGS=,mmio=on

QEMU_EXTRA=
if [ "$WORKLOAD" = xdp_drop ]; then
	gen_build
	gen_setup
	QEMU_EXTRA=$GEN_NETDEV
	trap gen_cleanup EXIT
fi

rc=0
dirs=()
for d in ${PROFILE_DRIVERS:-e1000 e1000_rust}; do
	log "profile: $d, $WORKLOAD"
	gen_pid=
	if [ "$WORKLOAD" = xdp_drop ]; then
		rm -f "$P/gen.stop"
		gen_server "$P/$d/gen" "$P/gen.stop" &
		gen_pid=$!
	fi
	LAB_OUT=$P/$d LAB_DRIVER=$d LAB_SCRIPT=$TOP/tooling/lab/profile.sh \
		LAB_QEMU="-plugin $CACHE/prof/tbprof.so,out=$P/$d/blocks.txt$PLUGIN_ARGS $QEMU_EXTRA" \
		LAB_APPEND="kunit.filter_glob=none" \
		LAB_ENV="PROFILE_WORKLOAD=$WORKLOAD PROFILE_BYTES=${PROFILE_BYTES:-500M} PROFILE_SECS=${PROFILE_SECS:-5} XDP_OBJ=$CACHE/bench/xdp_drop.o" \
		"$TOP/tooling/lab.sh" || rc=1
	if [ -n "$gen_pid" ]; then
		touch "$P/gen.stop"
		wait "$gen_pid" || true
	fi
	dirs+=("$P/$d")
done
[ $rc = 0 ] || die "a profile boot failed (see $P/*/guest.log)"
python3 "$TOP/tooling/prof-table.py" "${dirs[@]}" | tee "$OUT/profile.txt"
