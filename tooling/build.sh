#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure (when the fragments changed) and build the kernel out of tree.
# One kernel serves both KUnit (built-in suites run at boot) and the lab.
# RNETCORE_PROFILE picks it (env.sh): the common fragments in configs/
# plus configs/profile/$PROFILE.config, in its own build directory.
#
#   build.sh [make targets...]
#
# RNETCORE_LENIENT_CONFIG=1 accepts fragment symbols the tree does not know
# (used when building early patches of the series on their own).
set -euo pipefail
. "$(dirname "$0")/env.sh"
lock_cache

FRAGS=("$TOP"/tooling/configs/*.config "$TOP/tooling/configs/profile/$PROFILE.config")
mkdir -p "$BUILD"

want=$(cat "${FRAGS[@]}" | sha256sum | cut -d' ' -f1)
have=$(cat "$BUILD/.rnetcore-config" 2>/dev/null || true)
if [ ! -f "$BUILD/.config" ] || [ "$want" != "$have" ]; then
	log "configuring $PROFILE kernel: x86_64 defconfig + ${FRAGS[*]##*/}"
	"${KMAKE[@]}" -s defconfig >/dev/null
	cat "${FRAGS[@]}" >>"$BUILD/.config"
	"${KMAKE[@]}" -s olddefconfig 2>&1 | grep -v 'override: reassigning\|^$' || true

	# A symbol that did not take (a missing dependency, or a toolchain
	# that Kconfig rejected, as with CONFIG_RUST) is an error, not a
	# silently different kernel.
	bad=0
	while read -r line; do
		case "$line" in
		CONFIG_*=*) sym=${line%%=*} val=${line#*=} ;;
		"# CONFIG_"*" is not set") sym=${line#\# } sym=${sym%% *} val=n ;;
		*) continue ;;
		esac
		got=$(sed -n "s/^$sym=//p" "$BUILD/.config")
		[ -n "$got" ] || got=n
		[ "$got" = "$val" ] && continue
		if [ -n "${RNETCORE_LENIENT_CONFIG:-}" ] &&
			! grep -rqs --include='Kconfig*' "^\s*\(menu\)\?config ${sym#CONFIG_}\$" "$TREE"; then
			continue
		fi
		log "config: $sym=$val requested, got $got"
		bad=1
	done < <(cat "${FRAGS[@]}")
	[ $bad = 0 ] || die "kernel config does not match tooling/configs (see above)"
	echo "$want" >"$BUILD/.rnetcore-config"
fi

"${KMAKE[@]}" -j"$JOBS" "$@"
