#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the kernel's drivers/net selftests out of tree, from the
# assembled tree (which never changes them in place), into $KSFT, then
# apply tooling/ksft/*.patch to the installed copy: small fixes for what
# 6.12's test library lacks in a two-NIC netns setup (each patch says
# what and why). The lab guest runs them from there (lab/guest.sh).
set -euo pipefail
. "$(dirname "$0")/env.sh"
lock_cache

rm -rf "$KSFT"
mkdir -p "$KSFT"
# csum.c includes uapi headers: the build directory's installed headers.
"${KMAKE[@]}" -s headers >/dev/null
make -s -C "$TREE/tools/testing/selftests" O="$BUILD" LLVM=1 \
	KHDR_INCLUDES="-isystem $BUILD/usr/include" \
	TARGETS="drivers/net drivers/net/hw" install INSTALL_PATH="$KSFT" \
	>"$CACHE/ksft-install.log" 2>&1 ||
	die "selftests install failed (log: $CACHE/ksft-install.log)"
for p in "$TOP"/tooling/ksft/*.patch; do
	[ -e "$p" ] || continue
	patch -s -p1 -d "$KSFT" <"$p" || die "${p#$TOP/} does not apply to the installed selftests"
done
log "drivers/net selftests in $KSFT"
