#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make profile`: where the guest kernel's instructions go per packet, for
# each driver, under the same TCP load. Builds the production kernel (as
# `make bench` does) and QEMU's tbprof plugin (tooling/prof/tbprof.c), then
# boots the lab once per driver (PROFILE_DRIVERS, default the C e1000 and
# e1000_rust) with the plugin counting every kernel translation block while
# iperf3 sends PROFILE_BYTES (default 500M) from A to B
# (tooling/lab/profile.sh). prof-table.py maps the blocks to the guest's
# symbols and prints instructions per packet B received, side by side:
# the totals, what only one driver executes (its driver path), and the
# symbols that differ most. Saved to out/profile.txt.
#
# Instructions, not time: they do not move with the host's load, but they
# leave out what QEMU spends emulating the device (MMIO, DMA, the e1000
# model's segmentation), which `make bench`'s times include.
set -euo pipefail
export RNETCORE_PROFILE=bench
. "$(dirname "$0")/env.sh"

"$TOP/tooling/build.sh"
P=$OUT/profile
rm -rf "$P"
mkdir -p "$P" "$CACHE/prof"
cc -O2 -Wall -shared -fPIC -o "$CACHE/prof/tbprof.so" "$TOP/tooling/prof/tbprof.c" -lpthread

rc=0
dirs=()
for d in ${PROFILE_DRIVERS:-e1000 e1000_rust}; do
	log "profile: $d"
	LAB_OUT=$P/$d LAB_DRIVER=$d LAB_SCRIPT=$TOP/tooling/lab/profile.sh \
		LAB_QEMU="-plugin $CACHE/prof/tbprof.so,out=$P/$d/blocks.txt" \
		LAB_APPEND="kunit.filter_glob=none" \
		LAB_ENV="PROFILE_BYTES=${PROFILE_BYTES:-500M}" \
		"$TOP/tooling/lab.sh" || rc=1
	dirs+=("$P/$d")
done
[ $rc = 0 ] || die "a profile boot failed (see $P/*/guest.log)"
python3 "$TOP/tooling/prof-table.py" "${dirs[@]}" | tee "$OUT/profile.txt"
