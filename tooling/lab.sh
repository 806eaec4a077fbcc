#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the built kernel in a QEMU guest (virtme-ng, host rootfs shared over
# 9p) with two emulated NICs cabled to each other through a QEMU hub, and
# run the guest script lab/guest.sh in it.
#
#   lab.sh [guest.sh arguments...]
#
# Results land in $OUT/lab: guest.log (its output), dmesg.txt (the kernel
# log, with the KTAP of the built-in KUnit suites), lab.ktap (the checks).
# Environment: LAB_NIC (QEMU NIC model, default e1000), LAB_DRIVER (guest
# driver expected on both NICs, default e1000), LAB_APPEND (kernel args).
set -euo pipefail
. "$(dirname "$0")/env.sh"

NIC=${LAB_NIC:-e1000}
DRIVER=${LAB_DRIVER:-e1000}
LABOUT=$OUT/lab
rm -rf "$LABOUT"
mkdir -p "$LABOUT"

[ -f "$BUILD/arch/x86/boot/bzImage" ] || die "no kernel in $BUILD (run make build)"

NICS="-netdev hubport,id=p0,hubid=0 -device $NIC,netdev=p0,mac=52:54:00:00:00:a1"
NICS+=" -netdev hubport,id=p1,hubid=0 -device $NIC,netdev=p1,mac=52:54:00:00:00:b1"

# KVM cannot run a standard guest on this host kind (kvm_pvm), so TCG.
# --force-9p skips vng's virtiofsd probe, which only wastes seconds here.
# QEMU writes to /proc/self/fd/1 itself: pipe, never redirect, its output.
set +e
cd "$TREE"
timeout --foreground ${LAB_TIMEOUT:-900} \
	vng O="$BUILD" --force-9p --disable-kvm --user root --cpus 2 --memory 2G \
	--append "${LAB_APPEND:-}" --rwdir="$LABOUT" --qemu-opts="$NICS" \
	--exec "LABOUT=$LABOUT DRIVER=$DRIVER $TOP/tooling/lab/guest.sh $*" 2>&1 |
	cat >"$LABOUT/guest.log"
rc=${PIPESTATUS[0]}
set -e
[ $rc = 0 ] || log "guest exited with $rc (log: $LABOUT/guest.log)"
exit $rc
