#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make run`: boot the lab guest, show traffic flowing between its two NICs
# and print a short summary.
set -uo pipefail
. "$(dirname "$0")/env.sh"

log "booting the lab guest (QEMU TCG, two ${LAB_NIC:-e1000} NICs on one hub)"
"$TOP/tooling/lab.sh" run
rc=$?
sed -n '/^nics_found/,$p' "$OUT/lab/guest.log"
exit $rc
