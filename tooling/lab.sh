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
# log, with the KTAP of the built-in KUnit suites), lab.ktap (the checks),
# console.log (the guest's serial console: every message at warning level
# or above, so a panic or a QEMU exit still leaves what the kernel said),
# and done (written by the guest script when it finished).
# Environment: LAB_NIC (QEMU NIC model, default e1000), LAB_DRIVER (guest
# driver expected on both NICs, default e1000), LAB_APPEND (kernel args),
# LAB_SCRIPT (the guest script, default lab/guest.sh), LAB_OUT (results,
# default $OUT/lab), LAB_QEMU (more QEMU options), LAB_ENV (more variable
# assignments for the guest script), RNETCORE_PROFILE (the kernel: debug,
# or bench).
set -euo pipefail
. "$(dirname "$0")/env.sh"

NIC=${LAB_NIC:-e1000}
DRIVER=${LAB_DRIVER:-e1000}
LABOUT=${LAB_OUT:-$OUT/lab}
SCRIPT=${LAB_SCRIPT:-$TOP/tooling/lab/guest.sh}
rm -rf "$LABOUT"
mkdir -p "$LABOUT"

[ -f "$BUILD/arch/x86/boot/bzImage" ] || die "no kernel in $BUILD (run make build)"

NICS="-netdev hubport,id=p0,hubid=0 -device $NIC,netdev=p0,mac=52:54:00:00:00:a1"
NICS+=" -netdev hubport,id=p1,hubid=0 -device $NIC,netdev=p1,mac=52:54:00:00:00:b1"
NICS+=" ${LAB_QEMU:-}"

# KVM cannot run a standard guest on this host kind (kvm_pvm), so TCG.
# --force-9p skips vng's virtiofsd probe, which only wastes seconds here.
# QEMU writes to /proc/self/fd/1 itself: pipe, never redirect, its output.
# no5lvl: QEMU's "-cpu max" offers 5-level paging, and 6.12's generic
# KASAN then reports a wild access at boot that is not a bug of the code
# under test: identify_cpu() clears boot_cpu_data's capabilities before
# reading them again, an interrupt in that window sees LA57 off, and KASAN
# checks a 5-level direct-map address against the 4-level shadow range
# (KASAN_SHADOW_START follows __VIRTUAL_MASK_SHIFT). The report taints the
# kernel, which turns lockdep off for the rest of the run: boot 4-level.
# --verbose sends the serial console to vng's stderr (a pipe to
# console.log); loglevel=4 keeps KTAP and other info messages off it (they
# are in dmesg.txt), which also keeps the emulated UART from slowing boot.
set +e
cd "$TREE"
timeout --foreground ${LAB_TIMEOUT:-1800} \
	vng O="$BUILD" --verbose --force-9p --disable-kvm --user root --cpus 2 \
	--memory 2G --append "loglevel=4 no5lvl ${LAB_APPEND:-}" --rwdir="$LABOUT" \
	--qemu-opts="$NICS" \
	--exec "LABOUT=$LABOUT DRIVER=$DRIVER KSFT=$KSFT PY=$CACHE/venv/bin/python3 \
		${LAB_ENV:-} $SCRIPT $*" 2> >(cat >"$LABOUT/console.log") |
	cat >"$LABOUT/guest.log"
rc=${PIPESTATUS[0]}
set -e
# The guest script writes "done" when it finished (failed checks or not):
# without it the guest died (panic, QEMU gone) or hung until the timeout.
if [ ! -f "$LABOUT/done" ]; then
	log "the lab guest died or stopped early (exit $rc); its console: $LABOUT/console.log"
	grep -E -A 30 'Kernel panic|BUG:|Oops|WARNING:' "$LABOUT/console.log" | head -n 40 >&2
	[ $rc != 0 ] || rc=1
fi
exit $rc
