#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make run`: boot the lab guest, show traffic flowing between its two NICs
# and print a short summary.
set -uo pipefail
. "$(dirname "$0")/env.sh"

# The lab's NICs are driven by the Rust e1000 (LAB_DRIVER=e1000 for the C one).
export LAB_DRIVER=${LAB_DRIVER:-e1000_rust}
log "booting the lab guest (QEMU TCG, two ${LAB_NIC:-e1000} NICs on one hub, driven by $LAB_DRIVER)"
"$TOP/tooling/lab.sh" run
rc=$?
sed -n '/^nics_found/,$p' "$OUT/lab/guest.log"
exit $rc
